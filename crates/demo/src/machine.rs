//! One machine of the live fleet, generated: its attestation(s) and key,
//! its month of sessions (each with a provider key registered as an alias)
//! and health, its bindings (a few change hands mid-month), its jobs and its
//! probe plan — honest, or misbehaving the way its planted role says.
//!
//! Invariant: every fact is valid for ingestion (identifiers in the SPEC §1
//! charset, bindings that never overlap, `to > from`), and jobs and probes
//! fall only inside the machine's available periods of the epoch.

use floorline_core::bundle::{Alias, Attestation, Binding, Earning, Health, Session};
use floorline_core::facts::EarningKind;
use floorline_core::policy::{Policy, Trust};
use floorline_core::Timestamp;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::fleet::{percent, ppm_of, CheatKind, Facts, Job, LiveMachine, Ownership, ProbeRoute};
use crate::models::{cap_gb, CHEATER_HARDWARE, OVER_CLAIMS, UNKNOWN_CLAIMS};
use crate::roles::{account, Role};
use crate::timeline::{self, pick_time, Shape};
use crate::DemoError;

/// Consumer accounts that buy inference.
pub const N_CONSUMERS: u64 = 1_500;
/// A job pays between these amounts (µUSD).
const JOB_MIN_MICRO_USD: i64 = 2_000;
const JOB_MAX_MICRO_USD: i64 = 80_000;
/// Models the jobs ran (cosmetic).
const JOB_MODELS: &[&str] = &[
    "llama-3.2-3b",
    "qwen2.5-7b",
    "mistral-small-24b",
    "llama-3.3-70b",
];
const DAY_MS: i64 = 86_400_000;

/// Milliseconds rounded down to the second (coordinators send seconds).
fn secs(ms: i64) -> i64 {
    ms - ms.rem_euclid(1_000)
}

/// The encodings of the keys a machine may attest.
pub(super) struct KeyChoice<'a> {
    pub(super) x963: &'a str,
    pub(super) spki: &'a str,
    pub(super) foreign: &'a str,
}

/// The generator's state while machines are made one by one.
pub(super) struct Gen<'p> {
    pub(super) rng: StdRng,
    pub(super) policy: &'p Policy,
    pub(super) start_ms: i64,
    pub(super) end_ms: i64,
    pub(super) facts: Facts,
    pub(super) next_account: usize,
}

impl Gen<'_> {
    pub(super) fn machine(
        &mut self,
        machine_id: String,
        role: Role,
        owner: Option<Ownership>,
        partner: Option<String>,
        keys: &KeyChoice<'_>,
    ) -> Result<LiveMachine, DemoError> {
        let (s, e) = (self.start_ms, self.end_ms);
        let (cheat, index) = match role {
            Role::Honest(_) => (None, 0),
            Role::Cheat(kind, i) => (Some(kind), i),
            Role::SelfDeal(p, side) => (Some(CheatKind::SelfDealing), p * 2 + side),
        };
        let pick = |list: &[(&'static str, u32)], i: usize| {
            list.get(i % list.len().max(1))
                .copied()
                .unwrap_or(("Mac16,11", 64))
        };
        let (model, reported) = match (role, cheat) {
            (Role::Honest(e), _) => (e.model, e.memory_gb),
            (_, Some(CheatKind::MemoryOverClaim)) => pick(OVER_CLAIMS, index),
            (_, Some(CheatKind::UnknownModelOverClaim)) => pick(UNKNOWN_CLAIMS, index),
            _ => pick(CHEATER_HARDWARE, index),
        };
        let rng = &mut self.rng;

        // Attestation(s).
        let attested_at = secs(s - rng.gen_range(3 * DAY_MS..120 * DAY_MS));
        let trust = match (cheat, rng.gen_range(0..1_000)) {
            (None, 0..=14) => Trust::None,
            (None, 15..=149) => Trust::SelfSigned,
            _ => Trust::Hardware,
        };
        let (route, foreign_key) = match cheat {
            Some(CheatKind::SelfDealing) => (ProbeRoute::NotServing, false),
            Some(CheatKind::BadSignature) => match index % 3 {
                0 => (ProbeRoute::WrongKey, false),
                1 => (ProbeRoute::Honest, true),
                _ => (ProbeRoute::Unsigned, false),
            },
            _ => (ProbeRoute::Honest, false),
        };
        let se_public_key = if foreign_key {
            keys.foreign
        } else if rng.gen_bool(0.3) {
            keys.spki
        } else {
            keys.x963
        };
        let attestation = Attestation {
            machine_id: machine_id.clone(),
            attested_at: Timestamp(attested_at),
            hardware_model: model.to_string(),
            reported_memory_gb: reported,
            trust,
            se_public_key: Some(se_public_key.to_string()),
        };
        let reattest = rng.gen_bool(0.05);
        let reattested_at = secs(rng.gen_range(s + DAY_MS..e - DAY_MS));
        if reattest {
            // An OS update re-attests the same hardware and key mid-month.
            self.facts.machines.push(Attestation {
                attested_at: Timestamp(reattested_at),
                ..attestation.clone()
            });
        }
        self.facts.machines.push(attestation);

        // Availability.
        let shape = match cheat {
            Some(CheatKind::FlappingUptime) => Shape {
                uptime_ppm: rng.gen_range(600_000..=850_000),
                outages: rng.gen_range(150..=250),
                unhealthy_pct: 50,
                late_join: false,
            },
            Some(_) => Shape {
                uptime_ppm: rng.gen_range(970_000..=1_000_000),
                outages: rng.gen_range(0..=3),
                unhealthy_pct: 25,
                late_join: false,
            },
            None => match rng.gen_range(0..100) {
                0..=39 => Shape {
                    uptime_ppm: rng.gen_range(995_000..=1_000_000),
                    outages: rng.gen_range(0..=2),
                    unhealthy_pct: 25,
                    late_join: false,
                },
                40..=69 => Shape {
                    uptime_ppm: rng.gen_range(950_000..995_000),
                    outages: rng.gen_range(1..=5),
                    unhealthy_pct: 25,
                    late_join: false,
                },
                70..=84 => Shape {
                    uptime_ppm: rng.gen_range(902_000..950_000),
                    outages: rng.gen_range(2..=8),
                    unhealthy_pct: 25,
                    late_join: false,
                },
                _ => Shape {
                    uptime_ppm: rng.gen_range(400_000..880_000),
                    outages: rng.gen_range(3..=20),
                    unhealthy_pct: 25,
                    late_join: rng.gen_bool(0.3),
                },
            },
        };
        let month = timeline::generate(rng, s, e, &shape, self.policy.grace_ms);
        let mut provider_keys: Vec<String> = Vec::new();
        for (j, times) in month.sessions.iter().enumerate() {
            let provider_key = format!("pk-{:016x}", rng.gen::<u64>());
            let connected = secs(times.connected_at_ms);
            self.facts.aliases.push(Alias {
                provider_key: provider_key.clone(),
                machine_id: machine_id.clone(),
                from: Timestamp(connected),
            });
            let name = if rng.gen_bool(0.5) {
                provider_key.clone()
            } else {
                machine_id.clone()
            };
            self.facts.sessions.push(Session {
                session_id: format!("sess-{machine_id}-{j:03}"),
                machine_id: name,
                connected_at: Timestamp(times.connected_at_ms),
                last_seen_at: times.last_seen_at_ms.map(Timestamp),
                disconnected_at: times.disconnected_at_ms.map(Timestamp),
            });
            provider_keys.push(provider_key);
        }
        for h in &month.health {
            self.facts.health.push(Health {
                machine_id: machine_id.clone(),
                at: Timestamp(h.at_ms),
                healthy: h.healthy,
                reason: h.reason.map(str::to_string),
            });
        }

        // Ownership (bound from the attestation on; a few change hands).
        let mut owners = Vec::new();
        if let Some(o) = owner {
            let from_ms = attested_at;
            if cheat.is_none() && rng.gen_range(0..1_000) < 15 {
                let t = secs(rng.gen_range(s + 5 * DAY_MS..e - 5 * DAY_MS));
                owners.push(Ownership {
                    from_ms,
                    to_ms: Some(t),
                    ..o
                });
                let (account_id, payout_identity) = account(self.next_account);
                self.next_account += 1;
                owners.push(Ownership {
                    account_id,
                    payout_identity,
                    from_ms: t,
                    to_ms: None,
                });
            } else {
                owners.push(Ownership { from_ms, ..o });
            }
        }
        for o in &owners {
            self.facts.bindings.push(Binding {
                machine_id: machine_id.clone(),
                account_id: o.account_id.clone(),
                payout_identity: o.payout_identity.clone(),
                from: Timestamp(o.from_ms),
                to: o.to_ms.map(Timestamp),
            });
        }

        // Jobs.
        let mut jobs: Vec<Job> = Vec::new();
        let mut self_dealt = (String::new(), 0_usize, 0_usize, 0_usize);
        let mut add_job = |rng: &mut StdRng, consumer: String, pinned: bool| {
            if let Some(at_ms) = pick_time(rng, &month.up) {
                jobs.push(Job {
                    job_id: String::new(),
                    consumer_account_id: consumer,
                    amount_micro_usd: rng.gen_range(JOB_MIN_MICRO_USD..=JOB_MAX_MICRO_USD),
                    pinned,
                    at_ms,
                });
            }
        };
        match cheat {
            Some(CheatKind::BadSignature) => {}
            Some(CheatKind::SelfDealing) => {
                let own = owners
                    .first()
                    .map(|o| o.account_id.clone())
                    .unwrap_or_default();
                let partner = partner.unwrap_or_default();
                let (n_partner, n_own, n_pinned) = (
                    rng.gen_range(20..=60),
                    rng.gen_range(1..=5),
                    rng.gen_range(10..=30),
                );
                for _ in 0..n_partner {
                    add_job(rng, partner.clone(), false);
                }
                for _ in 0..n_own {
                    add_job(rng, own.clone(), false);
                }
                for _ in 0..n_pinned {
                    let c = consumer(rng);
                    add_job(rng, c, true);
                }
                self_dealt = (partner, n_partner, n_own, n_pinned);
            }
            _ => {
                let n_jobs = match rng.gen_range(0..100) {
                    0..=7 => rng.gen_range(150..=500),
                    8..=57 => rng.gen_range(5..=80),
                    _ => rng.gen_range(0..=3),
                };
                for _ in 0..n_jobs {
                    let c = consumer(rng);
                    let pinned = rng.gen_range(0..100) < 3;
                    add_job(rng, c, pinned);
                }
            }
        }
        jobs.sort_by_key(|j| j.at_ms);
        for (j, job) in jobs.iter_mut().enumerate() {
            job.job_id = format!("job-{machine_id}-{j:05}");
            let name = match provider_keys.choose(rng) {
                Some(k) if rng.gen_bool(0.3) => k.clone(),
                _ => machine_id.clone(),
            };
            self.facts.earnings.push(Earning {
                job_id: job.job_id.clone(),
                machine_id: name,
                consumer_account_id: job.consumer_account_id.clone(),
                amount_micro_usd: job.amount_micro_usd,
                kind: EarningKind::Inference,
                pinned: job.pinned,
                model: JOB_MODELS
                    .get(rng.gen_range(0..JOB_MODELS.len()))
                    .map(|m| m.to_string()),
                at: Timestamp(job.at_ms),
            });
        }

        // The probe schedule.
        let n_probes = match cheat {
            Some(CheatKind::BadSignature) => 2,
            Some(CheatKind::SelfDealing) => 1,
            _ => 1 + usize::from(rng.gen_bool(0.4)),
        };
        let mut probe_at_ms: Vec<i64> = (0..n_probes)
            .filter_map(|_| pick_time(rng, &month.up))
            .collect();
        probe_at_ms.sort_unstable();
        probe_at_ms.dedup();

        let available_ms = month.available_ms();
        let detail = cheat.map(|kind| match kind {
            CheatKind::MemoryOverClaim => format!(
                "{model} reports {reported} GB; that identifier has at most {} GB",
                cap_gb(model).unwrap_or(0)
            ),
            CheatKind::UnknownModelOverClaim => {
                format!("unknown identifier {model:?} reports {reported} GB")
            }
            CheatKind::SelfDealing => format!(
                "{} jobs bought by its owner's second account {} (same payout identity), {} from itself, {} pinned; never answers a probe",
                self_dealt.1, self_dealt.0, self_dealt.2, self_dealt.3
            ),
            CheatKind::FlappingUptime => format!(
                "{} sessions, {} health flaps: {} available",
                month.sessions.len(),
                month.health.iter().filter(|h| !h.healthy).count(),
                percent(ppm_of(available_ms, e - s))
            ),
            CheatKind::BadSignature => match (route, foreign_key) {
                (ProbeRoute::WrongKey, _) => {
                    "signs probe answers with a key other than its attested one; no organic jobs"
                        .to_string()
                }
                (_, true) => {
                    "attests a Secure Enclave key it does not hold; no organic jobs".to_string()
                }
                _ => "answers probes without a signature; no organic jobs".to_string(),
            },
        });
        Ok(LiveMachine {
            machine_id,
            hardware_model: model.to_string(),
            reported_memory_gb: reported,
            trust,
            cheat,
            detail,
            route,
            foreign_key,
            owners,
            up: month.up,
            jobs,
            probe_at_ms,
        })
    }
}

/// A consumer account, skewed towards a few heavy buyers.
fn consumer(rng: &mut StdRng) -> String {
    let u = rng.gen_range(0..N_CONSUMERS);
    let skewed = u * u / N_CONSUMERS;
    format!("cons-{skewed:04}")
}
