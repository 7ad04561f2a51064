//! The dashboard end to end in headless Chromium (fantoccini driving
//! Debian's chromedriver): sign-in, a provider's own machines and gates, the
//! admin's preview / settle with confirmation, draws paging, sorting and CSV,
//! phone width, and the honest-wording rules of SPEC §8 on every rendered
//! state. Each test has its own server, chromedriver and browser; waits poll
//! the page (no fixed sleeps). Screenshots go to `target/screenshots/`.

mod admin;
mod driver;
mod periods;
mod provider;
mod wording;

use serde_json::{json, Value};

use crate::harness::TestServer;
use driver::Browser;

async fn start() -> (TestServer, Browser) {
    let s = TestServer::start("").await;
    s.seed().await;
    let b = Browser::start(&s.url).await;
    (s, b)
}

/// Settles October 2026 through the API (for tests about what follows).
async fn settle_october(s: &TestServer) {
    let (status, body) = s
        .post("/v1/admin/epochs/2026-10/settle", &s.admin, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    s.state.invalidate().await;
}

/// A provider key for `account`, made like the harness makes alice's.
async fn provider_key(s: &TestServer, account: &str) -> String {
    s.state
        .engine
        .create_key(floorline_store::Role::Provider, Some(account))
        .await
        .unwrap()
        .1
}

/// `n` more idle, probed machines up all October, one account each, so
/// October has more draws than one page: m-x-00 … (32, 48 or 64 GB).
async fn seed_more_machines(s: &TestServer, n: usize) {
    let ids: Vec<String> = (0..n).map(|i| format!("m-x-{i:02}")).collect();
    let gb = |i: usize| [32, 48, 64][i % 3];
    let each = |f: &dyn Fn(usize, &str) -> Value| {
        Value::Array(ids.iter().enumerate().map(|(i, id)| f(i, id)).collect())
    };
    s.ingest_ok("machines", each(&|i, id| json!({"machine_id": id, "attested_at": "2026-09-01T00:00:00Z", "hardware_model": "Mac16,11", "reported_memory_gb": gb(i), "trust": "hardware"}))).await;
    s.ingest_ok("bindings", each(&|_, id| json!({"machine_id": id, "account_id": format!("acct-{id}"), "payout_identity": format!("pay-{id}"), "from": "2026-01-01T00:00:00Z"}))).await;
    s.ingest_ok("sessions", each(&|_, id| json!({"session_id": format!("s-{id}"), "machine_id": id, "connected_at": "2026-09-30T00:00:00Z", "last_seen_at": "2026-11-10T11:59:00Z"}))).await;
    s.ingest_ok("probes", each(&|_, id| json!({"probe_id": format!("pr-{id}"), "machine_id": id, "at": "2026-10-05T00:00:00Z", "passed": true}))).await;
    s.state.invalidate().await;
}

/// The page's gates of `machine` as `(gate, passed)`.
async fn page_gates(b: &Browser, machine: &str) -> Vec<(String, bool)> {
    let v = b
        .js(
            "return [...document.querySelectorAll('#machine-' + CSS.escape(arguments[0]) + ' .gates li')].map(li => [li.dataset.gate, li.dataset.passed === 'true']);",
            vec![json!(machine)],
        )
        .await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|g| (g[0].as_str().unwrap().to_string(), g[1].as_bool().unwrap()))
        .collect()
}

/// The machine ids of the draws table rows, top to bottom.
async fn draw_rows(b: &Browser) -> Vec<(String, String)> {
    let v = b.js("return [...document.querySelectorAll('#draws-table tbody tr')].map(tr => [tr.cells[0].innerText, tr.cells[2].innerText]);", vec![]).await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn pages_fit_a_phone_width() {
    let (s, b) = start().await;
    settle_october(&s).await;
    b.set_viewport(375, 800).await;
    for page in ["/provider", "/admin"] {
        b.goto(page).await;
        b.wait_for(
            "document.body.dataset.state === 'signed-out'",
            "the sign-in form",
        )
        .await;
        b.assert_no_horizontal_overflow(&format!("{page}, signed out"))
            .await;
    }
    b.screenshot("admin-signin-phone").await;

    b.goto("/provider").await;
    b.sign_in(&s.alice).await;
    b.wait_for("document.body.dataset.details === 'done'", "settled months")
        .await;
    assert_eq!(b.widths().await.2, 375);
    b.assert_no_horizontal_overflow("/provider, alice").await;
    // Wide tables scroll inside their own box instead.
    let scrolls = b
        .js("return [...document.querySelectorAll('.table-wrap')].every(w => getComputedStyle(w).overflowX === 'auto');", vec![])
        .await;
    assert_eq!(scrolls, json!(true));
    b.screenshot("provider-phone").await;

    b.goto("/admin").await;
    b.sign_in(&s.admin).await;
    b.wait_for(
        "document.querySelectorAll('#draws-table tbody tr').length > 0",
        "draw rows",
    )
    .await;
    b.assert_no_horizontal_overflow("/admin, settled").await;
    b.click("#excluded button[data-explain='m-alice-24']").await;
    b.wait_text("#explain-out", "Evidence").await;
    b.assert_no_horizontal_overflow("/admin, explanation").await;
    b.screenshot("admin-phone").await;
    b.click("#settle-button").await;
    b.wait_for(
        "document.getElementById('confirm').open",
        "the confirmation dialog",
    )
    .await;
    b.assert_no_horizontal_overflow("/admin, settle dialog")
        .await;
    b.screenshot_viewport("admin-confirm-phone").await;
    b.click("#confirm-cancel").await;
    b.close().await;
}
