//! Literal cases with the arithmetic written out (SPEC D3–D19).

use super::kit::*;
use floorline_core::facts::{
    organic_earnings, BindingFact, EarningKind, ProbeFact, RawEarning, SessionFact, Windows,
};
use floorline_core::money::Ppm;
use floorline_core::plan::{manifest_sha256, ManifestDraw};
use floorline_core::policy::{Allocation, Policy, Trust};
use floorline_core::valuation::Reason;

const USD: i64 = 1_000_000;

#[test]
fn reserve_protects_the_workhorse_before_the_big_machine() {
    // B = $30, W = ⌊30 · 0.5⌋ = $15. Phase 1: the 64 GB workhorse gets min(18, 15) = 15.
    // Phase 2 (rank: workhorse first): 64 GB gets the missing 3 → 18; 512 GB gets 30 − 18 = 12.
    let f = facts(vec![machine("big", "Mac15,14", 512), m64("w64")]);
    let p = run(&f, &pool(30));
    assert_eq!(granted(&p, "w64"), 18 * USD);
    assert_eq!(granted(&p, "big"), 12 * USD);
    assert_eq!(p.unallocated_micro_usd, 0);
    assert_eq!(p.machines[0].desired_draw_micro_usd, 40 * USD);
}

#[test]
fn ten_idle_ish_workhorses_share_fifty_dollars_in_machine_order() {
    // Each earns $1 organic; floor $18; k = 1 → draw 18 − 1 = $17.
    // W = $25: m0 17 (W 8 left), m1 8 (W 0). Phase 2: m1 +9 = 17, m2 gets 50 − 34 = 16, rest 0.
    let machines = (0..10)
        .map(|i| {
            let mut m = m64(&format!("m{i}"));
            m.earnings = organic(USD);
            m
        })
        .collect();
    let p = run(&facts(machines), &pool(50));
    let grants: Vec<i64> = p
        .machines
        .iter()
        .map(|m| m.granted_micro_usd / USD)
        .collect();
    assert_eq!(grants, vec![17, 17, 16, 0, 0, 0, 0, 0, 0, 0]);
    assert!(p
        .machines
        .iter()
        .all(|m| m.desired_draw_micro_usd == 17 * USD));
}

#[test]
fn account_cap_counts_prior_draws() {
    // Cap = ⌊$100 · 5 %⌋ = $5; the account already drew $4 (on `old`) → headroom $1.
    let mut f = facts(vec![
        with_account(m64("old"), "acct-a"),
        with_account(m64("new"), "acct-a"),
    ]);
    f.prior_draws.push(prior("old", "acct-a", 4 * USD, 64));
    let policy = Policy {
        account_cap: Ppm(50_000),
        ..pool(100)
    };
    let p = run(&f, &policy);
    assert_eq!(granted(&p, "new"), USD);
    assert_eq!(
        granted(&p, "old"),
        0,
        "a machine paid in an earlier run is frozen"
    );
    assert_eq!(p.already_settled_micro_usd, 4 * USD);
    assert_eq!(p.unallocated_micro_usd, 96 * USD - USD);
}

#[test]
fn ninety_five_percent_uptime_earns_half_the_floor() {
    // T = 31 days = 2 678 400 000 ms; A = 0.95 T = 2 544 480 000 ms.
    // num = A·10⁶ − 0.9·10⁶·T = 0.05·10⁶·T, den = 0.1·10⁶·T → 18 · ½ = $9.
    let mut m = m64("m");
    m.sessions = vec![SessionFact {
        connected_at_ms: s(),
        last_seen_at_ms: None,
        disconnected_at_ms: Some(s() + t() * 95 / 100),
    }];
    let p = run(&facts(vec![m]), &Policy::default());
    assert_eq!(p.machines[0].uptime_ppm, 950_000);
    assert_eq!(p.machines[0].floor_micro_usd, 9 * USD);
    assert!(p.machines[0].eligible);
}

#[test]
fn uptime_at_the_gate_is_not_enough() {
    // A = 0.9 T exactly: A·10⁶ > 0.9·10⁶·T is false → uptime_below_gate, floor 0.
    let mut m = m64("m");
    m.sessions[0] = SessionFact {
        connected_at_ms: s(),
        last_seen_at_ms: None,
        disconnected_at_ms: Some(s() + t() * 9 / 10),
    };
    let p = run(&facts(vec![m]), &Policy::default());
    assert_eq!(p.machines[0].reasons, vec![Reason::UptimeBelowGate]);
    assert_eq!(p.machines[0].floor_micro_usd, 0);
}

#[test]
fn late_disconnect_counts_only_to_last_sign_of_life_plus_grace() {
    // last_seen = S + 10 days; disconnect recorded 20 days later: b = last_seen + 90 000 ms.
    let mut m = m64("m");
    m.sessions = vec![SessionFact {
        connected_at_ms: s(),
        last_seen_at_ms: Some(s() + 10 * DAY),
        disconnected_at_ms: Some(s() + 30 * DAY),
    }];
    let w = windows(&Policy::default());
    let avail = floorline_core::valuation::available(&m, &Policy::default(), &w);
    assert_eq!(avail.len_ms(), 10 * DAY + 90_000);
}

#[test]
fn overlapping_sessions_count_once() {
    // [S, S+20d) ∪ [S+10d, S+25d) = 25 days, not 35.
    let mut m = m64("m");
    m.sessions = vec![
        SessionFact {
            connected_at_ms: s(),
            last_seen_at_ms: None,
            disconnected_at_ms: Some(s() + 20 * DAY),
        },
        SessionFact {
            connected_at_ms: s() + 10 * DAY,
            last_seen_at_ms: None,
            disconnected_at_ms: Some(s() + 25 * DAY),
        },
    ];
    let avail =
        floorline_core::valuation::available(&m, &Policy::default(), &windows(&Policy::default()));
    assert_eq!(avail.len_ms(), 25 * DAY);
}

#[test]
fn unhealthy_time_is_cut_and_carries_in_from_before_the_epoch() {
    // Unhealthy from S − 1 day until S + 2 days, then again from E − 1 day (forever).
    let mut m = m64("m");
    m.health = vec![
        health(s() - DAY, false),
        health(s() + 2 * DAY, true),
        health(e() - DAY, false),
    ];
    let avail =
        floorline_core::valuation::available(&m, &Policy::default(), &windows(&Policy::default()));
    assert_eq!(avail.len_ms(), 28 * DAY);
}

#[test]
fn model_caps_from_the_table() {
    // (model, reported) → verified, per mac-models.md.
    for (model, reported, verified) in [
        ("Mac15,9", 512, 128),
        ("Mac14,9", 96, 32),
        ("Mac16,9", 512, 128),
        ("Mac15,14", 512, 512),
        ("NotAModel99,9", 512, 24),
        ("", 512, 24),
    ] {
        let p = run(
            &facts(vec![machine("m", model, reported)]),
            &Policy::default(),
        );
        assert_eq!(p.machines[0].verified_memory_gb, verified, "{model}");
    }
}

#[test]
fn unknown_model_trusts_a_tier_probe_up_to_the_report() {
    // Unknown model: min(reported 96, max(24, proven 64)) = 64.
    let mut m = machine("m", "Vm1,1", 96);
    m.probes[0].verified_memory_gb = Some(64);
    let p = run(&facts(vec![m.clone()]), &Policy::default());
    assert_eq!(p.machines[0].verified_memory_gb, 64);
    // require_tier_probe: a known 64 GB model without a sized probe proves 0 → below_min_memory.
    let policy = Policy {
        require_tier_probe: true,
        ..Policy::default()
    };
    let p = run(&facts(vec![m64("k")]), &policy);
    assert_eq!(p.machines[0].verified_memory_gb, 0);
    assert_eq!(p.machines[0].reasons, vec![Reason::BelowMinMemory]);
}

#[test]
fn a_later_failed_probe_revokes_earlier_passes() {
    let mut m = m64("m");
    m.probes.push(ProbeFact {
        probe_id: "p2".into(),
        at_ms: s() + 2 * DAY,
        passed: false,
        verified_memory_gb: None,
        own: false,
    });
    let p = run(&facts(vec![m.clone()]), &Policy::default());
    assert_eq!(p.machines[0].reasons, vec![Reason::NoProvenWork]);
    m.probes.push(ProbeFact {
        probe_id: "p3".into(),
        at_ms: s() + 3 * DAY,
        passed: true,
        verified_memory_gb: None,
        own: false,
    });
    let p = run(&facts(vec![m]), &Policy::default());
    assert!(p.machines[0].eligible);
}

#[test]
fn every_gate_reports_in_order() {
    let mut m = machine("m", "Mac14,2", 16);
    m.attestations[0].trust = Trust::None;
    m.sessions.clear();
    m.probes.clear();
    m.bindings.clear();
    let p = run(&facts(vec![m]), &Policy::default());
    let reasons: Vec<&str> = p.machines[0].reasons.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        reasons,
        vec![
            "not_attested",
            "below_min_memory",
            "uptime_below_gate",
            "no_proven_work",
            "no_payout_account"
        ]
    );
    assert!(p.machines[0].shares.is_empty());
}

#[test]
fn attestation_after_the_epoch_does_not_attest_but_gives_memory() {
    let mut m = m64("m");
    m.attestations[0].attested_at_ms = e();
    let p = run(&facts(vec![m]), &Policy::default());
    assert_eq!(p.machines[0].reasons, vec![Reason::NotAttested]);
    assert_eq!(p.machines[0].verified_memory_gb, 64);
}

#[test]
fn self_dealing_pinned_and_probe_earnings_are_not_organic() {
    // m is owned by acct-m (payee-m); m2's binding links acct-m2 to payee-m too.
    let mut m = m64("m");
    m.bindings[0].account_id = "acct-m".into();
    m.bindings[0].payout_identity = "payee-m".into();
    let mut other = m64("m2");
    other.bindings[0].account_id = "acct-m2".into();
    other.bindings[0].payout_identity = "payee-m".into();
    let job = |consumer: &str, kind, pinned, amount| RawEarning {
        consumer_account_id: consumer.into(),
        kind,
        pinned,
        amount_micro_usd: amount,
        at_ms: s() + DAY,
    };
    let jobs = vec![
        job("acct-m", EarningKind::Inference, false, 5 * USD), // the owner's own account
        job("acct-m2", EarningKind::Inference, false, 6 * USD), // linked to the owner's payee
        job("stranger", EarningKind::Inference, true, 7 * USD), // pinned
        job("stranger", EarningKind::Probe, false, 8 * USD),
        job("stranger", EarningKind::BaseReward, false, 9 * USD),
        job("stranger", EarningKind::Inference, false, 0), // not positive
        job("stranger", EarningKind::Inference, false, 2 * USD), // organic
    ];
    let w = Windows::new(epoch(), &Policy::default());
    let links = facts(vec![m.clone(), other.clone()]).payout_accounts;
    m.earnings = organic_earnings(&w, &m.bindings, &links, jobs).unwrap();
    assert_eq!(m.earnings, organic(2 * USD));
    let p = run(&facts(vec![m, other]), &Policy::default());
    assert_eq!(p.machines[0].earned_micro_usd, 2 * USD);
    assert_eq!(p.machines[0].desired_draw_micro_usd, 16 * USD);
}

#[test]
fn buying_from_your_own_machine_before_you_own_it_is_not_organic() {
    // D9: the owner binding starts on day 10, but acct-m is a self account of
    // the machine for the whole epoch: its job on day 1 (no owner yet) proves
    // nothing either, and neither does one on day 11.
    let mut m = m64("m");
    m.bindings[0].account_id = "acct-m".into();
    m.bindings[0].from_ms = s() + 10 * DAY;
    let job = |at_ms| RawEarning {
        consumer_account_id: "acct-m".into(),
        kind: EarningKind::Inference,
        pinned: false,
        amount_micro_usd: 3 * USD,
        at_ms,
    };
    let w = Windows::new(epoch(), &Policy::default());
    let links = facts(vec![m.clone()]).payout_accounts;
    let got = organic_earnings(
        &w,
        &m.bindings,
        &links,
        [job(s() + DAY), job(s() + 11 * DAY)],
    );
    assert_eq!(got.unwrap(), organic(0));
}

#[test]
fn shares_split_by_bound_time_with_the_remainder_to_the_longest() {
    // Owner a for 10 days, then b for 21 days of the 31-day month; desired $18.
    // share_a = ⌊18 000 000 · 10/31⌋ = 5 806 451; share_b = ⌊18 000 000 · 21/31⌋ = 12 193 548;
    // ⌊18 000 000 · 31/31⌋ − Σ = 1 → b (longest).
    let mut m = m64("m");
    m.bindings = vec![
        BindingFact {
            account_id: "a".into(),
            payout_identity: "pa".into(),
            from_ms: s() - DAY,
            to_ms: Some(s() + 10 * DAY),
        },
        BindingFact {
            account_id: "b".into(),
            payout_identity: "pb".into(),
            from_ms: s() + 10 * DAY,
            to_ms: None,
        },
    ];
    let p = run(&facts(vec![m]), &Policy::default());
    let shares: Vec<(&str, i64)> = p.machines[0]
        .shares
        .iter()
        .map(|s| (s.account_id.as_str(), s.desired_micro_usd))
        .collect();
    assert_eq!(shares, vec![("a", 5_806_451), ("b", 12_193_549)]);
    assert_eq!(p.granted_total_micro_usd, 18 * USD);
}

#[test]
fn unowned_time_is_paid_to_nobody() {
    // Bound only for the last 15.5 days: ⌊18 000 000 · 15.5/31⌋ = 9 000 000.
    let mut m = m64("m");
    m.bindings[0].from_ms = s() + t() / 2;
    let p = run(&facts(vec![m]), &Policy::default());
    assert_eq!(p.machines[0].shares[0].desired_micro_usd, 9 * USD);
}

#[test]
fn waterfill_levels_needs_and_spreads_spare() {
    // No reserve; three non-workhorse units needing 40, 10, 40 (512 GB, 24 GB, 512 GB) with $61:
    // L = 25: 25 + 10 + 25 = 60 ≤ 61, L = 26 → 62 > 61; spare $1 µUSD-wise goes in rank order.
    let f = facts(vec![
        machine("a", "Mac15,14", 512),
        machine("b", "Mac14,2", 24),
        machine("c", "Mac15,14", 512),
    ]);
    let policy = Policy {
        allocation: Allocation::Waterfill,
        workhorse_reserve: Ppm(0),
        pool_micro_usd: 60 * USD + 1,
        ..Policy::default()
    };
    let p = run(&f, &policy);
    assert_eq!(granted(&p, "b"), 10 * USD);
    assert_eq!(granted(&p, "a") + granted(&p, "c"), 50 * USD + 1);
    assert_eq!(granted(&p, "a"), 25 * USD + 1);
}

#[test]
fn cliff_guard_only_undoes_the_taper() {
    // Taper on with R = 0 and target $27k → revenue ratio 1; launch 60 days before E with
    // residual 0 → glide = (60 − 30)/60 = ½. Floor $18 → tapered $9.
    // Previous total $100: guard = ⌊0.7 · 100⌋ − 0 = $70, but capped at the untapered $18.
    let mut m = m64("m");
    m.previous_total_micro_usd = 100 * USD;
    let launch = floorline_core::Timestamp(e() - 60 * DAY).to_rfc3339();
    let policy = Policy {
        taper_enabled: true,
        launch_date: Some(launch[..10].to_string()),
        ..Policy::default()
    };
    let p = run(&facts(vec![m.clone()]), &policy);
    assert_eq!(p.machines[0].floor_micro_usd, 9 * USD);
    assert_eq!(p.machines[0].desired_draw_micro_usd, 18 * USD);
    // With a small previous total $20: guard = ⌊0.7 · 20⌋ = $14 → desired max(9, min(18, 14)) = 14.
    m.previous_total_micro_usd = 20 * USD;
    let p = run(&facts(vec![m]), &policy);
    assert_eq!(p.machines[0].desired_draw_micro_usd, 14 * USD);
}

#[test]
fn taper_follows_trailing_revenue() {
    // target $100, fleet R = $25 → τ = 0.75 → $18 · 0.75 = $13.5.
    let mut m = m64("m");
    m.earnings = organic(0);
    let mut payer = machine("p", "Mac14,2", 8);
    payer.earnings = organic(25 * USD);
    let policy = Policy {
        taper_enabled: true,
        target_revenue_micro_usd: 100 * USD,
        ..Policy::default()
    };
    let p = run(&facts(vec![m, payer]), &policy);
    assert_eq!(p.machines[0].floor_micro_usd, 13_500_000);
}

#[test]
fn manifest_of_nothing_is_the_hash_of_an_empty_array() {
    // sha256("[]")
    assert_eq!(
        manifest_sha256(&[]),
        "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
    );
    let one = ManifestDraw {
        account_id: "a".into(),
        amount_micro_usd: 5,
        machine_id: "m".into(),
    };
    // sha256("[{\"account_id\":\"a\",\"amount_micro_usd\":5,\"machine_id\":\"m\"}]")
    let expected = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(
            br#"[{"account_id":"a","amount_micro_usd":5,"machine_id":"m"}]"#,
        ))
    };
    assert_eq!(manifest_sha256(&[one]), expected);
}

#[test]
fn k_half_reduces_the_draw_by_half_the_earnings() {
    // k = 0.5, earned $10 → k_earned = $5 → draw 18 − 5 = $13; payout $23.
    let mut m = m64("m");
    m.earnings = organic(10 * USD);
    let policy = Policy {
        reduction_k: Ppm(500_000),
        ..Policy::default()
    };
    let p = run(&facts(vec![m]), &policy);
    assert_eq!(p.machines[0].desired_draw_micro_usd, 13 * USD);
}

#[test]
fn a_binding_overlaps_an_interval_when_it_holds_at_some_instant_of_it() {
    let b = |from_ms, to_ms| BindingFact {
        account_id: "a".into(),
        payout_identity: "p".into(),
        from_ms,
        to_ms,
    };
    // [10, 20) against bindings ending at or starting at its edges.
    assert!(
        !b(0, Some(10)).overlaps(10, 20),
        "ends as the interval starts"
    );
    assert!(b(0, Some(11)).overlaps(10, 20));
    assert!(b(19, None).overlaps(10, 20));
    assert!(!b(20, None).overlaps(10, 20), "starts as the interval ends");
    assert!(b(0, None).overlaps(10, 20));
    assert!(b(12, Some(15)).overlaps(10, 20));
}
