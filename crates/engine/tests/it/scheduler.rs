//! A tick settles from durable facts, never from who is connected right now.

use floorline_core::bundle::Bundle;
use floorline_core::Timestamp;
use floorline_core::Watermark;
use floorline_engine::schedule::Decision;
use floorline_engine::Engine;
use floorline_store::RunMode;
use serde_json::json;

use crate::kit::{engine, ready_machines};

async fn engine_at(now: &str, config: &str, dir: &tempfile::TempDir) -> Engine {
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    engine(&url, now, config).await
}

/// `offline` disconnected two hours before the month ended (97 % uptime);
/// `reconnecting` has an open session whose last sign of life was at 23:59.
fn facts() -> Bundle {
    ready_machines(
        &["offline", "reconnecting"],
        "2026-10-10T00:00:00Z",
        json!([
            {"session_id": "s1", "machine_id": "offline", "connected_at": "2026-10-01T00:00:00Z", "disconnected_at": "2026-10-31T22:00:00Z"},
            {"session_id": "s2", "machine_id": "reconnecting", "connected_at": "2026-10-01T00:00:00Z", "last_seen_at": "2026-10-31T23:59:00Z"}
        ]),
    )
}

#[tokio::test]
async fn a_tick_settles_machines_that_are_offline_or_mid_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_at(
        "2026-11-01T07:00:00Z",
        "[settlement]\nmode = \"live\"\n",
        &dir,
    )
    .await;
    engine.store().ingest_bundle(&facts()).await.unwrap();
    let decision = engine.tick().await.unwrap();
    assert_eq!(decision, Some(Decision::Settle("2026-10".parse().unwrap())));
    let draws = engine.all_draws("2026-10".parse().unwrap()).await.unwrap();
    let mut paid: Vec<(&str, i64)> = draws
        .iter()
        .map(|d| (d.machine_id.as_str(), d.amount_micro_usd))
        .collect();
    paid.sort_unstable();
    // offline: A = 31 days − 2 h → uptime 0.99731… → floor ⌊18 · (A·10⁶ − 0.9·T·10⁶)/(0.1·T·10⁶)⌉ = 17 516 129.
    // reconnecting: last seen 23:59 + 90 s grace reaches E → the whole month, $18.
    assert_eq!(
        paid,
        vec![("offline", 17_516_129), ("reconnecting", 18_000_000)]
    );
    // The next tick finds the epoch done.
    assert_eq!(
        engine.tick().await.unwrap(),
        Some(Decision::Done("2026-10".parse().unwrap()))
    );
}

#[tokio::test]
async fn ticks_respect_the_delay_the_mode_and_the_watermarks() {
    let dir = tempfile::tempdir().unwrap();
    let early = engine_at(
        "2026-11-01T05:00:00Z",
        "[settlement]\nmode = \"live\"\n",
        &dir,
    )
    .await;
    early.store().ingest_bundle(&facts()).await.unwrap();
    assert!(matches!(
        early.tick().await.unwrap(),
        Some(Decision::NotYet { .. })
    ));

    let dir = tempfile::tempdir().unwrap();
    let preview = engine_at("2026-11-02T00:00:00Z", "", &dir).await;
    preview.store().ingest_bundle(&facts()).await.unwrap();
    assert!(matches!(
        preview.tick().await.unwrap(),
        Some(Decision::Settle(_))
    ));
    let e = "2026-10".parse().unwrap();
    assert!(preview
        .store()
        .latest_run(e, RunMode::Preview)
        .await
        .unwrap()
        .is_some());
    assert!(
        preview.all_draws(e).await.unwrap().is_empty(),
        "a preview moves no money"
    );

    let dir = tempfile::tempdir().unwrap();
    let off = engine_at(
        "2026-11-02T00:00:00Z",
        "[settlement]\nmode = \"off\"\n",
        &dir,
    )
    .await;
    assert_eq!(off.tick().await.unwrap(), Some(Decision::Off));

    let dir = tempfile::tempdir().unwrap();
    let waiting = engine_at(
        "2026-11-02T00:00:00Z",
        "[settlement]\nmode = \"live\"\n",
        &dir,
    )
    .await;
    waiting.store().ingest_bundle(&facts()).await.unwrap();
    let lagging = Watermark {
        source: "coordinator".into(),
        up_to: Timestamp::parse("2026-10-31T12:00:00Z").unwrap(),
    };
    waiting.store().ingest(&[lagging]).await.unwrap();
    assert_eq!(
        waiting.tick().await.unwrap(),
        Some(Decision::AwaitingWatermarks(e))
    );
    let caught_up = Watermark {
        source: "coordinator".into(),
        up_to: Timestamp::parse("2026-11-01T00:00:00Z").unwrap(),
    };
    waiting.store().ingest(&[caught_up]).await.unwrap();
    assert_eq!(waiting.tick().await.unwrap(), Some(Decision::Settle(e)));
}
