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
//! - facts, ledger entries and draws are append-only (watermarks only move
//!   forward; account balances move only with a new ledger entry);
//! - no `unwrap`, `expect` or `panic!` outside tests.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod db;
pub mod error;
pub mod failpoint;
mod fleet;
pub mod ingest;
pub mod keys;
pub mod load;
mod migrate;
pub mod records;
pub mod settle;

use floorline_core::bundle::{
    Alias, Attestation, Binding, Bundle, Earning, Health, Probe, Session,
};
use floorline_core::facts::{EpochFacts, RawEarning};
use floorline_core::{EpochId, Policy};

pub use db::{Backend, MAX_BIND_PARAMS};
pub use error::{Result, StoreError};
pub use failpoint::{FailAction, FailPoint, FailSpec, FAILPOINT_ENV};
pub use fleet::MachineBinding;
pub use ingest::{Conflict, IngestReport, Watermark, MAX_BATCH_ITEMS, RESERVED_JOB_PREFIX};
pub use keys::{hash_token, ApiKey, Role};
pub use records::{
    Account, Adjust, AdjustKind, DrawRecord, EntryKind, EpochSummary, LedgerEntry, RunRecord,
    MAX_PAGE_LIMIT,
};
pub use settle::{Mode, SettleOutcome, SettleRequest};

use db::{Db, Link};
use failpoint::Failpoints;
use ingest::{Batch, Fact};

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
    /// keys, busy timeout), `sqlite::memory:` or `postgres://…`. Reads
    /// [`FAILPOINT_ENV`] once. Does not migrate: call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store> {
        let failpoints = Failpoints::default();
        if let Ok(text) = std::env::var(FAILPOINT_ENV) {
            if !text.is_empty() {
                failpoints.set(Some(FailSpec::parse(&text)?));
            }
        }
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

    /// The common path of kinds that name a machine through an alias.
    async fn ingest_resolved<F: Fact>(
        &self,
        items: &[F],
        extra: impl FnOnce(&mut Batch<F>),
    ) -> Result<IngestReport> {
        let mut batch = Batch::check(items)?;
        extra(&mut batch);
        batch.fail_if_invalid()?;
        let mut tx = self.db.begin_write().await?;
        batch.resolve_machines(&mut tx, true).await?;
        batch.classify(&mut tx, false).await?;
        batch.fail_if_invalid()?;
        let report = batch.insert(&mut tx).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Attestations (the `machines` of the bundle); they define machines (D1).
    pub async fn ingest_attestations(&self, items: &[Attestation]) -> Result<IngestReport> {
        let mut batch = Batch::check(items)?;
        let mut tx = self.db.begin_write().await?;
        self.lock_for_ingest(&mut tx, NAMES_LOCK).await?;
        ingest::attestation_checks(&mut tx, &mut batch).await?;
        batch.classify(&mut tx, true).await?;
        batch.fail_if_invalid()?;
        ingest::insert_machines(&mut tx, &batch).await?;
        let report = batch.insert(&mut tx).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Aliases: a provider key names an attested machine id.
    pub async fn ingest_aliases(&self, items: &[Alias]) -> Result<IngestReport> {
        let mut batch = Batch::check(items)?;
        let mut tx = self.db.begin_write().await?;
        self.lock_for_ingest(&mut tx, NAMES_LOCK).await?;
        batch.resolve_machines(&mut tx, false).await?;
        ingest::alias_checks(&mut tx, &mut batch).await?;
        batch.classify(&mut tx, true).await?;
        batch.fail_if_invalid()?;
        let report = batch.insert(&mut tx).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Bindings; a new binding may not overlap another of its machine (D2).
    pub async fn ingest_bindings(&self, items: &[Binding]) -> Result<IngestReport> {
        let mut batch = Batch::check(items)?;
        let mut tx = self.db.begin_write().await?;
        self.lock_for_ingest(&mut tx, BINDINGS_LOCK).await?;
        batch.resolve_machines(&mut tx, true).await?;
        batch.classify(&mut tx, true).await?;
        ingest::binding_overlaps(&mut tx, &mut batch).await?;
        batch.fail_if_invalid()?;
        let report = batch.insert(&mut tx).await?;
        tx.commit().await?;
        Ok(report)
    }

    pub async fn ingest_sessions(&self, items: &[Session]) -> Result<IngestReport> {
        self.ingest_resolved(items, |_| {}).await
    }

    pub async fn ingest_health(&self, items: &[Health]) -> Result<IngestReport> {
        self.ingest_resolved(items, |_| {}).await
    }

    /// Earnings; job ids under [`RESERVED_JOB_PREFIX`] are refused.
    pub async fn ingest_earnings(&self, items: &[Earning]) -> Result<IngestReport> {
        self.ingest_resolved(items, ingest::earning_checks).await
    }

    pub async fn ingest_probes(&self, items: &[Probe]) -> Result<IngestReport> {
        self.ingest_resolved(items, |_| {}).await
    }

    /// Source watermarks (they only move forward).
    pub async fn ingest_watermarks(&self, items: &[Watermark]) -> Result<IngestReport> {
        let mut tx = self.db.begin_write().await?;
        let report = ingest::ingest_watermarks(&mut tx, items).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Every fact of a bundle, kind by kind (machines first), each kind one
    /// batch of at most [`MAX_BATCH_ITEMS`]. Not one transaction: a later
    /// kind's invalid batch leaves the earlier kinds written (re-importing is
    /// idempotent). Prior draws and previous totals are not facts and are
    /// ignored.
    pub async fn ingest_bundle(&self, b: &Bundle) -> Result<Vec<(&'static str, IngestReport)>> {
        let mut out = Vec::new();
        for chunk in b.machines.chunks(MAX_BATCH_ITEMS) {
            out.push(("machines", self.ingest_attestations(chunk).await?));
        }
        for chunk in b.aliases.chunks(MAX_BATCH_ITEMS) {
            out.push(("aliases", self.ingest_aliases(chunk).await?));
        }
        for chunk in b.bindings.chunks(MAX_BATCH_ITEMS) {
            out.push(("bindings", self.ingest_bindings(chunk).await?));
        }
        for chunk in b.sessions.chunks(MAX_BATCH_ITEMS) {
            out.push(("sessions", self.ingest_sessions(chunk).await?));
        }
        for chunk in b.health.chunks(MAX_BATCH_ITEMS) {
            out.push(("health", self.ingest_health(chunk).await?));
        }
        for chunk in b.earnings.chunks(MAX_BATCH_ITEMS) {
            out.push(("earnings", self.ingest_earnings(chunk).await?));
        }
        for chunk in b.probes.chunks(MAX_BATCH_ITEMS) {
            out.push(("probes", self.ingest_probes(chunk).await?));
        }
        Ok(out)
    }

    /// The facts `epoch` plans from (see [`load`]), read in one transaction.
    pub async fn load_epoch_facts(&self, epoch: EpochId, policy: &Policy) -> Result<EpochFacts> {
        let mut tx = self.db.begin_read().await?;
        let facts = load::load_epoch_facts(&mut tx, epoch, policy).await?;
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
        let earnings = load::machine_earnings(&mut tx, epoch, policy, machine_id).await?;
        tx.commit().await?;
        Ok(earnings)
    }

    /// The raw facts `epoch` reads, as a facts bundle with `policy` in full.
    pub async fn export_bundle(&self, epoch: EpochId, policy: &Policy) -> Result<Bundle> {
        let mut tx = self.db.begin_read().await?;
        let bundle = load::export_bundle(&mut tx, epoch, policy).await?;
        tx.commit().await?;
        Ok(bundle)
    }
}
