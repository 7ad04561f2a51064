//! API keys: bearer tokens are stored only as their SHA-256 (lowercase hex);
//! a `provider` key is bound to one account, `admin` and `ingest` keys to none.
//!
//! Invariants: a token's hash is unique; a key is revoked by setting
//! `revoked_at_ms` once (never deleted); lookups find unrevoked keys only.
//! Comparing the presented token in constant time is the server's job; here
//! the lookup is by hash, so the token itself never reaches the database.

use floorline_core::bundle::check_id;
use floorline_core::Invalid;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};
use crate::Store;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Ingest,
    Provider,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Ingest => "ingest",
            Role::Provider => "provider",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "ingest" => Some(Role::Ingest),
            "provider" => Some(Role::Provider),
            _ => None,
        }
    }
}

/// A stored API key (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    pub id: i64,
    pub role: Role,
    pub account_id: Option<String>,
    pub token_sha256: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: i64,
    role: String,
    account_id: Option<String>,
    token_sha256: String,
    created_at_ms: i64,
    revoked_at_ms: Option<i64>,
}

impl TryFrom<KeyRow> for ApiKey {
    type Error = StoreError;
    fn try_from(r: KeyRow) -> Result<ApiKey> {
        Ok(ApiKey {
            id: r.id,
            role: Role::parse(&r.role)
                .ok_or_else(|| StoreError::Corrupt(format!("api key role `{}`", r.role)))?,
            account_id: r.account_id,
            token_sha256: r.token_sha256,
            created_at_ms: r.created_at_ms,
            revoked_at_ms: r.revoked_at_ms,
        })
    }
}

const KEY_COLUMNS: &str = "id, role, account_id, token_sha256, created_at_ms, revoked_at_ms";

/// The stored form of a bearer token: SHA-256, lowercase hex.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Store {
    /// Stores a new key; returns its id.
    pub async fn create_api_key(
        &self,
        role: Role,
        account_id: Option<&str>,
        token_sha256: &str,
        now_ms: i64,
    ) -> Result<i64> {
        let mut errs = Vec::new();
        match (role, account_id) {
            (Role::Provider, None) => {
                errs.push(Invalid::new(
                    "account_id",
                    "a provider key needs an account",
                ));
            }
            (Role::Provider, Some(a)) => {
                if let Err(m) = check_id(a) {
                    errs.push(Invalid::new("account_id", m));
                }
            }
            (_, Some(_)) => errs.push(Invalid::new(
                "account_id",
                format!("an {} key has no account", role.as_str()),
            )),
            (_, None) => {}
        }
        if !is_sha256_hex(token_sha256) {
            errs.push(Invalid::new(
                "token_sha256",
                "must be 64 lowercase hex digits",
            ));
        }
        if !errs.is_empty() {
            return Err(StoreError::Invalid(errs));
        }
        let mut c = self.db.conn().await?;
        let r: Result<(i64,)> = c
            .fetch_one(
                "INSERT INTO api_keys (role, account_id, token_sha256, created_at_ms) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
                vec![
                    role.as_str().into(),
                    account_id.map(str::to_string).into(),
                    token_sha256.into(),
                    now_ms.into(),
                ],
            )
            .await;
        match r {
            Ok((id,)) => Ok(id),
            Err(e) if e.is_unique_violation() => {
                Err(StoreError::Conflict("a key with this token exists".into()))
            }
            Err(e) => Err(e),
        }
    }

    /// Every key, revoked ones included, by id.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        let mut c = self.db.conn().await?;
        c.fetch_all::<KeyRow>(
            &format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY id"),
            vec![],
        )
        .await?
        .into_iter()
        .map(ApiKey::try_from)
        .collect()
    }

    /// Revokes a key (idempotent: the first revocation time stays).
    pub async fn revoke_api_key(&self, id: i64, now_ms: i64) -> Result<ApiKey> {
        let mut c = self.db.conn().await?;
        c.execute(
            "UPDATE api_keys SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL",
            vec![now_ms.into(), id.into()],
        )
        .await?;
        let row: Option<KeyRow> = c
            .fetch_optional(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"),
                vec![id.into()],
            )
            .await?;
        row.map(ApiKey::try_from)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("api key {id}")))
    }

    /// The unrevoked key with this token hash.
    pub async fn find_api_key_by_hash(&self, token_sha256: &str) -> Result<Option<ApiKey>> {
        let mut c = self.db.conn().await?;
        let row: Option<KeyRow> = c
            .fetch_optional(
                &format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys \
                     WHERE token_sha256 = $1 AND revoked_at_ms IS NULL"
                ),
                vec![token_sha256.into()],
            )
            .await?;
        row.map(ApiKey::try_from).transpose()
    }
}
