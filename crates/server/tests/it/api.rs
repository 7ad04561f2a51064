//! Every endpoint over a real socket: happy paths, validation errors naming
//! index and field, limits at their boundaries, auth failures, and the stable
//! error body.

use super::harness::TestServer;
use reqwest::Method;
use serde_json::{json, Value};

fn earning(job: &str, amount: i64) -> Value {
    json!({"job_id": job, "machine_id": "m-bob-512", "consumer_account_id": "eve", "amount_micro_usd": amount, "kind": "inference", "pinned": false, "at": "2026-11-02T00:00:00Z"})
}

#[track_caller]
fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], json!(want_code), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn ingest_is_idempotent_and_reports_conflicts() {
    let s = TestServer::start("").await;
    s.seed().await;
    let (st, body) = s
        .post(
            "/v1/ingest/earnings",
            &s.ingest,
            json!([earning("j1", 5), earning("j2", 6)]),
        )
        .await;
    assert_eq!(
        (st, body.clone()),
        (
            200,
            json!({"accepted": 2, "refined": 0, "duplicates": 0, "conflicts": [], "ignored_fields": []})
        )
    );
    let (st, body) = s
        .post(
            "/v1/ingest/earnings",
            &s.ingest,
            json!([earning("j1", 5), earning("j2", 7), earning("j3", 1)]),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(body["accepted"], json!(1));
    assert_eq!(body["duplicates"], json!(1));
    assert_eq!(body["conflicts"][0]["index"], json!(1));
    assert_eq!(body["conflicts"][0]["key"], json!("j2"));
    assert!(body["conflicts"][0]["reason"].as_str().is_some());
}

/// SPEC §2/§8: a session's heartbeat and its disconnect are refinements,
/// applied and counted `refined`; an earlier heartbeat is a conflict naming
/// `last_seen_at`; two heartbeats in one batch apply in order.
#[tokio::test]
async fn ingest_counts_refinements() {
    let s = TestServer::start("").await;
    s.seed().await;
    let beat = |last: &str, disc: Option<&str>| {
        let mut v = json!({"session_id": "s-refine", "machine_id": "m-bob-512", "connected_at": "2026-11-01T00:00:00Z", "last_seen_at": last});
        if let Some(d) = disc {
            v["disconnected_at"] = json!(d);
        }
        v
    };
    let (st, body) = s
        .post(
            "/v1/ingest/sessions",
            &s.ingest,
            json!([beat("2026-11-01T01:00:00Z", None)]),
        )
        .await;
    assert_eq!((st, body["accepted"].clone()), (200, json!(1)), "{body}");
    let (st, body) = s
        .post(
            "/v1/ingest/sessions",
            &s.ingest,
            json!([
                beat("2026-11-01T02:00:00Z", None),
                beat("2026-11-01T03:00:00Z", None),
                beat("2026-11-01T03:00:00Z", Some("2026-11-01T03:00:30Z")),
                beat("2026-11-01T02:30:00Z", Some("2026-11-01T03:00:30Z")),
            ]),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        (
            body["accepted"].clone(),
            body["refined"].clone(),
            body["duplicates"].clone()
        ),
        (json!(0), json!(3), json!(0)),
        "{body}"
    );
    assert_eq!(body["conflicts"][0]["index"], json!(3), "{body}");
    assert!(
        body["conflicts"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("last_seen_at")),
        "{body}"
    );
    let (st, body) = s
        .post(
            "/v1/ingest/sessions",
            &s.ingest,
            json!([beat("2026-11-01T03:00:00Z", Some("2026-11-01T03:00:30Z"))]),
        )
        .await;
    assert_eq!(
        (st, body["duplicates"].clone(), body["refined"].clone()),
        (200, json!(1), json!(0)),
        "{body}"
    );
}

/// Issue 19: a typo in a field name (`disconected_at`) was ignored without a
/// word, so the coordinator never learnt that its disconnects were lost.
#[tokio::test]
async fn unknown_fields_are_named_in_the_ingest_answer() {
    let s = TestServer::start("").await;
    s.seed().await;
    let (st, body) = s
        .post(
            "/v1/ingest/sessions",
            &s.ingest,
            json!([
                {"session_id": "s-typo-1", "machine_id": "m-bob-512", "connected_at": "2026-11-01T00:00:00Z", "disconected_at": "2026-11-02T00:00:00Z"},
                {"session_id": "s-typo-2", "machine_id": "m-bob-512", "connected_at": "2026-11-03T00:00:00Z", "disconected_at": "2026-11-04T00:00:00Z", "Last_seen_at": "2026-11-04T00:00:00Z"}
            ]),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["accepted"], json!(2), "{body}");
    assert_eq!(body["refined"], json!(0), "{body}");
    assert_eq!(
        body["ignored_fields"],
        json!(["Last_seen_at", "disconected_at"]),
        "{body}"
    );
    // Every known field, optional ones included, is no ignored field.
    let (st, body) = s
        .post(
            "/v1/ingest/earnings",
            &s.ingest,
            json!([{"job_id": "j-all", "machine_id": "m-bob-512", "consumer_account_id": "eve", "amount_micro_usd": 1, "kind": "inference", "pinned": false, "model": "qwen-32b", "at": "2026-11-02T00:00:00Z"}]),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["ignored_fields"], json!([]), "{body}");
}

#[tokio::test]
async fn invalid_batches_name_index_and_field_and_write_nothing() {
    let s = TestServer::start("").await;
    s.seed().await;
    let cases: Vec<(Value, usize, &str)> = vec![
        (
            json!([earning("ok-1", 1), earning("bad", -1)]),
            1,
            "amount_micro_usd",
        ),
        (
            json!([earning("ok-2", 1), {"job_id": "x", "machine_id": "ghost", "consumer_account_id": "c", "amount_micro_usd": 1, "kind": "inference", "pinned": false, "at": "2026-11-02T00:00:00Z"}]),
            1,
            "machine_id",
        ),
        (
            json!([earning("ok-3", 1), {"job_id": "y y", "machine_id": "m-bob-512", "consumer_account_id": "c", "amount_micro_usd": 1, "kind": "inference", "pinned": false, "at": "2026-11-02T00:00:00Z"}]),
            1,
            "job_id",
        ),
        (
            json!([{"job_id": "z", "machine_id": "m-bob-512", "consumer_account_id": "c", "amount_micro_usd": 1, "kind": "inference", "pinned": false, "at": "2026-11-02T00:00:00"}]),
            0,
            "at",
        ),
        (
            json!([earning("ok-4", 1), {"job_id": "w", "machine_id": "m-bob-512", "consumer_account_id": "c", "amount_micro_usd": 1, "kind": "gift", "pinned": false, "at": "2026-11-02T00:00:00Z"}]),
            1,
            "kind",
        ),
    ];
    for (batch, index, field) in cases {
        let (st, body) = s
            .post("/v1/ingest/earnings", &s.ingest, batch.clone())
            .await;
        assert_error(st, &body, 422, "invalid");
        assert_eq!(body["error"]["index"], json!(index), "{body}");
        assert_eq!(body["error"]["field"], json!(field), "{body}");
    }
    // Nothing of those batches was written: re-sending the good items is new.
    let (_, body) = s
        .post(
            "/v1/ingest/earnings",
            &s.ingest,
            json!([
                earning("ok-1", 1),
                earning("ok-2", 1),
                earning("ok-3", 1),
                earning("ok-4", 1)
            ]),
        )
        .await;
    assert_eq!(body["accepted"], json!(4), "{body}");
    // Sessions out of order and overlapping bindings.
    let (st, body) = s.post("/v1/ingest/sessions", &s.ingest, json!([{"session_id": "bad-s", "machine_id": "m-bob-512", "connected_at": "2026-11-02T00:00:00Z", "disconnected_at": "2026-11-01T00:00:00Z"}])).await;
    assert_error(st, &body, 422, "invalid");
    assert_eq!(body["error"]["field"], json!("disconnected_at"));
    let (st, body) = s.post("/v1/ingest/bindings", &s.ingest, json!([{"machine_id": "m-bob-512", "account_id": "mallory", "payout_identity": "p", "from": "2026-06-01T00:00:00Z"}])).await;
    assert_error(st, &body, 422, "invalid");
    assert_eq!(body["error"]["index"], json!(0));
    // Not an array, not JSON.
    let (st, body) = s
        .post("/v1/ingest/earnings", &s.ingest, json!({"job_id": "x"}))
        .await;
    assert_error(st, &body, 422, "invalid");
    let (st, body) = s
        .call(Method::POST, "/v1/ingest/earnings", Some(&s.ingest), None)
        .await;
    assert_error(st, &body, 422, "invalid");
}

#[tokio::test]
async fn limits_hold_at_their_boundaries() {
    let s = TestServer::start("[server]\nmax_batch_items = 4\nmax_body_bytes = 4096\n").await;
    s.seed().await;
    let four: Vec<Value> = (0..4).map(|i| earning(&format!("b{i}"), 1)).collect();
    let (st, _) = s
        .post("/v1/ingest/earnings", &s.ingest, Value::Array(four))
        .await;
    assert_eq!(st, 200);
    let five: Vec<Value> = (10..15).map(|i| earning(&format!("b{i}"), 1)).collect();
    let (st, body) = s
        .post("/v1/ingest/earnings", &s.ingest, Value::Array(five))
        .await;
    assert_error(st, &body, 413, "too_large");
    // A body of exactly the limit is read; one byte more is refused.
    let pad = |n: usize| {
        let base = json!([earning("pad", 1)]).to_string();
        let fill = n - base.len();
        format!("{}{}", base, " ".repeat(fill))
    };
    let exact = pad(4096);
    assert_eq!(exact.len(), 4096);
    let resp = s
        .http
        .post(format!("{}/v1/ingest/earnings", s.url))
        .bearer_auth(&s.ingest)
        .header("content-type", "application/json")
        .body(exact)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = s
        .http
        .post(format!("{}/v1/ingest/earnings", s.url))
        .bearer_auth(&s.ingest)
        .header("content-type", "application/json")
        .body(pad(4097))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], json!("too_large"));
}

#[tokio::test]
async fn auth_failures_are_401_and_403() {
    let s = TestServer::start("").await;
    let (st, body) = s
        .call(Method::GET, "/v1/admin/base-rewards", None, None)
        .await;
    assert_error(st, &body, 401, "unauthorized");
    let (st, body) = s
        .get("/v1/admin/base-rewards", "fl_admin_not-a-real-key")
        .await;
    assert_error(st, &body, 401, "unauthorized");
    let resp = s
        .http
        .get(format!("{}/v1/admin/base-rewards", s.url))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = s
        .http
        .get(format!("{}/v1/admin/base-rewards", s.url))
        .header("authorization", format!("Bearer {}", "x".repeat(300)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // Wrong roles.
    let (st, body) = s.get("/v1/admin/base-rewards", &s.ingest).await;
    assert_error(st, &body, 403, "forbidden");
    let (st, body) = s.get("/v1/admin/base-rewards", &s.alice).await;
    assert_error(st, &body, 403, "forbidden");
    let (st, body) = s.post("/v1/ingest/earnings", &s.admin, json!([])).await;
    assert_error(st, &body, 403, "forbidden");
    let (st, body) = s.get("/v1/provider/machines", &s.admin).await;
    assert_error(st, &body, 403, "forbidden");
    // Each message reads as English ("an provider key" once).
    assert_eq!(body["error"]["message"], json!("this needs a provider key"));
    let (_, body) = s.post("/v1/ingest/earnings", &s.alice, json!([])).await;
    assert_eq!(body["error"]["message"], json!("this needs an ingest key"));
    let (_, body) = s.get("/v1/admin/epochs", &s.alice).await;
    assert_eq!(body["error"]["message"], json!("this needs an admin key"));
    // A revoked key stops working.
    let (id, token) = s
        .state
        .engine
        .create_key(floorline_store::Role::Admin, None)
        .await
        .unwrap();
    assert_eq!(s.get("/v1/admin/epochs", &token).await.0, 200);
    s.state.engine.store().revoke_api_key(id, 0).await.unwrap();
    let (st, body) = s.get("/v1/admin/epochs", &token).await;
    assert_error(st, &body, 401, "unauthorized");
}

#[tokio::test]
async fn unknown_routes_and_kinds_are_404_with_the_error_body() {
    let s = TestServer::start("").await;
    let (st, body) = s.get("/v1/nothing", &s.admin).await;
    assert_error(st, &body, 404, "not_found");
    let (st, body) = s.post("/v1/ingest/widgets", &s.ingest, json!([])).await;
    assert_error(st, &body, 404, "not_found");
    let (st, body) = s.get("/assets/..%2f..%2fCargo.toml", &s.admin).await;
    assert_eq!(st, 404, "{body}");
    let (st, body) = s.get("/v1/admin/epochs/2026-13", &s.admin).await;
    assert_eq!(st, 400, "{body}");
}

#[tokio::test]
async fn providers_see_only_their_own_machines() {
    let s = TestServer::start("").await;
    s.seed().await;
    let (st, body) = s.get("/v1/provider/machines", &s.alice).await;
    assert_eq!(st, 200, "{body}");
    let ids: Vec<&str> = body["machines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["machine_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["m-alice-24", "m-alice-64"]);
    let m64 = &body["machines"][1];
    assert_eq!(m64["verified_memory_gb"], json!(64));
    assert_eq!(m64["estimate"]["is_estimate"], json!(true));
    assert_eq!(m64["gates"].as_array().unwrap().len(), 5);
    assert!(
        m64["gates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["passed"] == json!(true)),
        "{m64}"
    );
    let m24 = &body["machines"][0];
    let uptime_gate = m24["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == json!("uptime"))
        .unwrap();
    assert_eq!(uptime_gate["passed"], json!(false));
    // Another account's machine is 404, the same as one that does not exist.
    let (st, other) = s.get("/v1/provider/machines/m-bob-512", &s.alice).await;
    assert_error(st, &other, 404, "not_found");
    let (st2, missing) = s
        .get("/v1/provider/machines/no-such-machine", &s.alice)
        .await;
    assert_eq!(
        (st2, missing["error"]["code"].clone()),
        (404, json!("not_found"))
    );
    let (st, own) = s.get("/v1/provider/machines/m-bob-512", &s.bob).await;
    assert_eq!(st, 200, "{own}");
    assert_eq!(own["estimate"]["earned_micro_usd"], json!(0));
}

#[tokio::test]
async fn a_machine_that_moved_lists_under_its_owner_now_and_keeps_its_history_for_the_old_one() {
    let s = TestServer::start("").await;
    s.seed().await;
    s.ingest_ok("machines", json!([
        {"machine_id": "m-moved-oct", "attested_at": "2026-09-01T00:00:00Z", "hardware_model": "Mac16,11", "reported_memory_gb": 64, "trust": "hardware"},
        {"machine_id": "m-moved-nov", "attested_at": "2026-09-01T00:00:00Z", "hardware_model": "Mac16,11", "reported_memory_gb": 64, "trust": "hardware"}
    ])).await;
    // One moved from alice to bob in October, one on 5 November (the clock
    // is 10 November).
    s.ingest_ok("bindings", json!([
        {"machine_id": "m-moved-oct", "account_id": "alice", "payout_identity": "pay-alice", "from": "2026-01-01T00:00:00Z", "to": "2026-10-15T00:00:00Z"},
        {"machine_id": "m-moved-oct", "account_id": "bob", "payout_identity": "pay-bob", "from": "2026-10-15T00:00:00Z"},
        {"machine_id": "m-moved-nov", "account_id": "alice", "payout_identity": "pay-alice", "from": "2026-01-01T00:00:00Z", "to": "2026-11-05T00:00:00Z"},
        {"machine_id": "m-moved-nov", "account_id": "bob", "payout_identity": "pay-bob", "from": "2026-11-05T00:00:00Z"}
    ])).await;
    let ids = |body: &Value| -> Vec<String> {
        body["machines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["machine_id"].as_str().unwrap().to_string())
            .collect()
    };
    // The live list is what each account owns now: a machine that moved
    // away, even this month, is the new owner's to watch.
    let (st, alice) = s.get("/v1/provider/machines", &s.alice).await;
    assert_eq!(st, 200, "{alice}");
    assert_eq!(ids(&alice), ["m-alice-24", "m-alice-64"]);
    let (st, bob) = s.get("/v1/provider/machines", &s.bob).await;
    assert_eq!(st, 200, "{bob}");
    assert_eq!(ids(&bob), ["m-bob-512", "m-moved-nov", "m-moved-oct"]);
    // Alice held both movers once: their pages (settled history only) stay
    // hers to read, without the live view.
    for moved in ["m-moved-oct", "m-moved-nov"] {
        let (st, page) = s
            .get(&format!("/v1/provider/machines/{moved}"), &s.alice)
            .await;
        assert_eq!(st, 200, "{page}");
        assert_eq!(page["owned_now"], json!(false), "{page}");
        assert!(page.get("estimate").is_none(), "{page}");
    }
    let (st, page) = s.get("/v1/provider/machines/m-moved-nov", &s.bob).await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["owned_now"], json!(true), "{page}");
    assert!(page["estimate"].is_object(), "{page}");
    // Carol never held either.
    let (_, carol) = s
        .state
        .engine
        .create_key(floorline_store::Role::Provider, Some("carol"))
        .await
        .unwrap();
    let (st, page) = s.get("/v1/provider/machines/m-moved-oct", &carol).await;
    assert_error(st, &page, 404, "not_found");
}

#[tokio::test]
async fn admin_previews_settles_pages_and_exports() {
    let s = TestServer::start("").await;
    s.seed().await;
    let (st, body) = s.get("/v1/admin/epochs/2026-10", &s.admin).await;
    assert_error(st, &body, 404, "not_found");
    let (st, preview) = s
        .post("/v1/admin/epochs/2026-10/preview", &s.admin, json!({}))
        .await;
    assert_eq!(st, 200, "{preview}");
    assert_eq!(preview["mode"], json!("preview"));
    assert_eq!(
        s.get("/v1/admin/epochs/2026-10/draws", &s.admin).await.1["draws"],
        json!([])
    );
    // Settling the open month is refused.
    let (st, body) = s
        .post("/v1/admin/epochs/2026-11/settle", &s.admin, json!({}))
        .await;
    assert_error(st, &body, 409, "conflict");
    let (st, run) = s
        .post(
            "/v1/admin/epochs/2026-10/settle",
            &s.admin,
            json!({"force": false}),
        )
        .await;
    assert_eq!(st, 200, "{run}");
    // alice's 64 GB: full floor $18; bob's 512 GB: $40 − $50 earned → 0; alice's 24 GB below the gate.
    assert_eq!(run["granted_total_micro_usd"], json!(18_000_000), "{run}");
    let (_, detail) = s.get("/v1/admin/epochs/2026-10", &s.admin).await;
    assert_eq!(detail["manifest_sha256"], run["manifest_sha256"]);
    assert!(detail["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["machine_id"] == json!("m-carol-16")));
    assert!(detail["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["tier_min_gb"] == json!(64) && t["drawn_micro_usd"] == json!(18_000_000)));
    let (_, page) = s
        .get("/v1/admin/epochs/2026-10/draws?limit=1&offset=0", &s.admin)
        .await;
    assert_eq!(page["draws"][0]["machine_id"], json!("m-alice-64"));
    let (_, empty) = s
        .get("/v1/admin/epochs/2026-10/draws?limit=1&offset=1", &s.admin)
        .await;
    assert_eq!(empty["draws"], json!([]));
    let (st, body) = s
        .get("/v1/admin/epochs/2026-10/draws?limit=0", &s.admin)
        .await;
    assert_error(st, &body, 400, "bad_request");
    let (st, body) = s
        .get("/v1/admin/epochs/2026-10/draws?limit=1001", &s.admin)
        .await;
    assert_error(st, &body, 400, "bad_request");
    let (st, csv) = s
        .get("/v1/admin/epochs/2026-10/draws?format=csv", &s.admin)
        .await;
    assert_eq!(st, 200);
    let csv = csv.as_str().unwrap().to_string();
    assert!(
        csv.starts_with("epoch,machine_id,account_id,amount_micro_usd"),
        "{csv}"
    );
    assert!(csv.contains("2026-10,m-alice-64,alice,18000000"), "{csv}");
    let (_, pool) = s.get("/v1/admin/base-rewards", &s.admin).await;
    assert_eq!(pool["epoch"], json!("2026-10"));
    assert_eq!(pool["pool_used_micro_usd"], json!(18_000_000));
    assert_eq!(
        pool["unallocated_micro_usd"],
        json!(9_000_000_000i64 - 18_000_000)
    );
    assert_eq!(pool["draw_count"], json!(1));
    let (st, why) = s
        .get(
            "/v1/admin/epochs/2026-10/machines/m-alice-24/explain",
            &s.admin,
        )
        .await;
    assert_eq!(st, 200, "{why}");
    assert_eq!(why["plan_machine"]["reasons"], json!(["uptime_below_gate"]));
    assert!(why["evidence"]["sessions"].as_array().unwrap().len() == 1);
    // bob's explanation shows his one job, grouped, judged organic, and the
    // organic sums the plan read (from the store's SQL) agree with it.
    let (st, why) = s
        .get(
            "/v1/admin/epochs/2026-10/machines/m-bob-512/explain",
            &s.admin,
        )
        .await;
    assert_eq!(st, 200, "{why}");
    let groups = why["evidence"]["earnings"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{why}");
    assert_eq!(groups[0]["consumer_account_id"], json!("dave"));
    assert_eq!(groups[0]["self_account"], json!(false));
    assert_eq!(groups[0]["organic"], json!(true));
    assert_eq!(groups[0]["epoch_micro_usd"], json!(50_000_000));
    let organic = &why["evidence"]["organic_earnings"];
    assert_eq!(organic["epoch_micro_usd"], json!(50_000_000));
    assert_eq!(organic["n_in_work_window"], json!(1));
    assert_eq!(why["formula"]["earned_micro_usd"], json!(50_000_000));
    let (_, verify) = s.get("/v1/admin/epochs/2026-10/verify", &s.admin).await;
    assert_eq!(verify["ok"], json!(true), "{verify}");
    // Settling again credits nothing twice.
    let (_, again) = s
        .post("/v1/admin/epochs/2026-10/settle", &s.admin, json!({}))
        .await;
    assert_eq!(again["granted_total_micro_usd"], json!(0));
    assert_eq!(again["manifest_sha256"], run["manifest_sha256"]);
    // Explain of the settled epoch shows what the committed run had (the
    // run that paid the machine, not the no-op re-run, nor a re-plan in
    // which its own draw is prior and the pool spent).
    let (st, why) = s
        .get(
            "/v1/admin/epochs/2026-10/machines/m-alice-64/explain",
            &s.admin,
        )
        .await;
    assert_eq!(st, 200, "{why}");
    assert_eq!(
        why["plan_machine"]["granted_micro_usd"],
        json!(18_000_000),
        "{why}"
    );
    assert_eq!(why["plan_machine"]["prior_micro_usd"], json!(0), "{why}");
    assert_eq!(
        why["formula"]["budget_micro_usd"],
        json!(9_000_000_000i64),
        "{why}"
    );
    assert_eq!(
        why["formula"]["payout_micro_usd"],
        json!(18_000_000),
        "{why}"
    );
    // The epoch's "latest run" is the one that moved money, not the no-op re-run.
    let (_, detail) = s.get("/v1/admin/epochs/2026-10", &s.admin).await;
    assert_eq!(detail["run"]["id"], run["run_id"], "{detail}");
    assert_eq!(
        detail["granted_total_micro_usd"],
        json!(18_000_000),
        "{detail}"
    );
    // The provider's history shows earned + base.
    let (_, hist) = s.get("/v1/provider/history", &s.alice).await;
    assert_eq!(hist["history"][0]["epoch"], json!("2026-10"));
    assert_eq!(hist["history"][0]["base_micro_usd"], json!(18_000_000));
    // Metrics saw the run and the ingestion.
    let text = s
        .http
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("floorline_last_settled_epoch 202610"),
        "{text}"
    );
    assert!(
        text.contains("floorline_ingest_facts_total{kind=\"machines\",outcome=\"accepted\"} 4"),
        "{text}"
    );
}

#[tokio::test]
async fn adjustments_are_new_ledger_entries() {
    let s = TestServer::start("").await;
    s.seed().await;
    let (st, entry) = s.post("/v1/admin/adjustments", &s.admin, json!({"account_id": "alice", "amount_micro_usd": -2_000_000, "kind": "clawback", "reason": "duplicate payout found in audit"})).await;
    assert_eq!(st, 200, "{entry}");
    assert_eq!(entry["amount_micro_usd"], json!(-2_000_000));
    assert!(entry["actor"].as_str().unwrap().starts_with("key:"));
    let (st, body) = s.post("/v1/admin/adjustments", &s.admin, json!({"account_id": "alice", "amount_micro_usd": 5, "kind": "clawback", "reason": "x"})).await;
    assert_error(st, &body, 422, "invalid");
    let (st, body) = s.post("/v1/admin/adjustments", &s.admin, json!({"account_id": "alice", "amount_micro_usd": 5, "kind": "adjustment", "reason": "x", "sneaky": 1})).await;
    assert_error(st, &body, 422, "invalid");
    assert_eq!(body["error"]["field"], json!("sneaky"), "{body}");
}

/// Issue 19: an adjustment of `i64::MAX` µUSD answered 500, and
/// `-i64::MAX` was accepted and drove the balance to −9.2e18.
#[tokio::test]
async fn overflowing_adjustments_are_422_naming_the_amount() {
    let s = TestServer::start("").await;
    s.seed().await;
    let max = floorline_core::money::MAX_ADJUSTMENT_MICRO_USD;
    for amount in [i64::MAX, -i64::MAX, i64::MIN, max + 1, -max - 1] {
        let (st, body) = s.post("/v1/admin/adjustments", &s.admin, json!({"account_id": "alice", "amount_micro_usd": amount, "kind": "adjustment", "reason": "audit"})).await;
        assert_error(st, &body, 422, "invalid");
        assert_eq!(body["error"]["field"], json!("amount_micro_usd"), "{body}");
    }
    let (st, body) = s.post("/v1/admin/adjustments", &s.admin, json!({"account_id": "alice", "amount_micro_usd": -max, "kind": "clawback", "reason": "audit"})).await;
    assert_eq!(st, 200, "{body}");
    // One more µUSD down would take the balance past the bound.
    let (st, body) = s.post("/v1/admin/adjustments", &s.admin, json!({"account_id": "alice", "amount_micro_usd": -1, "kind": "clawback", "reason": "audit again"})).await;
    assert_error(st, &body, 422, "invalid");
    assert_eq!(body["error"]["field"], json!("amount_micro_usd"), "{body}");
    let store = s.state.engine.store();
    assert_eq!(store.balance("alice").await.unwrap(), -max);
}

#[tokio::test]
async fn healthz_and_openapi() {
    let s = TestServer::start("").await;
    let (st, body) = s.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((st, body), (200, json!({"status": "ok"})));
    let (st, doc) = s.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(st, 200);
    assert!(doc["paths"]["/v1/ingest/sessions"]["post"].is_object());
}

#[test]
fn committed_openapi_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json");
    let generated = floorline_server::openapi::document();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(committed == generated, "openapi.json drifted from the code: run `UPDATE_OPENAPI=1 cargo nextest run -p floorline-server openapi` and commit it");
}

#[tokio::test]
async fn shutdown_finishes_an_accepted_batch_and_refuses_new_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = std::sync::Arc::new(TestServer::start("").await);
    s.seed().await;
    let addr = s.url.trim_start_matches("http://").to_string();
    let body = json!([earning("in-flight", 7)]).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/ingest/earnings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        s.ingest,
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(first.as_bytes()).await.unwrap();
    // Give the server time to take the request in, then ask it to stop.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let stopping = {
        let s = s.clone();
        tokio::spawn(async move { s.stop().await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !stopping.is_finished(),
        "the server stopped with a request in flight"
    );
    // No new connections once shutdown has begun.
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "a new connection was accepted during shutdown"
    );
    // The rest of the batch arrives; it is answered and written.
    conn.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        conn.read_to_end(&mut answer),
    )
    .await
    .expect("no answer within 10 s")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""accepted":1"#), "{answer}");
    tokio::time::timeout(std::time::Duration::from_secs(10), stopping)
        .await
        .expect("the server did not stop after its last request")
        .unwrap();
    // The batch is in the database: re-sending it is a duplicate.
    let again: Vec<floorline_core::bundle::Earning> = serde_json::from_str(&body).unwrap();
    let report = s.state.engine.store().ingest(&again).await.unwrap();
    assert_eq!((report.accepted, report.duplicates), (0, 1));
}

/// SPEC D11's off-ramp in the admin status: `R` of each settled epoch
/// against the target, reached at the second of two consecutive epochs at or
/// above it.
#[tokio::test]
async fn admin_status_reports_the_off_ramp() {
    let s = TestServer::start("target_revenue_micro_usd = 40000000\n").await;
    s.seed().await;
    let (st, status) = s.get("/v1/admin/base-rewards", &s.admin).await;
    assert_eq!(st, 200, "{status}");
    assert_eq!(
        status["off_ramp"],
        json!({"target_micro_usd": 40_000_000, "epochs": [], "reached": false, "first_reached": null})
    );
    let (st, run) = s
        .post("/v1/admin/epochs/2026-10/settle", &s.admin, json!({}))
        .await;
    assert_eq!(st, 200, "{run}");
    let (_, status) = s.get("/v1/admin/base-rewards", &s.admin).await;
    let oct = json!({"epoch": "2026-10", "run_id": run["run_id"], "trailing_revenue_micro_usd": 50_000_000, "at_or_above_target": true});
    assert_eq!(status["off_ramp"]["epochs"], json!([oct]), "{status}");
    assert_eq!(status["off_ramp"]["reached"], json!(false));
    // September earned as much in its trailing 30 days: two in a row.
    s.ingest_ok(
        "earnings",
        json!([{"job_id": "job-b0", "machine_id": "m-bob-512", "consumer_account_id": "dave", "amount_micro_usd": 50000000, "kind": "inference", "pinned": false, "at": "2026-09-25T00:00:00Z"}]),
    )
    .await;
    let (st, sep) = s
        .post("/v1/admin/epochs/2026-09/settle", &s.admin, json!({}))
        .await;
    assert_eq!(st, 200, "{sep}");
    let (_, status) = s.get("/v1/admin/base-rewards", &s.admin).await;
    let epochs = status["off_ramp"]["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 2, "{status}");
    assert_eq!(epochs[0]["epoch"], json!("2026-09"));
    assert_eq!(epochs[0]["trailing_revenue_micro_usd"], json!(50_000_000));
    assert_eq!(epochs[1], oct);
    assert_eq!(status["off_ramp"]["reached"], json!(true));
    assert_eq!(status["off_ramp"]["first_reached"], json!("2026-10"));
}
