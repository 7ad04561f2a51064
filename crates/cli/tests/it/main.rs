//! The one integration-test binary of the `floorline` CLI: runs the real binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod concurrent;
mod dst;
mod fleet;
mod import;
mod operator;
mod plan;
mod settle;

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn floorline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_floorline"))
        .args(args)
        .output()
        .expect("run floorline")
}

pub fn example_bundle() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle.json")
}
