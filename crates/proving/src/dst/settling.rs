//! The steps of a trial that settle: manual live runs (forced or not, with an
//! in-process failpoint armed or not), dry runs, previews, scheduler ticks,
//! `verify`, rounds of concurrent settlers, and the final flush.
//!
//! On seeds of periods shorter than a month the scheduler ticks periods
//! (SPEC §10 D24, `tick_periods`): a tick settles (or, in preview mode,
//! previews) every closed, unsettled period of the last due period's month
//! and of the month before, in order, up to the first whose watermarks lag.
//! [`Trial::expected_period_tick`] restates that from the model; a failpoint
//! armed for a tick lets a number of its periods commit before it fires, as
//! for [`Trial::settle_month_step`], which these seeds take as well.
//!
//! Every outcome is judged by [`Trial::reconcile`]: a refusal must be the
//! one the model predicts (epoch open, watermarks lagging); an injected
//! failure must come from the armed failpoint; the runs that appeared in the
//! store must be exactly the committed ones (`Ok`, or `Injected(AfterCommit)`),
//! and each, taken in id order, must equal the model's plan at that point.

use floorline_core::{EpochId, Plan};
use floorline_engine::schedule::{Decision, SchedulerMode};
use floorline_engine::{EngineError, RunSummary, SettleOptions, VerifyOptions};
use floorline_store::{FailPoint, FailSpec, RunMode, Store, StoreError};
use rand::seq::SliceRandom;
use rand::Rng;

use super::gen::DAY_MS;
use super::{error_at, Checkpoint, Trial};

/// What one settler answered: `Ok(Some)` a summary, `Ok(None)` a run the
/// scheduler made (no summary), `Err` an error.
pub(crate) type Outcome = Result<Option<RunSummary>, EngineError>;

/// A refusal the model predicts before anything is attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    NotClosed,
    Awaiting(Vec<String>),
}

fn refused_as(e: &EngineError, want: &Refusal, epoch: EpochId) -> bool {
    match (e, want) {
        (EngineError::NotClosed(x), Refusal::NotClosed) => *x == epoch,
        (EngineError::AwaitingWatermarks { epoch: x, sources }, Refusal::Awaiting(s)) => {
            *x == epoch && sources == s
        }
        _ => false,
    }
}

/// Where an armed failpoint must fire among `n` period runs: the run of
/// its skip's index (each run passes every point but `between_writes`
/// exactly once); `None` for `between_writes` or a skip past the last run.
fn fires_at(armed: Option<FailSpec>, n: usize) -> Option<usize> {
    armed.and_then(|a| {
        let at = usize::try_from(a.skip).unwrap_or(usize::MAX);
        (a.point != FailPoint::BetweenWrites && at < n).then_some(at)
    })
}

impl Trial {
    /// An epoch worth settling: one of the scenario's, sometimes the tick's candidate.
    fn pick_epoch(&mut self) -> EpochId {
        if self.rng.gen_bool(0.1) {
            let period = self.scenario.period();
            if let Some(e) = EpochId::containing_period(self.engine.now(), period) {
                let e = e.previous();
                // A month cut into days before the seed began refuses
                // 5-minute units (D20); it is not the seed's to settle.
                if !self.cut_by_days.contains(&e.month_id()) {
                    return e;
                }
            }
        }
        let epochs = self.scenario.epochs.clone();
        epochs
            .choose(&mut self.rng)
            .copied()
            .unwrap_or(self.scenario.first())
    }

    fn pick_failpoint(&mut self) -> FailSpec {
        let point = FailPoint::ALL
            .choose(&mut self.rng)
            .copied()
            .unwrap_or(FailPoint::AfterPlan);
        let skip = match point {
            FailPoint::BetweenWrites => self.rng.gen_range(0..7),
            // One hit per run: a skip of 1 arms a failpoint that never fires.
            _ => u32::from(self.rng.gen_bool(0.1)),
        };
        error_at(point, skip)
    }

    /// The refusal a live settlement of `epoch` should meet now, if any.
    pub(crate) fn refusal(&self, epoch: EpochId, force: bool) -> Option<Refusal> {
        if self.clock.get() < epoch.end().0 {
            return Some(Refusal::NotClosed);
        }
        let lagging = self.model.lagging(epoch);
        (!force && !lagging.is_empty()).then_some(Refusal::Awaiting(lagging))
    }

    /// Judges the outcomes of settlers of `epoch` in `mode` (see the module docs).
    pub(crate) async fn reconcile(
        &mut self,
        epoch: EpochId,
        mode: RunMode,
        outcomes: Vec<(Outcome, Option<FailSpec>)>,
        refusal: Option<Refusal>,
    ) -> Vec<String> {
        let mut found = Vec::new();
        let mut committed = 0usize;
        let mut summaries = Vec::new();
        for (outcome, armed) in outcomes {
            if let Some(want) = &refusal {
                match outcome {
                    Err(e) if refused_as(&e, want, epoch) => self.report.refusals += 1,
                    other => found.push(format!("expected refusal {want:?}, got {other:?}")),
                }
                continue;
            }
            match outcome {
                Ok(summary) => {
                    committed += 1;
                    summaries.extend(summary);
                }
                Err(EngineError::Store(StoreError::Injected(p)))
                    if armed.is_some_and(|a| a.point == p) =>
                {
                    *self.report.crash_points.entry(p.as_str()).or_insert(0) += 1;
                    if p == FailPoint::AfterCommit {
                        committed += 1;
                    }
                }
                Err(e) => found.push(format!("unexpected error settling {epoch}: {e}")),
            }
        }
        found.extend(self.take_new_runs(epoch, mode, committed).await);
        self.check_summaries(&summaries, &mut found);
        found
    }

    /// Reads the runs the store gained, requires `n` of `(epoch, mode)`, and
    /// checks each against the model in id order.
    /// Each summary an engine call returned must be of the run the model
    /// took for it (same id, same manifest).
    fn check_summaries(&self, summaries: &[RunSummary], found: &mut Vec<String>) {
        for s in summaries {
            let run = s
                .run_id
                .and_then(|id| self.model.runs.iter().find(|r| r.id == id));
            match run {
                Some(r) if r.manifest_sha256 == s.manifest_sha256 => {}
                other => found.push(format!(
                    "run summary {s:?} does not match the committed run {other:?}"
                )),
            }
        }
    }

    pub(crate) async fn take_new_runs(
        &mut self,
        epoch: EpochId,
        mode: RunMode,
        n: usize,
    ) -> Vec<String> {
        self.take_new_runs_of(&vec![epoch; n], mode).await
    }

    /// Runs the store gained that the model has not seen yet.
    pub(crate) async fn count_new_runs(&self) -> Result<usize, String> {
        let last = self.model.runs.last().map_or(i64::MIN, |r| r.id);
        let runs = self
            .store
            .runs(None)
            .await
            .map_err(|e| format!("reading runs: {e}"))?;
        Ok(runs.iter().filter(|r| r.id > last).count())
    }

    /// Like [`Trial::take_new_runs`], with the new runs' units given one by
    /// one, in id order (a `settle_month` settles several periods).
    pub(crate) async fn take_new_runs_of(
        &mut self,
        expected: &[EpochId],
        mode: RunMode,
    ) -> Vec<String> {
        let mut found = Vec::new();
        let n = expected.len();
        let last = self.model.runs.last().map_or(i64::MIN, |r| r.id);
        let runs = match self.store.runs(None).await {
            Ok(r) => r,
            Err(e) => return vec![format!("reading runs: {e}")],
        };
        let mut fresh: Vec<_> = runs.into_iter().filter(|r| r.id > last).collect();
        fresh.sort_by_key(|r| r.id);
        if fresh.len() != n {
            found.push(format!(
                "{} new settlement runs, {n} committed settlers: {:?}",
                fresh.len(),
                fresh
                    .iter()
                    .map(|r| (r.id, r.epoch, r.mode))
                    .collect::<Vec<_>>()
            ));
        }
        for (i, run) in fresh.into_iter().enumerate() {
            let epoch = expected.get(i).copied();
            if Some(run.epoch) != epoch || run.mode != mode {
                found.push(format!(
                    "run {} is {} {}, expected {epoch:?} {}",
                    run.id,
                    run.epoch,
                    run.mode.as_str(),
                    mode.as_str()
                ));
            }
            let expected: Plan = match self.model.expected_plan(run.epoch, None) {
                Ok(p) => p,
                Err(e) => {
                    found.push(format!("model plan of {}: {e}", run.epoch));
                    continue;
                }
            };
            if run.manifest_sha256 != expected.manifest_sha256
                || run.granted_total_micro_usd != expected.granted_total_micro_usd
                || run.already_settled_micro_usd != expected.already_settled_micro_usd
            {
                found.push(format!(
                    "run {} of {}: manifest {} granted {} already {}; the model says {} / {} / {}",
                    run.id,
                    run.epoch,
                    run.manifest_sha256,
                    run.granted_total_micro_usd,
                    run.already_settled_micro_usd,
                    expected.manifest_sha256,
                    expected.granted_total_micro_usd,
                    expected.already_settled_micro_usd
                ));
            }
            match self.store.run_plan_json(run.id).await {
                Ok(text) => {
                    let stored: serde_json::Value =
                        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
                    let want = serde_json::to_value(&expected).unwrap_or_default();
                    if stored != want {
                        found.push(format!(
                            "run {}: the stored plan differs from the model's plan",
                            run.id
                        ));
                    }
                }
                Err(e) => found.push(format!("reading the plan of run {}: {e}", run.id)),
            }
            if self.opts.trace {
                let mut why = std::collections::BTreeMap::new();
                for m in &expected.machines {
                    for r in &m.reasons {
                        *why.entry(r.as_str()).or_insert(0) += 1;
                    }
                }
                eprintln!(
                    "    run {} {} {}: already {} granted {} unallocated {} ({} eligible, {why:?})",
                    run.id,
                    run.epoch,
                    run.mode.as_str(),
                    expected.already_settled_micro_usd,
                    expected.granted_total_micro_usd,
                    expected.unallocated_micro_usd,
                    expected.machines.iter().filter(|m| m.eligible).count()
                );
            }
            self.model.commit_run(run.id, run.mode, &expected);
            if run.mode == RunMode::Live {
                self.report.settlements += 1;
                self.checkpoints.push(Checkpoint {
                    epoch: run.epoch,
                    facts: self.model.facts.clone(),
                });
            } else {
                self.report.previews += 1;
            }
        }
        found
    }

    /// Arms `spec` on the trial's store for one call.
    fn arm(&self, spec: Option<FailSpec>) {
        self.store.set_failpoint(spec);
    }

    pub(crate) async fn settle_manual(&mut self) -> (String, Vec<String>) {
        if self.scenario.has_periods() && self.rng.gen_bool(0.05) {
            return self.settle_wrong_length().await;
        }
        let epoch = self.pick_epoch();
        let force = self.rng.gen_bool(0.5);
        let armed = self.rng.gen_bool(0.4).then(|| self.pick_failpoint());
        self.settle_once(epoch, force, armed, "dst-admin").await
    }

    /// D20 on a period seed: settling a unit of another length (the month
    /// itself, or a day on a 5-minute seed) is refused as bad input and
    /// writes nothing.
    async fn settle_wrong_length(&mut self) -> (String, Vec<String>) {
        let unit = self.pick_epoch();
        let wrong = if self.scenario.period() == floorline_core::time::Period::Day {
            unit.month_id()
        } else {
            EpochId::containing_period(unit.start(), floorline_core::time::Period::Day)
                .unwrap_or(unit.month_id())
        };
        let opts = SettleOptions {
            force: true,
            dry_run: false,
        };
        let out = self.engine.settle(wrong, "dst-admin", opts).await;
        let mut found = Vec::new();
        match out {
            Err(e) if e.is_bad_input() => self.report.refusals += 1,
            other => found.push(format!(
                "settling {wrong} under period `{}`: expected a refusal, got {other:?}",
                self.scenario.period()
            )),
        }
        found.extend(self.take_new_runs_of(&[], RunMode::Live).await);
        (format!("settle {wrong} (wrong length)"), found)
    }

    pub(crate) async fn settle_once(
        &mut self,
        epoch: EpochId,
        force: bool,
        armed: Option<FailSpec>,
        actor: &str,
    ) -> (String, Vec<String>) {
        let refusal = self.refusal(epoch, force);
        self.arm(armed);
        let opts = SettleOptions {
            force,
            dry_run: false,
        };
        let out = self.engine.settle(epoch, actor, opts).await.map(Some);
        self.arm(None);
        let found = self
            .reconcile(epoch, RunMode::Live, vec![(out, armed)], refusal)
            .await;
        let name = match armed {
            Some(a) => format!("settle {epoch} force={force} fail={}", a.point.as_str()),
            None => format!("settle {epoch} force={force}"),
        };
        (name, found)
    }

    /// A failpoint for a `settle_month` of `n` periods: its skip lets a
    /// number of the month's periods commit before it fires (or, at `n`,
    /// lets them all through).
    fn pick_month_failpoint(&mut self, n: usize) -> FailSpec {
        let point = FailPoint::ALL
            .choose(&mut self.rng)
            .copied()
            .unwrap_or(FailPoint::AfterPlan);
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let skip = match point {
            // A few writes per run.
            FailPoint::BetweenWrites => self.rng.gen_range(0..=n.saturating_mul(4)),
            _ => self.rng.gen_range(0..=n),
        };
        error_at(point, skip)
    }

    /// `settle_month` of one of the seed's months (period seeds; see the
    /// module docs), forced or not, sometimes with a failpoint armed that
    /// lets some of its periods commit first.
    pub(crate) async fn settle_month_step(&mut self) -> (String, Vec<String>) {
        let months = self.scenario.month_settles.clone();
        let Some(month) = months.choose(&mut self.rng).copied() else {
            return self.move_clock();
        };
        self.report.month_settles += 1;
        let force = self.rng.gen_bool(0.5);
        let (units, refusal) = self.model.month_to_settle(month, self.clock.get(), force);
        let armed = self
            .rng
            .gen_bool(0.5)
            .then(|| self.pick_month_failpoint(units.len()));
        self.arm(armed);
        let opts = SettleOptions {
            force,
            dry_run: false,
        };
        let out = self.engine.settle_month(month, "dst-admin", opts).await;
        self.arm(None);
        let mut name = format!(
            "settle-month {month} force={force} ({} periods due",
            units.len()
        );
        if let Some((unit, _)) = &refusal {
            name.push_str(&format!(", refused at {unit}"));
        }
        name.push(')');
        if let Some(a) = armed {
            name.push_str(&format!(" fail={}@{}", a.point.as_str(), a.skip));
        }
        let n = units.len();
        let fires_at = fires_at(armed, n);
        let mut found = Vec::new();
        let committed = match out {
            Ok(summaries) => {
                if let Some(at) = fires_at {
                    found.push(format!(
                        "settle_month succeeded; the armed failpoint should have fired in period {at}"
                    ));
                }
                if let Some(r) = &refusal {
                    found.push(format!("settle_month succeeded; expected refusal {r:?}"));
                }
                let got: Vec<EpochId> = summaries.iter().map(|s| s.epoch).collect();
                if got != units {
                    found.push(format!(
                        "settle_month settled {got:?}, the model says {units:?}"
                    ));
                }
                found.extend(self.take_new_runs_of(&units, RunMode::Live).await);
                self.check_summaries(&summaries, &mut found);
                return (name, found);
            }
            Err(EngineError::Store(StoreError::Injected(p)))
                if armed.is_some_and(|a| a.point == p) =>
            {
                match self.committed_before(p, fires_at, n, &mut found).await {
                    Ok(k) => k,
                    Err(e) => return (name, vec![e]),
                }
            }
            Err(e) => {
                match (&refusal, fires_at) {
                    (Some((unit, lagging)), None)
                        if refused_as(&e, &Refusal::Awaiting(lagging.clone()), *unit) =>
                    {
                        self.report.refusals += 1;
                    }
                    _ => found.push(format!("settle_month of {month}: unexpected error {e}")),
                }
                n
            }
        };
        let prefix = units.get(..committed).unwrap_or(&units).to_vec();
        found.extend(self.take_new_runs_of(&prefix, RunMode::Live).await);
        (name, found)
    }

    /// How many of `n` due periods committed before the armed failpoint
    /// fired as `p`, `fires_at` the run it had to fire in (`None` for
    /// `between_writes`, counted from the store). Counts the crash.
    async fn committed_before(
        &mut self,
        p: FailPoint,
        fires_at: Option<usize>,
        n: usize,
        found: &mut Vec<String>,
    ) -> Result<usize, String> {
        *self.report.crash_points.entry(p.as_str()).or_insert(0) += 1;
        let k = match fires_at {
            Some(at) => at + usize::from(p == FailPoint::AfterCommit),
            None if p == FailPoint::BetweenWrites => match self.count_new_runs().await? {
                k if k < n => k,
                k => {
                    found.push(format!(
                        "failed between writes with {k} of {n} due periods committed"
                    ));
                    k.min(n)
                }
            },
            None => {
                found.push(format!(
                    "the failpoint {} fired beyond the {n} due periods",
                    p.as_str()
                ));
                n
            }
        };
        if k > 0 {
            self.report.between_period_crashes += 1;
        }
        Ok(k)
    }

    /// What a scheduler tick on a period seed should do now (SPEC §10 D24,
    /// restated from the model): the periods it settles (live) or previews,
    /// in order, and the decision it returns. The last due period is the one
    /// before the period holding `now − settle_delay`; every unit up to it
    /// of its month and of the month before that has no run of the
    /// scheduler's mode is due, in order, except in a month cut into periods
    /// of another length; a live tick stops at the first whose watermarks
    /// lag.
    pub(crate) fn expected_period_tick(&self) -> (Vec<EpochId>, Option<Decision>) {
        let period = self.scenario.period();
        let mode = self.scenario.mode;
        let since = self.engine.now().0 - self.scenario.settle_delay_ms;
        let Some(last) = EpochId::containing_period(floorline_core::Timestamp(since), period)
            .map(EpochId::previous)
        else {
            return (vec![], None);
        };
        if mode == SchedulerMode::Off {
            return (vec![], Some(Decision::Off));
        }
        let run_mode = if mode == SchedulerMode::Live {
            RunMode::Live
        } else {
            RunMode::Preview
        };
        let done: std::collections::BTreeSet<EpochId> = self
            .model
            .runs
            .iter()
            .filter(|r| r.mode == run_mode)
            .map(|r| r.epoch)
            .collect();
        let mut units = Vec::new();
        let mut decision = Decision::Done(last);
        for month in [last.month_id().previous(), last.month_id()] {
            if self.cut_by_days.contains(&month) {
                continue;
            }
            for k in 0..month.periods_in_month(period) {
                let Ok(unit) = EpochId::period_of(month, period, k) else {
                    break;
                };
                if unit > last {
                    break;
                }
                if done.contains(&unit) {
                    continue;
                }
                if mode == SchedulerMode::Live && !self.model.lagging(unit).is_empty() {
                    return (units, Some(Decision::AwaitingWatermarks(unit)));
                }
                units.push(unit);
                decision = Decision::Settle(unit);
            }
        }
        (units, Some(decision))
    }

    /// A scheduler tick on a period seed, sometimes with a failpoint armed
    /// that lets some of its periods commit first: the decision must be the
    /// model's, and the new runs exactly the due periods (or the prefix of
    /// them that committed before the failure), each the model's plan.
    async fn tick_periods_step(&mut self) -> (String, Vec<String>) {
        self.report.ticks += 1;
        self.report.period_ticks += 1;
        let (units, expected) = self.expected_period_tick();
        let n = units.len();
        let armed = self.rng.gen_bool(0.3).then(|| self.pick_month_failpoint(n));
        self.arm(armed);
        let out = self.engine.tick().await;
        self.arm(None);
        let run_mode = if self.scenario.mode == SchedulerMode::Live {
            RunMode::Live
        } else {
            RunMode::Preview
        };
        let mut name = format!("tick → {expected:?} ({n} periods due)");
        if let Some(a) = armed {
            name.push_str(&format!(" fail={}@{}", a.point.as_str(), a.skip));
        }
        let fires_at = fires_at(armed, n);
        let mut found = Vec::new();
        let committed = match out {
            Ok(decision) => {
                if let Some(at) = fires_at {
                    found.push(format!(
                        "the tick succeeded; the armed failpoint should have fired in period {at}"
                    ));
                }
                if decision != expected {
                    found.push(format!("tick: expected {expected:?}, got {decision:?}"));
                }
                n
            }
            Err(EngineError::Store(StoreError::Injected(p)))
                if armed.is_some_and(|a| a.point == p) =>
            {
                match self.committed_before(p, fires_at, n, &mut found).await {
                    Ok(k) => k,
                    Err(e) => return (name, vec![e]),
                }
            }
            Err(e) => {
                found.push(format!("tick: unexpected error {e}"));
                n
            }
        };
        let prefix = units.get(..committed).unwrap_or(&units).to_vec();
        self.report.period_tick_runs += u64::try_from(prefix.len()).unwrap_or(0);
        found.extend(self.take_new_runs_of(&prefix, run_mode).await);
        (name, found)
    }

    pub(crate) async fn dry_run(&mut self) -> (String, Vec<String>) {
        let epoch = self.pick_epoch();
        let force = self.rng.gen_bool(0.5);
        let refusal = self.refusal(epoch, force);
        let opts = SettleOptions {
            force,
            dry_run: true,
        };
        let out = self.engine.settle(epoch, "dst-admin", opts).await;
        let mut found = Vec::new();
        match (refusal, out) {
            (Some(want), Err(e)) if refused_as(&e, &want, epoch) => {}
            (None, Ok(s)) => match self.model.expected_plan(epoch, None) {
                Ok(p)
                    if p.manifest_sha256 == s.manifest_sha256
                        && p.granted_total_micro_usd == s.granted_total_micro_usd
                        && s.run_id.is_none() => {}
                other => found.push(format!("dry run {s:?}, model {other:?}")),
            },
            (want, got) => found.push(format!("dry run: expected {want:?}, got {got:?}")),
        }
        found.extend(self.take_new_runs(epoch, RunMode::Live, 0).await);
        (format!("dry-run {epoch}"), found)
    }

    pub(crate) async fn preview(&mut self) -> (String, Vec<String>) {
        let epoch = self.pick_epoch();
        let armed = self.rng.gen_bool(0.3).then(|| self.pick_failpoint());
        self.arm(armed);
        let out = self.engine.preview(epoch, "dst-admin").await.map(Some);
        self.arm(None);
        let found = self
            .reconcile(epoch, RunMode::Preview, vec![(out, armed)], None)
            .await;
        (format!("preview {epoch}"), found)
    }

    /// What the scheduler should decide now (SPEC §6, restated).
    fn expected_decision(&self) -> Option<Decision> {
        let now = self.engine.now();
        let epoch = EpochId::containing(now)?.previous();
        let mode = self.scenario.mode;
        if mode == SchedulerMode::Off {
            return Some(Decision::Off);
        }
        let due_at = floorline_core::Timestamp(epoch.end().0 + self.scenario.settle_delay_ms);
        if now < due_at {
            return Some(Decision::NotYet { epoch, due_at });
        }
        let run_mode = if mode == SchedulerMode::Live {
            RunMode::Live
        } else {
            RunMode::Preview
        };
        if self.model.latest_run(epoch, run_mode).is_some() {
            return Some(Decision::Done(epoch));
        }
        if mode == SchedulerMode::Live && !self.model.lagging(epoch).is_empty() {
            return Some(Decision::AwaitingWatermarks(epoch));
        }
        Some(Decision::Settle(epoch))
    }

    pub(crate) async fn tick(&mut self) -> (String, Vec<String>) {
        if self.scenario.has_periods() {
            return self.tick_periods_step().await;
        }
        self.report.ticks += 1;
        let expected = self.expected_decision();
        let armed = self.rng.gen_bool(0.3).then(|| self.pick_failpoint());
        self.arm(armed);
        let out = self.engine.tick().await;
        self.arm(None);
        let run_mode = if self.scenario.mode == SchedulerMode::Live {
            RunMode::Live
        } else {
            RunMode::Preview
        };
        let name = format!("tick → {expected:?}");
        let found = match expected {
            Some(Decision::Settle(epoch)) => {
                let outcome: Outcome = match out {
                    Ok(Some(Decision::Settle(e))) if e == epoch => Ok(None),
                    Ok(other) => Err(EngineError::Other(format!("tick decided {other:?}"))),
                    Err(e) => Err(e),
                };
                self.reconcile(epoch, run_mode, vec![(outcome, armed)], None)
                    .await
            }
            other => {
                let mut found = Vec::new();
                match out {
                    Ok(d) if d == other => {}
                    got => found.push(format!("tick: expected {other:?}, got {got:?}")),
                }
                let epoch = self.scenario.first();
                found.extend(self.take_new_runs(epoch, run_mode, 0).await);
                found
            }
        };
        (name, found)
    }

    /// `verify` recomputes each live run from the facts as it read them
    /// (SPEC §6, *Fact versions*): every run the DST committed was checked
    /// against the model when it committed, so verify must say ok, with the
    /// latest run reproduced, whatever arrived since. Its `drift` (the
    /// latest run recomputed from today's facts) must be the model's plan of
    /// today's facts, and list no change when that plan is the committed one.
    pub(crate) async fn verify_epoch(&mut self, epoch: EpochId) -> Vec<String> {
        self.report.verifies += 1;
        let got = self
            .engine
            .verify_with(epoch, VerifyOptions { drift: true })
            .await;
        let Some(last) = self.model.latest_run(epoch, RunMode::Live).cloned() else {
            return match got {
                Err(EngineError::NotFound(_)) => vec![],
                other => vec![format!("verify of unsettled {epoch}: {other:?}")],
            };
        };
        let today = match self.model.expected_plan(epoch, Some(last.id)) {
            Ok(p) => p,
            Err(e) => return vec![format!("model plan: {e}")],
        };
        let unchanged = today.manifest_sha256 == last.manifest_sha256;
        match got {
            Ok(r)
                if r.ok
                    && r.recomputed_manifest_sha256 == last.manifest_sha256
                    && r.committed_manifest_sha256.as_deref()
                        == Some(last.manifest_sha256.as_str())
                    && r.stored_draws_manifest_sha256 == last.manifest_sha256
                    && r.balance_mismatches.is_empty()
                    && r.drift.as_ref().is_some_and(|d| {
                        d.recomputed_manifest_sha256 == today.manifest_sha256
                            && (!unchanged || d.changes.is_empty())
                    }) =>
            {
                vec![]
            }
            other => vec![format!(
                "verify {epoch}: expected ok=true reproducing run {} ({}), drift {} \
                 (today's facts), got {other:?}",
                last.id, last.manifest_sha256, today.manifest_sha256
            )],
        }
    }

    pub(crate) async fn verify_step(&mut self) -> (String, Vec<String>) {
        let epoch = self.pick_epoch();
        let found = self.verify_epoch(epoch).await;
        (format!("verify {epoch}"), found)
    }

    /// Several settlers, each with its own `Store::connect`, settle one epoch at once.
    pub(crate) async fn concurrent(&mut self) -> (String, Vec<String>) {
        self.report.concurrent_rounds += 1;
        let epoch = self.pick_epoch();
        let force = self.rng.gen_bool(0.7);
        let n = match self.backend {
            super::Backend::Postgres => 8,
            super::Backend::Sqlite => 4,
        };
        let armed_at = self.rng.gen_bool(0.5).then(|| self.rng.gen_range(0..n));
        let spec = self.pick_failpoint();
        let refusal = self.refusal(epoch, force);
        let mut tasks = Vec::new();
        let mut found = Vec::new();
        for i in 0..n {
            let store = match Store::connect(&self.db.url).await {
                Ok(s) => s,
                Err(e) => {
                    found.push(format!("settler {i} could not connect: {e}"));
                    continue;
                }
            };
            let armed = (armed_at == Some(i)).then_some(spec);
            store.set_failpoint(armed);
            let engine = floorline_engine::Engine::new(
                store.clone(),
                self.config.clone(),
                self.clock.clone(),
            );
            let opts = SettleOptions {
                force,
                dry_run: false,
            };
            tasks.push(tokio::spawn(async move {
                let out = engine.settle(epoch, &format!("settler-{i}"), opts).await;
                store.close().await;
                (out.map(Some), armed)
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            match t.await {
                Ok(o) => outcomes.push(o),
                Err(e) => found.push(format!("settler task failed: {e}")),
            }
        }
        found.extend(
            self.reconcile(epoch, RunMode::Live, outcomes, refusal)
                .await,
        );
        (format!("concurrent ×{n} {epoch} force={force}"), found)
    }

    /// Sends every remaining fact, settles every epoch once more, verifies.
    pub(crate) async fn finish(&mut self) -> Vec<String> {
        let mut found = Vec::new();
        let end = if self.scenario.period() == floorline_core::time::Period::FiveMinutes {
            self.scenario.clock_hi_ms
        } else {
            self.scenario.last().end().0 + 40 * DAY_MS
        };
        self.clock.set(end);
        self.pending
            .sort_by_key(|p| (p.batch.flush_rank(), p.release_ms));
        loop {
            let before = self.pending.len();
            let mut i = 0;
            while i < self.pending.len() {
                let batch = self.pending.get(i).map(|p| p.batch.clone());
                let Some(batch) = batch else { break };
                let (sent, f) = self.send(&batch).await;
                found.extend(f);
                if sent == super::actions::Sent::Accepted {
                    self.pending.remove(i);
                } else {
                    i += 1;
                }
            }
            if self.pending.is_empty() || self.pending.len() == before {
                break;
            }
        }
        if !self.pending.is_empty() {
            found.push(format!(
                "{} batches could never be ingested: {:?}",
                self.pending.len(),
                self.pending.first().map(|p| &p.batch)
            ));
        }
        for epoch in self.scenario.epochs.clone() {
            let (_, f) = self.settle_once(epoch, true, None, "dst-final").await;
            found.extend(f);
        }
        for epoch in self.scenario.epochs.clone() {
            if let Ok(p) = self.model.expected_plan(epoch, None) {
                for m in &p.machines {
                    self.report.final_machines += 1;
                    self.report.final_eligible += u64::from(m.eligible);
                    for r in &m.reasons {
                        let slot = self
                            .report
                            .final_excluded
                            .entry(r.as_str().to_string())
                            .or_insert(0);
                        *slot += 1;
                    }
                }
            }
            found.extend(self.verify_epoch(epoch).await);
            match self.engine.verify(epoch).await {
                Ok(r) if r.ok => {}
                other => found.push(format!("final verify of {epoch} is not ok: {other:?}")),
            }
        }
        found
    }
}
