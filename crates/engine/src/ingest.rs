//! Ingestion by fact kind: the one place that maps a kind name
//! (`earnings`) to its type and its store call, for the HTTP API and for
//! `floorline import`. Bodies are parsed whole, with errors naming
//! `[index].field`, before the store validates and writes the batch.

use std::future::Future;

use floorline_core::bundle::{
    parse_json, Alias, Attestation, Binding, Bundle, Check, Earning, Health, Probe, Session,
};
use floorline_core::facts::PROBER_SOURCE;
use floorline_core::{CoreError, EpochId, Invalid};
use floorline_store::{IngestReport, Store, StoreError, Watermark};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Engine, EngineError};

/// The kinds of facts that can be ingested (SPEC §8 HTTP ingestion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FactKind {
    Machines,
    Aliases,
    Bindings,
    Sessions,
    Health,
    Earnings,
    Probes,
    Watermarks,
}

impl FactKind {
    pub const ALL: [FactKind; 8] = [
        FactKind::Machines,
        FactKind::Aliases,
        FactKind::Bindings,
        FactKind::Sessions,
        FactKind::Health,
        FactKind::Earnings,
        FactKind::Probes,
        FactKind::Watermarks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::Machines => "machines",
            FactKind::Aliases => "aliases",
            FactKind::Bindings => "bindings",
            FactKind::Sessions => "sessions",
            FactKind::Health => "health",
            FactKind::Earnings => "earnings",
            FactKind::Probes => "probes",
            FactKind::Watermarks => "watermarks",
        }
    }

    pub fn parse(text: &str) -> Option<FactKind> {
        FactKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The field names a fact of this kind has (SPEC §2), read off its type:
    /// a key of an ingested item outside this list is ignored by the parser,
    /// and the HTTP answer names it (`ignored_fields`).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            FactKind::Machines => struct_fields::<Attestation>(),
            FactKind::Aliases => struct_fields::<Alias>(),
            FactKind::Bindings => struct_fields::<Binding>(),
            FactKind::Sessions => struct_fields::<Session>(),
            FactKind::Health => struct_fields::<Health>(),
            FactKind::Earnings => struct_fields::<Earning>(),
            FactKind::Probes => struct_fields::<Probe>(),
            FactKind::Watermarks => struct_fields::<Watermark>(),
        }
    }
}

/// The field names serde's derive hands to `deserialize_struct` for `T`, so
/// that the list can never drift from the type (empty for a type that is
/// not a plain struct).
pub fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Error as _, Visitor};
    use serde::forward_to_deserialize_any;

    /// A deserializer that only records the field list it is asked for.
    struct Fields<'a>(&'a mut &'static [&'static str]);

    impl<'de> serde::Deserializer<'de> for Fields<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(Self::Error::custom("field names recorded"))
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    // The error is the point: the derive stops once it has named its fields.
    let _ = T::deserialize(Fields(&mut fields));
    fields
}

/// A fact type that can be ingested.
pub trait IngestFact: DeserializeOwned + Serialize + Clone + Send + Sync + 'static {
    const KIND: FactKind;
    /// Field-level checks (identifiers, signs, order of times).
    fn check_item(&self, path: &str, errs: &mut Vec<Invalid>);
    /// The field names a fact of this kind has (others are ignored, and
    /// `floorline import` says so), as its `Deserialize` declares them.
    fn fields() -> &'static [&'static str] {
        struct_fields::<Self>()
    }
    /// Writes one batch.
    fn ingest(
        store: &Store,
        items: &[Self],
    ) -> impl Future<Output = Result<IngestReport, StoreError>> + Send;
    /// Checks every item as one whole (any number of them, against the
    /// store and each other: names, overlaps, sums) and writes nothing;
    /// errors name `kind[index]` counted from the first item.
    fn check_all(
        store: &Store,
        items: Vec<Self>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A bundle holding nothing; its epoch is never read by ingestion.
fn empty_bundle() -> Result<Bundle, StoreError> {
    let epoch = EpochId::new(2000, 1).map_err(StoreError::Config)?;
    Ok(Bundle {
        epoch,
        policy: None,
        machines: Vec::new(),
        aliases: Vec::new(),
        bindings: Vec::new(),
        sessions: Vec::new(),
        health: Vec::new(),
        earnings: Vec::new(),
        probes: Vec::new(),
        prior_draws: Vec::new(),
        previous_totals: Vec::new(),
    })
}

macro_rules! ingest_fact {
    ($t:ty, $kind:expr, $method:ident, $field:ident) => {
        impl IngestFact for $t {
            const KIND: FactKind = $kind;
            fn check_all(
                store: &Store,
                items: Vec<Self>,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                async move {
                    let mut b = empty_bundle()?;
                    b.$field = items;
                    store.check_bundle(&b).await
                }
            }
            fn check_item(&self, path: &str, errs: &mut Vec<Invalid>) {
                Check::check(self, path, errs);
            }
            fn ingest(
                store: &Store,
                items: &[Self],
            ) -> impl Future<Output = Result<IngestReport, StoreError>> + Send {
                store.$method(items)
            }
        }
    };
}

ingest_fact!(
    Attestation,
    FactKind::Machines,
    ingest_attestations,
    machines
);
ingest_fact!(Alias, FactKind::Aliases, ingest_aliases, aliases);
ingest_fact!(Binding, FactKind::Bindings, ingest_bindings, bindings);
ingest_fact!(Session, FactKind::Sessions, ingest_sessions, sessions);
ingest_fact!(Health, FactKind::Health, ingest_health, health);
ingest_fact!(Earning, FactKind::Earnings, ingest_earnings, earnings);
ingest_fact!(Probe, FactKind::Probes, ingest_probes, probes);

impl IngestFact for Watermark {
    const KIND: FactKind = FactKind::Watermarks;
    /// Watermarks have no checks beyond their fields (an earlier one is a
    /// conflict, never an error).
    fn check_all(
        _store: &Store,
        _items: Vec<Self>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        std::future::ready(Ok(()))
    }
    fn check_item(&self, path: &str, errs: &mut Vec<Invalid>) {
        if let Err(m) = floorline_core::bundle::check_id(&self.source) {
            errs.push(Invalid::new(format!("{path}.source"), m));
        }
    }
    fn ingest(
        store: &Store,
        items: &[Self],
    ) -> impl Future<Output = Result<IngestReport, StoreError>> + Send {
        store.ingest_watermarks(items)
    }
}

/// Parses a JSON array body of `T`, naming `body[index].field` on error
/// (`body` alone when it is no array), and refuses more than `max_items`.
pub fn parse_batch<T: IngestFact>(body: &str, max_items: usize) -> Result<Vec<T>, EngineError> {
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
pub fn parse_lines<T: IngestFact>(
    text: &str,
    format: Format,
) -> Result<Vec<(usize, T)>, Vec<String>> {
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
pub fn unknown_fields<T: IngestFact>(text: &str, format: Format) -> Vec<(String, usize)> {
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
        async fn go<T: IngestFact>(
            store: &Store,
            body: &str,
            max: usize,
        ) -> Result<IngestReport, EngineError> {
            let items: Vec<T> = parse_batch(body, max)?;
            Ok(T::ingest(store, &items).await?)
        }
        let store = &self.store;
        match kind {
            FactKind::Machines => go::<Attestation>(store, body, max_items).await,
            FactKind::Aliases => go::<Alias>(store, body, max_items).await,
            FactKind::Bindings => go::<Binding>(store, body, max_items).await,
            FactKind::Sessions => go::<Session>(store, body, max_items).await,
            FactKind::Health => go::<Health>(store, body, max_items).await,
            FactKind::Earnings => go::<Earning>(store, body, max_items).await,
            FactKind::Probes => {
                let items: Vec<Probe> = parse_batch(body, max_items)?;
                refuse_prober_source(&items)?;
                Ok(Probe::ingest(store, &items).await?)
            }
            FactKind::Watermarks => go::<Watermark>(store, body, max_items).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn round_trip<T: IngestFact>(full: Value) -> BTreeSet<String> {
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
