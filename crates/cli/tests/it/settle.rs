//! The operator path through the real binary: import, settle, verify,
//! export-facts → plan round trip, tampering, restart safety at every
//! failpoint, late facts, keys and `import --kind`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use super::fleet::bundle;

const EPOCH: &str = "2026-10";

pub struct Db {
    pub url: String,
    pub dir: tempfile::TempDir,
    pub pool: Option<String>,
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("floorline.db").display());
        Db {
            url,
            dir,
            pool: None,
        }
    }

    pub fn with_pool(pool_micro_usd: i64) -> Db {
        Db {
            pool: Some(pool_micro_usd.to_string()),
            ..Db::sqlite()
        }
    }

    /// Runs the binary against this database; the bundle's pool (if any) is
    /// the config's pool, so stored runs and bundle plans use one policy.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_floorline"));
        if let Some(pool) = &self.pool {
            cmd.env("FLOORLINE_POOL_MICRO_USD", pool);
        }
        cmd.arg("--database-url")
            .arg(&self.url)
            .args(args)
            .env("FLOORLINE_LOG", "warn")
            .current_dir(self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args, &[]);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    pub fn write(&self, name: &str, v: &Value) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p
    }

    pub fn import(&self, b: &Value) {
        let p = self.write("bundle.json", b);
        self.ok(&["import", "--bundle", p.to_str().unwrap()]);
    }
}

fn plan_of(path: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_floorline"))
        .args(["plan", "--facts", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Adds 1 µUSD to `machine`'s stored draws behind the store's back, as a
/// tampering `verify` must catch.
fn tamper_one_draw(url: &str, machine: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(
            "UPDATE floor_draws SET amount_micro_usd = amount_micro_usd + 1 WHERE machine_id = ?1",
        )
        .bind(machine)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    });
}

#[test]
fn export_then_plan_reproduces_the_committed_manifest_and_verify_catches_tampering() {
    let db = Db::with_pool(200_000_000);
    let b = bundle(7, 40, 200_000_000);
    db.import(&b);
    // Before settlement, planning the original bundle and the exported one agree.
    let exported_before = db.dir.path().join("before.json");
    db.ok(&[
        "export-facts",
        "--epoch",
        EPOCH,
        "--out",
        exported_before.to_str().unwrap(),
    ]);
    let original = plan_of(&db.write("original.json", &b));
    let before = plan_of(&exported_before);
    assert_eq!(original["manifest_sha256"], before["manifest_sha256"]);
    assert_eq!(original["machines"], before["machines"]);

    let run = db.ok(&["settle", "--epoch", EPOCH]);
    assert_eq!(run["manifest_sha256"], original["manifest_sha256"]);
    assert!(run["granted_total_micro_usd"].as_i64().unwrap() > 0);
    // After settlement the export carries the draws as prior draws: same manifest, nothing new.
    let exported_after = db.dir.path().join("after.json");
    db.ok(&[
        "export-facts",
        "--epoch",
        EPOCH,
        "--out",
        exported_after.to_str().unwrap(),
    ]);
    let after = plan_of(&exported_after);
    assert_eq!(after["manifest_sha256"], run["manifest_sha256"]);
    assert_eq!(after["granted_total_micro_usd"], json!(0));

    let report = db.ok(&["verify", "--epoch", EPOCH]);
    assert_eq!(report["ok"], json!(true), "{report}");

    // Tamper with one stored draw: verify exits 1 and names it.
    let victim = original["machines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["granted_micro_usd"].as_i64().unwrap() > 0)
        .unwrap()["machine_id"]
        .as_str()
        .unwrap()
        .to_string();
    tamper_one_draw(&db.url, &victim);
    let out = db.run(&["verify", "--epoch", EPOCH], &[]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], json!(false));
    let diffs = report["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), 1, "{report}");
    assert_eq!(diffs[0]["machine_id"], json!(victim));
    assert_eq!(diffs[0]["what"], json!("amount differs"));
}

#[test]
fn a_killed_settlement_reruns_to_the_same_state_at_every_failpoint() {
    let b = bundle(11, 30, 150_000_000);
    let clean = Db::with_pool(150_000_000);
    clean.import(&b);
    let expected = clean.ok(&["settle", "--epoch", EPOCH]);
    let expected_manifest = expected["manifest_sha256"].as_str().unwrap().to_string();
    for point in [
        "before_lock",
        "after_plan",
        "between_writes",
        "between_writes@3",
        "before_commit",
        "after_commit",
    ] {
        let db = Db::with_pool(150_000_000);
        db.import(&b);
        let spec = format!("{point}:abort");
        let killed = db.run(
            &["settle", "--epoch", EPOCH],
            &[("FLOORLINE_FAILPOINT", &spec)],
        );
        assert!(
            !killed.status.success(),
            "{point}: the process should have died"
        );
        let again = db.ok(&["settle", "--epoch", EPOCH]);
        let report = db.ok(&["verify", "--epoch", EPOCH]);
        assert_eq!(report["ok"], json!(true), "{point}: {report}");
        assert_eq!(
            report["stored_draws_manifest_sha256"],
            json!(expected_manifest),
            "{point}"
        );
        if point == "after_commit" {
            // The first run was durable: the rerun credits nothing.
            assert_eq!(again["granted_total_micro_usd"], json!(0), "{point}");
        } else {
            assert_eq!(
                again["granted_total_micro_usd"], expected["granted_total_micro_usd"],
                "{point}"
            );
        }
    }
}

#[test]
fn late_facts_are_paid_from_what_is_left_and_the_reserve_protects_late_workhorses() {
    // Pool $100, reserve 50 %, waterfill. Run 1: two idle 512 GB machines ($40 each) → $80.
    // Run 2: a late 64 GB workhorse ($18) and a late 512 GB ($40) share B = $20:
    // W = min(⌊100 · 0.5⌋ − 0, 20) = 20 → the workhorse gets its $18 first, the 512 GB the last $2.
    // (Without the reserve, waterfill would level them at $10 each.)
    let machine = |id: &str, model: &str, gb: u32| json!({"machine_id": id, "attested_at": "2026-09-01T00:00:00Z", "hardware_model": model, "reported_memory_gb": gb, "trust": "hardware"});
    let bind = |id: &str| json!({"machine_id": id, "account_id": format!("acct-{id}"), "payout_identity": format!("pay-{id}"), "from": "2026-01-01T00:00:00Z"});
    let session = |id: &str| json!({"session_id": format!("s-{id}"), "machine_id": id, "connected_at": "2026-09-30T00:00:00Z", "last_seen_at": "2026-11-01T00:00:00Z"});
    let probe = |id: &str| json!({"probe_id": format!("p-{id}"), "machine_id": id, "at": "2026-10-02T00:00:00Z", "passed": true});
    let ids = [
        ("big-a", "Mac15,14", 512),
        ("big-b", "Mac15,14", 512),
        ("late-w64", "Mac16,11", 64),
        ("late-big", "Mac15,14", 512),
    ];
    let b = json!({
        "epoch": EPOCH,
        "machines": ids.iter().map(|(i, m, g)| machine(i, m, *g)).collect::<Vec<_>>(),
        "bindings": ids.iter().map(|(i, _, _)| bind(i)).collect::<Vec<_>>(),
        "sessions": ids.iter().map(|(i, _, _)| session(i)).collect::<Vec<_>>(),
        "probes": [probe("big-a"), probe("big-b")],
    });
    let db = Db::sqlite();
    let cfg = db.dir.path().join("floorline.toml");
    std::fs::write(
        &cfg,
        "pool_micro_usd = 100000000\nallocation = \"waterfill\"\n",
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    db.import(&b);
    let first = db.ok(&["--config", c, "settle", "--epoch", EPOCH]);
    assert_eq!(first["granted_total_micro_usd"], json!(80_000_000));
    let late = json!({"epoch": EPOCH, "probes": [probe("late-w64"), probe("late-big")]});
    db.import(&late);
    let second = db.ok(&["--config", c, "settle", "--epoch", EPOCH]);
    assert_eq!(second["already_settled_micro_usd"], json!(80_000_000));
    assert_eq!(second["granted_total_micro_usd"], json!(20_000_000));
    let out = db.ok(&["--config", c, "export-facts", "--epoch", EPOCH]);
    let mut draws: Vec<(String, i64)> = out["prior_draws"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["machine_id"].as_str().unwrap().to_string(),
                d["amount_micro_usd"].as_i64().unwrap(),
            )
        })
        .collect();
    draws.sort();
    assert_eq!(
        draws,
        vec![
            ("big-a".into(), 40_000_000),
            ("big-b".into(), 40_000_000),
            ("late-big".into(), 2_000_000),
            ("late-w64".into(), 18_000_000)
        ]
    );
    let report = db.ok(&["--config", c, "verify", "--epoch", EPOCH]);
    assert_eq!(report["ok"], json!(true), "{report}");
}

#[test]
fn settling_an_open_or_malformed_epoch_is_refused() {
    let db = Db::sqlite();
    let out = db.run(&["settle", "--epoch", "2999-01"], &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not closed"));
    let out = db.run(&["settle", "--epoch", "2026-13"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

/// Issue 19: `adjust … 9223372036854000000` was accepted, and then every
/// `settle` failed with an integer overflow.
#[test]
fn an_overflowing_adjustment_is_bad_input_and_settlement_survives_the_largest() {
    let db = Db::with_pool(200_000_000);
    db.import(&bundle(7, 7, 200_000_000));
    let adjust = |amount: &str| {
        db.run(
            &[
                "adjust",
                "--account",
                "acct-0",
                "--amount-micro-usd",
                amount,
                "--reason",
                "audit",
            ],
            &[],
        )
    };
    for amount in [
        "9223372036854000000",
        "-9223372036854775807",
        "1000000000000001",
    ] {
        let out = adjust(amount);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{amount}: {stderr}");
        assert!(stderr.contains("amount_micro_usd"), "{amount}: {stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = adjust("1000000000000000");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = db.ok(&["settle", "--epoch", EPOCH]);
    assert!(run["n_granted_shares"].as_u64().unwrap() > 0, "{run}");
    assert_eq!(run["mode"], json!("live"), "{run}");
}

#[test]
fn keys_are_created_listed_and_revoked() {
    let db = Db::sqlite();
    let out = db.run(
        &["keys", "create", "--role", "provider", "--account", "alice"],
        &[],
    );
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    assert!(
        token.trim().starts_with("fl_provider_") && token.trim().len() == 76,
        "{token}"
    );
    let list = db.ok(&["keys", "list"]);
    assert_eq!(list[0]["account_id"], json!("alice"));
    assert!(
        !list.to_string().contains(token.trim()),
        "tokens are never listed"
    );
    let revoked = db.ok(&["keys", "revoke", "1"]);
    assert!(revoked["revoked_at_ms"].is_i64());
    let out = db.run(&["keys", "create", "--role", "provider"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn import_kind_reports_bad_lines_writes_nothing_and_resumes() {
    let db = Db::sqlite();
    db.import(&bundle(3, 3, 100));
    let job = |i: usize, amount: i64| {
        json!({"job_id": format!("x{i}"), "machine_id": "mac-001", "consumer_account_id": "c", "amount_micro_usd": amount, "kind": "inference", "pinned": false, "at": "2026-10-03T00:00:00Z"}).to_string()
    };
    let mut lines: Vec<String> = (0..10).map(|i| job(i, 5)).collect();
    lines[6] = job(6, -5);
    let path = db.dir.path().join("jobs.ndjson");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = db.run(
        &["import", "--kind", "earnings", path.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 7: amount_micro_usd: must be ≥ 0"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    lines[6] = job(6, 5);
    std::fs::write(&path, lines.join("\n")).unwrap();
    // A checkpoint from an interrupted run: the first 4 lines were committed.
    std::fs::write(db.dir.path().join("jobs.ndjson.progress"), "4").unwrap();
    let report = db.ok(&[
        "import",
        "--kind",
        "earnings",
        "--batch",
        "3",
        path.to_str().unwrap(),
    ]);
    assert_eq!(report["accepted"], json!(6));
    assert!(!db.dir.path().join("jobs.ndjson.progress").exists());
    let report = db.ok(&["import", "--kind", "earnings", path.to_str().unwrap()]);
    assert_eq!(
        (report["accepted"].clone(), report["duplicates"].clone()),
        (json!(4), json!(6))
    );
    // CSV with a header of field names.
    let csv = "job_id,machine_id,consumer_account_id,amount_micro_usd,kind,pinned,at\n\
               csv-1,mac-002,c,7,inference,false,2026-10-04T00:00:00Z\n\
               csv-2,mac-002,c,8,inference,true,2026-10-04T00:00:00Z\n";
    let cpath = db.dir.path().join("jobs.csv");
    std::fs::write(&cpath, csv).unwrap();
    let report = db.ok(&["import", "--kind", "earnings", cpath.to_str().unwrap()]);
    assert_eq!(report["accepted"], json!(2));
    let bad_csv = "job_id,machine_id,consumer_account_id,amount_micro_usd,kind,pinned,at\n\
                   csv-3,mac-002,c,lots,inference,false,2026-10-04T00:00:00Z\n";
    std::fs::write(&cpath, bad_csv).unwrap();
    let out = db.run(
        &["import", "--kind", "earnings", cpath.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2"), "{err}");
}

/// SPEC §6 *Fact versions*: after settlement a late earning and a late
/// session refinement arrive. `verify` recomputes the run from the facts as
/// it read them (exit 0); `verify --drift` names the machine and the amount
/// today's facts would change; `export-facts --run 1` reproduces run 1's
/// manifest through `plan`, and today's export holds the late facts.
#[test]
fn late_facts_after_settlement_keep_verify_green_and_show_as_drift() {
    let db = Db::with_pool(200_000_000);
    let b = bundle(7, 12, 200_000_000);
    db.import(&b);
    let run = db.ok(&["settle", "--epoch", EPOCH]);
    let run_id = run["run_id"].as_i64().unwrap();
    // The machine with the largest draw earns $5 late: its draw would shrink by $5.
    let plan_then = plan_of(&db.write("then.json", &b));
    let (victim, granted) = plan_then["machines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["machine_id"].as_str().unwrap().to_string(),
                m["granted_micro_usd"].as_i64().unwrap(),
            )
        })
        .max_by_key(|(_, g)| *g)
        .unwrap();
    assert!(granted > 5_000_000, "{granted}");
    let late = json!({"job_id": "late-job", "machine_id": victim, "consumer_account_id": "late-buyer", "amount_micro_usd": 5_000_000, "kind": "inference", "pinned": false, "at": "2026-10-15T00:00:00Z"});
    let jobs = db.dir.path().join("late.ndjson");
    std::fs::write(&jobs, late.to_string()).unwrap();
    db.ok(&["import", "--kind", "earnings", jobs.to_str().unwrap()]);
    // A heartbeat of one of its sessions, later than it was at settlement.
    let mut beat = b["sessions"][1].clone();
    beat["last_seen_at"] = json!("2026-11-02T00:00:00Z");
    let beats = db.dir.path().join("late-sessions.ndjson");
    std::fs::write(&beats, beat.to_string()).unwrap();
    let r = db.ok(&["import", "--kind", "sessions", beats.to_str().unwrap()]);
    assert_eq!(r["refined"], json!(1), "{r}");

    let report = db.ok(&["verify", "--epoch", EPOCH]);
    assert_eq!(report["ok"], json!(true), "{report}");
    assert!(report.get("drift").is_none(), "{report}");
    let report = db.ok(&["verify", "--epoch", EPOCH, "--drift"]);
    assert_eq!(report["ok"], json!(true), "{report}");
    let changes = report["drift"]["changes"].as_array().unwrap();
    let change = changes
        .iter()
        .find(|c| c["machine_id"] == json!(victim))
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(change["change_micro_usd"], json!(-5_000_000), "{report}");
    assert_eq!(change["settled_micro_usd"], json!(granted), "{report}");

    let then = db.dir.path().join("run1.json");
    db.ok(&[
        "export-facts",
        "--epoch",
        EPOCH,
        "--run",
        &run_id.to_string(),
        "--out",
        then.to_str().unwrap(),
    ]);
    let replayed = plan_of(&then);
    assert_eq!(replayed["manifest_sha256"], run["manifest_sha256"]);
    let text = std::fs::read_to_string(&then).unwrap();
    assert!(
        !text.contains("late-job"),
        "run 1 never read the late earning"
    );
    let now = db.ok(&["export-facts", "--epoch", EPOCH]);
    assert!(now.to_string().contains("late-job"));
    assert!(now["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["last_seen_at"] == json!("2026-11-02T00:00:00.000Z")));
    // Tampering still fails, naming the run.
    tamper_one_draw(&db.url, &victim);
    let out = db.run(&["verify", "--epoch", EPOCH], &[]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["differences"][0]["run_id"],
        json!(run_id),
        "{report}"
    );
}
