//! The one error type of the HTTP edge. Every failure answers with a stable
//! JSON body `{"error": {"code", "message", "index"?, "field"?}}` and never
//! leaks internals (database errors are logged, not returned).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use floorline_core::{CoreError, Invalid};
use floorline_engine::EngineError;
use floorline_store::StoreError;
use serde::Serialize;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub index: Option<usize>,
    pub field: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code (`invalid`, `unauthorized`, `forbidden`, `not_found`, `too_large`, …).
    pub code: String,
    pub message: String,
    /// Position of the offending item in a batch (absent, never `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub index: Option<usize>,
    /// The offending field (`amount_micro_usd`; absent, never `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            index: None,
            field: None,
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 422 naming the first problem's item and field (all problems in the message).
    pub fn invalid(items: &[Invalid]) -> ApiError {
        let (index, field) = items
            .first()
            .map(|i| split_path(&i.path))
            .unwrap_or((None, None));
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid",
            message: CoreError::Invalid(items.to_vec()).to_string(),
            index,
            field,
        }
    }

    fn internal(what: &str) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", what)
    }
}

/// `earnings[3].amount_micro_usd` or `[3].amount_micro_usd` → (3, "amount_micro_usd").
pub fn split_path(path: &str) -> (Option<usize>, Option<String>) {
    let Some(open) = path.find('[') else {
        return (
            None,
            Some(path.to_string()).filter(|p| !p.is_empty() && p != "."),
        );
    };
    let rest = path.get(open.saturating_add(1)..).unwrap_or_default();
    let Some(close) = rest.find(']') else {
        return (None, None);
    };
    let index = rest.get(..close).and_then(|n| n.parse().ok());
    let field = rest
        .get(close.saturating_add(1)..)
        .map(|f| f.trim_start_matches('.').to_string())
        .filter(|f| !f.is_empty());
    (index, field)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                index: self.index,
                field: self.field,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Invalid(items) => ApiError::invalid(&items),
            StoreError::BatchTooLarge { .. } => ApiError::too_large(e.to_string()),
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::Conflict(_) | StoreError::AlreadySettled { .. } => {
                ApiError::conflict(e.to_string())
            }
            StoreError::Locked(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the database is busy; retry",
            ),
            other => {
                tracing::error!(error = %other, "Store failure.");
                ApiError::internal("internal error")
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::Store(s) => s.into(),
            EngineError::Invalid(items) => ApiError::invalid(&items),
            EngineError::NotFound(m) => ApiError::not_found(m),
            EngineError::NotClosed(_) | EngineError::AwaitingWatermarks { .. } => {
                ApiError::conflict(e.to_string())
            }
            other => {
                tracing::error!(error = %other, "Engine failure.");
                ApiError::internal("internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_index_and_field() {
        assert_eq!(
            split_path("earnings[3].amount_micro_usd"),
            (Some(3), Some("amount_micro_usd".into()))
        );
        assert_eq!(split_path("[0].at"), (Some(0), Some("at".into())));
        assert_eq!(split_path("[12]"), (Some(12), None));
        assert_eq!(split_path("policy.k"), (None, Some("policy.k".into())));
    }
}
