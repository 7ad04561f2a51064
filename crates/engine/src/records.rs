//! The stored records the HTTP edge reads (and the one admin write it makes),
//! as engine methods, so that handlers talk to the engine and never to the
//! store behind it. Each is a plain read or write of the store: no policy, no
//! clock, no plan.

use floorline_core::{EpochId, Watermark};
use floorline_store::{
    Adjust, ApiKey, DrawRecord, EpochSummary, LedgerEntry, MachineBinding, RunMode, RunRecord,
};

use crate::{Engine, EngineError};

impl Engine {
    /// Every epoch with runs, with its totals.
    pub async fn epochs(&self) -> Result<Vec<EpochSummary>, EngineError> {
        Ok(self.store().epochs().await?)
    }

    /// The runs of `epoch` (every epoch with `None`).
    pub async fn runs(&self, epoch: Option<EpochId>) -> Result<Vec<RunRecord>, EngineError> {
        Ok(self.store().runs(epoch).await?)
    }

    /// The newest run of `epoch` in `mode`.
    pub async fn latest_run(
        &self,
        epoch: EpochId,
        mode: RunMode,
    ) -> Result<Option<RunRecord>, EngineError> {
        Ok(self.store().latest_run(epoch, mode).await?)
    }

    /// The stored plan of a run, as JSON text.
    pub async fn run_plan_json(&self, run_id: i64) -> Result<String, EngineError> {
        Ok(self.store().run_plan_json(run_id).await?)
    }

    /// One page of the draws of `epoch`.
    pub async fn draws(
        &self,
        epoch: EpochId,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<DrawRecord>, EngineError> {
        Ok(self.store().draws(epoch, offset, limit).await?)
    }

    /// The draws credited to `account_id` for `machine_ids`, over all epochs.
    pub async fn account_draws(
        &self,
        account_id: &str,
        machine_ids: &[String],
    ) -> Result<Vec<DrawRecord>, EngineError> {
        Ok(self.store().account_draws(account_id, machine_ids).await?)
    }

    /// Every binding of `account_id`, past and current.
    pub async fn bindings_of_account(
        &self,
        account_id: &str,
    ) -> Result<Vec<MachineBinding>, EngineError> {
        Ok(self.store().bindings_of_account(account_id).await?)
    }

    /// Every binding of `machine_id`, past and current.
    pub async fn bindings_of_machine(
        &self,
        machine_id: &str,
    ) -> Result<Vec<MachineBinding>, EngineError> {
        Ok(self.store().bindings_of_machine(machine_id).await?)
    }

    /// The machine id a machine id or alias names, if any.
    pub async fn resolve_machine(&self, name: &str) -> Result<Option<String>, EngineError> {
        Ok(self.store().resolve_machine(name).await?)
    }

    /// Every fact source's watermark.
    pub async fn watermarks(&self) -> Result<Vec<Watermark>, EngineError> {
        Ok(self.store().watermarks().await?)
    }

    /// The API key stored under a token's SHA-256, revoked or not.
    pub async fn find_api_key_by_hash(
        &self,
        token_sha256: &str,
    ) -> Result<Option<ApiKey>, EngineError> {
        Ok(self.store().find_api_key_by_hash(token_sha256).await?)
    }

    /// An admin's ledger adjustment (one entry, idempotent per reference).
    pub async fn adjust(&self, adj: &Adjust) -> Result<LedgerEntry, EngineError> {
        Ok(self.store().adjust(adj).await?)
    }
}
