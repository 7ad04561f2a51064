//! floorline-sim: economics what-ifs. A scenario (fleet, uptime, demand,
//! policy) is simulated month by month: each month a synthetic
//! [`floorline_core::EpochFacts`] is built for the fleet and settled by the
//! real [`floorline_core::plan`]; the plan's figures become the report.
//!
//! Invariants of this crate:
//! - no money is decided here: every draw, floor and taper is core's;
//! - deterministic: randomness comes only from `StdRng` streams seeded by the
//!   scenario's `seed`, and the policy never changes a draw, so the same
//!   scenario gives the same report and two policies see the same fleet;
//! - integer arithmetic everywhere but chart axes;
//! - bad scenarios are rejected whole, each problem naming its key
//!   (`scenario.fleet.growth: must be ≥ 0`), before anything is printed;
//! - no panics on any input: `unwrap`, `expect` and `panic!` are denied.
//!
//! Entry points: [`run_simulate`] (the `floorline simulate` command without
//! argument parsing), [`load_scenario`], [`simulate`].
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod charts;
pub mod demand;
pub mod error;
pub mod fleet;
mod merge;
mod num;
pub mod output;
mod periods;
pub mod report;
pub mod run;
pub mod scenario;
pub mod simulate;
pub mod text;
mod validate;

pub use error::SimError;
pub use report::{Figures, MonthStats, PeriodStats, SimReport, TierStats};
pub use run::{run_simulate, SimSummary, SimulateOptions};
pub use scenario::{load_scenario, read_scenario, Scenario};
pub use simulate::simulate;
