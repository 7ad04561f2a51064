//! Admin endpoints (`admin` keys): the pool, epochs, draws (paged, CSV),
//! preview, live settlement, explanations, verification and adjustments.

use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Json;
use floorline_core::EpochId;
use floorline_engine::schedule::{candidate, SchedulerMode};
use floorline_engine::SettleOptions;
use floorline_store::{Adjust, AdjustKind, DrawRecord, Role, MAX_PAGE_LIMIT};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::wire::admin::{
    DrawBody, DrawsPageBody, EpochDetailBody, EpochSummaryBody, EpochsBody, ExcludedMachineBody,
    ExplanationBody, LedgerEntryBody, OffRampBody, PoolStatusBody, RunBody, RunSummaryBody,
    TierTotalBody, VerifyReportBody,
};
use crate::wire::enums::{reason_codes, AdjustKindName, BodyFormat, PeriodLength};
use crate::AppState;

/// Default page size of draw listings.
pub const DEFAULT_PAGE_LIMIT: u32 = 100;

pub fn parse_epoch(text: &str) -> Result<EpochId, ApiError> {
    text.parse().map_err(|e: String| {
        let mut err = ApiError::invalid(&[floorline_core::Invalid::new("epoch", e)]);
        err.status = axum::http::StatusCode::BAD_REQUEST;
        err
    })
}

/// The pool at a glance: mode, last closed epoch, budget, used, unallocated, k, draws.
#[utoipa::path(get, tag = "admin", path = "/v1/admin/base-rewards", responses((status = 200, description = "mode, epoch, pool, used, unallocated, k, draws of the last closed epoch", body = PoolStatusBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, description = "no closed epoch", body = ErrorBody)), security(("bearer" = [])))]
pub async fn base_rewards(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PoolStatusBody>, ApiError> {
    caller.require(Role::Admin)?;
    let engine = &state.engine;
    let policy = &engine.config().policy;
    // The last closed unit: the previous month, or the previous period
    // when periods are shorter than a month (SPEC §10).
    let epoch = match policy.period {
        floorline_core::time::Period::Month => candidate(engine.now()),
        period => EpochId::containing_period(engine.now(), period).map(EpochId::previous),
    }
    .ok_or_else(|| ApiError::not_found("no closed epoch"))?;
    let draws = engine.all_draws(epoch).await?;
    let used: i64 = draws.iter().map(|d| d.amount_micro_usd).sum();
    let run = engine
        .latest_run(epoch, floorline_store::RunMode::Live)
        .await?;
    let mode = engine.config().settlement.mode;
    // The unit's pool: its D21 portion of the monthly pool (all of it for a month).
    let pool = floorline_core::money::portion(policy.pool_micro_usd, epoch);
    Ok(Json(PoolStatusBody {
        enabled: mode != SchedulerMode::Off,
        mode: mode.into(),
        epoch: epoch.to_string(),
        period: policy.period.into(),
        settled: run.is_some(),
        pool_micro_usd: pool,
        pool_used_micro_usd: used,
        unallocated_micro_usd: pool.saturating_sub(used).max(0),
        reduction_k: policy.reduction_k.to_decimal(),
        allocation: policy.allocation.into(),
        workhorse_reserve: policy.workhorse_reserve.to_decimal(),
        draw_count: u64::try_from(draws.len()).unwrap_or(u64::MAX),
        draws: draws
            .iter()
            .take(usize::try_from(DEFAULT_PAGE_LIMIT).unwrap_or(100))
            .map(DrawBody::from)
            .collect(),
        off_ramp: OffRampBody::from(&engine.off_ramp().await?),
    }))
}

/// Every epoch with runs.
#[utoipa::path(get, tag = "admin", path = "/v1/admin/epochs", responses((status = 200, description = "epochs with runs and totals", body = EpochsBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn epochs(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<EpochsBody>, ApiError> {
    caller.require(Role::Admin)?;
    let epochs = state.engine.epochs().await?;
    Ok(Json(EpochsBody {
        epochs: epochs.iter().map(EpochSummaryBody::from).collect(),
    }))
}

/// One epoch: its runs, the latest run's totals per tier, excluded machines with reasons, manifest.
#[utoipa::path(get, tag = "admin", path = "/v1/admin/epochs/{epoch}", params(EpochPath), responses((status = 200, description = "runs, per-tier totals, excluded machines, manifest", body = EpochDetailBody), (status = 400, description = "not an epoch id", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, description = "no run of the epoch", body = ErrorBody)), security(("bearer" = [])))]
pub async fn epoch_detail(
    State(state): State<AppState>,
    Path(epoch): Path<String>,
    caller: Caller,
) -> Result<Json<EpochDetailBody>, ApiError> {
    caller.require(Role::Admin)?;
    let epoch = parse_epoch(&epoch)?;
    let engine = &state.engine;
    let runs = engine.runs(Some(epoch)).await?;
    // The run to show: the latest live run that moved money (a re-run that
    // granted nothing repeats it), else the latest live run, else the
    // latest preview.
    let newest = |mode: floorline_store::RunMode, moved: bool| {
        runs.iter()
            .filter(|r| r.mode == mode && (!moved || r.granted_total_micro_usd > 0))
            .max_by_key(|r| r.id)
            .cloned()
    };
    let latest = newest(floorline_store::RunMode::Live, true)
        .or_else(|| newest(floorline_store::RunMode::Live, false))
        .or_else(|| newest(floorline_store::RunMode::Preview, false));
    let Some(run) = latest else {
        return Err(ApiError::not_found(format!(
            "no run of {epoch}; preview it first"
        )));
    };
    let plan = state.run_plan(run.id).await?;
    let policy = &state.engine.config().policy;
    let mut tiers: BTreeMap<u32, TierTotalBody> = BTreeMap::new();
    let mut excluded = Vec::new();
    for m in &plan.machines {
        let tier = policy.tier(m.verified_memory_gb).map_or(0, |t| t.min_gb);
        let t = tiers.entry(tier).or_insert(TierTotalBody {
            tier_min_gb: tier,
            n_machines: 0,
            n_eligible: 0,
            earned_micro_usd: 0,
            drawn_micro_usd: 0,
        });
        t.n_machines += 1;
        t.n_eligible += u64::from(m.eligible);
        t.earned_micro_usd = t.earned_micro_usd.saturating_add(m.earned_micro_usd);
        t.drawn_micro_usd = t
            .drawn_micro_usd
            .saturating_add(m.granted_micro_usd)
            .saturating_add(m.prior_micro_usd);
        if !m.eligible {
            excluded.push(ExcludedMachineBody {
                machine_id: m.machine_id.clone(),
                reasons: reason_codes(&m.reasons),
                verified_memory_gb: m.verified_memory_gb,
                uptime_ppm: m.uptime_ppm,
            });
        }
    }
    Ok(Json(EpochDetailBody {
        epoch: epoch.to_string(),
        runs: runs.iter().map(RunBody::from).collect(),
        run: RunBody::from(&run),
        pool_micro_usd: plan.pool_micro_usd,
        granted_total_micro_usd: plan.granted_total_micro_usd,
        already_settled_micro_usd: plan.already_settled_micro_usd,
        unallocated_micro_usd: plan.unallocated_micro_usd,
        manifest_sha256: plan.manifest_sha256.clone(),
        tiers: tiers.into_values().collect(),
        excluded,
    }))
}

/// The `{epoch}` of an admin path.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EpochPath {
    /// An epoch id `YYYY-MM`, or a period id of the policy's `period`
    /// (`YYYY-MM-DD`, `YYYY-MM-DDTHH`, `YYYY-MM-DDTHH:MM`; SPEC §10).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}(-[0-9]{2}(T[0-9]{2}(:[0-9]{2})?)?)?$")]
    pub epoch: String,
}

/// The `{epoch}` and `{machine}` of an explanation.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EpochMachinePath {
    /// An epoch id `YYYY-MM`, or a period id of the policy's `period`
    /// (`YYYY-MM-DD`, `YYYY-MM-DDTHH`, `YYYY-MM-DDTHH:MM`; SPEC §10).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}(-[0-9]{2}(T[0-9]{2}(:[0-9]{2})?)?)?$")]
    pub epoch: String,
    /// A machine id or a provider key naming it.
    #[param(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    pub machine: String,
}

/// The `{month}` of a month path.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MonthPath {
    /// A month id `YYYY-MM` (a period id is refused).
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub month: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DrawsQuery {
    /// Rows to skip (default 0; ignored with `format=csv`).
    #[param(minimum = 0)]
    pub offset: Option<u64>,
    /// Rows to return, 1–1000 (default 100; ignored with `format=csv`).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `json` (default) or `csv` (every draw).
    #[param(value_type = Option<BodyFormat>)]
    pub format: Option<String>,
}

/// The draws of an epoch, paged (`offset`, `limit` ≤ 1000), or all of them as CSV (`format=csv`).
#[utoipa::path(get, tag = "admin", path = "/v1/admin/epochs/{epoch}/draws", params(EpochPath, DrawsQuery), responses((status = 200, description = "a page of draws (JSON), or every draw as CSV (`format=csv`)", content((DrawsPageBody = "application/json"), (String = "text/csv"))), (status = 400, description = "bad epoch, limit, offset or format", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn draws(
    State(state): State<AppState>,
    Path(epoch): Path<String>,
    Query(q): Query<DrawsQuery>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let epoch = parse_epoch(&epoch)?;
    let engine = &state.engine;
    match q.format.as_deref() {
        Some("csv") => {
            let all = engine.all_draws(epoch).await?;
            let csv = draws_csv(&all)?;
            Ok((
                [
                    (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        CONTENT_DISPOSITION,
                        format!("attachment; filename=\"draws-{epoch}.csv\""),
                    ),
                ],
                csv,
            )
                .into_response())
        }
        None | Some("json") => {
            let limit = q.limit.unwrap_or(DEFAULT_PAGE_LIMIT);
            if limit == 0 || limit > MAX_PAGE_LIMIT {
                return Err(ApiError::bad_request(format!(
                    "limit must be between 1 and {MAX_PAGE_LIMIT}"
                )));
            }
            let offset = page_offset(q.offset)?;
            let page = engine.draws(epoch, offset, limit).await?;
            Ok(Json(DrawsPageBody {
                epoch: epoch.to_string(),
                offset,
                limit,
                draws: page.iter().map(DrawBody::from).collect(),
            })
            .into_response())
        }
        Some(other) => Err(ApiError::bad_request(format!(
            "unknown format `{other}` (json or csv)"
        ))),
    }
}

fn draws_csv(draws: &[DrawRecord]) -> Result<String, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ApiError::bad_request(e.to_string());
    w.write_record([
        "epoch",
        "machine_id",
        "account_id",
        "amount_micro_usd",
        "verified_memory_gb",
        "run_id",
    ])
    .map_err(fail)?;
    for d in draws {
        w.write_record([
            d.epoch.clone(),
            d.machine_id.clone(),
            d.account_id.clone(),
            d.amount_micro_usd.to_string(),
            d.verified_memory_gb.to_string(),
            d.run_id.to_string(),
        ])
        .map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// Plan the epoch and store it as a preview (no money moves).
#[utoipa::path(post, tag = "admin", path = "/v1/admin/epochs/{epoch}/preview", params(EpochPath), responses((status = 200, description = "run summary", body = RunSummaryBody), (status = 400, description = "not an epoch id", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, description = "the facts do not plan", body = ErrorBody)), security(("bearer" = [])))]
pub async fn preview(
    State(state): State<AppState>,
    Path(epoch): Path<String>,
    caller: Caller,
) -> Result<Json<RunSummaryBody>, ApiError> {
    caller.require(Role::Admin)?;
    let epoch = parse_epoch(&epoch)?;
    let started = Instant::now();
    let run = state.engine.preview(epoch, &caller.actor()).await?;
    state
        .metrics
        .record_run(&run, started.elapsed().as_secs_f64());
    Ok(Json(run.into()))
}

/// The optional body of a live settlement.
#[derive(Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettleBody {
    /// Settle although some fact source's watermark has not passed the epoch end.
    #[serde(default)]
    pub force: bool,
}

/// Settle the epoch live (credits draws; idempotent; `force` ignores watermarks).
#[utoipa::path(post, tag = "admin", path = "/v1/admin/epochs/{epoch}/settle", params(EpochPath), request_body(content = SettleBody, description = "optional; an empty body is `{\"force\": false}`", content_type = "application/json"), responses((status = 200, description = "run summary", body = RunSummaryBody), (status = 400, description = "bad epoch id, body not UTF-8 or more than one JSON document", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, description = "not closed or awaiting watermarks", body = ErrorBody), (status = 422, description = "a body that is not a SettleBody", body = ErrorBody)), security(("bearer" = [])))]
pub async fn settle(
    State(state): State<AppState>,
    Path(epoch): Path<String>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<RunSummaryBody>, ApiError> {
    caller.require(Role::Admin)?;
    let epoch = parse_epoch(&epoch)?;
    let opts: SettleBody = if body.is_empty() {
        SettleBody::default()
    } else {
        let text =
            std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("body is not UTF-8"))?;
        crate::body::one_document(text)?;
        serde_json::from_str(text).map_err(|e| {
            ApiError::invalid(&[floorline_core::Invalid::new("body", e.to_string())])
        })?
    };
    let started = Instant::now();
    let run = state
        .engine
        .settle(
            epoch,
            &caller.actor(),
            SettleOptions {
                force: opts.force,
                dry_run: false,
            },
        )
        .await?;
    state
        .metrics
        .record_run(&run, started.elapsed().as_secs_f64());
    Ok(Json(run.into()))
}

/// Every term of one machine's figures, each gate with its evidence, its rank.
#[utoipa::path(get, tag = "admin", path = "/v1/admin/epochs/{epoch}/machines/{machine}/explain", params(EpochMachinePath), responses((status = 200, description = "explanation", body = ExplanationBody), (status = 400, description = "not an epoch id", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn explain(
    State(state): State<AppState>,
    Path((epoch, machine)): Path<(String, String)>,
    caller: Caller,
) -> Result<Json<ExplanationBody>, ApiError> {
    caller.require(Role::Admin)?;
    let epoch = parse_epoch(&epoch)?;
    // Outside the identifier charset no machine has the name; never query it.
    if floorline_core::bundle::check_id(&machine).is_err() {
        return Err(ApiError::not_found(format!("machine `{machine}`")));
    }
    Ok(Json(state.engine.explain(epoch, &machine).await?.into()))
}

/// `?drift=true` of the verify endpoint.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// Also recompute from today's facts and list per machine and account
    /// what they would change (`true` or `false`, default false).
    #[serde(default)]
    #[param(required = false)]
    pub drift: bool,
}

/// Recompute each live run from the facts as it read them and compare with
/// what was committed; with `drift=true` also what today's facts would change.
#[utoipa::path(get, tag = "admin", path = "/v1/admin/epochs/{epoch}/verify", params(EpochPath, VerifyQuery), responses((status = 200, description = "verify report (`drift` only with `drift=true`)", body = VerifyReportBody), (status = 400, description = "bad epoch id or query", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, description = "no live settlement of the epoch", body = ErrorBody)), security(("bearer" = [])))]
pub async fn verify(
    State(state): State<AppState>,
    Path(epoch): Path<String>,
    Query(q): Query<VerifyQuery>,
    caller: Caller,
) -> Result<Json<VerifyReportBody>, ApiError> {
    caller.require(Role::Admin)?;
    let epoch = parse_epoch(&epoch)?;
    let opts = floorline_engine::VerifyOptions { drift: q.drift };
    Ok(Json(state.engine.verify_with(epoch, opts).await?.into()))
}

/// A correction of an account's balance.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustBody {
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    pub account_id: String,
    /// Signed µUSD, never 0, within ±`MAX_ADJUSTMENT_MICRO_USD`; negative for a clawback.
    #[schema(minimum = -1_000_000_000_000_000i64, maximum = 1_000_000_000_000_000i64)]
    pub amount_micro_usd: i64,
    #[schema(value_type = AdjustKindName)]
    pub kind: AdjustKind,
    pub reason: String,
    /// An external reference (ticket, invoice).
    #[serde(default)]
    pub reference: Option<String>,
}

/// A correction: a new ledger entry with a reason and the admin who made it.
#[utoipa::path(post, tag = "admin", path = "/v1/admin/adjustments", request_body(content = AdjustBody, content_type = "application/json"), responses((status = 200, description = "the ledger entry", body = LedgerEntryBody), (status = 400, description = "body not UTF-8 or more than one JSON document", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, description = "no such account", body = ErrorBody), (status = 409, description = "the reference is already used by another entry", body = ErrorBody), (status = 422, description = "invalid, e.g. amount_micro_usd beyond ±MAX_ADJUSTMENT_MICRO_USD or taking the balance past it", body = ErrorBody)), security(("bearer" = [])))]
pub async fn adjust(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<LedgerEntryBody>, ApiError> {
    caller.require(Role::Admin)?;
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("body is not UTF-8"))?;
    crate::body::one_document(text)?;
    let b: AdjustBody = floorline_core::bundle::parse_json(text, "").map_err(|e| match e {
        floorline_core::CoreError::Invalid(items) => ApiError::invalid(&items),
        other => ApiError::bad_request(other.to_string()),
    })?;
    let entry = state
        .engine
        .adjust(&Adjust {
            account_id: b.account_id,
            amount_micro_usd: b.amount_micro_usd,
            kind: b.kind,
            reason: b.reason,
            actor: caller.actor(),
            now_ms: state.engine.now().0,
            reference: b.reference,
        })
        .await?;
    Ok(Json(entry.into()))
}

/// A month id (`YYYY-MM`) from a path; a period id is refused.
pub fn parse_month(text: &str) -> Result<EpochId, ApiError> {
    let e = parse_epoch(text)?;
    if e.period() != floorline_core::time::Period::Month {
        let mut err = ApiError::invalid(&[floorline_core::Invalid::new(
            "month",
            format!("`{text}` is a period; a month is YYYY-MM"),
        )]);
        err.status = axum::http::StatusCode::BAD_REQUEST;
        return Err(err);
    }
    Ok(e)
}

/// One period of a month, as the admin page lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeriodRowBody {
    /// The period id (D20), the month itself with `period = "month"`.
    pub epoch: String,
    pub closed: bool,
    pub settled: bool,
    /// Its latest live run, when settled.
    #[schema(required = true)]
    pub run_id: Option<i64>,
    /// The latest live run's pool, else the period's D21 portion of the monthly pool.
    pub pool_micro_usd: i64,
    /// Σ draws over the period's live runs.
    pub used_micro_usd: i64,
    /// `pool − used`, once settled.
    #[schema(required = true)]
    pub unallocated_micro_usd: Option<i64>,
    pub n_draws: i64,
}

impl From<&floorline_engine::PeriodRow> for PeriodRowBody {
    fn from(p: &floorline_engine::PeriodRow) -> PeriodRowBody {
        PeriodRowBody {
            epoch: p.epoch.to_string(),
            closed: p.closed,
            settled: p.settled,
            run_id: p.run_id,
            pool_micro_usd: p.pool_micro_usd,
            used_micro_usd: p.used_micro_usd,
            unallocated_micro_usd: p.unallocated_micro_usd,
            n_draws: p.n_draws,
        }
    }
}

/// Sums over every period of the month (not only the page).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MonthTotalsBody {
    pub n_periods: u64,
    pub n_closed: u64,
    pub n_settled: u64,
    /// Σ pools of every period: the monthly pool (D21) unless a run's pool differed.
    pub pool_micro_usd: i64,
    /// Σ pools of the settled periods.
    pub settled_pool_micro_usd: i64,
    pub used_micro_usd: i64,
    /// Σ unallocated of the settled periods.
    pub unallocated_micro_usd: i64,
}

/// `GET /v1/admin/months/{month}`: the month's periods, paged, and their sums.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MonthPeriodsBody {
    pub month: String,
    /// Policy `period`.
    pub period: PeriodLength,
    pub totals: MonthTotalsBody,
    pub offset: u64,
    pub limit: u32,
    pub periods: Vec<PeriodRowBody>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Rows to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<u64>,
    /// Rows to return, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    if limit == 0 || limit > MAX_PAGE_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE_LIMIT}"
        )));
    }
    Ok(limit)
}

/// `offset` as the document types it (`int64`, ≥ 0): a larger one is
/// refused rather than echoed back beyond its schema (found by schemathesis).
fn page_offset(offset: Option<u64>) -> Result<u64, ApiError> {
    let offset = offset.unwrap_or(0);
    if i64::try_from(offset).is_err() {
        return Err(ApiError::bad_request(format!(
            "offset must be at most {}",
            i64::MAX
        )));
    }
    Ok(offset)
}

/// A month's settlement periods (SPEC §10): each one's pool, used and unallocated, and their sums.
#[utoipa::path(get, tag = "admin", path = "/v1/admin/months/{month}", params(MonthPath, PageQuery), responses((status = 200, description = "the month's periods and their sums", body = MonthPeriodsBody), (status = 400, description = "not a month id, or a bad limit or offset", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn month(
    State(state): State<AppState>,
    Path(month): Path<String>,
    Query(q): Query<PageQuery>,
    caller: Caller,
) -> Result<Json<MonthPeriodsBody>, ApiError> {
    caller.require(Role::Admin)?;
    let month = parse_month(&month)?;
    let limit = page_limit(q.limit)?;
    let offset = page_offset(q.offset)?;
    let m = state.engine.month_periods(month).await?;
    let t = &m.totals;
    Ok(Json(MonthPeriodsBody {
        month: m.month.to_string(),
        period: m.period.into(),
        totals: MonthTotalsBody {
            n_periods: t.n_periods,
            n_closed: t.n_closed,
            n_settled: t.n_settled,
            pool_micro_usd: t.pool_micro_usd,
            settled_pool_micro_usd: t.settled_pool_micro_usd,
            used_micro_usd: t.used_micro_usd,
            unallocated_micro_usd: t.unallocated_micro_usd,
        },
        offset,
        limit,
        periods: m
            .periods
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(PeriodRowBody::from)
            .collect(),
    }))
}

/// One row of a month's statement: a `(machine, account)` pair's draws summed over the month's periods.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MonthDrawBody {
    pub machine_id: String,
    pub account_id: String,
    pub amount_micro_usd: i64,
}

/// One account's draws over the month.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountStatementBody {
    pub account_id: String,
    pub drawn_micro_usd: i64,
}

/// `GET /v1/admin/months/{month}/draws`: the month's statement (D24).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MonthStatementBody {
    pub month: String,
    pub n_periods_with_draws: u64,
    pub drawn_micro_usd: i64,
    /// D19 over the month's draws summed per `(machine_id, account_id)`.
    pub manifest_sha256: String,
    pub accounts: Vec<AccountStatementBody>,
    pub draws: Vec<MonthDrawBody>,
}

impl From<floorline_engine::MonthStatement> for MonthStatementBody {
    fn from(s: floorline_engine::MonthStatement) -> MonthStatementBody {
        MonthStatementBody {
            month: s.month.to_string(),
            n_periods_with_draws: s.n_periods_with_draws,
            drawn_micro_usd: s.drawn_micro_usd,
            manifest_sha256: s.manifest_sha256,
            accounts: s
                .accounts
                .into_iter()
                .map(|a| AccountStatementBody {
                    account_id: a.account_id,
                    drawn_micro_usd: a.drawn_micro_usd,
                })
                .collect(),
            draws: s
                .draws
                .into_iter()
                .map(|d| MonthDrawBody {
                    machine_id: d.machine_id,
                    account_id: d.account_id,
                    amount_micro_usd: d.amount_micro_usd,
                })
                .collect(),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` (default) or `csv`.
    #[param(value_type = Option<BodyFormat>)]
    pub format: Option<String>,
}

/// A month's draws summed per (machine, account) over its periods (D24), as JSON or CSV (`format=csv`).
#[utoipa::path(get, tag = "admin", path = "/v1/admin/months/{month}/draws", params(MonthPath, FormatQuery), responses((status = 200, description = "the month's statement (JSON), or its rows as CSV (`format=csv`)", content((MonthStatementBody = "application/json"), (String = "text/csv"))), (status = 400, description = "not a month id, or a bad format", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn month_draws(
    State(state): State<AppState>,
    Path(month): Path<String>,
    Query(q): Query<FormatQuery>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let month = parse_month(&month)?;
    let statement = state.engine.month_statement(month).await?;
    match q.format.as_deref() {
        Some("csv") => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let fail = |e: csv::Error| ApiError::bad_request(e.to_string());
            w.write_record(["month", "machine_id", "account_id", "amount_micro_usd"])
                .map_err(fail)?;
            let month_text = statement.month.to_string();
            for d in &statement.draws {
                w.write_record([
                    month_text.as_str(),
                    d.machine_id.as_str(),
                    d.account_id.as_str(),
                    d.amount_micro_usd.to_string().as_str(),
                ])
                .map_err(fail)?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            Ok((
                [
                    (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        CONTENT_DISPOSITION,
                        format!("attachment; filename=\"draws-{month_text}.csv\""),
                    ),
                ],
                bytes,
            )
                .into_response())
        }
        None | Some("json") => Ok(Json(MonthStatementBody::from(statement)).into_response()),
        Some(other) => Err(ApiError::bad_request(format!(
            "unknown format `{other}` (json or csv)"
        ))),
    }
}
