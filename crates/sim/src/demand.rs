//! Organic demand: how many tokens the network asks for each month, which
//! machines serve them, and what that earns each machine.
//!
//! A machine's single-stream capacity is `tokens_per_s(memory) × uptime`; it
//! can serve at most `max_utilization` times that. Demand is shared in
//! proportion to capacity × a per-machine jitter in `[1 − spread, 1 + spread]`,
//! capped at each machine's maximum, the overflow re-shared among the rest
//! (water-filling). Whatever no machine can take is unserved. Earnings are
//! `⌊tokens · price / 10⁶⌋` µUSD. Integer arithmetic only.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use floorline_core::money::PPM_ONE;

use crate::fleet::{mul_div, SimMachine, DEMAND_STREAM};
use crate::scenario::{DemandSpec, DemandVolume, Scenario};

/// Water-filling rounds before the last machines are simply capped.
const MAX_FILL_ROUNDS: usize = 200;
/// Growth factors stop compounding here (×10¹², in ppm) so nothing overflows.
const MAX_GROWTH_FACTOR_PPM: i128 = 1_000_000_000_000 * 1_000_000;

/// The demand side between months.
pub struct DemandState {
    rng: StdRng,
    /// (1 + growth)^t in ppm.
    factor_ppm: i128,
}

/// One month of demand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MonthDemand {
    pub tokens_demanded: i64,
    pub tokens_served: i64,
    /// Per machine, in fleet order.
    pub tokens: Vec<i64>,
    pub earned_micro_usd: Vec<i64>,
}

impl DemandState {
    pub fn new(s: &Scenario) -> DemandState {
        DemandState {
            rng: StdRng::seed_from_u64(s.seed ^ DEMAND_STREAM),
            factor_ppm: i128::from(PPM_ONE),
        }
    }

    /// Demand of month `t` (0-based) over the fleet as it is this month.
    pub fn month(&mut self, spec: &DemandSpec, t: u32, machines: &[SimMachine]) -> MonthDemand {
        if t > 0 {
            let ppm = i128::from(PPM_ONE);
            self.factor_ppm = (self.factor_ppm + self.factor_ppm * i128::from(spec.growth.0) / ppm)
                .min(MAX_GROWTH_FACTOR_PPM);
        }
        // Jitter is drawn for every machine every month, demand or not, so the
        // stream stays aligned whatever the volume.
        let spread = spec.spread.0.clamp(0, PPM_ONE);
        let single: Vec<i64> = machines
            .iter()
            .map(|m| {
                mul_div(
                    i64::from(spec.tokens_per_s(m.memory_gb)),
                    m.available_ms,
                    1000,
                )
            })
            .collect();
        let weights: Vec<i128> = single
            .iter()
            .map(|&c| {
                let jitter = self.rng.gen_range(PPM_ONE - spread..=PPM_ONE + spread);
                i128::from(c) * i128::from(jitter)
            })
            .collect();
        let caps: Vec<i64> = single
            .iter()
            .map(|&c| mul_div(c, spec.max_utilization.0, PPM_ONE))
            .collect();
        let demanded = match spec.volume {
            DemandVolume::TokensPerMonth(base) => grow(i128::from(base), self.factor_ppm),
            DemandVolume::Utilization(u) => {
                let capacity: i128 = single.iter().map(|&c| i128::from(c)).sum();
                grow(
                    capacity * i128::from(u.0) / i128::from(PPM_ONE),
                    self.factor_ppm,
                )
            }
        };
        let tokens = water_fill(demanded, &weights, &caps);
        let served: i64 = tokens.iter().fold(0i64, |a, &b| a.saturating_add(b));
        let price = spec.price_micro_usd_per_million_tokens;
        let earned_micro_usd = tokens
            .iter()
            .map(|&n| mul_div(n, price, 1_000_000))
            .collect();
        MonthDemand {
            tokens_demanded: demanded,
            tokens_served: served,
            tokens,
            earned_micro_usd,
        }
    }
}

fn grow(base: i128, factor_ppm: i128) -> i64 {
    let v = base.saturating_mul(factor_ppm) / i128::from(PPM_ONE);
    i64::try_from(v.max(0)).unwrap_or(i64::MAX)
}

/// Shares `demand` in proportion to `weights`, never above `caps`; the
/// overflow of capped machines goes to the others. Σ result = min(demand, Σ caps).
pub fn water_fill(demand: i64, weights: &[i128], caps: &[i64]) -> Vec<i64> {
    let n = weights.len().min(caps.len());
    let mut out = vec![0i64; n];
    let total_cap: i128 = caps.iter().map(|&c| i128::from(c.max(0))).sum();
    let target = i128::from(demand.max(0)).min(total_cap);
    let mut remaining = target;
    let mut active: Vec<usize> = (0..n)
        .filter(|&i| caps.get(i).is_some_and(|&c| c > 0) && weights.get(i).is_some_and(|&w| w > 0))
        .collect();
    for _ in 0..MAX_FILL_ROUNDS {
        if active.is_empty() || remaining <= 0 {
            break;
        }
        let w_sum: i128 = active.iter().filter_map(|&i| weights.get(i)).sum();
        if w_sum <= 0 {
            break;
        }
        // Machines whose proportional share reaches their cap take the cap.
        let (over, under): (Vec<usize>, Vec<usize>) = active.iter().partition(|&&i| {
            let w = weights.get(i).copied().unwrap_or(0);
            let c = i128::from(caps.get(i).copied().unwrap_or(0));
            remaining.saturating_mul(w) >= c.saturating_mul(w_sum)
        });
        if over.is_empty() {
            for &i in &under {
                let w = weights.get(i).copied().unwrap_or(0);
                if let Some(slot) = out.get_mut(i) {
                    *slot = i64::try_from(remaining.saturating_mul(w) / w_sum).unwrap_or(0);
                }
            }
            active.clear();
            break;
        }
        for &i in &over {
            let c = caps.get(i).copied().unwrap_or(0);
            if let Some(slot) = out.get_mut(i) {
                *slot = c;
            }
            remaining -= i128::from(c);
        }
        active = under;
    }
    // Rounding dust (or an unfinished fill): one token at a time, in order.
    let mut left = target - out.iter().map(|&v| i128::from(v)).sum::<i128>();
    for ((slot, &cap), &w) in out.iter_mut().zip(caps).zip(weights) {
        if left <= 0 {
            break;
        }
        if w <= 0 {
            continue;
        }
        let room = i128::from(cap.saturating_sub(*slot).max(0)).min(left);
        *slot = slot.saturating_add(i64::try_from(room).unwrap_or(0));
        left -= room;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportional_below_the_caps() {
        // 100 tokens over weights 1:3 → 25 and 75.
        assert_eq!(water_fill(100, &[1, 3], &[1000, 1000]), vec![25, 75]);
    }

    #[test]
    fn overflow_goes_to_the_others() {
        // 100 over 1:1:2 → 25/25/50, but the third is capped at 30: 70 left over 1:1 → 35/35.
        assert_eq!(
            water_fill(100, &[1, 1, 2], &[100, 100, 30]),
            vec![35, 35, 30]
        );
    }

    #[test]
    fn never_more_than_capacity_and_dust_is_served() {
        assert_eq!(water_fill(1_000, &[1, 1], &[10, 20]), vec![10, 20]);
        // 10 over three equal weights: 3 each, the dust token to the first.
        assert_eq!(water_fill(10, &[1, 1, 1], &[9, 9, 9]), vec![4, 3, 3]);
        assert_eq!(water_fill(5, &[0, 1], &[9, 9]), vec![0, 5]);
    }
}
