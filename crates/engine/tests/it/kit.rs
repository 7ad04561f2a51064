//! An engine over a real SQLite store at a literal clock.

use std::sync::Arc;

use floorline_core::bundle::Bundle;
use floorline_core::Timestamp;
use floorline_engine::clock::FixedClock;
use floorline_engine::config::Config;
use floorline_engine::Engine;
use floorline_store::Store;
use serde_json::{json, Value};

/// An engine on the database `url` (migrated), configured by the TOML text
/// `config`, whose clock stands at `now`.
pub async fn engine(url: &str, now: &str, config: &str) -> Engine {
    let store = Store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    let config = Config::load(config, "floorline.toml", Vec::new()).unwrap();
    Engine::new(
        store,
        config,
        Arc::new(FixedClock(Timestamp::parse(now).unwrap())),
    )
}

/// October facts of 64 GB machines `ids`, each bound to `acct-{id}` since
/// January and with a passed probe at `probe_at`, up during `sessions`.
pub fn ready_machines(ids: &[&str], probe_at: &str, sessions: Value) -> Bundle {
    let m = |id: &&str| json!({"machine_id": id, "attested_at": "2026-09-01T00:00:00Z", "hardware_model": "Mac16,11", "reported_memory_gb": 64, "trust": "hardware"});
    let b = |id: &&str| json!({"machine_id": id, "account_id": format!("acct-{id}"), "payout_identity": format!("p-{id}"), "from": "2026-01-01T00:00:00Z"});
    let p = |id: &&str| json!({"probe_id": format!("p-{id}"), "machine_id": id, "at": probe_at, "passed": true});
    serde_json::from_value(json!({
        "epoch": "2026-10",
        "machines": ids.iter().map(m).collect::<Vec<_>>(),
        "bindings": ids.iter().map(b).collect::<Vec<_>>(),
        "sessions": sessions,
        "probes": ids.iter().map(p).collect::<Vec<_>>(),
    }))
    .unwrap()
}
