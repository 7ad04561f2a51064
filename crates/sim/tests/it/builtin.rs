//! `builtin:cold-start` runs, and its figures are the ones `SCENARIOS.md`
//! quotes (so the document cannot drift from the code).

use floorline_sim::text::{figure_rows, monthly_table};
use floorline_sim::{read_scenario, Scenario};

use super::kit::*;

const DOC: &str = include_str!("../../SCENARIOS.md");
const FILE: &str = include_str!("../../scenarios/cold-start.toml");

#[test]
fn the_builtin_is_the_example_file() {
    let builtin = read_scenario("builtin:cold-start").unwrap();
    let file: Scenario = floorline_sim::load_scenario(FILE, "builtin:cold-start").unwrap();
    assert_eq!(builtin, file);
}

#[test]
fn the_builtin_is_the_cold_start_network_of_the_spec() {
    let r = run(&read_scenario("builtin:cold-start").unwrap());
    let f = &r.figures;
    assert_eq!(f.machines, 600);
    assert!(
        (26_000..=28_000).contains(&f.mean_memory_milli_gb),
        "{}",
        f.mean_memory_milli_gb
    );
    assert!(
        (160_000..=200_000).contains(&f.share_64_gb_plus_ppm),
        "{}",
        f.share_64_gb_plus_ppm
    );
    let b64 = f.break_even.iter().find(|b| b.min_gb == 64).unwrap();
    assert_eq!(
        (b64.tokens_per_s, b64.price_micro_usd_per_million_tokens),
        (40, 165_000)
    );
    // ⌈18 000 000 · 10⁶ / 165 000⌉ = 109 090 910 tokens; 40 · 2 592 000 s = 103 680 000.
    assert_eq!(b64.tokens_needed, 109_090_910);
    assert_eq!(b64.capacity_tokens, 103_680_000);
    assert_eq!(b64.utilization_ppm, Some(1_052_189));
}

#[test]
fn scenarios_md_quotes_the_builtins_figures() {
    let r = run(&read_scenario("builtin:cold-start").unwrap());
    let mut missing = Vec::new();
    for (label, value) in figure_rows(&r) {
        let row = format!("| {label} | {value} |");
        if !DOC.contains(&row) {
            missing.push(row);
        }
    }
    assert!(
        missing.is_empty(),
        "SCENARIOS.md is out of date; expected rows:\n{}",
        missing.join("\n")
    );
    // The header, the first and the last month of the table, verbatim.
    let table = monthly_table(&r);
    let lines: Vec<&str> = table.lines().collect();
    for line in [lines[0], lines[1], lines[lines.len() - 1]] {
        assert!(
            DOC.contains(line),
            "SCENARIOS.md lacks the table line:\n{line}"
        );
    }
}

#[test]
fn scenarios_md_quotes_every_example_scenario() {
    use floorline_sim::text::what_if_row;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    let mut missing = Vec::new();
    let mut runs = std::collections::BTreeMap::new();
    for path in files {
        let r = run(&read_scenario(&path.to_string_lossy()).unwrap());
        let row = what_if_row(&r);
        if !DOC.contains(&row) {
            missing.push(row);
        }
        runs.insert(r.scenario.name.clone(), r);
    }
    assert!(
        missing.is_empty(),
        "SCENARIOS.md is out of date; expected rows:\n{}",
        missing.join("\n")
    );
    // The monthly-vs-daily table, every line (the daily run is slow in a
    // debug build, so it is run once, here).
    let table =
        floorline_sim::text::period_compare_table(&runs["cold-start"], &runs["cold-start-daily"]);
    let stale: Vec<&str> = table.lines().filter(|l| !DOC.contains(l)).collect();
    assert!(
        stale.is_empty(),
        "SCENARIOS.md lacks the monthly-vs-daily table lines:\n{}",
        stale.join("\n")
    );
}
