//! SPEC D11's off-ramp, reported to admins: for each epoch with a live run,
//! the fleet's trailing revenue `R` that run read, against the policy's
//! target; the off-ramp is reached when two consecutive epochs are at or
//! above it. It is a report, never an action: nothing here changes a plan.

use std::collections::BTreeMap;

use floorline_core::EpochId;
use floorline_store::RunMode;

use crate::{Engine, EngineError};

/// One epoch's `R` against the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffRampEpoch {
    pub epoch: EpochId,
    /// The live run whose figures these are (the epoch's latest).
    pub run_id: i64,
    /// `R`: the trailing 30-day fleet organic revenue the run read.
    pub trailing_revenue_micro_usd: i64,
    /// `R ≥ target`.
    pub at_or_above: bool,
}

/// Every settled epoch's `R`, and whether the off-ramp is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffRamp {
    /// The policy's `target_revenue_micro_usd`.
    pub target_micro_usd: i64,
    /// Oldest first.
    pub epochs: Vec<OffRampEpoch>,
    /// The second of the first two consecutive epochs both at or above the
    /// target, if any.
    pub first_reached: Option<EpochId>,
    /// The latest two settled epochs are consecutive and both at or above
    /// the target.
    pub reached: bool,
}

/// The off-ramp over the given epochs (each an epoch, its latest live run
/// and that run's `R`), in any order.
pub fn off_ramp(target_micro_usd: i64, runs: &[(EpochId, i64, i64)]) -> OffRamp {
    let mut latest: BTreeMap<EpochId, (i64, i64)> = BTreeMap::new();
    for &(epoch, run_id, r) in runs {
        let entry = latest.entry(epoch).or_insert((run_id, r));
        if run_id > entry.0 {
            *entry = (run_id, r);
        }
    }
    let epochs: Vec<OffRampEpoch> = latest
        .into_iter()
        .map(|(epoch, (run_id, r))| OffRampEpoch {
            epoch,
            run_id,
            trailing_revenue_micro_usd: r,
            at_or_above: r >= target_micro_usd,
        })
        .collect();
    let both = |a: &OffRampEpoch, b: &OffRampEpoch| {
        a.at_or_above && b.at_or_above && b.epoch.previous() == a.epoch
    };
    let first_reached = epochs
        .windows(2)
        .find(|w| matches!(w, [a, b] if both(a, b)))
        .and_then(|w| w.last())
        .map(|e| e.epoch);
    let reached = matches!(epochs.as_slice(), [.., a, b] if both(a, b));
    OffRamp {
        target_micro_usd,
        epochs,
        first_reached,
        reached,
    }
}

impl Engine {
    /// The off-ramp over every epoch with a live run.
    pub async fn off_ramp(&self) -> Result<OffRamp, EngineError> {
        let runs: Vec<(EpochId, i64, i64)> = self
            .store()
            .runs(None)
            .await?
            .into_iter()
            .filter(|r| r.mode == RunMode::Live)
            .map(|r| (r.epoch, r.id, r.trailing_revenue_micro_usd))
            .collect();
        Ok(off_ramp(
            self.config().policy.target_revenue_micro_usd,
            &runs,
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(text: &str) -> EpochId {
        text.parse().unwrap()
    }

    #[test]
    fn two_consecutive_epochs_at_or_above_the_target_reach_it() {
        // 08 above, 09 below, 10 at, 11 above: reached at 11, and still now.
        let runs = [
            (m("2026-08"), 1, 200),
            (m("2026-09"), 2, 99),
            (m("2026-10"), 3, 100),
            (m("2026-11"), 5, 150),
            (m("2026-11"), 4, 1), // an older run of 11: not its figure
        ];
        let o = off_ramp(100, &runs);
        assert_eq!(o.epochs.len(), 4);
        assert_eq!(o.epochs[3].run_id, 5);
        assert!(o.epochs[2].at_or_above, "R = target counts");
        assert_eq!(o.first_reached, Some(m("2026-11")));
        assert!(o.reached);
    }

    #[test]
    fn a_gap_or_one_epoch_below_does_not_reach_it() {
        // 08 and 10 above but 09 never settled: not consecutive.
        let o = off_ramp(100, &[(m("2026-08"), 1, 200), (m("2026-10"), 2, 200)]);
        assert_eq!(o.first_reached, None);
        assert!(!o.reached);
        // Reached once, then the latest epoch fell below: reported, not current.
        let o = off_ramp(
            100,
            &[
                (m("2026-08"), 1, 200),
                (m("2026-09"), 2, 200),
                (m("2026-10"), 3, 99),
            ],
        );
        assert_eq!(o.first_reached, Some(m("2026-09")));
        assert!(!o.reached);
        assert_eq!(off_ramp(100, &[]).epochs, Vec::new());
    }
}
