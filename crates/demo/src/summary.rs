//! The one-screen summary `floorline demo` prints: where to look (URLs,
//! keys, database), the fleet, how its sessions were sent (opened,
//! heartbeats, closed), the settlement (eligible, excluded by
//! reason, pool used, unallocated) and every planted cheater with what
//! floorline concluded.
//!
//! Invariant: every figure comes from the settlement run or the explain
//! endpoint (what floorline said), next to what was planted; money is
//! printed from integer µUSD without floating point.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::fleet::percent;
use crate::manifest::CheatExpect;
use crate::run::{CaughtCheater, DemoRun};

/// `$1,234.56` from µUSD (cents rounded half up; display only).
pub fn usd(micro_usd: i64) -> String {
    let sign = if micro_usd < 0 { "-" } else { "" };
    let cents = (i128::from(micro_usd).abs() + 5_000) / 10_000;
    let dollars = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in dollars.chars().enumerate() {
        if i > 0 && (dollars.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}${grouped}.{:02}", cents % 100)
}

/// `12 345`: thousands separated by a thin space's plain cousin.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn secs(ms: u64) -> String {
    format!("{}.{} s", ms / 1_000, ms % 1_000 / 100)
}

fn cheater_line(c: &CaughtCheater) -> String {
    let verdict = if c.caught { "caught" } else { "MISSED" };
    let said = match &c.expected {
        CheatExpect::Capped { .. } => format!(
            "claimed {} GB, verified {} GB ({}), paid {}",
            c.reported_memory_gb,
            c.verified_memory_gb,
            c.verified_because,
            usd(c.granted_micro_usd)
        ),
        CheatExpect::Excluded { .. } => {
            if c.eligible {
                "eligible".to_string()
            } else {
                format!("excluded: {}", c.reasons.join(", "))
            }
        }
    };
    format!(
        "  {verdict:<6}  {}  {:<17}  {said}\n          planted: {}",
        c.machine_id,
        c.kind.label(),
        c.detail
    )
}

/// The summary text (ends with a newline).
pub fn render(run: &DemoRun) -> String {
    let f = &run.fleet;
    let s = &run.settlement;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "floorline demo: {} simulated from seed {}, settled live (run {}).",
        run.epoch,
        f.spec.seed,
        s.run_id.map_or_else(|| "-".to_string(), |r| r.to_string())
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "  database       {}", run.database_path.display());
    let _ = writeln!(out, "  provider page  {}/provider", run.url);
    let _ = writeln!(out, "  admin page     {}/admin", run.url);
    let _ = writeln!(out, "  admin key      {}", run.admin_key);
    let n_own = f
        .machines
        .iter()
        .filter(|m| {
            m.owner_at(run.epoch.end().0 - 1)
                .is_some_and(|o| o.account_id == run.provider_account)
        })
        .count();
    let _ = writeln!(
        out,
        "  provider key   {}  (account {}, {} machines)",
        run.provider_key, run.provider_account, n_own
    );
    let _ = writeln!(out);

    let accounts: BTreeSet<&str> = f
        .machines
        .iter()
        .flat_map(|m| &m.owners)
        .map(|o| o.account_id.as_str())
        .collect();
    let (mean_mgb, big_ppm) = f.memory_mix();
    let _ = writeln!(
        out,
        "  fleet          {} machines, {} accounts; honest memory mean {}.{} GB, {} at 64 GB+",
        count(u64::try_from(f.machines.len()).unwrap_or(0)),
        count(u64::try_from(accounts.len()).unwrap_or(0)),
        mean_mgb / 1_000,
        mean_mgb % 1_000 / 100,
        percent(i64::try_from(big_ppm).unwrap_or(0))
    );
    let kind = |k: &str| run.ingest.kinds.get(k).map_or(0, |t| t.items);
    let live = run
        .ingest
        .kinds
        .get("sessions")
        .copied()
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  facts          {} sessions, {} health events, {} jobs: {} items in {} API batches",
        count(live.opened),
        count(kind("health")),
        count(kind("earnings")),
        count(run.ingest.items()),
        run.ingest.batches()
    );
    let _ = writeln!(
        out,
        "  sessions       {} opened, {} heartbeats, {} closed ({} refined), sent hour by hour",
        count(live.opened),
        count(live.heartbeats),
        count(live.closed),
        count(live.refined)
    );
    let failed: Vec<String> = run
        .probes
        .failed_by_code
        .iter()
        .map(|(code, n)| format!("{n} {code}"))
        .collect();
    let _ = writeln!(
        out,
        "  probes         {} sent, {} passed{}",
        count(run.probes.sent),
        count(run.probes.passed),
        if failed.is_empty() {
            String::new()
        } else {
            format!(", failed: {}", failed.join(", "))
        }
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  eligible       {} of {} machines",
        count(s.n_eligible),
        count(s.n_machines)
    );
    let mut excluded: Vec<(&String, &u64)> = s.excluded_by_reason.iter().collect();
    excluded.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let excluded: Vec<String> = excluded
        .iter()
        .map(|(r, n)| format!("{r} {}", count(**n)))
        .collect();
    let _ = writeln!(out, "  excluded by    {}", excluded.join(", "));
    let _ = writeln!(out, "  pool           {}", usd(s.pool_micro_usd));
    let _ = writeln!(
        out,
        "  pool used      {}  ({} draws)",
        usd(s.granted_total_micro_usd + s.already_settled_micro_usd),
        count(s.n_granted_shares)
    );
    let _ = writeln!(out, "  unallocated    {}", usd(s.unallocated_micro_usd));
    let _ = writeln!(out, "  manifest       {}", s.manifest_sha256);
    let t = &run.timings;
    let _ = writeln!(
        out,
        "  wall time      {} (generate {}, start {}, ingest {}, probes {}, settle {}, explain {})",
        secs(t.total_ms),
        secs(t.generate_ms),
        secs(t.start_ms),
        secs(t.ingest_ms),
        secs(t.probe_ms),
        secs(t.settle_ms),
        secs(t.explain_ms)
    );
    let _ = writeln!(out);
    let n_caught = run.caught.iter().filter(|c| c.caught).count();
    let _ = writeln!(
        out,
        "Cheaters caught: {n_caught} of {} planted",
        run.caught.len()
    );
    for c in &run.caught {
        let _ = writeln!(out, "{}", cheater_line(c));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_counts() {
        assert_eq!(usd(0), "$0.00");
        assert_eq!(usd(9_000_000_000), "$9,000.00");
        assert_eq!(usd(1_234_565_000), "$1,234.57");
        assert_eq!(usd(1_234_564_999), "$1,234.56");
        assert_eq!(usd(-5_000), "-$0.01");
        assert_eq!(count(0), "0");
        assert_eq!(count(1_234), "1 234");
        assert_eq!(count(40_102), "40 102");
        assert_eq!(count(1_000_000), "1 000 000");
    }
}
