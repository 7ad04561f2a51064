//! Provider figures against the ledger (issue 19): after a mid-month owner
//! change each co-owner's settled base is its own draw — its ledger credit —
//! not the whole machine's; the verdict is the paying run's, not today's;
//! and a former owner keeps its settled months but never the new owner's
//! live view.

use serde_json::{json, Value};

use super::harness::TestServer;
use floorline_store::{EntryKind, Role};

/// The ledger credit of `account` for `machine` in October 2026.
async fn ledger_credit(s: &TestServer, account: &str, machine: &str) -> i64 {
    s.state
        .engine
        .store()
        .ledger_entries(account)
        .await
        .unwrap()
        .iter()
        .filter(|e| {
            e.kind == EntryKind::ProviderFloorDraw
                && e.machine_id.as_deref() == Some(machine)
                && e.epoch.as_deref() == Some("2026-10")
        })
        .map(|e| e.amount_micro_usd)
        .sum()
}

/// The October row of `machine` in a history array.
fn october<'a>(history: &'a Value, machine: &str) -> &'a Value {
    let month = history
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["epoch"] == json!("2026-10"))
        .unwrap_or_else(|| panic!("no October in {history}"));
    month["machines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["machine_id"] == json!(machine))
        .unwrap_or_else(|| panic!("no {machine} in {month}"))
}

fn ids(list: &Value) -> Vec<String> {
    list["machines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["machine_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn co_owners_see_their_own_ledger_share_and_a_former_owner_no_live_view() {
    let s = TestServer::start("").await;
    s.seed().await;
    // `mini-64` moves from bob to dave on 15 October; each sells it $3 / $2 of jobs.
    s.ingest_ok("machines", json!([
        {"machine_id": "mini-64", "attested_at": "2026-09-01T00:00:00Z", "hardware_model": "Mac16,11", "reported_memory_gb": 64, "trust": "hardware"}
    ])).await;
    s.ingest_ok("bindings", json!([
        {"machine_id": "mini-64", "account_id": "bob", "payout_identity": "pay-bob", "from": "2026-01-01T00:00:00Z", "to": "2026-10-15T00:00:00Z"},
        {"machine_id": "mini-64", "account_id": "dave", "payout_identity": "pay-dave", "from": "2026-10-15T00:00:00Z"}
    ])).await;
    s.ingest_ok("sessions", json!([
        {"session_id": "s-mini", "machine_id": "mini-64", "connected_at": "2026-09-30T00:00:00Z", "last_seen_at": "2026-11-10T11:59:00Z"}
    ])).await;
    s.ingest_ok("probes", json!([
        {"probe_id": "pr-mini", "machine_id": "mini-64", "at": "2026-10-20T00:00:00Z", "passed": true, "model": "qwen-32b", "verified_memory_gb": 64}
    ])).await;
    s.ingest_ok("earnings", json!([
        {"job_id": "j-mini-bob", "machine_id": "mini-64", "consumer_account_id": "erin", "amount_micro_usd": 3000000, "kind": "inference", "pinned": false, "at": "2026-10-05T00:00:00Z"},
        {"job_id": "j-mini-dave", "machine_id": "mini-64", "consumer_account_id": "erin", "amount_micro_usd": 2000000, "kind": "inference", "pinned": false, "at": "2026-10-20T00:00:00Z"}
    ])).await;
    s.state.invalidate().await;
    let (_, dave) = s
        .state
        .engine
        .create_key(Role::Provider, Some("dave"))
        .await
        .unwrap();
    let (_, carol) = s
        .state
        .engine
        .create_key(Role::Provider, Some("carol"))
        .await
        .unwrap();
    let (st, run) = s
        .post(
            "/v1/admin/epochs/2026-10/settle",
            &s.admin,
            json!({"force": true}),
        )
        .await;
    assert_eq!(st, 200, "{run}");
    let paying_run = run["run_id"].as_i64().unwrap();

    // Each co-owner's base is its own ledger credit; together they are the
    // machine's draw ($18 − $5 earned = $13), neither the whole of it.
    let (bob_credit, dave_credit) = (
        ledger_credit(&s, "bob", "mini-64").await,
        ledger_credit(&s, "dave", "mini-64").await,
    );
    assert!(
        bob_credit > 0 && dave_credit > 0,
        "{bob_credit} {dave_credit}"
    );
    assert_eq!(bob_credit + dave_credit, 13_000_000);
    for (key, credit, earned) in [
        (&s.bob, bob_credit, 3_000_000),
        (&dave, dave_credit, 2_000_000),
    ] {
        let (st, body) = s.get("/v1/provider/history", key).await;
        assert_eq!(st, 200, "{body}");
        let row = october(&body["history"], "mini-64");
        assert_eq!(row["base_micro_usd"], json!(credit), "{row}");
        assert_eq!(row["earned_micro_usd"], json!(earned), "{row}");
        assert_eq!(row["payout_micro_usd"], json!(credit + earned), "{row}");
        assert_eq!(row["eligible"], json!(true), "{row}");
        assert_eq!(row["run_id"], json!(paying_run), "{row}");
    }
    // Bob's whole October: his 512 GB (no draw: $50 earned over its $40
    // floor) plus his share of mini-64, equal to his ledger.
    let (_, body) = s.get("/v1/provider/history", &s.bob).await;
    let bob_ledger = s.state.engine.store().balance("bob").await.unwrap();
    assert_eq!(
        body["history"][0]["base_micro_usd"],
        json!(bob_ledger),
        "{body}"
    );
    assert_eq!(
        october(&body["history"], "m-bob-512")["base_micro_usd"],
        json!(0)
    );

    // Late facts: unhealthy since 1 October. A re-run freezes the paid
    // machine and judges it ineligible; the history keeps the paying run's
    // verdict, and today's live view says what holds today.
    s.ingest_ok("health", json!([
        {"machine_id": "mini-64", "at": "2026-10-01T00:00:00Z", "healthy": false, "reason": "thermal"}
    ])).await;
    s.state.invalidate().await;
    let (st, rerun) = s
        .post(
            "/v1/admin/epochs/2026-10/settle",
            &s.admin,
            json!({"force": true}),
        )
        .await;
    assert_eq!(st, 200, "{rerun}");
    assert_ne!(rerun["run_id"], json!(paying_run));
    let (st, page) = s.get("/v1/provider/machines/mini-64", &dave).await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["owned_now"], json!(true), "{page}");
    assert_eq!(page["eligible"], json!(false), "today: {page}");
    let row = october(&page["history"], "mini-64");
    assert_eq!(row["eligible"], json!(true), "{row}");
    assert_eq!(row["reasons"], json!([]), "{row}");
    assert_eq!(row["run_id"], json!(paying_run), "{row}");
    assert_eq!(row["base_micro_usd"], json!(dave_credit), "{row}");

    // Bob owned it once: his settled October, and no live view.
    let (st, page) = s.get("/v1/provider/machines/mini-64", &s.bob).await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["owned_now"], json!(false), "{page}");
    for live in ["estimate", "gates", "uptime_so_far_ppm", "eligible"] {
        assert!(
            page.get(live).is_none(),
            "{live} served to a former owner: {page}"
        );
    }
    assert_eq!(
        october(&page["history"], "mini-64")["base_micro_usd"],
        json!(bob_credit)
    );
    let (_, list) = s.get("/v1/provider/machines", &s.bob).await;
    assert_eq!(ids(&list), ["m-bob-512"], "{list}");
    let (_, list) = s.get("/v1/provider/machines", &dave).await;
    assert_eq!(ids(&list), ["mini-64"], "{list}");
    // Carol never owned it.
    let (st, page) = s.get("/v1/provider/machines/mini-64", &carol).await;
    assert_eq!(st, 404, "{page}");
    assert_eq!(page["error"]["code"], json!("not_found"));
}

/// The machine's live status from heartbeats (SPEC §2 refinements): online
/// while an open session's last heartbeat is within `grace_ms`, the last
/// sign of life otherwise, and the highest uptime still reachable this
/// month if it stays up from now.
#[tokio::test]
async fn live_status_follows_heartbeats() {
    let s = TestServer::start("").await;
    s.seed().await;
    let machine = |body: &Value, id: &str| -> Value {
        body["machines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["machine_id"] == json!(id))
            .unwrap_or_else(|| panic!("no {id} in {body}"))
            .clone()
    };
    let (status, body) = s.get("/v1/provider/machines", &s.alice).await;
    assert_eq!(status, 200, "{body}");
    // Up since September, last heartbeat 1 minute ago (now is 2026-11-10T12:00Z).
    let up = machine(&body, "m-alice-64");
    assert_eq!(up["online"], json!(true), "{up}");
    assert_eq!(up["last_seen_at"], json!("2026-11-10T11:59:00.000Z"));
    assert_eq!(up["uptime_so_far_ppm"], json!(1_000_000));
    assert_eq!(up["uptime_reachable_ppm"], json!(1_000_000));
    // Disconnected on 8 October: offline, nothing so far in November; if
    // it came back now it could still reach 20.5 of 30 days.
    let down = machine(&body, "m-alice-24");
    assert_eq!(down["online"], json!(false), "{down}");
    // Its last session is of October: not seen in the open month.
    assert_eq!(down["last_seen_at"], Value::Null);
    assert_eq!(down["uptime_so_far_ppm"], json!(0));
    assert_eq!(down["uptime_reachable_ppm"], json!(683_333));

    // It reconnects at 08:00 and heartbeats until 09:00: offline since.
    s.ingest_ok(
        "sessions",
        json!([{"session_id": "s-a24-nov", "machine_id": "m-alice-24", "connected_at": "2026-11-10T08:00:00Z", "last_seen_at": "2026-11-10T09:00:00Z"}]),
    )
    .await;
    s.state.invalidate().await;
    let (_, body) = s.get("/v1/provider/machines", &s.alice).await;
    let m = machine(&body, "m-alice-24");
    assert_eq!(m["online"], json!(false), "{m}");
    assert_eq!(m["last_seen_at"], json!("2026-11-10T09:00:00.000Z"));
    let before = m["uptime_so_far_ppm"].as_i64().unwrap();
    assert!(before > 0, "{m}");
    // A heartbeat 15 s ago refines the session: online, and more uptime.
    let answer = s
        .ingest_ok(
            "sessions",
            json!([{"session_id": "s-a24-nov", "machine_id": "m-alice-24", "connected_at": "2026-11-10T08:00:00Z", "last_seen_at": "2026-11-10T11:59:45Z"}]),
        )
        .await;
    assert_eq!(answer["refined"], json!(1), "{answer}");
    s.state.invalidate().await;
    let (_, body) = s.get("/v1/provider/machines", &s.alice).await;
    let m = machine(&body, "m-alice-24");
    assert_eq!(m["online"], json!(true), "{m}");
    assert_eq!(m["last_seen_at"], json!("2026-11-10T11:59:45.000Z"));
    assert!(m["uptime_so_far_ppm"].as_i64().unwrap() > before, "{m}");
    // What it has so far plus all that is left: more than before it came back.
    let reachable = m["uptime_reachable_ppm"].as_i64().unwrap();
    assert!(reachable > 683_333 && reachable < 1_000_000, "{m}");
}
