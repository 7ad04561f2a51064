//! What a provider's settled history needs beyond the stored runs and draws:
//! an account's own organic earnings on a machine it held for only part of
//! an epoch. D9 already attributes every earning to the binding that covers
//! its `at` (its owner); this sums the organic groups of one owner, so a
//! co-owner is shown its own share of `earned`, never the whole machine's.

use floorline_core::facts::{group_earnings, is_organic, Windows};
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
        let groups = group_earnings(&Windows::new(epoch, policy), &bindings, earnings)?;
        let mut sum: i64 = 0;
        for g in &groups {
            let own = g.owner.as_ref().is_some_and(|o| o.account_id == account_id);
            if own && is_organic(g, &payout_accounts) {
                sum = sum
                    .checked_add(g.epoch_micro_usd)
                    .ok_or(CoreError::Overflow("earnings sum"))?;
            }
        }
        Ok(sum)
    }
}
