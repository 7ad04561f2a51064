//! The one integration-test binary of floorline-server: the API over real
//! sockets and `Router::oneshot`, and the dashboard in headless Chromium.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod api;
mod browser;
mod contract;
mod fuzz;
mod harness;
mod hostile;
mod metrics;
mod openapi_types;
mod periods;
mod provider;
