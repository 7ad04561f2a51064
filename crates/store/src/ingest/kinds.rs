//! The row codec of each fact kind (table, columns, key) and the per-kind
//! batch rules: attestations define machines, aliases point at machine ids,
//! provider keys and machine ids never collide, bindings never overlap.

use std::collections::{BTreeMap, BTreeSet};

use floorline_core::bundle::{Alias, Attestation, Binding, Earning, Health, Probe, Session};
use floorline_core::facts::EarningKind;
use floorline_core::policy::Trust;
use floorline_core::refine::{resend_binding, resend_session, Resend};
use floorline_core::{Invalid, Timestamp};

use super::in_place::PureRefinement;
use super::{Batch, TableFact, RESERVED_JOB_PREFIX};
use crate::db::{placeholders, row_placeholders, rows_per_statement, Link, Val};
use crate::error::{Result, StoreError};

/// Declares a kind's row type with each column's name, type and value
/// together, so that the row's fields, [`TableFact::COLUMNS`] and
/// [`TableFact::values`] are one list in one order: `$f` names the fact
/// in the value expressions.
macro_rules! columns {
    ($row:ident for $fact:ty, |$f:ident| { $($col:ident: $ty:ty = $value:expr),+ $(,)? }) => {
        #[derive(sqlx::FromRow)]
        pub(crate) struct $row {
            $(pub $col: $ty,)+
        }

        impl $row {
            /// The columns in insert and select order.
            const COLUMNS: &'static [&'static str] = &[$(stringify!($col)),+];

            /// A fact's values in the order of [`Self::COLUMNS`].
            fn values($f: &$fact, out: &mut Vec<Val>) {
                $(out.push(Val::from($value));)+
            }
        }
    };
}

pub(crate) fn trust_str(t: Trust) -> &'static str {
    match t {
        Trust::None => "none",
        Trust::SelfSigned => "self_signed",
        Trust::Hardware => "hardware",
    }
}

pub(crate) fn parse_trust(s: &str) -> Result<Trust> {
    match s {
        "none" => Ok(Trust::None),
        "self_signed" => Ok(Trust::SelfSigned),
        "hardware" => Ok(Trust::Hardware),
        other => Err(StoreError::Corrupt(format!("unknown trust `{other}`"))),
    }
}

pub(crate) fn parse_kind(s: &str) -> Result<EarningKind> {
    EarningKind::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown earning kind `{s}`")))
}

pub(crate) fn gb(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} = {v}")))
}

columns!(AttestationRow for Attestation, |f| {
    machine_id: String = f.machine_id.clone(),
    attested_at_ms: i64 = f.attested_at.0,
    hardware_model: String = f.hardware_model.clone(),
    reported_memory_gb: i64 = i64::from(f.reported_memory_gb),
    trust: String = trust_str(f.trust),
    se_public_key: Option<String> = f.se_public_key.clone(),
});

impl TableFact for Attestation {
    const TABLE: &'static str = "attestations";
    const COLUMNS: &'static [&'static str] = AttestationRow::COLUMNS;
    const KEY_COLUMNS: &'static [&'static str] = &["machine_id", "attested_at_ms"];
    type Key = (String, i64);
    type Row = AttestationRow;
    fn key(&self) -> Self::Key {
        (self.machine_id.clone(), self.attested_at.0)
    }
    fn key_text(&self) -> String {
        format!("{}@{}", self.machine_id, self.attested_at)
    }
    fn key_values(key: &Self::Key, out: &mut Vec<Val>) {
        out.push(key.0.clone().into());
        out.push(key.1.into());
    }
    fn values(&self, out: &mut Vec<Val>) {
        AttestationRow::values(self, out);
    }
    fn from_row(r: AttestationRow) -> Result<Self> {
        Ok(Attestation {
            machine_id: r.machine_id,
            attested_at: Timestamp(r.attested_at_ms),
            hardware_model: r.hardware_model,
            reported_memory_gb: gb(r.reported_memory_gb, "reported_memory_gb")?,
            trust: parse_trust(&r.trust)?,
            se_public_key: r.se_public_key,
        })
    }
    fn machine(&self) -> &str {
        &self.machine_id
    }
    fn set_machine(&mut self, machine_id: String) {
        self.machine_id = machine_id;
    }
    fn sent_key(&self) -> (String, i64) {
        (self.machine_id.clone(), self.attested_at.0)
    }
}

columns!(AliasRow for Alias, |f| {
    provider_key: String = f.provider_key.clone(),
    machine_id: String = f.machine_id.clone(),
    from_ms: i64 = f.from.0,
});

impl TableFact for Alias {
    const TABLE: &'static str = "aliases";
    const COLUMNS: &'static [&'static str] = AliasRow::COLUMNS;
    const KEY_COLUMNS: &'static [&'static str] = &["provider_key"];
    type Key = String;
    type Row = AliasRow;
    fn key(&self) -> String {
        self.provider_key.clone()
    }
    fn key_text(&self) -> String {
        self.provider_key.clone()
    }
    fn key_values(key: &String, out: &mut Vec<Val>) {
        out.push(key.clone().into());
    }
    fn values(&self, out: &mut Vec<Val>) {
        AliasRow::values(self, out);
    }
    fn from_row(r: AliasRow) -> Result<Self> {
        Ok(Alias {
            provider_key: r.provider_key,
            machine_id: r.machine_id,
            from: Timestamp(r.from_ms),
        })
    }
    fn machine(&self) -> &str {
        &self.machine_id
    }
    fn set_machine(&mut self, machine_id: String) {
        self.machine_id = machine_id;
    }
    fn sent_key(&self) -> (String, i64) {
        (self.provider_key.clone(), 0)
    }
}

columns!(BindingRow for Binding, |f| {
    machine_id: String = f.machine_id.clone(),
    from_ms: i64 = f.from.0,
    account_id: String = f.account_id.clone(),
    payout_identity: String = f.payout_identity.clone(),
    to_ms: Option<i64> = f.to.map(|t| t.0),
});

impl TableFact for Binding {
    const TABLE: &'static str = "bindings";
    const COLUMNS: &'static [&'static str] = BindingRow::COLUMNS;
    const KEY_COLUMNS: &'static [&'static str] = &["machine_id", "from_ms"];
    type Key = (String, i64);
    type Row = BindingRow;
    fn key(&self) -> Self::Key {
        (self.machine_id.clone(), self.from.0)
    }
    fn key_text(&self) -> String {
        format!("{}@{}", self.machine_id, self.from)
    }
    fn key_values(key: &Self::Key, out: &mut Vec<Val>) {
        out.push(key.0.clone().into());
        out.push(key.1.into());
    }
    fn values(&self, out: &mut Vec<Val>) {
        BindingRow::values(self, out);
    }
    fn from_row(r: BindingRow) -> Result<Self> {
        Ok(Binding {
            machine_id: r.machine_id,
            account_id: r.account_id,
            payout_identity: r.payout_identity,
            from: Timestamp(r.from_ms),
            to: r.to_ms.map(Timestamp),
        })
    }
    fn machine(&self) -> &str {
        &self.machine_id
    }
    fn set_machine(&mut self, machine_id: String) {
        self.machine_id = machine_id;
    }
    fn sent_key(&self) -> (String, i64) {
        (self.machine_id.clone(), self.from.0)
    }
    const REFINED_COLUMNS: &'static [&'static str] = &["to_ms"];
    const HISTORY_TABLE: &'static str = "binding_versions";
    fn resend(old: &Self, new: &Self, origin: &str) -> Resend {
        resend_binding(old, new, origin)
    }
}

columns!(SessionRow for Session, |f| {
    session_id: String = f.session_id.clone(),
    machine_id: String = f.machine_id.clone(),
    connected_at_ms: i64 = f.connected_at.0,
    last_seen_at_ms: Option<i64> = f.last_seen_at.map(|t| t.0),
    disconnected_at_ms: Option<i64> = f.disconnected_at.map(|t| t.0),
});

impl TableFact for Session {
    const TABLE: &'static str = "sessions";
    const COLUMNS: &'static [&'static str] = SessionRow::COLUMNS;
    const KEY_COLUMNS: &'static [&'static str] = &["session_id"];
    type Key = String;
    type Row = SessionRow;
    fn key(&self) -> String {
        self.session_id.clone()
    }
    fn key_text(&self) -> String {
        self.session_id.clone()
    }
    fn key_values(key: &String, out: &mut Vec<Val>) {
        out.push(key.clone().into());
    }
    fn values(&self, out: &mut Vec<Val>) {
        SessionRow::values(self, out);
    }
    fn from_row(r: SessionRow) -> Result<Self> {
        Ok(Session {
            session_id: r.session_id,
            machine_id: r.machine_id,
            connected_at: Timestamp(r.connected_at_ms),
            last_seen_at: r.last_seen_at_ms.map(Timestamp),
            disconnected_at: r.disconnected_at_ms.map(Timestamp),
        })
    }
    fn machine(&self) -> &str {
        &self.machine_id
    }
    fn set_machine(&mut self, machine_id: String) {
        self.machine_id = machine_id;
    }
    fn sent_key(&self) -> (String, i64) {
        (self.session_id.clone(), 0)
    }
    const REFINED_COLUMNS: &'static [&'static str] = &["last_seen_at_ms", "disconnected_at_ms"];
    const HISTORY_TABLE: &'static str = "session_versions";
    fn resend(old: &Self, new: &Self, origin: &str) -> Resend {
        resend_session(old, new, origin)
    }
    // A heartbeat: a later `last_seen_at` of an open session, every other
    // field as stored (`floorline_core::refine::resend_session`).
    const PURE_REFINEMENT: Option<PureRefinement> = Some(PureRefinement {
        columns: &[
            "session_id",
            "machine_id",
            "connected_at_ms",
            "last_seen_at_ms",
        ],
        refines: "t.machine_id = u.machine_id AND t.connected_at_ms = u.connected_at_ms \
                  AND t.disconnected_at_ms IS NULL \
                  AND (t.last_seen_at_ms IS NULL OR t.last_seen_at_ms < u.last_seen_at_ms)",
        sets: &["last_seen_at_ms"],
    });
    fn is_pure_refinement(&self) -> bool {
        self.last_seen_at.is_some() && self.disconnected_at.is_none()
    }
}

columns!(HealthRow for Health, |f| {
    machine_id: String = f.machine_id.clone(),
    at_ms: i64 = f.at.0,
    healthy: bool = f.healthy,
    reason: Option<String> = f.reason.clone(),
});

impl TableFact for Health {
    const TABLE: &'static str = "health";
    const COLUMNS: &'static [&'static str] = HealthRow::COLUMNS;
    const KEY_COLUMNS: &'static [&'static str] = &["machine_id", "at_ms"];
    type Key = (String, i64);
    type Row = HealthRow;
    fn key(&self) -> Self::Key {
        (self.machine_id.clone(), self.at.0)
    }
    fn key_text(&self) -> String {
        format!("{}@{}", self.machine_id, self.at)
    }
    fn key_values(key: &Self::Key, out: &mut Vec<Val>) {
        out.push(key.0.clone().into());
        out.push(key.1.into());
    }
    fn values(&self, out: &mut Vec<Val>) {
        HealthRow::values(self, out);
    }
    fn from_row(r: HealthRow) -> Result<Self> {
        Ok(Health {
            machine_id: r.machine_id,
            at: Timestamp(r.at_ms),
            healthy: r.healthy,
            reason: r.reason,
        })
    }
    fn machine(&self) -> &str {
        &self.machine_id
    }
    fn set_machine(&mut self, machine_id: String) {
        self.machine_id = machine_id;
    }
    fn sent_key(&self) -> (String, i64) {
        (self.machine_id.clone(), self.at.0)
    }
}

columns!(EarningRow for Earning, |f| {
    job_id: String = f.job_id.clone(),
    machine_id: String = f.machine_id.clone(),
    consumer_account_id: String = f.consumer_account_id.clone(),
    amount_micro_usd: i64 = f.amount_micro_usd,
    kind: String = f.kind.as_str(),
    pinned: bool = f.pinned,
    model: Option<String> = f.model.clone(),
    at_ms: i64 = f.at.0,
});

impl TableFact for Earning {
    const TABLE: &'static str = "earnings";
    const COLUMNS: &'static [&'static str] = EarningRow::COLUMNS;
    const KEY_COLUMNS: &'static [&'static str] = &["job_id"];
    type Key = String;
    type Row = EarningRow;
    fn key(&self) -> String {
        self.job_id.clone()
    }
    fn key_text(&self) -> String {
        self.job_id.clone()
    }
    fn key_values(key: &String, out: &mut Vec<Val>) {
        out.push(key.clone().into());
    }
    fn values(&self, out: &mut Vec<Val>) {
        EarningRow::values(self, out);
    }
    fn from_row(r: EarningRow) -> Result<Self> {
        Ok(Earning {
            job_id: r.job_id,
            machine_id: r.machine_id,
            consumer_account_id: r.consumer_account_id,
            amount_micro_usd: r.amount_micro_usd,
            kind: parse_kind(&r.kind)?,
            pinned: r.pinned,
            model: r.model,
            at: Timestamp(r.at_ms),
        })
    }
    fn machine(&self) -> &str {
        &self.machine_id
    }
    fn set_machine(&mut self, machine_id: String) {
        self.machine_id = machine_id;
    }
    fn sent_key(&self) -> (String, i64) {
        (self.job_id.clone(), 0)
    }
    const TRACK_WRITTEN: bool = true;
}

columns!(ProbeRow for Probe, |f| {
    probe_id: String = f.probe_id.clone(),
    machine_id: String = f.machine_id.clone(),
    at_ms: i64 = f.at.0,
    passed: bool = f.passed,
    failure: Option<String> = f.failure.clone(),
    model: Option<String> = f.model.clone(),
    verified_memory_gb: Option<i64> = f.verified_memory_gb.map(i64::from),
    source: Option<String> = f.source.clone(),
});

impl TableFact for Probe {
    const TABLE: &'static str = "probes";
    const COLUMNS: &'static [&'static str] = ProbeRow::COLUMNS;
    const KEY_COLUMNS: &'static [&'static str] = &["probe_id"];
    type Key = String;
    type Row = ProbeRow;
    fn key(&self) -> String {
        self.probe_id.clone()
    }
    fn key_text(&self) -> String {
        self.probe_id.clone()
    }
    fn key_values(key: &String, out: &mut Vec<Val>) {
        out.push(key.clone().into());
    }
    fn values(&self, out: &mut Vec<Val>) {
        ProbeRow::values(self, out);
    }
    fn from_row(r: ProbeRow) -> Result<Self> {
        Ok(Probe {
            probe_id: r.probe_id,
            machine_id: r.machine_id,
            at: Timestamp(r.at_ms),
            passed: r.passed,
            failure: r.failure,
            model: r.model,
            verified_memory_gb: r
                .verified_memory_gb
                .map(|g| gb(g, "verified_memory_gb"))
                .transpose()?,
            source: r.source,
        })
    }
    fn machine(&self) -> &str {
        &self.machine_id
    }
    fn set_machine(&mut self, machine_id: String) {
        self.machine_id = machine_id;
    }
    fn sent_key(&self) -> (String, i64) {
        (self.probe_id.clone(), 0)
    }
}

/// Names in `names` that are stored in `column` of `table`.
async fn stored_among(
    link: &mut Link,
    table: &str,
    column: &str,
    names: &BTreeSet<String>,
) -> Result<BTreeSet<String>> {
    let names: Vec<&String> = names.iter().collect();
    let mut out = BTreeSet::new();
    for chunk in names.chunks(rows_per_statement(1)) {
        let args: Vec<Val> = chunk.iter().map(|n| Val::from(n.as_str())).collect();
        let sql = format!(
            "SELECT {column} FROM {table} WHERE {column} IN {}",
            placeholders(1, chunk.len())
        );
        for (name,) in link.fetch_all::<(String,)>(&sql, args).await? {
            out.insert(name);
        }
    }
    Ok(out)
}

const EARNINGS_SQUATTED: &str = "job_id IN (SELECT fact_key FROM aliased_facts \
     WHERE provider_key = $1 AND kind = 'earnings')";

/// The kinds whose rows can name a machine through an alias, each with the
/// filter (`$1` = the newly attested machine id, which is also the provider
/// key the rows were sent under) of its rows recorded in `aliased_facts`.
const REHOMED: &[(&str, &str)] = &[
    (
        "bindings",
        "(machine_id, from_ms) IN (SELECT fact_key, at_ms FROM aliased_facts \
         WHERE provider_key = $1 AND kind = 'bindings')",
    ),
    (
        "sessions",
        "session_id IN (SELECT fact_key FROM aliased_facts \
         WHERE provider_key = $1 AND kind = 'sessions')",
    ),
    (
        "health",
        "(machine_id, at_ms) IN (SELECT fact_key, at_ms FROM aliased_facts \
         WHERE provider_key = $1 AND kind = 'health')",
    ),
    ("earnings", EARNINGS_SQUATTED),
    (
        "probes",
        "probe_id IN (SELECT fact_key FROM aliased_facts \
         WHERE provider_key = $1 AND kind = 'probes')",
    ),
];

/// D1 for names that become machine ids: every fact stored under the name
/// of a newly attested machine id — sent before the attestation, when the
/// name was an alias's provider key and so stood for the alias's machine —
/// moves to that machine, in the attestation batch's transaction.
///
/// Why re-home rather than keep the name as sent and resolve at read time:
/// every table keys and indexes its rows by the machine they belong to (the
/// load reads by `machine_id`, through machine-keyed indexes, and the
/// foreign keys to `machines` hold), so resolving at read time would change
/// every query of the load and every index; a machine id is attested once,
/// so moving its few squatted rows then is cheap, and from that commit on
/// the store and core's `Bundle::resolve` (machine ids before aliases) read
/// the same facts. The alias itself stays stored and never applies again.
/// Keys cannot clash: a new machine had no rows of its own.
pub(crate) async fn rehome(link: &mut Link, b: &Batch<Attestation>) -> Result<()> {
    let ids: BTreeSet<String> = b.new_items().map(|(_, a)| a.machine_id.clone()).collect();
    let squatted = stored_among(link, "aliased_facts", "provider_key", &ids).await?;
    for id in &squatted {
        // The earnings that move take their sums along (migration 8).
        let moved: Vec<SumRow> = link
            .fetch_all(
                &format!(
                    "SELECT machine_id, CAST(SUM(amount_micro_usd / {HALF}) AS BIGINT) AS hi, \
                     CAST(SUM(amount_micro_usd % {HALF}) AS BIGINT) AS lo FROM earnings \
                     WHERE kind <> 'base_reward' AND {EARNINGS_SQUATTED} GROUP BY machine_id"
                ),
                vec![Val::from(id.as_str())],
            )
            .await?;
        let mut changes: Vec<SumRow> = Vec::new();
        for m in moved {
            changes.push(SumRow {
                machine_id: id.clone(),
                hi: m.hi,
                lo: m.lo,
            });
            changes.push(SumRow {
                machine_id: m.machine_id,
                hi: m.hi.saturating_neg(),
                lo: m.lo.saturating_neg(),
            });
        }
        add_sums(link, changes).await?;
        for (table, filter) in REHOMED {
            let sql = format!("UPDATE {table} SET machine_id = $1 WHERE {filter}");
            link.execute(&sql, vec![Val::from(id.as_str())]).await?;
        }
        link.execute(
            "DELETE FROM aliased_facts WHERE provider_key = $1",
            vec![Val::from(id.as_str())],
        )
        .await?;
    }
    Ok(())
}

/// The two halves of the sums of `earning_sums` are of `amount / HALF` and
/// `amount % HALF` (amounts are ≥ 0).
const HALF: i64 = 1 << 32;

/// The machine id under which `earning_sums` keeps the network's sum.
const NETWORK: &str = "";

#[derive(sqlx::FromRow)]
struct SumRow {
    machine_id: String,
    hi: i64,
    lo: i64,
}

impl SumRow {
    fn total(&self) -> i128 {
        i128::from(self.hi)
            .saturating_mul(i128::from(HALF))
            .saturating_add(i128::from(self.lo))
    }
}

/// Adds to the sums of `earning_sums` (creating rows), in machine order so
/// that concurrent batches lock the rows in one order; the sums after.
async fn add_sums(link: &mut Link, mut rows: Vec<SumRow>) -> Result<Vec<SumRow>> {
    let mut merged: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for r in rows.drain(..) {
        let slot = merged.entry(r.machine_id).or_insert((0, 0));
        slot.0 = slot.0.saturating_add(r.hi);
        slot.1 = slot.1.saturating_add(r.lo);
    }
    let merged: Vec<(String, (i64, i64))> = merged.into_iter().collect();
    let mut out = Vec::with_capacity(merged.len());
    for chunk in merged.chunks(rows_per_statement(3)) {
        let mut args = Vec::with_capacity(chunk.len().saturating_mul(3));
        for (m, (hi, lo)) in chunk {
            args.push(Val::from(m.as_str()));
            args.push(Val::from(*hi));
            args.push(Val::from(*lo));
        }
        let sql = format!(
            "INSERT INTO earning_sums (machine_id, hi, lo) VALUES {} \
             ON CONFLICT (machine_id) DO UPDATE SET hi = earning_sums.hi + excluded.hi, \
             lo = earning_sums.lo + excluded.lo RETURNING machine_id, hi, lo",
            row_placeholders(chunk.len(), 3)
        );
        out.extend(link.fetch_all::<SumRow>(&sql, args).await?);
    }
    Ok(out)
}

/// The machines (and the network) whose stored sums of earnings are past
/// `i64::MAX` µUSD, as `the earnings of machine `m` (N µUSD)`.
pub(crate) async fn overflowing_sums(link: &mut Link) -> Result<Vec<String>> {
    let rows: Vec<SumRow> = link
        .fetch_all(
            "SELECT machine_id, hi, lo FROM earning_sums ORDER BY machine_id",
            vec![],
        )
        .await?;
    Ok(rows
        .iter()
        .filter(|r| r.total() > i128::from(i64::MAX))
        .map(|r| {
            if r.machine_id == NETWORK {
                format!("the network's earnings ({} µUSD)", r.total())
            } else {
                format!(
                    "the earnings of machine `{}` ({} µUSD)",
                    r.machine_id,
                    r.total()
                )
            }
        })
        .collect())
}

/// SPEC §9 "overflowing amounts": adds the new earnings of the batch to the
/// stored sums of their machines and of the network (migration 8), and
/// refuses the first earning that takes one of them past `i64::MAX` µUSD
/// (the load sums them: an overflow there would fail every later settlement
/// and explanation). Runs after [`Batch::insert`], on the rows it wrote
/// (duplicates add nothing); the sums are added before the check so that
/// their rows are locked and concurrent batches add up in turn; a refused
/// batch rolls back with everything it wrote.
pub(crate) async fn earning_sums(link: &mut Link, b: &mut Batch<Earning>) -> Result<()> {
    let fresh: Vec<(usize, String, i64)> = b
        .items
        .iter()
        .zip(&b.written)
        .enumerate()
        .filter(|(_, (e, written))| **written && e.amount_micro_usd > 0)
        .map(|(i, (e, _))| (i, e.machine_id.clone(), e.amount_micro_usd))
        .collect();
    if fresh.is_empty() {
        return Ok(());
    }
    let mut added: BTreeMap<String, i128> = BTreeMap::new();
    let mut rows = Vec::with_capacity(fresh.len().saturating_mul(2));
    for (_, m, amount) in &fresh {
        for name in [m.as_str(), NETWORK] {
            let slot = added.entry(name.to_string()).or_insert(0);
            *slot = slot.saturating_add(i128::from(*amount));
            rows.push(SumRow {
                machine_id: name.to_string(),
                hi: amount / HALF,
                lo: amount % HALF,
            });
        }
    }
    let after = add_sums(link, rows).await?;
    // The stored sum before this batch, then each new earning in batch order.
    let mut running: BTreeMap<String, i128> = BTreeMap::new();
    for r in &after {
        let mine = added.get(&r.machine_id).copied().unwrap_or(0);
        running.insert(r.machine_id.clone(), r.total().saturating_sub(mine));
    }
    // Each sum past the limit is reported once, at the earning that took it
    // there (the machine's first if one earning takes both).
    let mut flagged: BTreeSet<String> = BTreeSet::new();
    for (i, m, amount) in &fresh {
        let mut problem = None;
        for name in [m.as_str(), NETWORK] {
            let Some(slot) = running.get_mut(name) else {
                continue;
            };
            *slot = slot.saturating_add(i128::from(*amount));
            if *slot > i128::from(i64::MAX) && flagged.insert(name.to_string()) {
                let whose = if name == NETWORK {
                    "the network's earnings".to_string()
                } else {
                    format!("the earnings of machine `{name}`")
                };
                problem = problem.or(Some(format!(
                    "{whose} would add up to {slot} µUSD, past i64::MAX"
                )));
            }
        }
        if let Some(message) = problem {
            b.errs
                .push(Invalid::new(b.path(*i, "amount_micro_usd"), message));
        }
    }
    Ok(())
}

/// Job ids under [`RESERVED_JOB_PREFIX`] belong to settlement.
pub(crate) fn earning_checks(b: &mut Batch<Earning>) {
    for (i, e) in b.items.iter().enumerate() {
        if e.job_id.starts_with(RESERVED_JOB_PREFIX) {
            b.errs.push(Invalid::new(
                b.path(i, "job_id"),
                format!("the prefix `{RESERVED_JOB_PREFIX}` is reserved for base rewards"),
            ));
        }
    }
}

fn overlaps(a: &Binding, b: &Binding) -> bool {
    let before = |x: &Binding, y: &Binding| x.to.is_some_and(|to| to <= y.from);
    !(before(a, b) || before(b, a))
}

/// D2: a new binding may overlap neither a stored nor another new binding of
/// its machine. Each is checked with the values it is written with (its last
/// refinement in the batch), and the stored ones with this batch's
/// refinements applied (a `to` that ends one makes room for the next).
pub(crate) async fn binding_overlaps(link: &mut Link, b: &mut Batch<Binding>) -> Result<()> {
    if !b.errs.is_empty() {
        return Ok(());
    }
    let fresh: Vec<(usize, Binding)> = b
        .new_items()
        .filter_map(|(i, _)| Some((i, b.final_of(i)?.clone())))
        .collect();
    let refined: BTreeMap<(String, i64), Binding> =
        b.refined_stored().map(|x| (x.key(), x.clone())).collect();
    let machines: BTreeSet<String> = fresh.iter().map(|(_, x)| x.machine_id.clone()).collect();
    let mut stored: BTreeMap<String, Vec<Binding>> = BTreeMap::new();
    let list: Vec<&String> = machines.iter().collect();
    for chunk in list.chunks(rows_per_statement(1)) {
        let args: Vec<Val> = chunk.iter().map(|n| Val::from(n.as_str())).collect();
        let sql = format!(
            "SELECT {} FROM bindings WHERE machine_id IN {}",
            <Binding as TableFact>::COLUMNS.join(", "),
            placeholders(1, chunk.len())
        );
        for row in link.fetch_all::<BindingRow>(&sql, args).await? {
            let x = Binding::from_row(row)?;
            let x = refined.get(&x.key()).cloned().unwrap_or(x);
            stored.entry(x.machine_id.clone()).or_default().push(x);
        }
    }
    for (i, x) in &fresh {
        let clash_stored = stored
            .get(&x.machine_id)
            .and_then(|v| v.iter().find(|y| overlaps(x, y)))
            .map(|y| format!("the stored binding from {}", y.from));
        let clash_new = || {
            fresh
                .iter()
                .find(|(j, y)| j != i && y.machine_id == x.machine_id && overlaps(x, y))
                .map(|(j, y)| format!("bindings[{j}] (from {}) in this batch", y.from))
        };
        if let Some(other) = clash_stored.or_else(clash_new) {
            b.errs.push(Invalid::new(
                b.path(*i, "from"),
                format!(
                    "this binding of machine `{}` overlaps {other}; \
                     a machine's bindings may not overlap in time",
                    x.machine_id
                ),
            ));
        }
    }
    Ok(())
}

/// Adds the machines that new attestations define (D1).
pub(crate) async fn insert_machines(link: &mut Link, b: &Batch<Attestation>) -> Result<()> {
    let ids: BTreeSet<&str> = b.new_items().map(|(_, a)| a.machine_id.as_str()).collect();
    let ids: Vec<&str> = ids.into_iter().collect();
    for chunk in ids.chunks(rows_per_statement(1)) {
        let args: Vec<Val> = chunk.iter().map(|n| Val::from(*n)).collect();
        let sql = format!(
            "INSERT INTO machines (machine_id) VALUES {} ON CONFLICT DO NOTHING",
            row_placeholders(chunk.len(), 1)
        );
        link.execute(&sql, args).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every column a kind names elsewhere (key, refined, in place) is one
    /// of its declared columns, and each item gives one value per column.
    fn columns_hold<F: TableFact>(item: &F) {
        let named = F::KEY_COLUMNS.iter().chain(F::REFINED_COLUMNS).chain(
            F::PURE_REFINEMENT
                .iter()
                .flat_map(|p| p.columns.iter().chain(p.sets)),
        );
        for c in named {
            assert!(
                F::COLUMNS.contains(c),
                "{}: `{c}` is not a column",
                F::TABLE
            );
        }
        let mut values = Vec::new();
        item.values(&mut values);
        assert_eq!(values.len(), F::COLUMNS.len(), "{}", F::TABLE);
    }

    #[test]
    fn every_kinds_named_columns_are_its_columns() {
        let bundle: floorline_core::bundle::Bundle = serde_json::from_str(
            r#"{"epoch": "2026-10",
                "machines": [{"machine_id": "m", "attested_at": "2026-10-01T00:00:00Z", "hardware_model": "Mac16,11", "reported_memory_gb": 64, "trust": "hardware"}],
                "aliases": [{"provider_key": "p", "machine_id": "m", "from": "2026-10-01T00:00:00Z"}],
                "bindings": [{"machine_id": "m", "account_id": "a", "payout_identity": "a", "from": "2026-10-01T00:00:00Z"}],
                "sessions": [{"session_id": "s", "machine_id": "m", "connected_at": "2026-10-01T00:00:00Z"}],
                "health": [{"machine_id": "m", "at": "2026-10-01T00:00:00Z", "healthy": true}],
                "earnings": [{"job_id": "j", "machine_id": "m", "consumer_account_id": "c", "amount_micro_usd": 1, "kind": "inference", "at": "2026-10-01T00:00:00Z"}],
                "probes": [{"probe_id": "q", "machine_id": "m", "at": "2026-10-01T00:00:00Z", "passed": true}]}"#,
        )
        .unwrap();
        columns_hold(&bundle.machines[0]);
        columns_hold(&bundle.aliases[0]);
        columns_hold(&bundle.bindings[0]);
        columns_hold(&bundle.sessions[0]);
        columns_hold(&bundle.health[0]);
        columns_hold(&bundle.earnings[0]);
        columns_hold(&bundle.probes[0]);
    }
}
