//! Ledger corrections, paging, API keys, migrations and connecting.

use floorline_store::{
    hash_token, Adjust, AdjustKind, Backend, EntryKind, Role, Store, StoreError, MAX_PAGE_LIMIT,
};

use floorline_core::money::{MAX_ADJUSTMENT_MICRO_USD, MAX_POOL_MICRO_USD};

use crate::both;
use crate::harness::{create_pg_database, drop_pg_database, Ctx, Kind};
use crate::kit::*;

fn adj(account: &str, amount: i64, kind: AdjustKind) -> Adjust {
    Adjust {
        account_id: account.into(),
        amount_micro_usd: amount,
        kind,
        reason: "support ticket 7".into(),
        actor: "admin@ops".into(),
        now_ms: e() + 2 * DAY,
        reference: None,
    }
}

async fn adjustments_are_new_entries(ctx: Ctx) {
    let b = fleet(1);
    ingest(&ctx.store, &b).await;
    settle(&ctx.store, &pool(1_000), live("t")).await.unwrap();
    let a = "acct-m000";
    let plus = ctx
        .store
        .adjust(&adj(a, 500, AdjustKind::Adjustment))
        .await
        .unwrap();
    assert_eq!(plus.kind, EntryKind::Adjustment);
    assert_eq!(plus.reason.as_deref(), Some("support ticket 7"));
    // A retried identical request returns the same entry.
    let again = ctx
        .store
        .adjust(&adj(a, 500, AdjustKind::Adjustment))
        .await
        .unwrap();
    assert_eq!(again, plus);
    let claw = ctx
        .store
        .adjust(&adj(a, -1_000, AdjustKind::Clawback))
        .await
        .unwrap();
    assert_eq!(claw.kind, EntryKind::Clawback);
    assert_eq!(
        ctx.store.balance(a).await.unwrap(),
        18_000_000 + 500 - 1_000
    );
    let entries = ctx.store.ledger_entries(a).await.unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        entries[0].amount_micro_usd, 18_000_000,
        "the draw is never edited"
    );
    assert_money_invariants(&ctx.store, &[a.to_string()], &pool(1_000)).await;

    // Bad input, unknown accounts, reused references.
    for (bad, path) in [
        (adj(a, 0, AdjustKind::Adjustment), "amount_micro_usd"),
        (adj(a, 5, AdjustKind::Clawback), "amount_micro_usd"),
        (
            Adjust {
                reason: "".into(),
                ..adj(a, 5, AdjustKind::Adjustment)
            },
            "reason",
        ),
        (adj("bad id", 5, AdjustKind::Adjustment), "account_id"),
    ] {
        let err = ctx.store.adjust(&bad).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(v) if v[0].path == path),
            "{err:?}"
        );
    }
    let err = ctx
        .store
        .adjust(&adj("nobody", 5, AdjustKind::Adjustment))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let with_ref = Adjust {
        reference: Some("ticket-7".into()),
        ..adj(a, 5, AdjustKind::Adjustment)
    };
    ctx.store.adjust(&with_ref).await.unwrap();
    let clash = Adjust {
        amount_micro_usd: 6,
        ..with_ref
    };
    assert!(matches!(
        ctx.store.adjust(&clash).await,
        Err(StoreError::Conflict(_))
    ));
    // A bound account that was never credited can be adjusted.
    let mut more = empty_bundle();
    add_ready(&mut more, "fresh", 64);
    ingest(&ctx.store, &more).await;
    ctx.store
        .adjust(&adj("acct-fresh", 7, AdjustKind::Adjustment))
        .await
        .unwrap();
    assert_eq!(ctx.store.balance("acct-fresh").await.unwrap(), 7);
    assert_eq!(ctx.store.balance("never-seen").await.unwrap(), 0);
    assert!(ctx.store.account("never-seen").await.unwrap().is_none());
}
both!(
    adjustments_are_new_entries,
    super::adjustments_are_new_entries
);

/// Issue 19: an adjustment of `i64::MAX` answered 500, `-i64::MAX` drove a
/// balance to −9.2e18, and a balance near `i64::MAX` made every settlement
/// fail with an integer overflow.
async fn adjustments_are_bounded_and_a_settle_succeeds_after_the_largest(ctx: Ctx) {
    let b = fleet(2);
    ingest(&ctx.store, &b).await;
    let (a, z) = ("acct-m000", "acct-m001");
    let refused = |err: StoreError| {
        assert!(
            matches!(&err, StoreError::Invalid(v) if v[0].path == "amount_micro_usd"),
            "{err:?}"
        );
    };
    for amount in [
        i64::MAX,
        -i64::MAX,
        i64::MIN,
        9_223_372_036_854_000_000,
        MAX_ADJUSTMENT_MICRO_USD + 1,
        -MAX_ADJUSTMENT_MICRO_USD - 1,
    ] {
        refused(
            ctx.store
                .adjust(&adj(a, amount, AdjustKind::Adjustment))
                .await
                .unwrap_err(),
        );
    }
    assert!(ctx.store.ledger_entries(a).await.unwrap().is_empty());
    // The largest allowed, either sign.
    ctx.store
        .adjust(&adj(a, MAX_ADJUSTMENT_MICRO_USD, AdjustKind::Adjustment))
        .await
        .unwrap();
    ctx.store
        .adjust(&adj(z, -MAX_ADJUSTMENT_MICRO_USD, AdjustKind::Clawback))
        .await
        .unwrap();
    // One more µUSD away from 0 is past the bound; nothing is written.
    refused(
        ctx.store
            .adjust(&adj(a, 1, AdjustKind::Adjustment))
            .await
            .unwrap_err(),
    );
    refused(
        ctx.store
            .adjust(&adj(z, -1, AdjustKind::Clawback))
            .await
            .unwrap_err(),
    );
    assert_eq!(ctx.store.ledger_entries(a).await.unwrap().len(), 1);
    // The settlement credits both accounts on top of the extreme balances.
    let out = settle(&ctx.store, &pool(1_000), live("t")).await.unwrap();
    assert_eq!(out.run.n_draws, 2);
    assert_eq!(
        ctx.store.balance(a).await.unwrap(),
        MAX_ADJUSTMENT_MICRO_USD + 18_000_000
    );
    assert_eq!(
        ctx.store.balance(z).await.unwrap(),
        -MAX_ADJUSTMENT_MICRO_USD + 18_000_000
    );
    assert_money_invariants(&ctx.store, &accounts_of(&b), &pool(1_000)).await;
    // Over the bound by credits, a balance may still be corrected towards 0,
    // never further out.
    ctx.store
        .adjust(&adj(a, -1, AdjustKind::Adjustment))
        .await
        .unwrap();
    refused(
        ctx.store
            .adjust(&adj(a, 2, AdjustKind::Adjustment))
            .await
            .unwrap_err(),
    );
    // The policy bounds the pool too, so credits stay far from `i64::MAX`.
    const { assert!(MAX_POOL_MICRO_USD <= MAX_ADJUSTMENT_MICRO_USD) };
}
both!(
    adjustments_are_bounded_and_a_settle_succeeds_after_the_largest,
    super::adjustments_are_bounded_and_a_settle_succeeds_after_the_largest
);

async fn draw_pages_are_capped(ctx: Ctx) {
    let n = MAX_PAGE_LIMIT as usize + 1;
    let b = fleet(n);
    ingest(&ctx.store, &b).await;
    let out = settle(&ctx.store, &pool(100_000), live("t")).await.unwrap();
    assert_eq!(out.run.n_draws, n as i64);
    let page = ctx
        .store
        .draws(epoch(), 0, MAX_PAGE_LIMIT + 1)
        .await
        .unwrap();
    assert_eq!(page.len(), MAX_PAGE_LIMIT as usize);
    let rest = ctx
        .store
        .draws(epoch(), u64::from(MAX_PAGE_LIMIT), MAX_PAGE_LIMIT)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    // Pages follow machine id order (text order: `m999` sorts last).
    assert_eq!(rest[0].machine_id, "m999");
    assert!(page.iter().all(|d| d.machine_id < rest[0].machine_id));
    assert!(ctx.store.draws(epoch(), 0, 0).await.unwrap().is_empty());
}
both!(draw_pages_are_capped, super::draw_pages_are_capped);

async fn api_keys(ctx: Ctx) {
    let h1 = hash_token("secret-1");
    let h2 = hash_token("secret-2");
    let admin = ctx
        .store
        .create_api_key(Role::Admin, None, &h1, 10)
        .await
        .unwrap();
    let prov = ctx
        .store
        .create_api_key(Role::Provider, Some("acct-1"), &h2, 11)
        .await
        .unwrap();
    assert_ne!(admin, prov);
    let found = ctx.store.find_api_key_by_hash(&h2).await.unwrap().unwrap();
    assert_eq!(
        (found.id, found.role, found.account_id.as_deref()),
        (prov, Role::Provider, Some("acct-1"))
    );
    assert!(matches!(
        ctx.store.create_api_key(Role::Ingest, None, &h1, 12).await,
        Err(StoreError::Conflict(_))
    ));
    for (role, account, hash, path) in [
        (Role::Provider, None, h2.clone(), "account_id"),
        (Role::Admin, Some("a"), hash_token("x"), "account_id"),
        (Role::Ingest, None, "ABC".to_string(), "token_sha256"),
    ] {
        let err = ctx
            .store
            .create_api_key(role, account, &hash, 1)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(v) if v[0].path == path),
            "{err:?}"
        );
    }
    let revoked = ctx.store.revoke_api_key(admin, 20).await.unwrap();
    assert_eq!(revoked.revoked_at_ms, Some(20));
    assert_eq!(
        ctx.store
            .revoke_api_key(admin, 30)
            .await
            .unwrap()
            .revoked_at_ms,
        Some(20)
    );
    assert!(ctx.store.find_api_key_by_hash(&h1).await.unwrap().is_none());
    assert!(matches!(
        ctx.store.revoke_api_key(999, 1).await,
        Err(StoreError::NotFound(_))
    ));
    let all = ctx.store.list_api_keys().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].role, Role::Admin);
}
both!(api_keys, super::api_keys);

async fn migrations_are_idempotent_and_concurrent(ctx: Ctx) {
    ctx.store.migrate().await.unwrap();
    ctx.store.migrate().await.unwrap();
    assert_eq!(ctx.store.schema_version(), 9);
    // Several processes migrating a fresh database at once.
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = match ctx.kind {
        Kind::Sqlite => (
            format!("sqlite://{}", dir.path().join("fresh.db").display()),
            None,
        ),
        Kind::Pg => {
            let (url, name) = create_pg_database().await;
            (url, Some(name))
        }
    };
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let s = Store::connect(&url).await.unwrap();
            let r = s.migrate().await;
            s.close().await;
            r
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let s = Store::connect(&url).await.unwrap();
    ingest(&s, &fleet(1)).await;
    assert_eq!(s.fleet_machine_ids().await.unwrap(), vec!["m000"]);
    s.close().await;
    if let Some(name) = pg {
        drop_pg_database(&name).await;
    }
}
both!(
    migrations_are_idempotent_and_concurrent,
    super::migrations_are_idempotent_and_concurrent
);

#[tokio::test]
async fn connect_urls() {
    assert!(matches!(
        Store::connect("mysql://x").await,
        Err(StoreError::Config(_))
    ));
    let s = Store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(s.backend(), Backend::Sqlite);
    s.migrate().await.unwrap();
    ingest(&s, &fleet(2)).await;
    let out = settle(&s, &pool(1_000), live("t")).await.unwrap();
    assert_eq!(out.run.n_draws, 2);
    // A file that does not exist yet is created.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub.db");
    let s = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    s.migrate().await.unwrap();
    assert!(path.exists());
}

/// A PostgreSQL that refuses or does not answer is reported at once (or
/// within `CONNECT_TIMEOUT_MS`), naming its host, port and the cause — not
/// as a pool timeout after `ACQUIRE_TIMEOUT_MS`.
#[tokio::test]
async fn an_unreachable_database_is_named_with_its_cause() {
    use floorline_store::{ACQUIRE_TIMEOUT_MS, CONNECT_TIMEOUT_MS};
    // Refused: a port nothing listens on (bound, then closed).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = Store::connect(&format!("postgres://postgres@127.0.0.1:{port}/x"))
        .await
        .err()
        .unwrap();
    let text = e.to_string();
    assert!(matches!(e, StoreError::Unreachable(_)), "{e:?}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("refused"), "{text}");

    // Silent: a listener that accepts and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let started = std::time::Instant::now();
    let e = Store::connect(&format!("postgres://postgres@127.0.0.1:{port}/x"))
        .await
        .err()
        .unwrap();
    let waited = started.elapsed();
    held.abort();
    let text = e.to_string();
    assert!(matches!(e, StoreError::Unreachable(_)), "{e:?}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("no answer within 5 s"), "{text}");
    // The limit, not the pool's minute: at least the limit, well under the pool's.
    assert!(
        waited.as_millis() >= u128::from(CONNECT_TIMEOUT_MS),
        "{waited:?}"
    );
    assert!(
        waited.as_millis() < u128::from(ACQUIRE_TIMEOUT_MS) / 2,
        "{waited:?}"
    );
}
