//! Errors of the core: bad input names the item and field; arithmetic that
//! would not fit is an error, never a wrapped number.

use std::fmt;

/// One piece of bad input: where it is (`earnings[3].amount_micro_usd`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub path: String,
    pub message: String,
}

impl Invalid {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every way the core can refuse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CoreError {
    /// The input is invalid; the list is never empty and is in input order.
    #[error("{}", render(.0))]
    Invalid(Vec<Invalid>),
    /// A result does not fit the money type (only with absurd policies or amounts).
    #[error("arithmetic overflow in {0}")]
    Overflow(&'static str),
    /// A money invariant failed: a bug, never a partial result.
    #[error("invariant violated: {0}")]
    Invariant(&'static str),
}

impl CoreError {
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError::Invalid(vec![Invalid::new(path, message)])
    }
}

/// At most this many problems are listed in one message; the rest are counted.
pub const MAX_REPORTED_PROBLEMS: usize = 20;

fn render(items: &[Invalid]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().take(MAX_REPORTED_PROBLEMS).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&item.to_string());
    }
    if items.len() > MAX_REPORTED_PROBLEMS {
        out.push_str(&format!(
            "\n… and {} more problems",
            items.len().saturating_sub(MAX_REPORTED_PROBLEMS)
        ));
    }
    out
}
