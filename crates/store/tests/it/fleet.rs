//! Fleet queries (`last_probe_at`) and the `Locked` error mapping, provoked
//! for real against a lock held by a second connection.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use floorline_store::StoreError;
use sqlx::Connection;

use crate::both;
use crate::harness::{Ctx, Kind};
use crate::kit::*;

/// Each probed machine's latest probe (passed or failed, sent under its id or
/// an alias); machines never probed are absent.
async fn last_probe_at(ctx: Ctx) {
    assert!(ctx.store.last_probe_at().await.unwrap().is_empty());
    let mut b = empty_bundle();
    for m in ["m1", "m2", "m3"] {
        b.machines.push(attestation(m, 64));
    }
    b.aliases.push(alias("pk-m1", "m1"));
    b.probes.push(probe("p1", "m1", s() + DAY, true));
    b.probes.push(probe("p2", "m1", s() + 5 * DAY, false));
    b.probes.push(probe("p3", "m1", s() + 3 * DAY, true));
    // The latest probe of m1 arrives under its alias.
    b.probes.push(probe("p4", "pk-m1", s() + 7 * DAY, true));
    b.probes.push(probe("p5", "m2", s() - 40 * DAY, false));
    ingest(&ctx.store, &b).await;
    let expected: HashMap<String, i64> = [
        ("m1".to_string(), s() + 7 * DAY),
        ("m2".to_string(), s() - 40 * DAY),
    ]
    .into_iter()
    .collect();
    assert_eq!(ctx.store.last_probe_at().await.unwrap(), expected);

    // An earlier probe changes nothing; a later one moves the time.
    let mut more = empty_bundle();
    more.probes.push(probe("p6", "m2", s() - 50 * DAY, true));
    more.probes.push(probe("p7", "m3", e() + DAY, false));
    ingest(&ctx.store, &more).await;
    let got = ctx.store.last_probe_at().await.unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got["m1"], s() + 7 * DAY);
    assert_eq!(got["m2"], s() - 40 * DAY);
    assert_eq!(got["m3"], e() + DAY);
}
both!(last_probe_at, super::last_probe_at);

/// A write blocked by a lock another connection holds fails with `Locked`
/// once the wait times out: on SQLite `SQLITE_BUSY` after the busy timeout,
/// on PostgreSQL `55P03 lock_not_available` after `lock_timeout` (here a
/// store whose connections set it, through the URL, so the error comes
/// through the store's own write path).
async fn lock_timeout_is_locked(ctx: Ctx) {
    let mut b = empty_bundle();
    b.machines.push(attestation("m1", 64));
    ingest(&ctx.store, &b).await;
    let job = vec![earning("j1", "m1", "c1", 5, s() + DAY)];
    match ctx.kind {
        Kind::Sqlite => {
            let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&ctx.url).unwrap();
            let mut holder = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut holder)
                .await
                .unwrap();
            let mut waiter = sqlx::SqliteConnection::connect_with(
                &opts.clone().busy_timeout(Duration::from_millis(100)),
            )
            .await
            .unwrap();
            let err = sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut waiter)
                .await
                .unwrap_err();
            let mapped = StoreError::from(err);
            assert!(
                matches!(&mapped, StoreError::Locked(m) if m.contains("locked")),
                "{mapped:?}"
            );
            // Reads go on meanwhile (WAL), and the write lands once the lock is gone.
            assert!(ctx.store.machine_exists("m1").await.unwrap());
            sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
            assert_eq!(ctx.store.ingest(&job).await.unwrap().accepted, 1);
        }
        Kind::Pg => {
            let sep = if ctx.url.contains('?') { '&' } else { '?' };
            let impatient = floorline_store::Store::connect(&format!(
                "{}{sep}options[lock_timeout]=200ms",
                ctx.url
            ))
            .await
            .unwrap();
            let mut holder = sqlx::PgConnection::connect(&ctx.url).await.unwrap();
            let mut tx = holder.begin().await.unwrap();
            sqlx::query("LOCK TABLE earnings IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .unwrap();
            let err = impatient.ingest(&job).await.unwrap_err();
            assert!(
                matches!(&err, StoreError::Locked(m) if m.contains("lock")),
                "{err:?}"
            );
            // Reads go on meanwhile, and the write lands once the lock is gone.
            assert!(ctx.store.machine_exists("m1").await.unwrap());
            tx.rollback().await.unwrap();
            assert_eq!(impatient.ingest(&job).await.unwrap().accepted, 1);
            impatient.close().await;
        }
    }
}
both!(lock_timeout_is_locked, super::lock_timeout_is_locked);
