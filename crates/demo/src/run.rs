//! The `floorline demo` path as a library function: a fresh SQLite file, a
//! real server on loopback (`floorline_server::serve`), admin/ingest/
//! provider keys, the fleet driven through the API and the prober, a
//! watermark past the month's end, a live settlement through the admin API,
//! and what floorline concluded about every planted cheater (from the
//! admin `explain` endpoint).
//!
//! Invariants: the engine reads time only from the run's [`SimClock`]
//! (inside the month while facts and probes flow, at `settle_at` for the
//! settlement); the settled plan returned is the committed one, read back
//! from the store; the server keeps running until [`DemoRun::shutdown`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use floorline_core::plan::Plan;
use floorline_core::{EpochId, Policy, Timestamp, Watermark};
use floorline_engine::clock::{Clock, SystemClock};
use floorline_engine::config::Config;
use floorline_engine::engine::explain_from;
use floorline_engine::Engine;
use floorline_server::admin::SettleBody;
use floorline_server::AppState;
use floorline_store::{Role, Store};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::SimClock;
use crate::drive::{self, Api, IngestTotals, ProbeTotals, DEFAULT_PROBE_WORKERS};
use crate::fleet::{CheatKind, Fleet, FleetSpec};
use crate::manifest::CheatExpect;
use crate::rig::ProbeRig;
use crate::DemoError;

/// The fact source whose watermark marks the month complete.
pub const WATERMARK_SOURCE: &str = "fleet-sim";

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    pub seed: u64,
    pub n_machines: usize,
    /// The month to simulate; default: the previous calendar month of the
    /// system clock.
    pub epoch: Option<EpochId>,
    /// When the settlement runs; default: the system clock's now.
    pub settle_at: Option<Timestamp>,
    /// The SQLite file; deleted first.
    pub database_path: PathBuf,
    /// Where the server listens (`127.0.0.1:0` picks a free port).
    pub listen: String,
    pub probe_workers: usize,
}

impl DemoOptions {
    /// The demo's defaults: 600 machines, the previous month, settled now.
    pub fn new(seed: u64, database_path: PathBuf) -> DemoOptions {
        DemoOptions {
            seed,
            n_machines: FleetSpec::DEMO_MACHINES,
            epoch: None,
            settle_at: None,
            database_path,
            listen: "127.0.0.1:0".into(),
            probe_workers: DEFAULT_PROBE_WORKERS,
        }
    }
}

/// The run summary the settle endpoint answers (the fields the demo reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleReport {
    pub run_id: Option<i64>,
    pub pool_micro_usd: i64,
    pub already_settled_micro_usd: i64,
    pub granted_total_micro_usd: i64,
    pub unallocated_micro_usd: i64,
    pub manifest_sha256: String,
    pub n_machines: u64,
    pub n_eligible: u64,
    pub n_granted_shares: u64,
    pub excluded_by_reason: BTreeMap<String, u64>,
    pub forced: bool,
}

/// What floorline concluded about one planted cheater.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaughtCheater {
    pub machine_id: String,
    pub kind: CheatKind,
    pub detail: String,
    pub expected: CheatExpect,
    pub eligible: bool,
    pub reasons: Vec<String>,
    pub reported_memory_gb: u32,
    pub verified_memory_gb: u32,
    /// The explanation's `verified_because`.
    pub verified_because: String,
    pub granted_micro_usd: i64,
    /// floorline's conclusion is exactly the expected one.
    pub caught: bool,
}

/// Wall time of each phase, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timings {
    pub generate_ms: u64,
    pub start_ms: u64,
    pub ingest_ms: u64,
    pub probe_ms: u64,
    pub settle_ms: u64,
    pub explain_ms: u64,
    pub total_ms: u64,
}

/// A finished demo run whose server is still serving.
pub struct DemoRun {
    pub fleet: Fleet,
    pub epoch: EpochId,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub database_path: PathBuf,
    pub admin_key: String,
    pub ingest_key: String,
    pub provider_key: String,
    /// The account the provider key sees.
    pub provider_account: String,
    pub ingest: IngestTotals,
    pub probes: ProbeTotals,
    pub settlement: SettleReport,
    /// The committed plan of the live run.
    pub plan: Plan,
    pub caught: Vec<CaughtCheater>,
    pub timings: Timings,
    pub engine: Engine,
    pub clock: Arc<SimClock>,
    pub api: Api,
    cancel: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
    _rig: ProbeRig,
}

impl DemoRun {
    /// Stops the server (requests in flight finish) and the probe rig.
    pub async fn shutdown(mut self) -> Result<(), DemoError> {
        self.cancel.cancel();
        if let Some(handle) = self.server.take() {
            handle
                .await
                .map_err(|e| DemoError::Unexpected(format!("server task: {e}")))?
                .map_err(|e| DemoError::io("serving", e))?;
        }
        self.engine.store().close().await;
        Ok(())
    }

    /// Whether every planted cheater was caught.
    pub fn all_caught(&self) -> bool {
        self.caught.iter().all(|c| c.caught)
    }
}

impl Drop for DemoRun {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn ms_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn remove_database(path: &Path) -> Result<(), DemoError> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(DemoError::io(&format!("removing {}", path.display()), e)),
        }
    }
    Ok(())
}

/// The account shown with the provider key: the one owning the most
/// machines at the month's end among accounts with no planted cheater and
/// at least one eligible machine (ties: smallest id).
fn provider_account(fleet: &Fleet) -> Option<String> {
    let end = fleet.spec.epoch.end().0 - 1;
    let mut counts: BTreeMap<&str, (usize, bool, bool)> = BTreeMap::new();
    for m in &fleet.machines {
        let Some(o) = m.owner_at(end) else { continue };
        let eligible = fleet
            .manifest
            .machine(&m.machine_id)
            .is_some_and(|e| e.eligible);
        let slot = counts
            .entry(o.account_id.as_str())
            .or_insert((0, false, false));
        slot.0 += 1;
        slot.1 |= m.cheat.is_some();
        slot.2 |= eligible;
    }
    counts
        .into_iter()
        .filter(|(_, (_, cheat, eligible))| !cheat && *eligible)
        .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.0.cmp(a.0)))
        .map(|(a, _)| a.to_string())
}

/// floorline's conclusion about each planted cheater: eligibility, reasons,
/// verified memory and draw from the committed plan; why the memory was
/// capped from the engine's explanation (one recomputation for all).
async fn conclusions(
    engine: &Engine,
    fleet: &Fleet,
    committed: &Plan,
) -> Result<Vec<CaughtCheater>, DemoError> {
    let epoch = committed.epoch;
    let (facts, recomputed) = engine.plan(epoch).await?;
    let mut out = Vec::new();
    for c in &fleet.manifest.cheaters {
        let pm = committed
            .machines
            .iter()
            .find(|m| m.machine_id == c.machine_id)
            .ok_or_else(|| {
                DemoError::Unexpected(format!("{} is not in the plan of {epoch}", c.machine_id))
            })?;
        let policy = &engine.config().policy;
        let earnings = engine
            .store()
            .machine_earnings(epoch, policy, &c.machine_id)
            .await?;
        let x = explain_from(&facts, &recomputed, policy, &c.machine_id, earnings)?
            .ok_or_else(|| DemoError::Unexpected(format!("no explanation of {}", c.machine_id)))?;
        let reported = x.formula.reported_memory_gb;
        let reasons: Vec<String> = pm.reasons.iter().map(|r| r.as_str().to_string()).collect();
        let caught = match &c.expect {
            CheatExpect::Excluded { reasons: want } => !pm.eligible && reasons == *want,
            CheatExpect::Capped {
                reported_gb,
                verified_gb,
            } => pm.eligible && pm.verified_memory_gb == *verified_gb && reported == *reported_gb,
        };
        out.push(CaughtCheater {
            machine_id: c.machine_id.clone(),
            kind: c.kind,
            detail: c.detail.clone(),
            expected: c.expect.clone(),
            eligible: pm.eligible,
            reasons,
            reported_memory_gb: reported,
            verified_memory_gb: pm.verified_memory_gb,
            verified_because: x.formula.verified_because.clone(),
            granted_micro_usd: pm.granted_micro_usd.saturating_add(pm.prior_micro_usd),
            caught,
        });
    }
    Ok(out)
}

/// Runs the whole demo: generate, serve, ingest, probe, settle, explain.
pub async fn run_demo(
    opts: &DemoOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<DemoRun, DemoError> {
    let started = Instant::now();
    let mut timings = Timings::default();
    let real_now = SystemClock.now();
    let epoch = match opts.epoch {
        Some(e) => e,
        None => EpochId::containing(real_now)
            .map(EpochId::previous)
            .ok_or_else(|| DemoError::Setup("the system clock is outside 1970–9998".into()))?,
    };
    let settle_at = opts.settle_at.unwrap_or(real_now);
    if !epoch.is_closed(settle_at) {
        return Err(DemoError::Setup(format!(
            "settling {epoch} at {settle_at}: the month is not over yet"
        )));
    }

    // 1. The fleet (pure).
    let policy = Policy::default();
    let spec = FleetSpec {
        seed: opts.seed,
        epoch,
        n_machines: opts.n_machines,
    };
    let fleet = Fleet::generate(spec, &policy)?;
    let (mean_mgb, big_ppm) = fleet.memory_mix();
    progress(&format!(
        "generated {} machines for {epoch} (seed {}): mean {}.{} GB, {} at 64 GB+, {} planted cheaters; manifest {}",
        fleet.machines.len(),
        opts.seed,
        mean_mgb / 1_000,
        mean_mgb % 1_000 / 100,
        crate::fleet::percent(i64::try_from(big_ppm).unwrap_or(0)),
        fleet.manifest.cheaters.len(),
        fleet.manifest.sha256().get(..16).unwrap_or_default(),
    ));
    timings.generate_ms = ms_since(started);

    // 2. Probe rig, store, engine on the simulation clock, keys, server.
    let phase = Instant::now();
    let rig = ProbeRig::start(&fleet).await?;
    remove_database(&opts.database_path)?;
    let database_url = format!("sqlite://{}", opts.database_path.display());
    let store = Store::connect(&database_url).await?;
    store.migrate().await?;
    let config = Config::load(
        &rig.config_toml(&opts.listen)?,
        "floorline-demo.toml",
        Vec::<(String, String)>::new(),
    )?;
    if config.policy != policy {
        return Err(DemoError::Setup(
            "the demo config changed the policy".into(),
        ));
    }
    let clock = Arc::new(SimClock::at(Timestamp(epoch.end().0 - 60_000)));
    let engine = Engine::new(store.clone(), config.clone(), clock.clone());
    let account = provider_account(&fleet)
        .ok_or_else(|| DemoError::Setup("no honest account with an eligible machine".into()))?;
    let (_, admin_key) = engine.create_key(Role::Admin, None).await?;
    let (_, ingest_key) = engine.create_key(Role::Ingest, None).await?;
    let (_, provider_key) = engine.create_key(Role::Provider, Some(&account)).await?;
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .map_err(|e| DemoError::io(&format!("listening on {}", opts.listen), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| DemoError::io("server address", e))?;
    let url = format!("http://{addr}");
    let cancel = CancellationToken::new();
    let state = AppState::new(engine.clone());
    let server = {
        let stop = cancel.clone().cancelled_owned();
        let state = state.clone();
        tokio::spawn(async move { floorline_server::serve(listener, state, stop).await })
    };
    progress(&format!(
        "serving on {url} over {}",
        opts.database_path.display()
    ));
    timings.start_ms = ms_since(phase);

    // 3. The month's facts through the ingestion API.
    let phase = Instant::now();
    let api = Api::new(&url)?;
    let ingest = drive::ingest_fleet(&api, &ingest_key, &fleet, progress).await?;
    timings.ingest_ms = ms_since(phase);

    // 4. Real probes, each at its scheduled instant inside the month.
    let phase = Instant::now();
    let probes = drive::run_probes(&store, &config, &fleet, opts.probe_workers).await?;
    timings.probe_ms = ms_since(phase);
    progress(&format!(
        "  probed {} times: {} passed, failed {:?}",
        probes.sent, probes.passed, probes.failed_by_code
    ));

    // 5. Complete, closed, settled live.
    let phase = Instant::now();
    api.post(
        "/v1/ingest/watermarks",
        &ingest_key,
        &[Watermark {
            source: WATERMARK_SOURCE.to_string(),
            up_to: epoch.end(),
        }],
    )
    .await?;
    clock.set(settle_at);
    let settled = api
        .post(
            &format!("/v1/admin/epochs/{epoch}/settle"),
            &admin_key,
            &SettleBody { force: false },
        )
        .await?;
    let settlement: SettleReport = serde_json::from_value(settled)?;
    state.invalidate().await;
    let run = store
        .latest_run(epoch, floorline_store::RunMode::Live)
        .await?
        .ok_or_else(|| DemoError::Unexpected(format!("no live run of {epoch} after settling")))?;
    let plan: Plan = serde_json::from_str(&store.run_plan_json(run.id).await?)?;
    timings.settle_ms = ms_since(phase);
    progress(&format!(
        "settled {epoch} live (run {}) at {settle_at}",
        run.id
    ));

    // 6. What floorline says about each planted cheater.
    let phase = Instant::now();
    let caught = conclusions(&engine, &fleet, &plan).await?;
    timings.explain_ms = ms_since(phase);
    if opts.settle_at.is_none() {
        // Serving on: the dashboard's "now" is the real one again.
        clock.follow_system();
    }
    timings.total_ms = ms_since(started);
    Ok(DemoRun {
        fleet,
        epoch,
        url,
        database_path: opts.database_path.clone(),
        admin_key,
        ingest_key,
        provider_key,
        provider_account: account,
        ingest,
        probes,
        settlement,
        plan,
        caught,
        timings,
        engine,
        clock,
        api,
        cancel,
        server: Some(server),
        _rig: rig,
    })
}
