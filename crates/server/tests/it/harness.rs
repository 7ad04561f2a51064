//! A real server on 127.0.0.1:0 over a fresh SQLite file (or a fresh
//! PostgreSQL database), with keys of every role and a small seeded fleet.
//! The clock is fixed at 2026-11-10T12:00:00Z: October 2026 is the last
//! closed epoch and November is open.

use std::sync::Arc;

use floorline_core::Timestamp;
use floorline_engine::clock::FixedClock;
use floorline_engine::config::Config;
use floorline_engine::Engine;
use floorline_server::AppState;
use floorline_store::{Role, Store};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

pub const NOW: &str = "2026-11-10T12:00:00Z";

pub struct TestServer {
    pub url: String,
    pub admin: String,
    pub ingest: String,
    /// Provider key of account `alice` (machines `m-alice-64`, `m-alice-24`).
    pub alice: String,
    /// Provider key of account `bob` (machine `m-bob-512`).
    pub bob: String,
    pub state: AppState,
    pub http: reqwest::Client,
    cancel: CancellationToken,
    served: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl TestServer {
    /// Starts a server with `config_toml` (may be empty) over SQLite.
    pub async fn start(config_toml: &str) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("floorline.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let config = Config::load(config_toml, "floorline.toml", Vec::new()).unwrap();
        let clock = Arc::new(FixedClock(Timestamp::parse(NOW).unwrap()));
        let engine = Engine::new(store, config, clock);
        let (_, admin) = engine.create_key(Role::Admin, None).await.unwrap();
        let (_, ingest) = engine.create_key(Role::Ingest, None).await.unwrap();
        let (_, alice) = engine
            .create_key(Role::Provider, Some("alice"))
            .await
            .unwrap();
        let (_, bob) = engine
            .create_key(Role::Provider, Some("bob"))
            .await
            .unwrap();
        let state = AppState::new(engine);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        let serving = state.clone();
        let served = tokio::spawn(async move {
            floorline_server::serve(listener, serving, async move { stop.cancelled().await })
                .await
                .unwrap();
        });
        TestServer {
            url: format!("http://{addr}"),
            admin,
            ingest,
            alice,
            bob,
            state,
            http: reqwest::Client::new(),
            cancel,
            served: std::sync::Mutex::new(Some(served)),
            _dir: dir,
        }
    }

    /// Signals shutdown and waits until the server has finished (requests in
    /// flight complete first).
    pub async fn stop(&self) {
        self.cancel.cancel();
        let served = self.served.lock().unwrap().take();
        if let Some(served) = served {
            served.await.unwrap();
        }
    }

    /// `(status, body as JSON or Null)` of a request with a bearer key.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.url, path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(key), Some(body))
            .await
    }

    /// Ingests one batch and asserts it was accepted whole.
    pub async fn ingest_ok(&self, kind: &str, items: Value) -> Value {
        let (status, body) = self
            .post(&format!("/v1/ingest/{kind}"), &self.ingest, items)
            .await;
        assert_eq!(status, 200, "{kind}: {body}");
        assert_eq!(body["conflicts"], json!([]), "{kind}: {body}");
        body
    }

    /// Seeds October and November 2026: alice's 64 GB workhorse (up all the
    /// time, probed), alice's 24 GB laptop (connected only the first week),
    /// bob's 512 GB studio (earning $50 organic), carol's 16 GB air (usage-only).
    pub async fn seed(&self) {
        self.ingest_ok("machines", json!([
            {"machine_id": "m-alice-64", "attested_at": "2026-09-01T00:00:00Z", "hardware_model": "Mac16,11", "reported_memory_gb": 64, "trust": "hardware"},
            {"machine_id": "m-alice-24", "attested_at": "2026-09-01T00:00:00Z", "hardware_model": "Mac14,2", "reported_memory_gb": 24, "trust": "self_signed"},
            {"machine_id": "m-bob-512", "attested_at": "2026-09-01T00:00:00Z", "hardware_model": "Mac15,14", "reported_memory_gb": 512, "trust": "hardware"},
            {"machine_id": "m-carol-16", "attested_at": "2026-09-01T00:00:00Z", "hardware_model": "Mac14,2", "reported_memory_gb": 16, "trust": "hardware"}
        ])).await;
        self.ingest_ok("bindings", json!([
            {"machine_id": "m-alice-64", "account_id": "alice", "payout_identity": "pay-alice", "from": "2026-01-01T00:00:00Z"},
            {"machine_id": "m-alice-24", "account_id": "alice", "payout_identity": "pay-alice", "from": "2026-01-01T00:00:00Z"},
            {"machine_id": "m-bob-512", "account_id": "bob", "payout_identity": "pay-bob", "from": "2026-01-01T00:00:00Z"},
            {"machine_id": "m-carol-16", "account_id": "carol", "payout_identity": "pay-carol", "from": "2026-01-01T00:00:00Z"}
        ])).await;
        self.ingest_ok("sessions", json!([
            {"session_id": "s-a64-oct", "machine_id": "m-alice-64", "connected_at": "2026-09-30T00:00:00Z", "last_seen_at": "2026-11-10T11:59:00Z"},
            {"session_id": "s-a24-oct", "machine_id": "m-alice-24", "connected_at": "2026-10-01T00:00:00Z", "disconnected_at": "2026-10-08T00:00:00Z"},
            {"session_id": "s-b512-oct", "machine_id": "m-bob-512", "connected_at": "2026-10-01T00:00:00Z", "last_seen_at": "2026-11-10T11:59:30Z"},
            {"session_id": "s-c16-oct", "machine_id": "m-carol-16", "connected_at": "2026-10-01T00:00:00Z", "last_seen_at": "2026-11-10T11:59:30Z"}
        ])).await;
        self.ingest_ok("probes", json!([
            {"probe_id": "pr-a64", "machine_id": "m-alice-64", "at": "2026-10-20T00:00:00Z", "passed": true, "model": "qwen-32b", "verified_memory_gb": 64},
            {"probe_id": "pr-a24", "machine_id": "m-alice-24", "at": "2026-10-03T00:00:00Z", "passed": true},
            {"probe_id": "pr-c16", "machine_id": "m-carol-16", "at": "2026-10-03T00:00:00Z", "passed": true}
        ])).await;
        self.ingest_ok("earnings", json!([
            {"job_id": "job-b1", "machine_id": "m-bob-512", "consumer_account_id": "dave", "amount_micro_usd": 50000000, "kind": "inference", "pinned": false, "at": "2026-10-12T00:00:00Z"}
        ])).await;
        self.state.invalidate().await;
    }
}
