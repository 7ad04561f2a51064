//! Exit codes (SPEC §8): 0 ok, 1 failure, 2 bad input. Bad input prints a
//! message naming the item and field on stderr and nothing on stdout.

use floorline_core::CoreError;
use floorline_engine::EngineError;
use floorline_store::StoreError;

/// A failed command.
#[derive(Debug)]
pub enum Failure {
    /// Exit 2.
    BadInput(String),
    /// Exit 1.
    Other(anyhow::Error),
}

impl Failure {
    pub fn bad(msg: impl Into<String>) -> Failure {
        Failure::BadInput(msg.into())
    }

    pub fn other(e: impl std::fmt::Display) -> Failure {
        Failure::Other(anyhow::anyhow!("{e}"))
    }
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Invalid(_) => Failure::BadInput(e.to_string()),
            other => Failure::other(other),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(_) | StoreError::BatchTooLarge { .. } => {
                Failure::BadInput(e.to_string())
            }
            other => Failure::other(other),
        }
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        if e.is_bad_input() {
            Failure::BadInput(e.to_string())
        } else {
            Failure::other(e)
        }
    }
}

impl From<floorline_sim::SimError> for Failure {
    fn from(e: floorline_sim::SimError) -> Self {
        if e.is_bad_input() {
            Failure::BadInput(e.to_string())
        } else {
            Failure::other(e)
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::other(e)
    }
}
