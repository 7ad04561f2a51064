//! What `explain` reports of one machine in one epoch (SPEC §3): every term
//! of its figures and the facts behind them, as plain data. The HTTP API
//! and the CLI render it; the demo reads it by field.

use floorline_core::facts::EarningKind;
use floorline_core::policy::Trust;
use floorline_core::Timestamp;
use serde::Serialize;

/// The terms of a machine's figures, in the order SPEC §3 computes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Formula {
    /// The epoch's length `T`.
    #[serde(rename = "T_ms")]
    pub t_ms: i64,
    pub available_ms: i64,
    pub uptime_ppm: i64,
    /// Policy `min_uptime` as a decimal.
    pub min_uptime: String,
    /// Policy `full_uptime` as a decimal.
    pub full_uptime: String,
    pub hardware_model: String,
    pub reported_memory_gb: u32,
    /// The model's largest memory; `None` for an unknown model.
    pub model_cap_gb: Option<u32>,
    pub proven_gb: u32,
    pub verified_memory_gb: u32,
    /// Which bound set `verified_memory_gb`, in words.
    pub verified_because: String,
    pub tier_floor_micro_usd: i64,
    /// The taper τ as `num/den`.
    pub taper: String,
    pub floor_untapered_micro_usd: i64,
    pub floor_micro_usd: i64,
    pub earned_micro_usd: i64,
    /// Policy `reduction_k` as a decimal.
    pub reduction_k: String,
    pub desired_untapered_micro_usd: i64,
    pub previous_total_micro_usd: i64,
    /// Policy `cliff_max_drop` as a decimal.
    pub cliff_max_drop: String,
    pub desired_micro_usd: i64,
    pub workhorse: bool,
    pub budget_micro_usd: i64,
    pub reserve_micro_usd: i64,
    /// `earned + granted + prior`.
    pub payout_micro_usd: i64,
}

/// The facts behind an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub attestations: Vec<EvidenceAttestation>,
    pub bindings: Vec<EvidenceBinding>,
    pub sessions: Vec<EvidenceSession>,
    pub health: Vec<EvidenceHealth>,
    pub probes: Vec<EvidenceProbe>,
    pub earnings: Vec<EvidenceEarnings>,
    pub organic_earnings: EvidenceOrganic,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceAttestation {
    pub attested_at: Timestamp,
    pub hardware_model: String,
    pub reported_memory_gb: u32,
    pub trust: Trust,
    pub se_public_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceBinding {
    pub account_id: String,
    pub payout_identity: String,
    pub from: Timestamp,
    pub to: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceSession {
    pub connected_at: Timestamp,
    pub last_seen_at: Option<Timestamp>,
    pub disconnected_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceHealth {
    pub at: Timestamp,
    pub healthy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceProbe {
    pub probe_id: String,
    pub at: Timestamp,
    pub passed: bool,
    pub verified_memory_gb: Option<u32>,
    /// floorline's own prober ran it.
    pub own: bool,
}

/// A group of earnings with D9's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceEarnings {
    pub consumer_account_id: String,
    pub kind: EarningKind,
    pub pinned: bool,
    /// The consumer is the machine's own account.
    pub self_account: bool,
    /// D9 counts the group as organic.
    pub organic: bool,
    pub epoch_micro_usd: i64,
    pub n_positive_in_work_window: i64,
}

/// The machine's organic earnings (D9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceOrganic {
    pub epoch_micro_usd: i64,
    pub trailing_micro_usd: i64,
    pub n_in_work_window: i64,
}
