//! One scale run: the bench policy, the ingest of the fleet through the
//! store, and the timed phases (load, plan, settle, the bare scans) that fill
//! a [`ScaleReport`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::scale::{Doing as _, Result, ScaleError};
use floorline_core::facts::{OrganicEarnings, Windows};
use floorline_core::Watermark;
use floorline_core::{Policy, Timestamp};
use floorline_engine::clock::FixedClock;
use floorline_engine::config::Config;
use floorline_engine::{Engine, SettleOptions};
use floorline_store::{IngestReport, Store, MAX_BATCH_ITEMS};

use super::db::{Raw, ScaleDb};
use super::{
    f, peak_mb, ratio, reset_peak, u64_i64, usize_u64, Backend, Fleet, KindFigures, Phase,
    ScaleOptions, ScaleReport, HOUR_MS,
};

/// The policy of the bench: the defaults, with a pool of $8 per machine. The
/// default $9 000 would pay a few hundred machines of 100 000 and make the
/// commit trivial; with $8 each the pool does not bind for this fleet (the
/// desired draws sum to about $4.40 per machine), so every eligible machine
/// with a positive draw is paid and the commit writes tens of thousands of
/// draws, ledger credits and `base_reward` earnings.
pub fn bench_policy(machines: u64) -> Policy {
    Policy {
        pool_micro_usd: u64_i64(machines.saturating_mul(8_000_000)),
        ..Policy::default()
    }
}

struct Progress {
    on: bool,
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    last: Instant,
}

impl Progress {
    fn new(on: bool, label: String, total: u64) -> Progress {
        let now = Instant::now();
        Progress {
            on,
            label,
            total,
            done: 0,
            started: now,
            last: now,
        }
    }

    fn add(&mut self, n: u64) {
        self.done += n;
        if self.on && (self.last.elapsed() >= Duration::from_secs(20) || self.done == self.total) {
            self.last = Instant::now();
            let secs = self.started.elapsed().as_secs_f64();
            let rate = ratio(f(self.done), secs);
            let left = ratio(f(self.total.saturating_sub(self.done)), rate);
            eprintln!(
                "  {} {}/{} ({:.0} %) {:.0} rows/s, {:.0} s elapsed, ~{:.0} s left",
                self.label,
                self.done,
                self.total,
                ratio(f(self.done) * 100.0, f(self.total)),
                rate,
                secs,
                left
            );
        }
    }
}

/// Sends `items` in batches of [`MAX_BATCH_ITEMS`]; every item must be new.
async fn ingest_kind<T, I, F, Fut>(
    kind: &'static str,
    items: I,
    total_hint: u64,
    opts: &ScaleOptions,
    mut send: F,
) -> Result<KindFigures>
where
    I: Iterator<Item = T>,
    F: FnMut(Vec<T>) -> Fut,
    Fut: std::future::Future<Output = floorline_store::Result<(IngestReport, usize)>>,
{
    let mut items = items;
    let mut progress = Progress::new(
        opts.progress,
        format!("[{} {}] {kind}", opts.backend.name(), opts.machines),
        total_hint,
    );
    let mut figures = KindFigures {
        kind: kind.to_string(),
        rows: 0,
        batches: 0,
        secs: 0.0,
    };
    loop {
        let batch: Vec<T> = items.by_ref().take(MAX_BATCH_ITEMS).collect();
        if batch.is_empty() {
            break;
        }
        let t = Instant::now();
        let (report, n) = send(batch)
            .await
            .doing_with(|| format!("ingest {kind}, batch {}", figures.batches))?;
        figures.secs += t.elapsed().as_secs_f64();
        let n = usize_u64(n);
        if report.accepted != n || !report.conflicts.is_empty() {
            return Err(ScaleError::msg(format!(
                "ingest {kind}, batch {}: {} sent, {} accepted, {} duplicates, {} conflicts",
                figures.batches,
                n,
                report.accepted,
                report.duplicates,
                report.conflicts.len()
            )));
        }
        figures.rows += n;
        figures.batches += 1;
        progress.add(n);
    }
    Ok(figures)
}

/// Runs the bench once on a fresh database (always dropped after).
pub async fn run(opts: &ScaleOptions) -> Result<ScaleReport> {
    let db = ScaleDb::create(opts).await?;
    let out = run_on(&db, opts).await;
    db.destroy().await;
    out
}

/// Progress on stderr (with `opts.progress`).
pub(super) fn say(opts: &ScaleOptions, what: &str) {
    if opts.progress {
        eprintln!("[{} {}] {what}", opts.backend.name(), opts.machines);
    }
}

/// A database that holds the fleet, checked and ready to settle, with what
/// getting there measured.
pub(super) struct Prepared {
    pub store: Store,
    pub raw: Raw,
    pub ingest: Vec<KindFigures>,
    pub ingest_phase: Phase,
    pub db_rows: BTreeMap<String, u64>,
    pub generated_rows: BTreeMap<String, u64>,
    pub maintenance_secs: f64,
}

/// Migrates `db`, ingests the fleet (unless a kept database already holds
/// it), checks every table's row count against what was generated, and on
/// PostgreSQL runs `VACUUM ANALYZE`.
pub(super) async fn prepare(db: &ScaleDb, opts: &ScaleOptions) -> Result<Prepared> {
    let store = Store::connect(&db.url).await.doing("connect")?;
    store.migrate().await.doing("migrate")?;
    let fleet = Fleet::new(opts);
    let n = opts.machines;

    // Ingest (unless a kept database already holds this fleet).
    let rss = reset_peak();
    let mut ingest = Vec::new();
    let reused = holds_fleet(&db.url, opts).await?;
    if reused {
        say(
            opts,
            "the database holds this fleet: ingest skipped, earlier settlement deleted",
        );
    } else {
        ingest_fleet(&store, &fleet, opts, &mut ingest).await?;
    }
    let ingest_phase = Phase {
        secs: ingest.iter().map(|k| k.secs).sum(),
        rss_start_mb: rss,
        peak_mb: peak_mb(),
    };
    say(
        opts,
        &format!(
            "ingested {} rows in {:.1} s",
            ingest.iter().map(|k| k.rows).sum::<u64>(),
            ingest_phase.secs
        ),
    );

    // Row counts: the database holds exactly what was generated.
    let mut raw = Raw::connect(&db.url).await.doing("raw connect")?;
    let mut generated_rows: BTreeMap<String, u64> = if reused {
        generated_counts(&fleet)
    } else {
        ingest.iter().map(|k| (k.kind.clone(), k.rows)).collect()
    };
    generated_rows.insert("machines".into(), n);
    let mut db_rows = BTreeMap::new();
    for table in [
        "machines",
        "attestations",
        "bindings",
        "sessions",
        "health",
        "probes",
        "earnings",
    ] {
        db_rows.insert(table.to_string(), raw.count(table).await?);
    }
    if db_rows != generated_rows {
        return Err(ScaleError::msg(format!(
            "rows in the database {db_rows:?} differ from those generated {generated_rows:?}"
        )));
    }

    let t = Instant::now();
    if opts.backend == Backend::Postgres {
        raw.vacuum_analyze().await.doing("VACUUM ANALYZE")?;
    }
    let maintenance_secs = t.elapsed().as_secs_f64();
    Ok(Prepared {
        store,
        raw,
        ingest,
        ingest_phase,
        db_rows,
        generated_rows,
        maintenance_secs,
    })
}

async fn run_on(db: &ScaleDb, opts: &ScaleOptions) -> Result<ScaleReport> {
    let epoch = opts.epoch;
    let policy = bench_policy(opts.machines);
    let n = opts.machines;
    let say = |what: String| say(opts, &what);
    let Prepared {
        store,
        mut raw,
        ingest,
        ingest_phase,
        db_rows,
        generated_rows,
        maintenance_secs,
    } = prepare(db, opts).await?;

    // The bare scans, first run.
    let w = Windows::new(epoch, &policy);
    let (from, to) = (w.earliest_earning_ms(), w.end_ms);
    let alive_after = w.start_ms - policy.grace_ms;
    let (e1, bare_earnings_rows) = raw.bare_earnings(from, to).await?;
    let (s1, bare_sessions_rows) = raw.bare_sessions(w.end_ms, alive_after).await?;
    say(format!(
        "bare scans: earnings {e1:.2} s, sessions {s1:.2} s"
    ));

    // 2. Load.
    let rss = reset_peak();
    let t = Instant::now();
    let facts = store
        .load_epoch_facts(epoch, &policy)
        .await
        .doing("load_epoch_facts")?;
    let load = Phase {
        secs: t.elapsed().as_secs_f64(),
        rss_start_mb: rss,
        peak_mb: peak_mb(),
    };
    let load_machines = usize_u64(facts.machines.len());
    let load_sessions = facts
        .machines
        .iter()
        .map(|m| usize_u64(m.sessions.len()))
        .sum();
    let load_organic_machines = usize_u64(
        facts
            .machines
            .iter()
            .filter(|m| m.earnings != OrganicEarnings::default())
            .count(),
    );
    say(format!(
        "load {:.2} s, peak {:.0} MB",
        load.secs, load.peak_mb
    ));

    // 3. Plan.
    let rss = reset_peak();
    let t = Instant::now();
    let planned =
        floorline_core::plan(&facts, &policy).map_err(|e| ScaleError::msg(format!("plan: {e}")))?;
    let plan = Phase {
        secs: t.elapsed().as_secs_f64(),
        rss_start_mb: rss,
        peak_mb: peak_mb(),
    };
    let plan_eligible = usize_u64(planned.machines.iter().filter(|m| m.eligible).count());
    let plan_granted_micro_usd = planned.granted_total_micro_usd;
    let plan_manifest = planned.manifest_sha256.clone();
    drop(planned);
    drop(facts);
    say(format!(
        "plan {:.2} s, peak {:.0} MB",
        plan.secs, plan.peak_mb
    ));

    // 4. Settle: the real path, live, seven hours after the month closed.
    let engine = Engine::new(
        store.clone(),
        Config {
            policy: policy.clone(),
            ..Config::default()
        },
        Arc::new(FixedClock(Timestamp(epoch.end().0 + 7 * HOUR_MS))),
    );
    let rss = reset_peak();
    let t = Instant::now();
    let summary = engine
        .settle(epoch, "scale-bench", SettleOptions::default())
        .await
        .map_err(|e| ScaleError::msg(format!("settle: {e}")))?;
    let settle = Phase {
        secs: t.elapsed().as_secs_f64(),
        rss_start_mb: rss,
        peak_mb: peak_mb(),
    };
    say(format!(
        "settle {:.2} s, peak {:.0} MB, {} shares",
        settle.secs, settle.peak_mb, summary.n_granted_shares
    ));

    // The bare scans again (warm); the best of the two counts.
    let (e2, _) = raw.bare_earnings(from, to).await?;
    let (s2, _) = raw.bare_sessions(w.end_ms, alive_after).await?;
    let (store_grouping_secs, store_grouping_rows) = raw.store_grouping(epoch, &policy).await?;
    let (store_sessions_secs, store_sessions_rows) = raw.store_sessions(epoch, &policy).await?;
    let db_bytes = db.size_bytes(&mut raw).await;
    raw.close().await;
    store.close().await;

    Ok(ScaleReport {
        backend: opts.backend,
        machines: n,
        sessions_per_machine: opts.sessions_per_machine,
        earnings_per_machine: opts.earnings_per_machine,
        seed: opts.seed,
        epoch,
        ingest,
        ingest_phase,
        db_rows,
        generated_rows,
        maintenance_secs,
        load,
        load_machines,
        load_sessions,
        load_organic_machines,
        plan,
        plan_eligible,
        plan_granted_micro_usd,
        plan_manifest,
        settle,
        settle_granted_micro_usd: summary.granted_total_micro_usd,
        settle_unallocated_micro_usd: summary.unallocated_micro_usd,
        settle_shares: summary.n_granted_shares,
        settle_eligible: summary.n_eligible,
        settle_manifest: summary.manifest_sha256,
        pool_micro_usd: summary.pool_micro_usd,
        excluded_by_reason: summary.excluded_by_reason,
        bare_earnings_secs: e1.min(e2),
        bare_earnings_rows,
        bare_sessions_secs: s1.min(s2),
        bare_sessions_rows,
        store_grouping_secs,
        store_grouping_rows,
        store_sessions_secs,
        store_sessions_rows,
        db_bytes,
    })
}

/// Ingests the whole fleet through the store, kind by kind, then the watermark.
async fn ingest_fleet(
    store: &Store,
    fleet: &Fleet,
    opts: &ScaleOptions,
    ingest: &mut Vec<KindFigures>,
) -> Result<()> {
    let n = opts.machines;
    let epoch = opts.epoch;
    ingest.push(
        ingest_kind("attestations", fleet.attestations(), n, opts, |b| {
            let store = store.clone();
            async move { store.ingest(&b).await.map(|r| (r, b.len())) }
        })
        .await?,
    );
    ingest.push(
        ingest_kind("bindings", fleet.bindings(), n, opts, |b| {
            let store = store.clone();
            async move { store.ingest(&b).await.map(|r| (r, b.len())) }
        })
        .await?,
    );
    ingest.push(
        ingest_kind(
            "sessions",
            fleet.sessions(),
            n.saturating_mul(opts.sessions_per_machine),
            opts,
            |b| {
                let store = store.clone();
                async move { store.ingest(&b).await.map(|r| (r, b.len())) }
            },
        )
        .await?,
    );
    ingest.push(
        ingest_kind("health", fleet.health(), n / 5, opts, |b| {
            let store = store.clone();
            async move { store.ingest(&b).await.map(|r| (r, b.len())) }
        })
        .await?,
    );
    ingest.push(
        ingest_kind("probes", fleet.probes(), n, opts, |b| {
            let store = store.clone();
            async move { store.ingest(&b).await.map(|r| (r, b.len())) }
        })
        .await?,
    );
    ingest.push(
        ingest_kind(
            "earnings",
            fleet.earnings(),
            n.saturating_mul(opts.earnings_per_machine),
            opts,
            |b| {
                let store = store.clone();
                async move { store.ingest(&b).await.map(|r| (r, b.len())) }
            },
        )
        .await?,
    );
    store
        .ingest(&[Watermark {
            source: "coordinator".into(),
            up_to: Timestamp(epoch.end().0 + HOUR_MS),
        }])
        .await
        .doing("watermark")?;
    Ok(())
}

/// How many items `it` yields: its exact size hint when it has one (the
/// sessions and earnings are ranges mapped to facts, so their millions of
/// rows are not built just to be counted), else a count.
fn rows_of<T>(it: impl Iterator<Item = T>) -> u64 {
    match it.size_hint() {
        (lo, Some(hi)) if lo == hi => usize_u64(lo),
        _ => usize_u64(it.count()),
    }
}

/// The rows of each kind the fleet generates (counted, not ingested).
fn generated_counts(fleet: &Fleet) -> BTreeMap<String, u64> {
    [
        ("attestations", rows_of(fleet.attestations())),
        ("bindings", rows_of(fleet.bindings())),
        ("sessions", rows_of(fleet.sessions())),
        ("health", rows_of(fleet.health())),
        ("probes", rows_of(fleet.probes())),
        ("earnings", rows_of(fleet.earnings())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Whether the database at `url` already holds this fleet (its machines and
/// earnings counted); if so the settlement of an earlier run is deleted, so
/// that the settle measured is again the epoch's first.
async fn holds_fleet(url: &str, opts: &ScaleOptions) -> Result<bool> {
    let mut raw = Raw::connect(url).await.doing("raw connect")?;
    let machines = raw.count("machines").await?;
    let earnings = raw.count_organic_earnings().await?;
    let holds = machines == opts.machines
        && earnings == opts.machines.saturating_mul(opts.earnings_per_machine);
    if holds {
        raw.forget_settlements().await?;
    }
    raw.close().await;
    Ok(holds)
}
