//! `floorline import --kind K FILE`: NDJSON or CSV facts of one kind.
//!
//! The whole file is checked before its first batch is written (SPEC §9):
//! it must be text (a NUL byte or bytes that are not UTF-8 are refused with
//! their line), every line must parse with valid fields, and then every item
//! goes through the store's checks as one whole in a transaction that is
//! rolled back — machine names against the store and the file itself,
//! bindings against each other, the sums of earnings — so a bad line at
//! 5 500 of 6 000 leaves nothing written. Any problem is reported with its
//! line number and field (the first [`MAX_REPORTED_PROBLEMS`], then a count).
//! A field that the kind does not have is ignored and said once on stderr.
//!
//! Then it is written in batches (each one transaction) with a progress
//! bar, recording the items committed and a fingerprint of the file in
//! `FILE.progress`, so that an interrupted import of the same file resumes
//! where it stopped (re-sending is harmless anyway: ingestion is
//! idempotent). Bad input never leaves a checkpoint, and a checkpoint of
//! other contents is not resumed from.

use std::path::{Path, PathBuf};

use floorline_core::error::MAX_REPORTED_PROBLEMS;
use floorline_core::{with_fact_type, FactKind};
use floorline_engine::ingest::{parse_lines, unknown_fields, Format};
use floorline_engine::Engine;
use floorline_store::{IngestReport, StoreError, StoreFact, MAX_BATCH_ITEMS};
use indicatif::{ProgressBar, ProgressStyle};

use crate::failure::Failure;

/// Default items per batch.
pub const DEFAULT_BATCH: usize = 5_000;

/// The first [`MAX_REPORTED_PROBLEMS`] problems, the count of the rest, and `tail`.
fn listing(errors: &[String], tail: &str) -> String {
    let mut out: Vec<String> = errors.iter().take(MAX_REPORTED_PROBLEMS).cloned().collect();
    if errors.len() > MAX_REPORTED_PROBLEMS {
        out.push(format!(
            "… and {} more",
            errors.len().saturating_sub(MAX_REPORTED_PROBLEMS)
        ));
    }
    out.push(tail.into());
    out.join("\n")
}

const NOTHING_WRITTEN: &str = "nothing was written";

fn progress_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".progress");
    PathBuf::from(p)
}

/// FNV-1a of the file: which contents a checkpoint counted lines of.
fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The items a checkpoint says were committed: `N FINGERPRINT` of these
/// contents (a bare `N` is taken as is); 0 for a checkpoint of other contents.
fn resume_from(checkpoint: &Path, print: &str) -> usize {
    let Ok(text) = std::fs::read_to_string(checkpoint) else {
        return 0;
    };
    let mut parts = text.split_whitespace();
    let done = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    match parts.next() {
        Some(p) if p != print => {
            eprintln!(
                "{}: the file changed since it was recorded; starting from the first line",
                checkpoint.display()
            );
            0
        }
        _ => done,
    }
}

/// The file as text: a NUL byte (binary data) or bytes that are not UTF-8
/// are refused, naming the line they are on.
fn text_of<'a>(bytes: &'a [u8], path: &Path) -> Result<&'a str, Failure> {
    let line_at = |pos: usize| {
        bytes
            .get(..pos)
            .unwrap_or_default()
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            .saturating_add(1)
    };
    if let Some(pos) = bytes.iter().position(|b| *b == 0) {
        return Err(Failure::bad(format!(
            "{}: line {}: binary data (a NUL byte), not NDJSON or CSV text\n{NOTHING_WRITTEN}",
            path.display(),
            line_at(pos)
        )));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        Failure::bad(format!(
            "{}: line {}: not UTF-8 text\n{NOTHING_WRITTEN}",
            path.display(),
            line_at(e.valid_up_to())
        ))
    })
}

/// Maps a store error about item `[i]` (of a batch, or of the whole file)
/// to the file's line numbers, ending with `tail`.
fn locate(e: StoreError, lines: &[usize], tail: &str) -> Failure {
    match e {
        StoreError::Invalid(items) => {
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
                        Some(line) => {
                            format!("line {line}: {field}: {}", lines_named(&inv.message, lines))
                        }
                        None => inv.to_string(),
                    }
                })
                .collect();
            Failure::bad(listing(&msgs, tail))
        }
        other => other.into(),
    }
}

/// A message's references to other items (`bindings[3]`) as their lines.
fn lines_named(message: &str, lines: &[usize]) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('[') {
        let head = rest.get(..open).unwrap_or_default();
        let word_start = head
            .rfind(|c: char| !c.is_ascii_alphabetic())
            .map_or(0, |p| p.saturating_add(1));
        let after = rest.get(open.saturating_add(1)..).unwrap_or_default();
        let line = after
            .find(']')
            .and_then(|close| Some((close, after.get(..close)?.parse::<usize>().ok()?)))
            .and_then(|(close, i)| Some((close, *lines.get(i)?)));
        match line {
            Some((close, line)) if word_start < open => {
                out.push_str(head.get(..word_start).unwrap_or_default());
                out.push_str(&format!("line {line}"));
                rest = after.get(close.saturating_add(1)..).unwrap_or_default();
            }
            _ => {
                out.push_str(rest.get(..=open).unwrap_or_default());
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

async fn run_kind<T: StoreFact>(
    engine: &Engine,
    path: &Path,
    format: Format,
    batch: usize,
    restart: bool,
) -> Result<IngestReport, Failure> {
    let bytes =
        std::fs::read(path).map_err(|e| Failure::bad(format!("{}: {e}", path.display())))?;
    let text = text_of(&bytes, path)?;
    let items = parse_lines::<T>(text, format)
        .map_err(|errs| Failure::bad(listing(&errs, NOTHING_WRITTEN)))?;
    for (field, line) in unknown_fields::<T>(text, format) {
        eprintln!(
            "{}: line {line}: unknown field `{field}` ignored (a {} fact has {})",
            path.display(),
            T::KIND.as_str(),
            T::fields().join(", ")
        );
    }
    let lines: Vec<usize> = items.iter().map(|(l, _)| *l).collect();
    let facts: Vec<T> = items.iter().map(|(_, f)| f.clone()).collect();
    engine
        .store()
        .check(&facts)
        .await
        .map_err(|e| locate(e, &lines, NOTHING_WRITTEN))?;
    let checkpoint = progress_path(path);
    let print = fingerprint(&bytes);
    let done: usize = if restart {
        0
    } else {
        resume_from(&checkpoint, &print).min(items.len())
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
        // Only what changed in the store since the check can fail here.
        let r = engine.store().ingest(&facts).await.map_err(|e| {
            locate(
                e,
                &lines,
                "this batch was not written; earlier batches were (rerun to resume)",
            )
        })?;
        total.accepted += r.accepted;
        total.refined += r.refined;
        total.duplicates += r.duplicates;
        for mut c in r.conflicts {
            c.index = lines.get(c.index).copied().unwrap_or(c.index);
            total.conflicts.push(c);
        }
        committed = committed.saturating_add(chunk.len());
        std::fs::write(&checkpoint, format!("{committed} {print}"))?;
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
    with_fact_type!(kind, T => run_kind::<T>(engine, path, format, batch, restart).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_references_become_lines() {
        assert_eq!(
            lines_named("overlaps bindings[1] (from x) in this batch", &[4, 9]),
            "overlaps line 9 (from x) in this batch"
        );
        assert_eq!(lines_named("a [1] b", &[4, 9]), "a [1] b");
        assert_eq!(lines_named("x[7]", &[4, 9]), "x[7]");
    }
}
