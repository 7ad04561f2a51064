//! SPEC §2 refinements on both backends: a session's later `last_seen_at`
//! and first `disconnected_at`, a binding's first `to` — applied in place
//! and counted `refined`; every other difference a conflict naming its
//! field; a batch judged item after item as if sent in order; an invalid
//! batch writing nothing.

use floorline_core::bundle::{Binding, Session};
use floorline_core::policy::Policy;
use floorline_store::{IngestReport, StoreError};

use crate::both;
use crate::harness::Ctx;
use crate::kit::*;

/// The stored session `sid` (read through an export of the epoch).
async fn stored_session(ctx: &Ctx, sid: &str) -> Session {
    let b = ctx
        .store
        .export_bundle(epoch(), &Policy::default())
        .await
        .unwrap();
    b.sessions
        .into_iter()
        .find(|x| x.session_id == sid)
        .unwrap_or_else(|| panic!("no session {sid}"))
}

async fn stored_binding(ctx: &Ctx, machine: &str) -> Binding {
    let b = ctx
        .store
        .export_bundle(epoch(), &Policy::default())
        .await
        .unwrap();
    b.bindings
        .into_iter()
        .find(|x| x.machine_id == machine)
        .unwrap_or_else(|| panic!("no binding of {machine}"))
}

fn only_conflict(r: &IngestReport) -> String {
    assert_eq!(r.conflicts.len(), 1, "{r:?}");
    assert_eq!(r.accepted + r.refined + r.duplicates, 0, "{r:?}");
    r.conflicts[0].reason.clone()
}

fn sess(last: Option<i64>, disc: Option<i64>) -> Session {
    Session {
        last_seen_at: last.map(ts),
        disconnected_at: disc.map(ts),
        ..session("s1", "m000", s() + DAY, s() + DAY)
    }
}

async fn a_heartbeat_and_a_disconnect_refine_a_session(ctx: Ctx) {
    ingest(&ctx.store, &fleet(1)).await;
    let r = ctx
        .store
        .ingest(&[sess(Some(s() + DAY), None)])
        .await
        .unwrap();
    assert_eq!((r.accepted, r.refined), (1, 0));
    // A later last_seen_at: a heartbeat.
    let later = sess(Some(s() + 2 * DAY), None);
    let r = ctx
        .store
        .ingest(std::slice::from_ref(&later))
        .await
        .unwrap();
    assert_eq!((r.accepted, r.refined, r.duplicates), (0, 1, 0), "{r:?}");
    assert_eq!(stored_session(&ctx, "s1").await, later);
    // The same last_seen_at with a first disconnected_at: a refinement.
    let gone = sess(Some(s() + 2 * DAY), Some(s() + 2 * DAY + 5));
    let r = ctx.store.ingest(std::slice::from_ref(&gone)).await.unwrap();
    assert_eq!((r.accepted, r.refined, r.duplicates), (0, 1, 0), "{r:?}");
    assert_eq!(stored_session(&ctx, "s1").await, gone);
    // A later heartbeat after the disconnect (disconnected_at unchanged) still refines.
    let late = sess(Some(s() + 3 * DAY), Some(s() + 2 * DAY + 5));
    let r = ctx.store.ingest(std::slice::from_ref(&late)).await.unwrap();
    assert_eq!(r.refined, 1, "{r:?}");
    // Identical: a duplicate.
    let r = ctx.store.ingest(std::slice::from_ref(&late)).await.unwrap();
    assert_eq!((r.accepted, r.refined, r.duplicates), (0, 0, 1), "{r:?}");
    assert_eq!(stored_session(&ctx, "s1").await, late);
}
both!(
    a_heartbeat_and_a_disconnect_refine_a_session,
    super::a_heartbeat_and_a_disconnect_refine_a_session
);

async fn every_session_conflict_names_its_field(ctx: Ctx) {
    let mut b = fleet(2);
    b.sessions.clear();
    ingest(&ctx.store, &b).await;
    let stored = sess(Some(s() + 2 * DAY), Some(s() + 3 * DAY));
    ctx.store
        .ingest(std::slice::from_ref(&stored))
        .await
        .unwrap();
    let cases: Vec<(Session, &str)> = vec![
        (
            sess(Some(s() + DAY), Some(s() + 3 * DAY)),
            "an earlier last_seen_at",
        ),
        (sess(None, Some(s() + 3 * DAY)), "an earlier last_seen_at"),
        (
            sess(Some(s() + 2 * DAY), Some(s() + 4 * DAY)),
            "a changed disconnected_at",
        ),
        (sess(Some(s() + 2 * DAY), None), "a changed disconnected_at"),
        (
            Session {
                connected_at: ts(s() + DAY - 1),
                ..stored.clone()
            },
            "different payload (connected_at)",
        ),
        (
            Session {
                machine_id: "m001".into(),
                ..stored.clone()
            },
            "different payload (machine_id)",
        ),
    ];
    for (item, field) in cases {
        let r = ctx.store.ingest(std::slice::from_ref(&item)).await.unwrap();
        let reason = only_conflict(&r);
        assert!(reason.contains(field), "{field}: {reason}");
        assert!(reason.contains("a stored fact"), "{reason}");
        assert_eq!(r.conflicts[0].key, "s1");
    }
    // Several wrong fields are all named.
    let r = ctx
        .store
        .ingest(&[Session {
            machine_id: "m001".into(),
            ..sess(Some(s() + DAY), Some(s() + 4 * DAY))
        }])
        .await
        .unwrap();
    let reason = only_conflict(&r);
    for field in ["machine_id", "last_seen_at", "disconnected_at"] {
        assert!(reason.contains(field), "{field}: {reason}");
    }
    assert_eq!(stored_session(&ctx, "s1").await, stored, "nothing applied");
}
both!(
    every_session_conflict_names_its_field,
    super::every_session_conflict_names_its_field
);

async fn a_binding_gets_one_to(ctx: Ctx) {
    let mut b = fleet(1);
    b.bindings.clear();
    ingest(&ctx.store, &b).await;
    let open = binding("m000", "a1", s(), None);
    ctx.store.ingest(std::slice::from_ref(&open)).await.unwrap();
    // A `to` that is not after `from` is invalid, not a conflict.
    let err = ctx
        .store
        .ingest(&[binding("m000", "a1", s(), Some(s()))])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    // The first `to`, and in the same batch the next owner from then on:
    // judged with the refined `to`, they do not overlap.
    let ended = binding("m000", "a1", s(), Some(s() + 10 * DAY));
    let r = ctx
        .store
        .ingest(&[ended.clone(), binding("m000", "a2", s() + 10 * DAY, None)])
        .await
        .unwrap();
    assert_eq!((r.accepted, r.refined, r.duplicates), (1, 1, 0), "{r:?}");
    assert!(r.conflicts.is_empty(), "{r:?}");
    assert_eq!(stored_binding(&ctx, "m000").await, ended);
    let r = ctx
        .store
        .ingest(std::slice::from_ref(&ended))
        .await
        .unwrap();
    assert_eq!(r.duplicates, 1);
    for (item, field) in [
        (
            binding("m000", "a1", s(), Some(s() + 9 * DAY)),
            "a changed to",
        ),
        (binding("m000", "a1", s(), None), "a changed to"),
        (
            Binding {
                account_id: "a9".into(),
                ..ended.clone()
            },
            "different payload (account_id)",
        ),
        (
            Binding {
                payout_identity: "p9".into(),
                ..ended.clone()
            },
            "different payload (payout_identity)",
        ),
    ] {
        let r = ctx.store.ingest(std::slice::from_ref(&item)).await.unwrap();
        let reason = only_conflict(&r);
        assert!(reason.contains(field), "{field}: {reason}");
    }
    assert_eq!(stored_binding(&ctx, "m000").await, ended, "nothing applied");
}
both!(a_binding_gets_one_to, super::a_binding_gets_one_to);

async fn a_batch_is_judged_in_order(ctx: Ctx) {
    let mut b = fleet(1);
    b.sessions.clear();
    ingest(&ctx.store, &b).await;
    // A new session and its heartbeats in one batch: the first is accepted,
    // each later heartbeat refines it, a stale one is a conflict naming the
    // item it is older than, and what is stored is the last refinement.
    let last = sess(Some(s() + 4 * DAY), Some(s() + 4 * DAY));
    let r = ctx
        .store
        .ingest(&[
            sess(Some(s() + DAY), None),
            sess(Some(s() + 3 * DAY), None),
            sess(Some(s() + 2 * DAY), None),
            sess(Some(s() + 3 * DAY), None),
            last.clone(),
        ])
        .await
        .unwrap();
    assert_eq!((r.accepted, r.refined, r.duplicates), (1, 2, 1), "{r:?}");
    assert_eq!(r.conflicts.len(), 1, "{r:?}");
    assert_eq!(r.conflicts[0].index, 2);
    assert!(
        r.conflicts[0]
            .reason
            .contains("earlier last_seen_at than sessions[1] of this batch"),
        "{}",
        r.conflicts[0].reason
    );
    assert_eq!(stored_session(&ctx, "s1").await, last);
    // Against a stored session too.
    let mut two = session("s2", "m000", s() + DAY, s() + DAY);
    ctx.store.ingest(std::slice::from_ref(&two)).await.unwrap();
    let mut beats = Vec::new();
    for k in 2..6 {
        two.last_seen_at = Some(ts(s() + k * DAY));
        beats.push(two.clone());
    }
    let r = ctx.store.ingest(&beats).await.unwrap();
    assert_eq!((r.accepted, r.refined), (0, 4), "{r:?}");
    assert_eq!(stored_session(&ctx, "s2").await, two);
    // The same through a bundle.
    let mut bundle = empty_bundle();
    two.last_seen_at = Some(ts(s() + 7 * DAY));
    bundle.sessions.push(two.clone());
    let reports = ctx.store.ingest_bundle(&bundle).await.unwrap();
    let (_, r) = reports.iter().find(|(k, _)| *k == "sessions").unwrap();
    assert_eq!(r.refined, 1, "{r:?}");
    assert_eq!(stored_session(&ctx, "s2").await, two);
}
both!(
    a_batch_is_judged_in_order,
    super::a_batch_is_judged_in_order
);

async fn an_invalid_batch_refines_nothing(ctx: Ctx) {
    let mut b = fleet(1);
    b.sessions.clear();
    ingest(&ctx.store, &b).await;
    let first = sess(Some(s() + DAY), None);
    ctx.store
        .ingest(std::slice::from_ref(&first))
        .await
        .unwrap();
    let err = ctx
        .store
        .ingest(&[
            sess(Some(s() + 2 * DAY), None),
            session("s9", "nobody", s(), s()),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(stored_session(&ctx, "s1").await, first);
    // Likewise a binding's `to` in a bundle with an invalid item elsewhere.
    let mut bundle = empty_bundle();
    bundle
        .bindings
        .push(binding("m000", "acct-m000", s() - 10 * DAY, Some(s())));
    bundle.sessions.push(session("s9", "nobody", s(), s()));
    assert!(ctx.store.ingest_bundle(&bundle).await.is_err());
    assert_eq!(stored_binding(&ctx, "m000").await.to, None);
}
both!(
    an_invalid_batch_refines_nothing,
    super::an_invalid_batch_refines_nothing
);

/// Heartbeats of stored sessions, all of one batch, refine in one pass on
/// SQLite (`ingest/in_place.rs`); one item of another kind in the batch —
/// a duplicate, a stale heartbeat, an unknown session, a machine named
/// through an alias — sends the whole batch down the general path, which
/// judges every item as before.
async fn a_batch_of_heartbeats_is_judged_whole(ctx: Ctx) {
    let mut b = fleet(4);
    b.sessions.clear();
    b.aliases.push(alias("key-m003", "m003"));
    ingest(&ctx.store, &b).await;
    let open = |k: usize, hours: i64| {
        session(
            &format!("s{k}"),
            &format!("m00{k}"),
            s() + DAY,
            s() + DAY + hours * 3_600_000,
        )
    };
    let opened: Vec<Session> = (0..4).map(|k| open(k, 0)).collect();
    ctx.store.ingest(&opened).await.unwrap();
    // Every item a heartbeat: all refined, each value stored.
    let beats: Vec<Session> = (0..4).map(|k| open(k, 1)).collect();
    let r = ctx.store.ingest(&beats).await.unwrap();
    assert_eq!((r.accepted, r.refined, r.duplicates), (0, 4, 0), "{r:?}");
    for (k, beat) in beats.iter().enumerate() {
        assert_eq!(&stored_session(&ctx, &format!("s{k}")).await, beat);
    }
    // One duplicate (s1 re-sent as stored), one stale heartbeat (s2), one
    // new session (s9), one heartbeat naming its machine through an alias
    // (s3): judged item by item.
    let mut via_alias = open(3, 2);
    via_alias.machine_id = "key-m003".into();
    let stale = open(2, 0);
    let r = ctx
        .store
        .ingest(&[
            open(0, 2),
            beats[1].clone(),
            stale,
            session("s9", "m000", s() + 2 * DAY, s() + 2 * DAY),
            via_alias,
        ])
        .await
        .unwrap();
    assert_eq!((r.accepted, r.refined, r.duplicates), (1, 2, 1), "{r:?}");
    assert_eq!(r.conflicts.len(), 1, "{r:?}");
    assert_eq!(r.conflicts[0].index, 2);
    assert!(
        r.conflicts[0].reason.contains("an earlier last_seen_at"),
        "{r:?}"
    );
    assert_eq!(stored_session(&ctx, "s0").await, open(0, 2));
    assert_eq!(stored_session(&ctx, "s2").await, beats[2]);
    assert_eq!(stored_session(&ctx, "s3").await, open(3, 2));
    // A heartbeat whose machine differs from the stored one: a conflict
    // naming machine_id, and the other heartbeat of the batch still refines.
    let mut moved = open(1, 3);
    moved.machine_id = "m000".into();
    let r = ctx.store.ingest(&[open(0, 3), moved]).await.unwrap();
    assert_eq!(r.refined, 1, "{r:?}");
    assert_eq!(r.conflicts.len(), 1, "{r:?}");
    assert!(r.conflicts[0].reason.contains("machine_id"), "{r:?}");
    assert_eq!(stored_session(&ctx, "s1").await, beats[1]);
}
both!(
    a_batch_of_heartbeats_is_judged_whole,
    super::a_batch_of_heartbeats_is_judged_whole
);
