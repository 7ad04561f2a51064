//! The store-backed series of `/metrics`, read at every scrape: the
//! scheduler's configuration, the latest live and preview run of the epochs
//! the scheduler looks at (and of the epochs this process's API settled),
//! and the sources' watermarks. Every instance sharing one database reads
//! the same rows, so runs the scheduler or another instance made are seen;
//! only a run's duration comes from this process ([`Metrics::record_run`]).

use std::collections::{BTreeMap, BTreeSet};

use floorline_core::time::Period;
use floorline_core::EpochId;
use floorline_engine::schedule::{candidate, last_due_period};
use floorline_engine::Engine;
use floorline_store::{RunMode, RunRecord};

use super::{lock, Metrics, RunLabel, SchedulerLabel, SourceLabel, MONTH_SECONDS};

impl Metrics {
    /// The scrape-time reads: configuration, the latest runs, watermarks.
    pub(super) async fn refresh(&self, engine: &Engine) {
        let config = engine.config();
        let period = config.policy.period;
        let delay_s = config.settlement.settle_delay_ms.div_euclid(1000);
        let period_s = period
            .fixed_ms()
            .map_or(MONTH_SECONDS, |ms| ms.div_euclid(1000));
        self.due_after.set(period_s.saturating_add(delay_s));
        self.scheduler.clear();
        self.scheduler
            .get_or_create(&SchedulerLabel {
                mode: config.settlement.mode.as_str().into(),
                period: period.as_str().into(),
            })
            .set(1);
        let now = engine.now();
        let due = if period == Period::Month {
            candidate(now)
        } else {
            last_due_period(now, config.settlement.settle_delay_ms, period)
        };
        let local_epochs: BTreeMap<&'static str, EpochId> =
            lock(&self.local_runs).latest_epoch.clone();
        for mode in [RunMode::Live, RunMode::Preview] {
            let mut epochs: BTreeSet<EpochId> = due.into_iter().collect();
            epochs.extend(due.map(EpochId::previous));
            epochs.extend(local_epochs.get(mode.as_str()).copied());
            let mut latest: Option<RunRecord> = None;
            for epoch in epochs {
                match engine.latest_run(epoch, mode).await {
                    Ok(Some(run)) if latest.as_ref().is_none_or(|l| run.id > l.id) => {
                        latest = Some(run);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "Metrics could not read the latest runs.");
                        self.store_errors.inc();
                        return;
                    }
                }
            }
            if let Some(run) = latest {
                self.show_run(&run);
            }
        }
        match engine.watermarks().await {
            Ok(marks) => {
                self.watermarks.clear();
                for w in marks {
                    self.watermarks
                        .get_or_create(&SourceLabel { source: w.source })
                        .set(w.up_to.0.div_euclid(1000));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "Metrics could not read the watermarks.");
                self.store_errors.inc();
            }
        }
    }

    /// Shows `run` as the latest of its mode, replacing the previous epoch's series.
    fn show_run(&self, run: &RunRecord) {
        let mode = run.mode.as_str();
        let label = RunLabel {
            epoch: run.epoch.to_string(),
            mode: mode.into(),
        };
        let draws = run
            .already_settled_micro_usd
            .saturating_add(run.granted_total_micro_usd);
        let seconds = lock(&self.local_runs).seconds.get(&run.id).copied();
        let previous = lock(&self.shown).insert(mode, label.clone());
        if let Some(old) = previous.filter(|old| *old != label) {
            for family in [
                &self.run_granted,
                &self.run_draws,
                &self.run_unallocated,
                &self.run_pool,
                &self.run_eligible,
                &self.run_at,
            ] {
                family.remove(&old);
            }
            self.run_seconds.remove(&old);
        }
        self.run_granted
            .get_or_create(&label)
            .set(run.granted_total_micro_usd);
        self.run_draws.get_or_create(&label).set(draws);
        self.run_unallocated
            .get_or_create(&label)
            .set(run.unallocated_micro_usd);
        self.run_pool.get_or_create(&label).set(run.pool_micro_usd);
        self.run_eligible.get_or_create(&label).set(run.n_eligible);
        self.run_at
            .get_or_create(&label)
            .set(run.created_at_ms.div_euclid(1000));
        if let Some(s) = seconds {
            self.run_seconds.get_or_create(&label).set(s);
        }
        if run.mode == RunMode::Live {
            let yyyymm = i64::from(run.epoch.year()) * 100 + i64::from(run.epoch.month());
            self.last_settled_epoch.set(yyyymm);
            self.pool_used_micro_usd.set(draws);
        }
    }
}
