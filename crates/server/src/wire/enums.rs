//! String enums of the API, mirroring the core's, engine's and store's
//! enums (which know nothing of OpenAPI): each converts `From` its source,
//! serializes to the same word, and a test holds the two spellings equal.

use serde::Serialize;

/// Why a machine is not eligible (SPEC D12), in D12's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    NotAttested,
    DuplicateIdentity,
    BelowMinMemory,
    UptimeBelowGate,
    NoProvenWork,
    NoPayoutAccount,
}

impl From<floorline_core::valuation::Reason> for ReasonCode {
    fn from(r: floorline_core::valuation::Reason) -> ReasonCode {
        use floorline_core::valuation::Reason;
        match r {
            Reason::NotAttested => ReasonCode::NotAttested,
            Reason::DuplicateIdentity => ReasonCode::DuplicateIdentity,
            Reason::BelowMinMemory => ReasonCode::BelowMinMemory,
            Reason::UptimeBelowGate => ReasonCode::UptimeBelowGate,
            Reason::NoProvenWork => ReasonCode::NoProvenWork,
            Reason::NoPayoutAccount => ReasonCode::NoPayoutAccount,
        }
    }
}

/// The reason codes of `reasons`.
pub fn reason_codes(reasons: &[floorline_core::valuation::Reason]) -> Vec<ReasonCode> {
    reasons.iter().copied().map(ReasonCode::from).collect()
}

/// What the scheduler does when an epoch is due (`settlement.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SchedulerMode {
    Off,
    Preview,
    Live,
}

impl From<floorline_engine::schedule::SchedulerMode> for SchedulerMode {
    fn from(m: floorline_engine::schedule::SchedulerMode) -> SchedulerMode {
        use floorline_engine::schedule::SchedulerMode as Engine;
        match m {
            Engine::Off => SchedulerMode::Off,
            Engine::Preview => SchedulerMode::Preview,
            Engine::Live => SchedulerMode::Live,
        }
    }
}

/// A stored run's mode: live moves money, preview only records the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    Live,
    Preview,
}

impl From<floorline_store::RunMode> for RunMode {
    fn from(m: floorline_store::RunMode) -> RunMode {
        match m {
            floorline_store::RunMode::Live => RunMode::Live,
            floorline_store::RunMode::Preview => RunMode::Preview,
        }
    }
}

/// The length of the settlement unit (policy `period`, SPEC §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum PeriodLength {
    #[serde(rename = "month")]
    Month,
    #[serde(rename = "day")]
    Day,
    #[serde(rename = "hour")]
    Hour,
    #[serde(rename = "5m")]
    FiveMinutes,
}

impl From<floorline_core::time::Period> for PeriodLength {
    fn from(p: floorline_core::time::Period) -> PeriodLength {
        use floorline_core::time::Period;
        match p {
            Period::Month => PeriodLength::Month,
            Period::Day => PeriodLength::Day,
            Period::Hour => PeriodLength::Hour,
            Period::FiveMinutes => PeriodLength::FiveMinutes,
        }
    }
}

/// How the pool is shared when it binds (policy `allocation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AllocationRule {
    Priority,
    Waterfill,
}

impl From<floorline_core::policy::Allocation> for AllocationRule {
    fn from(a: floorline_core::policy::Allocation) -> AllocationRule {
        use floorline_core::policy::Allocation;
        match a {
            Allocation::Priority => AllocationRule::Priority,
            Allocation::Waterfill => AllocationRule::Waterfill,
        }
    }
}

/// Kinds of ledger entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKindName {
    ProviderFloorDraw,
    Adjustment,
    Clawback,
}

impl From<floorline_store::EntryKind> for EntryKindName {
    fn from(k: floorline_store::EntryKind) -> EntryKindName {
        use floorline_store::EntryKind;
        match k {
            EntryKind::ProviderFloorDraw => EntryKindName::ProviderFloorDraw,
            EntryKind::Adjustment => EntryKindName::Adjustment,
            EntryKind::Clawback => EntryKindName::Clawback,
        }
    }
}

/// Attestation trust levels, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrustLevel {
    None,
    SelfSigned,
    Hardware,
}

impl From<floorline_core::policy::Trust> for TrustLevel {
    fn from(t: floorline_core::policy::Trust) -> TrustLevel {
        use floorline_core::policy::Trust;
        match t {
            Trust::None => TrustLevel::None,
            Trust::SelfSigned => TrustLevel::SelfSigned,
            Trust::Hardware => TrustLevel::Hardware,
        }
    }
}

/// Where an earning came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EarningSource {
    Inference,
    Probe,
    BaseReward,
}

impl From<floorline_core::facts::EarningKind> for EarningSource {
    fn from(k: floorline_core::facts::EarningKind) -> EarningSource {
        use floorline_core::facts::EarningKind;
        match k {
            EarningKind::Inference => EarningSource::Inference,
            EarningKind::Probe => EarningSource::Probe,
            EarningKind::BaseReward => EarningSource::BaseReward,
        }
    }
}

/// An adjustment's kind (request side only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdjustKindName {
    Adjustment,
    Clawback,
}

/// The `format` of a listing that also comes as CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    Json,
    Csv,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;

    /// `ours` serializes to the word `theirs` serializes to.
    fn same<A: Serialize, B: Serialize>(ours: A, theirs: B) {
        assert_eq!(
            serde_json::to_value(ours).ok(),
            serde_json::to_value(theirs).ok()
        );
    }

    /// The word `ours` serializes to parses as the source enum and back.
    fn parses<A: Serialize, B: Serialize + DeserializeOwned>(ours: A) {
        let word = serde_json::to_value(ours).ok();
        let back: Option<B> = word.clone().and_then(|w| serde_json::from_value(w).ok());
        assert_eq!(back.and_then(|b| serde_json::to_value(b).ok()), word);
    }

    #[test]
    fn wire_enums_spell_their_sources_words() {
        use floorline_core::policy::{Allocation, Trust};
        use floorline_core::time::Period;
        for r in floorline_core::valuation::Reason::ALL {
            same(ReasonCode::from(r), r);
        }
        for m in [
            floorline_engine::schedule::SchedulerMode::Off,
            floorline_engine::schedule::SchedulerMode::Preview,
            floorline_engine::schedule::SchedulerMode::Live,
        ] {
            same(SchedulerMode::from(m), m);
        }
        for m in [
            floorline_store::RunMode::Live,
            floorline_store::RunMode::Preview,
        ] {
            same(RunMode::from(m), m);
        }
        for p in [
            Period::Month,
            Period::Day,
            Period::Hour,
            Period::FiveMinutes,
        ] {
            same(PeriodLength::from(p), p);
        }
        for a in [Allocation::Priority, Allocation::Waterfill] {
            same(AllocationRule::from(a), a);
        }
        for k in [
            floorline_store::EntryKind::ProviderFloorDraw,
            floorline_store::EntryKind::Adjustment,
            floorline_store::EntryKind::Clawback,
        ] {
            same(EntryKindName::from(k), k);
        }
        for t in [
            TrustLevel::None,
            TrustLevel::SelfSigned,
            TrustLevel::Hardware,
        ] {
            parses::<_, Trust>(t);
        }
        for e in [
            EarningSource::Inference,
            EarningSource::Probe,
            EarningSource::BaseReward,
        ] {
            parses::<_, floorline_core::facts::EarningKind>(e);
        }
        for k in [AdjustKindName::Adjustment, AdjustKindName::Clawback] {
            parses::<_, floorline_store::AdjustKind>(k);
        }
    }
}
