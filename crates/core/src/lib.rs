//! floorline-core: where the money is decided.
//!
//! A pure function from facts to a plan: [`plan::plan`] takes an
//! [`facts::EpochFacts`] and a [`policy::Policy`] and returns a [`plan::Plan`].
//! Everything in SPEC §1–§5 lives here.
//!
//! Invariants of this crate (checked by `tests/it/tidy.rs` and the lints below):
//! - no I/O, no clock, no randomness: time comes in as `EpochId` and timestamps;
//! - no floating point in money, uptime, ranking or allocation (`float_arithmetic`);
//! - money is integer micro-USD, fractions are integer ppm; products run in
//!   `i128` and fall back to big integers rather than overflow ([`money`]);
//! - no panics on any input: no `unwrap`, no indexing, no `as` casts.
//!
//! Money invariants of a plan (pinned by property tests in `tests/it/props.rs`):
//! - Σ granted + unallocated = max(0, pool − Σ prior draws);
//! - every grant is ≥ 0 and ≤ the share's desired draw;
//! - a machine with a positive prior draw this epoch is frozen (granted 0);
//! - with an account cap, each account's epoch total stays ≤ ⌊pool · cap⌋.
#![deny(
    clippy::float_arithmetic,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod allocate;
pub mod bundle;
pub mod error;
pub mod facts;
pub mod identity;
pub mod intervals;
pub mod kind;
pub mod models;
pub mod money;
pub mod plan;
pub mod policy;
pub mod refine;
pub mod time;
pub mod valuation;

pub use error::{CoreError, Invalid};
pub use facts::EpochFacts;
pub use kind::{Fact, FactKind, Watermark};
pub use plan::{plan, Plan};
pub use policy::Policy;
pub use time::{EpochId, Timestamp};
