//! Fuzzing of `POST /v1/ingest/{kind}` for all eight kinds through the real
//! router (`Router::oneshot`, no socket) over a fresh SQLite file.
//!
//! Bodies are facts of the kind, mostly valid and then mutated (deleted
//! fields, swapped types, huge numbers, deep nesting, unicode, identifiers
//! of 128/129 characters, duplicates and conflicts), cut short, or arbitrary
//! bytes (not UTF-8 too), over the batch and body limits now and then.
//! Each answer must be a 200 report that adds up, or a 4xx with the stable
//! error body — never a 5xx (accepted + refined + duplicates + conflicts =
//! the items sent). After every 4xx nothing was written: SQLite's
//! `PRAGMA data_version`, read on a connection of its own, has not moved,
//! and no table's row count has. After a 200 the kind's table grew by
//! exactly `accepted` (a refinement rewrites a row in place).
//!
//! The bulk of the generated bodies run against the parse and validate
//! functions in `floorline-engine` (`tests/it/fuzz.rs` there); these run the
//! whole stack. Seeds are fixed; FUZZING.md lists counts and commands.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use floorline_core::FactKind;
use floorline_core::Timestamp;
use floorline_engine::clock::FixedClock;
use floorline_engine::config::Config;
use floorline_engine::Engine;
use floorline_server::AppState;
use floorline_store::{Role, Store};
use http_body_util::BodyExt;
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use sqlx::{Connection, SqliteConnection};
use tower::ServiceExt;

use super::harness::NOW;

/// Requests per test; four tests run 100 000 requests in all. A longer run:
/// `FLOORLINE_FUZZ_ROUTER_CASES=200000` (100 000 per endpoint; FUZZING.md).
const ROUTER_CASES: u32 = 25_000;

fn router_cases() -> u32 {
    std::env::var("FLOORLINE_FUZZ_ROUTER_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ROUTER_CASES)
}
/// Limits the fuzzed server runs with (small, so both are reached).
const MAX_BATCH_ITEMS: usize = 6;
const MAX_BODY_BYTES: usize = 4_096;

fn config(cases: u32, seed: u64) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 1_024,
        ..ProptestConfig::default()
    }
}

/// The tables ingestion writes, in the order of [`Rows`].
const TABLES: [&str; 9] = [
    "machines",
    "attestations",
    "aliases",
    "bindings",
    "sessions",
    "health",
    "earnings",
    "probes",
    "watermarks",
];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rows {
    counts: Vec<i64>,
    /// Watermarks move in place: their content, not only their count.
    watermarks: String,
}

/// A router over a fresh SQLite file, an ingest key, and a second
/// connection that watches the file.
pub struct Fixture {
    /// Answers seen by [`Fixture::check`], by status code.
    pub statuses: std::collections::BTreeMap<u16, usize>,
    pub app: Router,
    pub ingest: String,
    pub state: AppState,
    watch: SqliteConnection,
    pub rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// A server with `config_toml`; machines `m1` and `m2` attested, `pk-1`
    /// an alias of `m1`, and `m1` bound to `alice`.
    pub fn new(config_toml: &str) -> Fixture {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("floorline.db").display());
        let (state, ingest, watch) = rt.block_on(async {
            let store = Store::connect(&url).await.unwrap();
            store.migrate().await.unwrap();
            let config = Config::load(config_toml, "floorline.toml", Vec::new()).unwrap();
            let clock = Arc::new(FixedClock(Timestamp::parse(NOW).unwrap()));
            let engine = Engine::new(store, config, clock);
            let (_, ingest) = engine.create_key(Role::Ingest, None).await.unwrap();
            let state = AppState::new(engine);
            let watch = SqliteConnection::connect(&url).await.unwrap();
            (state, ingest, watch)
        });
        let app = floorline_server::router(state.clone());
        let mut f = Fixture {
            statuses: Default::default(),
            app,
            ingest,
            state,
            watch,
            rt,
            _dir: dir,
        };
        let seed = [
            (
                "machines",
                json!([
                    {"machine_id": "m1", "attested_at": "2026-09-01T00:00:00Z", "hardware_model": "Mac16,11", "reported_memory_gb": 64, "trust": "hardware"},
                    {"machine_id": "m2", "attested_at": "2026-09-01T00:00:00Z", "hardware_model": "Mac14,2", "reported_memory_gb": 24, "trust": "self_signed"}
                ]),
            ),
            (
                "aliases",
                json!([{"provider_key": "pk-1", "machine_id": "m1", "from": "2026-09-01T00:00:00Z"}]),
            ),
            (
                "bindings",
                json!([{"machine_id": "m1", "account_id": "alice", "payout_identity": "pay-alice", "from": "2026-01-01T00:00:00Z"}]),
            ),
        ];
        for (kind, body) in seed {
            let (status, body) = f.post(kind, body.to_string().into_bytes());
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        f
    }

    /// A new API key (its id and token).
    pub fn key(&mut self, role: Role, account: Option<&str>) -> (i64, String) {
        let engine = self.state.engine.clone();
        self.rt
            .block_on(async move { engine.create_key(role, account).await.unwrap() })
    }

    /// What a write would change: SQLite's commit counter and every fact table.
    pub fn snapshot(&mut self) -> (i64, Vec<i64>, String) {
        let rows = self.rows();
        (self.data_version(), rows.counts, rows.watermarks)
    }

    /// `(status, body)` of a request with raw `Authorization` header values.
    pub fn call(
        &mut self,
        method: &str,
        uri: &str,
        authorization: &[&[u8]],
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        for value in authorization {
            let value = axum::http::HeaderValue::from_bytes(value).unwrap();
            req = req.header("authorization", value);
        }
        if !body.is_empty() {
            req = req.header("content-type", "application/json");
        }
        self.send(req.body(Body::from(body)).unwrap())
    }

    /// `(status, body)` of one ingestion request with the ingest key.
    pub fn post(&mut self, kind: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let req = Request::post(format!("/v1/ingest/{kind}"))
            .header("authorization", format!("Bearer {}", self.ingest))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        self.send(req)
    }

    pub fn send(&mut self, req: Request<Body>) -> (StatusCode, Value) {
        let app = self.app.clone();
        self.rt.block_on(async move {
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            let body = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            (status, body)
        })
    }

    /// SQLite's count of commits by other connections, as seen by `watch`.
    fn data_version(&mut self) -> i64 {
        self.rt.block_on(async {
            sqlx::query_scalar::<_, i64>("PRAGMA data_version")
                .fetch_one(&mut self.watch)
                .await
                .unwrap()
        })
    }

    fn rows(&mut self) -> Rows {
        let counts = TABLES
            .iter()
            .map(|t| format!("(SELECT COUNT(*) FROM {t})"))
            .collect::<Vec<_>>()
            .join(", ");
        self.rt.block_on(async {
            let row: Vec<i64> = {
                let r = sqlx::query(&format!("SELECT {counts}"))
                    .fetch_one(&mut self.watch)
                    .await
                    .unwrap();
                use sqlx::Row;
                (0..TABLES.len()).map(|i| r.get::<i64, _>(i)).collect()
            };
            let watermarks: Option<String> = sqlx::query_scalar(
                "SELECT group_concat(source || '=' || up_to_ms, ',') FROM \
                 (SELECT source, up_to_ms FROM watermarks ORDER BY source)",
            )
            .fetch_one(&mut self.watch)
            .await
            .unwrap();
            Rows {
                counts: row,
                watermarks: watermarks.unwrap_or_default(),
            }
        })
    }

    /// Posts `body` and checks the answer and what it wrote.
    pub fn check(&mut self, kind: FactKind, body: Vec<u8>) -> Result<(), TestCaseError> {
        let before = self.rows();
        let version = self.data_version();
        let n_items = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len));
        let (status, answer) = self.post(kind.as_str(), body.clone());
        *self.statuses.entry(status.as_u16()).or_default() += 1;
        let after = self.rows();
        let shown = || {
            String::from_utf8_lossy(&body)
                .chars()
                .take(1_000)
                .collect::<String>()
        };
        prop_assert!(
            !status.is_server_error(),
            "{status} {answer} for {}",
            shown()
        );
        if status.is_client_error() {
            check_error_body(status, &answer).map_err(|e| {
                TestCaseError::fail(format!("{e} ({status} {answer}) for {}", shown()))
            })?;
            prop_assert_eq!(
                self.data_version(),
                version,
                "a {} answer committed a write for {}",
                status,
                shown()
            );
            prop_assert_eq!(&after, &before, "a {} answer changed rows", status);
            return Ok(());
        }
        prop_assert_eq!(status, StatusCode::OK, "{}", answer);
        let accepted = answer["accepted"].as_i64().unwrap_or(-1);
        let refined = answer["refined"].as_i64().unwrap_or(-1);
        let duplicates = answer["duplicates"].as_i64().unwrap_or(-1);
        let conflicts = answer["conflicts"]
            .as_array()
            .map_or(-1, |c| i64::try_from(c.len()).unwrap_or(-1));
        prop_assert!(
            accepted >= 0 && refined >= 0 && duplicates >= 0 && conflicts >= 0,
            "{answer}"
        );
        if let Some(n) = n_items {
            prop_assert_eq!(
                accepted + refined + duplicates + conflicts,
                i64::try_from(n).unwrap(),
                "{}",
                answer
            );
        }
        let table = match kind {
            FactKind::Machines => "attestations",
            other => other.as_str(),
        };
        let i = TABLES.iter().position(|t| *t == table).unwrap();
        let grew = after.counts[i] - before.counts[i];
        if kind == FactKind::Watermarks {
            prop_assert!(grew <= accepted, "{grew} new rows for {answer}");
        } else {
            prop_assert_eq!(grew, accepted, "rows of {} for {}", table, answer);
        }
        for (j, (a, b)) in after.counts.iter().zip(&before.counts).enumerate() {
            let allowed = j == i || (kind == FactKind::Machines && TABLES[j] == "machines");
            prop_assert!(
                allowed || a == b,
                "{} changed on a {kind:?} batch",
                TABLES[j]
            );
        }
        Ok(())
    }
}

/// The stable error body: `{"error": {"code", "message", "index"?, "field"?}}`.
pub fn check_error_body(status: StatusCode, body: &Value) -> Result<(), String> {
    let err = body
        .get("error")
        .and_then(Value::as_object)
        .ok_or("no `error` object")?;
    let code = err.get("code").and_then(Value::as_str).ok_or("no code")?;
    let expected = match status.as_u16() {
        400 => &["bad_request", "invalid"][..],
        401 => &["unauthorized"][..],
        403 => &["forbidden"][..],
        404 => &["not_found"][..],
        405 => &["method_not_allowed"][..],
        408 => &["timeout"][..],
        409 => &["conflict"][..],
        413 => &["too_large"][..],
        422 => &["invalid"][..],
        _ => &[][..],
    };
    if !expected.contains(&code) {
        return Err(format!("code `{code}` for {status}"));
    }
    if err
        .get("message")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err("no message".into());
    }
    for key in err.keys() {
        if !["code", "message", "index", "field"].contains(&key.as_str()) {
            return Err(format!("unexpected key `{key}`"));
        }
    }
    if let Some(i) = err.get("index") {
        i.as_u64().ok_or("index is not a number")?;
    }
    if let Some(f) = err.get("field") {
        if f.as_str().is_none_or(str::is_empty) {
            return Err("empty field".into());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Generators (a smaller copy of the engine's; test crates share no code).

fn fields(kind: FactKind) -> &'static [&'static str] {
    match kind {
        FactKind::Machines => &[
            "machine_id",
            "attested_at",
            "hardware_model",
            "reported_memory_gb",
            "trust",
            "se_public_key",
        ],
        FactKind::Aliases => &["provider_key", "machine_id", "from"],
        FactKind::Bindings => &["machine_id", "account_id", "payout_identity", "from", "to"],
        FactKind::Sessions => &[
            "session_id",
            "machine_id",
            "connected_at",
            "last_seen_at",
            "disconnected_at",
        ],
        FactKind::Health => &["machine_id", "at", "healthy", "reason"],
        FactKind::Earnings => &[
            "job_id",
            "machine_id",
            "consumer_account_id",
            "amount_micro_usd",
            "kind",
            "pinned",
            "model",
            "at",
        ],
        FactKind::Probes => &[
            "probe_id",
            "machine_id",
            "at",
            "passed",
            "failure",
            "model",
            "verified_memory_gb",
        ],
        FactKind::Watermarks => &["source", "up_to"],
    }
}

fn day(d: i64) -> Value {
    json!(Timestamp(1_788_220_800_000 + d * 86_400_000).to_rfc3339())
}

/// A value the store accepts for `field` of `kind`, given the fixture's fleet
/// (`m1` bound from 2026-01-01 on, `m2` unbound, `pk-1` → `m1`): new keys
/// mostly, re-sent and conflicting ones now and then. Times that must be in
/// order are drawn in [`clean_fact`].
fn clean_value(kind: FactKind, field: &'static str) -> BoxedStrategy<Value> {
    let pick = |v: Vec<&'static str>| prop::sample::select(v).prop_map(|s| json!(s)).boxed();
    let numbered = |prefix: &'static str| {
        (0u32..5_000)
            .prop_map(move |n| json!(format!("{prefix}{n}")))
            .boxed()
    };
    match (kind, field) {
        (FactKind::Machines, "machine_id") => numbered("m-"),
        (FactKind::Bindings, "machine_id") => Just(json!("m2")).boxed(),
        (_, "machine_id") => pick(vec!["m1", "m2", "pk-1"]),
        (_, "provider_key") => numbered("pk-n"),
        (_, "session_id") => numbered("s"),
        (_, "job_id") => numbered("j"),
        (_, "probe_id") => numbered("p"),
        (_, "source") => pick(vec!["coordinator", "billing", "probe"]),
        (_, "account_id") => pick(vec!["alice", "bob"]),
        (_, "payout_identity") => pick(vec!["pay-alice", "pay-bob"]),
        (_, "consumer_account_id") => pick(vec!["carol", "dave", "alice"]),
        (_, "hardware_model" | "se_public_key" | "reason" | "model" | "failure") => prop_oneof![
            4 => pick(vec!["Mac16,11", "qwen-32b", "'; DROP TABLE earnings; --", "\" OR 1=1"]),
            1 => "\\PC{0,12}".prop_map(Value::String),
            1 => Just(json!("x".repeat(1024))),
        ]
        .boxed(),
        (_, "reported_memory_gb" | "verified_memory_gb") => {
            prop::sample::select(vec![0u32, 16, 24, 64, 512, u32::MAX])
                .prop_map(|n| json!(n))
                .boxed()
        }
        (_, "trust") => pick(vec!["none", "self_signed", "hardware"]),
        (_, "amount_micro_usd") => {
            prop_oneof![8 => (0i64..10_000_000).prop_map(|n| json!(n)), 1 => Just(json!(i64::MAX))]
                .boxed()
        }
        (_, "kind") => pick(vec!["inference", "probe", "base_reward"]),
        (_, "healthy" | "pinned" | "passed") => any::<bool>().prop_map(Value::Bool).boxed(),
        _ => (0i64..90).prop_map(day).boxed(),
    }
}

/// A value of any sort for `field`: refused ones (unknown machines, reserved
/// job ids, ids outside the charset, negative amounts) and other types.
fn dirty_value(kind: FactKind, field: &'static str) -> BoxedStrategy<Value> {
    let bad: BoxedStrategy<Value> = match field {
        "machine_id"
        | "provider_key"
        | "session_id"
        | "job_id"
        | "probe_id"
        | "source"
        | "account_id"
        | "payout_identity"
        | "consumer_account_id" => prop::sample::select(vec![
            "m3",
            "ghost",
            "m2",
            "floor:x",
            "m 1",
            "m\u{0}",
            "\" OR 1=1",
            "",
        ])
        .prop_map(|s| json!(s))
        .boxed(),
        "amount_micro_usd" => Just(json!(-1)).boxed(),
        _ => Just(json!("x".repeat(1025))).boxed(),
    };
    prop_oneof![
        8 => clean_value(kind, field),
        1 => bad,
        1 => arb_special(),
    ]
    .boxed()
}

fn arb_special() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        Just(json!(-1)),
        Just(json!(i64::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(1e308)),
        Just(json!([])),
        Just(json!({})),
        (127usize..=130).prop_map(|n| json!("a".repeat(n))),
        prop::sample::select(vec![
            "",
            " ",
            "m 1",
            "m\u{0}",
            "машина",
            "🙂",
            "\" OR 1=1",
            "x\u{0}y",
            "2026-10-01T00:00:00",
        ])
        .prop_map(|s| json!(s)),
        "\\PC{0,8}".prop_map(Value::String),
    ]
    .boxed()
}

/// A fact the store takes (times in order, optional fields now and then).
fn clean_fact(kind: FactKind) -> BoxedStrategy<Value> {
    let strategies: Vec<BoxedStrategy<Option<Value>>> = fields(kind)
        .iter()
        .map(|f| {
            let optional = matches!(
                *f,
                "to" | "last_seen_at"
                    | "disconnected_at"
                    | "reason"
                    | "model"
                    | "failure"
                    | "verified_memory_gb"
                    | "se_public_key"
                    | "pinned"
            );
            if optional {
                prop::option::weighted(0.6, clean_value(kind, f)).boxed()
            } else {
                clean_value(kind, f).prop_map(Some).boxed()
            }
        })
        .collect();
    (strategies, 0i64..90, 0i64..30, 0i64..30)
        .prop_map(move |(values, start, a, b)| {
            let mut map = Map::new();
            for (name, v) in fields(kind).iter().zip(values) {
                if let Some(v) = v {
                    map.insert((*name).to_string(), v);
                }
            }
            // Ordered times: a binding lasts a day (so bindings never overlap),
            // a session is seen and ends after it began.
            match kind {
                FactKind::Bindings => {
                    map.insert("from".into(), day(start));
                    map.insert("to".into(), day(start + 1));
                }
                FactKind::Sessions => {
                    map.insert("connected_at".into(), day(start));
                    for (k, d) in [("last_seen_at", a), ("disconnected_at", b)] {
                        if map.contains_key(k) {
                            map.insert(k.into(), day(start + d));
                        }
                    }
                }
                _ => {}
            }
            Value::Object(map)
        })
        .boxed()
}

/// A fact with any field left out, refused, or of another type, and now and
/// then a key no fact has.
fn dirty_fact(kind: FactKind) -> BoxedStrategy<Value> {
    let strategies: Vec<BoxedStrategy<Option<Value>>> = fields(kind)
        .iter()
        .map(|f| prop::option::weighted(0.9, dirty_value(kind, f)).boxed())
        .collect();
    (strategies, prop::option::weighted(0.1, arb_special()))
        .prop_map(move |(values, extra)| {
            let mut map = Map::new();
            for (name, v) in fields(kind).iter().zip(values) {
                if let Some(v) = v {
                    map.insert((*name).to_string(), v);
                }
            }
            if let Some(v) = extra {
                map.insert("unknown_key".into(), v);
            }
            Value::Object(map)
        })
        .boxed()
}

fn arb_fact(kind: FactKind) -> BoxedStrategy<Value> {
    prop_oneof![4 => clean_fact(kind), 1 => dirty_fact(kind)].boxed()
}

#[derive(Debug, Clone)]
enum Shape {
    Facts(Vec<Value>, Option<(usize, &'static str)>),
    Bytes(Vec<u8>),
    Deep(usize),
    Padded(Vec<Value>, usize),
}

fn arb_body(kind: FactKind) -> BoxedStrategy<Shape> {
    prop_oneof![
        8 => (
            prop::collection::vec(clean_fact(kind), 0..=MAX_BATCH_ITEMS),
            Just(None),
        )
            .prop_map(|(f, cut)| Shape::Facts(f, cut)),
        6 => (
            prop::collection::vec(arb_fact(kind), 0..=MAX_BATCH_ITEMS + 1),
            prop::option::weighted(0.1, (any::<usize>(), prop::sample::select(vec!["", "]", ",", "\u{0}", "1e400", "\""]))),
        )
            .prop_map(|(f, cut)| Shape::Facts(f, cut)),
        2 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Shape::Bytes),
        1 => (100usize..5_000).prop_map(Shape::Deep),
        1 => (prop::collection::vec(arb_fact(kind), 1..3), (MAX_BODY_BYTES - 300)..(MAX_BODY_BYTES + 300))
            .prop_map(|(f, n)| Shape::Padded(f, n)),
    ]
    .boxed()
}

fn body_bytes(b: &Shape) -> Vec<u8> {
    match b {
        Shape::Facts(facts, cut) => {
            let mut text = Value::Array(facts.clone()).to_string();
            if let Some((at, insert)) = cut {
                let mut at = at % (text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.truncate(at);
                text.push_str(insert);
            }
            text.into_bytes()
        }
        Shape::Bytes(bytes) => bytes.clone(),
        Shape::Deep(n) => "[".repeat(*n).into_bytes(),
        Shape::Padded(facts, n) => {
            let mut text = Value::Array(facts.clone()).to_string();
            let pad = n.saturating_sub(text.len());
            text.push_str(&" ".repeat(pad));
            text.into_bytes()
        }
    }
}

fn fuzz_router(kinds: &'static [FactKind], seed: u64) {
    let f = std::cell::RefCell::new(Fixture::new(&format!(
        "[server]\nmax_batch_items = {MAX_BATCH_ITEMS}\nmax_body_bytes = {MAX_BODY_BYTES}\n"
    )));
    let mut runner = TestRunner::new(config(router_cases(), seed));
    let strategy = prop::sample::select(kinds).prop_flat_map(|k| (Just(k), arb_body(k)));
    runner
        .run(&strategy, |(kind, body)| {
            f.borrow_mut().check(kind, body_bytes(&body))
        })
        .unwrap();
    // Enough of both kinds of answer, or the generator has gone stale.
    let statuses = &f.borrow().statuses;
    let total: usize = statuses.values().sum();
    let ok = statuses.get(&200).copied().unwrap_or(0);
    eprintln!("{kinds:?}: {total} requests, by status {statuses:?}");
    assert!(
        ok * 100 >= total * 20,
        "under 20% of the requests were accepted"
    );
    assert!((total - ok) * 100 >= total * 20, "under 20% were refused");
}

#[test]
fn fuzz_router_ingest_machines_aliases() {
    fuzz_router(&[FactKind::Machines, FactKind::Aliases], 0x5E_0001);
}

#[test]
fn fuzz_router_ingest_bindings_sessions() {
    fuzz_router(&[FactKind::Bindings, FactKind::Sessions], 0x5E_0002);
}

#[test]
fn fuzz_router_ingest_health_earnings() {
    fuzz_router(&[FactKind::Health, FactKind::Earnings], 0x5E_0003);
}

#[test]
fn fuzz_router_ingest_probes_watermarks() {
    fuzz_router(&[FactKind::Probes, FactKind::Watermarks], 0x5E_0004);
}
