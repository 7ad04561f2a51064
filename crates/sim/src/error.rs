//! Errors of the simulator, by what the caller should do about them.
//!
//! [`SimError::BadInput`] is the user's to fix (the CLI exits with 2): a
//! scenario that cannot be read, parsed or validated. Every problem names its
//! key as a dotted path from the scenario root, e.g.
//! `scenario.fleet.growth: must be ≥ 0`. Everything else is a failure of the
//! run itself (exit 1): writing outputs, drawing charts, or a core error.

use std::fmt;
use std::path::PathBuf;

use floorline_core::{CoreError, EpochId, Invalid};

/// Every way a simulation can fail.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario is invalid; `problems` is never empty and names each key.
    #[error("{}", render_bad_input(.origin, .problems))]
    BadInput {
        /// Where the scenario came from: a path or `builtin:NAME`.
        origin: String,
        problems: Vec<Invalid>,
    },
    /// The core refused the synthetic facts of a month (a simulator bug or an
    /// absurd policy that overflows the money type).
    #[error("simulating {epoch}: {source}")]
    Plan {
        epoch: EpochId,
        #[source]
        source: CoreError,
    },
    /// Writing an output file failed.
    #[error("writing {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Drawing a chart failed.
    #[error("drawing {}: {message}", .path.display())]
    Chart { path: PathBuf, message: String },
    /// Encoding the JSON report failed.
    #[error("encoding the report: {0}")]
    Encode(#[from] serde_json::Error),
}

impl SimError {
    /// True when the input was at fault (CLI exit code 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, SimError::BadInput { .. })
    }

    /// One problem at `path` of the scenario from `origin`.
    pub fn bad(
        origin: impl Into<String>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> SimError {
        SimError::BadInput {
            origin: origin.into(),
            problems: vec![Invalid::new(path, message)],
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> SimError {
        SimError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn chart(path: impl Into<PathBuf>, message: impl fmt::Display) -> SimError {
        SimError::Chart {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

/// At most this many problems are listed; the rest are counted.
pub const MAX_REPORTED_PROBLEMS: usize = 20;

fn render_bad_input(origin: &str, problems: &[Invalid]) -> String {
    let mut out = String::new();
    for (i, p) in problems.iter().take(MAX_REPORTED_PROBLEMS).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{origin}: {p}"));
    }
    if problems.len() > MAX_REPORTED_PROBLEMS {
        out.push_str(&format!(
            "\n{origin}: … and {} more problems",
            problems.len().saturating_sub(MAX_REPORTED_PROBLEMS)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_names_origin_and_key() {
        let e = SimError::bad("x.toml", "scenario.fleet.growth", "must be ≥ 0");
        assert!(e.is_bad_input());
        assert_eq!(e.to_string(), "x.toml: scenario.fleet.growth: must be ≥ 0");
    }
}
