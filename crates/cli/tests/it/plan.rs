//! `floorline plan`: the offline recomputation of SPEC §8.

use super::{example_bundle, floorline};
use serde_json::{json, Value};

#[test]
fn plan_prints_the_spec_json_for_the_example_bundle() {
    let out = floorline(&["plan", "--facts", example_bundle().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = plan
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "epoch",
        "pool_micro_usd",
        "already_settled_micro_usd",
        "granted_total_micro_usd",
        "unallocated_micro_usd",
        "manifest_sha256",
        "machines",
    ] {
        assert!(keys.contains(&k), "missing {k}");
    }
    let ids: Vec<&str> = plan["machines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["machine_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["air-16", "mini-64", "studio-512"]);
    // air-16: 16 GB is below every tier; bob bought his own job on mini-64 (not organic).
    assert_eq!(
        plan["machines"][0]["reasons"],
        json!(["below_min_memory", "no_proven_work"])
    );
    assert_eq!(plan["machines"][1]["earned_micro_usd"], json!(0));
    // Pool $30, reserve $15: the 64 GB workhorse first (18), the 512 GB gets the rest (12).
    assert_eq!(plan["machines"][1]["granted_micro_usd"], json!(18_000_000));
    assert_eq!(plan["machines"][2]["granted_micro_usd"], json!(12_000_000));
    assert_eq!(plan["machines"][2]["shares"][0]["rank"], json!(2));
    assert_eq!(plan["unallocated_micro_usd"], json!(0));
}

#[test]
fn config_overrides_the_bundle_policy() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("floorline.toml");
    std::fs::write(&cfg, "pool_micro_usd = 100000000\nallocation = \"waterfill\"\n[settlement]\nmode = \"preview\"\n").unwrap();
    let out = floorline(&[
        "plan",
        "--facts",
        example_bundle().to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["pool_micro_usd"], json!(100_000_000));
}

#[track_caller]
fn rejected(mutate: impl FnOnce(&mut Value), expected: &str) {
    let mut bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(example_bundle()).unwrap()).unwrap();
    mutate(&mut bundle);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, bundle.to_string()).unwrap();
    let out = floorline(&["plan", "--facts", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(expected), "expected `{expected}` in `{err}`");
}

#[test]
fn malformed_or_inconsistent_bundles_exit_2_naming_item_and_field() {
    rejected(|b| b["epoch"] = json!("2026-13"), "epoch:");
    rejected(
        |b| b["earnings"][0]["amount_micro_usd"] = json!(-5),
        "earnings[0].amount_micro_usd: must be ≥ 0",
    );
    rejected(
        |b| b["sessions"][1]["disconnected_at"] = json!("2026-09-01T00:00:00Z"),
        "sessions[1].disconnected_at: must be ≥ connected_at",
    );
    rejected(
        |b| b["sessions"][0]["machine_id"] = json!("nobody"),
        "sessions[0].machine_id: unknown machine `nobody`",
    );
    rejected(
        |b| {
            let mut dup = b["earnings"][0].clone();
            dup["amount_micro_usd"] = json!(1);
            b["earnings"].as_array_mut().unwrap().push(dup);
        },
        "earnings[2].job_id: conflicts with earnings[0]",
    );
    rejected(
        |b| b["policy"] = json!({"pool": 5}),
        "policy.pool: unknown field",
    );
}

#[test]
fn missing_file_is_bad_input() {
    let out = floorline(&["plan", "--facts", "/nonexistent/bundle.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
