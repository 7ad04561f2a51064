//! `verify` (SPEC §6, *Fact versions*): each live run of an epoch recomputed
//! from the facts as that run read them (the store's [`FactsAt`] of its
//! `facts_version`, the draws of earlier runs as prior draws) and compared
//! with what it committed — its manifest, the stored draws, every balance —
//! so a late fact or a refinement after settlement never makes a correct
//! run look wrong, while a tampered draw still fails. With `drift` it also
//! recomputes the latest run from today's facts and lists, per machine and
//! account, what the later facts would change: what an admin reads before an
//! adjustment. `export_facts_of_run` writes the bundle a run read.

use std::collections::{BTreeMap, BTreeSet};

use floorline_core::bundle::Bundle;
use floorline_core::facts::{EpochFacts, PriorDraw};
use floorline_core::plan::{manifest_sha256, ManifestDraw, Plan};
use floorline_core::{plan, EpochId, Invalid};
use floorline_store::{DrawRecord, FactsAt, RunRecord};
use serde::Serialize;

use crate::engine::Engine;
use crate::EngineError;

/// One difference found by `verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The live run whose recomputation differs.
    pub run_id: i64,
    pub machine_id: String,
    pub account_id: String,
    /// What the recomputation says was owed, µUSD (0 if nothing).
    pub expected_micro_usd: i64,
    /// What is stored, µUSD (0 if nothing).
    pub stored_micro_usd: i64,
    pub what: String,
}

/// One live run, recomputed from the facts as it read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunCheck {
    pub run_id: i64,
    /// The fact version the run read; `None` for a run recorded before
    /// fact versions, recomputed from today's facts.
    pub facts_version: Option<i64>,
    pub ok: bool,
    pub committed_manifest_sha256: String,
    pub recomputed_manifest_sha256: String,
}

/// What today's facts would change of a settled share, µUSD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftChange {
    pub machine_id: String,
    pub account_id: String,
    /// Drawn by the epoch's live runs.
    pub settled_micro_usd: i64,
    /// What recomputing the latest run from today's facts would have drawn.
    pub now_micro_usd: i64,
    /// `now − settled`.
    pub change_micro_usd: i64,
}

/// `verify --drift`: the latest live run recomputed from today's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// The manifest recomputing the latest run from today's facts gives.
    pub recomputed_manifest_sha256: String,
    /// Per machine and account, only the shares that would change.
    pub changes: Vec<DriftChange>,
}

/// The result of `verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub epoch: EpochId,
    /// Every live run reproduces from the facts it read, the stored draws
    /// are the latest run's manifest, and every balance is its ledger.
    pub ok: bool,
    /// The latest live run's manifest.
    pub committed_manifest_sha256: Option<String>,
    /// The latest live run's, recomputed from the facts as it read them.
    pub recomputed_manifest_sha256: String,
    pub stored_draws_manifest_sha256: String,
    pub differences: Vec<Difference>,
    /// Accounts whose balance differs from the sum of their ledger entries.
    pub balance_mismatches: Vec<String>,
    /// Each live run, oldest first.
    pub runs: Vec<RunCheck>,
    /// With `drift`: what today's facts would change (not part of `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
}

/// Options of `verify`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Also recompute from today's facts and list what would change.
    pub drift: bool,
}

/// The draws of runs before `run_id`, as the prior draws that run saw.
fn prior_of(draws: &[DrawRecord], run_id: i64) -> Vec<PriorDraw> {
    draws
        .iter()
        .filter(|d| d.run_id < run_id)
        .map(|d| PriorDraw {
            machine_id: d.machine_id.clone(),
            account_id: d.account_id.clone(),
            amount_micro_usd: d.amount_micro_usd,
            verified_memory_gb: u32::try_from(d.verified_memory_gb).unwrap_or(0),
        })
        .collect()
}

/// The stored draws of runs up to `run_id`, summed per (machine, account).
fn stored_upto(draws: &[DrawRecord], run_id: i64) -> BTreeMap<(String, String), i64> {
    let mut out: BTreeMap<(String, String), i64> = BTreeMap::new();
    for d in draws.iter().filter(|d| d.run_id <= run_id) {
        let slot = out
            .entry((d.machine_id.clone(), d.account_id.clone()))
            .or_insert(0);
        *slot = slot.saturating_add(d.amount_micro_usd);
    }
    out
}

/// The plan's final draws (prior + granted) per (machine, account).
fn expected_of(p: &Plan) -> BTreeMap<(String, String), i64> {
    p.context
        .final_draws
        .iter()
        .map(|d| {
            (
                (d.machine_id.clone(), d.account_id.clone()),
                d.amount_micro_usd,
            )
        })
        .collect()
}

/// Every (machine, account) whose amounts differ, with both amounts.
fn differing(
    expected: &BTreeMap<(String, String), i64>,
    stored: &BTreeMap<(String, String), i64>,
) -> Vec<((String, String), i64, i64)> {
    let keys: BTreeSet<&(String, String)> = stored.keys().chain(expected.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let e = expected.get(k).copied().unwrap_or(0);
            let s = stored.get(k).copied().unwrap_or(0);
            (e != s).then(|| (k.clone(), e, s))
        })
        .collect()
}

impl Engine {
    /// The live runs of an epoch, oldest first (none when it has none).
    async fn stored_live_runs(&self, epoch: EpochId) -> Result<Vec<RunRecord>, EngineError> {
        Ok(self
            .store
            .runs(Some(epoch))
            .await?
            .into_iter()
            .filter(|r| r.mode == floorline_store::RunMode::Live)
            .collect())
    }

    /// The live runs of an epoch, oldest first (an error if there are none).
    async fn live_runs(&self, epoch: EpochId) -> Result<Vec<RunRecord>, EngineError> {
        let runs = self.stored_live_runs(epoch).await?;
        if runs.is_empty() {
            return Err(EngineError::NotFound(format!(
                "no live settlement of {epoch}"
            )));
        }
        Ok(runs)
    }

    /// `verify` without drift; see the module docs.
    pub async fn verify(&self, epoch: EpochId) -> Result<VerifyReport, EngineError> {
        self.verify_with(epoch, VerifyOptions::default()).await
    }

    /// Recomputes each live run of `epoch` from the facts as it read them
    /// and compares with what it committed; see the module docs.
    pub async fn verify_with(
        &self,
        epoch: EpochId,
        opts: VerifyOptions,
    ) -> Result<VerifyReport, EngineError> {
        let policy = &self.config.policy;
        let runs = self.live_runs(epoch).await?;
        let draws = self.all_draws(epoch).await?;
        let mut checks = Vec::with_capacity(runs.len());
        let mut differences = Vec::new();
        for run in &runs {
            let (_, recomputed) = self.plan_of_run(epoch, run, &draws).await?;
            let found = differing(&expected_of(&recomputed), &stored_upto(&draws, run.id));
            let ok = found.is_empty() && recomputed.manifest_sha256 == run.manifest_sha256;
            for ((machine_id, account_id), e, s) in found {
                let what = match (e, s) {
                    (_, 0) => "missing draw",
                    (0, _) => "unexpected draw",
                    _ => "amount differs",
                };
                differences.push(Difference {
                    run_id: run.id,
                    machine_id,
                    account_id,
                    expected_micro_usd: e,
                    stored_micro_usd: s,
                    what: what.into(),
                });
            }
            checks.push(RunCheck {
                run_id: run.id,
                facts_version: run.facts_version,
                ok,
                committed_manifest_sha256: run.manifest_sha256.clone(),
                recomputed_manifest_sha256: recomputed.manifest_sha256,
            });
        }
        let latest = runs
            .last()
            .ok_or_else(|| EngineError::NotFound(format!("no live settlement of {epoch}")))?;
        let stored = stored_upto(&draws, i64::MAX);
        let stored_draws: Vec<ManifestDraw> = stored
            .iter()
            .filter(|(_, a)| **a > 0)
            .map(|((m, a), amount)| ManifestDraw {
                account_id: a.clone(),
                amount_micro_usd: *amount,
                machine_id: m.clone(),
            })
            .collect();
        let stored_manifest = manifest_sha256(&stored_draws);
        let mut balance_mismatches = Vec::new();
        let accounts: BTreeSet<&str> = draws.iter().map(|d| d.account_id.as_str()).collect();
        for account in accounts {
            let ledger: i64 = self
                .store
                .ledger_entries(account)
                .await?
                .iter()
                .map(|e| e.amount_micro_usd)
                .sum();
            if self.store.balance(account).await? != ledger {
                balance_mismatches.push(account.to_string());
            }
        }
        let drift = if opts.drift {
            let mut facts = self.store.load_epoch_facts(epoch, policy).await?;
            facts.prior_draws = prior_of(&draws, latest.id);
            let now = plan(&facts, policy)?;
            let changes = differing(&expected_of(&now), &stored)
                .into_iter()
                .map(|((machine_id, account_id), n, s)| DriftChange {
                    machine_id,
                    account_id,
                    settled_micro_usd: s,
                    now_micro_usd: n,
                    change_micro_usd: n.saturating_sub(s),
                })
                .collect();
            Some(Drift {
                recomputed_manifest_sha256: now.manifest_sha256,
                changes,
            })
        } else {
            None
        };
        let recomputed_latest = checks
            .last()
            .map(|c| c.recomputed_manifest_sha256.clone())
            .unwrap_or_default();
        let ok = checks.iter().all(|c| c.ok)
            && differences.is_empty()
            && balance_mismatches.is_empty()
            && stored_manifest == latest.manifest_sha256;
        Ok(VerifyReport {
            epoch,
            ok,
            committed_manifest_sha256: Some(latest.manifest_sha256.clone()),
            recomputed_manifest_sha256: recomputed_latest,
            stored_draws_manifest_sha256: stored_manifest,
            differences,
            balance_mismatches,
            runs: checks,
            drift,
        })
    }

    /// The plan of the live run that committed `machine_id`'s draw of
    /// `epoch` (the first that paid it; the latest live run when none did),
    /// recomputed from the facts as that run read them with the draws of
    /// earlier runs as prior draws, so that it is the run's own plan (verify
    /// holds it to the committed manifest). `None` when the epoch has no live
    /// run. An explanation of a settled epoch reads this, not a re-plan of
    /// today's facts, in which the epoch's own draws are prior and the pool
    /// is spent.
    pub(crate) async fn plan_as_committed(
        &self,
        epoch: EpochId,
        machine_id: &str,
    ) -> Result<Option<(EpochFacts, Plan)>, EngineError> {
        let runs = self.stored_live_runs(epoch).await?;
        let draws = self.all_draws(epoch).await?;
        let paid_in = draws
            .iter()
            .filter(|d| d.machine_id == machine_id && d.amount_micro_usd > 0)
            .map(|d| d.run_id)
            .min();
        let run = match paid_in {
            Some(id) => runs.iter().find(|r| r.id == id),
            None => runs.iter().max_by_key(|r| r.id),
        };
        match run {
            Some(run) => Ok(Some(self.plan_of_run(epoch, run, &draws).await?)),
            None => Ok(None),
        }
    }

    /// Run `run`'s own plan: the facts as it read them (today's for a run
    /// recorded before fact versions), the draws of earlier runs as prior.
    async fn plan_of_run(
        &self,
        epoch: EpochId,
        run: &RunRecord,
        draws: &[DrawRecord],
    ) -> Result<(EpochFacts, Plan), EngineError> {
        let policy = &self.config.policy;
        let mut facts = match FactsAt::of_run(run) {
            Some(at) => self.store.load_epoch_facts_at(epoch, policy, at).await?,
            None => self.store.load_epoch_facts(epoch, policy).await?,
        };
        facts.prior_draws = prior_of(draws, run.id);
        let p = plan(&facts, policy)?;
        Ok((facts, p))
    }

    /// The facts bundle of `epoch` exactly as run `run_id` read it (SPEC §6):
    /// facts at its version, refined ones as it saw them, the draws of
    /// earlier runs as prior draws. `plan` over it reproduces the run.
    pub async fn export_facts_of_run(
        &self,
        epoch: EpochId,
        run_id: i64,
    ) -> Result<Bundle, EngineError> {
        let runs = self.store.runs(Some(epoch)).await?;
        let run = runs
            .iter()
            .find(|r| r.id == run_id)
            .ok_or_else(|| EngineError::NotFound(format!("run {run_id} of {epoch}")))?;
        let at = FactsAt::of_run(run).ok_or_else(|| {
            EngineError::Invalid(vec![Invalid::new(
                "run",
                format!("run {run_id} was recorded before fact versions: its facts are unknown"),
            )])
        })?;
        Ok(self
            .store
            .export_bundle_at(epoch, &self.config.policy, at)
            .await?)
    }
}
