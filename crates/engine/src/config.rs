//! `floorline.toml` (SPEC §8): the policy keys at top level plus the
//! `[settlement]`, `[prober]` and `[server]` sections, with `FLOORLINE_*`
//! environment overrides. Unknown keys anywhere are errors naming the key.
//!
//! Environment overrides: `FLOORLINE_<KEY>` sets a top-level policy key
//! (`FLOORLINE_POOL_MICRO_USD=5000000`), `FLOORLINE_<SECTION>_<KEY>` a section
//! key (`FLOORLINE_SETTLEMENT_MODE=live`). Values are read as TOML values,
//! falling back to a plain string. A few variables are not config and are
//! skipped: see [`NOT_CONFIG_VARS`].

use floorline_core::policy::{parse_config_toml, Policy, PolicyPatch};
use floorline_core::CoreError;
use serde::{Deserialize, Serialize};

use crate::schedule::SchedulerMode;
use floorline_prober::protocol::CatalogEntry;
use floorline_prober::schedule::ProberLimits;

/// Environment variables with the `FLOORLINE_` prefix that are not config keys.
pub const NOT_CONFIG_VARS: &[&str] = &[
    "FLOORLINE_CONFIG",
    "FLOORLINE_DATABASE_URL",
    #[cfg(feature = "failpoints")]
    floorline_store::FAILPOINT_ENV,
    "FLOORLINE_TEST_PG_URL",
    "FLOORLINE_TEST_VENV",
    "FLOORLINE_LOG",
];

/// Default settle delay: 6 hours after the epoch closes.
pub const DEFAULT_SETTLE_DELAY_MS: i64 = 6 * 3_600_000;
/// Longest settle delay accepted: 28 days (it must fall inside the next month).
pub const MAX_SETTLE_DELAY_MS: i64 = 28 * 86_400_000;

/// `[settlement]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SettlementConfig {
    pub mode: SchedulerMode,
    pub settle_delay_ms: i64,
}

impl Default for SettlementConfig {
    fn default() -> Self {
        SettlementConfig {
            mode: SchedulerMode::Preview,
            settle_delay_ms: DEFAULT_SETTLE_DELAY_MS,
        }
    }
}

/// `[prober]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProberConfig {
    /// Where probes are sent; no probes run without it.
    pub dispatch_url: Option<String>,
    pub timeout_ms: u64,
    pub max_in_flight: u32,
    pub rate_per_minute: u32,
    pub catalog: Vec<CatalogEntry>,
}

impl Default for ProberConfig {
    fn default() -> Self {
        ProberConfig {
            dispatch_url: None,
            timeout_ms: 30_000,
            max_in_flight: 8,
            rate_per_minute: 60,
            catalog: Vec::new(),
        }
    }
}

impl ProberConfig {
    pub fn limits(&self) -> ProberLimits {
        ProberLimits {
            timeout_ms: self.timeout_ms,
            max_in_flight: self.max_in_flight,
            rate_per_minute: self.rate_per_minute,
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// Most facts in one ingestion batch (413 beyond).
    pub max_batch_items: usize,
    /// Longest a request may take, body included (408/503 beyond).
    pub request_timeout_ms: u64,
}

/// Default body limit: 8 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Default batch limit.
pub const DEFAULT_MAX_BATCH_ITEMS: usize = 10_000;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch_items: DEFAULT_MAX_BATCH_ITEMS,
            request_timeout_ms: 30_000,
        }
    }
}

/// The whole config, validated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub policy: Policy,
    /// The policy keys this config sets (for `plan --config` layering).
    pub policy_patch: PolicyPatch,
    pub settlement: SettlementConfig,
    pub prober: ProberConfig,
    pub server: ServerConfig,
}

impl Config {
    /// Reads a TOML text (may be empty) and the environment variables given.
    pub fn load(
        text: &str,
        source: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, CoreError> {
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| CoreError::invalid(source, e.message().to_string()))?;
        for (key, value) in env {
            let Some(rest) = key.strip_prefix("FLOORLINE_") else {
                continue;
            };
            if NOT_CONFIG_VARS.contains(&key.as_str()) {
                continue;
            }
            let rest = rest.to_ascii_lowercase();
            let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(value.clone()));
            let section = ["settlement", "prober", "server"]
                .into_iter()
                .find(|s| rest.starts_with(&format!("{s}_")));
            match section {
                Some(s) => {
                    let inner = rest
                        .get(s.len().saturating_add(1)..)
                        .unwrap_or_default()
                        .to_string();
                    let entry = table
                        .entry(s.to_string())
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                    if let toml::Value::Table(t) = entry {
                        t.insert(inner, parsed);
                    }
                }
                None => {
                    table.insert(rest, parsed);
                }
            }
        }
        let merged =
            toml::to_string(&table).map_err(|e| CoreError::invalid(source, e.to_string()))?;
        let (policy_patch, sections) = parse_config_toml(&merged, source)?;
        let policy = Policy::default().patched(&policy_patch, source)?;
        let section = |name: &str| {
            sections
                .get(name)
                .cloned()
                .unwrap_or(toml::Value::Table(toml::Table::new()))
        };
        let settlement: SettlementConfig =
            section_from(section("settlement"), &format!("{source}.settlement"))?;
        let prober: ProberConfig = section_from(section("prober"), &format!("{source}.prober"))?;
        let server: ServerConfig = section_from(section("server"), &format!("{source}.server"))?;
        let config = Config {
            policy,
            policy_patch,
            settlement,
            prober,
            server,
        };
        config.validate(source)?;
        Ok(config)
    }

    fn validate(&self, source: &str) -> Result<(), CoreError> {
        let bad = |key: &str, msg: &str| Err(CoreError::invalid(format!("{source}.{key}"), msg));
        if !(0..=MAX_SETTLE_DELAY_MS).contains(&self.settlement.settle_delay_ms) {
            return bad(
                "settlement.settle_delay_ms",
                "must be between 0 and 28 days",
            );
        }
        if self.prober.timeout_ms == 0
            || self.prober.max_in_flight == 0
            || self.prober.rate_per_minute == 0
        {
            return bad(
                "prober",
                "timeout_ms, max_in_flight and rate_per_minute must be > 0",
            );
        }
        if self.server.max_body_bytes == 0 || self.server.max_batch_items == 0 {
            return bad("server", "max_body_bytes and max_batch_items must be > 0");
        }
        Ok(())
    }
}

fn section_from<T: serde::de::DeserializeOwned>(
    value: toml::Value,
    source: &str,
) -> Result<T, CoreError> {
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use floorline_core::money::Ppm;

    #[test]
    fn defaults_env_and_sections() {
        let c = Config::load("", "floorline.toml", Vec::new()).unwrap();
        assert_eq!(c.settlement.mode, SchedulerMode::Preview);
        assert_eq!(c.policy, Policy::default());
        let env = vec![
            ("FLOORLINE_SETTLEMENT_MODE".to_string(), "live".to_string()),
            ("FLOORLINE_REDUCTION_K".to_string(), "0.5".to_string()),
            (
                "FLOORLINE_DATABASE_URL".to_string(),
                "sqlite://x.db".to_string(),
            ),
            ("HOME".to_string(), "/root".to_string()),
        ];
        let c = Config::load(
            "pool_micro_usd = 5\n[server]\nlisten = \"0.0.0.0:1\"\n",
            "f",
            env,
        )
        .unwrap();
        assert_eq!(c.settlement.mode, SchedulerMode::Live);
        assert_eq!(c.policy.reduction_k, Ppm(500_000));
        assert_eq!(c.policy.pool_micro_usd, 5);
        assert_eq!(c.server.listen, "0.0.0.0:1");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::load(
            "[settlement]\nmood = \"live\"\n",
            "floorline.toml",
            Vec::new(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("floorline.toml.settlement"), "{e}");
        assert!(e.to_string().contains("mood"), "{e}");
        let e = Config::load("", "f", vec![("FLOORLINE_POOLS".into(), "1".into())]).unwrap_err();
        assert!(e.to_string().contains("pools"), "{e}");
        let e = Config::load("[settlement]\nsettle_delay_ms = -1\n", "f", Vec::new()).unwrap_err();
        assert!(e.to_string().contains("settle_delay_ms"), "{e}");
    }
}
