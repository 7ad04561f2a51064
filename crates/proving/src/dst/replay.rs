//! The end-of-trial reference: an uninterrupted replay. A fresh in-memory
//! SQLite store ingests, before each committed live run of the trial, exactly
//! the facts that run saw (one clean bundle: no duplicates, no conflicts, no
//! disorder) and settles once — no failpoint, no clock games, no second
//! settler. Its draws must equal the trial's, epoch by epoch, and its last
//! manifest per epoch the trial's.
//!
//! Why this reference is sound: a live run's result is a function of the
//! facts it reads, its epoch's prior draws and the previous epoch's totals.
//! The replay gives every run the same facts in the same order of runs, so
//! any difference comes from how the trial got there — a failure that left
//! something behind, a duplicate or conflict that was applied, a race — and
//! is exactly what must not happen.

use std::collections::{BTreeMap, BTreeSet};

use floorline_core::{plan, EpochId};
use floorline_store::{RunMode, SettleRequest, Store, MAX_PAGE_LIMIT};

use super::gen::DAY_MS;
use super::Trial;

async fn all_draws(
    store: &Store,
    epoch: EpochId,
) -> Result<BTreeMap<(String, String), i64>, String> {
    let mut out = BTreeMap::new();
    loop {
        let offset = u64::try_from(out.len()).unwrap_or(u64::MAX);
        let page = store
            .draws(epoch, offset, MAX_PAGE_LIMIT)
            .await
            .map_err(|e| format!("replay draws: {e}"))?;
        let n = page.len();
        for d in page {
            out.insert((d.machine_id, d.account_id), d.amount_micro_usd);
        }
        if n < usize::try_from(MAX_PAGE_LIMIT).unwrap_or(usize::MAX) {
            return Ok(out);
        }
    }
}

/// Replays the trial's committed live runs on a fresh store and compares.
pub(crate) async fn compare(t: &mut Trial) -> Vec<String> {
    match replay(t).await {
        Ok(v) => v,
        Err(e) => vec![e],
    }
}

async fn replay(t: &Trial) -> Result<Vec<String>, String> {
    let store = Store::connect("sqlite::memory:")
        .await
        .map_err(|e| format!("replay store: {e}"))?;
    store
        .migrate()
        .await
        .map_err(|e| format!("replay migrate: {e}"))?;
    let policy = t.scenario.policy.clone();
    let mut found = Vec::new();
    let mut last_facts = None;
    for cp in &t.checkpoints {
        if last_facts != Some(&cp.facts) {
            let reports = store
                .ingest_bundle(&cp.facts.bundle(cp.epoch))
                .await
                .map_err(|e| format!("replay ingest: {e}"))?;
            for (kind, r) in reports {
                if !r.conflicts.is_empty() {
                    found.push(format!("replay: {kind} conflicts {:?}", r.conflicts));
                }
            }
            last_facts = Some(&cp.facts);
        }
        let req = SettleRequest {
            mode: RunMode::Live,
            actor: "replay".into(),
            now_ms: cp.epoch.end().0 + DAY_MS,
            forced: true,
        };
        let p = policy.clone();
        store
            .settle(cp.epoch, &policy, req, move |f| plan(f, &p))
            .await
            .map_err(|e| format!("replay settle {}: {e}", cp.epoch))?;
    }
    let epochs: BTreeSet<EpochId> = t.checkpoints.iter().map(|c| c.epoch).collect();
    let live = t.prev.as_ref().ok_or("no snapshot of the trial")?;
    for epoch in epochs {
        let replayed = all_draws(&store, epoch).await?;
        let e = epoch.to_string();
        let trial: BTreeMap<(String, String), i64> = live
            .draws
            .iter()
            .filter(|((x, _, _), _)| *x == e)
            .map(|((_, m, a), d)| ((m.clone(), a.clone()), d.amount_micro_usd))
            .collect();
        if replayed != trial {
            found.push(format!(
                "draws of {epoch} differ from the uninterrupted replay: trial {trial:?}, replay {replayed:?}"
            ));
        }
        let a = store
            .latest_run(epoch, RunMode::Live)
            .await
            .map_err(|e| format!("replay runs: {e}"))?
            .map(|r| r.manifest_sha256);
        let b = t
            .model
            .latest_run(epoch, RunMode::Live)
            .map(|r| r.manifest_sha256.clone());
        if a != b {
            found.push(format!(
                "last manifest of {epoch}: trial {b:?}, uninterrupted replay {a:?}"
            ));
        }
    }
    store.close().await;
    Ok(found)
}
