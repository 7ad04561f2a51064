//! A month's figures across its settlement periods (SPEC §10): per period
//! its latest live run and its draws, and per account its draws summed per
//! machine. With `period = "month"` a month has one period, itself.
//!
//! Invariant: every query selects the month's ids by their `YYYY-MM` prefix
//! (D20: every period id of a month starts with it), one statement each.

use floorline_core::EpochId;
use serde::Serialize;

use crate::db::{placeholders, rows_per_statement, Val};
use crate::error::Result;
use crate::records::{parse_epoch, RunRow, RUN_COLUMNS};
use crate::{RunRecord, Store};

/// One period of a month that has a live run or draws.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodTotals {
    pub epoch: EpochId,
    /// The period's latest live run, if it was settled.
    pub latest_live_run: Option<RunRecord>,
    /// Draws over every live run of the period.
    pub n_draws: i64,
    pub drawn_micro_usd: i64,
}

/// An account's draws on one machine, summed over a month's periods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountMonthDraw {
    pub machine_id: String,
    pub drawn_micro_usd: i64,
    /// Periods with a draw of this account on this machine.
    pub n_periods: i64,
}

fn month_pattern(month: EpochId) -> String {
    // An id of the month starts with `YYYY-MM` (no LIKE wildcard in it).
    format!("{}%", month.month_id())
}

impl Store {
    /// The periods of `month` with a live run or draws, in id order (which
    /// is time order within a month).
    pub async fn month_periods(&self, month: EpochId) -> Result<Vec<PeriodTotals>> {
        let mut c = self.db.conn().await?;
        let pattern = month_pattern(month);
        let runs: Vec<RunRow> = c
            .fetch_all(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM settlement_runs WHERE id IN \
                     (SELECT MAX(id) FROM settlement_runs WHERE epoch LIKE $1 AND mode = 'live' \
                      GROUP BY epoch)"
                ),
                vec![pattern.clone().into()],
            )
            .await?;
        let draws: Vec<(String, i64, i64)> = c
            .fetch_all(
                "SELECT epoch, COUNT(*), CAST(SUM(amount_micro_usd) AS BIGINT) FROM floor_draws \
                 WHERE epoch LIKE $1 GROUP BY epoch",
                vec![pattern.into()],
            )
            .await?;
        let mut out: std::collections::BTreeMap<EpochId, PeriodTotals> = Default::default();
        for row in runs {
            let run = RunRecord::try_from(row)?;
            out.insert(
                run.epoch,
                PeriodTotals {
                    epoch: run.epoch,
                    latest_live_run: Some(run),
                    n_draws: 0,
                    drawn_micro_usd: 0,
                },
            );
        }
        for (epoch, n, sum) in draws {
            let epoch = parse_epoch(&epoch)?;
            let slot = out.entry(epoch).or_insert(PeriodTotals {
                epoch,
                latest_live_run: None,
                n_draws: 0,
                drawn_micro_usd: 0,
            });
            slot.n_draws = n;
            slot.drawn_micro_usd = sum;
        }
        Ok(out.into_values().collect())
    }

    /// `account`'s draws on each of `machine_ids` summed over the periods of
    /// `month`; machines without a draw are left out.
    pub async fn account_month_draws(
        &self,
        account_id: &str,
        machine_ids: &[String],
        month: EpochId,
    ) -> Result<Vec<AccountMonthDraw>> {
        let mut c = self.db.conn().await?;
        let pattern = month_pattern(month);
        let mut out = Vec::new();
        // One statement per chunk of machines, a primary-key range each: a
        // provider page asks for all of its machines at every request.
        for chunk in machine_ids.chunks(rows_per_statement(1).saturating_sub(2).max(1)) {
            let mut args: Vec<Val> = vec![account_id.into(), pattern.clone().into()];
            args.extend(chunk.iter().map(|m| Val::from(m.as_str())));
            let rows: Vec<(String, i64, i64)> = c
                .fetch_all(
                    &format!(
                        "SELECT machine_id, CAST(COALESCE(SUM(amount_micro_usd), 0) AS BIGINT), \
                         COUNT(*) FROM floor_draws WHERE machine_id IN {} AND account_id = $1 \
                         AND epoch LIKE $2 GROUP BY machine_id ORDER BY machine_id",
                        placeholders(3, chunk.len())
                    ),
                    args,
                )
                .await?;
            out.extend(rows.into_iter().filter(|(_, _, n)| *n > 0).map(
                |(machine_id, drawn_micro_usd, n_periods)| AccountMonthDraw {
                    machine_id,
                    drawn_micro_usd,
                    n_periods,
                },
            ));
        }
        Ok(out)
    }
}
