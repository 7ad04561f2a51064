//! Small helpers: scenarios from literal TOML, runs without progress, and a
//! light well-formedness check for SVG (no XML crate).

use floorline_sim::{load_scenario, simulate, Scenario, SimReport};

pub const USD: i64 = 1_000_000;

/// A scenario from TOML text; panics (in tests) on bad input.
pub fn scenario(text: &str) -> Scenario {
    load_scenario(text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

pub fn run(s: &Scenario) -> SimReport {
    simulate(s, &|_, _| {}).unwrap()
}

/// `n` machines of one kind, all up all month, bound and probed, no demand,
/// from September 2026 (30 days), with `extra` appended (more tables).
pub fn fleet(n: u32, model: &str, months: u32, extra: &str) -> String {
    format!(
        r#"
start = "2026-09"
months = {months}
seed = 7
[fleet]
machines = {n}
mix = [{{ model = "{model}", weight = 1 }}]
{extra}
"#
    )
}

/// Checks that `text` is one `<svg …>…</svg>` element whose tags balance.
pub fn assert_svg(text: &str) {
    let body = text.trim_start();
    let body = if body.starts_with("<?xml") {
        body.split_once("?>").unwrap().1.trim_start()
    } else {
        body
    };
    assert!(
        body.starts_with("<svg"),
        "root is not <svg: {}",
        &body[..40.min(body.len())]
    );
    assert!(body.trim_end().ends_with("</svg>"));
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').expect("unclosed tag") + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap_or("").to_string();
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
}
