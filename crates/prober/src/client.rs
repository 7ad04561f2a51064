//! Sending one probe over HTTP and judging what comes back.
//!
//! Invariants:
//! - A machine without a usable key is never contacted (`no_key`).
//! - The whole exchange (connect, send, status, body) runs under one timeout;
//!   on expiry its future is dropped, which closes the connection, and the
//!   verdict is `timeout`.
//! - A status other than 200, a body over [`MAX_RESPONSE_BYTES`], or a body
//!   that is not a [`ProbeResponse`] is a `transport_error`.
//! - Randomness (probe id, nonce) comes from the caller's RNG and is drawn
//!   before the returned future starts, so the future is `Send + 'static`
//!   whatever the RNG.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use crate::protocol::{new_nonce, new_probe_id, CatalogEntry, ProbeRequest, ProbeResponse};
use crate::signature::parse_public_key;
use crate::verdict::{judge_with_key, no_key_verdict, ProbeOutcome, TransportError, Verdict};

/// Largest response body read; larger ones are a `transport_error`.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Connect timeout of [`http_client`] (the probe timeout still bounds the
/// whole exchange).
pub const CONNECT_TIMEOUT_MS: u64 = 10_000;

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building the probe HTTP client failed: {0}")]
pub struct ClientBuildError(String);

/// A client suited to probes: no redirects (a 3xx is a `transport_error`),
/// no proxies (probes go straight to the dispatch URL), a connect timeout.
pub fn http_client() -> Result<reqwest::Client, ClientBuildError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
        .build()
        .map_err(|e| ClientBuildError(error_chain(&e)))
}

/// POSTs `request` to `dispatch_url` and reports what came back, all within
/// `timeout`. On timeout the in-flight exchange is dropped (connection
/// closed).
pub async fn send_probe(
    http: &reqwest::Client,
    dispatch_url: &str,
    request: &ProbeRequest,
    timeout: Duration,
) -> ProbeOutcome {
    match tokio::time::timeout(timeout, exchange(http, dispatch_url, request)).await {
        Ok(outcome) => outcome,
        Err(_elapsed) => ProbeOutcome::Timeout,
    }
}

async fn exchange(
    http: &reqwest::Client,
    dispatch_url: &str,
    request: &ProbeRequest,
) -> ProbeOutcome {
    let mut response = match http.post(dispatch_url).json(request).send().await {
        Ok(response) => response,
        Err(e) if e.is_timeout() => return ProbeOutcome::Timeout,
        Err(e) => return ProbeOutcome::Transport(TransportError::Request(error_chain(&e))),
    };
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return ProbeOutcome::Transport(TransportError::Status(status.as_u16()));
    }
    let too_large = TransportError::TooLarge {
        limit_bytes: MAX_RESPONSE_BYTES,
    };
    if response
        .content_length()
        .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > MAX_RESPONSE_BYTES))
    {
        return ProbeOutcome::Transport(too_large);
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len().saturating_add(chunk.len()) > MAX_RESPONSE_BYTES {
                    return ProbeOutcome::Transport(too_large);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => return ProbeOutcome::Timeout,
            Err(e) => return ProbeOutcome::Transport(TransportError::Body(error_chain(&e))),
        }
    }
    match serde_json::from_slice::<ProbeResponse>(&body) {
        Ok(parsed) => ProbeOutcome::Response(parsed),
        Err(e) => ProbeOutcome::Transport(TransportError::Malformed(e.to_string())),
    }
}

/// Builds a probe for `entry` (fresh probe id and nonce from `rng`), sends it
/// unless the machine has no usable key, and judges the outcome.
///
/// The RNG is used before this returns; the future owns everything it needs.
pub fn probe_once<R: Rng + ?Sized>(
    http: &reqwest::Client,
    dispatch_url: &str,
    machine_id: &str,
    se_public_key: Option<&str>,
    entry: &CatalogEntry,
    timeout: Duration,
    rng: &mut R,
) -> impl Future<Output = Verdict> + Send + 'static {
    let request = ProbeRequest::new(
        new_probe_id(rng),
        machine_id.to_owned(),
        entry,
        new_nonce(rng),
    );
    let key = se_public_key.and_then(|text| match parse_public_key(text) {
        Ok(key) => Some(key),
        Err(e) => {
            tracing::warn!(machine_id, error = %e, "Unusable se_public_key; probe not sent.");
            None
        }
    });
    let http = http.clone();
    let dispatch_url = dispatch_url.to_owned();
    let entry = entry.clone();
    async move {
        let verdict = match key {
            None => no_key_verdict(&request),
            Some(key) => {
                let outcome = send_probe(&http, &dispatch_url, &request, timeout).await;
                if let ProbeOutcome::Transport(e) = &outcome {
                    tracing::debug!(probe_id = %request.probe_id, error = %e, "Probe transport error.");
                }
                judge_with_key(&request, &entry, Some(&key), &outcome)
            }
        };
        tracing::info!(
            probe_id = %verdict.probe_id,
            machine_id = %verdict.machine_id,
            model = %entry.model,
            passed = verdict.passed,
            failure = verdict.failure.map(|f| f.code()),
            "Probe judged."
        );
        verdict
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
