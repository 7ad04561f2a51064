//! The refinement bench (SPEC §2 *refinements*, issue #16): `machines` open
//! sessions, one per machine, each refined by one heartbeat (a later
//! `last_seen_at`) through `Store::ingest` (of sessions) in batches of
//! [`MAX_BATCH_ITEMS`], against a bare `UPDATE` of the same rows in the same
//! batches on a raw connection of the same database.
//!
//! The bare side runs twice per round: with the values inlined as SQL
//! literals, and with them bound as parameters (`$1, $2, …`, as a client
//! sends them and as the store does). Rounds alternate (store, bare,
//! bound, store, …), each round moving every
//! session's `last_seen_at` one hour on, so both sides always write a new
//! value to every row; the fastest round of each side is counted. The store
//! side must answer `refined` = the batch for every batch, and after each
//! round the database must hold exactly that round's `last_seen_at` on
//! every session (a count query), so neither side can skip rows.
//!
//! The bare `UPDATE`, per batch, in one transaction:
//! `WITH v(id, ls) AS (VALUES ('id', ls), …) UPDATE sessions SET
//! last_seen_at_ms = v.ls FROM v WHERE sessions.session_id = v.id` (the
//! values inlined: ids and instants of our own generation; the same text on
//! both backends). It is what applying a known
//! heartbeat costs at least; the store also reads the stored rows to judge
//! each re-send (and on PostgreSQL locks them in key order).

use std::time::Instant;

use crate::scale::{Doing as _, Result, ScaleError};
use floorline_core::bundle::Session;
use floorline_core::Timestamp;
use floorline_store::{Store, MAX_BATCH_ITEMS};
use serde::{Deserialize, Serialize};

use super::db::{Raw, ScaleDb};
use super::fleet::Fleet;
use super::run::say;
use super::{f, ratio, usize_u64, Backend, ScaleOptions, HOUR_MS};

/// The target: the store refines at ≥ 0.5 × the bare rate.
pub const REFINE_OVER_BARE_TARGET: f64 = 0.5;

/// Rounds per side (the fastest counted).
const ROUNDS: u64 = 3;

/// One refinement run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefineReport {
    pub backend: Backend,
    pub sessions: u64,
    pub batch: u64,
    /// Seconds of each store round (inside the `Store::ingest` calls).
    pub store_rounds_secs: Vec<f64>,
    /// Seconds of each bare round (the `UPDATE` transactions, values
    /// inlined as literals).
    pub bare_rounds_secs: Vec<f64>,
    /// Seconds of each bare round with the values bound as parameters (as
    /// a client sends them; the store binds its values too).
    #[serde(default)]
    pub bound_rounds_secs: Vec<f64>,
    /// Opening the sessions (accepted, not refined), for scale.
    pub open_secs: f64,
}

impl RefineReport {
    fn best(v: &[f64]) -> f64 {
        v.iter().copied().fold(f64::INFINITY, f64::min)
    }
    pub fn store_rate(&self) -> f64 {
        ratio(f(self.sessions), Self::best(&self.store_rounds_secs))
    }
    pub fn bare_rate(&self) -> f64 {
        ratio(f(self.sessions), Self::best(&self.bare_rounds_secs))
    }
    /// Store rate over bare rate (≥ [`REFINE_OVER_BARE_TARGET`] wanted).
    pub fn store_over_bare(&self) -> f64 {
        ratio(self.store_rate(), self.bare_rate())
    }
    pub fn bound_rate(&self) -> f64 {
        ratio(f(self.sessions), Self::best(&self.bound_rounds_secs))
    }
    /// Store rate over the bound bare rate.
    pub fn store_over_bound(&self) -> f64 {
        ratio(self.store_rate(), self.bound_rate())
    }
}

fn session_id(m: u64) -> String {
    format!("hb-{m:07}")
}

/// Machine `m`'s one session, connected at the epoch's start, last seen
/// `hours` hours later.
fn session(start_ms: i64, m: u64, hours: i64) -> Session {
    Session {
        session_id: session_id(m),
        machine_id: Fleet::machine_id(m),
        connected_at: Timestamp(start_ms),
        last_seen_at: Some(Timestamp(start_ms + hours * HOUR_MS)),
        disconnected_at: None,
    }
}

/// Runs the bench once on a fresh database (always dropped after).
pub async fn run_refine(opts: &ScaleOptions) -> Result<RefineReport> {
    let db = ScaleDb::create(opts).await?;
    let out = run_on(&db, opts).await;
    db.destroy().await;
    out
}

/// `db` migrated, with the fleet's machines attested (no sessions yet).
async fn attested_store(db: &ScaleDb, opts: &ScaleOptions) -> Result<Store> {
    let store = Store::connect(&db.url).await.doing("connect")?;
    store.migrate().await.doing("migrate")?;
    let attestations: Vec<_> = Fleet::new(opts).attestations().collect();
    for chunk in attestations.chunks(MAX_BATCH_ITEMS) {
        store.ingest(chunk).await.doing("ingest attestations")?;
    }
    Ok(store)
}

async fn run_on(db: &ScaleDb, opts: &ScaleOptions) -> Result<RefineReport> {
    let store = attested_store(db, opts).await?;
    let n = opts.machines;
    let start_ms = opts.epoch.start().0;
    let t = Instant::now();
    send_round(&store, start_ms, n, 1, false).await?;
    let open_secs = t.elapsed().as_secs_f64();
    say(opts, &format!("{n} open sessions in {open_secs:.2} s"));

    let mut raw = Raw::connect(&db.url).await.doing("raw connect")?;
    raw.store_durability().await?;
    let mut report = RefineReport {
        backend: opts.backend,
        sessions: n,
        batch: usize_u64(MAX_BATCH_ITEMS),
        store_rounds_secs: Vec::new(),
        bare_rounds_secs: Vec::new(),
        bound_rounds_secs: Vec::new(),
        open_secs,
    };
    let mut hours = 1;
    for round in 0..ROUNDS {
        hours += 1;
        let s = send_round(&store, start_ms, n, hours, true).await?;
        check_round(&mut raw, start_ms, n, hours).await?;
        report.store_rounds_secs.push(s);
        hours += 1;
        let b = bare_round(&mut raw, start_ms, n, hours, false).await?;
        check_round(&mut raw, start_ms, n, hours).await?;
        report.bare_rounds_secs.push(b);
        hours += 1;
        let bb = bare_round(&mut raw, start_ms, n, hours, true).await?;
        check_round(&mut raw, start_ms, n, hours).await?;
        report.bound_rounds_secs.push(bb);
        say(
            opts,
            &format!(
                "round {round}: store {s:.2} s, bare UPDATE {b:.2} s (literals), {bb:.2} s (bound)"
            ),
        );
    }
    Ok(report)
}

/// Every session once, `last_seen_at` = start + `hours` h, in batches; each
/// batch must be all accepted (`refine` false) or all refined. Seconds
/// inside the store calls.
async fn send_round(store: &Store, start_ms: i64, n: u64, hours: i64, refine: bool) -> Result<f64> {
    let mut secs = 0.0;
    let batch = usize_u64(MAX_BATCH_ITEMS);
    let mut from = 0;
    while from < n {
        let to = (from + batch).min(n);
        let items: Vec<Session> = (from..to).map(|m| session(start_ms, m, hours)).collect();
        let t = Instant::now();
        let r = store
            .ingest(&items)
            .await
            .doing_with(|| format!("sessions {from}..{to}"))?;
        secs += t.elapsed().as_secs_f64();
        let want = usize_u64(items.len());
        let (accepted, refined) = if refine { (0, want) } else { (want, 0) };
        if r.accepted != accepted || r.refined != refined || !r.conflicts.is_empty() {
            return Err(ScaleError::msg(format!(
                "sessions {from}..{to}: expected accepted {accepted}, refined {refined}; got {r:?}"
            )));
        }
        from = to;
    }
    Ok(secs)
}

/// The bare `UPDATE` of every session to `last_seen_at` = start + `hours` h,
/// one transaction per batch. Seconds of the transactions.
async fn bare_round(raw: &mut Raw, start_ms: i64, n: u64, hours: i64, bound: bool) -> Result<f64> {
    let ls = start_ms + hours * HOUR_MS;
    let batch = usize_u64(MAX_BATCH_ITEMS);
    let mut secs = 0.0;
    let mut from = 0;
    while from < n {
        let to = (from + batch).min(n);
        let pairs: Vec<(String, i64)> = (from..to).map(|m| (session_id(m), ls)).collect();
        let (t, changed) = raw.bare_last_seen_update(&pairs, bound).await?;
        secs += t;
        if changed != to - from {
            return Err(ScaleError::msg(format!(
                "bare UPDATE {from}..{to} changed {changed} rows"
            )));
        }
        from = to;
    }
    Ok(secs)
}

/// Every session now has `last_seen_at` = start + `hours` h.
async fn check_round(raw: &mut Raw, start_ms: i64, n: u64, hours: i64) -> Result<()> {
    let ls = start_ms + hours * HOUR_MS;
    let got = raw.count_sessions_last_seen_at(ls).await?;
    if got != n {
        return Err(ScaleError::msg(format!(
            "{got} of {n} sessions were last seen at start + {hours} h"
        )));
    }
    Ok(())
}

/// The report as a BENCHMARKS.md section.
pub fn markdown_refine(r: &RefineReport) -> String {
    use super::report::grouped;
    let secs = |v: &[f64]| {
        v.iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    format!(
        "#### {} — {} open sessions refined by one heartbeat each, batches of {}\n\n\
         | side | rounds (s) | best rate |\n| --- | --- | --- |\n\
         | `Store::ingest` of sessions (answer: refined = batch) | {} | {:.0} rows/s |\n\
         | bare `UPDATE … FROM (VALUES …)`, values inlined, one transaction per batch | {} | {:.0} rows/s |\n\
         | the same `UPDATE`, values bound as parameters | {} | {:.0} rows/s |\n\n\
         store / bare = **{:.2}** against inlined values, **{:.2}** against bound ones \
         (target ≥ {REFINE_OVER_BARE_TARGET}); opening the sessions (accepted): {:.2} s.\n",
        r.backend.name(),
        grouped(r.sessions),
        grouped(r.batch),
        secs(&r.store_rounds_secs),
        r.store_rate(),
        secs(&r.bare_rounds_secs),
        r.bare_rate(),
        secs(&r.bound_rounds_secs),
        r.bound_rate(),
        r.store_over_bare(),
        r.store_over_bound(),
        r.open_secs,
    )
}

/// How many history rows (`session_versions`) a month of hourly
/// heartbeats leaves (SPEC §6: a refinement keeps the row it replaces only
/// if some run may have read it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionRowsReport {
    pub backend: Backend,
    pub machines: u64,
    pub days: u64,
    /// Heartbeats sent: one per session per hour of the month.
    pub heartbeats: u64,
    /// Runs: one preview and one live run of each day's period.
    pub runs: u64,
    /// Rows in `session_versions` at the end.
    pub version_rows: u64,
    /// What the rule predicts: each session's row is copied once after each
    /// day's runs (their first heartbeat after a run), the last day's runs
    /// excepted — no heartbeat follows them — so `machines × (days − 1)`.
    pub predicted_rows: u64,
    pub secs: f64,
}

/// A month (October, 31 days) of hourly heartbeats for `opts.machines`
/// open sessions, with `policy.period = "day"` and, after each day's 24
/// heartbeats, one preview and one live run of that day. Counts the
/// version rows left.
pub async fn run_version_rows(opts: &ScaleOptions) -> Result<VersionRowsReport> {
    let db = ScaleDb::create(opts).await?;
    let out = version_rows_on(&db, opts).await;
    db.destroy().await;
    out
}

async fn version_rows_on(db: &ScaleDb, opts: &ScaleOptions) -> Result<VersionRowsReport> {
    use floorline_core::time::Period;
    use floorline_store::{RunMode, SettleRequest};

    let started = Instant::now();
    let store = attested_store(db, opts).await?;
    let n = opts.machines;
    let month = opts.epoch;
    let start_ms = month.start().0;
    let policy = super::period::period_policy(n, Period::Day);
    send_round(&store, start_ms, n, 0, false).await?;
    let days = u64::from(month.periods_in_month(Period::Day));
    let mut heartbeats = 0;
    let mut runs = 0;
    for day in 0..days {
        for hour in 1..=24 {
            let h = i64::try_from(day * 24 + hour).unwrap_or(i64::MAX);
            send_round(&store, start_ms, n, h, true).await?;
            heartbeats += n;
        }
        let k = u32::try_from(day).unwrap_or(u32::MAX);
        let period = floorline_core::EpochId::period_of(month, Period::Day, k)
            .map_err(|e| ScaleError::msg(format!("day {day} of {month}: {e}")))?;
        for mode in [RunMode::Preview, RunMode::Live] {
            let req = SettleRequest {
                mode,
                actor: "bench".into(),
                now_ms: period.end().0 + HOUR_MS,
                forced: true,
            };
            let p = policy.clone();
            store
                .settle(period, &policy, req, move |f| floorline_core::plan(f, &p))
                .await
                .doing_with(|| format!("{mode:?} of {period}"))?;
            runs += 1;
        }
        say(
            opts,
            &format!(
                "day {} of {days}: {heartbeats} heartbeats, {runs} runs",
                day + 1
            ),
        );
    }
    let mut raw = Raw::connect(&db.url).await.doing("raw connect")?;
    let version_rows = raw.count("session_versions").await?;
    Ok(VersionRowsReport {
        backend: opts.backend,
        machines: n,
        days,
        heartbeats,
        runs,
        version_rows,
        predicted_rows: n * days.saturating_sub(1),
        secs: started.elapsed().as_secs_f64(),
    })
}

/// The version-rows report as a BENCHMARKS.md line.
pub fn markdown_version_rows(r: &VersionRowsReport) -> String {
    use super::report::grouped;
    format!(
        "{}: {} machines, {} days, {} heartbeats, {} runs → **{} rows** in `session_versions` \
         (predicted {}: one per session per day whose runs a later heartbeat followed); {:.0} s.",
        r.backend.name(),
        grouped(r.machines),
        r.days,
        grouped(r.heartbeats),
        r.runs,
        grouped(r.version_rows),
        grouped(r.predicted_rows),
        r.secs,
    )
}
