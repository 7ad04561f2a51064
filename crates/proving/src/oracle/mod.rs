//! The bare-SQL oracle: the one place outside `crates/store` that holds SQL.
//! The DST checker and the scale bench read (and the tamper test writes) the
//! database here, with their own connections and statements written apart
//! from the store's, so that a bug in the store's queries cannot hide itself.
//!
//! - [`RawDb`]: a small pool of either backend (the checker's);
//! - [`create_database`] / [`drop_database`]: a fresh PostgreSQL database per
//!   trial or bench run;
//! - [`snapshot`]: the money tables and fact counts at one instant;
//! - [`bench`]: one raw connection of the scale bench, its row counts and
//!   bare scans.

pub mod bench;
pub mod snapshot;

use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{FromRow, PgPool, SqlitePool};

/// A raw connection to the database under test.
#[derive(Debug, Clone)]
pub enum RawDb {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

impl RawDb {
    pub async fn connect(url: &str) -> Result<RawDb, sqlx::Error> {
        if url.starts_with("postgres") {
            let pool = PgPoolOptions::new().max_connections(2).connect(url).await?;
            Ok(RawDb::Pg(pool))
        } else {
            let opts: SqliteConnectOptions = url.parse()?;
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts.busy_timeout(std::time::Duration::from_secs(30)))
                .await?;
            Ok(RawDb::Sqlite(pool))
        }
    }

    pub async fn fetch<T>(&self, sql: &str) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        match self {
            RawDb::Sqlite(p) => sqlx::query_as::<_, T>(sql).fetch_all(p).await,
            RawDb::Pg(p) => sqlx::query_as::<_, T>(sql).fetch_all(p).await,
        }
    }

    /// Runs a statement (the tamper test uses this to plant a violation).
    pub async fn execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        Ok(match self {
            RawDb::Sqlite(p) => sqlx::query(sql).execute(p).await?.rows_affected(),
            RawDb::Pg(p) => sqlx::query(sql).execute(p).await?.rows_affected(),
        })
    }

    pub async fn close(&self) {
        match self {
            RawDb::Sqlite(p) => p.close().await,
            RawDb::Pg(p) => p.close().await,
        }
    }
}

/// Creates database `name` on the PostgreSQL server at `admin`.
pub async fn create_database(admin: &str, name: &str) -> Result<(), String> {
    let db = RawDb::connect(admin)
        .await
        .map_err(|e| format!("PostgreSQL at {admin} is not reachable: {e}"))?;
    let made = db.execute(&format!("CREATE DATABASE {name}")).await;
    db.close().await;
    made.map(|_| ())
        .map_err(|e| format!("CREATE DATABASE {name}: {e}"))
}

/// Drops database `name` (and its connections) if it exists; best effort.
pub async fn drop_database(admin: &str, name: &str) {
    if let Ok(db) = RawDb::connect(admin).await {
        let _ = db
            .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
        db.close().await;
    }
}

/// `admin` with its database name replaced.
pub fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base
        .get(scheme_end..)
        .and_then(|rest| rest.find('/'))
        .map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{name}", base.get(..path_start).unwrap_or(base));
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}
