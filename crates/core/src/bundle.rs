//! The facts of SPEC §2 as they travel (the facts bundle of §8, ingestion
//! batches, import files), their validation, and their resolution into
//! [`EpochFacts`].
//!
//! Validation is whole before anything is used: every problem is reported with
//! the item and field (`earnings[3].amount_micro_usd: must be ≥ 0`). Identical
//! re-sent facts collapse to one; the same key with a different payload is a
//! conflict and an error.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::{CoreError, Invalid};
use crate::facts::{
    organic_earnings, payout_links, AttestationFact, BindingFact, EarningKind, EpochFacts,
    HealthFact, MachineFacts, PriorDraw, ProbeFact, RawEarning, SessionFact, Windows,
    PROBER_SOURCE,
};
use crate::identity::SeKey;
use crate::policy::{Policy, PolicyPatch, Trust};
use crate::time::{EpochId, Timestamp};

/// Longest identifier (SPEC §1).
pub const MAX_ID_LEN: usize = 128;
/// Longest free-text field (hardware model, reasons, failures, model names, keys).
pub const MAX_TEXT_LEN: usize = 1024;

/// Checks an identifier: 1–128 characters of `A–Z a–z 0–9 . _ : @ -`.
pub fn check_id(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > MAX_ID_LEN {
        return Err(format!("must be 1–{MAX_ID_LEN} characters"));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ".:_@-".contains(*c)))
    {
        return Err(format!(
            "character {c:?} is not allowed (A–Z a–z 0–9 . _ : @ -)"
        ));
    }
    Ok(())
}

/// A machine's attestation (defines the machine, D1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    pub machine_id: String,
    pub attested_at: Timestamp,
    #[serde(default)]
    pub hardware_model: String,
    pub reported_memory_gb: u32,
    pub trust: Trust,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub se_public_key: Option<String>,
}

/// An ephemeral coordinator key that names a stable machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    pub provider_key: String,
    pub machine_id: String,
    pub from: Timestamp,
}

/// Who is paid for a machine from `from` until `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub machine_id: String,
    pub account_id: String,
    pub payout_identity: String,
    pub from: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Timestamp>,
}

/// One connection of a machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub session_id: String,
    pub machine_id: String,
    pub connected_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected_at: Option<Timestamp>,
}

/// A health transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub machine_id: String,
    pub at: Timestamp,
    pub healthy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A paid job (or a probe or base reward row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Earning {
    pub job_id: String,
    pub machine_id: String,
    pub consumer_account_id: String,
    pub amount_micro_usd: i64,
    pub kind: EarningKind,
    #[serde(default)]
    pub pinned: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub at: Timestamp,
}

/// A probe verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub probe_id: String,
    pub machine_id: String,
    pub at: Timestamp,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_memory_gb: Option<u32>,
    /// `"prober"` for floorline's own prober (§2 trust boundary); absent for
    /// the coordinator's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The previous epoch's total of one machine (organic earned + draws).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousTotal {
    pub machine_id: String,
    pub total_micro_usd: i64,
}

/// The facts bundle of SPEC §8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub epoch: EpochId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyPatch>,
    #[serde(default)]
    pub machines: Vec<Attestation>,
    #[serde(default)]
    pub aliases: Vec<Alias>,
    #[serde(default)]
    pub bindings: Vec<Binding>,
    #[serde(default)]
    pub sessions: Vec<Session>,
    #[serde(default)]
    pub health: Vec<Health>,
    #[serde(default)]
    pub earnings: Vec<Earning>,
    #[serde(default)]
    pub probes: Vec<Probe>,
    #[serde(default)]
    pub prior_draws: Vec<PriorDraw>,
    #[serde(default)]
    pub previous_totals: Vec<PreviousTotal>,
}

/// Parses JSON into `T`, naming the path of the first problem (`earnings[3].at`).
pub fn parse_json<T: serde::de::DeserializeOwned>(text: &str, root: &str) -> Result<T, CoreError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let full = e.path().to_string();
        // A problem inside a map key (`{"epoch": "2026-10", -1`) or in an
        // empty key has no name (`?`, ``): name the map that holds it.
        let mut path = full.as_str();
        while let Some(parent) = path.strip_suffix(".?") {
            path = parent;
        }
        if path == "?" || path.is_empty() {
            path = ".";
        }
        let path = match (root.is_empty(), path) {
            (true, ".") => "bundle".to_string(),
            (true, _) => path.to_string(),
            (false, ".") => root.to_string(),
            (false, p) if p.starts_with('[') => format!("{root}{p}"),
            (false, p) => format!("{root}.{p}"),
        };
        CoreError::invalid(path, e.inner().to_string())
    })
}

/// Field-level checks of one fact (identifiers, signs, order of times).
pub trait Check {
    /// Pushes every problem of this item, with `path` as its prefix (`earnings[3]`).
    fn check(&self, path: &str, errs: &mut Vec<Invalid>);
}

fn id(errs: &mut Vec<Invalid>, path: &str, field: &str, v: &str) {
    if let Err(m) = check_id(v) {
        errs.push(Invalid::new(format!("{path}.{field}"), m));
    }
}

fn text(errs: &mut Vec<Invalid>, path: &str, field: &str, v: Option<&str>) {
    if v.is_some_and(|v| v.len() > MAX_TEXT_LEN) {
        errs.push(Invalid::new(
            format!("{path}.{field}"),
            format!("longer than {MAX_TEXT_LEN} bytes"),
        ));
    }
    // PostgreSQL cannot store NUL in text: refuse it on every backend alike
    // rather than answer 500 on one of them.
    if v.is_some_and(|v| v.contains('\0')) {
        errs.push(Invalid::new(
            format!("{path}.{field}"),
            "must not contain NUL characters",
        ));
    }
}

fn not_before(
    errs: &mut Vec<Invalid>,
    path: &str,
    field: &str,
    v: Option<Timestamp>,
    other: &str,
    base: Timestamp,
) {
    if v.is_some_and(|v| v < base) {
        errs.push(Invalid::new(
            format!("{path}.{field}"),
            format!("must be ≥ {other}"),
        ));
    }
}

impl Check for Attestation {
    fn check(&self, path: &str, errs: &mut Vec<Invalid>) {
        id(errs, path, "machine_id", &self.machine_id);
        text(errs, path, "hardware_model", Some(&self.hardware_model));
        if let Some(key) = &self.se_public_key {
            if let Err(m) = SeKey::parse(key) {
                errs.push(Invalid::new(format!("{path}.se_public_key"), m));
            }
        }
    }
}

impl Check for Alias {
    fn check(&self, path: &str, errs: &mut Vec<Invalid>) {
        id(errs, path, "provider_key", &self.provider_key);
        id(errs, path, "machine_id", &self.machine_id);
    }
}

impl Check for Binding {
    fn check(&self, path: &str, errs: &mut Vec<Invalid>) {
        id(errs, path, "machine_id", &self.machine_id);
        id(errs, path, "account_id", &self.account_id);
        id(errs, path, "payout_identity", &self.payout_identity);
        if self.to.is_some_and(|to| to <= self.from) {
            errs.push(Invalid::new(format!("{path}.to"), "must be after from"));
        }
    }
}

impl Check for Session {
    fn check(&self, path: &str, errs: &mut Vec<Invalid>) {
        id(errs, path, "session_id", &self.session_id);
        id(errs, path, "machine_id", &self.machine_id);
        not_before(
            errs,
            path,
            "last_seen_at",
            self.last_seen_at,
            "connected_at",
            self.connected_at,
        );
        not_before(
            errs,
            path,
            "disconnected_at",
            self.disconnected_at,
            "connected_at",
            self.connected_at,
        );
    }
}

impl Check for Health {
    fn check(&self, path: &str, errs: &mut Vec<Invalid>) {
        id(errs, path, "machine_id", &self.machine_id);
        text(errs, path, "reason", self.reason.as_deref());
    }
}

// One conversion per fact, bundle record → the core fact of its machine, for
// both readers of records: `Bundle::resolve` here and the store's load.

impl From<Attestation> for AttestationFact {
    fn from(a: Attestation) -> AttestationFact {
        AttestationFact {
            attested_at_ms: a.attested_at.0,
            hardware_model: a.hardware_model,
            reported_memory_gb: a.reported_memory_gb,
            trust: a.trust,
            se_public_key: a.se_public_key,
        }
    }
}

impl From<Binding> for BindingFact {
    fn from(b: Binding) -> BindingFact {
        BindingFact {
            account_id: b.account_id,
            payout_identity: b.payout_identity,
            from_ms: b.from.0,
            to_ms: b.to.map(|t| t.0),
        }
    }
}

impl From<Session> for SessionFact {
    fn from(s: Session) -> SessionFact {
        SessionFact {
            connected_at_ms: s.connected_at.0,
            last_seen_at_ms: s.last_seen_at.map(|t| t.0),
            disconnected_at_ms: s.disconnected_at.map(|t| t.0),
        }
    }
}

impl From<Health> for HealthFact {
    fn from(h: Health) -> HealthFact {
        HealthFact {
            at_ms: h.at.0,
            healthy: h.healthy,
        }
    }
}

impl From<Probe> for ProbeFact {
    /// `own` when floorline's own prober wrote it (§2 trust boundary).
    fn from(p: Probe) -> ProbeFact {
        ProbeFact {
            own: p.source.as_deref() == Some(PROBER_SOURCE),
            probe_id: p.probe_id,
            at_ms: p.at.0,
            passed: p.passed,
            verified_memory_gb: p.verified_memory_gb,
        }
    }
}

impl From<Earning> for RawEarning {
    /// The parts of an earning its machine's valuation reads (D9).
    fn from(e: Earning) -> RawEarning {
        RawEarning {
            consumer_account_id: e.consumer_account_id,
            kind: e.kind,
            pinned: e.pinned,
            amount_micro_usd: e.amount_micro_usd,
            at_ms: e.at.0,
        }
    }
}

impl Check for Earning {
    fn check(&self, path: &str, errs: &mut Vec<Invalid>) {
        id(errs, path, "job_id", &self.job_id);
        id(errs, path, "machine_id", &self.machine_id);
        id(errs, path, "consumer_account_id", &self.consumer_account_id);
        if self.amount_micro_usd < 0 {
            errs.push(Invalid::new(
                format!("{path}.amount_micro_usd"),
                "must be ≥ 0",
            ));
        }
        text(errs, path, "model", self.model.as_deref());
    }
}

impl Check for Probe {
    fn check(&self, path: &str, errs: &mut Vec<Invalid>) {
        id(errs, path, "probe_id", &self.probe_id);
        id(errs, path, "machine_id", &self.machine_id);
        text(errs, path, "failure", self.failure.as_deref());
        text(errs, path, "model", self.model.as_deref());
        if let Some(source) = &self.source {
            id(errs, path, "source", source);
        }
        // §2: a pass names no failure; a failure names one and proves no memory.
        match (self.passed, &self.failure) {
            (true, Some(_)) => errs.push(Invalid::new(
                format!("{path}.failure"),
                "a passed probe has no failure",
            )),
            (false, None) => errs.push(Invalid::new(
                format!("{path}.failure"),
                "a failed probe must name its failure",
            )),
            _ => {}
        }
        if !self.passed && self.verified_memory_gb.is_some() {
            errs.push(Invalid::new(
                format!("{path}.verified_memory_gb"),
                "a failed probe verifies no memory",
            ));
        }
    }
}

impl Check for PriorDraw {
    fn check(&self, path: &str, errs: &mut Vec<Invalid>) {
        id(errs, path, "machine_id", &self.machine_id);
        id(errs, path, "account_id", &self.account_id);
        if self.amount_micro_usd < 0 {
            errs.push(Invalid::new(
                format!("{path}.amount_micro_usd"),
                "must be ≥ 0",
            ));
        }
    }
}

impl Check for PreviousTotal {
    fn check(&self, path: &str, errs: &mut Vec<Invalid>) {
        id(errs, path, "machine_id", &self.machine_id);
        if self.total_micro_usd < 0 {
            errs.push(Invalid::new(
                format!("{path}.total_micro_usd"),
                "must be ≥ 0",
            ));
        }
    }
}

/// Resolves machine names (ids or provider-key aliases) to machine ids.
pub struct Resolver {
    machines: BTreeSet<String>,
    aliases: HashMap<String, String>,
}

impl Resolver {
    pub fn new(machines: BTreeSet<String>, aliases: HashMap<String, String>) -> Resolver {
        Resolver { machines, aliases }
    }

    /// The machine id a fact names, or `None` for an unknown name (D1).
    pub fn resolve(&self, name: &str) -> Option<&str> {
        if let Some(m) = self.machines.get(name) {
            return Some(m.as_str());
        }
        self.aliases.get(name).map(String::as_str)
    }
}

/// Keeps the first of identical facts and reports a conflict for a differing payload.
struct Dedup<K, V> {
    seen: HashMap<K, (usize, V)>,
}

impl<K: std::hash::Hash + Eq, V: PartialEq> Dedup<K, V> {
    fn new() -> Self {
        Dedup {
            seen: HashMap::new(),
        }
    }

    /// `true` if the item is new; pushes a conflict error if it clashes.
    fn admit(
        &mut self,
        key: K,
        value: V,
        i: usize,
        kind: &str,
        field: &str,
        errs: &mut Vec<Invalid>,
    ) -> bool {
        match self.seen.get(&key) {
            None => {
                self.seen.insert(key, (i, value));
                true
            }
            Some((first, v)) if *v == value => {
                let _ = first;
                false
            }
            Some((first, _)) => {
                errs.push(Invalid::new(
                    format!("{kind}[{i}].{field}"),
                    format!("conflicts with {kind}[{first}]: same key, different payload"),
                ));
                false
            }
        }
    }
}

/// Adds `amount` to a running total; the first amount that takes it past
/// `i64::MAX` is reported at `path` (later ones are not: the total is gone).
fn sum_or_flag(
    total: Option<i64>,
    amount: i64,
    path: &str,
    errs: &mut Vec<Invalid>,
) -> Option<i64> {
    let sum = total?.checked_add(amount);
    if sum.is_none() {
        errs.push(Invalid::new(
            path,
            "the amounts of this kind add up past i64::MAX µUSD",
        ));
    }
    sum
}

fn check_all<T: Check>(items: &[T], kind: &str, errs: &mut Vec<Invalid>) {
    for (i, item) in items.iter().enumerate() {
        item.check(&format!("{kind}[{i}]"), errs);
    }
}

impl Bundle {
    /// Parses a bundle from JSON text (paths of errors name the item and field).
    pub fn from_json(text: &str) -> Result<Bundle, CoreError> {
        // serde would also read a struct from a positional array (`["2026-10",
        // …]`), whose error paths (`[0]`) name nothing: only objects are bundles.
        if !text.trim_start().starts_with('{') {
            return Err(CoreError::invalid(
                "bundle",
                "must be a JSON object {\"epoch\", \"machines\", …}",
            ));
        }
        parse_json(text, "")
    }

    /// Validates the whole bundle and resolves it into the facts of its epoch.
    pub fn resolve(&self, policy: &Policy) -> Result<EpochFacts, CoreError> {
        let mut errs = Vec::new();
        check_all(&self.machines, "machines", &mut errs);
        check_all(&self.aliases, "aliases", &mut errs);
        check_all(&self.bindings, "bindings", &mut errs);
        check_all(&self.sessions, "sessions", &mut errs);
        check_all(&self.health, "health", &mut errs);
        check_all(&self.earnings, "earnings", &mut errs);
        check_all(&self.probes, "probes", &mut errs);
        check_all(&self.prior_draws, "prior_draws", &mut errs);
        check_all(&self.previous_totals, "previous_totals", &mut errs);
        if !errs.is_empty() {
            return Err(CoreError::Invalid(errs));
        }

        // D1: machines are what has been attested; aliases name them.
        let mut machines: BTreeMap<String, MachineFacts> = BTreeMap::new();
        let mut dedup = Dedup::new();
        for (i, a) in self.machines.iter().enumerate() {
            if dedup.admit(
                (a.machine_id.clone(), a.attested_at),
                a.clone(),
                i,
                "machines",
                "attested_at",
                &mut errs,
            ) {
                machines
                    .entry(a.machine_id.clone())
                    .or_insert_with(|| MachineFacts {
                        machine_id: a.machine_id.clone(),
                        ..MachineFacts::default()
                    });
                if let Some(m) = machines.get_mut(&a.machine_id) {
                    m.attestations.push(AttestationFact::from(a.clone()));
                }
            }
        }
        let names: BTreeSet<String> = machines.keys().cloned().collect();
        let mut aliases = HashMap::new();
        let mut dedup = Dedup::new();
        for (i, a) in self.aliases.iter().enumerate() {
            if !names.contains(&a.machine_id) {
                errs.push(Invalid::new(
                    format!("aliases[{i}].machine_id"),
                    format!("unknown machine `{}`", a.machine_id),
                ));
            } else if dedup.admit(
                a.provider_key.clone(),
                a.clone(),
                i,
                "aliases",
                "provider_key",
                &mut errs,
            ) {
                aliases.insert(a.provider_key.clone(), a.machine_id.clone());
            }
        }
        let resolver = Resolver::new(names, aliases);
        let resolve =
            |kind: &str, i: usize, name: &str, errs: &mut Vec<Invalid>| -> Option<String> {
                let found = resolver.resolve(name).map(str::to_string);
                if found.is_none() {
                    errs.push(Invalid::new(
                        format!("{kind}[{i}].machine_id"),
                        format!("unknown machine `{name}`"),
                    ));
                }
                found
            };

        // D2: bindings, no overlaps per machine.
        let mut by_machine: BTreeMap<String, Vec<(usize, Binding)>> = BTreeMap::new();
        let mut dedup = Dedup::new();
        for (i, b) in self.bindings.iter().enumerate() {
            let Some(m) = resolve("bindings", i, &b.machine_id, &mut errs) else {
                continue;
            };
            let b = Binding {
                machine_id: m.clone(),
                ..b.clone()
            };
            if dedup.admit(
                (m.clone(), b.from),
                b.clone(),
                i,
                "bindings",
                "from",
                &mut errs,
            ) {
                by_machine.entry(m).or_default().push((i, b));
            }
        }
        for (m, mut list) in by_machine {
            list.sort_by_key(|(_, b)| b.from);
            for pair in list.windows(2) {
                if let [(i, a), (j, b)] = pair {
                    if a.to.is_none_or(|to| b.from < to) {
                        errs.push(Invalid::new(
                            format!("bindings[{j}].from"),
                            format!("overlaps bindings[{i}] of machine `{m}`"),
                        ));
                    }
                }
            }
            if let Some(mf) = machines.get_mut(&m) {
                mf.bindings
                    .extend(list.into_iter().map(|(_, b)| BindingFact::from(b)));
            }
        }

        // D9/D14 read the links of the bindings with `from < E`.
        let windows = Windows::new(self.epoch, policy);
        let payout_accounts = payout_links(
            windows.end_ms,
            machines.values().flat_map(|m| {
                m.bindings
                    .iter()
                    .map(|b| (b.payout_identity.as_str(), b.account_id.as_str(), b.from_ms))
            }),
        );

        let mut dedup = Dedup::new();
        for (i, s) in self.sessions.iter().enumerate() {
            let Some(m) = resolve("sessions", i, &s.machine_id, &mut errs) else {
                continue;
            };
            let s = Session {
                machine_id: m.clone(),
                ..s.clone()
            };
            if dedup.admit(
                s.session_id.clone(),
                s.clone(),
                i,
                "sessions",
                "session_id",
                &mut errs,
            ) {
                if let Some(mf) = machines.get_mut(&m) {
                    mf.sessions.push(SessionFact::from(s));
                }
            }
        }
        let mut dedup = Dedup::new();
        for (i, h) in self.health.iter().enumerate() {
            let Some(m) = resolve("health", i, &h.machine_id, &mut errs) else {
                continue;
            };
            let h = Health {
                machine_id: m.clone(),
                ..h.clone()
            };
            if dedup.admit((m.clone(), h.at), h.clone(), i, "health", "at", &mut errs) {
                if let Some(mf) = machines.get_mut(&m) {
                    mf.health.push(HealthFact::from(h));
                }
            }
        }
        let mut dedup = Dedup::new();
        for (i, p) in self.probes.iter().enumerate() {
            let Some(m) = resolve("probes", i, &p.machine_id, &mut errs) else {
                continue;
            };
            let p = Probe {
                machine_id: m.clone(),
                ..p.clone()
            };
            if dedup.admit(
                p.probe_id.clone(),
                p.clone(),
                i,
                "probes",
                "probe_id",
                &mut errs,
            ) {
                if let Some(mf) = machines.get_mut(&m) {
                    mf.probes.push(ProbeFact::from(p));
                }
            }
        }
        let mut raw: BTreeMap<String, Vec<RawEarning>> = BTreeMap::new();
        let mut dedup = Dedup::new();
        // The plan sums amounts; sums past `i64::MAX` are bad input naming the
        // item that tips them over, not an overflow deep inside the plan.
        let mut earned_total = Some(0i64);
        for (i, e) in self.earnings.iter().enumerate() {
            let Some(m) = resolve("earnings", i, &e.machine_id, &mut errs) else {
                continue;
            };
            let e = Earning {
                machine_id: m.clone(),
                ..e.clone()
            };
            if dedup.admit(
                e.job_id.clone(),
                e.clone(),
                i,
                "earnings",
                "job_id",
                &mut errs,
            ) {
                earned_total = sum_or_flag(
                    earned_total,
                    e.amount_micro_usd,
                    &format!("earnings[{i}].amount_micro_usd"),
                    &mut errs,
                );
                raw.entry(m).or_default().push(RawEarning::from(e));
            }
        }
        let mut prior_draws = Vec::new();
        let mut prior_total = Some(0i64);
        for (i, d) in self.prior_draws.iter().enumerate() {
            prior_total = sum_or_flag(
                prior_total,
                d.amount_micro_usd,
                &format!("prior_draws[{i}].amount_micro_usd"),
                &mut errs,
            );
            let Some(m) = resolve("prior_draws", i, &d.machine_id, &mut errs) else {
                continue;
            };
            prior_draws.push(PriorDraw {
                machine_id: m,
                ..d.clone()
            });
        }
        let mut dedup = Dedup::new();
        for (i, p) in self.previous_totals.iter().enumerate() {
            let Some(m) = resolve("previous_totals", i, &p.machine_id, &mut errs) else {
                continue;
            };
            if dedup.admit(
                m.clone(),
                p.total_micro_usd,
                i,
                "previous_totals",
                "machine_id",
                &mut errs,
            ) {
                if let Some(mf) = machines.get_mut(&m) {
                    mf.previous_total_micro_usd = p.total_micro_usd;
                }
            }
        }
        if !errs.is_empty() {
            return Err(CoreError::Invalid(errs));
        }

        for (m, list) in raw {
            if let Some(mf) = machines.get_mut(&m) {
                mf.earnings = organic_earnings(&windows, &mf.bindings, &payout_accounts, list)?;
            }
        }
        Ok(EpochFacts {
            epoch: self.epoch,
            machines: machines.into_values().collect(),
            payout_accounts,
            prior_draws,
        })
    }

    /// The policy this bundle plans under: defaults ← bundle ← `overrides`, key by key.
    pub fn policy(&self, overrides: &PolicyPatch) -> Result<Policy, CoreError> {
        let merged = self.policy.clone().unwrap_or_default().overlay(overrides);
        Policy::default().patched(&merged, "policy")
    }
}

/// Parses, validates and plans a bundle: what `floorline plan` does.
pub fn plan_bundle(text: &str, overrides: &PolicyPatch) -> Result<crate::plan::Plan, CoreError> {
    let bundle = Bundle::from_json(text)?;
    let policy = bundle.policy(overrides)?;
    let facts = bundle.resolve(&policy)?;
    crate::plan::plan(&facts, &policy)
}
