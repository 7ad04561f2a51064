//! Provider endpoints (`provider` keys, bound to one account): the caller's
//! own machines only — another account's machine is 404, never 403, so
//! machine ids cannot be probed. Figures for the open month are estimates and
//! say so.
//!
//! Invariants: a live view is served only to the machine's owner now (the
//! account of its current binding); an account that owned a machine once
//! keeps the settled months it held it, and nothing live. Every settled
//! figure is the account's own: its draw is its `floor_draws` row (equal to
//! its ledger credit), its earnings the organic ones made while it owned the
//! machine, its verdict that of the run that paid it.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use floorline_core::bundle::check_id;
use floorline_core::facts::{MachineFacts, Windows};
use floorline_core::valuation::{available, Reason};
use floorline_core::{EpochId, Policy, Timestamp};
use floorline_store::{DrawRecord, MachineBinding};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::wire::enums::{reason_codes, PeriodLength, ReasonCode};
use crate::wire::provider::{
    GateBody, GateName, MachineEstimateBody, MachinePageBody, MachineViewBody, OwnedMachineBody,
    ProviderMachinesBody, TierBody,
};
use crate::{AppState, Estimate};

/// What the page says about an estimate.
pub const ESTIMATE_NOTE: &str = "Estimate for the open month, assuming every live connection stays up until the month ends; the settled figure is computed after the month closes. An earnings floor is a baseline while eligible, not a guarantee.";

/// What the page says about an estimate when periods are shorter than a month.
pub const PERIOD_ESTIMATE_NOTE: &str = "Estimate for the open period, assuming every live connection stays up until it ends; each period is settled after it closes, and its base adds to the month. An earnings floor is a baseline while eligible, not a guarantee.";

/// The estimate note for the configured period length.
pub fn estimate_note(period: floorline_core::time::Period) -> &'static str {
    if period == floorline_core::time::Period::Month {
        ESTIMATE_NOTE
    } else {
        PERIOD_ESTIMATE_NOTE
    }
}

const GATES: [(GateName, Reason); 5] = [
    (GateName::Attested, Reason::NotAttested),
    (GateName::MemoryTier, Reason::BelowMinMemory),
    (GateName::Uptime, Reason::UptimeBelowGate),
    (GateName::ProvenWork, Reason::NoProvenWork),
    (GateName::PayoutAccount, Reason::NoPayoutAccount),
];

/// What a provider view needs of the open month, computed once per request.
/// "So far" figures are as of the estimate (`est.as_of`).
struct ViewContext<'a> {
    est: &'a Estimate,
    policy: &'a Policy,
    windows: Windows,
}

impl<'a> ViewContext<'a> {
    fn new(est: &'a Estimate, policy: &'a Policy) -> ViewContext<'a> {
        ViewContext {
            est,
            policy,
            windows: Windows::new(est.plan.epoch, policy),
        }
    }
}

/// A machine's live status from its sessions' heartbeats (SPEC §2
/// refinements, D7), as of `now_ms`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct LiveStatus {
    /// A session is open and its last heartbeat is within `grace_ms`.
    online: bool,
    /// The latest sign of life of any session of the open epoch (the
    /// sessions it loads): a disconnect, a heartbeat or a connect, not after
    /// `now_ms`; `None` when the machine has not been seen in the epoch.
    last_seen_ms: Option<i64>,
    /// The highest uptime the machine can still reach in the epoch: what it
    /// has so far plus all of what is left, if it stays up from now.
    reachable_ppm: i64,
}

impl LiveStatus {
    fn of(
        m: &MachineFacts,
        policy: &Policy,
        w: &Windows,
        now_ms: i64,
        so_far_ms: i64,
    ) -> LiveStatus {
        let mut out = LiveStatus::default();
        for s in m.sessions.iter().filter(|s| s.connected_at_ms <= now_ms) {
            let last = s
                .disconnected_at_ms
                .or(s.last_seen_at_ms)
                .unwrap_or(s.connected_at_ms)
                .min(now_ms);
            out.last_seen_ms = Some(out.last_seen_ms.map_or(last, |l| l.max(last)));
            let beat = s.last_seen_at_ms.unwrap_or(s.connected_at_ms);
            if s.disconnected_at_ms.is_none() && beat.saturating_add(policy.grace_ms) >= now_ms {
                out.online = true;
            }
        }
        let length = w.end_ms.saturating_sub(w.start_ms);
        let left = w.end_ms.saturating_sub(now_ms.clamp(w.start_ms, w.end_ms));
        out.reachable_ppm = if length > 0 {
            let ppm = i128::from(so_far_ms.saturating_add(left)) * 1_000_000 / i128::from(length);
            i64::try_from(ppm.min(1_000_000)).unwrap_or(1_000_000)
        } else {
            0
        };
        out
    }
}

fn machine_view(cx: &ViewContext<'_>, machine_id: &str) -> Option<MachineViewBody> {
    let (pm, v, stored) = cx.est.machine(machine_id)?;
    let (policy, w, now_ms) = (cx.policy, &cx.windows, cx.est.as_of.0);
    let elapsed = now_ms
        .clamp(w.start_ms, w.end_ms)
        .saturating_sub(w.start_ms);
    let so_far = stored
        .map(|m| available(m, policy, w).overlap_ms(w.start_ms, now_ms))
        .unwrap_or(0);
    let uptime_so_far_ppm = if elapsed > 0 {
        i128::from(so_far) * 1_000_000 / i128::from(elapsed)
    } else {
        0
    };
    let live = stored.map_or_else(LiveStatus::default, |m| {
        LiveStatus::of(m, policy, w, now_ms, so_far)
    });
    let verified_because = match v.model_cap_gb {
        Some(cap) if cap < v.reported_memory_gb => format!(
            "capped at {cap} GB, the most a {} can have",
            v.hardware_model
        ),
        Some(_) => "as reported (within what this model can have)".to_string(),
        None if v.verified_memory_gb < v.reported_memory_gb => format!(
            "unknown model {:?}: capped at {} GB until a tier-sized probe proves more",
            v.hardware_model, v.verified_memory_gb
        ),
        None => "as reported, proven by a tier-sized probe".to_string(),
    };
    let tier_min_gb = policy.tier(v.verified_memory_gb).map(|t| t.min_gb);
    let gates = GATES
        .iter()
        .map(|&(gate, reason)| {
            let failed = pm.reasons.contains(&reason);
            GateBody {
                gate,
                passed: !failed,
                reason: failed.then_some(ReasonCode::from(reason)),
            }
        })
        .collect();
    let base = if pm.eligible {
        pm.desired_draw_micro_usd
    } else {
        0
    };
    Some(MachineViewBody {
        eligible: pm.eligible,
        estimate: MachineEstimateBody {
            desired_draw_micro_usd: pm.desired_draw_micro_usd,
            earned_micro_usd: pm.earned_micro_usd,
            epoch: cx.est.plan.epoch.to_string(),
            estimated_base_micro_usd: base,
            estimated_payout_micro_usd: pm.earned_micro_usd.saturating_add(base),
            floor_micro_usd: pm.floor_micro_usd,
            is_estimate: true,
            note: estimate_note(policy.period),
        },
        gates,
        hardware_model: v.hardware_model.clone(),
        last_seen_at: live.last_seen_ms.map(|ms| Timestamp(ms).to_rfc3339()),
        machine_id: machine_id.to_string(),
        online: live.online,
        reasons: reason_codes(&pm.reasons),
        reported_memory_gb: v.reported_memory_gb,
        tier_floor_micro_usd: v.tier_floor_micro_usd,
        tier_min_gb,
        uptime_line_ppm: policy.min_uptime.0,
        uptime_reachable_ppm: live.reachable_ppm,
        uptime_so_far_ppm: i64::try_from(uptime_so_far_ppm).unwrap_or(0),
        usage_only: tier_min_gb.is_none(),
        verified_because,
        verified_memory_gb: v.verified_memory_gb,
    })
}

/// One machine's settled month, as the caller's own share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HistoryMachine {
    pub machine_id: String,
    /// Organic earnings (D9) of the machine while this account owned it.
    pub earned_micro_usd: i64,
    /// This account's draw on the machine for the month: its `floor_draws`
    /// row, the ledger credit `floor:{epoch}:{machine}:{account}`.
    pub base_micro_usd: i64,
    /// `earned + base`.
    pub payout_micro_usd: i64,
    /// The verdict of the run that paid the draw (without a draw: of the
    /// epoch's latest live run), never today's.
    pub eligible: bool,
    pub reasons: Vec<ReasonCode>,
    /// The run whose verdict this is.
    pub run_id: i64,
}

/// One settled month of the caller's machines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HistoryEpoch {
    #[schema(value_type = String)]
    pub epoch: EpochId,
    pub earned_micro_usd: i64,
    pub base_micro_usd: i64,
    pub payout_micro_usd: i64,
    pub machines: Vec<HistoryMachine>,
}

/// `GET /v1/provider/history`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryBody {
    pub account_id: String,
    pub history: Vec<HistoryEpoch>,
}

/// `GET /v1/provider/machines/{id}` for a machine the account owned once
/// and no longer does: its settled months while it was the owner, and no
/// live view (that is the new owner's).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FormerMachineBody {
    pub machine_id: String,
    /// Always false here: the account does not own the machine now.
    pub owned_now: bool,
    pub note: &'static str,
    pub history: Vec<HistoryEpoch>,
}

/// What a former owner's machine page says.
pub const FORMER_OWNER_NOTE: &str = "This machine is no longer bound to this account: only the months settled while it was are shown.";

/// The account's bindings, by machine: what it owns now and what it owned.
struct Holdings {
    bindings: Vec<MachineBinding>,
}

impl Holdings {
    async fn of(state: &AppState, account: &str) -> Result<Holdings, ApiError> {
        Ok(Holdings {
            bindings: state.engine.bindings_of_account(account).await?,
        })
    }

    /// Every machine the account has been bound to.
    fn ever(&self) -> BTreeSet<String> {
        self.bindings.iter().map(|b| b.machine_id.clone()).collect()
    }

    /// Whether the account owns `machine` at `now_ms` (its current binding).
    fn owns_now(&self, machine: &str, now_ms: i64) -> bool {
        self.bindings
            .iter()
            .any(|b| b.machine_id == machine && b.fact().covers(now_ms))
    }

    /// Whether the account owned `machine` at some instant of `[start, end)`.
    fn held_in(&self, machine: &str, start_ms: i64, end_ms: i64) -> bool {
        self.bindings
            .iter()
            .any(|b| b.machine_id == machine && b.fact().overlaps(start_ms, end_ms))
    }
}

/// The settled months of `machines` while `account` owned them: per month
/// and machine, the account's own draw (= its ledger credit), its own organic
/// earnings, and the verdict of the run that paid it.
async fn history(
    state: &AppState,
    account: &str,
    holdings: &Holdings,
    machines: &BTreeSet<String>,
) -> Result<Vec<HistoryEpoch>, ApiError> {
    let engine = &state.engine;
    let machine_ids: Vec<String> = machines.iter().cloned().collect();
    let draws: HashMap<(String, String), DrawRecord> = engine
        .account_draws(account, &machine_ids)
        .await?
        .into_iter()
        .map(|d| ((d.epoch.clone(), d.machine_id.clone()), d))
        .collect();
    // Other owners' bindings, read once per machine and only when needed.
    let mut co_owned: HashMap<String, Vec<MachineBinding>> = HashMap::new();
    let mut out = Vec::new();
    for e in engine.epochs().await? {
        let (start, end) = (e.epoch.start().0, e.epoch.end().0);
        let held: Vec<&String> = machines
            .iter()
            .filter(|m| holdings.held_in(m, start, end))
            .collect();
        if held.is_empty() {
            continue;
        }
        let Some(run) = engine
            .latest_run(e.epoch, floorline_store::RunMode::Live)
            .await?
        else {
            continue;
        };
        let latest = state.run_plan(run.id).await?;
        let mut rows = Vec::with_capacity(held.len());
        for m in held {
            let draw = draws.get(&(e.epoch.to_string(), m.clone()));
            let (plan, run_id) = match draw {
                Some(d) if d.run_id != run.id => (state.run_plan(d.run_id).await?, d.run_id),
                _ => (latest.clone(), run.id),
            };
            // `machines` of a plan are sorted by machine id (SPEC §8).
            let Ok(k) = plan
                .machines
                .binary_search_by(|p| p.machine_id.as_str().cmp(m.as_str()))
            else {
                continue;
            };
            let Some(pm) = plan.machines.get(k) else {
                continue;
            };
            if !co_owned.contains_key(m.as_str()) {
                let all = engine.bindings_of_machine(m).await?;
                co_owned.insert(m.clone(), all);
            }
            let sole = co_owned
                .get(m.as_str())
                .is_some_and(|all| sole_owner(all, account, start, end));
            let earned = if sole {
                pm.earned_micro_usd
            } else {
                state.engine.owner_earned(e.epoch, m, account).await?
            };
            let base = draw.map_or(0, |d| d.amount_micro_usd);
            rows.push(HistoryMachine {
                machine_id: m.clone(),
                earned_micro_usd: earned,
                base_micro_usd: base,
                payout_micro_usd: earned.saturating_add(base),
                eligible: pm.eligible,
                reasons: reason_codes(&pm.reasons),
                run_id,
            });
        }
        if rows.is_empty() {
            continue;
        }
        let sum =
            |f: fn(&HistoryMachine) -> i64| rows.iter().map(f).fold(0i64, i64::saturating_add);
        out.push(HistoryEpoch {
            epoch: e.epoch,
            earned_micro_usd: sum(|r| r.earned_micro_usd),
            base_micro_usd: sum(|r| r.base_micro_usd),
            payout_micro_usd: sum(|r| r.payout_micro_usd),
            machines: rows,
        });
    }
    Ok(out)
}

/// Whether `account`'s bindings alone cover all of `[start, end)` (then the
/// machine's `earned` is all the account's).
fn sole_owner(bindings: &[MachineBinding], account: &str, start: i64, end: i64) -> bool {
    let mut covered = start;
    for b in bindings {
        let f = b.fact();
        if !f.overlaps(start, end) {
            continue;
        }
        if b.account_id != account || b.from_ms > covered {
            return false;
        }
        covered = covered.max(b.to_ms.unwrap_or(i64::MAX));
    }
    covered >= end
}

/// The open settlement unit: the month, or with `period` shorter than a
/// month (SPEC §10) the open period, which the live estimate is of.
fn open_epoch(state: &AppState) -> Result<EpochId, ApiError> {
    let period = state.engine.config().policy.period;
    EpochId::containing_period(state.engine.now(), period)
        .ok_or_else(|| ApiError::not_found("no open epoch"))
}

/// The month so far, as the provider page's summary reads it: the base of
/// the month's settled periods (the account's own draws) plus the open
/// period's estimate. With `period = "month"` nothing is settled before the
/// month closes, so the accrued base is 0 and the open period is the month.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MonthSoFar {
    pub month: String,
    /// Policy `period`.
    pub period: PeriodLength,
    /// The open period (the month with `period = "month"`).
    pub open_period: String,
    /// Σ base of the month's settled periods, this account's own draws.
    pub base_accrued_micro_usd: i64,
    /// The same per machine (machines without a draw are absent).
    pub base_accrued_by_machine: std::collections::BTreeMap<String, i64>,
    /// Σ estimated base of the open period over the listed machines.
    pub open_period_estimate_micro_usd: i64,
    /// `base_accrued + open_period_estimate`.
    pub base_so_far_micro_usd: i64,
}

/// A body that does not serialize: logged, answered 500 without details.
fn unserializable(what: &str, e: &serde_json::Error) -> ApiError {
    tracing::error!(error = %e, what, "A response body does not serialize.");
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
}

/// The caller's machines with tier, verified memory, uptime so far, gates and the live estimate.
#[utoipa::path(get, tag = "provider", path = "/v1/provider/machines", responses((status = 200, description = "own machines, each with its live view", body = ProviderMachinesBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, description = "no open epoch", body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn machines(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let account = caller.provider_account()?.to_string();
    let epoch = open_epoch(&state)?;
    let est = state.estimate(epoch).await?;
    let policy = &state.engine.config().policy;
    let cx = ViewContext::new(&est, policy);
    let now_ms = state.engine.now().0;
    // The machines this account owns now (its current binding, as the
    // estimate has it: the page is as of `as_of` throughout, and no request
    // reads the fleet's bindings). A machine that moved away — this month or
    // earlier — keeps its settled history (`/v1/provider/history`,
    // `/v1/provider/machines/{id}`) but leaves this list: its live view is
    // the new owner's. Each view is rendered once per estimate and reused by
    // every request.
    let owned: Vec<String> = est
        .held_by(&account)
        .iter()
        .filter(|m| est.owned_now_by(m, &account, now_ms))
        .cloned()
        .collect();
    let views: Vec<&str> = owned
        .iter()
        .filter_map(|m| {
            est.rendered(m, || {
                machine_view(&cx, m).and_then(|v| serde_json::to_string(&v).ok())
            })
        })
        .collect();
    let accrual = state
        .engine
        .month_accrual(&account, &owned, epoch.month_id())
        .await?;
    let open_estimate = owned
        .iter()
        .filter_map(|m| est.machine(m))
        .filter(|(pm, _, _)| pm.eligible)
        .fold(0i64, |sum, (pm, _, _)| {
            sum.saturating_add(pm.desired_draw_micro_usd)
        });
    let month = MonthSoFar {
        month: accrual.month.to_string(),
        period: policy.period.into(),
        open_period: epoch.to_string(),
        base_accrued_micro_usd: accrual.base_accrued_micro_usd,
        base_so_far_micro_usd: accrual.base_accrued_micro_usd.saturating_add(open_estimate),
        base_accrued_by_machine: accrual.by_machine,
        open_period_estimate_micro_usd: open_estimate,
    };
    let tiers = policy
        .tiers
        .iter()
        .map(|t| TierBody {
            floor_micro_usd: t.floor_micro_usd,
            min_gb: t.min_gb,
            workhorse: policy.is_workhorse(t.min_gb),
        })
        .collect();
    // The page around the pre-rendered views (`machines` left empty and filled).
    let page = ProviderMachinesBody {
        account_id: account,
        as_of: est.as_of.to_rfc3339(),
        epoch: epoch.to_string(),
        machines: Vec::new(),
        month,
        note: estimate_note(policy.period),
        tiers,
    };
    let body = page
        .render(&views)
        .map_err(|e| unserializable("provider machines", &e))?;
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// One machine the caller owns now: the live view plus its settled months;
/// one it owned once: its settled months while it did, no live view; any
/// other: 404.
#[utoipa::path(get, tag = "provider", path = "/v1/provider/machines/{machine}", params(("machine" = String, Path, description = "a machine id or a provider key naming it", pattern = "^[A-Za-z0-9._:@-]{1,128}$")), responses((status = 200, description = "one machine: the live view with `history` when owned now, else its settled months", body = MachinePageBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn machine(
    State(state): State<AppState>,
    Path(machine): Path<String>,
    caller: Caller,
) -> Result<Json<MachinePageBody>, ApiError> {
    let account = caller.provider_account()?.to_string();
    let not_found = || ApiError::not_found(format!("no machine `{machine}` on this account"));
    // A name outside the identifier charset names no machine; it never reaches
    // the database (PostgreSQL refuses NUL in text with an error, not a miss).
    if check_id(&machine).is_err() {
        return Err(not_found());
    }
    let holdings = Holdings::of(&state, &account).await?;
    let resolved = state.engine.resolve_machine(&machine).await?;
    let Some(id) = resolved.filter(|id| holdings.ever().contains(id)) else {
        return Err(not_found());
    };
    let one: BTreeSet<String> = [id.clone()].into_iter().collect();
    let settled = history(&state, &account, &holdings, &one).await?;
    if !holdings.owns_now(&id, state.engine.now().0) {
        return Ok(Json(MachinePageBody::Former(FormerMachineBody {
            machine_id: id,
            owned_now: false,
            note: FORMER_OWNER_NOTE,
            history: settled,
        })));
    }
    let epoch = open_epoch(&state)?;
    let est = state.estimate(epoch).await?;
    let policy = &state.engine.config().policy;
    let cx = ViewContext::new(&est, policy);
    let view = machine_view(&cx, &id)
        .ok_or_else(|| ApiError::not_found(format!("machine `{machine}`")))?;
    Ok(Json(MachinePageBody::Owned(Box::new(OwnedMachineBody {
        view,
        history: settled,
        owned_now: true,
    }))))
}

/// Settled months of every machine the caller owns or owned, while it did:
/// its own `earned + base` per month.
#[utoipa::path(get, tag = "provider", path = "/v1/provider/history", responses((status = 200, description = "settled history", body = HistoryBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn provider_history(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<HistoryBody>, ApiError> {
    let account = caller.provider_account()?.to_string();
    let holdings = Holdings::of(&state, &account).await?;
    let history = history(&state, &account, &holdings, &holdings.ever()).await?;
    Ok(Json(HistoryBody {
        account_id: account,
        history,
    }))
}
