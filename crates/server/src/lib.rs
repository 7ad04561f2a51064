//! floorline-server: the HTTP API (`floorline serve`): ingestion, admin and
//! provider views, `/healthz`, `/metrics`, `/openapi.json` and the dashboard.
//!
//! Invariants: only this crate knows the JSON shapes of the HTTP API; every
//! error answers `{"error": {"code", "message", "index"?, "field"?}}`; every
//! request has a body limit, a batch limit and a timeout; handlers hold no
//! state but caches, so several instances may share one PostgreSQL.

pub mod admin;
pub mod auth;
pub mod body;
pub mod dashboard;
pub mod error;
pub mod http_metrics;
pub mod ingest;
pub mod metrics;
pub mod openapi;
pub mod provider;
pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use floorline_core::facts::EpochFacts;
use floorline_core::plan::Plan;
use floorline_core::{EpochId, Timestamp};
use floorline_engine::config::ServerConfig;
use floorline_engine::Engine;
use tokio::sync::Mutex;
use tower_http::timeout::TimeoutLayer;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// How long a live estimate is served before a recomputation starts. While
/// it runs (seconds for a large fleet), callers keep getting the previous
/// estimate: a provider page never waits for the fleet to be re-planned.
pub const ESTIMATE_TTL: Duration = Duration::from_secs(60);
/// Settled plans kept parsed in memory.
pub const PLAN_CACHE_ENTRIES: usize = 24;

/// The live estimate of the open epoch: the facts as stored, the plan under
/// the "connections stay up" assumption, and where each machine sits in both
/// (a provider view looks up its handful of machines, never scans the fleet).
/// Each machine's rendered view is memoized for the estimate's lifetime.
pub struct Estimate {
    pub facts: EpochFacts,
    pub plan: Plan,
    /// When it was computed: "so far" figures are as of this instant.
    pub as_of: Timestamp,
    /// machine id → (index in `plan.machines`, index in `plan.context.valuations`,
    /// index in `facts.machines` if the machine has stored facts).
    index: HashMap<String, (usize, usize, Option<usize>)>,
    /// Rendered views, by index in `plan.machines`.
    rendered: Vec<OnceLock<Option<String>>>,
    /// account → the machines bound to it at some time in the epoch, sorted.
    held: HashMap<String, Vec<String>>,
}

impl Estimate {
    /// Indexes `facts` and `plan` by machine id.
    pub fn new(facts: EpochFacts, plan: Plan, as_of: Timestamp) -> Estimate {
        let valuation: HashMap<&str, usize> = plan
            .context
            .valuations
            .iter()
            .enumerate()
            .map(|(k, v)| (v.machine_id.as_str(), k))
            .collect();
        let stored: HashMap<&str, usize> = facts
            .machines
            .iter()
            .enumerate()
            .map(|(k, m)| (m.machine_id.as_str(), k))
            .collect();
        let index = plan
            .machines
            .iter()
            .enumerate()
            .filter_map(|(k, m)| {
                let v = *valuation.get(m.machine_id.as_str())?;
                let f = stored.get(m.machine_id.as_str()).copied();
                Some((m.machine_id.clone(), (k, v, f)))
            })
            .collect();
        let rendered = plan.machines.iter().map(|_| OnceLock::new()).collect();
        let (start, end) = (plan.epoch.start().0, plan.epoch.end().0);
        let mut held: HashMap<String, Vec<String>> = HashMap::new();
        for m in &facts.machines {
            let mut accounts: Vec<&str> = m
                .bindings
                .iter()
                .filter(|b| b.overlaps(start, end))
                .map(|b| b.account_id.as_str())
                .collect();
            accounts.sort_unstable();
            accounts.dedup();
            for a in accounts {
                held.entry(a.to_string())
                    .or_default()
                    .push(m.machine_id.clone());
            }
        }
        for machines in held.values_mut() {
            machines.sort_unstable();
        }
        Estimate {
            facts,
            plan,
            as_of,
            index,
            rendered,
            held,
        }
    }

    /// One machine's plan line, valuation and stored facts.
    pub fn machine(
        &self,
        machine_id: &str,
    ) -> Option<(
        &floorline_core::plan::PlanMachine,
        &floorline_core::valuation::Valuation,
        Option<&floorline_core::facts::MachineFacts>,
    )> {
        let &(p, v, f) = self.index.get(machine_id)?;
        Some((
            self.plan.machines.get(p)?,
            self.plan.context.valuations.get(v)?,
            f.and_then(|f| self.facts.machines.get(f)),
        ))
    }

    /// Whether `account` holds `machine_id` at `now_ms` by a binding of this
    /// estimate's facts.
    pub fn owned_now_by(&self, machine_id: &str, account: &str, now_ms: i64) -> bool {
        self.machine(machine_id)
            .and_then(|(_, _, facts)| facts)
            .is_some_and(|f| {
                f.bindings
                    .iter()
                    .any(|b| b.account_id == account && b.covers(now_ms))
            })
    }

    /// The machines bound to `account` at some time in the epoch, sorted (as
    /// of this estimate).
    pub fn held_by(&self, account: &str) -> &[String] {
        self.held.get(account).map_or(&[], Vec::as_slice)
    }

    /// `render(machine_id)`, computed once per machine for this estimate.
    pub fn rendered(
        &self,
        machine_id: &str,
        render: impl FnOnce() -> Option<String>,
    ) -> Option<&str> {
        let &(p, _, _) = self.index.get(machine_id)?;
        self.rendered.get(p)?.get_or_init(render).as_deref()
    }
}

/// The cached estimate and when it was computed.
#[derive(Default)]
struct EstimateSlot {
    current: Option<(EpochId, Instant, Arc<Estimate>)>,
    /// A background recomputation is running.
    refreshing: bool,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub metrics: Arc<Metrics>,
    pub server: ServerConfig,
    estimate: Arc<std::sync::Mutex<EstimateSlot>>,
    /// Held while an estimate is computed, so only one computation runs.
    computing: Arc<Mutex<()>>,
    plans: Arc<Mutex<HashMap<i64, Arc<Plan>>>>,
}

impl AppState {
    pub fn new(engine: Engine) -> AppState {
        let server = engine.config().server.clone();
        AppState {
            engine,
            metrics: Arc::new(Metrics::default()),
            server,
            estimate: Arc::new(std::sync::Mutex::new(EstimateSlot::default())),
            computing: Arc::new(Mutex::new(())),
            plans: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, EstimateSlot> {
        // The slot holds plain data; a panic elsewhere cannot leave it torn.
        self.estimate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The live estimate of `epoch`. A fresh one is returned at once; one
    /// older than [`ESTIMATE_TTL`] is returned too while a single background
    /// task recomputes it; only when there is none for this epoch (start-up,
    /// a new month, after [`AppState::invalidate`]) does the caller wait for
    /// the computation (one at a time; concurrent callers share its result).
    pub async fn estimate(&self, epoch: EpochId) -> Result<Arc<Estimate>, ApiError> {
        {
            let mut slot = self.slot();
            if let Some((e, at, est)) = slot.current.as_ref() {
                if *e == epoch {
                    let est = est.clone();
                    if at.elapsed() >= ESTIMATE_TTL && !slot.refreshing {
                        slot.refreshing = true;
                        let state = self.clone();
                        tokio::spawn(async move {
                            if let Err(e) = state.compute_estimate(epoch).await {
                                tracing::warn!(error = ?e, "Live estimate refresh failed; serving the previous one.");
                            }
                            state.slot().refreshing = false;
                        });
                    }
                    return Ok(est);
                }
            }
        }
        let _one = self.computing.lock().await;
        if let Some((e, _, est)) = self.slot().current.as_ref() {
            if *e == epoch {
                return Ok(est.clone());
            }
        }
        self.compute_estimate_locked(epoch).await
    }

    async fn compute_estimate(&self, epoch: EpochId) -> Result<Arc<Estimate>, ApiError> {
        let _one = self.computing.lock().await;
        self.compute_estimate_locked(epoch).await
    }

    async fn compute_estimate_locked(&self, epoch: EpochId) -> Result<Arc<Estimate>, ApiError> {
        let as_of = self.engine.now();
        let (facts, plan) = self.engine.estimate(epoch).await?;
        let est = Arc::new(Estimate::new(facts, plan, as_of));
        self.slot().current = Some((epoch, Instant::now(), est.clone()));
        Ok(est)
    }

    /// Forgets the cached estimate (after new facts in tests and demos).
    pub async fn invalidate(&self) {
        let _one = self.computing.lock().await;
        self.slot().current = None;
    }

    /// A stored run's plan, parsed once.
    pub async fn run_plan(&self, run_id: i64) -> Result<Arc<Plan>, ApiError> {
        if let Some(p) = self.plans.lock().await.get(&run_id) {
            return Ok(p.clone());
        }
        let text = self.engine.run_plan_json(run_id).await?;
        let plan: Plan = serde_json::from_str(&text).map_err(|e| {
            tracing::error!(run_id, error = %e, "Stored plan does not parse.");
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "stored plan is unreadable",
            )
        })?;
        let plan = Arc::new(plan);
        let mut cache = self.plans.lock().await;
        if cache.len() >= PLAN_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(run_id, plan.clone());
        Ok(plan)
    }
}

/// Liveness and database reachability.
#[utoipa::path(get, tag = "public", path = "/healthz", responses((status = 200, description = "the database answers", body = wire::admin::HealthBody), (status = 503, description = "the database does not answer", body = crate::error::ErrorBody)))]
pub async fn healthz(
    State(state): State<AppState>,
) -> Result<Json<wire::admin::HealthBody>, ApiError> {
    state.engine.watermarks().await.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "database unreachable",
        )
    })?;
    Ok(Json(wire::admin::HealthBody {
        status: wire::admin::HealthStatus::Ok,
    }))
}

/// Prometheus metrics.
#[utoipa::path(get, tag = "public", path = "/metrics", responses((status = 200, description = "Prometheus text format 0.0.4, or OpenMetrics 1.0 when `Accept` prefers it (`metrics::exposition`)", content((String = "text/plain"), (String = "application/openmetrics-text")))))]
pub async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    // Text format 0.0.4 or OpenMetrics 1.0 by `Accept`: the rule is in
    // `metrics::exposition`.
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = metrics::Format::negotiate(accept);
    (
        [
            (CONTENT_TYPE, format.content_type()),
            (axum::http::header::VARY, "accept"),
        ],
        state.metrics.render(&state.engine, format).await,
    )
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// Longest framework rejection text carried into an error message.
const MAX_REJECTION_TEXT: usize = 1024;

/// Answers the framework writes itself — an unmatched method (405), a path
/// or query that does not decode (400), a body over the limit met by a plain
/// extractor (413), the request timeout (408) — carry plain text or nothing.
/// This gives them the stable error body too; the handlers' own errors are
/// JSON already and pass through untouched.
async fn stable_error_body(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, MAX_REJECTION_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let code = match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "timeout",
        413 => "too_large",
        415 => "unsupported_media_type",
        422 => "invalid",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "bad_request",
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    let mut out = ApiError::new(status, code, message).into_response();
    // Keep what else the framework said (`Allow` on a 405).
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// A request that announces a body over `max_body_bytes` (`Content-Length`)
/// is answered 413 at once: its body is never read, nor waited for until the
/// request timeout. (A body without a length, or one that lies, is still cut
/// off at the limit as it is read.)
async fn refuse_announced_oversize(
    max_body_bytes: usize,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let limit = u64::try_from(max_body_bytes).unwrap_or(u64::MAX);
    let announced = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match announced {
        Some(n) if n > limit => ApiError::too_large(format!(
            "request body of {n} bytes is over the limit of {limit} bytes"
        ))
        .into_response(),
        _ => next.run(req).await,
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let limits = state.server.clone();
    let max_body_bytes = limits.max_body_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi::serve))
        .merge(ingest::routes())
        .route("/v1/admin/base-rewards", get(admin::base_rewards))
        .route("/v1/admin/epochs", get(admin::epochs))
        .route("/v1/admin/epochs/{epoch}", get(admin::epoch_detail))
        .route("/v1/admin/epochs/{epoch}/draws", get(admin::draws))
        .route("/v1/admin/epochs/{epoch}/preview", post(admin::preview))
        .route("/v1/admin/epochs/{epoch}/settle", post(admin::settle))
        .route("/v1/admin/epochs/{epoch}/verify", get(admin::verify))
        .route(
            "/v1/admin/epochs/{epoch}/machines/{machine}/explain",
            get(admin::explain),
        )
        .route("/v1/admin/months/{month}", get(admin::month))
        .route("/v1/admin/months/{month}/draws", get(admin::month_draws))
        .route("/v1/admin/adjustments", post(admin::adjust))
        .route("/v1/provider/machines", get(provider::machines))
        .route("/v1/provider/machines/{machine}", get(provider::machine))
        .route("/v1/provider/history", get(provider::provider_history))
        .merge(dashboard::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(limits.request_timeout_ms),
        ))
        .layer(axum::middleware::from_fn(move |req, next| {
            refuse_announced_oversize(max_body_bytes, req, next)
        }))
        .layer(axum::middleware::map_response(stable_error_body))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            http_metrics::track,
        ))
        .with_state(state)
}

/// Pause after a failed `accept` (out of file descriptors, say) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `router(state)` on `listener` until `shutdown` completes; requests
/// in flight finish first (an accepted batch is never cut off), idle
/// connections close at once.
///
/// Request headers must arrive within `request_timeout_ms` (hyper's
/// header-read timeout; a slow-headers client is disconnected), and a whole
/// request within the same time ([`router`]'s timeout layer, 408). This is
/// why the server drives hyper itself rather than `axum::serve`, which runs
/// hyper without a timer and so without a header-read timeout.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper::server::conn::http1;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(state.server.request_timeout_ms));
    let app = router(state);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "Accepting a connection failed; retrying.");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let conn =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "Connection ended with an error.");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
