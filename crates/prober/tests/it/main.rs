//! The one integration-test binary of floorline-prober: real loopback
//! providers, committed test vectors, property tests of `judge`, the runner,
//! and tidy checks.

mod common;
mod judge_props;
mod probes;
mod runner;
mod tidy;
mod vectors;
