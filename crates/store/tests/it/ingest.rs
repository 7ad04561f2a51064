//! Ingestion: duplicates, conflicts, alias resolution, unknown machines,
//! invalid fields, overlapping bindings, the batch limit, watermarks — and
//! nothing written whenever a batch is invalid.

use floorline_core::bundle::Earning;
use floorline_core::policy::Policy;
use floorline_core::Watermark;
use floorline_store::{StoreError, MAX_BATCH_ITEMS};

use crate::both;
use crate::harness::{Ctx, Kind};
use crate::kit::*;

fn paths(e: &StoreError) -> Vec<String> {
    match e {
        StoreError::Invalid(list) => list.iter().map(|i| i.path.clone()).collect(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

async fn n_earnings(ctx: &Ctx) -> usize {
    ctx.store
        .export_bundle(epoch(), &Policy::default())
        .await
        .unwrap()
        .earnings
        .len()
}

async fn every_kind_is_idempotent(ctx: Ctx) {
    let mut b = fleet(2);
    b.aliases.push(alias("pk-1", "m000"));
    b.health.push(health("m000", s() + DAY, true));
    b.earnings.push(earning("j1", "pk-1", "c1", 5, s() + DAY));
    let first = ctx.store.ingest_bundle(&b).await.unwrap();
    let second = ctx.store.ingest_bundle(&b).await.unwrap();
    for ((kind, a), (_, d)) in first.iter().zip(&second) {
        assert!(a.accepted > 0 && a.duplicates == 0, "{kind}: {a:?}");
        assert_eq!(d.accepted, 0, "{kind}");
        assert_eq!(d.duplicates, a.accepted, "{kind}");
        assert!(d.conflicts.is_empty(), "{kind}");
    }
}
both!(every_kind_is_idempotent, super::every_kind_is_idempotent);

async fn conflicting_resend_is_reported_and_the_rest_written(ctx: Ctx) {
    ingest(&ctx.store, &fleet(1)).await;
    let j1 = earning("j1", "m000", "c1", 5, s() + DAY);
    ctx.store.ingest(std::slice::from_ref(&j1)).await.unwrap();
    let changed = Earning {
        amount_micro_usd: 6,
        ..j1.clone()
    };
    let r = ctx
        .store
        .ingest(&[
            earning("j2", "m000", "c1", 1, s() + DAY),
            changed,
            j1.clone(),
            earning("j3", "m000", "c1", 1, s() + DAY),
        ])
        .await
        .unwrap();
    assert_eq!(r.accepted, 2);
    assert_eq!(r.duplicates, 1);
    assert_eq!(r.conflicts.len(), 1);
    assert_eq!(r.conflicts[0].index, 1);
    assert_eq!(r.conflicts[0].key, "j1");
    assert!(
        r.conflicts[0].reason.contains("amount_micro_usd"),
        "{}",
        r.conflicts[0].reason
    );
    // A lone conflicting item (found from the row count, not a pre-read).
    let lone = Earning {
        at: ts(s() + 2 * DAY),
        ..j1.clone()
    };
    let r = ctx
        .store
        .ingest(&[earning("j4", "m000", "c1", 1, s() + DAY), lone])
        .await
        .unwrap();
    assert_eq!((r.accepted, r.duplicates), (1, 0));
    assert_eq!(r.conflicts.len(), 1);
    assert_eq!(
        (r.conflicts[0].index, r.conflicts[0].key.as_str()),
        (1, "j1")
    );
    assert!(
        r.conflicts[0].reason.contains("at"),
        "{}",
        r.conflicts[0].reason
    );
    let stored = ctx
        .store
        .export_bundle(epoch(), &Policy::default())
        .await
        .unwrap();
    let j1_stored = stored.earnings.iter().find(|e| e.job_id == "j1").unwrap();
    assert_eq!(
        j1_stored.amount_micro_usd, 5,
        "a conflict never changes what is stored"
    );
}
both!(
    conflicting_resend_is_reported_and_the_rest_written,
    super::conflicting_resend_is_reported_and_the_rest_written
);

async fn in_batch_repeats(ctx: Ctx) {
    ingest(&ctx.store, &fleet(1)).await;
    let a = earning("j1", "m000", "c1", 5, s() + DAY);
    let b = Earning {
        consumer_account_id: "c2".into(),
        ..a.clone()
    };
    let r = ctx.store.ingest(&[a.clone(), a, b]).await.unwrap();
    assert_eq!((r.accepted, r.duplicates), (1, 1));
    assert_eq!(r.conflicts.len(), 1);
    assert_eq!(r.conflicts[0].index, 2);
    assert!(r.conflicts[0].reason.contains("earnings[0]"));
}
both!(in_batch_repeats, super::in_batch_repeats);

async fn aliases_resolve_to_the_machine(ctx: Ctx) {
    ingest(&ctx.store, &fleet(1)).await;
    ctx.store.ingest(&[alias("pk-a", "m000")]).await.unwrap();
    let via_alias = earning("j1", "pk-a", "c1", 5, s() + DAY);
    assert_eq!(ctx.store.ingest(&[via_alias]).await.unwrap().accepted, 1);
    // The same fact named by the machine id is a duplicate: payloads compare after resolving.
    let via_id = earning("j1", "m000", "c1", 5, s() + DAY);
    let r = ctx.store.ingest(&[via_id]).await.unwrap();
    assert_eq!((r.accepted, r.duplicates), (0, 1));
    let b = ctx
        .store
        .export_bundle(epoch(), &Policy::default())
        .await
        .unwrap();
    assert_eq!(b.earnings[0].machine_id, "m000");
    assert_eq!(
        ctx.store.resolve_machine("pk-a").await.unwrap().as_deref(),
        Some("m000")
    );
    assert_eq!(ctx.store.resolve_machine("nope").await.unwrap(), None);
    // Sessions, health, probes and bindings resolve the same way.
    let r = ctx
        .store
        .ingest(&[health("pk-a", s() + 2 * DAY, false)])
        .await
        .unwrap();
    assert_eq!(r.accepted, 1);
    let r = ctx
        .store
        .ingest(&[session("s-x", "pk-a", s(), s() + DAY)])
        .await
        .unwrap();
    assert_eq!(r.accepted, 1);
}
both!(
    aliases_resolve_to_the_machine,
    super::aliases_resolve_to_the_machine
);

async fn unknown_machine_rejects_the_whole_batch(ctx: Ctx) {
    ingest(&ctx.store, &fleet(1)).await;
    let before = n_earnings(&ctx).await;
    let err = ctx
        .store
        .ingest(&[
            earning("j1", "m000", "c1", 5, s() + DAY),
            earning("j2", "ghost", "c1", 5, s() + DAY),
        ])
        .await
        .unwrap_err();
    assert_eq!(paths(&err), vec!["earnings[1].machine_id"]);
    assert!(err.to_string().contains("unknown machine `ghost`"), "{err}");
    assert_eq!(n_earnings(&ctx).await, before, "nothing written");
    let err = ctx
        .store
        .ingest(&[probe("p9", "ghost", s(), true)])
        .await
        .unwrap_err();
    assert_eq!(paths(&err), vec!["probes[0].machine_id"]);
}
both!(
    unknown_machine_rejects_the_whole_batch,
    super::unknown_machine_rejects_the_whole_batch
);

async fn invalid_fields_name_index_and_field(ctx: Ctx) {
    ingest(&ctx.store, &fleet(1)).await;
    let mut batch: Vec<Earning> = (0..5)
        .map(|i| earning(&format!("j{i}"), "m000", "c1", 5, s() + DAY))
        .collect();
    batch[3].amount_micro_usd = -1;
    batch[4].consumer_account_id = "bad id".into();
    let err = ctx.store.ingest(&batch).await.unwrap_err();
    assert_eq!(
        paths(&err),
        vec![
            "earnings[3].amount_micro_usd",
            "earnings[4].consumer_account_id"
        ]
    );
    assert!(err
        .to_string()
        .contains("earnings[3].amount_micro_usd: must be ≥ 0"));
    assert_eq!(n_earnings(&ctx).await, 0, "nothing written");

    let mut reserved = earning("floor:2026-10:m000:x", "m000", "c1", 5, s());
    reserved.job_id = "floor:2026-10:m000:x".into();
    let err = ctx.store.ingest(&[reserved]).await.unwrap_err();
    assert_eq!(paths(&err), vec!["earnings[0].job_id"]);

    let mut s1 = session("s1", "m000", s() + DAY, s());
    s1.last_seen_at = Some(ts(s()));
    let err = ctx.store.ingest(&[s1]).await.unwrap_err();
    assert_eq!(paths(&err), vec!["sessions[0].last_seen_at"]);

    let err = ctx
        .store
        .ingest(&[binding("m000", "a", s(), Some(s()))])
        .await
        .unwrap_err();
    assert_eq!(paths(&err), vec!["bindings[0].to"]);
}
both!(
    invalid_fields_name_index_and_field,
    super::invalid_fields_name_index_and_field
);

async fn batch_limit_boundary(ctx: Ctx) {
    ingest(&ctx.store, &fleet(1)).await;
    let batch: Vec<Earning> = (0..MAX_BATCH_ITEMS)
        .map(|i| earning(&format!("j{i}"), "m000", "c1", 1, s() + DAY))
        .collect();
    let r = ctx.store.ingest(&batch).await.unwrap();
    assert_eq!(r.accepted, MAX_BATCH_ITEMS as u64);
    let mut over = batch.clone();
    over.push(earning("j-extra", "m000", "c1", 1, s() + DAY));
    let err = ctx.store.ingest(&over).await.unwrap_err();
    assert!(
        matches!(err, StoreError::BatchTooLarge { items, max } if items == MAX_BATCH_ITEMS + 1 && max == MAX_BATCH_ITEMS),
        "{err:?}"
    );
    assert_eq!(n_earnings(&ctx).await, MAX_BATCH_ITEMS);
    // The re-sent full batch is all duplicates.
    let r = ctx.store.ingest(&batch).await.unwrap();
    assert_eq!((r.accepted, r.duplicates), (0, MAX_BATCH_ITEMS as u64));
}
both!(batch_limit_boundary, super::batch_limit_boundary);

async fn overlapping_bindings_are_invalid(ctx: Ctx) {
    let mut b = empty_bundle();
    b.machines.push(attestation("m1", 64));
    b.machines.push(attestation("m2", 64));
    b.bindings
        .push(binding("m1", "a1", s(), Some(s() + 10 * DAY)));
    ingest(&ctx.store, &b).await;

    // Overlaps the stored one.
    let err = ctx
        .store
        .ingest(&[binding("m1", "a2", s() + 5 * DAY, None)])
        .await
        .unwrap_err();
    assert_eq!(paths(&err), vec!["bindings[0].from"]);
    assert!(err.to_string().contains("stored binding"), "{err}");
    // Two new ones overlapping each other (another machine's is fine).
    let err = ctx
        .store
        .ingest(&[
            binding("m2", "a2", s(), None),
            binding("m1", "a3", s() + 20 * DAY, None),
            binding("m1", "a4", s() + 25 * DAY, None),
        ])
        .await
        .unwrap_err();
    assert_eq!(paths(&err), vec!["bindings[1].from", "bindings[2].from"]);
    assert_eq!(
        ctx.store.machines_of_account("a2").await.unwrap(),
        Vec::<String>::new(),
        "nothing written"
    );
    // Adjacent half-open bindings do not overlap; an identical re-send is a duplicate;
    // the same key with another `to` is a conflict.
    let r = ctx
        .store
        .ingest(&[
            binding("m1", "a2", s() + 10 * DAY, None),
            binding("m1", "a1", s(), Some(s() + 10 * DAY)),
            binding("m1", "a1", s(), Some(s() + 9 * DAY)),
        ])
        .await
        .unwrap();
    assert_eq!((r.accepted, r.duplicates), (1, 1));
    assert_eq!(r.conflicts.len(), 1);
    assert_eq!(r.conflicts[0].index, 2);
    assert_eq!(
        ctx.store.machines_of_account("a2").await.unwrap(),
        vec!["m1"]
    );
}
both!(
    overlapping_bindings_are_invalid,
    super::overlapping_bindings_are_invalid
);

async fn names_stay_unambiguous(ctx: Ctx) {
    ingest(&ctx.store, &fleet(2)).await;
    ctx.store.ingest(&[alias("pk-1", "m000")]).await.unwrap();
    let err = ctx
        .store
        .ingest(&[
            alias("pk-2", "ghost"),
            alias("m001", "m000"),
            alias("pk-3", "pk-1"),
        ])
        .await
        .unwrap_err();
    // An alias whose provider key is a machine id is no error: it never
    // applies (D1).
    assert_eq!(
        paths(&err),
        vec!["aliases[0].machine_id", "aliases[2].machine_id"]
    );
    ctx.store.ingest(&[alias("m001", "m000")]).await.unwrap();
    assert_eq!(
        ctx.store.resolve_machine("m001").await.unwrap().as_deref(),
        Some("m001")
    );
    // Re-pointing an alias is a conflict.
    let r = ctx.store.ingest(&[alias("pk-1", "m001")]).await.unwrap();
    assert_eq!(r.conflicts.len(), 1);
    assert!(ctx.store.machine_exists("m000").await.unwrap());
    assert!(!ctx.store.machine_exists("pk-1").await.unwrap());
    assert_eq!(
        ctx.store.fleet_machine_ids().await.unwrap(),
        vec!["m000", "m001"]
    );
}
both!(names_stay_unambiguous, super::names_stay_unambiguous);

async fn attestations_and_latest(ctx: Ctx) {
    let mut a1 = attestation("m1", 32);
    let mut a2 = attestation("m1", 64);
    a2.attested_at = ts(s());
    a2.se_public_key = Some(
        "BGsX0fLhLEJH+Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT+NC4v4af5uO5+tKfA+eFivOM1drMV7Oy7ZAaDe/UfU="
            .into(),
    );
    a1.hardware_model = "Mac14,9".into();
    let r = ctx.store.ingest(&[a1.clone(), a2.clone()]).await.unwrap();
    assert_eq!(r.accepted, 2);
    let latest = ctx.store.latest_attestations().await.unwrap();
    assert_eq!(latest, vec![a2.clone()]);
    let changed = floorline_core::bundle::Attestation {
        reported_memory_gb: 128,
        ..a2
    };
    let r = ctx.store.ingest(&[changed]).await.unwrap();
    assert_eq!(r.conflicts.len(), 1);
    assert_eq!(r.conflicts[0].key, format!("m1@{}", ts(s())));
}
both!(attestations_and_latest, super::attestations_and_latest);

async fn watermarks_only_move_forward(ctx: Ctx) {
    let w = |source: &str, at: i64| Watermark {
        source: source.into(),
        up_to: ts(at),
    };
    let r = ctx
        .store
        .ingest(&[w("coord", s()), w("prober", s())])
        .await
        .unwrap();
    assert_eq!(r.accepted, 2);
    let r = ctx
        .store
        .ingest(&[w("coord", e()), w("prober", s()), w("prober", s() - 1)])
        .await
        .unwrap();
    assert_eq!((r.accepted, r.duplicates), (1, 1));
    assert_eq!(r.conflicts.len(), 1);
    assert_eq!(r.conflicts[0].index, 2);
    assert_eq!(
        ctx.store.watermarks().await.unwrap(),
        vec![w("coord", e()), w("prober", s())]
    );
    let err = ctx.store.ingest(&[w("bad source", s())]).await.unwrap_err();
    assert_eq!(paths(&err), vec!["watermarks[0].source"]);
}
both!(
    watermarks_only_move_forward,
    super::watermarks_only_move_forward
);

/// Issue 19: an alias registered with the provider key of a machine that had
/// not attested yet blocked that machine's attestation batch and captured its
/// facts for the squatter. Now the attestation goes in (with a bystander),
/// every fact sent under the name moves to the machine, later facts under
/// the name are the machine's, and the alias stays stored, applying to
/// nothing.
async fn an_alias_cannot_squat_a_machine_id(ctx: Ctx) {
    let mut b = empty_bundle();
    b.machines.push(attestation("squatter", 64));
    b.aliases.push(alias("victim", "squatter"));
    b.bindings
        .push(binding("victim", "acct-victim", s() - 10 * DAY, None));
    b.sessions
        .push(session("sess-v", "victim", s() - DAY, e() + DAY));
    b.health.push(health("victim", s() + DAY, true));
    b.earnings
        .push(earning("job-v", "victim", "c1", 7, s() + DAY));
    b.earnings
        .push(earning("job-s", "squatter", "c1", 3, s() + DAY));
    b.probes.push(probe("probe-v", "victim", s() + DAY, true));
    ingest(&ctx.store, &b).await;
    let r = ctx
        .store
        .ingest(&[attestation("victim", 64), attestation("bystander", 32)])
        .await
        .unwrap();
    assert_eq!(r.accepted, 2);
    ctx.store
        .ingest(&[earning("job-v2", "victim", "c1", 11, s() + 2 * DAY)])
        .await
        .unwrap();
    let x = ctx
        .store
        .export_bundle(epoch(), &Policy::default())
        .await
        .unwrap();
    let owners: Vec<(&str, &str)> = x
        .bindings
        .iter()
        .map(|f| (f.account_id.as_str(), f.machine_id.as_str()))
        .collect();
    assert_eq!(owners, vec![("acct-victim", "victim")]);
    assert_eq!(x.sessions.len(), 1);
    assert_eq!(x.sessions[0].machine_id, "victim");
    assert_eq!(x.health.len(), 1);
    assert_eq!(x.health[0].machine_id, "victim");
    assert_eq!(x.probes.len(), 1);
    assert_eq!(x.probes[0].machine_id, "victim");
    let mut jobs: Vec<(String, String)> = x
        .earnings
        .iter()
        .map(|f| (f.job_id.clone(), f.machine_id.clone()))
        .collect();
    jobs.sort();
    assert_eq!(
        jobs,
        vec![
            ("job-s".to_string(), "squatter".to_string()),
            ("job-v".to_string(), "victim".to_string()),
            ("job-v2".to_string(), "victim".to_string()),
        ]
    );
    // Nothing is lost: the alias stays, and applies to nothing.
    assert_eq!(x.aliases, vec![alias("victim", "squatter")]);
    // The moved earnings took their sums along: the victim's is 18 (7 + 11),
    // the network's 21; taking the network to i64::MAX leaves the victim 3
    // short of it, which 4 µUSD more passes.
    ctx.store
        .ingest(&[earning("job-big", "victim", "c1", i64::MAX - 21, s() + DAY)])
        .await
        .unwrap();
    let err = ctx
        .store
        .ingest(&[earning("job-four", "victim", "c1", 4, s() + DAY)])
        .await
        .unwrap_err();
    assert_eq!(paths(&err), vec!["earnings[0].amount_micro_usd"]);
    assert!(err.to_string().contains("machine `victim`"), "{err}");
}
both!(
    an_alias_cannot_squat_a_machine_id,
    super::an_alias_cannot_squat_a_machine_id
);

/// Issue 19: two earnings of 2^62 µUSD were accepted and every later
/// settlement, preview and explanation failed with "database: … integer
/// overflow". Now the earning that takes its machine's or the network's
/// stored sum past i64::MAX is refused by name, and nothing is written.
async fn earnings_past_i64_max_in_sum_are_refused_by_name(ctx: Ctx) {
    ingest(&ctx.store, &fleet(2)).await;
    let half = 1i64 << 62;
    ctx.store
        .ingest(&[earning("j1", "m000", "c1", half, s() + DAY)])
        .await
        .unwrap();
    let before = n_earnings(&ctx).await;
    let err = ctx
        .store
        .ingest(&[
            earning("j2", "m001", "c1", 1, s() + DAY),
            earning("j3", "m000", "c1", half, s() + DAY),
        ])
        .await
        .unwrap_err();
    assert_eq!(paths(&err), vec!["earnings[1].amount_micro_usd"]);
    assert!(err.to_string().contains("machine `m000`"), "{err}");
    assert_eq!(n_earnings(&ctx).await, before, "nothing written");
    // Exactly i64::MAX over the network is fine; one more µUSD is not.
    ctx.store
        .ingest(&[earning("j4", "m001", "c1", half - 1, s() + DAY)])
        .await
        .unwrap();
    let err = ctx
        .store
        .ingest(&[earning("j5", "m001", "c1", 1, s() + DAY)])
        .await
        .unwrap_err();
    assert_eq!(paths(&err), vec!["earnings[0].amount_micro_usd"]);
    assert!(err.to_string().contains("network"), "{err}");
    // Re-sending a stored earning adds nothing.
    let r = ctx
        .store
        .ingest(&[earning("j1", "m000", "c1", half, s() + DAY)])
        .await
        .unwrap();
    assert_eq!(r.duplicates, 1);
    // What is stored can be read and explained.
    let policy = Policy::default();
    ctx.store.load_epoch_facts(epoch(), &policy).await.unwrap();
    ctx.store
        .machine_earnings(epoch(), &policy, "m000")
        .await
        .unwrap();
}
both!(
    earnings_past_i64_max_in_sum_are_refused_by_name,
    super::earnings_past_i64_max_in_sum_are_refused_by_name
);

/// Issue 19 (SPEC §9): a bundle with a bad binding left its attestations
/// committed, one with a bad probe thousands of rows. Now a bundle is one
/// transaction, and an error in a later batch of a kind names the item by
/// its index in the bundle.
async fn a_bundle_with_a_bad_item_writes_nothing(ctx: Ctx) {
    let mut b = fleet(2);
    b.bindings
        .push(binding("m000", "acct-other", s() - DAY, None));
    let err = ctx.store.ingest_bundle(&b).await.unwrap_err();
    assert_eq!(paths(&err), vec!["bindings[0].from", "bindings[2].from"]);
    let wording = format!(
        "bindings[2].from: this binding of machine `m000` overlaps bindings[0] (from {}) \
         in this batch; a machine's bindings may not overlap in time",
        ts(s() - 10 * DAY)
    );
    assert!(err.to_string().contains(&wording), "{err}");
    assert!(ctx.store.fleet_machine_ids().await.unwrap().is_empty());

    let mut b = fleet(2);
    for i in 0..MAX_BATCH_ITEMS {
        b.probes
            .push(probe(&format!("p{i}"), "m001", s() + DAY + i as i64, true));
    }
    b.probes.push(probe("bad", "ghost", s() + DAY, true));
    let err = ctx.store.ingest_bundle(&b).await.unwrap_err();
    let last = MAX_BATCH_ITEMS + 2;
    assert_eq!(paths(&err), vec![format!("probes[{last}].machine_id")]);
    assert!(ctx.store.fleet_machine_ids().await.unwrap().is_empty());
    let x = ctx
        .store
        .export_bundle(epoch(), &Policy::default())
        .await
        .unwrap();
    assert!(x.probes.is_empty() && x.bindings.is_empty() && x.sessions.is_empty());
}
both!(
    a_bundle_with_a_bad_item_writes_nothing,
    super::a_bundle_with_a_bad_item_writes_nothing
);

/// Issue 19: earnings stored before ingestion refused such sums (written
/// here behind the store's back, with the sums recomputed as migration 8
/// does) made the load fail with an unnamed "database: … integer
/// overflow". The error now says whose earnings overflow.
async fn a_stored_overflow_is_named_on_read(ctx: Ctx) {
    ingest(&ctx.store, &fleet(1)).await;
    let half = 1i64 << 62;
    let at = s() + DAY;
    let statements = [
        format!(
            "INSERT INTO earnings (job_id, machine_id, consumer_account_id, amount_micro_usd, \
             kind, pinned, model, at_ms) VALUES ('p1', 'm000', 'c1', {half}, 'inference', \
             FALSE, NULL, {at}), ('p2', 'm000', 'c1', {half}, 'inference', FALSE, NULL, {at})"
        ),
        "DELETE FROM earning_sums".to_string(),
        "INSERT INTO earning_sums (machine_id, hi, lo) SELECT machine_id, \
         SUM(amount_micro_usd / 4294967296), SUM(amount_micro_usd % 4294967296) FROM earnings \
         WHERE kind <> 'base_reward' GROUP BY machine_id"
            .to_string(),
    ];
    match ctx.kind {
        Kind::Sqlite => {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&ctx.url).await.unwrap();
            for q in &statements {
                sqlx::query(q).execute(&mut c).await.unwrap();
            }
        }
        Kind::Pg => {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&ctx.url).await.unwrap();
            for q in &statements {
                sqlx::query(q).execute(&mut c).await.unwrap();
            }
        }
    }
    let policy = Policy::default();
    let err = ctx
        .store
        .load_epoch_facts(epoch(), &policy)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert!(
        text.contains("the earnings of machine `m000` (9223372036854775808 µUSD)"),
        "{text}"
    );
    let err = ctx
        .store
        .machine_earnings(epoch(), &policy, "m000")
        .await
        .map(|_| ())
        .err();
    // Explanations read the raw rows (no SQL sum): they either load or name it.
    if let Some(e) = err {
        assert!(matches!(e, StoreError::Corrupt(_)), "{e:?}");
    }
}
both!(
    a_stored_overflow_is_named_on_read,
    super::a_stored_overflow_is_named_on_read
);
