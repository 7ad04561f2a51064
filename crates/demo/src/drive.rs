//! Driving a running floorline with the fleet: the facts go through the
//! real HTTP API (`POST /v1/ingest/{kind}` with an ingest key, in batches of
//! at most [`MAX_BATCH_ITEMS`]), the probes through the engine's own
//! [`Engine::probe_now`] against the probe rig, each with the engine's clock
//! set to the scheduled instant inside the month.
//!
//! Sessions are sent live, as a coordinator would ([`crate::heartbeat`]):
//! opened, heartbeated every simulated hour and closed, in time order across
//! the whole fleet, one simulated hour's steps per batch (split at
//! [`MAX_BATCH_ITEMS`]); the store ends with exactly the generated sessions.
//!
//! Invariants: kinds are sent in dependency order (machines, aliases,
//! bindings, sessions, health, earnings); every batch must be accepted
//! whole with no conflicts (a session's open `accepted`, its heartbeats and
//! close `refined`); one batch is re-sent to show that a retry only
//! yields duplicates; a probe verdict that differs from the schedule is an
//! error (the manifest's expectations rest on it); at most one probe per
//! machine is in flight.

use std::collections::BTreeMap;
use std::sync::Arc;

use floorline_core::Timestamp;
use floorline_engine::config::Config;
use floorline_engine::Engine;
use floorline_store::Store;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tracing::instrument::WithSubscriber as _;

use crate::clock::SimClock;
use crate::fleet::Fleet;
use crate::heartbeat::{self, Step};
use crate::DemoError;

/// Most facts per ingestion batch (the server's default limit).
pub const MAX_BATCH_ITEMS: usize = 10_000;
/// Probe workers (each an engine with its own clock).
pub const DEFAULT_PROBE_WORKERS: usize = 4;

/// A minimal JSON client of the floorline API.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base_url: String,
}

#[derive(Debug, Deserialize)]
struct BatchReport {
    accepted: u64,
    #[serde(default)]
    refined: u64,
    duplicates: u64,
    #[serde(default)]
    conflicts: Vec<serde_json::Value>,
}

/// What ingestion of one kind did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindTotals {
    pub items: u64,
    pub batches: u64,
    pub accepted: u64,
    /// Refinements (SPEC §2): a session's heartbeats and close.
    pub refined: u64,
    pub duplicates: u64,
    /// Sessions only: opens, heartbeats and closes sent (`items` is their sum).
    pub opened: u64,
    pub heartbeats: u64,
    pub closed: u64,
}

/// What ingestion of the whole fleet did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestTotals {
    pub kinds: BTreeMap<String, KindTotals>,
    /// Duplicates reported when the first earnings batch was sent again.
    pub resent_duplicates: u64,
}

impl IngestTotals {
    pub fn items(&self) -> u64 {
        self.kinds.values().map(|k| k.items).sum()
    }
    pub fn batches(&self) -> u64 {
        self.kinds.values().map(|k| k.batches).sum()
    }
}

/// What the probes did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProbeTotals {
    pub sent: u64,
    pub passed: u64,
    pub failed_by_code: BTreeMap<String, u64>,
}

impl Api {
    pub fn new(base_url: &str) -> Result<Api, DemoError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| DemoError::Http {
                what: "building the HTTP client".into(),
                source: e,
            })?;
        Ok(Api {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<String>,
    ) -> Result<serde_json::Value, DemoError> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base_url))
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let what = format!("{method} {path}");
        let resp = req.send().await.map_err(|e| DemoError::Http {
            what: what.clone(),
            source: e,
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| DemoError::Http {
            what: what.clone(),
            source: e,
        })?;
        if status != 200 {
            return Err(DemoError::Api {
                what,
                status,
                body: text.chars().take(500).collect(),
            });
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// `GET path` with a bearer key; errors unless 200.
    pub async fn get(&self, path: &str, key: &str) -> Result<serde_json::Value, DemoError> {
        self.send(reqwest::Method::GET, path, key, None).await
    }

    /// `POST path` with a JSON body and a bearer key; errors unless 200.
    pub async fn post<T: Serialize + ?Sized>(
        &self,
        path: &str,
        key: &str,
        body: &T,
    ) -> Result<serde_json::Value, DemoError> {
        let text = serde_json::to_string(body)?;
        self.send(reqwest::Method::POST, path, key, Some(text))
            .await
    }

    /// Ingests `items` of `kind` in batches; every item must be accepted
    /// or a duplicate, with no conflicts.
    pub async fn ingest<T: Serialize>(
        &self,
        key: &str,
        kind: &str,
        items: &[T],
    ) -> Result<KindTotals, DemoError> {
        let mut totals = KindTotals::default();
        for batch in items.chunks(MAX_BATCH_ITEMS) {
            let report = self.ingest_batch(key, kind, batch).await?;
            totals.items += u64::try_from(batch.len()).unwrap_or(u64::MAX);
            totals.batches += 1;
            totals.accepted += report.accepted;
            totals.refined += report.refined;
            totals.duplicates += report.duplicates;
        }
        Ok(totals)
    }

    /// Sends the sessions live ([`heartbeat::schedule`]): every simulated
    /// hour's opens, heartbeats and closes in time order, in batches of at
    /// most [`MAX_BATCH_ITEMS`]. Opens must be `accepted`, heartbeats and
    /// closes `refined` (or `duplicates` if re-sent); no conflicts.
    pub async fn ingest_sessions_live(
        &self,
        key: &str,
        sessions: &[floorline_core::bundle::Session],
    ) -> Result<KindTotals, DemoError> {
        let mut totals = KindTotals::default();
        for (hour, steps) in heartbeat::schedule(sessions) {
            for chunk in steps.chunks(MAX_BATCH_ITEMS) {
                let mut batch = Vec::with_capacity(chunk.len());
                let (mut opens, mut beats, mut closes) = (0u64, 0u64, 0u64);
                for x in chunk {
                    let Some(s) = sessions.get(x.session) else {
                        return Err(DemoError::Unexpected(format!(
                            "scheduled session {} of {}",
                            x.session,
                            sessions.len()
                        )));
                    };
                    match x.step.step {
                        Step::Open => opens += 1,
                        Step::Beat => beats += 1,
                        Step::Close => closes += 1,
                    }
                    batch.push(x.step.apply(s));
                }
                let report = self.ingest_batch(key, "sessions", &batch).await?;
                let n = u64::try_from(batch.len()).unwrap_or(u64::MAX);
                if report.accepted + report.refined + report.duplicates != n
                    || report.accepted > opens
                    || report.refined > beats + closes
                {
                    return Err(DemoError::Unexpected(format!(
                        "sessions of hour {}: {opens} opens, {beats} heartbeats, {closes} \
                         closes answered {} accepted, {} refined, {} duplicates",
                        Timestamp(hour * heartbeat::HOUR_MS),
                        report.accepted,
                        report.refined,
                        report.duplicates
                    )));
                }
                totals.items += n;
                totals.batches += 1;
                totals.accepted += report.accepted;
                totals.refined += report.refined;
                totals.duplicates += report.duplicates;
                totals.opened += opens;
                totals.heartbeats += beats;
                totals.closed += closes;
            }
        }
        Ok(totals)
    }

    async fn ingest_batch<T: Serialize>(
        &self,
        key: &str,
        kind: &str,
        batch: &[T],
    ) -> Result<BatchReport, DemoError> {
        let path = format!("/v1/ingest/{kind}");
        let value = self.post(&path, key, batch).await?;
        let report: BatchReport = serde_json::from_value(value)?;
        if !report.conflicts.is_empty() {
            return Err(DemoError::Unexpected(format!(
                "{path}: {} conflicts, first {}",
                report.conflicts.len(),
                report
                    .conflicts
                    .first()
                    .map(|c| c.to_string())
                    .unwrap_or_default()
            )));
        }
        Ok(report)
    }
}

/// Sends every fact of the fleet through the ingestion API.
pub async fn ingest_fleet(
    api: &Api,
    key: &str,
    fleet: &Fleet,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<IngestTotals, DemoError> {
    let f = &fleet.facts;
    let mut out = IngestTotals::default();
    macro_rules! kind {
        ($name:literal, $items:expr) => {{
            let t = api.ingest(key, $name, $items).await?;
            progress(&format!(
                "  ingested {:>6} {} in {} batch(es)",
                t.items, $name, t.batches
            ));
            out.kinds.insert($name.to_string(), t);
        }};
    }
    kind!("machines", &f.machines);
    kind!("aliases", &f.aliases);
    kind!("bindings", &f.bindings);
    {
        let t = api.ingest_sessions_live(key, &f.sessions).await?;
        progress(&format!(
            "  ingested {:>6} sessions live: {} opened, {} heartbeats, {} closed \
             ({} accepted, {} refined) in {} batch(es)",
            t.opened, t.opened, t.heartbeats, t.closed, t.accepted, t.refined, t.batches
        ));
        out.kinds.insert("sessions".to_string(), t);
    }
    kind!("health", &f.health);
    kind!("earnings", &f.earnings);
    // A coordinator retrying a batch it is unsure about: only duplicates.
    let first = f
        .earnings
        .get(..f.earnings.len().min(MAX_BATCH_ITEMS))
        .unwrap_or_default();
    if !first.is_empty() {
        let report = api.ingest_batch(key, "earnings", first).await?;
        if report.accepted != 0 {
            return Err(DemoError::Unexpected(format!(
                "re-sent earnings batch: {} accepted again",
                report.accepted
            )));
        }
        out.resent_duplicates = report.duplicates;
    }
    Ok(out)
}

/// One scheduled probe.
#[derive(Debug, Clone)]
struct ScheduledProbe {
    machine_id: String,
    at_ms: i64,
    failure: Option<&'static str>,
}

/// Runs every scheduled probe through [`Engine::probe_now`]: `workers`
/// engines share `store` and `config`, each with its own [`SimClock`] set to
/// the probe's instant, so each verdict is recorded at its scheduled `at`.
pub async fn run_probes(
    store: &Store,
    config: &Config,
    fleet: &Fleet,
    workers: usize,
) -> Result<ProbeTotals, DemoError> {
    let workers = workers.max(1);
    let mut queues: Vec<Vec<ScheduledProbe>> = vec![Vec::new(); workers];
    for (i, m) in fleet.machines.iter().enumerate() {
        if let Some(q) = queues.get_mut(i % workers) {
            q.extend(m.probe_at_ms.iter().map(|at| ScheduledProbe {
                machine_id: m.machine_id.clone(),
                at_ms: *at,
                failure: m.expected_failure(),
            }));
        }
    }
    let mut set = JoinSet::new();
    for queue in queues {
        let clock = Arc::new(SimClock::at(fleet.spec.epoch.start()));
        let engine = Engine::new(store.clone(), config.clone(), clock.clone());
        // Workers log through the caller's subscriber (the demo quietens
        // the per-probe lines).
        let worker = async move {
            let mut totals = ProbeTotals::default();
            for p in queue {
                clock.set(Timestamp(p.at_ms));
                let verdict = engine.probe_now(&p.machine_id).await?;
                let got = verdict.failure.map(|f| f.code());
                if got != p.failure {
                    return Err(DemoError::Unexpected(format!(
                        "probe of {} at {}: expected {}, got {}",
                        p.machine_id,
                        Timestamp(p.at_ms),
                        p.failure.unwrap_or("a pass"),
                        got.unwrap_or("a pass")
                    )));
                }
                totals.sent += 1;
                match got {
                    None => totals.passed += 1,
                    Some(code) => *totals.failed_by_code.entry(code.to_string()).or_insert(0) += 1,
                }
            }
            Ok::<ProbeTotals, DemoError>(totals)
        };
        set.spawn(worker.with_current_subscriber());
    }
    let mut out = ProbeTotals::default();
    while let Some(joined) = set.join_next().await {
        let t = joined.map_err(|e| DemoError::Unexpected(format!("probe worker: {e}")))??;
        out.sent += t.sent;
        out.passed += t.passed;
        for (code, n) in t.failed_by_code {
            *out.failed_by_code.entry(code).or_insert(0) += n;
        }
    }
    Ok(out)
}
