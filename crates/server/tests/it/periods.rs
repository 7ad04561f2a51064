//! Settlement periods (SPEC §10) through the API: a month's periods on the
//! admin side (each one's pool, used and unallocated, and their sums), the
//! month's CSV, and the provider's base accrued this month plus the open
//! period's estimate.

use floorline_engine::SettleOptions;
use serde_json::{json, Value};

use crate::harness::TestServer;

/// Daily periods, a server at 2026-11-10T12:00Z with November's first nine
/// days settled (forced: the test fleet has no watermarks).
pub(crate) async fn daily_server() -> TestServer {
    let server = TestServer::start("period = \"day\"\npool_micro_usd = 3000000000\n").await;
    server.seed().await;
    let runs = server
        .state
        .engine
        .settle_month(
            "2026-11".parse().unwrap(),
            "test",
            SettleOptions {
                force: true,
                dry_run: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(runs.len(), 9, "November 1–9 are closed at the 10th, noon");
    server.state.invalidate().await;
    server
}

fn i(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

#[tokio::test]
async fn the_admin_month_lists_each_period_and_sums_them() {
    let server = daily_server().await;
    let (status, body) = server.get("/v1/admin/months/2026-11", &server.admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["period"], "day");
    let totals = &body["totals"];
    assert_eq!(totals["n_periods"], 30);
    assert_eq!(totals["n_closed"], 9);
    assert_eq!(totals["n_settled"], 9);
    // D21: the portions of a month's periods sum to its pool.
    assert_eq!(i(&totals["pool_micro_usd"]), 3_000_000_000);
    let rows = body["periods"].as_array().unwrap();
    assert_eq!(rows.len(), 30);
    assert_eq!(rows[0]["epoch"], "2026-11-01");
    assert_eq!(rows[29]["epoch"], "2026-11-30");
    assert_eq!(i(&rows[0]["pool_micro_usd"]), 100_000_000);
    let (mut used, mut unallocated) = (0, 0);
    for r in rows {
        used += i(&r["used_micro_usd"]);
        if r["settled"] == json!(true) {
            assert_eq!(
                i(&r["unallocated_micro_usd"]),
                i(&r["pool_micro_usd"]) - i(&r["used_micro_usd"]),
                "{r}"
            );
            unallocated += i(&r["unallocated_micro_usd"]);
        } else {
            assert_eq!(r["unallocated_micro_usd"], Value::Null, "{r}");
            assert_eq!(r["run_id"], Value::Null, "{r}");
        }
    }
    assert!(used > 0, "the settled days paid something");
    assert_eq!(i(&totals["used_micro_usd"]), used);
    assert_eq!(i(&totals["unallocated_micro_usd"]), unallocated);
    assert_eq!(i(&totals["settled_pool_micro_usd"]), 9 * 100_000_000);
    // Each settled day's used is what the period's own draws sum to.
    let (_, day3) = server
        .get(
            "/v1/admin/epochs/2026-11-03/draws?limit=1000",
            &server.admin,
        )
        .await;
    let day3_sum: i64 = day3["draws"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| i(&d["amount_micro_usd"]))
        .sum();
    assert_eq!(i(&rows[2]["used_micro_usd"]), day3_sum);

    // Paged rows, sums over the whole month.
    let (_, page) = server
        .get("/v1/admin/months/2026-11?offset=28&limit=5", &server.admin)
        .await;
    let epochs: Vec<&str> = page["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["epoch"].as_str().unwrap())
        .collect();
    assert_eq!(epochs, ["2026-11-29", "2026-11-30"]);
    assert_eq!(page["totals"], body["totals"]);
}

#[tokio::test]
async fn the_admin_month_refuses_bad_ids_and_page_bounds_with_a_named_error() {
    let server = daily_server().await;
    for (path, status, needle) in [
        (
            "/v1/admin/months/2026-11-03",
            400,
            "is a period; a month is YYYY-MM",
        ),
        ("/v1/admin/months/2026-13", 400, "epoch"),
        (
            "/v1/admin/months/2026-11?limit=0",
            400,
            "limit must be between 1 and 1000",
        ),
        (
            "/v1/admin/months/2026-11?limit=1001",
            400,
            "limit must be between 1 and 1000",
        ),
        (
            "/v1/admin/months/2026-11/draws?format=xml",
            400,
            "unknown format `xml`",
        ),
    ] {
        let (got, body) = server.get(path, &server.admin).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body.to_string().contains(needle), "{path}: {body}");
    }
    // The boundary itself is a page.
    let (got, _) = server
        .get("/v1/admin/months/2026-11?limit=1000", &server.admin)
        .await;
    assert_eq!(got, 200);
    // Provider keys do not read the pool.
    let (got, _) = server.get("/v1/admin/months/2026-11", &server.alice).await;
    assert_eq!(got, 403);
}

#[tokio::test]
async fn the_month_csv_sums_each_machine_and_account_over_the_periods() {
    let server = daily_server().await;
    let resp = server
        .http
        .get(format!(
            "{}/v1/admin/months/2026-11/draws?format=csv",
            server.url
        ))
        .bearer_auth(&server.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("draws-2026-11.csv"));
    let text = resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["month", "machine_id", "account_id", "amount_micro_usd"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(!rows.is_empty());
    // One row per pair, each the sum of that pair's nine daily draws.
    let mut expected: std::collections::BTreeMap<(String, String), i64> = Default::default();
    for day in 1..=9 {
        let (_, page) = server
            .get(
                &format!("/v1/admin/epochs/2026-11-{day:02}/draws?limit=1000"),
                &server.admin,
            )
            .await;
        for d in page["draws"].as_array().unwrap() {
            *expected
                .entry((
                    d["machine_id"].as_str().unwrap().to_string(),
                    d["account_id"].as_str().unwrap().to_string(),
                ))
                .or_default() += i(&d["amount_micro_usd"]);
        }
    }
    let got: std::collections::BTreeMap<(String, String), i64> = rows
        .iter()
        .map(|r| {
            assert_eq!(&r[0], "2026-11");
            ((r[1].to_string(), r[2].to_string()), r[3].parse().unwrap())
        })
        .collect();
    assert_eq!(got, expected);
    // The JSON statement says the same, with the month's manifest.
    let (_, statement) = server
        .get("/v1/admin/months/2026-11/draws", &server.admin)
        .await;
    assert_eq!(
        i(&statement["drawn_micro_usd"]),
        expected.values().sum::<i64>()
    );
    assert_eq!(statement["n_periods_with_draws"], 9);
    assert_eq!(statement["manifest_sha256"].as_str().unwrap().len(), 64);
    // A period's CSV still works, keyed by the period id.
    let day = server
        .http
        .get(format!(
            "{}/v1/admin/epochs/2026-11-04/draws?format=csv",
            server.url
        ))
        .bearer_auth(&server.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        day.lines().skip(1).all(|l| l.starts_with("2026-11-04,")),
        "{day}"
    );
    assert!(day.lines().count() > 1, "{day}");
}

#[tokio::test]
async fn the_provider_sees_base_accrued_this_month_plus_the_open_period() {
    let server = daily_server().await;
    let (status, body) = server.get("/v1/provider/machines", &server.alice).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["epoch"], "2026-11-10",
        "the estimate is of the open period"
    );
    let month = &body["month"];
    assert_eq!(month["month"], "2026-11");
    assert_eq!(month["period"], "day");
    assert_eq!(month["open_period"], "2026-11-10");
    // Accrued: alice's own draws of the nine settled days.
    let (_, statement) = server
        .get("/v1/admin/months/2026-11/draws", &server.admin)
        .await;
    let alice: i64 = statement["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["account_id"] == "alice")
        .map(|a| i(&a["drawn_micro_usd"]))
        .sum();
    assert!(alice > 0, "alice's 64 GB machine was paid: {statement}");
    assert_eq!(i(&month["base_accrued_micro_usd"]), alice);
    let by_machine: i64 = month["base_accrued_by_machine"]
        .as_object()
        .unwrap()
        .values()
        .map(i)
        .sum();
    assert_eq!(by_machine, alice);
    // The open period's estimate is the machines' estimated base.
    let open: i64 = body["machines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| i(&m["estimate"]["estimated_base_micro_usd"]))
        .sum();
    assert_eq!(i(&month["open_period_estimate_micro_usd"]), open);
    assert!(open > 0, "{body}");
    assert_eq!(i(&month["base_so_far_micro_usd"]), alice + open);
    assert!(body["note"].as_str().unwrap().contains("open period"));
    // bob sees his own accrual, never alice's.
    let (_, bob) = server.get("/v1/provider/machines", &server.bob).await;
    assert!(bob["month"]["base_accrued_by_machine"]
        .as_object()
        .unwrap()
        .keys()
        .all(|m| m.starts_with("m-bob")));
}

#[tokio::test]
async fn with_monthly_settlement_the_open_period_is_the_month_and_nothing_accrued() {
    let server = TestServer::start("").await;
    server.seed().await;
    let (status, body) = server.get("/v1/provider/machines", &server.alice).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["epoch"], "2026-11");
    let month = &body["month"];
    assert_eq!(month["period"], "month");
    assert_eq!(month["open_period"], "2026-11");
    assert_eq!(month["base_accrued_micro_usd"], 0);
    assert_eq!(
        month["base_so_far_micro_usd"],
        month["open_period_estimate_micro_usd"]
    );
    // The admin month of a monthly policy is one period, the month itself.
    let (_, admin) = server.get("/v1/admin/months/2026-10", &server.admin).await;
    assert_eq!(admin["totals"]["n_periods"], 1);
    assert_eq!(admin["periods"][0]["epoch"], "2026-10");
}
