//! Dashboard tests in headless Chromium (being written).

use crate::harness::TestServer;

#[tokio::test]
async fn browser_dump_api() {
    let s = TestServer::start("").await;
    s.seed().await;
    for (p, k) in [
        ("/v1/provider/machines", &s.alice),
        ("/v1/provider/machines/m-alice-64", &s.alice),
        ("/v1/provider/machines/m-bob-512", &s.alice),
        ("/v1/provider/history", &s.alice),
        ("/v1/admin/base-rewards", &s.admin),
        ("/v1/admin/epochs", &s.admin),
        ("/v1/admin/epochs/2026-10", &s.admin),
    ] {
        let (st, b) = s.get(p, k).await;
        println!("== {p} {st}\n{}", serde_json::to_string_pretty(&b).unwrap());
    }
    let (st, b) = s.post("/v1/admin/epochs/2026-10/preview", &s.admin, serde_json::json!({})).await;
    println!("== preview {st}\n{}", serde_json::to_string_pretty(&b).unwrap());
    let (st, b) = s.get("/v1/admin/epochs/2026-10", &s.admin).await;
    println!("== detail after preview {st}\n{}", serde_json::to_string_pretty(&b).unwrap());
    let (st, b) = s.get("/v1/admin/epochs/2026-10/draws", &s.admin).await;
    println!("== draws after preview {st}\n{}", serde_json::to_string_pretty(&b).unwrap());
    let (st, b) = s.post("/v1/admin/epochs/2026-10/settle", &s.admin, serde_json::json!({"force": true})).await;
    println!("== settle {st}\n{}", serde_json::to_string_pretty(&b).unwrap());
    let (st, b) = s.call(reqwest::Method::POST, "/v1/admin/epochs/2026-10/settle", Some(&s.admin), None).await;
    println!("== settle nobody {st}\n{}", serde_json::to_string_pretty(&b).unwrap());
    for (p, k) in [
        ("/v1/admin/base-rewards", &s.admin),
        ("/v1/admin/epochs", &s.admin),
        ("/v1/admin/epochs/2026-10", &s.admin),
        ("/v1/admin/epochs/2026-10/draws?limit=1", &s.admin),
        ("/v1/admin/epochs/2026-10/draws?format=csv", &s.admin),
        ("/v1/admin/epochs/2026-10/machines/m-alice-24/explain", &s.admin),
        ("/v1/provider/history", &s.alice),
        ("/v1/provider/machines/m-alice-64", &s.alice),
        ("/v1/provider/machines", &s.bob),
        ("/v1/admin/epochs/2026-09", &s.admin),
    ] {
        let (st, b) = s.get(p, k).await;
        println!("== {p} {st}\n{}", serde_json::to_string_pretty(&b).unwrap());
    }
}
