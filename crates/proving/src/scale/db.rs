//! The database of one scale run ([`ScaleDb`]: a fresh SQLite file or
//! PostgreSQL database, or a kept one). Its raw connection, which counts
//! rows and runs the bare scans and the store's own queries bare, is the
//! oracle's ([`crate::oracle::bench::Raw`]).

use crate::scale::{Doing as _, Result, ScaleError};

use super::{Backend, ScaleOptions};
use crate::oracle::{self, with_database};

pub(super) use crate::oracle::bench::Raw;

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
    pub async fn create(opts: &ScaleOptions) -> Result<ScaleDb> {
        let dir = tempfile::Builder::new()
            .prefix("floorline-scale-")
            .tempdir()
            .doing("temporary directory")?;
        if let Some(url) = &opts.database {
            return Ok(ScaleDb {
                url: url.clone(),
                _dir: dir,
                pg: None,
            });
        }
        match opts.backend {
            Backend::Sqlite => Ok(ScaleDb {
                url: format!("sqlite://{}", dir.path().join("scale.db").display()),
                _dir: dir,
                pg: None,
            }),
            Backend::Postgres => {
                let admin = opts.pg_admin_url.clone();
                let name = format!(
                    "floorline_scale_{}_{:08x}",
                    std::process::id(),
                    rand::random::<u32>()
                );
                oracle::create_database(&admin, &name)
                    .await
                    .map_err(ScaleError::msg)?;
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
            Raw::Pg(_) => raw.pg_database_size().await.unwrap_or(0),
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
            oracle::drop_database(admin, name).await;
        }
    }
}
