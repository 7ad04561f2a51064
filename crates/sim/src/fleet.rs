//! The synthetic fleet: which machines exist each month, what they are, how
//! long they are up, and the [`EpochFacts`] core reads about them.
//!
//! Everything random comes from seeded [`StdRng`] streams (one for the fleet's
//! membership, one for uptime), drawn in machine order, with integer
//! arithmetic only: the same scenario gives the same fleet on every platform.
//! The policy never influences a draw, so two policies compared on one
//! fleet see exactly the same machines, uptimes and demand.
//!
//! Modelling choices (documented in `SCENARIOS.md`):
//! - a machine joins at the first instant of a month, attested a day before,
//!   bound (if it has a payout account) from then on;
//! - uptime is one session `[S, S + A)` (or the whole month, open-ended);
//! - a probed machine has one passed tier probe mid-way through its uptime,
//!   proving its reported memory;
//! - its organic earnings are spread evenly over the month, which fixes the
//!   trailing-30-day and work-window sums the plan reads.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};

use floorline_core::facts::{
    AttestationFact, BindingFact, EpochFacts, MachineFacts, OrganicEarnings, ProbeFact,
    SessionFact, TRAILING_REVENUE_DAYS,
};
use floorline_core::money::PPM_ONE;
use floorline_core::policy::Trust;
use floorline_core::time::DAY_MS;
use floorline_core::EpochId;

use crate::scenario::Scenario;

/// Stream constants: each stream of random numbers is seeded `seed ^ K`.
const FLEET_STREAM: u64 = 0x666c_6565_7431;
const UPTIME_STREAM: u64 = 0x7570_7469_6d65;
pub(crate) const DEMAND_STREAM: u64 = 0x6465_6d61_6e64;

/// One simulated machine and its history.
#[derive(Debug, Clone)]
pub struct SimMachine {
    pub id: String,
    pub account: String,
    pub payee: String,
    pub model: String,
    pub memory_gb: u32,
    pub bound: bool,
    pub probed: bool,
    /// When it was attested (and bound).
    pub joined_ms: i64,
    pub bucket: usize,
    /// This month's available time.
    pub available_ms: i64,
    /// Last month's organic earnings and the length of last month (ms).
    pub prev_earned_micro_usd: i64,
    pub prev_epoch_ms: i64,
    /// Last month's organic earnings + draws (the cliff guard's `P`).
    pub prev_total_micro_usd: i64,
    /// End of the latest month in which it earned (its last earning is just before).
    pub last_earning_end_ms: Option<i64>,
    /// Period runs only ([`crate::periods`]): how its last two months' earnings
    /// were spread (oldest first), for the trailing-30-day sums.
    pub earning_spans: Vec<EarningSpan>,
    /// Period runs only: the end of the up time of the latest earlier month in
    /// which it earned (its last job is just before).
    pub last_job_end_ms: Option<i64>,
}

/// A month's organic earnings of one machine spread evenly over its up time
/// `[start_ms, start_ms + up_ms)` (period runs, [`crate::periods`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EarningSpan {
    pub start_ms: i64,
    pub up_ms: i64,
    pub earned_micro_usd: i64,
}

impl EarningSpan {
    /// `⌊earned · |[start, t) ∩ up time| / up_ms⌋`: what it earned before `t`.
    pub fn earned_before(&self, t_ms: i64) -> i64 {
        let inside = t_ms
            .saturating_sub(self.start_ms)
            .clamp(0, self.up_ms.max(0));
        mul_div(self.earned_micro_usd, inside, self.up_ms)
    }

    /// What it earned in `[a, b)`; the amounts of consecutive intervals add
    /// up exactly (to `earned` over the whole up time).
    pub fn earned_between(&self, a_ms: i64, b_ms: i64) -> i64 {
        if b_ms <= a_ms {
            return 0;
        }
        self.earned_before(b_ms)
            .saturating_sub(self.earned_before(a_ms))
    }

    /// The instant its last job falls just before (the end of its up time).
    pub fn end_ms(&self) -> i64 {
        self.start_ms.saturating_add(self.up_ms)
    }
}

/// The fleet between months.
pub struct FleetState {
    pub machines: Vec<SimMachine>,
    next_index: u64,
    /// The expected fleet size × 10⁶, so that small growth compounds.
    size_ppm: i128,
    fleet_rng: StdRng,
    uptime_rng: StdRng,
}

/// What changed at the start of a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Turnover {
    pub joined: u32,
    pub left: u32,
}

/// One machine's organic earnings as the plan reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Earned {
    pub epoch_micro_usd: i64,
    pub trailing_micro_usd: i64,
    pub in_work_window: bool,
}

/// `⌊a · b / c⌋` for non-negative operands in `i128`, saturating into `i64`.
pub(crate) fn mul_div(a: i64, b: i64, c: i64) -> i64 {
    if c <= 0 {
        return 0;
    }
    let v = i128::from(a) * i128::from(b) / i128::from(c);
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Picks an index with probability proportional to its weight (`total` = Σ weights > 0).
fn pick(rng: &mut StdRng, weights: impl Iterator<Item = i64>, total: i64) -> usize {
    if total <= 0 {
        return 0;
    }
    let mut r = rng.gen_range(0..total);
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        last = i;
        if r < w {
            return i;
        }
        r -= w;
    }
    last
}

/// True with probability `ppm / 10⁶`. Always draws exactly one number, so
/// changing a probability never shifts the draws that follow.
fn chance(rng: &mut StdRng, ppm: i64) -> bool {
    rng.gen_range(0..PPM_ONE) < ppm
}

impl FleetState {
    pub fn new(s: &Scenario) -> FleetState {
        FleetState {
            machines: Vec::new(),
            next_index: 0,
            size_ppm: i128::from(s.fleet.machines) * i128::from(PPM_ONE),
            fleet_rng: StdRng::seed_from_u64(s.seed ^ FLEET_STREAM),
            uptime_rng: StdRng::seed_from_u64(s.seed ^ UPTIME_STREAM),
        }
    }

    /// Moves the fleet into month `t` (0-based) = `epoch`: churn, growth,
    /// then every machine's uptime for the month.
    pub fn advance(&mut self, s: &Scenario, t: u32, epoch: EpochId) -> Turnover {
        let f = &s.fleet;
        let mut turnover = Turnover::default();
        let cap = i128::from(f.max_machines.min(crate::scenario::MAX_MACHINES));
        if t > 0 {
            // Churn: a random subset leaves.
            let n = self.machines.len();
            let leaving = round_ppm(n, f.churn.0).min(n);
            if leaving > 0 {
                let mut order: Vec<usize> = (0..n).collect();
                for i in 0..leaving {
                    let j = self.fleet_rng.gen_range(i..n);
                    order.swap(i, j);
                }
                let mut gone = vec![false; n];
                for &i in order.iter().take(leaving) {
                    if let Some(g) = gone.get_mut(i) {
                        *g = true;
                    }
                }
                let mut k = 0;
                self.machines.retain(|_| {
                    let keep = !gone.get(k).copied().unwrap_or(false);
                    k += 1;
                    keep
                });
            }
            turnover.left = u32::try_from(leaving).unwrap_or(u32::MAX);
            // Net growth, compounding on the expected size.
            let ppm = i128::from(PPM_ONE);
            self.size_ppm = (self.size_ppm
                + self.size_ppm * i128::from(f.growth.0) / ppm
                + i128::from(f.growth_machines) * ppm)
                .min(cap * ppm);
        }
        let target = usize::try_from((self.size_ppm + 500_000) / 1_000_000).unwrap_or(0);
        let joining = target.saturating_sub(self.machines.len());
        let joined_ms = epoch.start().0.saturating_sub(DAY_MS);
        let total_weight: i64 = f.mix.iter().map(|m| m.weight.0).sum();
        for _ in 0..joining {
            let entry = pick(
                &mut self.fleet_rng,
                f.mix.iter().map(|m| m.weight.0),
                total_weight,
            );
            let Some(kind) = f.mix.get(entry) else {
                continue;
            };
            let bound = chance(&mut self.fleet_rng, f.bound.0);
            let probed = chance(&mut self.fleet_rng, f.probed.0);
            let index = self.next_index;
            self.next_index = self.next_index.saturating_add(1);
            let account = index / u64::from(f.machines_per_account.max(1));
            self.machines.push(SimMachine {
                id: format!("m-{index:07}"),
                account: format!("acct-{account:07}"),
                payee: format!("payee-{account:07}"),
                model: kind.model.clone(),
                memory_gb: kind.memory_gb,
                bound,
                probed,
                joined_ms,
                bucket: usize::MAX,
                available_ms: 0,
                prev_earned_micro_usd: 0,
                prev_epoch_ms: 0,
                prev_total_micro_usd: 0,
                last_earning_end_ms: None,
                earning_spans: Vec::new(),
                last_job_end_ms: None,
            });
        }
        turnover.joined = u32::try_from(joining).unwrap_or(u32::MAX);

        // Uptime: sticky buckets, uniform within a bucket.
        let u = &s.uptime;
        let bucket_total: i64 = u.buckets.iter().map(|b| b.weight.0).sum();
        let t_ms = epoch.length_ms();
        for m in &mut self.machines {
            let keep = m.bucket != usize::MAX && chance(&mut self.uptime_rng, u.persistence.0);
            if !keep {
                m.bucket = pick(
                    &mut self.uptime_rng,
                    u.buckets.iter().map(|b| b.weight.0),
                    bucket_total,
                );
            }
            let uptime_ppm = match u.buckets.get(m.bucket) {
                Some(b) => self.uptime_rng.gen_range(b.min.0..=b.max.0),
                None => 0,
            };
            m.available_ms = mul_div(uptime_ppm, t_ms, PPM_ONE);
        }
        turnover
    }

    /// The facts of `epoch` for the fleet, with each machine's earnings
    /// (`earned` is in `machines` order), every attestation at `trust`.
    pub fn facts(&self, epoch: EpochId, earned: &[Earned], trust: Trust) -> EpochFacts {
        let s = epoch.start().0;
        let e = epoch.end().0;
        let mut payout_accounts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let machines = self
            .machines
            .iter()
            .zip(
                earned
                    .iter()
                    .copied()
                    .chain(std::iter::repeat(Earned::default())),
            )
            .map(|(m, earn)| {
                if m.bound {
                    payout_accounts
                        .entry(m.payee.clone())
                        .or_default()
                        .insert(m.account.clone());
                }
                machine_facts(m, s, e, earn, trust)
            })
            .collect();
        EpochFacts {
            epoch,
            machines,
            payout_accounts,
            prior_draws: Vec::new(),
        }
    }
}

fn machine_facts(m: &SimMachine, s: i64, e: i64, earn: Earned, trust: Trust) -> MachineFacts {
    let t_ms = e.saturating_sub(s);
    let sessions = if m.available_ms >= t_ms {
        vec![SessionFact {
            connected_at_ms: s.saturating_sub(DAY_MS),
            last_seen_at_ms: Some(e.saturating_add(DAY_MS)),
            disconnected_at_ms: None,
        }]
    } else if m.available_ms > 0 {
        let until = s.saturating_add(m.available_ms);
        vec![SessionFact {
            connected_at_ms: s,
            last_seen_at_ms: Some(until),
            disconnected_at_ms: Some(until),
        }]
    } else {
        Vec::new()
    };
    let probes = if m.probed && m.available_ms > 0 {
        vec![ProbeFact {
            probe_id: format!("probe-{}-{s}", m.id),
            at_ms: s.saturating_add(m.available_ms / 2),
            passed: true,
            verified_memory_gb: Some(m.memory_gb),
            own: false,
        }]
    } else {
        Vec::new()
    };
    let bindings = if m.bound {
        vec![BindingFact {
            account_id: m.account.clone(),
            payout_identity: m.payee.clone(),
            from_ms: m.joined_ms,
            to_ms: None,
        }]
    } else {
        Vec::new()
    };
    // The simulated network's jobs are bought by consumers, never by their owner.
    let earnings = OrganicEarnings {
        epoch_micro_usd: earn.epoch_micro_usd,
        trailing_micro_usd: earn.trailing_micro_usd,
        n_in_work_window: i64::from(earn.in_work_window),
    };
    MachineFacts {
        machine_id: m.id.clone(),
        attestations: vec![AttestationFact {
            attested_at_ms: m.joined_ms,
            hardware_model: m.model.clone(),
            reported_memory_gb: m.memory_gb,
            trust,
            se_public_key: None,
        }],
        bindings,
        sessions,
        health: Vec::new(),
        probes,
        earnings,
        previous_total_micro_usd: m.prev_total_micro_usd,
    }
}

/// The plan's view of a machine's organic earnings this month, spread evenly
/// over the month: the trailing 30 days take `min(30 d, T)` of this month and
/// the rest from last month; the work window sees any month that earned and
/// ended after the window opened.
pub fn earned_view(m: &SimMachine, earned: i64, epoch: EpochId, work_window_days: u32) -> Earned {
    let t_ms = epoch.length_ms();
    let window = TRAILING_REVENUE_DAYS * DAY_MS;
    let this = mul_div(earned, window.min(t_ms), t_ms);
    let back = window.saturating_sub(t_ms).clamp(0, m.prev_epoch_ms.max(0));
    let prev = mul_div(m.prev_earned_micro_usd, back, m.prev_epoch_ms);
    let work_start = epoch
        .end()
        .0
        .saturating_sub(i64::from(work_window_days) * DAY_MS);
    let in_work_window = earned > 0 || m.last_earning_end_ms.is_some_and(|end| end > work_start);
    Earned {
        epoch_micro_usd: earned,
        trailing_micro_usd: this.saturating_add(prev),
        in_work_window,
    }
}

/// `round(n · ppm / 10⁶)`, half up.
pub(crate) fn round_ppm(n: usize, ppm: i64) -> usize {
    let n = i128::try_from(n).unwrap_or(i128::MAX);
    let v = (2 * n * i128::from(ppm) + i128::from(PPM_ONE)) / (2 * i128::from(PPM_ONE));
    usize::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_and_proportions() {
        assert_eq!(round_ppm(10, 50_000), 1, "0.5 rounds up");
        assert_eq!(round_ppm(10, 40_000), 0);
        assert_eq!(mul_div(10, 3, 4), 7);
        assert_eq!(mul_div(10, 3, 0), 0);
    }

    #[test]
    fn a_span_splits_into_parts_that_add_up() {
        // $10 over 3 ms of up time from t = 100: ⌊10·1/3⌋ = 3, ⌊10·2/3⌋ = 6, 10.
        let s = EarningSpan {
            start_ms: 100,
            up_ms: 3,
            earned_micro_usd: 10,
        };
        let parts: Vec<i64> = (99..104).map(|t| s.earned_between(t, t + 1)).collect();
        assert_eq!(parts, vec![0, 3, 3, 4, 0]);
        assert_eq!(s.earned_between(0, 1_000), 10);
        assert_eq!(s.earned_between(5, 5), 0);
        assert_eq!(s.end_ms(), 103);
    }

    #[test]
    fn february_trailing_reaches_into_january() {
        // Feb 2027: 28 days. Trailing 30 days = all of February + 2 of January's 31 days.
        let epoch: EpochId = "2027-02".parse().unwrap();
        let m = SimMachine {
            id: "m".into(),
            account: "a".into(),
            payee: "p".into(),
            model: "Mac16,11".into(),
            memory_gb: 64,
            bound: true,
            probed: true,
            joined_ms: 0,
            bucket: 0,
            available_ms: 0,
            prev_earned_micro_usd: 31_000_000,
            prev_epoch_ms: 31 * DAY_MS,
            prev_total_micro_usd: 0,
            last_earning_end_ms: Some(epoch.start().0),
            earning_spans: Vec::new(),
            last_job_end_ms: None,
        };
        let v = earned_view(&m, 28_000_000, epoch, 45);
        assert_eq!(v.trailing_micro_usd, 28_000_000 + 2_000_000);
        assert!(v.in_work_window);
        let v = earned_view(&m, 0, epoch, 20);
        assert!(
            !v.in_work_window,
            "January ended before the 20-day window opened"
        );
    }
}
