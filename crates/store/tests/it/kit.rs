//! Fact builders for epoch 2026-10: by default a machine is attested (64 GB,
//! hardware trust), bound to `acct-{id}`, connected all month and proven by a
//! passed probe, so it is eligible for the full 64 GB floor.

use floorline_core::bundle::{
    Alias, Attestation, Binding, Bundle, Earning, Health, Probe, Session,
};
use floorline_core::facts::{EarningKind, EpochFacts};
use floorline_core::policy::{Policy, Trust};
use floorline_core::{plan, EpochId, Plan, Timestamp};
use floorline_store::{RunMode, SettleOutcome, SettleRequest, Store, StoreError};

pub const DAY: i64 = 86_400_000;

pub fn epoch() -> EpochId {
    "2026-10".parse().unwrap()
}

pub fn s() -> i64 {
    epoch().start().0
}

pub fn e() -> i64 {
    epoch().end().0
}

pub fn ts(ms: i64) -> Timestamp {
    Timestamp(ms)
}

pub fn attestation(id: &str, gb: u32) -> Attestation {
    Attestation {
        machine_id: id.into(),
        attested_at: ts(s() - DAY),
        hardware_model: "Mac16,11".into(),
        reported_memory_gb: gb,
        trust: Trust::Hardware,
        se_public_key: None,
    }
}

pub fn binding(id: &str, account: &str, from: i64, to: Option<i64>) -> Binding {
    Binding {
        machine_id: id.into(),
        account_id: account.into(),
        payout_identity: format!("payee-{account}"),
        from: ts(from),
        to: to.map(ts),
    }
}

pub fn session(sid: &str, id: &str, from: i64, last_seen: i64) -> Session {
    Session {
        session_id: sid.into(),
        machine_id: id.into(),
        connected_at: ts(from),
        last_seen_at: Some(ts(last_seen)),
        disconnected_at: None,
    }
}

pub fn probe(pid: &str, id: &str, at: i64, passed: bool) -> Probe {
    Probe {
        probe_id: pid.into(),
        machine_id: id.into(),
        at: ts(at),
        passed,
        failure: (!passed).then(|| "wrong_answer".to_string()),
        model: None,
        verified_memory_gb: None,
        source: None,
    }
}

pub fn health(id: &str, at: i64, healthy: bool) -> Health {
    Health {
        machine_id: id.into(),
        at: ts(at),
        healthy,
        reason: None,
    }
}

pub fn earning(job: &str, id: &str, consumer: &str, amount: i64, at: i64) -> Earning {
    Earning {
        job_id: job.into(),
        machine_id: id.into(),
        consumer_account_id: consumer.into(),
        amount_micro_usd: amount,
        kind: EarningKind::Inference,
        pinned: false,
        model: Some("llama".into()),
        at: ts(at),
    }
}

pub fn alias(key: &str, id: &str) -> Alias {
    Alias {
        provider_key: key.into(),
        machine_id: id.into(),
        from: ts(s()),
    }
}

pub fn empty_bundle() -> Bundle {
    Bundle {
        epoch: epoch(),
        policy: None,
        machines: vec![],
        aliases: vec![],
        bindings: vec![],
        sessions: vec![],
        health: vec![],
        earnings: vec![],
        probes: vec![],
        prior_draws: vec![],
        previous_totals: vec![],
    }
}

/// Adds a ready machine (eligible for its tier's floor) to `b`.
pub fn add_ready(b: &mut Bundle, id: &str, gb: u32) {
    b.machines.push(attestation(id, gb));
    b.bindings
        .push(binding(id, &format!("acct-{id}"), s() - 10 * DAY, None));
    b.sessions
        .push(session(&format!("sess-{id}"), id, s() - DAY, e() + DAY));
    b.probes
        .push(probe(&format!("probe-{id}"), id, s() + DAY, true));
}

/// A fleet of `n` ready 64 GB machines `m000…`.
pub fn fleet(n: usize) -> Bundle {
    let mut b = empty_bundle();
    for i in 0..n {
        add_ready(&mut b, &format!("m{i:03}"), 64);
    }
    b
}

pub async fn ingest(store: &Store, b: &Bundle) {
    for (kind, r) in store.ingest_bundle(b).await.unwrap() {
        assert!(r.conflicts.is_empty(), "{kind}: {:?}", r.conflicts);
    }
}

pub fn pool(usd: i64) -> Policy {
    Policy {
        pool_micro_usd: usd * 1_000_000,
        ..Policy::default()
    }
}

pub fn live(actor: &str) -> SettleRequest {
    SettleRequest {
        mode: RunMode::Live,
        actor: actor.into(),
        now_ms: e() + DAY,
        forced: false,
    }
}

pub fn preview(actor: &str) -> SettleRequest {
    SettleRequest {
        mode: RunMode::Preview,
        ..live(actor)
    }
}

pub async fn settle(
    store: &Store,
    policy: &Policy,
    req: SettleRequest,
) -> Result<SettleOutcome, StoreError> {
    let p = policy.clone();
    store
        .settle(epoch(), policy, req, move |f: &EpochFacts| plan(f, &p))
        .await
}

pub fn plan_of(facts: &EpochFacts, policy: &Policy) -> Plan {
    plan(facts, policy).unwrap()
}

/// Sorts every list inside `EpochFacts` so two equal fact sets compare equal.
pub fn normalised(mut f: EpochFacts) -> EpochFacts {
    f.machines.sort_by(|a, b| a.machine_id.cmp(&b.machine_id));
    for m in &mut f.machines {
        m.attestations.sort_by_key(|a| a.attested_at_ms);
        m.bindings.sort_by_key(|b| b.from_ms);
        m.sessions
            .sort_by_key(|s| (s.connected_at_ms, s.last_seen_at_ms, s.disconnected_at_ms));
        m.health.sort_by_key(|h| h.at_ms);
        m.probes
            .sort_by(|a, b| (a.at_ms, &a.probe_id).cmp(&(b.at_ms, &b.probe_id)));
    }
    f.prior_draws
        .sort_by(|a, b| (&a.machine_id, &a.account_id).cmp(&(&b.machine_id, &b.account_id)));
    f
}

/// Row counts of the money tables and facts (for "nothing was written").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    pub draws: usize,
    pub entries: usize,
    pub runs: usize,
    pub balance_sum: i64,
    pub earnings_in_epoch: usize,
}

pub async fn counts(store: &Store, accounts: &[String]) -> Counts {
    let draws = store
        .draws(epoch(), 0, floorline_store::MAX_PAGE_LIMIT)
        .await
        .unwrap()
        .len();
    let mut entries = 0;
    let mut balance_sum = 0;
    for a in accounts {
        entries += store.ledger_entries(a).await.unwrap().len();
        balance_sum += store.balance(a).await.unwrap();
    }
    let runs = store.runs(None).await.unwrap().len();
    let earnings_in_epoch = store
        .export_bundle(epoch(), &Policy::default())
        .await
        .unwrap()
        .earnings
        .len();
    Counts {
        draws,
        entries,
        runs,
        balance_sum,
        earnings_in_epoch,
    }
}

pub fn accounts_of(b: &Bundle) -> Vec<String> {
    let mut v: Vec<String> = b.bindings.iter().map(|x| x.account_id.clone()).collect();
    v.sort();
    v.dedup();
    v
}

/// Σ balances = Σ ledger entries for each account, and Σ draws ≤ pool.
pub async fn assert_money_invariants(store: &Store, accounts: &[String], policy: &Policy) {
    for a in accounts {
        let sum: i64 = store
            .ledger_entries(a)
            .await
            .unwrap()
            .iter()
            .map(|e| e.amount_micro_usd)
            .sum();
        assert_eq!(store.balance(a).await.unwrap(), sum, "balance of {a}");
    }
    let mut drawn = 0;
    let mut offset = 0;
    loop {
        let page = store
            .draws(epoch(), offset, floorline_store::MAX_PAGE_LIMIT)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        offset += page.len() as u64;
        drawn += page.iter().map(|d| d.amount_micro_usd).sum::<i64>();
    }
    assert!(
        drawn <= policy.pool_micro_usd,
        "Σ draws {drawn} over the pool"
    );
}
