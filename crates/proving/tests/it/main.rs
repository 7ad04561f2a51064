//! The one integration-test binary of floorline-proving: a smoke run of the
//! deterministic simulation on SQLite and on PostgreSQL (a fresh database per
//! seed, dropped after; an unreachable PostgreSQL fails the tests, it never
//! skips them), and proof that the checker is not vacuous: violations planted
//! in the database are reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod planted;
mod scale;
mod smoke;
