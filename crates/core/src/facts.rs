//! [`EpochFacts`]: the durable facts one epoch's plan reads, already validated,
//! with aliases resolved to machine ids and earnings grouped.
//!
//! Earnings are the one fact with millions of rows, and the plan reads only
//! three numbers of them per machine: the sums of its organic earnings (D9)
//! over the epoch and over the taper's trailing window, and how many fall in
//! the work window ([`OrganicEarnings`]). [`organic_earnings`] is the
//! reference: it groups raw earnings by `(consumer, kind, pinned, owner at job
//! time)` ([`group_earnings`], also what an explanation shows), keeps the
//! groups [`is_organic`] accepts and adds them up. The store computes the same
//! three numbers in SQL, one aggregate query for the whole fleet, and is
//! tested against this reference.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::CoreError;
use crate::policy::{Policy, Trust};
use crate::time::{EpochId, DAY_MS};

/// Where an earning came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EarningKind {
    Inference,
    Probe,
    BaseReward,
}

impl EarningKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EarningKind::Inference => "inference",
            EarningKind::Probe => "probe",
            EarningKind::BaseReward => "base_reward",
        }
    }

    pub fn parse(text: &str) -> Option<EarningKind> {
        match text {
            "inference" => Some(EarningKind::Inference),
            "probe" => Some(EarningKind::Probe),
            "base_reward" => Some(EarningKind::BaseReward),
            _ => None,
        }
    }
}

/// An attestation of one machine (times in ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationFact {
    pub attested_at_ms: i64,
    pub hardware_model: String,
    pub reported_memory_gb: u32,
    pub trust: Trust,
}

/// Who owns a machine from `from_ms` until `to_ms` (open-ended when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingFact {
    pub account_id: String,
    pub payout_identity: String,
    pub from_ms: i64,
    pub to_ms: Option<i64>,
}

impl BindingFact {
    pub fn covers(&self, t_ms: i64) -> bool {
        self.from_ms <= t_ms && self.to_ms.is_none_or(|to| t_ms < to)
    }

    /// Whether the binding holds at some instant of `[start_ms, end_ms)`.
    pub fn overlaps(&self, start_ms: i64, end_ms: i64) -> bool {
        self.from_ms < end_ms && self.to_ms.is_none_or(|to| to > start_ms)
    }
}

/// One connection of a machine to the coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionFact {
    pub connected_at_ms: i64,
    pub last_seen_at_ms: Option<i64>,
    pub disconnected_at_ms: Option<i64>,
}

/// A health transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthFact {
    pub at_ms: i64,
    pub healthy: bool,
}

/// A probe verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFact {
    pub probe_id: String,
    pub at_ms: i64,
    pub passed: bool,
    pub verified_memory_gb: Option<u32>,
}

/// The owner of a machine at the time of some jobs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Owner {
    pub account_id: String,
    pub payout_identity: String,
}

/// Earnings of one machine with the same consumer, kind, pinning and owner,
/// summed per window the plan reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarningGroup {
    pub consumer_account_id: String,
    pub kind: EarningKind,
    pub pinned: bool,
    pub owner: Option<Owner>,
    /// Σ amounts with `at ∈ [S, E)`.
    pub epoch_micro_usd: i64,
    /// Σ amounts with `at ∈ [E − 30 days, E)` (the taper's trailing revenue).
    pub trailing_micro_usd: i64,
    /// Number of positive amounts with `at` in the work window `[E − work_window_days, E)`.
    pub n_positive_in_work_window: i64,
}

/// A machine's organic earnings (D9), summed per window the plan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrganicEarnings {
    /// Σ organic amounts with `at ∈ [S, E)`: the machine's `earned`.
    pub epoch_micro_usd: i64,
    /// Σ organic amounts with `at ∈ [E − 30 days, E)`: its part of the taper's `R` (D11).
    pub trailing_micro_usd: i64,
    /// Number of organic earnings (all positive) with `at` in the work window
    /// `[E − work_window_days, E)` (D12 `no_proven_work`).
    pub n_in_work_window: i64,
}

impl OrganicEarnings {
    /// Adds `other` window by window.
    pub fn checked_add(self, other: OrganicEarnings) -> Result<OrganicEarnings, CoreError> {
        let sum = |a: i64, b: i64| a.checked_add(b).ok_or(CoreError::Overflow("earnings sum"));
        Ok(OrganicEarnings {
            epoch_micro_usd: sum(self.epoch_micro_usd, other.epoch_micro_usd)?,
            trailing_micro_usd: sum(self.trailing_micro_usd, other.trailing_micro_usd)?,
            n_in_work_window: sum(self.n_in_work_window, other.n_in_work_window)?,
        })
    }
}

/// Everything the plan knows about one machine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MachineFacts {
    pub machine_id: String,
    /// At least one (a machine is what has been attested, D1).
    pub attestations: Vec<AttestationFact>,
    /// Non-overlapping.
    pub bindings: Vec<BindingFact>,
    pub sessions: Vec<SessionFact>,
    pub health: Vec<HealthFact>,
    pub probes: Vec<ProbeFact>,
    /// Its organic earnings (zero when it has none).
    pub earnings: OrganicEarnings,
    /// The previous epoch's total (organic earned + draws), 0 if none.
    pub previous_total_micro_usd: i64,
}

/// A draw already settled for this epoch by an earlier run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorDraw {
    pub machine_id: String,
    pub account_id: String,
    pub amount_micro_usd: i64,
    pub verified_memory_gb: u32,
}

/// The facts of one epoch, ready for [`crate::plan::plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochFacts {
    pub epoch: EpochId,
    pub machines: Vec<MachineFacts>,
    /// Every `(payout_identity → account_id)` link of every binding (D9).
    pub payout_accounts: BTreeMap<String, BTreeSet<String>>,
    pub prior_draws: Vec<PriorDraw>,
}

/// The windows an epoch's plan reads, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub start_ms: i64,
    pub end_ms: i64,
    pub work_start_ms: i64,
    pub trailing_start_ms: i64,
}

/// Days of trailing fleet revenue the taper reads (D11).
pub const TRAILING_REVENUE_DAYS: i64 = 30;

impl Windows {
    pub fn new(epoch: EpochId, policy: &Policy) -> Windows {
        let end_ms = epoch.end().0;
        Windows {
            start_ms: epoch.start().0,
            end_ms,
            work_start_ms: end_ms.saturating_sub(i64::from(policy.work_window_days) * DAY_MS),
            trailing_start_ms: end_ms.saturating_sub(TRAILING_REVENUE_DAYS * DAY_MS),
        }
    }

    /// The earliest instant any earning that matters can have.
    pub fn earliest_earning_ms(&self) -> i64 {
        self.start_ms
            .min(self.work_start_ms)
            .min(self.trailing_start_ms)
    }
}

/// One raw earning, as stored or sent, after machine resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEarning {
    pub consumer_account_id: String,
    pub kind: EarningKind,
    pub pinned: bool,
    pub amount_micro_usd: i64,
    pub at_ms: i64,
}

/// Groups one machine's raw earnings (the reference for the store's `GROUP BY`).
/// Earnings outside every window are dropped; the order of the input does not
/// matter; the output is sorted.
pub fn group_earnings(
    windows: &Windows,
    bindings: &[BindingFact],
    earnings: impl IntoIterator<Item = RawEarning>,
) -> Result<Vec<EarningGroup>, CoreError> {
    // Keyed by the owner's binding index, not its strings: one allocation per
    // group, not per earning.
    type Key = (String, EarningKind, bool, Option<usize>);
    let mut groups: HashMap<Key, (i64, i64, i64)> = HashMap::new();
    let earliest = windows.earliest_earning_ms();
    for e in earnings {
        if e.at_ms < earliest || e.at_ms >= windows.end_ms {
            continue;
        }
        let owner = bindings.iter().position(|b| b.covers(e.at_ms));
        let slot = groups
            .entry((e.consumer_account_id, e.kind, e.pinned, owner))
            .or_default();
        let add = |acc: &mut i64, v: i64| -> Result<(), CoreError> {
            *acc = acc
                .checked_add(v)
                .ok_or(CoreError::Overflow("earnings sum"))?;
            Ok(())
        };
        if e.at_ms >= windows.start_ms {
            add(&mut slot.0, e.amount_micro_usd)?;
        }
        if e.at_ms >= windows.trailing_start_ms {
            add(&mut slot.1, e.amount_micro_usd)?;
        }
        if e.at_ms >= windows.work_start_ms && e.amount_micro_usd > 0 {
            add(&mut slot.2, 1)?;
        }
    }
    let mut out: Vec<EarningGroup> = groups
        .into_iter()
        .map(
            |((consumer_account_id, kind, pinned, owner), (epoch, trailing, n))| EarningGroup {
                consumer_account_id,
                kind,
                pinned,
                owner: owner.and_then(|i| bindings.get(i)).map(|b| Owner {
                    account_id: b.account_id.clone(),
                    payout_identity: b.payout_identity.clone(),
                }),
                epoch_micro_usd: epoch,
                trailing_micro_usd: trailing,
                n_positive_in_work_window: n,
            },
        )
        .collect();
    out.sort_by(|a, b| {
        (&a.consumer_account_id, a.kind, a.pinned, &a.owner).cmp(&(
            &b.consumer_account_id,
            b.kind,
            b.pinned,
            &b.owner,
        ))
    });
    Ok(out)
}

/// D9: is a group of earnings organic? (Zero amounts add nothing to a
/// group's sums and are not counted in its `n_positive_in_work_window`.)
pub fn is_organic(
    group: &EarningGroup,
    payout_accounts: &BTreeMap<String, BTreeSet<String>>,
) -> bool {
    if group.kind != EarningKind::Inference || group.pinned {
        return false;
    }
    match &group.owner {
        None => true,
        Some(owner) => {
            let consumer = group.consumer_account_id.as_str();
            consumer != owner.account_id
                && !payout_accounts
                    .get(&owner.payout_identity)
                    .is_some_and(|linked| linked.contains(consumer))
        }
    }
}

/// D9 from one machine's raw earnings, the reference for the store's SQL:
/// the sums of the groups of [`group_earnings`] that [`is_organic`] accepts.
pub fn organic_earnings(
    windows: &Windows,
    bindings: &[BindingFact],
    payout_accounts: &BTreeMap<String, BTreeSet<String>>,
    earnings: impl IntoIterator<Item = RawEarning>,
) -> Result<OrganicEarnings, CoreError> {
    group_earnings(windows, bindings, earnings)?
        .iter()
        .filter(|g| is_organic(g, payout_accounts))
        .try_fold(OrganicEarnings::default(), |acc, g| {
            acc.checked_add(OrganicEarnings {
                epoch_micro_usd: g.epoch_micro_usd,
                trailing_micro_usd: g.trailing_micro_usd,
                n_in_work_window: g.n_positive_in_work_window,
            })
        })
}

/// For a live estimate of an open epoch: every session still alive at `now_ms`
/// (no disconnect, last sign of life within `grace_ms`) is assumed to stay
/// connected until `until_ms`. Closed epochs are never estimated.
pub fn assume_connected_until(facts: &mut EpochFacts, now_ms: i64, grace_ms: i64, until_ms: i64) {
    for m in &mut facts.machines {
        for s in &mut m.sessions {
            let last = s.last_seen_at_ms.unwrap_or(s.connected_at_ms);
            if s.disconnected_at_ms.is_none() && last.saturating_add(grace_ms) >= now_ms {
                s.last_seen_at_ms = Some(until_ms.max(last));
            }
        }
    }
}
