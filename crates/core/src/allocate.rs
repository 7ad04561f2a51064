//! Sharing the pool among allocation units (SPEC D14–D18).
//!
//! Invariants (property-tested): every grant is in `[0, need]`; Σ grants ≤ `B`;
//! phase-1 grants ≤ `W`; with a cap, no payee's grants exceed its headroom;
//! when Σ needs ≥ `B` and no cap binds, Σ grants = `B`.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::money::Ratio;
use crate::policy::Allocation;

/// One share competing for the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub machine_id: String,
    pub account_id: String,
    /// The payee the account belongs to (D14), whom the account cap binds.
    pub payee: String,
    pub need: i64,
    pub workhorse: bool,
    /// `(floor − min(earned, floor)) / floor`, 0 when the floor is 0.
    pub idle: Ratio,
}

/// D15: workhorse first, then higher idle fraction, then machine id, then account id.
pub fn rank_order(a: &Unit, b: &Unit) -> Ordering {
    b.workhorse
        .cmp(&a.workhorse)
        .then_with(|| b.idle.cmp_exact(&a.idle))
        .then_with(|| a.machine_id.cmp(&b.machine_id))
        .then_with(|| a.account_id.cmp(&b.account_id))
}

/// The money a run may hand out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// `B`: what is left of the pool.
    pub total: i64,
    /// `W`: what is left of the workhorse reserve, ≤ `B`.
    pub reserve: i64,
    /// Per-payee headroom under the account cap; `None` when there is no cap.
    pub headroom: Option<BTreeMap<String, i64>>,
}

/// Grants per unit, in the order of `units` (which must already be in rank order).
pub fn allocate(policy: Allocation, units: &[Unit], budget: &Budget) -> Vec<i64> {
    match policy {
        Allocation::Priority => priority(units, budget),
        Allocation::Waterfill => waterfill(units, budget),
    }
}

struct Headroom(Option<BTreeMap<String, i64>>);

impl Headroom {
    fn get(&self, payee: &str) -> i64 {
        match &self.0 {
            None => i64::MAX,
            Some(map) => map.get(payee).copied().unwrap_or(0),
        }
    }

    fn take(&mut self, payee: &str, amount: i64) {
        if let Some(slot) = self.0.as_mut().and_then(|m| m.get_mut(payee)) {
            *slot = slot.saturating_sub(amount);
        }
    }
}

/// D16: rank order, workhorses from the reserve first, then everyone from what is left.
fn priority(units: &[Unit], budget: &Budget) -> Vec<i64> {
    let mut grants = vec![0i64; units.len()];
    let mut headroom = Headroom(budget.headroom.clone());
    let mut b_left = budget.total;
    let mut w_left = budget.reserve.min(budget.total);
    for (unit, grant) in units.iter().zip(grants.iter_mut()) {
        if !unit.workhorse {
            continue;
        }
        let g = unit
            .need
            .min(w_left)
            .min(b_left)
            .min(headroom.get(&unit.payee))
            .max(0);
        *grant = g;
        w_left -= g;
        b_left -= g;
        headroom.take(&unit.payee, g);
    }
    for (unit, grant) in units.iter().zip(grants.iter_mut()) {
        let g = (unit.need - *grant)
            .min(b_left)
            .min(headroom.get(&unit.payee))
            .max(0);
        *grant += g;
        b_left -= g;
        headroom.take(&unit.payee, g);
    }
    grants
}

/// D17: max-min fair — phase 1 fills workhorses from `W`, phase 2 everyone from what is left.
fn waterfill(units: &[Unit], budget: &Budget) -> Vec<i64> {
    let mut headroom = Headroom(budget.headroom.clone());
    let workhorses: Vec<usize> = (0..units.len())
        .filter(|&i| units.get(i).is_some_and(|u| u.workhorse))
        .collect();
    let needs: Vec<i64> = units.iter().map(|u| u.need.max(0)).collect();
    let x1 = budget.reserve.min(budget.total).max(0);
    let phase1 = fill_capped(units, &needs, &workhorses, x1, &mut headroom);
    let spent1: i64 = phase1.iter().sum();
    let remaining: Vec<i64> = needs.iter().zip(&phase1).map(|(n, g)| n - g).collect();
    let everyone: Vec<usize> = (0..units.len()).collect();
    let x2 = (budget.total - spent1).max(0);
    let phase2 = fill_capped(units, &remaining, &everyone, x2, &mut headroom);
    phase1.iter().zip(&phase2).map(|(a, b)| a + b).collect()
}

/// Fills the units `members` (in rank order) with budget `x` under the account
/// cap: payees that would exceed their headroom at the uncapped level are
/// filled alone from their headroom, in order of payee name, and removed,
/// until none exceeds.
/// Returns grants for all units (0 outside `members`) and charges the headroom.
fn fill_capped(
    units: &[Unit],
    needs: &[i64],
    members: &[usize],
    x: i64,
    headroom: &mut Headroom,
) -> Vec<i64> {
    let mut grants = vec![0i64; units.len()];
    let mut rest: Vec<usize> = members.to_vec();
    let mut x = x;
    let payee = |i: usize| units.get(i).map_or("", |u| u.payee.as_str());
    let need = |i: usize| needs.get(i).copied().unwrap_or(0);
    loop {
        let level = level_for(rest.iter().map(|&i| need(i)), x);
        let mut per_payee: BTreeMap<&str, i64> = BTreeMap::new();
        for &i in &rest {
            let slot = per_payee.entry(payee(i)).or_insert(0);
            *slot = slot.saturating_add(need(i).min(level));
        }
        let exceeding: Vec<&str> = per_payee
            .iter()
            .filter(|(a, s)| **s > headroom.get(a))
            .map(|(a, _)| *a)
            .collect();
        if exceeding.is_empty() {
            break;
        }
        for a in exceeding {
            let own: Vec<usize> = rest.iter().copied().filter(|&i| payee(i) == a).collect();
            let budget = headroom.get(a).min(x).max(0);
            let filled = fill(&own.iter().map(|&i| need(i)).collect::<Vec<_>>(), budget);
            for (&i, g) in own.iter().zip(filled) {
                if let Some(slot) = grants.get_mut(i) {
                    *slot = g;
                }
                x -= g;
                headroom.take(a, g);
            }
            rest.retain(|&i| payee(i) != a);
        }
    }
    let filled = fill(&rest.iter().map(|&i| need(i)).collect::<Vec<_>>(), x);
    for (&i, g) in rest.iter().zip(filled) {
        if let Some(slot) = grants.get_mut(i) {
            *slot = g;
        }
        headroom.take(payee(i), g);
    }
    grants
}

/// The water level for budget `x`: the largest `L` with `Σ min(n_i, L) ≤ x`,
/// or the largest need when everything fits.
fn level_for(needs: impl Iterator<Item = i64> + Clone, x: i64) -> i64 {
    let max_need = needs.clone().max().unwrap_or(0).max(0);
    let total: i128 = needs.clone().map(i128::from).sum();
    if total <= i128::from(x) {
        return max_need;
    }
    let (mut lo, mut hi) = (0i64, max_need);
    // Invariant: Σ min(n, lo) ≤ x < Σ min(n, hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let s: i128 = needs.clone().map(|n| i128::from(n.min(mid))).sum();
        if s <= i128::from(x) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// D17's fill of budget `x` over needs in rank order: everyone up to the level,
/// then the spare µUSD one each to the units above it, in rank order.
pub fn fill(needs: &[i64], x: i64) -> Vec<i64> {
    let total: i128 = needs.iter().map(|&n| i128::from(n.max(0))).sum();
    if total <= i128::from(x) {
        return needs.iter().map(|&n| n.max(0)).collect();
    }
    let level = level_for(needs.iter().map(|&n| n.max(0)), x);
    let mut grants: Vec<i64> = needs.iter().map(|&n| n.max(0).min(level)).collect();
    let mut spare = x - grants.iter().sum::<i64>();
    for (g, &n) in grants.iter_mut().zip(needs) {
        if spare <= 0 {
            break;
        }
        if n > level {
            *g += 1;
            spare -= 1;
        }
    }
    grants
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_levels_and_spreads_spare_in_rank_order() {
        // needs 10, 3, 10 with 20: level L=8 gives 8+3+8=19 ≤ 20, L=9 gives 21 > 20;
        // the spare 1 goes to the first unit above the level.
        assert_eq!(fill(&[10, 3, 10], 20), vec![9, 3, 8]);
        assert_eq!(fill(&[10, 3, 10], 100), vec![10, 3, 10]);
        assert_eq!(fill(&[10, 3, 10], 0), vec![0, 0, 0]);
    }
}
