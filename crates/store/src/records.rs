//! Reading and correcting the money: accounts and their ledger, adjustments
//! and clawbacks (new entries, never edits), draws, settlement runs and the
//! epochs that have them.
//!
//! Invariants: a ledger entry is never updated or deleted; an account's
//! balance changes only in the transaction that appends the entry, and equals
//! Σ of its entries (checked before commit); pages are capped at
//! [`MAX_PAGE_LIMIT`].

use std::collections::BTreeMap;

use floorline_core::bundle::{check_id, MAX_TEXT_LEN};
use floorline_core::money::MAX_ADJUSTMENT_MICRO_USD;
use floorline_core::time::Period;
use floorline_core::{EpochId, Invalid};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};
use crate::settle::RunMode;
use crate::Store;

/// Most rows one page of draws returns.
pub const MAX_PAGE_LIMIT: u32 = 1_000;

pub(crate) fn check_actor(actor: &str, path: &str, errs: &mut Vec<Invalid>) {
    if actor.trim().is_empty() || actor.len() > MAX_TEXT_LEN {
        errs.push(Invalid::new(
            path,
            format!("must be 1–{MAX_TEXT_LEN} bytes, not blank"),
        ));
    }
    // PostgreSQL cannot store NUL in text (a 500 there, verbatim on SQLite).
    if actor.contains('\0') {
        errs.push(Invalid::new(path, "must not contain NUL characters"));
    }
}

/// One settlement run (live or preview).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub epoch: EpochId,
    pub mode: RunMode,
    pub actor: String,
    pub forced: bool,
    pub created_at_ms: i64,
    pub pool_micro_usd: i64,
    pub already_settled_micro_usd: i64,
    pub granted_total_micro_usd: i64,
    pub unallocated_micro_usd: i64,
    pub manifest_sha256: String,
    pub n_machines: i64,
    pub n_eligible: i64,
    pub n_draws: i64,
    pub trailing_revenue_micro_usd: i64,
    pub budget_micro_usd: i64,
    pub reserve_micro_usd: i64,
    /// The highest fact version the run's snapshot read (SPEC §6); `None`
    /// for runs recorded before fact versions (migration 9).
    pub facts_version: Option<i64>,
    /// The run whose totals of the previous epoch (D11's `P`) this run
    /// read; `None` when there were none (or before migration 9).
    pub previous_totals_run_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    id: i64,
    epoch: String,
    mode: String,
    actor: String,
    forced: bool,
    created_at_ms: i64,
    pool_micro_usd: i64,
    already_settled_micro_usd: i64,
    granted_total_micro_usd: i64,
    unallocated_micro_usd: i64,
    manifest_sha256: String,
    n_machines: i64,
    n_eligible: i64,
    n_draws: i64,
    trailing_revenue_micro_usd: i64,
    budget_micro_usd: i64,
    reserve_micro_usd: i64,
    facts_version: Option<i64>,
    previous_totals_run_id: Option<i64>,
}

pub(crate) const RUN_COLUMNS: &str =
    "id, epoch, mode, actor, forced, created_at_ms, pool_micro_usd, \
     already_settled_micro_usd, granted_total_micro_usd, unallocated_micro_usd, manifest_sha256, \
     n_machines, n_eligible, n_draws, trailing_revenue_micro_usd, budget_micro_usd, \
     reserve_micro_usd, facts_version, previous_totals_run_id";

pub(crate) fn parse_epoch(text: &str) -> Result<EpochId> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("epoch: {e}")))
}

impl TryFrom<RunRow> for RunRecord {
    type Error = StoreError;
    fn try_from(r: RunRow) -> Result<RunRecord> {
        Ok(RunRecord {
            id: r.id,
            epoch: parse_epoch(&r.epoch)?,
            mode: RunMode::parse(&r.mode)
                .ok_or_else(|| StoreError::Corrupt(format!("run mode `{}`", r.mode)))?,
            actor: r.actor,
            forced: r.forced,
            created_at_ms: r.created_at_ms,
            pool_micro_usd: r.pool_micro_usd,
            already_settled_micro_usd: r.already_settled_micro_usd,
            granted_total_micro_usd: r.granted_total_micro_usd,
            unallocated_micro_usd: r.unallocated_micro_usd,
            manifest_sha256: r.manifest_sha256,
            n_machines: r.n_machines,
            n_eligible: r.n_eligible,
            n_draws: r.n_draws,
            trailing_revenue_micro_usd: r.trailing_revenue_micro_usd,
            budget_micro_usd: r.budget_micro_usd,
            reserve_micro_usd: r.reserve_micro_usd,
            facts_version: r.facts_version,
            previous_totals_run_id: r.previous_totals_run_id,
        })
    }
}

/// Kinds of ledger entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    ProviderFloorDraw,
    Adjustment,
    Clawback,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::ProviderFloorDraw => "provider_floor_draw",
            EntryKind::Adjustment => "adjustment",
            EntryKind::Clawback => "clawback",
        }
    }

    pub fn parse(text: &str) -> Option<EntryKind> {
        match text {
            "provider_floor_draw" => Some(EntryKind::ProviderFloorDraw),
            "adjustment" => Some(EntryKind::Adjustment),
            "clawback" => Some(EntryKind::Clawback),
            _ => None,
        }
    }
}

/// One ledger entry (credits positive, debits negative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub id: i64,
    pub account_id: String,
    pub amount_micro_usd: i64,
    pub kind: EntryKind,
    pub reference: String,
    pub epoch: Option<String>,
    pub machine_id: Option<String>,
    pub reason: Option<String>,
    pub actor: String,
    pub created_at_ms: i64,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: i64,
    account_id: String,
    amount_micro_usd: i64,
    kind: String,
    reference: String,
    epoch: Option<String>,
    machine_id: Option<String>,
    reason: Option<String>,
    actor: String,
    created_at_ms: i64,
}

const ENTRY_COLUMNS: &str =
    "id, account_id, amount_micro_usd, kind, reference, epoch, machine_id, reason, actor, created_at_ms";

impl TryFrom<EntryRow> for LedgerEntry {
    type Error = StoreError;
    fn try_from(r: EntryRow) -> Result<LedgerEntry> {
        Ok(LedgerEntry {
            id: r.id,
            kind: EntryKind::parse(&r.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("ledger kind `{}`", r.kind)))?,
            account_id: r.account_id,
            amount_micro_usd: r.amount_micro_usd,
            reference: r.reference,
            epoch: r.epoch,
            machine_id: r.machine_id,
            reason: r.reason,
            actor: r.actor,
            created_at_ms: r.created_at_ms,
        })
    }
}

/// A correction an admin makes: a new entry with a reason, never an edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustKind {
    /// Either sign.
    Adjustment,
    /// Takes money back: the amount must be negative.
    Clawback,
}

/// The input of [`Store::adjust`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjust {
    pub account_id: String,
    /// Signed; never 0.
    pub amount_micro_usd: i64,
    pub kind: AdjustKind,
    pub reason: String,
    pub actor: String,
    pub now_ms: i64,
    /// An idempotency key; by default a hash of the other fields, so a
    /// retried identical request returns the first entry.
    #[serde(default)]
    pub reference: Option<String>,
}

impl Adjust {
    fn entry_kind(&self) -> EntryKind {
        match self.kind {
            AdjustKind::Adjustment => EntryKind::Adjustment,
            AdjustKind::Clawback => EntryKind::Clawback,
        }
    }

    fn check(&self) -> Result<()> {
        let mut errs = Vec::new();
        if let Err(m) = check_id(&self.account_id) {
            errs.push(Invalid::new("account_id", m));
        }
        if self.amount_micro_usd == 0 {
            errs.push(Invalid::new("amount_micro_usd", "must not be 0"));
        }
        if self.amount_micro_usd.unsigned_abs() > MAX_ADJUSTMENT_MICRO_USD.unsigned_abs() {
            errs.push(Invalid::new(
                "amount_micro_usd",
                format!(
                    "must be between -{MAX_ADJUSTMENT_MICRO_USD} and {MAX_ADJUSTMENT_MICRO_USD} \
                     (±$1 000 000 000)"
                ),
            ));
        }
        if self.kind == AdjustKind::Clawback && self.amount_micro_usd > 0 {
            errs.push(Invalid::new(
                "amount_micro_usd",
                "a clawback must be negative",
            ));
        }
        check_actor(&self.reason, "reason", &mut errs);
        check_actor(&self.actor, "actor", &mut errs);
        if let Some(r) = &self.reference {
            if let Err(m) = check_id(r) {
                errs.push(Invalid::new("reference", m));
            }
            if r.starts_with("floor:") {
                errs.push(Invalid::new(
                    "reference",
                    "the prefix `floor:` is reserved for settlement",
                ));
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Invalid(errs))
        }
    }

    fn reference(&self) -> String {
        self.reference.clone().unwrap_or_else(|| {
            let text = format!(
                "{}\0{}\0{}\0{}\0{}\0{}",
                self.account_id,
                self.amount_micro_usd,
                self.entry_kind().as_str(),
                self.reason,
                self.actor,
                self.now_ms
            );
            let d = hex::encode(Sha256::digest(text.as_bytes()));
            format!("adj:{}", d.get(..32).unwrap_or(&d))
        })
    }
}

/// An adjustment may not take a balance past ±[`MAX_ADJUSTMENT_MICRO_USD`]
/// (one that brings an out-of-bounds balance back towards 0 is fine), so a
/// balance never overflows and settlement credits always fit (see the
/// constant's docs). Refusals name `amount_micro_usd`.
fn check_balance(account_id: &str, before: i64, amount: i64) -> Result<()> {
    let after = before.checked_add(amount);
    let fits = after.is_some_and(|a| {
        a.unsigned_abs() <= MAX_ADJUSTMENT_MICRO_USD.unsigned_abs()
            || a.unsigned_abs() < before.unsigned_abs()
    });
    if fits {
        Ok(())
    } else {
        Err(StoreError::Invalid(vec![Invalid::new(
            "amount_micro_usd",
            format!(
                "would take the balance of `{account_id}` from {before} µUSD past \
                 ±{MAX_ADJUSTMENT_MICRO_USD} µUSD"
            ),
        )]))
    }
}

/// One settled draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DrawRecord {
    pub epoch: String,
    pub machine_id: String,
    pub account_id: String,
    pub amount_micro_usd: i64,
    pub verified_memory_gb: i64,
    pub run_id: i64,
    pub created_at_ms: i64,
}

/// An epoch that has settlement runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EpochSummary {
    pub epoch: EpochId,
    pub n_runs: i64,
    pub n_live_runs: i64,
    pub latest_run_id: i64,
    pub last_run_at_ms: i64,
    pub n_draws: i64,
    pub drawn_micro_usd: i64,
}

/// An account and its balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Account {
    pub account_id: String,
    pub balance_micro_usd: i64,
    pub created_at_ms: i64,
}

impl Store {
    /// The account, if it has ever been credited or adjusted.
    pub async fn account(&self, account_id: &str) -> Result<Option<Account>> {
        let mut c = self.db.conn().await?;
        c.fetch_optional(
            "SELECT account_id, balance_micro_usd, created_at_ms FROM accounts WHERE account_id = $1",
            vec![account_id.into()],
        )
        .await
    }

    /// The account's balance (0 for an account never credited).
    pub async fn balance(&self, account_id: &str) -> Result<i64> {
        Ok(self
            .account(account_id)
            .await?
            .map_or(0, |a| a.balance_micro_usd))
    }

    /// The account's ledger, oldest first.
    pub async fn ledger_entries(&self, account_id: &str) -> Result<Vec<LedgerEntry>> {
        let mut c = self.db.conn().await?;
        c.fetch_all::<EntryRow>(
            &format!(
                "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE account_id = $1 ORDER BY id"
            ),
            vec![account_id.into()],
        )
        .await?
        .into_iter()
        .map(LedgerEntry::try_from)
        .collect()
    }

    /// Appends an adjustment or clawback and moves the balance with it.
    /// The account must exist or be bound to a machine ([`StoreError::NotFound`]);
    /// a reused reference with other content is a [`StoreError::Conflict`].
    pub async fn adjust(&self, adj: &Adjust) -> Result<LedgerEntry> {
        adj.check()?;
        let reference = adj.reference();
        let kind = adj.entry_kind();
        let mut tx = self.db.begin_write().await?;
        let existing: Option<EntryRow> = tx
            .fetch_optional(
                &format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE reference = $1"),
                vec![reference.clone().into()],
            )
            .await?;
        if let Some(row) = existing {
            let e = LedgerEntry::try_from(row)?;
            let same = e.account_id == adj.account_id
                && e.amount_micro_usd == adj.amount_micro_usd
                && e.kind == kind
                && e.reason.as_deref() == Some(adj.reason.as_str())
                && e.actor == adj.actor;
            return if same {
                Ok(e)
            } else {
                Err(StoreError::Conflict(format!(
                    "ledger reference `{reference}` is used by another entry"
                )))
            };
        }
        let known = tx
            .scalar(
                "SELECT (SELECT COUNT(*) FROM accounts WHERE account_id = $1) \
                      + (SELECT COUNT(*) FROM bindings WHERE account_id = $1)",
                vec![adj.account_id.clone().into()],
            )
            .await?;
        if known == 0 {
            return Err(StoreError::NotFound(format!(
                "account `{}`",
                adj.account_id
            )));
        }
        // The no-op update locks the account's row (PostgreSQL), so the
        // balance checked is the one this entry moves, whatever runs beside.
        let before = tx
            .scalar(
                "INSERT INTO accounts (account_id, balance_micro_usd, created_at_ms) \
                 VALUES ($1, 0, $2) ON CONFLICT (account_id) DO UPDATE \
                 SET balance_micro_usd = accounts.balance_micro_usd \
                 RETURNING balance_micro_usd",
                vec![adj.account_id.clone().into(), adj.now_ms.into()],
            )
            .await?;
        check_balance(&adj.account_id, before, adj.amount_micro_usd)?;
        let row: EntryRow = tx
            .fetch_one(
                &format!(
                    "INSERT INTO ledger_entries (account_id, amount_micro_usd, kind, reference, \
                     reason, actor, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     RETURNING {ENTRY_COLUMNS}"
                ),
                vec![
                    adj.account_id.clone().into(),
                    adj.amount_micro_usd.into(),
                    kind.as_str().into(),
                    reference.into(),
                    adj.reason.clone().into(),
                    adj.actor.clone().into(),
                    adj.now_ms.into(),
                ],
            )
            .await?;
        tx.execute(
            "UPDATE accounts SET balance_micro_usd = balance_micro_usd + $1 WHERE account_id = $2",
            vec![adj.amount_micro_usd.into(), adj.account_id.clone().into()],
        )
        .await?;
        let (balance, sum): (i64, i64) = tx
            .fetch_one(
                "SELECT a.balance_micro_usd, \
                 CAST((SELECT COALESCE(SUM(amount_micro_usd), 0) FROM ledger_entries l \
                       WHERE l.account_id = a.account_id) AS BIGINT) \
                 FROM accounts a WHERE a.account_id = $1",
                vec![adj.account_id.clone().into()],
            )
            .await?;
        if balance != sum {
            return Err(StoreError::Invariant(format!(
                "balance of `{}` is {balance} µUSD but its ledger sums to {sum}",
                adj.account_id
            )));
        }
        tx.commit().await?;
        tracing::info!(
            account_id = %adj.account_id,
            amount_micro_usd = adj.amount_micro_usd,
            kind = kind.as_str(),
            actor = %adj.actor,
            "Ledger adjusted."
        );
        LedgerEntry::try_from(row)
    }

    /// One page of an epoch's draws, by machine then account; `limit` is
    /// capped at [`MAX_PAGE_LIMIT`].
    pub async fn draws(&self, epoch: EpochId, offset: u64, limit: u32) -> Result<Vec<DrawRecord>> {
        let limit = i64::from(limit.min(MAX_PAGE_LIMIT));
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let mut c = self.db.conn().await?;
        c.fetch_all(
            "SELECT epoch, machine_id, account_id, amount_micro_usd, verified_memory_gb, run_id, \
             created_at_ms FROM floor_draws WHERE epoch = $1 \
             ORDER BY machine_id, account_id LIMIT $2 OFFSET $3",
            vec![epoch.to_string().into(), limit.into(), offset.into()],
        )
        .await
    }

    /// The account's draws on each of `machine_ids`, every epoch (what its
    /// ledger was credited for them), by machine then epoch.
    pub async fn account_draws(
        &self,
        account_id: &str,
        machine_ids: &[String],
    ) -> Result<Vec<DrawRecord>> {
        let mut c = self.db.conn().await?;
        let mut out = Vec::new();
        // One primary-key range per machine: a provider has a handful.
        for m in machine_ids {
            let rows: Vec<DrawRecord> = c
                .fetch_all(
                    "SELECT epoch, machine_id, account_id, amount_micro_usd, verified_memory_gb, \
                     run_id, created_at_ms FROM floor_draws \
                     WHERE machine_id = $1 AND account_id = $2 ORDER BY epoch",
                    vec![m.as_str().into(), account_id.into()],
                )
                .await?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Settlement runs, oldest first: of one epoch, or of all.
    pub async fn runs(&self, epoch: Option<EpochId>) -> Result<Vec<RunRecord>> {
        let mut c = self.db.conn().await?;
        let rows: Vec<RunRow> = match epoch {
            Some(e) => {
                c.fetch_all(
                    &format!(
                        "SELECT {RUN_COLUMNS} FROM settlement_runs WHERE epoch = $1 ORDER BY id"
                    ),
                    vec![e.to_string().into()],
                )
                .await?
            }
            None => {
                c.fetch_all(
                    &format!("SELECT {RUN_COLUMNS} FROM settlement_runs ORDER BY id"),
                    vec![],
                )
                .await?
            }
        };
        rows.into_iter().map(RunRecord::try_from).collect()
    }

    /// The epochs (months or periods) of `month` that have runs in `mode`,
    /// in order (SPEC §10: `settle --month`, the refusal of mixed lengths).
    pub async fn run_epochs_of_month(
        &self,
        month: EpochId,
        mode: Option<RunMode>,
    ) -> Result<Vec<EpochId>> {
        let mut c = self.db.conn().await?;
        // An id of the month starts with `YYYY-MM` (no LIKE wildcard in it).
        let pattern = format!("{}%", month.month_id());
        let rows: Vec<(String,)> = match mode {
            Some(m) => {
                c.fetch_all(
                    "SELECT DISTINCT epoch FROM settlement_runs WHERE epoch LIKE $1 AND mode = $2 \
                     ORDER BY epoch",
                    vec![pattern.into(), m.as_str().into()],
                )
                .await?
            }
            None => {
                c.fetch_all(
                    "SELECT DISTINCT epoch FROM settlement_runs WHERE epoch LIKE $1 ORDER BY epoch",
                    vec![pattern.into()],
                )
                .await?
            }
        };
        rows.into_iter().map(|(e,)| parse_epoch(&e)).collect()
    }

    /// A run of `month` whose id is of another length than `period`'s (D20:
    /// a month is cut one way), if any. One row at most, so checking it
    /// before each of a month's settlements stays cheap.
    pub async fn run_of_other_length(
        &self,
        month: EpochId,
        period: Period,
    ) -> Result<Option<EpochId>> {
        let mut c = self.db.conn().await?;
        let month = month.month_id();
        // The four id shapes have four lengths (7, 10, 13, 16).
        let len = EpochId::period_of(month, period, 0)
            .map_err(StoreError::Config)?
            .to_string()
            .len();
        let row: Option<(String,)> = c
            .fetch_optional(
                "SELECT epoch FROM settlement_runs WHERE epoch LIKE $1 AND LENGTH(epoch) <> $2 \
                 LIMIT 1",
                vec![
                    format!("{month}%").into(),
                    i64::try_from(len).unwrap_or(0).into(),
                ],
            )
            .await?;
        row.map(|(e,)| parse_epoch(&e)).transpose()
    }

    /// Every draw of the epochs of `month` (the month itself or its periods),
    /// by machine and account (D24's statement and month manifest).
    pub async fn month_draws(&self, month: EpochId) -> Result<Vec<DrawRecord>> {
        let mut c = self.db.conn().await?;
        c.fetch_all(
            "SELECT epoch, machine_id, account_id, amount_micro_usd, verified_memory_gb, run_id, \
             created_at_ms FROM floor_draws WHERE epoch LIKE $1 \
             ORDER BY machine_id, account_id, epoch",
            vec![format!("{}%", month.month_id()).into()],
        )
        .await
    }

    /// The latest run of an epoch in a mode.
    pub async fn latest_run(&self, epoch: EpochId, mode: RunMode) -> Result<Option<RunRecord>> {
        let mut c = self.db.conn().await?;
        let row: Option<RunRow> = c
            .fetch_optional(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM settlement_runs WHERE epoch = $1 AND mode = $2 \
                     ORDER BY id DESC LIMIT 1"
                ),
                vec![epoch.to_string().into(), mode.as_str().into()],
            )
            .await?;
        row.map(RunRecord::try_from).transpose()
    }

    /// The plan a run committed, as the JSON text of `floorline plan`.
    pub async fn run_plan_json(&self, run_id: i64) -> Result<String> {
        let mut c = self.db.conn().await?;
        let row: Option<(String,)> = c
            .fetch_optional(
                "SELECT plan_json FROM settlement_runs WHERE id = $1",
                vec![run_id.into()],
            )
            .await?;
        row.map(|(j,)| j)
            .ok_or_else(|| StoreError::NotFound(format!("settlement run {run_id}")))
    }

    /// Every epoch with runs, oldest first, with its draw totals.
    pub async fn epochs(&self) -> Result<Vec<EpochSummary>> {
        let mut c = self.db.conn().await?;
        let runs: Vec<(String, i64, i64, i64, i64)> = c
            .fetch_all(
                "SELECT epoch, COUNT(*), \
                 CAST(SUM(CASE WHEN mode = 'live' THEN 1 ELSE 0 END) AS BIGINT), \
                 MAX(id), MAX(created_at_ms) FROM settlement_runs GROUP BY epoch ORDER BY epoch",
                vec![],
            )
            .await?;
        let draws: BTreeMap<String, (i64, i64)> = c
            .fetch_all::<(String, i64, i64)>(
                "SELECT epoch, COUNT(*), CAST(SUM(amount_micro_usd) AS BIGINT) FROM floor_draws \
                 GROUP BY epoch",
                vec![],
            )
            .await?
            .into_iter()
            .map(|(e, n, s)| (e, (n, s)))
            .collect();
        runs.into_iter()
            .map(|(e, n_runs, n_live_runs, latest_run_id, last_run_at_ms)| {
                let (n_draws, drawn_micro_usd) = draws.get(&e).copied().unwrap_or((0, 0));
                Ok(EpochSummary {
                    epoch: parse_epoch(&e)?,
                    n_runs,
                    n_live_runs,
                    latest_run_id,
                    last_run_at_ms,
                    n_draws,
                    drawn_micro_usd,
                })
            })
            .collect()
    }
}
