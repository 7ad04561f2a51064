//! Property: `judge` passes an honest response, and never passes once any
//! single field (of the request, response, catalog entry or key) is altered;
//! the failure is the one SPEC §7 assigns to that field.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use floorline_prober::protocol::{
    sha256_hex, signed_message, CatalogEntry, ProbeRequest, ProbeResponse,
};
use floorline_prober::signature::{encode_x963, sign_b64, SigningKey};
use floorline_prober::verdict::{judge, ProbeOutcome};
use floorline_prober::Failure;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

#[derive(Debug, Clone, Copy)]
enum Field {
    RequestNonce,
    ProbeId,
    Nonce,
    Text,
    ResponseSha256,
    Signature,
    ExpectedSha256,
    Key,
}

const FIELDS: [Field; 8] = [
    Field::RequestNonce,
    Field::ProbeId,
    Field::Nonce,
    Field::Text,
    Field::ResponseSha256,
    Field::Signature,
    Field::ExpectedSha256,
    Field::Key,
];

fn expected(field: Field) -> Failure {
    match field {
        Field::RequestNonce | Field::ProbeId | Field::Nonce => Failure::NonceMismatch,
        Field::Text | Field::ResponseSha256 => Failure::HashMismatch,
        Field::Signature | Field::Key => Failure::BadSignature,
        Field::ExpectedSha256 => Failure::WrongAnswer,
    }
}

/// Replaces the hex digit at `at` with a different one.
fn flip_hex(s: &str, at: usize) -> String {
    let mut bytes = s.as_bytes().to_vec();
    if let Some(b) = bytes.get_mut(at % s.len().max(1)) {
        *b = if *b == b'0' { b'1' } else { b'0' };
    }
    String::from_utf8(bytes).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn judge_never_passes_with_one_field_altered(
        seed in any::<u64>(),
        text in ".{0,48}",
        nonce_bytes in proptest::array::uniform32(any::<u8>()),
        probe_id in "[A-Za-z0-9._:@-]{1,40}",
        field_index in 0..FIELDS.len(),
        at in any::<usize>(),
        bit in 0_u8..8,
        junk in "[A-Za-z0-9 ]{1,8}",
        min_memory_gb in proptest::option::of(1_u32..=512),
    ) {
        let sk = SigningKey::random(&mut StdRng::seed_from_u64(seed));
        let mut key_b64 = encode_x963(sk.verifying_key());
        let mut entry = CatalogEntry {
            model: "m".into(),
            prompt: "p".into(),
            expected_sha256: sha256_hex(&text),
            min_memory_gb,
        };
        let mut request = ProbeRequest::new(probe_id.clone(), "mac".into(), &entry, hex::encode(nonce_bytes));
        let hash = sha256_hex(&text);
        let mut response = ProbeResponse {
            probe_id,
            nonce: request.nonce.clone(),
            text,
            response_sha256: hash.clone(),
            signature: Some(sign_b64(&sk, &signed_message(&request.probe_id, &request.nonce, &hash))),
        };

        let honest = judge(&request, &entry, Some(&key_b64), &ProbeOutcome::Response(response.clone()));
        prop_assert!(honest.passed);
        prop_assert_eq!(honest.verified_memory_gb, min_memory_gb);

        let field = FIELDS[field_index];
        match field {
            Field::RequestNonce => request.nonce = flip_hex(&request.nonce, at),
            Field::ProbeId => response.probe_id.push_str(&junk),
            Field::Nonce => response.nonce = flip_hex(&response.nonce, at),
            Field::Text => response.text.push_str(&junk),
            Field::ResponseSha256 => response.response_sha256 = flip_hex(&response.response_sha256, at),
            Field::Signature => {
                let mut der = STANDARD.decode(response.signature.as_deref().unwrap_or_default()).unwrap();
                let i = at % der.len();
                der[i] ^= 1 << bit;
                response.signature = Some(STANDARD.encode(der));
            }
            Field::ExpectedSha256 => entry.expected_sha256 = flip_hex(&entry.expected_sha256, at),
            Field::Key => {
                let other = SigningKey::random(&mut StdRng::seed_from_u64(seed ^ 0x5eed));
                key_b64 = encode_x963(other.verifying_key());
            }
        }
        let verdict = judge(&request, &entry, Some(&key_b64), &ProbeOutcome::Response(response));
        prop_assert!(!verdict.passed, "{:?} altered but passed", field);
        prop_assert_eq!(verdict.failure, Some(expected(field)), "{:?}", field);
        prop_assert_eq!(verdict.verified_memory_gb, None);
    }
}
