//! Store benchmarks (prints figures; `harness = false`).
//!
//! `cargo bench -p floorline-store --bench store -- ingest` (or `load`, or both)
//!
//! - ingest: `FLOORLINE_BENCH_EARNINGS` earnings (default 1 000 000) through
//!   `Store::ingest` of earnings in batches of `MAX_BATCH_ITEMS`, against a plain
//!   multi-row `INSERT` of the same rows (same chunking, no checks), per backend.
//! - load: `FLOORLINE_BENCH_MACHINES` machines (default 100 000) with
//!   `FLOORLINE_BENCH_LOAD_EARNINGS` earnings (default 10 000 000) generated in
//!   SQL, then `Store::load_epoch_facts` (seconds, peak RSS from VmHWM reset
//!   just before) against a plain `SELECT machine_id, SUM(amount) … GROUP BY
//!   machine_id`, per backend; also the store's own grouping query run bare
//!   (same SQL and binds, rows fetched as tuples), so store overhead and the
//!   cost of the richer grouping show apart. `FLOORLINE_BENCH_LOAD_URL_SQLITE`
//!   / `FLOORLINE_BENCH_LOAD_URL_POSTGRES`: load from that already built
//!   database instead (neither built nor dropped; the sizes are then labels).
//!
//! Backends: `FLOORLINE_BENCH_BACKENDS` (default `sqlite,postgres`); PostgreSQL
//! uses a fresh database on `FLOORLINE_TEST_PG_URL` (dropped afterwards).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use floorline_core::bundle::{Attestation, Binding, Earning, Probe, Session};
use floorline_core::facts::EarningKind;
use floorline_core::policy::{Policy, Trust};
use floorline_core::{EpochId, Timestamp};
use floorline_store::{Store, MAX_BATCH_ITEMS};
use sqlx::Connection;

const DAY: i64 = 86_400_000;
/// Coprime with the machine counts, so each machine sees every consumer.
const N_CONSUMERS: u64 = 7;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn epoch() -> EpochId {
    "2026-10".parse().unwrap()
}

fn vm(field: &str) -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

struct Db {
    url: String,
    pg_name: Option<String>,
    _dir: tempfile::TempDir,
}

fn pg_admin() -> String {
    std::env::var("FLOORLINE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn fresh(backend: &str, tag: &str) -> Db {
    let dir = tempfile::tempdir().unwrap();
    if backend == "sqlite" {
        return Db {
            url: format!(
                "sqlite://{}",
                dir.path().join(format!("{tag}.db")).display()
            ),
            pg_name: None,
            _dir: dir,
        };
    }
    let admin = pg_admin();
    let name = format!("floorline_bench_{tag}_{}", std::process::id());
    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(b, _)| b)
        .to_string();
    Db {
        url: format!("{base}/{name}"),
        pg_name: Some(name),
        _dir: dir,
    }
}

async fn drop_db(db: Db) {
    if let Some(name) = db.pg_name {
        let mut c = sqlx::PgConnection::connect(&pg_admin()).await.unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut c)
            .await
            .unwrap();
    }
}

async fn machines(store: &Store, n: usize) {
    let s = epoch().start().0;
    let e = epoch().end().0;
    let ids: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    for chunk in ids.chunks(MAX_BATCH_ITEMS) {
        let att: Vec<Attestation> = chunk
            .iter()
            .map(|m| Attestation {
                machine_id: m.clone(),
                attested_at: Timestamp(s - DAY),
                hardware_model: "Mac16,11".into(),
                reported_memory_gb: 64,
                trust: Trust::Hardware,
                se_public_key: None,
            })
            .collect();
        store.ingest(&att).await.unwrap();
        let b: Vec<Binding> = chunk
            .iter()
            .map(|m| Binding {
                machine_id: m.clone(),
                account_id: format!("acct-{m}"),
                payout_identity: format!("payee-{m}"),
                from: Timestamp(s - 90 * DAY),
                to: None,
            })
            .collect();
        store.ingest(&b).await.unwrap();
        let ss: Vec<Session> = chunk
            .iter()
            .map(|m| Session {
                session_id: format!("s-{m}"),
                machine_id: m.clone(),
                connected_at: Timestamp(s - DAY),
                last_seen_at: Some(Timestamp(e + DAY)),
                disconnected_at: None,
            })
            .collect();
        store.ingest(&ss).await.unwrap();
        let p: Vec<Probe> = chunk
            .iter()
            .map(|m| Probe {
                probe_id: format!("p-{m}"),
                machine_id: m.clone(),
                at: Timestamp(s + DAY),
                passed: true,
                failure: None,
                model: None,
                verified_memory_gb: Some(64),
                source: None,
            })
            .collect();
        store.ingest(&p).await.unwrap();
    }
}

fn earning(i: u64, n_machines: u64) -> Earning {
    let s = epoch().start().0;
    Earning {
        job_id: format!("job-{i}"),
        machine_id: format!("m{}", i % n_machines),
        consumer_account_id: format!("c{}", i % N_CONSUMERS),
        amount_micro_usd: i64::try_from(i.wrapping_mul(7919) % 100_000).unwrap(),
        kind: EarningKind::Inference,
        pinned: false,
        model: Some("llama-70b".into()),
        at: Timestamp(s + i64::try_from(i.wrapping_mul(104_729) % 30).unwrap() * DAY + 1),
    }
}

async fn bench_ingest(backend: &str, n: usize) {
    let n_machines = 1_000;
    // Through the store.
    let db = fresh(backend, "ingest").await;
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    machines(&store, n_machines).await;
    let rows: Vec<Earning> = (0..n as u64)
        .map(|i| earning(i, n_machines as u64))
        .collect();
    let t = Instant::now();
    for batch in rows.chunks(MAX_BATCH_ITEMS) {
        let r = store.ingest(batch).await.unwrap();
        assert_eq!(r.accepted as usize, batch.len());
    }
    let store_s = t.elapsed().as_secs_f64();
    // Re-sending is all duplicates (read path only).
    let t = Instant::now();
    for batch in rows.chunks(MAX_BATCH_ITEMS) {
        store.ingest(batch).await.unwrap();
    }
    let dup_s = t.elapsed().as_secs_f64();
    store.close().await;
    drop_db(db).await;

    // Plain multi-row INSERTs of the same rows, same chunking, one transaction per batch.
    let db = fresh(backend, "plain").await;
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    machines(&store, n_machines).await;
    store.close().await;
    let t = Instant::now();
    plain_insert(backend, &db.url, &rows).await;
    let plain_s = t.elapsed().as_secs_f64();
    drop_db(db).await;

    let rate = |secs: f64| n as f64 / secs;
    println!(
        "ingest {backend}: {n} earnings in batches of {MAX_BATCH_ITEMS}: store {store_s:.2} s \
         ({:.0} rows/s), re-send (all duplicates) {dup_s:.2} s ({:.0} rows/s), plain INSERT \
         {plain_s:.2} s ({:.0} rows/s), store/plain time ratio {:.2}",
        rate(store_s),
        rate(dup_s),
        rate(plain_s),
        store_s / plain_s
    );
}

const COLS: &str =
    "job_id, machine_id, consumer_account_id, amount_micro_usd, kind, pinned, model, at_ms";

/// `($1, …, $8), …` for PostgreSQL, `(?, …, ?), …` for SQLite (its fastest form).
fn values_sql(rows: usize, sqlite: bool) -> String {
    (0..rows)
        .map(|r| {
            let p: Vec<String> = (1..=8)
                .map(|k| {
                    if sqlite {
                        "?".to_string()
                    } else {
                        format!("${}", r * 8 + k)
                    }
                })
                .collect();
            format!("({})", p.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

macro_rules! plain_batches {
    ($conn:expr, $rows:expr, $sqlite:expr) => {{
        for batch in $rows.chunks(MAX_BATCH_ITEMS) {
            let mut tx = $conn.begin().await.unwrap();
            for chunk in batch.chunks(4_000) {
                let sql = format!(
                    "INSERT INTO earnings ({COLS}) VALUES {}",
                    values_sql(chunk.len(), $sqlite)
                );
                let mut q = sqlx::query(&sql);
                for e in chunk {
                    q = q
                        .bind(e.job_id.clone())
                        .bind(e.machine_id.clone())
                        .bind(e.consumer_account_id.clone())
                        .bind(e.amount_micro_usd)
                        .bind(e.kind.as_str())
                        .bind(e.pinned)
                        .bind(e.model.clone())
                        .bind(e.at.0);
                }
                q.execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
    }};
}

async fn plain_insert(backend: &str, url: &str, rows: &[Earning]) {
    if backend == "sqlite" {
        use std::str::FromStr;
        let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .unwrap()
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .foreign_keys(true);
        let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
        plain_batches!(c, rows, true);
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        plain_batches!(c, rows, false);
    }
}

/// One earning of each machine in this many (its first, ...) is bought by its
/// owner: self-dealing, not organic, so the load's subtraction has work to do
/// on every machine.
const SELF_DEALING_EVERY: usize = 1000;

/// Earnings generated inside the database (fast to build, not what is measured).
fn generate_sql(backend: &str, n_earnings: usize, n_machines: usize) -> String {
    let s = epoch().start().0;
    // Spread over the 75 days before E: every window of the plan sees some.
    let span = 75 * DAY;
    let start = epoch().end().0 - span;
    let _ = s;
    let body = format!(
        "'job-' || i, 'm' || (i % {n_machines}), \
         CASE WHEN (i / {n_machines}) % {SELF_DEALING_EVERY} = 0 THEN 'acct-m' || (i % {n_machines}) \
              ELSE 'c' || (i % {N_CONSUMERS}) END, \
         (i * 7919) % 100000, 'inference', {pinned}, 'llama-70b', {start} + (i * 104729) % {span}",
        pinned = if backend == "sqlite" { "0" } else { "false" }
    );
    if backend == "sqlite" {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last}) \
             INSERT INTO earnings ({COLS}) SELECT {body} FROM n",
            last = n_earnings - 1
        )
    } else {
        format!(
            "INSERT INTO earnings ({COLS}) SELECT {body} \
             FROM generate_series(0::bigint, {last}::bigint) AS i",
            last = n_earnings - 1
        )
    }
}

async fn exec(backend: &str, url: &str, sql: &str) {
    if backend == "sqlite" {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
}

async fn plain_group_by(backend: &str, url: &str) -> usize {
    let sql = "SELECT machine_id, CAST(SUM(amount_micro_usd) AS BIGINT) FROM earnings \
               GROUP BY machine_id";
    if backend == "sqlite" {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        let rows: Vec<(String, i64)> = sqlx::query_as(sql).fetch_all(&mut c).await.unwrap();
        rows.len()
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        let rows: Vec<(String, i64)> = sqlx::query_as(sql).fetch_all(&mut c).await.unwrap();
        rows.len()
    }
}

/// The store's own earnings query (`load::earnings_grouping_sql`) run bare:
/// same SQL, binds and (PostgreSQL) planner setting, rows fetched as tuples,
/// nothing else.
async fn raw_grouping(backend: &str, url: &str, policy: &Policy) -> usize {
    let store_backend = if backend == "sqlite" {
        floorline_store::Backend::Sqlite
    } else {
        floorline_store::Backend::Postgres
    };
    let (sql, args) = floorline_store::load::earnings_grouping_sql(store_backend, epoch(), policy);
    type Row = (i64, String, i64, i64, i64);
    macro_rules! run {
        ($conn:ty $(, $setup:expr)?) => {{
            let mut c = <$conn>::connect(url).await.unwrap();
            // The planner setting the store runs these queries under.
            $(sqlx::query($setup).execute(&mut c).await.unwrap();)?
            let mut q = sqlx::query_as::<_, Row>(&sql);
            for a in &args {
                q = q.bind(*a);
            }
            q.fetch_all(&mut c).await.unwrap().len()
        }};
    }
    if backend == "sqlite" {
        run!(sqlx::SqliteConnection)
    } else {
        let setting = floorline_store::load::PG_GROUPING_SETTING;
        run!(sqlx::PgConnection, &format!("SET {setting}"))
    }
}

async fn bench_load(backend: &str, n_machines: usize, n_earnings: usize) {
    // `FLOORLINE_BENCH_LOAD_URL_<BACKEND>`: an already built database (kept).
    let reuse = std::env::var(format!(
        "FLOORLINE_BENCH_LOAD_URL_{}",
        backend.to_uppercase()
    ))
    .ok();
    let db = match &reuse {
        Some(url) => Db {
            url: url.clone(),
            pg_name: None,
            _dir: tempfile::tempdir().unwrap(),
        },
        None => fresh(backend, "load").await,
    };
    let store = Store::connect(&db.url).await.unwrap();
    let t = Instant::now();
    if reuse.is_none() {
        store.migrate().await.unwrap();
        machines(&store, n_machines).await;
        exec(
            backend,
            &db.url,
            &generate_sql(backend, n_earnings, n_machines),
        )
        .await;
        exec(
            backend,
            &db.url,
            if backend == "sqlite" {
                "ANALYZE"
            } else {
                "VACUUM ANALYZE earnings"
            },
        )
        .await;
    }
    let build_s = t.elapsed().as_secs_f64();
    let policy = Policy::default();

    let t = Instant::now();
    let n_groups = plain_group_by(backend, &db.url).await;
    let plain_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let n_raw = raw_grouping(backend, &db.url, &policy).await;
    let raw_s = t.elapsed().as_secs_f64();

    reset_peak_rss();
    let rss_before = vm("VmRSS:");
    let t = Instant::now();
    let facts = store.load_epoch_facts(epoch(), &policy).await.unwrap();
    let load_s = t.elapsed().as_secs_f64();
    let peak = vm("VmHWM:");
    let organic = facts
        .machines
        .iter()
        .filter(|m| m.earnings != Default::default())
        .count();
    let t = Instant::now();
    let plan = floorline_core::plan(&facts, &policy).unwrap();
    let plan_s = t.elapsed().as_secs_f64();
    println!(
        "load {backend}: {n_machines} machines, {n_earnings} earnings (built in {build_s:.0} s): \
         load_epoch_facts {load_s:.2} s ({organic} machines with organic earnings; RSS before {rss_before}, \
         peak {peak}); plain GROUP BY machine_id {plain_s:.2} s ({n_groups} rows); \
         load/plain ratio {:.2}; the store's grouping SQL run bare {raw_s:.2} s ({n_raw} rows; \
         bare/plain {:.2}, load/bare {:.2}); core plan {plan_s:.2} s ({} eligible)",
        load_s / plain_s,
        raw_s / plain_s,
        load_s / raw_s,
        plan.machines.iter().filter(|m| m.eligible).count()
    );
    drop(facts);
    store.close().await;
    drop_db(db).await;
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |what: &str| args.is_empty() || args.iter().any(|a| a == what);
    let backends =
        std::env::var("FLOORLINE_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for backend in backends.split(',') {
            if want("ingest") {
                bench_ingest(backend, env_usize("FLOORLINE_BENCH_EARNINGS", 1_000_000)).await;
            }
            if want("load") {
                bench_load(
                    backend,
                    env_usize("FLOORLINE_BENCH_MACHINES", 100_000),
                    env_usize("FLOORLINE_BENCH_LOAD_EARNINGS", 10_000_000),
                )
                .await;
            }
        }
    });
}
