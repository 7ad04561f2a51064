//! The scale bench's output: the linear fit of every figure to a larger
//! fleet, and one run (or the fit) as markdown for BENCHMARKS.md.

use std::fmt::Write as _;

use serde::Serialize;

use super::{
    f, i64_u64, ratio, Backend, KindFigures, PeriodReport, Phase, ScaleReport, FIVE_MINUTES_SECS,
};

/// One figure fitted linearly in the number of machines.
#[derive(Debug, Clone, Serialize)]
pub struct Fitted {
    pub what: String,
    pub small: f64,
    pub large: f64,
    /// `a + b · target` with `a`, `b` through (small, large).
    pub target: f64,
    /// Per 1 000 machines (`b · 1000`).
    pub per_1000: f64,
}

/// `y = a + b·n` through `(n1, y1)` and `(n2, y2)`, evaluated at `n`.
pub fn linear(n1: f64, y1: f64, n2: f64, y2: f64, n: f64) -> f64 {
    if n2 == n1 {
        return y2;
    }
    let b = (y2 - y1) / (n2 - n1);
    y1 + b * (n - n1)
}

/// Every timed and memory figure of `large` extrapolated through `small` to
/// `target` machines (same per-machine counts).
pub fn extrapolate(small: &ScaleReport, large: &ScaleReport, target: u64) -> Vec<Fitted> {
    type Figure = fn(&ScaleReport) -> f64;
    let figures: Vec<(&str, Figure)> = vec![
        ("ingest sessions (s)", |r| r.kind_secs("sessions")),
        ("ingest earnings (s)", |r| r.kind_secs("earnings")),
        ("ingest, all kinds (s)", ScaleReport::ingest_secs),
        ("load_epoch_facts (s)", |r| r.load.secs),
        ("plan (s)", |r| r.plan.secs),
        ("settle (s)", |r| r.settle.secs),
        ("bare scans (s)", ScaleReport::bare_secs),
        ("load peak RSS (MB)", |r| r.load.peak_mb),
        ("plan peak RSS (MB)", |r| r.plan.peak_mb),
        ("settle peak RSS (MB)", |r| r.settle.peak_mb),
        ("database size (GB)", |r| f(r.db_bytes) / 1e9),
    ];
    let (n1, n2, n) = (f(small.machines), f(large.machines), f(target));
    // A run on a kept database skipped the ingest: it has no ingest figures.
    let ingested = !small.ingest.is_empty() && !large.ingest.is_empty();
    figures
        .into_iter()
        .filter(|(what, _)| ingested || !what.starts_with("ingest"))
        .map(|(what, get)| {
            let (y1, y2) = (get(small), get(large));
            Fitted {
                what: what.to_string(),
                small: y1,
                large: y2,
                target: linear(n1, y1, n2, y2, n),
                per_1000: if n2 == n1 {
                    0.0
                } else {
                    (y2 - y1) / (n2 - n1) * 1000.0
                },
            }
        })
        .collect()
}

/// `1234567` → `1 234 567`.
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn rate(x: f64) -> String {
    grouped(float_to_u64(x))
}

fn float_to_u64(x: f64) -> u64 {
    // Formatting, not arithmetic: avoids an `as` cast.
    format!("{:.0}", x.max(0.0)).parse().unwrap_or(0)
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "✓"
    } else {
        "✗"
    }
}

/// The settle-memory target.
pub const SETTLE_PEAK_TARGET_MB: f64 = 2048.0;
/// The settle / bare target.
pub const SETTLE_OVER_BARE_TARGET: f64 = 2.0;

/// The ingest rows of a run's table (one per kind, then the total).
fn ingest_rows(s: &mut String, ingest: &[KindFigures], phase: Phase) {
    for k in ingest {
        let _ = writeln!(
            s,
            "| ingest {} | {} | {:.1} s | {} | |",
            k.kind,
            grouped(k.rows),
            k.secs,
            rate(k.rows_per_sec())
        );
    }
    if ingest.is_empty() {
        let _ = writeln!(
            s,
            "| ingest | skipped: the kept database already held this fleet | | | |"
        );
    } else {
        let rows: u64 = ingest.iter().map(|k| k.rows).sum();
        let secs: f64 = ingest.iter().map(|k| k.secs).sum();
        let _ = writeln!(
            s,
            "| ingest, all kinds | {} | {:.1} s | {} | {:.0} → {:.0} MB |",
            grouped(rows),
            secs,
            rate(ratio(f(rows), secs)),
            phase.rss_start_mb,
            phase.peak_mb
        );
    }
}

/// One run as markdown.
pub fn markdown(r: &ScaleReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "#### {} — {} machines, {} sessions, {} earnings (seed {}, epoch {})\n",
        r.backend.name(),
        grouped(r.machines),
        grouped(r.sessions()),
        grouped(r.earnings()),
        r.seed,
        r.epoch
    );
    let _ = writeln!(s, "| phase | rows | time | rows/s | RSS start → peak |");
    let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
    ingest_rows(&mut s, &r.ingest, r.ingest_phase);
    let _ = writeln!(
        s,
        "| `load_epoch_facts` | {} machines, {} sessions, {} with organic earnings | {:.2} s | | {:.0} → {:.0} MB |",
        grouped(r.load_machines),
        grouped(r.load_sessions),
        grouped(r.load_organic_machines),
        r.load.secs,
        r.load.rss_start_mb,
        r.load.peak_mb
    );
    let _ = writeln!(
        s,
        "| `plan` | {} eligible | {:.2} s | | {:.0} → {:.0} MB |",
        grouped(r.plan_eligible),
        r.plan.secs,
        r.plan.rss_start_mb,
        r.plan.peak_mb
    );
    let _ = writeln!(
        s,
        "| settle (`Engine::settle` live: load + plan + commit, one transaction) | {} draws written | {:.2} s | | {:.0} → {:.0} MB |",
        grouped(r.settle_shares),
        r.settle.secs,
        r.settle.rss_start_mb,
        r.settle.peak_mb
    );
    let _ = writeln!(
        s,
        "| bare: earnings `SUM … GROUP BY machine_id` over the store's window | {} | {:.2} s | | |",
        grouped(r.bare_earnings_rows),
        r.bare_earnings_secs
    );
    let _ = writeln!(
        s,
        "| bare: the epoch's sessions `COUNT, MIN … GROUP BY machine_id` | {} | {:.2} s | | |",
        grouped(r.bare_sessions_rows),
        r.bare_sessions_secs
    );
    let _ = writeln!(s, "| bare scans, total | | {:.2} s | | |", r.bare_secs());
    if r.store_grouping_rows > 0 {
        let _ = writeln!(
            s,
            "| not in the ratio: the store's earnings grouping SQL run bare | {} groups | {:.2} s ({:.2} × the bare earnings scan) | | |",
            grouped(r.store_grouping_rows),
            r.store_grouping_secs,
            ratio(r.store_grouping_secs, r.bare_earnings_secs)
        );
        let _ = writeln!(
            s,
            "| not in the ratio: the store's sessions query run bare (SQLite: one row per machine; PostgreSQL: one per session), rows fetched | {} | {:.2} s | | |",
            grouped(r.store_sessions_rows),
            r.store_sessions_secs
        );
    }
    s.push('\n');
    let _ = writeln!(
        s,
        "settle / bare = **{:.2}** (target ≤ {:.0} {}); load / bare = {:.2}; settle peak {:.0} MB (target < {:.0} MB {}). \
         Pool ${}, granted ${}, unallocated ${}; {} of {} machines eligible. Database {:.2} GB{}.\n",
        r.settle_over_bare(),
        SETTLE_OVER_BARE_TARGET,
        mark(r.settle_over_bare() <= SETTLE_OVER_BARE_TARGET),
        r.load_over_bare(),
        r.settle.peak_mb,
        SETTLE_PEAK_TARGET_MB,
        mark(r.settle.peak_mb < SETTLE_PEAK_TARGET_MB),
        grouped(i64_u64(r.pool_micro_usd / 1_000_000)),
        grouped(i64_u64(r.settle_granted_micro_usd / 1_000_000)),
        grouped(i64_u64(r.settle_unallocated_micro_usd / 1_000_000)),
        grouped(r.settle_eligible),
        grouped(r.machines),
        f(r.db_bytes) / 1e9,
        if r.backend == Backend::Postgres {
            format!(" (`VACUUM ANALYZE` after the ingest: {:.1} s, not counted)", r.maintenance_secs)
        } else {
            String::new()
        }
    );
    s
}

/// The extrapolation table.
pub fn markdown_extrapolation(small: &ScaleReport, large: &ScaleReport, target: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} extrapolated linearly to {} machines (`y = a + b·machines` through the two runs; per-machine counts fixed):\n",
        large.backend.name(),
        grouped(target)
    );
    let _ = writeln!(
        s,
        "| figure | {} machines | {} machines | per 1 000 machines | {} machines (fit) |",
        grouped(small.machines),
        grouped(large.machines),
        grouped(target)
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
    for x in extrapolate(small, large, target) {
        let _ = writeln!(
            s,
            "| {} | {:.2} | {:.2} | {:.3} | {:.1} |",
            x.what, x.small, x.large, x.per_1000, x.target
        );
    }
    s
}

/// `µUSD` as dollars with cents.
fn usd(micro_usd: i64) -> String {
    let cents = micro_usd / 10_000;
    format!(
        "${}.{:02}",
        grouped(i64_u64(cents / 100)),
        i64_u64(cents % 100)
    )
}

/// One period run as markdown: the ingest, the settle, the bare scans, and
/// for a month of periods a row per period.
pub fn markdown_period(r: &PeriodReport) -> String {
    let mut s = String::new();
    let n = r.periods.len();
    let _ = writeln!(
        s,
        "#### {} — period `{}`, {} machines, {} sessions, {} earnings (seed {}, month {})\n",
        r.backend.name(),
        r.period,
        grouped(r.machines),
        grouped(r.sessions()),
        grouped(r.earnings()),
        r.seed,
        r.month
    );
    let _ = writeln!(s, "| phase | rows | time | rows/s | RSS start → peak |");
    let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
    ingest_rows(&mut s, &r.ingest, r.ingest_phase);
    let what = match r.periods.as_slice() {
        [one] => format!(
            "settle `{}` (`Engine::settle` live, one transaction)",
            one.epoch
        ),
        _ => format!(
            "settle --month {} (`Engine::settle_month`: {n} periods, one transaction each)",
            r.month
        ),
    };
    let _ = writeln!(
        s,
        "| {what} | {} draws written | {:.2} s | | {:.0} → {:.0} MB |",
        grouped(r.draws()),
        r.settle.secs,
        r.settle.rss_start_mb,
        r.settle.peak_mb
    );
    let bare_e: f64 = r.periods.iter().map(|p| p.bare_earnings_secs).sum();
    let bare_s: f64 = r.periods.iter().map(|p| p.bare_sessions_secs).sum();
    let rows_e: u64 = r.periods.iter().map(|p| p.bare_earnings_rows).sum();
    let rows_s: u64 = r.periods.iter().map(|p| p.bare_sessions_rows).sum();
    let per = if n > 1 {
        ", summed over the periods"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "| bare: earnings `SUM … GROUP BY machine_id` over each period's store window{per} | {} | {:.2} s | | |",
        grouped(rows_e),
        bare_e
    );
    let _ = writeln!(
        s,
        "| bare: each period's sessions `COUNT, MIN … GROUP BY machine_id`{per} | {} | {:.2} s | | |",
        grouped(rows_s),
        bare_s
    );
    let _ = writeln!(s, "| bare scans, total | | {:.2} s | | |", r.bare_secs());
    let _ = writeln!(
        s,
        "| `Engine::month_statement` (D24) | {} accounts, {} periods with draws | {:.2} s | | |",
        grouped(r.statement_accounts),
        grouped(r.statement_periods_with_draws),
        r.statement_secs
    );
    s.push('\n');
    let eligible: Vec<u64> = r.periods.iter().map(|p| p.n_eligible).collect();
    let _ = writeln!(
        s,
        "settle / bare = **{:.2}**; settle peak {:.0} MB. Monthly pool {}, granted {} over {n} period(s) \
         (month statement {}); eligible per period {}–{} of {} machines. Database {:.2} GB{}.",
        r.settle_over_bare(),
        r.settle.peak_mb,
        usd(r.monthly_pool_micro_usd),
        usd(r.granted_micro_usd()),
        usd(r.statement_drawn_micro_usd),
        eligible.iter().min().copied().unwrap_or(0),
        eligible.iter().max().copied().unwrap_or(0),
        grouped(r.machines),
        f(r.db_bytes) / 1e9,
        if r.backend == Backend::Postgres {
            format!(" (`VACUUM ANALYZE` after the ingest: {:.1} s, not counted)", r.maintenance_secs)
        } else {
            String::new()
        }
    );
    if let [one] = r.periods.as_slice() {
        let _ = writeln!(
            s,
            "The period lasts {:.0} s; its settlement took {:.2} s = {:.2} % of it {}. Period pool {}, granted {}.",
            FIVE_MINUTES_SECS,
            one.secs,
            one.secs / FIVE_MINUTES_SECS * 100.0,
            mark(r.period != floorline_core::time::Period::FiveMinutes || one.secs < FIVE_MINUTES_SECS / 10.0),
            usd(one.pool_micro_usd),
            usd(one.granted_micro_usd)
        );
    } else {
        let secs: Vec<f64> = r.periods.iter().map(|p| p.secs).collect();
        let min = secs.iter().copied().fold(f64::INFINITY, f64::min);
        let max = secs.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            s,
            "Per period: mean {:.2} s, min {:.2} s, max {:.2} s (Σ {:.2} s of the call's {:.2} s).\n",
            ratio(r.periods_secs(), f(u64::try_from(n).unwrap_or(0))),
            if min.is_finite() { min } else { 0.0 },
            max,
            r.periods_secs(),
            r.settle.secs
        );
        let _ = writeln!(
            s,
            "| period | settle | bare scans | settle / bare | eligible | draws | granted |"
        );
        let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- |");
        for p in &r.periods {
            let _ = writeln!(
                s,
                "| {} | {:.2} s | {:.2} s | {:.2} | {} | {} | {} |",
                p.epoch,
                p.secs,
                p.bare_secs(),
                ratio(p.secs, p.bare_secs()),
                grouped(p.n_eligible),
                grouped(p.n_draws),
                usd(p.granted_micro_usd)
            );
        }
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn linear_fit_goes_through_both_points() {
        assert!((linear(10.0, 3.0, 100.0, 21.0, 10.0) - 3.0).abs() < 1e-9);
        assert!((linear(10.0, 3.0, 100.0, 21.0, 100.0) - 21.0).abs() < 1e-9);
        assert!((linear(10.0, 3.0, 100.0, 21.0, 1000.0) - 201.0).abs() < 1e-9);
    }

    #[test]
    fn grouping_and_float_conversion() {
        assert_eq!(grouped(1_234_567), "1 234 567");
        assert_eq!(grouped(100), "100");
        assert_eq!(f(20_000_000), 20_000_000.0);
        assert_eq!(float_to_u64(31_234.6), 31_235);
    }
}
