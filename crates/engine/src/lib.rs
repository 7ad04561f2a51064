//! floorline-engine: glues store and core. It owns no math: `settle`,
//! `preview`, `verify`, `explain` and the scheduler read facts from the store,
//! call `floorline_core::plan`, and hand the result back to the store.
//!
//! Invariants: no SQL here (only the store knows SQL); the clock is read only
//! through [`clock::Clock`]; a settlement is one store transaction.

pub mod clock;
pub mod config;
pub mod engine;
mod error;
pub mod explain;
mod history;
pub mod ingest;
pub mod keys;
pub mod months;
pub mod off_ramp;
pub mod probing;
mod records;
pub mod schedule;
pub mod scheduler;
mod verify;

pub use engine::{
    AccountStatement, Difference, Drift, DriftChange, Engine, Explanation, MonthStatement,
    RunCheck, RunSummary, SettleOptions, VerifyOptions, VerifyReport,
};
pub use error::EngineError;
pub use months::{MonthAccrual, MonthPeriods, MonthTotals, PeriodRow};
