//! The admin page: preview and settle behind the confirmation dialog, the
//! pool, per-tier totals, excluded machines, one machine's explanation, and
//! the draws table's paging, sorting and CSV download.

use serde_json::json;

use super::driver::Browser;
use super::{draw_rows, seed_more_machines, settle_october, start};
use crate::harness::TestServer;

#[tokio::test]
async fn admin_previews_and_settles_with_confirmation() {
    let (s, b) = start().await;
    b.goto("/admin").await;
    // A provider key is refused with the API's 403 message.
    b.sign_in_expecting_error(&s.alice, "this needs an admin key")
        .await;
    b.sign_in(&s.admin).await;
    assert_eq!(
        b.js(
            "return document.getElementById('epoch-select').value;",
            vec![]
        )
        .await,
        json!("2026-10")
    );
    b.wait_text("#epoch-summary", "No run of October 2026 yet")
        .await;
    b.wait_text("#pool", "not settled yet").await;
    b.screenshot("admin-no-run-desktop").await;

    // Cancelling the dialog changes nothing.
    b.click("#preview-button").await;
    b.wait_for(
        "document.getElementById('confirm').open",
        "the confirmation dialog",
    )
    .await;
    assert!(b.text("#confirm").await.contains("No money moves"));
    assert_eq!(
        b.js("return document.activeElement.id;", vec![]).await,
        json!("confirm-cancel")
    );
    b.click("#confirm-cancel").await;
    b.wait_text("#status", "cancelled").await;
    assert_eq!(
        s.get("/v1/admin/epochs", &s.admin).await.1["epochs"],
        json!([])
    );

    // Preview: a run appears, no money moves.
    b.click("#preview-button").await;
    b.wait_for(
        "document.getElementById('confirm').open",
        "the confirmation dialog",
    )
    .await;
    b.click("#confirm-ok").await;
    b.wait_text("#status", "Previewed October 2026").await;
    b.wait_text("#epoch-summary", "preview").await;
    assert!(b.text("#draws").await.contains("previews move no money"));
    let excluded = b.text("#excluded").await;
    assert!(
        excluded.contains("m-alice-24") && excluded.contains("uptime_below_gate"),
        "{excluded}"
    );
    assert!(
        excluded.contains("m-carol-16") && excluded.contains("below_min_memory"),
        "{excluded}"
    );
    assert!(
        b.js(
            "return document.querySelectorAll('#tier-chart svg rect').length;",
            vec![]
        )
        .await
        .as_u64()
        .unwrap()
            >= 2
    );

    // Settle: the draws table fills in and the pool shows what was used.
    b.click("#settle-button").await;
    b.wait_for(
        "document.getElementById('confirm').open",
        "the confirmation dialog",
    )
    .await;
    assert!(b
        .text("#confirm-title")
        .await
        .contains("Settle October 2026?"));
    b.screenshot_viewport("admin-confirm-desktop").await;
    b.click("#confirm-ok").await;
    b.wait_text("#status", "Settled October 2026").await;
    b.wait_for(
        "document.querySelectorAll('#draws-table tbody tr').length > 0",
        "draw rows",
    )
    .await;
    let (_, api) = s.get("/v1/admin/epochs/2026-10/draws", &s.admin).await;
    let want: Vec<String> = api["draws"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["machine_id"].as_str().unwrap().to_string())
        .collect();
    let rows = draw_rows(&b).await;
    assert_eq!(rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(), want);
    assert!(
        rows.contains(&("m-alice-64".to_string(), "$18.00".to_string())),
        "{rows:?}"
    );
    // m-bob-512 earned $50 organically, above its $40 floor: no draw, but its
    // earnings show in the tier totals.
    assert!(!rows.iter().any(|r| r.0 == "m-bob-512"), "{rows:?}");
    assert!(b.text("#tier-table").await.contains("$50.00"));
    let pool = b.wait_text("#pool", "settled").await;
    assert!(
        pool.contains("$18.00") && pool.contains("$8,982.00"),
        "{pool}"
    );
    assert!(b.text("#epoch-summary").await.contains("live"));
    assert_eq!(
        s.get("/v1/admin/base-rewards", &s.admin).await.1["settled"],
        json!(true)
    );

    // One machine's explanation: formula terms and evidence.
    b.click("#excluded button[data-explain='m-alice-24']").await;
    let x = b.wait_text("#explain-out", "Formula terms").await;
    for want in [
        "m-alice-24 in October 2026",
        "not eligible",
        "uptime_below_gate",
        "Available time A",
        "22.58 %",
        "Tier floor",
        "$10.00",
        "Sessions (1)",
        "2026-10-08",
        "Probes (1)",
    ] {
        assert!(x.contains(want), "explanation lacks {want:?}:\n{x}");
    }
    b.screenshot("admin-desktop").await;
    b.close().await;
}

#[tokio::test]
async fn admin_draws_page_sort_and_download_csv() {
    let s = TestServer::start("").await;
    s.seed().await;
    seed_more_machines(&s, 12).await;
    settle_october(&s).await;
    let (_, all) = s.get("/v1/admin/epochs/2026-10/draws", &s.admin).await;
    let n = all["draws"].as_array().unwrap().len();
    assert_eq!(n, 13, "{all}");
    let b = Browser::start(&s.url).await;
    b.goto("/admin").await;
    b.sign_in(&s.admin).await;
    b.wait_for(
        "document.querySelectorAll('#draws-table tbody tr').length === 13",
        "13 draws",
    )
    .await;

    // Ten a page: next, then previous.
    b.client
        .find(fantoccini::Locator::Css("#page-size"))
        .await
        .unwrap()
        .select_by_value("10")
        .await
        .unwrap();
    b.wait_for(
        "document.querySelectorAll('#draws-table tbody tr').length === 10",
        "a page of 10",
    )
    .await;
    assert_eq!(b.text("#draws-range").await, "Rows 1–10");
    assert_eq!(
        b.js(
            "return document.getElementById('prev-page').disabled;",
            vec![]
        )
        .await,
        json!(true)
    );
    let first = draw_rows(&b).await;
    b.click("#next-page").await;
    b.wait_for(
        "document.querySelectorAll('#draws-table tbody tr').length === 3",
        "the last 3 rows",
    )
    .await;
    assert_eq!(b.text("#draws-range").await, "Rows 11–13");
    assert_eq!(
        b.js(
            "return document.getElementById('next-page').disabled;",
            vec![]
        )
        .await,
        json!(true)
    );
    let second = draw_rows(&b).await;
    assert!(second.iter().all(|r| !first.contains(r)));
    b.click("#prev-page").await;
    b.wait_for(
        "document.querySelectorAll('#draws-table tbody tr').length === 10",
        "the first page again",
    )
    .await;
    assert_eq!(draw_rows(&b).await, first);

    // Sorting by amount, both ways, by clicking (and by keyboard) on the heading.
    let amount = |r: &(String, String)| {
        r.1.trim_start_matches('$')
            .replace(',', "")
            .parse::<f64>()
            .unwrap()
    };
    b.click("#draws-table th button[data-key='amount_micro_usd']")
        .await;
    b.wait_for("document.querySelector('#draws-table th[aria-sort]') && document.querySelector('#draws-table th[aria-sort]').innerText.includes('AMOUNT')", "sorted by amount").await;
    assert_eq!(b.js("return document.querySelector('#draws-table th[aria-sort]').getAttribute('aria-sort');", vec![]).await, json!("ascending"));
    let asc: Vec<f64> = draw_rows(&b).await.iter().map(amount).collect();
    assert!(asc.windows(2).all(|w| w[0] <= w[1]), "{asc:?}");
    b.client
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{e007}")
        .await
        .unwrap(); // Enter on the focused heading button
    b.wait_for(
        "document.querySelector('#draws-table th[aria-sort=descending]')",
        "sorted descending",
    )
    .await;
    let desc: Vec<f64> = draw_rows(&b).await.iter().map(amount).collect();
    assert!(
        desc.windows(2).all(|w| w[0] >= w[1]) && desc.first() > desc.last(),
        "{desc:?}"
    );

    // CSV: fetched with the bearer header, offered as a Blob download.
    b.click("#csv-button").await;
    b.wait_for(
        "!document.getElementById('csv-link').hidden",
        "the CSV link",
    )
    .await;
    let href = b
        .js("return document.getElementById('csv-link').href;", vec![])
        .await;
    assert!(href.as_str().unwrap().starts_with("blob:"), "{href}");
    assert_eq!(
        b.js(
            "return document.getElementById('csv-link').download;",
            vec![]
        )
        .await,
        json!("draws-2026-10.csv")
    );
    let csv = b
        .js_async(
            "fetch(document.getElementById('csv-link').href).then(r => r.text()).then(done);",
            vec![],
        )
        .await;
    let csv = csv.as_str().unwrap();
    assert!(
        csv.starts_with("epoch,machine_id,account_id,amount_micro_usd,verified_memory_gb,run_id\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), n + 1);
    assert!(
        csv.contains("2026-10,m-alice-64,alice,18000000,64,"),
        "{csv}"
    );
    b.wait_text("#status", "13 draw(s)").await;
    // The browser saved the same file.
    if let Some(saved) = b.wait_download("draws-2026-10.csv").await {
        assert_eq!(saved, csv);
    }
    b.close().await;
}

/// A late earning after October was settled: verify still says the run is
/// right (it recomputes from the facts the run read), the drift table names
/// the machine and the −$5 today's facts would change, and its Adjust…
/// action claws that back from the account through the ledger.
#[tokio::test]
async fn admin_verifies_an_epoch_and_adjusts_for_late_facts() {
    let (s, b) = start().await;
    settle_october(&s).await;
    let before = s.state.engine.store().balance("alice").await.unwrap();
    s.ingest_ok(
        "earnings",
        json!([{"job_id": "job-late", "machine_id": "m-alice-64", "consumer_account_id": "dave", "amount_micro_usd": 5000000, "kind": "inference", "pinned": false, "at": "2026-10-20T00:00:00Z"}]),
    )
    .await;
    s.state.invalidate().await;
    b.goto("/admin").await;
    b.sign_in(&s.admin).await;
    b.wait_text("#epoch-summary", "live").await;
    b.click("#verify-button").await;
    let out = b.wait_text("#verify-out", "Verified").await;
    assert!(out.contains("reproduce from the facts they read"), "{out}");
    let rows = b
        .js(
            "return [...document.querySelectorAll('#drift-table tbody tr')].map(tr => [tr.cells[0].innerText, tr.cells[1].innerText, tr.cells[4].innerText]);",
            vec![],
        )
        .await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0][0], json!("m-alice-64"));
    assert_eq!(rows[0][1], json!("alice"));
    assert!(rows[0][2].as_str().unwrap().contains("5.00"), "{rows}");
    b.screenshot("admin-verify-drift").await;

    // Cancel first: nothing is written.
    b.click("#drift-table button.adjust-drift").await;
    b.wait_for(
        "document.getElementById('confirm').open",
        "the confirmation dialog",
    )
    .await;
    assert!(b
        .text("#confirm")
        .await
        .contains("Claw back $5.00 from alice"));
    b.click("#confirm-cancel").await;
    b.wait_text("#status", "Adjustment cancelled").await;
    assert_eq!(
        s.state.engine.store().balance("alice").await.unwrap(),
        before
    );
    // Confirm: one clawback of exactly the change.
    b.click("#drift-table button.adjust-drift").await;
    b.wait_for(
        "document.getElementById('confirm').open",
        "the confirmation dialog",
    )
    .await;
    b.click("#confirm-ok").await;
    b.wait_text("#status", "Ledger entry #").await;
    assert_eq!(
        s.state.engine.store().balance("alice").await.unwrap(),
        before - 5_000_000
    );
}
