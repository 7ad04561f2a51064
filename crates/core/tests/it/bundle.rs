//! The facts bundle: parsing, validation naming item and field, dedup, aliases.

use floorline_core::bundle::{plan_bundle, Bundle};
use floorline_core::policy::PolicyPatch;
use serde_json::{json, Value};

pub fn sample() -> Value {
    json!({
        "epoch": "2026-10",
        "machines": [
            {"machine_id": "m1", "attested_at": "2026-09-01T00:00:00Z", "hardware_model": "Mac16,11", "reported_memory_gb": 64, "trust": "hardware"},
            {"machine_id": "m2", "attested_at": "2026-09-01T00:00:00Z", "hardware_model": "Mac14,2", "reported_memory_gb": 24, "trust": "self_signed"}
        ],
        "aliases": [{"provider_key": "pk-9", "machine_id": "m2", "from": "2026-09-01T00:00:00Z"}],
        "bindings": [
            {"machine_id": "m1", "account_id": "alice", "payout_identity": "pay-alice", "from": "2026-01-01T00:00:00Z"},
            {"machine_id": "pk-9", "account_id": "bob", "payout_identity": "pay-bob", "from": "2026-01-01T00:00:00+02:00"}
        ],
        "sessions": [
            {"session_id": "s1", "machine_id": "m1", "connected_at": "2026-09-30T00:00:00Z", "last_seen_at": "2026-11-01T00:00:00Z"},
            {"session_id": "s2", "machine_id": "pk-9", "connected_at": "2026-10-01T00:00:00Z", "disconnected_at": "2026-11-02T00:00:00Z"}
        ],
        "health": [],
        "earnings": [
            {"job_id": "j1", "machine_id": "m1", "consumer_account_id": "carol", "amount_micro_usd": 2000000, "kind": "inference", "pinned": false, "at": "2026-10-05T00:00:00Z"},
            {"job_id": "j1", "machine_id": "m1", "consumer_account_id": "carol", "amount_micro_usd": 2000000, "kind": "inference", "pinned": false, "at": "2026-10-05T00:00:00Z"},
            {"job_id": "j2", "machine_id": "pk-9", "consumer_account_id": "carol", "amount_micro_usd": 1000000, "kind": "inference", "pinned": false, "at": "2026-10-06T00:00:00Z"}
        ],
        "probes": [],
        "prior_draws": [],
        "previous_totals": []
    })
}

fn plan_of(v: &Value) -> Result<floorline_core::Plan, String> {
    plan_bundle(&v.to_string(), &PolicyPatch::default()).map_err(|e| e.to_string())
}

#[test]
fn a_sample_bundle_plans_with_aliases_and_duplicates() {
    let p = plan_of(&sample()).unwrap();
    assert_eq!(p.machines.len(), 2);
    // The identical re-sent j1 counts once: floor 18 − 2 = 16.
    assert_eq!(p.machines[0].earned_micro_usd, 2_000_000);
    assert_eq!(p.machines[0].desired_draw_micro_usd, 16_000_000);
    // pk-9 names m2: its session and job count.
    assert_eq!(p.machines[1].earned_micro_usd, 1_000_000);
    assert_eq!(p.machines[1].desired_draw_micro_usd, 9_000_000);
    assert!(p.machines.iter().all(|m| m.eligible), "{:?}", p.machines);
}

#[track_caller]
fn rejects(mutate: impl FnOnce(&mut Value), expected_prefix: &str) {
    let mut v = sample();
    mutate(&mut v);
    let err = plan_of(&v).unwrap_err();
    assert!(
        err.starts_with(expected_prefix),
        "expected `{expected_prefix}…`, got `{err}`"
    );
}

#[test]
fn bad_bundles_name_the_item_and_field() {
    rejects(|v| v["epoch"] = json!("2026-13"), "epoch:");
    rejects(
        |v| v["earnings"][2]["amount_micro_usd"] = json!(-1),
        "earnings[2].amount_micro_usd: must be ≥ 0",
    );
    rejects(
        |v| v["earnings"][2]["amount_micro_usd"] = json!(1e30),
        "earnings[2].amount_micro_usd:",
    );
    rejects(
        |v| v["sessions"][1]["disconnected_at"] = json!("2026-09-01T00:00:00Z"),
        "sessions[1].disconnected_at: must be ≥ connected_at",
    );
    rejects(
        |v| v["sessions"][0]["machine_id"] = json!("ghost"),
        "sessions[0].machine_id: unknown machine `ghost`",
    );
    rejects(
        |v| v["earnings"][1]["amount_micro_usd"] = json!(3),
        "earnings[1].job_id: conflicts with earnings[0]",
    );
    rejects(
        |v| v["sessions"][0]["connected_at"] = json!("2026-09-30T00:00:00"),
        "sessions[0].connected_at:",
    );
    rejects(
        |v| v["earnings"][0]["job_id"] = json!("has space"),
        "earnings[0].job_id:",
    );
    rejects(
        |v| v["earnings"][0]["job_id"] = json!("x".repeat(129)),
        "earnings[0].job_id: must be 1–128",
    );
    rejects(
        |v| v["policy"] = json!({"reduction_kk": 1}),
        "policy.reduction_kk: unknown field",
    );
    rejects(
        |v| v["policy"] = json!({"min_uptime": 0.9000001}),
        "policy.min_uptime:",
    );
    rejects(
        |v| v["policy"] = json!({"workhorse_reserve": 1.5}),
        "policy.workhorse_reserve: must be between 0 and 1",
    );
    rejects(
        |v| v["bindings"][1] = json!({"machine_id": "m1", "account_id": "eve", "payout_identity": "p", "from": "2026-06-01T00:00:00Z"}),
        "bindings[1].from: overlaps bindings[0]",
    );
    rejects(
        |v| v["bindings"][0]["to"] = json!("2025-01-01T00:00:00Z"),
        "bindings[0].to: must be after from",
    );
    rejects(
        |v| v["machines"][0]["trust"] = json!("total"),
        "machines[0].trust:",
    );
}

#[test]
fn bundle_round_trips_through_json() {
    let b = Bundle::from_json(&sample().to_string()).unwrap();
    let again = Bundle::from_json(&serde_json::to_string(&b).unwrap()).unwrap();
    assert_eq!(b, again);
}

#[test]
fn config_overrides_the_bundle_policy_key_by_key() {
    let mut v = sample();
    v["policy"] = json!({"pool_micro_usd": 5000000, "reduction_k": 0.5});
    let p = plan_of(&v).unwrap();
    assert_eq!(p.pool_micro_usd, 5_000_000);
    // k = 0.5: m1's draw 18 − 1 = 17 ranks first (workhorse) and takes the whole $5.
    assert_eq!(p.granted_total_micro_usd, 5_000_000);
    let over = PolicyPatch {
        pool_micro_usd: Some(100_000_000),
        ..Default::default()
    };
    let p = plan_bundle(&v.to_string(), &over).unwrap();
    assert_eq!(p.pool_micro_usd, 100_000_000);
    assert_eq!(p.machines[0].desired_draw_micro_usd, 17_000_000);
}
