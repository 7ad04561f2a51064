//! The prober inside floorline: the store-backed [`ProbeSource`] (which
//! machines exist, their keys, their last evidence) and [`ProbeSink`]
//! (every verdict becomes a `probe` fact — never an earning), plus
//! [`Engine::probe_now`] for `floorline probe --machine M`.

use std::sync::Arc;
use std::time::Duration;

use floorline_core::bundle::Probe;
use floorline_core::{EpochId, Timestamp};
use floorline_prober::client::{http_client, probe_once};
use floorline_prober::protocol::pick;
use floorline_prober::schedule::{
    Cadence, EpochWindow, ProbeReport, ProbeSink, ProbeSource, ProbeTarget, Runner, RunnerConfig,
    Snapshot, SourceError,
};
use floorline_prober::verdict::Verdict;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio_util::sync::CancellationToken;

use crate::{Engine, EngineError};

/// Called with every verdict (metrics).
pub type VerdictHook = Arc<dyn Fn(&Verdict) + Send + Sync>;

/// Reads probe targets from the store.
pub struct StoreSource {
    engine: Engine,
}

impl ProbeSource for StoreSource {
    fn now_ms(&self) -> i64 {
        self.engine.now().0
    }

    async fn snapshot(&self) -> Result<Snapshot, SourceError> {
        let now = self.engine.now();
        let epoch =
            EpochId::containing(now).ok_or_else(|| SourceError("no epoch contains now".into()))?;
        let window = EpochWindow::new(epoch.start().0, epoch.end().0)
            .map_err(|e| SourceError(e.to_string()))?;
        let store = self.engine.store();
        let attestations = store
            .latest_attestations()
            .await
            .map_err(|e| SourceError(e.to_string()))?;
        let evidence = store
            .last_probe_at()
            .await
            .map_err(|e| SourceError(e.to_string()))?;
        let targets = attestations
            .into_iter()
            .map(|a| ProbeTarget {
                last_evidence_ms: evidence.get(&a.machine_id).copied(),
                machine_id: a.machine_id,
                se_public_key: a.se_public_key,
            })
            .collect();
        Ok(Snapshot { window, targets })
    }
}

/// Writes verdicts as probe facts.
pub struct StoreSink {
    engine: Engine,
    hook: Option<VerdictHook>,
}

impl StoreSink {
    async fn write(&self, report: &ProbeReport) -> Result<(), EngineError> {
        let v = &report.verdict;
        let fact = Probe {
            probe_id: v.probe_id.clone(),
            machine_id: v.machine_id.clone(),
            at: Timestamp(report.at_ms),
            passed: v.passed,
            failure: v.failure.map(|f| f.code().to_string()),
            model: Some(report.model.clone()).filter(|m| !m.is_empty()),
            verified_memory_gb: v.verified_memory_gb,
            source: Some(floorline_core::facts::PROBER_SOURCE.to_string()),
        };
        self.engine.store().ingest(&[fact]).await?;
        Ok(())
    }
}

impl ProbeSink for StoreSink {
    async fn record(&self, report: ProbeReport) {
        if let Some(hook) = &self.hook {
            hook(&report.verdict);
        }
        if let Err(e) = self.write(&report).await {
            tracing::warn!(machine_id = %report.verdict.machine_id, error = %e, "Could not record a probe verdict.");
        }
    }
}

impl Engine {
    /// The background prober, if `[prober] dispatch_url` and a catalog are configured.
    pub fn prober(
        &self,
        hook: Option<VerdictHook>,
    ) -> Result<Option<Runner<StoreSource, StoreSink>>, EngineError> {
        let cfg = &self.config.prober;
        let Some(url) = cfg.dispatch_url.clone() else {
            return Ok(None);
        };
        if cfg.catalog.is_empty() {
            return Ok(None);
        }
        let http = http_client().map_err(|e| EngineError::Other(e.to_string()))?;
        let runner = Runner::new(
            RunnerConfig {
                dispatch_url: url,
                limits: cfg.limits(),
                cadence: Cadence::default(),
                catalog: cfg.catalog.clone(),
            },
            http,
            Arc::new(StoreSource {
                engine: self.clone(),
            }),
            Arc::new(StoreSink {
                engine: self.clone(),
                hook,
            }),
            StdRng::from_entropy(),
        )
        .map_err(|e| EngineError::Other(e.to_string()))?;
        Ok(Some(runner))
    }

    /// Runs the prober until `cancel` fires (nothing when it is not configured).
    pub async fn run_prober(
        &self,
        hook: Option<VerdictHook>,
        cancel: CancellationToken,
    ) -> Result<(), EngineError> {
        if let Some(runner) = self.prober(hook)? {
            let stats = runner.run(cancel).await;
            tracing::info!(?stats, "Prober stopped.");
        }
        Ok(())
    }

    /// One probe of one machine now; the verdict is recorded as a probe fact.
    pub async fn probe_now(&self, machine: &str) -> Result<Verdict, EngineError> {
        let cfg = &self.config.prober;
        let url = cfg.dispatch_url.clone().ok_or_else(|| {
            EngineError::Invalid(vec![floorline_core::Invalid::new(
                "prober.dispatch_url",
                "is not configured",
            )])
        })?;
        let machine_id = self
            .store
            .resolve_machine(machine)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("machine `{machine}`")))?;
        let key = self
            .store
            .latest_attestations()
            .await?
            .into_iter()
            .find(|a| a.machine_id == machine_id)
            .and_then(|a| a.se_public_key);
        let mut rng = StdRng::from_entropy();
        let entry = pick(&cfg.catalog, &mut rng)
            .ok_or_else(|| {
                EngineError::Invalid(vec![floorline_core::Invalid::new(
                    "prober.catalog",
                    "is empty",
                )])
            })?
            .clone();
        let http = http_client().map_err(|e| EngineError::Other(e.to_string()))?;
        let at_ms = self.now().0;
        let verdict = probe_once(
            &http,
            &url,
            &machine_id,
            key.as_deref(),
            &entry,
            Duration::from_millis(cfg.timeout_ms),
            &mut rng,
        )
        .await;
        let sink = StoreSink {
            engine: self.clone(),
            hook: None,
        };
        sink.write(&ProbeReport {
            verdict: verdict.clone(),
            model: entry.model.clone(),
            at_ms,
        })
        .await?;
        Ok(verdict)
    }
}
