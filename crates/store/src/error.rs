//! Errors of the store, matchable by layer: bad input (`Invalid`,
//! `BatchTooLarge`), state (`Conflict`, `NotFound`, `AlreadySettled`,
//! `Locked`), test seams (`Injected`), broken money invariants (`Invariant`),
//! and the layers below (`Core`, `Db`, `Migrate`).
//!
//! Bad items have one spelling here, `Invalid`: a core `CoreError::Invalid`
//! becomes it on the way up (`?`), so `Core` never holds one.
//!
//! Invariant: an error returned from a write means nothing of that write was
//! committed (every write runs in one transaction that is dropped, and so
//! rolled back, on error) — except `Injected(FailPoint::AfterCommit)`.

use floorline_core::{CoreError, EpochId, Invalid};

#[cfg(feature = "failpoints")]
use crate::failpoint::FailPoint;

/// Every way the store can refuse.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Bad input, every problem named `kind[index].field`; nothing was written.
    #[error("{}", CoreError::Invalid(.0.clone()))]
    Invalid(Vec<Invalid>),
    /// A batch over [`crate::MAX_BATCH_ITEMS`]; nothing was written.
    #[error("batch of {items} items is over the limit of {max}")]
    BatchTooLarge { items: usize, max: usize },
    /// A write that contradicts what is stored (a different payload under a used key).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// A draw or ledger reference of this epoch exists already (the unique keys held).
    #[error("epoch {epoch} already settled: {detail}")]
    AlreadySettled { epoch: EpochId, detail: String },
    /// The lock or the database was busy for longer than the timeout.
    #[error("locked: {0}")]
    Locked(String),
    /// A failure injected at a [`FailPoint`] (feature `failpoints` only).
    #[cfg(feature = "failpoints")]
    #[error("injected failure at {0:?}")]
    Injected(FailPoint),
    /// A money invariant failed after writing; the transaction was rolled back.
    #[error("invariant violated: {0}")]
    Invariant(String),
    /// A stored row the code cannot read back (an unknown enum text, a negative size).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database cannot be reached (down, not answering, refusing the
    /// login): names its host and port and the cause.
    #[error("database unreachable: {0}")]
    Unreachable(String),
    /// A bad database URL (or, with the `failpoints` feature, failpoint spec).
    #[error("configuration: {0}")]
    Config(String),
    /// A core refusal other than bad input (that is [`StoreError::Invalid`]).
    #[error(transparent)]
    Core(CoreError),
    #[error("database: {0}")]
    Db(sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Shorthand for results of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<CoreError> for StoreError {
    /// Core's bad input becomes the store's one bad-input shape.
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Invalid(items) => StoreError::Invalid(items),
            other => StoreError::Core(other),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    /// Busy databases and lock timeouts become [`StoreError::Locked`].
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED (and their extended codes);
            // PostgreSQL: 55P03 lock_not_available (lock_timeout).
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            let busy = code == "55P03"
                || code
                    .parse::<i64>()
                    .is_ok_and(|c| c & 0xff == 5 || c & 0xff == 6);
            if busy {
                return StoreError::Locked(db.message().to_string());
            }
        }
        if let sqlx::Error::PoolTimedOut = e {
            return StoreError::Locked("no database connection free in time".into());
        }
        StoreError::Db(e)
    }
}

impl StoreError {
    /// Whether the database refused a sum past its integer range (SQLite's
    /// `SUM` says "integer overflow", PostgreSQL 22003 for a cast to `BIGINT`).
    pub(crate) fn is_overflow(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::Database(e))
            if e.code().as_deref() == Some("22003") || e.message().contains("integer overflow"))
    }

    /// Whether this is a unique-key violation of the database.
    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}
