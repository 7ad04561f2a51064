//! Request bodies before the typed parse: a body is exactly one JSON document
//! (trailing whitespace is fine; anything else after it — garbage, a second
//! document, `]]]`, a NUL byte — is 400 and nothing is written), and the keys
//! of a batch's items that name no field of the fact, so that the ingest
//! answer can list them (`ignored_fields`) and a coordinator notices a typo.
//!
//! One pass over the text that allocates only for the unknown keys. A body
//! that is not well-formed JSON passes here untouched: the typed parse that
//! follows names the problem with its item and field (422).

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::ApiError;

/// Checks that `text` holds one JSON document and nothing after it but
/// whitespace.
pub fn one_document(text: &str) -> Result<(), ApiError> {
    unknown_item_fields(text, None).map(|_| ())
}

/// Checks [`one_document`] and returns the keys of the objects of a
/// top-level array that are not in `known`, deduplicated and sorted.
/// With `known = None` no key is collected.
pub fn unknown_item_fields(text: &str, known: Option<&[&str]>) -> Result<Vec<String>, ApiError> {
    let mut unknown = BTreeSet::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = Document {
        known,
        unknown: &mut unknown,
    };
    if seed.deserialize(&mut de).is_err() {
        // Not well-formed: the typed parse reports it, naming the place.
        return Ok(Vec::new());
    }
    de.end().map_err(|e| {
        let mut err =
            ApiError::bad_request(format!("the body must be exactly one JSON document: {e}"));
        err.field = Some("body".to_string());
        err
    })?;
    Ok(unknown.into_iter().collect())
}

/// The scalars and containers a visitor skips.
macro_rules! skip_scalars {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    };
}

/// The whole body: a top-level array's elements are items.
struct Document<'a> {
    known: Option<&'a [&'a str]>,
    unknown: &'a mut BTreeSet<String>,
}

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Document<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON document")
    }
    skip_scalars!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Item {
                known: self.known,
                unknown: &mut *self.unknown,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// One item of a batch: its keys are checked, its values skipped.
struct Item<'a> {
    known: Option<&'a [&'a str]>,
    unknown: &'a mut BTreeSet<String>,
}

impl<'de> DeserializeSeed<'de> for Item<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Item<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a fact")
    }
    skip_scalars!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map
            .next_key_seed(Key {
                known: self.known,
                unknown: &mut *self.unknown,
            })?
            .is_some()
        {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// One key of an item: recorded when it names no known field.
struct Key<'a> {
    known: Option<&'a [&'a str]>,
    unknown: &'a mut BTreeSet<String>,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E>(self, key: &str) -> Result<(), E> {
        if let Some(known) = self.known {
            if !known.contains(&key) && !self.unknown.contains(key) {
                self.unknown.insert(key.to_string());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_document_and_trailing_whitespace_pass() {
        for ok in ["[]", "[] \n\t ", "{\"a\": 1}\r\n", "  [1, {\"b\": [2]}]  "] {
            assert_eq!(one_document(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn anything_after_the_document_is_400() {
        for bad in ["[] x", "[][]", "[]]]]", "[]\0", "{} {}", "[1] // comment"] {
            let err = one_document(bad).unwrap_err();
            assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST, "{bad:?}");
            assert_eq!(err.field.as_deref(), Some("body"));
        }
    }

    #[test]
    fn malformed_documents_are_left_to_the_typed_parse() {
        for malformed in ["", "[", "[{\"a\": }]", "nul"] {
            assert_eq!(unknown_item_fields(malformed, Some(&[])), Ok(Vec::new()));
        }
    }

    #[test]
    fn unknown_keys_of_items_are_listed_once_sorted() {
        let known = ["session_id", "disconnected_at"];
        let body = r#"[{"session_id": "s", "disconected_at": 1, "z": {"deep": 1}},
                       {"disconected_at": 2, "a\u0062": null}, 7, [1]]"#;
        assert_eq!(
            unknown_item_fields(body, Some(&known)),
            Ok(vec!["ab".to_string(), "disconected_at".into(), "z".into()])
        );
        // Keys of nested objects are the fact's business, not listed here.
        assert_eq!(unknown_item_fields(body, None), Ok(Vec::new()));
    }
}
