//! Small builders for facts: one attested, fully available, bound, proven
//! machine by default; tests change what they are about.

use floorline_core::facts::{
    payout_links, AttestationFact, BindingFact, EpochFacts, HealthFact, MachineFacts,
    OrganicEarnings, PriorDraw, ProbeFact, SessionFact, Windows,
};
use floorline_core::policy::{Policy, Trust};
use floorline_core::{plan, EpochId, Plan};

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

/// T of October: 31 days.
pub fn t() -> i64 {
    e() - s()
}

/// A machine of `gb` on a model whose cap is at least `gb`, up all month,
/// owned by `acct-{id}`, with one passed probe.
pub fn machine(id: &str, model: &str, gb: u32) -> MachineFacts {
    MachineFacts {
        machine_id: id.into(),
        attestations: vec![AttestationFact {
            attested_at_ms: s() - DAY,
            hardware_model: model.into(),
            reported_memory_gb: gb,
            trust: Trust::Hardware,
            se_public_key: None,
        }],
        bindings: vec![BindingFact {
            account_id: format!("acct-{id}"),
            payout_identity: format!("payee-{id}"),
            from_ms: s() - 10 * DAY,
            to_ms: None,
        }],
        sessions: vec![SessionFact {
            connected_at_ms: s() - DAY,
            last_seen_at_ms: Some(e() + DAY),
            disconnected_at_ms: None,
        }],
        health: vec![],
        probes: vec![ProbeFact {
            probe_id: format!("p-{id}"),
            at_ms: s() + DAY,
            passed: true,
            verified_memory_gb: None,
            own: false,
        }],
        earnings: OrganicEarnings::default(),
        previous_total_micro_usd: 0,
    }
}

pub fn m64(id: &str) -> MachineFacts {
    machine(id, "Mac16,11", 64)
}

pub fn with_account(mut m: MachineFacts, account: &str) -> MachineFacts {
    m.bindings[0].account_id = account.into();
    m
}

/// Organic earnings of `amount` inside the epoch (so also in the trailing
/// and work windows).
pub fn organic(amount: i64) -> OrganicEarnings {
    OrganicEarnings {
        epoch_micro_usd: amount,
        trailing_micro_usd: amount,
        n_in_work_window: i64::from(amount > 0),
    }
}

pub fn facts(machines: Vec<MachineFacts>) -> EpochFacts {
    let payout_accounts = payout_links(
        epoch().end().0,
        machines.iter().flat_map(|m| {
            m.bindings
                .iter()
                .map(|b| (b.payout_identity.as_str(), b.account_id.as_str(), b.from_ms))
        }),
    );
    EpochFacts {
        epoch: epoch(),
        machines,
        payout_accounts,
        prior_draws: vec![],
    }
}

pub fn prior(machine_id: &str, account_id: &str, amount: i64, gb: u32) -> PriorDraw {
    PriorDraw {
        machine_id: machine_id.into(),
        account_id: account_id.into(),
        amount_micro_usd: amount,
        verified_memory_gb: gb,
    }
}

pub fn health(at_ms: i64, healthy: bool) -> HealthFact {
    HealthFact { at_ms, healthy }
}

pub fn run(f: &EpochFacts, p: &Policy) -> Plan {
    plan(f, p).unwrap()
}

pub fn pool(usd: i64) -> Policy {
    Policy {
        pool_micro_usd: usd * 1_000_000,
        ..Policy::default()
    }
}

pub fn windows(p: &Policy) -> Windows {
    Windows::new(epoch(), p)
}

pub fn granted(plan: &Plan, id: &str) -> i64 {
    plan.machines
        .iter()
        .find(|m| m.machine_id == id)
        .unwrap()
        .granted_micro_usd
}
