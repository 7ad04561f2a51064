//! `POST /v1/ingest/{kind}`: a JSON array of facts of one kind (SPEC §2),
//! validated whole (422 naming `index` and `field`, nothing written),
//! idempotent (re-sent facts are duplicates), conflicts reported per item.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use floorline_engine::ingest::FactKind;
use floorline_store::{IngestReport, Role};

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

/// Ingest a batch of facts.
#[utoipa::path(
    post,
    path = "/v1/ingest/{kind}",
    params(("kind" = String, Path, description = "machines, aliases, bindings, sessions, health, earnings, probes or watermarks")),
    request_body(content = String, description = "A JSON array of facts of this kind, field names of SPEC §2", content_type = "application/json"),
    responses(
        (status = 200, description = "{accepted, duplicates, conflicts: [{index, key, reason}]}"),
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
) -> Result<Json<IngestReport>, ApiError> {
    caller.require(Role::Ingest)?;
    let kind = FactKind::parse(&kind)
        .ok_or_else(|| ApiError::not_found(format!("no fact kind `{kind}`")))?;
    let body = body.map_err(body_error)?;
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("body is not UTF-8"))?;
    let report = state
        .engine
        .ingest_json(kind, text, state.server.max_batch_items)
        .await?;
    let m = &state.metrics;
    m.count_ingest(kind.as_str(), "accepted", report.accepted);
    m.count_ingest(kind.as_str(), "duplicate", report.duplicates);
    m.count_ingest(
        kind.as_str(),
        "conflict",
        u64::try_from(report.conflicts.len()).unwrap_or(u64::MAX),
    );
    Ok(Json(report))
}
