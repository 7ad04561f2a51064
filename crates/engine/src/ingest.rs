//! Ingestion by fact kind (core's `FactKind`) for the HTTP API and for
//! `floorline import`: bodies and files are parsed whole, with errors naming
//! `[index].field` or `line N`, before the store's generic `Store::ingest`
//! validates and writes the batch.

use floorline_core::bundle::{parse_json, Probe};
use floorline_core::facts::PROBER_SOURCE;
use floorline_core::kind::{Fact, FactKind};
use floorline_core::{with_fact_type, CoreError, Invalid};
use floorline_store::{IngestReport, Store, StoreError, StoreFact};

use crate::{Engine, EngineError};

/// Parses a JSON array body of `T`, naming `body[index].field` on error
/// (`body` alone when it is no array), and refuses more than `max_items`.
pub fn parse_batch<T: Fact>(body: &str, max_items: usize) -> Result<Vec<T>, EngineError> {
    let items: Vec<T> = parse_json(body, "body").map_err(|e| match e {
        CoreError::Invalid(items) => EngineError::Invalid(items),
        other => EngineError::Core(other),
    })?;
    if items.len() > max_items {
        return Err(EngineError::Store(StoreError::BatchTooLarge {
            items: items.len(),
            max: max_items,
        }));
    }
    Ok(items)
}

/// The formats `floorline import --kind` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

impl Format {
    pub fn from_path(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => Format::Csv,
            _ => Format::Ndjson,
        }
    }
}

/// A CSV error as `field: message` when it concerns one column (csv itself
/// says `record 3 (line: 5, byte: 152): field 3: …`, counting columns from 0).
fn csv_message(e: &csv::Error, headers: &csv::StringRecord) -> String {
    if let csv::ErrorKind::Deserialize { err, .. } = e.kind() {
        let name = err
            .field()
            .and_then(|f| usize::try_from(f).ok())
            .and_then(|f| headers.get(f));
        return match name {
            Some(name) => format!("{name}: {}", err.kind()),
            None => err.kind().to_string(),
        };
    }
    e.to_string()
}

/// Parses NDJSON (one fact per line) or CSV (a header of field names) into
/// facts with the line each came from, checking every field; every bad line
/// is reported as `line N: field: message`.
pub fn parse_lines<T: Fact>(text: &str, format: Format) -> Result<Vec<(usize, T)>, Vec<String>> {
    let mut items = Vec::new();
    let mut errors = Vec::new();
    let mut push_err = |line: usize, e: String| errors.push(format!("line {line}: {e}"));
    match format {
        Format::Ndjson => {
            for (i, raw) in text.lines().enumerate() {
                let line = i.saturating_add(1);
                if raw.trim().is_empty() {
                    continue;
                }
                match parse_json::<T>(raw, "") {
                    Ok(item) => items.push((line, item)),
                    Err(e) => push_err(line, e.to_string()),
                }
            }
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            let headers = match reader.headers() {
                Ok(h) => h.clone(),
                Err(e) => return Err(vec![format!("line 1: {e}")]),
            };
            for (i, record) in reader.records().enumerate() {
                // The line the record starts on: a quoted field may hold line breaks.
                let position = match &record {
                    Ok(r) => r.position().cloned(),
                    Err(e) => e.position().cloned(),
                };
                let line = position
                    .and_then(|p| usize::try_from(p.line()).ok())
                    .unwrap_or_else(|| i.saturating_add(2));
                match record.and_then(|r| r.deserialize::<T>(Some(&headers))) {
                    Ok(item) => items.push((line, item)),
                    Err(e) => push_err(line, csv_message(&e, &headers)),
                }
            }
        }
    }
    for (line, item) in &items {
        let mut errs: Vec<Invalid> = Vec::new();
        item.check_item("", &mut errs);
        for e in errs {
            errors.push(format!(
                "line {line}: {}: {}",
                e.path.trim_start_matches('.'),
                e.message
            ));
        }
    }
    if errors.is_empty() {
        Ok(items)
    } else {
        Err(errors)
    }
}

/// §2 trust boundary: an ingest key speaks for the coordinator, and only
/// floorline's own prober writes `source = "prober"` (what
/// `require_own_probes` reads), so a batch claiming it is refused whole.
fn refuse_prober_source(items: &[Probe]) -> Result<(), EngineError> {
    let errs: Vec<Invalid> = items
        .iter()
        .enumerate()
        .filter(|(_, p)| p.source.as_deref() == Some(PROBER_SOURCE))
        .map(|(i, _)| {
            Invalid::new(
                format!("probes[{i}].source"),
                format!("only floorline's own prober writes source \"{PROBER_SOURCE}\""),
            )
        })
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        Err(EngineError::Invalid(errs))
    }
}

/// The fields of a file's facts that `T` does not have (they are ignored),
/// each with the first line that has it: CSV header columns, or NDJSON
/// object keys. A typo'd field name would otherwise drop its data silently.
pub fn unknown_fields<T: Fact>(text: &str, format: Format) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    let mut note = |name: &str, line: usize| {
        if !T::fields().contains(&name) && !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_string(), line));
        }
    };
    match format {
        Format::Ndjson => {
            for (i, raw) in text.lines().enumerate() {
                if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(raw) {
                    for key in map.keys() {
                        note(key, i.saturating_add(1));
                    }
                }
            }
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            if let Ok(headers) = reader.headers() {
                for h in headers {
                    note(h, 1);
                }
            }
        }
    }
    out
}

impl Engine {
    /// Parses and ingests one JSON batch of `kind` (the HTTP path: a
    /// coordinator's facts).
    pub async fn ingest_json(
        &self,
        kind: FactKind,
        body: &str,
        max_items: usize,
    ) -> Result<IngestReport, EngineError> {
        async fn go<T: StoreFact>(
            store: &Store,
            body: &str,
            max: usize,
        ) -> Result<IngestReport, EngineError> {
            let items: Vec<T> = parse_batch(body, max)?;
            Ok(store.ingest(&items).await?)
        }
        let store = &self.store;
        if kind == FactKind::Probes {
            let items: Vec<Probe> = parse_batch(body, max_items)?;
            refuse_prober_source(&items)?;
            return Ok(store.ingest(&items).await?);
        }
        with_fact_type!(kind, T => go::<T>(store, body, max_items).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use floorline_core::bundle::{Alias, Attestation, Binding, Earning, Health, Session};
    use floorline_core::Watermark;
    use serde_json::{json, Value};
    use std::collections::BTreeSet;

    #[test]
    fn an_ingest_key_cannot_claim_the_probers_source() {
        let batch: Vec<Probe> = parse_batch(
            r#"[{"probe_id": "a", "machine_id": "m", "at": "2026-10-01T00:00:00Z", "passed": true},
                {"probe_id": "b", "machine_id": "m", "at": "2026-10-01T00:00:00Z", "passed": true, "source": "prober"}]"#,
            10,
        )
        .unwrap();
        let err = refuse_prober_source(&batch).unwrap_err().to_string();
        assert!(
            err.starts_with("probes[1].source: only floorline's own prober"),
            "{err}"
        );
        assert!(refuse_prober_source(&batch[..1]).is_ok());
    }

    /// A fact of `T` with every field set, serialized back: its keys are the
    /// fields `FactKind::fields` names, no more and no fewer.
    fn round_trip<T: Fact>(full: Value) -> BTreeSet<String> {
        let fact: T = serde_json::from_value(full).unwrap();
        match serde_json::to_value(fact).unwrap() {
            Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn each_kinds_field_list_is_the_fields_of_its_type() {
        let t = "2026-10-01T00:00:00Z";
        let cases: Vec<(FactKind, BTreeSet<String>)> = vec![
            (
                FactKind::Machines,
                round_trip::<Attestation>(
                    json!({"machine_id": "m", "attested_at": t, "hardware_model": "Mac16,11", "reported_memory_gb": 64, "trust": "hardware", "se_public_key": "K"}),
                ),
            ),
            (
                FactKind::Aliases,
                round_trip::<Alias>(json!({"provider_key": "p", "machine_id": "m", "from": t})),
            ),
            (
                FactKind::Bindings,
                round_trip::<Binding>(
                    json!({"machine_id": "m", "account_id": "a", "payout_identity": "p", "from": t, "to": "2026-10-02T00:00:00Z"}),
                ),
            ),
            (
                FactKind::Sessions,
                round_trip::<Session>(
                    json!({"session_id": "s", "machine_id": "m", "connected_at": t, "last_seen_at": t, "disconnected_at": t}),
                ),
            ),
            (
                FactKind::Health,
                round_trip::<Health>(
                    json!({"machine_id": "m", "at": t, "healthy": false, "reason": "r"}),
                ),
            ),
            (
                FactKind::Earnings,
                round_trip::<Earning>(
                    json!({"job_id": "j", "machine_id": "m", "consumer_account_id": "c", "amount_micro_usd": 1, "kind": "inference", "pinned": true, "model": "x", "at": t}),
                ),
            ),
            (
                FactKind::Probes,
                round_trip::<Probe>(
                    json!({"probe_id": "p", "machine_id": "m", "at": t, "passed": false, "failure": "f", "model": "x", "verified_memory_gb": 64, "source": "coordinator"}),
                ),
            ),
            (
                FactKind::Watermarks,
                round_trip::<Watermark>(json!({"source": "s", "up_to": t})),
            ),
        ];
        assert_eq!(cases.len(), FactKind::ALL.len());
        for (kind, keys) in cases {
            let fields: BTreeSet<String> = kind.fields().iter().map(|f| f.to_string()).collect();
            assert_eq!(fields, keys, "{}", kind.as_str());
        }
    }

    #[test]
    fn field_names_are_the_derived_ones() {
        assert_eq!(Watermark::fields(), &["source", "up_to"]);
        assert_eq!(
            Binding::fields(),
            &["machine_id", "account_id", "payout_identity", "from", "to"]
        );
        let unknown = unknown_fields::<Binding>(
            "{\"machine_id\": \"m\", \"form\": 1}\n{\"form\": 2, \"x\": 3}",
            Format::Ndjson,
        );
        assert_eq!(unknown, vec![("form".to_string(), 1), ("x".to_string(), 2)]);
    }
}
