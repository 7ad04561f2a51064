//! The one integration-test binary of floorline-sim.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod arithmetic;
mod bad_input;
mod builtin;
mod kit;
mod outputs;
mod periods;
mod props;
