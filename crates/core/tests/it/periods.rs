//! Settlement periods shorter than a month (SPEC §10, D20–D23).

use super::kit::*;
use floorline_core::facts::{EpochFacts, MachineFacts, SessionFact};
use floorline_core::money::{portion, Ppm};
use floorline_core::policy::Policy;
use floorline_core::time::Period;
use floorline_core::valuation::Reason;
use floorline_core::{plan, EpochId};
use proptest::prelude::*;

fn policy(period: Period) -> Policy {
    Policy {
        period,
        ..Policy::default()
    }
}

/// Every period of `period` of the month `month`, in order.
fn periods(month: &str, period: Period) -> Vec<EpochId> {
    let m: EpochId = month.parse().unwrap();
    (0..m.periods_in_month(period))
        .map(|k| EpochId::period_of(m, period, k).unwrap())
        .collect()
}

/// `m` with its facts moved to `epoch` and one probe before the month, so
/// every period's work window holds it.
fn in_period(mut machines: Vec<MachineFacts>, epoch: EpochId) -> EpochFacts {
    for m in &mut machines {
        for p in &mut m.probes {
            p.at_ms = s() - DAY;
        }
    }
    let mut f = facts(machines);
    f.epoch = epoch;
    f
}

/// Up for `up_ms` of the period starting at `start`.
fn up_for(mut m: MachineFacts, start: i64, up_ms: i64) -> MachineFacts {
    m.sessions = vec![SessionFact {
        connected_at_ms: start,
        last_seen_at_ms: None,
        disconnected_at_ms: Some(start + up_ms),
    }];
    m.attestations[0].attested_at_ms = start - 40 * DAY;
    m.bindings[0].from_ms = start - 40 * DAY;
    m.probes[0].at_ms = start - DAY;
    m
}

#[test]
fn january_2025_five_minute_figures_of_the_upstream() {
    let first: EpochId = "2025-01-01T00:00".parse().unwrap();
    let s0 = first.start().0;
    let p = policy(Period::FiveMinutes);
    let run = |m: MachineFacts| {
        let mut f = facts(vec![m]);
        f.epoch = first;
        plan(&f, &p).unwrap().machines.remove(0)
    };
    let full = 300_000;
    // 64 GB at full uptime: ⌊18 000 000 · 300 000 / 2 678 400 000⌋ = 2 016.
    let m = run(up_for(m64("a"), s0, full));
    assert_eq!((m.tier_floor_micro_usd, m.floor_micro_usd), (2_016, 2_016));
    assert_eq!(m.granted_micro_usd, 2_016);
    // At 95 %: half of it.
    assert_eq!(
        run(up_for(m64("a"), s0, full * 95 / 100)).floor_micro_usd,
        1_008
    );
    // 32 GB: ⌊12 000 000 · 300 000 / 2 678 400 000⌋ = 1 344.
    assert_eq!(
        run(up_for(machine("a", "Mac16,10", 32), s0, full)).floor_micro_usd,
        1_344
    );
    // 512 GB at 89 %: below the gate.
    let big = run(up_for(machine("a", "Mac15,14", 512), s0, full * 89 / 100));
    assert_eq!((big.floor_micro_usd, big.granted_micro_usd), (0, 0));
    assert_eq!(big.reasons, vec![Reason::UptimeBelowGate]);
    // 16 GB: no tier, whatever the period.
    let small = run(up_for(machine("a", "Mac14,3", 16), s0, full));
    assert_eq!(small.floor_micro_usd, 0);
    assert_eq!(small.reasons, vec![Reason::BelowMinMemory]);
}

#[test]
fn a_period_id_of_another_length_is_refused() {
    let mut f = facts(vec![m64("a")]);
    f.epoch = "2026-10-01".parse().unwrap();
    let err = plan(&f, &Policy::default()).unwrap_err().to_string();
    assert!(
        err.starts_with("epoch: `2026-10-01` is a day id, but the policy's period is `month`"),
        "{err}"
    );
    f.epoch = epoch();
    assert!(plan(&f, &policy(Period::Hour)).is_err());
}

#[test]
fn the_pool_of_a_period_is_its_portion_and_what_is_left_lapses() {
    // A $3.10 pool over October's 31 days: $0.10 a day, no matter the need.
    let p = Policy {
        pool_micro_usd: 3_100_000,
        ..policy(Period::Day)
    };
    let mut total = 0;
    for day in periods("2026-10", Period::Day) {
        let got = plan(&in_period(vec![m64("a"), m64("b")], day), &p).unwrap();
        assert_eq!(got.pool_micro_usd, 100_000);
        assert_eq!(got.granted_total_micro_usd, 100_000);
        total += got.granted_total_micro_usd;
    }
    assert_eq!(total, 3_100_000);
}

#[test]
fn a_machine_down_three_days_loses_those_days_only() {
    // Daily: days 10–12 down; the other 28 days pay their portions.
    let p = policy(Period::Day);
    let mut m = m64("a");
    m.health = vec![health(s() + 9 * DAY, false), health(s() + 12 * DAY, true)];
    let mut paid = 0;
    for day in periods("2026-10", Period::Day) {
        paid += plan(&in_period(vec![m.clone()], day), &p)
            .unwrap()
            .granted_total_micro_usd;
    }
    let lost: i64 = periods("2026-10", Period::Day)[9..12]
        .iter()
        .map(|d| portion(18_000_000, *d))
        .sum();
    assert_eq!(paid, 18_000_000 - lost);
    // Monthly, three days down is 90.3 % uptime: just above the gate.
    let month = plan(&in_period(vec![m], epoch()), &Policy::default()).unwrap();
    assert!(month.granted_total_micro_usd < paid);
}

fn month_of(days: u32) -> &'static str {
    match days {
        28 => "2026-02",
        29 => "2024-02",
        30 => "2026-11",
        _ => "2026-10",
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// D21: the portions of a month's periods sum to X exactly.
    #[test]
    fn portions_of_a_month_sum_to_the_monthly_amount(
        x in 0i64..=i64::MAX,
        days in prop::sample::select(vec![28u32, 29, 30, 31]),
        period in prop::sample::select(vec![Period::Day, Period::Hour, Period::FiveMinutes, Period::Month]),
    ) {
        let all = periods(month_of(days), period);
        let sum: i128 = all.iter().map(|p| i128::from(portion(x, *p))).sum();
        prop_assert_eq!(sum, i128::from(x));
        prop_assert!(all.iter().all(|p| portion(x, *p) >= 0));
    }

    /// Σ granted over a month's periods ≤ the monthly pool, whatever the fleet.
    #[test]
    fn a_months_periods_never_spend_more_than_its_pool(
        pool in 0i64..100_000_000,
        n in 1usize..5,
        reserve in 0i64..=1_000_000,
        cap in 0i64..=1_000_000,
        down in prop::collection::vec((0i64..31, 0i64..3), 0..4),
    ) {
        let p = Policy {
            pool_micro_usd: pool,
            workhorse_reserve: Ppm(reserve),
            account_cap: Ppm(cap),
            ..policy(Period::Day)
        };
        let machines: Vec<MachineFacts> = (0..n)
            .map(|i| {
                let mut m = machine(&format!("m{i}"), ["Mac16,11", "Mac14,2", "Mac15,14"][i % 3], [64, 24, 512][i % 3]);
                if let Some((day, len)) = down.get(i) {
                    m.health = vec![health(s() + day * DAY, false), health(s() + (day + len) * DAY, true)];
                }
                m
            })
            .collect();
        let mut total = 0;
        for day in periods("2026-10", Period::Day) {
            let got = plan(&in_period(machines.clone(), day), &p).unwrap();
            prop_assert!(got.granted_total_micro_usd <= got.pool_micro_usd);
            total += got.granted_total_micro_usd;
        }
        prop_assert!(total <= pool, "{total} > {pool}");
    }

    /// A period's plan does not depend on the order of its input.
    #[test]
    fn a_period_plan_is_independent_of_input_order(k in 0u32..744, n in 1usize..6, seed in any::<u64>()) {
        let p = Policy { pool_micro_usd: 50_000, ..policy(Period::Hour) };
        let hour = EpochId::period_of(epoch(), Period::Hour, k).unwrap();
        let machines: Vec<MachineFacts> = (0..n).map(|i| m64(&format!("m{i}"))).collect();
        let a = plan(&in_period(machines.clone(), hour), &p).unwrap();
        let mut shuffled = machines;
        let len = shuffled.len();
        shuffled.rotate_left(usize::try_from(seed).unwrap_or(0) % len);
        if seed % 2 == 0 {
            shuffled.reverse();
        }
        let b = plan(&in_period(shuffled, hour), &p).unwrap();
        prop_assert_eq!(a.manifest_sha256, b.manifest_sha256);
        prop_assert_eq!(a.machines, b.machines);
    }
}

/// A machine up all month, no earnings, an ample pool: its periods pay its
/// tier floor exactly, for every period length.
#[test]
fn a_month_of_periods_pays_exactly_the_tier_floor() {
    for period in [Period::Day, Period::Hour, Period::FiveMinutes] {
        let p = policy(period);
        let mut paid = 0;
        for unit in periods("2026-10", period) {
            paid += plan(&in_period(vec![m64("a")], unit), &p)
                .unwrap()
                .granted_total_micro_usd;
        }
        assert_eq!(paid, 18_000_000, "{period}");
    }
}
