//! The thin scheduler loop (SPEC §6): at start-up and every tick it reads the
//! state, asks [`crate::schedule::due`], acts, and sleeps; it stops on its
//! cancellation token. The unique keys in the store are the real guard
//! against double credit; several instances may run this loop at once.

use std::time::Duration;

use floorline_store::Mode as RunMode;
use tokio_util::sync::CancellationToken;

use crate::schedule::{candidate, due, Decision, EpochState, Mode};
use crate::{Engine, EngineError};

/// Default tick interval: one hour.
pub const TICK_INTERVAL: Duration = Duration::from_secs(3600);
/// The actor recorded on runs made by the scheduler.
pub const SCHEDULER_ACTOR: &str = "scheduler";

impl Engine {
    /// One tick: decide and act. Returns what was decided.
    pub async fn tick(&self) -> Result<Option<Decision>, EngineError> {
        let now = self.now();
        let mode = self.config.settlement.mode;
        let Some(epoch) = candidate(now) else {
            return Ok(None);
        };
        let run_mode = if mode == Mode::Live {
            RunMode::Live
        } else {
            RunMode::Preview
        };
        let already_run =
            mode != Mode::Off && self.store.latest_run(epoch, run_mode).await?.is_some();
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
                Mode::Live => {
                    self.settle(e, SCHEDULER_ACTOR, crate::SettleOptions::default())
                        .await?;
                }
                Mode::Preview => {
                    self.preview(e, SCHEDULER_ACTOR).await?;
                }
                Mode::Off => {}
            }
        }
        Ok(decision)
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
