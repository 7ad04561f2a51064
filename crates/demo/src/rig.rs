//! The probe rig: the reference provider (`floorline_prober::reference`)
//! answering as the fleet's machines, behind a small dispatcher on loopback
//! that routes each probe by its `machine_id` — honest machines to the
//! honest provider, the planted bad-signature machines to a provider that
//! signs with another key or not at all, self-dealers (who never load a
//! model) to a 503 — and the `floorline.toml` text that points the engine's
//! prober at it.
//!
//! Invariants: binds only to `127.0.0.1`; the catalog's `expected_sha256`
//! is the hash of the reference provider's exact answer
//! ([`KnownAnswer::catalog_entry`]); no entry carries `min_memory_gb`, so a
//! probe proves work, never memory (the manifest relies on it).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use floorline_prober::protocol::{CatalogEntry, ProviderRefusal};
use floorline_prober::reference::{Behaviour, KnownAnswer, ReferenceProvider, PROBE_PATH};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::fleet::{Fleet, ProbeRoute};
use crate::DemoError;

/// The probe timeout the demo's prober uses, ms.
pub const PROBE_TIMEOUT_MS: u64 = 10_000;

/// The known answers: several prompts per model, so an answer cannot be
/// cached ahead.
pub fn known_answers() -> Vec<KnownAnswer> {
    [
        (
            "llama-3.2-3b",
            "Name the capital of France.",
            "The capital of France is Paris.",
        ),
        (
            "llama-3.2-3b",
            "What is 17 times 23?",
            "17 times 23 is 391.",
        ),
        ("llama-3.2-3b", "Spell 'floor' backwards.", "roolf"),
        (
            "qwen2.5-7b",
            "Name the largest planet in the solar system.",
            "Jupiter is the largest planet in the solar system.",
        ),
        (
            "qwen2.5-7b",
            "What is the chemical symbol for gold?",
            "The chemical symbol for gold is Au.",
        ),
        (
            "qwen2.5-7b",
            "Complete: the quick brown fox",
            "jumps over the lazy dog.",
        ),
        (
            "mistral-small-24b",
            "How many sides does a hexagon have?",
            "A hexagon has six sides.",
        ),
        (
            "mistral-small-24b",
            "Translate 'good morning' into French.",
            "Bonjour.",
        ),
        (
            "mistral-small-24b",
            "What year did the Apollo 11 mission land on the Moon?",
            "Apollo 11 landed on the Moon in 1969.",
        ),
    ]
    .into_iter()
    .map(|(model, prompt, text)| KnownAnswer::new(model, prompt, text))
    .collect()
}

/// The catalog matching [`known_answers`] (no `min_memory_gb`).
pub fn catalog() -> Vec<CatalogEntry> {
    known_answers()
        .iter()
        .map(|a| a.catalog_entry(None))
        .collect()
}

struct Dispatch {
    routes: HashMap<String, ProbeRoute>,
    honest: Router,
    wrong_key: Router,
    unsigned: Router,
}

/// The running rig; stops when dropped.
pub struct ProbeRig {
    /// `http://127.0.0.1:PORT/probe`.
    pub dispatch_url: String,
    pub catalog: Vec<CatalogEntry>,
    cancel: CancellationToken,
}

impl Drop for ProbeRig {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl ProbeRig {
    /// Starts the providers and the dispatcher for `fleet`.
    pub async fn start(fleet: &Fleet) -> Result<ProbeRig, DemoError> {
        let honest =
            ReferenceProvider::new(fleet.provider_key.clone(), known_answers()).with_machine_keys();
        let dispatch = Dispatch {
            routes: fleet
                .machines
                .iter()
                .map(|m| (m.machine_id.clone(), m.route))
                .collect(),
            honest: honest.router(),
            wrong_key: honest.clone().with_behaviour(Behaviour::WrongKey).router(),
            unsigned: honest.clone().with_behaviour(Behaviour::Unsigned).router(),
        };
        let app = Router::new()
            .route(PROBE_PATH, post(dispatch_probe))
            .with_state(Arc::new(dispatch));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| DemoError::io("binding the probe dispatcher", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| DemoError::io("probe dispatcher address", e))?;
        let cancel = CancellationToken::new();
        let stop = cancel.clone().cancelled_owned();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::warn!(error = %e, "Probe dispatcher stopped with an error.");
            }
        });
        Ok(ProbeRig {
            dispatch_url: format!("http://{addr}{PROBE_PATH}"),
            catalog: catalog(),
            cancel,
        })
    }

    /// The `floorline.toml` of the demo: live settlement, the prober pointed
    /// at this rig, the default policy.
    pub fn config_toml(&self, listen: &str) -> Result<String, DemoError> {
        let mut settlement = toml::Table::new();
        settlement.insert("mode".into(), "live".into());
        let mut prober = toml::Table::new();
        prober.insert("dispatch_url".into(), self.dispatch_url.clone().into());
        prober.insert(
            "timeout_ms".into(),
            toml::Value::Integer(i64::try_from(PROBE_TIMEOUT_MS).unwrap_or(10_000)),
        );
        prober.insert("max_in_flight".into(), toml::Value::Integer(8));
        prober.insert("rate_per_minute".into(), toml::Value::Integer(6_000));
        let entries = self
            .catalog
            .iter()
            .map(toml::Value::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DemoError::Setup(format!("catalog as TOML: {e}")))?;
        prober.insert("catalog".into(), toml::Value::Array(entries));
        let mut server = toml::Table::new();
        server.insert("listen".into(), listen.into());
        let mut root = toml::Table::new();
        root.insert("settlement".into(), toml::Value::Table(settlement));
        root.insert("prober".into(), toml::Value::Table(prober));
        root.insert("server".into(), toml::Value::Table(server));
        toml::to_string(&root).map_err(|e| DemoError::Setup(format!("config as TOML: {e}")))
    }
}

async fn dispatch_probe(State(d): State<Arc<Dispatch>>, body: Bytes) -> Response {
    let machine = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("machine_id")?.as_str().map(str::to_owned));
    let route = machine.as_deref().and_then(|m| d.routes.get(m).copied());
    let router = match route {
        Some(ProbeRoute::Honest) => d.honest.clone(),
        Some(ProbeRoute::WrongKey) => d.wrong_key.clone(),
        Some(ProbeRoute::Unsigned) => d.unsigned.clone(),
        Some(ProbeRoute::NotServing) => {
            let body = ProviderRefusal::new("not_serving", "the machine has no model loaded");
            return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
        }
        None => {
            let body = ProviderRefusal::new("unknown_machine", "no such machine is connected");
            return (StatusCode::NOT_FOUND, Json(body)).into_response();
        }
    };
    let request = Request::builder()
        .method("POST")
        .uri(PROBE_PATH)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(body));
    match request {
        Ok(request) => match router.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
