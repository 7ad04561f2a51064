//! The HTTP metrics middleware: every answered request is counted by route
//! template, method and status, and its latency observed by route template
//! and method.
//!
//! Labels never carry the raw path (a machine id in `/v1/provider/machines/{machine}`
//! would make one series per machine): the route is axum's [`MatchedPath`],
//! an unmatched path is [`UNMATCHED_ROUTE`], and a method outside the
//! standard ones is `OTHER`. Layered outermost, so the status is the one the
//! client got (a timeout's 408 and an oversize 413 included).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::Metrics;

/// The route label of a request no route matched (answered 404).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let method = method_label(req.method());
    let started = Instant::now();
    let resp = next.run(req).await;
    metrics.observe_http(
        &route,
        method,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

/// A bounded method label.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_ones_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::TRACE), "OTHER");
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").unwrap_or(Method::TRACE)),
            "OTHER"
        );
    }
}
