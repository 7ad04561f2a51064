//! The period benches (SPEC §10, D20–D24): the scale bench's fleet, ingest
//! and bare scans with `policy.period` shorter than a month.
//!
//! - **`5m`**: ONE 5-minute period — the month's first — settled live with
//!   `Engine::settle` after the month closed and the watermark passed,
//!   timed, with its peak memory; the bare scans of that period's windows
//!   (earnings summed per machine over what the store reads for it, its
//!   sessions grouped per machine) are the comparison, run before and after
//!   the settle in the same process (the faster counted). The period must
//!   settle well inside its own 5 minutes.
//! - **`day`**: the whole month settled by one `Engine::settle_month` (28–31
//!   settlements, one transaction each), timed in total and per period; the
//!   bare scans of every period's windows are the comparison.
//!
//! Per-period times inside the one `settle_month` call come from the runs'
//! `created_at_ms`: the engine runs on a clock that advances with real time
//! from a fixed instant after the month closed ([`RunningClock`]), and each
//! run records `now` just before its transaction, so consecutive runs'
//! instants cut the call's wall time into its periods (ms resolution; the
//! first period also carries `settle_month`'s read of the month's runs).
//!
//! After the settle the month's statement (D24, `Engine::month_statement`)
//! is read: its total must equal Σ granted of the periods, and it is at most
//! the monthly pool.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::scale::{Doing as _, Result, ScaleError};
use floorline_core::facts::Windows;
use floorline_core::time::Period;
use floorline_core::{EpochId, Policy, Timestamp};
use floorline_engine::clock::{Clock, FixedClock};
use floorline_engine::config::Config;
use floorline_engine::{Engine, RunSummary, SettleOptions};
use serde::{Deserialize, Serialize};

use super::db::{Raw, ScaleDb};
use super::run::{bench_policy, prepare, say, Prepared};
use super::{
    peak_mb, ratio, reset_peak, usize_u64, Backend, KindFigures, Phase, ScaleOptions, HOUR_MS,
};

/// A period's own wall-clock budget is its length: a 5-minute period must
/// settle in well under 300 s.
pub const FIVE_MINUTES_SECS: f64 = 300.0;

/// `month`, `day`, `hour` or `5m` (the policy's words).
pub fn parse_period(s: &str) -> Result<Period, String> {
    match s {
        "month" => Ok(Period::Month),
        "day" => Ok(Period::Day),
        "hour" => Ok(Period::Hour),
        "5m" => Ok(Period::FiveMinutes),
        other => Err(format!("unknown period `{other}` (month, day, hour or 5m)")),
    }
}

/// The bench policy with `period`.
pub fn period_policy(machines: u64, period: Period) -> Policy {
    Policy {
        period,
        ..bench_policy(machines)
    }
}

/// A clock at `base` that advances with real time (monotonic), so that runs
/// settled one after another record increasing `created_at_ms`.
pub struct RunningClock {
    base_ms: i64,
    started: Instant,
}

impl RunningClock {
    pub fn new(base: Timestamp) -> RunningClock {
        RunningClock {
            base_ms: base.0,
            started: Instant::now(),
        }
    }
}

impl Clock for RunningClock {
    fn now(&self) -> Timestamp {
        let ms = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.base_ms.saturating_add(ms))
    }
}

/// One settled period.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeriodFigures {
    pub epoch: EpochId,
    /// Wall time of its settlement (see the module docs).
    pub secs: f64,
    /// The bare scans of its windows (the faster of two runs each).
    pub bare_earnings_secs: f64,
    pub bare_earnings_rows: u64,
    pub bare_sessions_secs: f64,
    pub bare_sessions_rows: u64,
    pub pool_micro_usd: i64,
    pub granted_micro_usd: i64,
    pub unallocated_micro_usd: i64,
    pub n_machines: u64,
    pub n_eligible: u64,
    pub n_draws: u64,
    pub manifest_sha256: String,
}

impl PeriodFigures {
    pub fn bare_secs(&self) -> f64 {
        self.bare_earnings_secs + self.bare_sessions_secs
    }
}

/// Everything one period run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeriodReport {
    pub backend: Backend,
    pub machines: u64,
    pub sessions_per_machine: u64,
    pub earnings_per_machine: u64,
    pub seed: u64,
    pub month: EpochId,
    pub period: Period,
    pub ingest: Vec<KindFigures>,
    pub ingest_phase: Phase,
    pub db_rows: BTreeMap<String, u64>,
    pub generated_rows: BTreeMap<String, u64>,
    pub maintenance_secs: f64,
    /// The whole settle call (one `settle`, or one `settle_month`).
    pub settle: Phase,
    /// The settled periods, in order.
    pub periods: Vec<PeriodFigures>,
    pub monthly_pool_micro_usd: i64,
    /// D24: `Engine::month_statement` after the settle.
    pub statement_drawn_micro_usd: i64,
    pub statement_accounts: u64,
    pub statement_periods_with_draws: u64,
    pub statement_manifest: String,
    /// Seconds to read the statement.
    pub statement_secs: f64,
    pub db_bytes: u64,
}

impl PeriodReport {
    pub fn sessions(&self) -> u64 {
        self.machines.saturating_mul(self.sessions_per_machine)
    }
    pub fn earnings(&self) -> u64 {
        self.machines.saturating_mul(self.earnings_per_machine)
    }
    pub fn granted_micro_usd(&self) -> i64 {
        self.periods.iter().map(|p| p.granted_micro_usd).sum()
    }
    pub fn draws(&self) -> u64 {
        self.periods.iter().map(|p| p.n_draws).sum()
    }
    pub fn bare_secs(&self) -> f64 {
        self.periods.iter().map(PeriodFigures::bare_secs).sum()
    }
    /// Σ per-period settle times (≈ `settle.secs`, less what the settle
    /// call did outside its periods).
    pub fn periods_secs(&self) -> f64 {
        self.periods.iter().map(|p| p.secs).sum()
    }
    pub fn settle_over_bare(&self) -> f64 {
        ratio(self.settle.secs, self.bare_secs())
    }
    pub fn ingest_secs(&self) -> f64 {
        self.ingest.iter().map(|k| k.secs).sum()
    }
    pub fn ingest_rows(&self) -> u64 {
        self.ingest.iter().map(|k| k.rows).sum()
    }
}

/// The bare scans of one period's windows: (earnings secs, rows, sessions
/// secs, rows).
async fn bare_of(raw: &mut Raw, unit: EpochId, policy: &Policy) -> Result<(f64, u64, f64, u64)> {
    let w = Windows::new(unit, policy);
    let (e, er) = raw.bare_earnings(w.earliest_earning_ms(), w.end_ms).await?;
    let (s, sr) = raw
        .bare_sessions(w.end_ms, w.start_ms - policy.grace_ms)
        .await?;
    Ok((e, er, s, sr))
}

/// Runs the period bench once on a fresh database (always dropped after).
pub async fn run_period(opts: &ScaleOptions, period: Period) -> Result<PeriodReport> {
    if period == Period::Month {
        return Err(ScaleError::msg(
            "the period bench needs a period shorter than a month (day, hour or 5m)",
        ));
    }
    let db = ScaleDb::create(opts).await?;
    let out = run_period_on(&db, opts, period).await;
    db.destroy().await;
    out
}

async fn run_period_on(db: &ScaleDb, opts: &ScaleOptions, period: Period) -> Result<PeriodReport> {
    let month = opts.epoch.month_id();
    let policy = period_policy(opts.machines, period);
    let Prepared {
        store,
        mut raw,
        ingest,
        ingest_phase,
        db_rows,
        generated_rows,
        maintenance_secs,
    } = prepare(db, opts).await?;

    // What is settled: the first period (5m), or every period of the month.
    let units: Vec<EpochId> = if period == Period::FiveMinutes {
        vec![EpochId::period_of(month, period, 0).map_err(|e| ScaleError::msg(e.to_string()))?]
    } else {
        (0..month.periods_in_month(period))
            .map(|k| {
                EpochId::period_of(month, period, k).map_err(|e| ScaleError::msg(e.to_string()))
            })
            .collect::<Result<_>>()?
    };

    // The bare scans, first run.
    let mut bare = Vec::new();
    for &unit in &units {
        bare.push(bare_of(&mut raw, unit, &policy).await?);
    }
    say(
        opts,
        &format!(
            "bare scans of {} {period} periods: {:.2} s",
            units.len(),
            bare.iter().map(|b| b.0 + b.2).sum::<f64>()
        ),
    );

    // The settle: live, seven hours after the month closed (the watermark
    // is at its end + 1 h).
    let after_close = Timestamp(month.end().0 + 7 * HOUR_MS);
    let config = Config {
        policy: policy.clone(),
        ..Config::default()
    };
    let rss = reset_peak();
    let (summaries, settle, cuts): (Vec<RunSummary>, Phase, Vec<f64>) =
        if period == Period::FiveMinutes {
            let engine = Engine::new(store.clone(), config, Arc::new(FixedClock(after_close)));
            let unit = units.first().copied().unwrap_or(month);
            let t = Instant::now();
            let summary = engine
                .settle(unit, "scale-bench", SettleOptions::default())
                .await
                .map_err(|e| ScaleError::msg(format!("settle {unit}: {e}")))?;
            let secs = t.elapsed().as_secs_f64();
            let phase = Phase {
                secs,
                rss_start_mb: rss,
                peak_mb: peak_mb(),
            };
            (vec![summary], phase, vec![secs])
        } else {
            let clock = Arc::new(RunningClock::new(after_close));
            let engine = Engine::new(store.clone(), config, clock.clone());
            let begun = clock.now().0;
            let t = Instant::now();
            let summaries = engine
                .settle_month(month, "scale-bench", SettleOptions::default())
                .await
                .map_err(|e| ScaleError::msg(format!("settle_month {month}: {e}")))?;
            let secs = t.elapsed().as_secs_f64();
            let phase = Phase {
                secs,
                rss_start_mb: rss,
                peak_mb: peak_mb(),
            };
            let ended = clock.now().0;
            let cuts = period_secs(&store, &summaries, begun, ended).await?;
            (summaries, phase, cuts)
        };
    say(
        opts,
        &format!(
            "settled {} {period} period(s) in {:.2} s, peak {:.0} MB",
            summaries.len(),
            settle.secs,
            settle.peak_mb
        ),
    );
    let got: Vec<EpochId> = summaries.iter().map(|s| s.epoch).collect();
    if got != units {
        return Err(ScaleError::msg(format!(
            "settled {got:?}, expected {units:?}"
        )));
    }

    // The bare scans again (warm); the best of the two counts.
    let mut periods = Vec::new();
    for ((s, first), secs) in summaries.iter().zip(&bare).zip(&cuts) {
        let again = bare_of(&mut raw, s.epoch, &policy).await?;
        periods.push(PeriodFigures {
            epoch: s.epoch,
            secs: *secs,
            bare_earnings_secs: first.0.min(again.0),
            bare_earnings_rows: first.1,
            bare_sessions_secs: first.2.min(again.2),
            bare_sessions_rows: first.3,
            pool_micro_usd: s.pool_micro_usd,
            granted_micro_usd: s.granted_total_micro_usd,
            unallocated_micro_usd: s.unallocated_micro_usd,
            n_machines: s.n_machines,
            n_eligible: s.n_eligible,
            n_draws: s.n_granted_shares,
            manifest_sha256: s.manifest_sha256.clone(),
        });
    }

    // D24: the month's statement.
    let engine = Engine::new(
        store.clone(),
        Config {
            policy: policy.clone(),
            ..Config::default()
        },
        Arc::new(FixedClock(after_close)),
    );
    let t = Instant::now();
    let statement = engine
        .month_statement(month)
        .await
        .map_err(|e| ScaleError::msg(format!("month_statement {month}: {e}")))?;
    let statement_secs = t.elapsed().as_secs_f64();
    let db_bytes = db.size_bytes(&mut raw).await;
    raw.close().await;
    store.close().await;

    Ok(PeriodReport {
        backend: opts.backend,
        machines: opts.machines,
        sessions_per_machine: opts.sessions_per_machine,
        earnings_per_machine: opts.earnings_per_machine,
        seed: opts.seed,
        month,
        period,
        ingest,
        ingest_phase,
        db_rows,
        generated_rows,
        maintenance_secs,
        settle,
        periods,
        monthly_pool_micro_usd: policy.pool_micro_usd,
        statement_drawn_micro_usd: statement.drawn_micro_usd,
        statement_accounts: usize_u64(statement.accounts.len()),
        statement_periods_with_draws: statement.n_periods_with_draws,
        statement_manifest: statement.manifest_sha256,
        statement_secs,
        db_bytes,
    })
}

/// The wall time of each period of one `settle_month` call that ran from
/// clock instant `begun` to `ended` (see the module docs).
async fn period_secs(
    store: &floorline_store::Store,
    summaries: &[RunSummary],
    begun: i64,
    ended: i64,
) -> Result<Vec<f64>> {
    let runs = store.runs(None).await.doing("read the runs")?;
    let at: BTreeMap<i64, i64> = runs.iter().map(|r| (r.id, r.created_at_ms)).collect();
    let mut cuts = vec![begun];
    for s in summaries.iter().skip(1) {
        let id = s
            .run_id
            .ok_or_else(|| ScaleError::msg(format!("{} has no run", s.epoch)))?;
        let t = at
            .get(&id)
            .copied()
            .ok_or_else(|| ScaleError::msg(format!("run {id} of {} not found", s.epoch)))?;
        cuts.push(t);
    }
    cuts.push(ended);
    Ok(cuts
        .windows(2)
        .map(|w| match w {
            [a, b] => ms_secs(b.saturating_sub(*a)),
            _ => 0.0,
        })
        .collect())
}

fn ms_secs(ms: i64) -> f64 {
    super::f(super::i64_u64(ms)) / 1000.0
}
