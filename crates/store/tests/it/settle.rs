//! Settlement: what a live run writes, preview, re-runs, atomicity at every
//! failpoint, the invariant check, the unique keys, and concurrent settlers.

use floorline_core::facts::EpochFacts;
use floorline_core::policy::Policy;
use floorline_core::{plan, CoreError, Plan};
use floorline_store::{EntryKind, FailAction, FailPoint, FailSpec, RunMode, Store, StoreError};

use crate::both;
use crate::harness::Ctx;
use crate::kit::*;

async fn live_run_writes_everything(ctx: Ctx) {
    let b = fleet(3);
    ingest(&ctx.store, &b).await;
    let policy = pool(1_000);
    let out = settle(&ctx.store, &policy, live("alice")).await.unwrap();
    // 64 GB, fully available, no earnings: each gets the $18 floor.
    assert_eq!(out.plan.granted_total_micro_usd, 3 * 18_000_000);
    assert_eq!(out.run.mode, RunMode::Live);
    assert_eq!(out.run.n_draws, 3);
    assert_eq!(out.run.granted_total_micro_usd, 3 * 18_000_000);
    assert_eq!(
        out.run.unallocated_micro_usd,
        1_000_000_000 - 3 * 18_000_000
    );
    assert_eq!(out.run.manifest_sha256, out.plan.manifest_sha256);

    let draws = ctx.store.draws(epoch(), 0, 10).await.unwrap();
    assert_eq!(draws.len(), 3);
    assert!(draws
        .iter()
        .all(|d| d.amount_micro_usd == 18_000_000 && d.verified_memory_gb == 64));
    let entries = ctx.store.ledger_entries("acct-m000").await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].kind, EntryKind::ProviderFloorDraw);
    assert_eq!(entries[0].reference, "floor:2026-10:m000:acct-m000");
    assert_eq!(entries[0].actor, "alice");
    assert_eq!(ctx.store.balance("acct-m000").await.unwrap(), 18_000_000);
    // The base-reward earning shows in the history at E − 1 ms.
    let export = ctx.store.export_bundle(epoch(), &policy).await.unwrap();
    let reward = export
        .earnings
        .iter()
        .find(|x| x.job_id == "floor:2026-10:m000:acct-m000")
        .unwrap();
    assert_eq!(reward.at.0, e() - 1);
    assert_eq!(reward.consumer_account_id, "floorline");
    // Totals feed the next epoch's cliff guard.
    let next = ctx
        .store
        .export_bundle(epoch().next(), &policy)
        .await
        .unwrap();
    assert_eq!(next.previous_totals.len(), 3);
    assert!(next
        .previous_totals
        .iter()
        .all(|t| t.total_micro_usd == 18_000_000));
    // The run and its plan are readable.
    let runs = ctx.store.runs(Some(epoch())).await.unwrap();
    assert_eq!(runs, vec![out.run.clone()]);
    assert_eq!(
        ctx.store.latest_run(epoch(), RunMode::Live).await.unwrap(),
        Some(out.run.clone())
    );
    assert_eq!(
        ctx.store
            .latest_run(epoch(), RunMode::Preview)
            .await
            .unwrap(),
        None
    );
    let json: serde_json::Value =
        serde_json::from_str(&ctx.store.run_plan_json(out.run.id).await.unwrap()).unwrap();
    assert_eq!(json["granted_total_micro_usd"], 54_000_000);
    assert!(matches!(
        ctx.store.run_plan_json(9_999).await,
        Err(StoreError::NotFound(_))
    ));
    let epochs = ctx.store.epochs().await.unwrap();
    assert_eq!(epochs.len(), 1);
    assert_eq!(
        (epochs[0].n_runs, epochs[0].n_live_runs, epochs[0].n_draws),
        (1, 1, 3)
    );
    assert_eq!(epochs[0].drawn_micro_usd, 54_000_000);
    assert_money_invariants(&ctx.store, &accounts_of(&b), &policy).await;
}
both!(
    live_run_writes_everything,
    super::live_run_writes_everything
);

async fn preview_writes_only_the_run(ctx: Ctx) {
    let b = fleet(2);
    ingest(&ctx.store, &b).await;
    let accounts = accounts_of(&b);
    let before = counts(&ctx.store, &accounts).await;
    let mut req = preview("bob");
    req.now_ms = s() + DAY; // a preview of an open epoch is allowed
    let out = settle(&ctx.store, &pool(1_000), req).await.unwrap();
    assert_eq!(out.run.mode, RunMode::Preview);
    assert_eq!(out.run.n_draws, 0);
    let after = counts(&ctx.store, &accounts).await;
    assert_eq!(after.runs, before.runs + 1);
    assert_eq!((after.draws, after.entries, after.balance_sum), (0, 0, 0));
    assert_eq!(after.earnings_in_epoch, before.earnings_in_epoch);
}
both!(
    preview_writes_only_the_run,
    super::preview_writes_only_the_run
);

async fn live_needs_a_closed_epoch(ctx: Ctx) {
    ingest(&ctx.store, &fleet(1)).await;
    let mut req = live("x");
    req.now_ms = e() - 1;
    let err = settle(&ctx.store, &pool(1_000), req).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(v) if v[0].path == "epoch"),
        "{err:?}"
    );
    let mut req = live("x");
    req.actor = " ".into();
    let err = settle(&ctx.store, &pool(1_000), req).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(v) if v[0].path == "actor"),
        "{err:?}"
    );
    assert!(ctx.store.runs(None).await.unwrap().is_empty());
}
both!(live_needs_a_closed_epoch, super::live_needs_a_closed_epoch);

async fn rerun_pays_late_machines_and_never_touches_frozen_draws(ctx: Ctx) {
    let mut b = fleet(2);
    // m-late is attested and up, but has no proof of work yet.
    b.machines.push(attestation("m-late", 64));
    b.bindings
        .push(binding("m-late", "acct-late", s() - DAY, None));
    b.sessions
        .push(session("sess-late", "m-late", s() - DAY, e() + DAY));
    ingest(&ctx.store, &b).await;
    // A pool that fits two floors and a half.
    let policy = pool(45);
    let first = settle(&ctx.store, &policy, live("t")).await.unwrap();
    assert_eq!(first.plan.granted_total_micro_usd, 36_000_000);
    let frozen = ctx.store.draws(epoch(), 0, 100).await.unwrap();
    assert_eq!(frozen.len(), 2);

    // A late probe arrives; the re-run pays m-late from what is left.
    ctx.store
        .ingest(&[probe("late-probe", "m-late", s() + 3 * DAY, true)])
        .await
        .unwrap();
    let second = settle(&ctx.store, &policy, live("t")).await.unwrap();
    assert_eq!(second.plan.already_settled_micro_usd, 36_000_000);
    assert_eq!(
        second.plan.granted_total_micro_usd, 9_000_000,
        "only the remainder"
    );
    assert_eq!(second.run.n_draws, 1);
    let all = ctx.store.draws(epoch(), 0, 100).await.unwrap();
    assert_eq!(all.len(), 3);
    for d in &frozen {
        assert!(all.contains(d), "frozen draw {d:?} unchanged");
    }
    assert_eq!(ctx.store.balance("acct-late").await.unwrap(), 9_000_000);
    assert_eq!(ctx.store.balance("acct-m000").await.unwrap(), 18_000_000);

    // A third run credits nothing twice.
    let third = settle(&ctx.store, &policy, live("t")).await.unwrap();
    assert_eq!(third.plan.granted_total_micro_usd, 0);
    assert_eq!(third.plan.unallocated_micro_usd, 0);
    assert_eq!(ctx.store.draws(epoch(), 0, 100).await.unwrap().len(), 3);
    let mut accounts = accounts_of(&b);
    accounts.push("acct-late".into());
    assert_money_invariants(&ctx.store, &accounts, &policy).await;
    assert_eq!(
        ctx.store.epochs().await.unwrap()[0].drawn_micro_usd,
        45_000_000
    );
}
both!(
    rerun_pays_late_machines_and_never_touches_frozen_draws,
    super::rerun_pays_late_machines_and_never_touches_frozen_draws
);

async fn every_failpoint_before_commit_leaves_nothing(ctx: Ctx) {
    let b = fleet(3);
    ingest(&ctx.store, &b).await;
    let accounts = accounts_of(&b);
    let policy = pool(1_000);
    let before = counts(&ctx.store, &accounts).await;
    for point in [
        FailPoint::BeforeLock,
        FailPoint::AfterPlan,
        FailPoint::BeforeCommit,
    ] {
        ctx.store
            .set_failpoint(Some(FailSpec::new(point, FailAction::Error)));
        let err = settle(&ctx.store, &policy, live("t")).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Injected(p) if p == point),
            "{err:?}"
        );
        assert_eq!(counts(&ctx.store, &accounts).await, before, "{point:?}");
    }
    // Fail after the 1st, 2nd, … write until the run gets through.
    let mut n = 0;
    loop {
        ctx.store.set_failpoint(Some(
            FailSpec::new(FailPoint::BetweenWrites, FailAction::Error).after(n),
        ));
        match settle(&ctx.store, &policy, live("t")).await {
            Err(StoreError::Injected(FailPoint::BetweenWrites)) => {
                assert_eq!(
                    counts(&ctx.store, &accounts).await,
                    before,
                    "after write {n}"
                );
                n += 1;
            }
            Ok(_) => break,
            Err(other) => panic!("{other:?}"),
        }
    }
    // run, accounts, draws, ledger, earnings, the epoch's old totals kept
    // in their history (SPEC §6) and deleted, totals: eight writes.
    assert_eq!(n, 8);
    ctx.store.set_failpoint(None);
    assert_eq!(counts(&ctx.store, &accounts).await.draws, 3);
}
both!(
    every_failpoint_before_commit_leaves_nothing,
    super::every_failpoint_before_commit_leaves_nothing
);

async fn after_commit_the_run_is_durable(ctx: Ctx) {
    let b = fleet(2);
    ingest(&ctx.store, &b).await;
    ctx.store.set_failpoint(Some(FailSpec::new(
        FailPoint::AfterCommit,
        FailAction::Error,
    )));
    let err = settle(&ctx.store, &pool(1_000), live("t"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Injected(FailPoint::AfterCommit)));
    ctx.store.set_failpoint(None);
    assert_eq!(ctx.store.draws(epoch(), 0, 10).await.unwrap().len(), 2);
    assert_eq!(ctx.store.balance("acct-m001").await.unwrap(), 18_000_000);
}
both!(
    after_commit_the_run_is_durable,
    super::after_commit_the_run_is_durable
);

/// Settles with a (buggy) planner, core's plan edited by `edit`: the error.
async fn settle_edited(
    store: &Store,
    policy: &Policy,
    edit: impl FnOnce(&mut Plan) + Send,
) -> StoreError {
    let p = policy.clone();
    store
        .settle(epoch(), policy, live("t"), move |f: &EpochFacts| {
            let mut out = plan(f, &p)?;
            edit(&mut out);
            Ok(out)
        })
        .await
        .unwrap_err()
}

async fn a_broken_invariant_rolls_back(ctx: Ctx) {
    let b = fleet(2);
    ingest(&ctx.store, &b).await;
    let accounts = accounts_of(&b);
    let before = counts(&ctx.store, &accounts).await;
    let policy = pool(20);
    // A planner that grants more than the pool.
    let err = settle_edited(&ctx.store, &policy, |out| {
        for m in &mut out.machines {
            for s in &mut m.shares {
                s.granted_micro_usd = 18_000_000;
            }
            m.granted_micro_usd = 18_000_000;
        }
        out.granted_total_micro_usd = 36_000_000;
    })
    .await;
    assert!(
        matches!(&err, StoreError::Invariant(m) if m.contains("over the pool")),
        "{err:?}"
    );
    assert_eq!(counts(&ctx.store, &accounts).await, before);
    // A planner that plans a machine there is none of: its total has no
    // foreign key, the bulk reference check refuses it.
    let err = settle_edited(&ctx.store, &policy, |out| {
        let mut ghost = out.machines[0].clone();
        ghost.machine_id = "ghost".into();
        ghost.shares.clear();
        ghost.granted_micro_usd = 0;
        out.machines.push(ghost);
    })
    .await;
    assert!(
        matches!(&err, StoreError::Invariant(m)
            if m.contains("a total of 2026-10 is for `ghost`, which is no machine")),
        "{err:?}"
    );
    assert_eq!(counts(&ctx.store, &accounts).await, before);
    // …and a share paid to a machine there is none of fails too.
    settle_edited(&ctx.store, &policy, |out| {
        out.machines[0].machine_id = "ghost".into();
    })
    .await;
    assert_eq!(counts(&ctx.store, &accounts).await, before);
    // A planner error is returned as is, nothing written.
    let err = ctx
        .store
        .settle(epoch(), &policy, live("t"), |_: &EpochFacts| {
            Err(CoreError::Invariant("test"))
        })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Core(CoreError::Invariant("test"))
    ));
    assert_eq!(counts(&ctx.store, &accounts).await, before);
}
both!(
    a_broken_invariant_rolls_back,
    super::a_broken_invariant_rolls_back
);

async fn unique_keys_refuse_double_credit(ctx: Ctx) {
    let b = fleet(2);
    ingest(&ctx.store, &b).await;
    let policy = pool(1_000);
    settle(&ctx.store, &policy, live("t")).await.unwrap();
    let accounts = accounts_of(&b);
    let before = counts(&ctx.store, &accounts).await;
    // A planner that forgets the prior draws would pay again: the keys refuse it.
    let p = policy.clone();
    let err = ctx
        .store
        .settle(epoch(), &policy, live("t"), move |f: &EpochFacts| {
            let mut f = f.clone();
            f.prior_draws.clear();
            plan(&f, &p)
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadySettled { .. }), "{err:?}");
    assert_eq!(counts(&ctx.store, &accounts).await, before);
}
both!(
    unique_keys_refuse_double_credit,
    super::unique_keys_refuse_double_credit
);

async fn concurrent_settlers_pay_once(ctx: Ctx) {
    let b = fleet(20);
    ingest(&ctx.store, &b).await;
    let policy = pool(300);
    let mut stores: Vec<Store> = Vec::new();
    for _ in 0..8 {
        stores.push(ctx.another().await);
    }
    let mut tasks = Vec::new();
    for (i, store) in stores.iter().enumerate() {
        let store = store.clone();
        let policy = policy.clone();
        tasks.push(tokio::spawn(async move {
            settle(&store, &policy, live(&format!("settler-{i}"))).await
        }));
    }
    let mut granted = Vec::new();
    for t in tasks {
        let out = t.await.unwrap().unwrap();
        granted.push(out.plan.granted_total_micro_usd);
    }
    granted.sort();
    // One run paid 16 floors ($300 / $18); the other seven found them frozen.
    assert_eq!(granted.iter().filter(|g| **g > 0).count(), 1, "{granted:?}");
    let paid = granted[7];
    assert!(paid > 0 && paid <= policy.pool_micro_usd);
    let draws = ctx.store.draws(epoch(), 0, 100).await.unwrap();
    assert_eq!(draws.iter().map(|d| d.amount_micro_usd).sum::<i64>(), paid);
    assert_eq!(ctx.store.runs(Some(epoch())).await.unwrap().len(), 8);
    let accounts = accounts_of(&b);
    let entries: usize = {
        let mut n = 0;
        for a in &accounts {
            n += ctx.store.ledger_entries(a).await.unwrap().len();
        }
        n
    };
    assert_eq!(entries, draws.len());
    assert_money_invariants(&ctx.store, &accounts, &policy).await;
    for s in stores {
        s.close().await;
    }
}
both!(
    concurrent_settlers_pay_once,
    super::concurrent_settlers_pay_once
);
