//! Who is who in the live fleet: where the planted cheaters sit among the
//! machine ids, which honest machine has which hardware (exactly the memory
//! mix, shuffled), and which accounts own which machines — most one, some
//! several, a few farms; about 1.5 % of the honest machines have none;
//! self-dealing pairs get two accounts that share one payout identity.
//!
//! Invariant: deterministic given the generator's random stream; every
//! cheater has a payout account.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::fleet::{CheatKind, Ownership};
use crate::models::{apportion, MixEntry};

/// What a machine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Honest(MixEntry),
    Cheat(CheatKind, usize),
    /// Pair number and side (0 or 1) of a self-dealing pair.
    SelfDeal(usize, usize),
}

/// The id and payout identity of account number `n`.
pub(super) fn account(n: usize) -> (String, String) {
    (format!("acct-{n:04}"), format!("payee-{n:04}"))
}

/// Every machine's role: the cheaters at random positions, the honest ones
/// with exactly the memory mix.
pub(super) fn assign_roles(rng: &mut StdRng, n: usize) -> Vec<Role> {
    let per = (n / 200).max(1);
    let mut cheats: Vec<Role> = Vec::new();
    for kind in [CheatKind::MemoryOverClaim, CheatKind::UnknownModelOverClaim] {
        cheats.extend((0..per).map(|i| Role::Cheat(kind, i)));
    }
    for pair in 0..per.div_ceil(2) {
        cheats.push(Role::SelfDeal(pair, 0));
        cheats.push(Role::SelfDeal(pair, 1));
    }
    for kind in [CheatKind::FlappingUptime, CheatKind::BadSignature] {
        cheats.extend((0..per).map(|i| Role::Cheat(kind, i)));
    }
    let mut honest: Vec<Role> = apportion(n.saturating_sub(cheats.len()))
        .into_iter()
        .flat_map(|(e, count)| std::iter::repeat_n(Role::Honest(e), count))
        .collect();
    honest.shuffle(rng);
    let mut roles = honest;
    for c in cheats {
        let at = rng.gen_range(0..=roles.len());
        roles.insert(at, c);
    }
    roles
}

/// Owners of the machines, by position.
pub(super) struct Owners {
    pub(super) by_machine: BTreeMap<usize, Ownership>,
    /// Self-dealers: the partner's account id (their jobs' consumer).
    pub(super) partner: BTreeMap<usize, String>,
    pub(super) next_account: usize,
}

/// Groups machines into accounts: most own one machine, some several, a
/// few farms; about 1.5 % have no payout account. Self-dealing pairs get two
/// accounts that share one payout identity.
pub(super) fn assign_accounts(rng: &mut StdRng, roles: &[Role]) -> Owners {
    let mut order: Vec<usize> = roles
        .iter()
        .enumerate()
        .filter(|(_, r)| !matches!(r, Role::SelfDeal(..)))
        .map(|(i, _)| i)
        .collect();
    order.shuffle(rng);
    // About 1.5 % of the honest machines have no payout account.
    let n_unbound = (order.len() * 15 / 1_000).max(1);
    let unbound: BTreeSet<usize> = order
        .iter()
        .filter(|i| matches!(roles.get(**i), Some(Role::Honest(_))))
        .take(n_unbound)
        .copied()
        .collect();
    let mut by_machine = BTreeMap::new();
    let mut next = 1;
    let mut it = order
        .iter()
        .filter(|i| !unbound.contains(i))
        .copied()
        .peekable();
    while it.peek().is_some() {
        let r = rng.gen_range(0..100);
        let size = match r {
            0..=69 => 1,
            70..=89 => 2,
            90..=96 => rng.gen_range(3..=5),
            _ => rng.gen_range(6..=12),
        };
        let (account_id, payout_identity) = account(next);
        next += 1;
        for i in it.by_ref().take(size) {
            by_machine.insert(
                i,
                Ownership {
                    account_id: account_id.clone(),
                    payout_identity: payout_identity.clone(),
                    from_ms: 0,
                    to_ms: None,
                },
            );
        }
    }
    let mut partner = BTreeMap::new();
    let pairs: BTreeSet<usize> = roles
        .iter()
        .filter_map(|r| match r {
            Role::SelfDeal(p, _) => Some(*p),
            _ => None,
        })
        .collect();
    for p in pairs {
        let (a, payee) = account(next);
        let (b, _) = account(next + 1);
        next += 2;
        let side = |s: usize| {
            roles
                .iter()
                .position(|r| *r == Role::SelfDeal(p, s))
                .unwrap_or(usize::MAX)
        };
        for (s, own, other) in [(0, &a, &b), (1, &b, &a)] {
            by_machine.insert(
                side(s),
                Ownership {
                    account_id: own.clone(),
                    payout_identity: payee.clone(),
                    from_ms: 0,
                    to_ms: None,
                },
            );
            partner.insert(side(s), other.clone());
        }
    }
    Owners {
        by_machine,
        partner,
        next_account: next,
    }
}
