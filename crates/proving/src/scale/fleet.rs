//! The deterministic fleet of the scale bench: machines, their attestations,
//! bindings, sessions, health events, probes and earnings, each fact a pure
//! function of the seed, the sizes and its index (streamed, never held whole).

use floorline_core::bundle::{Attestation, Binding, Earning, Health, Probe, Session};
use floorline_core::facts::EarningKind;
use floorline_core::policy::Trust;
use floorline_core::time::DAY_MS;
use floorline_core::Timestamp;

use super::{below, mix, pick, u64_i64, usize_u64, ScaleOptions, HOUR_MS};

/// Streams of the generator (each fact kind hashes its index in its own stream).
#[derive(Clone, Copy)]
enum Stream {
    Attestation,
    Binding,
    Session,
    Health,
    Probe,
    Earning,
    EarningDetail,
    Activity,
    JobId,
}

impl Stream {
    fn key(self) -> u64 {
        match self {
            Stream::Attestation => 1,
            Stream::Binding => 2,
            Stream::Session => 3,
            Stream::Health => 4,
            Stream::Probe => 5,
            Stream::Earning => 6,
            Stream::EarningDetail => 7,
            Stream::Activity => 8,
            Stream::JobId => 9,
        }
    }
}

/// Hardware models of the fleet: identifier, reported memory choices, weight.
/// Caps from `mac-models.md`; the last entries exercise the cap and the
/// unknown-model rule, the M1 machines the minimum-memory gate.
const FLEET_MIX: &[(&str, &[u32], u64)] = &[
    ("Mac16,10", &[16, 24, 32], 20),    // Mac mini M4 (cap 32)
    ("Mac16,11", &[24, 48, 64], 18),    // Mac mini M4 Pro (cap 64)
    ("Mac14,3", &[8, 16, 24], 6),       // Mac mini M2 (cap 24)
    ("Mac14,12", &[16, 32], 5),         // Mac mini M2 Pro (cap 32)
    ("Mac13,1", &[32, 64], 6),          // Mac Studio M1 Max (cap 64)
    ("Mac13,2", &[64, 128], 4),         // Mac Studio M1 Ultra (cap 128)
    ("Mac14,13", &[32, 64, 96], 5),     // Mac Studio M2 Max (cap 96)
    ("Mac14,14", &[64, 128, 192], 4),   // Mac Studio M2 Ultra (cap 192)
    ("Mac16,9", &[36, 48, 64, 128], 6), // Mac Studio M4 Max (cap 128)
    ("Mac15,14", &[96, 256, 512], 3),   // Mac Studio M3 Ultra (cap 512)
    ("Mac15,9", &[36, 48, 64, 128], 5), // MacBook Pro 16" M3 Max (cap 128)
    ("Mac16,5", &[36, 48, 128], 4),     // MacBook Pro 16" M4 Max (cap 128)
    ("Mac14,9", &[16, 32, 96], 3),      // MacBook Pro 14" M2 Pro: 96 → 32
    ("MacBookAir10,1", &[8, 16], 4),    // MacBook Air M1: below 24 GB
    ("Macmini9,1", &[8, 16], 3),        // Mac mini M1: below 24 GB
    ("NotAModel99,9", &[64, 128], 2),   // unknown: 24 GB unless a probe proves more
];

const MODELS: &[&str] = &[
    "llama-3.1-70b",
    "qwen2.5-32b",
    "mistral-7b",
    "deepseek-r1-14b",
];

/// A machine's fixed traits, derived from its index.
struct Profile {
    model: &'static str,
    reported_gb: u32,
    trust: Trust,
    attested_at: i64,
    /// A second, later attestation (upgraded trust).
    reattested_at: Option<i64>,
    /// `None`: never bound (no payout account).
    account: Option<u64>,
    bound_from: i64,
    /// Re-bound to another account at this instant.
    rebind: Option<(i64, u64)>,
    /// Session gaps of up to this many ppm of each slot.
    gap_ppm: i64,
    /// The first session began before the epoch.
    carry_in: bool,
    /// The last session is still open at the end of the epoch.
    open_at_end: bool,
}

/// The deterministic fleet of one run.
pub struct Fleet {
    seed: u64,
    pub machines: u64,
    pub sessions_per_machine: u64,
    pub earnings_per_machine: u64,
    pub n_accounts: u64,
    consumers: u64,
    start_ms: i64,
    end_ms: i64,
    /// Machines picked for half of all earnings (20 %).
    busy: Vec<u64>,
    /// The rest, minus the idle 10 % (never earn).
    normal: Vec<u64>,
}

impl Fleet {
    pub fn new(opts: &ScaleOptions) -> Fleet {
        let mut fleet = Fleet {
            seed: mix(opts.seed),
            machines: opts.machines,
            sessions_per_machine: opts.sessions_per_machine,
            earnings_per_machine: opts.earnings_per_machine,
            n_accounts: (opts.machines / 10).max(1),
            consumers: opts.consumers.max(1),
            start_ms: opts.epoch.start().0,
            end_ms: opts.epoch.end().0,
            busy: Vec::new(),
            normal: Vec::new(),
        };
        for m in 0..opts.machines {
            match fleet.h(Stream::Activity, m) % 10 {
                0 | 5 => fleet.busy.push(m),
                1 => {}
                _ => fleet.normal.push(m),
            }
        }
        fleet
    }

    fn h(&self, stream: Stream, i: u64) -> u64 {
        mix(mix(self.seed ^ stream.key().wrapping_mul(0x100_0000_01b3)).wrapping_add(i))
    }

    fn len_ms(&self) -> i64 {
        self.end_ms - self.start_ms
    }

    pub fn machine_id(m: u64) -> String {
        format!("mac-{m:07}")
    }

    fn account_id(a: u64) -> String {
        format!("acct-{a:06}")
    }

    /// Every 20th account shares its payout identity with the one before
    /// (a provider's second account, SPEC D9).
    fn payout_identity(a: u64) -> String {
        let p = if a % 20 == 1 { a - 1 } else { a };
        format!("payee-{p:06}")
    }

    fn profile(&self, m: u64) -> Profile {
        let s = self.start_ms;
        let e = self.end_ms;
        let h = self.h(Stream::Attestation, m);
        let total: u64 = FLEET_MIX.iter().map(|(_, _, w)| *w).sum();
        let mut x = pick(h, total);
        let mut model = ("Mac16,10", &[32u32][..]);
        for (id, gbs, w) in FLEET_MIX {
            if x < *w {
                model = (*id, *gbs);
                break;
            }
            x -= w;
        }
        let reported_gb = model
            .1
            .get(usize::try_from(pick(h >> 16, usize_u64(model.1.len()))).unwrap_or(0))
            .copied()
            .unwrap_or(32);
        let trust = match pick(h >> 32, 100) {
            0..=89 => Trust::Hardware,
            90..=97 => Trust::SelfSigned,
            _ => Trust::None,
        };
        let attested_at = if pick(h >> 40, 100) < 5 {
            s + below(h >> 8, 20 * DAY_MS)
        } else {
            s - DAY_MS - below(h >> 8, 90 * DAY_MS)
        };
        let reattested_at =
            (pick(h >> 48, 100) < 10).then(|| e - DAY_MS - below(h >> 20, 5 * DAY_MS));

        let b = self.h(Stream::Binding, m);
        let account = (pick(b, 100) != 0).then(|| pick(b >> 8, self.n_accounts));
        let rebind = if pick(b >> 40, 100) < 5 && self.n_accounts > 1 {
            let at = s + 3 * DAY_MS + below(b >> 12, 25 * DAY_MS);
            let other = pick(
                account.unwrap_or(0) + 1 + pick(b >> 50, self.n_accounts - 1),
                self.n_accounts,
            );
            Some((at, other))
        } else {
            None
        };
        // 3 % are bound only from day 10 (their earlier time is paid to nobody).
        let bound_from = if rebind.is_none() && pick(b >> 24, 100) < 3 {
            s + 10 * DAY_MS
        } else {
            s - 120 * DAY_MS + below(b >> 20, 30 * DAY_MS)
        };

        let u = self.h(Stream::Session, m.wrapping_add(u64::MAX / 2));
        let gap_ppm = match pick(u, 100) {
            0..=69 => 20_000,   // steady: ~99 % uptime
            70..=89 => 150_000, // flaky: ~92 %
            _ => 600_000,       // part-time: below the gate
        };
        Profile {
            model: model.0,
            reported_gb,
            trust,
            attested_at,
            reattested_at,
            account,
            bound_from,
            rebind,
            gap_ppm,
            carry_in: pick(u >> 8, 2) == 0,
            open_at_end: pick(u >> 16, 10) < 3,
        }
    }

    /// The owner account of machine `m` at `t`, if any.
    fn owner_at(&self, p: &Profile, t: i64) -> Option<u64> {
        let a = p.account?;
        if t < p.bound_from {
            return None;
        }
        match p.rebind {
            Some((at, other)) if t >= at => Some(other),
            _ => Some(a),
        }
    }

    /// Attestations: every machine's first, then the re-attestations.
    pub fn attestations(&self) -> impl Iterator<Item = Attestation> + '_ {
        let first = (0..self.machines).map(move |m| {
            let p = self.profile(m);
            Attestation {
                machine_id: Fleet::machine_id(m),
                attested_at: Timestamp(p.attested_at),
                hardware_model: p.model.to_string(),
                reported_memory_gb: p.reported_gb,
                trust: p.trust,
                se_public_key: None,
            }
        });
        let again = (0..self.machines).filter_map(move |m| {
            let p = self.profile(m);
            p.reattested_at.map(|at| Attestation {
                machine_id: Fleet::machine_id(m),
                attested_at: Timestamp(at),
                hardware_model: p.model.to_string(),
                reported_memory_gb: p.reported_gb,
                trust: Trust::Hardware,
                se_public_key: None,
            })
        });
        first.chain(again)
    }

    pub fn bindings(&self) -> impl Iterator<Item = Binding> + '_ {
        (0..self.machines).flat_map(move |m| {
            let p = self.profile(m);
            let mut out = Vec::new();
            if let Some(a) = p.account {
                let to = p.rebind.map(|(at, _)| Timestamp(at));
                out.push(Binding {
                    machine_id: Fleet::machine_id(m),
                    account_id: Fleet::account_id(a),
                    payout_identity: Fleet::payout_identity(a),
                    from: Timestamp(p.bound_from),
                    to,
                });
                if let Some((at, other)) = p.rebind {
                    out.push(Binding {
                        machine_id: Fleet::machine_id(m),
                        account_id: Fleet::account_id(other),
                        payout_identity: Fleet::payout_identity(other),
                        from: Timestamp(at),
                        to: None,
                    });
                }
            }
            out
        })
    }

    /// Sessions in time order: slot `k` of every machine, then slot `k + 1`.
    pub fn sessions(&self) -> impl Iterator<Item = Session> + '_ {
        let n = self.machines;
        let spm = self.sessions_per_machine;
        let profiles: Vec<(i64, bool, bool)> = (0..n)
            .map(|m| {
                let p = self.profile(m);
                (p.gap_ppm, p.carry_in, p.open_at_end)
            })
            .collect();
        let slot = move |k: u64| -> i64 {
            let t = i128::from(self.len_ms()) * i128::from(k) / i128::from(spm.max(1));
            self.start_ms + i64::try_from(t).unwrap_or(0)
        };
        (0..n.saturating_mul(spm)).map(move |i| {
            let k = i / n.max(1);
            let m = i % n.max(1);
            let (gap_ppm, carry_in, open_at_end) = profiles
                .get(usize::try_from(m).unwrap_or(usize::MAX))
                .copied()
                .unwrap_or((0, false, false));
            let h = self.h(Stream::Session, i);
            let (a, b) = (slot(k), slot(k + 1));
            let gap = (b - a) / 1_000_000 * below(h, gap_ppm.max(1));
            let connected = if k == 0 && carry_in {
                a - 3 * HOUR_MS
            } else {
                a + gap / 2 + below(h >> 20, 60_000)
            };
            let end = b - gap / 2;
            let last = k + 1 == spm;
            let (last_seen, disconnected) = if last && open_at_end {
                (Some(self.end_ms + 2 * HOUR_MS), None)
            } else {
                match pick(h >> 40, 100) {
                    0..=79 => (Some(end - 30_000), Some(end)),
                    80..=94 => (Some(end), None), // the disconnect was lost
                    _ => (Some(end), Some(end + 6 * HOUR_MS)), // recorded late
                }
            };
            Session {
                session_id: format!("sess-{m:07}-{k:03}"),
                machine_id: Fleet::machine_id(m),
                connected_at: Timestamp(connected),
                last_seen_at: last_seen.map(Timestamp),
                disconnected_at: disconnected.map(Timestamp),
            }
        })
    }

    pub fn health(&self) -> impl Iterator<Item = Health> + '_ {
        let s = self.start_ms;
        let e = self.end_ms;
        (0..self.machines).flat_map(move |m| {
            let h = self.h(Stream::Health, m);
            let id = Fleet::machine_id(m);
            let ev = |at: i64, healthy: bool, reason: Option<&str>| Health {
                machine_id: id.clone(),
                at: Timestamp(at),
                healthy,
                reason: reason.map(str::to_string),
            };
            match pick(h, 100) {
                // An outage of 1–12 h inside the month.
                0..=7 => {
                    let at = s + below(h >> 8, 25 * DAY_MS);
                    vec![
                        ev(at, false, Some("thermal_throttle")),
                        ev(at + HOUR_MS + below(h >> 32, 11 * HOUR_MS), true, None),
                    ]
                }
                // Unhealthy before the month, recovered in its first day (carry-in).
                8..=10 => vec![
                    ev(s - 2 * DAY_MS, false, Some("gpu_error")),
                    ev(s + below(h >> 8, DAY_MS), true, None),
                ],
                // Unhealthy for the last five days.
                11 => vec![ev(e - 5 * DAY_MS, false, Some("disk_full"))],
                _ => Vec::new(),
            }
        })
    }

    pub fn probes(&self) -> impl Iterator<Item = Probe> + '_ {
        let e = self.end_ms;
        (0..self.machines).flat_map(move |m| {
            let p = self.profile(m);
            let h = self.h(Stream::Probe, m);
            let probe = |k: u32, at: i64, passed: bool| Probe {
                probe_id: format!("probe-{m:07}-{k}"),
                machine_id: Fleet::machine_id(m),
                at: Timestamp(at),
                passed,
                failure: (!passed).then(|| "wrong_answer".to_string()),
                model: MODELS
                    .get(usize::try_from(pick(h >> 56, usize_u64(MODELS.len()))).unwrap_or(0))
                    .map(|s| s.to_string()),
                verified_memory_gb: passed.then_some(p.reported_gb),
                source: None,
            };
            let first_at = e - 45 * DAY_MS + below(h >> 8, 40 * DAY_MS);
            let mut out = vec![probe(0, first_at, pick(h, 100) < 90)];
            if pick(h >> 4, 100) < 30 {
                // A later probe; one in seven fails and revokes the earlier pass.
                let at = first_at + HOUR_MS + below(h >> 24, e - first_at - 2 * HOUR_MS);
                out.push(probe(1, at, pick(h >> 40, 7) != 0));
            }
            out
        })
    }

    /// The window earnings are spread over: the 48 days before E (the store
    /// reads the last 45: the work window, which covers the epoch and the
    /// trailing 30 days).
    fn earnings_span(&self) -> (i64, i64) {
        (self.end_ms - 48 * DAY_MS, 48 * DAY_MS)
    }

    /// A consumer id, skewed towards the low numbers (the product of two
    /// uniform draws).
    fn consumer(&self, d: u64) -> String {
        let c = self.consumers;
        format!("cons-{:04}", pick(d, c) * pick(d >> 16, c) / c)
    }

    /// Earnings in time order. Half go to the busy 20 % of machines, half to
    /// the normal 70 %; the idle 10 % earn nothing. Consumers skewed; 2 % are
    /// bought by the machine's own account (not organic), 3 % pinned, 3 %
    /// probe jobs, 1 % zero amounts.
    pub fn earnings(&self) -> impl Iterator<Item = Earning> + '_ {
        let total = self.machines.saturating_mul(self.earnings_per_machine);
        let (lo, span) = self.earnings_span();
        let step = (span / u64_i64(total.max(1))).max(1);
        let job_base = self.h(Stream::JobId, 0);
        (0..total).map(move |i| {
            let h = self.h(Stream::Earning, i);
            let d = self.h(Stream::EarningDetail, i);
            let at = lo
                + i64::try_from(i128::from(span) * i128::from(i) / i128::from(total.max(1)))
                    .unwrap_or(0)
                + below(h >> 40, step);
            let pool = if pick(h, 2) == 0 || self.normal.is_empty() {
                &self.busy
            } else {
                &self.normal
            };
            let m = pool
                .get(usize::try_from(pick(h >> 1, usize_u64(pool.len()))).unwrap_or(0))
                .copied()
                .unwrap_or_else(|| pick(h >> 1, self.machines));
            let c = pick(d, 1000);
            let consumer = if c < 20 {
                let p = self.profile(m);
                self.owner_at(&p, at)
                    .map_or_else(|| self.consumer(mix(d)), Fleet::account_id)
            } else {
                self.consumer(mix(d))
            };
            Earning {
                // A bijection of the index: unique, in random key order.
                job_id: format!("job-{:016x}", mix(job_base.wrapping_add(i))),
                machine_id: Fleet::machine_id(m),
                consumer_account_id: consumer,
                amount_micro_usd: if pick(d >> 20, 100) == 0 {
                    0
                } else {
                    1 + below(d >> 27, 120_000)
                },
                kind: if pick(d >> 44, 100) < 3 {
                    EarningKind::Probe
                } else {
                    EarningKind::Inference
                },
                pinned: (20..50).contains(&c),
                model: MODELS
                    .get(usize::try_from(pick(d >> 52, usize_u64(MODELS.len()))).unwrap_or(0))
                    .map(|s| s.to_string()),
                at: Timestamp(at),
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::scale::{Backend, ScaleOptions};

    #[test]
    fn the_fleet_is_deterministic_and_counted() {
        let opts = ScaleOptions::new(Backend::Sqlite, 50, "2026-10".parse().unwrap());
        let a = Fleet::new(&opts);
        let b = Fleet::new(&opts);
        assert_eq!(a.earnings().count(), 50 * 200);
        assert_eq!(a.sessions().count(), 50 * 30);
        let ea: Vec<_> = a.earnings().take(100).collect();
        let eb: Vec<_> = b.earnings().take(100).collect();
        assert_eq!(ea, eb);
        let mut ids: Vec<String> = a.earnings().map(|e| e.job_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 50 * 200);
    }
}
