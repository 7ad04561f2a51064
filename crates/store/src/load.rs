//! Reading an epoch: [`load_epoch_facts`] builds core's [`EpochFacts`] with a
//! fixed number of aggregate queries (never one per machine), and
//! [`export_bundle`] writes the raw facts the same epoch reads as a facts
//! bundle (SPEC §8).
//!
//! Invariant (tested by the conformance suite): for any stored facts,
//! `Bundle::resolve(export_bundle(e)) == load_epoch_facts(e)` up to the order
//! of list items, and the SQL's organic earnings equal
//! `floorline_core::facts::organic_earnings` machine by machine.
//!
//! What is read (S, E: the epoch; W: the work window start; G: `grace_ms`):
//! 1. all attestations (D1, D3);
//! 2. all bindings (owners; the links of those with `from < E` are D9's and D14's `payout_accounts`);
//! 3. sessions that can overlap `[S, E)` (connected before E, alive after S − G),
//!    one row per machine (a JSON array of its sessions);
//! 4. health events in `[S, E)` plus each machine's last one before S (D7 carry-in);
//! 5. probes in `[W, E)` (D5);
//! 6. each machine's organic earnings (D9) with `at ∈ [earliest window start,
//!    E)`, summed per window in SQL ([`organic_sql`]: one statement);
//! 7. this epoch's prior draws (`floor_draws`);
//! 8. the previous epoch's machine totals.

use std::collections::{BTreeMap, HashMap};

use floorline_core::bundle::{
    Alias, Attestation, Binding, Bundle, Earning, Health, PreviousTotal, Probe, Session,
};
use floorline_core::facts::{
    payout_links, AttestationFact, BindingFact, EpochFacts, HealthFact, MachineFacts,
    OrganicEarnings, PriorDraw, ProbeFact, RawEarning, SessionFact, Windows,
};
use floorline_core::policy::{Policy, PolicyPatch};
use floorline_core::EpochId;

use crate::db::{Backend, Link, Val};
use crate::error::{Result, StoreError};
use crate::ingest::{
    gb, AliasRow, AttestationRow, BindingRow, EarningRow, HealthRow, ProbeRow, SessionRow,
    TableFact,
};

/// Which facts a read sees when it is not "now": those a run read (SPEC §6,
/// *Fact versions*). Every fact row with `version ≤ version`, and of a
/// refined session or binding whose current row is newer, the row of its
/// history (`session_versions`, `binding_versions`, migration 9) with the
/// highest version ≤ `version`; prior draws are those of runs before
/// `before_run`. Exact for every version a run recorded: a refinement keeps
/// the row it replaces whenever some run may have read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactsAt {
    pub version: i64,
    pub before_run: i64,
    /// The run whose totals of the previous epoch are the previous totals
    /// (`machine_totals` or, once replaced, `machine_totals_history`);
    /// `None`: no previous totals.
    pub previous_totals_run: Option<i64>,
}

impl FactsAt {
    /// The facts as `run` read them; `None` for a run recorded before fact
    /// versions (migration 9), whose facts are unknown.
    pub fn of_run(run: &crate::RunRecord) -> Option<FactsAt> {
        Some(FactsAt {
            version: run.facts_version?,
            before_run: run.id,
            previous_totals_run: run.previous_totals_run_id,
        })
    }
}

/// A fact table as `at` sees it, as a row source for `FROM {} AS name`:
/// the table itself, or a derived table of its rows as of `at.version`
/// (the version is an integer of ours, inlined).
fn table(name: &str, at: Option<FactsAt>) -> String {
    let Some(at) = at else {
        return name.to_string();
    };
    let v = at.version;
    let history = |cols: &str, hist: &str, key: &[&str]| {
        let same = |a: &str, b: &str| {
            key.iter()
                .map(|k| format!("{a}.{k} = {b}.{k}"))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        format!(
            "(SELECT {cols}, version FROM {name} WHERE version <= {v} \
             UNION ALL \
             SELECT {cols}, version FROM {hist} h WHERE h.version <= {v} \
             AND EXISTS (SELECT 1 FROM {name} c WHERE {} AND c.version > {v}) \
             AND NOT EXISTS (SELECT 1 FROM {hist} n WHERE {} \
                             AND n.version > h.version AND n.version <= {v}))",
            same("c", "h"),
            same("n", "h"),
        )
    };
    match name {
        "sessions" => history(&cols::<Session>(), "session_versions", &["session_id"]),
        "bindings" => history(
            &cols::<Binding>(),
            "binding_versions",
            &["machine_id", "from_ms"],
        ),
        other => format!("(SELECT * FROM {other} WHERE version <= {v})"),
    }
}

/// The raw facts of an epoch other than earnings, already filtered.
struct Raw {
    attestations: Vec<Attestation>,
    bindings: Vec<Binding>,
    health: Vec<Health>,
    probes: Vec<Probe>,
    prior_draws: Vec<PriorDraw>,
    previous_totals: Vec<PreviousTotal>,
}

fn cols<F: TableFact>() -> String {
    F::COLUMNS.join(", ")
}

async fn read_raw(
    link: &mut Link,
    epoch: EpochId,
    policy: &Policy,
    at: Option<FactsAt>,
) -> Result<Raw> {
    let w = Windows::new(epoch, policy);
    let attestations = link
        .fetch_all::<AttestationRow>(
            &format!(
                "SELECT {} FROM {} AS attestations ORDER BY machine_id, attested_at_ms",
                cols::<Attestation>(),
                table("attestations", at)
            ),
            vec![],
        )
        .await?
        .into_iter()
        .map(Attestation::from_row)
        .collect::<Result<Vec<_>>>()?;
    let bindings = link
        .fetch_all::<BindingRow>(
            &format!(
                "SELECT {} FROM {} AS bindings ORDER BY machine_id, from_ms",
                cols::<Binding>(),
                table("bindings", at)
            ),
            vec![],
        )
        .await?
        .into_iter()
        .map(Binding::from_row)
        .collect::<Result<Vec<_>>>()?;
    let health = link
        .fetch_all::<HealthRow>(
            &format!(
                "SELECT machine_id, at_ms, healthy, reason FROM {h} AS health \
                 WHERE at_ms >= $1 AND at_ms < $2 \
                 UNION ALL \
                 SELECT h.machine_id, h.at_ms, h.healthy, h.reason FROM {h} AS h \
                 JOIN (SELECT machine_id, MAX(at_ms) AS last_ms FROM {h} AS health \
                       WHERE at_ms < $1 GROUP BY machine_id) l \
                   ON l.machine_id = h.machine_id AND l.last_ms = h.at_ms \
                 ORDER BY 1, 2",
                h = table("health", at)
            ),
            vec![w.start_ms.into(), w.end_ms.into()],
        )
        .await?
        .into_iter()
        .map(Health::from_row)
        .collect::<Result<Vec<_>>>()?;
    let probes = link
        .fetch_all::<ProbeRow>(
            &format!(
                "SELECT {} FROM {} AS probes WHERE at_ms >= $1 AND at_ms < $2 \
                 ORDER BY machine_id, at_ms, probe_id",
                cols::<Probe>(),
                table("probes", at)
            ),
            vec![w.work_start_ms.into(), w.end_ms.into()],
        )
        .await?
        .into_iter()
        .map(Probe::from_row)
        .collect::<Result<Vec<_>>>()?;
    let prior_draws = prior_draws(link, epoch, at.map(|a| a.before_run)).await?;
    let previous = epoch.previous().to_string();
    let previous_totals = match at {
        None => {
            link.fetch_all::<(String, i64)>(
                "SELECT machine_id, total_micro_usd FROM machine_totals \
                 WHERE epoch = $1 AND total_micro_usd > 0 ORDER BY machine_id",
                vec![previous.into()],
            )
            .await?
        }
        Some(FactsAt {
            previous_totals_run: None,
            ..
        }) => Vec::new(),
        Some(FactsAt {
            previous_totals_run: Some(run),
            ..
        }) => {
            // The set of one run: still current, or replaced since.
            link.fetch_all::<(String, i64)>(
                "SELECT machine_id, total_micro_usd FROM machine_totals \
                 WHERE epoch = $1 AND run_id = $2 AND total_micro_usd > 0 \
                 UNION ALL \
                 SELECT machine_id, total_micro_usd FROM machine_totals_history \
                 WHERE epoch = $1 AND run_id = $2 AND total_micro_usd > 0 \
                 ORDER BY 1",
                vec![previous.into(), run.into()],
            )
            .await?
        }
    }
    .into_iter()
    .map(|(machine_id, total_micro_usd)| PreviousTotal {
        machine_id,
        total_micro_usd,
    })
    .collect();
    Ok(Raw {
        attestations,
        bindings,
        health,
        probes,
        prior_draws,
        previous_totals,
    })
}

/// Sessions that can overlap `[S, E)`: `b = min(E, disconnected_at,
/// last_seen + G) > S` needs both `disconnected_at > S` and `last_seen >
/// S − G`; `a = max(connected_at, S) < E`. Binds `$1 = E, $2 = S, $3 = S − G`.
const SESSIONS_OVERLAPPING: &str = "\
connected_at_ms < $1 \
AND (disconnected_at_ms IS NULL OR disconnected_at_ms > $2) \
AND COALESCE(last_seen_at_ms, disconnected_at_ms, connected_at_ms) > $3";

fn sessions_args(epoch: EpochId, policy: &Policy) -> Vec<i64> {
    let w = Windows::new(epoch, policy);
    vec![
        w.end_ms,
        w.start_ms,
        w.start_ms.saturating_sub(policy.grace_ms),
    ]
}

/// The sessions an export writes, one row each, in a stable order.
fn session_rows_sql(at: Option<FactsAt>) -> String {
    format!(
        "SELECT {} FROM {} AS sessions WHERE {SESSIONS_OVERLAPPING} \
         ORDER BY machine_id, connected_at_ms, session_id",
        cols::<Session>(),
        table("sessions", at)
    )
}

/// The sessions query of the load, as run on `backend` (`$n` placeholders
/// and their `BIGINT` values), reading `(machine_id, connected_at_ms,
/// last_seen_at_ms, disconnected_at_ms)` of the sessions that can overlap the
/// epoch (the plan needs nothing else of them).
///
/// - SQLite: one row per machine, its sessions as a JSON array of
///   `[connected_at_ms, last_seen_at_ms, disconnected_at_ms]`
///   (`json_group_array`). A month has tens of sessions per machine; one row
///   per machine instead of one per session makes this read cheaper.
/// - PostgreSQL: one row per session, grouped in Rust. PostgreSQL aggregates
///   into arrays or JSON single-process and hashes every session into its
///   machine's growing array, slower than the plain rows (BENCHMARKS.md).
///
/// For benchmarks that time the bare SQL too.
pub fn sessions_sql(backend: Backend, epoch: EpochId, policy: &Policy) -> (String, Vec<i64>) {
    sessions_sql_at(backend, epoch, policy, None)
}

fn sessions_sql_at(
    backend: Backend,
    epoch: EpochId,
    policy: &Policy,
    at: Option<FactsAt>,
) -> (String, Vec<i64>) {
    let sessions = table("sessions", at);
    let sql = match backend {
        Backend::Sqlite => format!(
            "SELECT machine_id, json_group_array(json_array(connected_at_ms, last_seen_at_ms, \
             disconnected_at_ms)) AS sessions \
             FROM {sessions} AS sessions WHERE {SESSIONS_OVERLAPPING} GROUP BY machine_id"
        ),
        Backend::Postgres => format!(
            "SELECT machine_id, connected_at_ms, last_seen_at_ms, disconnected_at_ms \
             FROM {sessions} AS sessions WHERE {SESSIONS_OVERLAPPING}"
        ),
    };
    (sql, sessions_args(epoch, policy))
}

/// Every machine's sessions of the load ([`sessions_sql`]), in no order.
async fn sessions_by_machine(
    link: &mut Link,
    epoch: EpochId,
    policy: &Policy,
    at: Option<FactsAt>,
) -> Result<Vec<(String, Vec<SessionFact>)>> {
    let (sql, args) = sessions_sql_at(link.backend(), epoch, policy, at);
    let args: Vec<Val> = args.into_iter().map(Val::from).collect();
    let fact = |(c, l, d): (i64, Option<i64>, Option<i64>)| SessionFact {
        connected_at_ms: c,
        last_seen_at_ms: l,
        disconnected_at_ms: d,
    };
    match link.backend() {
        Backend::Sqlite => link
            .fetch_all::<(String, String)>(&sql, args)
            .await?
            .into_iter()
            .map(|(machine_id, json)| {
                let list: Vec<(i64, Option<i64>, Option<i64>)> = serde_json::from_str(&json)
                    .map_err(|e| {
                        StoreError::Corrupt(format!("sessions of machine `{machine_id}`: {e}"))
                    })?;
                Ok((machine_id, list.into_iter().map(fact).collect()))
            })
            .collect(),
        Backend::Postgres => {
            let rows = link
                .fetch_all::<(String, i64, Option<i64>, Option<i64>)>(&sql, args)
                .await?;
            let mut by_machine: HashMap<String, Vec<SessionFact>> = HashMap::new();
            for (machine_id, c, l, d) in rows {
                by_machine
                    .entry(machine_id)
                    .or_default()
                    .push(fact((c, l, d)));
            }
            Ok(by_machine.into_iter().collect())
        }
    }
}

/// The draws of `epoch` (of the runs before `before_run`, if given).
pub(crate) async fn prior_draws(
    link: &mut Link,
    epoch: EpochId,
    before_run: Option<i64>,
) -> Result<Vec<PriorDraw>> {
    link.fetch_all::<(String, String, i64, i64)>(
        "SELECT machine_id, account_id, amount_micro_usd, verified_memory_gb FROM floor_draws \
         WHERE epoch = $1 AND run_id < $2 ORDER BY machine_id, account_id",
        vec![
            epoch.to_string().into(),
            before_run.unwrap_or(i64::MAX).into(),
        ],
    )
    .await?
    .into_iter()
    .map(|(machine_id, account_id, amount_micro_usd, g)| {
        Ok(PriorDraw {
            machine_id,
            account_id,
            amount_micro_usd,
            verified_memory_gb: gb(g, "floor_draws.verified_memory_gb")?,
        })
    })
    .collect()
}

/// One machine's part of [`organic_sql`]: its positive, unpinned inference
/// jobs (`sign` 1), or those of them that are self-dealing (`sign` −1).
#[derive(sqlx::FromRow)]
struct OrganicRow {
    sign: i64,
    machine_id: String,
    epoch_micro_usd: i64,
    trailing_micro_usd: i64,
    n_in_work_window: i64,
}

/// D9 without its self-dealing clause: a positive, unpinned inference job.
/// Word for word the predicate of the `earnings_organic` index (migration 3),
/// which a query must repeat to use it; unqualified, so nothing joined to
/// `earnings` may have these columns.
const ORGANIC_JOB: &str = "kind = 'inference' AND NOT pinned AND amount_micro_usd > 0";

/// The earnings any window reads: `at ∈ [$1, $2)`.
const IN_WINDOWS: &str = "e.at_ms >= $1 AND e.at_ms < $2";

/// The three window sums of [`OrganicEarnings`] ($3 = S, $4 = trailing start,
/// $5 = work window start; every row is before $2 = E).
const WINDOW_SUMS: &str = "\
CAST(COALESCE(SUM(e.amount_micro_usd) FILTER (WHERE e.at_ms >= $3), 0) AS BIGINT) AS epoch_micro_usd, \
CAST(COALESCE(SUM(e.amount_micro_usd) FILTER (WHERE e.at_ms >= $4), 0) AS BIGINT) AS trailing_micro_usd, \
COUNT(*) FILTER (WHERE e.at_ms >= $5) AS n_in_work_window";

/// D9 in one statement (so one snapshot on PostgreSQL too), in two parts: the
/// candidates of [`ORGANIC_JOB`] grouped by machine, the bare scan's shape; and,
/// to subtract, those of them bought by one of the machine's self accounts.
/// A machine's self accounts are the accounts that some binding with `from <
/// E` links to the payout identity of one of its own bindings with `from <
/// E` (its own accounts included), whenever the job happened: no time
/// condition, so the pairs are `(machine, account)` and each is distinct
/// (two bindings of one machine may share a payout identity). Each pair
/// finds its jobs through `earnings_organic` (machine, consumer, at), index
/// only; `CROSS JOIN` keeps the pairs the outer loop on SQLite. Both parts
/// read that index alone, in machine order, never the table; SQLite's
/// planner needs `INDEXED BY` for the first part (BENCHMARKS.md has the
/// figures).
fn organic_sql(backend: Backend, at: Option<FactsAt>) -> String {
    let candidates = match backend {
        Backend::Sqlite => "earnings e INDEXED BY earnings_organic",
        Backend::Postgres => "earnings e",
    };
    // As of a version: the same index, each candidate's row checked.
    let seen = at.map_or_else(String::new, |a| format!(" AND e.version <= {}", a.version));
    let bindings = table("bindings", at);
    format!(
        "WITH linked AS (SELECT DISTINCT payout_identity, account_id FROM {bindings} AS bindings \
                         WHERE from_ms < $2), \
         self_pairs AS ( \
           SELECT DISTINCT b.machine_id, l.account_id \
           FROM {bindings} AS b JOIN linked l ON l.payout_identity = b.payout_identity \
           WHERE b.from_ms < $2) \
         SELECT CAST(1 AS BIGINT) AS sign, e.machine_id, {WINDOW_SUMS} \
         FROM {candidates} WHERE {IN_WINDOWS} AND {ORGANIC_JOB}{seen} GROUP BY e.machine_id \
         UNION ALL \
         SELECT CAST(-1 AS BIGINT) AS sign, e.machine_id, {WINDOW_SUMS} \
         FROM self_pairs s CROSS JOIN earnings e \
         WHERE e.machine_id = s.machine_id AND e.consumer_account_id = s.account_id \
           AND {IN_WINDOWS} AND {ORGANIC_JOB}{seen} \
         GROUP BY e.machine_id"
    )
}

/// The planner setting the organic query runs under on PostgreSQL (`SET
/// LOCAL`, back to default right after it): from about a million earnings
/// the planner prefers a parallel sort, spilling to disk, over hashing the
/// groups, about twice as slow; no output order is needed.
pub const PG_GROUPING_SETTING: &str = "enable_sort = off";

/// The aggregate query [`crate::Store::load_epoch_facts`] reads earnings
/// with, as run (with `$n` placeholders and their `BIGINT` values). For
/// benchmarks that time the bare SQL.
pub fn earnings_grouping_sql(
    backend: Backend,
    epoch: EpochId,
    policy: &Policy,
) -> (String, Vec<i64>) {
    earnings_grouping_sql_at(backend, epoch, policy, None)
}

fn earnings_grouping_sql_at(
    backend: Backend,
    epoch: EpochId,
    policy: &Policy,
    at: Option<FactsAt>,
) -> (String, Vec<i64>) {
    let w = Windows::new(epoch, policy);
    let args = vec![
        w.earliest_earning_ms(),
        w.end_ms,
        w.start_ms,
        w.trailing_start_ms,
        w.work_start_ms,
    ];
    (organic_sql(backend, at), args)
}

/// Every machine's [`OrganicEarnings`] (machines without any are absent).
async fn organic_earnings(
    link: &mut Link,
    epoch: EpochId,
    policy: &Policy,
    at: Option<FactsAt>,
) -> Result<HashMap<String, OrganicEarnings>> {
    let (sql, args) = earnings_grouping_sql_at(link.backend(), epoch, policy, at);
    let pg = link.backend() == Backend::Postgres;
    if pg {
        link.execute(&format!("SET LOCAL {PG_GROUPING_SETTING}"), vec![])
            .await?;
    }
    let rows = link
        .fetch_all::<OrganicRow>(&sql, args.into_iter().map(Val::from).collect())
        .await?;
    if pg {
        link.execute("SET LOCAL enable_sort TO DEFAULT", vec![])
            .await?;
    }
    let mut out: HashMap<String, OrganicEarnings> = HashMap::with_capacity(rows.len());
    // The parts arrive in any order: add signed, then every sum must be ≥ 0.
    for r in rows {
        let part = OrganicEarnings {
            epoch_micro_usd: r.epoch_micro_usd.saturating_mul(r.sign),
            trailing_micro_usd: r.trailing_micro_usd.saturating_mul(r.sign),
            n_in_work_window: r.n_in_work_window.saturating_mul(r.sign),
        };
        let slot = out.entry(r.machine_id).or_default();
        *slot = slot.checked_add(part).map_err(|_| {
            StoreError::Corrupt("the organic earnings of a machine overflow".into())
        })?;
    }
    if let Some((m, _)) = out
        .iter()
        .filter(|(_, o)| {
            o.epoch_micro_usd < 0 || o.trailing_micro_usd < 0 || o.n_in_work_window < 0
        })
        .min_by(|a, b| a.0.cmp(b.0))
    {
        return Err(StoreError::Corrupt(format!(
            "machine `{m}`: more self-dealing than organic earnings"
        )));
    }
    Ok(out)
}

/// One machine's earnings that any window of the epoch reads, raw (for an
/// explanation, which shows them grouped by core's `group_earnings`).
pub(crate) async fn machine_earnings(
    link: &mut Link,
    epoch: EpochId,
    policy: &Policy,
    machine_id: &str,
) -> Result<Vec<RawEarning>> {
    let w = Windows::new(epoch, policy);
    // Three parts, each through the partial index that holds it (migrations
    // 3, 5 and 6): a query without these conditions could use none of them.
    let part = |which: &str| {
        format!(
            "SELECT {} FROM earnings WHERE machine_id = $1 AND at_ms >= $2 AND at_ms < $3 \
             AND {which}",
            cols::<Earning>()
        )
    };
    link.fetch_all::<EarningRow>(
        &format!(
            "{} UNION ALL {} UNION ALL {} ORDER BY job_id",
            part(ORGANIC_JOB),
            part("kind = 'base_reward'"),
            part(&format!("kind <> 'base_reward' AND NOT ({ORGANIC_JOB})")),
        ),
        vec![
            Val::from(machine_id.to_string()),
            Val::from(w.earliest_earning_ms()),
            Val::from(w.end_ms),
        ],
    )
    .await?
    .into_iter()
    .map(|r| Earning::from_row(r).map(RawEarning::from))
    .collect()
}

/// The run whose totals of `epoch`'s previous epoch stand in
/// `machine_totals` (a live run replaces the whole set): what a settlement
/// records as the previous totals it read, on the snapshot it read them on.
pub(crate) async fn previous_totals_run(link: &mut Link, epoch: EpochId) -> Result<Option<i64>> {
    let (run,): (Option<i64>,) = link
        .fetch_one(
            "SELECT MAX(run_id) FROM machine_totals WHERE epoch = $1",
            vec![epoch.previous().to_string().into()],
        )
        .await?;
    Ok(run)
}

/// See the module docs. `link` must see one snapshot throughout: a SQLite
/// transaction, a PostgreSQL REPEATABLE READ one (`Db::begin_read`), or a
/// reader that imported a settlement's snapshot (`Db::snapshot_reader`).
pub(crate) async fn load_epoch_facts(
    link: &mut Link,
    epoch: EpochId,
    policy: &Policy,
    at: Option<FactsAt>,
) -> Result<EpochFacts> {
    let started = std::time::Instant::now();
    let raw = read_raw(link, epoch, policy, at).await?;
    let raw_done = started.elapsed();
    let sessions = sessions_by_machine(link, epoch, policy, at).await?;
    let sessions_done = started.elapsed();
    let mut organic = organic_earnings(link, epoch, policy, at).await?;
    let read_done = started.elapsed();

    let mut machines: BTreeMap<String, MachineFacts> = BTreeMap::new();
    for a in raw.attestations {
        let m = machines
            .entry(a.machine_id.clone())
            .or_insert_with(|| MachineFacts {
                machine_id: a.machine_id.clone(),
                ..MachineFacts::default()
            });
        m.attestations.push(AttestationFact::from(a));
    }
    let missing = |what: &str, m: &str| {
        StoreError::Corrupt(format!("{what} of machine `{m}` that has no attestation"))
    };
    let payout_accounts = payout_links(
        Windows::new(epoch, policy).end_ms,
        raw.bindings
            .iter()
            .map(|b| (b.payout_identity.as_str(), b.account_id.as_str(), b.from.0)),
    );
    for b in raw.bindings {
        machines
            .get_mut(&b.machine_id)
            .ok_or_else(|| missing("binding", &b.machine_id))?
            .bindings
            .push(BindingFact::from(b));
    }
    for (machine_id, list) in sessions {
        machines
            .get_mut(&machine_id)
            .ok_or_else(|| missing("session", &machine_id))?
            .sessions = list;
    }
    for h in raw.health {
        machines
            .get_mut(&h.machine_id)
            .ok_or_else(|| missing("health event", &h.machine_id))?
            .health
            .push(HealthFact::from(h));
    }
    for p in raw.probes {
        machines
            .get_mut(&p.machine_id)
            .ok_or_else(|| missing("probe", &p.machine_id))?
            .probes
            .push(ProbeFact::from(p));
    }
    for t in raw.previous_totals {
        machines
            .get_mut(&t.machine_id)
            .ok_or_else(|| missing("total", &t.machine_id))?
            .previous_total_micro_usd = t.total_micro_usd;
    }
    for (id, m) in machines.iter_mut() {
        if let Some(o) = organic.remove(id) {
            m.earnings = o;
        }
    }
    if let Some(id) = organic.keys().min() {
        return Err(missing("earning", id));
    }
    tracing::debug!(
        %epoch,
        machines = machines.len(),
        reads_ms = read_done.as_millis(),
        raw_ms = raw_done.as_millis(),
        sessions_ms = sessions_done.saturating_sub(raw_done).as_millis(),
        organic_ms = read_done.saturating_sub(sessions_done).as_millis(),
        assemble_ms = started.elapsed().saturating_sub(read_done).as_millis(),
        "Loaded the epoch's facts."
    );
    Ok(EpochFacts {
        epoch,
        machines: machines.into_values().collect(),
        payout_accounts,
        prior_draws: raw.prior_draws,
    })
}

/// See the module docs. The bundle carries `policy` in full.
pub(crate) async fn export_bundle(
    link: &mut Link,
    epoch: EpochId,
    policy: &Policy,
    at: Option<FactsAt>,
) -> Result<Bundle> {
    let raw = read_raw(link, epoch, policy, at).await?;
    let w = Windows::new(epoch, policy);
    let sessions = link
        .fetch_all::<SessionRow>(
            &session_rows_sql(at),
            sessions_args(epoch, policy)
                .into_iter()
                .map(Val::from)
                .collect(),
        )
        .await?
        .into_iter()
        .map(Session::from_row)
        .collect::<Result<Vec<_>>>()?;
    let aliases = link
        .fetch_all::<AliasRow>(
            &format!(
                "SELECT {} FROM {} AS aliases ORDER BY provider_key",
                cols::<Alias>(),
                table("aliases", at)
            ),
            vec![],
        )
        .await?
        .into_iter()
        .map(Alias::from_row)
        .collect::<Result<Vec<_>>>()?;
    let earnings = link
        .fetch_all::<EarningRow>(
            &format!(
                "SELECT {} FROM {} AS earnings WHERE at_ms >= $1 AND at_ms < $2 ORDER BY job_id",
                cols::<Earning>(),
                table("earnings", at)
            ),
            vec![Val::from(w.earliest_earning_ms()), Val::from(w.end_ms)],
        )
        .await?
        .into_iter()
        .map(Earning::from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(Bundle {
        epoch,
        policy: Some(PolicyPatch::from(policy)),
        machines: raw.attestations,
        aliases,
        bindings: raw.bindings,
        sessions,
        health: raw.health,
        earnings,
        probes: raw.probes,
        prior_draws: raw.prior_draws,
        previous_totals: raw.previous_totals,
    })
}
