//! The scale bench (issue #7): a deterministic fleet of `machines` machines
//! with `sessions_per_machine` sessions and `earnings_per_machine` earnings
//! each (100 000 / 30 / 200 by default: 3 000 000 sessions and 20 000 000
//! earnings) for one epoch, driven through floorline's public API on a fresh
//! SQLite file or PostgreSQL database:
//!
//! 1. **ingest** every kind through `Store::ingest_*` in batches of
//!    [`MAX_BATCH_ITEMS`] (time spent inside the store calls, rows/s);
//! 2. **load** `Store::load_epoch_facts`, **plan** `floorline_core::plan`;
//! 3. **settle** `Engine::settle` live after the month closed (one locked
//!    transaction that loads, plans and commits; about one draw, one ledger
//!    credit and one `base_reward` earning per paid share);
//! 4. the **bare scans** of the same epoch with raw SQL on the same database
//!    (earnings summed per machine over the window the store reads, and the
//!    epoch's sessions grouped per machine): the work no implementation can
//!    avoid, the denominator of the settle / bare ratio;
//! 5. peak memory per phase: `VmHWM` of `/proc/self/status`, reset by writing
//!    `5` to `/proc/self/clear_refs` before each phase.
//!
//! [`extrapolate`] fits each figure linearly in the number of machines through
//! two runs (per-machine counts fixed) to estimate a larger fleet.
//!
//! The fleet is a pure function of the seed and the sizes (every fact is
//! derived from a hash of its index), so it is streamed batch by batch and
//! never held in memory whole.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::as_conversions
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use floorline_core::bundle::{Attestation, Binding, Earning, Health, Probe, Session};
use floorline_core::facts::{EarningKind, OrganicEarnings, Windows};
use floorline_core::policy::Trust;
use floorline_core::time::DAY_MS;
use floorline_core::{EpochId, Policy, Timestamp};
use floorline_engine::clock::FixedClock;
use floorline_engine::config::Config;
use floorline_engine::{Engine, SettleOptions};
use floorline_store::{IngestReport, Store, Watermark, MAX_BATCH_ITEMS};
use serde::{Deserialize, Serialize};

use crate::dst::with_database;
use sqlx::Connection as _;

const HOUR_MS: i64 = 3_600_000;

/// The database the bench runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScaleBackend {
    Sqlite,
    Postgres,
}

impl ScaleBackend {
    /// The command-line spelling.
    pub fn as_arg(self) -> &'static str {
        match self {
            ScaleBackend::Sqlite => "sqlite",
            ScaleBackend::Postgres => "postgres",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ScaleBackend::Sqlite => "SQLite",
            ScaleBackend::Postgres => "PostgreSQL",
        }
    }
}

impl FromStr for ScaleBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sqlite" => Ok(ScaleBackend::Sqlite),
            "postgres" | "postgresql" | "pg" => Ok(ScaleBackend::Postgres),
            other => Err(format!("unknown backend `{other}` (sqlite or postgres)")),
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    pub backend: ScaleBackend,
    pub machines: u64,
    pub sessions_per_machine: u64,
    pub earnings_per_machine: u64,
    /// Distinct consumer accounts buying jobs (skewed: low numbers buy more).
    pub consumers: u64,
    pub seed: u64,
    pub epoch: EpochId,
    /// Admin URL; a fresh `floorline_scale_*` database is created and dropped.
    pub pg_admin_url: String,
    /// Progress lines on stderr.
    pub progress: bool,
    /// Run on this database and keep it (instead of a fresh one, dropped
    /// after). If it already holds exactly this fleet, the ingest is skipped
    /// and an earlier run's settlement is deleted first: for measuring load,
    /// plan and settle again without a long ingest.
    pub database: Option<String>,
}

impl ScaleOptions {
    /// Defaults: 30 sessions and 200 earnings per machine, 12 consumers, seed 7.
    pub fn new(backend: ScaleBackend, machines: u64, epoch: EpochId) -> ScaleOptions {
        ScaleOptions {
            backend,
            machines,
            sessions_per_machine: 30,
            earnings_per_machine: 200,
            consumers: 12,
            seed: 7,
            epoch,
            pg_admin_url: std::env::var("FLOORLINE_TEST_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
            progress: false,
            database: None,
        }
    }
}

/// One ingested kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KindFigures {
    pub kind: String,
    pub rows: u64,
    pub batches: u64,
    /// Time inside the store calls.
    pub secs: f64,
}

impl KindFigures {
    pub fn rows_per_sec(&self) -> f64 {
        ratio(f(self.rows), self.secs)
    }
}

/// One timed phase with its memory.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Phase {
    pub secs: f64,
    /// RSS when the phase began (VmHWM is reset to it), MB.
    pub rss_start_mb: f64,
    /// VmHWM at the end of the phase, MB.
    pub peak_mb: f64,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleReport {
    pub backend: ScaleBackend,
    pub machines: u64,
    pub sessions_per_machine: u64,
    pub earnings_per_machine: u64,
    pub seed: u64,
    pub epoch: EpochId,
    pub ingest: Vec<KindFigures>,
    /// Peak memory over the whole ingest.
    pub ingest_phase: Phase,
    /// Rows per table after the ingest (read with raw SQL).
    pub db_rows: BTreeMap<String, u64>,
    /// Rows generated per table (what the DB must hold).
    pub generated_rows: BTreeMap<String, u64>,
    /// PostgreSQL `VACUUM ANALYZE` after the ingest (what autovacuum does
    /// during a month); 0 on SQLite (the store runs no maintenance there).
    pub maintenance_secs: f64,
    pub load: Phase,
    pub load_machines: u64,
    pub load_sessions: u64,
    /// Machines with organic earnings (D9) in some window of the epoch.
    #[serde(default)]
    pub load_organic_machines: u64,
    pub plan: Phase,
    pub plan_eligible: u64,
    pub plan_granted_micro_usd: i64,
    pub plan_manifest: String,
    pub settle: Phase,
    pub settle_granted_micro_usd: i64,
    pub settle_unallocated_micro_usd: i64,
    pub settle_shares: u64,
    pub settle_eligible: u64,
    pub settle_manifest: String,
    pub pool_micro_usd: i64,
    pub excluded_by_reason: BTreeMap<String, u64>,
    /// Bare scans: the best of two runs (before the load and after the settle).
    pub bare_earnings_secs: f64,
    pub bare_earnings_rows: u64,
    pub bare_sessions_secs: f64,
    pub bare_sessions_rows: u64,
    /// The store's own earnings grouping and sessions queries run bare on the
    /// raw connection, rows fetched as tuples (after the settle, warm): what
    /// the load costs before sqlx decoding into facts and assembly. Not part
    /// of the ratio's denominator. Absent (0) in reports of earlier versions.
    #[serde(default)]
    pub store_grouping_secs: f64,
    #[serde(default)]
    pub store_grouping_rows: u64,
    #[serde(default)]
    pub store_sessions_secs: f64,
    #[serde(default)]
    pub store_sessions_rows: u64,
    pub db_bytes: u64,
}

impl ScaleReport {
    pub fn sessions(&self) -> u64 {
        self.machines.saturating_mul(self.sessions_per_machine)
    }
    pub fn earnings(&self) -> u64 {
        self.machines.saturating_mul(self.earnings_per_machine)
    }
    pub fn bare_secs(&self) -> f64 {
        self.bare_earnings_secs + self.bare_sessions_secs
    }
    pub fn settle_over_bare(&self) -> f64 {
        ratio(self.settle.secs, self.bare_secs())
    }
    pub fn load_over_bare(&self) -> f64 {
        ratio(self.load.secs, self.bare_secs())
    }
    pub fn ingest_secs(&self) -> f64 {
        self.ingest.iter().map(|k| k.secs).sum()
    }
    pub fn ingest_rows(&self) -> u64 {
        self.ingest.iter().map(|k| k.rows).sum()
    }
    fn kind_secs(&self, kind: &str) -> f64 {
        self.ingest
            .iter()
            .filter(|k| k.kind == kind)
            .map(|k| k.secs)
            .sum()
    }
}

// ---------------------------------------------------------------------------
// Numbers without `as`.

/// `n` as a float (exact below 2^53; the counts here are far below).
pub fn f(n: u64) -> f64 {
    let hi = u32::try_from(n >> 32).unwrap_or(u32::MAX);
    let lo = u32::try_from(n & 0xffff_ffff).unwrap_or(u32::MAX);
    f64::from(hi) * 4_294_967_296.0 + f64::from(lo)
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

fn usize_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn u64_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn i64_u64(n: i64) -> u64 {
    u64::try_from(n.max(0)).unwrap_or(0)
}

/// `h mod n` as an `i64` (0 when `n ≤ 0`).
fn below(h: u64, n: i64) -> i64 {
    match u64::try_from(n) {
        Ok(n) if n > 0 => u64_i64(h % n),
        _ => 0,
    }
}

/// `h mod n` (0 when `n = 0`).
fn pick(h: u64, n: u64) -> u64 {
    h.checked_rem(n).unwrap_or(0)
}

/// SplitMix64's finaliser: a bijection of `u64`.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------
// The fleet.

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

// ---------------------------------------------------------------------------
// Memory.

/// A `/proc/self/status` field in kB (0 if unreadable).
pub fn vm_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn mb(kb: u64) -> f64 {
    f(kb) / 1024.0
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0) and returns the RSS in MB.
pub fn reset_peak() -> f64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    mb(vm_kb("VmRSS:"))
}

/// Peak RSS since the last [`reset_peak`], MB.
pub fn peak_mb() -> f64 {
    mb(vm_kb("VmHWM:"))
}

// ---------------------------------------------------------------------------
// The database.

/// A fresh database of one run; [`ScaleDb::destroy`] removes it.
pub struct ScaleDb {
    pub url: String,
    /// Holds a fresh SQLite database's files; removed when dropped.
    _dir: tempfile::TempDir,
    /// The PostgreSQL database this bench created (admin URL, name), dropped
    /// by [`ScaleDb::destroy`]; `None` for SQLite and for `--database`.
    pg: Option<(String, String)>,
}

impl ScaleDb {
    pub async fn create(opts: &ScaleOptions) -> anyhow::Result<ScaleDb> {
        let dir = tempfile::Builder::new()
            .prefix("floorline-scale-")
            .tempdir()
            .context("temporary directory")?;
        if let Some(url) = &opts.database {
            return Ok(ScaleDb {
                url: url.clone(),
                _dir: dir,
                pg: None,
            });
        }
        match opts.backend {
            ScaleBackend::Sqlite => Ok(ScaleDb {
                url: format!("sqlite://{}", dir.path().join("scale.db").display()),
                _dir: dir,
                pg: None,
            }),
            ScaleBackend::Postgres => {
                let admin = opts.pg_admin_url.clone();
                let name = format!(
                    "floorline_scale_{}_{:08x}",
                    std::process::id(),
                    rand::random::<u32>()
                );
                let mut c = sqlx::PgConnection::connect(&admin)
                    .await
                    .with_context(|| format!("PostgreSQL at {admin} is not reachable"))?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .await
                    .with_context(|| format!("CREATE DATABASE {name}"))?;
                let _ = c.close().await;
                Ok(ScaleDb {
                    url: with_database(&admin, &name),
                    _dir: dir,
                    pg: Some((admin, name)),
                })
            }
        }
    }

    /// Bytes on disk (the SQLite files, or `pg_database_size`).
    async fn size_bytes(&self, raw: &mut Raw) -> u64 {
        match raw {
            Raw::Pg(c) => {
                sqlx::query_as::<_, (i64,)>("SELECT pg_database_size(current_database())")
                    .fetch_one(&mut *c)
                    .await
                    .map_or(0, |(n,)| i64_u64(n))
            }
            Raw::Sqlite(_) => {
                let path = self.url.trim_start_matches("sqlite://");
                ["", "-wal", "-shm"]
                    .iter()
                    .filter_map(|x| std::fs::metadata(format!("{path}{x}")).ok())
                    .map(|m| m.len())
                    .sum()
            }
        }
    }

    pub async fn destroy(self) {
        if let Some((admin, name)) = &self.pg {
            if let Ok(mut c) = sqlx::PgConnection::connect(admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
                let _ = c.close().await;
            }
        }
    }
}

/// A raw connection for counts and the bare scans (not the store's pool).
enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

const BARE_EARNINGS_SQL: &str = "SELECT machine_id, CAST(SUM(amount_micro_usd) AS BIGINT) \
     FROM earnings WHERE at_ms >= $1 AND at_ms < $2 GROUP BY machine_id";
const BARE_SESSIONS_SQL: &str = "SELECT machine_id, COUNT(*), MIN(connected_at_ms) \
     FROM sessions WHERE connected_at_ms < $1 \
       AND COALESCE(last_seen_at_ms, disconnected_at_ms, connected_at_ms) > $2 \
     GROUP BY machine_id";

impl Raw {
    async fn connect(url: &str) -> anyhow::Result<Raw> {
        if url.starts_with("sqlite:") {
            Ok(Raw::Sqlite(sqlx::SqliteConnection::connect(url).await?))
        } else {
            Ok(Raw::Pg(sqlx::PgConnection::connect(url).await?))
        }
    }

    fn backend(&self) -> floorline_store::Backend {
        match self {
            Raw::Pg(_) => floorline_store::Backend::Postgres,
            Raw::Sqlite(_) => floorline_store::Backend::Sqlite,
        }
    }

    async fn count(&mut self, table: &str) -> anyhow::Result<u64> {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let (n,): (i64,) = match self {
            Raw::Sqlite(c) => sqlx::query_as(&sql).fetch_one(&mut *c).await?,
            Raw::Pg(c) => sqlx::query_as(&sql).fetch_one(&mut *c).await?,
        };
        Ok(i64_u64(n))
    }

    async fn execute(&mut self, sql: &str) -> anyhow::Result<()> {
        match self {
            Raw::Sqlite(c) => {
                sqlx::query(sql).execute(&mut *c).await?;
            }
            Raw::Pg(c) => {
                sqlx::query(sql).execute(&mut *c).await?;
            }
        }
        Ok(())
    }

    /// Runs `sql` with `binds` for `$1`, `$2`, … (numbered placeholders, which
    /// sqlx's SQLite driver binds by number too) and fetches every row as
    /// `R`: (seconds, rows).
    async fn timed_rows<R>(&mut self, sql: &str, binds: &[i64]) -> anyhow::Result<(f64, u64)>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let t = Instant::now();
        let n = match self {
            Raw::Sqlite(c) => {
                let mut q = sqlx::query_as::<_, R>(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.fetch_all(&mut *c).await?.len()
            }
            Raw::Pg(c) => {
                let mut q = sqlx::query_as::<_, R>(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.fetch_all(&mut *c).await?.len()
            }
        };
        Ok((t.elapsed().as_secs_f64(), usize_u64(n)))
    }

    /// Σ amount per machine over `[from, to)`: (seconds, rows).
    async fn bare_earnings(&mut self, from: i64, to: i64) -> anyhow::Result<(f64, u64)> {
        self.timed_rows::<(String, i64)>(BARE_EARNINGS_SQL, &[from, to])
            .await
    }

    /// The epoch's sessions grouped per machine: (seconds, rows).
    async fn bare_sessions(&mut self, end: i64, alive_after: i64) -> anyhow::Result<(f64, u64)> {
        self.timed_rows::<(String, i64, i64)>(BARE_SESSIONS_SQL, &[end, alive_after])
            .await
    }

    /// The store's main earnings grouping query (`load::earnings_grouping_sql`,
    /// under `load::PG_GROUPING_SETTING` on PostgreSQL): (seconds, rows).
    async fn store_grouping(
        &mut self,
        epoch: EpochId,
        policy: &Policy,
    ) -> anyhow::Result<(f64, u64)> {
        let pg = matches!(self, Raw::Pg(_));
        let (sql, args) =
            floorline_store::load::earnings_grouping_sql(self.backend(), epoch, policy);
        if pg {
            let setting = floorline_store::load::PG_GROUPING_SETTING;
            self.execute(&format!("SET {setting}")).await?;
        }
        let out = self
            .timed_rows::<(i64, String, i64, i64, i64)>(&sql, &args)
            .await;
        if pg {
            self.execute("RESET enable_sort").await?;
        }
        out
    }

    /// The store's sessions query (`load::sessions_sql`: one row per machine
    /// on SQLite, one per session on PostgreSQL), every row fetched:
    /// (seconds, rows).
    async fn store_sessions(
        &mut self,
        epoch: EpochId,
        policy: &Policy,
    ) -> anyhow::Result<(f64, u64)> {
        let backend = self.backend();
        let (sql, args) = floorline_store::load::sessions_sql(backend, epoch, policy);
        match backend {
            floorline_store::Backend::Sqlite => {
                self.timed_rows::<(String, String)>(&sql, &args).await
            }
            floorline_store::Backend::Postgres => {
                self.timed_rows::<(String, i64, Option<i64>, Option<i64>)>(&sql, &args)
                    .await
            }
        }
    }

    async fn close(self) {
        let _ = match self {
            Raw::Sqlite(c) => c.close().await,
            Raw::Pg(c) => c.close().await,
        };
    }
}

// ---------------------------------------------------------------------------
// The run.

/// The policy of the bench: the defaults, with a pool of $8 per machine. The
/// default $9 000 would pay a few hundred machines of 100 000 and make the
/// commit trivial; with $8 each the pool does not bind for this fleet (the
/// desired draws sum to about $4.40 per machine), so every eligible machine
/// with a positive draw is paid and the commit writes tens of thousands of
/// draws, ledger credits and `base_reward` earnings.
pub fn bench_policy(machines: u64) -> Policy {
    Policy {
        pool_micro_usd: u64_i64(machines.saturating_mul(8_000_000)),
        ..Policy::default()
    }
}

struct Progress {
    on: bool,
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    last: Instant,
}

impl Progress {
    fn new(on: bool, label: String, total: u64) -> Progress {
        let now = Instant::now();
        Progress {
            on,
            label,
            total,
            done: 0,
            started: now,
            last: now,
        }
    }

    fn add(&mut self, n: u64) {
        self.done += n;
        if self.on && (self.last.elapsed() >= Duration::from_secs(20) || self.done == self.total) {
            self.last = Instant::now();
            let secs = self.started.elapsed().as_secs_f64();
            let rate = ratio(f(self.done), secs);
            let left = ratio(f(self.total.saturating_sub(self.done)), rate);
            eprintln!(
                "  {} {}/{} ({:.0} %) {:.0} rows/s, {:.0} s elapsed, ~{:.0} s left",
                self.label,
                self.done,
                self.total,
                ratio(f(self.done) * 100.0, f(self.total)),
                rate,
                secs,
                left
            );
        }
    }
}

/// Sends `items` in batches of [`MAX_BATCH_ITEMS`]; every item must be new.
async fn ingest_kind<T, I, F, Fut>(
    kind: &'static str,
    items: I,
    total_hint: u64,
    opts: &ScaleOptions,
    mut send: F,
) -> anyhow::Result<KindFigures>
where
    I: Iterator<Item = T>,
    F: FnMut(Vec<T>) -> Fut,
    Fut: std::future::Future<Output = floorline_store::Result<(IngestReport, usize)>>,
{
    let mut items = items;
    let mut progress = Progress::new(
        opts.progress,
        format!("[{} {}] {kind}", opts.backend.name(), opts.machines),
        total_hint,
    );
    let mut figures = KindFigures {
        kind: kind.to_string(),
        rows: 0,
        batches: 0,
        secs: 0.0,
    };
    loop {
        let batch: Vec<T> = items.by_ref().take(MAX_BATCH_ITEMS).collect();
        if batch.is_empty() {
            break;
        }
        let t = Instant::now();
        let (report, n) = send(batch)
            .await
            .with_context(|| format!("ingest {kind}, batch {}", figures.batches))?;
        figures.secs += t.elapsed().as_secs_f64();
        let n = usize_u64(n);
        if report.accepted != n || !report.conflicts.is_empty() {
            bail!(
                "ingest {kind}, batch {}: {} sent, {} accepted, {} duplicates, {} conflicts",
                figures.batches,
                n,
                report.accepted,
                report.duplicates,
                report.conflicts.len()
            );
        }
        figures.rows += n;
        figures.batches += 1;
        progress.add(n);
    }
    Ok(figures)
}

/// Runs the bench once on a fresh database (always dropped after).
pub async fn run(opts: &ScaleOptions) -> anyhow::Result<ScaleReport> {
    let db = ScaleDb::create(opts).await?;
    let out = run_on(&db, opts).await;
    db.destroy().await;
    out
}

async fn run_on(db: &ScaleDb, opts: &ScaleOptions) -> anyhow::Result<ScaleReport> {
    let epoch = opts.epoch;
    let policy = bench_policy(opts.machines);
    let store = Store::connect(&db.url).await.context("connect")?;
    store.migrate().await.context("migrate")?;
    let fleet = Fleet::new(opts);
    let n = opts.machines;
    let say = |what: String| {
        if opts.progress {
            eprintln!("[{} {n}] {what}", opts.backend.name());
        }
    };

    // 1. Ingest (unless a kept database already holds this fleet).
    let rss = reset_peak();
    let mut ingest = Vec::new();
    let reused = holds_fleet(&db.url, opts).await?;
    if reused {
        say("the database holds this fleet: ingest skipped, earlier settlement deleted".into());
    } else {
        ingest_fleet(&store, &fleet, opts, &mut ingest).await?;
    }
    let ingest_phase = Phase {
        secs: ingest.iter().map(|k| k.secs).sum(),
        rss_start_mb: rss,
        peak_mb: peak_mb(),
    };
    say(format!(
        "ingested {} rows in {:.1} s",
        ingest.iter().map(|k| k.rows).sum::<u64>(),
        ingest_phase.secs
    ));

    // Row counts: the database holds exactly what was generated.
    let mut raw = Raw::connect(&db.url).await.context("raw connect")?;
    let mut generated_rows: BTreeMap<String, u64> = if reused {
        generated_counts(&fleet)
    } else {
        ingest.iter().map(|k| (k.kind.clone(), k.rows)).collect()
    };
    generated_rows.insert("machines".into(), n);
    let mut db_rows = BTreeMap::new();
    for table in [
        "machines",
        "attestations",
        "bindings",
        "sessions",
        "health",
        "probes",
        "earnings",
    ] {
        db_rows.insert(table.to_string(), raw.count(table).await?);
    }
    if db_rows != generated_rows {
        bail!("rows in the database {db_rows:?} differ from those generated {generated_rows:?}");
    }

    let t = Instant::now();
    if opts.backend == ScaleBackend::Postgres {
        raw.execute("VACUUM ANALYZE")
            .await
            .context("VACUUM ANALYZE")?;
    }
    let maintenance_secs = t.elapsed().as_secs_f64();

    // The bare scans, first run.
    let w = Windows::new(epoch, &policy);
    let (from, to) = (w.earliest_earning_ms(), w.end_ms);
    let alive_after = w.start_ms - policy.grace_ms;
    let (e1, bare_earnings_rows) = raw.bare_earnings(from, to).await?;
    let (s1, bare_sessions_rows) = raw.bare_sessions(w.end_ms, alive_after).await?;
    say(format!(
        "bare scans: earnings {e1:.2} s, sessions {s1:.2} s"
    ));

    // 2. Load.
    let rss = reset_peak();
    let t = Instant::now();
    let facts = store
        .load_epoch_facts(epoch, &policy)
        .await
        .context("load_epoch_facts")?;
    let load = Phase {
        secs: t.elapsed().as_secs_f64(),
        rss_start_mb: rss,
        peak_mb: peak_mb(),
    };
    let load_machines = usize_u64(facts.machines.len());
    let load_sessions = facts
        .machines
        .iter()
        .map(|m| usize_u64(m.sessions.len()))
        .sum();
    let load_organic_machines = usize_u64(
        facts
            .machines
            .iter()
            .filter(|m| m.earnings != OrganicEarnings::default())
            .count(),
    );
    say(format!(
        "load {:.2} s, peak {:.0} MB",
        load.secs, load.peak_mb
    ));

    // 3. Plan.
    let rss = reset_peak();
    let t = Instant::now();
    let planned = floorline_core::plan(&facts, &policy).map_err(|e| anyhow!("plan: {e}"))?;
    let plan = Phase {
        secs: t.elapsed().as_secs_f64(),
        rss_start_mb: rss,
        peak_mb: peak_mb(),
    };
    let plan_eligible = usize_u64(planned.machines.iter().filter(|m| m.eligible).count());
    let plan_granted_micro_usd = planned.granted_total_micro_usd;
    let plan_manifest = planned.manifest_sha256.clone();
    drop(planned);
    drop(facts);
    say(format!(
        "plan {:.2} s, peak {:.0} MB",
        plan.secs, plan.peak_mb
    ));

    // 4. Settle: the real path, live, seven hours after the month closed.
    let engine = Engine::new(
        store.clone(),
        Config {
            policy: policy.clone(),
            ..Config::default()
        },
        Arc::new(FixedClock(Timestamp(epoch.end().0 + 7 * HOUR_MS))),
    );
    let rss = reset_peak();
    let t = Instant::now();
    let summary = engine
        .settle(epoch, "scale-bench", SettleOptions::default())
        .await
        .map_err(|e| anyhow!("settle: {e}"))?;
    let settle = Phase {
        secs: t.elapsed().as_secs_f64(),
        rss_start_mb: rss,
        peak_mb: peak_mb(),
    };
    say(format!(
        "settle {:.2} s, peak {:.0} MB, {} shares",
        settle.secs, settle.peak_mb, summary.n_granted_shares
    ));

    // The bare scans again (warm); the best of the two counts.
    let (e2, _) = raw.bare_earnings(from, to).await?;
    let (s2, _) = raw.bare_sessions(w.end_ms, alive_after).await?;
    let (store_grouping_secs, store_grouping_rows) = raw.store_grouping(epoch, &policy).await?;
    let (store_sessions_secs, store_sessions_rows) = raw.store_sessions(epoch, &policy).await?;
    let db_bytes = db.size_bytes(&mut raw).await;
    raw.close().await;
    store.close().await;

    Ok(ScaleReport {
        backend: opts.backend,
        machines: n,
        sessions_per_machine: opts.sessions_per_machine,
        earnings_per_machine: opts.earnings_per_machine,
        seed: opts.seed,
        epoch,
        ingest,
        ingest_phase,
        db_rows,
        generated_rows,
        maintenance_secs,
        load,
        load_machines,
        load_sessions,
        load_organic_machines,
        plan,
        plan_eligible,
        plan_granted_micro_usd,
        plan_manifest,
        settle,
        settle_granted_micro_usd: summary.granted_total_micro_usd,
        settle_unallocated_micro_usd: summary.unallocated_micro_usd,
        settle_shares: summary.n_granted_shares,
        settle_eligible: summary.n_eligible,
        settle_manifest: summary.manifest_sha256,
        pool_micro_usd: summary.pool_micro_usd,
        excluded_by_reason: summary.excluded_by_reason,
        bare_earnings_secs: e1.min(e2),
        bare_earnings_rows,
        bare_sessions_secs: s1.min(s2),
        bare_sessions_rows,
        store_grouping_secs,
        store_grouping_rows,
        store_sessions_secs,
        store_sessions_rows,
        db_bytes,
    })
}

/// Ingests the whole fleet through the store, kind by kind, then the watermark.
async fn ingest_fleet(
    store: &Store,
    fleet: &Fleet,
    opts: &ScaleOptions,
    ingest: &mut Vec<KindFigures>,
) -> anyhow::Result<()> {
    let n = opts.machines;
    let epoch = opts.epoch;
    ingest.push(
        ingest_kind("attestations", fleet.attestations(), n, opts, |b| {
            let store = store.clone();
            async move { store.ingest_attestations(&b).await.map(|r| (r, b.len())) }
        })
        .await?,
    );
    ingest.push(
        ingest_kind("bindings", fleet.bindings(), n, opts, |b| {
            let store = store.clone();
            async move { store.ingest_bindings(&b).await.map(|r| (r, b.len())) }
        })
        .await?,
    );
    ingest.push(
        ingest_kind(
            "sessions",
            fleet.sessions(),
            n.saturating_mul(opts.sessions_per_machine),
            opts,
            |b| {
                let store = store.clone();
                async move { store.ingest_sessions(&b).await.map(|r| (r, b.len())) }
            },
        )
        .await?,
    );
    ingest.push(
        ingest_kind("health", fleet.health(), n / 5, opts, |b| {
            let store = store.clone();
            async move { store.ingest_health(&b).await.map(|r| (r, b.len())) }
        })
        .await?,
    );
    ingest.push(
        ingest_kind("probes", fleet.probes(), n, opts, |b| {
            let store = store.clone();
            async move { store.ingest_probes(&b).await.map(|r| (r, b.len())) }
        })
        .await?,
    );
    ingest.push(
        ingest_kind(
            "earnings",
            fleet.earnings(),
            n.saturating_mul(opts.earnings_per_machine),
            opts,
            |b| {
                let store = store.clone();
                async move { store.ingest_earnings(&b).await.map(|r| (r, b.len())) }
            },
        )
        .await?,
    );
    store
        .ingest_watermarks(&[Watermark {
            source: "coordinator".into(),
            up_to: Timestamp(epoch.end().0 + HOUR_MS),
        }])
        .await
        .context("watermark")?;
    Ok(())
}

/// How many items `it` yields: its exact size hint when it has one (the
/// sessions and earnings are ranges mapped to facts, so their millions of
/// rows are not built just to be counted), else a count.
fn rows_of<T>(it: impl Iterator<Item = T>) -> u64 {
    match it.size_hint() {
        (lo, Some(hi)) if lo == hi => usize_u64(lo),
        _ => usize_u64(it.count()),
    }
}

/// The rows of each kind the fleet generates (counted, not ingested).
fn generated_counts(fleet: &Fleet) -> BTreeMap<String, u64> {
    [
        ("attestations", rows_of(fleet.attestations())),
        ("bindings", rows_of(fleet.bindings())),
        ("sessions", rows_of(fleet.sessions())),
        ("health", rows_of(fleet.health())),
        ("probes", rows_of(fleet.probes())),
        ("earnings", rows_of(fleet.earnings())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Whether the database at `url` already holds this fleet (its machines and
/// earnings counted); if so the settlement of an earlier run is deleted, so
/// that the settle measured is again the epoch's first.
async fn holds_fleet(url: &str, opts: &ScaleOptions) -> anyhow::Result<bool> {
    let mut raw = Raw::connect(url).await.context("raw connect")?;
    let machines = raw.count("machines").await?;
    let earnings = raw.count("earnings WHERE kind <> 'base_reward'").await?;
    let holds = machines == opts.machines
        && earnings == opts.machines.saturating_mul(opts.earnings_per_machine);
    if holds {
        for sql in [
            "DELETE FROM floor_draws",
            "DELETE FROM ledger_entries",
            "DELETE FROM machine_totals",
            "DELETE FROM settlement_runs",
            "DELETE FROM earnings WHERE kind = 'base_reward'",
            "UPDATE accounts SET balance_micro_usd = 0",
        ] {
            raw.execute(sql).await.with_context(|| sql.to_string())?;
        }
    }
    raw.close().await;
    Ok(holds)
}

// ---------------------------------------------------------------------------
// Extrapolation and printing.

/// One figure fitted linearly in the number of machines.
#[derive(Debug, Clone, Serialize)]
pub struct Fitted {
    pub what: String,
    pub small: f64,
    pub large: f64,
    /// `a + b · target` with `a`, `b` through (small, large).
    pub target: f64,
    /// Per 1 000 machines (`b · 1000`).
    pub per_1000: f64,
}

/// `y = a + b·n` through `(n1, y1)` and `(n2, y2)`, evaluated at `n`.
pub fn linear(n1: f64, y1: f64, n2: f64, y2: f64, n: f64) -> f64 {
    if n2 == n1 {
        return y2;
    }
    let b = (y2 - y1) / (n2 - n1);
    y1 + b * (n - n1)
}

/// Every timed and memory figure of `large` extrapolated through `small` to
/// `target` machines (same per-machine counts).
pub fn extrapolate(small: &ScaleReport, large: &ScaleReport, target: u64) -> Vec<Fitted> {
    type Figure = fn(&ScaleReport) -> f64;
    let figures: Vec<(&str, Figure)> = vec![
        ("ingest sessions (s)", |r| r.kind_secs("sessions")),
        ("ingest earnings (s)", |r| r.kind_secs("earnings")),
        ("ingest, all kinds (s)", ScaleReport::ingest_secs),
        ("load_epoch_facts (s)", |r| r.load.secs),
        ("plan (s)", |r| r.plan.secs),
        ("settle (s)", |r| r.settle.secs),
        ("bare scans (s)", ScaleReport::bare_secs),
        ("load peak RSS (MB)", |r| r.load.peak_mb),
        ("plan peak RSS (MB)", |r| r.plan.peak_mb),
        ("settle peak RSS (MB)", |r| r.settle.peak_mb),
        ("database size (GB)", |r| f(r.db_bytes) / 1e9),
    ];
    let (n1, n2, n) = (f(small.machines), f(large.machines), f(target));
    // A run on a kept database skipped the ingest: it has no ingest figures.
    let ingested = !small.ingest.is_empty() && !large.ingest.is_empty();
    figures
        .into_iter()
        .filter(|(what, _)| ingested || !what.starts_with("ingest"))
        .map(|(what, get)| {
            let (y1, y2) = (get(small), get(large));
            Fitted {
                what: what.to_string(),
                small: y1,
                large: y2,
                target: linear(n1, y1, n2, y2, n),
                per_1000: if n2 == n1 {
                    0.0
                } else {
                    (y2 - y1) / (n2 - n1) * 1000.0
                },
            }
        })
        .collect()
}

/// `1234567` → `1 234 567`.
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn rate(x: f64) -> String {
    grouped(float_to_u64(x))
}

fn float_to_u64(x: f64) -> u64 {
    // Formatting, not arithmetic: avoids an `as` cast.
    format!("{:.0}", x.max(0.0)).parse().unwrap_or(0)
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "✓"
    } else {
        "✗"
    }
}

/// The settle-memory target.
pub const SETTLE_PEAK_TARGET_MB: f64 = 2048.0;
/// The settle / bare target.
pub const SETTLE_OVER_BARE_TARGET: f64 = 2.0;

/// One run as markdown.
pub fn markdown(r: &ScaleReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "#### {} — {} machines, {} sessions, {} earnings (seed {}, epoch {})\n",
        r.backend.name(),
        grouped(r.machines),
        grouped(r.sessions()),
        grouped(r.earnings()),
        r.seed,
        r.epoch
    );
    let _ = writeln!(s, "| phase | rows | time | rows/s | RSS start → peak |");
    let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
    for k in &r.ingest {
        let _ = writeln!(
            s,
            "| ingest {} | {} | {:.1} s | {} | |",
            k.kind,
            grouped(k.rows),
            k.secs,
            rate(k.rows_per_sec())
        );
    }
    if r.ingest.is_empty() {
        let _ = writeln!(
            s,
            "| ingest | skipped: the kept database already held this fleet | | | |"
        );
    } else {
        let _ = writeln!(
            s,
            "| ingest, all kinds | {} | {:.1} s | {} | {:.0} → {:.0} MB |",
            grouped(r.ingest_rows()),
            r.ingest_secs(),
            rate(ratio(f(r.ingest_rows()), r.ingest_secs())),
            r.ingest_phase.rss_start_mb,
            r.ingest_phase.peak_mb
        );
    }
    let _ = writeln!(
        s,
        "| `load_epoch_facts` | {} machines, {} sessions, {} with organic earnings | {:.2} s | | {:.0} → {:.0} MB |",
        grouped(r.load_machines),
        grouped(r.load_sessions),
        grouped(r.load_organic_machines),
        r.load.secs,
        r.load.rss_start_mb,
        r.load.peak_mb
    );
    let _ = writeln!(
        s,
        "| `plan` | {} eligible | {:.2} s | | {:.0} → {:.0} MB |",
        grouped(r.plan_eligible),
        r.plan.secs,
        r.plan.rss_start_mb,
        r.plan.peak_mb
    );
    let _ = writeln!(
        s,
        "| settle (`Engine::settle` live: load + plan + commit, one transaction) | {} draws written | {:.2} s | | {:.0} → {:.0} MB |",
        grouped(r.settle_shares),
        r.settle.secs,
        r.settle.rss_start_mb,
        r.settle.peak_mb
    );
    let _ = writeln!(
        s,
        "| bare: earnings `SUM … GROUP BY machine_id` over the store's window | {} | {:.2} s | | |",
        grouped(r.bare_earnings_rows),
        r.bare_earnings_secs
    );
    let _ = writeln!(
        s,
        "| bare: the epoch's sessions `COUNT, MIN … GROUP BY machine_id` | {} | {:.2} s | | |",
        grouped(r.bare_sessions_rows),
        r.bare_sessions_secs
    );
    let _ = writeln!(s, "| bare scans, total | | {:.2} s | | |", r.bare_secs());
    if r.store_grouping_rows > 0 {
        let _ = writeln!(
            s,
            "| not in the ratio: the store's earnings grouping SQL run bare | {} groups | {:.2} s ({:.2} × the bare earnings scan) | | |",
            grouped(r.store_grouping_rows),
            r.store_grouping_secs,
            ratio(r.store_grouping_secs, r.bare_earnings_secs)
        );
        let _ = writeln!(
            s,
            "| not in the ratio: the store's sessions query run bare (SQLite: one row per machine; PostgreSQL: one per session), rows fetched | {} | {:.2} s | | |",
            grouped(r.store_sessions_rows),
            r.store_sessions_secs
        );
    }
    s.push('\n');
    let _ = writeln!(
        s,
        "settle / bare = **{:.2}** (target ≤ {:.0} {}); load / bare = {:.2}; settle peak {:.0} MB (target < {:.0} MB {}). \
         Pool ${}, granted ${}, unallocated ${}; {} of {} machines eligible. Database {:.2} GB{}.\n",
        r.settle_over_bare(),
        SETTLE_OVER_BARE_TARGET,
        mark(r.settle_over_bare() <= SETTLE_OVER_BARE_TARGET),
        r.load_over_bare(),
        r.settle.peak_mb,
        SETTLE_PEAK_TARGET_MB,
        mark(r.settle.peak_mb < SETTLE_PEAK_TARGET_MB),
        grouped(i64_u64(r.pool_micro_usd / 1_000_000)),
        grouped(i64_u64(r.settle_granted_micro_usd / 1_000_000)),
        grouped(i64_u64(r.settle_unallocated_micro_usd / 1_000_000)),
        grouped(r.settle_eligible),
        grouped(r.machines),
        f(r.db_bytes) / 1e9,
        if r.backend == ScaleBackend::Postgres {
            format!(" (`VACUUM ANALYZE` after the ingest: {:.1} s, not counted)", r.maintenance_secs)
        } else {
            String::new()
        }
    );
    s
}

/// The extrapolation table.
pub fn markdown_extrapolation(small: &ScaleReport, large: &ScaleReport, target: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} extrapolated linearly to {} machines (`y = a + b·machines` through the two runs; per-machine counts fixed):\n",
        large.backend.name(),
        grouped(target)
    );
    let _ = writeln!(
        s,
        "| figure | {} machines | {} machines | per 1 000 machines | {} machines (fit) |",
        grouped(small.machines),
        grouped(large.machines),
        grouped(target)
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
    for x in extrapolate(small, large, target) {
        let _ = writeln!(
            s,
            "| {} | {:.2} | {:.2} | {:.3} | {:.1} |",
            x.what, x.small, x.large, x.per_1000, x.target
        );
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn linear_fit_goes_through_both_points() {
        assert!((linear(10.0, 3.0, 100.0, 21.0, 10.0) - 3.0).abs() < 1e-9);
        assert!((linear(10.0, 3.0, 100.0, 21.0, 100.0) - 21.0).abs() < 1e-9);
        assert!((linear(10.0, 3.0, 100.0, 21.0, 1000.0) - 201.0).abs() < 1e-9);
    }

    #[test]
    fn grouping_and_float_conversion() {
        assert_eq!(grouped(1_234_567), "1 234 567");
        assert_eq!(grouped(100), "100");
        assert_eq!(f(20_000_000), 20_000_000.0);
        assert_eq!(float_to_u64(31_234.6), 31_235);
    }

    #[test]
    fn the_fleet_is_deterministic_and_counted() {
        let opts = ScaleOptions::new(ScaleBackend::Sqlite, 50, "2026-10".parse().unwrap());
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
