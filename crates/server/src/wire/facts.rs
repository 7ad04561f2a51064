//! The request bodies of `POST /v1/ingest/{machines,…,watermarks}` as
//! schema-only mirrors of the facts (SPEC §2). The core's fact types know
//! nothing of OpenAPI (core imports nothing web), so each is mirrored here
//! field by field; the parse stays the engine's (`Engine::ingest_json`),
//! and these types are never deserialized.
//!
//! Invariant: a mirror's property names are `FactKind::fields()` of its
//! kind and its required properties are the fields the core type cannot do
//! without (neither `Option` nor `#[serde(default)]`); the integration test
//! `openapi_types::fact_mirrors_match_the_engines_fields` holds them equal.
//! An `Option` field is nullable as well as optional: the parser reads
//! `null` as absent.

use std::borrow::Cow;

use floorline_core::FactKind;
use floorline_store::MAX_BATCH_ITEMS;
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::enums::{EarningSource, TrustLevel};

/// The identifier charset of SPEC §1: 1–128 of `A–Z a–z 0–9 . _ : @ -`.
pub const ID_PATTERN: &str = "^[A-Za-z0-9._:@-]{1,128}$";

/// A machine's attestation (defines the machine, D1).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MachineIn {
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    machine_id: String,
    /// RFC 3339 with an offset.
    #[schema(format = DateTime)]
    attested_at: String,
    /// The hardware model identifier (`Mac16,11`); empty when absent.
    #[schema(required = false, max_length = 1024)]
    hardware_model: String,
    reported_memory_gb: u32,
    trust: TrustLevel,
    /// The Secure Enclave public key, when the machine has one (never empty:
    /// the engine refuses `""`, so the document says so).
    #[schema(min_length = 1)]
    se_public_key: Option<String>,
}

/// An ephemeral coordinator key that names a stable machine.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AliasIn {
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    provider_key: String,
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    machine_id: String,
    #[schema(format = DateTime)]
    from: String,
}

/// Who is paid for a machine from `from` until `to` (open-ended without `to`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct BindingIn {
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    machine_id: String,
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    account_id: String,
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    payout_identity: String,
    #[schema(format = DateTime)]
    from: String,
    /// After `from`; a later batch may set it (a refinement, SPEC §2).
    #[schema(format = DateTime)]
    to: Option<String>,
}

/// One connection of a machine; re-sent with `last_seen_at` (a heartbeat)
/// or `disconnected_at`, it is refined in place (SPEC §2).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SessionIn {
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    session_id: String,
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    machine_id: String,
    #[schema(format = DateTime)]
    connected_at: String,
    /// The latest heartbeat; not before `connected_at`.
    #[schema(format = DateTime)]
    last_seen_at: Option<String>,
    /// Not before `connected_at`.
    #[schema(format = DateTime)]
    disconnected_at: Option<String>,
}

/// A health transition.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct HealthIn {
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    machine_id: String,
    #[schema(format = DateTime)]
    at: String,
    healthy: bool,
    #[schema(max_length = 1024)]
    reason: Option<String>,
}

/// A paid job (or a probe or base reward row).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct EarningIn {
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    job_id: String,
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    machine_id: String,
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    consumer_account_id: String,
    /// µUSD, ≥ 0.
    #[schema(minimum = 0)]
    amount_micro_usd: i64,
    kind: EarningSource,
    /// The job was pinned to this machine (default false).
    #[schema(required = false)]
    pinned: bool,
    #[schema(max_length = 1024)]
    model: Option<String>,
    #[schema(format = DateTime)]
    at: String,
}

/// A probe verdict: a pass names no failure; a failure names one.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ProbeIn {
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    probe_id: String,
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    machine_id: String,
    #[schema(format = DateTime)]
    at: String,
    passed: bool,
    #[schema(max_length = 1024)]
    failure: Option<String>,
    #[schema(max_length = 1024)]
    model: Option<String>,
    verified_memory_gb: Option<u32>,
    /// `prober` for floorline's own prober (§2 trust boundary); absent for the coordinator's.
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    source: Option<String>,
}

/// "Source `source` has sent every fact up to `up_to`."
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct WatermarkIn {
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    source: String,
    #[schema(format = DateTime)]
    up_to: String,
}

/// The name of the mirror schema of a fact kind (`SessionIn`).
pub fn mirror_name(kind: FactKind) -> Cow<'static, str> {
    match kind {
        FactKind::Machines => MachineIn::name(),
        FactKind::Aliases => AliasIn::name(),
        FactKind::Bindings => BindingIn::name(),
        FactKind::Sessions => SessionIn::name(),
        FactKind::Health => HealthIn::name(),
        FactKind::Earnings => EarningIn::name(),
        FactKind::Probes => ProbeIn::name(),
        FactKind::Watermarks => WatermarkIn::name(),
    }
}

/// A batch: an array of at most [`MAX_BATCH_ITEMS`] facts of one kind.
fn batch_of<T: ToSchema>() -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(Ref::from_schema_name(T::name()))
        .max_items(Some(MAX_BATCH_ITEMS))
        .description(Some(format!(
            "A JSON array of at most {MAX_BATCH_ITEMS} `{}` facts (the server's `max_batch_items`)",
            T::name()
        )))
        .into()
}

/// One batch type per kind, so that each operation names its own schema.
macro_rules! batch {
    ($batch:ident, $item:ident) => {
        #[doc = concat!("A batch of `", stringify!($item), "`.")]
        pub struct $batch;

        impl PartialSchema for $batch {
            fn schema() -> RefOr<Schema> {
                batch_of::<$item>()
            }
        }

        impl ToSchema for $batch {
            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                schemas.push(($item::name().into_owned(), $item::schema()));
                <$item as ToSchema>::schemas(schemas);
            }
        }
    };
}

batch!(MachinesBatch, MachineIn);
batch!(AliasesBatch, AliasIn);
batch!(BindingsBatch, BindingIn);
batch!(SessionsBatch, SessionIn);
batch!(HealthBatch, HealthIn);
batch!(EarningsBatch, EarningIn);
batch!(ProbesBatch, ProbeIn);
batch!(WatermarksBatch, WatermarkIn);
