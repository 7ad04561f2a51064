//! The engine's operations: what `floorline settle|verify|explain|export-facts`
//! and the admin/provider HTTP endpoints call. Each reads from the store,
//! calls `floorline_core`, and (for settle/preview) hands the plan back to the
//! store to commit in one transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

pub use crate::verify::{Difference, Drift, DriftChange, RunCheck, VerifyOptions, VerifyReport};
use floorline_core::bundle::Bundle;
use floorline_core::facts::{
    group_earnings, is_organic, self_accounts, EpochFacts, RawEarning, Windows,
};
use floorline_core::plan::{manifest_sha256, summed_draws, ManifestDraw, Plan};
use floorline_core::{plan, EpochId, Invalid, Timestamp};
use floorline_store::{DrawRecord, RunRecord, SettleRequest, MAX_PAGE_LIMIT};
use serde::Serialize;

use crate::clock::Clock;
use crate::config::Config;
use crate::schedule::SchedulerMode;
use crate::EngineError;

/// Options of a live settlement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettleOptions {
    /// Settle although some fact source's watermark has not passed the epoch end.
    pub force: bool,
    /// Plan and report, write nothing.
    pub dry_run: bool,
}

/// One account's part of a month's statement (D24).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountStatement {
    pub account_id: String,
    pub drawn_micro_usd: i64,
}

/// A month's draws over all its periods (D24).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthStatement {
    pub month: EpochId,
    pub n_periods_with_draws: u64,
    pub drawn_micro_usd: i64,
    /// D19 over the month's draws summed per `(machine_id, account_id)`.
    pub manifest_sha256: String,
    pub accounts: Vec<AccountStatement>,
    pub draws: Vec<ManifestDraw>,
}

/// What a settlement or preview run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub epoch: EpochId,
    pub mode: SchedulerMode,
    /// `None` for a dry run (nothing stored).
    pub run_id: Option<i64>,
    pub pool_micro_usd: i64,
    pub already_settled_micro_usd: i64,
    pub granted_total_micro_usd: i64,
    pub unallocated_micro_usd: i64,
    pub manifest_sha256: String,
    pub n_machines: u64,
    pub n_eligible: u64,
    pub n_granted_shares: u64,
    /// Ineligible machines per reason code.
    pub excluded_by_reason: BTreeMap<String, u64>,
    pub forced: bool,
}

/// Everything about one machine in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub epoch: EpochId,
    pub machine_id: String,
    pub plan_machine: floorline_core::plan::PlanMachine,
    pub formula: crate::explain::Formula,
    pub evidence: crate::explain::Evidence,
}

/// The engine: a store, a config and a clock.
#[derive(Clone)]
pub struct Engine {
    pub(crate) store: floorline_store::Store,
    pub(crate) config: Arc<Config>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Engine {
    pub fn new(store: floorline_store::Store, config: Config, clock: Arc<dyn Clock>) -> Engine {
        Engine {
            store,
            config: Arc::new(config),
            clock,
        }
    }

    pub fn store(&self) -> &floorline_store::Store {
        &self.store
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Errors unless `epoch` is closed at `now`.
    pub fn require_closed(&self, epoch: EpochId) -> Result<(), EngineError> {
        if epoch.is_closed(self.now()) {
            Ok(())
        } else {
            Err(EngineError::NotClosed(epoch))
        }
    }
}

fn summary(plan: &Plan, mode: SchedulerMode, run: Option<&RunRecord>, forced: bool) -> RunSummary {
    let mut excluded: BTreeMap<String, u64> = BTreeMap::new();
    for m in plan.machines.iter().filter(|m| !m.eligible) {
        for r in &m.reasons {
            *excluded.entry(r.as_str().to_string()).or_insert(0) += 1;
        }
    }
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    RunSummary {
        epoch: plan.epoch,
        mode,
        run_id: run.map(|r| r.id),
        pool_micro_usd: plan.pool_micro_usd,
        already_settled_micro_usd: plan.already_settled_micro_usd,
        granted_total_micro_usd: plan.granted_total_micro_usd,
        unallocated_micro_usd: plan.unallocated_micro_usd,
        manifest_sha256: plan.manifest_sha256.clone(),
        n_machines: count(plan.machines.len()),
        n_eligible: count(plan.machines.iter().filter(|m| m.eligible).count()),
        n_granted_shares: count(
            plan.machines
                .iter()
                .flat_map(|m| &m.shares)
                .filter(|s| s.granted_micro_usd > 0)
                .count(),
        ),
        excluded_by_reason: excluded,
        forced,
    }
}

impl Engine {
    /// Every draw of an epoch, all pages.
    pub async fn all_draws(&self, epoch: EpochId) -> Result<Vec<DrawRecord>, EngineError> {
        let mut out = Vec::new();
        loop {
            let page = self
                .store
                .draws(
                    epoch,
                    u64::try_from(out.len()).unwrap_or(u64::MAX),
                    MAX_PAGE_LIMIT,
                )
                .await?;
            let n = page.len();
            out.extend(page);
            if n < usize::try_from(MAX_PAGE_LIMIT).unwrap_or(usize::MAX) {
                return Ok(out);
            }
        }
    }

    /// Fact sources whose watermark has not passed the end of `epoch`.
    pub async fn lagging_sources(&self, epoch: EpochId) -> Result<Vec<String>, EngineError> {
        Ok(self
            .store
            .watermarks()
            .await?
            .into_iter()
            .filter(|w| w.up_to < epoch.end())
            .map(|w| w.source)
            .collect())
    }

    /// Plans an epoch from stored facts without writing anything.
    pub async fn plan(&self, epoch: EpochId) -> Result<(EpochFacts, Plan), EngineError> {
        let facts = self
            .store
            .load_epoch_facts(epoch, &self.config.policy)
            .await?;
        let p = plan(&facts, &self.config.policy)?;
        Ok((facts, p))
    }

    /// D20: `epoch` must be a unit of the policy's `period`, and its month
    /// must have no runs of another length (a month is cut one way).
    pub async fn check_period(&self, epoch: EpochId) -> Result<(), EngineError> {
        self.config.policy.check_epoch(epoch, "epoch")?;
        let month = epoch.month_id();
        let other = self
            .store
            .run_of_other_length(month, epoch.period())
            .await?;
        match other {
            None => Ok(()),
            Some(e) => Err(EngineError::Invalid(vec![Invalid::new(
                "epoch",
                format!(
                    "month {month} already has runs of period `{}` ({e}); its runs cannot \
                     change to period `{}`",
                    e.period(),
                    epoch.period()
                ),
            )])),
        }
    }

    /// `settle --month`: settles every closed period of `month` (of the
    /// policy's length) that has no live run yet, in order, one transaction
    /// each. Stops at the first refusal; what was settled before it stays.
    pub async fn settle_month(
        &self,
        month: EpochId,
        actor: &str,
        opts: SettleOptions,
    ) -> Result<Vec<RunSummary>, EngineError> {
        let period = self.config.policy.period;
        let settled: std::collections::BTreeSet<EpochId> = self
            .store
            .run_epochs_of_month(month, Some(floorline_store::RunMode::Live))
            .await?
            .into_iter()
            .collect();
        let now = self.now();
        let mut out = Vec::new();
        for k in 0..month.periods_in_month(period) {
            let unit = EpochId::period_of(month, period, k).map_err(EngineError::Other)?;
            if !unit.is_closed(now) {
                break;
            }
            if settled.contains(&unit) {
                continue;
            }
            out.push(self.settle(unit, actor, opts).await?);
        }
        Ok(out)
    }

    /// D24: a month's statement — every account's draws summed over the
    /// month's periods — and the month's manifest, D19 over its draws summed
    /// per `(machine_id, account_id)`.
    pub async fn month_statement(&self, month: EpochId) -> Result<MonthStatement, EngineError> {
        let month = month.month_id();
        let rows = self.store.month_draws(month).await?;
        let periods: std::collections::BTreeSet<&str> =
            rows.iter().map(|d| d.epoch.as_str()).collect();
        let draws = summed_draws(rows.iter().map(|d| {
            (
                d.machine_id.as_str(),
                d.account_id.as_str(),
                d.amount_micro_usd,
            )
        }))?;
        let mut accounts: BTreeMap<String, i64> = BTreeMap::new();
        for d in &draws {
            let slot = accounts.entry(d.account_id.clone()).or_insert(0);
            *slot = slot.saturating_add(d.amount_micro_usd);
        }
        Ok(MonthStatement {
            month,
            n_periods_with_draws: u64::try_from(periods.len()).unwrap_or(u64::MAX),
            drawn_micro_usd: draws.iter().map(|d| d.amount_micro_usd).sum(),
            manifest_sha256: manifest_sha256(&draws),
            accounts: accounts
                .into_iter()
                .map(|(account_id, drawn_micro_usd)| AccountStatement {
                    account_id,
                    drawn_micro_usd,
                })
                .collect(),
            draws,
        })
    }

    /// Computes the plan and stores it as a preview (no money moves).
    pub async fn preview(&self, epoch: EpochId, actor: &str) -> Result<RunSummary, EngineError> {
        self.check_period(epoch).await?;
        let policy = self.config.policy.clone();
        let req = SettleRequest {
            mode: floorline_store::RunMode::Preview,
            actor: actor.to_string(),
            now_ms: self.now().0,
            forced: false,
        };
        let out = self
            .store
            .settle(epoch, &policy, req, |f| plan(f, &policy))
            .await?;
        tracing::info!(epoch = %epoch, run_id = out.run.id, granted_micro_usd = out.plan.granted_total_micro_usd, "Previewed epoch.");
        Ok(summary(
            &out.plan,
            SchedulerMode::Preview,
            Some(&out.run),
            false,
        ))
    }

    /// A live settlement: one locked transaction, all or nothing (SPEC §6).
    pub async fn settle(
        &self,
        epoch: EpochId,
        actor: &str,
        opts: SettleOptions,
    ) -> Result<RunSummary, EngineError> {
        self.check_period(epoch).await?;
        self.require_closed(epoch)?;
        if !opts.force {
            let lagging = self.lagging_sources(epoch).await?;
            if !lagging.is_empty() {
                return Err(EngineError::AwaitingWatermarks {
                    epoch,
                    sources: lagging,
                });
            }
        }
        if opts.dry_run {
            let (_, p) = self.plan(epoch).await?;
            return Ok(summary(&p, SchedulerMode::Live, None, opts.force));
        }
        let policy = self.config.policy.clone();
        let req = SettleRequest {
            mode: floorline_store::RunMode::Live,
            actor: actor.to_string(),
            now_ms: self.now().0,
            forced: opts.force,
        };
        let started = std::time::Instant::now();
        let out = self
            .store
            .settle(epoch, &policy, req, |f| plan(f, &policy))
            .await?;
        tracing::info!(
            epoch = %epoch,
            run_id = out.run.id,
            granted_micro_usd = out.plan.granted_total_micro_usd,
            unallocated_micro_usd = out.plan.unallocated_micro_usd,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "Settled epoch."
        );
        Ok(summary(
            &out.plan,
            SchedulerMode::Live,
            Some(&out.run),
            opts.force,
        ))
    }

    /// Every term of one machine's figures in one epoch, with its evidence.
    pub async fn explain(&self, epoch: EpochId, machine: &str) -> Result<Explanation, EngineError> {
        let machine_id = self
            .store
            .resolve_machine(machine)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("machine `{machine}`")))?;
        let (facts, p) = if epoch.is_closed(self.now()) {
            match self.plan_as_committed(epoch, &machine_id).await? {
                Some(committed) => committed,
                None => self.plan(epoch).await?,
            }
        } else {
            self.estimate(epoch).await?
        };
        let earnings = self
            .store
            .machine_earnings(epoch, &self.config.policy, &machine_id)
            .await?;
        explain_from(&facts, &p, &self.config.policy, &machine_id, earnings)?
            .ok_or_else(|| EngineError::NotFound(format!("machine `{machine}` in {epoch}")))
    }

    /// The live estimate for an open epoch: facts so far, with every session
    /// still alive assumed to stay connected until the month ends.
    /// Returns the facts as stored (so far) and the estimated plan.
    pub async fn estimate(&self, epoch: EpochId) -> Result<(EpochFacts, Plan), EngineError> {
        let facts = self
            .store
            .load_epoch_facts(epoch, &self.config.policy)
            .await?;
        let mut assumed = facts.clone();
        floorline_core::facts::assume_connected_until(
            &mut assumed,
            self.now().0,
            self.config.policy.grace_ms,
            epoch.end().0,
        );
        let p = plan(&assumed, &self.config.policy)?;
        Ok((facts, p))
    }

    /// The facts bundle of an epoch as they stand now (what `floorline plan`
    /// reads); `export_facts_of_run` writes the facts as a run read them.
    pub async fn export_facts(&self, epoch: EpochId) -> Result<Bundle, EngineError> {
        Ok(self.store.export_bundle(epoch, &self.config.policy).await?)
    }
}

/// Builds an explanation from a plan already computed and the machine's raw
/// earnings of the epoch (`Store::machine_earnings`), shown grouped by
/// consumer, kind, pinning and owner with D9's verdict on each group.
/// `Ok(None)` when the plan has no such machine.
pub fn explain_from(
    facts: &EpochFacts,
    p: &Plan,
    policy: &floorline_core::Policy,
    machine_id: &str,
    earnings: Vec<RawEarning>,
) -> Result<Option<Explanation>, EngineError> {
    let Some(pm) = p.machines.iter().find(|m| m.machine_id == machine_id) else {
        return Ok(None);
    };
    let Some(v) = p
        .context
        .valuations
        .iter()
        .find(|v| v.machine_id == machine_id)
    else {
        return Ok(None);
    };
    let Some(mf) = facts.machines.iter().find(|m| m.machine_id == machine_id) else {
        return Ok(None);
    };
    let windows = Windows::new(p.epoch, policy);
    let own = self_accounts(&windows, &mf.bindings, &facts.payout_accounts);
    let groups = group_earnings(&windows, &own, earnings)?;
    let epoch_ms = p.epoch.length_ms();
    let capped_by = match v.model_cap_gb {
        Some(cap) if cap < v.reported_memory_gb => {
            format!("model cap of {} ({cap} GB)", v.hardware_model)
        }
        Some(_) => "reported size (within the model cap)".to_string(),
        None if v.verified_memory_gb < v.reported_memory_gb => format!(
            "unknown model {:?}: capped at max(unknown_model_cap_gb {}, proven {})",
            v.hardware_model, policy.unknown_model_cap_gb, v.proven_gb
        ),
        None => "reported size (unknown model, proven by probe)".to_string(),
    };
    use crate::explain::*;
    let formula = Formula {
        t_ms: epoch_ms,
        available_ms: v.available_ms,
        uptime_ppm: v.uptime_ppm,
        min_uptime: policy.min_uptime.to_decimal(),
        full_uptime: policy.full_uptime.to_decimal(),
        hardware_model: v.hardware_model.clone(),
        reported_memory_gb: v.reported_memory_gb,
        model_cap_gb: v.model_cap_gb,
        proven_gb: v.proven_gb,
        verified_memory_gb: v.verified_memory_gb,
        verified_because: capped_by,
        tier_floor_micro_usd: v.tier_floor_micro_usd,
        taper: format!("{}/{}", p.context.taper_num, p.context.taper_den),
        floor_untapered_micro_usd: v.floor_untapered_micro_usd,
        floor_micro_usd: v.floor_micro_usd,
        earned_micro_usd: v.earned_micro_usd,
        reduction_k: policy.reduction_k.to_decimal(),
        desired_untapered_micro_usd: v.desired_untapered_micro_usd,
        previous_total_micro_usd: mf.previous_total_micro_usd,
        cliff_max_drop: policy.cliff_max_drop.to_decimal(),
        desired_micro_usd: v.desired_micro_usd,
        workhorse: policy.is_workhorse(v.verified_memory_gb),
        budget_micro_usd: p.context.budget_micro_usd,
        reserve_micro_usd: p.context.reserve_micro_usd,
        payout_micro_usd: v
            .earned_micro_usd
            .saturating_add(pm.granted_micro_usd)
            .saturating_add(pm.prior_micro_usd),
    };
    let evidence = Evidence {
        attestations: mf
            .attestations
            .iter()
            .map(|a| EvidenceAttestation {
                attested_at: Timestamp(a.attested_at_ms),
                hardware_model: a.hardware_model.clone(),
                reported_memory_gb: a.reported_memory_gb,
                trust: a.trust,
                se_public_key: a.se_public_key.clone(),
            })
            .collect(),
        bindings: mf
            .bindings
            .iter()
            .map(|b| EvidenceBinding {
                account_id: b.account_id.clone(),
                payout_identity: b.payout_identity.clone(),
                from: Timestamp(b.from_ms),
                to: b.to_ms.map(Timestamp),
            })
            .collect(),
        sessions: mf
            .sessions
            .iter()
            .map(|s| EvidenceSession {
                connected_at: Timestamp(s.connected_at_ms),
                last_seen_at: s.last_seen_at_ms.map(Timestamp),
                disconnected_at: s.disconnected_at_ms.map(Timestamp),
            })
            .collect(),
        health: mf
            .health
            .iter()
            .map(|h| EvidenceHealth {
                at: Timestamp(h.at_ms),
                healthy: h.healthy,
            })
            .collect(),
        probes: mf
            .probes
            .iter()
            .map(|pr| EvidenceProbe {
                probe_id: pr.probe_id.clone(),
                at: Timestamp(pr.at_ms),
                passed: pr.passed,
                verified_memory_gb: pr.verified_memory_gb,
                own: pr.own,
            })
            .collect(),
        earnings: groups
            .iter()
            .map(|g| EvidenceEarnings {
                consumer_account_id: g.consumer_account_id.clone(),
                kind: g.kind,
                pinned: g.pinned,
                self_account: g.self_account,
                organic: is_organic(g),
                epoch_micro_usd: g.epoch_micro_usd,
                n_positive_in_work_window: g.n_positive_in_work_window,
            })
            .collect(),
        organic_earnings: EvidenceOrganic {
            epoch_micro_usd: mf.earnings.epoch_micro_usd,
            trailing_micro_usd: mf.earnings.trailing_micro_usd,
            n_in_work_window: mf.earnings.n_in_work_window,
        },
    };
    Ok(Some(Explanation {
        epoch: p.epoch,
        machine_id: machine_id.to_string(),
        plan_machine: pm.clone(),
        formula,
        evidence,
    }))
}
