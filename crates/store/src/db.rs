//! Backend plumbing: [`Db`] is a SQLite or a PostgreSQL pool, [`Link`] one
//! connection or transaction of either, and [`Val`] a bind value both accept.
//!
//! Every query of the crate is written once, with `$1…$n` placeholders (which
//! SQLite reads as numbered parameters) and SQL both dialects share; the few
//! differences (schema, locking) are spelt out where they occur. Rows decode
//! through `FromRow` for both backends ([`DecodeRow`]).
//!
//! Invariants: a SQLite write transaction starts with `BEGIN IMMEDIATE`, so it
//! holds the write lock from its first statement (no deferred upgrade that
//! could fail half-way); a `Link` that is dropped without `commit` rolls back.

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, FromRow, PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::error::{Result, StoreError};

/// How long a SQLite statement waits for the write lock before `Locked`.
pub const SQLITE_BUSY_TIMEOUT_MS: u64 = 30_000;

/// Pause between two attempts to open a SQLite database that is busy.
const SQLITE_CONNECT_RETRY_MS: u64 = 20;
/// Most connections of a file-backed SQLite pool (one writer at a time anyway).
pub const SQLITE_MAX_CONNECTIONS: u32 = 8;
/// Most connections of a PostgreSQL pool.
pub const PG_MAX_CONNECTIONS: u32 = 16;
/// How long to wait for a free pooled connection.
pub const ACQUIRE_TIMEOUT_MS: u64 = 60_000;
/// How long the first connection to PostgreSQL may take before the database
/// is reported unreachable (a server that is down refuses at once; this
/// bounds one that does not answer).
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;
/// Most bind parameters in one statement (SQLite allows 32 766, PostgreSQL 65 535).
pub const MAX_BIND_PARAMS: usize = 32_000;

/// Which database is behind a [`crate::Store`] (and which one a test or a
/// bench runs on: proving uses this enum too).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The product's name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" | "pg" => Ok(Backend::Postgres),
            other => Err(format!("unknown backend `{other}` (sqlite or postgres)")),
        }
    }
}

/// A pool of either backend.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

/// A bind value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Bool(bool),
    /// PostgreSQL only: a column of a bulk insert or key list.
    IntArray(Vec<Option<i64>>),
    TextArray(Vec<Option<String>>),
    BoolArray(Vec<bool>),
}

impl Val {
    /// The PostgreSQL array type a column of these values binds as.
    fn pg_array_type(&self) -> &'static str {
        match self {
            Val::Int(_) | Val::OptInt(_) | Val::IntArray(_) => "BIGINT[]",
            Val::Text(_) | Val::OptText(_) | Val::TextArray(_) => "TEXT[]",
            Val::Bool(_) | Val::BoolArray(_) => "BOOLEAN[]",
        }
    }
}

/// Transposes `rows` of `cols` values into one array per column, with the
/// `$k::TYPE[]` placeholders of `UNNEST($1::…, $2::…)`.
pub(crate) fn pg_columns(flat: Vec<Val>, cols: usize) -> (String, Vec<Val>) {
    let mut arrays: Vec<Val> = Vec::with_capacity(cols);
    let mut casts: Vec<String> = Vec::with_capacity(cols);
    let n_rows = flat.len() / cols.max(1);
    for (j, v) in flat.iter().take(cols).enumerate() {
        casts.push(format!("${}::{}", j.saturating_add(1), v.pg_array_type()));
        arrays.push(match v.pg_array_type() {
            "BIGINT[]" => Val::IntArray(Vec::with_capacity(n_rows)),
            "TEXT[]" => Val::TextArray(Vec::with_capacity(n_rows)),
            _ => Val::BoolArray(Vec::with_capacity(n_rows)),
        });
    }
    for (i, v) in flat.into_iter().enumerate() {
        let Some(column) = arrays.get_mut(i % cols.max(1)) else {
            continue;
        };
        match (column, v) {
            (Val::IntArray(a), Val::Int(x)) => a.push(Some(x)),
            (Val::IntArray(a), Val::OptInt(x)) => a.push(x),
            (Val::TextArray(a), Val::Text(x)) => a.push(Some(x)),
            (Val::TextArray(a), Val::OptText(x)) => a.push(x),
            (Val::BoolArray(a), Val::Bool(x)) => a.push(x),
            (Val::IntArray(a), _) => a.push(None),
            (Val::TextArray(a), _) => a.push(None),
            (Val::BoolArray(a), _) => a.push(false),
            _ => {}
        }
    }
    (format!("UNNEST({})", casts.join(", ")), arrays)
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(v)
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Val {
        Val::OptInt(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(v.to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(v)
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Val {
        Val::OptText(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Val {
        Val::Bool(v)
    }
}

/// A row type both backends can decode.
pub(crate) trait DecodeRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> DecodeRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

macro_rules! bind_sqlite {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Val::Int(v) => q.bind(v),
                Val::OptInt(v) => q.bind(v),
                Val::Text(v) => q.bind(v),
                Val::OptText(v) => q.bind(v),
                Val::Bool(v) => q.bind(v),
                // Arrays are PostgreSQL-only (`Link::bulk_insert`, `Link::key_filter`).
                Val::IntArray(_) | Val::TextArray(_) | Val::BoolArray(_) => {
                    q.bind(Option::<i64>::None)
                }
            };
        }
        q
    }};
}

macro_rules! bind_pg {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Val::Int(v) => q.bind(v),
                Val::OptInt(v) => q.bind(v),
                Val::Text(v) => q.bind(v),
                Val::OptText(v) => q.bind(v),
                Val::Bool(v) => q.bind(v),
                Val::IntArray(v) => q.bind(v),
                Val::TextArray(v) => q.bind(v),
                Val::BoolArray(v) => q.bind(v),
            };
        }
        q
    }};
}

/// Runs the `sqlite` or `pg` expression with `$c` bound to the underlying
/// connection of a [`Link`], and `$sql`/`$args` rewritten to that backend's
/// placeholder syntax.
macro_rules! with_conn {
    ($link:expr, $sql:ident, $args:ident, $c:ident, sqlite => $lite:expr, pg => $pg:expr) => {
        match $link {
            Link::SqlitePooled(c) => {
                let $c = &mut **c;
                let (owned, $args) = sqlite_positional($sql, $args);
                let $sql = owned.as_str();
                $lite
            }
            Link::SqliteTx(t) => {
                let $c = &mut **t;
                let (owned, $args) = sqlite_positional($sql, $args);
                let $sql = owned.as_str();
                $lite
            }
            Link::PgPooled(c) => {
                let $c = &mut **c;
                $pg
            }
            Link::PgTx(t) => {
                let $c = &mut **t;
                $pg
            }
            Link::PgSnapshot(c) => {
                let $c = &mut **c;
                $pg
            }
        }
    };
}

/// Rewrites `$n` placeholders to anonymous `?` for SQLite, repeating bind
/// values where a placeholder is used twice or out of order.
///
/// Why: SQLite looks up named (`$n`) and numbered (`?n`) parameters by a
/// linear scan, at parse time and again when sqlx binds each one, so a
/// statement with n of them costs O(n²) — minutes for a 32 000-value batch
/// insert. Anonymous `?` parameters cost O(n). Statements never contain `$`
/// outside placeholders (values are always bound).
fn sqlite_positional(sql: &str, args: Vec<Val>) -> (String, Vec<Val>) {
    let mut out = String::with_capacity(sql.len());
    let mut order: Vec<usize> = Vec::with_capacity(args.len());
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        let digits = tail
            .get(1..)
            .map_or(0, |t| t.bytes().take_while(u8::is_ascii_digit).count());
        let number = tail
            .get(1..digits.saturating_add(1))
            .and_then(|d| d.parse::<usize>().ok());
        match number {
            Some(n) if n >= 1 => {
                out.push('?');
                order.push(n - 1);
                rest = tail.get(digits.saturating_add(1)..).unwrap_or("");
            }
            _ => {
                out.push('$');
                rest = tail.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    let in_order = order.len() == args.len() && order.iter().enumerate().all(|(i, n)| i == *n);
    if in_order {
        return (out, args);
    }
    let args = order
        .into_iter()
        .map(|n| args.get(n).cloned().unwrap_or(Val::OptText(None)))
        .collect();
    (out, args)
}

/// One connection (autocommit) or one transaction of either backend.
pub enum Link {
    SqlitePooled(PoolConnection<Sqlite>),
    SqliteTx(Transaction<'static, Sqlite>),
    PgPooled(PoolConnection<Postgres>),
    PgTx(Transaction<'static, Postgres>),
    /// A read-only transaction on a connection of its own, outside the pool,
    /// that imported another transaction's snapshot ([`Db::snapshot_reader`]).
    PgSnapshot(Box<PgConnection>),
}

impl Link {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Link::SqlitePooled(_) | Link::SqliteTx(_) => Backend::Sqlite,
            Link::PgPooled(_) | Link::PgTx(_) | Link::PgSnapshot(_) => Backend::Postgres,
        }
    }

    /// Runs a statement; returns the number of rows it changed.
    pub(crate) async fn execute(&mut self, sql: &str, args: Vec<Val>) -> Result<u64> {
        let n = with_conn!(self, sql, args, c,
            sqlite => bind_sqlite!(sqlx::query(sql), args).execute(c).await?.rows_affected(),
            pg => bind_pg!(sqlx::query(sql), args).execute(c).await?.rows_affected());
        Ok(n)
    }

    pub(crate) async fn fetch_all<R: DecodeRow>(
        &mut self,
        sql: &str,
        args: Vec<Val>,
    ) -> Result<Vec<R>> {
        let rows = with_conn!(self, sql, args, c,
            sqlite => bind_sqlite!(sqlx::query_as::<_, R>(sql), args).fetch_all(c).await?,
            pg => bind_pg!(sqlx::query_as::<_, R>(sql), args).fetch_all(c).await?);
        Ok(rows)
    }

    pub(crate) async fn fetch_optional<R: DecodeRow>(
        &mut self,
        sql: &str,
        args: Vec<Val>,
    ) -> Result<Option<R>> {
        let row = with_conn!(self, sql, args, c,
            sqlite => bind_sqlite!(sqlx::query_as::<_, R>(sql), args).fetch_optional(c).await?,
            pg => bind_pg!(sqlx::query_as::<_, R>(sql), args).fetch_optional(c).await?);
        Ok(row)
    }

    pub(crate) async fn fetch_one<R: DecodeRow>(&mut self, sql: &str, args: Vec<Val>) -> Result<R> {
        let row = with_conn!(self, sql, args, c,
            sqlite => bind_sqlite!(sqlx::query_as::<_, R>(sql), args).fetch_one(c).await?,
            pg => bind_pg!(sqlx::query_as::<_, R>(sql), args).fetch_one(c).await?);
        Ok(row)
    }

    /// A single `BIGINT` (e.g. `SELECT COUNT(*)`).
    pub(crate) async fn scalar(&mut self, sql: &str, args: Vec<Val>) -> Result<i64> {
        let (v,): (i64,) = self.fetch_one(sql, args).await?;
        Ok(v)
    }

    /// Commits a transaction (a no-op for a plain connection).
    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            Link::SqliteTx(t) => t.commit().await?,
            Link::PgTx(t) => t.commit().await?,
            Link::PgSnapshot(mut c) => {
                sqlx::query("COMMIT").execute(&mut *c).await?;
                c.close().await?;
            }
            Link::SqlitePooled(_) | Link::PgPooled(_) => {}
        }
        Ok(())
    }
}

/// Opens and closes one connection, so that a database that is down or does
/// not answer is reported within [`CONNECT_TIMEOUT_MS`], naming its host,
/// port and the cause, instead of as a pool timeout a minute later. Only the
/// transport is "unreachable"; a server that answers with a refusal (a
/// wrong password, a missing database) is reported in its own words.
async fn first_connection(opts: &PgConnectOptions) -> Result<()> {
    let at = format!("PostgreSQL at {}:{}", opts.get_host(), opts.get_port());
    let attempt = PgConnection::connect_with(opts);
    match tokio::time::timeout(Duration::from_millis(CONNECT_TIMEOUT_MS), attempt).await {
        Ok(Ok(c)) => {
            let _ = c.close().await;
            Ok(())
        }
        Ok(Err(e @ (sqlx::Error::Io(_) | sqlx::Error::Tls(_)))) => {
            Err(StoreError::Unreachable(format!("{at}: {e}")))
        }
        // The server answered (a wrong password, a missing database): its
        // own message says what is wrong.
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(StoreError::Unreachable(format!(
            "{at}: no answer within {} s",
            CONNECT_TIMEOUT_MS / 1000
        ))),
    }
}

impl Db {
    /// Opens a pool for `url`: `sqlite://path` (created if missing),
    /// `sqlite::memory:`, or `postgres://…` / `postgresql://…`.
    pub(crate) async fn connect(url: &str) -> Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("database URL: {e}")))?;
            first_connection(&opts).await?;
            let pool = PgPoolOptions::new()
                .max_connections(PG_MAX_CONNECTIONS)
                .acquire_timeout(Duration::from_millis(ACQUIRE_TIMEOUT_MS))
                .connect_with(opts)
                .await?;
            return Ok(Db::Pg(pool));
        }
        if !url.starts_with("sqlite:") {
            return Err(StoreError::Config(format!(
                "database URL `{url}`: expected sqlite://PATH, sqlite::memory: or postgres://…"
            )));
        }
        let memory = url == "sqlite::memory:" || url == "sqlite://:memory:";
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("database URL: {e}")))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS));
        let opts = if memory {
            opts
        } else {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        };
        // An in-memory database lives and dies with its one connection: keep it forever.
        let pool_opts = if memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(SQLITE_MAX_CONNECTIONS)
        };
        let pool_opts = pool_opts.acquire_timeout(Duration::from_millis(ACQUIRE_TIMEOUT_MS));
        // Switching a new file to WAL takes an exclusive lock, and SQLite
        // answers SQLITE_BUSY at once, without waiting out the busy timeout,
        // while another connection holds a write lock on it (several
        // processes starting on one new database, one of them migrating):
        // retry until the busy timeout has passed.
        let deadline = std::time::Instant::now() + Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS);
        loop {
            match pool_opts.clone().connect_with(opts.clone()).await {
                Ok(pool) => return Ok(Db::Sqlite(pool)),
                Err(e) => match StoreError::from(e) {
                    StoreError::Locked(_) if std::time::Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(SQLITE_CONNECT_RETRY_MS)).await;
                    }
                    e => return Err(e),
                },
            }
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Pg(_) => Backend::Postgres,
        }
    }

    /// A plain connection (each statement commits on its own).
    pub(crate) async fn conn(&self) -> Result<Link> {
        Ok(match self {
            Db::Sqlite(p) => Link::SqlitePooled(p.acquire().await?),
            Db::Pg(p) => Link::PgPooled(p.acquire().await?),
        })
    }

    /// A read-only transaction that sees one consistent snapshot.
    pub(crate) async fn begin_read(&self) -> Result<Link> {
        Ok(match self {
            Db::Sqlite(p) => Link::SqliteTx(p.begin().await?),
            Db::Pg(p) => Link::PgTx(
                p.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        })
    }

    /// A write transaction: SQLite takes the database write lock at once.
    pub(crate) async fn begin_write(&self) -> Result<Link> {
        Ok(match self {
            Db::Sqlite(p) => Link::SqliteTx(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Pg(p) => Link::PgTx(p.begin().await?),
        })
    }

    /// A read-only transaction that sees exactly what `exporter`'s
    /// transaction sees now (PostgreSQL `pg_export_snapshot` and `SET
    /// TRANSACTION SNAPSHOT`): one consistent state for a caller whose own
    /// transaction is READ COMMITTED. It is a connection of its own, opened
    /// for this and closed by [`Link::commit`], never one of the pool's: a
    /// caller already holding a pooled connection (a settlement under its
    /// lock) must not wait on the pool for another, which callers doing the
    /// same could exhaust. `None` on SQLite, whose transactions are
    /// snapshots already.
    pub(crate) async fn snapshot_reader(&self, exporter: &mut Link) -> Result<Option<Link>> {
        let Db::Pg(pool) = self else {
            return Ok(None);
        };
        let (snapshot,): (String,) = exporter
            .fetch_one("SELECT pg_export_snapshot()", vec![])
            .await?;
        // `SET TRANSACTION SNAPSHOT` takes no bind parameter: the id is the
        // server's own (hex digits and dashes), checked before it is quoted.
        if snapshot.is_empty() || !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(StoreError::Corrupt(format!(
                "unexpected snapshot id `{snapshot}`"
            )));
        }
        let mut c = PgConnection::connect_with(&pool.connect_options()).await?;
        sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut c)
            .await?;
        sqlx::query(&format!("SET TRANSACTION SNAPSHOT '{snapshot}'"))
            .execute(&mut c)
            .await?;
        Ok(Some(Link::PgSnapshot(Box::new(c))))
    }

    /// PostgreSQL: a transaction on a connection of its own (like
    /// [`Db::snapshot_reader`]'s) that raised `fact_versions.read_mark` to
    /// the last version and holds the counter row, with that version. While
    /// it is open no batch can commit a new version, so a snapshot taken now
    /// reads exactly the versions up to it; commit it right after. `None` on
    /// SQLite, whose write transaction does this itself.
    pub(crate) async fn hold_versions(&self) -> Result<Option<(Link, i64)>> {
        let Db::Pg(pool) = self else {
            return Ok(None);
        };
        let mut c = PgConnection::connect_with(&pool.connect_options()).await?;
        sqlx::query("BEGIN").execute(&mut c).await?;
        let mut link = Link::PgSnapshot(Box::new(c));
        let (last,): (i64,) = link
            .fetch_one(
                "UPDATE fact_versions SET read_mark = GREATEST(read_mark, last) WHERE id = 1 \
                 RETURNING last",
                vec![],
            )
            .await?;
        Ok(Some((link, last)))
    }

    pub(crate) async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Pg(p) => p.close().await,
        }
    }
}

/// `$first, $first+1, …` for `n` values: `($1, $2, $3)`.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    let mut s = String::with_capacity(n.saturating_mul(5).saturating_add(2));
    s.push('(');
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('$');
        s.push_str(&(first.saturating_add(i)).to_string());
    }
    s.push(')');
    s
}

/// `VALUES`-style rows: `($1, $2), ($3, $4)` for `rows` rows of `cols` values.
pub(crate) fn row_placeholders(rows: usize, cols: usize) -> String {
    let mut s = String::new();
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push_str(&placeholders(
            r.saturating_mul(cols).saturating_add(1),
            cols,
        ));
    }
    s
}

/// How many rows of `cols` values fit one statement.
pub(crate) fn rows_per_statement(cols: usize) -> usize {
    (MAX_BIND_PARAMS / cols.max(1)).max(1)
}

/// Rows per statement of a bulk write of `cols` columns ([`bulk_rows`]):
/// PostgreSQL binds one array per column, whatever the number of rows;
/// SQLite one parameter per value.
pub(crate) fn bulk_rows_per_statement(backend: Backend, cols: usize) -> usize {
    match backend {
        Backend::Postgres => usize::MAX,
        Backend::Sqlite => rows_per_statement(cols),
    }
}

/// The row source of a bulk `INSERT INTO t (…) {rows}` of `flat` (row-major,
/// `cols` values a row) and its binds: `SELECT * FROM UNNEST(…)` of one array
/// per column on PostgreSQL (one parse whatever the size, where a `VALUES`
/// list of thousands of placeholders is slow to plan), `VALUES (…), (…)` on
/// SQLite.
pub(crate) fn bulk_rows(backend: Backend, flat: Vec<Val>, cols: usize) -> (String, Vec<Val>) {
    match backend {
        Backend::Postgres => {
            let (unnest, arrays) = pg_columns(flat, cols);
            (format!("SELECT * FROM {unnest}"), arrays)
        }
        Backend::Sqlite => {
            let rows = flat.len() / cols.max(1);
            (format!("VALUES {}", row_placeholders(rows, cols)), flat)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader made after a committed write does not see a later one,
    /// while the exporting READ COMMITTED transaction (a settlement's) does:
    /// it reads the moment of the export.
    #[tokio::test]
    async fn a_snapshot_reader_sees_the_moment_of_the_export() {
        let url = std::env::var("FLOORLINE_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let db = Db::connect(&url).await.unwrap();
        let table = format!("floorline_snapshot_{:016x}", rand::random::<u64>());
        let mut other = db.conn().await.unwrap();
        other
            .execute(&format!("CREATE TABLE {table} (v BIGINT)"), vec![])
            .await
            .unwrap();
        other
            .execute(&format!("INSERT INTO {table} VALUES (1)"), vec![])
            .await
            .unwrap();
        let count = format!("SELECT COUNT(*) FROM {table}");

        let mut exporter = db.begin_write().await.unwrap();
        let mut reader = db.snapshot_reader(&mut exporter).await.unwrap().unwrap();
        other
            .execute(&format!("INSERT INTO {table} VALUES (2)"), vec![])
            .await
            .unwrap();
        assert_eq!(reader.scalar(&count, vec![]).await.unwrap(), 1);
        assert_eq!(exporter.scalar(&count, vec![]).await.unwrap(), 2);
        assert!(
            reader
                .execute(&format!("INSERT INTO {table} VALUES (3)"), vec![])
                .await
                .is_err(),
            "the reader is read-only"
        );
        drop(reader);
        drop(exporter);
        other
            .execute(&format!("DROP TABLE {table}"), vec![])
            .await
            .unwrap();

        let sqlite = Db::connect("sqlite::memory:").await.unwrap();
        let mut link = sqlite.begin_write().await.unwrap();
        assert!(sqlite.snapshot_reader(&mut link).await.unwrap().is_none());
    }

    #[test]
    fn bulk_rows_are_unnest_on_postgres_and_values_on_sqlite() {
        let flat = || vec![Val::from("a"), Val::from(1), Val::from("b"), Val::from(2)];
        let (sql, binds) = bulk_rows(Backend::Postgres, flat(), 2);
        assert_eq!(sql, "SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[])");
        assert_eq!(binds.len(), 2);
        let (sql, binds) = bulk_rows(Backend::Sqlite, flat(), 2);
        assert_eq!(sql, "VALUES ($1, $2), ($3, $4)");
        assert_eq!(binds.len(), 4);
        assert_eq!(bulk_rows_per_statement(Backend::Postgres, 8), usize::MAX);
        assert_eq!(
            bulk_rows_per_statement(Backend::Sqlite, 8),
            MAX_BIND_PARAMS / 8
        );
    }

    #[test]
    fn columns_for_unnest() {
        let flat = vec![
            Val::from("a"),
            Val::from(1),
            Val::OptInt(None),
            Val::from("b"),
            Val::from(2),
            Val::OptInt(Some(3)),
        ];
        let (sql, arrays) = pg_columns(flat, 3);
        assert_eq!(sql, "UNNEST($1::TEXT[], $2::BIGINT[], $3::BIGINT[])");
        assert_eq!(
            arrays,
            vec![
                Val::TextArray(vec![Some("a".into()), Some("b".into())]),
                Val::IntArray(vec![Some(1), Some(2)]),
                Val::IntArray(vec![None, Some(3)]),
            ]
        );
    }

    #[test]
    fn placeholder_lists() {
        assert_eq!(placeholders(1, 3), "($1, $2, $3)");
        assert_eq!(row_placeholders(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(rows_per_statement(8), 4000);
        let args = |n: i64| (1..=n).map(Val::Int).collect::<Vec<_>>();
        assert_eq!(
            sqlite_positional("a = $1 AND b IN ($2, $3)", args(3)),
            ("a = ? AND b IN (?, ?)".to_string(), args(3))
        );
        assert_eq!(
            sqlite_positional("x >= $2 OR y < $1 OR z = $2", args(2)),
            (
                "x >= ? OR y < ? OR z = ?".to_string(),
                vec![Val::Int(2), Val::Int(1), Val::Int(2)]
            )
        );
    }
}
