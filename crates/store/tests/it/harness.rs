//! A fresh database per test on each backend, and the `both!` macro that
//! turns one async test body into a SQLite test and a PostgreSQL test.

use std::future::Future;

use floorline_store::Store;
use rand::Rng;
use sqlx::Connection;

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Pg,
}

/// What a test body gets: a migrated store and the URL to open more.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub store: Store,
    pub url: String,
    pub kind: Kind,
}

impl Ctx {
    /// Another store (its own pool) on the same database.
    pub async fn another(&self) -> Store {
        Store::connect(&self.url).await.unwrap()
    }
}

pub fn admin_url() -> String {
    std::env::var("FLOORLINE_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

/// `admin` with its database name replaced.
pub fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// A fresh, empty PostgreSQL database; returns its URL.
pub async fn create_pg_database() -> (String, String) {
    let admin = admin_url();
    let name = format!("floorline_t_{:016x}", rand::thread_rng().gen::<u64>());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is not reachable: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    (with_database(&admin, &name), name)
}

pub async fn drop_pg_database(name: &str) {
    let mut conn = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// Runs `body` against a fresh migrated database of `kind`, then drops it
/// (also when the body panics; the panic is then resumed).
pub async fn run<F, Fut>(kind: Kind, body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let (url, pg_name) = match kind {
        Kind::Sqlite => (
            format!("sqlite://{}", dir.path().join("store.db").display()),
            None,
        ),
        Kind::Pg => {
            let (url, name) = create_pg_database().await;
            (url, Some(name))
        }
    };
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let ctx = Ctx {
        store: store.clone(),
        url,
        kind,
    };
    let outcome = tokio::spawn(body(ctx)).await;
    store.close().await;
    if let Some(name) = pg_name {
        drop_pg_database(&name).await;
    }
    drop(dir);
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
}

/// `both!(name, body)` defines `name::sqlite` and `name::postgres`, each
/// running `body(ctx)` on a fresh database of that backend.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::harness::run($crate::harness::Kind::Sqlite, $body).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::harness::run($crate::harness::Kind::Pg, $body).await;
            }
        }
    };
}

#[test]
fn database_urls() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u@h:1/db?sslmode=disable", "x"),
        "postgres://u@h:1/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
