//! Errors of the engine, by what the caller can do about them.

use floorline_core::{CoreError, EpochId, Invalid};
use floorline_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Bad input (a bundle, an import line, an argument), named item and field.
    #[error("{}", CoreError::Invalid(.0.clone()))]
    Invalid(Vec<Invalid>),
    /// The epoch has not ended yet.
    #[error("epoch {0} is not closed yet")]
    NotClosed(EpochId),
    /// A live run waits for these fact sources (use force to settle anyway).
    #[error("epoch {epoch} is not complete: sources {sources:?} have not reported past its end (use --force)")]
    AwaitingWatermarks {
        epoch: EpochId,
        sources: Vec<String>,
    },
    #[error("not found: {0}")]
    NotFound(String),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

impl EngineError {
    /// Whether the caller sent something wrong (exit code 2, HTTP 4xx).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            EngineError::Invalid(_)
                | EngineError::Core(CoreError::Invalid(_))
                | EngineError::Store(StoreError::Invalid(_))
                | EngineError::Store(StoreError::BatchTooLarge { .. })
                | EngineError::Store(StoreError::Core(CoreError::Invalid(_)))
        )
    }
}
