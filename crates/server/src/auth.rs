//! Bearer API keys (SPEC §8 Auth): the presented token is hashed (SHA-256),
//! looked up among unrevoked keys, and its hash compared in constant time.
//! 401 without a valid key, 403 for the wrong role; a provider key is bound
//! to one account and sees only that account.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use floorline_store::{hash_token, Role};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::AppState;

/// Longest bearer token accepted (tokens are 72 characters).
pub const MAX_TOKEN_LEN: usize = 256;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_id: i64,
    pub role: Role,
    pub account_id: Option<String>,
}

impl Caller {
    /// 403 unless the caller has `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role == role {
            Ok(())
        } else {
            // "an admin key", "an ingest key", "a provider key".
            let article = if role.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            Err(ApiError::forbidden(format!(
                "this needs {article} {} key",
                role.as_str()
            )))
        }
    }

    /// The provider's account (403 for other roles).
    pub fn provider_account(&self) -> Result<&str, ApiError> {
        self.require(Role::Provider)?;
        self.account_id
            .as_deref()
            .ok_or_else(|| ApiError::forbidden("provider key without an account"))
    }

    /// The actor recorded on runs and adjustments.
    pub fn actor(&self) -> String {
        format!("key:{}", self.key_id)
    }
}

/// Extracts the bearer token, if the header is well formed: exactly one
/// `Authorization` header, exactly `Bearer <key>`, the key one run of token
/// characters (RFC 6750 `b64token`). Anything else is 401, never a guess:
/// with two headers or two tokens a proxy and this server could each read a
/// different one.
pub fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let mut headers = parts.headers.get_all(AUTHORIZATION).iter();
    let header = headers
        .next()
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <key>"))?;
    if headers.next().is_some() {
        return Err(ApiError::unauthorized("more than one Authorization header"));
    }
    let text = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    let token = text
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <key>`"))?;
    let b64token = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
    if token.is_empty() || token.len() > MAX_TOKEN_LEN || !token.bytes().all(b64token) {
        return Err(ApiError::unauthorized("malformed key"));
    }
    Ok(token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let token = bearer(parts)?;
        let hash = hash_token(token);
        let key = state
            .engine
            .find_api_key_by_hash(&hash)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked key"))?;
        let same: bool = key.token_sha256.as_bytes().ct_eq(hash.as_bytes()).into();
        if !same || key.revoked_at_ms.is_some() {
            return Err(ApiError::unauthorized("unknown or revoked key"));
        }
        Ok(Caller {
            key_id: key.id,
            role: key.role,
            account_id: key.account_id,
        })
    }
}
