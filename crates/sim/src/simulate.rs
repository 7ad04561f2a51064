//! The month loop: fleet → demand → synthetic [`EpochFacts`] → the real
//! [`floorline_core::plan`] → statistics, then each machine's month is carried
//! into the next (its total into `previous_total_micro_usd` for the cliff
//! guard, its earnings into the trailing revenue the taper reads). With a
//! policy `period` shorter than a month, each month is planned as its
//! periods instead ([`crate::periods`]).
//!
//! The simulator decides no money: every draw is core's. It only chooses the
//! facts. Same scenario (seed included) → the same report, byte for byte.
//!
//! [`EpochFacts`]: floorline_core::EpochFacts

use floorline_core::plan;
use floorline_core::time::Period;

use crate::demand::DemandState;
use crate::error::SimError;
use crate::fleet::{earned_view, Earned, FleetState};
use crate::periods::{granted_in_fleet_order, period_month};
use crate::report::{figures, month_stats, SimReport};
use crate::scenario::Scenario;

/// Runs a scenario month by month. `progress(done, total)` is called after
/// every month.
pub fn simulate(scenario: &Scenario, progress: &dyn Fn(u32, u32)) -> Result<SimReport, SimError> {
    let policy = &scenario.policy;
    let mut fleet = FleetState::new(scenario);
    let mut demand = DemandState::new(scenario);
    let mut months = Vec::with_capacity(usize::try_from(scenario.months).unwrap_or(0));
    let mut epoch = scenario.start;
    for t in 0..scenario.months {
        let turnover = fleet.advance(scenario, t, epoch);
        let month_demand = demand.month(&scenario.demand, t, &fleet.machines);
        if policy.period != Period::Month {
            months.push(period_month(
                scenario,
                &mut fleet,
                t.saturating_add(1),
                epoch,
                &month_demand,
                turnover,
            )?);
            progress(t.saturating_add(1), scenario.months);
            epoch = epoch.next();
            continue;
        }
        let earned: Vec<Earned> = fleet
            .machines
            .iter()
            .zip(&month_demand.earned_micro_usd)
            .map(|(m, &e)| earned_view(m, e, epoch, policy.work_window_days))
            .collect();
        let facts = fleet.facts(epoch, &earned, scenario.fleet.trust);
        let plan = plan(&facts, policy).map_err(|source| SimError::Plan { epoch, source })?;
        months.push(month_stats(
            t.saturating_add(1),
            policy,
            &plan,
            &month_demand,
            turnover,
        ));

        // Carry the month into the next.
        let granted = granted_in_fleet_order(&plan, &fleet);
        let t_ms = epoch.length_ms();
        let end_ms = epoch.end().0;
        for ((m, e), g) in fleet.machines.iter_mut().zip(&earned).zip(&granted) {
            m.prev_earned_micro_usd = e.epoch_micro_usd;
            m.prev_epoch_ms = t_ms;
            m.prev_total_micro_usd = e.epoch_micro_usd.saturating_add(*g);
            if e.epoch_micro_usd > 0 {
                m.last_earning_end_ms = Some(end_ms);
            }
        }
        progress(t.saturating_add(1), scenario.months);
        epoch = epoch.next();
    }
    let figures = figures(scenario, &months);
    Ok(SimReport {
        scenario: scenario.clone(),
        months,
        figures,
    })
}
