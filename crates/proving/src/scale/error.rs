//! Why a scale run stopped: the step it was at and what went wrong, as one
//! line of text. The bench prints it and exits; nothing matches on it, so it
//! is text rather than a variant per cause.

use std::fmt::Display;

/// A failed step of a scale run (`ingest sessions, batch 3: …`), or a claim
/// of the bench that did not hold (`rows in the database … differ …`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScaleError(String);

impl ScaleError {
    pub fn msg(text: impl Display) -> ScaleError {
        ScaleError(text.to_string())
    }
}

/// The causes a step meets, as they say themselves.
macro_rules! from_cause {
    ($($t:ty),*) => {$(
        impl From<$t> for ScaleError {
            fn from(e: $t) -> ScaleError {
                ScaleError(e.to_string())
            }
        }
    )*};
}
from_cause!(
    sqlx::Error,
    std::io::Error,
    floorline_core::CoreError,
    floorline_store::StoreError,
    floorline_engine::EngineError
);

/// Results of the scale bench.
pub type Result<T, E = ScaleError> = std::result::Result<T, E>;

/// Names the step an error stopped: `.doing("connect")?`.
pub trait Doing<T> {
    fn doing(self, step: &str) -> Result<T>;
    fn doing_with(self, step: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Display> Doing<T> for std::result::Result<T, E> {
    fn doing(self, step: &str) -> Result<T> {
        self.map_err(|e| ScaleError(format!("{step}: {e}")))
    }
    fn doing_with(self, step: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| ScaleError(format!("{}: {e}", step())))
    }
}
