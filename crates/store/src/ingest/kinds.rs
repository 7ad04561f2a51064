//! The row codec of each fact kind (table, columns, key) and the per-kind
//! batch rules: attestations define machines, aliases point at machine ids,
//! provider keys and machine ids never collide, bindings never overlap.

use std::collections::{BTreeMap, BTreeSet};

use floorline_core::bundle::{Alias, Attestation, Binding, Earning, Health, Probe, Session};
use floorline_core::facts::EarningKind;
use floorline_core::policy::Trust;
use floorline_core::{Invalid, Timestamp};

use super::{Batch, Fact, RESERVED_JOB_PREFIX};
use crate::db::{placeholders, row_placeholders, rows_per_statement, Link, Val};
use crate::error::{Result, StoreError};

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

#[derive(sqlx::FromRow)]
pub(crate) struct AttestationRow {
    pub machine_id: String,
    pub attested_at_ms: i64,
    pub hardware_model: String,
    pub reported_memory_gb: i64,
    pub trust: String,
    pub se_public_key: Option<String>,
}

impl Fact for Attestation {
    const KIND: &'static str = "machines";
    const TABLE: &'static str = "attestations";
    const COLUMNS: &'static [&'static str] = &[
        "machine_id",
        "attested_at_ms",
        "hardware_model",
        "reported_memory_gb",
        "trust",
        "se_public_key",
    ];
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
        out.push(self.machine_id.clone().into());
        out.push(self.attested_at.0.into());
        out.push(self.hardware_model.clone().into());
        out.push(i64::from(self.reported_memory_gb).into());
        out.push(trust_str(self.trust).into());
        out.push(self.se_public_key.clone().into());
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
}

#[derive(sqlx::FromRow)]
pub(crate) struct AliasRow {
    pub provider_key: String,
    pub machine_id: String,
    pub from_ms: i64,
}

impl Fact for Alias {
    const KIND: &'static str = "aliases";
    const TABLE: &'static str = "aliases";
    const COLUMNS: &'static [&'static str] = &["provider_key", "machine_id", "from_ms"];
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
        out.push(self.provider_key.clone().into());
        out.push(self.machine_id.clone().into());
        out.push(self.from.0.into());
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
}

#[derive(sqlx::FromRow)]
pub(crate) struct BindingRow {
    pub machine_id: String,
    pub from_ms: i64,
    pub account_id: String,
    pub payout_identity: String,
    pub to_ms: Option<i64>,
}

impl Fact for Binding {
    const KIND: &'static str = "bindings";
    const TABLE: &'static str = "bindings";
    const COLUMNS: &'static [&'static str] = &[
        "machine_id",
        "from_ms",
        "account_id",
        "payout_identity",
        "to_ms",
    ];
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
        out.push(self.machine_id.clone().into());
        out.push(self.from.0.into());
        out.push(self.account_id.clone().into());
        out.push(self.payout_identity.clone().into());
        out.push(self.to.map(|t| t.0).into());
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
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    pub session_id: String,
    pub machine_id: String,
    pub connected_at_ms: i64,
    pub last_seen_at_ms: Option<i64>,
    pub disconnected_at_ms: Option<i64>,
}

impl Fact for Session {
    const KIND: &'static str = "sessions";
    const TABLE: &'static str = "sessions";
    const COLUMNS: &'static [&'static str] = &[
        "session_id",
        "machine_id",
        "connected_at_ms",
        "last_seen_at_ms",
        "disconnected_at_ms",
    ];
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
        out.push(self.session_id.clone().into());
        out.push(self.machine_id.clone().into());
        out.push(self.connected_at.0.into());
        out.push(self.last_seen_at.map(|t| t.0).into());
        out.push(self.disconnected_at.map(|t| t.0).into());
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
}

#[derive(sqlx::FromRow)]
pub(crate) struct HealthRow {
    pub machine_id: String,
    pub at_ms: i64,
    pub healthy: bool,
    pub reason: Option<String>,
}

impl Fact for Health {
    const KIND: &'static str = "health";
    const TABLE: &'static str = "health";
    const COLUMNS: &'static [&'static str] = &["machine_id", "at_ms", "healthy", "reason"];
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
        out.push(self.machine_id.clone().into());
        out.push(self.at.0.into());
        out.push(self.healthy.into());
        out.push(self.reason.clone().into());
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
}

#[derive(sqlx::FromRow)]
pub(crate) struct EarningRow {
    pub job_id: String,
    pub machine_id: String,
    pub consumer_account_id: String,
    pub amount_micro_usd: i64,
    pub kind: String,
    pub pinned: bool,
    pub model: Option<String>,
    pub at_ms: i64,
}

impl Fact for Earning {
    const KIND: &'static str = "earnings";
    const TABLE: &'static str = "earnings";
    const COLUMNS: &'static [&'static str] = &[
        "job_id",
        "machine_id",
        "consumer_account_id",
        "amount_micro_usd",
        "kind",
        "pinned",
        "model",
        "at_ms",
    ];
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
        out.push(self.job_id.clone().into());
        out.push(self.machine_id.clone().into());
        out.push(self.consumer_account_id.clone().into());
        out.push(self.amount_micro_usd.into());
        out.push(self.kind.as_str().into());
        out.push(self.pinned.into());
        out.push(self.model.clone().into());
        out.push(self.at.0.into());
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
}

#[derive(sqlx::FromRow)]
pub(crate) struct ProbeRow {
    pub probe_id: String,
    pub machine_id: String,
    pub at_ms: i64,
    pub passed: bool,
    pub failure: Option<String>,
    pub model: Option<String>,
    pub verified_memory_gb: Option<i64>,
    pub source: Option<String>,
}

impl Fact for Probe {
    const KIND: &'static str = "probes";
    const TABLE: &'static str = "probes";
    const COLUMNS: &'static [&'static str] = &[
        "probe_id",
        "machine_id",
        "at_ms",
        "passed",
        "failure",
        "model",
        "verified_memory_gb",
        "source",
    ];
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
        out.push(self.probe_id.clone().into());
        out.push(self.machine_id.clone().into());
        out.push(self.at.0.into());
        out.push(self.passed.into());
        out.push(self.failure.clone().into());
        out.push(self.model.clone().into());
        out.push(self.verified_memory_gb.map(i64::from).into());
        out.push(self.source.clone().into());
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

/// An attested machine id must not be a provider key already (names stay unambiguous).
pub(crate) async fn attestation_checks(link: &mut Link, b: &mut Batch<Attestation>) -> Result<()> {
    let ids: BTreeSet<String> = b.items.iter().map(|a| a.machine_id.clone()).collect();
    let taken = stored_among(link, "aliases", "provider_key", &ids).await?;
    for (i, a) in b.items.iter().enumerate() {
        if taken.contains(&a.machine_id) {
            b.errs.push(Invalid::new(
                b.path(i, "machine_id"),
                format!("`{}` is already a provider key (alias)", a.machine_id),
            ));
        }
    }
    Ok(())
}

/// A provider key must not be a machine id.
pub(crate) async fn alias_checks(link: &mut Link, b: &mut Batch<Alias>) -> Result<()> {
    let keys: BTreeSet<String> = b.items.iter().map(|a| a.provider_key.clone()).collect();
    let taken = stored_among(link, "machines", "machine_id", &keys).await?;
    for (i, a) in b.items.iter().enumerate() {
        if taken.contains(&a.provider_key) {
            b.errs.push(Invalid::new(
                b.path(i, "provider_key"),
                format!("`{}` is already a machine id", a.provider_key),
            ));
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

/// D2: a new binding may overlap neither a stored nor another new binding of its machine.
pub(crate) async fn binding_overlaps(link: &mut Link, b: &mut Batch<Binding>) -> Result<()> {
    if !b.errs.is_empty() {
        return Ok(());
    }
    let fresh: Vec<(usize, Binding)> = b.new_items().map(|(i, x)| (i, x.clone())).collect();
    let machines: BTreeSet<String> = fresh.iter().map(|(_, x)| x.machine_id.clone()).collect();
    let mut stored: BTreeMap<String, Vec<Binding>> = BTreeMap::new();
    let list: Vec<&String> = machines.iter().collect();
    for chunk in list.chunks(rows_per_statement(1)) {
        let args: Vec<Val> = chunk.iter().map(|n| Val::from(n.as_str())).collect();
        let sql = format!(
            "SELECT {} FROM bindings WHERE machine_id IN {}",
            <Binding as Fact>::COLUMNS.join(", "),
            placeholders(1, chunk.len())
        );
        for row in link.fetch_all::<BindingRow>(&sql, args).await? {
            let x = Binding::from_row(row)?;
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
                .map(|(j, _)| format!("bindings[{j}] of this batch"))
        };
        if let Some(other) = clash_stored.or_else(clash_new) {
            b.errs.push(Invalid::new(
                b.path(*i, "from"),
                format!("overlaps {other} of machine `{}`", x.machine_id),
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
