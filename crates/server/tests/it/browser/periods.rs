//! Settlement periods on the pages (SPEC §10): the admin's month by period
//! (each period's pool, used and unallocated, their sums, paging, the month
//! CSV, opening one period) and the provider's base accrued this month plus
//! the open period's estimate.

use serde_json::json;

use super::driver::Browser;
use crate::periods::daily_server;

#[tokio::test]
async fn admin_lists_a_month_of_daily_periods_and_its_csv() {
    let s = daily_server().await;
    let b = Browser::start(&s.url).await;
    b.goto("/admin").await;
    b.sign_in(&s.admin).await;
    b.wait_text("#pool", "Last closed period").await;
    let totals = b
        .wait_text("#month-totals", "30 period(s) of one day")
        .await;
    assert!(totals.contains("9 closed, 9 settled"), "{totals}");
    let (_, api) = s.get("/v1/admin/months/2026-11", &s.admin).await;
    // The page's rows are the API's, in order, with its figures.
    let rows = b
        .js(
            "return [...document.querySelectorAll('#month-table tbody tr')].map(tr => [tr.cells[0].innerText, tr.cells[1].innerText, tr.cells[3].querySelector('span') ? tr.cells[3].querySelector('span').title : '']);",
            vec![],
        )
        .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 30);
    for (row, want) in rows.iter().zip(api["periods"].as_array().unwrap()) {
        assert_eq!(row[0], want["epoch"]);
        let state = row[1].as_str().unwrap();
        assert_eq!(
            state.starts_with("settled"),
            want["settled"] == json!(true),
            "{row}"
        );
    }
    let used = api["periods"][0]["used_micro_usd"].as_i64().unwrap();
    assert!(
        rows[0][2]
            .as_str()
            .unwrap()
            .replace(',', "")
            .starts_with(&used.to_string()),
        "{} vs {used}",
        rows[0][2]
    );
    b.screenshot("admin-month-periods").await;

    // The month CSV: one row per machine and account.
    b.click("#month-csv-button").await;
    b.wait_text("#status", "CSV of November 2026 ready").await;
    let n = b
        .js(
            "return document.getElementById('month-csv-link').dataset.rows;",
            vec![],
        )
        .await;
    let (_, statement) = s.get("/v1/admin/months/2026-11/draws", &s.admin).await;
    assert_eq!(
        n,
        json!(statement["draws"].as_array().unwrap().len().to_string())
    );

    // Opening a period shows its run in the epoch panel.
    b.click("#month-table button.open-period[data-epoch='2026-11-03']")
        .await;
    b.wait_for(
        "document.body.dataset.epoch === '2026-11-03'",
        "the period's detail",
    )
    .await;
    assert_eq!(
        b.js(
            "return document.getElementById('epoch-select').value;",
            vec![]
        )
        .await,
        json!("2026-11-03")
    );
    b.wait_for(
        "document.querySelectorAll('#draws-table tbody tr').length > 0",
        "the period's draws",
    )
    .await;
    b.set_viewport(375, 800).await;
    b.assert_no_horizontal_overflow("/admin, month by period")
        .await;
    b.close().await;
}

#[tokio::test]
async fn provider_sees_base_accrued_this_month_and_the_open_period() {
    let s = daily_server().await;
    let b = Browser::start(&s.url).await;
    b.goto("/provider").await;
    b.sign_in(&s.alice).await;
    // (Stat labels are upper-cased by CSS, and innerText reads them so.)
    let summary = b
        .wait_text("#month-so-far", "Base in November 2026 so far")
        .await
        .to_lowercase();
    assert!(summary.contains("settled periods"), "{summary}");
    assert!(
        summary.contains("10 november 2026"),
        "the open period: {summary}"
    );
    let (_, api) = s.get("/v1/provider/machines", &s.alice).await;
    let accrued = api["month"]["base_accrued_by_machine"]["m-alice-64"]
        .as_i64()
        .unwrap();
    assert!(accrued > 0);
    let shown = b
        .js(
            "return document.querySelector('#machine-m-alice-64 .month-accrued').dataset.accrued;",
            vec![],
        )
        .await;
    assert_eq!(shown, json!(accrued.to_string()));
    let card = b.text("#machine-m-alice-64").await;
    assert!(card.contains("Uptime so far this period"), "{card}");
    assert!(card.contains("Estimate for 10 November 2026"), "{card}");
    assert!(
        b.text("#account-line")
            .await
            .contains("open period 10 November 2026"),
        "the account line names the open period"
    );
    b.screenshot("provider-month-periods").await;
    b.close().await;
}
