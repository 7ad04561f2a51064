//! Settlement periods (SPEC §10): runs, draws and ledger references keyed by
//! the period id; a month's runs and draws read back over its periods.

use crate::both;
use crate::harness::Ctx;
use crate::kit::*;
use floorline_core::time::Period;
use floorline_core::{plan, EpochFacts, EpochId, Policy};
use floorline_store::RunMode;

async fn days_of_october(ctx: Ctx) {
    let policy = Policy {
        period: Period::Day,
        ..Policy::default()
    };
    let mut b = fleet(2);
    // The probes of `fleet` fall on day 2: move them before the month, so
    // every day's work window holds one.
    for p in &mut b.probes {
        p.at = ts(s() - DAY);
    }
    ingest(&ctx.store, &b).await;
    let month = epoch();
    let days: Vec<EpochId> = (0..3)
        .map(|k| EpochId::period_of(month, Period::Day, k).unwrap())
        .collect();
    for day in &days {
        let p = policy.clone();
        let out = ctx
            .store
            .settle(*day, &policy, live("test"), move |f: &EpochFacts| {
                plan(f, &p)
            })
            .await
            .unwrap();
        // portion($18, 1 day of 31) = ⌊18 000 000 · k/31⌋ differences.
        assert_eq!(
            out.plan.pool_micro_usd,
            floorline_core::money::portion(9_000_000_000, *day)
        );
        assert_eq!(
            out.plan.granted_total_micro_usd,
            2 * floorline_core::money::portion(18_000_000, *day)
        );
    }
    assert_eq!(
        ctx.store
            .run_epochs_of_month(month, Some(RunMode::Live))
            .await
            .unwrap(),
        days
    );
    assert_eq!(
        ctx.store
            .run_epochs_of_month(month, Some(RunMode::Preview))
            .await
            .unwrap(),
        vec![]
    );
    let draws = ctx.store.month_draws(month).await.unwrap();
    assert_eq!(draws.len(), 6);
    assert_eq!(draws[0].epoch, "2026-10-01");
    // Three days of $18/31 each for m000: 580 645 + 580 645 + 580 646.
    let m000: i64 = draws
        .iter()
        .filter(|d| d.machine_id == "m000")
        .map(|d| d.amount_micro_usd)
        .sum();
    assert_eq!(
        m000,
        floorline_core::money::portion(18_000_000, days[0]) * 2
            + floorline_core::money::portion(18_000_000, days[2])
    );
    // Ledger references carry the period id, and re-running a day credits nothing twice.
    let entries = ctx.store.ledger_entries("acct-m000").await.unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.reference == "floor:2026-10-02:m000:acct-m000"),
        "{entries:?}"
    );
    let p = policy.clone();
    let again = ctx
        .store
        .settle(days[1], &policy, live("test"), move |f: &EpochFacts| {
            plan(f, &p)
        })
        .await
        .unwrap();
    assert_eq!(again.plan.granted_total_micro_usd, 0);
    assert_eq!(ctx.store.month_draws(month).await.unwrap().len(), 6);
    // A month cut into days has no run of its own length, and a run of
    // another length is found (the refusal of a second cut reads this).
    assert_eq!(
        ctx.store
            .run_of_other_length(month, Period::Day)
            .await
            .unwrap(),
        None
    );
    let other = ctx
        .store
        .run_of_other_length(month, Period::Month)
        .await
        .unwrap();
    assert!(other.is_some_and(|e| days.contains(&e)), "{other:?}");
    assert_eq!(
        ctx.store
            .run_of_other_length(month.next(), Period::Month)
            .await
            .unwrap(),
        None
    );
    // Per period: the latest live run (the re-run of day 2) and all draws.
    let periods = ctx.store.month_periods(month).await.unwrap();
    let ids: Vec<EpochId> = periods.iter().map(|p| p.epoch).collect();
    assert_eq!(ids, days);
    let day2 = &periods[1];
    assert_eq!(day2.n_draws, 2);
    assert_eq!(
        day2.drawn_micro_usd,
        2 * floorline_core::money::portion(18_000_000, days[1])
    );
    let latest = day2.latest_live_run.as_ref().unwrap();
    assert_eq!(
        latest.granted_total_micro_usd, 0,
        "the re-run is the latest"
    );
    assert_eq!(
        latest.pool_micro_usd,
        floorline_core::money::portion(9_000_000_000, days[1])
    );
    assert!(ctx
        .store
        .month_periods(month.next())
        .await
        .unwrap()
        .is_empty());
    // Per account and machine, summed over the month's periods.
    let machines = vec!["m000".to_string(), "m001".to_string(), "nope".to_string()];
    let mine = ctx
        .store
        .account_month_draws("acct-m000", &machines, month)
        .await
        .unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].machine_id, "m000");
    assert_eq!(mine[0].drawn_micro_usd, m000);
    assert_eq!(mine[0].n_periods, 3);
    assert!(ctx
        .store
        .account_month_draws("acct-m000", &machines, month.next())
        .await
        .unwrap()
        .is_empty());
    // Another month's runs are not this month's.
    assert_eq!(
        ctx.store
            .run_epochs_of_month(month.next(), None)
            .await
            .unwrap(),
        vec![]
    );
}
both!(days_of_october, super::days_of_october);
