//! `floorline simulate`, without the argument parsing: load the scenario(s),
//! simulate with a progress bar on stderr (only on a terminal, never when
//! `quiet`), print the tables on `stdout`, write the files of `--out`.
//!
//! Nothing is printed on `stdout` before every scenario has loaded and run,
//! so bad input leaves `stdout` empty (the CLI's exit-2 contract).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use crate::error::SimError;
use crate::output::write_outputs;
use crate::report::SimReport;
use crate::scenario::read_scenario;
use crate::simulate::simulate;
use crate::text::{compare_table, is_periodic, period_compare_table, run_text};

/// What `floorline simulate` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimulateOptions {
    /// A scenario file, or `builtin:NAME` (e.g. `builtin:cold-start`).
    pub scenario: String,
    /// Write `months.csv`, `report.json` and the SVG charts here.
    pub out: Option<PathBuf>,
    /// A second scenario (file or `builtin:NAME`) to run side by side.
    pub compare: Option<String>,
    /// No progress bar.
    pub quiet: bool,
}

/// What a `run_simulate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSummary {
    /// One report per scenario, in the order given (the compared one second).
    pub reports: Vec<SimReport>,
    /// Files written under `out`.
    pub files: Vec<PathBuf>,
}

/// Runs `floorline simulate`.
pub fn run_simulate(
    opts: &SimulateOptions,
    stdout: &mut dyn Write,
) -> Result<SimSummary, SimError> {
    let a = read_scenario(&opts.scenario)?;
    let b = match &opts.compare {
        Some(spec) => Some(read_scenario(spec)?),
        None => None,
    };
    let total = a.months.saturating_add(b.as_ref().map_or(0, |s| s.months));
    let bar = progress_bar(opts.quiet, u64::from(total));

    let ra = simulate(&a, &|done, _| bar.set_position(u64::from(done)))?;
    let rb = match &b {
        Some(s) => Some(simulate(s, &|done, _| {
            bar.set_position(u64::from(a.months.saturating_add(done)))
        })?),
        None => None,
    };
    bar.finish_and_clear();

    let mut text = String::new();
    match &rb {
        None => text.push_str(&run_text(&ra, "")),
        Some(rb) => {
            text.push_str(&run_text(&ra, "A: "));
            text.push('\n');
            text.push_str(&run_text(rb, "B: "));
            text.push_str("\nA vs B\n");
            text.push_str(&compare_table(&ra, rb));
            if is_periodic(&ra) != is_periodic(rb) {
                let (monthly, periodic) = if is_periodic(rb) {
                    (&ra, rb)
                } else {
                    (rb, &ra)
                };
                text.push_str("\nmonthly vs period plans\n");
                text.push_str(&period_compare_table(monthly, periodic));
            }
        }
    }
    let runs: Vec<&SimReport> = std::iter::once(&ra).chain(rb.as_ref()).collect();
    let files = match &opts.out {
        Some(dir) => write_outputs(dir, &runs)?,
        None => Vec::new(),
    };
    if !files.is_empty() {
        text.push_str("\nwrote\n");
        for f in &files {
            text.push_str(&format!("  {}\n", f.display()));
        }
    }
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| SimError::io("<stdout>", e))?;
    let reports = std::iter::once(ra).chain(rb).collect();
    Ok(SimSummary { reports, files })
}

/// A bar on stderr when it is a terminal and not `quiet`; hidden otherwise.
fn progress_bar(quiet: bool, months: u64) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(months), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "simulating {bar:40} {pos}/{len} months ({elapsed}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}
