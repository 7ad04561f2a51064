//! The one integration-test binary of floorline-core.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod bundle;
mod fuzz;
mod kit;
mod literal;
mod loopholes;
mod periods;
mod props;
mod tidy;
