//! Judging a probe: what came back (or did not) → a [`Verdict`].
//!
//! Invariants:
//! - [`judge`] is pure: no clock, no I/O, no randomness.
//! - A verdict passes only if every SPEC §7 check holds; otherwise it carries
//!   exactly one [`Failure`], the first that applies in SPEC order:
//!   `no_key`, `timeout`, `transport_error`, `nonce_mismatch`,
//!   `hash_mismatch`, `bad_signature`, `wrong_answer`.
//! - `passed == failure.is_none()`; `verified_memory_gb` is set only on a
//!   pass, and only from the catalog entry's `min_memory_gb`.
//! - The failure codes are stable snake_case strings stored in probe facts;
//!   never rename one.

use serde::{Deserialize, Serialize};

use crate::protocol::{sha256_hex, signed_message, CatalogEntry, ProbeRequest, ProbeResponse};
use crate::signature::{parse_public_key, verify_signature, PublicKey};

/// Why a probe failed, in SPEC §7 precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The machine has no usable `se_public_key`; nothing was sent.
    NoKey,
    /// No complete answer within the timeout; the request was cancelled.
    Timeout,
    /// Connection failure, non-200 status, or a malformed / oversized body.
    TransportError,
    /// `probe_id` or `nonce` not echoed.
    NonceMismatch,
    /// `response_sha256` is not the SHA-256 of `text`.
    HashMismatch,
    /// Signature missing, undecodable, or not verifying.
    BadSignature,
    /// A well-signed answer that is not the expected one.
    WrongAnswer,
}

impl Failure {
    /// Every failure, in precedence order.
    pub const ALL: [Failure; 7] = [
        Failure::NoKey,
        Failure::Timeout,
        Failure::TransportError,
        Failure::NonceMismatch,
        Failure::HashMismatch,
        Failure::BadSignature,
        Failure::WrongAnswer,
    ];

    /// The stable code stored in probe facts.
    pub const fn code(self) -> &'static str {
        match self {
            Failure::NoKey => "no_key",
            Failure::Timeout => "timeout",
            Failure::TransportError => "transport_error",
            Failure::NonceMismatch => "nonce_mismatch",
            Failure::HashMismatch => "hash_mismatch",
            Failure::BadSignature => "bad_signature",
            Failure::WrongAnswer => "wrong_answer",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// An unknown failure code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failure: unknown code {0:?}")]
pub struct UnknownFailure(pub String);

impl std::str::FromStr for Failure {
    type Err = UnknownFailure;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Failure::ALL
            .into_iter()
            .find(|f| f.code() == s)
            .ok_or_else(|| UnknownFailure(s.to_owned()))
    }
}

/// The result of one probe: `{probe_id, machine_id, passed, failure?,
/// verified_memory_gb?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub probe_id: String,
    pub machine_id: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_memory_gb: Option<u32>,
}

impl Verdict {
    fn failed(request: &ProbeRequest, failure: Failure) -> Self {
        Self {
            probe_id: request.probe_id.clone(),
            machine_id: request.machine_id.clone(),
            passed: false,
            failure: Some(failure),
            verified_memory_gb: None,
        }
    }

    fn passed(request: &ProbeRequest, entry: &CatalogEntry) -> Self {
        Self {
            probe_id: request.probe_id.clone(),
            machine_id: request.machine_id.clone(),
            passed: true,
            failure: None,
            verified_memory_gb: entry.min_memory_gb,
        }
    }
}

/// What went wrong on the wire (detail for logs; the verdict says only
/// `transport_error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("request failed: {0}")]
    Request(String),
    #[error("status {0}, expected 200")]
    Status(u16),
    #[error("reading the body failed: {0}")]
    Body(String),
    #[error("body larger than {limit_bytes} bytes")]
    TooLarge { limit_bytes: usize },
    #[error("malformed response JSON: {0}")]
    Malformed(String),
}

/// What the wire produced for one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// A `200` with a well-formed [`ProbeResponse`] body, within the timeout.
    Response(ProbeResponse),
    /// Nothing complete within the timeout.
    Timeout,
    /// Anything else that went wrong on the wire.
    Transport(TransportError),
}

/// Applies SPEC §7's checks. `key` is the machine's `se_public_key` (base64)
/// from its latest attestation; a key that does not parse counts as no key,
/// since nothing could ever verify against it.
pub fn judge(
    request: &ProbeRequest,
    entry: &CatalogEntry,
    key: Option<&str>,
    outcome: &ProbeOutcome,
) -> Verdict {
    let parsed = key.and_then(|k| parse_public_key(k).ok());
    judge_with_key(request, entry, parsed.as_ref(), outcome)
}

/// [`judge`] with an already parsed key.
pub fn judge_with_key(
    request: &ProbeRequest,
    entry: &CatalogEntry,
    key: Option<&PublicKey>,
    outcome: &ProbeOutcome,
) -> Verdict {
    let Some(key) = key else {
        return Verdict::failed(request, Failure::NoKey);
    };
    let response = match outcome {
        ProbeOutcome::Timeout => return Verdict::failed(request, Failure::Timeout),
        ProbeOutcome::Transport(_) => return Verdict::failed(request, Failure::TransportError),
        ProbeOutcome::Response(response) => response,
    };
    if response.probe_id != request.probe_id || response.nonce != request.nonce {
        return Verdict::failed(request, Failure::NonceMismatch);
    }
    if response.response_sha256 != sha256_hex(&response.text) {
        return Verdict::failed(request, Failure::HashMismatch);
    }
    let message = signed_message(
        &response.probe_id,
        &response.nonce,
        &response.response_sha256,
    );
    let signature = response.signature.as_deref().unwrap_or_default();
    if verify_signature(key, &message, signature).is_err() {
        return Verdict::failed(request, Failure::BadSignature);
    }
    if response.response_sha256 != entry.expected_sha256 {
        return Verdict::failed(request, Failure::WrongAnswer);
    }
    Verdict::passed(request, entry)
}

/// The verdict for a machine without a usable key (nothing is sent).
pub fn no_key_verdict(request: &ProbeRequest) -> Verdict {
    Verdict::failed(request, Failure::NoKey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{encode_x963, sign_b64, SigningKey};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    struct Case {
        sk: SigningKey,
        key_b64: String,
        request: ProbeRequest,
        entry: CatalogEntry,
    }

    fn case() -> Case {
        let sk = SigningKey::random(&mut StdRng::seed_from_u64(3));
        let key_b64 = encode_x963(sk.verifying_key());
        let entry = CatalogEntry {
            model: "m".into(),
            prompt: "p".into(),
            expected_sha256: sha256_hex("answer"),
            min_memory_gb: Some(64),
        };
        let request = ProbeRequest::new("probe-1".into(), "mac-1".into(), &entry, "ab".repeat(32));
        Case {
            sk,
            key_b64,
            request,
            entry,
        }
    }

    fn respond(c: &Case, text: &str) -> ProbeResponse {
        let h = sha256_hex(text);
        let sig = sign_b64(
            &c.sk,
            &signed_message(&c.request.probe_id, &c.request.nonce, &h),
        );
        ProbeResponse {
            probe_id: c.request.probe_id.clone(),
            nonce: c.request.nonce.clone(),
            text: text.into(),
            response_sha256: h,
            signature: Some(sig),
        }
    }

    fn check(c: &Case, key: Option<&str>, outcome: ProbeOutcome) -> Option<Failure> {
        let v = judge(&c.request, &c.entry, key, &outcome);
        assert_eq!(v.passed, v.failure.is_none());
        assert_eq!(v.probe_id, c.request.probe_id);
        assert_eq!(v.machine_id, c.request.machine_id);
        v.failure
    }

    #[test]
    fn honest_answer_passes_and_records_memory() {
        let c = case();
        let v = judge(
            &c.request,
            &c.entry,
            Some(&c.key_b64),
            &ProbeOutcome::Response(respond(&c, "answer")),
        );
        assert!(v.passed);
        assert_eq!(v.verified_memory_gb, Some(64));
    }

    #[test]
    fn entry_without_tier_passes_without_memory() {
        let mut c = case();
        c.entry.min_memory_gb = None;
        let ok = ProbeOutcome::Response(respond(&c, "answer"));
        let v = judge(&c.request, &c.entry, Some(&c.key_b64), &ok);
        assert!(v.passed);
        assert_eq!(v.verified_memory_gb, None);
    }

    #[test]
    fn each_check_in_spec_order() {
        let c = case();
        let key = Some(c.key_b64.as_str());
        let ok = ProbeOutcome::Response(respond(&c, "answer"));
        assert_eq!(check(&c, None, ok.clone()), Some(Failure::NoKey));
        assert_eq!(check(&c, Some("garbage"), ok.clone()), Some(Failure::NoKey));
        assert_eq!(check(&c, None, ProbeOutcome::Timeout), Some(Failure::NoKey));
        assert_eq!(
            check(&c, key, ProbeOutcome::Timeout),
            Some(Failure::Timeout)
        );
        let transport = ProbeOutcome::Transport(TransportError::Status(500));
        assert_eq!(check(&c, key, transport), Some(Failure::TransportError));

        let mut r = respond(&c, "answer");
        r.probe_id.push('x');
        assert_eq!(
            check(&c, key, ProbeOutcome::Response(r)),
            Some(Failure::NonceMismatch)
        );
        let mut r = respond(&c, "answer");
        r.nonce = "cd".repeat(32);
        // Also a hash mismatch and a bad signature: nonce comes first.
        r.text.push('!');
        r.signature = None;
        assert_eq!(
            check(&c, key, ProbeOutcome::Response(r)),
            Some(Failure::NonceMismatch)
        );

        let mut r = respond(&c, "answer");
        r.text = "Answer".into();
        assert_eq!(
            check(&c, key, ProbeOutcome::Response(r)),
            Some(Failure::HashMismatch)
        );
        let mut r = respond(&c, "answer");
        r.response_sha256 = r.response_sha256.to_uppercase();
        assert_eq!(
            check(&c, key, ProbeOutcome::Response(r)),
            Some(Failure::HashMismatch)
        );

        for sig in [
            None,
            Some(String::new()),
            Some("!!".into()),
            Some("AAAA".into()),
        ] {
            let mut r = respond(&c, "answer");
            r.signature = sig;
            assert_eq!(
                check(&c, key, ProbeOutcome::Response(r)),
                Some(Failure::BadSignature)
            );
        }

        let wrong = ProbeOutcome::Response(respond(&c, "another answer"));
        assert_eq!(check(&c, key, wrong), Some(Failure::WrongAnswer));
    }

    #[test]
    fn failure_codes_are_stable_and_round_trip() {
        let codes: Vec<&str> = Failure::ALL.iter().map(|f| f.code()).collect();
        assert_eq!(
            codes,
            [
                "no_key",
                "timeout",
                "transport_error",
                "nonce_mismatch",
                "hash_mismatch",
                "bad_signature",
                "wrong_answer"
            ]
        );
        for f in Failure::ALL {
            assert_eq!(
                serde_json::to_value(f).unwrap(),
                serde_json::json!(f.code())
            );
            assert_eq!(f.code().parse::<Failure>(), Ok(f));
            assert_eq!(f.to_string(), f.code());
        }
        assert!("No_Key".parse::<Failure>().is_err());
    }

    #[test]
    fn verdict_json_omits_absent_fields() {
        let c = case();
        let failed = no_key_verdict(&c.request);
        assert_eq!(
            serde_json::to_value(&failed).unwrap(),
            serde_json::json!({"probe_id": "probe-1", "machine_id": "mac-1", "passed": false,
                               "failure": "no_key"})
        );
        let passed = Verdict::passed(&c.request, &c.entry);
        assert_eq!(
            serde_json::to_value(&passed).unwrap(),
            serde_json::json!({"probe_id": "probe-1", "machine_id": "mac-1", "passed": true,
                               "verified_memory_gb": 64})
        );
    }
}
