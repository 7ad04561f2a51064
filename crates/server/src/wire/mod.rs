//! The wire types of the HTTP API: every request and response body as a
//! plain struct of this crate with a `ToSchema`, built `From` the engine's
//! and the store's types (STYLE 15). Handlers serialize only these, so a
//! renamed store field cannot change the public API behind anyone's back,
//! and the OpenAPI document types itself.
//!
//! Invariant: the JSON a type here serializes to is what the API served
//! before the types existed (the integration tests and the dashboard read
//! those shapes); `Option` fields say whether they are absent or `null`.

pub mod admin;
pub mod enums;
pub mod facts;
pub mod provider;
