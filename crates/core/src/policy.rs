//! The settlement policy (SPEC §8): every default of the spec, written once,
//! in [`Policy::default`]. Config files, bundles and the engine all speak the
//! same keys; an unknown key or an out-of-range value is an error naming it.
//!
//! Layering: `Policy::default()` ← the bundle's `policy` ← `--config`, key by
//! key, through [`PolicyPatch`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::{CoreError, Invalid};
use crate::models;
use crate::money::{Ppm, MAX_POOL_MICRO_USD, PPM_ONE};
use crate::time::{parse_date, EpochId, Period, Timestamp};

/// Attestation trust levels, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    None,
    SelfSigned,
    Hardware,
}

/// How the pool is shared when it binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Allocation {
    /// SPEC D16: rank order, workhorse reserve first.
    Priority,
    /// SPEC D17: max-min fair water-filling.
    Waterfill,
}

/// One memory tier: machines with at least `min_gb` verified get `floor_micro_usd` a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub min_gb: u32,
    pub floor_micro_usd: i64,
}

/// Upper bound of `reduction_k` (100 × earnings).
pub const MAX_REDUCTION_K_PPM: i64 = 100 * PPM_ONE;
/// Upper bound of `grace_ms` (one day).
pub const MAX_GRACE_MS: i64 = 86_400_000;
/// Upper bound of `work_window_days`.
pub const MAX_WORK_WINDOW_DAYS: u32 = 366;
/// Most tiers a policy may list.
pub const MAX_TIERS: usize = 64;
/// Most `model_caps` entries a policy may list.
pub const MAX_MODEL_CAPS: usize = 4096;

/// The policy keys of SPEC §8, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub reduction_k: Ppm,
    pub pool_micro_usd: i64,
    pub workhorse_reserve: Ppm,
    pub workhorse_min_gb: u32,
    pub workhorse_max_gb: u32,
    pub account_cap: Ppm,
    pub allocation: Allocation,
    pub min_uptime: Ppm,
    pub full_uptime: Ppm,
    pub grace_ms: i64,
    pub work_window_days: u32,
    pub min_trust: Trust,
    pub unknown_model_cap_gb: u32,
    pub require_tier_probe: bool,
    /// D5 reads only the prober's own probe facts (§2 trust boundary).
    pub require_own_probes: bool,
    /// The unit valued, allocated and settled (§10).
    pub period: Period,
    /// Sorted by `min_gb`.
    pub tiers: Vec<Tier>,
    /// Only the config additions; [`Policy::model_cap_gb`] falls back to the table.
    pub model_caps: BTreeMap<String, u32>,
    pub taper_enabled: bool,
    pub launch_date: Option<String>,
    pub calendar_residual: Ppm,
    pub target_revenue_micro_usd: i64,
    pub cliff_max_drop: Ppm,
}

/// The default tier table of SPEC D4.
pub const DEFAULT_TIERS: &[(u32, i64)] = &[
    (24, 10_000_000),
    (32, 12_000_000),
    (48, 16_000_000),
    (64, 18_000_000),
    (96, 22_000_000),
    (128, 26_000_000),
    (192, 30_000_000),
    (512, 40_000_000),
];

impl Default for Policy {
    fn default() -> Self {
        Policy {
            reduction_k: Ppm(PPM_ONE),
            pool_micro_usd: 9_000_000_000,
            workhorse_reserve: Ppm(500_000),
            workhorse_min_gb: 48,
            workhorse_max_gb: 96,
            account_cap: Ppm(0),
            allocation: Allocation::Priority,
            min_uptime: Ppm(900_000),
            full_uptime: Ppm(PPM_ONE),
            grace_ms: 90_000,
            work_window_days: 45,
            min_trust: Trust::SelfSigned,
            unknown_model_cap_gb: 24,
            require_tier_probe: false,
            require_own_probes: false,
            period: Period::Month,
            tiers: DEFAULT_TIERS
                .iter()
                .map(|&(min_gb, floor_micro_usd)| Tier {
                    min_gb,
                    floor_micro_usd,
                })
                .collect(),
            model_caps: BTreeMap::new(),
            taper_enabled: false,
            launch_date: None,
            calendar_residual: Ppm(0),
            target_revenue_micro_usd: 27_000_000_000,
            cliff_max_drop: Ppm(300_000),
        }
    }
}

/// A partial policy: the keys one source sets. Unknown keys are rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reduction_k: Option<Ppm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_micro_usd: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workhorse_reserve: Option<Ppm>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_u32"
    )]
    pub workhorse_min_gb: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_u32"
    )]
    pub workhorse_max_gb: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_cap: Option<Ppm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocation: Option<Allocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_uptime: Option<Ppm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_uptime: Option<Ppm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_ms: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_window_days"
    )]
    pub work_window_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_trust: Option<Trust>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_u32"
    )]
    pub unknown_model_cap_gb: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_tier_probe: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_own_probes: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Vec<Tier>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_caps: Option<BTreeMap<String, u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taper_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_residual: Option<Ppm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_revenue_micro_usd: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cliff_max_drop: Option<Ppm>,
}

/// A whole number of GB or days as any integer, so a negative value is
/// named in our words rather than serde's (`expected u32`).
fn opt_u32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    opt_u32_in(d, 0, u32::MAX)
}

fn opt_window_days<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    opt_u32_in(d, 1, MAX_WORK_WINDOW_DAYS)
}

fn opt_u32_in<'de, D: serde::Deserializer<'de>>(
    d: D,
    lo: u32,
    hi: u32,
) -> Result<Option<u32>, D::Error> {
    let v: Option<i64> = Option::deserialize(d)?;
    v.map(|v| {
        u32::try_from(v)
            .ok()
            .filter(|v| (lo..=hi).contains(v))
            .ok_or_else(|| {
                serde::de::Error::custom(format!("must be a whole number between {lo} and {hi}"))
            })
    })
    .transpose()
}

macro_rules! apply_fields {
    ($policy:expr, $patch:expr, $($field:ident),* $(,)?) => {
        $( if let Some(v) = $patch.$field.clone() { $policy.$field = v; } )*
    };
}

impl From<&Policy> for PolicyPatch {
    /// Every key set: the patch that reproduces `policy` exactly (bundle export).
    fn from(p: &Policy) -> PolicyPatch {
        PolicyPatch {
            reduction_k: Some(p.reduction_k),
            pool_micro_usd: Some(p.pool_micro_usd),
            workhorse_reserve: Some(p.workhorse_reserve),
            workhorse_min_gb: Some(p.workhorse_min_gb),
            workhorse_max_gb: Some(p.workhorse_max_gb),
            account_cap: Some(p.account_cap),
            allocation: Some(p.allocation),
            min_uptime: Some(p.min_uptime),
            full_uptime: Some(p.full_uptime),
            grace_ms: Some(p.grace_ms),
            work_window_days: Some(p.work_window_days),
            min_trust: Some(p.min_trust),
            unknown_model_cap_gb: Some(p.unknown_model_cap_gb),
            require_tier_probe: Some(p.require_tier_probe),
            require_own_probes: Some(p.require_own_probes),
            period: Some(p.period),
            tiers: Some(p.tiers.clone()),
            model_caps: Some(p.model_caps.clone()),
            taper_enabled: Some(p.taper_enabled),
            launch_date: p.launch_date.clone(),
            calendar_residual: Some(p.calendar_residual),
            target_revenue_micro_usd: Some(p.target_revenue_micro_usd),
            cliff_max_drop: Some(p.cliff_max_drop),
        }
    }
}

impl PolicyPatch {
    /// This patch with every key that `over` sets taken from `over`.
    pub fn overlay(&self, over: &PolicyPatch) -> PolicyPatch {
        let mut out = self.clone();
        macro_rules! take {
            ($($f:ident),* $(,)?) => { $( if over.$f.is_some() { out.$f = over.$f.clone(); } )* };
        }
        take!(
            reduction_k,
            pool_micro_usd,
            workhorse_reserve,
            workhorse_min_gb,
            workhorse_max_gb,
            account_cap,
            allocation,
            min_uptime,
            full_uptime,
            grace_ms,
            work_window_days,
            min_trust,
            unknown_model_cap_gb,
            require_tier_probe,
            require_own_probes,
            period,
            tiers,
            model_caps,
            taper_enabled,
            launch_date,
            calendar_residual,
            target_revenue_micro_usd,
            cliff_max_drop,
        );
        out
    }
}

impl Policy {
    /// Applies a patch key by key, then validates the result.
    /// `source` prefixes error paths (`policy`, `floorline.toml`).
    pub fn patched(&self, patch: &PolicyPatch, source: &str) -> Result<Policy, CoreError> {
        let mut p = self.clone();
        apply_fields!(
            p,
            patch,
            reduction_k,
            pool_micro_usd,
            workhorse_reserve,
            workhorse_min_gb,
            workhorse_max_gb,
            account_cap,
            allocation,
            min_uptime,
            full_uptime,
            grace_ms,
            work_window_days,
            min_trust,
            unknown_model_cap_gb,
            require_tier_probe,
            require_own_probes,
            period,
            tiers,
            model_caps,
            taper_enabled,
            calendar_residual,
            target_revenue_micro_usd,
            cliff_max_drop,
        );
        if patch.launch_date.is_some() {
            p.launch_date = patch.launch_date.clone();
        }
        p.tiers.sort_by_key(|t| t.min_gb);
        p.validate(source)?;
        Ok(p)
    }

    /// Checks every key's range; errors name `{source}.{key}`.
    pub fn validate(&self, source: &str) -> Result<(), CoreError> {
        let mut errs = Vec::new();
        let mut bad =
            |key: &str, msg: String| errs.push(Invalid::new(format!("{source}.{key}"), msg));
        let unit = |v: Ppm| (0..=PPM_ONE).contains(&v.0);
        if !(0..=MAX_REDUCTION_K_PPM).contains(&self.reduction_k.0) {
            bad("reduction_k", "must be between 0 and 100".into());
        }
        if self.pool_micro_usd < 0 {
            bad("pool_micro_usd", "must be ≥ 0".into());
        }
        if self.pool_micro_usd > MAX_POOL_MICRO_USD {
            bad(
                "pool_micro_usd",
                format!("must be ≤ {MAX_POOL_MICRO_USD} ($1 000 000 000)"),
            );
        }
        for (key, v) in [
            ("workhorse_reserve", self.workhorse_reserve),
            ("account_cap", self.account_cap),
            ("min_uptime", self.min_uptime),
            ("full_uptime", self.full_uptime),
            ("calendar_residual", self.calendar_residual),
            ("cliff_max_drop", self.cliff_max_drop),
        ] {
            if !unit(v) {
                bad(key, "must be between 0 and 1".into());
            }
        }
        if self.min_uptime >= self.full_uptime {
            bad("min_uptime", "must be below full_uptime".into());
        }
        if self.workhorse_min_gb > self.workhorse_max_gb {
            bad("workhorse_min_gb", "must be ≤ workhorse_max_gb".into());
        }
        if !(0..=MAX_GRACE_MS).contains(&self.grace_ms) {
            bad("grace_ms", format!("must be between 0 and {MAX_GRACE_MS}"));
        }
        if !(1..=MAX_WORK_WINDOW_DAYS).contains(&self.work_window_days) {
            bad(
                "work_window_days",
                format!("must be between 1 and {MAX_WORK_WINDOW_DAYS}"),
            );
        }
        if self.tiers.len() > MAX_TIERS {
            bad("tiers", format!("at most {MAX_TIERS} tiers"));
        }
        for (i, t) in self.tiers.iter().enumerate() {
            if t.floor_micro_usd < 0 {
                bad(&format!("tiers[{i}].floor_micro_usd"), "must be ≥ 0".into());
            }
        }
        if self
            .tiers
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.min_gb == b.min_gb))
        {
            bad("tiers", "min_gb values must be distinct".into());
        }
        // More memory never earns a lower floor.
        if self
            .tiers
            .windows(2)
            .any(|w| matches!(w, [a, b] if b.floor_micro_usd < a.floor_micro_usd))
        {
            bad(
                "tiers",
                "floor_micro_usd must not decrease as min_gb grows".into(),
            );
        }
        if self.model_caps.len() > MAX_MODEL_CAPS {
            bad("model_caps", format!("at most {MAX_MODEL_CAPS} entries"));
        }
        for id in self.model_caps.keys() {
            if id.is_empty() || id.len() > 128 {
                bad(
                    &format!("model_caps.{id}"),
                    "identifier must be 1–128 characters".into(),
                );
            }
        }
        if let Some(d) = &self.launch_date {
            if let Err(e) = parse_date(d) {
                bad("launch_date", e);
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(CoreError::Invalid(errs))
        }
    }

    /// D4: the tier a machine with `gb` verified falls in: the largest with
    /// `min_gb ≤ gb` (tiers are sorted by `min_gb`), none below every tier.
    pub fn tier(&self, gb: u32) -> Option<&Tier> {
        self.tiers.iter().rev().find(|t| t.min_gb <= gb)
    }

    /// D4: the floor of [`Policy::tier`], else 0.
    pub fn tier_floor(&self, gb: u32) -> i64 {
        self.tier(gb).map_or(0, |t| t.floor_micro_usd)
    }

    /// D20: an epoch id must name a unit of the policy's `period`; `path`
    /// names where it came from (`epoch`, `--epoch`).
    pub fn check_epoch(&self, epoch: EpochId, path: &str) -> Result<(), CoreError> {
        if epoch.period() == self.period {
            return Ok(());
        }
        Err(CoreError::invalid(
            path,
            format!(
                "`{epoch}` is a {} id, but the policy's period is `{}`: use {}",
                epoch.period(),
                self.period,
                self.period.id_shape()
            ),
        ))
    }

    /// D6: the trusted cap for a hardware model, config first, then the table.
    pub fn model_cap_gb(&self, identifier: &str) -> Option<u32> {
        self.model_caps
            .get(identifier)
            .copied()
            .or_else(|| models::default_cap_gb(identifier))
    }

    /// D14: workhorse = `workhorse_min_gb ≤ gb ≤ workhorse_max_gb`.
    pub fn is_workhorse(&self, gb: u32) -> bool {
        (self.workhorse_min_gb..=self.workhorse_max_gb).contains(&gb)
    }

    /// The launch date's 00:00 UTC, if set (validated already).
    pub fn launch(&self) -> Option<Timestamp> {
        self.launch_date.as_deref().and_then(|d| parse_date(d).ok())
    }
}

/// Sections of `floorline.toml` that are not policy keys.
pub const CONFIG_SECTIONS: &[&str] = &["settlement", "prober", "server"];

/// Splits a `floorline.toml` text into its policy patch and its other sections.
/// Unknown policy keys and unknown sections are errors naming the key.
pub fn parse_config_toml(
    text: &str,
    source: &str,
) -> Result<(PolicyPatch, toml::Table), CoreError> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| CoreError::invalid(source, e.message().to_string()))?;
    let mut sections = toml::Table::new();
    for name in CONFIG_SECTIONS {
        if let Some(v) = table.remove(*name) {
            sections.insert((*name).to_string(), v);
        }
    }
    let patch = patch_from_value(toml::Value::Table(table), source)?;
    Ok((patch, sections))
}

/// Deserializes a patch from any serde value, naming the offending key.
pub fn patch_from_value<'de, D>(value: D, source: &str) -> Result<PolicyPatch, CoreError>
where
    D: serde::Deserializer<'de>,
    D::Error: std::fmt::Display,
{
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let full = if path == "." {
            source.to_string()
        } else {
            format!("{source}.{path}")
        };
        CoreError::invalid(full, e.inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_spec() {
        let p = Policy::default();
        assert_eq!(p.validate("policy"), Ok(()));
        assert_eq!(p.tier_floor(64), 18_000_000);
        assert_eq!(p.tier_floor(63), 16_000_000);
        assert_eq!(p.tier_floor(23), 0);
        assert_eq!(p.tier_floor(1024), 40_000_000);
        assert!(p.is_workhorse(48) && p.is_workhorse(96) && !p.is_workhorse(128));
    }

    #[test]
    fn unknown_keys_and_bad_fractions_are_named() {
        let err = parse_config_toml("reduction_kk = 1.0", "floorline.toml").unwrap_err();
        assert!(err.to_string().contains("reduction_kk"), "{err}");
        let err = parse_config_toml("workhorse_reserve = 0.1234567", "f").unwrap_err();
        assert!(err.to_string().contains("workhorse_reserve"), "{err}");
        let (patch, sections) =
            parse_config_toml("reduction_k = 0.5\n[settlement]\nmode = \"live\"\n", "f").unwrap();
        assert_eq!(patch.reduction_k, Some(Ppm(500_000)));
        assert!(sections.contains_key("settlement"));
        let err = Policy::default()
            .patched(
                &PolicyPatch {
                    workhorse_reserve: Some(Ppm(1_000_001)),
                    ..Default::default()
                },
                "policy",
            )
            .unwrap_err();
        assert!(
            err.to_string().starts_with("policy.workhorse_reserve:"),
            "{err}"
        );
    }

    #[test]
    fn the_pool_is_bounded_so_settlement_credits_cannot_overflow_a_balance() {
        let at = |pool_micro_usd| Policy {
            pool_micro_usd,
            ..Policy::default()
        };
        assert_eq!(at(MAX_POOL_MICRO_USD).validate("policy"), Ok(()));
        let err = at(MAX_POOL_MICRO_USD + 1).validate("policy").unwrap_err();
        assert!(
            err.to_string().starts_with("policy.pool_micro_usd:"),
            "{err}"
        );
        assert!(at(i64::MAX).validate("policy").is_err());
    }

    #[test]
    fn a_full_patch_reproduces_the_policy() {
        let p = Policy {
            reduction_k: Ppm(250_000),
            launch_date: Some("2026-01-15".into()),
            ..Policy::default()
        };
        let patch = PolicyPatch::from(&p);
        let json = serde_json::to_string(&patch).unwrap();
        let back: PolicyPatch = serde_json::from_str(&json).unwrap();
        assert_eq!(Policy::default().patched(&back, "policy").unwrap(), p);
    }

    #[test]
    fn config_caps_override_the_table() {
        let mut p = Policy::default();
        p.model_caps.insert("Mac14,9".into(), 96);
        p.model_caps.insert("Vm1,1".into(), 8);
        assert_eq!(p.model_cap_gb("Mac14,9"), Some(96));
        assert_eq!(p.model_cap_gb("Vm1,1"), Some(8));
        assert_eq!(p.model_cap_gb("Mac15,9"), Some(128));
    }
}
