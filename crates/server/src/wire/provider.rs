//! Response bodies of the provider endpoints that `provider.rs` renders:
//! a machine's live view (pre-rendered once per estimate with
//! `serde_json::to_string`), the machines page around those views, and the
//! one-machine page. Fields are declared in alphabetical order, the order
//! the views had when they were built with `json!`, so the bytes served
//! are unchanged.

use serde::Serialize;

use super::enums::ReasonCode;
use crate::provider::{FormerMachineBody, HistoryEpoch, MonthSoFar};

/// A gate of eligibility (SPEC §4) as the provider page lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GateName {
    Attested,
    MemoryTier,
    Uptime,
    ProvenWork,
    PayoutAccount,
}

/// One gate and whether the machine passes it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GateBody {
    pub gate: GateName,
    pub passed: bool,
    /// The reason code when it fails; `null` when it passes.
    #[schema(required = true)]
    pub reason: Option<ReasonCode>,
}

/// The open epoch's estimate for one machine.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MachineEstimateBody {
    pub desired_draw_micro_usd: i64,
    pub earned_micro_usd: i64,
    /// The open epoch (or period).
    pub epoch: String,
    /// `desired_draw` when eligible, else 0.
    pub estimated_base_micro_usd: i64,
    /// `earned + estimated_base`.
    pub estimated_payout_micro_usd: i64,
    pub floor_micro_usd: i64,
    /// Always true: these are estimates.
    pub is_estimate: bool,
    pub note: &'static str,
}

/// One machine's live view for the open epoch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MachineViewBody {
    pub eligible: bool,
    pub estimate: MachineEstimateBody,
    pub gates: Vec<GateBody>,
    pub hardware_model: String,
    /// The latest sign of life in the epoch; `null` when not seen.
    #[schema(format = DateTime, required = true)]
    pub last_seen_at: Option<String>,
    pub machine_id: String,
    /// A session is open and its last heartbeat is within the grace period.
    pub online: bool,
    pub reasons: Vec<ReasonCode>,
    pub reported_memory_gb: u32,
    pub tier_floor_micro_usd: i64,
    /// The tier the verified memory reaches; `null` below every tier.
    #[schema(required = true)]
    pub tier_min_gb: Option<u32>,
    /// The policy's `min_uptime` in ppm.
    pub uptime_line_ppm: i64,
    /// The highest uptime still reachable if the machine stays up from now.
    pub uptime_reachable_ppm: i64,
    pub uptime_so_far_ppm: i64,
    /// Below every tier: paid for its usage only.
    pub usage_only: bool,
    pub verified_because: String,
    pub verified_memory_gb: u32,
}

/// A memory tier of the policy.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TierBody {
    pub floor_micro_usd: i64,
    pub min_gb: u32,
    /// Machines of this tier share the workhorse reserve.
    pub workhorse: bool,
}

/// `GET /v1/provider/machines`: the caller's machines owned now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProviderMachinesBody {
    pub account_id: String,
    /// When the estimate was computed: "so far" figures are as of it.
    #[schema(format = DateTime)]
    pub as_of: String,
    /// The open epoch (or period).
    pub epoch: String,
    pub machines: Vec<MachineViewBody>,
    pub month: MonthSoFar,
    pub note: &'static str,
    pub tiers: Vec<TierBody>,
}

/// The key whose empty array [`ProviderMachinesBody::render`] fills.
const MACHINES_EMPTY: &str = "\"machines\":[]";

impl ProviderMachinesBody {
    /// The page as JSON with `views` (each a rendered [`MachineViewBody`])
    /// as its `machines`: `self.machines` is serialized empty and its `[]`
    /// replaced. The first `"machines":[]` is the key, for a `"` inside a
    /// string value is always escaped.
    pub fn render(&self, views: &[&str]) -> Result<String, serde_json::Error> {
        let empty = serde_json::to_string(self)?;
        let Some((head, tail)) = empty.split_once(MACHINES_EMPTY) else {
            return Ok(empty);
        };
        let mut out =
            String::with_capacity(empty.len() + views.iter().map(|v| v.len() + 1).sum::<usize>());
        out.push_str(head);
        out.push_str("\"machines\":[");
        out.push_str(&views.join(","));
        out.push(']');
        out.push_str(tail);
        Ok(out)
    }
}

/// A machine the caller owns now: its live view and its settled months.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OwnedMachineBody {
    #[serde(flatten)]
    pub view: MachineViewBody,
    pub history: Vec<HistoryEpoch>,
    /// Always true here.
    pub owned_now: bool,
}

/// `GET /v1/provider/machines/{machine}`: owned now (`owned_now: true`,
/// the live view) or owned once (`owned_now: false`, settled months only).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum MachinePageBody {
    Owned(Box<OwnedMachineBody>),
    Former(FormerMachineBody),
}
