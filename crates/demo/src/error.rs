//! Errors of the live fleet, by where they come from: setting up, talking
//! to the server, the engine and the store, or finding that floorline did
//! something the simulator did not expect while it was being driven.

/// What went wrong in a live-fleet run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Bad options or a generator bug found before anything ran.
    #[error("{0}")]
    Setup(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Http {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    /// The API answered something other than 200.
    #[error("{what}: HTTP {status}: {body}")]
    Api {
        what: String,
        status: u16,
        body: String,
    },
    #[error(transparent)]
    Engine(#[from] floorline_engine::EngineError),
    #[error(transparent)]
    Store(#[from] floorline_store::StoreError),
    #[error(transparent)]
    Core(#[from] floorline_core::CoreError),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// floorline answered something the simulator did not expect.
    #[error("{0}")]
    Unexpected(String),
}

impl DemoError {
    pub fn io(what: &str, source: std::io::Error) -> DemoError {
        DemoError::Io {
            what: what.to_string(),
            source,
        }
    }
}
