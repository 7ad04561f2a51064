//! The dashboard: static pages embedded in the binary (no CDN, no external
//! fonts), served by `floorline serve`. The pages call the JSON API with the
//! key the user enters (kept in the tab's sessionStorage, sent as a bearer
//! header); nothing is stored server-side.
//!
//! Invariants: assets are looked up by name in [`ASSETS`], never by joining a
//! path; every page and asset is sent with a Content-Security-Policy that
//! allows this origin only (no inline scripts, nothing from elsewhere).

use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::HeaderName;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::AppState;

/// Same origin only. `blob:` lets the admin page offer the CSV it fetched
/// (with the bearer header) as a download; `data:` is the empty favicon.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self' blob:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// `(name, content type, body)` of every asset.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/app.js"),
    ),
    (
        "provider.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/provider.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/admin.js"),
    ),
];

const PROVIDER_PAGE: &str = include_str!("../assets/provider.html");
const ADMIN_PAGE: &str = include_str!("../assets/admin.html");

/// Headers every dashboard response carries.
fn security_headers() -> [(HeaderName, &'static str); 4] {
    [
        (CONTENT_SECURITY_POLICY, CSP),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "no-referrer"),
        (X_FRAME_OPTIONS, "DENY"),
    ]
}

fn html(body: &'static str) -> Response {
    (
        security_headers(),
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn asset(name: Result<Path<String>, PathRejection>) -> Response {
    // A name that does not even decode (`%ff`) is no asset either.
    let Ok(Path(name)) = name else {
        return ApiError::not_found("no such asset").into_response();
    };
    // Only names in the table: no path is ever joined, so no traversal.
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ct, body)) => (
            security_headers(),
            [(CONTENT_TYPE, *ct), (CACHE_CONTROL, "no-cache")],
            *body,
        )
            .into_response(),
        None => ApiError::not_found("no such asset").into_response(),
    }
}

/// Names of the embedded assets (for tests and tidy checks).
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(n, _, _)| *n)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/provider") }))
        .route("/provider", get(|| async { html(PROVIDER_PAGE) }))
        .route("/admin", get(|| async { html(ADMIN_PAGE) }))
        .route("/assets/{name}", get(asset))
}
