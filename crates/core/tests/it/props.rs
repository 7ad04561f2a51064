//! One property test per money invariant of the plan (SPEC D3–D19).

use super::kit::*;
use floorline_core::facts::{
    organic_earnings, BindingFact, EarningKind, HealthFact, MachineFacts, OrganicEarnings,
    ProbeFact, RawEarning, SessionFact, Windows,
};
use floorline_core::money::Ppm;
use floorline_core::policy::{Allocation, Policy};
use floorline_core::{plan, EpochFacts, Plan};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const MODELS: &[(&str, u32)] = &[
    ("Mac14,2", 24),
    ("Mac16,10", 32),
    ("Mac16,8", 48),
    ("Mac16,11", 64),
    ("Mac14,5", 96),
    ("Mac15,9", 128),
    ("Mac15,14", 512),
    ("Mac14,3", 8),
    ("Vm9,9", 512),
];

fn arb_machine(i: usize) -> impl Strategy<Value = MachineFacts> {
    (
        0..MODELS.len(),
        prop::collection::vec((0i64..31 * DAY, 0i64..40 * DAY), 0..4),
        prop::collection::vec((0i64..31 * DAY, any::<bool>()), 0..3),
        prop::collection::vec((0i64..20_000_000, 0usize..3), 0..3),
        0usize..3,
        any::<bool>(),
        0i64..40_000_000,
        prop::option::of(0i64..31 * DAY),
    )
        .prop_map(
            move |(model, sessions, health, earnings, owner, probe, previous, handover)| {
                let (name, gb) = MODELS[model];
                let mut m = machine(&format!("m{i:02}"), name, gb);
                m.sessions = sessions
                    .into_iter()
                    .map(|(start, len)| SessionFact {
                        connected_at_ms: s() + start - DAY,
                        last_seen_at_ms: Some(s() + start - DAY + len),
                        disconnected_at_ms: None,
                    })
                    .collect();
                m.sessions.push(SessionFact {
                    connected_at_ms: s(),
                    last_seen_at_ms: Some(s() + 29 * DAY),
                    disconnected_at_ms: None,
                });
                m.health = health
                    .into_iter()
                    .map(|(at, ok)| HealthFact {
                        at_ms: s() + at,
                        healthy: ok,
                    })
                    .collect();
                m.earnings = earnings
                    .into_iter()
                    .map(|(amount, _)| organic(amount))
                    .fold(OrganicEarnings::default(), |a, b| a.checked_add(b).unwrap());
                let acct = format!("acct{owner}");
                m.bindings[0].account_id = acct.clone();
                m.bindings[0].payout_identity = format!("pay{owner}");
                if let Some(h) = handover {
                    m.bindings[0].to_ms = Some(s() + h);
                    m.bindings.push(BindingFact {
                        account_id: "acct-next".into(),
                        payout_identity: "pay-next".into(),
                        from_ms: s() + h,
                        to_ms: None,
                    });
                }
                if !probe {
                    m.probes = vec![ProbeFact {
                        probe_id: "x".into(),
                        at_ms: s(),
                        passed: false,
                        verified_memory_gb: None,
                        own: false,
                    }];
                }
                m.previous_total_micro_usd = previous;
                m
            },
        )
}

fn arb_facts() -> impl Strategy<Value = EpochFacts> {
    (1usize..9).prop_flat_map(|n| (0..n).map(arb_machine).collect::<Vec<_>>().prop_map(facts))
}

fn arb_policy() -> impl Strategy<Value = Policy> {
    (
        prop::bool::ANY,
        0i64..200_000_000,
        0i64..=1_000_000,
        prop::option::of(1i64..=1_000_000),
        0i64..=2_000_000,
        any::<bool>(),
    )
        .prop_map(|(waterfill, pool, reserve, cap, k, taper)| Policy {
            allocation: if waterfill {
                Allocation::Waterfill
            } else {
                Allocation::Priority
            },
            pool_micro_usd: pool,
            workhorse_reserve: Ppm(reserve),
            account_cap: Ppm(cap.unwrap_or(0)),
            reduction_k: Ppm(k),
            taper_enabled: taper,
            target_revenue_micro_usd: 50_000_000,
            ..Policy::default()
        })
}

fn sum_granted(p: &Plan) -> i64 {
    p.machines.iter().map(|m| m.granted_micro_usd).sum()
}

fn plan_ok(f: &EpochFacts, p: &Policy) -> Plan {
    plan(f, p).expect("plan")
}

/// The plan's final draws as prior draws of a re-run.
fn as_prior(f: &EpochFacts, p: &Plan) -> EpochFacts {
    let mut again = f.clone();
    for m in &p.machines {
        for s in m.shares.iter().filter(|s| s.granted_micro_usd > 0) {
            again.prior_draws.push(prior(
                &m.machine_id,
                &s.account_id,
                s.granted_micro_usd,
                m.verified_memory_gb,
            ));
        }
    }
    again
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn granted_never_exceeds_the_budget(f in arb_facts(), policy in arb_policy()) {
        let p = plan_ok(&f, &policy);
        let budget = (p.pool_micro_usd - p.already_settled_micro_usd).max(0);
        prop_assert!(p.granted_total_micro_usd <= budget);
        prop_assert_eq!(p.granted_total_micro_usd, sum_granted(&p));
        prop_assert_eq!(p.granted_total_micro_usd + p.unallocated_micro_usd, budget);
        prop_assert!(p.unallocated_micro_usd >= 0);
    }

    #[test]
    fn the_whole_budget_is_used_when_need_exceeds_it(f in arb_facts(), mut policy in arb_policy()) {
        policy.account_cap = Ppm(0);
        let p = plan_ok(&f, &policy);
        let need: i64 = p.machines.iter().flat_map(|m| &m.shares).map(|s| s.desired_micro_usd).sum();
        if need >= policy.pool_micro_usd {
            prop_assert_eq!(p.granted_total_micro_usd, policy.pool_micro_usd);
            prop_assert_eq!(p.unallocated_micro_usd, 0);
        }
    }

    #[test]
    fn grants_stay_within_desired(f in arb_facts(), policy in arb_policy()) {
        let p = plan_ok(&f, &policy);
        for m in &p.machines {
            let desired: i64 = m.shares.iter().map(|s| s.desired_micro_usd).sum();
            prop_assert!(desired <= m.desired_draw_micro_usd);
            for s in &m.shares {
                prop_assert!(0 <= s.granted_micro_usd && s.granted_micro_usd <= s.desired_micro_usd);
            }
            if !m.eligible {
                prop_assert!(m.shares.is_empty());
                prop_assert_eq!(m.granted_micro_usd, 0);
            }
        }
    }

    #[test]
    fn input_order_does_not_matter(f in arb_facts(), policy in arb_policy(), seed in any::<u64>()) {
        let mut shuffled = f.clone();
        let rot = |n: usize| if n == 0 { 0 } else { usize::try_from(seed % u64::try_from(n).unwrap()).unwrap() };
        let n = shuffled.machines.len();
        shuffled.machines.rotate_left(rot(n));
        shuffled.machines.reverse();
        for m in &mut shuffled.machines {
            m.sessions.reverse();
            m.health.reverse();
            let k = m.sessions.len();
            m.sessions.rotate_left(rot(k));
        }
        prop_assert_eq!(plan_ok(&f, &policy), plan_ok(&shuffled, &policy));
    }

    #[test]
    fn a_rerun_over_its_own_draws_grants_nothing_new(f in arb_facts(), policy in arb_policy()) {
        let first = plan_ok(&f, &policy);
        let again = plan_ok(&as_prior(&f, &first), &policy);
        prop_assert_eq!(again.granted_total_micro_usd, 0);
        prop_assert_eq!(&again.manifest_sha256, &first.manifest_sha256);
        prop_assert_eq!(again.already_settled_micro_usd, first.granted_total_micro_usd);
    }

    #[test]
    fn uptime_is_at_most_one(f in arb_facts()) {
        let p = plan_ok(&f, &Policy::default());
        for m in &p.machines {
            prop_assert!((0..=1_000_000).contains(&m.uptime_ppm));
            prop_assert!(m.floor_micro_usd <= m.tier_floor_micro_usd);
        }
    }

    #[test]
    fn more_uptime_never_lowers_a_floor(start in 0i64..31 * DAY, len in 0i64..31 * DAY, extra in 0i64..31 * DAY) {
        let mut m = m64("m");
        m.sessions = vec![SessionFact { connected_at_ms: s() + start, last_seen_at_ms: Some(s() + start + len), disconnected_at_ms: None }];
        let lower = plan_ok(&facts(vec![m.clone()]), &Policy::default());
        m.sessions[0].last_seen_at_ms = Some(s() + start + len + extra);
        let higher = plan_ok(&facts(vec![m]), &Policy::default());
        prop_assert!(higher.machines[0].uptime_ppm >= lower.machines[0].uptime_ppm);
        prop_assert!(higher.machines[0].floor_micro_usd >= lower.machines[0].floor_micro_usd);
    }

    #[test]
    fn more_verified_memory_never_lowers_a_tier_floor(a in 0u32..1024, b in 0u32..1024, floors in prop::collection::vec(0i64..50_000_000, 8)) {
        let mut sorted = floors.clone();
        sorted.sort_unstable();
        let mut policy = Policy::default();
        for (t, f) in policy.tiers.iter_mut().zip(sorted) {
            t.floor_micro_usd = f;
        }
        prop_assert!(policy.validate("policy").is_ok());
        let (lo, hi) = (a.min(b), a.max(b));
        prop_assert!(policy.tier_floor(hi) >= policy.tier_floor(lo));
    }

    #[test]
    fn more_organic_earnings_never_raise_a_draw(f in arb_facts(), policy in arb_policy(), extra in 1i64..30_000_000, which in 0usize..8) {
        prop_assume!(policy.reduction_k.0 > 0);
        let mut richer = f.clone();
        let i = which % richer.machines.len();
        richer.machines[i].earnings = richer.machines[i].earnings.checked_add(organic(extra)).unwrap();
        let before = plan_ok(&f, &policy);
        let after = plan_ok(&richer, &policy);
        prop_assert!(after.machines[i].desired_draw_micro_usd <= before.machines[i].desired_draw_micro_usd);
    }

    #[test]
    fn waterfill_leaves_no_share_at_zero_while_another_is_fully_funded(f in arb_facts(), pool in 0i64..200_000_000) {
        let policy = Policy { allocation: Allocation::Waterfill, workhorse_reserve: Ppm(0), pool_micro_usd: pool, ..Policy::default() };
        let p = plan_ok(&f, &policy);
        let units: Vec<_> = p.machines.iter().flat_map(|m| &m.shares).filter(|s| s.rank.is_some()).collect();
        prop_assume!(i64::try_from(units.len()).unwrap() <= pool);
        let any_full = units.iter().any(|s| s.granted_micro_usd == s.desired_micro_usd);
        let any_zero = units.iter().any(|s| s.granted_micro_usd == 0);
        prop_assert!(!(any_full && any_zero), "{:?}", units);
    }

    #[test]
    fn account_cap_is_never_exceeded_counting_prior_draws(f in arb_facts(), mut policy in arb_policy(), cap in 1i64..=300_000, earlier in 0i64..10_000_000) {
        policy.account_cap = Ppm(cap);
        let mut f = f;
        // An earlier run already paid acct0 through another machine.
        let mut old = m64("old");
        old.bindings[0].account_id = "acct0".into();
        f.machines.push(old);
        f.prior_draws.push(prior("old", "acct0", earlier, 64));
        let p = plan_ok(&f, &policy);
        let cap_amount = i64::try_from(i128::from(policy.pool_micro_usd) * i128::from(cap) / 1_000_000).unwrap();
        let mut per_account: BTreeMap<String, i64> = BTreeMap::new();
        for m in &p.machines {
            for s in &m.shares {
                *per_account.entry(s.account_id.clone()).or_default() += s.granted_micro_usd;
            }
        }
        for (account, granted) in per_account {
            let prior_amount = if account == "acct0" { earlier } else { 0 };
            prop_assert!(granted == 0 || granted + prior_amount <= cap_amount, "{account}: {granted} + {prior_amount} > {cap_amount}");
        }
    }
}

/// D9 read literally, one earning at a time: the owner at `at` is the binding
/// with `from ≤ at < to`; the earning is organic when it is a positive,
/// unpinned inference job whose consumer is neither that owner's account nor
/// linked to the owner's payout identity by any binding.
fn d9_literally(
    w: &Windows,
    bindings: &[BindingFact],
    links: &BTreeMap<String, BTreeSet<String>>,
    jobs: &[RawEarning],
) -> OrganicEarnings {
    let mut out = OrganicEarnings::default();
    for j in jobs {
        // Any binding of the machine with `from < E`, whenever the job was.
        let self_dealing = bindings.iter().filter(|b| b.from_ms < w.end_ms).any(|b| {
            j.consumer_account_id == b.account_id
                || links
                    .get(&b.payout_identity)
                    .is_some_and(|l| l.contains(&j.consumer_account_id))
        });
        let organic = j.kind == EarningKind::Inference
            && j.amount_micro_usd > 0
            && !j.pinned
            && !self_dealing;
        if !organic || j.at_ms >= w.end_ms {
            continue;
        }
        if j.at_ms >= w.start_ms {
            out.epoch_micro_usd += j.amount_micro_usd;
        }
        if j.at_ms >= w.trailing_start_ms {
            out.trailing_micro_usd += j.amount_micro_usd;
        }
        if j.at_ms >= w.work_start_ms {
            out.n_in_work_window += 1;
        }
    }
    out
}

fn arb_jobs() -> impl Strategy<Value = Vec<RawEarning>> {
    let kinds = [
        EarningKind::Inference,
        EarningKind::Probe,
        EarningKind::BaseReward,
    ];
    prop::collection::vec(
        (0usize..5, 0usize..3, any::<bool>(), 0i64..3, -50i64..33),
        0..24,
    )
    .prop_map(move |jobs| {
        jobs.into_iter()
            .map(|(c, k, pinned, amount, day)| RawEarning {
                consumer_account_id: ["acct0", "acct1", "acct2", "buyer", "linked"][c].into(),
                kind: kinds[k],
                pinned,
                amount_micro_usd: amount * 1_000_000,
                at_ms: s() + day * DAY + 1,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn organic_earnings_is_d9_read_literally(
        jobs in arb_jobs(),
        owners in prop::collection::vec((0usize..3, 0usize..2), 0..3),
        cut in 0i64..31,
        link_to in 0usize..3,
        policy in arb_policy(),
    ) {
        // Up to three consecutive owners of one machine, from days cut − 40,
        // cut and cut + 1 (earlier jobs have no owner); "linked" shares a
        // payout identity with some of them.
        let starts = [cut - 40, cut, cut + 1];
        let mut bindings: Vec<BindingFact> = owners
            .iter()
            .zip(starts)
            .map(|(&(acct, pay), day)| BindingFact {
                account_id: format!("acct{acct}"),
                payout_identity: format!("pay{pay}"),
                from_ms: s() + day * DAY,
                to_ms: None,
            })
            .collect();
        for i in 1..bindings.len() {
            bindings[i - 1].to_ms = Some(bindings[i].from_ms);
        }
        let mut links: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for b in &bindings {
            links.entry(b.payout_identity.clone()).or_default().insert(b.account_id.clone());
        }
        links.entry(format!("pay{}", link_to % 2)).or_default().insert("linked".into());
        let w = Windows::new(epoch(), &policy);
        let got = organic_earnings(&w, &bindings, &links, jobs.clone()).unwrap();
        prop_assert_eq!(got, d9_literally(&w, &bindings, &links, &jobs));
        let mut reversed = jobs.clone();
        reversed.reverse();
        prop_assert_eq!(organic_earnings(&w, &bindings, &links, reversed).unwrap(), got);
    }
}
