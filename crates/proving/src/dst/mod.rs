//! Deterministic simulation test of engine + store.
//!
//! [`run_seed`] builds the scenario of a seed ([`gen`]) — a fleet of 5–40
//! machines, one or two epochs, the facts they produce cut into batches with
//! release times — and then takes 60–160 random steps on a fresh database:
//! ingesting released batches in random order, exact re-sends, conflicting
//! re-sends, invalid batches, clock moves (forward, backward, around month
//! ends and around `settle_delay`), manual live settlements (forced or not,
//! some with an in-process [`FailAction::Error`] failpoint armed), dry runs,
//! previews, scheduler ticks, `verify`, admin adjustments, restarts (a new
//! `Store::connect`), rounds of concurrent settlers each with its own
//! `Store::connect` on the same database, and — with a `floorline` binary —
//! settlements by a real process killed at a failpoint (`abort`) and rounds of
//! 8 (PostgreSQL; 4 on SQLite) concurrent `floorline settle` processes, one
//! sometimes armed to abort ([`process`]). It ends by
//! sending every remaining fact and settling every epoch once more.
//!
//! A share of seeds settles days or 5-minute periods instead of months
//! (SPEC §10, [`gen::period_of_seed`]): their settlements name periods, the
//! scheduler-tick step is half the time a scheduler tick (which settles every
//! closed, unsettled period of two months, D24) and half a `settle_month`
//! (every closed, unsettled period of a month, one transaction each), and a
//! failpoint armed for either lets a number of periods commit before it
//! fires, so failures and process deaths land between the periods of one
//! month. A 5-minute seed's first tick would settle the 8 000-odd closed
//! periods of the month before its span: on 5-minute seeds whose span starts
//! at a month start the two months before are cut into days first (one
//! preview each under period `day`, as if the deployment settled daily
//! before it moved to 5 minutes), which the scheduler leaves alone (D20);
//! 5-minute seeds whose span starts in the month before take no ticks.
//!
//! After every step the month statements (D24) of every month in play are
//! read through `Engine::month_statement` and compared with the draws read
//! raw ([`check::month_statement`]).
//!
//! After every step the [`check`]er reads the database with its own SQL and
//! compares it with the [`model`]; any difference is a [`Violation`] and ends
//! the trial. At the end the draws are also compared with a [`replay`]: a
//! fresh store that ingests, at each committed live run, exactly the facts
//! that run saw and settles once, with nothing failing and nobody racing.
//!
//! The choice of every step is a pure function of the seed; which of several
//! concurrent settlers wins is not, and the model accepts any serial order.

mod actions;
pub mod check;
pub mod gen;
pub mod model;
pub mod process;
mod replay;
mod settling;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use floorline_core::Timestamp;
use floorline_engine::clock::Clock;
use floorline_engine::config::{Config, SettlementConfig};
use floorline_engine::Engine;
use floorline_store::{FailAction, FailPoint, RunMode, Store};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;

use crate::oracle::{self, RawDb};
use check::Snapshot;
use gen::{FactBatch, Planned, Scenario};
use model::{FactSet, Model};

pub use floorline_store::FailSpec;

/// Default admin URL of the test PostgreSQL server (as in the store's suite).
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Which database a trial runs on: a SQLite file in a temporary directory,
/// or a fresh database on the PostgreSQL server, dropped after the trial.
pub use floorline_store::Backend;

/// Knobs of a trial that are not part of the seed.
#[derive(Debug, Clone)]
pub struct Options {
    /// Admin URL of the PostgreSQL server (a database is created per trial).
    pub pg_admin_url: String,
    /// The `floorline` binary for process-level crashes (`FLOORLINE_FAILPOINT=…:abort`).
    pub floorline_bin: Option<PathBuf>,
    /// Print every step to stderr.
    pub trace: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            pg_admin_url: std::env::var("FLOORLINE_TEST_PG_URL")
                .unwrap_or_else(|_| DEFAULT_PG_URL.to_string()),
            floorline_bin: None,
            trace: false,
        }
    }
}

/// One broken expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub step: u64,
    pub action: String,
    pub what: String,
}

/// What one trial did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrialReport {
    pub seed: u64,
    pub backend: Option<Backend>,
    pub n_machines: usize,
    /// The seed's unit of settlement: `month`, `day` or `5m`.
    pub period: String,
    pub epochs: Vec<String>,
    pub steps: u64,
    /// Committed live runs (each checked against the model).
    pub settlements: u64,
    pub previews: u64,
    pub ticks: u64,
    /// `settle_month` calls (in-process, or `floorline settle --month`).
    pub month_settles: u64,
    /// Scheduler ticks on period seeds (counted in `ticks` too), and the
    /// period runs they committed.
    pub period_ticks: u64,
    pub period_tick_runs: u64,
    /// Failures (an injected error or a process death) inside a
    /// `settle_month` after at least one of its periods had committed.
    pub between_period_crashes: u64,
    /// Injected in-process failures that fired, per failpoint.
    pub crash_points: BTreeMap<&'static str, u64>,
    /// Real `floorline` processes that died at a failpoint, per failpoint.
    pub process_crashes: BTreeMap<&'static str, u64>,
    /// Rounds of concurrent settlers: tokio tasks, each with its own pool.
    pub concurrent_rounds: u64,
    /// Rounds of concurrent settlers: real `floorline settle` processes.
    pub concurrent_process_rounds: u64,
    pub batches_sent: u64,
    pub batches_rejected: u64,
    pub duplicates: u64,
    /// Refinements the store applied (SPEC §2), as the model expected.
    pub refined: u64,
    pub conflicts: u64,
    pub verifies: u64,
    /// Settlements refused as the model predicted (epoch open, watermarks lagging).
    pub refusals: u64,
    /// Draws at the end of the trial, and their sum.
    pub draws: u64,
    pub drawn_micro_usd: i64,
    /// Live runs that paid something on top of earlier draws (late facts).
    pub late_payments: u64,
    /// Live runs that granted something and left nothing of the pool.
    pub pool_bound_runs: u64,
    /// In the final plans (per epoch, summed): machines, eligible ones, and
    /// why the others were excluded.
    pub final_machines: u64,
    pub final_eligible: u64,
    pub final_excluded: BTreeMap<String, u64>,
    pub violations: Vec<Violation>,
    /// The trial could not run (e.g. the database is unreachable).
    pub error: Option<String>,
}

impl TrialReport {
    /// No violation and no error.
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.error.is_none()
    }
}

/// The simulation's clock: says what the trial sets.
#[derive(Debug, Default)]
pub struct SimClock(AtomicI64);

impl SimClock {
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Clock for SimClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.get())
    }
}

/// A database of one trial, removed on [`TestDb::destroy`].
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn create(backend: Backend, opts: &Options) -> Result<TestDb, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        match backend {
            Backend::Sqlite => Ok(TestDb {
                url: format!("sqlite://{}", dir.path().join("dst.db").display()),
                dir,
                pg: None,
            }),
            Backend::Postgres => {
                let admin = opts.pg_admin_url.clone();
                let name = format!("floorline_dst_{:016x}", rand::random::<u64>());
                oracle::create_database(&admin, &name).await?;
                Ok(TestDb {
                    url: with_database(&admin, &name),
                    dir,
                    pg: Some((admin, name)),
                })
            }
        }
    }

    pub async fn destroy(self) {
        if let Some((admin, name)) = &self.pg {
            oracle::drop_database(admin, name).await;
        }
    }
}

pub use crate::oracle::with_database;

/// The facts one committed live run saw (for the replay).
#[derive(Debug, Clone)]
pub(crate) struct Checkpoint {
    pub epoch: floorline_core::EpochId,
    pub facts: FactSet,
}

/// A running trial. Public so tests can step it and plant violations.
pub struct Trial {
    pub seed: u64,
    pub backend: Backend,
    pub(crate) opts: Options,
    pub(crate) rng: StdRng,
    pub scenario: Scenario,
    pub model: Model,
    pub db: TestDb,
    pub raw: RawDb,
    pub(crate) store: Store,
    pub engine: Engine,
    pub(crate) config: Config,
    pub clock: Arc<SimClock>,
    /// Released or not, not yet accepted.
    pub(crate) pending: Vec<Planned>,
    /// Every batch sent so far (for exact re-sends).
    pub(crate) sent: Vec<FactBatch>,
    pub(crate) prev: Option<Snapshot>,
    pub(crate) checkpoints: Vec<Checkpoint>,
    /// Months cut into days before the trial began (5-minute seeds whose span
    /// starts at a month start; see the module docs).
    pub cut_by_days: std::collections::BTreeSet<floorline_core::EpochId>,
    pub report: TrialReport,
    pub step: u64,
}

impl Trial {
    /// Sets up the scenario of `seed` on a fresh, migrated database.
    pub async fn new(seed: u64, backend: Backend, opts: &Options) -> Result<Trial, String> {
        let mut rng = StdRng::seed_from_u64(seed);
        let scenario = gen::scenario(&mut rng, gen::period_of_seed(seed));
        let db = TestDb::create(backend, opts).await?;
        let store = match Store::connect(&db.url).await {
            Ok(s) => s,
            Err(e) => {
                db.destroy().await;
                return Err(format!("connect: {e}"));
            }
        };
        if let Err(e) = store.migrate().await {
            store.close().await;
            db.destroy().await;
            return Err(format!("migrate: {e}"));
        }
        let raw = match RawDb::connect(&db.url).await {
            Ok(r) => r,
            Err(e) => {
                store.close().await;
                db.destroy().await;
                return Err(format!("raw connect: {e}"));
            }
        };
        let config = Config {
            policy: scenario.policy.clone(),
            settlement: SettlementConfig {
                mode: scenario.mode,
                settle_delay_ms: scenario.settle_delay_ms,
            },
            ..Config::default()
        };
        let clock = Arc::new(SimClock::default());
        clock.set(scenario.start_ms);
        let engine = Engine::new(store.clone(), config.clone(), clock.clone());
        let report = TrialReport {
            seed,
            backend: Some(backend),
            n_machines: scenario.n_machines,
            period: scenario.period().as_str().to_string(),
            epochs: scenario.epochs.iter().map(|e| e.to_string()).collect(),
            ..TrialReport::default()
        };
        let mut trial = Trial {
            seed,
            backend,
            opts: opts.clone(),
            rng,
            model: Model::new(scenario.policy.clone()),
            pending: scenario.batches.clone(),
            scenario,
            db,
            raw,
            store,
            engine,
            config,
            clock,
            sent: Vec::new(),
            prev: None,
            checkpoints: Vec::new(),
            cut_by_days: std::collections::BTreeSet::new(),
            report,
            step: 0,
        };
        if let Err(e) = trial.cut_months_before_span().await {
            trial.store.close().await;
            trial.raw.close().await;
            trial.db.destroy().await;
            return Err(e);
        }
        Ok(trial)
    }

    /// Whether the scheduler's work at a tick is bounded by the seed's
    /// span: always on daily seeds (two months of days at most); on
    /// 5-minute seeds only when the months before the span were cut into
    /// days (see the module docs).
    pub(crate) fn period_ticks_bounded(&self) -> bool {
        match self.scenario.period() {
            floorline_core::time::Period::FiveMinutes => !self.cut_by_days.is_empty(),
            _ => true,
        }
    }

    /// On a 5-minute seed whose span starts at a month start: the two
    /// months before it cut into days, by a preview of each one's first day
    /// under period `day` (recorded in the model like any run).
    async fn cut_months_before_span(&mut self) -> Result<(), String> {
        use floorline_core::time::Period;
        if self.scenario.period() != Period::FiveMinutes || self.scenario.months.len() != 1 {
            return Ok(());
        }
        let Some(month) = self.scenario.months.first().copied() else {
            return Ok(());
        };
        let daily = Config {
            policy: floorline_core::Policy {
                period: Period::Day,
                ..self.scenario.policy.clone()
            },
            ..self.config.clone()
        };
        let engine = Engine::new(self.store.clone(), daily, self.clock.clone());
        for before in [month.previous().previous(), month.previous()] {
            let day = floorline_core::EpochId::period_of(before, Period::Day, 0)?;
            let s = engine
                .preview(day, "dst-setup")
                .await
                .map_err(|e| format!("cutting {before} into days: {e}"))?;
            let id = s
                .run_id
                .ok_or_else(|| format!("the preview of {day} stored no run"))?;
            self.model.runs.push(model::ModelRun {
                id,
                epoch: day,
                mode: floorline_store::RunMode::Preview,
                manifest_sha256: s.manifest_sha256,
                granted_total_micro_usd: s.granted_total_micro_usd,
                already_settled_micro_usd: s.already_settled_micro_usd,
                unallocated_micro_usd: s.unallocated_micro_usd,
            });
            self.cut_by_days.insert(before);
        }
        Ok(())
    }

    /// The months whose statements are checked: the seed's, and every
    /// month with a draw in `now`.
    fn statement_months(
        &self,
        now: &Snapshot,
    ) -> std::collections::BTreeSet<floorline_core::EpochId> {
        let mut months: std::collections::BTreeSet<floorline_core::EpochId> =
            self.scenario.months.iter().copied().collect();
        months.extend(
            now.draws
                .keys()
                .filter_map(|(e, _, _)| e.parse::<floorline_core::EpochId>().ok())
                .map(floorline_core::EpochId::month_id),
        );
        months
    }

    /// D24 for every month in play: the engine's statement against the raw draws.
    async fn check_statements(&self, now: &Snapshot) -> Vec<String> {
        let mut v = Vec::new();
        for month in self.statement_months(now) {
            match self.engine.month_statement(month).await {
                Ok(st) => v.extend(check::month_statement(now, &st)),
                Err(e) => v.push(format!("month_statement({month}): {e}")),
            }
        }
        v
    }

    /// SPEC §6: every live run's manifest is what `floorline plan` computes
    /// from `export-facts --run N` (serialised to JSON and parsed back, as
    /// the CLI does), whatever was ingested or refined since.
    async fn check_run_exports(&self) -> Vec<String> {
        let mut v = Vec::new();
        let live = self.model.runs.iter().filter(|r| r.mode == RunMode::Live);
        for run in live {
            let bundle = match self.engine.export_facts_of_run(run.epoch, run.id).await {
                Ok(b) => b,
                Err(e) => {
                    v.push(format!(
                        "export-facts --run {} of {}: {e}",
                        run.id, run.epoch
                    ));
                    continue;
                }
            };
            let text = match serde_json::to_string(&bundle) {
                Ok(t) => t,
                Err(e) => {
                    v.push(format!("export of run {}: {e}", run.id));
                    continue;
                }
            };
            let patch = floorline_core::policy::PolicyPatch::default();
            match floorline_core::bundle::plan_bundle(&text, &patch) {
                Ok(p) if p.manifest_sha256 == run.manifest_sha256 => {}
                Ok(p) => v.push(format!(
                    "plan of export-facts --run {} of {} gives {}, the run committed {}",
                    run.id, run.epoch, p.manifest_sha256, run.manifest_sha256
                )),
                Err(e) => v.push(format!("plan of export-facts --run {}: {e}", run.id)),
            }
        }
        v
    }

    /// Runs every invariant against the database now; records nothing.
    pub async fn check(&self) -> Vec<String> {
        let now = match Snapshot::read(&self.raw).await {
            Ok(s) => s,
            Err(e) => return vec![format!("reading the database: {e}")],
        };
        let mut v = check::structural(
            self.prev.as_ref(),
            &now,
            self.scenario.policy.pool_micro_usd,
        );
        v.extend(check::against_model(&now, &self.model));
        v.extend(self.check_statements(&now).await);
        v.extend(self.check_run_exports().await);
        v
    }

    /// Checks after a step; records violations and remembers the snapshot.
    pub(crate) async fn after_step(&mut self, action: &str, mut found: Vec<String>) {
        match Snapshot::read(&self.raw).await {
            Ok(now) => {
                found.extend(check::structural(
                    self.prev.as_ref(),
                    &now,
                    self.scenario.policy.pool_micro_usd,
                ));
                found.extend(check::against_model(&now, &self.model));
                found.extend(self.check_statements(&now).await);
                found.extend(self.check_run_exports().await);
                self.prev = Some(now);
            }
            Err(e) => found.push(format!("reading the database: {e}")),
        }
        for what in found {
            self.report.violations.push(Violation {
                step: self.step,
                action: action.to_string(),
                what,
            });
        }
    }

    /// Takes one random step and checks; returns the action's name.
    pub async fn step(&mut self) -> String {
        self.step += 1;
        self.report.steps += 1;
        let (action, found) = self.random_action().await;
        if self.opts.trace {
            eprintln!(
                "[seed {} step {} t={}] {action} {found:?}",
                self.seed,
                self.step,
                Timestamp(self.clock.get())
            );
        }
        self.after_step(&action, found).await;
        action
    }

    /// Runs the whole trial: the steps, the final flush and settlements, the replay.
    pub async fn run(&mut self) {
        for _ in 0..self.scenario.n_steps {
            self.step().await;
            if !self.report.violations.is_empty() {
                return;
            }
        }
        self.step += 1;
        let found = self.finish().await;
        self.after_step("finish", found).await;
        if self.report.violations.is_empty() {
            let found = replay::compare(self).await;
            self.after_step("replay", found).await;
        }
    }

    /// Closes connections and drops the database.
    pub async fn teardown(mut self) -> TrialReport {
        let live = self
            .model
            .runs
            .iter()
            .filter(|r| r.mode == floorline_store::RunMode::Live);
        for r in live {
            if r.already_settled_micro_usd > 0 && r.granted_total_micro_usd > 0 {
                self.report.late_payments += 1;
            }
            if r.granted_total_micro_usd > 0 && r.unallocated_micro_usd == 0 {
                self.report.pool_bound_runs += 1;
            }
        }
        self.report.draws = u64::try_from(self.model.draws.len()).unwrap_or(0);
        self.report.drawn_micro_usd = self.model.draws.values().map(|d| d.amount_micro_usd).sum();
        self.store.close().await;
        self.raw.close().await;
        self.db.destroy().await;
        self.report
    }
}

/// An in-process failure at `point` after `skip` hits.
pub fn error_at(point: FailPoint, skip: u32) -> FailSpec {
    FailSpec::new(point, FailAction::Error).after(skip)
}

/// Runs one seed with default options (PostgreSQL from `FLOORLINE_TEST_PG_URL`).
pub async fn run_seed(seed: u64, backend: Backend) -> TrialReport {
    run_seed_with(seed, backend, &Options::default()).await
}

/// Runs one seed.
pub async fn run_seed_with(seed: u64, backend: Backend, opts: &Options) -> TrialReport {
    let mut trial = match Trial::new(seed, backend, opts).await {
        Ok(t) => t,
        Err(e) => {
            return TrialReport {
                seed,
                backend: Some(backend),
                error: Some(e),
                ..TrialReport::default()
            }
        }
    };
    trial.run().await;
    trial.teardown().await
}
