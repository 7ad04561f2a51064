//! Fuzzing of the ingestion parsers (SPEC §8–§9): `parse_lines` (NDJSON and
//! CSV, what `floorline import --kind` reads) and `parse_batch` (the body of
//! `POST /v1/ingest/{kind}`), for all eight kinds.
//!
//! Facts of each kind are generated mostly valid, then mutated (deleted
//! fields, swapped types, huge and unrepresentable numbers, deep nesting,
//! unicode, identifiers of 128/129 characters, garbage lines, broken CSV
//! quoting, ragged rows, unknown or repeated columns). Every input must give
//! `Ok` with items that pass their checks and read back equal from their own
//! JSON, or errors that each name a line (import) or an index and field
//! (batch). Seeds are fixed; FUZZING.md lists the counts and the command.

use std::fmt::Debug;

use floorline_core::bundle::Attestation;
use floorline_core::{Fact, FactKind, Timestamp, Watermark};
use floorline_engine::ingest::{parse_batch, parse_lines, Format};
use floorline_engine::EngineError;
use floorline_store::StoreError;
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Inputs per test.
const NDJSON_CASES: u32 = 35_000;
const CSV_CASES: u32 = 35_000;
const LINES_BYTES_CASES: u32 = 30_000;
const BATCH_CASES: u32 = 40_000;
const BATCH_BYTES_CASES: u32 = 60_000;

/// The batch limit the batch fuzzing runs with (small, so it is reached).
const MAX_ITEMS: usize = 6;

fn config(cases: u32, seed: u64) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 4_096,
        ..ProptestConfig::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum F {
    Id,
    Machine,
    Time,
    OptTime,
    Text,
    OptText,
    Gb,
    OptGb,
    Amount,
    Bool,
    OptBool,
    Trust,
    EarningKind,
}

fn fields(kind: FactKind) -> &'static [(&'static str, F)] {
    match kind {
        FactKind::Machines => &[
            ("machine_id", F::Id),
            ("attested_at", F::Time),
            ("hardware_model", F::Text),
            ("reported_memory_gb", F::Gb),
            ("trust", F::Trust),
            ("se_public_key", F::OptText),
        ],
        FactKind::Aliases => &[
            ("provider_key", F::Id),
            ("machine_id", F::Machine),
            ("from", F::Time),
        ],
        FactKind::Bindings => &[
            ("machine_id", F::Machine),
            ("account_id", F::Id),
            ("payout_identity", F::Id),
            ("from", F::Time),
            ("to", F::OptTime),
        ],
        FactKind::Sessions => &[
            ("session_id", F::Id),
            ("machine_id", F::Machine),
            ("connected_at", F::Time),
            ("last_seen_at", F::OptTime),
            ("disconnected_at", F::OptTime),
        ],
        FactKind::Health => &[
            ("machine_id", F::Machine),
            ("at", F::Time),
            ("healthy", F::Bool),
            ("reason", F::OptText),
        ],
        FactKind::Earnings => &[
            ("job_id", F::Id),
            ("machine_id", F::Machine),
            ("consumer_account_id", F::Id),
            ("amount_micro_usd", F::Amount),
            ("kind", F::EarningKind),
            ("pinned", F::OptBool),
            ("model", F::OptText),
            ("at", F::Time),
        ],
        FactKind::Probes => &[
            ("probe_id", F::Id),
            ("machine_id", F::Machine),
            ("at", F::Time),
            ("passed", F::Bool),
            ("failure", F::OptText),
            ("model", F::OptText),
            ("verified_memory_gb", F::OptGb),
        ],
        FactKind::Watermarks => &[("source", F::Id), ("up_to", F::Time)],
    }
}

fn field_names(kind: FactKind) -> Vec<&'static str> {
    fields(kind).iter().map(|(n, _)| *n).collect()
}

const NASTY: &[&str] = &[
    "",
    " ",
    "m 1",
    "m\u{0}",
    "машина",
    "🙂",
    "'; DROP TABLE earnings; --",
    "\" OR 1=1",
    "a,b",
    "\"quoted\"",
    "line\nbreak",
    "cr\rhere",
    "\u{feff}m1",
    "ｍ１",
    "\\",
];

const RAW_NUMBERS: &[&str] = &[
    "1e400",
    "-1e400",
    "18446744073709551616",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "-0",
    "1E2",
];
const RAW_MARK: &str = "\u{1}RAW";

fn arb_special() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        Just(json!(-1)),
        Just(json!(i64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(u64::MAX)),
        Just(json!(u64::from(u32::MAX) + 1)),
        Just(json!(1e308)),
        Just(json!(0.5)),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!([])),
        Just(json!({})),
        (127usize..=130).prop_map(|n| json!("a".repeat(n))),
        prop::sample::select(NASTY).prop_map(|s| json!(s)),
        "\\PC{0,8}".prop_map(Value::String),
        (0..RAW_NUMBERS.len()).prop_map(|i| json!(format!("{RAW_MARK}{i}"))),
    ]
    .boxed()
}

/// 2026-09-01T00:00:00Z in ms.
const SEP_1: i64 = 1_788_220_800_000;

/// A value of the field's type that the checks accept, edge cases included
/// (128-character ids, the far past and future, 1 024-byte text,
/// `i64::MAX` amounts, `u32::MAX` memory).
fn good_value(f: F) -> BoxedStrategy<Value> {
    match f {
        F::Id => prop_oneof![
            8 => prop::sample::select(vec!["m1", "m2", "pk-1", "alice", "j1", "s1", "p1"]).prop_map(|s| json!(s)),
            4 => "[A-Za-z0-9._:@-]{1,10}".prop_map(Value::String),
            1 => Just(json!("i".repeat(128))),
        ]
        .boxed(),
        F::Machine => prop::sample::select(vec!["m1", "m2", "pk-1", "ghost"])
            .prop_map(|s| json!(s))
            .boxed(),
        F::Time | F::OptTime => prop_oneof![
            12 => (0i64..90 * 86_400_000).prop_map(|ms| json!(Timestamp(SEP_1 + ms).to_rfc3339())),
            1 => prop::sample::select(vec![
                "2026-10-01T00:00:00+14:00",
                "2026-10-31T23:59:60Z",
                "0000-01-01T00:00:00Z",
                "9999-12-31T23:59:59.999999999Z",
            ])
            .prop_map(|s| json!(s)),
        ]
        .boxed(),
        F::Text | F::OptText => prop_oneof![
            8 => prop::sample::select(vec!["Mac16,11", "qwen-32b", "timeout", "disk full", "a,b", "\"q\"", "line\nbreak"]).prop_map(|s| json!(s)),
            1 => "\\PC{0,12}".prop_map(Value::String),
            1 => Just(json!("x".repeat(1024))),
        ]
        .boxed(),
        F::Gb | F::OptGb => prop::sample::select(vec![0u64, 24, 64, 512, u64::from(u32::MAX)])
            .prop_map(|n| json!(n))
            .boxed(),
        F::Amount => prop_oneof![
            8 => (0i64..100_000_000).prop_map(|n| json!(n)),
            1 => Just(json!(i64::MAX)),
        ]
        .boxed(),
        F::Bool | F::OptBool => any::<bool>().prop_map(Value::Bool).boxed(),
        F::Trust => prop::sample::select(vec!["none", "self_signed", "hardware"])
            .prop_map(|s| json!(s))
            .boxed(),
        F::EarningKind => prop::sample::select(vec!["inference", "probe", "base_reward"])
            .prop_map(|s| json!(s))
            .boxed(),
    }
}

/// A value of the field's type that a check refuses.
fn bad_value(f: F) -> BoxedStrategy<Value> {
    match f {
        F::Id | F::Machine => prop_oneof![
            Just(json!("i".repeat(129))),
            prop::sample::select(NASTY).prop_map(|s| json!(s)),
        ]
        .boxed(),
        F::Time | F::OptTime => prop::sample::select(vec![
            "2026-10-01T00:00:00",
            "2026-02-30T00:00:00Z",
            "",
            "2026-10-01 00:00:00Z",
        ])
        .prop_map(|s| json!(s))
        .boxed(),
        F::Text | F::OptText => Just(json!("x".repeat(1025))).boxed(),
        F::Amount => prop_oneof![Just(json!(-1)), Just(json!(i64::MIN))].boxed(),
        _ => arb_special(),
    }
}

/// A field's value: with `dirty`, now and then a refused value or one of
/// another type; a `null` means "left out" (optional fields, or dirty input).
fn value_of(f: F, dirty: bool) -> BoxedStrategy<Value> {
    let optional = matches!(f, F::OptTime | F::OptText | F::OptGb | F::OptBool);
    if dirty {
        prop_oneof![
            10 => good_value(f),
            1 => bad_value(f),
            1 => arb_special(),
            if optional { 3 } else { 1 } => Just(Value::Null),
        ]
        .boxed()
    } else if optional {
        prop_oneof![3 => good_value(f), 1 => Just(Value::Null)].boxed()
    } else {
        good_value(f)
    }
}

/// One fact of `kind` as a JSON object (a `null` value means "left out").
fn arb_fact(kind: FactKind, dirty: bool) -> BoxedStrategy<Value> {
    let strategies: Vec<BoxedStrategy<Value>> = fields(kind)
        .iter()
        .map(|(_, f)| value_of(*f, dirty))
        .collect();
    strategies
        .prop_map(move |values| {
            let mut map = Map::new();
            for ((name, _), v) in fields(kind).iter().zip(values) {
                if !v.is_null() {
                    map.insert((*name).to_string(), v);
                }
            }
            Value::Object(map)
        })
        .boxed()
}

#[derive(Debug, Clone)]
enum Op {
    Delete(usize),
    Replace(usize, Value),
    Wrap(usize, usize),
    AddKey(String, Value),
}

fn arb_op(kind: FactKind) -> BoxedStrategy<Op> {
    let mut names: Vec<String> = field_names(kind).iter().map(|s| s.to_string()).collect();
    names.push("unknown_key".into());
    names.push(String::new());
    prop_oneof![
        any::<usize>().prop_map(Op::Delete),
        (any::<usize>(), arb_special()).prop_map(|(i, v)| Op::Replace(i, v)),
        (any::<usize>(), 1usize..200).prop_map(|(i, d)| Op::Wrap(i, d)),
        (prop::sample::select(names), arb_special()).prop_map(|(k, v)| Op::AddKey(k, v)),
    ]
    .boxed()
}

fn apply(fact: &mut Value, op: &Op) {
    let Value::Object(map) = fact else { return };
    let key_at = |map: &Map<String, Value>, i: usize| -> Option<String> {
        if map.is_empty() {
            None
        } else {
            map.keys().nth(i % map.len()).cloned()
        }
    };
    match op {
        Op::Delete(i) => {
            if let Some(k) = key_at(map, *i) {
                map.remove(&k);
            }
        }
        Op::Replace(i, v) => {
            if let Some(k) = key_at(map, *i) {
                map.insert(k, v.clone());
            }
        }
        Op::Wrap(i, depth) => {
            if let Some(k) = key_at(map, *i) {
                let mut inner = map.remove(&k).unwrap_or(Value::Null);
                for _ in 0..*depth {
                    inner = json!([inner]);
                }
                map.insert(k, inner);
            }
        }
        Op::AddKey(k, v) => {
            map.insert(k.clone(), v.clone());
        }
    }
}

fn render(v: &Value) -> String {
    let mut text = v.to_string();
    if text.contains(RAW_MARK) {
        for (i, raw) in RAW_NUMBERS.iter().enumerate().rev() {
            text = text.replace(&format!("\"\\u0001RAW{i}\""), raw);
        }
    }
    text
}

/// Facts of one kind: clean (two inputs in three), or dirty, with refused
/// values, values of other types, and up to two mutations a fact.
fn arb_facts(kind: FactKind, max: usize) -> BoxedStrategy<Vec<Value>> {
    prop::bool::weighted(0.35)
        .prop_flat_map(move |dirty| {
            let ops = if dirty { 0..3 } else { 0..1 };
            prop::collection::vec(
                (
                    arb_fact(kind, dirty),
                    prop::collection::vec(arb_op(kind), ops),
                ),
                0..=max,
            )
        })
        .prop_map(|facts| {
            facts
                .into_iter()
                .map(|(mut f, ops)| {
                    for op in &ops {
                        apply(&mut f, op);
                    }
                    f
                })
                .collect()
        })
        .boxed()
}

fn arb_kind() -> BoxedStrategy<FactKind> {
    prop::sample::select(FactKind::ALL.to_vec()).boxed()
}

// ---------------------------------------------------------------------------
// Checks.

/// How many inputs were accepted (with at least one item) and refused, so a
/// generator that stops producing acceptable input fails the test.
#[derive(Debug, Default)]
struct Outcomes {
    accepted: AtomicUsize,
    refused: AtomicUsize,
}

impl Outcomes {
    fn count<T, E>(&self, r: &Result<Vec<T>, E>) {
        match r {
            Ok(items) if !items.is_empty() => self.accepted.fetch_add(1, Ordering::Relaxed),
            Ok(_) => 0,
            Err(_) => self.refused.fetch_add(1, Ordering::Relaxed),
        };
    }

    fn report(&self, name: &str, min_accepted_pct: usize, min_refused_pct: usize) {
        let a = self.accepted.load(Ordering::Relaxed);
        let r = self.refused.load(Ordering::Relaxed);
        let total = a + r;
        eprintln!("{name}: {a} accepted, {r} refused");
        assert!(
            a * 100 >= total * min_accepted_pct,
            "{name}: under {min_accepted_pct}% accepted"
        );
        assert!(
            r * 100 >= total * min_refused_pct,
            "{name}: under {min_refused_pct}% refused"
        );
    }
}

fn check_item<T: Fact + PartialEq + Debug>(item: &T) -> Result<(), TestCaseError> {
    let mut errs = Vec::new();
    item.check_item("", &mut errs);
    prop_assert!(errs.is_empty(), "accepted item fails its checks: {errs:?}");
    let text = serde_json::to_string(item).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let again: T = floorline_core::bundle::parse_json(&text, "")
        .map_err(|e| TestCaseError::fail(format!("{text} does not read back: {e}")))?;
    prop_assert_eq!(&again, item);
    Ok(())
}

/// Lines a CSV reader may count (it ends lines at `\n`, `\r` and `\r\n`).
fn max_line(text: &str) -> usize {
    text.bytes().filter(|b| *b == b'\n' || *b == b'\r').count() + 1
}

fn check_lines_of<T: Fact + PartialEq + Debug>(
    text: &str,
    format: Format,
    outcomes: &Outcomes,
) -> Result<(), TestCaseError> {
    let last = max_line(text);
    let result = parse_lines::<T>(text, format);
    outcomes.count(&result);
    match result {
        Ok(items) => {
            let mut previous = 0;
            for (line, item) in &items {
                prop_assert!(
                    *line > previous && *line <= last,
                    "line {line} out of order or past {last}"
                );
                previous = *line;
                check_item(item)?;
            }
        }
        Err(errors) => {
            prop_assert!(!errors.is_empty());
            let names = field_names(T::KIND);
            for e in &errors {
                let rest = e
                    .strip_prefix("line ")
                    .ok_or_else(|| TestCaseError::fail(format!("`{e}` names no line")))?;
                let (n, message) = rest
                    .split_once(": ")
                    .ok_or_else(|| TestCaseError::fail(format!("`{e}` names no line")))?;
                let n: usize = n
                    .parse()
                    .map_err(|_| TestCaseError::fail(format!("`{e}`: bad line number")))?;
                prop_assert!(n >= 1 && n <= last, "`{e}`: line {n} not in 1..={last}");
                prop_assert!(!message.trim().is_empty(), "`{e}`: no message");
                // A field check names a field of the kind.
                if let Some((field, _)) = message.split_once(": ") {
                    if names.contains(&field) {
                        continue;
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_lines(
    kind: FactKind,
    text: &str,
    format: Format,
    o: &Outcomes,
) -> Result<(), TestCaseError> {
    floorline_core::with_fact_type!(kind, T => check_lines_of::<T>(text, format, o))
}

/// `body[3].amount_micro_usd`, `body[3]` or `body`: a place in the batch.
fn check_batch_path(path: &str, kind: FactKind, text: &str) -> Result<(), String> {
    let Some(path) = path.strip_prefix("body") else {
        return Err(format!("path `{path}` does not start at the body"));
    };
    if path.is_empty() {
        return Ok(());
    }
    let rest = path
        .strip_prefix('[')
        .ok_or_else(|| format!("path `{path}` names no item"))?;
    let (index, field) = rest
        .split_once(']')
        .ok_or_else(|| format!("path `{path}`: unclosed index"))?;
    index
        .parse::<usize>()
        .map_err(|_| format!("path `{path}`: bad index"))?;
    // `[j]` after the item: a position inside an item written as an array.
    if field.starts_with('[') {
        return Ok(());
    }
    let field = field.strip_prefix('.').unwrap_or(field);
    let first = field.split(['.', '[']).next().unwrap_or("");
    if field.is_empty()
        || field_names(kind).contains(&first)
        || (!first.is_empty() && text.contains(&format!("\"{first}\"")))
    {
        Ok(())
    } else {
        Err(format!("path `{path}`: `{first}` is no field of {kind:?}"))
    }
}

fn check_batch_of<T: Fact + PartialEq + Debug>(
    text: &str,
    outcomes: &Outcomes,
) -> Result<(), TestCaseError> {
    let result = parse_batch::<T>(text, MAX_ITEMS);
    outcomes.count(&result);
    match result {
        Ok(items) => {
            prop_assert!(items.len() <= MAX_ITEMS);
            for item in &items {
                // Field checks run in the store; parsing alone must round-trip.
                let written =
                    serde_json::to_string(item).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let again: T = floorline_core::bundle::parse_json(&written, "")
                    .map_err(|e| TestCaseError::fail(format!("{written}: {e}")))?;
                prop_assert_eq!(&again, item);
            }
        }
        Err(EngineError::Invalid(items)) => {
            prop_assert!(!items.is_empty());
            for i in &items {
                if let Err(why) = check_batch_path(&i.path, T::KIND, text) {
                    return Err(TestCaseError::fail(format!(
                        "{why}: {}\ninput: {}",
                        i.message,
                        text.chars().take(1_000).collect::<String>()
                    )));
                }
            }
        }
        Err(EngineError::Store(StoreError::BatchTooLarge { items, max })) => {
            prop_assert!(items > max && max == MAX_ITEMS);
        }
        Err(other) => {
            return Err(TestCaseError::fail(format!(
                "unexpected error {other:?} for {}",
                text.chars().take(1_000).collect::<String>()
            )))
        }
    }
    Ok(())
}

fn check_batch(kind: FactKind, text: &str, o: &Outcomes) -> Result<(), TestCaseError> {
    floorline_core::with_fact_type!(kind, T => check_batch_of::<T>(text, o))
}

// ---------------------------------------------------------------------------
// NDJSON and CSV text.

#[derive(Debug, Clone)]
enum Line {
    Fact(Value),
    Blank(&'static str),
    Garbage(String),
}

fn arb_line(kind: FactKind) -> BoxedStrategy<Line> {
    prop_oneof![
        12 => arb_facts(kind, 1).prop_map(|mut v| Line::Fact(v.pop().unwrap_or(Value::Null))),
        1 => prop::sample::select(vec!["", "   ", "\t", "\r"]).prop_map(Line::Blank),
        1 => prop_oneof![
            "\\PC{0,20}",
            Just("[".repeat(10_000)),
            Just("[]".to_string()),
            Just("null".to_string()),
            Just("{\"machine_id\": \"m1\"".to_string()),
        ]
        .prop_map(Line::Garbage),
    ]
    .boxed()
}

/// Lines of one kind: clean facts and blank lines mostly, garbage now and then.
fn arb_lines(kind: FactKind) -> BoxedStrategy<Vec<Line>> {
    prop_oneof![
        2 => prop::collection::vec(
            prop_oneof![
                8 => arb_fact(kind, false).prop_map(Line::Fact),
                1 => prop::sample::select(vec!["", "   ", "\t"]).prop_map(Line::Blank),
            ],
            1..6,
        ),
        1 => prop::collection::vec(arb_line(kind), 0..6),
    ]
    .boxed()
}

fn ndjson(lines: &[Line], crlf: bool) -> String {
    let sep = if crlf { "\r\n" } else { "\n" };
    lines
        .iter()
        .map(|l| match l {
            Line::Fact(v) => render(v),
            Line::Blank(s) => (*s).to_string(),
            Line::Garbage(s) => s.replace(['\n', '\r'], " "),
        })
        .collect::<Vec<_>>()
        .join(sep)
}

/// How one CSV cell is written.
#[derive(Debug, Clone, Copy)]
enum Quote {
    Plain,
    Quoted,
    Broken,
}

fn cell_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => render(other),
    }
}

fn quote(text: &str, q: Quote) -> String {
    match q {
        Quote::Plain => text.to_string(),
        Quote::Quoted => format!("\"{}\"", text.replace('"', "\"\"")),
        Quote::Broken => format!("\"{text}"),
    }
}

#[derive(Debug, Clone)]
struct CsvShape {
    /// Header columns: indexes into the kind's fields (repeats allowed), or
    /// `None` for an unknown column.
    columns: Vec<Option<usize>>,
    quotes: Vec<Quote>,
    /// Cells to drop (< 0) or add (> 0) at the end of each row.
    ragged: Vec<i8>,
    crlf: bool,
}

fn arb_csv_shape(kind: FactKind) -> BoxedStrategy<CsvShape> {
    let n = fields(kind).len();
    let all: Vec<Option<usize>> = (0..n).map(Some).collect();
    (
        prop_oneof![
            6 => Just(all.clone()).prop_shuffle(),
            2 => prop::collection::vec(prop::option::weighted(0.9, 0..n), 0..n + 2),
        ],
        prop::collection::vec(
            prop_oneof![8 => Just(Quote::Plain), 3 => Just(Quote::Quoted), 1 => Just(Quote::Broken)],
            16,
        ),
        prop::collection::vec(prop_oneof![10 => Just(0i8), 1 => -2i8..=2], 8),
        any::<bool>(),
    )
        .prop_map(|(columns, quotes, ragged, crlf)| CsvShape {
            columns,
            quotes,
            ragged,
            crlf,
        })
        .boxed()
}

fn csv_text(kind: FactKind, shape: &CsvShape, facts: &[Value]) -> String {
    let names = field_names(kind);
    let sep = if shape.crlf { "\r\n" } else { "\n" };
    let header: Vec<String> = shape
        .columns
        .iter()
        .map(|c| c.map_or("unknown".to_string(), |i| names[i].to_string()))
        .collect();
    let mut out = header.join(",");
    for (r, fact) in facts.iter().enumerate() {
        let mut cells: Vec<String> = shape
            .columns
            .iter()
            .enumerate()
            .map(|(c, col)| {
                let text = cell_text(col.and_then(|i| fact.get(names[i])));
                let q = shape.quotes[(r * 7 + c) % shape.quotes.len()];
                // Quote when the text needs it, unless this cell is meant to be broken.
                let q = match q {
                    Quote::Plain if text.contains([',', '"', '\n', '\r']) => Quote::Quoted,
                    other => other,
                };
                quote(&text, q)
            })
            .collect();
        match shape.ragged[r % shape.ragged.len()] {
            d if d < 0 => {
                let keep = cells.len().saturating_sub(usize::from(d.unsigned_abs()));
                cells.truncate(keep);
            }
            d => cells.extend((0..d).map(|_| "extra".to_string())),
        }
        out.push_str(sep);
        out.push_str(&cells.join(","));
    }
    out
}

// ---------------------------------------------------------------------------
// The fuzz tests.

#[test]
fn fuzz_import_ndjson_all_kinds() {
    let mut runner = TestRunner::new(config(NDJSON_CASES, 0xE1_0001));
    let strategy = arb_kind().prop_flat_map(|kind| (Just(kind), arb_lines(kind), any::<bool>()));
    let o = Outcomes::default();
    runner
        .run(&strategy, |(kind, lines, crlf)| {
            check_lines(kind, &ndjson(&lines, crlf), Format::Ndjson, &o)
        })
        .unwrap();
    o.report("ndjson", 10, 10);
}

#[test]
fn fuzz_import_csv_all_kinds() {
    let mut runner = TestRunner::new(config(CSV_CASES, 0xE1_0002));
    let strategy =
        arb_kind().prop_flat_map(|kind| (Just(kind), arb_csv_shape(kind), arb_facts(kind, 5)));
    let o = Outcomes::default();
    runner
        .run(&strategy, |(kind, shape, facts)| {
            check_lines(kind, &csv_text(kind, &shape, &facts), Format::Csv, &o)
        })
        .unwrap();
    o.report("csv", 10, 10);
}

#[test]
fn fuzz_import_arbitrary_text_all_kinds() {
    let mut runner = TestRunner::new(config(LINES_BYTES_CASES, 0xE1_0003));
    let strategy = (
        arb_kind(),
        prop::collection::vec(any::<u8>(), 0..200),
        any::<bool>(),
    );
    let o = Outcomes::default();
    runner
        .run(&strategy, |(kind, bytes, csv)| {
            let text = String::from_utf8_lossy(&bytes);
            let format = if csv { Format::Csv } else { Format::Ndjson };
            check_lines(kind, &text, format, &o)
        })
        .unwrap();
    o.report("arbitrary import text", 0, 50);
}

#[test]
fn fuzz_ingest_batch_bodies_all_kinds() {
    let mut runner = TestRunner::new(config(BATCH_CASES, 0xE1_0004));
    let o = Outcomes::default();
    let strategy = arb_kind().prop_flat_map(|kind| {
        (
            Just(kind),
            arb_facts(kind, MAX_ITEMS + 1),
            prop::option::weighted(
                0.2,
                (
                    any::<usize>(),
                    prop::sample::select(vec![
                        "",
                        "]",
                        "[",
                        ",",
                        "\u{0}",
                        "1e400",
                        "}",
                        "\"",
                        "[[[[[[[[[[",
                    ]),
                ),
            ),
        )
    });
    runner
        .run(&strategy, |(kind, facts, cut)| {
            let mut text = render(&Value::Array(facts));
            if let Some((at, insert)) = cut {
                let mut at = at % (text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.truncate(at);
                text.push_str(insert);
            }
            check_batch(kind, &text, &o)
        })
        .unwrap();
    o.report("batch bodies", 10, 10);
}

#[test]
fn fuzz_ingest_batch_arbitrary_bytes_all_kinds() {
    let mut runner = TestRunner::new(config(BATCH_BYTES_CASES, 0xE1_0005));
    let strategy = (arb_kind(), prop::collection::vec(any::<u8>(), 0..200));
    let o = Outcomes::default();
    runner
        .run(&strategy, |(kind, bytes)| {
            check_batch(kind, &String::from_utf8_lossy(&bytes), &o)
        })
        .unwrap();
    o.report("arbitrary batch bytes", 0, 50);
}

// ---------------------------------------------------------------------------
// Fixed hostile inputs and regression tests.

#[test]
fn deep_nesting_in_a_batch_or_a_line_is_invalid_not_a_crash() {
    let deep = "[".repeat(100_000);
    let o = Outcomes::default();
    for kind in FactKind::ALL {
        check_batch(kind, &deep, &o).unwrap();
        check_batch(kind, &format!("[{{\"machine_id\":{deep}"), &o).unwrap();
        check_lines(kind, &deep, Format::Ndjson, &o).unwrap();
        check_lines(kind, &format!("machine_id\n\"{deep}\""), Format::Csv, &o).unwrap();
    }
    o.report("deep nesting", 0, 100);
}

#[test]
fn csv_errors_name_the_line_a_record_starts_on_after_a_quoted_line_break() {
    let text = "machine_id,attested_at,hardware_model,reported_memory_gb,trust\n\
                m1,2026-09-01T00:00:00Z,\"Mac\n16,11\",64,hardware\n\
                m 2,2026-09-01T00:00:00Z,Mac,64,hardware\n\
                m3,2026-09-01T00:00:00Z,Mac,many,hardware\n";
    let errs = parse_lines::<Attestation>(text, Format::Csv).unwrap_err();
    assert_eq!(errs.len(), 2, "{errs:?}");
    // The column by its name, not csv's `field 3` (counted from 0).
    assert!(
        errs.iter()
            .any(|e| e.starts_with("line 5: reported_memory_gb: ")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.starts_with("line 4: machine_id: ")),
        "{errs:?}"
    );
    let ok = "machine_id,attested_at,hardware_model,reported_memory_gb,trust\n\
              m1,2026-09-01T00:00:00Z,\"Mac\n16,11\",64,hardware\n\
              m2,2026-09-01T00:00:00Z,Mac,64,hardware\n";
    let items = parse_lines::<Attestation>(ok, Format::Csv).unwrap();
    let lines: Vec<usize> = items.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![2, 4]);
}

#[test]
fn a_batch_that_is_no_array_is_named_body_not_bundle() {
    for (text, path) in [
        ("{}", "body"),
        ("", "body"),
        ("[{\"source\": 1}]", "body[0].source"),
        (
            "[{\"source\": \"s\", \"up_to\": \"2026-11-01T00:00:00Z\"}, 7]",
            "body[1]",
        ),
    ] {
        let Err(EngineError::Invalid(items)) = parse_batch::<Watermark>(text, 10) else {
            panic!("{text} was not refused as invalid");
        };
        assert_eq!(items[0].path, path, "{text}");
    }
}
