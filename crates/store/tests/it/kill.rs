//! Process-kill atomicity: a child process settles with
//! `FLOORLINE_FAILPOINT=between_writes@N:abort` and dies mid-transaction;
//! the database must hold no draw, entry, balance or run of it, and a later
//! settlement must pay exactly once.

use std::process::Command;

use floorline_core::facts::EpochFacts;
use floorline_core::plan;
use floorline_store::{Store, FAILPOINT_ENV};

use crate::both;
use crate::harness::Ctx;
use crate::kit::*;

const CHILD_URL_ENV: &str = "FLOORLINE_TEST_CHILD_URL";

/// The child: does nothing unless the parent set its database URL.
#[tokio::test]
async fn child_settles_then_dies() {
    let Ok(url) = std::env::var(CHILD_URL_ENV) else {
        return;
    };
    let store = Store::connect(&url).await.unwrap();
    let policy = pool(1_000);
    let p = policy.clone();
    let _ = store
        .settle(epoch(), &policy, live("child"), move |f: &EpochFacts| {
            plan(f, &p)
        })
        .await;
    // Only reached if the failpoint did not fire.
    std::process::exit(3);
}

async fn killed_settlement_leaves_nothing(ctx: Ctx) {
    let b = fleet(3);
    ingest(&ctx.store, &b).await;
    let accounts = accounts_of(&b);
    let before = counts(&ctx.store, &accounts).await;
    for skip in [0, 2, 5] {
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "kill::child_settles_then_dies",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_URL_ENV, &ctx.url)
            .env(FAILPOINT_ENV, format!("between_writes@{skip}:abort"))
            .output()
            .unwrap()
            .status;
        assert!(!status.success(), "the child must die");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(6), "SIGABRT, got {status:?}");
        }
        assert_eq!(
            counts(&ctx.store, &accounts).await,
            before,
            "killed at write {skip}"
        );
    }
    let out = settle(&ctx.store, &pool(1_000), live("parent"))
        .await
        .unwrap();
    assert_eq!(out.run.n_draws, 3);
    assert_money_invariants(&ctx.store, &accounts, &pool(1_000)).await;
}
both!(
    killed_settlement_leaves_nothing,
    super::killed_settlement_leaves_nothing
);
