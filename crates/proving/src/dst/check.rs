//! The checker: takes the money tables as the bare-SQL oracle read them
//! ([`Snapshot`], its own connection, not the store's code), then checks
//!
//! - [`structural`] invariants that need no model: nothing credited twice
//!   (ledger references unique, one draw per `(machine, account, epoch)`,
//!   one credit and one base-reward earning per draw), Σ draws ≤ pool per
//!   epoch or period (a period's pool is its portion of the month's, and Σ
//!   over a month's periods ≤ the monthly pool), each run's pool its portion, every balance = Σ its ledger entries, no draw or live run before
//!   its epoch closed, each run's totals add up to its draws, and nothing
//!   already written changes (draws, ledger entries, runs; watermarks only
//!   move forward);
//! - [`against_model`]: the store holds exactly what the model says;
//! - [`month_statement`]: a month's statement as the engine reports it
//!   (D24) is the month's draws, read raw, summed per `(machine, account)`,
//!   and its manifest D19 over those sums.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{reference, Model};
pub use crate::oracle::snapshot::{EntryRow, RunRow, Snapshot};
use floorline_core::money::portion;
use floorline_core::plan::{manifest_sha256, ManifestDraw};
use floorline_core::EpochId;
use floorline_engine::MonthStatement;

fn epoch_end(text: &str) -> Option<i64> {
    text.parse::<EpochId>().ok().map(|e| e.end().0)
}

/// Invariants that hold whatever happened; `prev` is the snapshot of the step before.
pub fn structural(prev: Option<&Snapshot>, now: &Snapshot, pool_micro_usd: i64) -> Vec<String> {
    let mut v = Vec::new();
    // Nothing credited twice.
    if now.n_draw_rows != now.draws.len() {
        v.push(format!(
            "{} floor_draws rows for {} distinct (machine, account, epoch)",
            now.n_draw_rows,
            now.draws.len()
        ));
    }
    let refs: BTreeSet<&str> = now.entries.iter().map(|e| e.reference.as_str()).collect();
    if refs.len() != now.entries.len() {
        v.push("a ledger reference is used twice".into());
    }
    let credits: BTreeMap<&str, &EntryRow> = now
        .entries
        .iter()
        .filter(|e| e.kind == "provider_floor_draw")
        .map(|e| (e.reference.as_str(), e))
        .collect();
    let mut by_epoch: BTreeMap<&str, i64> = BTreeMap::new();
    for ((e, m, a), d) in &now.draws {
        *by_epoch.entry(e.as_str()).or_insert(0) += d.amount_micro_usd;
        let Ok(epoch) = e.parse::<EpochId>() else {
            v.push(format!("draw with a bad epoch `{e}`"));
            continue;
        };
        match credits.get(reference(epoch, m, a).as_str()) {
            Some(c)
                if c.account_id == *a
                    && c.amount_micro_usd == d.amount_micro_usd
                    && c.epoch.as_deref() == Some(e.as_str())
                    && c.machine_id.as_deref() == Some(m.as_str()) => {}
            other => v.push(format!(
                "draw {e}/{m}/{a} of {} µUSD has no matching ledger credit: {other:?}",
                d.amount_micro_usd
            )),
        }
        let job = floorline_store::settle::base_reward_job_id(epoch, m, a);
        if now.base_rewards.get(&job) != Some(&(m.clone(), d.amount_micro_usd)) {
            v.push(format!(
                "draw {e}/{m}/{a} has no matching base_reward earning"
            ));
        }
        // No draw for an open epoch.
        if d.created_at_ms < epoch.end().0 {
            v.push(format!(
                "draw {e}/{m}/{a} was made at {} ms, before its epoch closed",
                d.created_at_ms
            ));
        }
    }
    if credits.len() != now.draws.len() {
        v.push(format!(
            "{} floor-draw ledger credits for {} draws",
            credits.len(),
            now.draws.len()
        ));
    }
    if now.base_rewards.len() != now.draws.len() {
        v.push(format!(
            "{} base_reward earnings for {} draws",
            now.base_rewards.len(),
            now.draws.len()
        ));
    }
    // Σ draws ≤ pool per unit (D23: a period's pool is its portion of the
    // month's), and Σ over a month's units ≤ the monthly pool.
    let mut by_month: BTreeMap<EpochId, i64> = BTreeMap::new();
    for (e, sum) in &by_epoch {
        let Ok(epoch) = e.parse::<EpochId>() else {
            continue;
        };
        let pool = portion(pool_micro_usd, epoch);
        if *sum > pool {
            v.push(format!("Σ draws of {e} = {sum} µUSD > pool {pool}"));
        }
        *by_month.entry(epoch.month_id()).or_insert(0) += sum;
    }
    for (month, sum) in &by_month {
        if *sum > pool_micro_usd {
            v.push(format!(
                "Σ draws of the periods of {month} = {sum} µUSD > the monthly pool {pool_micro_usd}"
            ));
        }
    }
    // Balances = Σ ledger.
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for e in &now.entries {
        *sums.entry(e.account_id.as_str()).or_insert(0) += e.amount_micro_usd;
    }
    for (a, balance) in &now.accounts {
        let sum = sums.get(a.as_str()).copied().unwrap_or(0);
        if *balance != sum {
            v.push(format!(
                "balance of {a} is {balance} µUSD, Σ ledger is {sum}"
            ));
        }
    }
    for a in sums.keys() {
        if !now.accounts.contains_key(*a) {
            v.push(format!("ledger entries for {a}, which has no account row"));
        }
    }
    // Each run adds up.
    for r in &now.runs {
        let before: i64 = now
            .draws
            .iter()
            .filter(|((e, _, _), d)| *e == r.epoch && d.run_id < r.id)
            .map(|(_, d)| d.amount_micro_usd)
            .sum();
        let own: i64 = now
            .draws
            .values()
            .filter(|d| d.run_id == r.id)
            .map(|d| d.amount_micro_usd)
            .sum();
        if r.already_settled_micro_usd != before {
            v.push(format!(
                "run {} says {} µUSD were already settled; earlier runs drew {before}",
                r.id, r.already_settled_micro_usd
            ));
        }
        let expected_own = if r.mode == "live" {
            r.granted_total_micro_usd
        } else {
            0
        };
        if own != expected_own {
            v.push(format!(
                "run {} ({}) granted {} µUSD but has {own} µUSD of draws",
                r.id, r.mode, r.granted_total_micro_usd
            ));
        }
        if r.already_settled_micro_usd + r.granted_total_micro_usd + r.unallocated_micro_usd
            != r.pool_micro_usd.max(r.already_settled_micro_usd)
        {
            v.push(format!(
                "run {}: already + granted + unallocated ≠ pool ({r:?})",
                r.id
            ));
        }
        let unit_pool = r
            .epoch
            .parse::<EpochId>()
            .map(|e| portion(pool_micro_usd, e));
        if unit_pool != Ok(r.pool_micro_usd) {
            v.push(format!(
                "run {} of {} has pool {} µUSD, its portion of the monthly pool is {unit_pool:?}",
                r.id, r.epoch, r.pool_micro_usd
            ));
        }
        if r.mode == "live" && epoch_end(&r.epoch).is_none_or(|end| r.created_at_ms < end) {
            v.push(format!(
                "live run {} of {} before the epoch closed",
                r.id, r.epoch
            ));
        }
    }
    // Nothing written changes.
    if let Some(p) = prev {
        for (k, d) in &p.draws {
            if now.draws.get(k) != Some(d) {
                v.push(format!(
                    "frozen draw {k:?} changed: {d:?} → {:?}",
                    now.draws.get(k)
                ));
            }
        }
        let by_id: BTreeMap<i64, &EntryRow> = now.entries.iter().map(|e| (e.id, e)).collect();
        for e in &p.entries {
            if by_id.get(&e.id) != Some(&e) {
                v.push(format!("ledger entry {} changed or vanished", e.id));
            }
        }
        let runs: BTreeMap<i64, &RunRow> = now.runs.iter().map(|r| (r.id, r)).collect();
        for r in &p.runs {
            if runs.get(&r.id) != Some(&r) {
                v.push(format!("settlement run {} changed or vanished", r.id));
            }
        }
        for (s, up_to) in &p.watermarks {
            if now.watermarks.get(s).is_none_or(|n| n < up_to) {
                v.push(format!("watermark of {s} moved back"));
            }
        }
    }
    v
}

/// The store holds exactly what the model says.
pub fn against_model(now: &Snapshot, model: &Model) -> Vec<String> {
    let mut v = Vec::new();
    let draws: BTreeMap<(String, String, String), (i64, i64, i64)> = now
        .draws
        .iter()
        .map(|(k, d)| {
            (
                k.clone(),
                (d.amount_micro_usd, d.verified_memory_gb, d.run_id),
            )
        })
        .collect();
    let expected: BTreeMap<(String, String, String), (i64, i64, i64)> = model
        .draws
        .iter()
        .map(|((e, m, a), d)| {
            (
                (e.to_string(), m.clone(), a.clone()),
                (d.amount_micro_usd, d.verified_memory_gb, d.run_id),
            )
        })
        .collect();
    if draws != expected {
        v.push(format!(
            "draws differ from the model: store {draws:?}, model {expected:?}"
        ));
    }
    let names: BTreeSet<&String> = now.accounts.keys().chain(model.balances.keys()).collect();
    for a in names {
        let s = now.accounts.get(a).copied().unwrap_or(0);
        let m = model.balances.get(a).copied().unwrap_or(0);
        if s != m {
            v.push(format!("balance of {a}: store {s} µUSD, model {m}"));
        }
    }
    let runs: Vec<(i64, String, String, String, i64, i64)> = now
        .runs
        .iter()
        .map(|r| {
            (
                r.id,
                r.epoch.clone(),
                r.mode.clone(),
                r.manifest_sha256.clone(),
                r.granted_total_micro_usd,
                r.already_settled_micro_usd,
            )
        })
        .collect();
    let expected_runs: Vec<(i64, String, String, String, i64, i64)> = model
        .runs
        .iter()
        .map(|r| {
            (
                r.id,
                r.epoch.to_string(),
                r.mode.as_str().to_string(),
                r.manifest_sha256.clone(),
                r.granted_total_micro_usd,
                r.already_settled_micro_usd,
            )
        })
        .collect();
    if runs != expected_runs {
        v.push(format!(
            "runs differ from the model: store {runs:?}, model {expected_runs:?}"
        ));
    }
    let totals: BTreeMap<(String, String), (i64, i64, i64)> = model
        .totals
        .iter()
        .flat_map(|(e, t)| {
            t.iter().map(move |(m, x)| {
                (
                    (e.to_string(), m.clone()),
                    (x.earned_micro_usd, x.drawn_micro_usd, x.total_micro_usd),
                )
            })
        })
        .collect();
    if now.totals != totals {
        v.push(format!(
            "machine totals differ from the model: store {:?}, model {totals:?}",
            now.totals
        ));
    }
    if now.base_rewards != model.base_rewards {
        v.push("base_reward earnings differ from the model".into());
    }
    let mut adjustments: Vec<(String, i64, String)> = now
        .entries
        .iter()
        .filter(|e| e.kind != "provider_floor_draw")
        .map(|e| (e.account_id.clone(), e.amount_micro_usd, e.kind.clone()))
        .collect();
    adjustments.sort();
    let mut expected_adj: Vec<(String, i64, String)> = model
        .adjustments
        .values()
        .map(|a| (a.account_id.clone(), a.amount_micro_usd, a.kind.to_string()))
        .collect();
    expected_adj.sort();
    if adjustments != expected_adj {
        v.push(format!(
            "adjustments differ: store {adjustments:?}, model {expected_adj:?}"
        ));
    }
    if now.watermarks != model.watermarks {
        v.push(format!(
            "watermarks differ: store {:?}, model {:?}",
            now.watermarks, model.watermarks
        ));
    }
    let f = &model.facts;
    let counts = [
        ("attestations", f.attestations.len()),
        ("aliases", f.aliases.len()),
        ("bindings", f.bindings.len()),
        ("sessions", f.sessions.len()),
        ("health", f.health.len()),
        ("earnings", f.earnings.len()),
        ("probes", f.probes.len()),
    ];
    for (table, n) in counts {
        let stored = now.fact_counts.get(table).copied().unwrap_or(-1);
        if i64::try_from(n).ok() != Some(stored) {
            v.push(format!("{table}: store has {stored} rows, model {n}"));
        }
    }
    v
}

/// D24: `statement` (the engine's `month_statement`) against the draws of
/// its month in `now`, read raw: the same `(machine, account)` sums, the same
/// per-account sums and total, the same number of periods with draws, and a
/// manifest that is D19 over those sums. When every draw of the month is of
/// one epoch, the manifest must also be that epoch's latest live run's (D19
/// over its final draws), a check that needs no hashing of ours.
pub fn month_statement(now: &Snapshot, statement: &MonthStatement) -> Vec<String> {
    let mut v = Vec::new();
    let month = statement.month;
    let mut sums: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    let mut epochs: BTreeSet<&str> = BTreeSet::new();
    for ((e, m, a), d) in &now.draws {
        if e.parse::<EpochId>().ok().map(EpochId::month_id) != Some(month) {
            continue;
        }
        epochs.insert(e.as_str());
        *sums.entry((m.as_str(), a.as_str())).or_insert(0) += d.amount_micro_usd;
    }
    let draws: Vec<ManifestDraw> = sums
        .iter()
        .filter(|(_, amount)| **amount > 0)
        .map(|((m, a), amount)| ManifestDraw {
            account_id: (*a).to_string(),
            amount_micro_usd: *amount,
            machine_id: (*m).to_string(),
        })
        .collect();
    if statement.draws != draws {
        v.push(format!(
            "month statement of {month}: draws {:?}, the raw draws summed per (machine, account) {draws:?}",
            statement.draws
        ));
    }
    let total: i64 = draws.iter().map(|d| d.amount_micro_usd).sum();
    if statement.drawn_micro_usd != total {
        v.push(format!(
            "month statement of {month}: drawn {} µUSD, the raw draws sum to {total}",
            statement.drawn_micro_usd
        ));
    }
    let mut accounts: BTreeMap<&str, i64> = BTreeMap::new();
    for d in &draws {
        *accounts.entry(d.account_id.as_str()).or_insert(0) += d.amount_micro_usd;
    }
    let got: BTreeMap<&str, i64> = statement
        .accounts
        .iter()
        .map(|a| (a.account_id.as_str(), a.drawn_micro_usd))
        .collect();
    if got != accounts {
        v.push(format!(
            "month statement of {month}: accounts {got:?}, the raw draws per account {accounts:?}"
        ));
    }
    if usize::try_from(statement.n_periods_with_draws).ok() != Some(epochs.len()) {
        v.push(format!(
            "month statement of {month}: {} periods with draws, the raw draws have {}",
            statement.n_periods_with_draws,
            epochs.len()
        ));
    }
    let d19 = manifest_sha256(&draws);
    if statement.manifest_sha256 != d19 {
        v.push(format!(
            "month statement of {month}: manifest {}, D19 over the summed raw draws is {d19}",
            statement.manifest_sha256
        ));
    }
    if let (Some(only), 1) = (epochs.first(), epochs.len()) {
        let latest = now
            .runs
            .iter()
            .filter(|r| r.mode == "live" && r.epoch == *only)
            .max_by_key(|r| r.id);
        match latest {
            Some(r) if r.manifest_sha256 == statement.manifest_sha256 => {}
            other => v.push(format!(
                "month statement of {month}: every draw is of {only}, whose latest live run \
                 {other:?} has another manifest than the statement's {}",
                statement.manifest_sha256
            )),
        }
    }
    v
}
