//! Idempotent ingestion of the facts of SPEC §2 (and source watermarks).
//!
//! One batch is one transaction. The batch is validated whole first — field
//! checks (core's [`Check`]), machine names resolved to machine ids (by
//! `machine_id`, else an alias `provider_key`; an unknown name is invalid),
//! and the per-kind rules (bindings never overlap; the sums of earnings per
//! machine and of the network stay within `i64::MAX`) — and any problem rejects the whole batch with
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
//!
//! On SQLite a batch in which every item is a heartbeat of a stored session
//! is judged by the database in one pass instead ([`in_place`]); any other
//! batch, or one whose items are not all refinements, takes the path above.
//!
//! D1, a name that is a machine id always means that machine: names resolve
//! to machine ids before provider keys, so an alias whose provider key is (or
//! becomes) a machine id never applies to it; an item named through an alias
//! is recorded with the name it was sent under (`aliased_facts`), and the
//! batch that attests a machine of that id moves those rows to it
//! ([`kinds::rehome`] says why this design). A bundle is one transaction
//! ([`crate::Store::ingest_bundle`]).

mod in_place;
mod kinds;
mod watermarks;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;

use floorline_core::bundle::Check;
use floorline_core::refine::Resend;
use floorline_core::Invalid;
use serde::Serialize;

use crate::db::{
    bulk_rows, bulk_rows_per_statement, pg_columns, placeholders, row_placeholders,
    rows_per_statement, Backend, DecodeRow, Link, Val,
};
use crate::error::{Result, StoreError};

pub(crate) use kinds::{
    binding_overlaps, earning_checks, earning_sums, gb, insert_machines, overflowing_sums, rehome,
    AliasRow, AttestationRow, BindingRow, EarningRow, HealthRow, ProbeRow, SessionRow,
};
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
    /// Facts refined in place (SPEC §2: a session's later `last_seen_at` or
    /// first `disconnected_at`, a binding's first `to`).
    pub refined: u64,
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
/// Its kind (`F::KIND`, the name in error paths and the HTTP API) is core's
/// [`floorline_core::Fact`].
pub(crate) trait TableFact: floorline_core::Fact + Check + PartialEq + Sized {
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
    /// The row's key as `aliased_facts` (migration 8) records it: the text
    /// key and 0, or for kinds keyed by machine and instant those two.
    fn sent_key(&self) -> (String, i64);
    /// Whether [`Batch::insert`] learns which rows went in (`RETURNING`),
    /// for checks that must count only those (the sums of earnings).
    const TRACK_WRITTEN: bool = false;
    /// The columns a refinement (SPEC §2) rewrites; empty for the kinds that
    /// are never refined.
    const REFINED_COLUMNS: &'static [&'static str] = &[];
    /// Where a refinement keeps the row it replaces while some run may have
    /// read it (migration 9); empty for the kinds that are never refined.
    const HISTORY_TABLE: &'static str = "";
    /// How an item refines its stored row without the row being read, on
    /// SQLite ([`in_place`]); `None` for the kinds that never do.
    const PURE_REFINEMENT: Option<in_place::PureRefinement> = None;
    /// Whether this item has the shape of [`TableFact::PURE_REFINEMENT`].
    fn is_pure_refinement(&self) -> bool {
        false
    }
    /// Judges `new`, re-sent with the key of `old` (`origin` names `old` in
    /// a reason): identical is a duplicate, anything else a conflict, unless
    /// the kind has refinements (`floorline_core::refine`).
    fn resend(old: &Self, new: &Self, origin: &str) -> Resend {
        if old == new {
            Resend::Duplicate
        } else {
            Resend::Conflict(format!(
                "{origin} has this key with a different {}",
                diff_fields(old, new)
            ))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    New,
    Refined,
    Duplicate,
    Conflict(String),
}

/// Where the state an item is judged against comes from.
#[derive(Clone, Copy)]
enum Origin {
    Stored,
    Item(usize),
}

/// What [`judge`] decided: each item's fate, and for each key that is
/// written the index of the item whose values are written (the last one that
/// was new or refined), and whether the key was stored before.
struct Judged<K> {
    fates: Vec<(usize, Fate)>,
    last: HashMap<K, (usize, bool)>,
}

/// Judges `items` (those of `only`'s keys, or all) one after another, as if
/// sent in order: each against the state of its key so far — the stored
/// row, or the last item of the batch that was new or refined.
fn judge<F: TableFact>(
    items: &[F],
    stored: &HashMap<F::Key, F>,
    only: Option<&std::collections::HashSet<F::Key>>,
) -> Judged<F::Key> {
    let mut state: HashMap<F::Key, (&F, Origin)> = HashMap::new();
    let mut fates = Vec::new();
    let mut last: HashMap<F::Key, (usize, bool)> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let key = item.key();
        if only.is_some_and(|o| !o.contains(&key)) {
            continue;
        }
        let current = state
            .get(&key)
            .copied()
            .or_else(|| stored.get(&key).map(|old| (old, Origin::Stored)));
        let fate = match current {
            None => Fate::New,
            Some((old, origin)) => {
                let origin_text = match origin {
                    Origin::Stored => "a stored fact".to_string(),
                    Origin::Item(j) => format!("{}[{j}] of this batch", F::KIND),
                };
                match F::resend(old, item, &origin_text) {
                    Resend::Duplicate => Fate::Duplicate,
                    Resend::Refines => Fate::Refined,
                    Resend::Conflict(reason) => Fate::Conflict(reason),
                }
            }
        };
        if matches!(fate, Fate::New | Fate::Refined) {
            state.insert(key.clone(), (item, Origin::Item(i)));
            let was_stored = stored.contains_key(&key);
            last.insert(key, (i, was_stored));
        }
        fates.push((i, fate));
    }
    Judged { fates, last }
}

/// A batch on its way in: resolved copies of the items and what becomes of each.
pub(crate) struct Batch<F: TableFact> {
    pub(crate) items: Vec<F>,
    fates: Vec<Fate>,
    /// The provider key an item named its machine by, when that was an alias.
    sent_as: Vec<Option<String>>,
    /// Which items [`Batch::insert`] wrote (with [`TableFact::TRACK_WRITTEN`]).
    pub(crate) written: Vec<bool>,
    /// Per key written: the item whose values are written, and whether the
    /// key was stored (an update) or not (an insert). See [`judge`].
    last: HashMap<F::Key, (usize, bool)>,
    pub(crate) errs: Vec<Invalid>,
}

impl<F: TableFact> Batch<F> {
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
            sent_as: vec![None; items.len()],
            written: vec![false; items.len()],
            last: HashMap::new(),
            errs,
        })
    }

    pub(crate) fn path(&self, i: usize, field: &str) -> String {
        format!("{}[{i}].{field}", F::KIND)
    }

    /// Replaces every machine name by its machine id (D1); unknown names are
    /// invalid. With `via_aliases` false only machine ids count (alias targets).
    /// A name resolved through an alias is remembered (see [`Batch::insert`]).
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
                Some(name) => {
                    if name.via_alias {
                        if let Some(slot) = self.sent_as.get_mut(i) {
                            *slot = Some(item.machine().to_string());
                        }
                    }
                    item.set_machine(name.machine_id.clone());
                }
                None => {
                    let msg = format!("unknown machine `{}`", item.machine());
                    self.errs
                        .push(Invalid::new(format!("{}[{i}].machine_id", F::KIND), msg));
                }
            }
        }
        Ok(())
    }

    /// Sorts items into new, refined, duplicate and conflict, one after
    /// another as if sent in order ([`judge`]): against earlier items of
    /// the batch, and with `read_stored` (always for kinds with refinements)
    /// against stored rows too (one read per chunk of keys). Without it, stored clashes are found by [`Batch::insert`]
    /// from the row count (write first, read only on a collision: the fast
    /// path for kinds whose checks need nothing stored). Skipped when the
    /// batch is already invalid.
    pub(crate) async fn classify(&mut self, link: &mut Link, read_stored: bool) -> Result<()> {
        if !self.errs.is_empty() {
            return Ok(());
        }
        // Kinds with refinements read every stored key first (on PostgreSQL
        // locking the rows, in key order, until the batch commits), so that a
        // concurrent batch refining the same session waits and then judges
        // against what this one wrote.
        let read_stored = read_stored || !F::REFINED_COLUMNS.is_empty();
        let mut unique: Vec<F::Key> = Vec::new();
        let mut seen: HashMap<&F::Key, u32> = HashMap::with_capacity(self.items.len());
        let keys: Vec<F::Key> = self.items.iter().map(TableFact::key).collect();
        for (k, sent) in keys.iter().zip(&self.sent_as) {
            let n = seen.entry(k).or_insert(0);
            if *n == 0 {
                unique.push(k.clone());
            }
            *n += if sent.is_some() { 2 } else { 1 };
        }
        let stored = if read_stored {
            fetch_by_keys::<F>(link, &unique).await?
        } else {
            // Keys repeated inside the batch are read anyway, so that every
            // repeat compares with what is stored rather than with the first;
            // so are the keys of items named through an alias, so that only
            // the ones really written are recorded in `aliased_facts`.
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
        let judged = judge(&self.items, &stored, None);
        for (i, fate) in judged.fates {
            if let Some(slot) = self.fates.get_mut(i) {
                *slot = fate;
            }
        }
        self.last = judged.last;
        Ok(())
    }

    /// The values written for item `i`'s key: those of the last item of the
    /// batch that was new or refined under it.
    pub(crate) fn final_of(&self, i: usize) -> Option<&F> {
        let key = self.items.get(i)?.key();
        let (j, _) = self.last.get(&key)?;
        self.items.get(*j)
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

    /// The stored facts this batch refines, with the values they get.
    pub(crate) fn refined_stored(&self) -> impl Iterator<Item = &F> {
        self.last
            .values()
            .filter(|(_, was_stored)| *was_stored)
            .filter_map(|(j, _)| self.items.get(*j))
    }

    /// Writes the new items (each new key once, with the values of its last
    /// item: a session and its heartbeat in one batch are written as the
    /// heartbeat) and applies the refinements; returns the report.
    pub(crate) async fn insert(&mut self, link: &mut Link) -> Result<IngestReport> {
        let mut report = IngestReport::default();
        let fresh: Vec<(usize, F)> = self
            .new_items()
            .filter_map(|(i, _)| Some((i, self.final_of(i)?.clone())))
            .collect();
        // Kinds that are refined, or whose later checks count what went in,
        // learn which keys were written (`RETURNING`); the others count rows.
        let tracked = F::TRACK_WRITTEN || !F::REFINED_COLUMNS.is_empty();
        let mut wrote: Vec<usize> = Vec::new();
        let mut collided: HashSet<F::Key> = HashSet::new();
        // Each new row its own version (SPEC §6), reserved in this
        // transaction; a row that does not go in leaves a gap.
        let (mut version, _) = reserve_versions(link, fresh.len()).await?;
        let cols = F::COLUMNS.len().saturating_add(1);
        // PostgreSQL takes the whole batch as one array per column.
        let backend = link.backend();
        for chunk in fresh.chunks(bulk_rows_per_statement(backend, cols)) {
            let mut args = Vec::with_capacity(chunk.len().saturating_mul(cols));
            for (_, item) in chunk {
                item.values(&mut args);
                args.push(Val::from(version));
                version = version.saturating_add(1);
            }
            let (rows, args) = bulk_rows(backend, args, cols);
            let sql = format!(
                "INSERT INTO {} ({}, version) {rows} ON CONFLICT DO NOTHING",
                F::TABLE,
                F::COLUMNS.join(", "),
            );
            if tracked {
                let sql = format!("{sql} RETURNING {}", F::COLUMNS.join(", "));
                let rows = link.fetch_all::<F::Row>(&sql, args).await?;
                let mut keys = HashSet::with_capacity(rows.len());
                for row in rows {
                    keys.insert(F::from_row(row)?.key());
                }
                for (i, item) in chunk {
                    if keys.contains(&item.key()) {
                        wrote.push(*i);
                    } else {
                        collided.insert(item.key());
                    }
                }
                continue;
            }
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
                    if let Some(old) = stored.get(&item.key()).filter(|old| **old != *item) {
                        conflicts += 1;
                        if let Some(slot) = self.fates.get_mut(*i) {
                            *slot = Fate::Conflict(format!(
                                "a stored fact has this key with a different {}",
                                diff_fields(old, item)
                            ));
                        }
                    }
                }
                report.duplicates += n.saturating_sub(written).saturating_sub(conflicts);
            }
        }
        if !collided.is_empty() {
            // A concurrent batch wrote these keys since `classify`: judge
            // their items again, in order, against what it wrote.
            let keys: Vec<F::Key> = collided.iter().cloned().collect();
            let stored = fetch_by_keys::<F>(link, &keys).await?;
            let again = judge(&self.items, &stored, Some(&collided));
            for (i, fate) in again.fates {
                if let Some(slot) = self.fates.get_mut(i) {
                    *slot = fate;
                }
            }
            self.last.retain(|k, _| !collided.contains(k));
            self.last.extend(again.last);
        }
        self.update_refined(link).await?;
        for (i, (item, fate)) in self.items.iter().zip(&self.fates).enumerate() {
            match fate {
                Fate::New if tracked => report.accepted += 1,
                Fate::New => {}
                Fate::Refined => report.refined += 1,
                Fate::Duplicate => report.duplicates += 1,
                Fate::Conflict(reason) => report.conflicts.push(Conflict {
                    index: i,
                    key: item.key_text(),
                    reason: reason.clone(),
                }),
            }
        }
        report.conflicts.sort_by_key(|c| c.index);
        for i in wrote {
            if let Some(w) = self.written.get_mut(i) {
                *w = true;
            }
        }
        self.record_aliased(link).await?;
        Ok(report)
    }

    /// Rewrites the [`TableFact::REFINED_COLUMNS`] of every stored fact the batch
    /// refines, with the values of its last refinement: one statement per
    /// chunk (`UPDATE … FROM` a `VALUES` list or `UNNEST`), in key order.
    async fn update_refined(&self, link: &mut Link) -> Result<()> {
        let mut rows: Vec<&F> = self.refined_stored().collect();
        if rows.is_empty() {
            return Ok(());
        }
        rows.sort_by_key(|f| f.key_text());
        // A new version for each refined row; the row it replaces is kept
        // in the history table when some run may have read it (its version
        // ≤ `read_mark`), else overwritten in place (SPEC §6).
        let (mut version, read_mark) = reserve_versions(link, rows.len()).await?;
        // Only the key and the refined columns travel: the rest of a
        // refined row is the stored one by definition (SPEC §2).
        let moved: Vec<&str> = F::KEY_COLUMNS
            .iter()
            .chain(F::REFINED_COLUMNS)
            .copied()
            .collect();
        let at = column_positions::<F>(&moved)?;
        let kc = F::KEY_COLUMNS.len();
        let cols = moved.len().saturating_add(1);
        let backend = link.backend();
        let mut set: Vec<String> = F::REFINED_COLUMNS
            .iter()
            .map(|c| format!("{c} = u.{c}"))
            .collect();
        set.push("version = u.version".into());
        let on = |t: &str, u: &str| {
            F::KEY_COLUMNS
                .iter()
                .map(|c| format!("{t}.{c} = {u}.{c}"))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let kept: Vec<String> = F::COLUMNS.iter().map(|c| format!("t.{c}")).collect();
        for chunk in rows.chunks(bulk_rows_per_statement(backend, cols)) {
            let mut args = Vec::with_capacity(chunk.len().saturating_mul(cols));
            let mut keys = Vec::with_capacity(chunk.len().saturating_mul(kc));
            for item in chunk {
                let mut all = Vec::with_capacity(F::COLUMNS.len());
                item.values(&mut all);
                for (n, &i) in at.iter().enumerate() {
                    let v = all.get(i).cloned().ok_or_else(|| {
                        StoreError::Invariant(format!("{}: a row without column {i}", F::TABLE))
                    })?;
                    if n < kc {
                        keys.push(v.clone());
                    }
                    args.push(v);
                }
                args.push(Val::from(version));
                version = version.saturating_add(1);
            }
            if !F::HISTORY_TABLE.is_empty() {
                let (source, keys) = bulk_rows(backend, keys, kc);
                let sql = format!(
                    "WITH k ({}) AS ({source}) INSERT INTO {} ({}, version) SELECT {}, t.version \
                     FROM {} t JOIN k ON {} WHERE t.version <= {read_mark}",
                    F::KEY_COLUMNS.join(", "),
                    F::HISTORY_TABLE,
                    F::COLUMNS.join(", "),
                    kept.join(", "),
                    F::TABLE,
                    on("t", "k"),
                );
                link.execute(&sql, keys).await?;
            }
            let (source, args) = bulk_rows(backend, args, cols);
            let sql = format!(
                "WITH u ({}, version) AS ({source}) UPDATE {} SET {} FROM u WHERE {}",
                moved.join(", "),
                F::TABLE,
                set.join(", "),
                on(F::TABLE, "u")
            );
            link.execute(&sql, args).await?;
        }
        Ok(())
    }

    /// Remembers the provider key each new item was sent under when it
    /// named its machine through an alias (migration 8), so that the fact
    /// moves to the machine of that id if one is attested later (D1).
    async fn record_aliased(&self, link: &mut Link) -> Result<()> {
        let rows: Vec<(&str, (String, i64))> = self
            .items
            .iter()
            .zip(&self.fates)
            .zip(&self.sent_as)
            .filter(|((_, fate), _)| **fate == Fate::New)
            .filter_map(|((item, _), sent)| Some((sent.as_deref()?, item.sent_key())))
            .collect();
        for chunk in rows.chunks(rows_per_statement(4)) {
            let mut args = Vec::with_capacity(chunk.len().saturating_mul(4));
            for (key, (fact_key, at_ms)) in chunk {
                args.push(Val::from(*key));
                args.push(Val::from(F::KIND.as_str()));
                args.push(Val::from(fact_key.clone()));
                args.push(Val::from(*at_ms));
            }
            let sql = format!(
                "INSERT INTO aliased_facts (provider_key, kind, fact_key, at_ms) VALUES {} \
                 ON CONFLICT DO NOTHING",
                row_placeholders(chunk.len(), 4)
            );
            link.execute(&sql, args).await?;
        }
        Ok(())
    }
}

/// Where each of `columns` sits in [`TableFact::values`] (and [`TableFact::COLUMNS`]).
pub(crate) fn column_positions<F: TableFact>(columns: &[&str]) -> Result<Vec<usize>> {
    columns
        .iter()
        .map(|c| F::COLUMNS.iter().position(|x| x == c))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            StoreError::Invariant(format!(
                "{}: a key, refined or in-place column is not a column",
                F::TABLE
            ))
        })
}

/// Reserves `n` consecutive fact versions (SPEC §6) in `link`'s transaction:
/// the first of them, and the highest version any run has read
/// (`read_mark`). The counter is one row (migration 9), so on PostgreSQL its
/// lock is held until the transaction commits and versions commit in their
/// order. Nothing is reserved (and nothing locked) for `n = 0`.
pub(crate) async fn reserve_versions(link: &mut Link, n: usize) -> Result<(i64, i64)> {
    if n == 0 {
        return Ok((0, 0));
    }
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    let (last, read_mark): (i64, i64) = link
        .fetch_one(
            "UPDATE fact_versions SET last = last + $1 WHERE id = 1 RETURNING last, read_mark",
            vec![Val::from(n)],
        )
        .await?;
    Ok((last.saturating_sub(n).saturating_add(1), read_mark))
}

/// Stored rows of `F` for the given keys, by key.
pub(crate) async fn fetch_by_keys<F: TableFact>(
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
        // Refined kinds lock the rows they read on PostgreSQL, in key order
        // (two batches locking overlapping keys cannot deadlock), so that a
        // refinement is judged against the row it replaces.
        let lock = if pg && !F::REFINED_COLUMNS.is_empty() {
            format!(" ORDER BY {} FOR UPDATE", F::KEY_COLUMNS.join(", "))
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {} FROM {} WHERE {filter}{lock}",
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

/// What a name stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named {
    pub(crate) machine_id: String,
    /// Through an alias (the name is no machine id).
    pub(crate) via_alias: bool,
}

/// Maps each known name to its machine id: machine ids first, then (with
/// `via_aliases`) provider keys — a name that is a machine id always means
/// that machine, whatever alias has it as provider key (D1). Unknown names
/// are absent.
pub(crate) async fn resolve_names(
    link: &mut Link,
    names: &BTreeSet<String>,
    via_aliases: bool,
) -> Result<HashMap<String, Named>> {
    let names: Vec<&String> = names.iter().collect();
    let mut out = HashMap::with_capacity(names.len());
    for chunk in names.chunks(rows_per_statement(1)) {
        let args: Vec<Val> = chunk.iter().map(|n| Val::from(n.as_str())).collect();
        let list = placeholders(1, chunk.len());
        let sql = format!(
            "SELECT machine_id AS name, machine_id FROM machines WHERE machine_id IN {list}"
        );
        for r in link.fetch_all::<NameRow>(&sql, args.clone()).await? {
            out.insert(
                r.name,
                Named {
                    machine_id: r.machine_id,
                    via_alias: false,
                },
            );
        }
        if via_aliases {
            let sql = format!(
                "SELECT provider_key AS name, machine_id FROM aliases WHERE provider_key IN {list}"
            );
            for r in link.fetch_all::<NameRow>(&sql, args).await? {
                out.entry(r.name).or_insert(Named {
                    machine_id: r.machine_id,
                    via_alias: true,
                });
            }
        }
    }
    Ok(out)
}

/// Shifts the item index of every path of an invalid-batch error by
/// `offset` (`earnings[3].at` → `earnings[10003].at`): the batch was part of
/// a larger array.
pub(crate) fn offset_paths(e: StoreError, offset: usize) -> StoreError {
    if offset == 0 {
        return e;
    }
    match e {
        StoreError::Invalid(items) => StoreError::Invalid(
            items
                .into_iter()
                .map(|inv| Invalid::new(offset_path(&inv.path, offset), inv.message))
                .collect(),
        ),
        other => other,
    }
}

fn offset_path(path: &str, offset: usize) -> String {
    let (Some(open), Some(close)) = (path.find('['), path.find(']')) else {
        return path.to_string();
    };
    match path
        .get(open.saturating_add(1)..close)
        .and_then(|i| i.parse::<usize>().ok())
    {
        Some(i) => format!(
            "{}[{}]{}",
            path.get(..open).unwrap_or_default(),
            i.saturating_add(offset),
            path.get(close.saturating_add(1)..).unwrap_or_default()
        ),
        None => path.to_string(),
    }
}

/// Shifts the conflict indexes of a batch's report by `offset`.
pub(crate) fn offset_report(mut r: IngestReport, offset: usize) -> IngestReport {
    for c in &mut r.conflicts {
        c.index = c.index.saturating_add(offset);
    }
    r
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
    fn paths_shift_by_the_offset_of_their_batch() {
        assert_eq!(offset_path("probes[3].at", 10_000), "probes[10003].at");
        assert_eq!(offset_path("probes", 10_000), "probes");
    }

    #[test]
    fn paths_sort_by_index() {
        let mut v = vec!["e[10].a", "e[9].b", "e[9].a"];
        v.sort_by(|a, b| natural_path_order(a, b));
        assert_eq!(v, vec!["e[9].a", "e[9].b", "e[10].a"]);
    }
}
