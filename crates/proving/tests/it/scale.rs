//! The scale bench at a tiny size, on both backends: the same code as
//! `floorline-scale`, checked for what it claims (not for its timings) —
//! the monthly bench and the period benches (`--period 5m|day`).

use floorline_core::money::portion;
use floorline_core::time::Period;
use floorline_core::EpochId;
use floorline_proving::scale::{
    extrapolate, markdown, markdown_extrapolation, markdown_period, markdown_refine, run,
    run_period, run_refine, run_version_rows, Backend, PeriodReport, ScaleOptions, ScaleReport,
};

fn opts(backend: Backend, machines: u64) -> ScaleOptions {
    ScaleOptions::new(backend, machines, "2026-10".parse().unwrap())
}

fn excluded(r: &ScaleReport, reason: &str) -> u64 {
    r.excluded_by_reason.get(reason).copied().unwrap_or(0)
}

fn check(r: &ScaleReport) {
    let n = r.machines;
    // Every generated row is in the database, kind by kind.
    assert_eq!(r.db_rows, r.generated_rows);
    assert_eq!(r.db_rows["machines"], n);
    assert_eq!(r.db_rows["sessions"], n * r.sessions_per_machine);
    assert_eq!(r.db_rows["earnings"], n * r.earnings_per_machine);
    assert!(r.db_rows["attestations"] > n, "some machines re-attest");
    assert!(
        r.db_rows["bindings"] > n * 9 / 10,
        "most machines are bound"
    );
    assert!(r.db_rows["health"] > 0 && r.db_rows["probes"] >= n);
    let ingested: u64 = r.ingest.iter().map(|k| k.rows).sum();
    assert_eq!(
        ingested,
        r.generated_rows
            .iter()
            .filter(|(k, _)| k.as_str() != "machines")
            .map(|(_, v)| v)
            .sum::<u64>()
    );

    // The load returned every machine and (nearly) every session of the epoch.
    assert_eq!(r.load_machines, n);
    assert!(r.load_sessions > n * r.sessions_per_machine * 9 / 10);
    assert!(r.load_organic_machines > n / 2 && r.load_organic_machines <= n);
    assert_eq!(r.bare_sessions_rows, n);
    // The store's own queries run bare read what the load read.
    // (SQLite: one row per machine with sessions, every machine here;
    // PostgreSQL: one row per session.)
    match r.backend {
        Backend::Sqlite => assert_eq!(r.store_sessions_rows, n),
        Backend::Postgres => assert_eq!(r.store_sessions_rows, r.load_sessions),
    }
    // (One row per machine with candidate jobs, one more per machine with
    // self-dealing ones.)
    assert!(r.store_grouping_rows >= r.load_organic_machines);
    assert!(r.store_grouping_rows <= 2 * n);

    // The settlement committed the plan computed from the same facts.
    assert_eq!(r.settle_manifest, r.plan_manifest);
    assert_eq!(r.settle_granted_micro_usd, r.plan_granted_micro_usd);
    assert_eq!(r.settle_eligible, r.plan_eligible);
    assert!(r.settle_shares > 0, "money moved");
    assert!(r.settle_granted_micro_usd > 0);
    assert!(
        r.settle_granted_micro_usd <= r.pool_micro_usd,
        "Σ granted ≤ pool"
    );
    assert_eq!(
        r.settle_granted_micro_usd + r.settle_unallocated_micro_usd,
        r.pool_micro_usd
    );
    // The fleet is mixed: some machines eligible, some excluded.
    assert!(r.settle_eligible > 0 && r.settle_eligible < n);
    for reason in ["below_min_memory", "uptime_below_gate"] {
        assert!(
            excluded(r, reason) > 0,
            "no machine excluded for {reason}: {:?}",
            r.excluded_by_reason
        );
    }
    assert!(r.settle.secs > 0.0 && r.settle.peak_mb > 0.0);
    assert!(markdown(r).contains("settle / bare"));
}

async fn both_sizes(backend: Backend) {
    let small = run(&opts(backend, 100)).await.unwrap();
    let large = run(&opts(backend, 300)).await.unwrap();
    check(&small);
    check(&large);
    // The rarer traits (2 % untrusted, 1 % never bound) show up across the two.
    for reason in ["not_attested", "no_payout_account"] {
        assert!(
            excluded(&small, reason) + excluded(&large, reason) > 0,
            "no machine excluded for {reason}"
        );
    }
    let fit = extrapolate(&small, &large, 1_000);
    assert!(fit.iter().any(|x| x.what.starts_with("settle")));
    assert!(markdown_extrapolation(&small, &large, 1_000).contains("1 000 machines"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_bench_runs_small_on_sqlite() {
    both_sizes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_bench_runs_small_on_postgres() {
    both_sizes(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_settles_the_same_manifest() {
    let a = run(&opts(Backend::Sqlite, 150)).await.unwrap();
    let b = run(&opts(Backend::Postgres, 150)).await.unwrap();
    assert_eq!(a.generated_rows, b.generated_rows);
    assert_eq!(a.settle_manifest, b.settle_manifest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_database_is_reused_without_ingest_and_settles_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let kept = ScaleOptions {
        database: Some(format!("sqlite://{}", dir.path().join("kept.db").display())),
        ..opts(Backend::Sqlite, 100)
    };
    let first = run(&kept).await.unwrap();
    check(&first);
    let again = run(&kept).await.unwrap();
    // No ingest the second time, and the database still holds exactly the fleet.
    assert!(again.ingest.is_empty());
    assert_eq!(again.generated_rows, first.generated_rows);
    assert_eq!(again.db_rows, first.db_rows);
    // The earlier settlement was deleted: the epoch settles as the first time
    // (a second settlement on top would pay no new shares).
    assert_eq!(again.settle_manifest, first.settle_manifest);
    assert_eq!(again.settle_shares, first.settle_shares);
    assert!(again.settle_shares > 0);
    assert_eq!(
        again.settle_granted_micro_usd,
        first.settle_granted_micro_usd
    );
    // The report says the ingest was skipped, and a fit through such a run
    // leaves the ingest figures out instead of fitting zeros.
    let text = markdown(&again);
    assert!(text.contains("| ingest | skipped"), "{text}");
    assert!(!text.contains("ingest, all kinds"), "{text}");
    let fit = extrapolate(&again, &first, 1_000);
    assert!(fit.iter().all(|x| !x.what.starts_with("ingest")));
    assert!(fit.iter().any(|x| x.what.starts_with("settle")));
}

/// A period run at a tiny size: the periods settled are the ones asked for,
/// each within its pool (D23), Σ over the month ≤ the monthly pool, and the
/// month's statement (D24) is their sum.
fn check_period(r: &PeriodReport, machines: u64) {
    assert_eq!(r.db_rows, r.generated_rows);
    assert_eq!(r.machines, machines);
    let month = r.month;
    let expected: Vec<EpochId> = if r.period == Period::FiveMinutes {
        vec![EpochId::period_of(month, r.period, 0).unwrap()]
    } else {
        (0..month.periods_in_month(r.period))
            .map(|k| EpochId::period_of(month, r.period, k).unwrap())
            .collect()
    };
    let got: Vec<EpochId> = r.periods.iter().map(|p| p.epoch).collect();
    assert_eq!(got, expected);
    let mut sum = 0;
    for p in &r.periods {
        assert_eq!(p.pool_micro_usd, portion(r.monthly_pool_micro_usd, p.epoch));
        assert!(p.granted_micro_usd >= 0 && p.granted_micro_usd <= p.pool_micro_usd);
        assert_eq!(
            p.granted_micro_usd + p.unallocated_micro_usd,
            p.pool_micro_usd
        );
        assert_eq!(p.n_machines, machines);
        assert!(p.n_eligible <= machines);
        assert!(p.bare_sessions_rows <= machines && p.bare_earnings_rows <= machines);
        assert!(p.secs >= 0.0 && p.bare_secs() > 0.0);
        sum += p.granted_micro_usd;
    }
    assert!(
        sum <= r.monthly_pool_micro_usd,
        "Σ draws of the month {sum} > the monthly pool {}",
        r.monthly_pool_micro_usd
    );
    assert_eq!(r.statement_drawn_micro_usd, sum);
    assert!(r.settle.secs > 0.0 && r.settle.peak_mb > 0.0);
    // The per-period times cut the one call's wall time (ms resolution).
    assert!(
        (r.periods_secs() - r.settle.secs).abs() < 0.25,
        "Σ per period {} s, the call {} s",
        r.periods_secs(),
        r.settle.secs
    );
    assert!(markdown_period(r).contains("settle / bare"));
}

async fn both_periods(backend: Backend) {
    let o = opts(backend, 40);
    let five = run_period(&o, Period::FiveMinutes).await.unwrap();
    check_period(&five, 40);
    assert_eq!(five.periods.len(), 1);
    let days = run_period(&o, Period::Day).await.unwrap();
    check_period(&days, 40);
    assert_eq!(days.periods.len(), 31, "October has 31 days");
    assert!(days.draws() > 0, "money moved in the month of days");
    assert_eq!(days.statement_periods_with_draws > 0, days.draws() > 0);
    let text = markdown_period(&days);
    assert!(text.contains("| 2026-10-31 |"), "{text}");
    // A month is not a period bench.
    assert!(run_period(&o, Period::Month).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn period_benches_run_small_on_sqlite() {
    both_periods(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn period_benches_run_small_on_postgres() {
    both_periods(Backend::Postgres).await;
}

/// The refinement bench at a tiny size: every round of the store answered
/// `refined` for every session and left every row at that round's
/// heartbeat (the bench checks both and fails otherwise), both sides timed.
async fn refine_small(backend: Backend) {
    let r = run_refine(&opts(backend, 150)).await.unwrap();
    assert_eq!(r.sessions, 150);
    assert_eq!(r.store_rounds_secs.len(), 3);
    assert_eq!(r.bare_rounds_secs.len(), 3);
    assert_eq!(r.bound_rounds_secs.len(), 3);
    assert!(r.store_rate() > 0.0 && r.bare_rate() > 0.0);
    let text = markdown_refine(&r);
    assert!(text.contains("store / bare"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refine_bench_runs_small_on_sqlite() {
    refine_small(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refine_bench_runs_small_on_postgres() {
    refine_small(Backend::Postgres).await;
}

/// The version-rows bench at a tiny size: a month of hourly heartbeats for
/// 3 sessions with a preview and a live run per day leaves exactly one
/// history row per session per day a heartbeat followed runs, not one per
/// heartbeat (SPEC §6 compaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_rows_bench_counts_what_runs_read() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let r = run_version_rows(&opts(backend, 3)).await.unwrap();
        assert_eq!(r.days, 31);
        assert_eq!(r.heartbeats, 3 * 31 * 24);
        assert_eq!(r.runs, 62);
        assert_eq!(r.version_rows, r.predicted_rows, "{backend:?}");
        assert_eq!(r.predicted_rows, 3 * 30);
    }
}
