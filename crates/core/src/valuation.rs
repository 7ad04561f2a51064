//! What one machine is worth this epoch (SPEC D3–D13): verified memory, tier
//! floor, available time, scaled floor, organic earnings, desired draw, gates
//! and ownership shares. Pure functions of one machine's facts and the policy.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::error::CoreError;
use crate::facts::{AttestationFact, MachineFacts, Windows};
use crate::identity::SeKey;
use crate::intervals::Set;
use crate::money::{floor_div, mul_div_floor, mul_div_round, portion, to_money, Ratio, PPM_ONE};
use crate::policy::Policy;
use crate::time::{EpochId, DAY_MS};

/// Why a machine is not eligible, in the fixed order of SPEC D12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    NotAttested,
    DuplicateIdentity,
    BelowMinMemory,
    UptimeBelowGate,
    NoProvenWork,
    NoPayoutAccount,
}

impl Reason {
    pub const ALL: [Reason; 6] = [
        Reason::NotAttested,
        Reason::DuplicateIdentity,
        Reason::BelowMinMemory,
        Reason::UptimeBelowGate,
        Reason::NoProvenWork,
        Reason::NoPayoutAccount,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotAttested => "not_attested",
            Reason::DuplicateIdentity => "duplicate_identity",
            Reason::BelowMinMemory => "below_min_memory",
            Reason::UptimeBelowGate => "uptime_below_gate",
            Reason::NoProvenWork => "no_proven_work",
            Reason::NoPayoutAccount => "no_payout_account",
        }
    }
}

/// The context every machine of one plan shares.
pub struct Context<'a> {
    pub policy: &'a Policy,
    /// The month or period valued (D22: a period's tier floor is its portion).
    pub epoch: EpochId,
    pub windows: Windows,
    /// The taper τ (D11); `1/1` when off.
    pub taper: Ratio,
}

impl Context<'_> {
    fn epoch_ms(&self) -> i64 {
        self.windows.end_ms.saturating_sub(self.windows.start_ms)
    }
}

/// One account's part of a machine's available time (D13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub account_id: String,
    pub bound_ms: i64,
    pub desired_micro_usd: i64,
}

/// Every figure of one machine, eligible or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valuation {
    pub machine_id: String,
    pub reasons: Vec<Reason>,
    pub hardware_model: String,
    pub reported_memory_gb: u32,
    pub model_cap_gb: Option<u32>,
    pub proven_gb: u32,
    pub verified_memory_gb: u32,
    pub tier_floor_micro_usd: i64,
    pub available_ms: i64,
    pub uptime_ppm: i64,
    pub floor_untapered_micro_usd: i64,
    pub floor_micro_usd: i64,
    pub earned_micro_usd: i64,
    pub desired_untapered_micro_usd: i64,
    pub desired_micro_usd: i64,
    /// Empty for ineligible machines.
    pub shares: Vec<Share>,
}

impl Valuation {
    pub fn eligible(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// D5: the largest verified size among the valid passes, and whether any
/// exists. With `require_own_probes`, only the prober's own facts count.
fn proven(machine: &MachineFacts, policy: &Policy, w: &Windows) -> (u32, bool) {
    let mut probes: Vec<_> = machine
        .probes
        .iter()
        .filter(|p| p.at_ms >= w.work_start_ms && p.at_ms < w.end_ms)
        .filter(|p| p.own || !policy.require_own_probes)
        .collect();
    probes.sort_by(|a, b| (a.at_ms, &a.probe_id).cmp(&(b.at_ms, &b.probe_id)));
    let after_last_failure = match probes.iter().rposition(|p| !p.passed) {
        Some(i) => probes.get(i.saturating_add(1)..).unwrap_or_default(),
        None => probes.as_slice(),
    };
    let any = after_last_failure.iter().any(|p| p.passed);
    let gb = after_last_failure
        .iter()
        .filter_map(|p| p.verified_memory_gb)
        .max()
        .unwrap_or(0);
    (gb, any)
}

/// D7: the machine's available time inside `[S, E)`.
pub fn available(machine: &MachineFacts, policy: &Policy, w: &Windows) -> Set {
    let sessions = Set::union_of(
        machine
            .sessions
            .iter()
            .map(|s| {
                let last_seen = s
                    .last_seen_at_ms
                    .or(s.disconnected_at_ms)
                    .unwrap_or(s.connected_at_ms);
                let mut b = w.end_ms.min(last_seen.saturating_add(policy.grace_ms));
                if let Some(d) = s.disconnected_at_ms {
                    b = b.min(d);
                }
                (s.connected_at_ms.max(w.start_ms), b)
            })
            .collect(),
    );
    let mut health: Vec<_> = machine.health.iter().collect();
    health.sort_by_key(|h| h.at_ms);
    let unhealthy = Set::union_of(
        health
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.healthy)
            .map(|(i, h)| {
                let until = health
                    .get(i.saturating_add(1))
                    .map_or(i64::MAX, |next| next.at_ms);
                (h.at_ms, until)
            })
            .collect(),
    );
    sessions.minus(&unhealthy)
}

/// D8: `round(tier_floor · num · τn / (den · τd))` with the availability ramp.
fn scaled_floor(
    tier_floor: i64,
    available_ms: i64,
    ctx: &Context<'_>,
    taper: Ratio,
) -> Result<i64, CoreError> {
    let t = i128::from(ctx.epoch_ms());
    let m = i128::from(ctx.policy.min_uptime.0);
    let f = i128::from(ctx.policy.full_uptime.0);
    let den = (f - m) * t;
    let num = (i128::from(available_ms) * i128::from(PPM_ONE) - m * t).clamp(0, den.max(0));
    let v = mul_div_round(
        &[i128::from(tier_floor), num, taper.num],
        &[den, taper.den],
        "floor",
    )?;
    to_money(v, "floor")
}

/// Values one machine (D3–D13).
///
/// `duplicate_identity`: whether another machine with a smaller id has the
/// same Secure Enclave key ([`duplicate_identities`]).
pub fn value(
    machine: &MachineFacts,
    ctx: &Context<'_>,
    duplicate_identity: bool,
) -> Result<Valuation, CoreError> {
    let policy = ctx.policy;
    let w = &ctx.windows;
    let t_ms = ctx.epoch_ms();

    // D3: the attestations in force — the latest at or before S and every
    // one inside the epoch; without any, the earliest gives the figures.
    let before_end: Vec<&AttestationFact> = machine
        .attestations
        .iter()
        .filter(|a| a.attested_at_ms < w.end_ms)
        .collect();
    let mut in_force: Vec<&AttestationFact> = before_end
        .iter()
        .copied()
        .filter(|a| a.attested_at_ms <= w.start_ms)
        .max_by_key(|a| a.attested_at_ms)
        .into_iter()
        .chain(
            before_end
                .iter()
                .copied()
                .filter(|a| a.attested_at_ms > w.start_ms),
        )
        .collect();
    in_force.sort_by_key(|a| a.attested_at_ms);
    let attested = in_force
        .iter()
        .map(|a| a.trust)
        .min()
        .is_some_and(|trust| trust >= policy.min_trust);
    let figures: Vec<&AttestationFact> = if in_force.is_empty() {
        machine
            .attestations
            .iter()
            .min_by_key(|a| a.attested_at_ms)
            .into_iter()
            .collect()
    } else {
        in_force
    };
    // The latest of them is what the machine says it is now (explanations).
    let (hardware_model, reported) = figures.last().map_or((String::new(), 0), |a| {
        (a.hardware_model.clone(), a.reported_memory_gb)
    });

    // D5, D6: verified memory, the smallest over the attestations in force.
    let (proven_gb, any_valid_pass) = proven(machine, policy, w);
    let verified_of = |a: &AttestationFact| {
        let v = match policy.model_cap_gb(&a.hardware_model) {
            Some(cap) => a.reported_memory_gb.min(cap),
            None => a
                .reported_memory_gb
                .min(policy.unknown_model_cap_gb.max(proven_gb)),
        };
        if policy.require_tier_probe {
            v.min(proven_gb)
        } else {
            v
        }
    };
    let model_cap_gb = policy.model_cap_gb(&hardware_model);
    let verified = figures.iter().map(|a| verified_of(a)).min().unwrap_or(0);
    // D4, D22: the month's tier floor gates; a period is floored by its portion.
    let monthly_tier_floor = policy.tier_floor(verified);
    let tier_floor = portion(monthly_tier_floor, ctx.epoch);

    // D7: available time and uptime.
    let avail = available(machine, policy, w);
    let available_ms = avail.len_ms();
    let uptime_ppm = to_money(
        floor_div(
            i128::from(available_ms) * i128::from(PPM_ONE),
            i128::from(t_ms),
        ),
        "uptime",
    )?;

    // D8: scaled floors.
    let floor_untapered = scaled_floor(tier_floor, available_ms, ctx, Ratio::ONE)?;
    let floor = scaled_floor(tier_floor, available_ms, ctx, ctx.taper)?;

    // D9: organic earnings (summed by whoever built the facts).
    let earned = machine.earnings.epoch_micro_usd;
    let organic_in_work_window = machine.earnings.n_in_work_window > 0;

    // D10: draw with k and the cliff guard.
    let k_earned = mul_div_floor(
        &[i128::from(policy.reduction_k.0), i128::from(earned)],
        &[i128::from(PPM_ONE)],
        "k·earned",
    )?;
    let desired_untapered = (i128::from(floor_untapered) - k_earned).max(0);
    let mut desired = (i128::from(floor) - k_earned).max(0);
    let previous = machine.previous_total_micro_usd;
    if previous > 0 {
        let kept = mul_div_floor(
            &[
                i128::from(PPM_ONE - policy.cliff_max_drop.0),
                i128::from(previous),
            ],
            &[i128::from(PPM_ONE)],
            "cliff guard",
        )?;
        let guard = (kept - i128::from(earned)).max(0);
        desired = desired.max(desired_untapered.min(guard));
    }
    let desired = to_money(desired, "desired draw")?;
    let desired_untapered = to_money(desired_untapered, "desired draw")?;

    // D12: gates, in order.
    let mut reasons = Vec::new();
    if !attested {
        reasons.push(Reason::NotAttested);
    }
    if duplicate_identity {
        reasons.push(Reason::DuplicateIdentity);
    }
    if monthly_tier_floor == 0 {
        reasons.push(Reason::BelowMinMemory);
    }
    if i128::from(available_ms) * i128::from(PPM_ONE)
        <= i128::from(policy.min_uptime.0) * i128::from(t_ms)
    {
        reasons.push(Reason::UptimeBelowGate);
    }
    if !organic_in_work_window && !any_valid_pass {
        reasons.push(Reason::NoProvenWork);
    }
    let mut bound_by_account: BTreeMap<&str, i64> = BTreeMap::new();
    for b in &machine.bindings {
        let ms = avail.overlap_ms(b.from_ms, b.to_ms.unwrap_or(i64::MAX));
        if ms > 0 {
            let slot = bound_by_account.entry(b.account_id.as_str()).or_insert(0);
            *slot = slot.saturating_add(ms);
        }
    }
    if bound_by_account.is_empty() {
        reasons.push(Reason::NoPayoutAccount);
    }

    // D13: ownership shares.
    let shares = if reasons.is_empty() {
        split_shares(desired, available_ms, &bound_by_account)?
    } else {
        Vec::new()
    };

    Ok(Valuation {
        machine_id: machine.machine_id.clone(),
        reasons,
        hardware_model,
        reported_memory_gb: reported,
        model_cap_gb,
        proven_gb,
        verified_memory_gb: verified,
        tier_floor_micro_usd: tier_floor,
        available_ms,
        uptime_ppm,
        floor_untapered_micro_usd: floor_untapered,
        floor_micro_usd: floor,
        earned_micro_usd: earned,
        desired_untapered_micro_usd: desired_untapered,
        desired_micro_usd: desired,
        shares,
    })
}

/// D12 `duplicate_identity`: the machines whose latest attestation before
/// `E` has a key that the latest attestation before `E` of a machine with a
/// smaller id also has (compared as the decoded point).
pub fn duplicate_identities<'a>(
    machines: impl IntoIterator<Item = &'a MachineFacts>,
    w: &Windows,
) -> BTreeSet<String> {
    let mut first_holder: BTreeMap<SeKey, &str> = BTreeMap::new();
    let mut keyed: Vec<(&str, SeKey)> = Vec::new();
    for m in machines {
        let latest = m
            .attestations
            .iter()
            .filter(|a| a.attested_at_ms < w.end_ms)
            .max_by_key(|a| a.attested_at_ms);
        if let Some(key) = latest
            .and_then(|a| a.se_public_key.as_deref())
            .and_then(SeKey::decode)
        {
            keyed.push((m.machine_id.as_str(), key));
        }
    }
    for (id, key) in &keyed {
        let slot = first_holder.entry(key.clone()).or_insert(id);
        if *id < *slot {
            *slot = id;
        }
    }
    keyed
        .into_iter()
        .filter(|(id, key)| first_holder.get(key).is_some_and(|first| first < id))
        .map(|(id, _)| id.to_string())
        .collect()
}

/// D13: `share_a = ⌊desired · ms_a / A⌋`; the remainder up to
/// `⌊desired · bound / A⌋` goes to the longest-bound account (ties: smallest id).
fn split_shares(
    desired: i64,
    available_ms: i64,
    bound: &BTreeMap<&str, i64>,
) -> Result<Vec<Share>, CoreError> {
    if available_ms <= 0 {
        return Ok(Vec::new());
    }
    let a = i128::from(available_ms);
    let d = i128::from(desired);
    let mut shares = Vec::with_capacity(bound.len());
    let mut sum: i128 = 0;
    let mut total_ms: i128 = 0;
    for (account, ms) in bound {
        let share = floor_div(d * i128::from(*ms), a);
        sum += share;
        total_ms += i128::from(*ms);
        shares.push(Share {
            account_id: (*account).to_string(),
            bound_ms: *ms,
            desired_micro_usd: to_money(share, "share")?,
        });
    }
    let remainder = to_money(floor_div(d * total_ms, a) - sum, "share remainder")?;
    // BTreeMap order is ascending account id, so the first maximum wins ties.
    let mut best: Option<&mut Share> = None;
    for s in shares.iter_mut() {
        if best.as_ref().is_none_or(|b| s.bound_ms > b.bound_ms) {
            best = Some(s);
        }
    }
    if let Some(b) = best {
        b.desired_micro_usd = b
            .desired_micro_usd
            .checked_add(remainder)
            .ok_or(CoreError::Overflow("share"))?;
    }
    Ok(shares)
}

/// D11: the taper `τ = min(glide, revenue)`; `R` is the trailing fleet revenue.
pub fn taper(policy: &Policy, windows: &Windows, trailing_revenue: i128) -> Ratio {
    if !policy.taper_enabled {
        return Ratio::ONE;
    }
    let target = i128::from(policy.target_revenue_micro_usd);
    let revenue = if target <= 0 {
        Ratio::ZERO
    } else {
        Ratio::new((target - trailing_revenue).max(0), target).clamp_unit()
    };
    let glide = match policy.launch() {
        None => Ratio::ONE,
        Some(launch) => {
            let days = windows.end_ms.saturating_sub(launch.0).div_euclid(DAY_MS);
            let residual = i128::from(policy.calendar_residual.0);
            if days <= 30 {
                Ratio::ONE
            } else if days >= 90 {
                Ratio::new(residual, i128::from(PPM_ONE))
            } else {
                // (60 − (days − 30)·(1 − residual)) / 60, in ppm.
                let ppm = i128::from(PPM_ONE);
                Ratio::new(
                    60 * ppm - i128::from(days - 30) * (ppm - residual),
                    60 * ppm,
                )
            }
        }
    };
    glide.min(revenue)
}
