//! Idempotent ingestion of the facts of SPEC §2 (and source watermarks).
//!
//! One batch is one transaction. The batch is validated whole first — field
//! checks (core's [`Check`]), machine names resolved to machine ids (by
//! `machine_id` or an alias `provider_key`; an unknown name is invalid), and
//! the per-kind rules (bindings never overlap, provider keys and machine ids
//! never collide) — and any problem rejects the whole batch with
//! [`StoreError::Invalid`] naming `kind[index].field`; nothing is written.
//!
//! Then every item is classified against earlier items of the batch and
//! against the stored row with the same key: identical payload → duplicate (a
//! no-op), different payload → conflict (reported, not written), otherwise
//! new. New items are written with `INSERT … ON CONFLICT DO NOTHING`: on
//! SQLite multi-row `VALUES` in chunks under the bind-parameter limit, on
//! PostgreSQL the whole batch as one array per column (`UNNEST`).
//!
//! Kinds whose checks read stored rows (attestations, aliases, bindings) read
//! the batch's keys first (one query per chunk). The high-volume kinds
//! (sessions, health, earnings, probes) write first and read only on a
//! collision: a chunk whose row count falls short is re-read by key, and each
//! item that did not go in is a conflict if the stored payload differs and a
//! duplicate otherwise (keys repeated inside the batch are read up front).
//! The same reconciliation makes the report exact when a concurrent batch
//! takes a key between the read and the insert.

mod kinds;
mod watermarks;

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use floorline_core::bundle::Check;
use floorline_core::Invalid;
use serde::Serialize;

use crate::db::{
    bulk_rows, bulk_rows_per_statement, pg_columns, placeholders, row_placeholders,
    rows_per_statement, Backend, DecodeRow, Link, Val,
};
use crate::error::{Result, StoreError};

pub(crate) use kinds::{
    alias_checks, attestation_checks, binding_overlaps, earning_checks, gb, insert_machines,
    AliasRow, AttestationRow, BindingRow, EarningRow, HealthRow, ProbeRow, SessionRow,
};
pub use watermarks::Watermark;
pub(crate) use watermarks::{fetch_watermarks, ingest_watermarks};

/// Most items in one ingestion batch (larger batches are refused whole).
pub const MAX_BATCH_ITEMS: usize = 10_000;

/// Job ids with this prefix are written by settlement only (base rewards).
pub const RESERVED_JOB_PREFIX: &str = "floor:";

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// New facts written.
    pub accepted: u64,
    /// Identical re-sent facts (no-ops).
    pub duplicates: u64,
    /// Items whose key is taken by a different payload; not written.
    pub conflicts: Vec<Conflict>,
}

/// One conflicting item of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// Position of the item in the batch.
    pub index: usize,
    /// The fact's key, e.g. `job-17` or `m1@2026-10-01T00:00:00.000Z`.
    pub key: String,
    pub reason: String,
}

/// One kind of fact as stored: table, columns, key, and the row codec.
pub(crate) trait Fact: Check + Clone + PartialEq + Serialize + Send + Sync + Sized {
    /// The name in error paths and the HTTP API (`earnings`).
    const KIND: &'static str;
    const TABLE: &'static str;
    /// Insert and select order of the columns; `Row` has fields of these names.
    const COLUMNS: &'static [&'static str];
    const KEY_COLUMNS: &'static [&'static str];
    type Key: Clone + Eq + Hash + Send + Sync;
    type Row: DecodeRow;
    fn key(&self) -> Self::Key;
    fn key_text(&self) -> String;
    fn key_values(key: &Self::Key, out: &mut Vec<Val>);
    fn values(&self, out: &mut Vec<Val>);
    fn from_row(row: Self::Row) -> Result<Self>;
    /// The machine name the fact carries (the defined machine for attestations).
    fn machine(&self) -> &str;
    fn set_machine(&mut self, machine_id: String);
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    New,
    Duplicate,
    Conflict(String),
}

/// A batch on its way in: resolved copies of the items and what becomes of each.
pub(crate) struct Batch<F: Fact> {
    pub(crate) items: Vec<F>,
    fates: Vec<Fate>,
    pub(crate) errs: Vec<Invalid>,
}

impl<F: Fact> Batch<F> {
    /// The size limit and the field checks, before touching the database.
    pub(crate) fn check(items: &[F]) -> Result<Batch<F>> {
        if items.len() > MAX_BATCH_ITEMS {
            return Err(StoreError::BatchTooLarge {
                items: items.len(),
                max: MAX_BATCH_ITEMS,
            });
        }
        let mut errs = Vec::new();
        for (i, item) in items.iter().enumerate() {
            item.check(&format!("{}[{i}]", F::KIND), &mut errs);
        }
        if !errs.is_empty() {
            return Err(StoreError::Invalid(errs));
        }
        Ok(Batch {
            items: items.to_vec(),
            fates: vec![Fate::New; items.len()],
            errs,
        })
    }

    pub(crate) fn path(&self, i: usize, field: &str) -> String {
        format!("{}[{i}].{field}", F::KIND)
    }

    /// Replaces every machine name by its machine id (D1); unknown names are
    /// invalid. With `via_aliases` false only machine ids count (alias targets).
    pub(crate) async fn resolve_machines(
        &mut self,
        link: &mut Link,
        via_aliases: bool,
    ) -> Result<()> {
        let names: BTreeSet<String> = self.items.iter().map(|f| f.machine().to_string()).collect();
        let known = resolve_names(link, &names, via_aliases).await?;
        for i in 0..self.items.len() {
            let Some(item) = self.items.get_mut(i) else {
                continue;
            };
            match known.get(item.machine()) {
                Some(id) => item.set_machine(id.clone()),
                None => {
                    let msg = format!("unknown machine `{}`", item.machine());
                    self.errs
                        .push(Invalid::new(format!("{}[{i}].machine_id", F::KIND), msg));
                }
            }
        }
        Ok(())
    }

    /// Sorts items into new, duplicate and conflict: against earlier items of
    /// the batch, and with `read_stored` against stored rows too (one read per
    /// chunk of keys). Without it, stored clashes are found by [`Batch::insert`]
    /// from the row count (write first, read only on a collision: the fast
    /// path for kinds whose checks need nothing stored). Skipped when the
    /// batch is already invalid.
    pub(crate) async fn classify(&mut self, link: &mut Link, read_stored: bool) -> Result<()> {
        if !self.errs.is_empty() {
            return Ok(());
        }
        let mut first: HashMap<F::Key, usize> = HashMap::with_capacity(self.items.len());
        let mut unique: Vec<F::Key> = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            let key = item.key();
            if !first.contains_key(&key) {
                first.insert(key.clone(), i);
                unique.push(key);
            }
        }
        let stored = if read_stored {
            fetch_by_keys::<F>(link, &unique).await?
        } else {
            // Keys repeated inside the batch are read anyway, so that every
            // repeat compares with what is stored rather than with the first.
            let mut seen: HashMap<&F::Key, u32> = HashMap::new();
            let keys: Vec<F::Key> = self.items.iter().map(Fact::key).collect();
            for k in &keys {
                *seen.entry(k).or_insert(0) += 1;
            }
            let repeated: Vec<F::Key> = unique
                .iter()
                .filter(|k| seen.get(k).is_some_and(|n| *n > 1))
                .cloned()
                .collect();
            if repeated.is_empty() {
                HashMap::new()
            } else {
                fetch_by_keys::<F>(link, &repeated).await?
            }
        };
        for (i, item) in self.items.iter().enumerate() {
            let key = item.key();
            let fate = if let Some(old) = stored.get(&key) {
                if old == item {
                    Fate::Duplicate
                } else {
                    Fate::Conflict(format!(
                        "a stored fact has this key with a different {}",
                        diff_fields(old, item)
                    ))
                }
            } else {
                match first.get(&key).and_then(|&j| (j != i).then_some(j)) {
                    None => Fate::New,
                    Some(j) => match self.items.get(j) {
                        Some(earlier) if earlier == item => Fate::Duplicate,
                        Some(earlier) => Fate::Conflict(format!(
                            "{}[{j}] of this batch has this key with a different {}",
                            F::KIND,
                            diff_fields(earlier, item)
                        )),
                        None => Fate::New,
                    },
                }
            };
            if let Some(slot) = self.fates.get_mut(i) {
                *slot = fate;
            }
        }
        Ok(())
    }

    /// The items that will be written, with their batch index.
    pub(crate) fn new_items(&self) -> impl Iterator<Item = (usize, &F)> {
        self.items
            .iter()
            .zip(&self.fates)
            .enumerate()
            .filter(|(_, (_, fate))| **fate == Fate::New)
            .map(|(i, (item, _))| (i, item))
    }

    /// Rejects the whole batch if any check failed.
    pub(crate) fn fail_if_invalid(&mut self) -> Result<()> {
        if self.errs.is_empty() {
            Ok(())
        } else {
            let mut errs = std::mem::take(&mut self.errs);
            errs.sort_by(|a, b| natural_path_order(&a.path, &b.path));
            Err(StoreError::Invalid(errs))
        }
    }

    /// Writes the new items; returns the report.
    pub(crate) async fn insert(self, link: &mut Link) -> Result<IngestReport> {
        let mut report = IngestReport::default();
        let mut fresh: Vec<(usize, &F)> = Vec::new();
        for (i, (item, fate)) in self.items.iter().zip(&self.fates).enumerate() {
            match fate {
                Fate::New => fresh.push((i, item)),
                Fate::Duplicate => report.duplicates += 1,
                Fate::Conflict(reason) => report.conflicts.push(Conflict {
                    index: i,
                    key: item.key_text(),
                    reason: reason.clone(),
                }),
            }
        }
        let cols = F::COLUMNS.len();
        // PostgreSQL takes the whole batch as one array per column.
        let backend = link.backend();
        for chunk in fresh.chunks(bulk_rows_per_statement(backend, cols)) {
            let mut args = Vec::with_capacity(chunk.len().saturating_mul(cols));
            for (_, item) in chunk {
                item.values(&mut args);
            }
            let (rows, args) = bulk_rows(backend, args, cols);
            let sql = format!(
                "INSERT INTO {} ({}) {rows} ON CONFLICT DO NOTHING",
                F::TABLE,
                F::COLUMNS.join(", "),
            );
            let written = link.execute(&sql, args).await?;
            let n = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
            report.accepted += written;
            if written < n {
                // Some keys were taken (stored before, or by a concurrent batch
                // since `classify`): a different payload is a conflict, the
                // rest are duplicates.
                let keys: Vec<F::Key> = chunk.iter().map(|(_, f)| f.key()).collect();
                let stored = fetch_by_keys::<F>(link, &keys).await?;
                let mut conflicts = 0u64;
                for (i, item) in chunk {
                    if let Some(old) = stored.get(&item.key()).filter(|old| *old != *item) {
                        conflicts += 1;
                        report.conflicts.push(Conflict {
                            index: *i,
                            key: item.key_text(),
                            reason: format!(
                                "a stored fact has this key with a different {}",
                                diff_fields(old, item)
                            ),
                        });
                    }
                }
                report.duplicates += n.saturating_sub(written).saturating_sub(conflicts);
            }
        }
        report.conflicts.sort_by_key(|c| c.index);
        Ok(report)
    }
}

/// Stored rows of `F` for the given keys, by key.
pub(crate) async fn fetch_by_keys<F: Fact>(
    link: &mut Link,
    keys: &[F::Key],
) -> Result<HashMap<F::Key, F>> {
    let kc = F::KEY_COLUMNS.len();
    let pg = link.backend() == Backend::Postgres;
    let per_statement = if pg {
        MAX_BATCH_ITEMS
    } else {
        rows_per_statement(kc)
    };
    let mut out = HashMap::new();
    for chunk in keys.chunks(per_statement.max(1)) {
        let mut args = Vec::with_capacity(chunk.len().saturating_mul(kc));
        for k in chunk {
            F::key_values(k, &mut args);
        }
        let filter = if pg {
            let (unnest, arrays) = pg_columns(args, kc);
            args = arrays;
            match F::KEY_COLUMNS {
                // `= ANY` keeps the primary-key index lookups of an IN list.
                [key] => format!("{key} = ANY($1::TEXT[])"),
                _ => format!(
                    "({}) IN (SELECT * FROM {unnest})",
                    F::KEY_COLUMNS.join(", ")
                ),
            }
        } else if kc == 1 {
            format!(
                "{} IN {}",
                F::KEY_COLUMNS.join(", "),
                placeholders(1, chunk.len())
            )
        } else {
            format!(
                "({}) IN (VALUES {})",
                F::KEY_COLUMNS.join(", "),
                row_placeholders(chunk.len(), kc)
            )
        };
        let sql = format!(
            "SELECT {} FROM {} WHERE {filter}",
            F::COLUMNS.join(", "),
            F::TABLE
        );
        for row in link.fetch_all::<F::Row>(&sql, args).await? {
            let fact = F::from_row(row)?;
            out.insert(fact.key(), fact);
        }
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct NameRow {
    name: String,
    machine_id: String,
}

/// Maps each known name to its machine id: machine ids first, then (with
/// `via_aliases`) provider keys. Unknown names are absent.
pub(crate) async fn resolve_names(
    link: &mut Link,
    names: &BTreeSet<String>,
    via_aliases: bool,
) -> Result<HashMap<String, String>> {
    let names: Vec<&String> = names.iter().collect();
    let mut out = HashMap::with_capacity(names.len());
    for chunk in names.chunks(rows_per_statement(1)) {
        let args: Vec<Val> = chunk.iter().map(|n| Val::from(n.as_str())).collect();
        let list = placeholders(1, chunk.len());
        let sql = format!(
            "SELECT machine_id AS name, machine_id FROM machines WHERE machine_id IN {list}"
        );
        for r in link.fetch_all::<NameRow>(&sql, args.clone()).await? {
            out.insert(r.name, r.machine_id);
        }
        if via_aliases {
            let sql = format!(
                "SELECT provider_key AS name, machine_id FROM aliases WHERE provider_key IN {list}"
            );
            for r in link.fetch_all::<NameRow>(&sql, args).await? {
                out.entry(r.name).or_insert(r.machine_id);
            }
        }
    }
    Ok(out)
}

/// Names the fields in which two facts differ (`amount_micro_usd, at`).
fn diff_fields<F: Serialize>(a: &F, b: &F) -> String {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return "payload".into();
    };
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let differing: Vec<&str> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(String::as_str)
        .collect();
    if differing.is_empty() {
        "payload".into()
    } else {
        format!("payload ({})", differing.join(", "))
    }
}

/// Orders `kind[10].x` after `kind[9].y` (by index, then text).
fn natural_path_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn index(p: &str) -> Option<usize> {
        let open = p.find('[')?;
        let close = p.get(open..)?.find(']')?;
        p.get(open.saturating_add(1)..open.saturating_add(close))?
            .parse()
            .ok()
    }
    (index(a), a).cmp(&(index(b), b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_sort_by_index() {
        let mut v = vec!["e[10].a", "e[9].b", "e[9].a"];
        v.sort_by(|a, b| natural_path_order(a, b));
        assert_eq!(v, vec!["e[9].a", "e[9].b", "e[10].a"]);
    }
}
