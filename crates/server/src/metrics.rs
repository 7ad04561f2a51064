//! Prometheus metrics (`GET /metrics`): ingestion counts, HTTP requests and
//! latency per route, probe verdicts, settlement figures, source watermarks
//! and build info, as Prometheus text 0.0.4 or OpenMetrics ([`exposition`]).
//!
//! Two kinds of figure: counters and histograms of what *this* process saw
//! (requests, ingested facts, probes it ran or was sent, runs its API made),
//! and gauges read from the store at scrape time (`store_read`: the
//! latest live and preview run of the epochs the scheduler looks at, source
//! watermarks), which every instance sharing one PostgreSQL reports alike —
//! so runs made by the scheduler, or by another instance, are seen too. Help
//! texts say which kind a series is.
//!
//! Label values are bounded: routes are axum's route templates (an unmatched
//! path is [`crate::http_metrics::UNMATCHED_ROUTE`]), methods a fixed list,
//! probe verdicts at most [`MAX_PROBE_VERDICTS`] distinct codes, and the
//! per-run series keep one epoch per mode (the latest run).

pub mod exposition;
mod store_read;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use floorline_core::EpochId;
use floorline_engine::schedule::SchedulerMode;
use floorline_engine::{Engine, RunSummary};
use floorline_store::IngestReport;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use exposition::Format;

/// Distinct probe verdict labels kept; later new failure codes count as `other`.
pub const MAX_PROBE_VERDICTS: usize = 16;
/// Longest failure code kept as a label value.
const MAX_VERDICT_CHARS: usize = 32;
/// Upper bounds of the HTTP latency histogram, in seconds.
const HTTP_BUCKETS_SECONDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// The longest month, the nominal length of a monthly epoch for alerting.
const MONTH_SECONDS: i64 = 31 * 86_400;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProbeLabel {
    /// `passed`, or the failure code (`timeout`, `wrong_answer`, …).
    pub verdict: String,
    /// `prober` (this process's prober) or `ingest` (probe facts posted to it).
    pub source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabel {
    pub route: String,
    pub method: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabel {
    pub epoch: String,
    pub mode: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    pub source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabel {
    pub version: String,
    pub commit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SchedulerLabel {
    pub mode: String,
    pub period: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS_SECONDS.into_iter())
}

/// What this process knows of the runs its API made: the epoch of the
/// latest per mode (so the scrape reads it back) and each run's duration.
#[derive(Default)]
struct LocalRuns {
    latest_epoch: BTreeMap<&'static str, EpochId>,
    /// run id → seconds; only the latest few are kept.
    seconds: BTreeMap<i64, f64>,
}

/// Run durations remembered (one per mode is all the per-run series show).
const LOCAL_RUNS_KEPT: usize = 8;

/// Every metric the server exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub ingest_facts: Family<KindLabel, Counter>,
    pub last_settled_epoch: Gauge,
    pub pool_used_micro_usd: Gauge,
    pub unallocated_micro_usd: Gauge,
    pub eligible_machines: Gauge,
    pub excluded_machines: Family<ReasonLabel, Gauge>,
    pub settlement_seconds: Histogram,
    pub settlements: Family<OutcomeLabel, Counter>,
    pub probes: Family<ProbeLabel, Counter>,
    pub http_requests: Family<HttpLabel, Counter>,
    pub http_seconds: Family<RouteLabel, Histogram, fn() -> Histogram>,
    run_granted: Family<RunLabel, Gauge>,
    run_draws: Family<RunLabel, Gauge>,
    run_unallocated: Family<RunLabel, Gauge>,
    run_pool: Family<RunLabel, Gauge>,
    run_eligible: Family<RunLabel, Gauge>,
    run_at: Family<RunLabel, Gauge>,
    run_seconds: Family<RunLabel, FloatGauge>,
    watermarks: Family<SourceLabel, Gauge>,
    scheduler: Family<SchedulerLabel, Gauge>,
    due_after: Gauge,
    store_errors: Counter,
    verdicts_seen: Mutex<BTreeSet<String>>,
    local_runs: Mutex<LocalRuns>,
    /// The run label each per-run series shows, per mode.
    shown: Mutex<BTreeMap<&'static str, RunLabel>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let m = Metrics {
            registry: Mutex::new(Registry::default()),
            ingest_facts: Family::default(),
            last_settled_epoch: Gauge::default(),
            pool_used_micro_usd: Gauge::default(),
            unallocated_micro_usd: Gauge::default(),
            eligible_machines: Gauge::default(),
            excluded_machines: Family::default(),
            settlement_seconds: Histogram::new(
                [0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0].into_iter(),
            ),
            settlements: Family::default(),
            probes: Family::default(),
            http_requests: Family::default(),
            http_seconds: Family::new_with_constructor(http_histogram),
            run_granted: Family::default(),
            run_draws: Family::default(),
            run_unallocated: Family::default(),
            run_pool: Family::default(),
            run_eligible: Family::default(),
            run_at: Family::default(),
            run_seconds: Family::default(),
            watermarks: Family::default(),
            scheduler: Family::default(),
            due_after: Gauge::default(),
            store_errors: Counter::default(),
            verdicts_seen: Mutex::new(BTreeSet::new()),
            local_runs: Mutex::new(LocalRuns::default()),
            shown: Mutex::new(BTreeMap::new()),
        };
        let build = Family::<BuildLabel, Gauge>::default();
        build
            .get_or_create(&BuildLabel {
                version: env!("CARGO_PKG_VERSION").into(),
                // Set by whoever builds a release; no build script needed.
                commit: option_env!("FLOORLINE_GIT_COMMIT")
                    .unwrap_or("unknown")
                    .into(),
            })
            .set(1);
        if let Ok(mut r) = m.registry.lock() {
            r.register(
                "floorline_build_info",
                "Build of this process: version and commit, always 1",
                build,
            );
            r.register(
                "floorline_ingest_facts",
                "Facts received by this process, by kind and outcome",
                m.ingest_facts.clone(),
            );
            r.register(
                "floorline_http_requests",
                "HTTP requests answered by this process, by route template, method and status",
                m.http_requests.clone(),
            );
            r.register(
                "floorline_http_request_duration_seconds",
                "Time to answer HTTP requests in this process, by route template and method",
                m.http_seconds.clone(),
            );
            r.register(
                "floorline_probes",
                "Probe verdicts this process learnt of, by verdict (passed or the failure code) \
                 and source (its own prober, or probe facts ingested through it)",
                m.probes.clone(),
            );
            r.register(
                "floorline_last_settled_epoch",
                "Epoch of the latest live run as YYYYMM (from the store at scrape time)",
                m.last_settled_epoch.clone(),
            );
            r.register(
                "floorline_pool_used_micro_usd",
                "Draws of the epoch of the latest live run (from the store at scrape time)",
                m.pool_used_micro_usd.clone(),
            );
            r.register(
                "floorline_unallocated_micro_usd",
                "Unallocated pool of the last run made by this process's API",
                m.unallocated_micro_usd.clone(),
            );
            r.register(
                "floorline_eligible_machines",
                "Eligible machines in the last run made by this process's API",
                m.eligible_machines.clone(),
            );
            r.register(
                "floorline_excluded_machines",
                "Excluded machines in the last run made by this process's API, by reason",
                m.excluded_machines.clone(),
            );
            r.register(
                "floorline_settlement_duration_seconds",
                "Duration of the settlement runs made by this process's API",
                m.settlement_seconds.clone(),
            );
            r.register(
                "floorline_settlements",
                "Settlement runs made by this process's API, by mode",
                m.settlements.clone(),
            );
            r.register(
                "floorline_settlement_granted_micro_usd",
                "Granted by the latest run of each mode (from the store at scrape time)",
                m.run_granted.clone(),
            );
            r.register(
                "floorline_settlement_draws_micro_usd",
                "Draws total of the epoch after the latest run of each mode, prior draws \
                 included (from the store at scrape time)",
                m.run_draws.clone(),
            );
            r.register(
                "floorline_settlement_unallocated_micro_usd",
                "Unallocated pool of the latest run of each mode (from the store at scrape time)",
                m.run_unallocated.clone(),
            );
            r.register(
                "floorline_settlement_pool_micro_usd",
                "Pool of the epoch of the latest run of each mode (from the store at scrape time)",
                m.run_pool.clone(),
            );
            r.register(
                "floorline_settlement_eligible_machines",
                "Eligible machines of the latest run of each mode (from the store at scrape time)",
                m.run_eligible.clone(),
            );
            r.register(
                "floorline_settlement_last_run_timestamp_seconds",
                "When the latest run of each mode was committed, unix seconds (from the store \
                 at scrape time)",
                m.run_at.clone(),
            );
            r.register(
                "floorline_settlement_last_run_duration_seconds",
                "Duration of the latest run of each mode; only the instance whose API made \
                 the run knows it (absent for scheduler runs and on other instances)",
                m.run_seconds.clone(),
            );
            r.register(
                "floorline_settlement_due_after_seconds",
                "Longest normal gap between two live runs: the period (31 days for a month) \
                 plus the settle delay",
                m.due_after.clone(),
            );
            r.register(
                "floorline_scheduler_info",
                "The configured scheduler mode and period, always 1",
                m.scheduler.clone(),
            );
            r.register(
                "floorline_source_watermark_seconds",
                "Each fact source's watermark, unix seconds (from the store at scrape time)",
                m.watermarks.clone(),
            );
            r.register(
                "floorline_metrics_store_errors",
                "Scrapes whose reads from the store failed (the store-read series then keep \
                 their previous values)",
                m.store_errors.clone(),
            );
        }
        m
    }
}

impl Metrics {
    pub fn count_ingest(&self, kind: &str, outcome: &str, n: u64) {
        self.ingest_facts
            .get_or_create(&KindLabel {
                kind: kind.into(),
                outcome: outcome.into(),
            })
            .inc_by(n);
    }

    /// Records a run made through this process's API.
    pub fn record_run(&self, run: &RunSummary, seconds: f64) {
        self.settlement_seconds.observe(seconds);
        self.settlements
            .get_or_create(&OutcomeLabel {
                outcome: run.mode.as_str().into(),
            })
            .inc();
        if run.mode == SchedulerMode::Live {
            let yyyymm = i64::from(run.epoch.year()) * 100 + i64::from(run.epoch.month());
            self.last_settled_epoch.set(yyyymm);
            self.pool_used_micro_usd.set(
                run.already_settled_micro_usd
                    .saturating_add(run.granted_total_micro_usd),
            );
        }
        self.unallocated_micro_usd.set(run.unallocated_micro_usd);
        self.eligible_machines
            .set(i64::try_from(run.n_eligible).unwrap_or(i64::MAX));
        for (reason, n) in &run.excluded_by_reason {
            self.excluded_machines
                .get_or_create(&ReasonLabel {
                    reason: reason.clone(),
                })
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        if let Some(id) = run.run_id {
            let mut local = lock(&self.local_runs);
            local.latest_epoch.insert(run.mode.as_str(), run.epoch);
            local.seconds.insert(id, seconds);
            while local.seconds.len() > LOCAL_RUNS_KEPT {
                local.seconds.pop_first();
            }
        }
    }

    /// One verdict of this process's prober (`failure` is its code, if failed).
    pub fn count_probe(&self, failure: Option<&str>) {
        self.count_verdict(failure, failure.is_none(), "prober");
    }

    /// The probe facts of an ingested batch, by verdict: items in conflict
    /// are not counted, nor a batch that was all duplicates (a retry). A batch
    /// mixing new and re-sent probes counts its re-sent ones again: the
    /// report does not say which they are. Other kinds are ignored.
    pub fn count_ingested_probes(&self, kind: &str, body: &str, report: &IngestReport) {
        #[derive(serde::Deserialize)]
        struct Verdict {
            passed: bool,
            #[serde(default)]
            failure: Option<String>,
        }
        if kind != "probes" || report.accepted == 0 {
            return;
        }
        let Ok(items) = serde_json::from_str::<Vec<Verdict>>(body) else {
            return;
        };
        let conflicts: BTreeSet<usize> = report.conflicts.iter().map(|c| c.index).collect();
        for (i, v) in items.iter().enumerate() {
            if !conflicts.contains(&i) {
                self.count_verdict(v.failure.as_deref(), v.passed, "ingest");
            }
        }
    }

    fn count_verdict(&self, failure: Option<&str>, passed: bool, source: &str) {
        let verdict = match (passed, failure) {
            (true, _) => "passed".to_string(),
            (false, None) => "failed".to_string(),
            (false, Some(code)) => self.verdict_label(code),
        };
        self.probes
            .get_or_create(&ProbeLabel {
                verdict,
                source: source.into(),
            })
            .inc();
    }

    /// A failure code as a label: kept while it is a short snake_case word
    /// and fewer than [`MAX_PROBE_VERDICTS`] codes were seen; `other` else.
    fn verdict_label(&self, code: &str) -> String {
        let word = !code.is_empty()
            && code.len() <= MAX_VERDICT_CHARS
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !word {
            return "other".into();
        }
        let mut seen = lock(&self.verdicts_seen);
        if seen.contains(code) || seen.len() < MAX_PROBE_VERDICTS {
            seen.insert(code.to_string());
            code.to_string()
        } else {
            "other".into()
        }
    }

    /// One HTTP request answered.
    pub fn observe_http(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&HttpLabel {
                route: route.into(),
                method: method.into(),
                status: status.to_string(),
            })
            .inc();
        self.http_seconds
            .get_or_create(&RouteLabel {
                route: route.into(),
                method: method.into(),
            })
            .observe(seconds);
    }

    /// Reads the store-backed series, then encodes everything in `format`.
    pub async fn render(&self, engine: &Engine, format: Format) -> String {
        self.refresh(engine).await;
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            let _ = encode(&mut out, &r);
        }
        match format {
            Format::OpenMetrics => out,
            Format::PrometheusText => exposition::to_prometheus_text(&out),
        }
    }
}

/// A mutex holding plain data: a panic elsewhere cannot leave it torn.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probes_of(m: &Metrics) -> BTreeMap<(String, String), u64> {
        // Read back through the encoder, as a scraper would.
        let mut out = String::new();
        if let Ok(r) = m.registry.lock() {
            let _ = encode(&mut out, &r);
        }
        out.lines()
            .filter_map(|l| l.strip_prefix("floorline_probes_total{verdict=\""))
            .filter_map(|l| {
                let (verdict, rest) = l.split_once("\",source=\"")?;
                let (source, n) = rest.split_once("\"} ")?;
                Some(((verdict.to_string(), source.to_string()), n.parse().ok()?))
            })
            .collect()
    }

    #[test]
    fn prober_verdicts_count_by_failure_code() {
        let m = Metrics::default();
        m.count_probe(None);
        m.count_probe(None);
        m.count_probe(Some("timeout"));
        let got = probes_of(&m);
        assert_eq!(got.get(&("passed".into(), "prober".into())), Some(&2));
        assert_eq!(got.get(&("timeout".into(), "prober".into())), Some(&1));
        assert_eq!(got.len(), 2, "{got:?}");
    }

    #[test]
    fn failure_codes_past_the_limit_or_not_words_count_as_other() {
        let m = Metrics::default();
        for i in 0..MAX_PROBE_VERDICTS {
            m.count_verdict(Some(&format!("code_{i}")), false, "ingest");
        }
        m.count_verdict(Some("one_too_many"), false, "ingest");
        m.count_verdict(Some("code_0"), false, "ingest");
        m.count_verdict(Some("Bad Code"), false, "ingest");
        m.count_verdict(Some(&"x".repeat(MAX_VERDICT_CHARS + 1)), false, "ingest");
        m.count_verdict(None, false, "ingest");
        let got = probes_of(&m);
        assert_eq!(got.get(&("code_0".into(), "ingest".into())), Some(&2));
        assert_eq!(got.get(&("other".into(), "ingest".into())), Some(&3));
        assert_eq!(got.get(&("failed".into(), "ingest".into())), Some(&1));
        assert!(!got.contains_key(&("one_too_many".into(), "ingest".into())));
    }

    #[test]
    fn ingested_probes_skip_conflicts_retries_and_other_kinds() {
        let m = Metrics::default();
        let body = r#"[{"passed": true}, {"passed": false, "failure": "timeout"}]"#;
        let new = IngestReport {
            accepted: 1,
            refined: 0,
            duplicates: 0,
            conflicts: vec![floorline_store::Conflict {
                index: 0,
                key: "p".into(),
                reason: "differs".into(),
            }],
        };
        m.count_ingested_probes("probes", body, &new);
        let retry = IngestReport {
            accepted: 0,
            refined: 0,
            duplicates: 2,
            conflicts: Vec::new(),
        };
        m.count_ingested_probes("probes", body, &retry);
        let all = IngestReport {
            accepted: 2,
            ..retry
        };
        m.count_ingested_probes("earnings", body, &all);
        let got = probes_of(&m);
        assert_eq!(got.get(&("timeout".into(), "ingest".into())), Some(&1));
        assert_eq!(got.len(), 1, "{got:?}");
    }
}
