//! The one integration-test binary of floorline-store: the same conformance
//! suite on SQLite (a temporary file) and on a real PostgreSQL server (a fresh
//! `floorline_t_<random>` database per test, from `FLOORLINE_TEST_PG_URL`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`). An unreachable
//! PostgreSQL fails the tests; it never skips them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod conformance;
mod fleet;
mod harness;
mod ingest;
mod kill;
mod kit;
mod periods;
mod records;
mod refine;
mod settle;
mod versions;
