//! Migrations, embedded in the binary: `migrations/sqlite/*.sql` and
//! `migrations/postgres/*.sql`, one list per backend, applied in order by
//! sqlx's migrator.
//!
//! Invariants: migrations are append-only (sqlx refuses a changed checksum of
//! an applied one); applying is idempotent; on PostgreSQL the migrator holds a
//! session advisory lock for the whole run, so several processes migrating at
//! once apply each migration exactly once (SQLite: one `BEGIN IMMEDIATE`
//! transaction does the same); a failed run closes its connection so no lock
//! outlives it.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use std::future::Future;
use std::pin::Pin;

use crate::db::{Db, Link};
use crate::error::Result;

/// `(version, description, sql)` of every SQLite migration.
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "earnings by consumer",
        include_str!("../migrations/sqlite/0002_earnings_by_consumer.sql"),
    ),
    (
        3,
        "earnings organic",
        include_str!("../migrations/sqlite/0003_earnings_organic.sql"),
    ),
    (
        4,
        "settlement writes",
        include_str!("../migrations/sqlite/0004_settlement_writes.sql"),
    ),
    (
        5,
        "base rewards apart",
        include_str!("../migrations/sqlite/0005_base_rewards_apart.sql"),
    ),
    (
        6,
        "one machine index per earning",
        include_str!("../migrations/sqlite/0006_one_machine_index_per_earning.sql"),
    ),
    (
        7,
        "probe source",
        include_str!("../migrations/sqlite/0007_probe_source.sql"),
    ),
    (
        8,
        "names as sent",
        include_str!("../migrations/sqlite/0008_names_as_sent.sql"),
    ),
    (
        9,
        "fact versions",
        include_str!("../migrations/sqlite/0009_fact_versions.sql"),
    ),
];

/// `(version, description, sql)` of every PostgreSQL migration.
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "earnings by consumer",
        include_str!("../migrations/postgres/0002_earnings_by_consumer.sql"),
    ),
    (
        3,
        "earnings organic",
        include_str!("../migrations/postgres/0003_earnings_organic.sql"),
    ),
    (
        4,
        "settlement writes",
        include_str!("../migrations/postgres/0004_settlement_writes.sql"),
    ),
    (
        5,
        "base rewards apart",
        include_str!("../migrations/postgres/0005_base_rewards_apart.sql"),
    ),
    (
        6,
        "one machine index per earning",
        include_str!("../migrations/postgres/0006_one_machine_index_per_earning.sql"),
    ),
    (
        7,
        "probe source",
        include_str!("../migrations/postgres/0007_probe_source.sql"),
    ),
    (
        8,
        "names as sent",
        include_str!("../migrations/postgres/0008_names_as_sent.sql"),
    ),
    (
        9,
        "fact versions",
        include_str!("../migrations/postgres/0009_fact_versions.sql"),
    ),
];

#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

impl MigrationSource<'static> for Embedded {
    #[allow(clippy::type_complexity)]
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>> + Send>>
    {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Applies every pending migration of the backend.
pub(crate) async fn run(db: &Db) -> Result<()> {
    let list = match db {
        Db::Sqlite(_) => SQLITE,
        Db::Pg(_) => POSTGRES,
    };
    let migrator = Migrator::new(Embedded(list)).await?;
    let outcome = match db {
        // SQLite has no advisory lock: run everything in one write
        // transaction, so concurrent migrators queue on the write lock and
        // the later ones find the migrations applied.
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let r = migrator.run_direct(&mut *tx).await;
            if r.is_ok() {
                tx.commit().await?;
            }
            r
        }
        Db::Pg(_) => match db.conn().await? {
            Link::PgPooled(mut c) => {
                let r = migrator.run_direct(&mut *c).await;
                if r.is_err() {
                    c.close_on_drop();
                }
                r
            }
            _ => Ok(()),
        },
    };
    outcome?;
    Ok(())
}

/// The highest migration version this build knows for a backend.
pub(crate) fn latest_version(db: &Db) -> i64 {
    let list = match db {
        Db::Sqlite(_) => SQLITE,
        Db::Pg(_) => POSTGRES,
    };
    list.iter().map(|(v, _, _)| *v).max().unwrap_or(0)
}
