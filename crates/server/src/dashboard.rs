//! The dashboard: static pages embedded in the binary (no CDN), served by
//! `floorline serve`. The pages call the JSON API with the key the user
//! enters; nothing is stored server-side.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::AppState;

/// `(name, content type, body)` of every asset.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css; charset=utf-8", include_str!("../assets/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../assets/app.js")),
];

const PROVIDER_PAGE: &str = include_str!("../assets/provider.html");
const ADMIN_PAGE: &str = include_str!("../assets/admin.html");

fn html(body: &'static str) -> Response {
    ([(CONTENT_TYPE, "text/html; charset=utf-8"), (CACHE_CONTROL, "no-store")], body).into_response()
}

async fn asset(Path(name): Path<String>) -> Response {
    // Only names in the table: no path is ever joined, so no traversal.
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ct, body)) => ([(CONTENT_TYPE, *ct)], *body).into_response(),
        None => ApiError::not_found("no such asset").into_response(),
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/provider") }))
        .route("/provider", get(|| async { html(PROVIDER_PAGE) }))
        .route("/admin", get(|| async { html(ADMIN_PAGE) }))
        .route("/assets/{name}", get(asset))
}
