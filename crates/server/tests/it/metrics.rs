//! `/metrics` as Prometheus and Grafana see it: the two formats by `Accept`
//! (0.0.4 checked as the classic parser reads it, and by `promtool check
//! metrics`), the HTTP, probe, settlement, watermark and build-info series
//! after real traffic, and the deploy files: every metric name the Grafana
//! board and the alert rules use is served, and promtool accepts and
//! unit-tests the rules.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use floorline_core::{EpochId, Timestamp};
use floorline_engine::SettleOptions;
use serde_json::{json, Value};

use crate::harness::{TestServer, NOW};

/// What Prometheus sends by default (OpenMetrics preferred).
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const PROMTOOL: &str = "/usr/bin/promtool";

/// `(content type, body)` of `/metrics` with this `Accept` header (none if `None`).
async fn scrape(s: &TestServer, accept: Option<&str>) -> (String, String) {
    let mut req = s.http.get(format!("{}/metrics", s.url));
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    (ct, resp.text().await.unwrap())
}

/// Sample lines as `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_string(), value.parse::<f64>().unwrap())
        })
        .collect()
}

fn sample_name(series: &str) -> &str {
    series.split('{').next().unwrap()
}

/// Family name → type, from the `# TYPE` lines.
fn families(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (name, kind) = l.split_once(' ').unwrap();
            (name.to_string(), kind.to_string())
        })
        .collect()
}

/// Whether `name` is a sample name of a family under OpenMetrics rules.
fn served_openmetrics(families: &BTreeMap<String, String>, name: &str) -> bool {
    families.iter().any(|(fam, kind)| match kind.as_str() {
        "counter" => name == format!("{fam}_total"),
        "histogram" => ["_bucket", "_sum", "_count"]
            .iter()
            .any(|s| name == format!("{fam}{s}")),
        "info" => name == format!("{fam}_info"),
        _ => name == fam,
    })
}

/// The 0.0.4 rule of the classic parser: a sample belongs to the family
/// whose TYPE line names it exactly, or, for a histogram, adds
/// `_bucket` / `_sum` / `_count`. A counter sample must be named exactly as
/// its TYPE line, or the parser sees it untyped.
fn check_0_0_4(text: &str) {
    assert!(!text.contains("# EOF"), "{text}");
    assert!(!text.contains("# UNIT"), "{text}");
    let fams = families(text);
    assert!(
        fams.values().all(|k| matches!(
            k.as_str(),
            "counter" | "gauge" | "histogram" | "summary" | "untyped"
        )),
        "{fams:?}"
    );
    for (series, _) in samples(text) {
        let name = sample_name(&series);
        assert!(!name.ends_with("_created"), "{series}");
        let owner = fams.get(name).map(|k| k.as_str()).or_else(|| {
            ["_bucket", "_sum", "_count"].iter().find_map(|s| {
                name.strip_suffix(s)
                    .and_then(|fam| fams.get(fam))
                    .filter(|k| *k == "histogram")
                    .map(|k| k.as_str())
            })
        });
        assert!(owner.is_some(), "{series} belongs to no TYPE line:\n{text}");
    }
    for (fam, kind) in &fams {
        if kind == "counter" {
            assert!(fam.ends_with("_total"), "counter {fam}");
        }
    }
}

fn promtool() -> &'static str {
    assert!(
        Path::new(PROMTOOL).exists(),
        "{PROMTOOL} is missing: run scripts/test, which installs Debian's `prometheus` package"
    );
    PROMTOOL
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Seeds the fleet, sends probes (new, re-sent and conflicting) and a
/// watermark, reads a provider page, misses a route and settles October.
/// Returns the settle answer.
async fn traffic(s: &TestServer) -> Value {
    s.seed().await;
    let batch = json!([
        {"probe_id": "pr-t1", "machine_id": "m-carol-16", "at": "2026-11-05T00:00:00Z", "passed": false, "failure": "timeout"},
        {"probe_id": "pr-w1", "machine_id": "m-carol-16", "at": "2026-11-05T01:00:00Z", "passed": false, "failure": "wrong_answer"},
        {"probe_id": "pr-p1", "machine_id": "m-alice-64", "at": "2026-11-05T02:00:00Z", "passed": true}
    ]);
    s.ingest_ok("probes", batch.clone()).await;
    // A retry of the whole batch is not counted again.
    s.ingest_ok("probes", batch).await;
    // A conflicting probe (same id, other payload) is not written, nor counted.
    let (st, body) = s
        .post(
            "/v1/ingest/probes",
            &s.ingest,
            json!([
                {"probe_id": "pr-t1", "machine_id": "m-carol-16", "at": "2026-11-05T00:00:00Z", "passed": true},
                {"probe_id": "pr-t2", "machine_id": "m-carol-16", "at": "2026-11-06T00:00:00Z", "passed": false, "failure": "timeout"}
            ]),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["conflicts"].as_array().unwrap().len(), 1, "{body}");
    s.ingest_ok(
        "watermarks",
        json!([{"source": "coord", "up_to": "2026-11-10T11:00:00Z"}]),
    )
    .await;
    let (st, _) = s.get("/v1/provider/machines/m-alice-64", &s.alice).await;
    assert_eq!(st, 200);
    let (st, _) = s.get("/no/such/route/m-alice-64", &s.alice).await;
    assert_eq!(st, 404);
    let (st, run) = s
        .post("/v1/admin/epochs/2026-10/settle", &s.admin, json!({}))
        .await;
    assert_eq!(st, 200, "{run}");
    run
}

#[tokio::test]
async fn metrics_answer_0_0_4_or_openmetrics_by_accept() {
    let s = TestServer::start("").await;
    s.seed().await;
    let (st, _) = s.get("/v1/provider/machines", &s.alice).await;
    assert_eq!(st, 200);
    for accept in [
        None,
        Some("text/plain"),
        Some("*/*"),
        Some("text/plain;version=0.0.4,*/*;q=0.1"),
    ] {
        let (ct, text) = scrape(&s, accept).await;
        assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8", "{accept:?}");
        check_0_0_4(&text);
        // Counters typed as the classic parser needs them.
        assert!(
            text.contains("# TYPE floorline_ingest_facts_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE floorline_http_requests_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "floorline_ingest_facts_total{kind=\"machines\",outcome=\"accepted\"} 4\n"
            ),
            "{text}"
        );
    }
    let (ct, om) = scrape(&s, Some(PROMETHEUS_ACCEPT)).await;
    assert_eq!(
        ct,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(
        om.contains("# TYPE floorline_ingest_facts counter\n"),
        "{om}"
    );
    assert!(
        om.contains("floorline_ingest_facts_total{kind=\"machines\",outcome=\"accepted\"} 4\n"),
        "{om}"
    );
    let (ct, _) = scrape(&s, Some("application/openmetrics-text")).await;
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
}

/// Prometheus's own classic text parser and linter (`promtool check metrics`)
/// accept the 0.0.4 answer after real traffic.
#[tokio::test]
async fn promtool_parses_the_0_0_4_answer() {
    let tool = promtool();
    let s = TestServer::start("").await;
    traffic(&s).await;
    let (_, text) = scrape(&s, Some("text/plain")).await;
    let mut child = Command::new(tool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn http_probe_settlement_watermark_and_build_series_after_traffic() {
    let s = TestServer::start("").await;
    let run = traffic(&s).await;
    let (_, text) = scrape(&s, Some("text/plain")).await;
    check_0_0_4(&text);
    let got = samples(&text);
    let value = |series: &str| -> f64 {
        *got.get(series)
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    // HTTP: route templates, never raw paths; unmatched paths share one label.
    assert_eq!(
        value("floorline_http_requests_total{route=\"/v1/provider/machines/{machine}\",method=\"GET\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        value("floorline_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"),
        1.0
    );
    // One route per fact kind (the operations of the document).
    let ingested: f64 = got
        .iter()
        .filter(|(k, _)| {
            k.starts_with("floorline_http_requests_total{route=\"/v1/ingest/")
                && k.ends_with("method=\"POST\",status=\"200\"}")
        })
        .map(|(_, v)| *v)
        .sum();
    assert_eq!(
        ingested, 9.0,
        "5 seed batches, 3 probe batches, 1 watermark batch"
    );
    assert_eq!(
        value("floorline_http_requests_total{route=\"/v1/ingest/watermarks\",method=\"POST\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        value("floorline_http_request_duration_seconds_count{route=\"/v1/admin/epochs/{epoch}/settle\",method=\"POST\"}"),
        1.0
    );
    assert_eq!(
        value("floorline_http_request_duration_seconds_bucket{le=\"+Inf\",route=\"/v1/admin/epochs/{epoch}/settle\",method=\"POST\"}"),
        1.0
    );
    assert!(
        !got.keys()
            .any(|k| k.starts_with("floorline_http") && k.contains("m-alice-64")),
        "{text}"
    );
    // Probes by verdict: 3 seeded + 1 new passed, re-sent and conflicting ones not counted.
    assert_eq!(
        value("floorline_probes_total{verdict=\"passed\",source=\"ingest\"}"),
        4.0
    );
    assert_eq!(
        value("floorline_probes_total{verdict=\"timeout\",source=\"ingest\"}"),
        2.0
    );
    assert_eq!(
        value("floorline_probes_total{verdict=\"wrong_answer\",source=\"ingest\"}"),
        1.0
    );
    // Settlement figures of the run, labelled by epoch and mode.
    let label = "{epoch=\"2026-10\",mode=\"live\"}";
    assert_eq!(
        value(&format!("floorline_settlement_granted_micro_usd{label}")),
        run["granted_total_micro_usd"].as_f64().unwrap()
    );
    assert!(
        run["granted_total_micro_usd"].as_i64().unwrap() > 0,
        "{run}"
    );
    assert_eq!(
        value(&format!(
            "floorline_settlement_unallocated_micro_usd{label}"
        )),
        run["unallocated_micro_usd"].as_f64().unwrap()
    );
    assert_eq!(
        value(&format!("floorline_settlement_pool_micro_usd{label}")),
        run["pool_micro_usd"].as_f64().unwrap()
    );
    let now_s = Timestamp::parse(NOW).unwrap().0 / 1000;
    assert_eq!(
        value(&format!(
            "floorline_settlement_last_run_timestamp_seconds{label}"
        )),
        now_s as f64
    );
    assert!(
        value(&format!(
            "floorline_settlement_last_run_duration_seconds{label}"
        )) >= 0.0
    );
    assert_eq!(value("floorline_settlements_total{outcome=\"live\"}"), 1.0);
    assert_eq!(value("floorline_last_settled_epoch"), 202610.0);
    // The watermark, as unix seconds.
    let wm_s = Timestamp::parse("2026-11-10T11:00:00Z").unwrap().0 / 1000;
    assert_eq!(
        value("floorline_source_watermark_seconds{source=\"coord\"}"),
        wm_s as f64
    );
    // Build info.
    let build = got
        .keys()
        .find(|k| k.starts_with("floorline_build_info{"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "{build}"
    );
    assert_eq!(value(build), 1.0);
}

/// Regression: runs the scheduler made (or another instance sharing the
/// database) never reached the settlement series; they are read from the
/// store at scrape time. Their duration is known only where they ran.
#[tokio::test]
async fn a_run_made_outside_this_api_is_seen_at_scrape_time() {
    let s = TestServer::start("").await;
    s.seed().await;
    let epoch: EpochId = "2026-10".parse().unwrap();
    s.state.engine.preview(epoch, "scheduler").await.unwrap();
    let run = s
        .state
        .engine
        .settle(epoch, "scheduler", SettleOptions::default())
        .await
        .unwrap();
    let (_, text) = scrape(&s, None).await;
    let got = samples(&text);
    let live = "{epoch=\"2026-10\",mode=\"live\"}";
    assert_eq!(
        got.get(&format!("floorline_settlement_draws_micro_usd{live}"))
            .copied(),
        Some((run.already_settled_micro_usd + run.granted_total_micro_usd) as f64),
        "{text}"
    );
    assert!(
        got.contains_key(
            "floorline_settlement_granted_micro_usd{epoch=\"2026-10\",mode=\"preview\"}"
        ),
        "{text}"
    );
    assert!(
        !got.keys()
            .any(|k| k.starts_with("floorline_settlement_last_run_duration_seconds")),
        "{text}"
    );
    assert_eq!(got.get("floorline_last_settled_epoch"), Some(&202610.0));
}

/// Every `floorline_*` name in `text` (metric names are `[a-z0-9_]`).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("floorline_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// Every `expr` string of the Grafana board (all nesting levels).
fn grafana_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "query" | "definition", Value::String(s)) => out.push(s.clone()),
                    _ => grafana_exprs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| grafana_exprs(v, out)),
        _ => {}
    }
}

/// The `expr:` values of a rules file (one line, or a `|` block), read as
/// text: no YAML crate is in the lock file.
fn rule_exprs(yaml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = yaml.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((indent, value)) = line
            .find("expr:")
            .filter(|&i| line[..i].trim().is_empty())
            .map(|i| (i, line[i + 5..].trim()))
        else {
            continue;
        };
        if value != "|" {
            out.push(value.to_string());
            continue;
        }
        let mut block = String::new();
        while let Some(next) = lines.peek() {
            let deeper = next.len() - next.trim_start().len() > indent;
            if !(deeper || next.trim().is_empty()) {
                break;
            }
            block.push_str(next.trim());
            block.push('\n');
            lines.next();
        }
        out.push(block);
    }
    out
}

#[tokio::test]
async fn every_metric_the_dashboard_and_alerts_use_is_served() {
    let root = workspace_root();
    let board: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("deploy/grafana/floorline.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(board["schemaVersion"], json!(39));
    let vars = board["templating"]["list"].as_array().unwrap();
    assert!(
        vars.iter()
            .any(|v| v["name"] == json!("datasource") && v["type"] == json!("datasource")),
        "{vars:?}"
    );
    let mut exprs = Vec::new();
    for p in board["panels"].as_array().unwrap() {
        assert_eq!(p["datasource"]["uid"], json!("${datasource}"), "{p}");
    }
    grafana_exprs(&board, &mut exprs);
    let alerts = std::fs::read_to_string(root.join("deploy/prometheus/alerts.yml")).unwrap();
    let rules = rule_exprs(&alerts);
    assert_eq!(rules.len(), 4, "{rules:?}");
    for name in [
        "FloorlineSettlementOverdue",
        "FloorlineWatermarkStale",
        "FloorlinePoolBinding",
        "FloorlineProberFailureRateHigh",
    ] {
        assert!(alerts.contains(&format!("alert: {name}\n")), "{name}");
    }
    exprs.extend(rules);
    let used: BTreeSet<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    assert!(used.len() >= 15, "{used:?}");

    let s = TestServer::start("").await;
    traffic(&s).await;
    let (_, om) = scrape(&s, Some(PROMETHEUS_ACCEPT)).await;
    let fams = families(&om);
    let missing: Vec<&String> = used
        .iter()
        .filter(|n| !served_openmetrics(&fams, n))
        .collect();
    assert!(missing.is_empty(), "not served: {missing:?}\n{om}");
    // The same names under the 0.0.4 rules.
    let (_, text) = scrape(&s, Some("text/plain")).await;
    let plain = families(&text);
    for name in &used {
        let ok = plain.contains_key(name.as_str())
            || ["_bucket", "_sum", "_count"].iter().any(|s| {
                name.strip_suffix(s)
                    .is_some_and(|f| plain.get(f).is_some_and(|k| k == "histogram"))
            });
        assert!(ok, "{name} not in the 0.0.4 answer");
    }
}

#[test]
fn rule_exprs_reads_one_line_and_block_values() {
    let yaml = "      - alert: A\n        expr: up == 0\n      - alert: B\n        expr: |\n          rate(x_total[5m])\n            > 1\n        for: 5m\n";
    assert_eq!(
        rule_exprs(yaml),
        vec!["up == 0", "rate(x_total[5m])\n> 1\n"]
    );
    assert_eq!(
        metric_names("rate(floorline_a_total[5m]) / floorline_b_seconds_bucket{le=\"1\"}"),
        BTreeSet::from([
            "floorline_a_total".to_string(),
            "floorline_b_seconds_bucket".to_string()
        ])
    );
}

fn run_promtool(args: &[&str]) {
    let out = Command::new(promtool())
        .args(args)
        .current_dir(workspace_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_checks_the_alert_rules() {
    run_promtool(&["check", "rules", "deploy/prometheus/alerts.yml"]);
}

#[test]
fn promtool_unit_tests_of_the_alert_rules_pass() {
    run_promtool(&["test", "rules", "deploy/prometheus/alerts_test.yml"]);
}
