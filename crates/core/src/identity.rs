//! Secure Enclave identities (SPEC D12 `duplicate_identity`, §9 malformed
//! keys): an `se_public_key` is base64 of a P-256 point, uncompressed
//! (X9.63, 65 bytes), compressed (33 bytes) or inside an SPKI DER. One key in
//! two encodings is one key, so keys are compared as their decoded point.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::pkcs8::DecodePublicKey as _;
use p256::PublicKey;

/// Longest base64 key text accepted (an SPKI DER for P-256 is 91 bytes).
pub const MAX_SE_KEY_CHARS: usize = 256;

/// The canonical form of a key: its uncompressed SEC1 point (65 bytes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeKey(Vec<u8>);

impl SeKey {
    /// Decodes and checks a base64 key in any accepted encoding; the message
    /// says what is wrong with it (the caller names the field).
    pub fn parse(key_b64: &str) -> Result<SeKey, String> {
        if key_b64.is_empty() {
            return Err("must not be empty".into());
        }
        if key_b64.len() > MAX_SE_KEY_CHARS {
            return Err(format!("longer than {MAX_SE_KEY_CHARS} characters"));
        }
        let bytes = STANDARD
            .decode(key_b64)
            .map_err(|e| format!("not standard base64: {e}"))?;
        let key = match (bytes.len(), bytes.first()) {
            (65, Some(0x04)) | (33, Some(0x02 | 0x03)) => PublicKey::from_sec1_bytes(&bytes)
                .map_err(|_| "not a valid P-256 point".to_string())?,
            (_, Some(0x30)) => PublicKey::from_public_key_der(&bytes)
                .map_err(|_| "not a P-256 SubjectPublicKeyInfo DER".to_string())?,
            (len, _) => {
                return Err(format!(
                    "{len} bytes is neither a 65-byte X9.63 point (0x04…), a 33-byte \
                     compressed point nor an SPKI DER"
                ))
            }
        };
        Ok(SeKey(key.to_encoded_point(false).as_bytes().to_vec()))
    }

    /// Like [`SeKey::parse`], for a key that was checked on its way in: a
    /// stored key that no longer parses is no identity at all.
    pub fn decode(key_b64: &str) -> Option<SeKey> {
        SeKey::parse(key_b64).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::EncodePublicKey as _;

    #[test]
    fn every_encoding_of_one_key_is_the_same_key() {
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        let public = secret.public_key();
        let x963 = STANDARD.encode(public.to_encoded_point(false).as_bytes());
        let compressed = STANDARD.encode(public.to_encoded_point(true).as_bytes());
        let spki = STANDARD.encode(public.to_public_key_der().unwrap().as_bytes());
        let a = SeKey::parse(&x963).unwrap();
        assert_eq!(SeKey::parse(&compressed).unwrap(), a);
        assert_eq!(SeKey::parse(&spki).unwrap(), a);
        let other = p256::SecretKey::from_slice(&[8u8; 32])
            .unwrap()
            .public_key();
        let b = STANDARD.encode(other.to_encoded_point(false).as_bytes());
        assert_ne!(SeKey::parse(&b).unwrap(), a);
    }

    #[test]
    fn malformed_keys_say_why() {
        assert!(SeKey::parse("").unwrap_err().contains("empty"));
        assert!(SeKey::parse("!!").unwrap_err().contains("base64"));
        assert!(SeKey::parse(&STANDARD.encode([4u8; 65]))
            .unwrap_err()
            .contains("point"));
        assert!(SeKey::parse(&STANDARD.encode([1u8; 10]))
            .unwrap_err()
            .contains("10 bytes"));
    }
}
