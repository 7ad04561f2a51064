//! The one integration-test binary of floorline-engine: the scheduler's loop
//! against a real SQLite store with literal clocks, and fuzzing of the
//! ingestion parsers (NDJSON, CSV, JSON batches).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod fuzz;
mod kit;
mod periods;
mod scheduler;
