//! The database of one scale run ([`ScaleDb`]: a fresh SQLite file or
//! PostgreSQL database, or a kept one) and the raw connection (`Raw`) that
//! counts rows and runs the bare scans and the store's own queries bare.

use std::time::Instant;

use anyhow::Context as _;
use floorline_core::{EpochId, Policy};
use sqlx::Connection as _;

use super::{i64_u64, usize_u64, ScaleBackend, ScaleOptions};
use crate::dst::with_database;

/// A fresh database of one run; [`ScaleDb::destroy`] removes it.
pub struct ScaleDb {
    pub url: String,
    /// Holds a fresh SQLite database's files; removed when dropped.
    _dir: tempfile::TempDir,
    /// The PostgreSQL database this bench created (admin URL, name), dropped
    /// by [`ScaleDb::destroy`]; `None` for SQLite and for `--database`.
    pg: Option<(String, String)>,
}

impl ScaleDb {
    pub async fn create(opts: &ScaleOptions) -> anyhow::Result<ScaleDb> {
        let dir = tempfile::Builder::new()
            .prefix("floorline-scale-")
            .tempdir()
            .context("temporary directory")?;
        if let Some(url) = &opts.database {
            return Ok(ScaleDb {
                url: url.clone(),
                _dir: dir,
                pg: None,
            });
        }
        match opts.backend {
            ScaleBackend::Sqlite => Ok(ScaleDb {
                url: format!("sqlite://{}", dir.path().join("scale.db").display()),
                _dir: dir,
                pg: None,
            }),
            ScaleBackend::Postgres => {
                let admin = opts.pg_admin_url.clone();
                let name = format!(
                    "floorline_scale_{}_{:08x}",
                    std::process::id(),
                    rand::random::<u32>()
                );
                let mut c = sqlx::PgConnection::connect(&admin)
                    .await
                    .with_context(|| format!("PostgreSQL at {admin} is not reachable"))?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .await
                    .with_context(|| format!("CREATE DATABASE {name}"))?;
                let _ = c.close().await;
                Ok(ScaleDb {
                    url: with_database(&admin, &name),
                    _dir: dir,
                    pg: Some((admin, name)),
                })
            }
        }
    }

    /// Bytes on disk (the SQLite files, or `pg_database_size`).
    pub(super) async fn size_bytes(&self, raw: &mut Raw) -> u64 {
        match raw {
            Raw::Pg(c) => {
                sqlx::query_as::<_, (i64,)>("SELECT pg_database_size(current_database())")
                    .fetch_one(&mut *c)
                    .await
                    .map_or(0, |(n,)| i64_u64(n))
            }
            Raw::Sqlite(_) => {
                let path = self.url.trim_start_matches("sqlite://");
                ["", "-wal", "-shm"]
                    .iter()
                    .filter_map(|x| std::fs::metadata(format!("{path}{x}")).ok())
                    .map(|m| m.len())
                    .sum()
            }
        }
    }

    pub async fn destroy(self) {
        if let Some((admin, name)) = &self.pg {
            if let Ok(mut c) = sqlx::PgConnection::connect(admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
                let _ = c.close().await;
            }
        }
    }
}

/// A raw connection for counts and the bare scans (not the store's pool).
pub(super) enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

const BARE_EARNINGS_SQL: &str = "SELECT machine_id, CAST(SUM(amount_micro_usd) AS BIGINT) \
     FROM earnings WHERE at_ms >= $1 AND at_ms < $2 GROUP BY machine_id";
const BARE_SESSIONS_SQL: &str = "SELECT machine_id, COUNT(*), MIN(connected_at_ms) \
     FROM sessions WHERE connected_at_ms < $1 \
       AND COALESCE(last_seen_at_ms, disconnected_at_ms, connected_at_ms) > $2 \
     GROUP BY machine_id";

impl Raw {
    pub(super) async fn connect(url: &str) -> anyhow::Result<Raw> {
        if url.starts_with("sqlite:") {
            Ok(Raw::Sqlite(sqlx::SqliteConnection::connect(url).await?))
        } else {
            Ok(Raw::Pg(sqlx::PgConnection::connect(url).await?))
        }
    }

    pub(super) fn backend(&self) -> floorline_store::Backend {
        match self {
            Raw::Pg(_) => floorline_store::Backend::Postgres,
            Raw::Sqlite(_) => floorline_store::Backend::Sqlite,
        }
    }

    pub(super) async fn count(&mut self, table: &str) -> anyhow::Result<u64> {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let (n,): (i64,) = match self {
            Raw::Sqlite(c) => sqlx::query_as(&sql).fetch_one(&mut *c).await?,
            Raw::Pg(c) => sqlx::query_as(&sql).fetch_one(&mut *c).await?,
        };
        Ok(i64_u64(n))
    }

    pub(super) async fn execute(&mut self, sql: &str) -> anyhow::Result<()> {
        match self {
            Raw::Sqlite(c) => {
                sqlx::query(sql).execute(&mut *c).await?;
            }
            Raw::Pg(c) => {
                sqlx::query(sql).execute(&mut *c).await?;
            }
        }
        Ok(())
    }

    /// Runs one statement; the rows it changed.
    pub(super) async fn execute_count(&mut self, sql: &str) -> anyhow::Result<u64> {
        Ok(match self {
            Raw::Sqlite(c) => sqlx::query(sql).execute(&mut *c).await?.rows_affected(),
            Raw::Pg(c) => sqlx::query(sql).execute(&mut *c).await?.rows_affected(),
        })
    }

    /// Runs one statement with text and integer binds alternating per row
    /// (`(text, int)` pairs for `$1, $2`, `$3, $4`, …); the rows it changed.
    pub(super) async fn execute_pairs(
        &mut self,
        sql: &str,
        pairs: &[(String, i64)],
    ) -> anyhow::Result<u64> {
        Ok(match self {
            Raw::Sqlite(c) => {
                let mut q = sqlx::query(sql);
                for (t, i) in pairs {
                    q = q.bind(t.as_str()).bind(*i);
                }
                q.execute(&mut *c).await?.rows_affected()
            }
            Raw::Pg(c) => {
                let mut q = sqlx::query(sql);
                for (t, i) in pairs {
                    q = q.bind(t.as_str()).bind(*i);
                }
                q.execute(&mut *c).await?.rows_affected()
            }
        })
    }

    /// Runs `sql` with `binds` for `$1`, `$2`, … (numbered placeholders, which
    /// sqlx's SQLite driver binds by number too) and fetches every row as
    /// `R`: (seconds, rows).
    pub(super) async fn timed_rows<R>(
        &mut self,
        sql: &str,
        binds: &[i64],
    ) -> anyhow::Result<(f64, u64)>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let t = Instant::now();
        let n = match self {
            Raw::Sqlite(c) => {
                let mut q = sqlx::query_as::<_, R>(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.fetch_all(&mut *c).await?.len()
            }
            Raw::Pg(c) => {
                let mut q = sqlx::query_as::<_, R>(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.fetch_all(&mut *c).await?.len()
            }
        };
        Ok((t.elapsed().as_secs_f64(), usize_u64(n)))
    }

    /// Σ amount per machine over `[from, to)`: (seconds, rows).
    pub(super) async fn bare_earnings(&mut self, from: i64, to: i64) -> anyhow::Result<(f64, u64)> {
        self.timed_rows::<(String, i64)>(BARE_EARNINGS_SQL, &[from, to])
            .await
    }

    /// The epoch's sessions grouped per machine: (seconds, rows).
    pub(super) async fn bare_sessions(
        &mut self,
        end: i64,
        alive_after: i64,
    ) -> anyhow::Result<(f64, u64)> {
        self.timed_rows::<(String, i64, i64)>(BARE_SESSIONS_SQL, &[end, alive_after])
            .await
    }

    /// The store's main earnings grouping query (`load::earnings_grouping_sql`,
    /// under `load::PG_GROUPING_SETTING` on PostgreSQL): (seconds, rows).
    pub(super) async fn store_grouping(
        &mut self,
        epoch: EpochId,
        policy: &Policy,
    ) -> anyhow::Result<(f64, u64)> {
        let pg = matches!(self, Raw::Pg(_));
        let (sql, args) =
            floorline_store::load::earnings_grouping_sql(self.backend(), epoch, policy);
        if pg {
            let setting = floorline_store::load::PG_GROUPING_SETTING;
            self.execute(&format!("SET {setting}")).await?;
        }
        let out = self
            .timed_rows::<(i64, String, i64, i64, i64)>(&sql, &args)
            .await;
        if pg {
            self.execute("RESET enable_sort").await?;
        }
        out
    }

    /// The store's sessions query (`load::sessions_sql`: one row per machine
    /// on SQLite, one per session on PostgreSQL), every row fetched:
    /// (seconds, rows).
    pub(super) async fn store_sessions(
        &mut self,
        epoch: EpochId,
        policy: &Policy,
    ) -> anyhow::Result<(f64, u64)> {
        let backend = self.backend();
        let (sql, args) = floorline_store::load::sessions_sql(backend, epoch, policy);
        match backend {
            floorline_store::Backend::Sqlite => {
                self.timed_rows::<(String, String)>(&sql, &args).await
            }
            floorline_store::Backend::Postgres => {
                self.timed_rows::<(String, i64, Option<i64>, Option<i64>)>(&sql, &args)
                    .await
            }
        }
    }

    pub(super) async fn close(self) {
        let _ = match self {
            Raw::Sqlite(c) => c.close().await,
            Raw::Pg(c) => c.close().await,
        };
    }
}
