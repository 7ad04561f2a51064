//! floorline-prober: known-answer correctness probes (SPEC §7).
//!
//! A probe sends a machine a catalog prompt with a fresh nonce and checks the
//! answer: echoed ids, the hash of the text, a P-256 signature by the
//! machine's attested key, and the expected answer hash. A pass proves the
//! machine really serves and, with tier-sized models, holds its memory tier.
//!
//! Code map: [`protocol`] (wire types, signed message, catalog), [`signature`]
//! (key encodings, signature checks), [`verdict`] (the pure `judge`),
//! [`client`] (one probe over HTTP), [`schedule`] (pure planner, limits and
//! the async runner), [`reference`] (an honest or misbehaving provider for
//! tests and demos).
//!
//! Invariants:
//! - No database and no other floorline crate: verdicts leave through
//!   [`schedule::ProbeSink`] or as return values.
//! - The decision code (`judge`, `plan`, `RateWindow`) is pure: `now` and
//!   randomness are arguments.
//! - Probes never create earnings or usage.

pub mod client;
pub mod protocol;
pub mod reference;
pub mod schedule;
pub mod signature;
pub mod verdict;

pub use client::{http_client, probe_once, send_probe};
pub use protocol::{CatalogEntry, ProbeRequest, ProbeResponse};
pub use verdict::{judge, Failure, ProbeOutcome, Verdict};
