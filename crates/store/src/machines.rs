//! Fleet queries the engine, prober and API need: which machines exist, what
//! a name resolves to, who owns what, the latest attestations, watermarks.
//! Read-only; each is one query (or two for a name).

use std::collections::{BTreeMap, BTreeSet};

use floorline_core::bundle::Attestation;
use floorline_core::facts::BindingFact;

use crate::error::Result;
use crate::ingest::{AttestationRow, TableFact};
use crate::Store;

/// One binding with its machine: who owned what, when.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MachineBinding {
    pub machine_id: String,
    pub account_id: String,
    pub payout_identity: String,
    pub from_ms: i64,
    pub to_ms: Option<i64>,
}

impl MachineBinding {
    /// The binding as the core reads it.
    pub fn fact(&self) -> BindingFact {
        BindingFact {
            account_id: self.account_id.clone(),
            payout_identity: self.payout_identity.clone(),
            from_ms: self.from_ms,
            to_ms: self.to_ms,
        }
    }
}

const BINDING_COLUMNS: &str = "machine_id, account_id, payout_identity, from_ms, to_ms";

impl Store {
    /// Every binding of the account, by machine then `from` (the account index).
    pub async fn bindings_of_account(&self, account_id: &str) -> Result<Vec<MachineBinding>> {
        let mut c = self.db.conn().await?;
        let mut rows: Vec<MachineBinding> = c
            .fetch_all(
                &format!("SELECT {BINDING_COLUMNS} FROM bindings WHERE account_id = $1"),
                vec![account_id.into()],
            )
            .await?;
        rows.sort_unstable_by(|a, b| (&a.machine_id, a.from_ms).cmp(&(&b.machine_id, b.from_ms)));
        Ok(rows)
    }

    /// Every binding of the machine, oldest first (the primary key).
    pub async fn bindings_of_machine(&self, machine_id: &str) -> Result<Vec<MachineBinding>> {
        let mut c = self.db.conn().await?;
        c.fetch_all(
            &format!(
                "SELECT {BINDING_COLUMNS} FROM bindings WHERE machine_id = $1 ORDER BY from_ms"
            ),
            vec![machine_id.into()],
        )
        .await
    }

    /// D9's links: for each payout identity, the accounts some binding (of
    /// any machine, at any time) links to it.
    pub async fn accounts_linked_to(
        &self,
        payout_identities: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, BTreeSet<String>>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let ids: Vec<&String> = payout_identities.iter().collect();
        let mut c = self.db.conn().await?;
        for chunk in ids.chunks(crate::db::rows_per_statement(1)) {
            let rows: Vec<(String, String)> = c
                .fetch_all(
                    &format!(
                        "SELECT DISTINCT payout_identity, account_id FROM bindings \
                         WHERE payout_identity IN {}",
                        crate::db::placeholders(1, chunk.len())
                    ),
                    chunk.iter().map(|p| p.as_str().into()).collect(),
                )
                .await?;
            for (p, a) in rows {
                out.entry(p).or_default().insert(a);
            }
        }
        Ok(out)
    }

    /// Machine ids bound to the account at any time, sorted.
    pub async fn machines_of_account(&self, account_id: &str) -> Result<Vec<String>> {
        let mut c = self.db.conn().await?;
        // No DISTINCT/ORDER BY in SQL: SQLite would then walk the primary key
        // (the whole table) instead of the account index.
        let rows: Vec<(String,)> = c
            .fetch_all(
                "SELECT machine_id FROM bindings WHERE account_id = $1",
                vec![account_id.into()],
            )
            .await?;
        let mut ids: Vec<String> = rows.into_iter().map(|(m,)| m).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Whether a machine with this id has been attested.
    pub async fn machine_exists(&self, machine_id: &str) -> Result<bool> {
        let mut c = self.db.conn().await?;
        Ok(c.scalar(
            "SELECT COUNT(*) FROM machines WHERE machine_id = $1",
            vec![machine_id.into()],
        )
        .await?
            > 0)
    }

    /// The machine id a name (machine id or alias provider key) stands for.
    pub async fn resolve_machine(&self, name: &str) -> Result<Option<String>> {
        let mut c = self.db.conn().await?;
        let names = std::iter::once(name.to_string()).collect();
        let mut found = crate::ingest::resolve_names(&mut c, &names, true).await?;
        Ok(found.remove(name).map(|n| n.machine_id))
    }

    /// Every attested machine id, sorted.
    pub async fn fleet_machine_ids(&self) -> Result<Vec<String>> {
        let mut c = self.db.conn().await?;
        let rows: Vec<(String,)> = c
            .fetch_all(
                "SELECT machine_id FROM machines ORDER BY machine_id",
                vec![],
            )
            .await?;
        let mut ids: Vec<String> = rows.into_iter().map(|(m,)| m).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Each probed machine's latest probe time (the prober's evidence), one query.
    pub async fn last_probe_at(&self) -> Result<std::collections::HashMap<String, i64>> {
        let mut c = self.db.conn().await?;
        let rows: Vec<(String, i64)> = c
            .fetch_all(
                "SELECT machine_id, MAX(at_ms) FROM probes GROUP BY machine_id",
                vec![],
            )
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Each machine's latest attestation (its hardware model and `se_public_key`).
    pub async fn latest_attestations(&self) -> Result<Vec<Attestation>> {
        let mut c = self.db.conn().await?;
        c.fetch_all::<AttestationRow>(
            &format!(
                "SELECT {} FROM attestations a WHERE a.attested_at_ms = \
                 (SELECT MAX(b.attested_at_ms) FROM attestations b WHERE b.machine_id = a.machine_id) \
                 ORDER BY a.machine_id",
                Attestation::COLUMNS
                    .iter()
                    .map(|c| format!("a.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            vec![],
        )
        .await?
        .into_iter()
        .map(Attestation::from_row)
        .collect()
    }

    /// Every source's watermark, by source.
    pub async fn watermarks(&self) -> Result<Vec<floorline_core::Watermark>> {
        let mut c = self.db.conn().await?;
        crate::ingest::fetch_watermarks(&mut c, None).await
    }
}
