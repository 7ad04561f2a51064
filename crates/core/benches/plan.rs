//! Planning an epoch for 100 000 machines with 30 sessions and 100 earnings each.
//!
//! `cargo bench -p floorline-core --bench plan` — two figures: `plan` (grouped facts
//! → plan, what settlement does after the store's GROUP BY) and `group+plan`
//! (raw earnings grouped in memory first, what `floorline plan` does for a bundle).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use floorline_core::facts::{
    organic_earnings, AttestationFact, BindingFact, EarningKind, EpochFacts, HealthFact,
    MachineFacts, OrganicEarnings, ProbeFact, RawEarning, SessionFact, Windows,
};
use floorline_core::policy::{Policy, Trust};
use floorline_core::{plan, EpochId};
use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;

const N_MACHINES: usize = 100_000;
const N_SESSIONS: i64 = 30;
const N_EARNINGS: i64 = 100;
const DAY: i64 = 86_400_000;

/// A deterministic fleet (a linear congruential sequence, no RNG crate needed).
fn fleet() -> (EpochFacts, Vec<Vec<RawEarning>>) {
    let epoch: EpochId = "2026-10".parse().unwrap();
    let (s, e) = (epoch.start().0, epoch.end().0);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |m: i64| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        i64::try_from(x >> 33).unwrap() % m
    };
    let models = [
        ("Mac14,2", 24),
        ("Mac16,10", 32),
        ("Mac16,11", 64),
        ("Mac15,9", 128),
        ("Mac14,3", 8),
    ];
    let mut machines = Vec::with_capacity(N_MACHINES);
    let mut raw = Vec::with_capacity(N_MACHINES);
    let mut payout_accounts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for i in 0..N_MACHINES {
        let (model, gb) = models[usize::try_from(next(5)).unwrap()];
        let id = format!("machine-{i:06}");
        let account = format!("acct-{}", i / 3);
        payout_accounts
            .entry(format!("pay-{}", i / 3))
            .or_default()
            .insert(account.clone());
        let slot = (e - s) / N_SESSIONS;
        let sessions = (0..N_SESSIONS)
            .map(|k| SessionFact {
                connected_at_ms: s + k * slot,
                last_seen_at_ms: Some(s + k * slot + slot - next(3_600_000)),
                disconnected_at_ms: None,
            })
            .collect();
        let bindings = vec![BindingFact {
            account_id: account,
            payout_identity: format!("pay-{}", i / 3),
            from_ms: s - 40 * DAY,
            to_ms: None,
        }];
        raw.push(
            (0..N_EARNINGS)
                .map(|_| RawEarning {
                    consumer_account_id: format!("consumer-{}", next(20)),
                    kind: if next(10) == 0 {
                        EarningKind::Probe
                    } else {
                        EarningKind::Inference
                    },
                    pinned: next(20) == 0,
                    amount_micro_usd: next(200_000),
                    at_ms: s - 10 * DAY + next(41 * DAY),
                })
                .collect(),
        );
        machines.push(MachineFacts {
            machine_id: id,
            attestations: vec![AttestationFact {
                attested_at_ms: s - DAY,
                hardware_model: model.into(),
                reported_memory_gb: gb,
                trust: Trust::Hardware,
                se_public_key: None,
            }],
            bindings,
            sessions,
            health: vec![
                HealthFact {
                    at_ms: s + next(30 * DAY),
                    healthy: false,
                },
                HealthFact {
                    at_ms: e - 5 * DAY,
                    healthy: true,
                },
            ],
            probes: vec![ProbeFact {
                probe_id: "p".into(),
                at_ms: s + DAY,
                passed: true,
                verified_memory_gb: None,
                own: false,
            }],
            earnings: OrganicEarnings::default(),
            previous_total_micro_usd: next(30_000_000),
        });
    }
    (
        EpochFacts {
            epoch,
            machines,
            payout_accounts,
            prior_draws: Vec::new(),
        },
        raw,
    )
}

fn group_all(facts: &mut EpochFacts, raw: Vec<Vec<RawEarning>>, policy: &Policy) {
    let w = Windows::new(facts.epoch, policy);
    for (m, r) in facts.machines.iter_mut().zip(raw) {
        m.earnings = organic_earnings(&w, &m.bindings, &facts.payout_accounts, r).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let policy = Policy::default();
    let (mut facts, raw) = fleet();
    let mut g = c.benchmark_group("100k machines × 30 sessions × 100 earnings");
    g.sample_size(10);
    g.bench_function("group+plan", |b| {
        b.iter_batched(
            || (facts.clone(), raw.clone()),
            |(mut f, r)| {
                group_all(&mut f, r, &policy);
                black_box(plan(&f, &policy).unwrap())
            },
            BatchSize::LargeInput,
        )
    });
    group_all(&mut facts, raw, &policy);
    g.bench_function("plan", |b| {
        b.iter(|| black_box(plan(&facts, &policy).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
