//! One probe at a time against real loopback servers: the reference provider
//! in each behaviour, and hand-made broken servers.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use floorline_prober::client::MAX_RESPONSE_BYTES;
use floorline_prober::reference::{Behaviour, STALE_NONCE};
use floorline_prober::{probe_once, Failure, Verdict};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::common::{answer, entry, eventually, http, provider, ANSWER_TIMEOUT, SHORT_TIMEOUT};

async fn probe(url: &str, key: Option<&str>, timeout: Duration) -> Verdict {
    let mut rng = StdRng::seed_from_u64(99);
    probe_once(
        &http(),
        url,
        "mac-studio-1",
        key,
        &entry(),
        timeout,
        &mut rng,
    )
    .await
}

/// Serves `app` on 127.0.0.1:0 and returns its `/probe` URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/probe")
}

fn answering(status: StatusCode, body: &'static str) -> Router {
    Router::new().route(
        "/probe",
        post(move || async move { (status, body).into_response() }),
    )
}

#[tokio::test]
async fn honest_provider_passes_with_either_key_encoding() {
    let p = provider(Behaviour::Honest);
    let running = p.spawn().await.unwrap();
    for key in [p.public_key_x963_b64(), p.public_key_spki_b64().unwrap()] {
        let v = probe(&running.url, Some(&key), ANSWER_TIMEOUT).await;
        assert!(v.passed, "{v:?}");
        assert_eq!(v.failure, None);
        assert_eq!(v.verified_memory_gb, Some(64));
        assert_eq!(v.machine_id, "mac-studio-1");
        assert!(v.probe_id.starts_with("probe-"));
    }
    assert_eq!(running.stats.requests(), 2);
    assert_eq!(running.stats.answered(), 2);
}

#[tokio::test]
async fn each_misbehaviour_fails_with_its_own_reason() {
    for behaviour in Behaviour::ALL {
        let p = provider(behaviour);
        let running = p.spawn().await.unwrap();
        let timeout = if behaviour == Behaviour::TooSlow {
            SHORT_TIMEOUT
        } else {
            ANSWER_TIMEOUT
        };
        let v = probe(&running.url, Some(&p.public_key_x963_b64()), timeout).await;
        assert_eq!(
            v.failure,
            behaviour.expected_failure(),
            "{behaviour:?}: {v:?}"
        );
        assert_eq!(v.passed, behaviour == Behaviour::Honest, "{behaviour:?}");
        assert_eq!(v.verified_memory_gb.is_some(), v.passed, "{behaviour:?}");
        assert_eq!(running.stats.requests(), 1, "{behaviour:?}");
    }
}

#[tokio::test]
async fn replayed_nonce_of_a_real_earlier_probe_fails() {
    let p = provider(Behaviour::ReplayNonce);
    let running = p.spawn().await.unwrap();
    let key = p.public_key_x963_b64();
    let mut rng = StdRng::seed_from_u64(5);
    let client = http();
    // The first answer echoes the stale placeholder, the second the first
    // probe's (real, but old) nonce: both are replays.
    for _ in 0..2 {
        let v = probe_once(
            &client,
            &running.url,
            "m",
            Some(&key),
            &entry(),
            ANSWER_TIMEOUT,
            &mut rng,
        )
        .await;
        assert_eq!(v.failure, Some(Failure::NonceMismatch));
    }
    assert_ne!(STALE_NONCE, "");
}

#[tokio::test]
async fn no_key_sends_nothing() {
    let p = provider(Behaviour::Honest);
    let running = p.spawn().await.unwrap();
    for key in [None, Some(""), Some("bm90IGEga2V5")] {
        let v = probe(&running.url, key, ANSWER_TIMEOUT).await;
        assert_eq!(v.failure, Some(Failure::NoKey), "{key:?}");
        assert!(!v.passed);
    }
    // Let any stray request land before counting.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(running.stats.requests(), 0);
}

#[tokio::test]
async fn timeout_cancels_the_request_and_the_server_sees_the_drop() {
    let p = provider(Behaviour::TooSlow);
    let running = p.spawn().await.unwrap();
    let v = probe(&running.url, Some(&p.public_key_x963_b64()), SHORT_TIMEOUT).await;
    assert_eq!(v.failure, Some(Failure::Timeout));
    // The provider would sleep an hour; its handler is dropped only because
    // the client closed the connection.
    let stats = running.stats.clone();
    let dropped = eventually(Duration::from_secs(10), || {
        let stats = stats.clone();
        async move { stats.dropped() == 1 }
    })
    .await;
    assert!(dropped, "the provider never saw the connection close");
    assert_eq!(running.stats.answered(), 0);
}

#[tokio::test]
async fn malformed_json_is_a_transport_error() {
    let key = provider(Behaviour::Honest).public_key_x963_b64();
    for body in [
        "not json",
        "{}",
        r#"{"probe_id":"p","nonce":"n","text":"t"}"#,
        "[]",
        "",
    ] {
        let url = serve(answering(StatusCode::OK, body)).await;
        let v = probe(&url, Some(&key), ANSWER_TIMEOUT).await;
        assert_eq!(v.failure, Some(Failure::TransportError), "body {body:?}");
    }
}

#[tokio::test]
async fn non_200_is_a_transport_error() {
    let key = provider(Behaviour::Honest).public_key_x963_b64();
    for status in [
        StatusCode::CREATED,
        StatusCode::FOUND,
        StatusCode::BAD_REQUEST,
        StatusCode::BAD_GATEWAY,
    ] {
        let url = serve(answering(status, "{}")).await;
        let v = probe(&url, Some(&key), ANSWER_TIMEOUT).await;
        assert_eq!(v.failure, Some(Failure::TransportError), "status {status}");
    }
}

#[tokio::test]
async fn non_200_with_an_otherwise_valid_answer_is_still_a_transport_error() {
    // A proxy in front of an honest provider that rewrites the status.
    let p = provider(Behaviour::Honest);
    let honest = p.spawn().await.unwrap();
    let upstream = honest.url.clone();
    let app = Router::new().route(
        "/probe",
        post(move |body: String| {
            let upstream = upstream.clone();
            async move {
                let resp = http()
                    .post(upstream)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                (StatusCode::ACCEPTED, resp.text().await.unwrap()).into_response()
            }
        }),
    );
    let url = serve(app).await;
    let v = probe(&url, Some(&p.public_key_x963_b64()), ANSWER_TIMEOUT).await;
    assert_eq!(v.failure, Some(Failure::TransportError));
    assert_eq!(honest.stats.answered(), 1);
}

#[tokio::test]
async fn oversized_body_is_a_transport_error() {
    let key = provider(Behaviour::Honest).public_key_x963_b64();
    let big = "x".repeat(MAX_RESPONSE_BYTES + 1);
    let app = Router::new().route("/probe", post(move || async move { big.clone() }));
    let url = serve(app).await;
    let v = probe(&url, Some(&key), ANSWER_TIMEOUT).await;
    assert_eq!(v.failure, Some(Failure::TransportError));
}

#[tokio::test]
async fn unknown_prompt_is_a_transport_error() {
    let p = provider(Behaviour::Honest);
    let running = p.spawn().await.unwrap();
    let mut other = entry();
    other.prompt = "Something the provider was never taught.".into();
    let mut rng = StdRng::seed_from_u64(1);
    let key = p.public_key_x963_b64();
    let v = probe_once(
        &http(),
        &running.url,
        "m",
        Some(&key),
        &other,
        ANSWER_TIMEOUT,
        &mut rng,
    )
    .await;
    assert_eq!(v.failure, Some(Failure::TransportError));
    assert_eq!(answer().text, "Paris.");
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let key = provider(Behaviour::Honest).public_key_x963_b64();
    let v = probe(&format!("http://{addr}/probe"), Some(&key), ANSWER_TIMEOUT).await;
    assert_eq!(v.failure, Some(Failure::TransportError));
}

#[tokio::test]
async fn the_key_of_another_machine_is_a_bad_signature() {
    let p = provider(Behaviour::Honest);
    let running = p.spawn().await.unwrap();
    let other = floorline_prober::signature::encode_x963(crate::common::key(12).verifying_key());
    let v = probe(&running.url, Some(&other), ANSWER_TIMEOUT).await;
    assert_eq!(v.failure, Some(Failure::BadSignature));
}

#[tokio::test]
async fn the_request_on_the_wire_has_the_spec_shape() {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<serde_json::Value>(1);
    let app = Router::new().route(
        "/probe",
        post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body).await;
                StatusCode::SERVICE_UNAVAILABLE
            }
        }),
    );
    let url = serve(app).await;
    let key = provider(Behaviour::Honest).public_key_x963_b64();
    let v = probe(&url, Some(&key), ANSWER_TIMEOUT).await;
    assert_eq!(v.failure, Some(Failure::TransportError));
    let body = rx.recv().await.unwrap();
    let obj = body.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "machine_id",
            "max_tokens",
            "model",
            "nonce",
            "probe_id",
            "prompt",
            "temperature"
        ]
    );
    assert_eq!(body["temperature"], 0);
    assert_eq!(body["probe_id"], v.probe_id.as_str());
    assert_eq!(body["machine_id"], "mac-studio-1");
    let nonce = body["nonce"].as_str().unwrap();
    assert_eq!(nonce.len(), 64);
    assert!(nonce
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
}
