//! `floorline.toml` (SPEC §8): the policy keys at top level plus the
//! `[settlement]`, `[prober]` and `[server]` sections, with `FLOORLINE_*`
//! environment overrides. An unknown key of the file is an error naming the
//! key, its line and the closest key; a `FLOORLINE_*` variable that is no
//! setting is ignored with a warning.
//!
//! Environment overrides: `FLOORLINE_<KEY>` sets a top-level policy key
//! (`FLOORLINE_POOL_MICRO_USD=5000000`), `FLOORLINE_<SECTION>_<KEY>` a section
//! key (`FLOORLINE_SETTLEMENT_MODE=live`). Values are read as TOML values,
//! falling back to a plain string. A few variables are not config and are
//! skipped: see [`NOT_CONFIG_VARS`].

use floorline_core::policy::{parse_config_toml, Policy, PolicyPatch, CONFIG_SECTIONS};
use floorline_core::{CoreError, Invalid};

use floorline_core::kind::struct_fields;
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
    /// What was ignored, for the operator: `FLOORLINE_*` variables that name
    /// no setting.
    pub warnings: Vec<String>,
}

impl Config {
    /// Reads a TOML text (may be empty) and the environment variables given.
    ///
    /// Errors name where the bad setting came from: the file's key with its
    /// line (`floorline.toml.prober.timout: line 7: not a key of [prober]; did
    /// you mean `timeout_ms`? …`), or the variable (`FLOORLINE_POOL_MICRO_USD:
    /// invalid type …`). A `FLOORLINE_*` variable that names no setting is
    /// ignored, with a warning in [`Config::warnings`].
    pub fn load(
        text: &str,
        source: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, CoreError> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let at = e
                .span()
                .map(|span| format!("line {}: ", line_of_offset(text, span.start)))
                .unwrap_or_default();
            CoreError::invalid(source, format!("{at}{}", e.message()))
        })?;
        unknown_keys(&table, text, source)?;
        Config::from_table(&table, source).map_err(|e| with_lines(e, text, source))?;
        let mut vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("FLOORLINE_") && !NOT_CONFIG_VARS.contains(&k.as_str()))
            .collect();
        vars.sort();
        let mut warnings = Vec::new();
        for (var, value) in vars {
            let Some((section, key)) = setting_of_var(&var) else {
                let hint = closest_var(&var)
                    .map(|v| format!(" (did you mean {v}?)"))
                    .unwrap_or_default();
                warnings.push(format!("{var} is not a floorline setting; ignored{hint}"));
                continue;
            };
            let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(value.clone()));
            match section {
                Some(s) => {
                    let entry = table
                        .entry(s.to_string())
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                    if let toml::Value::Table(t) = entry {
                        t.insert(key, parsed);
                    }
                }
                None => {
                    table.insert(key, parsed);
                }
            }
            Config::from_table(&table, source).map_err(|e| blame_var(e, &var, &value))?;
        }
        let mut config = Config::from_table(&table, source)?;
        config.warnings = warnings;
        Ok(config)
    }

    fn from_table(table: &toml::Table, source: &str) -> Result<Config, CoreError> {
        let merged =
            toml::to_string(table).map_err(|e| CoreError::invalid(source, e.to_string()))?;
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
            warnings: Vec::new(),
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

/// The keys of a section, or of the top level (`None`: the policy keys and
/// the section names).
fn keys_of(section: Option<&str>) -> Vec<&'static str> {
    match section {
        None => struct_fields::<PolicyPatch>()
            .iter()
            .chain(CONFIG_SECTIONS)
            .copied()
            .collect(),
        Some("settlement") => struct_fields::<SettlementConfig>().to_vec(),
        Some("prober") => struct_fields::<ProberConfig>().to_vec(),
        Some("server") => struct_fields::<ServerConfig>().to_vec(),
        Some(_) => Vec::new(),
    }
}

/// The known name closest to `name`, when it is close enough to be a typo
/// of it (Jaro–Winkler similarity above 0.8, as a spelling hint only).
fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .filter(|k| *k != name)
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(similarity, _)| *similarity > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// The 1-based line of a byte offset.
fn line_of_offset(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .unwrap_or(text)
        .matches('\n')
        .count()
        .saturating_add(1)
}

/// The line of a key in the TOML text (`section` `None`: a top-level key).
fn line_of(text: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let table = match section {
        None => doc.as_table(),
        Some(s) => doc.as_table().get(s)?.as_table()?,
    };
    let (k, _) = table.get_key_value(key)?;
    Some(line_of_offset(text, k.span()?.start))
}

fn sections_list() -> String {
    CONFIG_SECTIONS
        .iter()
        .map(|s| format!("[{s}]"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every key of the file that is no setting, named with its line, the
/// closest key, and what the level holds.
fn unknown_keys(table: &toml::Table, text: &str, source: &str) -> Result<(), CoreError> {
    let at = |section: Option<&str>, key: &str| {
        line_of(text, section, key)
            .map(|n| format!("line {n}: "))
            .unwrap_or_default()
    };
    let mut errs = Vec::new();
    for (key, value) in table {
        if CONFIG_SECTIONS.contains(&key.as_str()) {
            let Some(inner) = value.as_table() else {
                continue;
            };
            let known = keys_of(Some(key));
            for k in inner.keys().filter(|k| !known.contains(&k.as_str())) {
                let hint = closest(k, known.iter().copied())
                    .map(|c| format!(" did you mean `{c}`?"))
                    .unwrap_or_default();
                errs.push(Invalid::new(
                    format!("{source}.{key}.{k}"),
                    format!(
                        "{}not a key of [{key}];{hint} its keys are {}",
                        at(Some(key), k),
                        known.join(", ")
                    ),
                ));
            }
        } else if !keys_of(None).contains(&key.as_str()) {
            let hint = closest(key, keys_of(None))
                .map(|c| format!(" did you mean `{c}`?"))
                .unwrap_or_default();
            errs.push(Invalid::new(
                format!("{source}.{key}"),
                format!(
                    "{}not a policy key or a section;{hint} the sections are {}",
                    at(None, key),
                    sections_list()
                ),
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(CoreError::Invalid(errs))
    }
}

/// Adds the line of the key each problem names (`floorline.toml.prober.timeout_ms`).
fn with_lines(e: CoreError, text: &str, source: &str) -> CoreError {
    let CoreError::Invalid(items) = e else {
        return e;
    };
    let prefix = format!("{source}.");
    let items = items
        .into_iter()
        .map(|item| {
            let parts: Vec<&str> = item
                .path
                .strip_prefix(&prefix)
                .unwrap_or("")
                .split('.')
                .collect();
            let line = match parts.as_slice() {
                [key] => line_of(text, None, key),
                [section, key, ..] if CONFIG_SECTIONS.contains(section) => {
                    line_of(text, Some(section), key)
                }
                [key, ..] => line_of(text, None, key),
                [] => None,
            };
            match line {
                Some(n) => Invalid::new(item.path, format!("line {n}: {}", item.message)),
                None => item,
            }
        })
        .collect();
    CoreError::Invalid(items)
}

/// The setting a `FLOORLINE_*` variable sets: `(section, key)`, `None` for a
/// variable that names no setting.
fn setting_of_var(var: &str) -> Option<(Option<&'static str>, String)> {
    let rest = var.strip_prefix("FLOORLINE_")?.to_ascii_lowercase();
    for s in CONFIG_SECTIONS {
        if let Some(key) = rest.strip_prefix(&format!("{s}_")) {
            return keys_of(Some(s))
                .contains(&key)
                .then(|| (Some(*s), key.to_string()));
        }
    }
    let policy = struct_fields::<PolicyPatch>();
    policy.contains(&rest.as_str()).then_some((None, rest))
}

/// Every variable name that is a setting.
fn setting_vars() -> Vec<String> {
    let mut vars: Vec<String> = struct_fields::<PolicyPatch>()
        .iter()
        .map(|k| format!("FLOORLINE_{}", k.to_ascii_uppercase()))
        .collect();
    for s in CONFIG_SECTIONS {
        for k in keys_of(Some(s)) {
            vars.push(format!(
                "FLOORLINE_{}_{}",
                s.to_ascii_uppercase(),
                k.to_ascii_uppercase()
            ));
        }
    }
    vars
}

/// The setting variable closest to `var`, compared without the common prefix.
fn closest_var(var: &str) -> Option<String> {
    let vars = setting_vars();
    let bare = |v: &'_ str| v.strip_prefix("FLOORLINE_").unwrap_or(v).to_string();
    let names: Vec<String> = vars.iter().map(|v| bare(v)).collect();
    closest(&bare(var), names.iter().map(String::as_str)).map(|n| format!("FLOORLINE_{n}"))
}

/// A problem caused by a variable's value, blamed on the variable.
fn blame_var(e: CoreError, var: &str, value: &str) -> CoreError {
    let message = match e {
        CoreError::Invalid(items) => items
            .into_iter()
            .map(|i| i.message)
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    };
    CoreError::invalid(var, format!("`{value}`: {message}"))
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
    fn unknown_keys_are_named_with_line_closest_key_and_sections() {
        let e = Config::load(
            "pool_micro_usd = 5\n\n[settlement]\nmood = \"live\"\n",
            "floorline.toml",
            Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("floorline.toml.settlement.mood: line 4: not a key of [settlement];"),
            "{e}"
        );
        assert!(e.contains("did you mean `mode`?"), "{e}");
        assert!(e.contains("its keys are mode, settle_delay_ms"), "{e}");

        let e = Config::load("pool_micro_usdd = 5\n", "floorline.toml", Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("floorline.toml.pool_micro_usdd: line 1: not a policy key or a section;"),
            "{e}"
        );
        assert!(e.contains("did you mean `pool_micro_usd`?"), "{e}");
        assert!(
            e.contains("the sections are [settlement], [prober], [server]"),
            "{e}"
        );

        // Far from every key: no guess.
        let e = Config::load("zzz = 1\n", "f", Vec::new())
            .unwrap_err()
            .to_string();
        assert!(!e.contains("did you mean"), "{e}");

        // A bad value is named with its line too.
        let e = Config::load(
            "\n[settlement]\nsettle_delay_ms = \"soon\"\n",
            "f",
            Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("f.settlement.settle_delay_ms: line 3: "), "{e}");
    }

    #[test]
    fn a_toml_syntax_error_gives_its_line() {
        let e = Config::load(
            "pool_micro_usd = 5\nreduction_k = = 1\n",
            "floorline.toml",
            Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("floorline.toml: line 2: "), "{e}");
    }

    #[test]
    fn an_environment_error_names_the_variable() {
        let env = vec![("FLOORLINE_POOL_MICRO_USD".to_string(), "abc".to_string())];
        let e = Config::load("", "floorline.toml", env)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("FLOORLINE_POOL_MICRO_USD: `abc`: "), "{e}");
        assert!(!e.contains("floorline.toml"), "{e}");
        let env = vec![(
            "FLOORLINE_SETTLEMENT_SETTLE_DELAY_MS".to_string(),
            "-1".to_string(),
        )];
        let e = Config::load("", "floorline.toml", env)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("FLOORLINE_SETTLEMENT_SETTLE_DELAY_MS: `-1`: "),
            "{e}"
        );
        assert!(e.contains("between 0 and 28 days"), "{e}");
    }

    #[test]
    fn a_variable_that_is_no_setting_is_ignored_with_a_warning() {
        let env = vec![
            (
                "FLOORLINE_BIN".to_string(),
                "/usr/local/bin/floorline".to_string(),
            ),
            ("FLOORLINE_POOL_MICRO_USDD".to_string(), "7".to_string()),
            ("FLOORLINE_PROBER_TIMEOUT".to_string(), "7".to_string()),
        ];
        let c = Config::load("", "floorline.toml", env).unwrap();
        assert_eq!(c.policy, Policy::default());
        assert_eq!(
            c.warnings,
            vec![
                "FLOORLINE_BIN is not a floorline setting; ignored".to_string(),
                "FLOORLINE_POOL_MICRO_USDD is not a floorline setting; ignored \
                 (did you mean FLOORLINE_POOL_MICRO_USD?)"
                    .to_string(),
                "FLOORLINE_PROBER_TIMEOUT is not a floorline setting; ignored \
                 (did you mean FLOORLINE_PROBER_TIMEOUT_MS?)"
                    .to_string(),
            ]
        );
        let e = Config::load("[settlement]\nsettle_delay_ms = -1\n", "f", Vec::new()).unwrap_err();
        assert!(e.to_string().contains("settle_delay_ms"), "{e}");
    }
}
