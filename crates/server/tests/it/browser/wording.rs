//! SPEC §8's honest wording, checked on the visible text of every page in
//! every state (and on the embedded assets): "guarantee" only inside "not a
//! guarantee", the streaming-subscription promise only next to 64 GB+.

use serde_json::json;

use super::{provider_key, start};
use crate::harness::TestServer;

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
