//! Generation of the live fleet from one seed: machines and their hardware,
//! accounts and bindings (some accounts own several machines, a few
//! machines change hands mid-month, a few have no payout account), every
//! machine's month of sessions and health (see [`crate::timeline`]),
//! organic jobs from many consumer accounts, the probe schedule, and the
//! planted cheaters.
//!
//! Invariants:
//! - pure and deterministic: one `StdRng` seeded from `seed`, drawn in a
//!   fixed order, integer arithmetic only; the same spec gives the same
//!   fleet (and manifest hash) on every platform;
//! - every fact is valid for ingestion (identifiers in the SPEC §1 charset,
//!   bindings that never overlap, times with `to > from`, jobs and probes
//!   only while the machine is available, inside the epoch);
//! - cheaters are otherwise well-behaved (high uptime, a payout account,
//!   memory in a paid tier), so their planted misbehaviour is the only
//!   thing floorline can hold against them.

use floorline_core::bundle::{Alias, Attestation, Binding, Earning, Health, Session};
use floorline_core::policy::{Policy, Trust};
use floorline_core::EpochId;
use floorline_prober::reference::machine_key;
use floorline_prober::signature::{encode_spki, encode_x963, SigningKey};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::machine::{Gen, KeyChoice};
use crate::manifest::{build_manifest, Manifest};
use crate::roles::{assign_accounts, assign_roles};
use crate::DemoError;

/// The fleet's random stream is seeded `seed ^ STREAM`.
const STREAM: u64 = 0x6c69_7665_666c_7474; // "liveflt"
/// Smallest and largest fleets (ids are `mac-0001` … `mac-9999`).
pub const MIN_MACHINES: usize = 40;
pub const MAX_MACHINES: usize = 9_999;

/// What to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetSpec {
    pub seed: u64,
    pub epoch: EpochId,
    pub n_machines: usize,
}

impl FleetSpec {
    /// The demo's fleet size.
    pub const DEMO_MACHINES: usize = 600;
}

/// The kinds of cheating planted in the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheatKind {
    /// A known model reporting more memory than its identifier can have.
    MemoryOverClaim,
    /// An unknown identifier reporting a large memory.
    UnknownModelOverClaim,
    /// Earnings only from the owner's linked second account and pinned jobs.
    SelfDealing,
    /// Connected in short bursts: uptime below the gate.
    FlappingUptime,
    /// Probe answers whose signature does not verify; no other proven work.
    BadSignature,
}

impl CheatKind {
    pub const ALL: [CheatKind; 5] = [
        CheatKind::MemoryOverClaim,
        CheatKind::UnknownModelOverClaim,
        CheatKind::SelfDealing,
        CheatKind::FlappingUptime,
        CheatKind::BadSignature,
    ];

    pub fn label(self) -> &'static str {
        match self {
            CheatKind::MemoryOverClaim => "memory over-claim",
            CheatKind::UnknownModelOverClaim => "unknown model",
            CheatKind::SelfDealing => "self-dealing",
            CheatKind::FlappingUptime => "flapping uptime",
            CheatKind::BadSignature => "bad signature",
        }
    }
}

/// How the machine answers probes (the dispatcher routes on `machine_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeRoute {
    /// The reference provider, honest.
    Honest,
    /// Signs with a key other than the attested one.
    WrongKey,
    /// Omits the signature.
    Unsigned,
    /// Never serves the model: the dispatcher answers 503.
    NotServing,
}

/// One binding of a machine (ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ownership {
    pub account_id: String,
    pub payout_identity: String,
    pub from_ms: i64,
    pub to_ms: Option<i64>,
}

impl Ownership {
    pub fn covers(&self, t_ms: i64) -> bool {
        self.from_ms <= t_ms && self.to_ms.is_none_or(|to| t_ms < to)
    }
}

/// One job a machine ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    pub job_id: String,
    pub consumer_account_id: String,
    pub amount_micro_usd: i64,
    pub pinned: bool,
    pub at_ms: i64,
}

/// One machine of the live fleet and everything generated for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveMachine {
    pub machine_id: String,
    pub hardware_model: String,
    pub reported_memory_gb: u32,
    pub trust: Trust,
    pub cheat: Option<CheatKind>,
    /// What was planted, in words (cheaters only).
    pub detail: Option<String>,
    pub route: ProbeRoute,
    /// The attested key is not the one the provider signs with.
    pub foreign_key: bool,
    pub owners: Vec<Ownership>,
    /// Available periods inside the epoch (D7), sorted and disjoint.
    pub up: Vec<(i64, i64)>,
    pub jobs: Vec<Job>,
    /// When the prober reaches it, sorted.
    pub probe_at_ms: Vec<i64>,
}

impl LiveMachine {
    pub fn available_ms(&self) -> i64 {
        self.up.iter().map(|(a, b)| b - a).sum()
    }

    /// Whether its probes pass.
    pub fn probes_pass(&self) -> bool {
        self.route == ProbeRoute::Honest && !self.foreign_key
    }

    /// The failure code its probes get (`None`: they pass).
    pub fn expected_failure(&self) -> Option<&'static str> {
        match (self.route, self.foreign_key) {
            (ProbeRoute::Honest, false) => None,
            (ProbeRoute::NotServing, _) => Some("transport_error"),
            _ => Some("bad_signature"),
        }
    }

    /// The owner at `t_ms`, if any.
    pub fn owner_at(&self, t_ms: i64) -> Option<&Ownership> {
        self.owners.iter().find(|o| o.covers(t_ms))
    }
}

/// The facts of the fleet, as the coordinator sends them (SPEC §2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Facts {
    pub machines: Vec<Attestation>,
    pub aliases: Vec<Alias>,
    pub bindings: Vec<Binding>,
    pub sessions: Vec<Session>,
    pub health: Vec<Health>,
    pub earnings: Vec<Earning>,
}

/// A generated fleet: machines, facts, the provider's key and the manifest.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub spec: FleetSpec,
    pub policy: Policy,
    /// Sorted by `machine_id`.
    pub machines: Vec<LiveMachine>,
    pub facts: Facts,
    /// The key the reference provider derives each machine's own key from
    /// (`machine_key`; honest machines attest theirs).
    pub provider_key: SigningKey,
    pub manifest: Manifest,
}

fn key_from(rng: &mut StdRng) -> SigningKey {
    loop {
        let bytes: [u8; 32] = rng.gen();
        if let Ok(k) = SigningKey::from_slice(&bytes) {
            return k;
        }
    }
}

/// Formats ppm as a percentage with two decimals (`81.23 %`), integers only.
pub fn percent(ppm: i64) -> String {
    let hundredths = ppm / 100;
    format!("{}.{:02} %", hundredths / 100, hundredths % 100)
}

impl Fleet {
    /// Generates the fleet of `spec` under `policy` (whose gates the manifest
    /// applies).
    pub fn generate(spec: FleetSpec, policy: &Policy) -> Result<Fleet, DemoError> {
        if !(MIN_MACHINES..=MAX_MACHINES).contains(&spec.n_machines) {
            return Err(DemoError::Setup(format!(
                "a live fleet has {MIN_MACHINES}–{MAX_MACHINES} machines, not {}",
                spec.n_machines
            )));
        }
        let mut rng = StdRng::seed_from_u64(spec.seed ^ STREAM);
        let provider_key = key_from(&mut rng);
        let foreign_key = key_from(&mut rng);

        let n = spec.n_machines;
        let roles = assign_roles(&mut rng, n);
        let owners = assign_accounts(&mut rng, &roles);

        let mut g = Gen {
            rng,
            policy,
            start_ms: spec.epoch.start().0,
            end_ms: spec.epoch.end().0,
            facts: Facts::default(),
            next_account: owners.next_account,
        };
        let mut machines = Vec::with_capacity(n);
        for (i, role) in roles.iter().enumerate() {
            let machine_id = format!("mac-{:04}", i + 1);
            let owner = owners.by_machine.get(&i).cloned();
            let partner = owners.partner.get(&i).cloned();
            // One Secure Enclave key per machine (D12 pays a key once): the
            // one the reference provider signs that machine's probes with.
            let own = machine_key(&provider_key, &machine_id);
            let x963 = encode_x963(own.verifying_key());
            let spki =
                encode_spki(own.verifying_key()).map_err(|e| DemoError::Setup(e.to_string()))?;
            let foreign = encode_x963(machine_key(&foreign_key, &machine_id).verifying_key());
            let key = KeyChoice {
                x963: &x963,
                spki: &spki,
                foreign: &foreign,
            };
            machines.push(g.machine(machine_id, *role, owner, partner, &key)?);
        }
        let manifest = build_manifest(&spec, policy, &machines, &g.facts)?;
        Ok(Fleet {
            spec,
            policy: policy.clone(),
            machines,
            facts: g.facts,
            provider_key,
            manifest,
        })
    }

    /// The planted cheaters.
    pub fn cheaters(&self) -> impl Iterator<Item = &LiveMachine> {
        self.machines.iter().filter(|m| m.cheat.is_some())
    }

    /// Mean reported memory (milli-GB) and share at 64 GB or more (ppm) of
    /// the honest machines.
    pub fn memory_mix(&self) -> (u64, u64) {
        let honest: Vec<u64> = self
            .machines
            .iter()
            .filter(|m| m.cheat.is_none())
            .map(|m| u64::from(m.reported_memory_gb))
            .collect();
        let n = u64::try_from(honest.len()).unwrap_or(0).max(1);
        let mean = honest.iter().sum::<u64>() * 1_000 / n;
        let big = u64::try_from(honest.iter().filter(|gb| **gb >= 64).count()).unwrap_or(0);
        (mean, big * 1_000_000 / n)
    }
}

/// `⌊ms · 10⁶ / total⌋`.
pub fn ppm_of(ms: i64, total_ms: i64) -> i64 {
    if total_ms <= 0 {
        return 0;
    }
    i64::try_from(i128::from(ms) * 1_000_000 / i128::from(total_ms)).unwrap_or(0)
}
