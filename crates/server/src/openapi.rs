//! `GET /openapi.json`, generated from the handlers' annotations. The
//! committed `openapi.json` at the repository root is checked against it by a
//! test, so the document cannot drift from the code.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = api.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "floorline", description = "Earnings floors for decentralized compute providers (SPEC §8)."),
    paths(
        crate::healthz,
        crate::metrics,
        crate::ingest::ingest,
        crate::admin::base_rewards,
        crate::admin::epochs,
        crate::admin::epoch_detail,
        crate::admin::draws,
        crate::admin::preview,
        crate::admin::settle,
        crate::admin::verify,
        crate::admin::explain,
        crate::admin::month,
        crate::admin::month_draws,
        crate::admin::adjust,
        crate::provider::machines,
        crate::provider::machine,
        crate::provider::provider_history,
    ),
    components(schemas(
        crate::error::ErrorBody,
        crate::error::ErrorDetail,
        crate::ingest::IngestAnswer,
        crate::ingest::IngestConflict,
        crate::admin::MonthPeriodsBody,
        crate::admin::MonthStatementBody,
        crate::provider::HistoryBody,
        crate::provider::HistoryEpoch,
        crate::provider::HistoryMachine,
        crate::provider::FormerMachineBody,
    )),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

/// The document as pretty JSON (what is committed).
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
