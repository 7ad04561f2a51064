//! `floorline import` never half-writes (issue 19, SPEC §9): a bundle is one
//! transaction, a file of one kind is checked whole — every line, its machine
//! references against the store and the file — before its first batch;
//! binary and non-UTF-8 files are refused by line; unknown fields are said
//! once; listings stop after 20 problems.

use serde_json::{json, Value};

use super::fleet::bundle;
use super::settle::Db;

fn job(i: usize, machine: &str) -> String {
    json!({"job_id": format!("x{i}"), "machine_id": machine, "consumer_account_id": "c", "amount_micro_usd": 5, "kind": "inference", "pinned": false, "at": "2026-10-03T00:00:00Z"}).to_string()
}

fn n_jobs(db: &Db, prefix: &str) -> usize {
    let x = db.ok(&["export-facts", "--epoch", "2026-10"]);
    x["earnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["job_id"].as_str().unwrap().starts_with(prefix))
        .count()
}

#[test]
fn import_bundle_with_a_bad_binding_commits_no_attestation() {
    let db = Db::sqlite();
    let mut b = bundle(3, 3, 100);
    let bindings = b["bindings"].as_array_mut().unwrap();
    let mut clash = bindings[0].clone();
    clash["account_id"] = json!("acct-thief");
    clash["from"] = json!("2026-05-01T00:00:00Z");
    bindings.push(clash);
    let path = db.write("bad.json", &b);
    let out = db.run(&["import", "--bundle", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bindings[3].from: this binding of machine `mac-000` overlaps bindings[0]"),
        "{err}"
    );
    let x = db.ok(&["export-facts", "--epoch", "2026-10"]);
    assert_eq!(x["machines"], json!([]), "no attestation stayed committed");
}

#[test]
fn import_kind_with_a_bad_line_at_5500_of_6000_writes_nothing() {
    let db = Db::sqlite();
    db.import(&bundle(3, 3, 100));
    let mut lines: Vec<String> = (0..6000).map(|i| job(i, "mac-001")).collect();
    lines[5499] = job(5499, "ghost");
    let path = db.dir.path().join("jobs.ndjson");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = db.run(
        &["import", "--kind", "earnings", path.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 5500: machine_id: unknown machine `ghost`"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(n_jobs(&db, "x"), 0);
    assert!(!db.dir.path().join("jobs.ndjson.progress").exists());
    // Fixed, the whole file goes in.
    lines[5499] = job(5499, "mac-002");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let report = db.ok(&["import", "--kind", "earnings", path.to_str().unwrap()]);
    assert_eq!(report["accepted"], json!(6000));
}

#[test]
fn import_kind_checks_bindings_against_the_rest_of_the_file() {
    let db = Db::sqlite();
    db.import(&bundle(3, 3, 100));
    // Neither overlaps the stored binding of mac-002 (from 2026-01-01), but
    // they overlap each other: with one line per batch the first used to be
    // written before the second was refused.
    let binding = |from: &str, to: &str| {
        json!({"machine_id": "mac-002", "account_id": "acct-9", "payout_identity": "pay-9", "from": from, "to": to}).to_string()
    };
    let lines = [
        binding("2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z"),
        binding("2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"),
    ];
    let path = db.dir.path().join("b.ndjson");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = db.run(
        &[
            "import",
            "--kind",
            "bindings",
            "--batch",
            "1",
            path.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2: from: this binding of machine `mac-002` overlaps line 1"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    let x = db.ok(&["export-facts", "--epoch", "2026-10"]);
    assert!(
        !x["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["account_id"] == json!("acct-9")),
        "{x}"
    );
}

#[test]
fn import_kind_refuses_binary_and_non_utf8_files_by_line() {
    let db = Db::sqlite();
    db.import(&bundle(3, 3, 100));
    let path = db.dir.path().join("jobs.ndjson");
    let mut bytes = format!("{}\n{}\n", job(1, "mac-001"), job(2, "mac-001")).into_bytes();
    bytes.extend_from_slice(b"\x00\x01\x02garbage\n");
    std::fs::write(&path, &bytes).unwrap();
    let out = db.run(
        &["import", "--kind", "earnings", path.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3: binary data"), "{err}");
    let mut bytes = format!("{}\n", job(1, "mac-001")).into_bytes();
    bytes.extend_from_slice(b"{\"job_id\": \"caf\xe9\"}\n");
    std::fs::write(&path, &bytes).unwrap();
    let out = db.run(
        &["import", "--kind", "earnings", path.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2: not UTF-8"), "{err}");
    assert_eq!(n_jobs(&db, "x"), 0);
}

#[test]
fn import_kind_says_once_which_unknown_fields_it_ignores() {
    let db = Db::sqlite();
    db.import(&bundle(3, 3, 100));
    let csv = "job_id,machine_id,consumer_account_id,amount_micro_usd,kind,pinned,at,modle\n\
               x1,mac-002,c,7,inference,false,2026-10-04T00:00:00Z,llama\n\
               x2,mac-002,c,8,inference,false,2026-10-04T00:00:00Z,llama\n";
    let path = db.dir.path().join("jobs.csv");
    std::fs::write(&path, csv).unwrap();
    let out = db.run(
        &["import", "--kind", "earnings", path.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("unknown field `modle` ignored").count(),
        1,
        "{err}"
    );
    let lines = [
        r#"{"job_id": "x3", "machine_id": "mac-002", "consumer_account_id": "c", "amount_micro_usd": 1, "kind": "inference", "pinned": false, "at": "2026-10-04T00:00:00Z", "amount_usd": 5}"#,
        r#"{"job_id": "x4", "machine_id": "mac-002", "consumer_account_id": "c", "amount_micro_usd": 1, "kind": "inference", "pinned": false, "at": "2026-10-04T00:00:00Z", "amount_usd": 5}"#,
    ];
    let path = db.dir.path().join("jobs.ndjson");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = db.run(
        &["import", "--kind", "earnings", path.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("line 1: unknown field `amount_usd` ignored")
            .count(),
        1,
        "{err}"
    );
    assert!(!err.contains("line 2: unknown field"), "{err}");
}

#[test]
fn import_listings_stop_after_20_problems_and_count_the_rest() {
    let db = Db::sqlite();
    db.import(&bundle(3, 3, 100));
    let lines: Vec<String> = (0..30).map(|i| job(i, "ghost")).collect();
    let path = db.dir.path().join("jobs.ndjson");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = db.run(
        &["import", "--kind", "earnings", path.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("unknown machine `ghost`").count(), 20, "{err}");
    assert!(err.contains("… and 10 more"), "{err}");
    // Field errors too.
    let lines: Vec<String> = (0..25).map(|i| job(i, "bad id!")).collect();
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = db.run(
        &["import", "--kind", "earnings", path.to_str().unwrap()],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("… and 5 more"), "{err}");
}

#[test]
fn import_resumes_after_a_crash_but_not_from_a_checkpoint_of_other_contents() {
    let db = Db::sqlite();
    db.import(&bundle(3, 3, 100));
    let lines: Vec<String> = (0..10).map(|i| job(i, "mac-001")).collect();
    let path = db.dir.path().join("jobs.ndjson");
    std::fs::write(&path, lines.join("\n")).unwrap();
    // A checkpoint of these contents (as a crashed run leaves it) resumes…
    let first = db.ok(&[
        "import",
        "--kind",
        "earnings",
        "--batch",
        "4",
        path.to_str().unwrap(),
    ]);
    assert_eq!(first["accepted"], json!(10));
    let progress = db.dir.path().join("jobs.ndjson.progress");
    let print = {
        // Re-run with a failpoint-free crash stand-in: write the checkpoint
        // the run would have left after its first batch.
        let text = std::fs::read(&path).unwrap();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in &text {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    };
    std::fs::write(&progress, format!("4 {print}")).unwrap();
    let resumed = db.ok(&["import", "--kind", "earnings", path.to_str().unwrap()]);
    assert_eq!(resumed["duplicates"], json!(6), "resumed after line 4");
    // …one of other contents does not.
    std::fs::write(&progress, "4 0000000000000000").unwrap();
    let again: Value = db.ok(&["import", "--kind", "earnings", path.to_str().unwrap()]);
    assert_eq!(
        again["duplicates"],
        json!(10),
        "started from the first line"
    );
}

/// SPEC §2: heartbeats of one session across the batches of `import --kind`
/// apply in order and are counted `refined`; a bundle re-imported with a
/// binding's first `to` and a later heartbeat refines both.
#[test]
fn import_applies_refinements_in_order() {
    let db = Db::sqlite();
    db.import(&bundle(3, 3, 100));
    let beat = |last: &str, disc: Option<&str>| {
        let mut v = json!({"session_id": "s-cli", "machine_id": "mac-000", "connected_at": "2026-10-02T00:00:00Z", "last_seen_at": last});
        if let Some(d) = disc {
            v["disconnected_at"] = json!(d);
        }
        v.to_string()
    };
    let lines = [
        beat("2026-10-02T01:00:00Z", None),
        beat("2026-10-02T02:00:00Z", None),
        beat("2026-10-02T03:00:00Z", None),
        beat("2026-10-02T03:00:00Z", Some("2026-10-02T03:00:10Z")),
        beat("2026-10-02T00:30:00Z", Some("2026-10-02T03:00:10Z")),
    ];
    let path = db.dir.path().join("beats.ndjson");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let report = db.ok(&[
        "import",
        "--kind",
        "sessions",
        path.to_str().unwrap(),
        "--batch",
        "2",
    ]);
    assert_eq!(report["accepted"], json!(1), "{report}");
    assert_eq!(report["refined"], json!(3), "{report}");
    assert_eq!(report["conflicts"][0]["index"], json!(5), "{report}");
    assert!(
        report["conflicts"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("an earlier last_seen_at"),
        "{report}"
    );
    let x = db.ok(&["export-facts", "--epoch", "2026-10"]);
    let s = x["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session_id"] == json!("s-cli"))
        .unwrap()
        .clone();
    assert_eq!(s["last_seen_at"], json!("2026-10-02T03:00:00.000Z"), "{s}");
    assert_eq!(
        s["disconnected_at"],
        json!("2026-10-02T03:00:10.000Z"),
        "{s}"
    );

    let mut b = bundle(3, 3, 100);
    b["bindings"][0]["to"] = json!("2026-10-20T00:00:00Z");
    b["sessions"][1]["last_seen_at"] = json!("2026-11-01T01:00:00Z");
    let path = db.write("refined.json", &b);
    let out = db.ok(&["import", "--bundle", path.to_str().unwrap()]);
    let refined = |kind: &str| {
        out.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] == json!(kind))
            .map(|r| r["report"]["refined"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(refined("bindings"), 1, "{out}");
    assert_eq!(refined("sessions"), 1, "{out}");
}
