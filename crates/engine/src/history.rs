//! What a provider's settled history needs beyond the stored runs and draws:
//! an account's own organic earnings on a machine it held for only part of
//! an epoch. D9 decides which jobs are organic (none bought by a self
//! account, whenever); this sums those whose `at` falls in one owner's
//! binding, so a co-owner is shown its own share of `earned`, never the
//! whole machine's.

use floorline_core::facts::{self_accounts, EarningKind, Windows};
use floorline_core::{CoreError, EpochId};

use crate::{Engine, EngineError};

impl Engine {
    /// Σ D9-organic earnings of `machine_id` in `epoch` made while
    /// `account_id` owned it (the binding covering the job's `at` is the
    /// account's).
    pub async fn owner_earned(
        &self,
        epoch: EpochId,
        machine_id: &str,
        account_id: &str,
    ) -> Result<i64, EngineError> {
        let policy = &self.config.policy;
        let bindings: Vec<_> = self
            .store
            .bindings_of_machine(machine_id)
            .await?
            .iter()
            .map(|b| b.fact())
            .collect();
        let identities = bindings.iter().map(|b| b.payout_identity.clone()).collect();
        let payout_accounts = self.store.accounts_linked_to(&identities).await?;
        let earnings = self
            .store
            .machine_earnings(epoch, policy, machine_id)
            .await?;
        let w = Windows::new(epoch, policy);
        let selves = self_accounts(&w, &bindings, &payout_accounts);
        let mut sum: i64 = 0;
        for e in earnings {
            let organic = e.kind == EarningKind::Inference
                && !e.pinned
                && e.amount_micro_usd > 0
                && !selves.contains(&e.consumer_account_id);
            let in_epoch = e.at_ms >= w.start_ms && e.at_ms < w.end_ms;
            let owner = bindings.iter().find(|b| b.covers(e.at_ms));
            if organic && in_epoch && owner.is_some_and(|b| b.account_id == account_id) {
                sum = sum
                    .checked_add(e.amount_micro_usd)
                    .ok_or(CoreError::Overflow("earnings sum"))?;
            }
        }
        Ok(sum)
    }
}
