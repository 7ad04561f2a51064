//! The manifest of a live fleet: what was planted and what floorline must
//! conclude about every machine, computed by the simulator from what it
//! generated (its own availability periods, its own job list, its own probe
//! schedule) — never by asking floorline. Tests compare floorline's settled plan
//! with it.
//!
//! The expectations apply the gates of SPEC D12 to the generated month:
//! trust, the memory cap table (D6), the uptime gate, proven work (an
//! organic job or a probe that passes) and a payout account. Probes carry no
//! `min_memory_gb`, so nothing is proven beyond the cap table.
//!
//! Invariant: the manifest and its hash depend only on `(seed, epoch,
//! n_machines)` and the policy (the same spec gives the same hash).

use std::collections::{BTreeMap, BTreeSet};

use floorline_core::policy::Policy;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::fleet::{ppm_of, CheatKind, Facts, FleetSpec, Job, LiveMachine};
use crate::models::cap_gb;
use crate::DemoError;

/// What floorline must conclude about one machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedMachine {
    pub machine_id: String,
    pub hardware_model: String,
    pub reported_memory_gb: u32,
    pub verified_memory_gb: u32,
    pub available_ms: i64,
    pub uptime_ppm: i64,
    /// Σ organic job amounts in the epoch (D9), µUSD.
    pub organic_micro_usd: i64,
    pub n_probes: usize,
    pub probes_pass: bool,
    pub eligible: bool,
    /// D12 reason codes, in the spec's order.
    pub reasons: Vec<String>,
    pub cheat: Option<CheatKind>,
}

/// What catching a planted cheater looks like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CheatExpect {
    /// Excluded with exactly these reasons.
    Excluded { reasons: Vec<String> },
    /// Eligible, but valued at the capped memory.
    Capped { reported_gb: u32, verified_gb: u32 },
}

/// One planted cheater.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlantedCheater {
    pub machine_id: String,
    pub kind: CheatKind,
    pub detail: String,
    pub expect: CheatExpect,
}

/// Everything planted, and every machine's expected outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub seed: u64,
    pub epoch: String,
    pub n_machines: usize,
    /// SHA-256 of every generated fact and the probe schedule.
    pub facts_sha256: String,
    /// Sorted by `machine_id`.
    pub machines: Vec<ExpectedMachine>,
    pub cheaters: Vec<PlantedCheater>,
}

impl Manifest {
    /// SHA-256 (hex) of the manifest's compact JSON.
    pub fn sha256(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        hex::encode(Sha256::digest(json.as_bytes()))
    }

    pub fn machine(&self, machine_id: &str) -> Option<&ExpectedMachine> {
        self.machines
            .binary_search_by(|m| m.machine_id.as_str().cmp(machine_id))
            .ok()
            .and_then(|i| self.machines.get(i))
    }
}

/// Accounts linked to each payout identity by any binding (D9).
pub fn linked_accounts(machines: &[LiveMachine]) -> BTreeMap<String, BTreeSet<String>> {
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for o in machines.iter().flat_map(|m| &m.owners) {
        map.entry(o.payout_identity.clone())
            .or_default()
            .insert(o.account_id.clone());
    }
    map
}

/// D9 for one generated job: positive, not pinned, not bought by the owner
/// at job time or an account linked to the owner's payout identity.
pub fn is_organic(m: &LiveMachine, job: &Job, linked: &BTreeMap<String, BTreeSet<String>>) -> bool {
    if job.pinned || job.amount_micro_usd <= 0 {
        return false;
    }
    match m.owner_at(job.at_ms) {
        None => true,
        Some(o) => {
            job.consumer_account_id != o.account_id
                && !linked
                    .get(&o.payout_identity)
                    .is_some_and(|l| l.contains(&job.consumer_account_id))
        }
    }
}

fn expect(
    m: &LiveMachine,
    policy: &Policy,
    epoch_ms: i64,
    linked: &BTreeMap<String, BTreeSet<String>>,
) -> ExpectedMachine {
    let verified = match cap_gb(&m.hardware_model) {
        Some(cap) => m.reported_memory_gb.min(cap),
        // No probe proves memory (no catalog entry has `min_memory_gb`).
        None => m.reported_memory_gb.min(policy.unknown_model_cap_gb),
    };
    let verified = if policy.require_tier_probe {
        0
    } else {
        verified
    };
    let available_ms = m.available_ms();
    let organic: Vec<&Job> = m.jobs.iter().filter(|j| is_organic(m, j, linked)).collect();
    let probes_pass = m.probes_pass() && !m.probe_at_ms.is_empty();
    let mut reasons = Vec::new();
    if m.trust < policy.min_trust {
        reasons.push("not_attested");
    }
    if policy.tier_floor(verified) == 0 {
        reasons.push("below_min_memory");
    }
    if i128::from(available_ms) * 1_000_000
        <= i128::from(policy.min_uptime.0) * i128::from(epoch_ms)
    {
        reasons.push("uptime_below_gate");
    }
    if organic.is_empty() && !probes_pass {
        reasons.push("no_proven_work");
    }
    let bound = m.owners.iter().any(|o| {
        m.up.iter()
            .any(|(a, b)| o.from_ms < *b && o.to_ms.is_none_or(|to| *a < to))
    });
    if !bound {
        reasons.push("no_payout_account");
    }
    ExpectedMachine {
        machine_id: m.machine_id.clone(),
        hardware_model: m.hardware_model.clone(),
        reported_memory_gb: m.reported_memory_gb,
        verified_memory_gb: verified,
        available_ms,
        uptime_ppm: ppm_of(available_ms, epoch_ms),
        organic_micro_usd: organic.iter().map(|j| j.amount_micro_usd).sum(),
        n_probes: m.probe_at_ms.len(),
        probes_pass,
        eligible: reasons.is_empty(),
        reasons: reasons.into_iter().map(str::to_string).collect(),
        cheat: m.cheat,
    }
}

/// Builds the manifest; errors if a cheater was generated so that it would
/// not be caught for exactly its planted reason (a generator bug).
pub fn build_manifest(
    spec: &FleetSpec,
    policy: &Policy,
    machines: &[LiveMachine],
    facts: &Facts,
) -> Result<Manifest, DemoError> {
    let epoch_ms = spec.epoch.length_ms();
    let linked = linked_accounts(machines);
    let mut expected: Vec<ExpectedMachine> = machines
        .iter()
        .map(|m| expect(m, policy, epoch_ms, &linked))
        .collect();
    expected.sort_by(|a, b| a.machine_id.cmp(&b.machine_id));
    let mut cheaters = Vec::new();
    for m in machines {
        let Some(kind) = m.cheat else {
            continue;
        };
        let Some(e) = expected.iter().find(|e| e.machine_id == m.machine_id) else {
            continue;
        };
        let want_reason = match kind {
            CheatKind::MemoryOverClaim | CheatKind::UnknownModelOverClaim => None,
            CheatKind::SelfDealing | CheatKind::BadSignature => Some("no_proven_work"),
            CheatKind::FlappingUptime => Some("uptime_below_gate"),
        };
        let expect = match want_reason {
            Some(r) => {
                if e.reasons != [r] {
                    return Err(DemoError::Setup(format!(
                        "generator: {} ({}) would be excluded for {:?}, not [{r}]",
                        m.machine_id,
                        kind.label(),
                        e.reasons
                    )));
                }
                CheatExpect::Excluded {
                    reasons: e.reasons.clone(),
                }
            }
            None => {
                if !e.eligible || e.verified_memory_gb >= e.reported_memory_gb {
                    return Err(DemoError::Setup(format!(
                        "generator: {} ({}) is not an eligible over-claim: {e:?}",
                        m.machine_id,
                        kind.label()
                    )));
                }
                CheatExpect::Capped {
                    reported_gb: e.reported_memory_gb,
                    verified_gb: e.verified_memory_gb,
                }
            }
        };
        cheaters.push(PlantedCheater {
            machine_id: m.machine_id.clone(),
            kind,
            detail: m.detail.clone().unwrap_or_default(),
            expect,
        });
    }
    let probe_schedule: Vec<(&str, &[i64])> = machines
        .iter()
        .map(|m| (m.machine_id.as_str(), m.probe_at_ms.as_slice()))
        .collect();
    let facts_json = serde_json::to_string(&(facts, probe_schedule))?;
    Ok(Manifest {
        seed: spec.seed,
        epoch: spec.epoch.to_string(),
        n_machines: machines.len(),
        facts_sha256: hex::encode(Sha256::digest(facts_json.as_bytes())),
        machines: expected,
        cheaters,
    })
}
