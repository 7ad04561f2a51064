//! Reading an epoch: [`load_epoch_facts`] builds core's [`EpochFacts`] with a
//! fixed number of aggregate queries (never one per machine), and
//! [`export_bundle`] writes the raw facts the same epoch reads as a facts
//! bundle (SPEC §8).
//!
//! Invariant (tested by the conformance suite): for any stored facts,
//! `Bundle::resolve(export_bundle(e)) == load_epoch_facts(e)` up to the order
//! of list items, and the SQL `GROUP BY` of earnings equals
//! `floorline_core::facts::group_earnings`.
//!
//! What is read (S, E: the epoch; W: the work window start; G: `grace_ms`):
//! 1. all attestations (D1, D3);
//! 2. all bindings (owners, and `payout_accounts` of D9);
//! 3. sessions that can overlap `[S, E)` (connected before E, alive after S − G);
//! 4. health events in `[S, E)` plus each machine's last one before S (D7 carry-in);
//! 5. probes in `[W, E)` (D5);
//! 6. earnings with `at ∈ [earliest window start, E)`, grouped in SQL by
//!    machine, consumer, kind and pinned, with the three window sums of
//!    `group_earnings`, without a join: the owner at job time is the same for
//!    every earning of a machine none of whose bindings starts or ends inside
//!    that window, and is attached in Rust from the bindings of step 2; only
//!    if some machine's owner does change inside the window, a second query
//!    groups just those machines' earnings with the owner joined per job;
//! 7. this epoch's prior draws (`floor_draws`);
//! 8. the previous epoch's machine totals.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use floorline_core::bundle::{
    Alias, Attestation, Binding, Bundle, Earning, Health, PreviousTotal, Probe, Session,
};
use floorline_core::facts::{
    AttestationFact, BindingFact, EarningGroup, EpochFacts, HealthFact, MachineFacts, Owner,
    PriorDraw, ProbeFact, SessionFact, Windows,
};
use floorline_core::policy::{Policy, PolicyPatch};
use floorline_core::EpochId;

use crate::db::{Backend, Link, Val};
use crate::error::{Result, StoreError};
use crate::ingest::{
    gb, parse_kind, AliasRow, AttestationRow, BindingRow, EarningRow, Fact, HealthRow, ProbeRow,
    SessionRow,
};

/// The raw facts of an epoch other than earnings, already filtered.
struct Raw {
    attestations: Vec<Attestation>,
    bindings: Vec<Binding>,
    sessions: Vec<Session>,
    health: Vec<Health>,
    probes: Vec<Probe>,
    prior_draws: Vec<PriorDraw>,
    previous_totals: Vec<PreviousTotal>,
}

fn cols<F: Fact>() -> String {
    F::COLUMNS.join(", ")
}

async fn read_raw(link: &mut Link, epoch: EpochId, policy: &Policy) -> Result<Raw> {
    let w = Windows::new(epoch, policy);
    let attestations = link
        .fetch_all::<AttestationRow>(
            &format!(
                "SELECT {} FROM attestations ORDER BY machine_id, attested_at_ms",
                cols::<Attestation>()
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
                "SELECT {} FROM bindings ORDER BY machine_id, from_ms",
                cols::<Binding>()
            ),
            vec![],
        )
        .await?
        .into_iter()
        .map(Binding::from_row)
        .collect::<Result<Vec<_>>>()?;
    let (sql, args) = sessions_sql(epoch, policy);
    let sessions = link
        .fetch_all::<SessionRow>(&sql, args.into_iter().map(Val::from).collect())
        .await?
        .into_iter()
        .map(Session::from_row)
        .collect::<Result<Vec<_>>>()?;
    let health = link
        .fetch_all::<HealthRow>(
            "SELECT machine_id, at_ms, healthy, reason FROM health \
             WHERE at_ms >= $1 AND at_ms < $2 \
             UNION ALL \
             SELECT h.machine_id, h.at_ms, h.healthy, h.reason FROM health h \
             JOIN (SELECT machine_id, MAX(at_ms) AS last_ms FROM health \
                   WHERE at_ms < $1 GROUP BY machine_id) l \
               ON l.machine_id = h.machine_id AND l.last_ms = h.at_ms \
             ORDER BY 1, 2",
            vec![w.start_ms.into(), w.end_ms.into()],
        )
        .await?
        .into_iter()
        .map(Health::from_row)
        .collect::<Result<Vec<_>>>()?;
    let probes = link
        .fetch_all::<ProbeRow>(
            &format!(
                "SELECT {} FROM probes WHERE at_ms >= $1 AND at_ms < $2 \
                 ORDER BY machine_id, at_ms, probe_id",
                cols::<Probe>()
            ),
            vec![w.work_start_ms.into(), w.end_ms.into()],
        )
        .await?
        .into_iter()
        .map(Probe::from_row)
        .collect::<Result<Vec<_>>>()?;
    let prior_draws = prior_draws(link, epoch).await?;
    let previous_totals = link
        .fetch_all::<(String, i64)>(
            "SELECT machine_id, total_micro_usd FROM machine_totals \
             WHERE epoch = $1 AND total_micro_usd > 0 ORDER BY machine_id",
            vec![epoch.previous().to_string().into()],
        )
        .await?
        .into_iter()
        .map(|(machine_id, total_micro_usd)| PreviousTotal {
            machine_id,
            total_micro_usd,
        })
        .collect();
    Ok(Raw {
        attestations,
        bindings,
        sessions,
        health,
        probes,
        prior_draws,
        previous_totals,
    })
}

/// The sessions query of the load, as run (`$n` placeholders and their
/// `BIGINT` values): the sessions that can overlap the epoch. For benchmarks
/// that time the bare SQL.
pub fn sessions_sql(epoch: EpochId, policy: &Policy) -> (String, Vec<i64>) {
    let w = Windows::new(epoch, policy);
    // b = min(E, disconnected_at, last_seen + G) > S needs both
    // disconnected_at > S and last_seen > S − G; a = max(connected_at, S) < E.
    let sql = format!(
        "SELECT {} FROM sessions \
         WHERE connected_at_ms < $1 \
           AND (disconnected_at_ms IS NULL OR disconnected_at_ms > $2) \
           AND COALESCE(last_seen_at_ms, disconnected_at_ms, connected_at_ms) > $3 \
         ORDER BY machine_id, connected_at_ms, session_id",
        cols::<Session>()
    );
    let args = vec![
        w.end_ms,
        w.start_ms,
        w.start_ms.saturating_sub(policy.grace_ms),
    ];
    (sql, args)
}

pub(crate) async fn prior_draws(link: &mut Link, epoch: EpochId) -> Result<Vec<PriorDraw>> {
    link.fetch_all::<(String, String, i64, i64)>(
        "SELECT machine_id, account_id, amount_micro_usd, verified_memory_gb FROM floor_draws \
         WHERE epoch = $1 ORDER BY machine_id, account_id",
        vec![epoch.to_string().into()],
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

/// One group of earnings as the SQL returns it (the owner is attached in Rust).
#[derive(sqlx::FromRow)]
struct GroupRow {
    machine_id: String,
    consumer_account_id: String,
    kind: String,
    pinned: bool,
    epoch_micro_usd: i64,
    trailing_micro_usd: i64,
    n_positive: i64,
}

/// A group of a machine whose owner changes inside the window, owner from SQL.
#[derive(sqlx::FromRow)]
struct OwnedGroupRow {
    #[sqlx(flatten)]
    group: GroupRow,
    owner_account_id: Option<String>,
    owner_payout_identity: Option<String>,
}

/// The three window sums of `group_earnings` ($3 = S, $4 = trailing start,
/// $5 = work window start) over earnings in `[$1, $2)`.
const WINDOW_SUMS: &str = "\
CAST(COALESCE(SUM(e.amount_micro_usd) FILTER (WHERE e.at_ms >= $3), 0) AS BIGINT) AS epoch_micro_usd, \
CAST(COALESCE(SUM(e.amount_micro_usd) FILTER (WHERE e.at_ms >= $4), 0) AS BIGINT) AS trailing_micro_usd, \
COUNT(*) FILTER (WHERE e.at_ms >= $5 AND e.amount_micro_usd > 0) AS n_positive";

/// Machines with a binding that starts or ends strictly inside `($1, $2)`:
/// the only ones whose owner can differ between two earnings of the window.
const OWNER_CHANGES_SQL: &str = "\
SELECT machine_id FROM bindings \
WHERE (from_ms > $1 AND from_ms < $2) OR (to_ms > $1 AND to_ms < $2)";

/// Every machine's earnings of the window grouped without the owner (no join:
/// for all but the machines of [`OWNER_CHANGES_SQL`] the owner is one binding,
/// or none, for the whole window, and is attached in Rust).
fn group_sql() -> String {
    format!(
        "SELECT e.machine_id, e.consumer_account_id, e.kind, e.pinned, {WINDOW_SUMS} \
         FROM earnings e WHERE e.at_ms >= $1 AND e.at_ms < $2 \
         GROUP BY e.machine_id, e.consumer_account_id, e.kind, e.pinned"
    )
}

/// The machines of [`OWNER_CHANGES_SQL`] grouped with the owner at job time
/// (bindings of a machine never overlap, so the join finds at most one).
fn owned_group_sql() -> String {
    format!(
        "SELECT e.machine_id, e.consumer_account_id, e.kind, e.pinned, \
         b.account_id AS owner_account_id, b.payout_identity AS owner_payout_identity, \
         {WINDOW_SUMS} \
         FROM earnings e \
         LEFT JOIN bindings b ON b.machine_id = e.machine_id AND b.from_ms <= e.at_ms \
           AND (b.to_ms IS NULL OR e.at_ms < b.to_ms) \
         WHERE e.at_ms >= $1 AND e.at_ms < $2 AND e.machine_id IN ({OWNER_CHANGES_SQL}) \
         GROUP BY e.machine_id, e.consumer_account_id, e.kind, e.pinned, \
           b.account_id, b.payout_identity"
    )
}

/// The bind values `$1…$5` of both grouping queries.
fn grouping_args(w: &Windows) -> Vec<i64> {
    vec![
        w.earliest_earning_ms(),
        w.end_ms,
        w.start_ms,
        w.trailing_start_ms,
        w.work_start_ms,
    ]
}

/// The planner setting the grouping queries run under on PostgreSQL (`SET
/// LOCAL`, back to default right after them): from about a million earnings
/// the planner prefers a parallel sort, spilling to disk, over hashing the
/// groups, about twice as slow; no output order is needed.
pub const PG_GROUPING_SETTING: &str = "enable_sort = off";

/// The aggregate queries [`crate::Store::load_epoch_facts`] groups earnings
/// with, as run (with `$n` placeholders and their `BIGINT` values): the first
/// always, the second only when some machine's owner changes inside the
/// window. For benchmarks that time the bare SQL.
pub fn earnings_grouping_sql(epoch: EpochId, policy: &Policy) -> [(String, Vec<i64>); 2] {
    let args = grouping_args(&Windows::new(epoch, policy));
    [(group_sql(), args.clone()), (owned_group_sql(), args)]
}

/// Who owns a machine's earnings of `[earliest, end)`.
enum Ownership<'a> {
    /// One binding (or none) covers the whole window.
    Whole(&'a Binding),
    /// A binding starts or ends inside: the owner comes from SQL, per job.
    Changes,
}

/// The [`Ownership`] of every bound machine (unbound machines own nothing);
/// the Rust twin of [`OWNER_CHANGES_SQL`].
fn ownership<'a>(bindings: &'a [Binding], w: &Windows) -> HashMap<&'a str, Ownership<'a>> {
    let (lo, hi) = (w.earliest_earning_ms(), w.end_ms);
    let inside = |t: i64| lo < t && t < hi;
    let mut out: HashMap<&str, Ownership> = HashMap::new();
    for b in bindings {
        let covers_lo = b.from.0 <= lo && b.to.is_none_or(|t| lo < t.0);
        if inside(b.from.0) || b.to.is_some_and(|t| inside(t.0)) {
            out.insert(&b.machine_id, Ownership::Changes);
        } else if covers_lo && !matches!(out.get(b.machine_id.as_str()), Some(Ownership::Changes)) {
            out.insert(&b.machine_id, Ownership::Whole(b));
        }
    }
    out
}

/// The two reads of the bindings (Rust and SQL) saw different owners: cannot
/// happen inside one read transaction.
fn disagree(machine_id: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "machine `{machine_id}`: the bindings read twice disagree"
    ))
}

fn owner_of(b: &Binding) -> Owner {
    Owner {
        account_id: b.account_id.clone(),
        payout_identity: b.payout_identity.clone(),
    }
}

fn earning_group(r: GroupRow, owner: Option<Owner>) -> Result<(String, EarningGroup)> {
    Ok((
        r.machine_id,
        EarningGroup {
            consumer_account_id: r.consumer_account_id,
            kind: parse_kind(&r.kind)?,
            pinned: r.pinned,
            owner,
            epoch_micro_usd: r.epoch_micro_usd,
            trailing_micro_usd: r.trailing_micro_usd,
            n_positive_in_work_window: r.n_positive,
        },
    ))
}

/// Earnings grouped as `group_earnings` groups them: one aggregate query over
/// all machines without the bindings, plus — only if some machine's owner
/// changes inside the window — one with the join for just those machines.
async fn grouped_earnings(
    link: &mut Link,
    w: &Windows,
    bindings: &[Binding],
) -> Result<HashMap<String, Vec<EarningGroup>>> {
    let args = || -> Vec<Val> { grouping_args(w).into_iter().map(Val::from).collect() };
    let pg = link.backend() == Backend::Postgres;
    if pg {
        link.execute(&format!("SET LOCAL {PG_GROUPING_SETTING}"), vec![])
            .await?;
    }
    let out = grouped_rows(link, w, bindings, args).await?;
    if pg {
        link.execute("SET LOCAL enable_sort TO DEFAULT", vec![])
            .await?;
    }
    Ok(out)
}

async fn grouped_rows(
    link: &mut Link,
    w: &Windows,
    bindings: &[Binding],
    args: impl Fn() -> Vec<Val>,
) -> Result<HashMap<String, Vec<EarningGroup>>> {
    let owners = ownership(bindings, w);
    let mut out: HashMap<String, Vec<EarningGroup>> = HashMap::with_capacity(owners.len());
    for r in link.fetch_all::<GroupRow>(&group_sql(), args()).await? {
        let (machine_id, g) = earning_group(r, None)?;
        out.entry(machine_id).or_default().push(g);
    }
    // Owners are attached per machine (one lookup each, not one per group);
    // the groups of machines whose owner changes inside the window are
    // dropped here and come from the second query.
    let mut deferred: HashSet<String> = HashSet::new();
    for (machine_id, groups) in out.iter_mut() {
        match owners.get(machine_id.as_str()) {
            None => {}
            Some(Ownership::Whole(b)) => {
                let owner = owner_of(b);
                for g in groups.iter_mut() {
                    g.owner = Some(owner.clone());
                }
            }
            Some(Ownership::Changes) => {
                deferred.insert(machine_id.clone());
            }
        }
    }
    for m in &deferred {
        out.remove(m);
    }
    if owners.values().any(|o| matches!(o, Ownership::Changes)) {
        for r in link
            .fetch_all::<OwnedGroupRow>(&owned_group_sql(), args())
            .await?
        {
            let owner = match (r.owner_account_id, r.owner_payout_identity) {
                (Some(account_id), Some(payout_identity)) => Some(Owner {
                    account_id,
                    payout_identity,
                }),
                _ => None,
            };
            if !matches!(
                owners.get(r.group.machine_id.as_str()),
                Some(Ownership::Changes)
            ) {
                return Err(disagree(&r.group.machine_id));
            }
            deferred.remove(&r.group.machine_id);
            let (machine_id, g) = earning_group(r.group, owner)?;
            out.entry(machine_id).or_default().push(g);
        }
    }
    if let Some(m) = deferred.iter().min() {
        return Err(disagree(m));
    }
    for groups in out.values_mut() {
        // The order of `group_earnings` (its BTreeMap key order).
        groups.sort_by(|a, b| {
            (&a.consumer_account_id, a.kind, a.pinned, &a.owner).cmp(&(
                &b.consumer_account_id,
                b.kind,
                b.pinned,
                &b.owner,
            ))
        });
    }
    Ok(out)
}

/// See the module docs.
pub(crate) async fn load_epoch_facts(
    link: &mut Link,
    epoch: EpochId,
    policy: &Policy,
) -> Result<EpochFacts> {
    let started = std::time::Instant::now();
    let raw = read_raw(link, epoch, policy).await?;
    let raw_done = started.elapsed();
    let w = Windows::new(epoch, policy);
    let mut groups = grouped_earnings(link, &w, &raw.bindings).await?;
    let grouped_done = started.elapsed();

    let mut machines: BTreeMap<String, MachineFacts> = BTreeMap::new();
    for a in raw.attestations {
        let m = machines
            .entry(a.machine_id.clone())
            .or_insert_with(|| MachineFacts {
                machine_id: a.machine_id.clone(),
                ..MachineFacts::default()
            });
        m.attestations.push(AttestationFact {
            attested_at_ms: a.attested_at.0,
            hardware_model: a.hardware_model,
            reported_memory_gb: a.reported_memory_gb,
            trust: a.trust,
        });
    }
    let missing = |what: &str, m: &str| {
        StoreError::Corrupt(format!("{what} of machine `{m}` that has no attestation"))
    };
    let mut payout_accounts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for b in raw.bindings {
        payout_accounts
            .entry(b.payout_identity.clone())
            .or_default()
            .insert(b.account_id.clone());
        machines
            .get_mut(&b.machine_id)
            .ok_or_else(|| missing("binding", &b.machine_id))?
            .bindings
            .push(BindingFact {
                account_id: b.account_id,
                payout_identity: b.payout_identity,
                from_ms: b.from.0,
                to_ms: b.to.map(|t| t.0),
            });
    }
    for s in raw.sessions {
        machines
            .get_mut(&s.machine_id)
            .ok_or_else(|| missing("session", &s.machine_id))?
            .sessions
            .push(SessionFact {
                connected_at_ms: s.connected_at.0,
                last_seen_at_ms: s.last_seen_at.map(|t| t.0),
                disconnected_at_ms: s.disconnected_at.map(|t| t.0),
            });
    }
    for h in raw.health {
        machines
            .get_mut(&h.machine_id)
            .ok_or_else(|| missing("health event", &h.machine_id))?
            .health
            .push(HealthFact {
                at_ms: h.at.0,
                healthy: h.healthy,
            });
    }
    for p in raw.probes {
        machines
            .get_mut(&p.machine_id)
            .ok_or_else(|| missing("probe", &p.machine_id))?
            .probes
            .push(ProbeFact {
                probe_id: p.probe_id,
                at_ms: p.at.0,
                passed: p.passed,
                verified_memory_gb: p.verified_memory_gb,
            });
    }
    for t in raw.previous_totals {
        machines
            .get_mut(&t.machine_id)
            .ok_or_else(|| missing("total", &t.machine_id))?
            .previous_total_micro_usd = t.total_micro_usd;
    }
    for (id, m) in machines.iter_mut() {
        if let Some(g) = groups.remove(id) {
            m.earnings = g;
        }
    }
    if let Some(id) = groups.keys().min() {
        return Err(missing("earning", id));
    }
    tracing::debug!(
        %epoch,
        machines = machines.len(),
        raw_ms = raw_done.as_millis(),
        earnings_ms = grouped_done.saturating_sub(raw_done).as_millis(),
        assemble_ms = started.elapsed().saturating_sub(grouped_done).as_millis(),
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
) -> Result<Bundle> {
    let raw = read_raw(link, epoch, policy).await?;
    let w = Windows::new(epoch, policy);
    let aliases = link
        .fetch_all::<AliasRow>(
            &format!(
                "SELECT {} FROM aliases ORDER BY provider_key",
                cols::<Alias>()
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
                "SELECT {} FROM earnings WHERE at_ms >= $1 AND at_ms < $2 ORDER BY job_id",
                cols::<Earning>()
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
        sessions: raw.sessions,
        health: raw.health,
        earnings,
        probes: raw.probes,
        prior_draws: raw.prior_draws,
        previous_totals: raw.previous_totals,
    })
}
