//! Conformance of the loader: for random facts, the organic earnings the SQL
//! sums equal `floorline_core::facts::organic_earnings`, `load_epoch_facts` equals
//! `Bundle::resolve` of the same raw facts (after the window filters, which
//! change no plan), and `Bundle::resolve(export_bundle)` equals
//! `load_epoch_facts` — also once prior draws and previous totals exist.

use std::collections::{BTreeMap, HashMap};

use floorline_core::bundle::{Bundle, Earning};
use floorline_core::facts::{
    group_earnings, organic_earnings, self_accounts, EarningKind, EpochFacts, RawEarning, Windows,
};
use floorline_core::policy::{Policy, Trust};
use floorline_core::EpochId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::both;
use crate::harness::Ctx;
use crate::kit::*;

const MODELS: &[&str] = &["Mac16,11", "Mac14,9", "Mac13,2", "Unknown9,9", ""];
const GBS: &[u32] = &[16, 24, 32, 48, 64, 96, 128, 192];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn pick_name(rng: &mut StdRng, names: &[String]) -> String {
    names[rng.gen_range(0..names.len())].clone()
}

/// Random raw facts around epoch 2026-10 (every window edge is reachable).
pub fn random_facts(seed: u64) -> Bundle {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut b = empty_bundle();
    let n = rng.gen_range(1..=25);
    let span = |rng: &mut StdRng, lo_days: i64, hi_days: i64| {
        rng.gen_range(s() + lo_days * DAY..s() + hi_days * DAY)
    };
    for i in 0..n {
        let m = format!("m{i}");
        let n_att = rng.gen_range(1..=3);
        let mut times: Vec<i64> = (0..n_att).map(|_| span(&mut rng, -60, 35)).collect();
        times.sort();
        times.dedup();
        for t in times {
            let mut a = attestation(&m, *pick(&mut rng, GBS));
            a.attested_at = ts(t);
            a.hardware_model = pick(&mut rng, MODELS).to_string();
            a.trust = *pick(&mut rng, &[Trust::None, Trust::SelfSigned, Trust::Hardware]);
            b.machines.push(a);
        }
        let mut names = vec![m.clone()];
        for k in 0..rng.gen_range(0..3) {
            let key = format!("pk-{i}-{k}");
            b.aliases.push(alias(&key, &m));
            names.push(key);
        }
        // Consecutive, non-overlapping bindings.
        let mut from = span(&mut rng, -70, 10);
        for k in 0..rng.gen_range(0..4) {
            let account = format!("a{}", rng.gen_range(0..8));
            let to = (rng.gen_bool(0.6)).then(|| from + rng.gen_range(1..20 * DAY));
            let mut x = binding(&pick_name(&mut rng, &names), &account, from, to);
            // Some payout identities link several accounts (D9).
            x.payout_identity = format!("payee-{}", rng.gen_range(0..5));
            b.bindings.push(x);
            match to {
                Some(t) => from = t + if k % 2 == 0 { 0 } else { rng.gen_range(0..DAY) },
                None => break,
            }
        }
        for k in 0..rng.gen_range(0..5) {
            let c = span(&mut rng, -40, 33);
            let mut x = session(&format!("s{i}-{k}"), &pick_name(&mut rng, &names), c, c);
            x.last_seen_at = rng
                .gen_bool(0.7)
                .then(|| ts(c + rng.gen_range(0..40 * DAY)));
            x.disconnected_at = rng
                .gen_bool(0.4)
                .then(|| ts(c + rng.gen_range(0..30 * DAY)));
            b.sessions.push(x);
        }
        let mut hs: Vec<i64> = (0..rng.gen_range(0..6))
            .map(|_| span(&mut rng, -60, 34))
            .collect();
        hs.sort();
        hs.dedup();
        for at in hs {
            b.health
                .push(health(&pick_name(&mut rng, &names), at, rng.gen_bool(0.5)));
        }
        for k in 0..rng.gen_range(0..5) {
            let mut p = probe(
                &format!("p{i}-{k}"),
                &pick_name(&mut rng, &names),
                span(&mut rng, -80, 34),
                rng.gen_bool(0.7),
            );
            let gb = *pick(&mut rng, GBS);
            p.verified_memory_gb = (p.passed && rng.gen_bool(0.5)).then_some(gb);
            b.probes.push(p);
        }
        for k in 0..rng.gen_range(0..60) {
            let consumer = if rng.gen_bool(0.3) {
                format!("a{}", rng.gen_range(0..8))
            } else {
                format!("c{}", rng.gen_range(0..4))
            };
            let amount = if rng.gen_bool(0.1) {
                0
            } else {
                rng.gen_range(1..5_000_000)
            };
            let mut x = earning(
                &format!("j{i}-{k}"),
                &pick_name(&mut rng, &names),
                &consumer,
                amount,
                span(&mut rng, -100, 40),
            );
            x.kind = *pick(
                &mut rng,
                &[
                    EarningKind::Inference,
                    EarningKind::Inference,
                    EarningKind::Probe,
                    EarningKind::BaseReward,
                ],
            );
            x.pinned = rng.gen_bool(0.2);
            b.earnings.push(x);
        }
    }
    b
}

/// The same facts, restricted by the windows the loader reads (plan-neutral).
fn windowed(mut f: EpochFacts, policy: &Policy) -> EpochFacts {
    let w = Windows::new(f.epoch, policy);
    for m in &mut f.machines {
        m.sessions.retain(|x| {
            let last = x
                .last_seen_at_ms
                .or(x.disconnected_at_ms)
                .unwrap_or(x.connected_at_ms);
            x.connected_at_ms < w.end_ms
                && x.disconnected_at_ms.is_none_or(|d| d > w.start_ms)
                && last > w.start_ms - policy.grace_ms
        });
        let last_before = m
            .health
            .iter()
            .filter(|h| h.at_ms < w.start_ms)
            .map(|h| h.at_ms)
            .max();
        m.health.retain(|h| {
            (h.at_ms >= w.start_ms && h.at_ms < w.end_ms) || Some(h.at_ms) == last_before
        });
        m.probes
            .retain(|p| p.at_ms >= w.work_start_ms && p.at_ms < w.end_ms);
    }
    f
}

fn plan_json(f: &EpochFacts, p: &Policy) -> String {
    serde_json::to_string(&plan_of(f, p)).unwrap()
}

async fn check_round_trip(ctx: &Ctx, epoch: EpochId, policy: &Policy) -> EpochFacts {
    let db = normalised(ctx.store.load_epoch_facts(epoch, policy).await.unwrap());
    let export = ctx.store.export_bundle(epoch, policy).await.unwrap();
    // The bundle carries the policy it was exported under.
    assert_eq!(&export.policy(&Default::default()).unwrap(), policy);
    let text = serde_json::to_string(&export).unwrap();
    let back = Bundle::from_json(&text).unwrap();
    let resolved = normalised(back.resolve(policy).unwrap());
    assert_eq!(db, resolved, "resolve(export) == load");
    db
}

async fn loader_matches_core(ctx: Ctx) {
    // Machines where D9's self-dealing clause took something away (the SQL's
    // subtraction was exercised).
    let mut self_dealt = 0;
    for seed in 0..6u64 {
        // A fresh set of names per seed on the same database would clash: use a suffix.
        let mut b = random_facts(seed);
        let tag = format!("x{seed}");
        rename(&mut b, &tag);
        let policy = Policy {
            grace_ms: [0, 90_000, 3_600_000][seed as usize % 3],
            work_window_days: [45, 10, 60][seed as usize % 3],
            ..Policy::default()
        };
        ingest(&ctx.store, &b).await;
        let all = random_so_far(seed, &tag);
        let db = check_round_trip(&ctx, epoch(), &policy).await;

        // Against core resolving every raw fact sent so far.
        let reference = normalised(windowed(all.resolve(&policy).unwrap(), &policy));
        assert_eq!(db, reference, "seed {seed}: load == resolve(raw facts)");
        let unfiltered = all.resolve(&policy).unwrap();
        assert_eq!(
            plan_json(&db, &policy),
            plan_json(&unfiltered, &policy),
            "seed {seed}: the window filters change no plan"
        );

        // The SQL's organic sums against core's, machine by machine.
        let w = Windows::new(epoch(), &policy);
        let names = name_map(&all);
        let mut raw: BTreeMap<String, Vec<RawEarning>> = BTreeMap::new();
        for x in &all.earnings {
            raw.entry(names[&x.machine_id].clone())
                .or_default()
                .push(to_raw(x));
        }
        for m in &db.machines {
            let jobs = raw.remove(&m.machine_id).unwrap_or_default();
            let expected =
                organic_earnings(&w, &m.bindings, &db.payout_accounts, jobs.clone()).unwrap();
            assert_eq!(
                m.earnings, expected,
                "seed {seed}: organic earnings of {}",
                m.machine_id
            );
            let unowned = organic_earnings(&w, &[], &db.payout_accounts, jobs).unwrap();
            if unowned != expected {
                self_dealt += 1;
            }
        }
    }
    assert!(self_dealt > 0, "no self-dealing in the random facts");
}
both!(loader_matches_core, super::loader_matches_core);

/// Settling adds prior draws (this epoch) and previous totals (the next).
async fn round_trip_with_draws_and_totals(ctx: Ctx) {
    let mut b = fleet(6);
    let extra = random_facts(42);
    b.machines.extend(extra.machines);
    b.aliases.extend(extra.aliases);
    b.bindings.extend(extra.bindings);
    b.sessions.extend(extra.sessions);
    b.health.extend(extra.health);
    b.earnings.extend(extra.earnings);
    b.probes.extend(extra.probes);
    ingest(&ctx.store, &b).await;
    let policy = pool(50);
    let done = settle(&ctx.store, &policy, live("test")).await.unwrap();
    assert!(done.plan.granted_total_micro_usd > 0);
    let facts = check_round_trip(&ctx, epoch(), &policy).await;
    assert!(!facts.prior_draws.is_empty());
    let next = check_round_trip(&ctx, epoch().next(), &policy).await;
    assert!(next.machines.iter().any(|m| m.previous_total_micro_usd > 0));
    // The base-reward rows are in the epoch's earnings (and, being no
    // inference, in nobody's organic sums: the round trip compared those).
    let export = ctx.store.export_bundle(epoch(), &policy).await.unwrap();
    assert!(export
        .earnings
        .iter()
        .any(|x| x.kind == EarningKind::BaseReward && x.consumer_account_id == "floorline"));
    assert!(facts
        .machines
        .iter()
        .any(|m| m.earnings.epoch_micro_usd > 0));
}
both!(
    round_trip_with_draws_and_totals,
    super::round_trip_with_draws_and_totals
);

fn to_raw(x: &Earning) -> RawEarning {
    RawEarning::from(x.clone())
}

/// Name → machine id (ids and alias keys).
fn name_map(b: &Bundle) -> HashMap<String, String> {
    let mut m: HashMap<String, String> = b
        .machines
        .iter()
        .map(|a| (a.machine_id.clone(), a.machine_id.clone()))
        .collect();
    for a in &b.aliases {
        m.insert(a.provider_key.clone(), a.machine_id.clone());
    }
    m
}

/// Suffixes every machine, alias, session, probe and job id with `tag`.
fn rename(b: &mut Bundle, tag: &str) {
    let t = |s: &mut String| {
        s.push('-');
        s.push_str(tag);
    };
    b.machines.iter_mut().for_each(|x| t(&mut x.machine_id));
    b.aliases.iter_mut().for_each(|x| {
        t(&mut x.machine_id);
        t(&mut x.provider_key);
    });
    b.bindings.iter_mut().for_each(|x| t(&mut x.machine_id));
    b.sessions.iter_mut().for_each(|x| {
        t(&mut x.machine_id);
        t(&mut x.session_id);
    });
    b.health.iter_mut().for_each(|x| t(&mut x.machine_id));
    b.probes.iter_mut().for_each(|x| {
        t(&mut x.machine_id);
        t(&mut x.probe_id);
    });
    b.earnings.iter_mut().for_each(|x| {
        t(&mut x.machine_id);
        t(&mut x.job_id);
    });
}

/// Every raw fact of seeds `0..=seed` (what the database holds by then).
fn random_so_far(seed: u64, _tag: &str) -> Bundle {
    let mut all = empty_bundle();
    for k in 0..=seed {
        let mut b = random_facts(k);
        rename(&mut b, &format!("x{k}"));
        all.machines.extend(b.machines);
        all.aliases.extend(b.aliases);
        all.bindings.extend(b.bindings);
        all.sessions.extend(b.sessions);
        all.health.extend(b.health);
        all.earnings.extend(b.earnings);
        all.probes.extend(b.probes);
    }
    all
}

/// D9's owner at job time at every edge of the bindings: a change
/// mid-window, earnings before the first binding (no owner), after a
/// binding's `to` (no owner), in a gap between bindings, a binding starting
/// exactly at the window start or ending exactly at its end, one ended before
/// the window, one starting after it, no binding at all, and an account
/// linked to the owner's payout identity only by another machine's binding.
/// Every job is bought by one of the machine's owners, a linked account or a
/// stranger; D9's self accounts (any binding with `from < E`, whenever the
/// job was) decide whether it is organic.
async fn owners_at_binding_edges(ctx: Ctx) {
    let policy = Policy::default();
    let w = Windows::new(epoch(), &policy);
    let (lo, hi) = (w.earliest_earning_ms(), w.end_ms);
    let mut b = empty_bundle();
    // (machine, bindings (account, from, to)).
    #[allow(clippy::type_complexity)]
    let cases: &[(&str, &[(&str, i64, Option<i64>)])] = &[
        (
            "changes",
            &[
                ("a1", lo - 90 * DAY, Some(s() + 10 * DAY)),
                ("a2", s() + 10 * DAY, None),
            ],
        ),
        ("starts-inside", &[("a3", s() + 5 * DAY, None)]),
        ("ends-inside", &[("a4", lo - 90 * DAY, Some(s() + 3 * DAY))]),
        (
            "gap",
            &[
                ("a5", lo - 9 * DAY, Some(s() + DAY)),
                ("a1", s() + 2 * DAY, None),
            ],
        ),
        ("from-at-start", &[("a6", lo, None)]),
        ("to-at-end", &[("a7", lo - 90 * DAY, Some(hi))]),
        ("to-at-start", &[("a8", lo - 90 * DAY, Some(lo))]),
        (
            "from-at-end",
            &[("a9", lo - 90 * DAY, Some(lo - DAY)), ("a2", hi, None)],
        ),
        ("unbound", &[]),
        ("linked", &[("a10", lo - 90 * DAY, None)]),
        ("linker", &[("a11", lo - 90 * DAY, None)]),
    ];
    for (m, bs) in cases {
        b.machines.push(attestation(m, 64));
        for (account, from, to) in bs.iter() {
            let mut x = binding(m, account, *from, *to);
            if *m == "linker" {
                // a11 is paid to a10's payee: a11 buying from `linked` is self-dealing.
                x.payout_identity = "payee-a10".into();
            }
            b.bindings.push(x);
        }
        let mut buyers: Vec<&str> = bs.iter().map(|(a, _, _)| *a).collect();
        buyers.extend(["a11", "c0"]);
        // Earnings at both window edges, just outside them, and every binding edge ± 1 ms.
        let mut times = vec![lo - 1, lo, lo + 1, s(), hi - 1, hi];
        for (_, from, to) in bs.iter() {
            times.extend([*from - 1, *from, *from + 1]);
            if let Some(t) = to {
                times.extend([*t - 1, *t, *t + 1]);
            }
        }
        let mut k = 0;
        for at in times {
            for buyer in &buyers {
                let mut x = earning(&format!("j-{m}-{k}"), m, buyer, 1_000 + k, at);
                x.pinned = k % 7 == 0;
                b.earnings.push(x);
                k += 1;
            }
        }
    }
    ingest(&ctx.store, &b).await;
    let facts = check_round_trip(&ctx, epoch(), &policy).await;
    assert_eq!(facts.machines.len(), cases.len());
    let mut organic = BTreeMap::new();
    for m in &facts.machines {
        let raw: Vec<RawEarning> = b
            .earnings
            .iter()
            .filter(|x| x.machine_id == m.machine_id)
            .map(to_raw)
            .collect();
        // The SQL's sums are core's.
        let expected =
            organic_earnings(&w, &m.bindings, &facts.payout_accounts, raw.clone()).unwrap();
        assert_eq!(m.earnings, expected, "organic earnings of {}", m.machine_id);
        organic.insert(m.machine_id.as_str(), m.earnings.epoch_micro_usd);
        // What an explanation reads: the machine's raw earnings, grouped.
        let mut stored = ctx
            .store
            .machine_earnings(epoch(), &policy, &m.machine_id)
            .await
            .unwrap();
        let key = |x: &RawEarning| (x.at_ms, x.amount_micro_usd);
        let mut windowed: Vec<RawEarning> = raw
            .into_iter()
            .filter(|x| x.at_ms >= lo && x.at_ms < hi)
            .collect();
        stored.sort_by_key(key);
        windowed.sort_by_key(key);
        assert_eq!(stored, windowed, "raw earnings of {}", m.machine_id);
    }
    // D9: the consumers that are self accounts, whenever they bought.
    let selves = |m: &str| -> Vec<String> {
        let mf = facts.machines.iter().find(|x| x.machine_id == m).unwrap();
        let raw: Vec<RawEarning> = b
            .earnings
            .iter()
            .filter(|x| x.machine_id == m)
            .map(to_raw)
            .collect();
        let own = self_accounts(&w, &mf.bindings, &facts.payout_accounts);
        let mut o: Vec<String> = group_earnings(&w, &own, raw)
            .unwrap()
            .iter()
            .filter(|g| g.self_account)
            .map(|g| g.consumer_account_id.clone())
            .collect();
        o.sort();
        o.dedup();
        o
    };
    let set = |list: &[&str]| -> Vec<String> { list.iter().map(|a| a.to_string()).collect() };
    assert_eq!(selves("changes"), set(&["a1", "a2"]));
    assert_eq!(selves("starts-inside"), set(&["a3"]));
    assert_eq!(selves("ends-inside"), set(&["a4"]));
    assert_eq!(selves("gap"), set(&["a1", "a5"]));
    assert_eq!(selves("from-at-start"), set(&["a6"]));
    assert_eq!(selves("to-at-end"), set(&["a7"]));
    assert_eq!(selves("to-at-start"), set(&["a8"]));
    // a2's binding starts at E: not a self account of this epoch.
    assert_eq!(selves("from-at-end"), set(&["a9"]));
    assert_eq!(selves("unbound"), set(&[]));
    assert_eq!(selves("linked"), set(&["a10", "a11"]));
    assert_eq!(selves("linker"), set(&["a11"]));
    // Spot checks by hand. `unbound`: no owner, so every unpinned job of the
    // epoch is organic, whoever bought it. `linked`: only c0's jobs are.
    let epoch_jobs = |m: &str, buyers: &[&str]| -> i64 {
        b.earnings
            .iter()
            .filter(|x| x.machine_id == m && !x.pinned && x.at.0 >= s() && x.at.0 < hi)
            .filter(|x| buyers.contains(&x.consumer_account_id.as_str()))
            .map(|x| x.amount_micro_usd)
            .sum()
    };
    assert_eq!(organic["unbound"], epoch_jobs("unbound", &["a11", "c0"]));
    assert_eq!(organic["linked"], epoch_jobs("linked", &["c0"]));
    assert_eq!(organic["linker"], epoch_jobs("linker", &["c0"]));
}
both!(owners_at_binding_edges, super::owners_at_binding_edges);

/// D1 (issue 19): an alias squats the id of a machine that has not attested
/// yet, and facts are sent under that name; once the machine attests, the
/// store's load equals core's resolve of every raw fact (machine ids before
/// aliases): the facts are the machine's, the squatter keeps only its own.
async fn squatted_machine_id(ctx: Ctx) {
    let policy = Policy::default();
    let mut first = empty_bundle();
    add_ready(&mut first, "squatter", 64);
    first.aliases.push(alias("victim", "squatter"));
    first
        .sessions
        .push(session("sess-v", "victim", s() - DAY, e() + DAY));
    first
        .probes
        .push(probe("probe-v", "victim", s() + DAY, true));
    first
        .earnings
        .push(earning("job-v", "victim", "c1", 5_000_000, s() + DAY));
    first.health.push(health("victim", s() + 2 * DAY, true));
    ingest(&ctx.store, &first).await;
    let mut second = empty_bundle();
    second.machines.push(attestation("victim", 64));
    second.machines.push(attestation("bystander", 32));
    second
        .bindings
        .push(binding("victim", "acct-victim", s() - 10 * DAY, None));
    ingest(&ctx.store, &second).await;

    let mut all = first.clone();
    all.machines.extend(second.machines.clone());
    all.bindings.extend(second.bindings.clone());
    let db = check_round_trip(&ctx, epoch(), &policy).await;
    let reference = normalised(windowed(all.resolve(&policy).unwrap(), &policy));
    assert_eq!(db, reference, "load == resolve(raw facts)");
    let plan = plan_of(&db, &policy);
    let victim = plan
        .machines
        .iter()
        .find(|m| m.machine_id == "victim")
        .unwrap();
    assert!(victim.uptime_ppm > 0, "{victim:?}");
    assert_eq!(victim.earned_micro_usd, 5_000_000);
    let squatter = plan
        .machines
        .iter()
        .find(|m| m.machine_id == "squatter")
        .unwrap();
    assert_eq!(squatter.earned_micro_usd, 0);
}
both!(squatted_machine_id, super::squatted_machine_id);
