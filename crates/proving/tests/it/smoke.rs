//! A fast smoke run of the simulation: every seed must pass, and the seeds
//! together must have exercised what the simulation claims to exercise.

use floorline_proving::dst::{run_seed, Backend, Options, Trial, TrialReport};

fn failures(reports: &[TrialReport]) -> String {
    reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| {
            format!(
                "seed {} ({:?}): error {:?}, violations {:#?}",
                r.seed, r.backend, r.error, r.violations
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn run_all(backend: Backend, seeds: std::ops::Range<u64>) -> Vec<TrialReport> {
    let mut out = Vec::new();
    for seed in seeds {
        out.push(run_seed(seed, backend).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_seeds_on_sqlite_keep_every_invariant() {
    let reports = run_all(Backend::Sqlite, 0..20).await;
    assert!(
        reports.iter().all(TrialReport::passed),
        "{}",
        failures(&reports)
    );
    let sum = |f: fn(&TrialReport) -> u64| reports.iter().map(f).sum::<u64>();
    // Not vacuous: money moved, late facts were paid, the pool bound, every
    // failpoint fired, duplicates and conflicts and bad batches were sent,
    // settlements were refused, concurrent settlers raced.
    assert!(sum(|r| r.settlements) > 100, "settlements");
    assert!(sum(|r| r.draws) > 50, "draws");
    assert!(sum(|r| r.late_payments) > 0, "late payments");
    assert!(sum(|r| r.pool_bound_runs) > 0, "pool-bound runs");
    assert!(sum(|r| r.duplicates) > 0 && sum(|r| r.conflicts) > 0);
    // Heartbeats, closes and binding ends were applied in place (SPEC §2).
    assert!(sum(|r| r.refined) > 0, "refinements");
    assert!(sum(|r| r.batches_rejected) > 0 && sum(|r| r.refusals) > 0);
    assert!(sum(|r| r.concurrent_rounds) > 0 && sum(|r| r.ticks) > 0);
    for point in floorline_store::FailPoint::ALL {
        let hits: u64 = reports
            .iter()
            .map(|r| r.crash_points.get(point.as_str()).copied().unwrap_or(0))
            .sum();
        assert!(hits > 0, "failpoint {} never fired", point.as_str());
    }
    // Period seeds (SPEC §10): daily and 5-minute seeds settled money, and
    // a settle_month failed between the periods of one month.
    for period in ["day", "5m"] {
        let runs: u64 = reports
            .iter()
            .filter(|r| r.period == period)
            .map(|r| r.settlements)
            .sum();
        assert!(runs > 0, "no live run of a {period} seed");
    }
    assert!(sum(|r| r.month_settles) > 0, "settle_month");
    // The scheduler ticked periods (D24) and settled some.
    assert!(
        sum(|r| r.period_tick_runs) > 0,
        "no period settled by a tick"
    );
    assert!(
        sum(|r| r.between_period_crashes) > 0,
        "no failure between the periods of a month"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_seeds_on_postgres_keep_every_invariant() {
    let reports = run_all(Backend::Postgres, 100..105).await;
    assert!(
        reports.iter().all(TrialReport::passed),
        "{}",
        failures(&reports)
    );
    assert!(reports.iter().map(|r| r.concurrent_rounds).sum::<u64>() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_is_a_replayable_scenario() {
    let opts = Options::default();
    let a = Trial::new(7, Backend::Sqlite, &opts).await.unwrap();
    let b = Trial::new(7, Backend::Sqlite, &opts).await.unwrap();
    assert_eq!(format!("{:?}", a.scenario), format!("{:?}", b.scenario));
    let c = Trial::new(8, Backend::Sqlite, &opts).await.unwrap();
    assert_ne!(format!("{:?}", a.scenario), format!("{:?}", c.scenario));
    for t in [a, b, c] {
        t.teardown().await;
    }
    // The whole trial replays: same steps, same runs, same failures.
    let x = run_seed(7, Backend::Sqlite).await;
    let y = run_seed(7, Backend::Sqlite).await;
    let key = |r: &TrialReport| {
        (
            r.steps,
            r.settlements,
            r.batches_sent,
            r.draws,
            r.drawn_micro_usd,
            r.crash_points.clone(),
        )
    };
    assert_eq!(key(&x), key(&y));
}
