//! Fuzzing of the facts-bundle parser and resolver (SPEC §8–§9).
//!
//! Three generators feed `Bundle::from_json` → `Bundle::policy` →
//! `Bundle::resolve` → `plan` (the stages of `plan_bundle`):
//! arbitrary bytes, a soup of JSON tokens and bundle field names, and valid
//! bundles mutated node by node (deleted fields, swapped types, huge and
//! unrepresentable numbers, nesting past serde_json's recursion limit,
//! unicode, identifiers of 128 and 129 characters, duplicated items, unknown
//! keys, cut or corrupted text). Every input must come back `Ok` or
//! `CoreError::Invalid` whose every path names an item or a field of the
//! input; an accepted bundle must read back equal from its own JSON.
//!
//! Seeds are fixed, so a run is reproducible; FUZZING.md lists how many
//! inputs each test feeds and the command. Anything these found is pinned by
//! a regression test at the bottom, named after what broke.

use floorline_core::bundle::{plan_bundle, Bundle};
use floorline_core::policy::PolicyPatch;
use floorline_core::{plan, CoreError, Timestamp};
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Inputs per test (each test stays well under a minute in a debug build).
const BYTES_CASES: u32 = 30_000;
const SOUP_CASES: u32 = 30_000;
const MUTATED_CASES: u32 = 25_000;
const MUTATED_TEXT_CASES: u32 = 20_000;

fn config(cases: u32, seed: u64) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 4_096,
        ..ProptestConfig::default()
    }
}

/// The arrays of a bundle and the fields of their items.
const KINDS: &[(&str, &[&str])] = &[
    (
        "machines",
        &[
            "machine_id",
            "attested_at",
            "hardware_model",
            "reported_memory_gb",
            "trust",
            "se_public_key",
        ],
    ),
    ("aliases", &["provider_key", "machine_id", "from"]),
    (
        "bindings",
        &["machine_id", "account_id", "payout_identity", "from", "to"],
    ),
    (
        "sessions",
        &[
            "session_id",
            "machine_id",
            "connected_at",
            "last_seen_at",
            "disconnected_at",
        ],
    ),
    ("health", &["machine_id", "at", "healthy", "reason"]),
    (
        "earnings",
        &[
            "job_id",
            "machine_id",
            "consumer_account_id",
            "amount_micro_usd",
            "kind",
            "pinned",
            "model",
            "at",
        ],
    ),
    (
        "probes",
        &[
            "probe_id",
            "machine_id",
            "at",
            "passed",
            "failure",
            "model",
            "verified_memory_gb",
        ],
    ),
    (
        "prior_draws",
        &[
            "machine_id",
            "account_id",
            "amount_micro_usd",
            "verified_memory_gb",
        ],
    ),
    ("previous_totals", &["machine_id", "total_micro_usd"]),
];

/// Whether `key` appears as an object key somewhere in `text` (an unknown key
/// of the input is a fair name for a problem inside it).
fn is_key_of_input(text: &str, key: &str) -> bool {
    let escaped = serde_json::to_string(key).unwrap_or_default();
    !key.is_empty() && (text.contains(&format!("\"{key}\"")) || text.contains(&escaped))
}

/// Whether `path` begins with an unknown key of the input (such a key may
/// itself hold `.` or `[`, so every cut is tried).
fn starts_with_key_of_input(text: &str, path: &str, known: &dyn Fn(&str) -> bool) -> bool {
    path.char_indices()
        .filter(|(_, c)| *c == '.' || *c == '[')
        .map(|(i, _)| i)
        .chain([path.len()])
        .any(|end| !known(&path[..end]) && is_key_of_input(text, &path[..end]))
}

/// `Ok` if `path` names the bundle, an item, or a field of the input.
fn check_path(path: &str, text: &str) -> Result<(), String> {
    if path.is_empty() || path == "." {
        return Err(format!("empty path `{path}`"));
    }
    if path.split('.').any(|s| s == "?" || s.starts_with("?[")) {
        return Err(format!("path `{path}` has an unknown segment"));
    }
    let known = |k: &str| KINDS.iter().any(|(kind, _)| *kind == k);
    if starts_with_key_of_input(text, path, &known) {
        return Ok(());
    }
    let head_end = path.find(['.', '[']).unwrap_or(path.len());
    let (head, rest) = path.split_at(head_end);
    let fields = KINDS.iter().find(|(k, _)| *k == head).map(|(_, f)| *f);
    match (head, fields) {
        ("bundle", _) if rest.is_empty() => Ok(()),
        ("epoch", _) if rest.is_empty() => Ok(()),
        ("policy", _) => Ok(()),
        (_, Some(fields)) => {
            if rest.is_empty() {
                return Ok(());
            }
            let Some(after) = rest.strip_prefix('[') else {
                return Err(format!("path `{path}`: expected `[index]` after `{head}`"));
            };
            let Some((index, field)) = after.split_once(']') else {
                return Err(format!("path `{path}`: unclosed index"));
            };
            index
                .parse::<usize>()
                .map_err(|_| format!("path `{path}`: index `{index}` is not a number"))?;
            // `[j]` after the item: a position inside an item written as an array.
            if field.starts_with('[') {
                return Ok(());
            }
            let field = field.strip_prefix('.').unwrap_or(field);
            let first = field.split(['.', '[']).next().unwrap_or("");
            if field.is_empty()
                || fields.contains(&first)
                || starts_with_key_of_input(text, field, &|k| fields.contains(&k))
            {
                Ok(())
            } else {
                Err(format!("path `{path}`: `{first}` is no field of {head}"))
            }
        }
        _ if is_key_of_input(text, head) => Ok(()),
        _ => Err(format!("path `{path}` names nothing of the input")),
    }
}

/// `Ok` if `err` is `Invalid` with at least one problem, each naming a place.
fn check_invalid(err: &CoreError, text: &str) -> Result<(), TestCaseError> {
    let CoreError::Invalid(items) = err else {
        return Err(TestCaseError::fail(format!(
            "not an Invalid error: {err:?}\ninput: {}",
            clip(text)
        )));
    };
    prop_assert!(!items.is_empty(), "Invalid without problems");
    for item in items {
        if let Err(why) = check_path(&item.path, text) {
            return Err(TestCaseError::fail(format!(
                "{why} ({}: {})\ninput: {}",
                item.path,
                item.message,
                clip(text)
            )));
        }
        prop_assert!(!item.message.is_empty(), "empty message at {}", item.path);
    }
    Ok(())
}

fn clip(text: &str) -> String {
    text.chars().take(2_000).collect()
}

/// How far an input got: refused by the parser, the policy, the resolver,
/// or planned.
#[derive(Debug, Default)]
struct Stages([AtomicUsize; 4]);

impl Stages {
    fn count(&self, stage: usize) {
        self.0[stage].fetch_add(1, Ordering::Relaxed);
    }

    /// Prints the spread and fails if too few inputs got past the parser or
    /// were planned (a generator that stopped reaching the resolver).
    fn report(&self, name: &str, min_resolved_pct: usize, min_planned_pct: usize) {
        let n: Vec<usize> = self.0.iter().map(|a| a.load(Ordering::Relaxed)).collect();
        let total: usize = n.iter().sum();
        eprintln!(
            "{name}: {total} inputs: {} refused by the parser, {} by the policy, {} by the resolver, {} planned",
            n[0], n[1], n[2], n[3]
        );
        assert!(
            (n[2] + n[3]) * 100 >= total * min_resolved_pct,
            "{name}: under {min_resolved_pct}% reached the resolver"
        );
        assert!(
            n[3] * 100 >= total * min_planned_pct,
            "{name}: under {min_planned_pct}% were planned"
        );
    }
}

/// Runs every stage `plan_bundle` runs, checking each outcome.
fn check_bundle_text(text: &str) -> Result<(), TestCaseError> {
    check_bundle_stages(text, &Stages::default())
}

fn check_bundle_stages(text: &str, stages: &Stages) -> Result<(), TestCaseError> {
    let bundle = match Bundle::from_json(text) {
        Ok(b) => b,
        Err(e) => {
            stages.count(0);
            return check_invalid(&e, text);
        }
    };
    let policy = match bundle.policy(&PolicyPatch::default()) {
        Ok(p) => p,
        Err(e) => {
            stages.count(1);
            return check_invalid(&e, text);
        }
    };
    // Whatever is accepted reads back equal from its own JSON.
    let written = serde_json::to_string(&bundle)
        .map_err(|e| TestCaseError::fail(format!("bundle does not serialize: {e}")))?;
    let again = Bundle::from_json(&written);
    prop_assert_eq!(again.as_ref(), Ok(&bundle), "round trip of {}", clip(text));
    let facts = match bundle.resolve(&policy) {
        Ok(f) => f,
        Err(e) => {
            stages.count(2);
            return check_invalid(&e, text);
        }
    };
    stages.count(3);
    prop_assert!(facts.machines.iter().all(|m| !m.attestations.is_empty()));
    match plan(&facts, &policy) {
        Ok(p) => {
            prop_assert_eq!(p.machines.len(), facts.machines.len());
            Ok(())
        }
        Err(e) => check_invalid(&e, text),
    }
}

// ---------------------------------------------------------------------------
// Generators.

const PROVIDER_KEYS: &[&str] = &["pk-1", "pk-2"];

/// SQL metacharacters, unicode, control characters and look-alikes.
const NASTY_STRINGS: &[&str] = &[
    "",
    " ",
    "m 1",
    "m\u{0}",
    "\u{0}",
    "машина",
    "m\u{301}",
    "🙂",
    "'; DROP TABLE earnings; --",
    "\" OR 1=1",
    "m/../x",
    "\u{feff}m1",
    "M1",
    "m1\n",
    "\t",
    "\\",
    "%00",
    "\u{202e}1m",
    "m1 ",
    "ｍ１",
];

/// 2026-09-01T00:00:00Z in ms.
const SEP_1: i64 = 1_788_220_800_000;
const DAY: i64 = 86_400_000;

/// Times that parse, edge cases included (offsets, a leap second, the far
/// past and future, nanoseconds); times that do not are in [`BAD_TIMES`].
fn arb_time() -> BoxedStrategy<Value> {
    prop_oneof![
        12 => (0i64..92 * DAY).prop_map(|ms| json!(Timestamp(SEP_1 + ms).to_rfc3339())),
        1 => prop::sample::select(vec![
            "2026-10-01T00:00:00+14:00",
            "2026-10-01T00:00:00-23:59",
            "2026-10-31T23:59:60Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2026-10-01t00:00:00z",
            "1969-12-31T23:59:59Z",
            "2026-10-01T00:00:00.123456789123Z",
        ])
        .prop_map(|s| json!(s)),
    ]
    .boxed()
}

/// Times the parser must refuse.
const BAD_TIMES: &[&str] = &[
    "2026-10-01T00:00:00",
    "2026-10-01 00:00:00Z",
    "",
    "2026-02-30T00:00:00Z",
    "+002026-10-01T00:00:00Z",
    "2026-10-01T00:00:00+24:00",
    "２０２６-10-01T00:00:00Z",
    "1760000000000",
];

/// Placeholders replaced by raw number literals no `Value` can hold.
const RAW_NUMBERS: &[&str] = &[
    "1e400",
    "-1e400",
    "18446744073709551616",
    "-9223372036854775809",
    "1e-400",
    "123456789012345678901234567890",
    "-0",
    "0.0000001",
    "9223372036854775807.5",
    "1E2",
];
const RAW_MARK: &str = "\u{1}RAW";

fn arb_special() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        Just(json!(0)),
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
        Just(json!("x")),
        (126usize..=130).prop_map(|n| json!("a".repeat(n))),
        prop::sample::select(NASTY_STRINGS).prop_map(|s| json!(s)),
        "\\PC{0,8}".prop_map(Value::String),
        (0..RAW_NUMBERS.len()).prop_map(|i| json!(format!("{RAW_MARK}{i}"))),
        prop::sample::select(BAD_TIMES).prop_map(|s| json!(s)),
        prop::sample::select(vec![
            "2026-13",
            "9999-01",
            "2026-1",
            "２０２６-10",
            "2026-10 "
        ])
        .prop_map(|s| json!(s)),
    ]
    .boxed()
}

fn arb_amount() -> BoxedStrategy<Value> {
    prop_oneof![
        40 => (0i64..100_000_000).prop_map(|n| json!(n)),
        2 => Just(json!(i64::MAX)),
        2 => Just(json!(i64::MAX / 2 + 1)),
        1 => Just(json!(-1)),
    ]
    .boxed()
}

fn arb_gb() -> BoxedStrategy<Value> {
    prop_oneof![
        8 => prop::sample::select(vec![0u32, 8, 16, 24, 32, 48, 64, 96, 128, 192, 512]).prop_map(|n| json!(n)),
        1 => Just(json!(u32::MAX)),
    ]
    .boxed()
}

fn opt(v: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop::option::weighted(0.5, v).boxed()
}

fn arb_text() -> BoxedStrategy<Value> {
    prop_oneof![
        40 => prop::sample::select(vec!["Mac16,11", "Mac14,2", "Mac15,14", "qwen-32b", "timeout"]).prop_map(|s| json!(s)),
        1 => (1022usize..=1025).prop_map(|n| json!("x".repeat(n))),
        2 => prop::sample::select(NASTY_STRINGS).prop_map(|s| json!(s)),
        1 => "\\PC{0,12}".prop_map(Value::String),
    ]
    .boxed()
}

fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    let mut map = Map::new();
    for (k, v) in fields {
        if let Some(v) = v {
            map.insert(k.to_string(), v);
        }
    }
    Value::Object(map)
}

fn arb_ppm() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => prop::sample::select(vec![json!(0), json!(1), json!(0.5), json!(0.9), json!("0.95"), json!(1.0)]),
        1 => prop::sample::select(vec![json!(100), json!(101), json!(2), json!(0.000001), json!("100.000000")]),
    ]
    .boxed()
}

fn arb_tiers() -> BoxedStrategy<Value> {
    prop::collection::vec((arb_gb(), arb_amount()), 0..5)
        .prop_map(|ts| {
            Value::Array(
                ts.into_iter()
                    .map(|(g, f)| json!({"min_gb": g, "floor_micro_usd": f}))
                    .collect(),
            )
        })
        .boxed()
}

/// A policy object with a few keys, some out of range or unknown.
fn arb_policy() -> BoxedStrategy<Value> {
    let key = prop_oneof![
        arb_ppm().prop_map(|v| ("reduction_k", v)),
        arb_amount().prop_map(|v| ("pool_micro_usd", v)),
        arb_ppm().prop_map(|v| ("workhorse_reserve", v)),
        arb_gb().prop_map(|v| ("workhorse_min_gb", v)),
        arb_gb().prop_map(|v| ("workhorse_max_gb", v)),
        arb_ppm().prop_map(|v| ("account_cap", v)),
        prop_oneof![Just(json!("priority")), Just(json!("waterfill"))]
            .prop_map(|v| ("allocation", v)),
        arb_ppm().prop_map(|v| ("min_uptime", v)),
        arb_ppm().prop_map(|v| ("full_uptime", v)),
        arb_amount().prop_map(|v| ("grace_ms", v)),
        arb_gb().prop_map(|v| ("work_window_days", v)),
        prop_oneof![Just(json!("hardware")), Just(json!("none"))].prop_map(|v| ("min_trust", v)),
        arb_gb().prop_map(|v| ("unknown_model_cap_gb", v)),
        any::<bool>().prop_map(|v| ("require_tier_probe", json!(v))),
        arb_tiers().prop_map(|v| ("tiers", v)),
        (
            prop_oneof![
                4 => prop::sample::select(vec!["Mac16,11", "Unknown9,9"]).prop_map(String::from),
                1 => (127usize..=130).prop_map(|n| "M".repeat(n)),
                1 => Just(String::new()),
            ],
            arb_gb()
        )
            .prop_map(|(k, g)| ("model_caps", json!({ k: g }))),
        any::<bool>().prop_map(|v| ("taper_enabled", json!(v))),
        prop_oneof![Just(json!("2026-01-01")), Just(json!("2026-13-01"))]
            .prop_map(|v| ("launch_date", v)),
        arb_ppm().prop_map(|v| ("calendar_residual", v)),
        arb_amount().prop_map(|v| ("target_revenue_micro_usd", v)),
        arb_ppm().prop_map(|v| ("cliff_max_drop", v)),
    ];
    prop::collection::vec(key, 0..4)
        .prop_map(|kvs| Value::Object(kvs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
        .boxed()
}

fn arb_epoch() -> BoxedStrategy<Value> {
    prop_oneof![
        8 => Just(json!("2026-10")),
        1 => prop::sample::select(vec!["1970-01", "9998-12", "2026-02"]).prop_map(|s| json!(s)),
    ]
    .boxed()
}

/// A machine name: an attested id, an alias, or (rarely) neither.
fn arb_machine_name() -> BoxedStrategy<String> {
    prop_oneof![
        16 => prop::sample::select(vec!["m1", "m2"]).prop_map(String::from),
        6 => prop::sample::select(PROVIDER_KEYS).prop_map(String::from),
        1 => prop::sample::select(vec!["m3", "ghost"]).prop_map(String::from),
    ]
    .boxed()
}

fn arb_account() -> BoxedStrategy<String> {
    prop::sample::select(vec!["alice", "bob", "carol", "dave", "pay-alice"])
        .prop_map(String::from)
        .boxed()
}

/// An instant and a later one (`gap` ms later, or before it now and then).
fn arb_span() -> BoxedStrategy<(Value, Option<Value>)> {
    (
        0i64..92 * DAY,
        prop::option::weighted(0.7, prop_oneof![60 => 0i64..40 * DAY, 1 => -DAY..0]),
    )
        .prop_map(|(start, gap)| {
            let t = |ms: i64| json!(Timestamp(SEP_1 + ms).to_rfc3339());
            (t(start), gap.map(|g| t(start + g)))
        })
        .boxed()
}

/// `m1` and `m2` attested before the epoch, and now and then another
/// attestation (of `m1`–`m3`) with edge-case values.
/// Valid `se_public_key`s: two keys, one of them in all three encodings.
fn se_keys() -> Vec<String> {
    use base64::Engine as _;
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    use p256::pkcs8::EncodePublicKey as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let one = p256::SecretKey::from_slice(&[3u8; 32])
        .unwrap()
        .public_key();
    let two = p256::SecretKey::from_slice(&[5u8; 32])
        .unwrap()
        .public_key();
    vec![
        b64(one.to_encoded_point(false).as_bytes()),
        b64(one.to_encoded_point(true).as_bytes()),
        b64(one.to_public_key_der().unwrap().as_bytes()),
        b64(two.to_encoded_point(false).as_bytes()),
    ]
}

fn arb_machines() -> BoxedStrategy<Value> {
    let extra = (
        prop::sample::select(vec!["m1", "m2", "m3"]),
        arb_time(),
        arb_text(),
        arb_gb(),
        prop::sample::select(vec!["none", "self_signed", "hardware"]),
        opt(prop::sample::select(se_keys())
            .prop_map(|k| json!(k))
            .boxed()),
    )
        .prop_map(|(id, at, model, gb, trust, key)| {
            object(vec![
                ("machine_id", Some(json!(id))),
                ("attested_at", Some(at)),
                ("hardware_model", Some(model)),
                ("reported_memory_gb", Some(gb)),
                ("trust", Some(json!(trust))),
                ("se_public_key", key),
            ])
        });
    (
        prop::sample::select(vec!["Mac16,11", "Mac14,2", "Mac15,14", "Unknown9,9"]),
        arb_gb(),
        prop::collection::vec(extra, 0..3),
    )
        .prop_map(|(model, gb, extra)| {
            let mut all = vec![
                json!({"machine_id": "m1", "attested_at": "2026-09-01T00:00:00Z", "hardware_model": model, "reported_memory_gb": gb, "trust": "hardware"}),
                json!({"machine_id": "m2", "attested_at": "2026-09-01T00:00:00Z", "hardware_model": "Mac14,2", "reported_memory_gb": 24, "trust": "self_signed"}),
            ];
            all.extend(extra);
            Value::Array(all)
        })
        .boxed()
}

/// `pk-1` → `m1` and `pk-2` → `m2`, and now and then `pk-3` → `m3`.
fn arb_aliases() -> BoxedStrategy<Value> {
    (
        arb_time(),
        arb_time(),
        prop::option::weighted(0.05, arb_time()),
    )
        .prop_map(|(a, b, c)| {
            let mut all = vec![
                json!({"provider_key": "pk-1", "machine_id": "m1", "from": a}),
                json!({"provider_key": "pk-2", "machine_id": "m2", "from": b}),
            ];
            if let Some(c) = c {
                all.push(json!({"provider_key": "pk-3", "machine_id": "m3", "from": c}));
            }
            Value::Array(all)
        })
        .boxed()
}

/// At most one binding per machine most of the time (two may overlap).
fn arb_bindings() -> BoxedStrategy<Value> {
    let one = |m: &'static str| {
        prop::option::weighted(
            0.8,
            (arb_account(), arb_account(), arb_span()).prop_map(move |(a, p, (from, to))| {
                object(vec![
                    ("machine_id", Some(json!(m))),
                    ("account_id", Some(json!(a))),
                    ("payout_identity", Some(json!(format!("pay-{p}")))),
                    ("from", Some(from)),
                    ("to", to),
                ])
            }),
        )
    };
    (
        one("m1"),
        one("pk-2"),
        prop::option::weighted(0.1, one("m1")),
    )
        .prop_map(|(a, b, c)| Value::Array([a, b, c.flatten()].into_iter().flatten().collect()))
        .boxed()
}

fn arb_sessions() -> BoxedStrategy<Value> {
    prop::collection::vec(
        (
            arb_machine_name(),
            arb_span(),
            prop::option::weighted(0.3, arb_span()),
        ),
        0..4,
    )
    .prop_map(|list| {
        Value::Array(
            list.into_iter()
                .enumerate()
                .map(|(i, (m, (c, last), gone))| {
                    object(vec![
                        ("session_id", Some(json!(format!("s{i}")))),
                        ("machine_id", Some(json!(m))),
                        ("connected_at", Some(c)),
                        ("last_seen_at", last),
                        ("disconnected_at", gone.and_then(|(_, d)| d)),
                    ])
                })
                .collect(),
        )
    })
    .boxed()
}

fn arb_health() -> BoxedStrategy<Value> {
    prop::collection::vec(
        (
            arb_machine_name(),
            arb_time(),
            any::<bool>(),
            opt(arb_text()),
        ),
        0..3,
    )
    .prop_map(|list| {
        Value::Array(
            list.into_iter()
                .map(|(m, at, h, r)| {
                    object(vec![
                        ("machine_id", Some(json!(m))),
                        ("at", Some(at)),
                        ("healthy", Some(json!(h))),
                        ("reason", r),
                    ])
                })
                .collect(),
        )
    })
    .boxed()
}

fn arb_earnings() -> BoxedStrategy<Value> {
    prop::collection::vec(
        (
            arb_machine_name(),
            arb_account(),
            arb_amount(),
            prop::sample::select(vec!["inference", "probe", "base_reward"]),
            opt(any::<bool>().prop_map(Value::Bool).boxed()),
            opt(arb_text()),
            arb_time(),
        ),
        0..5,
    )
    .prop_map(|list| {
        Value::Array(
            list.into_iter()
                .enumerate()
                .map(|(i, (m, c, amount, kind, pinned, model, at))| {
                    object(vec![
                        ("job_id", Some(json!(format!("j{i}")))),
                        ("machine_id", Some(json!(m))),
                        ("consumer_account_id", Some(json!(c))),
                        ("amount_micro_usd", Some(amount)),
                        ("kind", Some(json!(kind))),
                        ("pinned", pinned),
                        ("model", model),
                        ("at", Some(at)),
                    ])
                })
                .collect(),
        )
    })
    .boxed()
}

fn arb_probes() -> BoxedStrategy<Value> {
    prop::collection::vec(
        (
            arb_machine_name(),
            arb_time(),
            any::<bool>(),
            opt(arb_text()),
            opt(arb_text()),
            opt(arb_gb()),
        ),
        0..3,
    )
    .prop_map(|list| {
        Value::Array(
            list.into_iter()
                .enumerate()
                .map(|(i, (m, at, passed, failure, model, gb))| {
                    // §2: a pass names no failure, a failure names one and
                    // verifies no memory (the mutations break this).
                    let (failure, gb) = if passed {
                        (None, gb)
                    } else {
                        (failure.or_else(|| Some(json!("wrong_answer"))), None)
                    };
                    object(vec![
                        ("probe_id", Some(json!(format!("p{i}")))),
                        ("machine_id", Some(json!(m))),
                        ("at", Some(at)),
                        ("passed", Some(json!(passed))),
                        ("failure", failure),
                        ("model", model),
                        ("verified_memory_gb", gb),
                    ])
                })
                .collect(),
        )
    })
    .boxed()
}

fn arb_prior_draws() -> BoxedStrategy<Value> {
    prop::collection::vec((arb_machine_name(), arb_account(), arb_amount(), arb_gb()), 0..3)
        .prop_map(|list| {
            Value::Array(
                list.into_iter()
                    .map(|(m, a, amount, gb)| {
                        json!({"machine_id": m, "account_id": a, "amount_micro_usd": amount, "verified_memory_gb": gb})
                    })
                    .collect(),
            )
        })
        .boxed()
}

fn arb_previous_totals() -> BoxedStrategy<Value> {
    (opt(arb_amount()), opt(arb_amount()))
        .prop_map(|(a, b)| {
            let mut out = Vec::new();
            if let Some(t) = a {
                out.push(json!({"machine_id": "m1", "total_micro_usd": t}));
            }
            if let Some(t) = b {
                out.push(json!({"machine_id": "pk-2", "total_micro_usd": t}));
            }
            Value::Array(out)
        })
        .boxed()
}

/// A coherent bundle: facts name attested machines (or their aliases),
/// keys are distinct, bindings rarely overlap, and values run to their
/// edges (`i64::MAX` amounts, `u32::MAX` memory, long and unicode text,
/// far-off times). Most reach the resolver; the mutations do the rest.
fn arb_bundle() -> BoxedStrategy<Value> {
    (
        (arb_epoch(), prop::option::weighted(0.3, arb_policy())),
        (arb_machines(), arb_aliases(), arb_bindings()),
        (arb_sessions(), arb_health(), arb_earnings()),
        (arb_probes(), arb_prior_draws(), arb_previous_totals()),
    )
        .prop_map(
            |(
                (epoch, policy),
                (machines, aliases, bindings),
                (sessions, health, earnings),
                (probes, prior, prev),
            )| {
                object(vec![
                    ("epoch", Some(epoch)),
                    ("policy", policy),
                    ("machines", Some(machines)),
                    ("aliases", Some(aliases)),
                    ("bindings", Some(bindings)),
                    ("sessions", Some(sessions)),
                    ("health", Some(health)),
                    ("earnings", Some(earnings)),
                    ("probes", Some(probes)),
                    ("prior_draws", Some(prior)),
                    ("previous_totals", Some(prev)),
                ])
            },
        )
        .boxed()
}

/// One change to one node of a JSON tree.
#[derive(Debug, Clone)]
enum Op {
    /// Remove the node from its parent (the root becomes `null`).
    Delete,
    /// Put another value (of another type, mostly) in its place.
    Replace(Value),
    /// Nest the node `depth` arrays (or objects) deep.
    Wrap { depth: usize, objects: bool },
    /// Repeat the node in its array (a re-sent or conflicting fact).
    Repeat,
    /// Add a key (known or not) to an object.
    AddKey(String, Value),
    /// Change one character of a string.
    Edit { at: usize, with: char },
}

fn arb_op(field_names: &'static [&'static str]) -> BoxedStrategy<Op> {
    prop_oneof![
        3 => Just(Op::Delete),
        4 => arb_special().prop_map(Op::Replace),
        1 => (1usize..300, any::<bool>()).prop_map(|(depth, objects)| Op::Wrap { depth, objects }),
        2 => Just(Op::Repeat),
        1 => (prop::sample::select(field_names).prop_map(String::from), arb_special())
            .prop_map(|(k, v)| Op::AddKey(k, v)),
        1 => ("\\PC{0,4}", arb_special()).prop_map(|(k, v)| Op::AddKey(k, v)),
        2 => (any::<usize>(), any::<char>()).prop_map(|(at, with)| Op::Edit { at, with }),
    ]
    .boxed()
}

/// Every field name of every kind, plus the bundle's own keys.
const ALL_FIELDS: &[&str] = &[
    "epoch",
    "policy",
    "machines",
    "aliases",
    "bindings",
    "sessions",
    "health",
    "earnings",
    "probes",
    "prior_draws",
    "previous_totals",
    "machine_id",
    "attested_at",
    "hardware_model",
    "reported_memory_gb",
    "trust",
    "se_public_key",
    "provider_key",
    "from",
    "to",
    "account_id",
    "payout_identity",
    "session_id",
    "connected_at",
    "last_seen_at",
    "disconnected_at",
    "at",
    "healthy",
    "reason",
    "job_id",
    "consumer_account_id",
    "amount_micro_usd",
    "kind",
    "pinned",
    "model",
    "probe_id",
    "passed",
    "failure",
    "verified_memory_gb",
    "total_micro_usd",
    "reduction_k",
    "tiers",
    "",
];

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

fn apply_here(v: &mut Value, op: &Op) {
    match op {
        Op::Delete => *v = Value::Null,
        Op::Replace(new) => *v = new.clone(),
        Op::Wrap { depth, objects } => {
            let mut inner = v.take();
            for _ in 0..*depth {
                inner = if *objects {
                    json!({ "a": inner })
                } else {
                    json!([inner])
                };
            }
            *v = inner;
        }
        Op::Repeat => {
            if let Value::Array(a) = v {
                if let Some(first) = a.first().cloned() {
                    a.push(first);
                }
            }
        }
        Op::AddKey(k, new) => {
            if let Value::Object(o) = v {
                o.insert(k.clone(), new.clone());
            }
        }
        Op::Edit { at, with } => {
            if let Value::String(s) = v {
                let mut chars: Vec<char> = s.chars().collect();
                if chars.is_empty() {
                    chars.push(*with);
                } else {
                    let i = at % chars.len();
                    chars[i] = *with;
                }
                *s = chars.into_iter().collect();
            }
        }
    }
}

/// Applies `op` to the `target`-th node in pre-order (deletion and
/// repetition act on the parent's list).
fn mutate(v: &mut Value, target: &mut usize, op: &Op) -> bool {
    if *target == 0 {
        apply_here(v, op);
        return true;
    }
    *target -= 1;
    match v {
        Value::Array(items) => {
            for i in 0..items.len() {
                if *target == 0 && matches!(op, Op::Delete) {
                    items.remove(i);
                    return true;
                }
                if *target == 0 && matches!(op, Op::Repeat) {
                    let copy = items[i].clone();
                    items.insert(i, copy);
                    return true;
                }
                if mutate(&mut items[i], target, op) {
                    return true;
                }
            }
        }
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if *target == 0 && matches!(op, Op::Delete) {
                    map.remove(&k);
                    return true;
                }
                if let Some(child) = map.get_mut(&k) {
                    if mutate(child, target, op) {
                        return true;
                    }
                }
            }
        }
        _ => {}
    }
    false
}

/// Serializes `v`, swapping the raw-number placeholders for their literals.
fn render(v: &Value) -> String {
    let mut text = v.to_string();
    if text.contains(RAW_MARK) {
        for (i, raw) in RAW_NUMBERS.iter().enumerate().rev() {
            text = text.replace(&format!("\"\\u0001RAW{i}\""), raw);
        }
    }
    text
}

/// A change to the text itself.
#[derive(Debug, Clone)]
enum TextOp {
    Truncate(usize),
    Insert(usize, u8),
    Overwrite(usize, u8),
    Splice(usize, &'static str),
}

fn arb_text_op() -> BoxedStrategy<TextOp> {
    prop_oneof![
        any::<usize>().prop_map(TextOp::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| TextOp::Insert(i, b)),
        (
            any::<usize>(),
            prop::sample::select(b"{}[]\",:\\ 0-eE.nt\x00\xff".to_vec())
        )
            .prop_map(|(i, b)| TextOp::Overwrite(i, b)),
        (
            any::<usize>(),
            prop::sample::select(vec![
                "\"\\ud800\"",
                "\"\\u0000\"",
                "\\",
                "1e400",
                "[[[[[[[[",
                "}}}}",
                ",,",
                "\"epoch\":\"2026-10\",",
                "/*x*/",
                "\u{feff}",
            ])
        )
            .prop_map(|(i, s)| TextOp::Splice(i, s)),
    ]
    .boxed()
}

fn apply_text(text: &str, op: &TextOp) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let at = |i: usize| {
        if bytes.is_empty() {
            0
        } else {
            i % (bytes.len() + 1)
        }
    };
    match op {
        TextOp::Truncate(i) => {
            let i = at(*i);
            bytes.truncate(i);
        }
        TextOp::Insert(i, b) => {
            let i = at(*i);
            bytes.insert(i, *b);
        }
        TextOp::Overwrite(i, b) => {
            if !bytes.is_empty() {
                let i = *i % bytes.len();
                bytes[i] = *b;
            }
        }
        TextOp::Splice(i, s) => {
            let i = at(*i);
            bytes.splice(i..i, s.bytes());
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// JSON tokens and the bundle's vocabulary, to be strung together at random.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"epoch\"",
    "\"2026-10\"",
    "\"machines\"",
    "\"earnings\"",
    "\"bindings\"",
    "\"sessions\"",
    "\"aliases\"",
    "\"health\"",
    "\"probes\"",
    "\"prior_draws\"",
    "\"previous_totals\"",
    "\"policy\"",
    "\"machine_id\"",
    "\"m1\"",
    "\"attested_at\"",
    "\"2026-09-01T00:00:00Z\"",
    "\"reported_memory_gb\"",
    "64",
    "\"trust\"",
    "\"hardware\"",
    "\"job_id\"",
    "\"amount_micro_usd\"",
    "-1",
    "9223372036854775807",
    "1e400",
    "0.5",
    "\"kind\"",
    "\"inference\"",
    "true",
    "false",
    "null",
    "\"\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    " ",
    "\n",
    "\"reduction_k\"",
    "\"tiers\"",
    "\"min_gb\"",
    "\"floor_micro_usd\"",
    "\"🙂\"",
];

// ---------------------------------------------------------------------------
// The fuzz tests.

#[test]
fn fuzz_bundle_arbitrary_bytes() {
    let mut runner = TestRunner::new(config(BYTES_CASES, 0xF1_0001));
    let strategy = prop::collection::vec(any::<u8>(), 0..300);
    runner
        .run(&strategy, |bytes| {
            let text = String::from_utf8_lossy(&bytes);
            match plan_bundle(&text, &PolicyPatch::default()) {
                Ok(_) => Ok(()),
                Err(e) => check_invalid(&e, &text),
            }
        })
        .unwrap();
}

#[test]
fn fuzz_bundle_token_soup() {
    let mut runner = TestRunner::new(config(SOUP_CASES, 0xF1_0002));
    let strategy = prop::collection::vec(prop::sample::select(TOKENS), 0..60);
    runner
        .run(&strategy, |tokens| {
            let text = format!("{{\"epoch\":\"2026-10\",{}", tokens.concat());
            check_bundle_text(&text)?;
            check_bundle_text(&tokens.concat())
        })
        .unwrap();
}

#[test]
fn fuzz_bundle_structured_mutations() {
    let mut runner = TestRunner::new(config(MUTATED_CASES, 0xF1_0003));
    let stages = Stages::default();
    let strategy = (
        arb_bundle(),
        prop_oneof![
            2 => Just(Vec::new()),
            3 => prop::collection::vec((any::<usize>(), arb_op(ALL_FIELDS)), 1..4),
        ],
    );
    runner
        .run(&strategy, |(mut bundle, ops)| {
            for (pick, op) in &ops {
                let mut target = pick % count_nodes(&bundle);
                mutate(&mut bundle, &mut target, op);
            }
            check_bundle_stages(&render(&bundle), &stages)
        })
        .unwrap();
    stages.report("structured mutations", 30, 15);
}

#[test]
fn fuzz_bundle_mutated_text() {
    let mut runner = TestRunner::new(config(MUTATED_TEXT_CASES, 0xF1_0004));
    let stages = Stages::default();
    let strategy = (
        arb_bundle(),
        prop::collection::vec((any::<usize>(), arb_op(ALL_FIELDS)), 0..2),
        prop::collection::vec(arb_text_op(), 1..3),
    );
    runner
        .run(&strategy, |(mut bundle, ops, text_ops)| {
            for (pick, op) in &ops {
                let mut target = pick % count_nodes(&bundle);
                mutate(&mut bundle, &mut target, op);
            }
            let mut text = render(&bundle);
            for op in &text_ops {
                text = apply_text(&text, op);
            }
            check_bundle_stages(&text, &stages)
        })
        .unwrap();
    stages.report("mutated text", 3, 0);
}

// ---------------------------------------------------------------------------
// Fixed hostile inputs and regression tests.

#[track_caller]
fn check_text(text: &str) {
    if let Err(e) = check_bundle_text(text) {
        panic!("{e}");
    }
}

#[test]
fn nesting_past_the_recursion_limit_is_invalid_not_a_crash() {
    let deep = "[".repeat(100_000);
    for text in [
        deep.clone(),
        format!("{{\"epoch\":\"2026-10\",\"machines\":{deep}"),
        format!("{{\"epoch\":\"2026-10\",\"policy\":{{\"tiers\":{deep}"),
        format!("{{\"epoch\":\"2026-10\",\"earnings\":[{{\"job_id\":{deep}"),
        "{\"a\":".repeat(100_000),
    ] {
        let err = Bundle::from_json(&text).unwrap_err();
        check_invalid(&err, &text).unwrap();
    }
    // Deep nesting inside an unknown key is skipped without recursion.
    let ignored = format!(
        "{{\"epoch\":\"2026-10\",\"extra\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    check_text(&ignored);
}

#[test]
fn identifiers_of_128_characters_pass_and_129_are_named() {
    let mut v = super::bundle::sample();
    let long = "m".repeat(128);
    v["machines"][0]["machine_id"] = json!(long);
    v["bindings"][0]["machine_id"] = json!(long);
    v["sessions"][0]["machine_id"] = json!(long);
    v["earnings"][0]["machine_id"] = json!(long);
    v["earnings"][1]["machine_id"] = json!(long);
    assert!(plan_bundle(&v.to_string(), &PolicyPatch::default()).is_ok());
    v["earnings"][1]["consumer_account_id"] = json!("c".repeat(129));
    let err = plan_bundle(&v.to_string(), &PolicyPatch::default()).unwrap_err();
    assert_eq!(
        err,
        CoreError::invalid(
            "earnings[1].consumer_account_id",
            "must be 1–128 characters"
        )
    );
}

#[test]
fn earnings_that_add_up_past_i64_max_are_invalid_not_an_overflow() {
    let mut v = super::bundle::sample();
    v["earnings"][1]["job_id"] = json!("j-other");
    v["earnings"][0]["amount_micro_usd"] = json!(i64::MAX);
    v["earnings"][1]["amount_micro_usd"] = json!(i64::MAX);
    let err = plan_bundle(&v.to_string(), &PolicyPatch::default()).unwrap_err();
    assert_eq!(
        err,
        CoreError::invalid(
            "earnings[1].amount_micro_usd",
            "the amounts of this kind add up past i64::MAX µUSD"
        )
    );
    // One amount of i64::MAX, re-sent identically, is still one amount.
    let mut v = super::bundle::sample();
    v["earnings"][0]["amount_micro_usd"] = json!(i64::MAX);
    v["earnings"][1]["amount_micro_usd"] = json!(i64::MAX);
    v["earnings"][2]["amount_micro_usd"] = json!(0);
    assert!(plan_bundle(&v.to_string(), &PolicyPatch::default()).is_ok());
}

#[test]
fn prior_draws_that_add_up_past_i64_max_are_invalid_not_an_overflow() {
    let mut v = super::bundle::sample();
    v["prior_draws"] = json!([
        {"machine_id": "m1", "account_id": "alice", "amount_micro_usd": 1, "verified_memory_gb": 64},
        {"machine_id": "m1", "account_id": "alice", "amount_micro_usd": i64::MAX, "verified_memory_gb": 64}
    ]);
    let err = plan_bundle(&v.to_string(), &PolicyPatch::default()).unwrap_err();
    assert_eq!(
        err,
        CoreError::invalid(
            "prior_draws[1].amount_micro_usd",
            "the amounts of this kind add up past i64::MAX µUSD"
        )
    );
}

#[test]
fn a_broken_map_key_names_the_map_not_a_question_mark() {
    for (text, path) in [
        ("{\"epoch\":\"2026-10\",-1", "bundle"),
        ("{\"epoch\":\"2026-10\",\"policy\":{", "policy"),
        (
            "{\"epoch\":\"2026-10\",\"earnings\":[{\"job_id\":\"j\",",
            "earnings[0]",
        ),
        ("{\"epoch\":\"2026-10\",\"\":[", "bundle"),
    ] {
        let err = Bundle::from_json(text).unwrap_err();
        let CoreError::Invalid(items) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(items[0].path, path, "{text}: {err}");
    }
}

#[test]
fn a_bundle_written_as_an_array_is_refused_as_a_whole() {
    for text in ["[\"2026-10\"]", "[", "[[[[", "\"2026-10\"", "", "null"] {
        let err = Bundle::from_json(text).unwrap_err();
        let CoreError::Invalid(items) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(items[0].path, "bundle", "{text}: {err}");
    }
}
