//! floorline-server: the HTTP API (`floorline serve`): ingestion, admin and
//! provider views, `/healthz`, `/metrics`, `/openapi.json` and the dashboard.
//!
//! Invariants: only this crate knows the JSON shapes of the HTTP API; every
//! error answers `{"error": {"code", "message", "index"?, "field"?}}`; every
//! request has a body limit, a batch limit and a timeout; handlers hold no
//! state but caches, so several instances may share one PostgreSQL.

pub mod admin;
pub mod auth;
pub mod dashboard;
pub mod error;
pub mod ingest;
pub mod metrics;
pub mod openapi;
pub mod provider;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use floorline_core::facts::EpochFacts;
use floorline_core::plan::Plan;
use floorline_core::EpochId;
use floorline_engine::config::ServerConfig;
use floorline_engine::Engine;
use serde_json::json;
use tokio::sync::Mutex;
use tower_http::timeout::TimeoutLayer;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// How long a live estimate is reused before it is recomputed.
pub const ESTIMATE_TTL: Duration = Duration::from_secs(60);
/// Settled plans kept parsed in memory.
pub const PLAN_CACHE_ENTRIES: usize = 24;

type Estimate = Arc<(EpochFacts, Plan)>;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub metrics: Arc<Metrics>,
    pub server: ServerConfig,
    estimate: Arc<Mutex<Option<(EpochId, Instant, Estimate)>>>,
    plans: Arc<Mutex<HashMap<i64, Arc<Plan>>>>,
}

impl AppState {
    pub fn new(engine: Engine) -> AppState {
        let server = engine.config().server.clone();
        AppState {
            engine,
            metrics: Arc::new(Metrics::default()),
            server,
            estimate: Arc::new(Mutex::new(None)),
            plans: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The live estimate of the open epoch, recomputed at most every [`ESTIMATE_TTL`]
    /// (one computation at a time; concurrent callers wait for it).
    pub async fn estimate(&self, epoch: EpochId) -> Result<Estimate, ApiError> {
        let mut slot = self.estimate.lock().await;
        if let Some((e, at, est)) = slot.as_ref() {
            if *e == epoch && at.elapsed() < ESTIMATE_TTL {
                return Ok(est.clone());
            }
        }
        let (mut facts, plan) = self.engine.estimate(epoch).await?;
        facts
            .machines
            .sort_by(|a, b| a.machine_id.cmp(&b.machine_id));
        let est = Arc::new((facts, plan));
        *slot = Some((epoch, Instant::now(), est.clone()));
        Ok(est)
    }

    /// Forgets cached estimates (after new facts in tests and demos).
    pub async fn invalidate(&self) {
        *self.estimate.lock().await = None;
    }

    /// A stored run's plan, parsed once.
    pub async fn run_plan(&self, run_id: i64) -> Result<Arc<Plan>, ApiError> {
        if let Some(p) = self.plans.lock().await.get(&run_id) {
            return Ok(p.clone());
        }
        let text = self.engine.store().run_plan_json(run_id).await?;
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
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "{\"status\": \"ok\"}"), (status = 503, body = crate::error::ErrorBody)))]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state.engine.store().watermarks().await.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "database unreachable",
        )
    })?;
    Ok(Json(json!({"status": "ok"})))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
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

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let limits = state.server.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi::serve))
        .route("/v1/ingest/{kind}", post(ingest::ingest))
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
        .layer(axum::middleware::map_response(stable_error_body))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` completes; requests
/// in flight finish first (an accepted batch is never cut off).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
