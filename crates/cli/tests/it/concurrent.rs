//! Eight `floorline settle` processes started at once on one PostgreSQL
//! database settle the same epoch: exactly one set of draws exists, Σ ≤ pool,
//! balances equal Σ ledger, and the runs after the first credit nothing.

use std::process::{Command, Stdio};

use serde_json::{json, Value};

use super::fleet::bundle;

/// Default admin URL of the local test server (trust auth), as in the store's suite.
const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

struct PgDb {
    admin: String,
    name: String,
    url: String,
}

impl PgDb {
    async fn create() -> PgDb {
        let admin =
            std::env::var("FLOORLINE_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG.to_string());
        let name = format!(
            "floorline_cli_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        );
        let pool = sqlx::PgPool::connect(&admin)
            .await
            .expect("PostgreSQL must be running for this test");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(b, _)| b)
            .to_string();
        PgDb {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }

    async fn drop_db(&self) {
        let pool = sqlx::PgPool::connect(&self.admin).await.unwrap();
        let _ = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&pool)
        .await;
        pool.close().await;
    }
}

fn floorline(url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_floorline"));
    cmd.arg("--database-url")
        .arg(url)
        .args(args)
        .env("FLOORLINE_LOG", "warn")
        .env("FLOORLINE_POOL_MICRO_USD", "120000000");
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_settler_processes_on_one_postgres_settle_once() {
    let db = PgDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, bundle(23, 60, 120_000_000).to_string()).unwrap();
    let out = floorline(&db.url, &["import", "--bundle", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let children: Vec<_> = (0..8)
        .map(|i| {
            floorline(
                &db.url,
                &[
                    "settle",
                    "--epoch",
                    "2026-10",
                    "--actor",
                    &format!("settler-{i}"),
                ],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut granted = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run: Value = serde_json::from_slice(&out.stdout).unwrap();
        granted.push(run["granted_total_micro_usd"].as_i64().unwrap());
    }
    granted.sort_unstable();
    assert!(granted[7] > 0 && granted[7] <= 120_000_000, "{granted:?}");
    assert_eq!(
        &granted[..7],
        &[0; 7],
        "only one run credits anything: {granted:?}"
    );

    let out = floorline(&db.url, &["verify", "--epoch", "2026-10"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], json!(true), "{report}");

    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let (n_draws, n_distinct, sum): (i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT (machine_id, account_id)), SUM(amount_micro_usd)::BIGINT FROM floor_draws WHERE epoch = '2026-10'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(n_draws, n_distinct);
    assert_eq!(sum.unwrap_or(0), granted[7]);
    let (ledger, balances): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT (SELECT SUM(amount_micro_usd)::BIGINT FROM ledger_entries), (SELECT SUM(balance_micro_usd)::BIGINT FROM accounts)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(ledger, balances);
    assert_eq!(ledger.unwrap_or(0), granted[7]);
    pool.close().await;
    db.drop_db().await;
}
