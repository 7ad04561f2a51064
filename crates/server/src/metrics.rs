//! Prometheus metrics (`GET /metrics`): ingestion counts and conflicts,
//! settlement outcomes and duration, eligibility by reason, probe outcomes.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Mutex;

use floorline_engine::RunSummary;

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
    pub probes: Family<OutcomeLabel, Counter>,
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
        };
        if let Ok(mut r) = m.registry.lock() {
            r.register(
                "floorline_ingest_facts",
                "Facts received, by kind and outcome",
                m.ingest_facts.clone(),
            );
            r.register(
                "floorline_last_settled_epoch",
                "Last live-settled epoch as YYYYMM",
                m.last_settled_epoch.clone(),
            );
            r.register(
                "floorline_pool_used_micro_usd",
                "Draws of the last settled epoch",
                m.pool_used_micro_usd.clone(),
            );
            r.register(
                "floorline_unallocated_micro_usd",
                "Unallocated pool of the last run",
                m.unallocated_micro_usd.clone(),
            );
            r.register(
                "floorline_eligible_machines",
                "Eligible machines in the last run",
                m.eligible_machines.clone(),
            );
            r.register(
                "floorline_excluded_machines",
                "Excluded machines in the last run, by reason",
                m.excluded_machines.clone(),
            );
            r.register(
                "floorline_settlement_duration_seconds",
                "Duration of settlement runs",
                m.settlement_seconds.clone(),
            );
            r.register(
                "floorline_settlements",
                "Settlement runs by outcome",
                m.settlements.clone(),
            );
            r.register(
                "floorline_probes",
                "Probe verdicts by outcome",
                m.probes.clone(),
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

    /// Records a finished run.
    pub fn record_run(&self, run: &RunSummary, seconds: f64) {
        self.settlement_seconds.observe(seconds);
        self.settlements
            .get_or_create(&OutcomeLabel {
                outcome: run.mode.as_str().into(),
            })
            .inc();
        if run.mode == floorline_engine::schedule::Mode::Live {
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
    }

    pub fn count_probe(&self, outcome: &str) {
        self.probes
            .get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            let _ = encode(&mut out, &r);
        }
        out
    }
}
