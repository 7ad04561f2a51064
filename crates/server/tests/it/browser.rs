//! The dashboard end to end in headless Chromium (fantoccini driving
//! Debian's chromedriver): sign-in, a provider's own machines and gates, the
//! admin's preview / settle with confirmation, draws paging, sorting and CSV,
//! phone width, and the honest-wording rules of SPEC §8 on every rendered
//! state. Each test has its own server, chromedriver and browser; waits poll
//! the page (no fixed sleeps). Screenshots go to `target/screenshots/`.

mod driver;

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

/// What a rendered text breaks of SPEC §8's wording rules: "guarantee" only
/// inside "not a guarantee"; the streaming-subscription promise only on a
/// line that names 64 GB+ machines.
fn wording_problems(state: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let lower = text.to_lowercase();
    for (at, _) in lower.match_indices("guarantee") {
        let before = lower.get(..at).unwrap_or_default();
        let after = lower.get(at + "guarantee".len()..).unwrap_or_default();
        let whole_word = !after.starts_with(|c: char| c.is_alphanumeric());
        if !(before.ends_with("not a ") && whole_word) {
            let from = at.saturating_sub(40);
            problems.push(format!(
                "{state}: “guarantee” outside “not a guarantee”: …{}…",
                lower
                    .get(from..(at + 30).min(lower.len()))
                    .unwrap_or_default()
            ));
        }
    }
    for line in text.lines() {
        if line.to_lowercase().contains("streaming") && !line.contains("64 GB+") {
            problems.push(format!(
                "{state}: streaming-subscription promise not anchored to 64 GB+: {line}"
            ));
        }
    }
    problems
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
    b.screenshot("admin-confirm-phone").await;
    b.click("#confirm-cancel").await;
    b.close().await;
}

#[tokio::test]
async fn rendered_text_has_honest_wording() {
    let (s, b) = start().await;
    let mut seen: Vec<(String, String)> = Vec::new();
    macro_rules! snap {
        ($state:expr) => {
            seen.push(($state.to_string(), b.body_text().await))
        };
    }
    b.goto("/provider").await;
    b.wait_for("document.body.dataset.state === 'signed-out'", "sign-in")
        .await;
    snap!("provider, signed out");
    b.type_into("#key", "wrong").await;
    b.click("#signin-button").await;
    b.wait_text("#alert", "401").await;
    snap!("provider, bad key");
    b.sign_in(&s.alice).await;
    b.wait_for("document.body.dataset.details === 'done'", "settled months")
        .await;
    snap!("provider alice, open month");

    b.goto("/admin").await;
    b.wait_for("document.body.dataset.state === 'signed-out'", "sign-in")
        .await;
    snap!("admin, signed out");
    b.sign_in(&s.admin).await;
    snap!("admin, no run");
    for (button, done) in [
        ("#preview-button", "Previewed"),
        ("#settle-button", "Settled"),
    ] {
        b.click(button).await;
        b.wait_for("document.getElementById('confirm').open", "the dialog")
            .await;
        snap!(format!("admin, {button} dialog"));
        b.click("#confirm-ok").await;
        b.wait_text("#status", done).await;
        snap!(format!("admin, after {button}"));
    }
    for m in ["m-alice-64", "m-alice-24", "m-bob-512", "m-carol-16"] {
        b.type_into("#explain-machine", m).await;
        b.click("#explain-button").await;
        b.wait_text("#explain-out", m).await;
        snap!(format!("admin, explain {m}"));
    }
    b.click("#csv-button").await;
    b.wait_text("#status", "CSV").await;
    snap!("admin, CSV");

    s.state.invalidate().await;
    let carol = provider_key(&s, "carol").await;
    for (who, key) in [
        ("alice", s.alice.clone()),
        ("bob", s.bob.clone()),
        ("carol", carol),
    ] {
        b.goto("/provider").await;
        b.wait_for("document.body.dataset.state", "the page").await;
        if b.js("return document.body.dataset.state;", vec![]).await != json!("signed-out") {
            b.click("#sign-out").await;
        }
        b.sign_in(&key).await;
        b.wait_for("document.body.dataset.details === 'done'", "settled months")
            .await;
        snap!(format!("provider {who}, after settlement"));
    }
    b.close().await;

    let problems: Vec<String> = seen
        .iter()
        .flat_map(|(state, text)| wording_problems(state, text))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The rules were exercised: the phrase and the anchored promise do appear.
    let all: String = seen.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        all.contains("not a guarantee")
            && all.contains("baseline while eligible")
            && all.contains("earnings floor")
    );
    assert!(all.contains("64 GB+: the floor covers a streaming subscription"));
    assert!(seen.len() >= 16, "{}", seen.len());
    // The checker itself catches what it must.
    assert!(!wording_problems("t", "A guaranteed floor").is_empty());
    assert!(!wording_problems("t", "We guarantee it, not a guarantee").is_empty());
    assert!(!wording_problems("t", "32 GB: covers a streaming subscription").is_empty());
    assert!(wording_problems(
        "t",
        "a baseline, not a guarantee.\n64 GB+: covers a streaming subscription"
    )
    .is_empty());
}

#[tokio::test]
async fn dashboard_assets_are_self_contained_and_honest() {
    let s = TestServer::start("").await;
    for page in ["/provider", "/admin"] {
        let resp = s.http.get(format!("{}{page}", s.url)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        let html = resp.text().await.unwrap();
        assert!(html.contains("<html lang=\"en\">"), "{page}");
        assert!(
            !html.contains("<script>") && !html.contains(" style="),
            "{page}: inline script or style"
        );
    }
    for name in floorline_server::dashboard::asset_names() {
        let resp = s
            .http
            .get(format!("{}/assets/{name}", s.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{name}");
        let text = resp.text().await.unwrap();
        // Nothing is fetched from elsewhere (the SVG namespace is a name, not a fetch).
        let outside = text.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !outside.contains("http://")
                && !outside.contains("https://")
                && !outside.contains("//cdn"),
            "{name} refers elsewhere"
        );
        let problems = wording_problems(name, &text);
        assert!(problems.is_empty(), "{problems:?}");
    }
    assert_eq!(
        s.http
            .get(format!("{}/assets/..%2fCargo.toml", s.url))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
