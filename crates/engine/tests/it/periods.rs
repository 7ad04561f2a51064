//! `settle --month` over daily periods, the month statement (D24), and the
//! refusal to cut one month two ways (SPEC §10).

use floorline_core::bundle::Bundle;
use floorline_core::EpochId;
use floorline_engine::{Engine, SettleOptions};
use serde_json::json;

use crate::kit::{engine, ready_machines};

/// `a` up all of October; `b` up from the 11th.
fn facts() -> Bundle {
    ready_machines(
        &["a", "b"],
        "2026-09-20T00:00:00Z",
        json!([
            {"session_id": "s1", "machine_id": "a", "connected_at": "2026-09-30T00:00:00Z", "last_seen_at": "2026-11-02T00:00:00Z"},
            {"session_id": "s2", "machine_id": "b", "connected_at": "2026-10-11T00:00:00Z", "last_seen_at": "2026-11-02T00:00:00Z"}
        ]),
    )
}

#[tokio::test]
async fn a_month_of_days_settles_in_order_once_and_sums_to_its_statement() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    let daily = "period = \"day\"\n";
    // Mid-October: the first 14 days are closed.
    let mid = engine(&url, "2026-10-15T03:00:00Z", daily).await;
    mid.store().ingest_bundle(&facts()).await.unwrap();
    let month: EpochId = "2026-10".parse().unwrap();
    let first = mid
        .settle_month(month, "test", SettleOptions::default())
        .await
        .unwrap();
    let ids: Vec<String> = first.iter().map(|r| r.epoch.to_string()).collect();
    assert_eq!(ids.len(), 14);
    assert_eq!(ids[0], "2026-10-01");
    assert_eq!(ids[13], "2026-10-14");
    // Days 1–10: only `a`; from day 11, both.
    assert_eq!(first[9].granted_total_micro_usd, 580_645);
    assert_eq!(first[10].granted_total_micro_usd, 2 * 580_645);
    // After the month: the 17 days left, nothing twice.
    let after = engine(&url, "2026-11-01T07:00:00Z", daily).await;
    let rest = after
        .settle_month(month, "test", SettleOptions::default())
        .await
        .unwrap();
    assert_eq!(rest.len(), 17);
    assert_eq!(rest[0].epoch.to_string(), "2026-10-15");
    assert!(after
        .settle_month(month, "test", SettleOptions::default())
        .await
        .unwrap()
        .is_empty());
    // a: the whole $18 over the month; b: the days from the 11th.
    let statement = after.month_statement(month).await.unwrap();
    let drawn = |acct: &str| {
        statement
            .accounts
            .iter()
            .find(|a| a.account_id == acct)
            .unwrap()
            .drawn_micro_usd
    };
    assert_eq!(drawn("acct-a"), 18_000_000);
    let b_days: i64 = (10..31)
        .map(|k| {
            floorline_core::money::portion(
                18_000_000,
                EpochId::period_of(month, floorline_core::time::Period::Day, k).unwrap(),
            )
        })
        .sum();
    assert_eq!(drawn("acct-b"), b_days);
    assert_eq!(statement.drawn_micro_usd, 18_000_000 + b_days);
    assert_eq!(statement.n_periods_with_draws, 31);
    // The month's manifest is D19 over the month's draws per machine and account.
    let expected = floorline_core::plan::manifest_sha256(&[
        floorline_core::plan::ManifestDraw {
            account_id: "acct-a".into(),
            amount_micro_usd: 18_000_000,
            machine_id: "a".into(),
        },
        floorline_core::plan::ManifestDraw {
            account_id: "acct-b".into(),
            amount_micro_usd: b_days,
            machine_id: "b".into(),
        },
    ]);
    assert_eq!(statement.manifest_sha256, expected);

    // A monthly policy may not settle a month already cut into days, nor a
    // daily policy a month that was settled whole.
    let monthly = engine(&url, "2026-11-01T07:00:00Z", "").await;
    let err = monthly
        .settle(month, "test", SettleOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("month 2026-10 already has runs of period `day`"),
        "{err}"
    );
    let err = monthly
        .settle(
            "2026-10-03".parse().unwrap(),
            "test",
            SettleOptions::default(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("epoch: `2026-10-03` is a day id, but the policy's period is `month`"),
        "{err}"
    );
}

#[tokio::test]
async fn the_scheduler_settles_every_closed_period_once_after_the_delay() {
    use floorline_engine::schedule::Decision;
    use floorline_store::RunMode;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    let config = "period = \"day\"\n[settlement]\nmode = \"live\"\nsettle_delay_ms = 21600000\n";
    // 3 October 05:59: 2 October closed at 00:00 but its delay runs to 06:00.
    let early = engine(&url, "2026-10-03T05:59:00Z", config).await;
    early.store().ingest_bundle(&facts()).await.unwrap();
    let october: EpochId = "2026-10".parse().unwrap();
    assert_eq!(
        early.tick().await.unwrap(),
        Some(Decision::Settle("2026-10-01".parse().unwrap()))
    );
    // Every day of September (the month before) and 1 October, each once.
    let live = |e: &Engine, m: EpochId| {
        let store = e.store().clone();
        async move {
            store
                .run_epochs_of_month(m, Some(RunMode::Live))
                .await
                .unwrap()
        }
    };
    assert_eq!(live(&early, october.previous()).await.len(), 30);
    assert_eq!(live(&early, october).await.len(), 1);
    let later = engine(&url, "2026-10-03T06:00:00Z", config).await;
    assert_eq!(
        later.tick().await.unwrap(),
        Some(Decision::Settle("2026-10-02".parse().unwrap()))
    );
    assert_eq!(
        later.tick().await.unwrap(),
        Some(Decision::Done("2026-10-02".parse().unwrap()))
    );
    assert_eq!(live(&later, october).await.len(), 2);
    // 2 October paid `a` its day: ⌊18 000 000 · 2/31⌋ − ⌊18 000 000 · 1/31⌋.
    let draws = later
        .all_draws("2026-10-02".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(draws.len(), 1);
    assert_eq!(draws[0].amount_micro_usd, 1_161_290 - 580_645);
}
