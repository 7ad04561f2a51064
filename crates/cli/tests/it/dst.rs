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

fn process_rounds(reports: &[TrialReport]) -> (u64, u64) {
    (
        reports.iter().map(|r| r.concurrent_process_rounds).sum(),
        reports
            .iter()
            .flat_map(|r| r.process_crashes.values())
            .sum(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settler_processes_race_and_die_on_postgres_without_a_violation() {
    let reports = seeds(Backend::Postgres, 200..206).await;
    let (rounds, deaths) = process_rounds(&reports);
    assert!(rounds > 0, "no round of concurrent processes ran");
    assert!(deaths > 0, "no process died at a failpoint");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settler_processes_race_and_die_on_sqlite_without_a_violation() {
    let reports = seeds(Backend::Sqlite, 200..206).await;
    let (rounds, deaths) = process_rounds(&reports);
    assert!(rounds > 0, "no round of concurrent processes ran");
    assert!(deaths > 0, "no process died at a failpoint");
}
