//! `POST /v1/ingest/{kind}`: a JSON array of facts of one kind (SPEC §2),
//! validated whole (422 naming `index` and `field`, nothing written),
//! idempotent (re-sent facts are duplicates), refinements applied in place
//! and counted (`refined`: a heartbeat, a disconnect, a binding's end),
//! conflicts reported per item,
//! unknown fields named in the answer (`ignored_fields`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use floorline_engine::ingest::FactKind;
use floorline_store::{Conflict, IngestReport, Role};
use serde::Serialize;

use crate::auth::Caller;
use crate::error::ApiError;
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

/// Ingest a batch of facts.
#[utoipa::path(
    post,
    path = "/v1/ingest/{kind}",
    params(("kind" = String, Path, description = "machines, aliases, bindings, sessions, health, earnings, probes or watermarks")),
    request_body(content = String, description = "A JSON array of facts of this kind, field names of SPEC §2", content_type = "application/json"),
    responses(
        (status = 200, description = "What was written, refined, re-sent, refused and ignored", body = IngestAnswer),
        (status = 400, description = "Not UTF-8, or more than one JSON document", body = crate::error::ErrorBody),
        (status = 401, description = "No or bad key", body = crate::error::ErrorBody),
        (status = 403, description = "Not an ingest key", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown kind", body = crate::error::ErrorBody),
        (status = 413, description = "Body or batch over the limit", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid; nothing written", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn ingest(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestAnswer>, ApiError> {
    caller.require(Role::Ingest)?;
    let kind = FactKind::parse(&kind)
        .ok_or_else(|| ApiError::not_found(format!("no fact kind `{kind}`")))?;
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
