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
    /// The Secure Enclave key as sent (base64), checked on its way in.
    pub se_public_key: Option<String>,
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
    /// Written by floorline's own prober (`source = "prober"`, §2 trust boundary).
    pub own: bool,
}

/// The `source` of the probe facts floorline's own prober writes (§2).
pub const PROBER_SOURCE: &str = "prober";

/// Earnings of one machine with the same consumer, kind and pinning, summed
/// per window the plan reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarningGroup {
    pub consumer_account_id: String,
    pub kind: EarningKind,
    pub pinned: bool,
    /// The consumer is one of the machine's self accounts (D9).
    pub self_account: bool,
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
    /// Every `(payout_identity → account_id)` link of every binding with
    /// `from < E` (D9's linked accounts, D14's payees).
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

/// D9: a machine's self accounts — the accounts of its bindings with `from <
/// E`, and every account that `payout_accounts` (the links of all bindings
/// with `from < E`) ties to one of those bindings' payout identities. No job
/// bought by one of them is organic, whenever it happened.
pub fn self_accounts(
    windows: &Windows,
    bindings: &[BindingFact],
    payout_accounts: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for b in bindings.iter().filter(|b| b.from_ms < windows.end_ms) {
        out.insert(b.account_id.clone());
        if let Some(linked) = payout_accounts.get(&b.payout_identity) {
            out.extend(linked.iter().cloned());
        }
    }
    out
}

/// The `(payout_identity → accounts)` links of the bindings with `from < E`
/// (what [`EpochFacts::payout_accounts`] holds).
pub fn payout_links<'a>(
    end_ms: i64,
    bindings: impl IntoIterator<Item = (&'a str, &'a str, i64)>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (payout_identity, account_id, from_ms) in bindings {
        if from_ms < end_ms {
            out.entry(payout_identity.to_string())
                .or_default()
                .insert(account_id.to_string());
        }
    }
    out
}

/// D14's payees: accounts and payout identities joined by bindings with
/// `from < E` form connected groups, each named by its smallest account id.
/// Maps every account of `payout_accounts` to its payee's name; an account
/// absent from it is a payee of its own.
pub fn payees(payout_accounts: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, String> {
    // Union-find over accounts; a payout identity unites all its accounts.
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    fn root(parent: &BTreeMap<String, String>, a: &str) -> String {
        let mut at = a.to_string();
        while let Some(p) = parent.get(&at) {
            if *p == at {
                break;
            }
            at = p.clone();
        }
        at
    }
    for accounts in payout_accounts.values() {
        for a in accounts {
            parent.entry(a.clone()).or_insert_with(|| a.clone());
        }
        let mut it = accounts.iter();
        if let Some(first) = it.next() {
            for a in it {
                let (ra, rb) = (root(&parent, first), root(&parent, a));
                if ra != rb {
                    // The smaller name becomes the root, so a root is its
                    // group's smallest account.
                    let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
                    parent.insert(hi, lo);
                }
            }
        }
    }
    let accounts: Vec<String> = parent.keys().cloned().collect();
    accounts
        .into_iter()
        .map(|a| {
            let r = root(&parent, &a);
            (a, r)
        })
        .collect()
}

/// Groups one machine's raw earnings by consumer, kind and pinning (the
/// reference for the store's SQL, and what an explanation shows). Earnings
/// outside every window are dropped; the order of the input does not matter;
/// the output is sorted.
pub fn group_earnings(
    windows: &Windows,
    self_accounts: &BTreeSet<String>,
    earnings: impl IntoIterator<Item = RawEarning>,
) -> Result<Vec<EarningGroup>, CoreError> {
    type Key = (String, EarningKind, bool);
    let mut groups: HashMap<Key, (i64, i64, i64)> = HashMap::new();
    let earliest = windows.earliest_earning_ms();
    for e in earnings {
        if e.at_ms < earliest || e.at_ms >= windows.end_ms {
            continue;
        }
        let slot = groups
            .entry((e.consumer_account_id, e.kind, e.pinned))
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
            |((consumer_account_id, kind, pinned), (epoch, trailing, n))| EarningGroup {
                self_account: self_accounts.contains(&consumer_account_id),
                consumer_account_id,
                kind,
                pinned,
                epoch_micro_usd: epoch,
                trailing_micro_usd: trailing,
                n_positive_in_work_window: n,
            },
        )
        .collect();
    out.sort_by(|a, b| {
        (&a.consumer_account_id, a.kind, a.pinned).cmp(&(&b.consumer_account_id, b.kind, b.pinned))
    });
    Ok(out)
}

/// D9: is a group of earnings organic? An unpinned inference job bought by
/// anyone but a self account. (Zero amounts add nothing to a group's sums
/// and are not counted in its `n_positive_in_work_window`.)
pub fn is_organic(group: &EarningGroup) -> bool {
    group.kind == EarningKind::Inference && !group.pinned && !group.self_account
}

/// D9 from one machine's raw earnings, the reference for the store's SQL:
/// the sums of the groups of [`group_earnings`] that [`is_organic`] accepts.
pub fn organic_earnings(
    windows: &Windows,
    bindings: &[BindingFact],
    payout_accounts: &BTreeMap<String, BTreeSet<String>>,
    earnings: impl IntoIterator<Item = RawEarning>,
) -> Result<OrganicEarnings, CoreError> {
    let own = self_accounts(windows, bindings, payout_accounts);
    group_earnings(windows, &own, earnings)?
        .iter()
        .filter(|g| is_organic(g))
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
