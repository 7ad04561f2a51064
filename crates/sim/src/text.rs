//! Human-readable output: money, percentages, the monthly tables printed on
//! stdout, and the headline figures (the same rows `SCENARIOS.md` quotes,
//! which a test compares so the document cannot drift).

use std::fmt::Write as _;

use floorline_core::time::Period;

use crate::report::{round_div, SimReport};

/// `$1,234.57` (half up to the cent).
pub fn usd(micro_usd: i64) -> String {
    let sign = if micro_usd < 0 { "-" } else { "" };
    let cents = round_div(i128::from(micro_usd).abs(), 10_000);
    format!("{sign}${}.{:02}", group(cents / 100), cents % 100)
}

/// `$0.165`: dollars with as many decimals as the amount needs (at least 2).
pub fn usd_exact(micro_usd: i64) -> String {
    let sign = if micro_usd < 0 { "-" } else { "" };
    let v = i128::from(micro_usd).abs();
    let mut frac = format!("{:06}", v % 1_000_000);
    while frac.len() > 2 && frac.ends_with('0') {
        frac.pop();
    }
    format!("{sign}${}.{frac}", group(v / 1_000_000))
}

/// `18.3 %` (half up to a tenth of a percent).
pub fn pct(ppm: i64) -> String {
    let tenths = round_div(i128::from(ppm.max(0)), 1_000);
    format!("{}.{} %", tenths / 10, tenths % 10)
}

/// `27.3 GB` from thousandths of a GB.
pub fn gb(milli_gb: i64) -> String {
    let tenths = round_div(i128::from(milli_gb.max(0)), 100);
    format!("{}.{} GB", tenths / 10, tenths % 10)
}

/// `12,345` with thousands separators.
pub fn group(n: i128) -> String {
    let digits = n.abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `ppm` of `part / whole`, 0 when `whole` is 0.
pub fn share_ppm(part: u32, whole: u32) -> i64 {
    i64::try_from(round_div(i128::from(part) * 1_000_000, i128::from(whole))).unwrap_or(0)
}

/// A right-aligned plain-text table.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| (*h).to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let n = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.header).chain(&self.rows) {
            let mut text = String::new();
            for (i, (cell, w)) in line.iter().zip(&widths).take(n).enumerate() {
                if i == 0 {
                    let _ = write!(text, "{cell:<w$}");
                } else {
                    let _ = write!(text, "  {cell:>w$}");
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// Whether a run planned its months as shorter periods (SPEC §10).
pub fn is_periodic(r: &SimReport) -> bool {
    r.scenario.policy.period != Period::Month
}

/// `machine-days`: what one machine in one period is called.
pub fn machine_periods_label(period: Period) -> &'static str {
    match period {
        Period::Month => "machine-months",
        Period::Day => "machine-days",
        Period::Hour => "machine-hours",
        Period::FiveMinutes => "machine-5m",
    }
}

/// The monthly table of one run. A period run adds the eligible
/// machine-periods; `eligible` is then the machines eligible in some period.
pub fn monthly_table(r: &SimReport) -> String {
    let periodic = is_periodic(r);
    let eligible_periods = format!(
        "eligible {}",
        machine_periods_label(r.scenario.policy.period)
    );
    let mut header = vec![
        "month",
        "machines",
        "eligible",
        "program cost",
        "pool",
        "binds",
        "unallocated",
        "at floor",
        "organic revenue",
    ];
    if periodic {
        header.push(&eligible_periods);
    }
    let mut t = Table::new(&header);
    for m in &r.months {
        let mut row = vec![
            m.epoch.to_string(),
            group(i128::from(m.machines)),
            group(i128::from(m.eligible)),
            usd(m.program_cost_micro_usd),
            usd(m.pool_micro_usd),
            yes_no(m.pool_binding),
            usd(m.unallocated_micro_usd),
            pct(share_ppm(m.at_floor, m.machines)),
            usd(m.organic_revenue_micro_usd),
        ];
        if periodic {
            row.push(group(i128::from(
                m.period_counts().eligible_machine_periods,
            )));
        }
        t.row(row);
    }
    t.render()
}

/// A monthly run `a` against a period run `b` of the same fleet, month by
/// month: cost, eligibility (machines, and machine-periods — a monthly
/// month's eligible machine counts for every period of it), unallocated.
pub fn period_compare_table(a: &SimReport, b: &SimReport) -> String {
    let pb = b.scenario.policy.period;
    let unit = machine_periods_label(pb);
    let (la, lb) = (
        a.scenario.policy.period.as_str(),
        b.scenario.policy.period.as_str(),
    );
    let h = [
        "month".to_string(),
        "machines".to_string(),
        format!("cost ({la})"),
        format!("cost ({lb})"),
        format!("eligible ({la})"),
        format!("eligible in some {lb}"),
        format!("eligible {unit} ({la})"),
        format!("eligible {unit} ({lb})"),
        format!("unallocated ({la})"),
        format!("unallocated ({lb})"),
    ];
    let header: Vec<&str> = h.iter().map(String::as_str).collect();
    let mut t = Table::new(&header);
    for (ma, mb) in a.months.iter().zip(&b.months) {
        // A month's eligible machines, each counted for every period of it.
        let n = u64::from(ma.epoch.periods_in_month(pb));
        t.row(vec![
            ma.epoch.to_string(),
            group(i128::from(ma.machines)),
            usd(ma.program_cost_micro_usd),
            usd(mb.program_cost_micro_usd),
            group(i128::from(ma.eligible)),
            group(i128::from(mb.eligible)),
            group(i128::from(u64::from(ma.eligible).saturating_mul(n))),
            group(i128::from(mb.period_counts().eligible_machine_periods)),
            usd(ma.unallocated_micro_usd),
            usd(mb.unallocated_micro_usd),
        ]);
    }
    t.render()
}

/// Tiers that hold a machine in some month (`min_gb`, label).
pub fn populated_tiers(r: &SimReport) -> Vec<(u32, String)> {
    let mut out: Vec<(u32, String)> = Vec::new();
    if let Some(first) = r.months.first() {
        for tier in &first.tiers {
            let used = r
                .months
                .iter()
                .any(|m| m.tier(tier.min_gb).is_some_and(|t| t.machines > 0));
            if used {
                out.push((tier.min_gb, tier_label(r, tier.min_gb)));
            }
        }
    }
    out
}

/// `64 GB`, or `<24 GB` for machines below every tier.
pub fn tier_label(r: &SimReport, min_gb: u32) -> String {
    if min_gb == 0 && r.scenario.policy.tier_floor(0) == 0 {
        let lowest = r.scenario.policy.tiers.first().map_or(0, |t| t.min_gb);
        format!("<{lowest} GB")
    } else {
        format!("{min_gb} GB")
    }
}

/// Mean payout per machine of each tier, by month.
pub fn tier_table(r: &SimReport) -> String {
    let tiers = populated_tiers(r);
    let mut header: Vec<&str> = vec!["month"];
    header.extend(tiers.iter().map(|(_, l)| l.as_str()));
    let mut t = Table::new(&header);
    for m in &r.months {
        let mut row = vec![m.epoch.to_string()];
        for (g, _) in &tiers {
            row.push(
                m.tier(*g)
                    .filter(|s| s.machines > 0)
                    .map_or_else(|| "—".to_string(), |s| usd(s.mean_payout_micro_usd)),
            );
        }
        t.row(row);
    }
    t.render()
}

fn machines(n: Option<u64>) -> String {
    n.map_or("never".to_string(), |n| {
        format!("{} machines", group(i128::from(n)))
    })
}

/// The headline figures as `(label, value)` rows.
pub fn figure_rows(r: &SimReport) -> Vec<(String, String)> {
    let f = &r.figures;
    let mut rows = vec![
        (
            "machines, month 1".to_string(),
            group(i128::from(f.machines)),
        ),
        (
            "mean reported memory, month 1".to_string(),
            gb(f.mean_memory_milli_gb),
        ),
        (
            "share of machines with ≥ 64 GB verified, month 1".to_string(),
            pct(f.share_64_gb_plus_ppm),
        ),
        (
            "machines with a tier (≥ the lowest tier's memory, verified), month 1".to_string(),
            format!(
                "{} ({})",
                group(i128::from(f.tiered_machines)),
                pct(share_ppm(f.tiered_machines, f.machines))
            ),
        ),
        (
            "machines above the uptime gate, month 1".to_string(),
            format!(
                "{} ({})",
                group(i128::from(f.above_uptime_gate)),
                pct(share_ppm(f.above_uptime_gate, f.machines))
            ),
        ),
        (
            "cost at full eligibility (Σ tier floors), month 1".to_string(),
            usd(f.full_eligibility_cost_micro_usd),
        ),
        (
            "fleet size where the pool binds at full eligibility".to_string(),
            machines(f.full_eligibility_bind_machines),
        ),
        (
            "eligible machines, month 1".to_string(),
            group(i128::from(f.eligible)),
        ),
        (
            "program cost (Σ draws), month 1".to_string(),
            usd(f.program_cost_micro_usd),
        ),
        (
            "mean desired draw per eligible machine, month 1".to_string(),
            usd(f.desired_per_eligible_micro_usd),
        ),
        (
            "eligible machines at which the pool binds".to_string(),
            machines(f.eligible_bind_machines),
        ),
        (
            "fleet size where the pool binds at month-1 eligibility".to_string(),
            machines(f.observed_bind_machines),
        ),
        (
            "first month the pool binds".to_string(),
            match &f.first_binding {
                Some(b) => format!(
                    "{} (month {}, {} machines)",
                    b.epoch,
                    b.month,
                    group(i128::from(b.machines))
                ),
                None => format!("never in {} months", r.months.len()),
            },
        ),
    ];
    for b in &f.break_even {
        let Some(u) = b.utilization_ppm else {
            continue;
        };
        rows.push((
            format!(
                "utilization to earn the {} GB floor ({} at {} tokens/s, {}/M tokens, {}-day month)",
                b.min_gb,
                usd(b.tier_floor_micro_usd),
                b.tokens_per_s,
                usd_exact(b.price_micro_usd_per_million_tokens),
                b.month_seconds / 86_400,
            ),
            pct(u),
        ));
    }
    rows
}

/// One line of the what-if table in `SCENARIOS.md`:
/// `| name | eligible, month 1 | program cost, month 1 | program cost over the run | organic revenue over the run | first month the pool binds |`.
pub fn what_if_row(r: &SimReport) -> String {
    let first = r.months.first();
    let total = |f: fn(&crate::report::MonthStats) -> i64| {
        r.months.iter().map(f).fold(0i64, i64::saturating_add)
    };
    let binds = match &r.figures.first_binding {
        Some(b) => format!("{} ({} machines)", b.epoch, group(i128::from(b.machines))),
        None => "never".to_string(),
    };
    format!(
        "| {} | {} | {} | {} | {} | {} |",
        r.scenario.name,
        group(i128::from(first.map_or(0, |m| m.eligible))),
        usd(first.map_or(0, |m| m.program_cost_micro_usd)),
        usd(total(|m| m.program_cost_micro_usd)),
        usd(total(|m| m.organic_revenue_micro_usd)),
        binds,
    )
}

/// The figures as a two-column table.
pub fn figures_table(r: &SimReport) -> String {
    let mut out = String::new();
    for (label, value) in figure_rows(r) {
        let _ = writeln!(out, "  {label}: {value}");
    }
    out
}

/// Both runs side by side, month by month (aligned by month number).
pub fn compare_table(a: &SimReport, b: &SimReport) -> String {
    let same_start = a.scenario.start == b.scenario.start;
    let mut t = Table::new(&[
        "month",
        "machines A",
        "machines B",
        "cost A",
        "cost B",
        "Δ cost",
        "binds A",
        "binds B",
        "at floor A",
        "at floor B",
        "revenue A",
        "revenue B",
    ]);
    let n = a.months.len().max(b.months.len());
    for i in 0..n {
        let (ma, mb) = (a.months.get(i), b.months.get(i));
        let label = match (ma, same_start) {
            (Some(m), true) => m.epoch.to_string(),
            _ => format!("{}", i + 1),
        };
        let cell = |m: Option<&crate::report::MonthStats>,
                    f: &dyn Fn(&crate::report::MonthStats) -> String| {
            m.map_or_else(|| "—".to_string(), f)
        };
        let delta = match (ma, mb) {
            (Some(x), Some(y)) => {
                let d = y
                    .program_cost_micro_usd
                    .saturating_sub(x.program_cost_micro_usd);
                if d > 0 {
                    format!("+{}", usd(d))
                } else {
                    usd(d)
                }
            }
            _ => "—".to_string(),
        };
        t.row(vec![
            label,
            cell(ma, &|m| group(i128::from(m.machines))),
            cell(mb, &|m| group(i128::from(m.machines))),
            cell(ma, &|m| usd(m.program_cost_micro_usd)),
            cell(mb, &|m| usd(m.program_cost_micro_usd)),
            delta,
            cell(ma, &|m| yes_no(m.pool_binding)),
            cell(mb, &|m| yes_no(m.pool_binding)),
            cell(ma, &|m| pct(share_ppm(m.at_floor, m.machines))),
            cell(mb, &|m| pct(share_ppm(m.at_floor, m.machines))),
            cell(ma, &|m| usd(m.organic_revenue_micro_usd)),
            cell(mb, &|m| usd(m.organic_revenue_micro_usd)),
        ]);
    }
    t.render()
}

/// Everything printed for one run.
pub fn run_text(r: &SimReport, label: &str) -> String {
    let s = &r.scenario;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{label}{} — {} months from {} (seed {}, {})",
        s.name, s.months, s.start, s.seed, s.source
    );
    if is_periodic(r) {
        let _ = writeln!(
            out,
            "each month planned as its {} periods (policy period = \"{}\")",
            s.policy.period, s.policy.period
        );
    }
    out.push('\n');
    out.push_str(&monthly_table(r));
    out.push_str("\nmean payout per machine by tier (organic + draw, every machine of the tier)\n");
    out.push_str(&tier_table(r));
    out.push_str("\nheadline figures\n");
    out.push_str(&figures_table(r));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(usd(7_600_000_000), "$7,600.00");
        assert_eq!(usd(1_234_565), "$1.23");
        assert_eq!(usd(1_235_000), "$1.24");
        assert_eq!(usd(-5_000_000), "-$5.00");
        assert_eq!(usd(0), "$0.00");
        assert_eq!(usd_exact(165_000), "$0.165");
        assert_eq!(usd_exact(18_000_000), "$18.00");
        assert_eq!(usd_exact(1_234_567_891), "$1,234.567891");
        assert_eq!(pct(182_500), "18.3 %");
        assert_eq!(pct(1_052_193), "105.2 %");
        assert_eq!(gb(27_349), "27.3 GB");
        assert_eq!(group(1_000), "1,000");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(share_ppm(1, 3), 333_333);
        assert_eq!(share_ppm(1, 0), 0);
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new(&["a", "bb"]);
        t.row(vec!["xyz".into(), "1".into()]);
        assert_eq!(t.render(), "a    bb\nxyz   1\n");
    }
}
