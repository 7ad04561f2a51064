//! Settlement commit (SPEC §6): one transaction that takes the epoch's
//! cross-instance lock, reads the facts (prior draws included), plans, and
//! writes all of it or nothing.
//!
//! A live run writes, per granted share > 0: a `floor_draws` row (unique
//! `(machine_id, account_id, epoch)`), a ledger credit (unique reference
//! `floor:{epoch}:{machine}:{account}`, kind `provider_floor_draw`) with the
//! account's balance, and a `base_reward` earning; then the epoch's machine
//! totals (the next epoch's `previous_totals`) and the settlement run. A
//! preview writes only the run.
//!
//! Invariants, checked inside the transaction after writing (a failure rolls
//! everything back with [`StoreError::Invariant`]):
//! - Σ draws of the epoch = already settled + granted this run ≤ pool;
//! - every draw and total of the epoch is for a machine (these references
//!   are checked here in bulk, not by foreign keys: migration 4);
//! - every touched account's balance = Σ of its ledger entries.
//!
//! The unique keys are the real guard against double credit (a clash is
//! [`StoreError::AlreadySettled`]); the lock only avoids wasted work.

use std::collections::BTreeMap;

use floorline_core::bundle::MAX_ID_LEN;
use floorline_core::facts::EpochFacts;
use floorline_core::{CoreError, EpochId, Invalid, Plan, Policy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::{
    bulk_rows, bulk_rows_per_statement, placeholders, rows_per_statement, Backend, Link, Val,
};
use crate::error::{Result, StoreError};
use crate::failpoint::FailPoint;
use crate::load::{load_epoch_facts, previous_totals_run};
use crate::records::{check_actor, RunRecord};
use crate::Store;

/// How long a settlement waits for another instance's lock on the same epoch.
pub const SETTLE_LOCK_TIMEOUT_MS: u64 = 60_000;
/// The consumer account of base-reward earning rows.
pub const BASE_REWARD_CONSUMER: &str = "floorline";
/// The ledger kind of a settlement credit.
pub const FLOOR_DRAW_KIND: &str = "provider_floor_draw";

/// Live moves money; preview only records the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    Live,
    Preview,
}

impl RunMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::Live => "live",
            RunMode::Preview => "preview",
        }
    }

    pub fn parse(text: &str) -> Option<RunMode> {
        match text {
            "live" => Some(RunMode::Live),
            "preview" => Some(RunMode::Preview),
            _ => None,
        }
    }
}

/// Who settles, when, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettleRequest {
    pub mode: RunMode,
    /// The admin or `scheduler`; recorded on the run and the ledger entries.
    pub actor: String,
    /// Now, in ms (a live run needs a closed epoch: `now_ms ≥ E`).
    pub now_ms: i64,
    /// Settled before every watermark passed `E` (recorded; the engine decides).
    pub forced: bool,
}

/// What a committed settlement did.
#[derive(Debug, Clone)]
pub struct SettleOutcome {
    pub run: RunRecord,
    pub plan: Plan,
}

/// The ledger reference of a share (unique: the double-credit guard).
pub fn draw_reference(epoch: EpochId, machine_id: &str, account_id: &str) -> String {
    format!("floor:{epoch}:{machine_id}:{account_id}")
}

/// The job id of a share's base-reward earning: the reference, or a hash of
/// it when the reference is longer than an identifier may be.
pub fn base_reward_job_id(epoch: EpochId, machine_id: &str, account_id: &str) -> String {
    let reference = draw_reference(epoch, machine_id, account_id);
    if reference.len() <= MAX_ID_LEN {
        reference
    } else {
        let digest = hex::encode(Sha256::digest(reference.as_bytes()));
        format!("floor:{epoch}:{}", digest.get(..40).unwrap_or(&digest))
    }
}

/// The advisory-lock key of an epoch (PostgreSQL).
fn epoch_lock_key(epoch: EpochId) -> i64 {
    let d = Sha256::digest(format!("floorline:settle:{epoch}").as_bytes());
    let mut b = [0u8; 8];
    for (dst, src) in b.iter_mut().zip(d.iter()) {
        *dst = *src;
    }
    i64::from_be_bytes(b)
}

/// Takes the epoch's cross-instance lock inside `link`'s transaction.
async fn lock_epoch(link: &mut Link, epoch: EpochId) -> Result<()> {
    match link.backend() {
        // The write transaction began with BEGIN IMMEDIATE: it holds the
        // database write lock already (waiting up to the busy timeout).
        Backend::Sqlite => Ok(()),
        Backend::Postgres => {
            link.execute(
                &format!("SET LOCAL lock_timeout = {SETTLE_LOCK_TIMEOUT_MS}"),
                vec![],
            )
            .await?;
            link.execute(
                "SELECT pg_advisory_xact_lock($1)",
                vec![epoch_lock_key(epoch).into()],
            )
            .await?;
            Ok(())
        }
    }
}

/// One granted share of the plan.
struct Share<'a> {
    machine_id: &'a str,
    account_id: &'a str,
    amount_micro_usd: i64,
    verified_memory_gb: u32,
}

fn shares(plan: &Plan) -> Vec<Share<'_>> {
    plan.machines
        .iter()
        .flat_map(|m| {
            m.shares
                .iter()
                .filter(|s| s.granted_micro_usd > 0)
                .map(move |s| Share {
                    machine_id: &m.machine_id,
                    account_id: &s.account_id,
                    amount_micro_usd: s.granted_micro_usd,
                    verified_memory_gb: m.verified_memory_gb,
                })
        })
        .collect()
}

/// What a run records besides its plan: its number of draws, and what its
/// snapshot read (SPEC §6: the fact version, and the run whose previous
/// totals it read).
struct RunCounts {
    n_draws: usize,
    facts_read: (i64, Option<i64>),
}

impl Store {
    /// Settles (or previews) `epoch`; see the module docs.
    ///
    /// `plan_fn` gets the facts read inside the locked transaction and
    /// returns the plan to commit (normally `|f| floorline_core::plan(f, &policy)`).
    pub async fn settle<F>(
        &self,
        epoch: EpochId,
        policy: &Policy,
        req: SettleRequest,
        plan_fn: F,
    ) -> Result<SettleOutcome>
    where
        F: FnOnce(&EpochFacts) -> Result<Plan, CoreError> + Send,
    {
        let mut errs = Vec::new();
        check_actor(&req.actor, "actor", &mut errs);
        if req.mode == RunMode::Live && req.now_ms < epoch.end().0 {
            errs.push(Invalid::new(
                "epoch",
                format!("{epoch} is not closed until {}", epoch.end()),
            ));
        }
        if !errs.is_empty() {
            return Err(StoreError::Invalid(errs));
        }
        self.failpoints.hit(FailPoint::BeforeLock)?;
        let started = std::time::Instant::now();
        let mut link = self.db.begin_write().await?;
        lock_epoch(&mut link, epoch).await?;
        let locked = started.elapsed();
        // On PostgreSQL this transaction is READ COMMITTED (each statement
        // sees the database of its own start): the facts are read on a
        // reader that imported its snapshot of this moment, after the lock,
        // so every read agrees with the others and sees every earlier run.
        //
        // SPEC §6 fact versions: the run records the highest version its
        // snapshot read, and raises `read_mark` to it before reading, so that
        // from then on a refinement keeps the rows this run reads. On
        // PostgreSQL a second short transaction holds the counter row while
        // the snapshot is taken (no batch commits a version meanwhile:
        // versions commit in order, so the snapshot holds exactly the
        // versions up to the one recorded); on SQLite this transaction holds
        // the database write lock already.
        let (facts, facts_read) = match self.db.hold_versions().await? {
            Some((hold, version)) => {
                let reader = self.db.snapshot_reader(&mut link).await?;
                hold.commit().await?;
                let Some(mut reader) = reader else {
                    return Err(StoreError::Invariant(
                        "no snapshot reader on PostgreSQL".into(),
                    ));
                };
                let facts = self
                    .named(load_epoch_facts(&mut reader, epoch, policy, None).await)
                    .await?;
                let previous = previous_totals_run(&mut reader, epoch).await?;
                reader.commit().await?;
                (facts, (version, previous))
            }
            None => {
                let (version,): (i64,) = link
                    .fetch_one(
                        "UPDATE fact_versions SET read_mark = MAX(read_mark, last) \
                         WHERE id = 1 RETURNING last",
                        vec![],
                    )
                    .await?;
                let facts = self
                    .named(load_epoch_facts(&mut link, epoch, policy, None).await)
                    .await?;
                let previous = previous_totals_run(&mut link, epoch).await?;
                (facts, (version, previous))
            }
        };
        let loaded = started.elapsed();
        let plan = plan_fn(&facts)?;
        drop(facts);
        let planned = started.elapsed();
        if plan.epoch != epoch {
            return Err(StoreError::Invariant(format!(
                "the plan is for {}, not {epoch}",
                plan.epoch
            )));
        }
        self.failpoints.hit(FailPoint::AfterPlan)?;

        let shares = if req.mode == RunMode::Live {
            shares(&plan)
        } else {
            Vec::new()
        };
        let run = self
            .insert_run(
                &mut link,
                epoch,
                policy,
                &req,
                &plan,
                RunCounts {
                    n_draws: shares.len(),
                    facts_read,
                },
            )
            .await?;
        let run_written = started.elapsed();
        self.failpoints.hit(FailPoint::BetweenWrites)?;
        if req.mode == RunMode::Live {
            self.write_shares(&mut link, epoch, &req, run.id, &shares)
                .await?;
            self.write_totals(&mut link, epoch, run.id, &plan).await?;
            let checking = std::time::Instant::now();
            check_invariants(&mut link, epoch, &plan, &shares).await?;
            tracing::trace!(
                ms = checking.elapsed().as_millis(),
                "Settlement invariants checked."
            );
        }
        let written = started.elapsed();
        self.failpoints.hit(FailPoint::BeforeCommit)?;
        link.commit().await?;
        let ms = |from: std::time::Duration, to: std::time::Duration| {
            to.saturating_sub(from).as_millis()
        };
        tracing::debug!(
            %epoch,
            lock_ms = locked.as_millis(),
            load_ms = ms(locked, loaded),
            plan_ms = ms(loaded, planned),
            run_row_ms = ms(planned, run_written),
            draws_totals_checks_ms = ms(run_written, written),
            commit_ms = ms(written, started.elapsed()),
            "Settlement timed."
        );
        tracing::info!(
            epoch = %epoch,
            mode = req.mode.as_str(),
            run_id = run.id,
            n_draws = shares.len(),
            granted_micro_usd = plan.granted_total_micro_usd,
            unallocated_micro_usd = plan.unallocated_micro_usd,
            "Settlement committed."
        );
        self.failpoints.hit(FailPoint::AfterCommit)?;
        Ok(SettleOutcome { run, plan })
    }

    async fn insert_run(
        &self,
        link: &mut Link,
        epoch: EpochId,
        policy: &Policy,
        req: &SettleRequest,
        plan: &Plan,
        RunCounts {
            n_draws,
            facts_read: (facts_version, previous_totals_run_id),
        }: RunCounts,
    ) -> Result<RunRecord> {
        let plan_json =
            serde_json::to_string(plan).map_err(|e| StoreError::Invariant(e.to_string()))?;
        let policy_json =
            serde_json::to_string(policy).map_err(|e| StoreError::Invariant(e.to_string()))?;
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let mut run = RunRecord {
            id: 0,
            epoch,
            mode: req.mode,
            actor: req.actor.clone(),
            forced: req.forced,
            created_at_ms: req.now_ms,
            pool_micro_usd: plan.pool_micro_usd,
            already_settled_micro_usd: plan.already_settled_micro_usd,
            granted_total_micro_usd: plan.granted_total_micro_usd,
            unallocated_micro_usd: plan.unallocated_micro_usd,
            manifest_sha256: plan.manifest_sha256.clone(),
            n_machines: count(plan.machines.len()),
            n_eligible: count(plan.machines.iter().filter(|m| m.eligible).count()),
            n_draws: count(n_draws),
            trailing_revenue_micro_usd: plan.context.trailing_revenue_micro_usd,
            budget_micro_usd: plan.context.budget_micro_usd,
            reserve_micro_usd: plan.context.reserve_micro_usd,
            facts_version: Some(facts_version),
            previous_totals_run_id,
        };
        let (id,): (i64,) = link
            .fetch_one(
                "INSERT INTO settlement_runs (epoch, mode, actor, forced, created_at_ms, \
                 pool_micro_usd, already_settled_micro_usd, granted_total_micro_usd, \
                 unallocated_micro_usd, manifest_sha256, n_machines, n_eligible, n_draws, \
                 trailing_revenue_micro_usd, budget_micro_usd, reserve_micro_usd, \
                 policy_json, plan_json, facts_version, previous_totals_run_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18, $19, $20) RETURNING id",
                vec![
                    epoch.to_string().into(),
                    req.mode.as_str().into(),
                    req.actor.clone().into(),
                    req.forced.into(),
                    req.now_ms.into(),
                    run.pool_micro_usd.into(),
                    run.already_settled_micro_usd.into(),
                    run.granted_total_micro_usd.into(),
                    run.unallocated_micro_usd.into(),
                    run.manifest_sha256.clone().into(),
                    run.n_machines.into(),
                    run.n_eligible.into(),
                    run.n_draws.into(),
                    run.trailing_revenue_micro_usd.into(),
                    run.budget_micro_usd.into(),
                    run.reserve_micro_usd.into(),
                    policy_json.into(),
                    plan_json.into(),
                    facts_version.into(),
                    previous_totals_run_id.into(),
                ],
            )
            .await?;
        run.id = id;
        Ok(run)
    }

    /// Runs one write of a live settlement, then the `BetweenWrites` failpoint.
    async fn write(
        &self,
        link: &mut Link,
        epoch: EpochId,
        sql: &str,
        args: Vec<Val>,
    ) -> Result<()> {
        let started = std::time::Instant::now();
        let written = link.execute(sql, args).await;
        tracing::trace!(
            rows = written.as_ref().ok(),
            ms = started.elapsed().as_millis(),
            sql = sql.get(..60).unwrap_or(sql),
            "Settlement write."
        );
        written.map_err(|e| {
            if e.is_unique_violation() {
                StoreError::AlreadySettled {
                    epoch,
                    detail: e.to_string(),
                }
            } else {
                e
            }
        })?;
        self.failpoints.hit(FailPoint::BetweenWrites)
    }

    async fn write_shares(
        &self,
        link: &mut Link,
        epoch: EpochId,
        req: &SettleRequest,
        run_id: i64,
        shares: &[Share<'_>],
    ) -> Result<()> {
        let e = epoch.to_string();
        // Accounts first (the draws and entries reference them), one upsert per account.
        let mut per_account: BTreeMap<&str, i64> = BTreeMap::new();
        for s in shares {
            let slot = per_account.entry(s.account_id).or_insert(0);
            *slot = slot
                .checked_add(s.amount_micro_usd)
                .ok_or(StoreError::Core(CoreError::Overflow("account credit")))?;
        }
        let accounts: Vec<(&str, i64)> = per_account.into_iter().collect();
        let backend = link.backend();
        for chunk in accounts.chunks(bulk_rows_per_statement(backend, 3)) {
            let mut args = Vec::with_capacity(chunk.len().saturating_mul(3));
            for (a, amount) in chunk {
                args.extend([Val::from(*a), Val::from(*amount), Val::from(req.now_ms)]);
            }
            let (rows, args) = bulk_rows(backend, args, 3);
            let sql = format!(
                "INSERT INTO accounts (account_id, balance_micro_usd, created_at_ms) {rows} \
                 ON CONFLICT (account_id) DO UPDATE \
                 SET balance_micro_usd = accounts.balance_micro_usd + excluded.balance_micro_usd"
            );
            self.write(link, epoch, &sql, args).await?;
        }
        for chunk in shares.chunks(bulk_rows_per_statement(backend, 7)) {
            let mut args = Vec::with_capacity(chunk.len().saturating_mul(7));
            for s in chunk {
                args.extend([
                    Val::from(e.as_str()),
                    Val::from(s.machine_id),
                    Val::from(s.account_id),
                    Val::from(s.amount_micro_usd),
                    Val::from(i64::from(s.verified_memory_gb)),
                    Val::from(run_id),
                    Val::from(req.now_ms),
                ]);
            }
            let (rows, args) = bulk_rows(backend, args, 7);
            let sql = format!(
                "INSERT INTO floor_draws (epoch, machine_id, account_id, amount_micro_usd, \
                 verified_memory_gb, run_id, created_at_ms) {rows}"
            );
            self.write(link, epoch, &sql, args).await?;
        }
        for chunk in shares.chunks(bulk_rows_per_statement(backend, 8)) {
            let mut args = Vec::with_capacity(chunk.len().saturating_mul(8));
            for s in chunk {
                args.extend([
                    Val::from(s.account_id),
                    Val::from(s.amount_micro_usd),
                    Val::from(FLOOR_DRAW_KIND),
                    Val::from(draw_reference(epoch, s.machine_id, s.account_id)),
                    Val::from(e.as_str()),
                    Val::from(s.machine_id),
                    Val::from(req.actor.as_str()),
                    Val::from(req.now_ms),
                ]);
            }
            let (rows, args) = bulk_rows(backend, args, 8);
            let sql = format!(
                "INSERT INTO ledger_entries (account_id, amount_micro_usd, kind, reference, epoch, \
                 machine_id, actor, created_at_ms) {rows}"
            );
            self.write(link, epoch, &sql, args).await?;
        }
        // The base-reward earning shows the draw in the provider's history.
        // It is a fact of its own version (after every one this run read),
        // so that the facts "as this run read them" do not hold it.
        let at_ms = epoch.end().0.saturating_sub(1);
        let (mut version, _) = crate::ingest::reserve_versions(link, shares.len()).await?;
        for chunk in shares.chunks(bulk_rows_per_statement(backend, 9)) {
            let mut args = Vec::with_capacity(chunk.len().saturating_mul(9));
            for s in chunk {
                args.extend([
                    Val::from(base_reward_job_id(epoch, s.machine_id, s.account_id)),
                    Val::from(s.machine_id),
                    Val::from(BASE_REWARD_CONSUMER),
                    Val::from(s.amount_micro_usd),
                    Val::from("base_reward"),
                    Val::from(false),
                    Val::OptText(None),
                    Val::from(at_ms),
                    Val::from(version),
                ]);
                version = version.saturating_add(1);
            }
            let (rows, args) = bulk_rows(backend, args, 9);
            let sql = format!(
                "INSERT INTO earnings (job_id, machine_id, consumer_account_id, amount_micro_usd, \
                 kind, pinned, model, at_ms, version) {rows}"
            );
            self.write(link, epoch, &sql, args).await?;
        }
        Ok(())
    }

    /// Each machine's epoch total (organic earned + all draws of the epoch).
    async fn write_totals(
        &self,
        link: &mut Link,
        epoch: EpochId,
        run_id: i64,
        plan: &Plan,
    ) -> Result<()> {
        let e = epoch.to_string();
        let backend = link.backend();
        let mut totals = Vec::new();
        for m in &plan.machines {
            let drawn = m
                .prior_micro_usd
                .checked_add(m.granted_micro_usd)
                .ok_or(StoreError::Core(CoreError::Overflow("machine total")))?;
            let total = m
                .earned_micro_usd
                .checked_add(drawn)
                .ok_or(StoreError::Core(CoreError::Overflow("machine total")))?;
            totals.push((m.machine_id.as_str(), m.earned_micro_usd, drawn, total));
        }
        // A re-run replaces the epoch's totals: delete, then plain inserts
        // (an upsert would pay a conflict probe per row).
        // The totals this run replaces stay readable for the runs of the
        // next period that read them (SPEC §6; `FactsAt::previous_totals_run`).
        self.write(
            link,
            epoch,
            "INSERT INTO machine_totals_history (epoch, machine_id, earned_micro_usd, \
             drawn_micro_usd, total_micro_usd, run_id) \
             SELECT epoch, machine_id, earned_micro_usd, drawn_micro_usd, total_micro_usd, run_id \
             FROM machine_totals WHERE epoch = $1",
            vec![e.as_str().into()],
        )
        .await?;
        self.write(
            link,
            epoch,
            "DELETE FROM machine_totals WHERE epoch = $1",
            vec![e.as_str().into()],
        )
        .await?;
        for chunk in totals.chunks(bulk_rows_per_statement(backend, 6)) {
            let mut args = Vec::with_capacity(chunk.len().saturating_mul(6));
            for (m, earned, drawn, total) in chunk {
                args.extend([
                    Val::from(e.as_str()),
                    Val::from(*m),
                    Val::from(*earned),
                    Val::from(*drawn),
                    Val::from(*total),
                    Val::from(run_id),
                ]);
            }
            let (rows, args) = bulk_rows(backend, args, 6);
            let sql = format!(
                "INSERT INTO machine_totals (epoch, machine_id, earned_micro_usd, drawn_micro_usd, \
                 total_micro_usd, run_id) {rows}"
            );
            self.write(link, epoch, &sql, args).await?;
        }
        Ok(())
    }
}

/// Reads the totals back inside the transaction (see the module docs).
async fn check_invariants(
    link: &mut Link,
    epoch: EpochId,
    plan: &Plan,
    shares: &[Share<'_>],
) -> Result<()> {
    let drawn = link
        .scalar(
            "SELECT CAST(COALESCE(SUM(amount_micro_usd), 0) AS BIGINT) FROM floor_draws \
             WHERE epoch = $1",
            vec![epoch.to_string().into()],
        )
        .await?;
    let expected = plan
        .already_settled_micro_usd
        .checked_add(plan.granted_total_micro_usd)
        .ok_or(StoreError::Core(CoreError::Overflow("epoch draws")))?;
    if drawn != expected {
        return Err(StoreError::Invariant(format!(
            "Σ draws of {epoch} is {drawn} µUSD, expected {expected} (already settled + granted)"
        )));
    }
    if drawn > plan.pool_micro_usd {
        return Err(StoreError::Invariant(format!(
            "Σ draws of {epoch} is {drawn} µUSD, over the pool of {}",
            plan.pool_micro_usd
        )));
    }
    // The machine references of the epoch's draws and totals, which have no
    // foreign key (migration 4): one anti-join each instead of a lookup and a
    // row lock per row.
    for (table, what) in [("floor_draws", "a draw"), ("machine_totals", "a total")] {
        let dangling: Option<(String,)> = link
            .fetch_optional(
                &format!(
                    "SELECT t.machine_id FROM {table} t WHERE t.epoch = $1 \
                     AND NOT EXISTS (SELECT 1 FROM machines m WHERE m.machine_id = t.machine_id) \
                     LIMIT 1"
                ),
                vec![epoch.to_string().into()],
            )
            .await?;
        if let Some((machine_id,)) = dangling {
            return Err(StoreError::Invariant(format!(
                "{what} of {epoch} is for `{machine_id}`, which is no machine"
            )));
        }
    }
    let mut accounts: Vec<&str> = shares.iter().map(|s| s.account_id).collect();
    accounts.sort_unstable();
    accounts.dedup();
    for chunk in accounts.chunks(rows_per_statement(1)) {
        let args: Vec<Val> = chunk.iter().map(|a| Val::from(*a)).collect();
        let sql = format!(
            "SELECT a.account_id, a.balance_micro_usd, \
             CAST(COALESCE(SUM(l.amount_micro_usd), 0) AS BIGINT) \
             FROM accounts a LEFT JOIN ledger_entries l ON l.account_id = a.account_id \
             WHERE a.account_id IN {} GROUP BY a.account_id, a.balance_micro_usd",
            placeholders(1, chunk.len())
        );
        let rows: Vec<(String, i64, i64)> = link.fetch_all(&sql, args).await?;
        if rows.len() != chunk.len() {
            return Err(StoreError::Invariant(
                "a credited account has no row".into(),
            ));
        }
        if let Some((a, balance, sum)) = rows.iter().find(|(_, b, s)| b != s) {
            return Err(StoreError::Invariant(format!(
                "balance of `{a}` is {balance} µUSD but its ledger sums to {sum}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_references_hash_into_an_identifier() {
        let e: EpochId = "2026-10".parse().unwrap();
        assert_eq!(base_reward_job_id(e, "m1", "a1"), "floor:2026-10:m1:a1");
        let long = "x".repeat(128);
        let id = base_reward_job_id(e, &long, "a1");
        assert!(id.len() <= MAX_ID_LEN);
        assert!(id.starts_with("floor:2026-10:"));
        assert_ne!(epoch_lock_key(e), epoch_lock_key(e.next()));
    }
}
