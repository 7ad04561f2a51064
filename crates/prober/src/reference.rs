//! A reference provider: an axum app that answers probes the way SPEC §7
//! says a provider must, or misbehaves in one chosen way. Used by the tests,
//! the benchmark and demos; a guide for provider authors.
//!
//! Invariants:
//! - [`Behaviour::Honest`] always passes [`crate::verdict::judge`] for a
//!   known (model, prompt); every other behaviour fails with exactly its
//!   [`Behaviour::expected_failure`].
//! - The provider never sees a private key other than its own and the
//!   deterministic "wrong" key derived from it.
//! - [`ProviderStats`] counts every request that reached the handler, and
//!   which of them were dropped before answering (the client went away).
//! - Binds only to `127.0.0.1`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::protocol::{
    sha256_hex, signed_message, CatalogEntry, ProbeRequest, ProbeResponse, ProviderRefusal,
};
use crate::signature::{encode_spki, encode_x963, sign_b64, KeyError, SigningKey};
use crate::verdict::Failure;

/// The path the provider serves probes on.
pub const PROBE_PATH: &str = "/probe";
/// How long [`Behaviour::TooSlow`] sleeps: longer than any allowed timeout.
pub const TOO_SLOW_SLEEP: Duration = Duration::from_secs(3_600);
/// The nonce [`Behaviour::ReplayNonce`] echoes before it has seen one.
pub const STALE_NONCE: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How the provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Behaviour {
    /// Correct answer, correct hash, signed with its own key.
    Honest,
    /// Signs with another key → `bad_signature`.
    WrongKey,
    /// Echoes the previous request's nonce (a replay) → `nonce_mismatch`.
    ReplayNonce,
    /// A different, correctly hashed and signed answer → `wrong_answer`.
    WrongAnswer,
    /// A `response_sha256` that is not the hash of `text` → `hash_mismatch`.
    HashMismatch,
    /// Sleeps past any timeout → `timeout`.
    TooSlow,
    /// Omits the signature → `bad_signature`.
    Unsigned,
}

impl Behaviour {
    pub const ALL: [Behaviour; 7] = [
        Behaviour::Honest,
        Behaviour::WrongKey,
        Behaviour::ReplayNonce,
        Behaviour::WrongAnswer,
        Behaviour::HashMismatch,
        Behaviour::TooSlow,
        Behaviour::Unsigned,
    ];

    /// The verdict this behaviour earns (`None` = passes).
    pub const fn expected_failure(self) -> Option<Failure> {
        match self {
            Behaviour::Honest => None,
            Behaviour::WrongKey | Behaviour::Unsigned => Some(Failure::BadSignature),
            Behaviour::ReplayNonce => Some(Failure::NonceMismatch),
            Behaviour::WrongAnswer => Some(Failure::WrongAnswer),
            Behaviour::HashMismatch => Some(Failure::HashMismatch),
            Behaviour::TooSlow => Some(Failure::Timeout),
        }
    }
}

/// A (model, prompt) the provider can answer, and its exact answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownAnswer {
    pub model: String,
    pub prompt: String,
    pub text: String,
}

impl KnownAnswer {
    pub fn new(model: &str, prompt: &str, text: &str) -> Self {
        Self {
            model: model.to_owned(),
            prompt: prompt.to_owned(),
            text: text.to_owned(),
        }
    }

    /// The catalog entry whose expected hash is this answer's.
    pub fn catalog_entry(&self, min_memory_gb: Option<u32>) -> CatalogEntry {
        CatalogEntry {
            model: self.model.clone(),
            prompt: self.prompt.clone(),
            expected_sha256: sha256_hex(&self.text),
            min_memory_gb,
        }
    }
}

/// Counters shared between the app and its owner.
#[derive(Debug, Default)]
pub struct ProviderStats {
    requests: AtomicU64,
    answered: AtomicU64,
    dropped: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    same_machine_overlaps: AtomicU64,
    by_machine: Mutex<HashMap<String, u64>>,
}

impl ProviderStats {
    /// Requests that reached the handler.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
    /// Requests answered (any status).
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::SeqCst)
    }
    /// Requests whose handler was dropped before answering: the client went
    /// away (e.g. a timed-out probe closed its connection).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::SeqCst)
    }
    /// The most requests ever handled at once.
    pub fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::SeqCst)
    }
    /// Times a request arrived for a machine that already had one in flight.
    pub fn same_machine_overlaps(&self) -> u64 {
        self.same_machine_overlaps.load(Ordering::SeqCst)
    }
    /// Requests seen per `machine_id`.
    pub fn requests_by_machine(&self) -> HashMap<String, u64> {
        self.by_machine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Tracks one request; counts it as dropped unless [`Visit::answered`] ran.
struct Visit {
    stats: Arc<ProviderStats>,
    machine_id: String,
    active: Arc<Mutex<HashMap<String, u64>>>,
    answered: bool,
}

impl Visit {
    fn begin(
        stats: &Arc<ProviderStats>,
        active: &Arc<Mutex<HashMap<String, u64>>>,
        machine_id: &str,
    ) -> Self {
        stats.requests.fetch_add(1, Ordering::SeqCst);
        let now = stats
            .in_flight
            .fetch_add(1, Ordering::SeqCst)
            .saturating_add(1);
        stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
        {
            let mut seen = stats
                .by_machine
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let n = seen.entry(machine_id.to_owned()).or_insert(0);
            *n = n.saturating_add(1);
        }
        let mut running = active.lock().unwrap_or_else(PoisonError::into_inner);
        let n = running.entry(machine_id.to_owned()).or_insert(0);
        if *n > 0 {
            stats.same_machine_overlaps.fetch_add(1, Ordering::SeqCst);
        }
        *n = n.saturating_add(1);
        Self {
            stats: Arc::clone(stats),
            machine_id: machine_id.to_owned(),
            active: Arc::clone(active),
            answered: false,
        }
    }

    fn answered(mut self) {
        self.answered = true;
        self.stats.answered.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Visit {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Ordering::SeqCst);
        if !self.answered {
            self.stats.dropped.fetch_add(1, Ordering::SeqCst);
        }
        let mut running = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = running.get_mut(&self.machine_id) {
            *n = n.saturating_sub(1);
        }
    }
}

struct Inner {
    key: SigningKey,
    wrong_key: SigningKey,
    /// Sign with [`machine_key`]`(key, machine_id)` instead of `key`: one
    /// Secure Enclave key per machine, as real hardware has (SPEC D12).
    per_machine: bool,
    answers: HashMap<(String, String), String>,
    behaviour: Behaviour,
    latency: Duration,
    last_nonce: Mutex<Option<String>>,
    stats: Arc<ProviderStats>,
    active: Arc<Mutex<HashMap<String, u64>>>,
}

/// The reference provider app.
#[derive(Clone)]
pub struct ReferenceProvider {
    inner: Arc<Inner>,
}

impl ReferenceProvider {
    /// An honest provider with no added latency.
    pub fn new(key: SigningKey, answers: impl IntoIterator<Item = KnownAnswer>) -> Self {
        let wrong_key = derive_wrong_key(&key);
        let answers = answers
            .into_iter()
            .map(|a| ((a.model, a.prompt), a.text))
            .collect();
        Self {
            inner: Arc::new(Inner {
                key,
                wrong_key,
                per_machine: false,
                answers,
                behaviour: Behaviour::Honest,
                latency: Duration::ZERO,
                last_nonce: Mutex::new(None),
                stats: Arc::default(),
                active: Arc::default(),
            }),
        }
    }

    /// The same provider signing each machine's probes with that machine's
    /// own key, [`machine_key`]`(key, machine_id)` (fresh stats).
    pub fn with_machine_keys(self) -> Self {
        let mut next = self.rebuild(self.inner.behaviour, self.inner.latency);
        if let Some(inner) = Arc::get_mut(&mut next.inner) {
            inner.per_machine = true;
        }
        next
    }

    /// The same provider answering with `behaviour` (fresh stats).
    pub fn with_behaviour(self, behaviour: Behaviour) -> Self {
        self.rebuild(behaviour, self.inner.latency)
    }

    /// The same provider sleeping `latency` before every answer (fresh stats).
    pub fn with_latency(self, latency: Duration) -> Self {
        self.rebuild(self.inner.behaviour, latency)
    }

    fn rebuild(&self, behaviour: Behaviour, latency: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                key: self.inner.key.clone(),
                wrong_key: self.inner.wrong_key.clone(),
                per_machine: self.inner.per_machine,
                answers: self.inner.answers.clone(),
                behaviour,
                latency,
                last_nonce: Mutex::new(None),
                stats: Arc::default(),
                active: Arc::default(),
            }),
        }
    }

    pub fn behaviour(&self) -> Behaviour {
        self.inner.behaviour
    }

    /// The `se_public_key` to attest: base64 of the 65-byte X9.63 point.
    pub fn public_key_x963_b64(&self) -> String {
        encode_x963(self.inner.key.verifying_key())
    }

    /// The same key as base64 of an SPKI DER.
    pub fn public_key_spki_b64(&self) -> Result<String, KeyError> {
        encode_spki(self.inner.key.verifying_key())
    }

    pub fn stats(&self) -> Arc<ProviderStats> {
        Arc::clone(&self.inner.stats)
    }

    /// The axum app: `POST /probe`.
    pub fn router(&self) -> Router {
        Router::new()
            .route(PROBE_PATH, post(handle))
            .with_state(Arc::clone(&self.inner))
    }

    /// Binds `127.0.0.1:0` and serves until the returned handle is stopped
    /// or dropped.
    pub async fn spawn(&self) -> std::io::Result<RunningProvider> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let app = self.router();
        let stop = shutdown.clone().cancelled_owned();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::warn!(error = %e, "Reference provider stopped with an error.");
            }
        });
        Ok(RunningProvider {
            addr,
            url: format!("http://{addr}{PROBE_PATH}"),
            stats: self.stats(),
            shutdown,
        })
    }
}

/// A provider serving on loopback; stops when dropped.
pub struct RunningProvider {
    pub addr: SocketAddr,
    /// The dispatch URL to probe.
    pub url: String,
    pub stats: Arc<ProviderStats>,
    shutdown: CancellationToken,
}

impl RunningProvider {
    /// Stops accepting connections.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

impl Drop for RunningProvider {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Machine `machine_id`'s own key, derived deterministically from `base`
/// (what a fleet of reference machines attests, one key each).
pub fn machine_key(base: &SigningKey, machine_id: &str) -> SigningKey {
    derive_key(
        base,
        b"floorline-reference-machine-key",
        machine_id.as_bytes(),
    )
}

/// A key that is not `key`, derived from it deterministically.
fn derive_wrong_key(key: &SigningKey) -> SigningKey {
    derive_key(key, b"floorline-reference-wrong-key", b"")
}

/// The first valid key (and not `base`) of SHA-256(label ‖ base ‖ extra ‖
/// counter), counter from 0.
fn derive_key(base: &SigningKey, label: &[u8], extra: &[u8]) -> SigningKey {
    let secret = base.to_bytes();
    (0_u8..=u8::MAX)
        .find_map(|counter| {
            let digest = Sha256::new()
                .chain_update(label)
                .chain_update(secret)
                .chain_update(extra)
                .chain_update([counter])
                .finalize();
            SigningKey::from_slice(&digest).ok().filter(|k| k != base)
        })
        .unwrap_or_else(|| SigningKey::random(&mut rand::rngs::OsRng))
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    body: Result<Json<ProbeRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    let visit = Visit::begin(&inner.stats, &inner.active, &request.machine_id);
    if !inner.latency.is_zero() {
        tokio::time::sleep(inner.latency).await;
    }
    if inner.behaviour == Behaviour::TooSlow {
        tokio::time::sleep(TOO_SLOW_SLEEP).await;
    }
    let response = answer(&inner, &request);
    visit.answered();
    response
}

fn answer(inner: &Inner, request: &ProbeRequest) -> Response {
    let key = (request.model.clone(), request.prompt.clone());
    let Some(truth) = inner.answers.get(&key) else {
        let body = ProviderRefusal::new("unknown_prompt", "no answer for this model and prompt");
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    let mut nonce = request.nonce.clone();
    let mut text = truth.clone();
    let mut response_sha256 = sha256_hex(&text);
    let own_key;
    let mut signer = if inner.per_machine {
        own_key = machine_key(&inner.key, &request.machine_id);
        &own_key
    } else {
        &inner.key
    };
    match inner.behaviour {
        Behaviour::Honest | Behaviour::TooSlow | Behaviour::Unsigned => {}
        Behaviour::WrongKey => signer = &inner.wrong_key,
        Behaviour::ReplayNonce => {
            let mut last = inner
                .last_nonce
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let previous = last.replace(request.nonce.clone());
            nonce = previous.unwrap_or_else(|| STALE_NONCE.to_owned());
        }
        Behaviour::WrongAnswer => {
            text.push_str(" (from cache)");
            response_sha256 = sha256_hex(&text);
        }
        Behaviour::HashMismatch => response_sha256 = sha256_hex(&format!("{text}\n")),
    }
    let signature = (inner.behaviour != Behaviour::Unsigned).then(|| {
        sign_b64(
            signer,
            &signed_message(&request.probe_id, &nonce, &response_sha256),
        )
    });
    let body = ProbeResponse {
        probe_id: request.probe_id.clone(),
        nonce,
        text,
        response_sha256,
        signature,
    };
    (StatusCode::OK, Json(body)).into_response()
}
