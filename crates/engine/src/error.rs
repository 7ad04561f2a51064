//! Errors of the engine, by what the caller can do about them.
//!
//! Bad items have one spelling here, `Invalid`: the core's and the store's
//! `Invalid` become it on the way up (`?`), so `Core` and `Store` never hold
//! one. A batch over its limit stays `StoreError::BatchTooLarge` (HTTP 413,
//! not 422).

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
    /// A core refusal other than bad input.
    #[error(transparent)]
    Core(CoreError),
    /// A store refusal other than bad items.
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Other(String),
}

impl EngineError {
    /// Whether the caller sent something wrong (exit code 2, HTTP 4xx).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            EngineError::Invalid(_) | EngineError::Store(StoreError::BatchTooLarge { .. })
        )
    }
}

impl From<CoreError> for EngineError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Invalid(items) => EngineError::Invalid(items),
            other => EngineError::Core(other),
        }
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(items) => EngineError::Invalid(items),
            other => EngineError::Store(other),
        }
    }
}
