//! floorline-demo: the live demo fleet, a seeded, reproducible simulation
//! of a month of a provider network that drives a real floorline through
//! its HTTP API and its prober, then settles the month live — what
//! `floorline demo` runs.
//!
//! About 600 Apple-silicon machines with a realistic memory mix, accounts
//! owning one or several machines, sessions with reconnects, lost
//! disconnects, key rotations and outages, health flaps, organic jobs from
//! many consumer accounts, real known-answer probes answered by the
//! reference provider, and planted cheaters (memory over-claims, an unknown
//! model, self-dealing through a linked second account, flapping uptime,
//! bad signatures). The [`Manifest`] says what was planted and what
//! floorline must conclude about every machine; tests compare the settled
//! plan with it.
//!
//! Code map: [`fleet`] (the fleet from a seed; `roles` and `machine` do the
//! work), [`timeline`] (a machine's month of sessions and health), [`models`] (memory mix and over-claims),
//! [`manifest`] (expected outcomes, hash), [`rig`] (reference provider,
//! dispatcher, demo config), [`drive`] (HTTP ingestion, probes),
//! [`heartbeat`] (sessions opened, heartbeated hourly and closed),
//! [`clock`] ([`SimClock`]), [`run`] (the whole run), [`summary`] (what the
//! demo prints).
//!
//! Invariants:
//! - no money is decided here: floorline settles, the simulator only
//!   generates facts and reads the plan back;
//! - generation is pure and deterministic (same spec, same manifest hash);
//!   probe ids and nonces are the prober's own and are not in the manifest;
//! - facts reach floorline only through `POST /v1/ingest/{kind}`, probe
//!   verdicts only through the engine's prober;
//! - no panics: `unwrap`, `expect` and `panic!` are denied crate-wide.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod clock;
pub mod drive;
mod error;
pub mod fleet;
pub mod heartbeat;
mod machine;
pub mod manifest;
pub mod models;
pub mod rig;
mod roles;
pub mod run;
pub mod summary;
pub mod timeline;

pub use clock::SimClock;
pub use error::DemoError;
pub use fleet::{CheatKind, Fleet, FleetSpec, LiveMachine, ProbeRoute};
pub use manifest::{CheatExpect, ExpectedMachine, Manifest, PlantedCheater};
pub use run::{run_demo, CaughtCheater, DemoOptions, DemoRun, SettleReport, Timings};
