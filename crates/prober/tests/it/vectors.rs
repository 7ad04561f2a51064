//! Committed test vectors (`vectors.json`, printed once by
//! `examples/print_vectors.rs`): fixed key, message, DER signature, and the
//! public key in every accepted encoding.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use floorline_prober::protocol::{
    sha256_hex, signed_message, CatalogEntry, ProbeRequest, ProbeResponse,
};
use floorline_prober::signature::{
    encode_spki, encode_x963, parse_public_key, sign_b64, verify_signature, SigningKey,
};
use floorline_prober::verdict::{judge, ProbeOutcome};
use floorline_prober::Failure;
use p256::ecdsa::Signature;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vectors {
    #[allow(dead_code)]
    comment: String,
    private_key_scalar_hex: String,
    public_key_x963_b64: String,
    public_key_spki_b64: String,
    public_key_compressed_b64: String,
    probe_id: String,
    nonce: String,
    text: String,
    response_sha256: String,
    message_utf8: String,
    signature_der_b64: String,
    rfc6979_sample_message: String,
    rfc6979_sample_signature_der_b64: String,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("vectors.json")).unwrap()
}

/// RFC 6979 A.2.5: the public point of the vector key.
const RFC_UX: &str = "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
const RFC_UY: &str = "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
/// RFC 6979 A.2.5: the SHA-256 signature of "sample".
const RFC_SAMPLE_R: &str = "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716";
const RFC_SAMPLE_S: &str = "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8";

#[test]
fn vector_public_key_is_the_rfc_point_in_every_encoding() {
    let v = vectors();
    let x963 = STANDARD.decode(&v.public_key_x963_b64).unwrap();
    assert_eq!(x963.len(), 65);
    assert_eq!(hex::encode(&x963), format!("04{RFC_UX}{RFC_UY}"));
    let key = SigningKey::from_slice(&hex::decode(&v.private_key_scalar_hex).unwrap()).unwrap();
    assert_eq!(encode_x963(key.verifying_key()), v.public_key_x963_b64);
    assert_eq!(
        encode_spki(key.verifying_key()).unwrap(),
        v.public_key_spki_b64
    );
    let from_x963 = parse_public_key(&v.public_key_x963_b64).unwrap();
    let from_spki = parse_public_key(&v.public_key_spki_b64).unwrap();
    let from_compressed = parse_public_key(&v.public_key_compressed_b64).unwrap();
    assert_eq!(from_x963, *key.verifying_key());
    assert_eq!(from_spki, from_x963);
    assert_eq!(from_compressed, from_x963);
}

#[test]
fn vector_message_is_the_signed_message_of_its_fields() {
    let v = vectors();
    assert_eq!(v.response_sha256, sha256_hex(&v.text));
    let message = signed_message(&v.probe_id, &v.nonce, &v.response_sha256);
    assert_eq!(message, v.message_utf8.as_bytes());
    assert_eq!(
        v.message_utf8,
        format!(
            "floorline-probe-v1\n{}\n{}\n{}",
            v.probe_id, v.nonce, v.response_sha256
        )
    );
}

#[test]
fn vector_signature_verifies_under_both_encodings_and_tampering_fails() {
    let v = vectors();
    let message = v.message_utf8.as_bytes();
    for key_b64 in [&v.public_key_x963_b64, &v.public_key_spki_b64] {
        let key = parse_public_key(key_b64).unwrap();
        assert_eq!(
            verify_signature(&key, message, &v.signature_der_b64),
            Ok(())
        );
        let mut tampered = message.to_vec();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(verify_signature(&key, &tampered, &v.signature_der_b64).is_err());
        let other = signed_message(&v.probe_id, &"f".repeat(64), &v.response_sha256);
        assert!(verify_signature(&key, &other, &v.signature_der_b64).is_err());
    }
}

#[test]
fn signing_is_deterministic_and_reproduces_the_vector() {
    let v = vectors();
    let key = SigningKey::from_slice(&hex::decode(&v.private_key_scalar_hex).unwrap()).unwrap();
    assert_eq!(
        sign_b64(&key, v.message_utf8.as_bytes()),
        v.signature_der_b64
    );
}

#[test]
fn rfc6979_sample_signature_matches_the_rfc() {
    let v = vectors();
    let der = STANDARD
        .decode(&v.rfc6979_sample_signature_der_b64)
        .unwrap();
    let sig = Signature::from_der(&der).unwrap();
    assert_eq!(hex::encode(sig.r().to_bytes()), RFC_SAMPLE_R);
    assert_eq!(hex::encode(sig.s().to_bytes()), RFC_SAMPLE_S);
    let key = parse_public_key(&v.public_key_x963_b64).unwrap();
    let msg = v.rfc6979_sample_message.as_bytes();
    assert_eq!(
        verify_signature(&key, msg, &v.rfc6979_sample_signature_der_b64),
        Ok(())
    );
    assert!(verify_signature(&key, b"samplf", &v.rfc6979_sample_signature_der_b64).is_err());
}

#[test]
fn vector_response_passes_judge_and_tampered_text_fails() {
    let v = vectors();
    let entry = CatalogEntry {
        model: "m".into(),
        prompt: "p".into(),
        expected_sha256: v.response_sha256.clone(),
        min_memory_gb: None,
    };
    let mut request = ProbeRequest::new(v.probe_id.clone(), "mac".into(), &entry, v.nonce.clone());
    let response = ProbeResponse {
        probe_id: v.probe_id.clone(),
        nonce: v.nonce.clone(),
        text: v.text.clone(),
        response_sha256: v.response_sha256.clone(),
        signature: Some(v.signature_der_b64.clone()),
    };
    let ok = ProbeOutcome::Response(response.clone());
    for key in [
        &v.public_key_x963_b64,
        &v.public_key_spki_b64,
        &v.public_key_compressed_b64,
    ] {
        assert!(judge(&request, &entry, Some(key), &ok).passed);
    }
    let mut tampered = response;
    tampered.text.push('!');
    tampered.response_sha256 = sha256_hex(&tampered.text);
    let key = Some(v.public_key_x963_b64.as_str());
    let verdict = judge(&request, &entry, key, &ProbeOutcome::Response(tampered));
    assert_eq!(verdict.failure, Some(Failure::BadSignature));
    request.nonce = "0".repeat(64);
    assert_eq!(
        judge(&request, &entry, key, &ok).failure,
        Some(Failure::NonceMismatch)
    );
}
