//! The scale bench's raw connection: one connection (not the store's pool,
//! and one connection so that a `SET` holds for the next statement), the
//! row counts, and the bare scans the store's queries are measured against.

use std::time::Instant;

use floorline_core::{EpochId, Policy};
use sqlx::Connection as _;

use crate::scale::{Doing as _, Result};

fn i64_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn usize_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A raw connection for counts and the bare scans (not the store's pool).
pub enum Raw {
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
    pub async fn connect(url: &str) -> Result<Raw> {
        if url.starts_with("sqlite:") {
            Ok(Raw::Sqlite(sqlx::SqliteConnection::connect(url).await?))
        } else {
            Ok(Raw::Pg(sqlx::PgConnection::connect(url).await?))
        }
    }

    pub fn backend(&self) -> floorline_store::Backend {
        match self {
            Raw::Pg(_) => floorline_store::Backend::Postgres,
            Raw::Sqlite(_) => floorline_store::Backend::Sqlite,
        }
    }

    /// Bytes of the current PostgreSQL database (`pg_database_size`); `None` on SQLite.
    pub async fn pg_database_size(&mut self) -> Option<u64> {
        match self {
            Raw::Pg(c) => {
                sqlx::query_as::<_, (i64,)>("SELECT pg_database_size(current_database())")
                    .fetch_one(&mut *c)
                    .await
                    .ok()
                    .map(|(n,)| i64_u64(n))
            }
            Raw::Sqlite(_) => None,
        }
    }

    /// The store's own durability setting on SQLite (WAL, synchronous
    /// NORMAL), so that the bare writes are measured under the same.
    pub async fn store_durability(&mut self) -> Result<()> {
        if let Raw::Sqlite(_) = self {
            self.execute("PRAGMA synchronous = NORMAL").await?;
        }
        Ok(())
    }

    /// PostgreSQL `VACUUM ANALYZE` (what autovacuum does eventually).
    pub async fn vacuum_analyze(&mut self) -> Result<()> {
        self.execute("VACUUM ANALYZE").await
    }

    /// Earnings other than base rewards.
    pub async fn count_organic_earnings(&mut self) -> Result<u64> {
        self.count("earnings WHERE kind <> 'base_reward'").await
    }

    /// Sessions last seen at `ls_ms`.
    pub async fn count_sessions_last_seen_at(&mut self, ls_ms: i64) -> Result<u64> {
        self.count(&format!("sessions WHERE last_seen_at_ms = {ls_ms}"))
            .await
    }

    /// Deletes every settlement (draws, ledger entries, totals, runs, base
    /// rewards) and zeroes the balances, so that the next settle is again
    /// the epoch's first.
    pub async fn forget_settlements(&mut self) -> Result<()> {
        for sql in [
            "DELETE FROM floor_draws",
            "DELETE FROM ledger_entries",
            "DELETE FROM machine_totals",
            "DELETE FROM settlement_runs",
            "DELETE FROM earnings WHERE kind = 'base_reward'",
            "UPDATE accounts SET balance_micro_usd = 0",
        ] {
            self.execute(sql).await.doing(sql)?;
        }
        Ok(())
    }

    /// The bare `UPDATE` of sessions' `last_seen_at` to `(id, ls)` of
    /// `pairs`, in one transaction, values inlined or (`bound`) bound as
    /// parameters: (seconds of the transaction, rows changed).
    pub async fn bare_last_seen_update(
        &mut self,
        pairs: &[(String, i64)],
        bound: bool,
    ) -> Result<(f64, u64)> {
        let sqlite = matches!(self, Raw::Sqlite(_));
        let values: Vec<String> = if bound && sqlite {
            // Anonymous `?`: sqlx's SQLite driver resolves numbered `$N`
            // placeholders one by one, which is slow for 20 000 of them.
            vec!["(?, ?)".to_string(); pairs.len()]
        } else if bound {
            (0..pairs.len())
                .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                .collect()
        } else {
            pairs
                .iter()
                .map(|(id, ls)| format!("('{id}', {ls})"))
                .collect()
        };
        let sql = format!(
            "WITH v(id, ls) AS (VALUES {}) \
             UPDATE sessions SET last_seen_at_ms = v.ls FROM v WHERE sessions.session_id = v.id",
            values.join(", ")
        );
        let t = Instant::now();
        self.execute("BEGIN").await?;
        let changed = if bound {
            self.execute_pairs(&sql, pairs).await?
        } else {
            self.execute_count(&sql).await?
        };
        self.execute("COMMIT").await?;
        Ok((t.elapsed().as_secs_f64(), changed))
    }

    pub async fn count(&mut self, table: &str) -> Result<u64> {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let (n,): (i64,) = match self {
            Raw::Sqlite(c) => sqlx::query_as(&sql).fetch_one(&mut *c).await?,
            Raw::Pg(c) => sqlx::query_as(&sql).fetch_one(&mut *c).await?,
        };
        Ok(i64_u64(n))
    }

    pub async fn execute(&mut self, sql: &str) -> Result<()> {
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
    pub async fn execute_count(&mut self, sql: &str) -> Result<u64> {
        Ok(match self {
            Raw::Sqlite(c) => sqlx::query(sql).execute(&mut *c).await?.rows_affected(),
            Raw::Pg(c) => sqlx::query(sql).execute(&mut *c).await?.rows_affected(),
        })
    }

    /// Runs one statement with text and integer binds alternating per row
    /// (`(text, int)` pairs for `$1, $2`, `$3, $4`, …); the rows it changed.
    pub async fn execute_pairs(&mut self, sql: &str, pairs: &[(String, i64)]) -> Result<u64> {
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
    pub async fn timed_rows<R>(&mut self, sql: &str, binds: &[i64]) -> Result<(f64, u64)>
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
    pub async fn bare_earnings(&mut self, from: i64, to: i64) -> Result<(f64, u64)> {
        self.timed_rows::<(String, i64)>(BARE_EARNINGS_SQL, &[from, to])
            .await
    }

    /// The epoch's sessions grouped per machine: (seconds, rows).
    pub async fn bare_sessions(&mut self, end: i64, alive_after: i64) -> Result<(f64, u64)> {
        self.timed_rows::<(String, i64, i64)>(BARE_SESSIONS_SQL, &[end, alive_after])
            .await
    }

    /// The store's main earnings grouping query (`load::earnings_grouping_sql`,
    /// under `load::PG_GROUPING_SETTING` on PostgreSQL): (seconds, rows).
    pub async fn store_grouping(&mut self, epoch: EpochId, policy: &Policy) -> Result<(f64, u64)> {
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
    pub async fn store_sessions(&mut self, epoch: EpochId, policy: &Policy) -> Result<(f64, u64)> {
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

    pub async fn close(self) {
        let _ = match self {
            Raw::Sqlite(c) => c.close().await,
            Raw::Pg(c) => c.close().await,
        };
    }
}
