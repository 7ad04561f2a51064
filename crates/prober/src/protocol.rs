//! The probe wire protocol (SPEC §7): request and response JSON, the signed
//! message, nonces, probe ids and the known-answer catalog.
//!
//! Invariants:
//! - The JSON field names here are the contract with coordinators and
//!   providers; they never change without a new `floorline-probe-vN` tag.
//! - `temperature` is always `0` and `max_tokens` is always
//!   [`PROBE_MAX_TOKENS`]: the expected hashes in the catalog are computed for
//!   exactly those settings.
//! - A [`CatalogEntry`] that passed [`validate_catalog`] has a non-empty model
//!   and prompt within their size limits and a 64-char lowercase hex
//!   `expected_sha256`.
//! - Nonces are 32 bytes from the caller's RNG, lowercase hex; probe ids match
//!   the SPEC §1 identifier charset. Nothing here reads a clock.

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Domain-separation tag: the first line of every signed message.
pub const SIGNED_MESSAGE_TAG: &str = "floorline-probe-v1";
/// `max_tokens` sent with every probe. The catalog's expected hashes are the
/// hashes of temperature-0 answers generated with exactly this limit.
pub const PROBE_MAX_TOKENS: u32 = 256;
/// Bytes of randomness in a nonce (hex-encoded to twice as many chars).
pub const NONCE_BYTES: usize = 32;
/// Bytes of randomness in a generated probe id.
pub const PROBE_ID_RANDOM_BYTES: usize = 16;
/// Prefix of generated probe ids.
pub const PROBE_ID_PREFIX: &str = "probe-";
/// Longest identifier (SPEC §1).
pub const MAX_IDENTIFIER_CHARS: usize = 128;
/// Longest catalog model name, in bytes.
pub const MAX_MODEL_BYTES: usize = 256;
/// Longest catalog prompt, in bytes.
pub const MAX_PROMPT_BYTES: usize = 32 * 1024;
/// Most entries one catalog may hold.
pub const MAX_CATALOG_ENTRIES: usize = 100_000;
/// Largest `min_memory_gb` a catalog entry may claim.
pub const MAX_MIN_MEMORY_GB: u32 = 4096;

/// `POST {dispatch_url}` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRequest {
    pub probe_id: String,
    pub machine_id: String,
    pub model: String,
    pub prompt: String,
    pub nonce: String,
    /// Always 0.
    pub temperature: u32,
    pub max_tokens: u32,
}

impl ProbeRequest {
    /// Builds the request for `entry` with temperature 0 and
    /// [`PROBE_MAX_TOKENS`].
    pub fn new(probe_id: String, machine_id: String, entry: &CatalogEntry, nonce: String) -> Self {
        Self {
            probe_id,
            machine_id,
            model: entry.model.clone(),
            prompt: entry.prompt.clone(),
            nonce,
            temperature: 0,
            max_tokens: PROBE_MAX_TOKENS,
        }
    }
}

/// A provider's refusal (any status but `200`): `{"error": {"code",
/// "message"}}`. The prober reads only the status (`transport_error`); the
/// body is for the people reading a provider's logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRefusal {
    pub error: RefusalDetail,
}

/// What a [`ProviderRefusal`] says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalDetail {
    pub code: String,
    pub message: String,
}

impl ProviderRefusal {
    pub fn new(code: &str, message: &str) -> ProviderRefusal {
        ProviderRefusal {
            error: RefusalDetail {
                code: code.to_string(),
                message: message.to_string(),
            },
        }
    }
}

/// The `200` response body. Unknown fields are ignored so providers may add
/// fields; a missing or `null` `signature` is kept as `None` so the verdict
/// can say `bad_signature` rather than `transport_error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResponse {
    pub probe_id: String,
    pub nonce: String,
    pub text: String,
    pub response_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// The bytes a provider signs:
/// UTF-8 of `floorline-probe-v1\n{probe_id}\n{nonce}\n{response_sha256}`.
pub fn signed_message(probe_id: &str, nonce: &str, response_sha256: &str) -> Vec<u8> {
    format!("{SIGNED_MESSAGE_TAG}\n{probe_id}\n{nonce}\n{response_sha256}").into_bytes()
}

/// Lowercase hex SHA-256 of `text`'s UTF-8 bytes.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A fresh nonce: [`NONCE_BYTES`] random bytes, lowercase hex.
pub fn new_nonce<R: Rng + ?Sized>(rng: &mut R) -> String {
    let mut bytes = [0_u8; NONCE_BYTES];
    rng.fill(&mut bytes[..]);
    hex::encode(bytes)
}

/// A fresh probe id: `probe-` and [`PROBE_ID_RANDOM_BYTES`] random bytes in
/// lowercase hex (38 chars, inside the identifier charset).
pub fn new_probe_id<R: Rng + ?Sized>(rng: &mut R) -> String {
    let mut bytes = [0_u8; PROBE_ID_RANDOM_BYTES];
    rng.fill(&mut bytes[..]);
    format!("{PROBE_ID_PREFIX}{}", hex::encode(bytes))
}

/// True when `s` is a SPEC §1 identifier: 1–128 chars of
/// `A–Z a–z 0–9 . _ : @ -`.
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_IDENTIFIER_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:_@-".contains(&b))
}

/// True when `s` is 64 lowercase hex chars.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// One known-answer probe (`[[prober.catalog]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    pub model: String,
    pub prompt: String,
    /// Lowercase hex SHA-256 of the model's exact temperature-0 answer.
    pub expected_sha256: String,
    /// A pass proves the machine holds at least this much memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_memory_gb: Option<u32>,
}

/// Picks one entry uniformly at random; `None` for an empty catalog.
pub fn pick<'a, R: Rng + ?Sized>(
    catalog: &'a [CatalogEntry],
    rng: &mut R,
) -> Option<&'a CatalogEntry> {
    if catalog.is_empty() {
        return None;
    }
    catalog.get(rng.gen_range(0..catalog.len()))
}

/// A catalog entry (or the catalog as a whole) is unusable. `index` is the
/// entry's position when validating a whole catalog; `field` names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", catalog_path(*.index, .field))]
pub struct CatalogError {
    pub index: Option<usize>,
    pub field: &'static str,
    pub message: String,
}

fn catalog_path(index: Option<usize>, field: &str) -> String {
    match index {
        Some(i) => format!("catalog[{i}].{field}"),
        None if field.is_empty() => "catalog".to_owned(),
        None => field.to_owned(),
    }
}

impl CatalogEntry {
    /// Checks one entry; the error names the offending field.
    pub fn validate(&self) -> Result<(), CatalogError> {
        let fail = |field: &'static str, message: String| {
            Err(CatalogError {
                index: None,
                field,
                message,
            })
        };
        if self.model.trim().is_empty() {
            return fail("model", "must not be empty".to_owned());
        }
        if self.model.len() > MAX_MODEL_BYTES {
            return fail("model", format!("must be at most {MAX_MODEL_BYTES} bytes"));
        }
        if self.prompt.trim().is_empty() {
            return fail("prompt", "must not be empty".to_owned());
        }
        if self.prompt.len() > MAX_PROMPT_BYTES {
            return fail(
                "prompt",
                format!("must be at most {MAX_PROMPT_BYTES} bytes"),
            );
        }
        if !is_sha256_hex(&self.expected_sha256) {
            return fail(
                "expected_sha256",
                "must be 64 lowercase hex characters".to_owned(),
            );
        }
        if let Some(gb) = self.min_memory_gb {
            if gb == 0 || gb > MAX_MIN_MEMORY_GB {
                return fail(
                    "min_memory_gb",
                    format!("must be between 1 and {MAX_MIN_MEMORY_GB}"),
                );
            }
        }
        Ok(())
    }
}

/// Checks a whole catalog: non-empty, at most [`MAX_CATALOG_ENTRIES`], every
/// entry valid. The error names `catalog[i].field`.
pub fn validate_catalog(catalog: &[CatalogEntry]) -> Result<(), CatalogError> {
    if catalog.is_empty() {
        return Err(CatalogError {
            index: None,
            field: "",
            message: "must hold at least one entry".to_owned(),
        });
    }
    if catalog.len() > MAX_CATALOG_ENTRIES {
        return Err(CatalogError {
            index: None,
            field: "",
            message: format!("must hold at most {MAX_CATALOG_ENTRIES} entries"),
        });
    }
    for (i, entry) in catalog.iter().enumerate() {
        entry.validate().map_err(|e| CatalogError {
            index: Some(i),
            ..e
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn entry() -> CatalogEntry {
        CatalogEntry {
            model: "llama-3-8b".to_owned(),
            prompt: "2+2=".to_owned(),
            expected_sha256: sha256_hex("4"),
            min_memory_gb: Some(16),
        }
    }

    #[test]
    fn signed_message_is_tagged_newline_joined_utf8() {
        let m = signed_message("p-1", "ab", "cd");
        assert_eq!(m, b"floorline-probe-v1\np-1\nab\ncd".to_vec());
    }

    #[test]
    fn sha256_hex_is_lowercase_known_value() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn nonce_is_64_lowercase_hex_and_fresh() {
        let mut rng = StdRng::seed_from_u64(7);
        let a = new_nonce(&mut rng);
        let b = new_nonce(&mut rng);
        assert!(is_sha256_hex(&a), "{a}");
        assert_eq!(a.len(), 2 * NONCE_BYTES);
        assert_ne!(a, b);
    }

    #[test]
    fn probe_id_is_an_identifier() {
        let mut rng = StdRng::seed_from_u64(7);
        let id = new_probe_id(&mut rng);
        assert!(id.starts_with(PROBE_ID_PREFIX));
        assert!(is_identifier(&id), "{id}");
        assert_eq!(id.len(), PROBE_ID_PREFIX.len() + 2 * PROBE_ID_RANDOM_BYTES);
    }

    #[test]
    fn identifier_charset_and_length_boundaries() {
        assert!(is_identifier("Az09._:@-"));
        assert!(is_identifier(&"a".repeat(MAX_IDENTIFIER_CHARS)));
        assert!(!is_identifier(&"a".repeat(MAX_IDENTIFIER_CHARS + 1)));
        assert!(!is_identifier(""));
        assert!(!is_identifier("a b"));
        assert!(!is_identifier("a/b"));
        assert!(!is_identifier("é"));
    }

    #[test]
    fn request_json_has_the_spec_field_names() {
        let req = ProbeRequest::new("p".into(), "m".into(), &entry(), "n".into());
        let v = serde_json::to_value(&req).unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({
                "probe_id": "p", "machine_id": "m", "model": "llama-3-8b",
                "prompt": "2+2=", "nonce": "n", "temperature": 0,
                "max_tokens": PROBE_MAX_TOKENS
            })
        );
    }

    #[test]
    fn response_without_signature_parses_as_none_and_extra_fields_are_ignored() {
        let r: Result<ProbeResponse, _> = serde_json::from_str(
            r#"{"probe_id":"p","nonce":"n","text":"t","response_sha256":"h","extra":1}"#,
        );
        assert!(
            matches!(
                r,
                Ok(ProbeResponse {
                    signature: None,
                    ..
                })
            ),
            "{r:?}"
        );
        let r: Result<ProbeResponse, _> = serde_json::from_str(
            r#"{"probe_id":"p","nonce":"n","text":"t","response_sha256":"h","signature":null}"#,
        );
        assert!(
            matches!(
                r,
                Ok(ProbeResponse {
                    signature: None,
                    ..
                })
            ),
            "{r:?}"
        );
    }

    #[test]
    fn response_missing_text_is_malformed() {
        let r: Result<ProbeResponse, _> =
            serde_json::from_str(r#"{"probe_id":"p","nonce":"n","response_sha256":"h"}"#);
        assert!(r.is_err());
    }

    #[test]
    fn catalog_entry_rejects_unknown_fields() {
        let r: Result<CatalogEntry, _> =
            serde_json::from_str(r#"{"model":"m","prompt":"p","expected_sha256":"00","min_gb":8}"#);
        assert!(r.is_err());
    }

    #[test]
    fn valid_entry_passes() {
        assert_eq!(entry().validate(), Ok(()));
        let no_tier = CatalogEntry {
            min_memory_gb: None,
            ..entry()
        };
        assert_eq!(no_tier.validate(), Ok(()));
    }

    fn field_of(e: CatalogEntry) -> Option<&'static str> {
        e.validate().err().map(|err| err.field)
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(
            field_of(CatalogEntry {
                model: " ".into(),
                ..entry()
            }),
            Some("model")
        );
        assert_eq!(
            field_of(CatalogEntry {
                prompt: String::new(),
                ..entry()
            }),
            Some("prompt")
        );
        let upper = entry().expected_sha256.to_uppercase();
        assert_eq!(
            field_of(CatalogEntry {
                expected_sha256: upper,
                ..entry()
            }),
            Some("expected_sha256")
        );
        let short = "a".repeat(63);
        assert_eq!(
            field_of(CatalogEntry {
                expected_sha256: short,
                ..entry()
            }),
            Some("expected_sha256")
        );
        let not_hex = "g".repeat(64);
        assert_eq!(
            field_of(CatalogEntry {
                expected_sha256: not_hex,
                ..entry()
            }),
            Some("expected_sha256")
        );
    }

    #[test]
    fn size_limits_at_the_boundary() {
        let model_max = CatalogEntry {
            model: "m".repeat(MAX_MODEL_BYTES),
            ..entry()
        };
        assert_eq!(model_max.validate(), Ok(()));
        let model_over = CatalogEntry {
            model: "m".repeat(MAX_MODEL_BYTES + 1),
            ..entry()
        };
        assert_eq!(field_of(model_over), Some("model"));
        let prompt_max = CatalogEntry {
            prompt: "p".repeat(MAX_PROMPT_BYTES),
            ..entry()
        };
        assert_eq!(prompt_max.validate(), Ok(()));
        let prompt_over = CatalogEntry {
            prompt: "p".repeat(MAX_PROMPT_BYTES + 1),
            ..entry()
        };
        assert_eq!(field_of(prompt_over), Some("prompt"));
        for (gb, ok) in [
            (0, false),
            (1, true),
            (MAX_MIN_MEMORY_GB, true),
            (MAX_MIN_MEMORY_GB + 1, false),
        ] {
            let e = CatalogEntry {
                min_memory_gb: Some(gb),
                ..entry()
            };
            assert_eq!(e.validate().is_ok(), ok, "min_memory_gb = {gb}");
        }
    }

    #[test]
    fn catalog_error_message_names_item_and_field() {
        let bad = CatalogEntry {
            expected_sha256: "x".into(),
            ..entry()
        };
        let err = validate_catalog(&[entry(), bad]).err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.starts_with("catalog[1].expected_sha256: "), "{text}");
        assert!(validate_catalog(&[]).is_err());
        assert_eq!(validate_catalog(&[entry()]), Ok(()));
    }

    #[test]
    fn pick_is_uniform_enough_and_none_on_empty() {
        let mut rng = StdRng::seed_from_u64(42);
        assert!(pick(&[], &mut rng).is_none());
        let catalog: Vec<CatalogEntry> = (0..4)
            .map(|i| CatalogEntry {
                prompt: format!("q{i}"),
                ..entry()
            })
            .collect();
        let mut counts = [0_u32; 4];
        for _ in 0..4000 {
            if let Some(e) = pick(&catalog, &mut rng) {
                let i = catalog.iter().position(|c| c == e).unwrap_or(0);
                counts[i] += 1;
            }
        }
        // Expected 1000 each; ±200 is > 6 standard deviations (σ ≈ 27).
        assert!(
            counts.iter().all(|&c| (800..=1200).contains(&c)),
            "{counts:?}"
        );
    }
}
