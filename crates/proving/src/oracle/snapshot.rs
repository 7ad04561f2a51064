//! The money tables (and the fact tables' row counts) at one instant, read
//! with the oracle's own SQL: what the DST checker compares with its model.

use std::collections::BTreeMap;

use sqlx::FromRow;

use super::RawDb;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawRow {
    pub amount_micro_usd: i64,
    pub verified_memory_gb: i64,
    pub run_id: i64,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct EntryRow {
    pub id: i64,
    pub account_id: String,
    pub amount_micro_usd: i64,
    pub kind: String,
    pub reference: String,
    pub epoch: Option<String>,
    pub machine_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RunRow {
    pub id: i64,
    pub epoch: String,
    pub mode: String,
    pub created_at_ms: i64,
    pub pool_micro_usd: i64,
    pub already_settled_micro_usd: i64,
    pub granted_total_micro_usd: i64,
    pub unallocated_micro_usd: i64,
    pub manifest_sha256: String,
}

/// The money tables (and fact counts) at one instant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// `(epoch, machine, account)` → draw.
    pub draws: BTreeMap<(String, String, String), DrawRow>,
    pub n_draw_rows: usize,
    pub entries: Vec<EntryRow>,
    pub accounts: BTreeMap<String, i64>,
    pub runs: Vec<RunRow>,
    /// Base-reward earnings: job id → (machine, amount).
    pub base_rewards: BTreeMap<String, (String, i64)>,
    /// `(epoch, machine)` → (earned, drawn, total).
    pub totals: BTreeMap<(String, String), (i64, i64, i64)>,
    pub watermarks: BTreeMap<String, i64>,
    /// Rows per fact table (base rewards excluded from earnings).
    pub fact_counts: BTreeMap<&'static str, i64>,
}

const FACT_TABLES: [&str; 7] = [
    "attestations",
    "aliases",
    "bindings",
    "sessions",
    "health",
    "earnings",
    "probes",
];

impl Snapshot {
    pub async fn read(db: &RawDb) -> Result<Snapshot, sqlx::Error> {
        let rows: Vec<(String, String, String, i64, i64, i64, i64)> = db
            .fetch(
                "SELECT epoch, machine_id, account_id, amount_micro_usd, verified_memory_gb, \
                 run_id, created_at_ms FROM floor_draws",
            )
            .await?;
        let n_draw_rows = rows.len();
        let draws = rows
            .into_iter()
            .map(|(e, m, a, amount, gb, run, at)| {
                (
                    (e, m, a),
                    DrawRow {
                        amount_micro_usd: amount,
                        verified_memory_gb: gb,
                        run_id: run,
                        created_at_ms: at,
                    },
                )
            })
            .collect();
        let entries: Vec<EntryRow> = db
            .fetch(
                "SELECT id, account_id, amount_micro_usd, kind, reference, epoch, machine_id \
                 FROM ledger_entries ORDER BY id",
            )
            .await?;
        let accounts: Vec<(String, i64)> = db
            .fetch("SELECT account_id, balance_micro_usd FROM accounts")
            .await?;
        let runs: Vec<RunRow> = db
            .fetch(
                "SELECT id, epoch, mode, created_at_ms, pool_micro_usd, already_settled_micro_usd, \
                 granted_total_micro_usd, unallocated_micro_usd, manifest_sha256 \
                 FROM settlement_runs ORDER BY id",
            )
            .await?;
        let base: Vec<(String, String, i64)> = db
            .fetch(
                "SELECT job_id, machine_id, amount_micro_usd FROM earnings \
                 WHERE kind = 'base_reward'",
            )
            .await?;
        let totals: Vec<(String, String, i64, i64, i64)> = db
            .fetch(
                "SELECT epoch, machine_id, earned_micro_usd, drawn_micro_usd, total_micro_usd \
                 FROM machine_totals",
            )
            .await?;
        let watermarks: Vec<(String, i64)> =
            db.fetch("SELECT source, up_to_ms FROM watermarks").await?;
        let mut fact_counts = BTreeMap::new();
        for table in FACT_TABLES {
            let filter = if table == "earnings" {
                " WHERE kind <> 'base_reward'"
            } else {
                ""
            };
            let n: Vec<(i64,)> = db
                .fetch(&format!("SELECT COUNT(*) FROM {table}{filter}"))
                .await?;
            fact_counts.insert(table, n.first().map_or(0, |r| r.0));
        }
        Ok(Snapshot {
            draws,
            n_draw_rows,
            entries,
            accounts: accounts.into_iter().collect(),
            runs,
            base_rewards: base.into_iter().map(|(j, m, a)| (j, (m, a))).collect(),
            totals: totals
                .into_iter()
                .map(|(e, m, a, b, c)| ((e, m), (a, b, c)))
                .collect(),
            watermarks: watermarks.into_iter().collect(),
            fact_counts,
        })
    }
}
