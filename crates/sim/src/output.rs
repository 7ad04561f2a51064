//! Files written with `--out DIR`: `months.csv` (one row per run and month),
//! `report.json` (every run in full) and the SVG charts ([`crate::charts`]).
//!
//! Money columns are integer µUSD, fractions integer ppm, as everywhere in
//! floorline; the tables on stdout are the human-readable view.
//! When some run is a period run (SPEC §10), `months.csv` ends with the
//! [`PERIOD_COLUMNS`]; a monthly-only file is exactly as before.

use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use floorline_core::valuation::Reason;

use crate::error::SimError;
use crate::report::SimReport;

/// `months.csv`.
pub const CSV_FILE: &str = "months.csv";
/// `report.json`.
pub const JSON_FILE: &str = "report.json";

/// Fixed columns of `months.csv`, before one mean-payout column per tier.
pub const CSV_COLUMNS: &[&str] = &[
    "scenario",
    "month",
    "epoch",
    "machines",
    "joined",
    "left",
    "eligible",
    "at_floor",
    "pool_micro_usd",
    "desired_total_micro_usd",
    "program_cost_micro_usd",
    "unallocated_micro_usd",
    "pool_binding",
    "full_eligibility_cost_micro_usd",
    "organic_revenue_micro_usd",
    "trailing_revenue_micro_usd",
    "taper_ppm",
    "tokens_demanded",
    "tokens_served",
];

/// Columns appended after the tiers when some run is a period run (SPEC §10);
/// a monthly run's month is then its one period.
pub const PERIOD_COLUMNS: &[&str] = &[
    "period",
    "n_periods",
    "machine_periods",
    "eligible_machine_periods",
    "at_floor_machine_periods",
    "uptime_below_gate_machine_periods",
    "binding_periods",
];

fn tier_column(min_gb: u32) -> String {
    if min_gb == 0 {
        "mean_payout_micro_usd_below_tiers".to_string()
    } else {
        format!("mean_payout_micro_usd_{min_gb}gb")
    }
}

fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// The CSV text of one or more runs.
pub fn months_csv(runs: &[&SimReport]) -> String {
    let tiers: BTreeSet<u32> = runs
        .iter()
        .flat_map(|r| {
            r.months
                .iter()
                .flat_map(|m| m.tiers.iter().map(|t| t.min_gb))
        })
        .collect();
    let mut header: Vec<String> = CSV_COLUMNS.iter().map(|c| (*c).to_string()).collect();
    header.extend(tiers.iter().map(|g| tier_column(*g)));
    let periodic = runs
        .iter()
        .any(|r| r.months.iter().any(|m| m.periods.is_some()));
    if periodic {
        header.extend(PERIOD_COLUMNS.iter().map(|c| (*c).to_string()));
    }
    let mut out = header.join(",");
    out.push('\n');
    for r in runs {
        for m in &r.months {
            let mut cells = vec![
                quote(&r.scenario.name),
                m.month.to_string(),
                m.epoch.to_string(),
                m.machines.to_string(),
                m.joined.to_string(),
                m.left.to_string(),
                m.eligible.to_string(),
                m.at_floor.to_string(),
                m.pool_micro_usd.to_string(),
                m.desired_total_micro_usd.to_string(),
                m.program_cost_micro_usd.to_string(),
                m.unallocated_micro_usd.to_string(),
                m.pool_binding.to_string(),
                m.full_eligibility_cost_micro_usd.to_string(),
                m.organic_revenue_micro_usd.to_string(),
                m.trailing_revenue_micro_usd.to_string(),
                m.taper_ppm.to_string(),
                m.tokens_demanded.to_string(),
                m.tokens_served.to_string(),
            ];
            for g in &tiers {
                cells.push(
                    m.tier(*g)
                        .filter(|t| t.machines > 0)
                        .map_or_else(String::new, |t| t.mean_payout_micro_usd.to_string()),
                );
            }
            if periodic {
                let p = m.period_counts();
                let gate = Reason::UptimeBelowGate.as_str();
                cells.extend([
                    p.period.to_string(),
                    p.n_periods.to_string(),
                    p.machine_periods.to_string(),
                    p.eligible_machine_periods.to_string(),
                    p.at_floor_machine_periods.to_string(),
                    p.reasons.get(gate).copied().unwrap_or(0).to_string(),
                    p.binding_periods.to_string(),
                ]);
            }
            out.push_str(&cells.join(","));
            out.push('\n');
        }
    }
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    runs: &'a [&'a SimReport],
}

/// The JSON text of one or more runs: `{"runs": [...]}`.
pub fn report_json(runs: &[&SimReport]) -> Result<String, SimError> {
    let mut text = serde_json::to_string_pretty(&JsonReport { runs })?;
    text.push('\n');
    Ok(text)
}

pub(crate) fn write(path: &Path, text: &str) -> Result<PathBuf, SimError> {
    std::fs::write(path, text).map_err(|e| SimError::io(path, e))?;
    Ok(path.to_path_buf())
}

/// Writes `months.csv`, `report.json` and the charts into `dir` (created if
/// missing); returns the files written.
pub fn write_outputs(dir: &Path, runs: &[&SimReport]) -> Result<Vec<PathBuf>, SimError> {
    std::fs::create_dir_all(dir).map_err(|e| SimError::io(dir, e))?;
    let mut files = vec![
        write(&dir.join(CSV_FILE), &months_csv(runs))?,
        write(&dir.join(JSON_FILE), &report_json(runs)?)?,
    ];
    files.extend(crate::charts::write_charts(dir, runs)?);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_with_commas_are_quoted() {
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote("plain"), "plain");
    }
}
