//! A month seen through its settlement periods (SPEC §10): what the admin
//! page lists (each period's pool, used and unallocated, and their sums) and
//! what a provider has accrued so far this month.
//!
//! Invariant: a settled period's figures are its latest live run's pool and
//! the draws of all its live runs; an unsettled one's pool is its D21
//! portion of the policy's monthly pool, with nothing used.

use floorline_core::money::portion;
use floorline_core::time::Period;
use floorline_core::EpochId;
use serde::Serialize;
use std::collections::BTreeMap;

use crate::{Engine, EngineError};

/// One period of a month, settled or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodRow {
    pub epoch: EpochId,
    /// `now ≥` the period's end.
    pub closed: bool,
    /// It has a live run.
    pub settled: bool,
    /// Its latest live run, when settled.
    pub run_id: Option<i64>,
    /// The period's pool: its latest live run's, else its D21 portion of
    /// the monthly pool.
    pub pool_micro_usd: i64,
    /// Σ draws over its live runs.
    pub used_micro_usd: i64,
    /// `pool − used` when settled; `None` before.
    pub unallocated_micro_usd: Option<i64>,
    pub n_draws: i64,
}

/// Sums over every period of a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthTotals {
    pub n_periods: u64,
    pub n_closed: u64,
    pub n_settled: u64,
    /// Σ pools of every period: the monthly pool when no run changed it (D21).
    pub pool_micro_usd: i64,
    /// Σ pools of the settled periods.
    pub settled_pool_micro_usd: i64,
    pub used_micro_usd: i64,
    /// Σ unallocated of the settled periods.
    pub unallocated_micro_usd: i64,
}

/// A month's periods, in order, with their sums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthPeriods {
    pub month: EpochId,
    pub period: Period,
    pub totals: MonthTotals,
    pub periods: Vec<PeriodRow>,
}

/// What an account has been paid in base so far this month (settled
/// periods only), per machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthAccrual {
    pub month: EpochId,
    pub base_accrued_micro_usd: i64,
    pub by_machine: BTreeMap<String, i64>,
}

impl Engine {
    /// Every period of `month` under the configured period length (the
    /// month itself when `period = "month"`), each with its pool, used and
    /// unallocated, and their sums.
    pub async fn month_periods(&self, month: EpochId) -> Result<MonthPeriods, EngineError> {
        let month = month.month_id();
        let period = self.config.policy.period;
        let stored: BTreeMap<EpochId, floorline_store::PeriodTotals> = self
            .store
            .month_periods(month)
            .await?
            .into_iter()
            .map(|p| (p.epoch, p))
            .collect();
        let now = self.now();
        let monthly_pool = self.config.policy.pool_micro_usd;
        let n = month.periods_in_month(period);
        let mut periods = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        let mut totals = MonthTotals {
            n_periods: u64::from(n),
            n_closed: 0,
            n_settled: 0,
            pool_micro_usd: 0,
            settled_pool_micro_usd: 0,
            used_micro_usd: 0,
            unallocated_micro_usd: 0,
        };
        for k in 0..n {
            let unit = EpochId::period_of(month, period, k).map_err(EngineError::Other)?;
            let got = stored.get(&unit);
            let run = got.and_then(|p| p.latest_live_run.as_ref());
            let used = got.map_or(0, |p| p.drawn_micro_usd);
            let pool = run.map_or_else(|| portion(monthly_pool, unit), |r| r.pool_micro_usd);
            let unallocated = run.map(|_| pool.saturating_sub(used));
            let row = PeriodRow {
                epoch: unit,
                closed: unit.is_closed(now),
                settled: run.is_some(),
                run_id: run.map(|r| r.id),
                pool_micro_usd: pool,
                used_micro_usd: used,
                unallocated_micro_usd: unallocated,
                n_draws: got.map_or(0, |p| p.n_draws),
            };
            totals.n_closed += u64::from(row.closed);
            totals.n_settled += u64::from(row.settled);
            totals.pool_micro_usd = totals.pool_micro_usd.saturating_add(pool);
            totals.used_micro_usd = totals.used_micro_usd.saturating_add(used);
            if let Some(u) = unallocated {
                totals.settled_pool_micro_usd = totals.settled_pool_micro_usd.saturating_add(pool);
                totals.unallocated_micro_usd = totals.unallocated_micro_usd.saturating_add(u);
            }
            periods.push(row);
        }
        Ok(MonthPeriods {
            month,
            period,
            totals,
            periods,
        })
    }

    /// `account`'s base on `machines` summed over the settled periods of
    /// `month` (its own `floor_draws` rows, equal to its ledger credits).
    pub async fn month_accrual(
        &self,
        account: &str,
        machines: &[String],
        month: EpochId,
    ) -> Result<MonthAccrual, EngineError> {
        let month = month.month_id();
        let rows = self
            .store
            .account_month_draws(account, machines, month)
            .await?;
        let by_machine: BTreeMap<String, i64> = rows
            .into_iter()
            .map(|r| (r.machine_id, r.drawn_micro_usd))
            .collect();
        Ok(MonthAccrual {
            month,
            base_accrued_micro_usd: by_machine.values().fold(0i64, |a, b| a.saturating_add(*b)),
            by_machine,
        })
    }
}
