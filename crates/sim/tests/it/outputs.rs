//! What `run_simulate` prints and writes: the tables, `months.csv`,
//! `report.json` and the SVG charts; `--compare`; determinism; progress.

use std::cell::RefCell;

use floorline_sim::output::CSV_COLUMNS;
use floorline_sim::{read_scenario, run_simulate, simulate, SimulateOptions};

use super::kit::*;

fn run_to(dir: &std::path::Path, compare: Option<String>) -> (String, floorline_sim::SimSummary) {
    let mut out = Vec::new();
    let opts = SimulateOptions {
        scenario: "builtin:cold-start".into(),
        out: Some(dir.to_path_buf()),
        compare,
        quiet: true,
    };
    let summary = run_simulate(&opts, &mut out).unwrap();
    (String::from_utf8(out).unwrap(), summary)
}

#[test]
fn files_are_written_and_charts_are_svg() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("nested/out");
    let (stdout, summary) = run_to(&out_dir, None);
    let names = [
        "months.csv",
        "report.json",
        "cost.svg",
        "payout_by_tier.svg",
        "revenue.svg",
    ];
    assert_eq!(summary.files.len(), names.len());
    for name in names {
        let path = out_dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.is_empty(), "{name} is empty");
        assert!(
            stdout.contains(&path.display().to_string()),
            "{name} not listed"
        );
        if name.ends_with(".svg") {
            assert_svg(&text);
            assert!(text.contains("cold-start"), "{name} has no legend");
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["months"].as_array().unwrap().len(), 36);
    assert_eq!(runs[0]["scenario"]["name"], "cold-start");
    assert_eq!(
        runs[0]["scenario"]["policy"]["pool_micro_usd"],
        9_000_000_000_i64
    );
    assert_eq!(runs[0]["months"][0]["epoch"], "2026-09");
}

#[test]
fn the_csv_has_a_header_and_one_row_per_month() {
    let dir = tempfile::tempdir().unwrap();
    let (_, summary) = run_to(dir.path(), None);
    let text = std::fs::read_to_string(dir.path().join("months.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(&header[..CSV_COLUMNS.len()], CSV_COLUMNS);
    assert!(header.contains(&"mean_payout_micro_usd_64gb"));
    let report = &summary.reports[0];
    assert_eq!(lines.len(), 1 + report.months.len());
    for (line, m) in lines[1..].iter().zip(&report.months) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), header.len());
        assert_eq!(cells[0], "cold-start");
        assert_eq!(cells[2], m.epoch.to_string());
        assert_eq!(cells[10], m.program_cost_micro_usd.to_string());
    }
}

#[test]
fn the_table_shows_every_month() {
    let mut out = Vec::new();
    let opts = SimulateOptions {
        scenario: "builtin:cold-start".into(),
        quiet: true,
        ..Default::default()
    };
    let summary = run_simulate(&opts, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(summary.files.is_empty());
    assert!(
        text.contains("month    machines  eligible  program cost"),
        "{text}"
    );
    for m in &summary.reports[0].months {
        assert!(
            text.contains(&format!("\n{} ", m.epoch)),
            "missing {}",
            m.epoch
        );
    }
    assert!(text.contains("mean payout per machine by tier"));
    assert!(text.contains("headline figures"));
}

#[test]
fn compare_runs_two_policies_on_the_same_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("half-k.toml");
    std::fs::write(
        &b,
        "extends = \"builtin:cold-start\"\n[policy]\nreduction_k = 0.5\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let (stdout, summary) = run_to(&out_dir, Some(b.to_string_lossy().into_owned()));
    let [a, b] = &summary.reports[..] else {
        panic!("two reports expected");
    };
    assert_eq!(b.scenario.name, "half-k", "named after its file");
    assert_eq!(b.scenario.fleet, a.scenario.fleet, "fleet inherited");
    for (ma, mb) in a.months.iter().zip(&b.months) {
        // Same machines, uptime and demand: only the money differs.
        assert_eq!(ma.machines, mb.machines);
        assert_eq!(ma.eligible, mb.eligible);
        assert_eq!(ma.organic_revenue_micro_usd, mb.organic_revenue_micro_usd);
        assert!(
            mb.program_cost_micro_usd >= ma.program_cost_micro_usd,
            "smaller k, larger draws"
        );
    }
    assert!(stdout.contains("A: cold-start") && stdout.contains("B: half-k"));
    assert!(stdout.contains("A vs B"));
    assert!(stdout.contains("Δ cost"));
    let csv = std::fs::read_to_string(out_dir.join("months.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 36 + 36);
    assert_eq!(csv.lines().filter(|l| l.starts_with("half-k,")).count(), 36);
    let cost = std::fs::read_to_string(out_dir.join("cost.svg")).unwrap();
    assert_svg(&cost);
    assert!(cost.contains("A cold-start") && cost.contains("B half-k"));
}

#[test]
fn the_same_seed_gives_the_same_report() {
    let s = read_scenario("builtin:cold-start").unwrap();
    let a = run(&s);
    let b = run(&s);
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    let mut other = s.clone();
    other.seed += 1;
    assert_ne!(run(&other).months, a.months, "another seed, another fleet");
}

#[test]
fn progress_is_reported_every_month() {
    let s = scenario(&fleet(2, "Mac16,11", 4, ""));
    let calls = RefCell::new(Vec::new());
    simulate(&s, &|done, total| calls.borrow_mut().push((done, total))).unwrap();
    assert_eq!(calls.into_inner(), vec![(1, 4), (2, 4), (3, 4), (4, 4)]);
}

#[test]
fn ten_thousand_machines_for_three_years() {
    let text = r#"
extends = "builtin:cold-start"
name = "large"
[fleet]
machines = 10000
growth = 0
[demand]
tokens_per_month = 40_000_000_000
"#;
    let s = floorline_sim::load_scenario(text, "large.toml").unwrap();
    let started = std::time::Instant::now();
    let r = run(&s);
    assert_eq!(r.months.len(), 36);
    assert!(r.months.iter().all(|m| m.machines == 10_000));
    assert!(r
        .months
        .iter()
        .all(|m| m.program_cost_micro_usd <= m.pool_micro_usd));
    assert!(
        r.months[0].pool_binding,
        "10 000 machines outgrow the $9,000 pool"
    );
    assert!(
        started.elapsed().as_secs() < 120,
        "took {:?}",
        started.elapsed()
    );
}
