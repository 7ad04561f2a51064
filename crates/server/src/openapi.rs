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

/// A settlement's body may be left out (an empty body is `{"force":
/// false}`), but when sent it is a `SettleBody`, never `null`: utoipa can
/// only say "optional" through `Option`, which also means nullable, so the
/// body is declared as `SettleBody` and marked optional here.
struct OptionalSettleBody;

impl Modify for OptionalSettleBody {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let body = api
            .paths
            .paths
            .get_mut("/v1/admin/epochs/{epoch}/settle")
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.request_body.as_mut());
        if let Some(body) = body {
            body.required = Some(utoipa::openapi::Required::False);
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "floorline", description = "Earnings floors for decentralized compute providers (SPEC §8)."),
    paths(
        crate::healthz,
        crate::metrics,
        crate::ingest::ingest_machines,
        crate::ingest::ingest_aliases,
        crate::ingest::ingest_bindings,
        crate::ingest::ingest_sessions,
        crate::ingest::ingest_health,
        crate::ingest::ingest_earnings,
        crate::ingest::ingest_probes,
        crate::ingest::ingest_watermarks,
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
        crate::wire::facts::MachineIn,
        crate::wire::facts::AliasIn,
        crate::wire::facts::BindingIn,
        crate::wire::facts::SessionIn,
        crate::wire::facts::HealthIn,
        crate::wire::facts::EarningIn,
        crate::wire::facts::ProbeIn,
        crate::wire::facts::WatermarkIn,
        crate::wire::enums::BodyFormat,
        crate::admin::MonthPeriodsBody,
        crate::admin::MonthStatementBody,
        crate::provider::HistoryBody,
        crate::provider::HistoryEpoch,
        crate::provider::HistoryMachine,
        crate::provider::FormerMachineBody,
    )),
    modifiers(&Bearer, &OptionalSettleBody)
)]
pub struct ApiDoc;

/// The document as pretty JSON (what is committed).
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
