//! The scenario: a validated what-if (fleet, uptime, demand, policy) parsed
//! from TOML. The file format is documented in `SCENARIOS.md`; the built-in
//! `builtin:cold-start` is `scenarios/cold-start.toml`, compiled in.
//!
//! Parsing is strict: an unknown key or an out-of-range value is a
//! [`SimError::BadInput`] naming the key as `scenario.<table>.<key>`
//! (`scenario.fleet.growth: must be ≥ 0`). Policy keys are core's own
//! ([`floorline_core::policy::PolicyPatch`]), validated by core.
//!
//! Fractions are decimals with at most 6 places, held as [`Ppm`], so the
//! simulation itself runs on integers and is deterministic everywhere.

use serde::{Deserialize, Serialize};
use std::path::Path;

use floorline_core::money::{Ppm, PPM_ONE};
use floorline_core::policy::{Policy, PolicyPatch, Trust};
use floorline_core::EpochId;

use crate::error::SimError;
use crate::merge::resolve_extends;
use crate::validate::from_table;
pub use crate::validate::smallest_model_holding;

/// Most months one scenario may simulate (20 years).
pub const MAX_MONTHS: u32 = 240;
/// Most machines the fleet may hold in any month.
pub const MAX_MACHINES: u32 = 200_000;
/// Most entries in `fleet.mix`, `uptime.buckets` and `demand.throughput`.
pub const MAX_LIST_ENTRIES: usize = 256;
/// Upper bound of `demand.tokens_per_s` for one machine.
pub const MAX_TOKENS_PER_S: u32 = 100_000;
/// Upper bound of `demand.price_micro_usd_per_million_tokens` ($1,000 per million).
pub const MAX_PRICE_MICRO_USD_PER_M: i64 = 1_000_000_000;
/// Upper bound of `demand.tokens_per_month` (10¹⁵).
pub const MAX_TOKENS_PER_MONTH: i64 = 1_000_000_000_000_000;
/// Upper bound of `demand.max_utilization` (batching: 100 concurrent streams).
pub const MAX_UTILIZATION_PPM: i64 = 100 * PPM_ONE;
/// Upper bound of the monthly growth fractions (+1000 % a month).
pub const MAX_GROWTH_PPM: i64 = 10 * PPM_ONE;

/// A validated scenario, ready for [`crate::simulate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// A path or `builtin:NAME`.
    pub source: String,
    pub start: EpochId,
    pub months: u32,
    pub seed: u64,
    pub fleet: FleetSpec,
    pub uptime: UptimeSpec,
    pub demand: DemandSpec,
    /// The full policy: core defaults with the scenario's `[policy]` keys applied.
    #[serde(serialize_with = "policy_as_patch")]
    pub policy: Policy,
}

fn policy_as_patch<S: serde::Serializer>(p: &Policy, s: S) -> Result<S::Ok, S::Error> {
    PolicyPatch::from(p).serialize(s)
}

/// The fleet: its size over time and what machines it is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetSpec {
    /// Machines in the first month.
    pub machines: u32,
    /// Net monthly growth of the fleet size, compounding.
    pub growth: Ppm,
    /// Machines added every month on top of `growth`.
    pub growth_machines: u32,
    /// Share of the fleet replaced by new machines every month (turnover).
    pub churn: Ppm,
    /// The fleet never grows beyond this.
    pub max_machines: u32,
    /// Consecutive machines share one provider account.
    pub machines_per_account: u32,
    /// Share of machines with a payout account (a binding).
    pub bound: Ppm,
    /// Share of machines the prober has passed (the work gate without demand).
    pub probed: Ppm,
    /// Attestation trust of every machine.
    pub trust: Trust,
    pub mix: Vec<MixEntry>,
}

/// One kind of machine in the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MixEntry {
    /// The hardware model identifier the machine attests.
    pub model: String,
    /// The memory it reports (and really has).
    pub memory_gb: u32,
    /// Relative weight among the entries.
    pub weight: Ppm,
}

/// How much of each month machines are available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UptimeSpec {
    /// Chance that a machine stays in last month's bucket.
    pub persistence: Ppm,
    pub buckets: Vec<UptimeBucket>,
}

/// Machines in a bucket have an uptime drawn uniformly from `[min, max]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UptimeBucket {
    pub min: Ppm,
    pub max: Ppm,
    pub weight: Ppm,
}

/// How much demand the network has in month 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DemandVolume {
    /// Tokens demanded from the whole fleet in month 1.
    TokensPerMonth(i64),
    /// Demand as a share of the fleet's single-stream capacity in month 1.
    Utilization(Ppm),
}

/// Organic demand: volume, growth, price and machine throughput.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemandSpec {
    pub volume: DemandVolume,
    /// Monthly growth of the volume, compounding.
    pub growth: Ppm,
    /// What a consumer pays (and the provider earns) per million tokens.
    pub price_micro_usd_per_million_tokens: i64,
    /// The most a machine can serve, as a multiple of its single-stream capacity.
    pub max_utilization: Ppm,
    /// Demand per machine varies by ±`spread` around its share of capacity.
    pub spread: Ppm,
    /// Single-stream tokens/s by memory, sorted by `min_gb`.
    pub throughput: Vec<Throughput>,
}

/// Machines with at least `min_gb` of memory decode `tokens_per_s` single-stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throughput {
    pub min_gb: u32,
    pub tokens_per_s: u32,
}

impl DemandSpec {
    /// The throughput of a machine with `gb` of memory (0 below every entry).
    pub fn tokens_per_s(&self, gb: u32) -> u32 {
        self.throughput
            .iter()
            .rev()
            .find(|t| t.min_gb <= gb)
            .map_or(0, |t| t.tokens_per_s)
    }
}

// ---------------------------------------------------------------------------
// Loading.

/// The built-in scenarios, by name (`builtin:NAME`).
pub const BUILTINS: &[(&str, &str)] =
    &[("cold-start", include_str!("../scenarios/cold-start.toml"))];

/// Prefix of every key path in error messages.
pub const ROOT: &str = "scenario";

/// Loads `builtin:NAME` or reads a scenario file.
pub fn read_scenario(spec: &str) -> Result<Scenario, SimError> {
    let text = read_text(spec, spec)?;
    load_scenario(&text, spec)
}

/// The text of `builtin:NAME` or of a file; `origin` names it in errors.
pub(crate) fn read_text(spec: &str, origin: &str) -> Result<String, SimError> {
    if let Some(name) = spec.strip_prefix("builtin:") {
        return BUILTINS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| (*text).to_string())
            .ok_or_else(|| {
                let known: Vec<String> = BUILTINS
                    .iter()
                    .map(|(n, _)| format!("builtin:{n}"))
                    .collect();
                SimError::bad(
                    origin,
                    ROOT,
                    format!("unknown built-in `{spec}` (known: {})", known.join(", ")),
                )
            });
    }
    std::fs::read_to_string(spec)
        .map_err(|e| SimError::bad(origin, ROOT, format!("cannot read `{spec}`: {e}")))
}

/// Parses and validates a scenario. `source` is where the text came from (a
/// path or `builtin:NAME`); it names the scenario in errors, gives it a
/// default name, and anchors a relative `extends`.
pub fn load_scenario(text: &str, source: &str) -> Result<Scenario, SimError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| SimError::bad(source, ROOT, toml_message(text, &e)))?;
    let has_name = table.contains_key("name");
    let table = resolve_extends(table, source, 0)?;
    let mut scenario = from_table(table, source)?;
    if !has_name {
        scenario.name = default_name(source);
    }
    Ok(scenario)
}

fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let message = one_line(e.message());
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count().saturating_add(1);
            let column = before
                .rsplit('\n')
                .next()
                .map_or(0, |l| l.chars().count())
                .saturating_add(1);
            format!("invalid TOML at line {line}, column {column}: {message}")
        }
        None => format!("invalid TOML: {message}"),
    }
}

/// A deserializer's message on one line, without the `in `key`` trailer
/// (the key is already in the path).
pub(crate) fn one_line(message: &str) -> String {
    let head = match message.find("\nin `") {
        Some(i) => message.get(..i).unwrap_or(message),
        None => message,
    };
    head.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn default_name(source: &str) -> String {
    if let Some(name) = source.strip_prefix("builtin:") {
        return name.to_string();
    }
    Path::new(source)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(source)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"
start = "2026-09"
months = 2
[fleet]
machines = 3
mix = [{ model = "Mac16,11", weight = 1 }]
"#;

    fn err(text: &str) -> String {
        load_scenario(text, "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn a_minimal_scenario_gets_defaults() {
        let s = load_scenario(MINI, "dir/mini.toml").unwrap();
        assert_eq!(s.name, "mini");
        assert_eq!(
            s.fleet.mix[0].memory_gb, 64,
            "memory defaults to the model's cap"
        );
        assert_eq!(s.uptime.buckets.len(), 1);
        assert_eq!(s.policy, Policy::default());
        assert_eq!(s.demand.volume, DemandVolume::TokensPerMonth(0));
    }

    #[test]
    fn negative_growth_is_named() {
        let e = err(&MINI.replace("machines = 3", "machines = 3\ngrowth = -0.1"));
        assert_eq!(e, "t.toml: scenario.fleet.growth: must be ≥ 0");
    }

    #[test]
    fn unknown_keys_are_named_by_their_own_path() {
        let e = err(&MINI.replace("machines = 3", "machines = 3\ngrowht = 0.1"));
        assert!(
            e.starts_with("t.toml: scenario.fleet.growht: unknown key"),
            "{e}"
        );
        let e = err(&format!("{MINI}\n[policy]\nreduction_kk = 1\n"));
        assert!(
            e.contains("scenario.policy.reduction_kk: unknown key"),
            "{e}"
        );
        let e = err(&format!("bogus = 1\n{MINI}"));
        assert!(e.starts_with("t.toml: scenario.bogus: unknown key"), "{e}");
    }

    #[test]
    fn policy_values_are_validated_by_core() {
        let e = err(&format!("{MINI}\n[policy]\nworkhorse_reserve = 1.5\n"));
        assert!(e.contains("scenario.policy.workhorse_reserve"), "{e}");
    }

    #[test]
    fn tier_only_mix_entries_pick_a_model_that_holds_them() {
        let p = Policy::default();
        assert_eq!(
            smallest_model_holding(&p, 64).as_deref(),
            Some("MacBookPro18,2")
        );
        assert_eq!(smallest_model_holding(&p, 512).as_deref(), Some("Mac15,14"));
        assert_eq!(smallest_model_holding(&p, 513), None);
        let e = err(&MINI.replace("model = \"Mac16,11\"", "memory_gb = 1024"));
        assert!(
            e.contains("scenario.fleet.mix[0].memory_gb: no model"),
            "{e}"
        );
    }

    #[test]
    fn demand_needs_a_price_and_throughput() {
        let e = err(&format!("{MINI}\n[demand]\ntokens_per_month = 1000\n"));
        assert!(
            e.contains("scenario.demand.price_micro_usd_per_million_tokens: required"),
            "{e}"
        );
        assert!(e.contains("scenario.demand.throughput: required"), "{e}");
    }
}
