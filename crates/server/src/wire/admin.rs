//! Response bodies of the admin endpoints, each built `From` the store's or
//! the engine's type. Field names and shapes are those the endpoints served
//! before (the dashboard's admin page reads them).

use std::collections::BTreeMap;

use floorline_core::Timestamp;
use floorline_engine::explain;
use floorline_engine::VerifyReport;
use floorline_engine::{Difference, Drift, DriftChange, Explanation, RunCheck, RunSummary};
use floorline_store::{DrawRecord, EpochSummary, LedgerEntry, RunRecord};
use serde::Serialize;

use super::enums::{
    reason_codes, AllocationRule, EntryKindName, PeriodLength, ReasonCode, RunMode, SchedulerMode,
};

/// `GET /healthz`: the database answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthBody {
    pub status: HealthStatus,
}

/// Always `ok` in a 200 (a failure is a 503 with the error body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
}

/// One settled draw.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DrawBody {
    /// The epoch (or period) id.
    pub epoch: String,
    pub machine_id: String,
    pub account_id: String,
    pub amount_micro_usd: i64,
    pub verified_memory_gb: i64,
    pub run_id: i64,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

impl From<&DrawRecord> for DrawBody {
    fn from(d: &DrawRecord) -> DrawBody {
        DrawBody {
            epoch: d.epoch.clone(),
            machine_id: d.machine_id.clone(),
            account_id: d.account_id.clone(),
            amount_micro_usd: d.amount_micro_usd,
            verified_memory_gb: d.verified_memory_gb,
            run_id: d.run_id,
            created_at_ms: d.created_at_ms,
        }
    }
}

/// `GET /v1/admin/base-rewards`: the pool of the last closed epoch at a glance.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PoolStatusBody {
    /// The scheduler settles or previews (`mode` is not `off`).
    pub enabled: bool,
    pub mode: SchedulerMode,
    /// The last closed epoch (or period).
    pub epoch: String,
    pub period: PeriodLength,
    /// It has a live run.
    pub settled: bool,
    /// The epoch's pool: its D21 portion of the monthly pool.
    pub pool_micro_usd: i64,
    /// Σ the epoch's draws.
    pub pool_used_micro_usd: i64,
    /// `max(pool − used, 0)`.
    pub unallocated_micro_usd: i64,
    /// Policy `reduction_k` as a decimal (`"0.5"`).
    pub reduction_k: String,
    pub allocation: AllocationRule,
    /// Policy `workhorse_reserve` as a decimal.
    pub workhorse_reserve: String,
    pub draw_count: u64,
    /// The first draws (at most the default page size); the rest via `/draws`.
    pub draws: Vec<DrawBody>,
    /// SPEC D11's off-ramp: `R` against the target per settled epoch.
    pub off_ramp: OffRampBody,
}

/// SPEC D11's off-ramp: the fleet's trailing revenue `R` of each epoch with
/// a live run (as that run read it) against `target_revenue_micro_usd`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OffRampBody {
    pub target_micro_usd: i64,
    /// Oldest first.
    pub epochs: Vec<OffRampEpochBody>,
    /// The latest two settled epochs are consecutive and both at or above the target.
    pub reached: bool,
    /// The second epoch of the first such pair, if there was one.
    pub first_reached: Option<String>,
}

/// One settled epoch's `R`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OffRampEpochBody {
    pub epoch: String,
    pub run_id: i64,
    pub trailing_revenue_micro_usd: i64,
    pub at_or_above_target: bool,
}

impl From<&floorline_engine::off_ramp::OffRamp> for OffRampBody {
    fn from(o: &floorline_engine::off_ramp::OffRamp) -> OffRampBody {
        OffRampBody {
            target_micro_usd: o.target_micro_usd,
            epochs: o
                .epochs
                .iter()
                .map(|e| OffRampEpochBody {
                    epoch: e.epoch.to_string(),
                    run_id: e.run_id,
                    trailing_revenue_micro_usd: e.trailing_revenue_micro_usd,
                    at_or_above_target: e.at_or_above,
                })
                .collect(),
            reached: o.reached,
            first_reached: o.first_reached.map(|e| e.to_string()),
        }
    }
}

/// An epoch that has settlement runs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EpochSummaryBody {
    pub epoch: String,
    pub n_runs: i64,
    pub n_live_runs: i64,
    pub latest_run_id: i64,
    pub last_run_at_ms: i64,
    pub n_draws: i64,
    pub drawn_micro_usd: i64,
}

impl From<&EpochSummary> for EpochSummaryBody {
    fn from(e: &EpochSummary) -> EpochSummaryBody {
        EpochSummaryBody {
            epoch: e.epoch.to_string(),
            n_runs: e.n_runs,
            n_live_runs: e.n_live_runs,
            latest_run_id: e.latest_run_id,
            last_run_at_ms: e.last_run_at_ms,
            n_draws: e.n_draws,
            drawn_micro_usd: e.drawn_micro_usd,
        }
    }
}

/// `GET /v1/admin/epochs`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EpochsBody {
    pub epochs: Vec<EpochSummaryBody>,
}

/// One stored settlement run (live or preview).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunBody {
    pub id: i64,
    pub epoch: String,
    pub mode: RunMode,
    pub actor: String,
    pub forced: bool,
    pub created_at_ms: i64,
    pub pool_micro_usd: i64,
    pub already_settled_micro_usd: i64,
    pub granted_total_micro_usd: i64,
    pub unallocated_micro_usd: i64,
    pub manifest_sha256: String,
    pub n_machines: i64,
    pub n_eligible: i64,
    pub n_draws: i64,
    pub trailing_revenue_micro_usd: i64,
    pub budget_micro_usd: i64,
    pub reserve_micro_usd: i64,
    /// The highest fact version the run read; `null` for runs recorded before fact versions.
    #[schema(required = true)]
    pub facts_version: Option<i64>,
    /// The run whose previous-epoch totals this run read; `null` when none.
    #[schema(required = true)]
    pub previous_totals_run_id: Option<i64>,
}

impl From<&RunRecord> for RunBody {
    fn from(r: &RunRecord) -> RunBody {
        RunBody {
            id: r.id,
            epoch: r.epoch.to_string(),
            mode: r.mode.into(),
            actor: r.actor.clone(),
            forced: r.forced,
            created_at_ms: r.created_at_ms,
            pool_micro_usd: r.pool_micro_usd,
            already_settled_micro_usd: r.already_settled_micro_usd,
            granted_total_micro_usd: r.granted_total_micro_usd,
            unallocated_micro_usd: r.unallocated_micro_usd,
            manifest_sha256: r.manifest_sha256.clone(),
            n_machines: r.n_machines,
            n_eligible: r.n_eligible,
            n_draws: r.n_draws,
            trailing_revenue_micro_usd: r.trailing_revenue_micro_usd,
            budget_micro_usd: r.budget_micro_usd,
            reserve_micro_usd: r.reserve_micro_usd,
            facts_version: r.facts_version,
            previous_totals_run_id: r.previous_totals_run_id,
        }
    }
}

/// One memory tier's totals in a run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TierTotalBody {
    /// 0 for machines below every tier (usage-only).
    pub tier_min_gb: u32,
    pub n_machines: u64,
    pub n_eligible: u64,
    pub earned_micro_usd: i64,
    /// Granted plus prior draws.
    pub drawn_micro_usd: i64,
}

/// An ineligible machine of a run, with its reasons.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExcludedMachineBody {
    pub machine_id: String,
    pub reasons: Vec<ReasonCode>,
    pub verified_memory_gb: u32,
    pub uptime_ppm: i64,
}

/// `GET /v1/admin/epochs/{epoch}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EpochDetailBody {
    pub epoch: String,
    /// Every run of the epoch.
    pub runs: Vec<RunBody>,
    /// The latest live run that moved money, else the latest live run, else
    /// the latest preview.
    pub run: RunBody,
    pub pool_micro_usd: i64,
    pub granted_total_micro_usd: i64,
    pub already_settled_micro_usd: i64,
    pub unallocated_micro_usd: i64,
    pub manifest_sha256: String,
    pub tiers: Vec<TierTotalBody>,
    pub excluded: Vec<ExcludedMachineBody>,
}

/// `GET /v1/admin/epochs/{epoch}/draws` (JSON): one page of draws.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DrawsPageBody {
    pub epoch: String,
    pub offset: u64,
    pub limit: u32,
    pub draws: Vec<DrawBody>,
}

/// What a settlement or preview run did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunSummaryBody {
    pub epoch: String,
    pub mode: SchedulerMode,
    /// `null` for a dry run (nothing stored).
    #[schema(required = true)]
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

impl From<RunSummary> for RunSummaryBody {
    fn from(r: RunSummary) -> RunSummaryBody {
        RunSummaryBody {
            epoch: r.epoch.to_string(),
            mode: r.mode.into(),
            run_id: r.run_id,
            pool_micro_usd: r.pool_micro_usd,
            already_settled_micro_usd: r.already_settled_micro_usd,
            granted_total_micro_usd: r.granted_total_micro_usd,
            unallocated_micro_usd: r.unallocated_micro_usd,
            manifest_sha256: r.manifest_sha256,
            n_machines: r.n_machines,
            n_eligible: r.n_eligible,
            n_granted_shares: r.n_granted_shares,
            excluded_by_reason: r.excluded_by_reason,
            forced: r.forced,
        }
    }
}

/// One account's share of a machine's draw in a plan.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanShareBody {
    pub account_id: String,
    pub desired_micro_usd: i64,
    pub granted_micro_usd: i64,
    /// 1-based position among the run's allocation units; `null` when not a unit.
    #[schema(required = true)]
    pub rank: Option<u64>,
}

/// One machine's line of a plan (SPEC §8), eligible or not.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanMachineBody {
    pub machine_id: String,
    pub eligible: bool,
    pub reasons: Vec<ReasonCode>,
    pub verified_memory_gb: u32,
    pub tier_floor_micro_usd: i64,
    pub uptime_ppm: i64,
    pub floor_micro_usd: i64,
    pub earned_micro_usd: i64,
    pub desired_draw_micro_usd: i64,
    pub granted_micro_usd: i64,
    pub prior_micro_usd: i64,
    pub shares: Vec<PlanShareBody>,
}

impl From<&floorline_core::plan::PlanMachine> for PlanMachineBody {
    fn from(m: &floorline_core::plan::PlanMachine) -> PlanMachineBody {
        PlanMachineBody {
            machine_id: m.machine_id.clone(),
            eligible: m.eligible,
            reasons: reason_codes(&m.reasons),
            verified_memory_gb: m.verified_memory_gb,
            tier_floor_micro_usd: m.tier_floor_micro_usd,
            uptime_ppm: m.uptime_ppm,
            floor_micro_usd: m.floor_micro_usd,
            earned_micro_usd: m.earned_micro_usd,
            desired_draw_micro_usd: m.desired_draw_micro_usd,
            granted_micro_usd: m.granted_micro_usd,
            prior_micro_usd: m.prior_micro_usd,
            shares: m
                .shares
                .iter()
                .map(|s| PlanShareBody {
                    account_id: s.account_id.clone(),
                    desired_micro_usd: s.desired_micro_usd,
                    granted_micro_usd: s.granted_micro_usd,
                    rank: s.rank,
                })
                .collect(),
        }
    }
}

/// `GET /v1/admin/epochs/{epoch}/machines/{machine}/explain`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExplanationBody {
    pub epoch: String,
    pub machine_id: String,
    pub plan_machine: PlanMachineBody,
    /// Every term of the machine's figures.
    pub formula: ExplainFormulaBody,
    /// The facts behind the figures.
    pub evidence: ExplainEvidenceBody,
}

/// the terms of an explanation's `formula` (SPEC §3).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExplainFormulaBody {
    /// The epoch's length `T`.
    #[serde(rename = "T_ms")]
    #[schema(rename = "T_ms")]
    pub t_ms: i64,
    pub available_ms: i64,
    pub uptime_ppm: i64,
    /// Policy `min_uptime` as a decimal.
    pub min_uptime: String,
    /// Policy `full_uptime` as a decimal.
    pub full_uptime: String,
    pub hardware_model: String,
    pub reported_memory_gb: u32,
    /// The model's largest memory; `null` for an unknown model.
    #[schema(required = true)]
    pub model_cap_gb: Option<u32>,
    pub proven_gb: u32,
    pub verified_memory_gb: u32,
    pub verified_because: String,
    pub tier_floor_micro_usd: i64,
    /// The taper τ as `num/den`.
    pub taper: String,
    pub floor_untapered_micro_usd: i64,
    pub floor_micro_usd: i64,
    pub earned_micro_usd: i64,
    pub reduction_k: String,
    pub desired_untapered_micro_usd: i64,
    pub previous_total_micro_usd: i64,
    pub cliff_max_drop: String,
    pub desired_micro_usd: i64,
    pub workhorse: bool,
    pub budget_micro_usd: i64,
    pub reserve_micro_usd: i64,
    /// `earned + granted + prior`.
    pub payout_micro_usd: i64,
}

/// an attestation in an explanation's evidence.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvidenceAttestation {
    #[schema(format = DateTime)]
    pub attested_at: String,
    pub hardware_model: String,
    pub reported_memory_gb: u32,
    pub trust: super::enums::TrustLevel,
    #[schema(required = true)]
    pub se_public_key: Option<String>,
}

/// a binding in an explanation's evidence.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvidenceBinding {
    pub account_id: String,
    pub payout_identity: String,
    #[schema(format = DateTime)]
    pub from: String,
    #[schema(format = DateTime, required = true)]
    pub to: Option<String>,
}

/// a session in an explanation's evidence.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvidenceSession {
    #[schema(format = DateTime)]
    pub connected_at: String,
    #[schema(format = DateTime, required = true)]
    pub last_seen_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub disconnected_at: Option<String>,
}

/// a health transition in an explanation's evidence.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvidenceHealth {
    #[schema(format = DateTime)]
    pub at: String,
    pub healthy: bool,
}

/// a probe in an explanation's evidence.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvidenceProbe {
    pub probe_id: String,
    #[schema(format = DateTime)]
    pub at: String,
    pub passed: bool,
    #[schema(required = true)]
    pub verified_memory_gb: Option<u32>,
    /// floorline's own prober ran it.
    pub own: bool,
}

/// a group of earnings with D9's verdict.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvidenceEarnings {
    pub consumer_account_id: String,
    pub kind: super::enums::EarningSource,
    pub pinned: bool,
    /// The consumer is the machine's own account.
    pub self_account: bool,
    /// D9 counts the group as organic.
    pub organic: bool,
    pub epoch_micro_usd: i64,
    pub n_positive_in_work_window: i64,
}

/// the machine's organic earnings (D9).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvidenceOrganic {
    pub epoch_micro_usd: i64,
    pub trailing_micro_usd: i64,
    pub n_in_work_window: i64,
}

/// the facts behind an explanation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExplainEvidenceBody {
    pub attestations: Vec<EvidenceAttestation>,
    pub bindings: Vec<EvidenceBinding>,
    pub sessions: Vec<EvidenceSession>,
    pub health: Vec<EvidenceHealth>,
    pub probes: Vec<EvidenceProbe>,
    pub earnings: Vec<EvidenceEarnings>,
    pub organic_earnings: EvidenceOrganic,
}

impl From<Explanation> for ExplanationBody {
    fn from(e: Explanation) -> ExplanationBody {
        ExplanationBody {
            epoch: e.epoch.to_string(),
            plan_machine: PlanMachineBody::from(&e.plan_machine),
            machine_id: e.machine_id,
            formula: e.formula.into(),
            evidence: e.evidence.into(),
        }
    }
}

impl From<explain::Formula> for ExplainFormulaBody {
    fn from(f: explain::Formula) -> ExplainFormulaBody {
        ExplainFormulaBody {
            t_ms: f.t_ms,
            available_ms: f.available_ms,
            uptime_ppm: f.uptime_ppm,
            min_uptime: f.min_uptime,
            full_uptime: f.full_uptime,
            hardware_model: f.hardware_model,
            reported_memory_gb: f.reported_memory_gb,
            model_cap_gb: f.model_cap_gb,
            proven_gb: f.proven_gb,
            verified_memory_gb: f.verified_memory_gb,
            verified_because: f.verified_because,
            tier_floor_micro_usd: f.tier_floor_micro_usd,
            taper: f.taper,
            floor_untapered_micro_usd: f.floor_untapered_micro_usd,
            floor_micro_usd: f.floor_micro_usd,
            earned_micro_usd: f.earned_micro_usd,
            reduction_k: f.reduction_k,
            desired_untapered_micro_usd: f.desired_untapered_micro_usd,
            previous_total_micro_usd: f.previous_total_micro_usd,
            cliff_max_drop: f.cliff_max_drop,
            desired_micro_usd: f.desired_micro_usd,
            workhorse: f.workhorse,
            budget_micro_usd: f.budget_micro_usd,
            reserve_micro_usd: f.reserve_micro_usd,
            payout_micro_usd: f.payout_micro_usd,
        }
    }
}

impl From<explain::Evidence> for ExplainEvidenceBody {
    fn from(e: explain::Evidence) -> ExplainEvidenceBody {
        let ts = |t: Timestamp| t.to_rfc3339();
        ExplainEvidenceBody {
            attestations: e
                .attestations
                .into_iter()
                .map(|a| EvidenceAttestation {
                    attested_at: ts(a.attested_at),
                    hardware_model: a.hardware_model,
                    reported_memory_gb: a.reported_memory_gb,
                    trust: a.trust.into(),
                    se_public_key: a.se_public_key,
                })
                .collect(),
            bindings: e
                .bindings
                .into_iter()
                .map(|b| EvidenceBinding {
                    account_id: b.account_id,
                    payout_identity: b.payout_identity,
                    from: ts(b.from),
                    to: b.to.map(ts),
                })
                .collect(),
            sessions: e
                .sessions
                .into_iter()
                .map(|x| EvidenceSession {
                    connected_at: ts(x.connected_at),
                    last_seen_at: x.last_seen_at.map(ts),
                    disconnected_at: x.disconnected_at.map(ts),
                })
                .collect(),
            health: e
                .health
                .into_iter()
                .map(|h| EvidenceHealth {
                    at: ts(h.at),
                    healthy: h.healthy,
                })
                .collect(),
            probes: e
                .probes
                .into_iter()
                .map(|p| EvidenceProbe {
                    probe_id: p.probe_id,
                    at: ts(p.at),
                    passed: p.passed,
                    verified_memory_gb: p.verified_memory_gb,
                    own: p.own,
                })
                .collect(),
            earnings: e
                .earnings
                .into_iter()
                .map(|g| EvidenceEarnings {
                    consumer_account_id: g.consumer_account_id,
                    kind: g.kind.into(),
                    pinned: g.pinned,
                    self_account: g.self_account,
                    organic: g.organic,
                    epoch_micro_usd: g.epoch_micro_usd,
                    n_positive_in_work_window: g.n_positive_in_work_window,
                })
                .collect(),
            organic_earnings: EvidenceOrganic {
                epoch_micro_usd: e.organic_earnings.epoch_micro_usd,
                trailing_micro_usd: e.organic_earnings.trailing_micro_usd,
                n_in_work_window: e.organic_earnings.n_in_work_window,
            },
        }
    }
}

/// One difference `verify` found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DifferenceBody {
    pub run_id: i64,
    pub machine_id: String,
    pub account_id: String,
    /// What the recomputation says was owed (0 if nothing).
    pub expected_micro_usd: i64,
    /// What is stored (0 if nothing).
    pub stored_micro_usd: i64,
    pub what: String,
}

impl From<Difference> for DifferenceBody {
    fn from(d: Difference) -> DifferenceBody {
        DifferenceBody {
            run_id: d.run_id,
            machine_id: d.machine_id,
            account_id: d.account_id,
            expected_micro_usd: d.expected_micro_usd,
            stored_micro_usd: d.stored_micro_usd,
            what: d.what,
        }
    }
}

/// One live run, recomputed from the facts as it read them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunCheckBody {
    pub run_id: i64,
    /// The fact version the run read; `null` for a run from before fact versions.
    #[schema(required = true)]
    pub facts_version: Option<i64>,
    pub ok: bool,
    pub committed_manifest_sha256: String,
    pub recomputed_manifest_sha256: String,
}

impl From<RunCheck> for RunCheckBody {
    fn from(c: RunCheck) -> RunCheckBody {
        RunCheckBody {
            run_id: c.run_id,
            facts_version: c.facts_version,
            ok: c.ok,
            committed_manifest_sha256: c.committed_manifest_sha256,
            recomputed_manifest_sha256: c.recomputed_manifest_sha256,
        }
    }
}

/// What today's facts would change of a settled share.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DriftChangeBody {
    pub machine_id: String,
    pub account_id: String,
    pub settled_micro_usd: i64,
    pub now_micro_usd: i64,
    /// `now − settled`.
    pub change_micro_usd: i64,
}

impl From<DriftChange> for DriftChangeBody {
    fn from(c: DriftChange) -> DriftChangeBody {
        DriftChangeBody {
            machine_id: c.machine_id,
            account_id: c.account_id,
            settled_micro_usd: c.settled_micro_usd,
            now_micro_usd: c.now_micro_usd,
            change_micro_usd: c.change_micro_usd,
        }
    }
}

/// `?drift=true`: the latest live run recomputed from today's facts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DriftBody {
    pub recomputed_manifest_sha256: String,
    /// Only the shares that would change.
    pub changes: Vec<DriftChangeBody>,
}

impl From<Drift> for DriftBody {
    fn from(d: Drift) -> DriftBody {
        DriftBody {
            recomputed_manifest_sha256: d.recomputed_manifest_sha256,
            changes: d.changes.into_iter().map(Into::into).collect(),
        }
    }
}

/// `GET /v1/admin/epochs/{epoch}/verify`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VerifyReportBody {
    pub epoch: String,
    /// Every live run reproduces, the stored draws are the latest run's
    /// manifest, and every balance is its ledger.
    pub ok: bool,
    /// The latest live run's manifest.
    #[schema(required = true)]
    pub committed_manifest_sha256: Option<String>,
    pub recomputed_manifest_sha256: String,
    pub stored_draws_manifest_sha256: String,
    pub differences: Vec<DifferenceBody>,
    /// Accounts whose balance differs from the sum of their ledger entries.
    pub balance_mismatches: Vec<String>,
    /// Each live run, oldest first.
    pub runs: Vec<RunCheckBody>,
    /// Only with `drift=true` (absent otherwise; not part of `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub drift: Option<DriftBody>,
}

impl From<VerifyReport> for VerifyReportBody {
    fn from(r: VerifyReport) -> VerifyReportBody {
        VerifyReportBody {
            epoch: r.epoch.to_string(),
            ok: r.ok,
            committed_manifest_sha256: r.committed_manifest_sha256,
            recomputed_manifest_sha256: r.recomputed_manifest_sha256,
            stored_draws_manifest_sha256: r.stored_draws_manifest_sha256,
            differences: r.differences.into_iter().map(Into::into).collect(),
            balance_mismatches: r.balance_mismatches,
            runs: r.runs.into_iter().map(Into::into).collect(),
            drift: r.drift.map(Into::into),
        }
    }
}

/// One ledger entry (credits positive, debits negative).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LedgerEntryBody {
    pub id: i64,
    pub account_id: String,
    pub amount_micro_usd: i64,
    pub kind: EntryKindName,
    pub reference: String,
    #[schema(required = true)]
    pub epoch: Option<String>,
    #[schema(required = true)]
    pub machine_id: Option<String>,
    #[schema(required = true)]
    pub reason: Option<String>,
    pub actor: String,
    pub created_at_ms: i64,
}

impl From<LedgerEntry> for LedgerEntryBody {
    fn from(e: LedgerEntry) -> LedgerEntryBody {
        LedgerEntryBody {
            id: e.id,
            account_id: e.account_id,
            amount_micro_usd: e.amount_micro_usd,
            kind: e.kind.into(),
            reference: e.reference,
            epoch: e.epoch,
            machine_id: e.machine_id,
            reason: e.reason,
            actor: e.actor,
            created_at_ms: e.created_at_ms,
        }
    }
}
