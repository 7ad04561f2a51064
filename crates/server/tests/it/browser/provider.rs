//! The provider page: sign-in and errors, own machines with tier, verified
//! memory, uptime against the line, gates and the estimate, the tier table's
//! wording, usage-only machines, and that no other account is ever visible.

use serde_json::{json, Value};

use super::{page_gates, provider_key, settle_october, start};

#[tokio::test]
async fn provider_sees_own_machines_gates_and_tier_wording() {
    let (s, b) = start().await;
    b.goto("/provider").await;
    b.wait_for(
        "document.body.dataset.state === 'signed-out'",
        "the sign-in form",
    )
    .await;
    let form = b.js("const i = document.getElementById('key'); return [i.type, document.querySelector('label[for=key]').innerText, document.documentElement.lang];", vec![]).await;
    assert_eq!(form, json!(["password", "Provider API key", "en"]));

    b.screenshot("provider-signin-desktop").await;

    // A bad key: the API's error shows in the alert region; still signed out.
    b.type_into("#key", "not-a-real-key").await;
    b.click("#signin-button").await;
    let alert = b.wait_text("#alert", "unknown or revoked key").await;
    assert!(alert.contains("401"), "{alert}");
    assert_eq!(
        b.js(
            "return document.getElementById('alert').getAttribute('aria-live');",
            vec![]
        )
        .await,
        json!("assertive")
    );
    assert_eq!(
        b.js("return sessionStorage.length;", vec![]).await,
        json!(0)
    );

    b.sign_in(&s.alice).await;
    b.wait_for(
        "document.body.dataset.details === 'done'",
        "each machine's settled months",
    )
    .await;
    assert!(b.text("#alert").await.is_empty());
    assert_eq!(
        b.js(
            "return sessionStorage.getItem('floorline.provider.key');",
            vec![]
        )
        .await,
        json!(s.alice)
    );
    assert_eq!(
        b.js(
            "return document.querySelectorAll('#machines article.machine').length;",
            vec![]
        )
        .await,
        json!(2)
    );

    // Every gate exactly as the API reports it.
    let (_, api) = s.get("/v1/provider/machines", &s.alice).await;
    for m in api["machines"].as_array().unwrap() {
        let id = m["machine_id"].as_str().unwrap();
        let want: Vec<(String, bool)> = m["gates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["gate"].as_str().unwrap().to_string(),
                    g["passed"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(page_gates(&b, id).await, want, "{id}");
    }
    // m-alice-64: up all month, attested, 64 GB, bound: those gates pass.
    let g64 = page_gates(&b, "m-alice-64").await;
    for gate in ["attested", "memory_tier", "uptime", "payout_account"] {
        assert!(g64.contains(&(gate.to_string(), true)), "{gate}: {g64:?}");
    }
    // m-alice-24 left on 8 October: uptime fails, with its reason.
    assert!(page_gates(&b, "m-alice-24")
        .await
        .contains(&("uptime".to_string(), false)));
    let c24 = b.text("#machine-m-alice-24").await;
    assert!(
        c24.contains("uptime_below_gate") && c24.contains("Uptime must be above 90.00 %"),
        "{c24}"
    );
    assert!(c24.contains("0.00 %") && c24.contains("not above"), "{c24}");

    let c64 = b.text("#machine-m-alice-64").await;
    for want in [
        "64 GB",
        "Why: as reported",
        "earnings floor $18.00",
        "100.00 %",
        "90 % line",
        "Estimate for November 2026",
        "Estimate",
        "64 GB+ machine",
        "Settled months",
    ] {
        assert!(c64.contains(want), "card lacks {want:?}:\n{c64}");
    }
    assert!(
        !c24.contains("streaming"),
        "the promise is for 64 GB+ only:\n{c24}"
    );
    let note = b.text("#estimate-note").await;
    assert_eq!(note, api["note"].as_str().unwrap());
    // The uptime bar marks the line at 90 %.
    let line = b
        .js(
            "return document.querySelector('#machine-m-alice-64 .bar-line').style.left;",
            vec![],
        )
        .await;
    assert_eq!(line, json!("90%"));
    // Stacked chart of earned + base (only the estimate so far).
    assert!(
        b.js(
            "return document.querySelectorAll('#history-chart svg rect').length;",
            vec![]
        )
        .await
        .as_u64()
        .unwrap()
            <= 2
    );
    assert!(b
        .text("#history-table")
        .await
        .contains("No settled months yet"));

    // The tier table's wording.
    let tiers = b.text("#tiers").await;
    for want in [
        "Under 24 GB",
        "Usage-only",
        "24–31 GB",
        "$10.00",
        "64–95 GB",
        "$18.00",
        "512 GB and up",
        "$40.00",
        "baseline while eligible, not a guarantee",
        "64 GB+: the floor covers a streaming subscription",
    ] {
        assert!(tiers.contains(want), "tier table lacks {want:?}:\n{tiers}");
    }
    let th = b
        .js(
            "return [...document.querySelectorAll('#tiers th')].map(t => t.getAttribute('scope'));",
            vec![],
        )
        .await;
    assert!(
        th.as_array()
            .unwrap()
            .iter()
            .all(|s| s == "col" || s == "row"),
        "{th}"
    );
    b.screenshot("provider-desktop").await;

    // Sign out forgets the key; carol (16 GB) sees a usage-only machine.
    b.click("#sign-out").await;
    b.wait_for("document.body.dataset.state === 'signed-out'", "signed out")
        .await;
    assert_eq!(
        b.js(
            "return sessionStorage.getItem('floorline.provider.key');",
            vec![]
        )
        .await,
        Value::Null
    );
    let carol = provider_key(&s, "carol").await;
    b.sign_in(&carol).await;
    let c16 = b.wait_text("#machine-m-carol-16", "Usage-only").await;
    assert!(
        c16.contains("no earnings floor") && !c16.contains("streaming"),
        "{c16}"
    );
    assert!(b.js("return document.querySelector('#machine-m-carol-16 [data-gate=memory_tier]').dataset.passed;", vec![]).await == json!("false"));
    b.close().await;
}

#[tokio::test]
async fn provider_cannot_see_another_account() {
    let (s, b) = start().await;
    settle_october(&s).await;
    b.goto("/provider").await;
    b.sign_in(&s.alice).await;
    b.wait_for(
        "document.body.dataset.details === 'done'",
        "each machine's settled months",
    )
    .await;
    b.wait_text("#history-table", "October 2026").await;
    b.screenshot("provider-settled-desktop").await;
    let source = b.client.source().await.unwrap();
    let text = b.body_text().await;
    assert!(text.contains("m-alice-64") && text.contains("m-alice-24"));
    assert!(
        !source.contains("m-bob-512") && !text.contains("m-bob-512"),
        "alice's page shows bob's machine"
    );

    // The page's own API helper (alice's key from sessionStorage): 404, not 403.
    let seen = b
        .js_async("floorline.api('/v1/provider/machines/m-bob-512').then(() => done('200'), e => done(e.status + ' ' + e.code));", vec![])
        .await;
    assert_eq!(seen, json!("404 not_found"));
    let raw = b
        .js_async(
            "fetch('/v1/provider/machines/m-bob-512', {headers: {Authorization: 'Bearer ' + sessionStorage.getItem('floorline.provider.key')}}).then(r => done(r.status));",
            vec![],
        )
        .await;
    assert_eq!(raw, json!(404));
    let (status, body) = s.get("/v1/provider/machines/m-bob-512", &s.alice).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("not_found"))
    );
    assert_eq!(
        s.get("/v1/provider/machines/m-bob-512", &s.bob).await.0,
        200
    );

    // Bob sees his machine and none of alice's.
    b.click("#sign-out").await;
    b.sign_in(&s.bob).await;
    let text = b.wait_text("#machines", "m-bob-512").await;
    assert!(
        !b.client.source().await.unwrap().contains("m-alice"),
        "{text}"
    );
    b.close().await;
}

/// Live status from heartbeats on the page: online with the last heartbeat,
/// offline and not seen this month, and the highest uptime each can still
/// reach if it stays up from now (the API's figure, in words).
#[tokio::test]
async fn provider_sees_online_last_seen_and_reachable_uptime() {
    let (s, b) = start().await;
    b.goto("/provider").await;
    b.sign_in(&s.alice).await;
    let up = b
        .wait_text("#machine-m-alice-64 .live-status", "Online")
        .await;
    assert!(up.contains("last heartbeat 2026-11-10 11:59 UTC"), "{up}");
    let down = b
        .wait_text("#machine-m-alice-24 .live-status", "Offline")
        .await;
    assert!(down.contains("not seen in November 2026"), "{down}");
    let (_, api) = s.get("/v1/provider/machines", &s.alice).await;
    for m in api["machines"].as_array().unwrap() {
        let id = m["machine_id"].as_str().unwrap();
        let shown = b
            .js(
                "return document.querySelector('#machine-' + CSS.escape(arguments[0]) + ' .reachable').dataset.reachable;",
                vec![json!(id)],
            )
            .await;
        assert_eq!(shown, json!(m["uptime_reachable_ppm"].to_string()), "{id}");
    }
    let text = b.text("#machine-m-alice-24 .reachable").await;
    assert!(text.contains("can still reach 68.33"), "{text}");
    assert!(text.contains("this month"), "{text}");
    b.screenshot("provider-live-status").await;
}
