//! Period runs (SPEC §10): with policy `period` = `day`, `hour` or `5m`, each
//! simulated month is valued and allocated as its periods, one real
//! [`floorline_core::plan`] per period, in order.
//!
//! The month's synthetic facts are built once, as for a monthly run — the
//! same machines, attestations, bindings and sessions (core clips them to
//! each period) — and only what belongs to a period changes between plans:
//! - **earnings**: the month's organic earnings of a machine (the demand
//!   model's, unchanged) are spread evenly over its up time `[S, S + A)`,
//!   since it serves only while up; a period gets
//!   `⌊earned · up_before(e) / A⌋ − ⌊earned · up_before(s) / A⌋`, so a
//!   month's periods add up to its earned exactly ([`EarningSpan`]);
//! - **work gate**: its jobs fall where it was up, so a period's work window
//!   holds a job when the machine earned this month (its up time starts at
//!   `S`, before any period's end) or when an earlier month's up time that
//!   earned ended after the window opened;
//! - **trailing revenue** (the taper's `R`): each period sums the spans of
//!   this month and the two before over `[e − 30 days, e)`;
//! - **probes**: the tier probe is at `S`, the first instant of the machine's
//!   up time (a monthly run puts it mid-way through its up time, which a
//!   monthly plan cannot tell apart; per period it would leave the days
//!   before it unproven for want of a probe the fleet model placed late);
//! - **cliff guard**: each period's total (earned + granted) is the next
//!   period's `previous_total_micro_usd`, across month ends.
//!
//! Every period's pool and tier floors are core's portions (D21, D23); what a
//! period leaves unallocated lapses. The month's figures are the sums of
//! [`PeriodMonth`].

use std::collections::HashMap;

use floorline_core::facts::{OrganicEarnings, TRAILING_REVENUE_DAYS};
use floorline_core::time::DAY_MS;
use floorline_core::{plan, EpochId, Plan};

use crate::demand::MonthDemand;
use crate::error::SimError;
use crate::fleet::{EarningSpan, FleetState, Turnover};
use crate::report::{MonthStats, PeriodMonth};
use crate::scenario::Scenario;

/// Months of earning spans a machine keeps: a 30-day window ending in March
/// can reach back through February into January.
const KEPT_SPANS: usize = 2;

/// Simulates month `month` (1-based) = `epoch` as its periods.
pub(crate) fn period_month(
    scenario: &Scenario,
    fleet: &mut FleetState,
    month: u32,
    epoch: EpochId,
    demand: &MonthDemand,
    turnover: Turnover,
) -> Result<MonthStats, SimError> {
    let policy = &scenario.policy;
    let s = epoch.start().0;
    let t_ms = epoch.length_ms();
    let mut facts = fleet.facts(epoch, &[], scenario.fleet.trust);
    for m in &mut facts.machines {
        for p in &mut m.probes {
            p.at_ms = s;
        }
    }
    let spans: Vec<EarningSpan> = fleet
        .machines
        .iter()
        .zip(
            demand
                .earned_micro_usd
                .iter()
                .copied()
                .chain(std::iter::repeat(0)),
        )
        .map(|(m, earned)| EarningSpan {
            start_ms: s,
            // Demand follows uptime, so a machine never up earns nothing; a
            // zero up time would still spread over the month, to keep the sum.
            up_ms: if m.available_ms > 0 {
                m.available_ms.min(t_ms)
            } else {
                t_ms
            },
            earned_micro_usd: earned,
        })
        .collect();

    let work_ms = i64::from(policy.work_window_days).saturating_mul(DAY_MS);
    let trailing_ms = TRAILING_REVENUE_DAYS * DAY_MS;
    let mut acc = PeriodMonth::new(policy);
    for k in 0..epoch.periods_in_month(policy.period) {
        let period = EpochId::period_of(epoch, policy.period, k).map_err(|e| SimError::Plan {
            epoch,
            source: floorline_core::CoreError::Invalid(vec![floorline_core::Invalid::new(
                "epoch", e,
            )]),
        })?;
        let (ps, pe) = (period.start().0, period.end().0);
        let work_start = pe.saturating_sub(work_ms);
        let trailing_start = pe.saturating_sub(trailing_ms);
        for ((f, m), span) in facts.machines.iter_mut().zip(&fleet.machines).zip(&spans) {
            let trailing = m
                .earning_spans
                .iter()
                .chain(std::iter::once(span))
                .map(|sp| sp.earned_between(trailing_start, pe))
                .fold(0i64, i64::saturating_add);
            let in_work_window =
                span.earned_micro_usd > 0 || m.last_job_end_ms.is_some_and(|end| end > work_start);
            f.earnings = OrganicEarnings {
                epoch_micro_usd: span.earned_between(ps, pe),
                trailing_micro_usd: trailing,
                n_in_work_window: i64::from(in_work_window),
            };
            f.previous_total_micro_usd = m.prev_total_micro_usd;
        }
        facts.epoch = period;
        let plan = plan(&facts, policy).map_err(|source| SimError::Plan {
            epoch: period,
            source,
        })?;
        let granted = granted_in_fleet_order(&plan, fleet);
        for ((m, f), g) in fleet.machines.iter_mut().zip(&facts.machines).zip(granted) {
            m.prev_total_micro_usd = f.earnings.epoch_micro_usd.saturating_add(g);
        }
        acc.add(month, &plan, demand, turnover);
    }

    for (m, span) in fleet.machines.iter_mut().zip(spans) {
        if span.earned_micro_usd > 0 {
            m.last_job_end_ms = Some(span.end_ms());
        }
        m.earning_spans.push(span);
        if m.earning_spans.len() > KEPT_SPANS {
            m.earning_spans.remove(0);
        }
    }
    acc.finish().ok_or_else(|| SimError::Plan {
        epoch,
        source: floorline_core::CoreError::Invalid(vec![floorline_core::Invalid::new(
            "epoch",
            "a month without periods",
        )]),
    })
}

/// Each fleet machine's grant in `plan`. The plan lists machines by id, which
/// is the fleet's order (ids are zero-padded join indexes); fall back to a
/// lookup if that ever stops being true.
pub(crate) fn granted_in_fleet_order(plan: &Plan, fleet: &FleetState) -> Vec<i64> {
    let in_order = plan.machines.len() == fleet.machines.len()
        && plan
            .machines
            .iter()
            .zip(&fleet.machines)
            .all(|(p, m)| p.machine_id == m.id);
    if in_order {
        return plan.machines.iter().map(|p| p.granted_micro_usd).collect();
    }
    let by_id: HashMap<&str, i64> = plan
        .machines
        .iter()
        .map(|p| (p.machine_id.as_str(), p.granted_micro_usd))
        .collect();
    fleet
        .machines
        .iter()
        .map(|m| by_id.get(m.id.as_str()).copied().unwrap_or(0))
        .collect()
}
