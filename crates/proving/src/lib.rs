//! floorline-proving: evidence that floorline keeps its guarantees under
//! adversity, beyond what example-based tests show.
//!
//! [`dst`] is a deterministic simulation test of the engine and the store: a
//! seed fixes a fleet, a stream of facts, a clock and a sequence of failures,
//! settlements and restarts; after every step a checker compares the
//! database with a pure model and with invariants that need no model.
//! `floorline-dst` (src/bin) runs many seeds and prints the totals;
//! `RELIABILITY.md` at the repository root records runs and lists which tests
//! back which guarantee.
//!
//! Invariants of this crate: it only drives floorline through public APIs
//! (`Engine`, `Store`, the `floorline` binary) and reads the database with
//! its own SQL, all of it in [`oracle`] (the bare-SQL oracle); it never
//! changes floorline's behaviour.

pub mod dst;
pub mod oracle;
pub mod scale;

pub use dst::{run_seed, run_seed_with, Backend, Options, TrialReport, Violation};
