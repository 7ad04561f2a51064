//! Failpoints: named places in a settlement where a test can make the store
//! fail (an error) or the whole process die (`abort`), to prove that a
//! settlement commits all of it or nothing.
//!
//! Configured per [`crate::Store`] with [`crate::Store::set_failpoint`], or
//! from the environment at connect time: `FLOORLINE_FAILPOINT=point[@skip]:action`
//! with `point` one of `before_lock`, `after_plan`, `between_writes`,
//! `before_commit`, `after_commit`, `action` `error` or `abort`, and `skip` the
//! number of hits to let pass first (`between_writes@3:abort` dies at the
//! fourth write). Unset, a failpoint costs one uncontended mutex lock.
//!
//! Test machinery, not product: everything but the names of the places sits
//! behind the cargo feature `failpoints` (enabled by floorline-proving and the
//! tests that kill settlements). Without it a failpoint is an empty inline
//! function and nothing reads the environment variable.

#[cfg(feature = "failpoints")]
use std::sync::{Arc, Mutex};

use crate::error::Result;
#[cfg(feature = "failpoints")]
use crate::error::StoreError;

/// The environment variable read by [`crate::Store::connect`].
#[cfg(feature = "failpoints")]
pub const FAILPOINT_ENV: &str = "FLOORLINE_FAILPOINT";

/// A place in [`crate::Store::settle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailPoint {
    /// Before the transaction and the epoch lock.
    BeforeLock,
    /// After the plan was computed, before anything is written.
    AfterPlan,
    /// After each write statement of a live settlement.
    BetweenWrites,
    /// After the invariant checks, just before `COMMIT`.
    BeforeCommit,
    /// After `COMMIT` (the settlement is durable).
    AfterCommit,
}

impl FailPoint {
    pub const ALL: [FailPoint; 5] = [
        FailPoint::BeforeLock,
        FailPoint::AfterPlan,
        FailPoint::BetweenWrites,
        FailPoint::BeforeCommit,
        FailPoint::AfterCommit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailPoint::BeforeLock => "before_lock",
            FailPoint::AfterPlan => "after_plan",
            FailPoint::BetweenWrites => "between_writes",
            FailPoint::BeforeCommit => "before_commit",
            FailPoint::AfterCommit => "after_commit",
        }
    }
}

#[cfg(feature = "failpoints")]
/// What happens when an armed failpoint is hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailAction {
    /// Return [`StoreError::Injected`].
    Error,
    /// `std::process::abort()`: the process dies mid-transaction.
    Abort,
}

#[cfg(feature = "failpoints")]
/// An armed failpoint: fire `action` at `point` after letting `skip` hits pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailSpec {
    pub point: FailPoint,
    pub action: FailAction,
    pub skip: u32,
}

#[cfg(feature = "failpoints")]
impl FailSpec {
    pub fn new(point: FailPoint, action: FailAction) -> FailSpec {
        FailSpec {
            point,
            action,
            skip: 0,
        }
    }

    /// Lets `skip` hits pass before firing.
    pub fn after(self, skip: u32) -> FailSpec {
        FailSpec { skip, ..self }
    }

    /// Parses `point[@skip]:action`.
    pub fn parse(text: &str) -> Result<FailSpec> {
        let bad = || {
            StoreError::Config(format!(
                "{FAILPOINT_ENV}=`{text}`: expected point[@skip]:action, e.g. between_writes:abort"
            ))
        };
        let (point, action) = text.split_once(':').ok_or_else(bad)?;
        let (point, skip) = match point.split_once('@') {
            Some((p, n)) => (p, n.parse::<u32>().map_err(|_| bad())?),
            None => (point, 0),
        };
        let point = FailPoint::ALL
            .into_iter()
            .find(|p| p.as_str() == point)
            .ok_or_else(bad)?;
        let action = match action {
            "error" => FailAction::Error,
            "abort" => FailAction::Abort,
            _ => return Err(bad()),
        };
        Ok(FailSpec {
            point,
            action,
            skip,
        })
    }
}

#[cfg(feature = "failpoints")]
impl From<(FailPoint, FailAction)> for FailSpec {
    fn from((point, action): (FailPoint, FailAction)) -> FailSpec {
        FailSpec::new(point, action)
    }
}

/// The failpoint of one store (shared by its clones).
#[cfg(feature = "failpoints")]
#[derive(Debug, Clone, Default)]
pub(crate) struct Failpoints {
    armed: Arc<Mutex<Option<FailSpec>>>,
}

/// Without the feature: no state, and every hit passes.
#[cfg(not(feature = "failpoints"))]
#[derive(Debug, Clone)]
pub(crate) struct Failpoints;

#[cfg(not(feature = "failpoints"))]
impl Failpoints {
    pub(crate) fn from_env() -> Result<Failpoints> {
        Ok(Failpoints)
    }

    #[inline(always)]
    pub(crate) fn hit(&self, _point: FailPoint) -> Result<()> {
        Ok(())
    }
}

#[cfg(feature = "failpoints")]
impl Failpoints {
    /// Armed from [`FAILPOINT_ENV`] when it is set and not empty.
    pub(crate) fn from_env() -> Result<Failpoints> {
        let failpoints = Failpoints::default();
        if let Ok(text) = std::env::var(FAILPOINT_ENV) {
            if !text.is_empty() {
                failpoints.set(Some(FailSpec::parse(&text)?));
            }
        }
        Ok(failpoints)
    }

    pub(crate) fn set(&self, spec: Option<FailSpec>) {
        if let Ok(mut slot) = self.armed.lock() {
            *slot = spec;
        }
    }

    /// Fires the armed failpoint if it is `point` and its skips are used up.
    pub(crate) fn hit(&self, point: FailPoint) -> Result<()> {
        let Ok(mut slot) = self.armed.lock() else {
            return Ok(());
        };
        let Some(spec) = slot.as_mut() else {
            return Ok(());
        };
        if spec.point != point {
            return Ok(());
        }
        if spec.skip > 0 {
            spec.skip -= 1;
            return Ok(());
        }
        match spec.action {
            FailAction::Error => Err(StoreError::Injected(point)),
            FailAction::Abort => {
                tracing::error!(point = point.as_str(), "Failpoint: aborting the process.");
                std::process::abort()
            }
        }
    }
}

#[cfg(all(test, feature = "failpoints"))]
mod tests {
    use super::*;

    #[test]
    fn parses_env_values() {
        assert_eq!(
            FailSpec::parse("between_writes:abort").ok(),
            Some(FailSpec::new(FailPoint::BetweenWrites, FailAction::Abort))
        );
        assert_eq!(
            FailSpec::parse("before_commit@2:error").ok(),
            Some(FailSpec::new(FailPoint::BeforeCommit, FailAction::Error).after(2))
        );
        for bad in [
            "",
            "between_writes",
            "nowhere:error",
            "after_plan:boom",
            "after_plan@x:error",
        ] {
            assert!(FailSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn skips_then_fires() {
        let f = Failpoints::default();
        f.set(Some(
            FailSpec::new(FailPoint::AfterPlan, FailAction::Error).after(1),
        ));
        assert!(f.hit(FailPoint::BeforeLock).is_ok());
        assert!(f.hit(FailPoint::AfterPlan).is_ok());
        assert!(matches!(
            f.hit(FailPoint::AfterPlan),
            Err(StoreError::Injected(FailPoint::AfterPlan))
        ));
        f.set(None);
        assert!(f.hit(FailPoint::AfterPlan).is_ok());
    }
}
