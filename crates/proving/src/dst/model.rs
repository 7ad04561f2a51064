//! The reference model: what the store should hold after every step, kept in
//! plain maps by rules restated from SPEC §2, §5, §6 and §9 — not by calling
//! the store.
//!
//! - Facts: first writer wins per key; an identical re-send is a duplicate,
//!   a different payload under a stored key (or an earlier key of the same
//!   batch) is a conflict and is not applied; a batch with any bad item, an
//!   unresolvable machine name or an overlapping binding is rejected whole.
//! - Settlement: a committed run of epoch `e` — a month, or a period of the
//!   policy's length (SPEC §10) — equals `floorline_core::plan` over the
//!   model's facts, with prior draws = the model's draws of `e` (the draws of
//!   the earlier committed live runs) and previous totals = the machine
//!   totals the latest live run of `e.previous()` (the previous unit of the
//!   same length, across months) left. A live run adds one draw, one ledger
//!   credit and one base-reward earning (dated `e`'s last millisecond) per
//!   granted share, and replaces the unit's machine totals.
//! - `settle_month` (D24): every closed period of the month without a live
//!   run, in order, one run each, stopping at the first refusal
//!   ([`Model::month_to_settle`]).
//!
//! The only thing taken from the system under test is the id a run got.

use std::collections::{BTreeMap, BTreeSet};

use floorline_core::bundle::{
    Alias, Attestation, Binding, Bundle, Earning, Health, PreviousTotal, Probe, Session,
};
use floorline_core::facts::{EarningKind, PriorDraw};
use floorline_core::Watermark;
use floorline_core::{plan, CoreError, EpochId, Plan, Policy, Timestamp};
use floorline_store::RunMode;

use super::gen::FactBatch;

/// What an ingestion call should answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestExpect {
    /// Rejected whole; nothing written.
    Invalid(String),
    Report {
        accepted: u64,
        /// Refinements applied in place (SPEC §2).
        refined: u64,
        duplicates: u64,
        /// Batch indices of the conflicting items.
        conflicts: Vec<usize>,
    },
}

/// A settled draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDraw {
    pub amount_micro_usd: i64,
    pub verified_memory_gb: i64,
    pub run_id: i64,
}

/// A committed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRun {
    pub id: i64,
    pub epoch: EpochId,
    pub mode: RunMode,
    pub manifest_sha256: String,
    pub granted_total_micro_usd: i64,
    pub already_settled_micro_usd: i64,
    pub unallocated_micro_usd: i64,
}

/// A machine's epoch total as the latest live run wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelTotal {
    pub earned_micro_usd: i64,
    pub drawn_micro_usd: i64,
    pub total_micro_usd: i64,
}

/// A non-draw ledger entry (adjustment or clawback).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ModelAdjustment {
    pub account_id: String,
    pub amount_micro_usd: i64,
    pub kind: &'static str,
}

/// The facts accepted so far (resolved to machine ids), as a snapshot a
/// replay can ingest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FactSet {
    pub attestations: BTreeMap<(String, i64), Attestation>,
    pub aliases: BTreeMap<String, Alias>,
    pub bindings: BTreeMap<(String, i64), Binding>,
    pub sessions: BTreeMap<String, Session>,
    pub health: BTreeMap<(String, i64), Health>,
    pub earnings: BTreeMap<String, Earning>,
    pub probes: BTreeMap<String, Probe>,
}

impl FactSet {
    /// Every fact, as a bundle of `epoch` (no prior draws, no previous totals).
    pub fn bundle(&self, epoch: EpochId) -> Bundle {
        Bundle {
            epoch,
            policy: None,
            machines: self.attestations.values().cloned().collect(),
            aliases: self.aliases.values().cloned().collect(),
            bindings: self.bindings.values().cloned().collect(),
            sessions: self.sessions.values().cloned().collect(),
            health: self.health.values().cloned().collect(),
            earnings: self.earnings.values().cloned().collect(),
            probes: self.probes.values().cloned().collect(),
            prior_draws: vec![],
            previous_totals: vec![],
        }
    }

    pub fn n_facts(&self) -> usize {
        self.attestations.len()
            + self.aliases.len()
            + self.bindings.len()
            + self.sessions.len()
            + self.health.len()
            + self.earnings.len()
            + self.probes.len()
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct Model {
    pub policy: Policy,
    pub facts: FactSet,
    pub watermarks: BTreeMap<String, i64>,
    /// Base-reward earnings written by live runs, by job id.
    pub base_rewards: BTreeMap<String, (String, i64)>,
    /// The unit each base-reward earning was written for (its `at` is the
    /// unit's last millisecond; a 5-minute id holds a `:`, so the job id
    /// cannot be split to find it).
    pub base_reward_units: BTreeMap<String, EpochId>,
    pub draws: BTreeMap<(EpochId, String, String), ModelDraw>,
    pub totals: BTreeMap<EpochId, BTreeMap<String, ModelTotal>>,
    pub balances: BTreeMap<String, i64>,
    /// Adjustments by their idempotency identity.
    pub adjustments: BTreeMap<String, ModelAdjustment>,
    pub runs: Vec<ModelRun>,
}

/// `A–Z a–z 0–9 . _ : @ -`, 1–128 characters (SPEC §1).
pub fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".:_@-".contains(c))
}

/// The ledger reference of a share (SPEC §6).
pub fn reference(epoch: EpochId, machine: &str, account: &str) -> String {
    format!("floor:{epoch}:{machine}:{account}")
}

/// What the classification of a batch found: indices of new and refined
/// items, the number of duplicates, indices of conflicts.
struct Classified {
    fresh: Vec<usize>,
    refined: Vec<usize>,
    duplicates: u64,
    conflicts: Vec<usize>,
}

/// Sorts items one after another, as if sent in order, each against the
/// state of its key so far (the stored value, or the batch's last new or
/// refined item): new, a refinement (`refines(old, new)`, SPEC §2), a
/// duplicate, or a conflict.
fn classify<K: Ord + Clone, T: PartialEq>(
    stored: &BTreeMap<K, T>,
    items: &[(K, T)],
    refines: &dyn Fn(&T, &T) -> bool,
) -> Classified {
    let mut state: BTreeMap<K, &T> = BTreeMap::new();
    let mut out = Classified {
        fresh: Vec::new(),
        refined: Vec::new(),
        duplicates: 0,
        conflicts: Vec::new(),
    };
    for (i, (k, v)) in items.iter().enumerate() {
        match state.get(k).copied().or_else(|| stored.get(k)) {
            None => {
                out.fresh.push(i);
                state.insert(k.clone(), v);
            }
            Some(old) if old == v => out.duplicates += 1,
            Some(old) if refines(old, v) => {
                out.refined.push(i);
                state.insert(k.clone(), v);
            }
            Some(_) => out.conflicts.push(i),
        }
    }
    out
}

/// SPEC §2, restated: a session re-sent with a later (or equal)
/// `last_seen_at` and/or a first `disconnected_at`, nothing else changed.
fn session_refines(old: &Session, new: &Session) -> bool {
    let later = match (old.last_seen_at, new.last_seen_at) {
        (Some(o), Some(n)) => n >= o,
        (Some(_), None) => false,
        (None, _) => true,
    };
    old.machine_id == new.machine_id
        && old.connected_at == new.connected_at
        && later
        && (old.disconnected_at.is_none() || old.disconnected_at == new.disconnected_at)
}

/// SPEC §2, restated: a binding without `to` re-sent once with one.
fn binding_refines(old: &Binding, new: &Binding) -> bool {
    old.machine_id == new.machine_id
        && old.from == new.from
        && old.account_id == new.account_id
        && old.payout_identity == new.payout_identity
        && old.to.is_none()
        && new.to.is_some()
}

/// Never refined: every other kind.
fn never<T>(_: &T, _: &T) -> bool {
    false
}

/// Writes the new and refined items, in order (a later one wins); the
/// number of new ones.
fn apply<K: Ord + Clone, T: Clone>(
    map: &mut BTreeMap<K, T>,
    items: Vec<(K, T)>,
    c: &Classified,
) -> u64 {
    for (i, (k, v)) in items.into_iter().enumerate() {
        if c.fresh.contains(&i) || c.refined.contains(&i) {
            map.insert(k, v);
        }
    }
    u64::try_from(c.fresh.len()).unwrap_or(u64::MAX)
}

fn overlaps(a: &Binding, b: &Binding) -> bool {
    let before = |x: &Binding, y: &Binding| x.to.is_some_and(|to| to <= y.from);
    !(before(a, b) || before(b, a))
}

impl Model {
    pub fn new(policy: Policy) -> Model {
        Model {
            policy,
            facts: FactSet::default(),
            watermarks: BTreeMap::new(),
            base_rewards: BTreeMap::new(),
            base_reward_units: BTreeMap::new(),
            draws: BTreeMap::new(),
            totals: BTreeMap::new(),
            balances: BTreeMap::new(),
            adjustments: BTreeMap::new(),
            runs: Vec::new(),
        }
    }

    fn is_machine(&self, id: &str) -> bool {
        self.facts
            .attestations
            .range((id.to_string(), i64::MIN)..=(id.to_string(), i64::MAX))
            .next()
            .is_some()
    }

    /// A machine id for a name (machine ids first, then provider keys).
    pub fn resolve(&self, name: &str) -> Option<String> {
        if self.is_machine(name) {
            return Some(name.to_string());
        }
        self.facts.aliases.get(name).map(|a| a.machine_id.clone())
    }

    pub fn machine_ids(&self) -> BTreeSet<String> {
        self.facts
            .attestations
            .keys()
            .map(|(m, _)| m.clone())
            .collect()
    }

    /// Applies a batch as the store should, and says what it should answer.
    pub fn ingest(&mut self, batch: &FactBatch) -> IngestExpect {
        match batch {
            FactBatch::Attestations(v) => {
                if let Some(a) = v.iter().find(|a| !valid_id(&a.machine_id)) {
                    return IngestExpect::Invalid(format!("bad machine id {:?}", a.machine_id));
                }
                // D1: a provider key does not stop its name being attested
                // (the generator's keys are never machine ids, so the
                // re-homing of facts sent under such a name is not modelled).
                let items: Vec<_> = v
                    .iter()
                    .map(|a| ((a.machine_id.clone(), a.attested_at.0), a.clone()))
                    .collect();
                self.commit_kind(items, &never, |m| &mut m.facts.attestations)
            }
            FactBatch::Aliases(v) => {
                if let Some(a) = v
                    .iter()
                    .find(|a| !valid_id(&a.provider_key) || !valid_id(&a.machine_id))
                {
                    return IngestExpect::Invalid(format!("bad alias {a:?}"));
                }
                if let Some(a) = v.iter().find(|a| !self.is_machine(&a.machine_id)) {
                    return IngestExpect::Invalid(format!("unknown machine {}", a.machine_id));
                }
                // An alias whose provider key is a machine id is stored and
                // never applies (`resolve` takes machine ids first, D1).
                let items: Vec<_> = v
                    .iter()
                    .map(|a| (a.provider_key.clone(), a.clone()))
                    .collect();
                self.commit_kind(items, &never, |m| &mut m.facts.aliases)
            }
            FactBatch::Bindings(v) => {
                if let Some(b) = v.iter().find(|b| {
                    !valid_id(&b.machine_id)
                        || !valid_id(&b.account_id)
                        || !valid_id(&b.payout_identity)
                        || b.to.is_some_and(|to| to <= b.from)
                }) {
                    return IngestExpect::Invalid(format!("bad binding {b:?}"));
                }
                let Some(items) = self.resolved(v, |b| &b.machine_id, |b, m| b.machine_id = m)
                else {
                    return IngestExpect::Invalid(self.unknown(v.iter().map(|b| &b.machine_id)));
                };
                let keyed: Vec<_> = items
                    .into_iter()
                    .map(|b| ((b.machine_id.clone(), b.from.0), b))
                    .collect();
                let fresh = classify(&self.facts.bindings, &keyed, &binding_refines).fresh;
                for &i in &fresh {
                    let Some((_, x)) = keyed.get(i) else { continue };
                    let stored = self
                        .facts
                        .bindings
                        .values()
                        .any(|y| y.machine_id == x.machine_id && overlaps(x, y));
                    let batch = fresh.iter().any(|&j| {
                        j != i
                            && keyed.get(j).is_some_and(|(_, y)| {
                                y.machine_id == x.machine_id && overlaps(x, y)
                            })
                    });
                    if stored || batch {
                        return IngestExpect::Invalid(format!("overlapping binding {x:?}"));
                    }
                }
                self.commit_kind(keyed, &binding_refines, |m| &mut m.facts.bindings)
            }
            FactBatch::Sessions(v) => {
                if let Some(s) = v.iter().find(|s| {
                    !valid_id(&s.session_id)
                        || !valid_id(&s.machine_id)
                        || s.last_seen_at.is_some_and(|t| t < s.connected_at)
                        || s.disconnected_at.is_some_and(|t| t < s.connected_at)
                }) {
                    return IngestExpect::Invalid(format!("bad session {s:?}"));
                }
                let Some(items) = self.resolved(v, |s| &s.machine_id, |s, m| s.machine_id = m)
                else {
                    return IngestExpect::Invalid(self.unknown(v.iter().map(|s| &s.machine_id)));
                };
                let keyed = items
                    .into_iter()
                    .map(|s| (s.session_id.clone(), s))
                    .collect();
                self.commit_kind(keyed, &session_refines, |m| &mut m.facts.sessions)
            }
            FactBatch::Health(v) => {
                if let Some(h) = v.iter().find(|h| !valid_id(&h.machine_id)) {
                    return IngestExpect::Invalid(format!("bad health {h:?}"));
                }
                let Some(items) = self.resolved(v, |h| &h.machine_id, |h, m| h.machine_id = m)
                else {
                    return IngestExpect::Invalid(self.unknown(v.iter().map(|h| &h.machine_id)));
                };
                let keyed = items
                    .into_iter()
                    .map(|h| ((h.machine_id.clone(), h.at.0), h))
                    .collect();
                self.commit_kind(keyed, &never, |m| &mut m.facts.health)
            }
            FactBatch::Earnings(v) => {
                if let Some(e) = v.iter().find(|e| {
                    !valid_id(&e.job_id)
                        || !valid_id(&e.machine_id)
                        || !valid_id(&e.consumer_account_id)
                        || e.amount_micro_usd < 0
                        || e.job_id.starts_with("floor:")
                }) {
                    return IngestExpect::Invalid(format!("bad earning {e:?}"));
                }
                let Some(items) = self.resolved(v, |e| &e.machine_id, |e, m| e.machine_id = m)
                else {
                    return IngestExpect::Invalid(self.unknown(v.iter().map(|e| &e.machine_id)));
                };
                let keyed = items.into_iter().map(|e| (e.job_id.clone(), e)).collect();
                self.commit_kind(keyed, &never, |m| &mut m.facts.earnings)
            }
            FactBatch::Probes(v) => {
                if let Some(p) = v.iter().find(|p| {
                    !valid_id(&p.probe_id)
                        || !valid_id(&p.machine_id)
                        || p.passed == p.failure.is_some()
                        || (!p.passed && p.verified_memory_gb.is_some())
                }) {
                    return IngestExpect::Invalid(format!("bad probe {p:?}"));
                }
                let Some(items) = self.resolved(v, |p| &p.machine_id, |p, m| p.machine_id = m)
                else {
                    return IngestExpect::Invalid(self.unknown(v.iter().map(|p| &p.machine_id)));
                };
                let keyed = items.into_iter().map(|p| (p.probe_id.clone(), p)).collect();
                self.commit_kind(keyed, &never, |m| &mut m.facts.probes)
            }
            FactBatch::Watermarks(v) => self.ingest_watermarks(v),
        }
    }

    fn ingest_watermarks(&mut self, v: &[Watermark]) -> IngestExpect {
        if let Some(w) = v.iter().find(|w| !valid_id(&w.source)) {
            return IngestExpect::Invalid(format!("bad source {:?}", w.source));
        }
        let (mut accepted, mut duplicates, mut conflicts) = (0, 0, Vec::new());
        for (i, w) in v.iter().enumerate() {
            match self.watermarks.get(&w.source).copied() {
                Some(old) if old == w.up_to.0 => duplicates += 1,
                Some(old) if old > w.up_to.0 => conflicts.push(i),
                _ => {
                    self.watermarks.insert(w.source.clone(), w.up_to.0);
                    accepted += 1;
                }
            }
        }
        IngestExpect::Report {
            accepted,
            refined: 0,
            duplicates,
            conflicts,
        }
    }

    /// Names the first machine name that resolves to nothing.
    fn unknown<'a>(&self, mut names: impl Iterator<Item = &'a String>) -> String {
        names.find(|n| self.resolve(n).is_none()).map_or_else(
            || "unknown machine".into(),
            |n| format!("unknown machine {n}"),
        )
    }

    /// Copies of `items` with machine names resolved; `None` if any is unknown.
    fn resolved<T: Clone>(
        &self,
        items: &[T],
        name: impl Fn(&T) -> &String,
        set: impl Fn(&mut T, String),
    ) -> Option<Vec<T>> {
        items
            .iter()
            .map(|x| {
                let id = self.resolve(name(x))?;
                let mut y = x.clone();
                set(&mut y, id);
                Some(y)
            })
            .collect()
    }

    fn commit_kind<K: Ord + Clone, T: Clone + PartialEq>(
        &mut self,
        items: Vec<(K, T)>,
        refines: &dyn Fn(&T, &T) -> bool,
        map: impl Fn(&mut Model) -> &mut BTreeMap<K, T>,
    ) -> IngestExpect {
        let c = classify(map(self), &items, refines);
        let accepted = apply(map(self), items, &c);
        IngestExpect::Report {
            accepted,
            refined: u64::try_from(c.refined.len()).unwrap_or(u64::MAX),
            duplicates: c.duplicates,
            conflicts: c.conflicts,
        }
    }

    /// Sources whose watermark has not passed the end of `epoch`, sorted.
    pub fn lagging(&self, epoch: EpochId) -> Vec<String> {
        self.watermarks
            .iter()
            .filter(|(_, &up_to)| up_to < epoch.end().0)
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// The plan a run of `epoch` should commit now. With `before_run`, only
    /// draws of runs older than it count as prior (what `verify` recomputes).
    pub fn expected_plan(
        &self,
        epoch: EpochId,
        before_run: Option<i64>,
    ) -> Result<Plan, CoreError> {
        let mut b = self.facts.bundle(epoch);
        b.earnings.extend(
            self.base_rewards
                .iter()
                .map(|(job, (machine, amount))| Earning {
                    job_id: job.clone(),
                    machine_id: machine.clone(),
                    consumer_account_id: floorline_store::settle::BASE_REWARD_CONSUMER.to_string(),
                    amount_micro_usd: *amount,
                    kind: EarningKind::BaseReward,
                    pinned: false,
                    model: None,
                    at: Timestamp(self.base_reward_at(job)),
                }),
        );
        b.prior_draws = self
            .draws
            .iter()
            .filter(|((e, _, _), d)| *e == epoch && before_run.is_none_or(|r| d.run_id < r))
            .map(|((_, m, a), d)| PriorDraw {
                machine_id: m.clone(),
                account_id: a.clone(),
                amount_micro_usd: d.amount_micro_usd,
                verified_memory_gb: u32::try_from(d.verified_memory_gb).unwrap_or(0),
            })
            .collect();
        b.previous_totals = self
            .totals
            .get(&epoch.previous())
            .map(|t| {
                t.iter()
                    .filter(|(_, x)| x.total_micro_usd > 0)
                    .map(|(m, x)| PreviousTotal {
                        machine_id: m.clone(),
                        total_micro_usd: x.total_micro_usd,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let facts = b.resolve(&self.policy)?;
        plan(&facts, &self.policy)
    }

    /// Base rewards sit at the last millisecond of their unit.
    fn base_reward_at(&self, job: &str) -> i64 {
        self.base_reward_units.get(job).map_or(0, |e| e.end().0 - 1)
    }

    /// What `settle_month(month)` should do at `now`: the closed periods of
    /// the policy's length without a live run, in order, up to the first one
    /// a live settlement would refuse (watermarks lagging, unless `force`);
    /// and that refusal.
    pub fn month_to_settle(
        &self,
        month: EpochId,
        now: i64,
        force: bool,
    ) -> (Vec<EpochId>, Option<(EpochId, Vec<String>)>) {
        let period = self.policy.period;
        let mut out = Vec::new();
        for k in 0..month.periods_in_month(period) {
            let Ok(unit) = EpochId::period_of(month, period, k) else {
                break;
            };
            if now < unit.end().0 {
                break;
            }
            if self.live_runs(unit) > 0 {
                continue;
            }
            let lagging = self.lagging(unit);
            if !force && !lagging.is_empty() {
                return (out, Some((unit, lagging)));
            }
            out.push(unit);
        }
        (out, None)
    }

    /// Records a committed run whose plan is `plan` (the model's own plan).
    pub fn commit_run(&mut self, id: i64, mode: RunMode, plan: &Plan) {
        let epoch = plan.epoch;
        self.runs.push(ModelRun {
            id,
            epoch,
            mode,
            manifest_sha256: plan.manifest_sha256.clone(),
            granted_total_micro_usd: plan.granted_total_micro_usd,
            already_settled_micro_usd: plan.already_settled_micro_usd,
            unallocated_micro_usd: plan.unallocated_micro_usd,
        });
        if mode != RunMode::Live {
            return;
        }
        let mut totals = BTreeMap::new();
        for m in &plan.machines {
            for s in m.shares.iter().filter(|s| s.granted_micro_usd > 0) {
                self.draws.insert(
                    (epoch, m.machine_id.clone(), s.account_id.clone()),
                    ModelDraw {
                        amount_micro_usd: s.granted_micro_usd,
                        verified_memory_gb: i64::from(m.verified_memory_gb),
                        run_id: id,
                    },
                );
                *self.balances.entry(s.account_id.clone()).or_insert(0) += s.granted_micro_usd;
                let job = floorline_store::settle::base_reward_job_id(
                    epoch,
                    &m.machine_id,
                    &s.account_id,
                );
                self.base_reward_units.insert(job.clone(), epoch);
                self.base_rewards
                    .insert(job, (m.machine_id.clone(), s.granted_micro_usd));
            }
            let drawn = m.prior_micro_usd + m.granted_micro_usd;
            totals.insert(
                m.machine_id.clone(),
                ModelTotal {
                    earned_micro_usd: m.earned_micro_usd,
                    drawn_micro_usd: drawn,
                    total_micro_usd: m.earned_micro_usd + drawn,
                },
            );
        }
        self.totals.insert(epoch, totals);
    }

    /// Live runs of `epoch` so far.
    pub fn live_runs(&self, epoch: EpochId) -> usize {
        self.runs
            .iter()
            .filter(|r| r.epoch == epoch && r.mode == RunMode::Live)
            .count()
    }

    pub fn latest_run(&self, epoch: EpochId, mode: RunMode) -> Option<&ModelRun> {
        self.runs
            .iter()
            .rev()
            .find(|r| r.epoch == epoch && r.mode == mode)
    }

    /// Accounts that exist in the ledger or are named by a binding (may be adjusted).
    pub fn adjustable_accounts(&self) -> Vec<String> {
        let mut v: BTreeSet<String> = self.balances.keys().cloned().collect();
        v.extend(self.facts.bindings.values().map(|b| b.account_id.clone()));
        v.into_iter().collect()
    }

    /// Records an adjustment; `identity` makes a retried identical request a no-op.
    pub fn adjust(&mut self, identity: String, adj: ModelAdjustment) {
        if self.adjustments.contains_key(&identity) {
            return;
        }
        *self.balances.entry(adj.account_id.clone()).or_insert(0) += adj.amount_micro_usd;
        self.adjustments.insert(identity, adj);
    }
}
