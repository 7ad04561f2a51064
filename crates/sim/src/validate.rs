//! Validation of a scenario as written: the raw TOML shapes (every key
//! optional, unknown keys rejected) checked key by key into a [`Scenario`].
//! Every problem is collected, named `scenario.<table>.<key>`, and reported
//! together; policy keys go through core's own `PolicyPatch` and validation.

use serde::Deserialize;

use floorline_core::models::DEFAULT_MODEL_CAPS;
use floorline_core::money::{Ppm, PPM_ONE};
use floorline_core::policy::{patch_from_value, Policy, Trust};
use floorline_core::{CoreError, EpochId, Invalid};

use crate::error::SimError;
use crate::num::Num;
use crate::scenario::{
    one_line, DemandSpec, DemandVolume, FleetSpec, MixEntry, Scenario, Throughput, UptimeBucket,
    UptimeSpec, MAX_GROWTH_PPM, MAX_LIST_ENTRIES, MAX_MACHINES, MAX_MONTHS,
    MAX_PRICE_MICRO_USD_PER_M, MAX_TOKENS_PER_MONTH, MAX_TOKENS_PER_S, MAX_UTILIZATION_PPM, ROOT,
};

// ---------------------------------------------------------------------------
// Raw shapes, exactly as written.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    description: Option<String>,
    start: Option<String>,
    months: Option<Num>,
    seed: Option<Num>,
    fleet: Option<RawFleet>,
    uptime: Option<RawUptime>,
    demand: Option<RawDemand>,
    policy: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    machines: Option<Num>,
    growth: Option<Num>,
    growth_machines: Option<Num>,
    churn: Option<Num>,
    max_machines: Option<Num>,
    machines_per_account: Option<Num>,
    bound: Option<Num>,
    probed: Option<Num>,
    trust: Option<Trust>,
    mix: Option<Vec<RawMix>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMix {
    model: Option<String>,
    memory_gb: Option<Num>,
    weight: Option<Num>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUptime {
    persistence: Option<Num>,
    buckets: Option<Vec<RawBucket>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBucket {
    min: Option<Num>,
    max: Option<Num>,
    weight: Option<Num>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDemand {
    tokens_per_month: Option<Num>,
    utilization: Option<Num>,
    growth: Option<Num>,
    price_micro_usd_per_million_tokens: Option<Num>,
    max_utilization: Option<Num>,
    spread: Option<Num>,
    throughput: Option<Vec<RawThroughput>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThroughput {
    min_gb: Option<Num>,
    tokens_per_s: Option<Num>,
}

/// Deserializes with the path of the offending key; unknown keys are named
/// by their own path, not their table's.
pub(crate) fn from_table(table: toml::Table, source: &str) -> Result<Scenario, SimError> {
    let raw: RawScenario =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let path = e.path().to_string();
            let message = one_line(&e.inner().to_string());
            let (path, message) = name_unknown_key(&path, message);
            SimError::bad(source, path, message)
        })?;
    validate(raw, source)
}

/// `unknown field `x`, expected …` at `fleet` becomes `scenario.fleet.x: unknown key (expected …)`.
fn name_unknown_key(path: &str, message: String) -> (String, String) {
    let full = |p: &str| {
        if p == "." || p.is_empty() {
            ROOT.to_string()
        } else {
            format!("{ROOT}.{p}")
        }
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((key, tail)) = rest.split_once('`') {
            let base = full(path);
            let last = path.rsplit('.').next().unwrap_or("");
            // serde_path_to_error may already end the path with the key.
            let at = if last == key {
                base
            } else {
                format!("{base}.{key}")
            };
            let tail = tail.trim_start_matches(',').trim();
            let msg = if tail.is_empty() {
                "unknown key".to_string()
            } else {
                format!("unknown key ({tail})")
            };
            return (at, msg);
        }
    }
    (full(path), message)
}

// ---------------------------------------------------------------------------
// Validation.

struct Check<'a> {
    problems: Vec<Invalid>,
    source: &'a str,
}

impl Check<'_> {
    fn bad(&mut self, path: &str, message: impl Into<String>) {
        self.problems
            .push(Invalid::new(format!("{ROOT}.{path}"), message));
    }

    fn required<T>(&mut self, v: Option<T>, path: &str) -> Option<T> {
        if v.is_none() {
            self.bad(path, "required");
        }
        v
    }

    /// An integer in `[lo, hi]`.
    fn int(&mut self, v: Option<&Num>, path: &str, lo: i64, hi: i64) -> Option<i64> {
        let n = v?;
        match n.integer() {
            Err(msg) => {
                self.bad(path, msg);
                None
            }
            Ok(i) if i < 0 && lo >= 0 => {
                self.bad(path, "must be ≥ 0");
                None
            }
            Ok(i) if i < lo || i > hi => {
                self.bad(path, format!("must be between {lo} and {hi}"));
                None
            }
            Ok(i) => Some(i),
        }
    }

    fn u32(&mut self, v: Option<&Num>, path: &str, lo: u32, hi: u32) -> Option<u32> {
        self.int(v, path, i64::from(lo), i64::from(hi))
            .and_then(|i| u32::try_from(i).ok())
    }

    /// A decimal fraction (≤ 6 places) in `[0, max]`.
    fn frac(&mut self, v: Option<&Num>, path: &str, max: i64) -> Option<Ppm> {
        let n = v?;
        match n.fraction() {
            Err(msg) => {
                self.bad(path, msg);
                None
            }
            Ok(p) if p.0 > max => {
                self.bad(
                    path,
                    format!("must be between 0 and {}", Ppm(max).to_decimal()),
                );
                None
            }
            Ok(p) => Some(p),
        }
    }
}

fn validate(raw: RawScenario, source: &str) -> Result<Scenario, SimError> {
    let mut c = Check {
        problems: Vec::new(),
        source,
    };

    // The policy first: the fleet mix resolves models through its caps.
    let policy = match raw.policy {
        None => Policy::default(),
        Some(value) => {
            let path = format!("{ROOT}.policy");
            match patch_from_value(value, &path)
                .and_then(|patch| Policy::default().patched(&patch, &path))
            {
                Ok(p) => p,
                Err(e) => {
                    push_core(&mut c.problems, e, &path);
                    Policy::default()
                }
            }
        }
    };

    if raw.name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        c.bad("name", "at most 200 characters");
    }
    let start = c
        .required(raw.start, "start")
        .and_then(|s| s.parse::<EpochId>().map_err(|e| c.bad("start", e)).ok());
    let months = c
        .required(raw.months.as_ref(), "months")
        .and_then(|n| c.u32(Some(n), "months", 1, MAX_MONTHS));
    if let (Some(start), Some(months)) = (start, months) {
        let last_year = i64::from(start.year()) + i64::from(months) / 12 + 1;
        if last_year > i64::from(floorline_core::time::MAX_EPOCH_YEAR) {
            c.bad("months", "the run would end after year 9998");
        }
    }
    let seed = c
        .int(raw.seed.as_ref(), "seed", 0, i64::MAX)
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or(0);

    let fleet = match c.required(raw.fleet, "fleet") {
        Some(f) => fleet_spec(&mut c, f, &policy),
        None => None,
    };
    let uptime = uptime_spec(&mut c, raw.uptime);
    let demand = demand_spec(&mut c, raw.demand);

    match (start, months, fleet, uptime, demand) {
        (Some(start), Some(months), Some(fleet), Some(uptime), Some(demand))
            if c.problems.is_empty() =>
        {
            Ok(Scenario {
                name: raw.name.unwrap_or_default(),
                description: raw.description.unwrap_or_default(),
                source: source.to_string(),
                start,
                months,
                seed,
                fleet,
                uptime,
                demand,
                policy,
            })
        }
        _ => {
            if c.problems.is_empty() {
                c.problems.push(Invalid::new(ROOT, "invalid"));
            }
            Err(SimError::BadInput {
                origin: c.source.to_string(),
                problems: c.problems,
            })
        }
    }
}

fn push_core(problems: &mut Vec<Invalid>, e: CoreError, base: &str) {
    match e {
        CoreError::Invalid(list) => {
            for item in list {
                let item = Invalid::new(item.path, one_line(&item.message));
                let (path, message) = match item.path.strip_prefix(&format!("{base}.")) {
                    Some(rest) => {
                        let (p, m) = name_unknown_key(rest, item.message);
                        // name_unknown_key roots at `scenario`; re-root at the policy.
                        let p = p.strip_prefix(ROOT).unwrap_or(&p).to_string();
                        (format!("{base}{p}"), m)
                    }
                    None if item.path == base => {
                        let (p, m) = name_unknown_key(".", item.message);
                        let p = p.strip_prefix(ROOT).unwrap_or(&p).to_string();
                        (format!("{base}{p}"), m)
                    }
                    None => (item.path, item.message),
                };
                problems.push(Invalid::new(path, message));
            }
        }
        other => problems.push(Invalid::new(base, other.to_string())),
    }
}

fn fleet_spec(c: &mut Check<'_>, f: RawFleet, policy: &Policy) -> Option<FleetSpec> {
    let machines = c
        .required(f.machines.as_ref(), "fleet.machines")
        .and_then(|n| c.u32(Some(n), "fleet.machines", 0, MAX_MACHINES));
    let growth = c
        .frac(f.growth.as_ref(), "fleet.growth", MAX_GROWTH_PPM)
        .unwrap_or(Ppm::ZERO);
    let growth_machines = c
        .u32(
            f.growth_machines.as_ref(),
            "fleet.growth_machines",
            0,
            MAX_MACHINES,
        )
        .unwrap_or(0);
    let churn = c
        .frac(f.churn.as_ref(), "fleet.churn", PPM_ONE)
        .unwrap_or(Ppm::ZERO);
    let max_machines = c
        .u32(
            f.max_machines.as_ref(),
            "fleet.max_machines",
            0,
            MAX_MACHINES,
        )
        .unwrap_or(MAX_MACHINES);
    if let Some(m) = machines {
        if m > max_machines {
            c.bad("fleet.machines", "must be ≤ fleet.max_machines");
        }
    }
    let machines_per_account = c
        .u32(
            f.machines_per_account.as_ref(),
            "fleet.machines_per_account",
            1,
            MAX_MACHINES,
        )
        .unwrap_or(1);
    let bound = c
        .frac(f.bound.as_ref(), "fleet.bound", PPM_ONE)
        .unwrap_or(Ppm::ONE);
    let probed = c
        .frac(f.probed.as_ref(), "fleet.probed", PPM_ONE)
        .unwrap_or(Ppm::ONE);
    let trust = f.trust.unwrap_or(Trust::Hardware);

    let raw_mix = c.required(f.mix, "fleet.mix").unwrap_or_default();
    if raw_mix.len() > MAX_LIST_ENTRIES {
        c.bad("fleet.mix", format!("at most {MAX_LIST_ENTRIES} entries"));
    }
    let mut mix = Vec::with_capacity(raw_mix.len());
    for (i, m) in raw_mix.iter().enumerate() {
        let at = |key: &str| format!("fleet.mix[{i}].{key}");
        let memory = c.u32(m.memory_gb.as_ref(), &at("memory_gb"), 1, 1_000_000);
        let weight = c
            .required(m.weight.as_ref(), &at("weight"))
            .and_then(|w| c.frac(Some(w), &at("weight"), 1_000_000 * PPM_ONE));
        if let Some(model) = &m.model {
            if model.chars().count() > 128 {
                c.bad(&at("model"), "at most 128 characters");
            }
        }
        let resolved = match (&m.model, memory, &m.memory_gb) {
            (_, None, Some(_)) => None, // already reported
            (Some(model), Some(gb), _) => Some((model.clone(), gb)),
            (Some(model), None, None) => match policy.model_cap_gb(model) {
                Some(cap) => Some((model.clone(), cap)),
                None => {
                    c.bad(
                        &at("memory_gb"),
                        format!("required: `{model}` is not in the model cap table"),
                    );
                    None
                }
            },
            (None, Some(gb), _) => match smallest_model_holding(policy, gb) {
                Some(model) => Some((model, gb)),
                None => {
                    c.bad(
                        &at("memory_gb"),
                        format!("no model in the cap table holds {gb} GB; name a `model`"),
                    );
                    None
                }
            },
            (None, None, None) => {
                c.bad(
                    &format!("fleet.mix[{i}]"),
                    "needs `model`, `memory_gb` or both",
                );
                None
            }
        };
        if let (Some((model, memory_gb)), Some(weight)) = (resolved, weight) {
            mix.push(MixEntry {
                model,
                memory_gb,
                weight,
            });
        }
    }
    if !raw_mix.is_empty() && mix.len() == raw_mix.len() && mix.iter().all(|m| m.weight.0 == 0) {
        c.bad("fleet.mix", "at least one weight must be > 0");
    }
    if raw_mix.is_empty() {
        c.bad("fleet.mix", "must list at least one machine kind");
    }
    Some(FleetSpec {
        machines: machines?,
        growth,
        growth_machines,
        churn,
        max_machines,
        machines_per_account,
        bound,
        probed,
        trust,
        mix,
    })
}

/// The identifier with the smallest cap that still holds `gb` (first in
/// table order among equals), from the policy's caps and the default table.
pub fn smallest_model_holding(policy: &Policy, gb: u32) -> Option<String> {
    let mut best: Option<(u32, String)> = None;
    let ids = DEFAULT_MODEL_CAPS
        .iter()
        .map(|(id, _)| (*id).to_string())
        .chain(policy.model_caps.keys().cloned());
    for id in ids {
        let Some(cap) = policy.model_cap_gb(&id) else {
            continue;
        };
        if cap >= gb && best.as_ref().is_none_or(|(b, _)| cap < *b) {
            best = Some((cap, id));
        }
    }
    best.map(|(_, id)| id)
}

fn uptime_spec(c: &mut Check<'_>, u: Option<RawUptime>) -> Option<UptimeSpec> {
    let Some(u) = u else {
        return Some(UptimeSpec {
            persistence: Ppm::ZERO,
            buckets: vec![UptimeBucket {
                min: Ppm::ONE,
                max: Ppm::ONE,
                weight: Ppm::ONE,
            }],
        });
    };
    let persistence = c
        .frac(u.persistence.as_ref(), "uptime.persistence", PPM_ONE)
        .unwrap_or(Ppm::ZERO);
    let raw = c.required(u.buckets, "uptime.buckets").unwrap_or_default();
    if raw.len() > MAX_LIST_ENTRIES {
        c.bad(
            "uptime.buckets",
            format!("at most {MAX_LIST_ENTRIES} entries"),
        );
    }
    let mut buckets = Vec::with_capacity(raw.len());
    let mut ok = true;
    for (i, b) in raw.iter().enumerate() {
        let at = |key: &str| format!("uptime.buckets[{i}].{key}");
        let min = c
            .required(b.min.as_ref(), &at("min"))
            .and_then(|v| c.frac(Some(v), &at("min"), PPM_ONE));
        let max = c
            .required(b.max.as_ref(), &at("max"))
            .and_then(|v| c.frac(Some(v), &at("max"), PPM_ONE));
        let weight = c
            .required(b.weight.as_ref(), &at("weight"))
            .and_then(|v| c.frac(Some(v), &at("weight"), 1_000_000 * PPM_ONE));
        match (min, max, weight) {
            (Some(min), Some(max), Some(weight)) => {
                if min > max {
                    c.bad(&at("min"), "must be ≤ max");
                    ok = false;
                }
                buckets.push(UptimeBucket { min, max, weight });
            }
            _ => ok = false,
        }
    }
    if raw.is_empty() {
        c.bad("uptime.buckets", "must list at least one bucket");
    } else if ok && buckets.iter().all(|b| b.weight.0 == 0) {
        c.bad("uptime.buckets", "at least one weight must be > 0");
    }
    Some(UptimeSpec {
        persistence,
        buckets,
    })
}

fn demand_spec(c: &mut Check<'_>, d: Option<RawDemand>) -> Option<DemandSpec> {
    let Some(d) = d else {
        return Some(DemandSpec {
            volume: DemandVolume::TokensPerMonth(0),
            growth: Ppm::ZERO,
            price_micro_usd_per_million_tokens: 0,
            max_utilization: Ppm::ONE,
            spread: Ppm::ZERO,
            throughput: Vec::new(),
        });
    };
    let volume = match (&d.tokens_per_month, &d.utilization) {
        (Some(_), Some(_)) => {
            c.bad(
                "demand.utilization",
                "set either tokens_per_month or utilization, not both",
            );
            DemandVolume::TokensPerMonth(0)
        }
        (Some(t), None) => DemandVolume::TokensPerMonth(
            c.int(Some(t), "demand.tokens_per_month", 0, MAX_TOKENS_PER_MONTH)
                .unwrap_or(0),
        ),
        (None, Some(u)) => DemandVolume::Utilization(
            c.frac(Some(u), "demand.utilization", MAX_UTILIZATION_PPM)
                .unwrap_or(Ppm::ZERO),
        ),
        (None, None) => DemandVolume::TokensPerMonth(0),
    };
    let some_demand = match volume {
        DemandVolume::TokensPerMonth(t) => t > 0,
        DemandVolume::Utilization(u) => u.0 > 0,
    };
    let growth = c
        .frac(d.growth.as_ref(), "demand.growth", MAX_GROWTH_PPM)
        .unwrap_or(Ppm::ZERO);
    let price_path = "demand.price_micro_usd_per_million_tokens";
    let price = if some_demand {
        c.required(d.price_micro_usd_per_million_tokens.as_ref(), price_path)
    } else {
        d.price_micro_usd_per_million_tokens.as_ref()
    }
    .and_then(|p| c.int(Some(p), price_path, 0, MAX_PRICE_MICRO_USD_PER_M))
    .unwrap_or(0);
    let max_utilization = c
        .frac(
            d.max_utilization.as_ref(),
            "demand.max_utilization",
            MAX_UTILIZATION_PPM,
        )
        .unwrap_or(Ppm::ONE);
    let spread = c
        .frac(d.spread.as_ref(), "demand.spread", PPM_ONE)
        .unwrap_or(Ppm(500_000));
    let raw = if some_demand {
        c.required(d.throughput, "demand.throughput")
    } else {
        d.throughput
    }
    .unwrap_or_default();
    if raw.len() > MAX_LIST_ENTRIES {
        c.bad(
            "demand.throughput",
            format!("at most {MAX_LIST_ENTRIES} entries"),
        );
    }
    let mut throughput = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        let at = |key: &str| format!("demand.throughput[{i}].{key}");
        let min_gb = c
            .required(t.min_gb.as_ref(), &at("min_gb"))
            .and_then(|v| c.u32(Some(v), &at("min_gb"), 0, 1_000_000));
        let tps = c
            .required(t.tokens_per_s.as_ref(), &at("tokens_per_s"))
            .and_then(|v| c.u32(Some(v), &at("tokens_per_s"), 0, MAX_TOKENS_PER_S));
        if let (Some(min_gb), Some(tokens_per_s)) = (min_gb, tps) {
            if throughput.iter().any(|x: &Throughput| x.min_gb == min_gb) {
                c.bad(&at("min_gb"), "min_gb values must be distinct");
            }
            throughput.push(Throughput {
                min_gb,
                tokens_per_s,
            });
        }
    }
    if some_demand && raw.is_empty() {
        c.bad("demand.throughput", "must list at least one entry");
    }
    throughput.sort_by_key(|t| t.min_gb);
    Some(DemandSpec {
        volume,
        growth,
        price_micro_usd_per_million_tokens: price,
        max_utilization,
        spread,
        throughput,
    })
}
