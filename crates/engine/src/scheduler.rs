//! The thin scheduler loop (SPEC §6): at start-up and every tick it reads the
//! state, asks [`crate::schedule::due`], acts, and sleeps; it stops on its
//! cancellation token. The unique keys in the store are the real guard
//! against double credit; several instances may run this loop at once.

use std::time::Duration;

use floorline_store::RunMode;
use tokio_util::sync::CancellationToken;

use std::collections::BTreeSet;

use floorline_core::time::Period;
use floorline_core::EpochId;

use crate::schedule::{candidate, due, last_due_period, Decision, EpochState, SchedulerMode};
use crate::{Engine, EngineError};

/// Default tick interval: one hour.
pub const TICK_INTERVAL: Duration = Duration::from_secs(3600);
/// The actor recorded on runs made by the scheduler.
pub const SCHEDULER_ACTOR: &str = "scheduler";

impl Engine {
    /// One tick: decide and act. Returns what was decided.
    pub async fn tick(&self) -> Result<Option<Decision>, EngineError> {
        if self.config.policy.period != Period::Month {
            return self.tick_periods().await;
        }
        let now = self.now();
        let mode = self.config.settlement.mode;
        let Some(epoch) = candidate(now) else {
            return Ok(None);
        };
        let run_mode = if mode == SchedulerMode::Live {
            RunMode::Live
        } else {
            RunMode::Preview
        };
        let already_run =
            mode != SchedulerMode::Off && self.store.latest_run(epoch, run_mode).await?.is_some();
        let complete = self.lagging_sources(epoch).await?.is_empty();
        let decision = due(
            now,
            mode,
            self.config.settlement.settle_delay_ms,
            EpochState {
                already_run,
                complete,
            },
        );
        if let Some(Decision::Settle(e)) = decision {
            match mode {
                SchedulerMode::Live => {
                    self.settle(e, SCHEDULER_ACTOR, crate::SettleOptions::default())
                        .await?;
                }
                SchedulerMode::Preview => {
                    self.preview(e, SCHEDULER_ACTOR).await?;
                }
                SchedulerMode::Off => {}
            }
        }
        Ok(decision)
    }

    /// A tick with periods shorter than a month (§10 D24): every closed,
    /// unsettled period of the last due period's month and of the month
    /// before, in order, once `settle_delay` has passed after its end and
    /// (live) every source's watermark has passed its end. A month already
    /// cut into periods of another length is left alone. Returns the last
    /// decision: the last period settled, the one awaiting watermarks, or
    /// `Done` with the last due period.
    async fn tick_periods(&self) -> Result<Option<Decision>, EngineError> {
        let period = self.config.policy.period;
        let mode = self.config.settlement.mode;
        let Some(last) =
            last_due_period(self.now(), self.config.settlement.settle_delay_ms, period)
        else {
            return Ok(None);
        };
        if mode == SchedulerMode::Off {
            return Ok(Some(Decision::Off));
        }
        let run_mode = if mode == SchedulerMode::Live {
            RunMode::Live
        } else {
            RunMode::Preview
        };
        let mut decision = Decision::Done(last);
        for month in [last.month_id().previous(), last.month_id()] {
            if self
                .store
                .run_of_other_length(month, period)
                .await?
                .is_some()
            {
                continue;
            }
            let done: BTreeSet<EpochId> = self
                .store
                .run_epochs_of_month(month, Some(run_mode))
                .await?
                .into_iter()
                .collect();
            for k in 0..month.periods_in_month(period) {
                let unit = EpochId::period_of(month, period, k).map_err(EngineError::Other)?;
                if unit > last {
                    break;
                }
                if done.contains(&unit) {
                    continue;
                }
                if mode == SchedulerMode::Live {
                    if !self.lagging_sources(unit).await?.is_empty() {
                        return Ok(Some(Decision::AwaitingWatermarks(unit)));
                    }
                    self.settle(unit, SCHEDULER_ACTOR, crate::SettleOptions::default())
                        .await?;
                } else {
                    self.preview(unit, SCHEDULER_ACTOR).await?;
                }
                decision = Decision::Settle(unit);
            }
        }
        Ok(Some(decision))
    }

    /// Ticks at start-up and then every `interval` until `cancel` fires.
    pub async fn run_scheduler(&self, interval: Duration, cancel: CancellationToken) {
        loop {
            match self.tick().await {
                Ok(decision) => tracing::debug!(?decision, "Scheduler tick."),
                Err(e) => tracing::warn!(error = %e, "Scheduler tick failed; will retry."),
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}
