//! floorline-store: the durable side of floorline on SQLite (embedded
//! default) or PostgreSQL (several instances), behind one [`Store`] type.
//!
//! - ingestion of the facts of SPEC §2, idempotent per key ([`ingest`]);
//! - reading an epoch as core's `EpochFacts` with a fixed handful of
//!   aggregate queries, and exporting it as a facts bundle ([`load`]);
//! - committing a settlement in one locked transaction ([`settle`]);
//! - the ledger, draws, runs, epochs ([`records`]), fleet queries (`fleet`)
//!   and API keys ([`keys`]).
//!
//! Invariants of this crate:
//! - only this crate knows SQL; every query is written once for both
//!   backends, and one conformance suite (`tests/it`) runs on both;
//! - money is `i64` micro-USD and instants `i64` ms since the Unix epoch (UTC);
//! - every write is one transaction: bad input is rejected whole before
//!   anything is written, and an error leaves nothing half-written;
//! - facts, ledger entries and draws are append-only, but for SPEC §2's
//!   refinements (a session's later `last_seen_at` and first
//!   `disconnected_at`, a binding's first `to`), applied in place
//!   (watermarks only move forward; account balances move only with a new
//!   ledger entry);
//! - no `unwrap`, `expect` or `panic!` outside tests.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod db;
pub mod error;
pub mod failpoint;
pub mod ingest;
pub mod keys;
pub mod load;
mod machines;
mod migrate;
pub mod months;
pub mod records;
pub mod settle;

use floorline_core::bundle::{
    Alias, Attestation, Binding, Bundle, Earning, Health, Probe, Session,
};
use floorline_core::facts::{EpochFacts, RawEarning};
use floorline_core::{EpochId, Fact, Policy, Watermark};
use std::future::Future;

pub use db::{Backend, ACQUIRE_TIMEOUT_MS, CONNECT_TIMEOUT_MS, MAX_BIND_PARAMS};
pub use error::{Result, StoreError};
pub use failpoint::FailPoint;
#[cfg(feature = "failpoints")]
pub use failpoint::{FailAction, FailSpec, FAILPOINT_ENV};
pub use ingest::{Conflict, IngestReport, MAX_BATCH_ITEMS, RESERVED_JOB_PREFIX};
pub use keys::{hash_token, ApiKey, Role};
pub use load::FactsAt;
pub use machines::MachineBinding;
pub use months::{AccountMonthDraw, PeriodTotals};
pub use records::{
    Account, Adjust, AdjustKind, DrawRecord, EntryKind, EpochSummary, LedgerEntry, RunRecord,
    MAX_PAGE_LIMIT,
};
pub use settle::{RunMode, SettleOutcome, SettleRequest};

use db::{Db, Link};
use failpoint::Failpoints;
use ingest::{Batch, TableFact};

/// The store: one pool of either backend, plus the test failpoint.
/// Cheap to clone (clones share the pool and the failpoint).
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    failpoints: Failpoints,
}

/// PostgreSQL advisory-lock keys of ingestion kinds whose checks read other
/// rows (names of machines and aliases; overlapping bindings).
const NAMES_LOCK: i64 = 0x666c_6f6f_726e_6d65; // "floornme"
const BINDINGS_LOCK: i64 = 0x666c_6f6f_7262_6e64; // "floorbnd"

impl Store {
    /// Connects to `sqlite://path` (file created if missing; WAL, foreign
    /// keys, busy timeout), `sqlite::memory:` or `postgres://…`. With the
    /// `failpoints` feature, reads `FLOORLINE_FAILPOINT` once. Does not
    /// migrate: call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store> {
        let failpoints = Failpoints::from_env()?;
        let db = Db::connect(url).await?;
        Ok(Store { db, failpoints })
    }

    /// Applies pending migrations (idempotent; safe from several processes at once).
    pub async fn migrate(&self) -> Result<()> {
        migrate::run(&self.db).await
    }

    /// The newest schema version this build applies.
    pub fn schema_version(&self) -> i64 {
        migrate::latest_version(&self.db)
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Arms (or with `None` disarms) the failpoint of this store and its clones.
    #[cfg(feature = "failpoints")]
    pub fn set_failpoint(&self, spec: Option<FailSpec>) {
        self.failpoints.set(spec);
    }

    /// Closes the pool (waits for connections in use to come back).
    pub async fn close(&self) {
        self.db.close().await;
    }

    async fn lock_for_ingest(&self, link: &mut Link, key: i64) -> Result<()> {
        if let Link::PgTx(_) = link {
            link.execute("SELECT pg_advisory_xact_lock($1)", vec![key.into()])
                .await?;
        }
        Ok(())
    }

    /// The shared side of [`NAMES_LOCK`]: batches that resolve names run
    /// side by side, but never beside a batch that defines names (whose
    /// re-homing must see every row recorded under a name, D1).
    async fn share_names(&self, link: &mut Link) -> Result<()> {
        if let Link::PgTx(_) = link {
            link.execute(
                "SELECT pg_advisory_xact_lock_shared($1)",
                vec![NAMES_LOCK.into()],
            )
            .await?;
        }
        Ok(())
    }

    /// The common path of kinds that name a machine through an alias.
    async fn resolved_in<F: TableFact>(
        &self,
        tx: &mut Link,
        items: &[F],
        extra: impl FnOnce(&mut Batch<F>),
    ) -> Result<IngestReport> {
        let mut batch = Batch::check(items)?;
        extra(&mut batch);
        batch.fail_if_invalid()?;
        if let Some(report) = batch.refine_in_place(tx).await? {
            return Ok(report);
        }
        self.share_names(tx).await?;
        batch.resolve_machines(tx, true).await?;
        batch.classify(tx, false).await?;
        batch.fail_if_invalid()?;
        batch.insert(tx).await
    }

    async fn attestations_in(&self, tx: &mut Link, items: &[Attestation]) -> Result<IngestReport> {
        let mut batch = Batch::check(items)?;
        self.lock_for_ingest(tx, NAMES_LOCK).await?;
        batch.classify(tx, true).await?;
        batch.fail_if_invalid()?;
        ingest::insert_machines(tx, &batch).await?;
        ingest::rehome(tx, &batch).await?;
        batch.insert(tx).await
    }

    async fn aliases_in(&self, tx: &mut Link, items: &[Alias]) -> Result<IngestReport> {
        let mut batch = Batch::check(items)?;
        self.lock_for_ingest(tx, NAMES_LOCK).await?;
        batch.resolve_machines(tx, false).await?;
        batch.classify(tx, true).await?;
        batch.fail_if_invalid()?;
        batch.insert(tx).await
    }

    async fn bindings_in(&self, tx: &mut Link, items: &[Binding]) -> Result<IngestReport> {
        let mut batch = Batch::check(items)?;
        // Names before bindings, the order every path takes the two locks in.
        self.share_names(tx).await?;
        self.lock_for_ingest(tx, BINDINGS_LOCK).await?;
        batch.resolve_machines(tx, true).await?;
        batch.classify(tx, true).await?;
        ingest::binding_overlaps(tx, &mut batch).await?;
        batch.fail_if_invalid()?;
        batch.insert(tx).await
    }

    async fn earnings_in(&self, tx: &mut Link, items: &[Earning]) -> Result<IngestReport> {
        let mut batch = Batch::check(items)?;
        ingest::earning_checks(&mut batch);
        batch.fail_if_invalid()?;
        self.share_names(tx).await?;
        batch.resolve_machines(tx, true).await?;
        batch.classify(tx, false).await?;
        batch.fail_if_invalid()?;
        let report = batch.insert(tx).await?;
        // Only after the insert is it known which earnings are new.
        ingest::earning_sums(tx, &mut batch).await?;
        batch.fail_if_invalid()?;
        Ok(report)
    }

    /// Writes one batch of facts of one kind, in one transaction: valid as
    /// a whole (else nothing is written), idempotent per key, with the
    /// kind's own rules ([`StoreFact`]).
    pub async fn ingest<F: StoreFact>(&self, items: &[F]) -> Result<IngestReport> {
        let mut tx = self.db.begin_write().await?;
        let report = F::ingest_in(self, &mut tx, items).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Checks any number of facts of one kind as one whole (against the
    /// store and each other: names, overlaps, sums), in batches of at most
    /// [`MAX_BATCH_ITEMS`] as [`Store::ingest_bundle`] takes them, and
    /// writes nothing; errors name `kind[index]` counted from the first item.
    pub async fn check<F: StoreFact>(&self, items: &[F]) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        self.lock_for_ingest(&mut tx, NAMES_LOCK).await?;
        self.lock_for_ingest(&mut tx, BINDINGS_LOCK).await?;
        let mut reports = Vec::new();
        self.chunks_in(&mut tx, items, &mut reports).await?;
        drop(tx); // rolled back
        Ok(())
    }

    /// Ingests `items` in batches of at most [`MAX_BATCH_ITEMS`] within
    /// `tx`, with errors and conflicts indexed from the first item.
    async fn chunks_in<F: StoreFact>(
        &self,
        tx: &mut Link,
        items: &[F],
        out: &mut Vec<(&'static str, IngestReport)>,
    ) -> Result<()> {
        for (n, chunk) in items.chunks(MAX_BATCH_ITEMS).enumerate() {
            let offset = n.saturating_mul(MAX_BATCH_ITEMS);
            let report = F::ingest_in(self, tx, chunk)
                .await
                .map_err(|e| ingest::offset_paths(e, offset))?;
            out.push((F::KIND.as_str(), ingest::offset_report(report, offset)));
        }
        Ok(())
    }

    /// Every fact of a bundle, kind by kind (machines first), each kind in
    /// batches of at most [`MAX_BATCH_ITEMS`], all in one transaction (SPEC
    /// §9): an invalid item anywhere leaves nothing written, and its error
    /// names it by its index in the bundle (`probes[12000].at`). Prior draws
    /// and previous totals are not facts and are ignored.
    pub async fn ingest_bundle(&self, b: &Bundle) -> Result<Vec<(&'static str, IngestReport)>> {
        let mut tx = self.db.begin_write().await?;
        let reports = self.bundle_in(&mut tx, b).await?;
        tx.commit().await?;
        Ok(reports)
    }

    /// Checks a bundle as [`Store::ingest_bundle`] would write it, and
    /// writes nothing.
    pub async fn check_bundle(&self, b: &Bundle) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        self.bundle_in(&mut tx, b).await?;
        drop(tx); // rolled back
        Ok(())
    }

    async fn bundle_in(
        &self,
        tx: &mut Link,
        b: &Bundle,
    ) -> Result<Vec<(&'static str, IngestReport)>> {
        self.lock_for_ingest(tx, NAMES_LOCK).await?;
        self.lock_for_ingest(tx, BINDINGS_LOCK).await?;
        let mut out = Vec::new();
        self.chunks_in(tx, &b.machines, &mut out).await?;
        self.chunks_in(tx, &b.aliases, &mut out).await?;
        self.chunks_in(tx, &b.bindings, &mut out).await?;
        self.chunks_in(tx, &b.sessions, &mut out).await?;
        self.chunks_in(tx, &b.health, &mut out).await?;
        self.chunks_in(tx, &b.earnings, &mut out).await?;
        self.chunks_in(tx, &b.probes, &mut out).await?;
        Ok(out)
    }

    /// A database overflow of a read names what overflowed: only earnings
    /// stored before ingestion refused sums past `i64::MAX` can cause one,
    /// and the stored sums of migration 8 say whose they are.
    pub(crate) async fn named<T>(&self, r: Result<T>) -> Result<T> {
        match r {
            Err(e) if e.is_overflow() => {
                let whose = match self.db.conn().await {
                    Ok(mut c) => ingest::overflowing_sums(&mut c).await.unwrap_or_default(),
                    Err(_) => Vec::new(),
                };
                let whose = if whose.is_empty() {
                    "some stored amounts".to_string()
                } else {
                    whose.join(", ")
                };
                Err(StoreError::Corrupt(format!(
                    "{whose} add up past i64::MAX µUSD, so no sum of them can be read \
                     (they were stored before ingestion refused such earnings): {e}"
                )))
            }
            other => other,
        }
    }

    /// The facts `epoch` plans from (see [`load`]), read in one transaction.
    pub async fn load_epoch_facts(&self, epoch: EpochId, policy: &Policy) -> Result<EpochFacts> {
        let mut tx = self.db.begin_read().await?;
        let facts = self
            .named(load::load_epoch_facts(&mut tx, epoch, policy, None).await)
            .await?;
        tx.commit().await?;
        Ok(facts)
    }

    /// The facts `epoch` plans from as a run read them (SPEC §6, *Fact
    /// versions*; see [`load::FactsAt`]), read in one transaction.
    pub async fn load_epoch_facts_at(
        &self,
        epoch: EpochId,
        policy: &Policy,
        at: load::FactsAt,
    ) -> Result<EpochFacts> {
        let mut tx = self.db.begin_read().await?;
        let facts = self
            .named(load::load_epoch_facts(&mut tx, epoch, policy, Some(at)).await)
            .await?;
        tx.commit().await?;
        Ok(facts)
    }

    /// One machine's raw earnings that some window of `epoch` reads, by
    /// `job_id` (what an explanation groups and shows).
    pub async fn machine_earnings(
        &self,
        epoch: EpochId,
        policy: &Policy,
        machine_id: &str,
    ) -> Result<Vec<RawEarning>> {
        let mut tx = self.db.begin_read().await?;
        let earnings = self
            .named(load::machine_earnings(&mut tx, epoch, policy, machine_id).await)
            .await?;
        tx.commit().await?;
        Ok(earnings)
    }

    /// The raw facts `epoch` reads, as a facts bundle with `policy` in full.
    pub async fn export_bundle(&self, epoch: EpochId, policy: &Policy) -> Result<Bundle> {
        let mut tx = self.db.begin_read().await?;
        let bundle = self
            .named(load::export_bundle(&mut tx, epoch, policy, None).await)
            .await?;
        tx.commit().await?;
        Ok(bundle)
    }

    /// The raw facts `epoch` reads as a run read them (see
    /// [`load::FactsAt`]), as a facts bundle with `policy` in full.
    pub async fn export_bundle_at(
        &self,
        epoch: EpochId,
        policy: &Policy,
        at: load::FactsAt,
    ) -> Result<Bundle> {
        let mut tx = self.db.begin_read().await?;
        let bundle = self
            .named(load::export_bundle(&mut tx, epoch, policy, Some(at)).await)
            .await?;
        tx.commit().await?;
        Ok(bundle)
    }
}

mod sealed {
    /// Only this crate's fact kinds are [`super::StoreFact`]s.
    pub trait Sealed {}
}

/// A fact kind the store ingests: core's [`Fact`] plus the kind's own rules
/// around the common path of [`ingest::Batch`] (attestations define machines
/// and move aliased facts, aliases name machine ids, bindings never overlap,
/// earnings keep their sums and leave reserved job ids alone, watermarks only
/// move forward).
pub trait StoreFact: Fact + sealed::Sealed {
    /// Checks and writes one batch in `tx` (not committed).
    #[doc(hidden)]
    fn ingest_in(
        store: &Store,
        tx: &mut Link,
        items: &[Self],
    ) -> impl Future<Output = Result<IngestReport>> + Send;
}

/// The [`StoreFact`] of each kind: its record type and its hook.
macro_rules! store_fact {
    ($t:ty, |$store:ident, $tx:ident, $items:ident| $hook:expr) => {
        impl sealed::Sealed for $t {}
        impl StoreFact for $t {
            fn ingest_in(
                $store: &Store,
                $tx: &mut Link,
                $items: &[Self],
            ) -> impl Future<Output = Result<IngestReport>> + Send {
                $hook
            }
        }
    };
}

// Attestations (the `machines` of the bundle) define machines (D1). A
// machine id that is some alias's provider key is attested all the same: the
// alias stops applying to it, and the facts sent under that name before move
// to the machine in this transaction.
store_fact!(Attestation, |s, tx, items| s.attestations_in(tx, items));
// A provider key names an attested machine id; one whose provider key is a
// machine id is stored but never applies (D1).
store_fact!(Alias, |s, tx, items| s.aliases_in(tx, items));
// A new binding may not overlap another of its machine (D2).
store_fact!(Binding, |s, tx, items| s.bindings_in(tx, items));
store_fact!(Session, |s, tx, items| s.resolved_in(tx, items, |_| {}));
store_fact!(Health, |s, tx, items| s.resolved_in(tx, items, |_| {}));
// Job ids under `RESERVED_JOB_PREFIX` are refused, and so is an earning that
// takes its machine's or the network's stored sum past `i64::MAX` µUSD.
store_fact!(Earning, |s, tx, items| s.earnings_in(tx, items));
store_fact!(Probe, |s, tx, items| s.resolved_in(tx, items, |_| {}));
// Watermarks only move forward (an earlier one is a conflict).
store_fact!(Watermark, |_s, tx, items| ingest::ingest_watermarks(
    tx, items
));
