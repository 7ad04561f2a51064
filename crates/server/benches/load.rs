//! Load test of a running server on loopback (issue: HTTP API).
//!
//! `cargo bench -p floorline-server --bench load -- [sqlite|postgres] [machines]`
//!
//! Starts `floorline serve`'s router on 127.0.0.1:0 over a fresh database,
//! stores `machines` machines (default 100 000) with bindings, sessions and a
//! probe, then measures, with the client on the same 2-core machine:
//! - ingest throughput: 8 concurrent clients posting batches of 1 000 earnings;
//! - provider-view latency: 64 concurrent connections calling
//!   `GET /v1/provider/machines` (each with its own provider key) for 10 s,
//!   after one warm-up call (the live estimate is cached for 60 s).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use floorline_core::bundle::{Attestation, Binding, Probe, Session};
use floorline_core::policy::Trust;
use floorline_core::Timestamp;
use floorline_engine::clock::FixedClock;
use floorline_engine::config::Config;
use floorline_engine::Engine;
use floorline_proving::oracle;
use floorline_server::AppState;
use floorline_store::{Role, Store};
use serde_json::json;

const CONNECTIONS: usize = 64;
const INGEST_CLIENTS: usize = 8;
const BATCH: usize = 1_000;
const INGEST_ROWS: usize = 200_000;
const VIEW_SECONDS: u64 = 10;

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

async fn store_for(backend: &str) -> (Store, Option<tempfile::TempDir>) {
    match backend {
        "postgres" => {
            let admin = std::env::var("FLOORLINE_TEST_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let name = format!("floorline_load_{}", std::process::id());
            oracle::drop_database(&admin, &name).await;
            oracle::create_database(&admin, &name).await.unwrap();
            (
                Store::connect(&oracle::with_database(&admin, &name))
                    .await
                    .unwrap(),
                None,
            )
        }
        _ => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("load.db").display());
            (Store::connect(&url).await.unwrap(), Some(dir))
        }
    }
}

async fn seed(store: &Store, machines: usize) {
    let started = Instant::now();
    for chunk_start in (0..machines).step_by(10_000) {
        let ids: Vec<String> = (chunk_start..(chunk_start + 10_000).min(machines))
            .map(|i| format!("m{i:06}"))
            .collect();
        let att: Vec<Attestation> = ids
            .iter()
            .map(|id| Attestation {
                machine_id: id.clone(),
                attested_at: ts("2026-09-01T00:00:00Z"),
                hardware_model: "Mac16,11".into(),
                reported_memory_gb: 64,
                trust: Trust::Hardware,
                se_public_key: None,
            })
            .collect();
        store.ingest(&att).await.unwrap();
        let bind: Vec<Binding> = ids
            .iter()
            .enumerate()
            .map(|(k, id)| {
                let acct = format!("acct-{}", (chunk_start + k) % 1_000);
                Binding {
                    machine_id: id.clone(),
                    account_id: acct.clone(),
                    payout_identity: format!("pay-{acct}"),
                    from: ts("2026-01-01T00:00:00Z"),
                    to: None,
                }
            })
            .collect();
        store.ingest(&bind).await.unwrap();
        let sessions: Vec<Session> = ids
            .iter()
            .map(|id| Session {
                session_id: format!("s-{id}"),
                machine_id: id.clone(),
                connected_at: ts("2026-11-01T00:00:00Z"),
                last_seen_at: Some(ts("2026-11-10T11:59:00Z")),
                disconnected_at: None,
            })
            .collect();
        store.ingest(&sessions).await.unwrap();
        let probes: Vec<Probe> = ids
            .iter()
            .map(|id| Probe {
                probe_id: format!("p-{id}"),
                machine_id: id.clone(),
                at: ts("2026-11-02T00:00:00Z"),
                passed: true,
                failure: None,
                model: None,
                verified_memory_gb: None,
                source: None,
            })
            .collect();
        store.ingest(&probes).await.unwrap();
    }
    eprintln!(
        "seeded {machines} machines in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let backend = args.first().cloned().unwrap_or_else(|| "sqlite".into());
    let machines: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let (store, _dir) = store_for(&backend).await;
    store.migrate().await.unwrap();
    seed(&store, machines).await;
    let config = Config::load(
        "[server]\nmax_batch_items = 10000\n",
        "load.toml",
        Vec::new(),
    )
    .unwrap();
    let engine = Engine::new(
        store,
        config,
        Arc::new(FixedClock(ts("2026-11-10T12:00:00Z"))),
    );
    let (_, ingest_key) = engine.create_key(Role::Ingest, None).await.unwrap();
    let mut provider_keys = Vec::new();
    for i in 0..CONNECTIONS {
        provider_keys.push(
            engine
                .create_key(Role::Provider, Some(&format!("acct-{i}")))
                .await
                .unwrap()
                .1,
        );
    }
    let state = AppState::new(engine);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(floorline_server::serve(
        listener,
        state,
        std::future::pending(),
    ));

    // Ingest throughput.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..INGEST_CLIENTS {
        let (http, url, key) = (http.clone(), url.clone(), ingest_key.clone());
        tasks.push(tokio::spawn(async move {
            let mut b = c * BATCH;
            while b < INGEST_ROWS {
                let batch: Vec<_> = (b..b + BATCH)
                    .map(|j| json!({"job_id": format!("job-{j}"), "machine_id": format!("m{:06}", j % machines), "consumer_account_id": format!("buyer-{}", j % 97), "amount_micro_usd": 1000 + j % 5000, "kind": "inference", "pinned": false, "at": "2026-11-05T00:00:00Z"}))
                    .collect();
                let resp = http.post(format!("{url}/v1/ingest/earnings")).bearer_auth(&key).json(&batch).send().await.unwrap();
                assert_eq!(resp.status().as_u16(), 200, "{}", resp.text().await.unwrap());
                b += INGEST_CLIENTS * BATCH;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{backend}: ingest {INGEST_ROWS} earnings in batches of {BATCH}, {INGEST_CLIENTS} clients: {secs:.2} s = {:.0} rows/s", INGEST_ROWS as f64 / secs);

    // Provider view latency.
    let warm = Instant::now();
    let resp = http
        .get(format!("{url}/v1/provider/machines"))
        .bearer_auth(&provider_keys[0])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    println!("{backend}: first provider view (computes the live estimate of {machines} machines): {:.0} ms", warm.elapsed().as_secs_f64() * 1000.0);
    for (k, key) in provider_keys.iter().enumerate().take(3) {
        let t = Instant::now();
        let resp = http
            .get(format!("{url}/v1/provider/machines"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let body = resp.bytes().await.unwrap();
        println!(
            "{backend}: sequential provider view {k}: {:.1} ms, {} bytes",
            t.elapsed().as_secs_f64() * 1000.0,
            body.len()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(VIEW_SECONDS);
    let mut tasks = Vec::new();
    for key in provider_keys {
        let (http, url) = (http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let resp = http
                    .get(format!("{url}/v1/provider/machines"))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status().as_u16(), 200);
                let _ = resp.bytes().await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    println!(
        "{backend}: provider view, {CONNECTIONS} connections, {VIEW_SECONDS} s: {} requests ({:.0}/s), p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        all.len(),
        all.len() as f64 / VIEW_SECONDS as f64,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        percentile(&all, 1.0)
    );
}
