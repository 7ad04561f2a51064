//! The OpenAPI document types itself (issue #17): every JSON request body
//! and every 2xx answer has a schema, the fact mirrors are the engine's
//! fields, and what a served instance answers validates against the
//! document. The validator is a small structural one (types, required and
//! undocumented properties, enums, bounds, `$ref`/`allOf`/`oneOf`); the
//! heavy contract checking is schemathesis's.

use std::collections::BTreeSet;

use floorline_core::FactKind;
use floorline_server::wire::facts::mirror_name;
use serde_json::{json, Value};

use crate::harness::TestServer;

fn doc() -> Value {
    serde_json::from_str(&floorline_server::openapi::document()).unwrap()
}

/// `schema`, with `$ref`s followed.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "dangling $ref {r}");
            resolve(doc, target)
        }
        None => schema,
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Appends to `errs` every way `value` breaks `schema`. `extra_ok`: the
/// object is checked one `allOf` part at a time, so properties another part
/// documents are not undocumented.
fn check(
    doc: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    extra_ok: bool,
    errs: &mut Vec<String>,
) {
    let s = resolve(doc, schema);
    if let Some(parts) = s["allOf"].as_array() {
        let mut documented = BTreeSet::new();
        for p in parts {
            check(doc, p, value, at, true, errs);
            if let Some(props) = resolve(doc, p)["properties"].as_object() {
                documented.extend(props.keys().cloned());
            }
        }
        if let (false, Some(map)) = (extra_ok, value.as_object()) {
            for k in map.keys().filter(|k| !documented.contains(*k)) {
                errs.push(format!("{at}.{k}: undocumented property"));
            }
        }
        return;
    }
    if let Some(alts) = s["oneOf"].as_array().or(s["anyOf"].as_array()) {
        let fits = alts.iter().any(|a| {
            let mut e = Vec::new();
            check(doc, a, value, at, extra_ok, &mut e);
            e.is_empty()
        });
        if !fits {
            errs.push(format!("{at}: matches none of its alternatives: {value}"));
        }
        return;
    }
    let types: Vec<&str> = match &s["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let actual = json_type(value);
    let fits = types.is_empty()
        || types.contains(&actual)
        || (actual == "integer" && types.contains(&"number"));
    if !fits {
        errs.push(format!("{at}: {actual} where the schema says {types:?}"));
        return;
    }
    if let Some(allowed) = s["enum"].as_array() {
        if !allowed.contains(value) {
            errs.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    match value {
        Value::Object(map) => {
            for r in s["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap();
                if !map.contains_key(r) {
                    errs.push(format!("{at}.{r}: required and missing"));
                }
            }
            let props = s["properties"].as_object();
            for (k, v) in map {
                match (props.and_then(|p| p.get(k)), &s["additionalProperties"]) {
                    (Some(p), _) => check(doc, p, v, &format!("{at}.{k}"), false, errs),
                    (None, extra @ Value::Object(_)) => {
                        check(doc, extra, v, &format!("{at}.{k}"), false, errs)
                    }
                    (None, _) if extra_ok || props.is_none() => {}
                    (None, _) => errs.push(format!("{at}.{k}: undocumented property")),
                }
            }
        }
        Value::Array(items) => {
            if let Some(max) = s["maxItems"].as_u64() {
                if items.len() as u64 > max {
                    errs.push(format!("{at}: more than {max} items"));
                }
            }
            for (k, item) in items.iter().enumerate() {
                check(doc, &s["items"], item, &format!("{at}[{k}]"), false, errs);
            }
        }
        Value::Number(n) => {
            let n = n.as_f64().unwrap();
            if s["minimum"].as_f64().is_some_and(|m| n < m)
                || s["maximum"].as_f64().is_some_and(|m| n > m)
            {
                errs.push(format!("{at}: {n} out of bounds"));
            }
        }
        Value::String(text) if s["format"] == json!("date-time") => {
            if let Err(e) = floorline_core::Timestamp::parse(text) {
                errs.push(format!("{at}: {e}"));
            }
        }
        _ => {}
    }
}

/// Panics unless `value` validates against `schema`.
fn assert_valid(doc: &Value, schema: &Value, value: &Value, what: &str) {
    assert!(schema.is_object(), "{what}: no schema");
    let mut errs = Vec::new();
    check(doc, schema, value, "$", false, &mut errs);
    assert!(
        errs.is_empty(),
        "{what} does not validate:\n{}\n{value:#}",
        errs.join("\n")
    );
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((path.clone(), method.clone(), op));
        }
    }
    out
}

#[test]
fn every_operation_has_typed_bodies_and_answers() {
    let doc = doc();
    let ops = operations(&doc);
    assert!(ops.len() >= 24, "{} operations", ops.len());
    for (path, method, op) in &ops {
        let name = format!("{} {path}", method.to_uppercase());
        if let Some(body) = op.get("requestBody") {
            let content = body["content"].as_object().unwrap();
            assert!(!content.is_empty(), "{name}: request body without content");
            for (media, m) in content {
                let s = resolve(&doc, &m["schema"]);
                assert!(s.is_object(), "{name}: request body {media} has no schema");
                if media == "application/json" {
                    assert_ne!(
                        s,
                        &json!({"type": "string"}),
                        "{name}: untyped JSON request body"
                    );
                    let typed = s.get("type").is_some()
                        || s.get("oneOf").is_some()
                        || s.get("allOf").is_some();
                    assert!(typed, "{name}: request body schema {s}");
                }
            }
        }
        // Every endpoint that reads a body declares it.
        let reads_body = path.starts_with("/v1/ingest/")
            || path.ends_with("/settle")
            || path == "/v1/admin/adjustments";
        assert_eq!(
            op.get("requestBody").is_some(),
            reads_body,
            "{name}: request body declared?"
        );
        let responses = op["responses"].as_object().unwrap();
        if op.get("security").is_some() {
            for status in ["401", "403"] {
                assert!(
                    responses.contains_key(status),
                    "{name}: no {status} declared"
                );
            }
        }
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{name}: no 2xx answer"
        );
        for (status, r) in responses {
            let content = r["content"].as_object();
            if status.starts_with('2') {
                let content = content.unwrap_or_else(|| panic!("{name} {status}: no content"));
                for (media, m) in content {
                    assert!(
                        m["schema"].is_object(),
                        "{name} {status} {media}: no schema"
                    );
                    if media == "application/json" {
                        let s = resolve(&doc, &m["schema"]);
                        assert_ne!(
                            s,
                            &json!({"type": "string"}),
                            "{name} {status}: untyped JSON"
                        );
                    }
                }
            } else {
                let schema = &content.unwrap_or_else(|| panic!("{name} {status}: no content"))
                    ["application/json"]["schema"];
                assert_eq!(
                    schema["$ref"],
                    json!("#/components/schemas/ErrorBody"),
                    "{name} {status}"
                );
            }
        }
        // Every parameter has a schema; page bounds are the server's.
        for p in op["parameters"].as_array().into_iter().flatten() {
            let pname = p["name"].as_str().unwrap();
            assert!(
                p["schema"].is_object(),
                "{name}: parameter {pname} without schema"
            );
            let s = &p["schema"];
            let query = ["limit", "offset", "format", "drift"].contains(&pname);
            let want_in = if query { "query" } else { "path" };
            assert_eq!(p["in"], json!(want_in), "{name}: parameter {pname}");
            assert_eq!(
                p["required"],
                json!(!query),
                "{name}: parameter {pname} required?"
            );
            match pname {
                "limit" => {
                    assert_eq!(s["minimum"], json!(1), "{name}");
                    assert_eq!(
                        s["maximum"],
                        json!(floorline_store::MAX_PAGE_LIMIT),
                        "{name}"
                    );
                }
                "offset" => assert_eq!(s["minimum"], json!(0), "{name}"),
                "format" => {
                    let f = resolve(
                        &doc,
                        s.get("oneOf").map_or(s, |alts| {
                            alts.as_array()
                                .unwrap()
                                .iter()
                                .find(|a| a.get("$ref").is_some())
                                .unwrap()
                        }),
                    );
                    assert_eq!(f["enum"], json!(["json", "csv"]), "{name}");
                }
                "drift" => assert_eq!(s["type"], json!("boolean"), "{name}"),
                _ => {}
            }
        }
    }
    // The CSV forms are declared as text.
    for path in [
        "/v1/admin/epochs/{epoch}/draws",
        "/v1/admin/months/{month}/draws",
    ] {
        let content = &doc["paths"][path]["get"]["responses"]["200"]["content"];
        assert_eq!(
            content["text/csv"]["schema"]["type"],
            json!("string"),
            "{path}"
        );
        assert!(
            content["application/json"]["schema"]["$ref"].is_string(),
            "{path}"
        );
    }
    // A settlement's body may be left out, but is never `null`.
    let settle = &doc["paths"]["/v1/admin/epochs/{epoch}/settle"]["post"]["requestBody"];
    assert_eq!(settle["required"], json!(false));
    assert_eq!(
        settle["content"]["application/json"]["schema"]["$ref"],
        json!("#/components/schemas/SettleBody")
    );
    let adjust = &doc["components"]["schemas"]["AdjustBody"]["properties"]["amount_micro_usd"];
    assert_eq!(
        adjust["maximum"],
        json!(floorline_core::money::MAX_ADJUSTMENT_MICRO_USD)
    );
    assert_eq!(
        adjust["minimum"],
        json!(-floorline_core::money::MAX_ADJUSTMENT_MICRO_USD)
    );
    // `Option`s as they are on the wire: skipped ones are optional and
    // never null; the others are always present and may be null.
    let schemas = &doc["components"]["schemas"];
    for (schema, field, on_wire) in [
        ("ErrorDetail", "index", "absent"),
        ("ErrorDetail", "field", "absent"),
        ("VerifyReportBody", "drift", "absent"),
        ("VerifyReportBody", "committed_manifest_sha256", "null"),
        ("RunBody", "facts_version", "null"),
        ("RunSummaryBody", "run_id", "null"),
        ("MachineViewBody", "last_seen_at", "null"),
        ("MachineViewBody", "tier_min_gb", "null"),
        ("GateBody", "reason", "null"),
    ] {
        let s = &schemas[schema];
        let required = s["required"].as_array().unwrap().contains(&json!(field));
        let p = &s["properties"][field];
        let nullable = p["type"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("null")))
            || p["oneOf"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["type"] == json!("null")));
        assert_eq!(
            (required, nullable),
            (on_wire == "null", on_wire == "null"),
            "{schema}.{field} is {on_wire} on the wire: {p}"
        );
    }
    // One operation per kind, and no catch-all.
    assert!(doc["paths"]["/v1/ingest/{kind}"].is_null());
}

/// A value of `schema`'s type that the fact parsers accept.
fn sample(doc: &Value, schema: &Value) -> Value {
    let s = resolve(doc, schema);
    if let Some(alts) = s["oneOf"].as_array() {
        let some = alts.iter().find(|a| a["type"] != json!("null")).unwrap();
        return sample(doc, some);
    }
    if let Some(first) = s["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let ty = match &s["type"] {
        Value::Array(ts) => ts.iter().find(|t| *t != "null").cloned().unwrap(),
        t => t.clone(),
    };
    match ty.as_str().unwrap() {
        "string" if s["format"] == json!("date-time") => json!("2026-10-01T00:00:00Z"),
        "string" => json!("x"),
        "integer" => json!(1),
        "boolean" => json!(true),
        other => panic!("no sample of {other}"),
    }
}

/// Whether the core type of `kind` deserializes `item` (only the parse; the
/// engine's field checks come after it).
fn parses(kind: FactKind, item: &Value) -> bool {
    fn de<T: serde::de::DeserializeOwned>(item: &Value) -> bool {
        serde_json::from_value::<T>(item.clone()).is_ok()
    }
    floorline_core::with_fact_type!(kind, T => de::<T>(item))
}

#[test]
fn fact_mirrors_match_the_engines_fields() {
    let doc = doc();
    for kind in FactKind::ALL {
        let name = mirror_name(kind);
        let schema = &doc["components"]["schemas"][name.as_ref()];
        let props = schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} missing"));
        let mirrored: BTreeSet<&str> = props.keys().map(String::as_str).collect();
        let fields: BTreeSet<&str> = kind.fields().iter().copied().collect();
        assert_eq!(mirrored, fields, "{name} vs FactKind::{kind:?}.fields()");
        // The operation takes a batch of exactly this mirror, at most the batch limit.
        let path = format!("/v1/ingest/{}", kind.as_str());
        let body = &doc["paths"][&path]["post"]["requestBody"];
        assert_eq!(body["required"], json!(true), "{path}");
        let batch = resolve(&doc, &body["content"]["application/json"]["schema"]);
        assert_eq!(batch["type"], json!("array"), "{path}");
        assert_eq!(
            batch["maxItems"],
            json!(floorline_store::MAX_BATCH_ITEMS),
            "{path}"
        );
        assert_eq!(
            batch["items"]["$ref"],
            json!(format!("#/components/schemas/{name}")),
            "{path}"
        );
        // Required-ness is the core type's: a field is required exactly
        // when the item does not parse without it.
        let full: serde_json::Map<String, Value> = props
            .iter()
            .map(|(k, s)| (k.clone(), sample(&doc, s)))
            .collect();
        assert!(
            parses(kind, &Value::Object(full.clone())),
            "{name}: a full sample must parse: {full:?}"
        );
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r.as_str().unwrap())
            .collect();
        for field in &fields {
            let mut without = full.clone();
            without.remove(*field);
            let needed = !parses(kind, &Value::Object(without));
            assert_eq!(
                required.contains(field),
                needed,
                "{name}.{field}: required in the schema vs by the parser"
            );
            // An optional field that the schema calls nullable takes `null`.
            let nullable = match &props[*field]["type"] {
                Value::Array(ts) => ts.contains(&json!("null")),
                _ => props[*field]["oneOf"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x["type"] == json!("null"))),
            };
            if nullable {
                let mut null = full.clone();
                null.insert((*field).to_string(), Value::Null);
                assert!(
                    parses(kind, &Value::Object(null)),
                    "{name}.{field}: nullable but null does not parse"
                );
            }
        }
        // Identifier fields carry SPEC §1's pattern.
        for id in [
            "machine_id",
            "account_id",
            "session_id",
            "job_id",
            "probe_id",
            "provider_key",
            "payout_identity",
            "consumer_account_id",
        ] {
            if let Some(p) = props.get(id) {
                assert_eq!(
                    p["pattern"],
                    json!(floorline_server::wire::facts::ID_PATTERN),
                    "{name}.{id}"
                );
            }
        }
    }
    // The documented ingest operations are the served routes, those of
    // `FactKind::ALL`, no more and no fewer.
    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|p| p.starts_with("/v1/ingest/"))
        .collect();
    let served: Vec<String> = FactKind::ALL
        .iter()
        .map(|k| format!("/v1/ingest/{k}"))
        .collect();
    assert_eq!(documented, served.iter().map(String::as_str).collect());
}

/// The response schema of `method path` for `status` and JSON.
fn answer_schema<'a>(doc: &'a Value, method: &str, path: &str, status: &str) -> &'a Value {
    &doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
}

#[tokio::test]
async fn served_answers_validate_against_the_document() {
    let doc = doc();
    let s = TestServer::start("").await;
    s.seed().await;
    let (st, preview) = s
        .post("/v1/admin/epochs/2026-10/preview", &s.admin, json!({}))
        .await;
    assert_eq!(st, 200, "{preview}");
    assert_valid(
        &doc,
        answer_schema(&doc, "post", "/v1/admin/epochs/{epoch}/preview", "200"),
        &preview,
        "preview",
    );
    let (st, run) = s
        .post(
            "/v1/admin/epochs/2026-10/settle",
            &s.admin,
            json!({"force": true}),
        )
        .await;
    assert_eq!(st, 200, "{run}");
    assert_valid(
        &doc,
        answer_schema(&doc, "post", "/v1/admin/epochs/{epoch}/settle", "200"),
        &run,
        "settle",
    );
    let (st, entry) = s.post("/v1/admin/adjustments", &s.admin, json!({"account_id": "alice", "amount_micro_usd": 5, "kind": "adjustment", "reason": "audit"})).await;
    assert_eq!(st, 200, "{entry}");
    assert_valid(
        &doc,
        answer_schema(&doc, "post", "/v1/admin/adjustments", "200"),
        &entry,
        "adjustment",
    );
    let admin = s.admin.clone();
    let alice = s.alice.clone();
    let gets: Vec<(&str, String, &str)> = vec![
        (
            "/v1/admin/base-rewards",
            "/v1/admin/base-rewards".into(),
            &admin,
        ),
        ("/v1/admin/epochs", "/v1/admin/epochs".into(), &admin),
        (
            "/v1/admin/epochs/{epoch}",
            "/v1/admin/epochs/2026-10".into(),
            &admin,
        ),
        (
            "/v1/admin/epochs/{epoch}/draws",
            "/v1/admin/epochs/2026-10/draws?limit=5".into(),
            &admin,
        ),
        (
            "/v1/admin/epochs/{epoch}/verify",
            "/v1/admin/epochs/2026-10/verify".into(),
            &admin,
        ),
        (
            "/v1/admin/epochs/{epoch}/verify",
            "/v1/admin/epochs/2026-10/verify?drift=true".into(),
            &admin,
        ),
        (
            "/v1/admin/epochs/{epoch}/machines/{machine}/explain",
            "/v1/admin/epochs/2026-10/machines/m-alice-64/explain".into(),
            &admin,
        ),
        (
            "/v1/admin/months/{month}",
            "/v1/admin/months/2026-10".into(),
            &admin,
        ),
        (
            "/v1/admin/months/{month}/draws",
            "/v1/admin/months/2026-10/draws".into(),
            &admin,
        ),
        (
            "/v1/provider/machines",
            "/v1/provider/machines".into(),
            &alice,
        ),
        (
            "/v1/provider/machines/{machine}",
            "/v1/provider/machines/m-alice-64".into(),
            &alice,
        ),
        (
            "/v1/provider/history",
            "/v1/provider/history".into(),
            &alice,
        ),
    ];
    let mut seen = BTreeSet::new();
    for (template, path, key) in &gets {
        let (st, body) = s.get(path, key).await;
        assert_eq!(st, 200, "{path}: {body}");
        assert_valid(
            &doc,
            answer_schema(&doc, "get", template, "200"),
            &body,
            path,
        );
        seen.insert(*template);
    }
    let (st, verify) = s
        .get("/v1/admin/epochs/2026-10/verify?drift=true", &admin)
        .await;
    assert_eq!(st, 200);
    assert!(verify["drift"].is_object(), "{verify}");
    let (st, health) = s.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(st, 200);
    assert_valid(
        &doc,
        answer_schema(&doc, "get", "/healthz", "200"),
        &health,
        "/healthz",
    );
    seen.insert("/healthz");
    // Every JSON GET of the document was fetched.
    for (path, method, op) in operations(&doc) {
        let json_answer = op["responses"]["200"]["content"]["application/json"].is_object();
        if method == "get" && json_answer && path != "/openapi.json" {
            assert!(seen.contains(path.as_str()), "GET {path} not checked");
        }
    }
    // The CSV form is text.
    let resp = s
        .http
        .get(format!(
            "{}/v1/admin/epochs/2026-10/draws?format=csv",
            s.url
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    // An error answer is an ErrorBody.
    let (st, body) = s.get("/v1/admin/epochs/2026-13", &admin).await;
    assert_eq!(st, 400);
    assert_valid(
        &doc,
        answer_schema(&doc, "get", "/v1/admin/epochs/{epoch}", "400"),
        &body,
        "400",
    );
}

#[tokio::test]
async fn a_heartbeat_to_the_sessions_operation_is_refined_and_unknown_kinds_are_404() {
    let doc = doc();
    let s = TestServer::start("").await;
    s.seed().await;
    let beat = json!([{"session_id": "s-a64-oct", "machine_id": "m-alice-64", "connected_at": "2026-09-30T00:00:00Z", "last_seen_at": "2026-11-10T11:59:50Z"}]);
    let (st, body) = s.post("/v1/ingest/sessions", &s.ingest, beat).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["refined"], json!(1), "{body}");
    assert_eq!(body["accepted"], json!(0), "{body}");
    assert_valid(
        &doc,
        answer_schema(&doc, "post", "/v1/ingest/sessions", "200"),
        &body,
        "ingest answer",
    );
    let (st, body) = s.post("/v1/ingest/nonsense", &s.ingest, json!([])).await;
    assert_eq!(st, 404, "{body}");
    assert_eq!(body["error"]["code"], json!("not_found"), "{body}");
    assert_valid(
        &doc,
        &json!({"$ref": "#/components/schemas/ErrorBody"}),
        &body,
        "404",
    );
    // Every kind is served at its own path, behind the ingest role.
    for kind in FactKind::ALL {
        let (st, body) = s
            .post(
                &format!("/v1/ingest/{}", kind.as_str()),
                &s.admin,
                json!([]),
            )
            .await;
        assert_eq!(st, 403, "{kind:?}: {body}");
        let (st, body) = s
            .post(
                &format!("/v1/ingest/{}", kind.as_str()),
                &s.ingest,
                json!([]),
            )
            .await;
        assert_eq!(st, 200, "{kind:?}: {body}");
    }
}

#[test]
fn the_validator_refuses_what_breaks_a_schema() {
    let doc = doc();
    let ingest = json!({"$ref": "#/components/schemas/IngestAnswer"});
    let good = json!({"accepted": 1, "refined": 0, "duplicates": 0, "conflicts": [], "ignored_fields": []});
    let mut errs = Vec::new();
    check(&doc, &ingest, &good, "$", false, &mut errs);
    assert!(errs.is_empty(), "{errs:?}");
    for bad in [
        json!({"accepted": 1, "duplicates": 0, "conflicts": [], "ignored_fields": []}),
        json!({"accepted": "1", "refined": 0, "duplicates": 0, "conflicts": [], "ignored_fields": []}),
        json!({"accepted": 1, "refined": 0, "duplicates": 0, "conflicts": [], "ignored_fields": [], "renamed": 1}),
        json!({"accepted": 1, "refined": 0, "duplicates": 0, "conflicts": [{"index": 0}], "ignored_fields": []}),
    ] {
        let mut errs = Vec::new();
        check(&doc, &ingest, &bad, "$", false, &mut errs);
        assert!(!errs.is_empty(), "{bad} passed");
    }
    let gate = json!({"$ref": "#/components/schemas/GateBody"});
    let mut errs = Vec::new();
    check(
        &doc,
        &gate,
        &json!({"gate": "uptime", "passed": false, "reason": "not_a_reason"}),
        "$",
        false,
        &mut errs,
    );
    assert!(!errs.is_empty(), "an unknown enum word passed");
}

/// Daily periods (SPEC §10): the month pages, a period's pages and the
/// provider's accrued month validate too.
#[tokio::test]
async fn served_answers_under_daily_periods_validate_against_the_document() {
    let doc = doc();
    let s = crate::periods::daily_server().await;
    let admin = s.admin.clone();
    let alice = s.alice.clone();
    let gets: Vec<(&str, &str, &str)> = vec![
        ("/v1/admin/base-rewards", "/v1/admin/base-rewards", &admin),
        ("/v1/admin/epochs", "/v1/admin/epochs", &admin),
        (
            "/v1/admin/epochs/{epoch}",
            "/v1/admin/epochs/2026-11-09",
            &admin,
        ),
        (
            "/v1/admin/epochs/{epoch}/draws",
            "/v1/admin/epochs/2026-11-09/draws",
            &admin,
        ),
        (
            "/v1/admin/epochs/{epoch}/verify",
            "/v1/admin/epochs/2026-11-09/verify?drift=true",
            &admin,
        ),
        (
            "/v1/admin/months/{month}",
            "/v1/admin/months/2026-11?limit=3&offset=7",
            &admin,
        ),
        (
            "/v1/admin/months/{month}/draws",
            "/v1/admin/months/2026-11/draws",
            &admin,
        ),
        ("/v1/provider/machines", "/v1/provider/machines", &alice),
        (
            "/v1/provider/machines/{machine}",
            "/v1/provider/machines/m-alice-64",
            &alice,
        ),
        ("/v1/provider/history", "/v1/provider/history", &alice),
    ];
    for (template, path, key) in gets {
        let (st, body) = s.get(path, key).await;
        assert_eq!(st, 200, "{path}: {body}");
        assert_valid(
            &doc,
            answer_schema(&doc, "get", template, "200"),
            &body,
            path,
        );
    }
}
