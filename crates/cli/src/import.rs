//! `floorline import --kind K FILE`: NDJSON or CSV facts of one kind.
//!
//! The whole file is parsed and checked first; any bad line is reported with
//! its line number and field, and nothing is written. Then it is written in
//! batches (each one transaction) with a progress bar, recording the number
//! of items committed in `FILE.progress` so an interrupted import resumes
//! where it stopped (re-sending is harmless anyway: ingestion is idempotent).

use std::path::{Path, PathBuf};

use floorline_core::CoreError;
use floorline_engine::ingest::{parse_lines, FactKind, Format, IngestFact};
use floorline_engine::Engine;
use floorline_store::{IngestReport, StoreError, MAX_BATCH_ITEMS};
use indicatif::{ProgressBar, ProgressStyle};

use crate::failure::Failure;

/// Default items per batch.
pub const DEFAULT_BATCH: usize = 5_000;
/// Most bad lines listed in one report.
pub const MAX_LINE_ERRORS: usize = 50;

fn report_lines(errors: &[String]) -> String {
    let mut out: Vec<String> = errors.iter().take(MAX_LINE_ERRORS).cloned().collect();
    if errors.len() > MAX_LINE_ERRORS {
        out.push(format!(
            "… and {} more bad lines",
            errors.len().saturating_sub(MAX_LINE_ERRORS)
        ));
    }
    out.push("nothing was written".into());
    out.join("\n")
}

fn progress_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".progress");
    PathBuf::from(p)
}

/// Maps a store error about batch item `[i]` to the file's line number.
fn locate(e: StoreError, lines: &[usize]) -> Failure {
    match e {
        StoreError::Invalid(items) | StoreError::Core(CoreError::Invalid(items)) => {
            let msgs: Vec<String> = items
                .iter()
                .map(|inv| {
                    let idx = inv.path.find('[').and_then(|o| {
                        let rest = inv.path.get(o.saturating_add(1)..)?;
                        rest.get(..rest.find(']')?)?.parse::<usize>().ok()
                    });
                    let field = inv
                        .path
                        .find("].")
                        .and_then(|p| inv.path.get(p.saturating_add(2)..))
                        .unwrap_or(&inv.path);
                    match idx.and_then(|i| lines.get(i)) {
                        Some(line) => format!("line {line}: {field}: {}", inv.message),
                        None => inv.to_string(),
                    }
                })
                .collect();
            Failure::bad(format!(
                "{}\nthis batch was not written; earlier batches were (rerun to resume)",
                msgs.join("\n")
            ))
        }
        other => other.into(),
    }
}

async fn run_kind<T: IngestFact>(
    engine: &Engine,
    path: &Path,
    format: Format,
    batch: usize,
    restart: bool,
) -> Result<IngestReport, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::bad(format!("{}: {e}", path.display())))?;
    let items =
        parse_lines::<T>(&text, format).map_err(|errs| Failure::bad(report_lines(&errs)))?;
    let checkpoint = progress_path(path);
    let done: usize = if restart {
        0
    } else {
        std::fs::read_to_string(&checkpoint)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
            .min(items.len())
    };
    let bar = ProgressBar::new(u64::try_from(items.len()).unwrap_or(u64::MAX));
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("importing {}", T::KIND.as_str()));
    bar.set_position(u64::try_from(done).unwrap_or(0));
    let mut total = IngestReport::default();
    let mut committed = done;
    for chunk in items
        .get(done..)
        .unwrap_or_default()
        .chunks(batch.clamp(1, MAX_BATCH_ITEMS))
    {
        let lines: Vec<usize> = chunk.iter().map(|(l, _)| *l).collect();
        let facts: Vec<T> = chunk.iter().map(|(_, f)| f.clone()).collect();
        let r = T::ingest(engine.store(), &facts)
            .await
            .map_err(|e| locate(e, &lines))?;
        total.accepted += r.accepted;
        total.duplicates += r.duplicates;
        for mut c in r.conflicts {
            c.index = lines.get(c.index).copied().unwrap_or(c.index);
            total.conflicts.push(c);
        }
        committed = committed.saturating_add(chunk.len());
        std::fs::write(&checkpoint, committed.to_string())?;
        bar.inc(u64::try_from(chunk.len()).unwrap_or(0));
    }
    bar.finish_and_clear();
    let _ = std::fs::remove_file(&checkpoint);
    Ok(total)
}

/// Imports `path` as facts of `kind`; conflicts are reported with line numbers in `index`.
pub async fn import_kind(
    engine: &Engine,
    kind: FactKind,
    path: &Path,
    format: Format,
    batch: usize,
    restart: bool,
) -> Result<IngestReport, Failure> {
    use floorline_core::bundle::{Alias, Attestation, Binding, Earning, Health, Probe, Session};
    match kind {
        FactKind::Machines => run_kind::<Attestation>(engine, path, format, batch, restart).await,
        FactKind::Aliases => run_kind::<Alias>(engine, path, format, batch, restart).await,
        FactKind::Bindings => run_kind::<Binding>(engine, path, format, batch, restart).await,
        FactKind::Sessions => run_kind::<Session>(engine, path, format, batch, restart).await,
        FactKind::Health => run_kind::<Health>(engine, path, format, batch, restart).await,
        FactKind::Earnings => run_kind::<Earning>(engine, path, format, batch, restart).await,
        FactKind::Probes => run_kind::<Probe>(engine, path, format, batch, restart).await,
        FactKind::Watermarks => {
            run_kind::<floorline_store::Watermark>(engine, path, format, batch, restart).await
        }
    }
}
