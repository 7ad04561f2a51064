//! Refinements applied in place, without reading the stored rows: the path
//! of a batch of heartbeats on SQLite (SPEC §2).
//!
//! A live coordinator sends mostly batches in which every item re-sends a
//! stored fact with the one change a refinement allows (a session's later
//! `last_seen_at`). Judging such a batch the general way — resolve every
//! machine name, read every stored row, judge each pair in Rust — costs
//! several times the `UPDATE` it leads to. Here the database judges instead:
//! one query counts the stored rows that the batch's items refine under the
//! kind's [`PureRefinement::refines`] condition; only when that is every item
//! are the rows rewritten (history first, SPEC §6), else nothing is written
//! and the batch takes the general path. The batch travels as one JSON
//! parameter (`json_each`), so the statements stay short and are prepared once.
//!
//! Only on SQLite, whose write transactions are serial (`BEGIN IMMEDIATE`):
//! nothing can change a row between the count and the `UPDATE`. On
//! PostgreSQL the general path locks the rows it judges, in key order.
//!
//! Why the shortcut is exact: the condition holds only if the stored row's
//! key, machine and fixed fields equal the item's and the item changes a
//! refined column the allowed way — the case in which the general path would
//! call the item a refinement of the stored row. A stored fact names an
//! attested machine id, and a machine id always resolves to itself (D1), so
//! an item naming the stored machine needs no resolution; an item naming it
//! through an alias does not match and takes the general path.

use std::collections::HashSet;

use super::{column_positions, reserve_versions, Batch, Fate, TableFact};
use crate::db::{Backend, Link, Val};
use crate::error::{Result, StoreError};
use crate::IngestReport;

/// How a kind's items refine their stored rows in place.
pub(crate) struct PureRefinement {
    /// The columns an item sends, key columns first; each one of
    /// [`TableFact::COLUMNS`].
    pub(crate) columns: &'static [&'static str],
    /// When the stored row `t` is refined by the sent row `u`.
    pub(crate) refines: &'static str,
    /// The columns a refinement rewrites (besides `version`).
    pub(crate) sets: &'static [&'static str],
}

/// Counts of what the batch would refine.
#[derive(sqlx::FromRow)]
struct Refinable {
    /// Items that refine their stored row.
    n: i64,
    /// Of those rows, the ones some run may have read (version ≤ `read_mark`).
    kept: i64,
}

#[derive(sqlx::FromRow)]
struct ReadMark {
    read_mark: i64,
}

impl<F: TableFact> Batch<F> {
    /// Applies the batch in place when every item is a refinement of its
    /// stored row, and returns the report; `None` (nothing written) when
    /// the batch must take the general path: another backend, a kind
    /// without [`TableFact::PURE_REFINEMENT`], an item of another shape, a key
    /// sent twice, or an item that is not a refinement of a stored row.
    pub(crate) async fn refine_in_place(
        &mut self,
        link: &mut Link,
    ) -> Result<Option<IngestReport>> {
        let Some(pure) = F::PURE_REFINEMENT else {
            return Ok(None);
        };
        if link.backend() != Backend::Sqlite
            || !self.errs.is_empty()
            || self.items.is_empty()
            || !self.items.iter().all(TableFact::is_pure_refinement)
        {
            return Ok(None);
        }
        let mut order: Vec<(String, usize)> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, f)| (f.key_text(), i))
            .collect();
        order.sort_unstable();
        let mut keys = HashSet::with_capacity(self.items.len());
        if !self.items.iter().all(|f| keys.insert(f.key())) {
            return Ok(None);
        }
        // The batch as `[[column values…, ord], …]` in key order: `ord` is
        // the offset from the first reserved version (SPEC §6: each refined row
        // a version of its own).
        let at = column_positions::<F>(pure.columns)?;
        let mut rows = Vec::with_capacity(order.len());
        let mut all = Vec::with_capacity(F::COLUMNS.len());
        for (ord, (_, i)) in order.iter().enumerate() {
            let item = self
                .items
                .get(*i)
                .ok_or_else(|| StoreError::Invariant("in-place item out of range".into()))?;
            all.clear();
            item.values(&mut all);
            let mut row = Vec::with_capacity(at.len().saturating_add(1));
            for &p in &at {
                row.push(json(all.get(p)));
            }
            row.push(serde_json::Value::from(ord));
            rows.push(serde_json::Value::Array(row));
        }
        let batch = serde_json::Value::Array(rows).to_string();
        let n = i64::try_from(order.len()).unwrap_or(i64::MAX);

        let u = source(pure.columns);
        let on = F::KEY_COLUMNS
            .iter()
            .map(|c| format!("t.{c} = u.{c}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let ReadMark { read_mark } = link
            .fetch_one("SELECT read_mark FROM fact_versions WHERE id = 1", vec![])
            .await?;
        let counted: Refinable = link
            .fetch_one(
                &format!(
                    "{u} SELECT count(*) AS n, coalesce(sum(t.version <= $2), 0) AS kept \
                     FROM u JOIN {} t ON {on} WHERE {}",
                    F::TABLE,
                    pure.refines
                ),
                vec![Val::from(batch.clone()), Val::from(read_mark)],
            )
            .await?;
        if counted.n != n {
            return Ok(None);
        }
        let (first, read_mark) = reserve_versions(link, order.len()).await?;
        if counted.kept > 0 {
            // The rows some run may have read are kept (SPEC §6).
            let kept: Vec<String> = F::COLUMNS.iter().map(|c| format!("t.{c}")).collect();
            link.execute(
                &format!(
                    "{u} INSERT INTO {} ({}, version) SELECT {}, t.version \
                     FROM {} t JOIN u ON {on} WHERE t.version <= $2",
                    F::HISTORY_TABLE,
                    F::COLUMNS.join(", "),
                    kept.join(", "),
                    F::TABLE,
                ),
                vec![Val::from(batch.clone()), Val::from(read_mark)],
            )
            .await?;
        }
        let mut set: Vec<String> = pure.sets.iter().map(|c| format!("{c} = u.{c}")).collect();
        set.push("version = $2 + u.ord".into());
        let written = link
            .execute(
                &format!(
                    "{u} UPDATE {} AS t SET {} FROM u WHERE {on} AND {}",
                    F::TABLE,
                    set.join(", "),
                    pure.refines
                ),
                vec![Val::from(batch), Val::from(first)],
            )
            .await?;
        if written != u64::try_from(n).unwrap_or(u64::MAX) {
            // Counted in this transaction, which nothing else writes in.
            return Err(StoreError::Invariant(format!(
                "{}: {written} rows refined in place of the {n} counted",
                F::TABLE
            )));
        }
        self.fates.iter_mut().for_each(|f| *f = Fate::Refined);
        Ok(Some(IngestReport {
            refined: u64::try_from(n).unwrap_or(u64::MAX),
            ..IngestReport::default()
        }))
    }
}

/// `WITH u (columns…, offset) AS (…)`: the rows of the JSON array bound
/// as `$1`.
fn source(columns: &[&str]) -> String {
    let picked: Vec<String> = (0..=columns.len())
        .map(|i| format!("value ->> {i}"))
        .collect();
    format!(
        "WITH u ({}, ord) AS (SELECT {} FROM json_each($1))",
        columns.join(", "),
        picked.join(", ")
    )
}

/// A bound value as JSON (`null` for an absent one).
fn json(v: Option<&Val>) -> serde_json::Value {
    match v {
        Some(Val::Int(i)) | Some(Val::OptInt(Some(i))) => (*i).into(),
        Some(Val::Text(s)) | Some(Val::OptText(Some(s))) => s.as_str().into(),
        Some(Val::Bool(b)) => (*b).into(),
        _ => serde_json::Value::Null,
    }
}
