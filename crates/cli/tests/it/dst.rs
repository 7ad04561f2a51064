//! The simulation with this crate's real `floorline` binary: process deaths
//! at failpoints and rounds of concurrent `floorline settle` processes on one
//! database (8 on PostgreSQL), each seed checked after every step against the
//! model and at the end against an uninterrupted replay.

use floorline_proving::dst::{run_seed_with, Backend, Options, TrialReport};

async fn seeds(backend: Backend, seeds: std::ops::Range<u64>) -> Vec<TrialReport> {
    let opts = Options {
        floorline_bin: Some(env!("CARGO_BIN_EXE_floorline").into()),
        ..Options::default()
    };
    let mut out = Vec::new();
    for seed in seeds {
        let r = run_seed_with(seed, backend, &opts).await;
        assert!(
            r.passed(),
            "seed {seed} on {backend:?}: error {:?}, violations {:#?}",
            r.error,
            r.violations
        );
        out.push(r);
    }
    out
}

/// Six seeds on `backend` pass, with at least one round of concurrent
/// processes and one process killed at its failpoint among them.
async fn processes_race_and_die(backend: Backend) {
    let reports = seeds(backend, 200..206).await;
    let rounds: u64 = reports.iter().map(|r| r.concurrent_process_rounds).sum();
    let deaths: u64 = reports
        .iter()
        .flat_map(|r| r.process_crashes.values())
        .sum();
    assert!(rounds > 0, "no round of concurrent processes ran");
    assert!(deaths > 0, "no process died at a failpoint");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settler_processes_race_and_die_on_postgres_without_a_violation() {
    processes_race_and_die(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settler_processes_race_and_die_on_sqlite_without_a_violation() {
    processes_race_and_die(Backend::Sqlite).await;
}
