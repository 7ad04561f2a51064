//! Machine public keys (`se_public_key`) and probe signatures.
//!
//! Invariants:
//! - A key is standard base64 (with padding) of exactly one of: an
//!   uncompressed SEC1/X9.63 P-256 point (65 bytes, `0x04` prefix), a
//!   compressed point (33 bytes, `0x02`/`0x03`), or a SubjectPublicKeyInfo
//!   DER for id-ecPublicKey on prime256v1. Anything else is a [`KeyError`];
//!   the identity and off-curve points are rejected.
//! - A signature is standard base64 of a DER (X9.62) ECDSA P-256 signature
//!   over SHA-256 of the message, as a Secure Enclave key produces. Both low-
//!   and high-S signatures verify (the Secure Enclave does not normalise S).
//! - Verification is pure: no clock, no I/O.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};

pub use p256::ecdsa::{SigningKey, VerifyingKey as PublicKey};

/// Length of an uncompressed SEC1/X9.63 P-256 point.
pub const X963_UNCOMPRESSED_LEN: usize = 65;
/// Length of a compressed SEC1 P-256 point.
pub const SEC1_COMPRESSED_LEN: usize = 33;
/// Longest base64 key text accepted (an SPKI DER for P-256 is 91 bytes).
pub const MAX_KEY_B64_CHARS: usize = 256;
/// Longest base64 signature text accepted (a P-256 DER signature is ≤ 72
/// bytes).
pub const MAX_SIGNATURE_B64_CHARS: usize = 256;

/// Why an `se_public_key` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("se_public_key: must not be empty")]
    Empty,
    #[error("se_public_key: longer than {MAX_KEY_B64_CHARS} characters")]
    TooLong,
    #[error("se_public_key: not standard base64: {0}")]
    Base64(String),
    #[error(
        "se_public_key: {len} bytes is neither a 65-byte X9.63 point (0x04…), \
         a 33-byte compressed point nor an SPKI DER"
    )]
    UnknownEncoding { len: usize },
    #[error("se_public_key: not a valid P-256 point")]
    InvalidPoint,
    #[error("se_public_key: not a P-256 SubjectPublicKeyInfo DER")]
    InvalidSpki,
    #[error("se_public_key: cannot encode as SPKI DER")]
    Encode,
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature: missing or empty")]
    Missing,
    #[error("signature: longer than {MAX_SIGNATURE_B64_CHARS} characters")]
    TooLong,
    #[error("signature: not standard base64")]
    Base64,
    #[error("signature: not a DER ECDSA P-256 signature")]
    Der,
    #[error("signature: does not verify")]
    Invalid,
}

/// Parses a base64 `se_public_key` in any accepted encoding.
pub fn parse_public_key(key_b64: &str) -> Result<PublicKey, KeyError> {
    if key_b64.is_empty() {
        return Err(KeyError::Empty);
    }
    if key_b64.len() > MAX_KEY_B64_CHARS {
        return Err(KeyError::TooLong);
    }
    let bytes = STANDARD
        .decode(key_b64)
        .map_err(|e| KeyError::Base64(e.to_string()))?;
    match (bytes.len(), bytes.first()) {
        (X963_UNCOMPRESSED_LEN, Some(0x04)) | (SEC1_COMPRESSED_LEN, Some(0x02 | 0x03)) => {
            VerifyingKey::from_sec1_bytes(&bytes).map_err(|_| KeyError::InvalidPoint)
        }
        // An SPKI is a DER SEQUENCE.
        (_, Some(0x30)) => {
            VerifyingKey::from_public_key_der(&bytes).map_err(|_| KeyError::InvalidSpki)
        }
        (len, _) => Err(KeyError::UnknownEncoding { len }),
    }
}

/// Base64 of the uncompressed X9.63 point (65 bytes).
pub fn encode_x963(key: &PublicKey) -> String {
    STANDARD.encode(key.to_encoded_point(false).as_bytes())
}

/// Base64 of the SubjectPublicKeyInfo DER.
pub fn encode_spki(key: &PublicKey) -> Result<String, KeyError> {
    let der = key.to_public_key_der().map_err(|_| KeyError::Encode)?;
    Ok(STANDARD.encode(der.as_bytes()))
}

/// Verifies `signature_b64` (base64 of DER ECDSA P-256/SHA-256) over
/// `message`.
pub fn verify_signature(
    key: &PublicKey,
    message: &[u8],
    signature_b64: &str,
) -> Result<(), SignatureError> {
    if signature_b64.is_empty() {
        return Err(SignatureError::Missing);
    }
    if signature_b64.len() > MAX_SIGNATURE_B64_CHARS {
        return Err(SignatureError::TooLong);
    }
    let der = STANDARD
        .decode(signature_b64)
        .map_err(|_| SignatureError::Base64)?;
    let signature = Signature::from_der(&der).map_err(|_| SignatureError::Der)?;
    key.verify(message, &signature)
        .map_err(|_| SignatureError::Invalid)
}

/// Signs `message` and returns base64 of the DER signature (what a provider
/// sends). Deterministic (RFC 6979).
pub fn sign_b64(key: &SigningKey, message: &[u8]) -> String {
    use p256::ecdsa::signature::Signer as _;
    let signature: Signature = key.sign(message);
    STANDARD.encode(signature.to_der().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn key() -> SigningKey {
        SigningKey::random(&mut StdRng::seed_from_u64(1))
    }

    #[test]
    fn x963_spki_and_compressed_all_parse_to_the_same_key() {
        let sk = key();
        let pk = *sk.verifying_key();
        let x963 = encode_x963(&pk);
        let spki = encode_spki(&pk).unwrap();
        let compressed = STANDARD.encode(pk.to_encoded_point(true).as_bytes());
        assert_eq!(STANDARD.decode(&x963).unwrap().len(), X963_UNCOMPRESSED_LEN);
        for text in [&x963, &spki, &compressed] {
            assert_eq!(parse_public_key(text), Ok(pk), "{text}");
        }
    }

    #[test]
    fn bad_keys_have_clear_errors() {
        assert_eq!(parse_public_key(""), Err(KeyError::Empty));
        assert!(matches!(
            parse_public_key("not base64!"),
            Err(KeyError::Base64(_))
        ));
        let short = STANDARD.encode([4_u8; 64]);
        assert_eq!(
            parse_public_key(&short),
            Err(KeyError::UnknownEncoding { len: 64 })
        );
        // Right length and prefix, but (4, 4…) is not on the curve.
        let off_curve = STANDARD.encode([4_u8; 65]);
        assert_eq!(parse_public_key(&off_curve), Err(KeyError::InvalidPoint));
        let wrong_prefix = STANDARD.encode([5_u8; 65]);
        assert_eq!(
            parse_public_key(&wrong_prefix),
            Err(KeyError::UnknownEncoding { len: 65 })
        );
        let not_spki = STANDARD.encode([0x30_u8, 3, 1, 2, 3]);
        assert_eq!(parse_public_key(&not_spki), Err(KeyError::InvalidSpki));
        assert_eq!(
            parse_public_key(&"A".repeat(MAX_KEY_B64_CHARS + 4)),
            Err(KeyError::TooLong)
        );
        let msg = KeyError::UnknownEncoding { len: 64 }.to_string();
        assert!(msg.starts_with("se_public_key: 64 bytes"), "{msg}");
    }

    #[test]
    fn signature_round_trip_and_rejections() {
        let sk = key();
        let pk = *sk.verifying_key();
        let sig = sign_b64(&sk, b"hello");
        assert_eq!(verify_signature(&pk, b"hello", &sig), Ok(()));
        assert_eq!(
            verify_signature(&pk, b"hellO", &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify_signature(&pk, b"hello", ""),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(&pk, b"hello", "%%%"),
            Err(SignatureError::Base64)
        );
        let not_der = STANDARD.encode([1_u8, 2, 3]);
        assert_eq!(
            verify_signature(&pk, b"hello", &not_der),
            Err(SignatureError::Der)
        );
        let other = SigningKey::random(&mut StdRng::seed_from_u64(2));
        assert_eq!(
            verify_signature(other.verifying_key(), b"hello", &sig),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn raw_r_s_signature_is_not_der_and_is_rejected() {
        use p256::ecdsa::signature::Signer as _;
        let sk = key();
        let sig: Signature = sk.sign(b"hello");
        let raw = STANDARD.encode(sig.to_bytes());
        assert_eq!(
            verify_signature(sk.verifying_key(), b"hello", &raw),
            Err(SignatureError::Der)
        );
    }

    #[test]
    fn high_s_signature_verifies() {
        use p256::ecdsa::signature::Signer as _;
        let sk = key();
        let sig: Signature = sk.sign(b"hello");
        // (r, n − s) is the other valid signature for the same message.
        let (r, s) = sig.split_scalars();
        let flipped = Signature::from_scalars(r, -*s).unwrap();
        let b64 = STANDARD.encode(flipped.to_der().as_bytes());
        assert_eq!(verify_signature(sk.verifying_key(), b"hello", &b64), Ok(()));
    }
}
