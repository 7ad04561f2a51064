//! Provider endpoints (`provider` keys, bound to one account): the caller's
//! own machines only — another account's machine is 404, never 403, so
//! machine ids cannot be probed. Figures for the open month are estimates and
//! say so.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use floorline_core::bundle::check_id;
use floorline_core::facts::Windows;
use floorline_core::valuation::{available, Reason};
use floorline_core::{EpochId, Policy};
use serde_json::{json, Value};
use std::collections::BTreeSet;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::{AppState, Estimate};

/// What the page says about an estimate.
pub const ESTIMATE_NOTE: &str = "Estimate for the open month, assuming every live connection stays up until the month ends; the settled figure is computed after the month closes. An earnings floor is a baseline while eligible, not a guarantee.";

const GATES: [(&str, Reason); 5] = [
    ("attested", Reason::NotAttested),
    ("memory_tier", Reason::BelowMinMemory),
    ("uptime", Reason::UptimeBelowGate),
    ("proven_work", Reason::NoProvenWork),
    ("payout_account", Reason::NoPayoutAccount),
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

fn machine_view(cx: &ViewContext<'_>, machine_id: &str) -> Option<Value> {
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
    let tier_min_gb = policy
        .tiers
        .iter()
        .rev()
        .find(|t| t.min_gb <= v.verified_memory_gb)
        .map(|t| t.min_gb);
    let gates: Vec<Value> = GATES
        .iter()
        .map(|(gate, reason)| {
            let failed = pm.reasons.contains(reason);
            json!({"gate": gate, "passed": !failed, "reason": if failed { Some(reason) } else { None }})
        })
        .collect();
    Some(json!({
        "machine_id": machine_id,
        "hardware_model": v.hardware_model,
        "reported_memory_gb": v.reported_memory_gb,
        "verified_memory_gb": v.verified_memory_gb,
        "verified_because": verified_because,
        "tier_min_gb": tier_min_gb,
        "usage_only": tier_min_gb.is_none(),
        "tier_floor_micro_usd": v.tier_floor_micro_usd,
        "uptime_so_far_ppm": uptime_so_far_ppm,
        "uptime_line_ppm": policy.min_uptime.0,
        "gates": gates,
        "eligible": pm.eligible,
        "reasons": pm.reasons,
        "estimate": {
            "epoch": cx.est.plan.epoch,
            "is_estimate": true,
            "note": ESTIMATE_NOTE,
            "floor_micro_usd": pm.floor_micro_usd,
            "earned_micro_usd": pm.earned_micro_usd,
            "desired_draw_micro_usd": pm.desired_draw_micro_usd,
            "estimated_base_micro_usd": if pm.eligible { pm.desired_draw_micro_usd } else { 0 },
            "estimated_payout_micro_usd": pm.earned_micro_usd.saturating_add(if pm.eligible { pm.desired_draw_micro_usd } else { 0 }),
        },
    }))
}

async fn own_machines(state: &AppState, account: &str) -> Result<BTreeSet<String>, ApiError> {
    Ok(state
        .engine
        .store()
        .machines_of_account(account)
        .await?
        .into_iter()
        .collect())
}

/// The settled months of the account's machines: `earned + base` per machine.
async fn history(state: &AppState, machines: &BTreeSet<String>) -> Result<Vec<Value>, ApiError> {
    let store = state.engine.store();
    let mut out = Vec::new();
    for e in store.epochs().await? {
        let Some(run) = store
            .latest_run(e.epoch, floorline_store::Mode::Live)
            .await?
        else {
            continue;
        };
        let plan = state.run_plan(run.id).await?;
        let rows: Vec<Value> = plan
            .machines
            .iter()
            .filter(|m| machines.contains(&m.machine_id))
            .map(|m| {
                let base = m.granted_micro_usd.saturating_add(m.prior_micro_usd);
                json!({"machine_id": m.machine_id, "earned_micro_usd": m.earned_micro_usd, "base_micro_usd": base, "payout_micro_usd": m.earned_micro_usd.saturating_add(base), "eligible": m.eligible, "reasons": m.reasons})
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let sum = |k: &str| rows.iter().map(|r| r[k].as_i64().unwrap_or(0)).sum::<i64>();
        out.push(json!({"epoch": e.epoch, "earned_micro_usd": sum("earned_micro_usd"), "base_micro_usd": sum("base_micro_usd"), "payout_micro_usd": sum("payout_micro_usd"), "machines": rows}));
    }
    Ok(out)
}

fn open_epoch(state: &AppState) -> Result<EpochId, ApiError> {
    EpochId::containing(state.engine.now()).ok_or_else(|| ApiError::not_found("no open epoch"))
}

/// The caller's machines with tier, verified memory, uptime so far, gates and the live estimate.
#[utoipa::path(get, path = "/v1/provider/machines", responses((status = 200, description = "own machines"), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn machines(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let account = caller.provider_account()?.to_string();
    let epoch = open_epoch(&state)?;
    let est = state.estimate(epoch).await?;
    let policy = &state.engine.config().policy;
    let cx = ViewContext::new(&est, policy);
    // The open month's machines, as of the estimate: bound to this account at
    // some time in it. A machine that moved away in an earlier month keeps
    // its settled history (`/v1/provider/history`,
    // `/v1/provider/machines/{id}`) but leaves this list. Each view is
    // rendered once per estimate and reused by every request.
    let views: Vec<&str> = est
        .held_by(&account)
        .iter()
        .filter_map(|m| est.rendered(m, || machine_view(&cx, m).map(|v| v.to_string())))
        .collect();
    let tiers: Vec<Value> = policy
        .tiers
        .iter()
        .map(|t| json!({"min_gb": t.min_gb, "floor_micro_usd": t.floor_micro_usd, "workhorse": policy.is_workhorse(t.min_gb)}))
        .collect();
    // The page around the pre-rendered views; keys in the order `json!` sorts them.
    let mut body = String::with_capacity(views.iter().map(|v| v.len() + 1).sum::<usize>() + 1024);
    body.push_str(&format!(
        "{{\"account_id\":{},\"as_of\":{},\"epoch\":{},\"machines\":[",
        Value::from(account.as_str()),
        Value::from(est.as_of.to_rfc3339()),
        Value::from(epoch.to_string()),
    ));
    body.push_str(&views.join(","));
    body.push_str(&format!(
        "],\"note\":{},\"tiers\":{}}}",
        Value::from(ESTIMATE_NOTE),
        Value::Array(tiers),
    ));
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// One own machine (404 for any other): the view, plus its settled history.
#[utoipa::path(get, path = "/v1/provider/machines/{machine}", params(("machine" = String, Path)), responses((status = 200, description = "one machine"), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn machine(
    State(state): State<AppState>,
    Path(machine): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let account = caller.provider_account()?.to_string();
    let not_found = || ApiError::not_found(format!("no machine `{machine}` on this account"));
    // A name outside the identifier charset names no machine; it never reaches
    // the database (PostgreSQL refuses NUL in text with an error, not a miss).
    if check_id(&machine).is_err() {
        return Err(not_found());
    }
    let own = own_machines(&state, &account).await?;
    let resolved = state.engine.store().resolve_machine(&machine).await?;
    let Some(id) = resolved.filter(|id| own.contains(id)) else {
        return Err(not_found());
    };
    let epoch = open_epoch(&state)?;
    let est = state.estimate(epoch).await?;
    let policy = &state.engine.config().policy;
    let cx = ViewContext::new(&est, policy);
    let mut view = machine_view(&cx, &id)
        .ok_or_else(|| ApiError::not_found(format!("machine `{machine}`")))?;
    let one: BTreeSet<String> = [id].into_iter().collect();
    view["history"] = Value::Array(history(&state, &one).await?);
    Ok(Json(view))
}

/// Settled months for all own machines: `earned + base` per month.
#[utoipa::path(get, path = "/v1/provider/history", responses((status = 200, description = "settled history")), security(("bearer" = [])))]
pub async fn provider_history(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let account = caller.provider_account()?.to_string();
    let own = own_machines(&state, &account).await?;
    Ok(Json(
        json!({"account_id": account, "history": history(&state, &own).await?}),
    ))
}
