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
//!
//! Files: this one holds the options, the report and the small numeric and
//! memory helpers; `fleet.rs` the deterministic fleet; `db.rs` the database
//! of a run and the raw connection with its bare scans; `run.rs` the ingest
//! and the timed phases; `report.rs` the extrapolation and the markdown;
//! `period.rs` the period benches (SPEC §10: one 5-minute period, or a month
//! of daily periods, with `policy.period` shorter than a month);
//! `refine.rs` the refinement bench (one heartbeat per open session against
//! a bare `UPDATE` of the same rows).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::as_conversions
)]

mod db;
mod error;
mod fleet;
mod period;
mod refine;
mod report;
mod run;

pub use db::ScaleDb;
pub use error::{Doing, Result, ScaleError};
pub use fleet::Fleet;
pub use period::{
    parse_period, period_policy, run_period, PeriodFigures, PeriodReport, RunningClock,
    FIVE_MINUTES_SECS,
};
pub use refine::{
    markdown_refine, markdown_version_rows, run_refine, run_version_rows, RefineReport,
    VersionRowsReport, REFINE_OVER_BARE_TARGET,
};
pub use report::{
    extrapolate, grouped, linear, markdown, markdown_extrapolation, markdown_period, Fitted,
    SETTLE_OVER_BARE_TARGET, SETTLE_PEAK_TARGET_MB,
};
pub use run::{bench_policy, run};

use std::collections::BTreeMap;

use floorline_core::EpochId;
use serde::{Deserialize, Serialize};

const HOUR_MS: i64 = 3_600_000;

/// The database the bench runs on (the store's enum).
pub use floorline_store::Backend;

/// What to run.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    pub backend: Backend,
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
    pub fn new(backend: Backend, machines: u64, epoch: EpochId) -> ScaleOptions {
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
    pub backend: Backend,
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
