//! What a simulation reports: one [`MonthStats`] per month, read off the
//! real [`Plan`], and the headline [`Figures`] of the run.
//!
//! Definitions (also in `SCENARIOS.md`):
//! - program cost = Σ draws granted by the plan (`granted_total`);
//! - the pool binds when the eligible machines' desired draws exceed the
//!   budget `B` (so someone gets less than their floor);
//! - a machine is at its floor when it is eligible and got a positive draw;
//! - a machine's payout = organic earnings + draw; a tier's mean payout is
//!   over every machine of that tier (eligible or not), rounded half up;
//! - the full-eligibility cost is Σ tier floors: what the month would cost if
//!   every machine were up all month, proven and bound.
//!
//! A period run (policy `period` ≠ `month`, SPEC §10) reports the same
//! [`MonthStats`] per month, summed over the month's plans by
//! [`PeriodMonth`]: money is Σ over the periods (pool, desired, cost,
//! unallocated, Σ tier floors, earnings, draws); a machine counts as eligible,
//! at its floor or failing a gate when it was so in at least one period; the
//! month binds when any period did; `trailing_revenue` and `taper_ppm` are the
//! last period's. [`PeriodStats`] adds the machine-period counts.

use serde::Serialize;
use std::collections::BTreeMap;

use floorline_core::money::PPM_ONE;
use floorline_core::time::Period;
use floorline_core::valuation::Reason;
use floorline_core::{EpochId, Plan, Policy};

use crate::demand::MonthDemand;
use crate::fleet::Turnover;
use crate::scenario::Scenario;

/// One simulated month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthStats {
    /// 1-based.
    pub month: u32,
    pub epoch: EpochId,
    pub machines: u32,
    pub joined: u32,
    pub left: u32,
    pub eligible: u32,
    pub at_floor: u32,
    pub pool_micro_usd: i64,
    pub desired_total_micro_usd: i64,
    pub program_cost_micro_usd: i64,
    pub unallocated_micro_usd: i64,
    pub pool_binding: bool,
    pub full_eligibility_cost_micro_usd: i64,
    pub organic_revenue_micro_usd: i64,
    pub trailing_revenue_micro_usd: i64,
    /// The taper τ applied, in ppm (10⁶ when off).
    pub taper_ppm: i64,
    pub tokens_demanded: i64,
    pub tokens_served: i64,
    /// Σ reported memory, for the fleet's mean.
    pub reported_memory_gb_total: u64,
    /// Machines whose verified memory is ≥ 64 GB.
    pub machines_64_gb_plus: u32,
    /// Machines failing each gate (a machine may fail several).
    pub reasons: BTreeMap<String, u32>,
    /// One entry per policy tier, plus `min_gb = 0` for machines below every tier.
    pub tiers: Vec<TierStats>,
    /// Period runs only: counts over the month's periods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub periods: Option<PeriodStats>,
}

/// A month of a period run, counted over its periods (machine-periods: one
/// machine in one period).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodStats {
    pub period: Period,
    /// Periods (plans) in the month.
    pub n_periods: u32,
    /// Σ over the periods of the machines in each plan.
    pub machine_periods: u64,
    pub eligible_machine_periods: u64,
    /// Eligible with a positive draw.
    pub at_floor_machine_periods: u64,
    /// Machine-periods failing each gate.
    pub reasons: BTreeMap<String, u64>,
    /// Periods whose desired draws exceeded their budget.
    pub binding_periods: u32,
}

/// The machines of one tier in one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierStats {
    /// The tier's `min_gb`; 0 for machines below every tier (usage-only).
    pub min_gb: u32,
    pub tier_floor_micro_usd: i64,
    pub machines: u32,
    pub eligible: u32,
    pub at_floor: u32,
    pub earned_micro_usd: i64,
    pub draws_micro_usd: i64,
    /// (Σ earned + Σ draws) / machines, half up; 0 with no machines.
    pub mean_payout_micro_usd: i64,
}

impl MonthStats {
    /// The tier entry for `min_gb`, if the policy has it.
    pub fn tier(&self, min_gb: u32) -> Option<&TierStats> {
        self.tiers.iter().find(|t| t.min_gb == min_gb)
    }

    /// The month's period counts; a monthly run's month is its one period.
    pub fn period_counts(&self) -> PeriodStats {
        match &self.periods {
            Some(p) => p.clone(),
            None => PeriodStats {
                period: Period::Month,
                n_periods: 1,
                machine_periods: u64::from(self.machines),
                eligible_machine_periods: u64::from(self.eligible),
                at_floor_machine_periods: u64::from(self.at_floor),
                reasons: self
                    .reasons
                    .iter()
                    .map(|(r, n)| (r.clone(), u64::from(*n)))
                    .collect(),
                binding_periods: u32::from(self.pool_binding),
            },
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimReport {
    pub scenario: Scenario,
    pub months: Vec<MonthStats>,
    pub figures: Figures,
}

/// Headline figures: month 1 of the run, where the pool binds, and what a
/// machine must sell to earn its floor organically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Figures {
    pub machines: u32,
    /// Mean reported memory in thousandths of a GB.
    pub mean_memory_milli_gb: i64,
    pub share_64_gb_plus_ppm: i64,
    pub full_eligibility_cost_micro_usd: i64,
    /// Machines whose verified memory reaches a tier (a floor > 0).
    pub tiered_machines: u32,
    /// Machines above the uptime gate (`A · 10⁶ > min_uptime · T`).
    pub above_uptime_gate: u32,
    /// ⌈pool / (full-eligibility cost per machine)⌉: the fleet size at which
    /// the pool would bind if every machine were fully eligible.
    pub full_eligibility_bind_machines: Option<u64>,
    pub eligible: u32,
    pub desired_total_micro_usd: i64,
    pub program_cost_micro_usd: i64,
    /// Desired draws per eligible machine, half up.
    pub desired_per_eligible_micro_usd: i64,
    /// ⌈pool / desired draw per eligible machine⌉: eligible machines at which the pool binds.
    pub eligible_bind_machines: Option<u64>,
    /// ⌈pool / (desired draws per machine of the fleet)⌉: the fleet size at
    /// which the pool binds at month 1's observed eligibility and uptime.
    pub observed_bind_machines: Option<u64>,
    pub first_binding: Option<FirstBinding>,
    pub break_even: Vec<BreakEven>,
}

/// The first month whose desired draws exceeded the budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirstBinding {
    pub month: u32,
    pub epoch: EpochId,
    pub machines: u32,
}

/// The single-stream utilization at which one machine of a tier earns its
/// tier floor from organic demand alone, in month 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakEven {
    pub min_gb: u32,
    pub tier_floor_micro_usd: i64,
    pub tokens_per_s: u32,
    pub price_micro_usd_per_million_tokens: i64,
    pub month_seconds: i64,
    /// `⌈floor · 10⁶ / price⌉`.
    pub tokens_needed: i64,
    /// `tokens_per_s · month_seconds`.
    pub capacity_tokens: i64,
    /// `round(tokens_needed / capacity_tokens)` in ppm; `None` when nothing can be earned.
    pub utilization_ppm: Option<i64>,
}

/// The tier (`min_gb`) a verified size falls in; 0 below every tier.
pub fn tier_of(policy: &Policy, gb: u32) -> u32 {
    policy.tier(gb).map_or(0, |t| t.min_gb)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `round(n / d)` half up for non-negative `n` and positive `d`; 0 when `d ≤ 0`.
pub fn round_div(n: i128, d: i128) -> i128 {
    if d <= 0 {
        0
    } else {
        (2 * n + d) / (2 * d)
    }
}

fn ceil_div(n: i128, d: i128) -> Option<u64> {
    if d <= 0 || n < 0 {
        None
    } else {
        u64::try_from((n + d - 1) / d).ok()
    }
}

fn money(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Reads one month's statistics off its plan.
pub fn month_stats(
    month: u32,
    policy: &Policy,
    plan: &Plan,
    demand: &MonthDemand,
    turnover: Turnover,
) -> MonthStats {
    let mut tiers: Vec<TierStats> = std::iter::once(0)
        .chain(policy.tiers.iter().map(|t| t.min_gb))
        .map(|min_gb| TierStats {
            min_gb,
            tier_floor_micro_usd: policy.tier_floor(min_gb),
            machines: 0,
            eligible: 0,
            at_floor: 0,
            earned_micro_usd: 0,
            draws_micro_usd: 0,
            mean_payout_micro_usd: 0,
        })
        .collect();
    tiers.dedup_by_key(|t| t.min_gb);
    let mut eligible = 0usize;
    let mut at_floor = 0usize;
    let mut desired: i128 = 0;
    let mut full: i128 = 0;
    let mut revenue: i128 = 0;
    let mut big = 0usize;
    let mut reasons: BTreeMap<String, u32> = BTreeMap::new();
    for m in &plan.machines {
        let tier = tier_of(policy, m.verified_memory_gb);
        let floor_paid = m.eligible && m.granted_micro_usd > 0;
        if m.eligible {
            eligible += 1;
            desired += i128::from(m.desired_draw_micro_usd);
        }
        if floor_paid {
            at_floor += 1;
        }
        full += i128::from(m.tier_floor_micro_usd);
        revenue += i128::from(m.earned_micro_usd);
        if m.verified_memory_gb >= 64 {
            big += 1;
        }
        for r in &m.reasons {
            *reasons.entry(r.as_str().to_string()).or_insert(0) += 1;
        }
        if let Some(t) = tiers.iter_mut().find(|t| t.min_gb == tier) {
            t.machines = t.machines.saturating_add(1);
            t.eligible = t.eligible.saturating_add(u32::from(m.eligible));
            t.at_floor = t.at_floor.saturating_add(u32::from(floor_paid));
            t.earned_micro_usd = t.earned_micro_usd.saturating_add(m.earned_micro_usd);
            t.draws_micro_usd = t.draws_micro_usd.saturating_add(m.granted_micro_usd);
        }
    }
    for t in &mut tiers {
        let total = i128::from(t.earned_micro_usd) + i128::from(t.draws_micro_usd);
        t.mean_payout_micro_usd = money(round_div(total, i128::from(t.machines)));
    }
    let reported: u64 = plan
        .context
        .valuations
        .iter()
        .map(|v| u64::from(v.reported_memory_gb))
        .sum();
    let budget = plan.context.budget_micro_usd;
    let taper_ppm =
        money(plan.context.taper_num * i128::from(PPM_ONE) / plan.context.taper_den.max(1));
    MonthStats {
        month,
        epoch: plan.epoch,
        machines: to_u32(plan.machines.len()),
        joined: turnover.joined,
        left: turnover.left,
        eligible: to_u32(eligible),
        at_floor: to_u32(at_floor),
        pool_micro_usd: plan.pool_micro_usd,
        desired_total_micro_usd: money(desired),
        program_cost_micro_usd: plan.granted_total_micro_usd,
        unallocated_micro_usd: plan.unallocated_micro_usd,
        pool_binding: desired > i128::from(budget),
        full_eligibility_cost_micro_usd: money(full),
        organic_revenue_micro_usd: money(revenue),
        trailing_revenue_micro_usd: plan.context.trailing_revenue_micro_usd,
        taper_ppm,
        tokens_demanded: demand.tokens_demanded,
        tokens_served: demand.tokens_served,
        reported_memory_gb_total: reported,
        machines_64_gb_plus: to_u32(big),
        reasons,
        tiers,
        periods: None,
    }
}

/// One month of a period run, accumulated plan by plan (the plans are not
/// kept: a `5m` month has 8 928 of them).
pub struct PeriodMonth<'a> {
    policy: &'a Policy,
    /// The month's stats so far, from the first plan on.
    stats: Option<MonthStats>,
    /// Per machine (plan order): its tier, and whether it was eligible, at its
    /// floor, failing each gate in some period.
    tier: Vec<u32>,
    eligible_any: Vec<bool>,
    at_floor_any: Vec<bool>,
    reasons_any: Vec<Vec<Reason>>,
    counts: PeriodStats,
}

impl<'a> PeriodMonth<'a> {
    pub fn new(policy: &'a Policy) -> PeriodMonth<'a> {
        PeriodMonth {
            policy,
            stats: None,
            tier: Vec::new(),
            eligible_any: Vec::new(),
            at_floor_any: Vec::new(),
            reasons_any: Vec::new(),
            counts: PeriodStats {
                period: policy.period,
                n_periods: 0,
                machine_periods: 0,
                eligible_machine_periods: 0,
                at_floor_machine_periods: 0,
                reasons: BTreeMap::new(),
                binding_periods: 0,
            },
        }
    }

    /// Adds one period's plan. Every plan of a month lists the same machines.
    pub fn add(&mut self, month: u32, plan: &Plan, demand: &MonthDemand, turnover: Turnover) {
        let one = month_stats(month, self.policy, plan, demand, turnover);
        let c = &mut self.counts;
        c.n_periods = c.n_periods.saturating_add(1);
        c.machine_periods = c.machine_periods.saturating_add(u64::from(one.machines));
        c.eligible_machine_periods = c
            .eligible_machine_periods
            .saturating_add(u64::from(one.eligible));
        c.at_floor_machine_periods = c
            .at_floor_machine_periods
            .saturating_add(u64::from(one.at_floor));
        for (r, n) in &one.reasons {
            let slot = c.reasons.entry(r.clone()).or_insert(0);
            *slot = slot.saturating_add(u64::from(*n));
        }
        c.binding_periods = c
            .binding_periods
            .saturating_add(u32::from(one.pool_binding));
        if self.stats.is_none() {
            self.tier = plan
                .machines
                .iter()
                .map(|m| tier_of(self.policy, m.verified_memory_gb))
                .collect();
        }
        let n = plan.machines.len();
        self.eligible_any.resize(n, false);
        self.at_floor_any.resize(n, false);
        self.reasons_any.resize(n, Vec::new());
        for (i, m) in plan.machines.iter().enumerate() {
            if let Some(e) = self.eligible_any.get_mut(i) {
                *e |= m.eligible;
            }
            if let Some(f) = self.at_floor_any.get_mut(i) {
                *f |= m.eligible && m.granted_micro_usd > 0;
            }
            if let Some(rs) = self.reasons_any.get_mut(i) {
                for r in &m.reasons {
                    if !rs.contains(r) {
                        rs.push(*r);
                    }
                }
            }
        }
        self.stats = Some(match self.stats.take() {
            None => one,
            Some(acc) => add_period(acc, &one),
        });
    }

    /// The month: sums over its periods, machines counted once (see the
    /// module doc). `None` before any plan was added.
    pub fn finish(self) -> Option<MonthStats> {
        let mut m = self.stats?;
        m.epoch = m.epoch.month_id();
        let count = |v: &[bool]| to_u32(v.iter().filter(|b| **b).count());
        m.eligible = count(&self.eligible_any);
        m.at_floor = count(&self.at_floor_any);
        let mut reasons: BTreeMap<String, u32> = BTreeMap::new();
        for r in self.reasons_any.iter().flatten() {
            *reasons.entry(r.as_str().to_string()).or_insert(0) += 1;
        }
        m.reasons = reasons;
        m.pool_binding = self.counts.binding_periods > 0;
        for t in &mut m.tiers {
            // The monthly floor (a period plan's is its portion).
            t.tier_floor_micro_usd = self.policy.tier_floor(t.min_gb);
            let of_tier = |v: &[bool]| {
                v.iter()
                    .zip(&self.tier)
                    .filter(|(b, g)| **b && **g == t.min_gb)
                    .count()
            };
            t.eligible = to_u32(of_tier(&self.eligible_any));
            t.at_floor = to_u32(of_tier(&self.at_floor_any));
            let total = i128::from(t.earned_micro_usd) + i128::from(t.draws_micro_usd);
            t.mean_payout_micro_usd = money(round_div(total, i128::from(t.machines)));
        }
        m.periods = Some(self.counts);
        Some(m)
    }
}

/// `acc` with one more period of the same month: money summed, the month's
/// machines, demand and turnover kept, `R` and τ the latest period's.
fn add_period(mut acc: MonthStats, one: &MonthStats) -> MonthStats {
    let add = |a: &mut i64, b: i64| *a = a.saturating_add(b);
    add(&mut acc.pool_micro_usd, one.pool_micro_usd);
    add(
        &mut acc.desired_total_micro_usd,
        one.desired_total_micro_usd,
    );
    add(&mut acc.program_cost_micro_usd, one.program_cost_micro_usd);
    add(&mut acc.unallocated_micro_usd, one.unallocated_micro_usd);
    add(
        &mut acc.full_eligibility_cost_micro_usd,
        one.full_eligibility_cost_micro_usd,
    );
    add(
        &mut acc.organic_revenue_micro_usd,
        one.organic_revenue_micro_usd,
    );
    acc.trailing_revenue_micro_usd = one.trailing_revenue_micro_usd;
    acc.taper_ppm = one.taper_ppm;
    for (t, o) in acc.tiers.iter_mut().zip(&one.tiers) {
        add(&mut t.earned_micro_usd, o.earned_micro_usd);
        add(&mut t.draws_micro_usd, o.draws_micro_usd);
    }
    acc
}

/// The headline figures of a finished run.
pub fn figures(scenario: &Scenario, months: &[MonthStats]) -> Figures {
    let Some(first) = months.first() else {
        return Figures::default();
    };
    let n = i128::from(first.machines);
    let pool = i128::from(scenario.policy.pool_micro_usd);
    let first_binding = months
        .iter()
        .find(|m| m.pool_binding)
        .map(|m| FirstBinding {
            month: m.month,
            epoch: m.epoch,
            machines: m.machines,
        });
    let month_seconds = first.epoch.length_ms() / 1000;
    let d = &scenario.demand;
    let price = d.price_micro_usd_per_million_tokens;
    let break_even = scenario
        .policy
        .tiers
        .iter()
        .map(|t| {
            let tps = d.tokens_per_s(t.min_gb);
            let tokens_needed = if price > 0 {
                ceil_div(i128::from(t.floor_micro_usd) * 1_000_000, i128::from(price))
                    .and_then(|v| i64::try_from(v).ok())
                    .unwrap_or(i64::MAX)
            } else {
                0
            };
            let capacity = i64::from(tps).saturating_mul(month_seconds);
            let utilization_ppm = (price > 0 && capacity > 0).then(|| {
                money(round_div(
                    i128::from(t.floor_micro_usd) * 1_000_000 * i128::from(PPM_ONE),
                    i128::from(price) * i128::from(capacity),
                ))
            });
            BreakEven {
                min_gb: t.min_gb,
                tier_floor_micro_usd: t.floor_micro_usd,
                tokens_per_s: tps,
                price_micro_usd_per_million_tokens: price,
                month_seconds,
                tokens_needed,
                capacity_tokens: capacity,
                utilization_ppm,
            }
        })
        .collect();
    Figures {
        machines: first.machines,
        mean_memory_milli_gb: money(round_div(
            i128::from(first.reported_memory_gb_total) * 1000,
            n,
        )),
        share_64_gb_plus_ppm: money(round_div(
            i128::from(first.machines_64_gb_plus) * i128::from(PPM_ONE),
            n,
        )),
        full_eligibility_cost_micro_usd: first.full_eligibility_cost_micro_usd,
        tiered_machines: first
            .tiers
            .iter()
            .filter(|t| t.tier_floor_micro_usd > 0)
            .map(|t| t.machines)
            .sum(),
        above_uptime_gate: first.machines.saturating_sub(
            first
                .reasons
                .get(Reason::UptimeBelowGate.as_str())
                .copied()
                .unwrap_or(0),
        ),
        full_eligibility_bind_machines: ceil_div(
            pool * n,
            i128::from(first.full_eligibility_cost_micro_usd),
        ),
        eligible: first.eligible,
        desired_total_micro_usd: first.desired_total_micro_usd,
        program_cost_micro_usd: first.program_cost_micro_usd,
        desired_per_eligible_micro_usd: money(round_div(
            i128::from(first.desired_total_micro_usd),
            i128::from(first.eligible),
        )),
        eligible_bind_machines: ceil_div(
            pool * i128::from(first.eligible),
            i128::from(first.desired_total_micro_usd),
        ),
        observed_bind_machines: ceil_div(pool * n, i128::from(first.desired_total_micro_usd)),
        first_binding,
        break_even,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_helpers() {
        assert_eq!(round_div(5, 2), 3);
        assert_eq!(round_div(4, 3), 1);
        assert_eq!(round_div(1, 0), 0);
        assert_eq!(ceil_div(10, 3), Some(4));
        assert_eq!(ceil_div(9, 3), Some(3));
        assert_eq!(ceil_div(9, 0), None);
    }

    #[test]
    fn tiers_by_verified_memory() {
        let p = Policy::default();
        assert_eq!(tier_of(&p, 16), 0);
        assert_eq!(tier_of(&p, 36), 32);
        assert_eq!(tier_of(&p, 64), 64);
        assert_eq!(tier_of(&p, 1024), 512);
    }
}
