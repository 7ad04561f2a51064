//! The probe loop: read a snapshot, plan, start probes, wait, repeat; stop on
//! a cancellation token.
//!
//! Invariants:
//! - Decisions are [`super::plan`]'s; this loop only reads, acts and sleeps.
//! - At most one probe per machine is in flight (the loop's own set), at most
//!   `max_in_flight` in total (a semaphore permit held by each probe task),
//!   and at most `rate_per_minute` start in any minute ([`RateWindow`] on a
//!   monotonic clock). A keyless machine's `no_key` verdict takes a start
//!   too, though nothing is sent.
//! - Wall time comes only from [`ProbeSource::now_ms`] (the caller's clock
//!   seam); sleeping uses tokio's monotonic timer.
//! - Every finished probe is handed to [`ProbeSink::record`] exactly once.
//!   On cancellation, probes still in flight are aborted (their connections
//!   dropped) and not recorded.
//! - Probes never create earnings or usage: the sink receives verdicts only.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{plan, Cadence, EpochWindow, LimitsError, MachineState, ProberLimits, RateWindow};
use crate::client::probe_once;
use crate::protocol::{pick, validate_catalog, CatalogEntry, CatalogError};
use crate::verdict::Verdict;

/// Shortest sleep between planning rounds, so a plan due "now" at the end of
/// an epoch cannot spin.
pub const MIN_TICK_MS: u64 = 50;

/// A machine the runner may probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    pub machine_id: String,
    /// From the machine's latest attestation; `None` ⇒ `no_key`.
    pub se_public_key: Option<String>,
    /// The latest proof of work or probe the caller knows of.
    pub last_evidence_ms: Option<i64>,
}

/// What the source sees at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The epoch being worked on (usually the one containing now).
    pub window: EpochWindow,
    pub targets: Vec<ProbeTarget>,
}

/// The source could not produce a snapshot (the runner retries later).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("probe source: {0}")]
pub struct SourceError(pub String);

/// Where the runner learns the time, the epoch and the machines.
pub trait ProbeSource: Send + Sync + 'static {
    /// Wall-clock milliseconds since the Unix epoch (the caller's clock seam).
    fn now_ms(&self) -> i64;
    /// The current epoch and its machines.
    fn snapshot(&self) -> impl Future<Output = Result<Snapshot, SourceError>> + Send;
}

/// One finished probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    pub verdict: Verdict,
    /// The catalog entry's model.
    pub model: String,
    /// When the verdict was reached ([`ProbeSource::now_ms`]).
    pub at_ms: i64,
}

/// Where verdicts go (e.g. stored as probe facts).
pub trait ProbeSink: Send + Sync + 'static {
    fn record(&self, report: ProbeReport) -> impl Future<Output = ()> + Send;
}

/// Everything the runner needs besides its source and sink.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub dispatch_url: String,
    pub limits: ProberLimits,
    pub cadence: Cadence,
    pub catalog: Vec<CatalogEntry>,
}

/// The configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Limits(#[from] LimitsError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("prober.dispatch_url: must be an http:// or https:// URL")]
    DispatchUrl,
}

/// Counts for one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    pub started: u64,
    pub recorded: u64,
    /// Probes aborted because the run was cancelled.
    pub aborted: u64,
}

/// The scheduled prober.
pub struct Runner<S, K> {
    config: RunnerConfig,
    http: reqwest::Client,
    source: Arc<S>,
    sink: Arc<K>,
    rng: StdRng,
}

impl<S: ProbeSource, K: ProbeSink> Runner<S, K> {
    /// Validates the configuration.
    pub fn new(
        config: RunnerConfig,
        http: reqwest::Client,
        source: Arc<S>,
        sink: Arc<K>,
        rng: StdRng,
    ) -> Result<Self, RunnerError> {
        config.limits.validate()?;
        config.cadence.validate()?;
        validate_catalog(&config.catalog)?;
        let url = config.dispatch_url.as_str();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(RunnerError::DispatchUrl);
        }
        Ok(Self {
            config,
            http,
            source,
            sink,
            rng,
        })
    }

    /// Runs until `cancel` fires; returns what it did.
    pub async fn run(mut self, cancel: CancellationToken) -> RunStats {
        let limits = self.config.limits;
        let cadence = self.config.cadence;
        let permits = usize::try_from(limits.max_in_flight).unwrap_or(1);
        let semaphore = Arc::new(Semaphore::new(permits));
        let started_at = Instant::now();
        let monotonic_ms = || i64::try_from(started_at.elapsed().as_millis()).unwrap_or(i64::MAX);
        let mut rate = RateWindow::new(limits.rate_per_minute);
        let mut stats = RunStats::default();
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut in_flight = InFlight::default();
        // Our own record of when each machine was last probed, in case the
        // sink's facts reach the source late (or never).
        let mut last_probed_ms: HashMap<String, i64> = HashMap::new();

        'outer: loop {
            in_flight.reap_ready(&mut tasks, &mut stats);
            let snapshot = tokio::select! {
                () = cancel.cancelled() => break 'outer,
                s = self.source.snapshot() => s,
            };
            let now_ms = self.source.now_ms();
            let mut next_at_ms = None;
            match snapshot {
                Err(e) => tracing::warn!(error = %e, "Probe snapshot failed; retrying."),
                Ok(snapshot) => {
                    let keys: HashMap<&str, Option<&str>> = snapshot
                        .targets
                        .iter()
                        .map(|t| (t.machine_id.as_str(), t.se_public_key.as_deref()))
                        .collect();
                    let states: Vec<MachineState> = snapshot
                        .targets
                        .iter()
                        .map(|t| MachineState {
                            machine_id: t.machine_id.clone(),
                            last_evidence_ms: t
                                .last_evidence_ms
                                .max(last_probed_ms.get(&t.machine_id).copied()),
                            in_flight: in_flight.contains(&t.machine_id),
                        })
                        .collect();
                    let current = u32::try_from(in_flight.len()).unwrap_or(u32::MAX);
                    let decided = plan(
                        &states,
                        snapshot.window,
                        now_ms,
                        current,
                        &limits,
                        &cadence,
                        &mut self.rng,
                    );
                    next_at_ms = decided.next_at_ms;
                    for machine_id in decided.probe_now {
                        // Rate limit: wait (cancellably) for a free start.
                        while let Err(retry_ms) = rate.try_acquire(monotonic_ms()) {
                            let wait = non_negative_ms(retry_ms.saturating_sub(monotonic_ms()));
                            tokio::select! {
                                () = cancel.cancelled() => break 'outer,
                                () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                            }
                        }
                        let permit = tokio::select! {
                            () = cancel.cancelled() => break 'outer,
                            p = Arc::clone(&semaphore).acquire_owned() => match p {
                                Ok(p) => p,
                                Err(_closed) => break 'outer,
                            },
                        };
                        let Some(entry) = pick(&self.config.catalog, &mut self.rng) else {
                            break 'outer;
                        };
                        let key = keys.get(machine_id.as_str()).copied().flatten();
                        let probe = probe_once(
                            &self.http,
                            &self.config.dispatch_url,
                            &machine_id,
                            key,
                            entry,
                            limits.timeout(),
                            &mut self.rng,
                        );
                        let model = entry.model.clone();
                        let source = Arc::clone(&self.source);
                        let sink = Arc::clone(&self.sink);
                        let handle = tasks.spawn(async move {
                            let verdict = probe.await;
                            // Free the slot before the sink's write.
                            drop(permit);
                            let at_ms = source.now_ms();
                            sink.record(ProbeReport {
                                verdict,
                                model,
                                at_ms,
                            })
                            .await;
                        });
                        stats.started = stats.started.saturating_add(1);
                        last_probed_ms.insert(machine_id.clone(), self.source.now_ms());
                        in_flight.insert(handle.id(), machine_id);
                    }
                }
            }

            // Sleep until the next planning round, reaping finished probes.
            // Bounded by the cadence even if the source's clock jumps back.
            let max_wait_ms = non_negative_ms(cadence.max_gap_ms).max(MIN_TICK_MS);
            let wait_ms = match next_at_ms {
                Some(at) => non_negative_ms(at.saturating_sub(self.source.now_ms())),
                None => max_wait_ms,
            };
            let nap = tokio::time::sleep(Duration::from_millis(
                wait_ms.clamp(MIN_TICK_MS, max_wait_ms),
            ));
            tokio::pin!(nap);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break 'outer,
                    () = &mut nap => break,
                    Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                        in_flight.finish(done, &mut stats);
                    }
                }
            }
        }

        // Cancelled: drop in-flight probes (closing their connections).
        tasks.abort_all();
        while let Some(done) = tasks.join_next_with_id().await {
            in_flight.finish(done, &mut stats);
        }
        tracing::info!(
            started = stats.started,
            recorded = stats.recorded,
            aborted = stats.aborted,
            "Prober stopped."
        );
        stats
    }
}

fn non_negative_ms(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

/// Machines with a probe task running, by task id.
#[derive(Default)]
struct InFlight {
    by_task: HashMap<tokio::task::Id, String>,
    machines: HashSet<String>,
}

impl InFlight {
    fn insert(&mut self, task: tokio::task::Id, machine_id: String) {
        self.machines.insert(machine_id.clone());
        self.by_task.insert(task, machine_id);
    }

    fn contains(&self, machine_id: &str) -> bool {
        self.machines.contains(machine_id)
    }

    fn len(&self) -> usize {
        self.machines.len()
    }

    fn reap_ready(&mut self, tasks: &mut JoinSet<()>, stats: &mut RunStats) {
        while let Some(done) = tasks.try_join_next_with_id() {
            self.finish(done, stats);
        }
    }

    fn finish(
        &mut self,
        done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
        stats: &mut RunStats,
    ) {
        let id = match done {
            Ok((id, ())) => {
                stats.recorded = stats.recorded.saturating_add(1);
                id
            }
            Err(e) => {
                if e.is_cancelled() {
                    stats.aborted = stats.aborted.saturating_add(1);
                } else {
                    tracing::error!(error = %e, "Probe task panicked.");
                }
                e.id()
            }
        };
        if let Some(machine_id) = self.by_task.remove(&id) {
            self.machines.remove(&machine_id);
        }
    }
}
