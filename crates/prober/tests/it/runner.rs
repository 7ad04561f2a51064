//! The scheduled runner against a real loopback provider: caps, rate limit,
//! one probe per machine, cancellation, config validation.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use floorline_prober::reference::{Behaviour, RunningProvider};
use floorline_prober::schedule::{
    Cadence, EpochWindow, ProbeReport, ProbeSink, ProbeSource, ProbeTarget, ProberLimits, RunStats,
    Runner, RunnerConfig, RunnerError, Snapshot, SourceError,
};
use floorline_prober::{CatalogEntry, Failure};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::common::{entry, eventually, http, provider};

/// 2026-07-10T00:00:00Z, the fake wall clock's start.
const T0: i64 = 1_783_641_600_000;

struct Fleet {
    started: Instant,
    targets: Vec<ProbeTarget>,
}

impl ProbeSource for Fleet {
    fn now_ms(&self) -> i64 {
        T0 + i64::try_from(self.started.elapsed().as_millis()).unwrap()
    }

    async fn snapshot(&self) -> Result<Snapshot, SourceError> {
        // July 2026.
        let window = EpochWindow::new(1_782_864_000_000, 1_785_542_400_000).unwrap();
        Ok(Snapshot {
            window,
            targets: self.targets.clone(),
        })
    }
}

#[derive(Default)]
struct Collect {
    reports: Mutex<Vec<ProbeReport>>,
}

impl Collect {
    fn len(&self) -> usize {
        self.reports.lock().unwrap().len()
    }
}

impl ProbeSink for Collect {
    async fn record(&self, report: ProbeReport) {
        self.reports.lock().unwrap().push(report);
    }
}

fn fleet(n: usize, key: &str) -> Fleet {
    let targets = (0..n)
        .map(|i| ProbeTarget {
            machine_id: format!("mac-{i}"),
            se_public_key: Some(key.to_owned()),
            last_evidence_ms: None,
        })
        .collect();
    Fleet {
        started: Instant::now(),
        targets,
    }
}

fn config(url: &str, limits: ProberLimits, fresh_ms: i64) -> RunnerConfig {
    RunnerConfig {
        dispatch_url: url.to_owned(),
        limits,
        cadence: Cadence {
            fresh_ms,
            max_gap_ms: 20,
        },
        catalog: vec![entry()],
    }
}

struct Started {
    cancel: CancellationToken,
    handle: tokio::task::JoinHandle<RunStats>,
    sink: Arc<Collect>,
}

fn start(config: RunnerConfig, fleet: Fleet) -> Started {
    let sink = Arc::new(Collect::default());
    let runner = Runner::new(
        config,
        http(),
        Arc::new(fleet),
        Arc::clone(&sink),
        StdRng::seed_from_u64(4),
    )
    .unwrap();
    let cancel = CancellationToken::new();
    let handle = tokio::spawn(runner.run(cancel.clone()));
    Started {
        cancel,
        handle,
        sink,
    }
}

async fn until(limit_s: u64, check: impl Fn() -> bool) -> bool {
    eventually(Duration::from_secs(limit_s), || {
        let ok = check();
        async move { ok }
    })
    .await
}

async fn spawn(behaviour: Behaviour, latency_ms: u64) -> (String, RunningProvider) {
    let p = provider(behaviour).with_latency(Duration::from_millis(latency_ms));
    let running = p.spawn().await.unwrap();
    (p.public_key_x963_b64(), running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_every_machine_once_under_the_concurrency_cap() {
    let (key, running) = spawn(Behaviour::Honest, 100).await;
    let mut machines = fleet(6, &key);
    machines.targets[5].se_public_key = None;
    let limits = ProberLimits::new(10_000, 2, 600).unwrap();
    let s = start(config(&running.url, limits, 86_400_000), machines);
    let sink = Arc::clone(&s.sink);
    assert!(
        until(30, || sink.len() == 6).await,
        "only {} reports",
        sink.len()
    );
    // Fresh evidence now: nothing more is sent.
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.cancel.cancel();
    let stats = s.handle.await.unwrap();
    assert_eq!(stats.started, 6);
    assert_eq!(stats.recorded, 6);
    assert_eq!(stats.aborted, 0);

    assert!(
        running.stats.max_in_flight() <= 2,
        "{}",
        running.stats.max_in_flight()
    );
    assert!(running.stats.max_in_flight() >= 1);
    assert_eq!(running.stats.same_machine_overlaps(), 0);
    assert_eq!(
        running.stats.requests(),
        5,
        "the keyless machine is never contacted"
    );
    let by_machine = running.stats.requests_by_machine();
    assert!(by_machine.values().all(|&n| n == 1), "{by_machine:?}");

    let reports = s.sink.reports.lock().unwrap().clone();
    let mut failures: Vec<_> = reports.iter().map(|r| r.verdict.failure).collect();
    failures.sort();
    assert_eq!(
        failures,
        [None, None, None, None, None, Some(Failure::NoKey)]
    );
    for r in &reports {
        assert_eq!(r.model, entry().model);
        assert!(r.at_ms >= T0);
        assert_eq!(r.verdict.verified_memory_gb, r.verdict.passed.then_some(64));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_caps_starts_per_minute() {
    let (key, running) = spawn(Behaviour::Honest, 0).await;
    let limits = ProberLimits::new(10_000, 8, 2).unwrap();
    let s = start(config(&running.url, limits, 86_400_000), fleet(5, &key));
    let sink = Arc::clone(&s.sink);
    assert!(until(30, || sink.len() == 2).await);
    // The third start must wait for the minute to pass.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(running.stats.requests(), 2);
    s.cancel.cancel();
    let stats = s.handle.await.unwrap();
    assert_eq!(stats.started, 2);
    assert_eq!(s.sink.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_two_probes_in_flight_for_one_machine() {
    // Evidence is never fresh, so the one machine is due again as soon as
    // its probe ends; the cap would allow four at once.
    let (key, running) = spawn(Behaviour::Honest, 60).await;
    let limits = ProberLimits::new(10_000, 4, 6_000).unwrap();
    let s = start(config(&running.url, limits, 0), fleet(1, &key));
    let sink = Arc::clone(&s.sink);
    assert!(until(30, || sink.len() >= 3).await);
    s.cancel.cancel();
    s.handle.await.unwrap();
    assert_eq!(running.stats.same_machine_overlaps(), 0);
    assert_eq!(running.stats.max_in_flight(), 1);
    assert!(s
        .sink
        .reports
        .lock()
        .unwrap()
        .iter()
        .all(|r| r.verdict.passed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_aborts_in_flight_probes_and_closes_their_connections() {
    let (key, running) = spawn(Behaviour::TooSlow, 0).await;
    let limits = ProberLimits::new(300_000, 2, 600).unwrap();
    let s = start(config(&running.url, limits, 86_400_000), fleet(2, &key));
    let stats = Arc::clone(&running.stats);
    assert!(until(30, || stats.requests() == 2).await);
    s.cancel.cancel();
    let run = s.handle.await.unwrap();
    assert_eq!(
        run,
        RunStats {
            started: 2,
            recorded: 0,
            aborted: 2
        }
    );
    assert_eq!(s.sink.len(), 0, "aborted probes are not recorded");
    assert!(
        until(10, || stats.dropped() == 2).await,
        "dropped {}",
        stats.dropped()
    );
}

#[tokio::test]
async fn runner_rejects_bad_configuration() {
    let good = || config("http://127.0.0.1:9/probe", ProberLimits::default(), 0);
    let new = |c: RunnerConfig| {
        Runner::new(
            c,
            http(),
            Arc::new(fleet(1, "k")),
            Arc::new(Collect::default()),
            StdRng::seed_from_u64(1),
        )
        .err()
    };
    assert_eq!(new(good()), None);

    let mut c = good();
    c.catalog.clear();
    assert!(matches!(new(c), Some(RunnerError::Catalog(_))));

    let mut c = good();
    c.catalog.push(CatalogEntry {
        expected_sha256: "nope".into(),
        ..entry()
    });
    let err = new(c).map(|e| e.to_string()).unwrap_or_default();
    assert!(err.starts_with("catalog[1].expected_sha256"), "{err}");

    let mut c = good();
    c.limits.max_in_flight = 0;
    let err = new(c).map(|e| e.to_string()).unwrap_or_default();
    assert!(err.starts_with("prober.max_in_flight"), "{err}");

    let mut c = good();
    c.cadence.max_gap_ms = 0;
    assert!(matches!(new(c), Some(RunnerError::Limits(_))));

    let mut c = good();
    c.dispatch_url = "ftp://example/probe".into();
    assert_eq!(new(c), Some(RunnerError::DispatchUrl));
}
