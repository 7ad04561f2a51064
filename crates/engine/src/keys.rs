//! API key tokens: `fl_<role>_<64 hex>` from 32 random bytes; only their
//! SHA-256 is stored. The token is shown once, when it is created.

use floorline_store::{hash_token, Role};
use rand::RngCore;

use crate::{Engine, EngineError};

/// A fresh token for `role`.
pub fn new_token(role: Role) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("fl_{}_{}", role.as_str(), hex::encode(bytes))
}

impl Engine {
    /// Creates a key; returns its id and the token (shown once).
    pub async fn create_key(
        &self,
        role: Role,
        account_id: Option<&str>,
    ) -> Result<(i64, String), EngineError> {
        let token = new_token(role);
        let id = self
            .store
            .create_api_key(role, account_id, &hash_token(&token), self.now().0)
            .await?;
        Ok((id, token))
    }
}
