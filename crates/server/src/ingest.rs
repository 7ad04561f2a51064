//! `POST /v1/ingest/{machines,aliases,bindings,sessions,health,earnings,probes,watermarks}`:
//! one operation per fact kind, each a JSON array of facts of that kind (SPEC §2),
//! validated whole (422 naming `index` and `field`, nothing written),
//! idempotent (re-sent facts are duplicates), refinements applied in place
//! and counted (`refined`: a heartbeat, a disconnect, a binding's end),
//! conflicts reported per item,
//! unknown fields named in the answer (`ignored_fields`). The routes are
//! those of `FactKind::ALL`, each calling [`ingest`] with its kind; the
//! eight thin handlers name each kind's request schema (`wire::facts`) for
//! the OpenAPI document, and a test holds the two lists equal. An unknown
//! kind matches no route (404, the error body).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use floorline_core::FactKind;
use floorline_store::{Conflict, IngestReport, Role};
use serde::Serialize;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::wire::facts::{
    AliasesBatch, BindingsBatch, EarningsBatch, HealthBatch, MachinesBatch, ProbesBatch,
    SessionsBatch, WatermarksBatch,
};
use crate::AppState;

/// Maps a body extraction failure to the stable error body (413 over the limit).
pub fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large("request body is over the limit")
    } else {
        ApiError::bad_request(rejection.body_text())
    }
}

/// The answer to an ingested batch (SPEC §8).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestAnswer {
    /// New facts written.
    pub accepted: u64,
    /// Facts refined in place (a heartbeat, a `disconnected_at`, a binding's `to`; SPEC §2).
    pub refined: u64,
    /// Identical re-sent facts (no-ops).
    pub duplicates: u64,
    /// Items whose key is taken by a different payload; not written.
    pub conflicts: Vec<IngestConflict>,
    /// Names of fields of the batch's items that no fact of this kind has and
    /// that were ignored, deduplicated and sorted (a typo such as `disconected_at`).
    pub ignored_fields: Vec<String>,
}

/// One conflicting item of a batch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestConflict {
    /// Position of the item in the batch.
    pub index: usize,
    /// The fact's key, e.g. `job-17`.
    pub key: String,
    pub reason: String,
}

impl From<Conflict> for IngestConflict {
    fn from(c: Conflict) -> IngestConflict {
        IngestConflict {
            index: c.index,
            key: c.key,
            reason: c.reason,
        }
    }
}

impl IngestAnswer {
    fn new(report: IngestReport, ignored_fields: Vec<String>) -> IngestAnswer {
        IngestAnswer {
            accepted: report.accepted,
            refined: report.refined,
            duplicates: report.duplicates,
            conflicts: report.conflicts.into_iter().map(Into::into).collect(),
            ignored_fields,
        }
    }
}

/// Ingests a batch of `kind`: the role, then the body, then the engine's
/// parse and write (SPEC §8).
pub async fn ingest(
    state: AppState,
    kind: FactKind,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestAnswer>, ApiError> {
    caller.require(Role::Ingest)?;
    let body = body.map_err(body_error)?;
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("body is not UTF-8"))?;
    let ignored_fields = crate::body::unknown_item_fields(text, Some(kind.fields()))?;
    let report = state
        .engine
        .ingest_json(kind, text, state.server.max_batch_items)
        .await?;
    let m = &state.metrics;
    m.count_ingested_probes(kind.as_str(), text, &report);
    m.count_ingest(kind.as_str(), "accepted", report.accepted);
    m.count_ingest(kind.as_str(), "refined", report.refined);
    m.count_ingest(kind.as_str(), "duplicate", report.duplicates);
    m.count_ingest(
        kind.as_str(),
        "conflict",
        u64::try_from(report.conflicts.len()).unwrap_or(u64::MAX),
    );
    Ok(Json(IngestAnswer::new(report, ignored_fields)))
}

/// One thin handler per kind, with its OpenAPI operation. (`tt` fragments,
/// so that the path and the schema reach `utoipa::path` as plain tokens.)
macro_rules! ingest_kind {
    ($name:ident, $kind:expr, $path:tt, $batch:tt, $summary:tt) => {
        #[doc = $summary]
        #[utoipa::path(
            post,
            path = $path,
            tag = "ingest",
            request_body(content = $batch, description = "A JSON array of facts of this kind (SPEC §2); unknown fields are ignored and named in `ignored_fields`", content_type = "application/json"),
            responses(
                (status = 200, description = "What was written, refined, re-sent, refused and ignored", body = IngestAnswer),
                (status = 400, description = "Not UTF-8, or more than one JSON document", body = crate::error::ErrorBody),
                (status = 401, description = "No or bad key", body = crate::error::ErrorBody),
                (status = 403, description = "Not an ingest key", body = crate::error::ErrorBody),
                (status = 408, description = "The request took longer than `request_timeout_ms`", body = crate::error::ErrorBody),
                (status = 413, description = "Body or batch over the limit", body = crate::error::ErrorBody),
                (status = 422, description = "Invalid; nothing written", body = crate::error::ErrorBody),
            ),
            security(("bearer" = []))
        )]
        pub async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            body: Result<Bytes, BytesRejection>,
        ) -> Result<Json<IngestAnswer>, ApiError> {
            ingest(state, $kind, caller, body).await
        }
    };
}

ingest_kind!(
    ingest_machines,
    FactKind::Machines,
    "/v1/ingest/machines",
    MachinesBatch,
    "Ingest attestations (machines)."
);
ingest_kind!(
    ingest_aliases,
    FactKind::Aliases,
    "/v1/ingest/aliases",
    AliasesBatch,
    "Ingest aliases (provider keys naming machines)."
);
ingest_kind!(
    ingest_bindings,
    FactKind::Bindings,
    "/v1/ingest/bindings",
    BindingsBatch,
    "Ingest bindings (who is paid for a machine)."
);
ingest_kind!(ingest_sessions, FactKind::Sessions, "/v1/ingest/sessions", SessionsBatch, "Ingest sessions; a re-sent session with a later `last_seen_at` or a `disconnected_at` is refined.");
ingest_kind!(
    ingest_health,
    FactKind::Health,
    "/v1/ingest/health",
    HealthBatch,
    "Ingest health transitions."
);
ingest_kind!(
    ingest_earnings,
    FactKind::Earnings,
    "/v1/ingest/earnings",
    EarningsBatch,
    "Ingest earnings (paid jobs)."
);
ingest_kind!(
    ingest_probes,
    FactKind::Probes,
    "/v1/ingest/probes",
    ProbesBatch,
    "Ingest probe verdicts."
);
ingest_kind!(
    ingest_watermarks,
    FactKind::Watermarks,
    "/v1/ingest/watermarks",
    WatermarksBatch,
    "Ingest watermarks (a source has sent everything up to a time)."
);

/// The routes of ingestion, one per kind of [`FactKind::ALL`]
/// (`/v1/ingest/{kind}`); the handlers above are their OpenAPI operations.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::post;
    FactKind::ALL
        .into_iter()
        .fold(axum::Router::new(), |router, kind| {
            router.route(
                &format!("/v1/ingest/{kind}"),
                post(
                    move |State(state): State<AppState>,
                          caller: Caller,
                          body: Result<Bytes, BytesRejection>| {
                        ingest(state, kind, caller, body)
                    },
                ),
            )
        })
}
