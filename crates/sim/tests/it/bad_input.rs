//! Bad scenario files are rejected whole, each problem naming its key, and
//! nothing reaches stdout.

use floorline_sim::{load_scenario, run_simulate, SimulateOptions};

const GOOD: &str = r#"
start = "2026-09"
months = 2
[fleet]
machines = 3
mix = [{ model = "Mac16,11", weight = 1 }]
[uptime]
buckets = [{ min = 0.9, max = 1, weight = 1 }]
[demand]
tokens_per_month = 1000
price_micro_usd_per_million_tokens = 165000
throughput = [{ min_gb = 0, tokens_per_s = 40 }]
"#;

fn error_of(text: &str) -> String {
    let e = load_scenario(text, "bad.toml").unwrap_err();
    assert!(e.is_bad_input(), "{e}");
    e.to_string()
}

#[test]
fn the_good_scenario_loads() {
    load_scenario(GOOD, "good.toml").unwrap();
}

#[test]
fn each_bad_value_names_its_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "machines = 3",
            "machines = 3\ngrowth = -0.1",
            "scenario.fleet.growth: must be ≥ 0",
        ),
        (
            "machines = 3",
            "machines = 3\nchurn = 1.5",
            "scenario.fleet.churn: must be between 0 and 1",
        ),
        (
            "machines = 3",
            "machines = -3",
            "scenario.fleet.machines: must be ≥ 0",
        ),
        (
            "machines = 3",
            "machines = 2.5",
            "scenario.fleet.machines: must be a whole number",
        ),
        (
            "machines = 3",
            "machines = 3\nbound = 0.1234567",
            "scenario.fleet.bound: `0.1234567` has more than 6 decimal places",
        ),
        (
            "months = 2",
            "months = 0",
            "scenario.months: must be between 1 and 240",
        ),
        (
            "start = \"2026-09\"",
            "start = \"2026-13\"",
            "scenario.start: `2026-13` is not a valid epoch id",
        ),
        ("start = \"2026-09\"\n", "", "scenario.start: required"),
        (
            "weight = 1 }]\n[uptime]",
            "weight = -1 }]\n[uptime]",
            "scenario.fleet.mix[0].weight: must be ≥ 0",
        ),
        (
            "model = \"Mac16,11\"",
            "model = \"Nope1,1\"",
            "scenario.fleet.mix[0].memory_gb: required: `Nope1,1` is not in the model cap table",
        ),
        (
            "min = 0.9, max = 1",
            "min = 0.9, max = 0.5",
            "scenario.uptime.buckets[0].min: must be ≤ max",
        ),
        (
            "tokens_per_month = 1000",
            "tokens_per_month = 1000\nutilization = 0.1",
            "scenario.demand.utilization: set either",
        ),
        (
            "tokens_per_s = 40",
            "tokens_per_s = -40",
            "scenario.demand.throughput[0].tokens_per_s: must be ≥ 0",
        ),
        (
            "price_micro_usd_per_million_tokens = 165000\n",
            "",
            "scenario.demand.price_micro_usd_per_million_tokens: required",
        ),
        (
            "machines = 3",
            "machines = 3\ngrowht = 0.1",
            "scenario.fleet.growht: unknown key",
        ),
        (
            "months = 2",
            "months = 2\nseeds = 1",
            "scenario.seeds: unknown key",
        ),
        (
            "[demand]",
            "[demand]\nprice = 1",
            "scenario.demand.price: unknown key",
        ),
        (
            "weight = 1 }]\n[uptime]",
            "weight = 1, colour = \"red\" }]\n[uptime]",
            "scenario.fleet.mix[0].colour: unknown key",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(GOOD.contains(from), "case does not apply: {from}");
        let text = GOOD.replacen(from, to, 1);
        let e = error_of(&text);
        assert!(
            e.starts_with(&format!("bad.toml: {expected}")),
            "{from} → {to}: got {e}"
        );
    }
}

#[test]
fn policy_keys_are_cores_and_named() {
    let cases = [
        (
            "reduction_kk = 1",
            "scenario.policy.reduction_kk: unknown key",
        ),
        (
            "workhorse_reserve = 1.5",
            "scenario.policy.workhorse_reserve: must be between 0 and 1",
        ),
        (
            "allocation = \"fair\"",
            "scenario.policy.allocation: unknown variant `fair`",
        ),
        (
            "pool_micro_usd = -1",
            "scenario.policy.pool_micro_usd: must be ≥ 0",
        ),
        (
            "launch_date = \"2026-02-30\"",
            "scenario.policy.launch_date:",
        ),
        (
            "tiers = [{ min_gb = 24, floor = 1 }]",
            "scenario.policy.tiers[0]",
        ),
    ];
    for (line, expected) in cases {
        let e = error_of(&format!("{GOOD}\n[policy]\n{line}\n"));
        assert!(e.contains(expected), "{line}: got {e}");
    }
}

#[test]
fn several_problems_are_reported_together() {
    let text = GOOD
        .replace("months = 2", "months = 0")
        .replace("min = 0.9, max = 1", "min = 0.9, max = 0.5");
    let e = error_of(&text);
    assert!(e.contains("scenario.months:"), "{e}");
    assert!(e.contains("scenario.uptime.buckets[0].min:"), "{e}");
}

#[test]
fn broken_toml_and_missing_files_are_bad_input() {
    let e = error_of("months = [\n");
    assert!(
        e.starts_with("bad.toml: scenario: invalid TOML at line 2"),
        "{e}"
    );

    for spec in ["/nonexistent/scenario.toml", "builtin:nope"] {
        let mut out = Vec::new();
        let opts = SimulateOptions {
            scenario: spec.into(),
            quiet: true,
            ..Default::default()
        };
        let e = run_simulate(&opts, &mut out).unwrap_err();
        assert!(e.is_bad_input(), "{e}");
        assert!(out.is_empty(), "nothing on stdout for bad input");
    }
}

#[test]
fn a_bad_compare_file_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("b.toml");
    std::fs::write(
        &bad,
        "extends = \"builtin:cold-start\"\n[fleet]\ngrowth = -1\n",
    )
    .unwrap();
    let mut out = Vec::new();
    let opts = SimulateOptions {
        scenario: "builtin:cold-start".into(),
        compare: Some(bad.to_string_lossy().into_owned()),
        out: Some(dir.path().join("out")),
        quiet: true,
    };
    let e = run_simulate(&opts, &mut out).unwrap_err();
    assert!(
        e.to_string().contains("scenario.fleet.growth: must be ≥ 0"),
        "{e}"
    );
    assert!(out.is_empty());
    assert!(
        !dir.path().join("out").exists(),
        "nothing written for bad input"
    );
}

#[test]
fn extends_cycles_stop() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.toml");
    std::fs::write(&a, "extends = \"a.toml\"\n").unwrap();
    let e = floorline_sim::read_scenario(&a.to_string_lossy()).unwrap_err();
    assert!(
        e.to_string()
            .contains("scenario.extends: more than 4 levels"),
        "{e}"
    );
}
