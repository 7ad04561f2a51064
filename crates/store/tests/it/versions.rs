//! SPEC §6 *Fact versions* on both backends: a run records the version its
//! snapshot read; the facts as of that version — late facts absent, refined
//! sessions and bindings as the run saw them — stay readable after any
//! later ingestion, while refinements no run has read overwrite in place.

use floorline_core::bundle::Session;
use floorline_core::facts::{EpochFacts, SessionFact};
use floorline_core::plan;
use floorline_store::{FactsAt, SettleRequest};

use crate::both;
use crate::harness::Ctx;
use crate::kit::*;

fn at(version: i64, before_run: i64) -> FactsAt {
    FactsAt {
        version,
        before_run,
        previous_totals_run: None,
    }
}

/// m000's sessions as `at` (or now) reads them.
async fn sessions_of(ctx: &Ctx, at_: Option<FactsAt>) -> Vec<SessionFact> {
    let policy = pool(1_000);
    let facts = match at_ {
        Some(a) => ctx
            .store
            .load_epoch_facts_at(epoch(), &policy, a)
            .await
            .unwrap(),
        None => ctx.store.load_epoch_facts(epoch(), &policy).await.unwrap(),
    };
    let mut s = facts
        .machines
        .iter()
        .find(|m| m.machine_id == "m000")
        .unwrap()
        .sessions
        .clone();
    s.sort_by_key(|x| x.connected_at_ms);
    s
}

async fn a_run_reads_facts_that_stay_readable(ctx: Ctx) {
    let policy = pool(1_000);
    ingest(&ctx.store, &fleet(2)).await;
    let before = normalised(ctx.store.load_epoch_facts(epoch(), &policy).await.unwrap());
    let exported_before = ctx.store.export_bundle(epoch(), &policy).await.unwrap();
    let run = settle(&ctx.store, &policy, live("t")).await.unwrap().run;
    let v = run.facts_version.expect("a run records its facts version");
    assert!(v > 0);
    let runs = ctx.store.runs(Some(epoch())).await.unwrap();
    assert_eq!(runs[0].facts_version, Some(v), "read back");
    // Late facts: an earning, a heartbeat of a session, a binding's `to`.
    ctx.store
        .ingest(&[earning(
            "late-job",
            "m000",
            "buyer",
            7_000_000,
            s() + 3 * DAY,
        )])
        .await
        .unwrap();
    let mut beat = exported_before
        .sessions
        .iter()
        .find(|x| x.machine_id == "m000")
        .unwrap()
        .clone();
    beat.last_seen_at = Some(ts(e() + 2 * DAY));
    let r = ctx.store.ingest(std::slice::from_ref(&beat)).await.unwrap();
    assert_eq!(r.refined, 1, "{r:?}");
    let mut ended = exported_before.bindings[1].clone();
    ended.to = Some(ts(s() + 20 * DAY));
    let r = ctx
        .store
        .ingest(std::slice::from_ref(&ended))
        .await
        .unwrap();
    assert_eq!(r.refined, 1, "{r:?}");

    // As the run read them: exactly what was there before it.
    let then = normalised(
        ctx.store
            .load_epoch_facts_at(epoch(), &policy, at(v, run.id))
            .await
            .unwrap(),
    );
    assert_eq!(then, before);
    let mut exported_then = ctx
        .store
        .export_bundle_at(epoch(), &policy, at(v, run.id))
        .await
        .unwrap();
    assert!(exported_then.prior_draws.is_empty(), "no run before run 1");
    // The run's own base rewards came after it too.
    exported_then
        .earnings
        .retain(|x| !x.job_id.starts_with("floor:"));
    assert_eq!(exported_then.earnings, exported_before.earnings);
    assert_eq!(exported_then.sessions, exported_before.sessions);
    assert_eq!(exported_then.bindings, exported_before.bindings);
    // Now: the late facts are there.
    let now = ctx.store.export_bundle(epoch(), &policy).await.unwrap();
    assert!(now.earnings.iter().any(|x| x.job_id == "late-job"));
    assert!(now.sessions.contains(&beat));
    assert!(now.bindings.contains(&ended));
    assert!(now.earnings.iter().any(|x| x.job_id.starts_with("floor:")));
    assert!(!now.prior_draws.is_empty());
}
both!(
    a_run_reads_facts_that_stay_readable,
    super::a_run_reads_facts_that_stay_readable
);

async fn each_run_reads_the_version_it_saw(ctx: Ctx) {
    let policy = pool(1_000);
    let mut b = fleet(1);
    b.sessions.clear();
    ingest(&ctx.store, &b).await;
    let beat = |k: i64| Session {
        last_seen_at: Some(ts(s() + k * DAY)),
        ..session("s1", "m000", s(), s())
    };
    let seen = |k: i64| SessionFact {
        connected_at_ms: s(),
        last_seen_at_ms: Some(s() + k * DAY),
        disconnected_at_ms: None,
    };
    ctx.store.ingest(&[beat(1)]).await.unwrap();
    let a = settle(&ctx.store, &policy, preview("a")).await.unwrap().run;
    // Read by run a: kept. Then a refinement no run read: overwritten.
    ctx.store.ingest(&[beat(2)]).await.unwrap();
    ctx.store.ingest(&[beat(3)]).await.unwrap();
    let b_run = settle(&ctx.store, &policy, preview("b")).await.unwrap().run;
    ctx.store.ingest(&[beat(4)]).await.unwrap();
    let va = a.facts_version.unwrap();
    let vb = b_run.facts_version.unwrap();
    assert!(va < vb, "{va} < {vb}");
    assert_eq!(sessions_of(&ctx, Some(at(va, a.id))).await, vec![seen(1)]);
    assert_eq!(
        sessions_of(&ctx, Some(at(vb, b_run.id))).await,
        vec![seen(3)]
    );
    assert_eq!(sessions_of(&ctx, None).await, vec![seen(4)]);
    // A session first sent after a run is absent as of it.
    ctx.store
        .ingest(&[session("s2", "m000", s() + 5 * DAY, s() + 6 * DAY)])
        .await
        .unwrap();
    assert_eq!(
        sessions_of(&ctx, Some(at(vb, b_run.id))).await,
        vec![seen(3)]
    );
    assert_eq!(sessions_of(&ctx, None).await.len(), 2);
}
both!(
    each_run_reads_the_version_it_saw,
    super::each_run_reads_the_version_it_saw
);

/// D11's previous totals as a run read them: a re-settlement of the
/// previous epoch replaces its totals, and the run of the next epoch that
/// read the old ones still reads them as of itself.
async fn previous_totals_stay_as_the_next_run_read_them(ctx: Ctx) {
    let policy = pool(1_000);
    ingest(&ctx.store, &fleet(2)).await;
    let october = settle(&ctx.store, &policy, live("t")).await.unwrap().run;
    let next = epoch().next();
    let after_next = SettleRequest {
        now_ms: next.end().0 + DAY,
        ..live("t")
    };
    let p = policy.clone();
    let november = ctx
        .store
        .settle(next, &policy, after_next, move |f: &EpochFacts| plan(f, &p))
        .await
        .unwrap()
        .run;
    assert_eq!(november.previous_totals_run_id, Some(october.id));
    let totals = |f: EpochFacts| -> Vec<(String, i64)> {
        let mut t: Vec<_> = f
            .machines
            .into_iter()
            .map(|m| (m.machine_id, m.previous_total_micro_usd))
            .collect();
        t.sort();
        t
    };
    let read = totals(ctx.store.load_epoch_facts(next, &policy).await.unwrap());
    assert_eq!(
        read,
        vec![("m000".into(), 18_000_000), ("m001".into(), 18_000_000)]
    );
    // A late October earning, and October settled again: its totals change.
    ctx.store
        .ingest(&[earning("late", "m000", "buyer", 50_000_000, s() + DAY)])
        .await
        .unwrap();
    let again = settle(&ctx.store, &policy, live("t")).await.unwrap().run;
    assert!(again.id > november.id);
    let now = totals(ctx.store.load_epoch_facts(next, &policy).await.unwrap());
    assert_ne!(now, read, "today's previous totals moved");
    let at = FactsAt::of_run(&november).unwrap();
    let then = totals(
        ctx.store
            .load_epoch_facts_at(next, &policy, at)
            .await
            .unwrap(),
    );
    assert_eq!(then, read, "as November's run read them");
    // And the export as of the run carries them.
    let bundle = ctx.store.export_bundle_at(next, &policy, at).await.unwrap();
    let mut exported: Vec<_> = bundle
        .previous_totals
        .iter()
        .map(|t| (t.machine_id.clone(), t.total_micro_usd))
        .collect();
    exported.sort();
    assert_eq!(exported, read);
}
both!(
    previous_totals_stay_as_the_next_run_read_them,
    super::previous_totals_stay_as_the_next_run_read_them
);
