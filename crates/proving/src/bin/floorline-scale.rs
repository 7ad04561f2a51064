//! `floorline-scale`: the scale bench (issue #7). Ingests a deterministic
//! fleet through the store, loads, plans and settles it, runs the bare scans
//! for the ratio, and prints markdown (see `floorline_proving::scale`).
//!
//! `cargo run --release -p floorline-proving --bin floorline-scale -- --backend sqlite`
//!
//! By default it also runs a fleet a tenth the size first and extrapolates
//! every figure linearly to `--extrapolate-to` machines. Each size runs in a
//! child process of its own (`--single`), so the peak memory of one run is
//! not inflated by what the allocator kept from the other.
//! `--from-json a.json b.json` prints saved reports (and the fit) again.
//!
//! `--period 5m` settles the month's first 5-minute period instead of the
//! month, `--period day` the whole month of daily periods with one
//! `settle_month` (see `floorline_proving::scale::run_period`); a period
//! run is always a single run in this process, with no fit.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::as_conversions
)]

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Parser;
use floorline_core::time::Period;
use floorline_core::EpochId;
use floorline_proving::scale::{
    markdown, markdown_extrapolation, markdown_period, markdown_refine, markdown_version_rows,
    parse_period, run, run_period, run_refine, run_version_rows, Backend, PeriodReport,
    ScaleOptions, ScaleReport,
};

#[derive(Debug, Parser)]
#[command(name = "floorline-scale", about = "The scale bench of floorline")]
struct Args {
    /// sqlite or postgres (a fresh database on FLOORLINE_TEST_PG_URL, dropped after).
    #[arg(long, default_value = "sqlite")]
    backend: Backend,
    #[arg(long, default_value_t = 100_000)]
    machines: u64,
    #[arg(long, default_value_t = 30)]
    sessions_per_machine: u64,
    #[arg(long, default_value_t = 200)]
    earnings_per_machine: u64,
    /// Distinct consumers buying jobs (skewed).
    #[arg(long, default_value_t = 12)]
    consumers: u64,
    /// The smaller run for the extrapolation (default: a tenth; 0: none).
    #[arg(long)]
    small_machines: Option<u64>,
    /// Machines to extrapolate to.
    #[arg(long, default_value_t = 1_000_000)]
    extrapolate_to: u64,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    #[arg(long, default_value = "2026-10")]
    epoch: EpochId,
    /// The settlement unit: month (the monthly bench), or 5m (settle the
    /// month's first 5-minute period) or day (settle the month's daily
    /// periods with one `settle_month`), each against the bare scans of the
    /// same windows.
    #[arg(long, default_value = "month", value_parser = parse_period)]
    period: Period,
    /// The refinement bench instead (SPEC §2): `--machines` open sessions,
    /// one heartbeat each through the store in batches of 10 000, against a
    /// bare UPDATE of the same rows.
    #[arg(long)]
    refine: bool,
    /// The fact-version bench instead (SPEC §6): a month of hourly
    /// heartbeats for `--machines` sessions with one preview and one live
    /// run per day; how many version rows are left.
    #[arg(long)]
    version_rows: bool,
    /// Also write the reports as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
    /// Run `--machines` only, in this process (no smaller run, no fit).
    #[arg(long)]
    single: bool,
    /// Run on this database URL and keep it (implies `--single`); if it
    /// already holds this fleet the ingest is skipped and the earlier run's
    /// settlement deleted, so load, plan and settle can be measured again.
    /// A bench database only: it deletes draws, ledger entries and runs.
    #[arg(long)]
    database: Option<String>,
    /// Print saved `--json` reports instead of running (smallest and largest are fitted).
    #[arg(long, num_args = 1..)]
    from_json: Vec<PathBuf>,
}

/// Runs one size in a child process (`--single --json`) and reads its report.
fn run_child(args: &Args, machines: u64) -> anyhow::Result<ScaleReport> {
    let dir = tempfile::tempdir()?;
    let json = dir.path().join("report.json");
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("--single")
        .args(["--backend", args.backend.as_str()])
        .args(["--machines", &machines.to_string()])
        .args([
            "--sessions-per-machine",
            &args.sessions_per_machine.to_string(),
        ])
        .args([
            "--earnings-per-machine",
            &args.earnings_per_machine.to_string(),
        ])
        .args(["--consumers", &args.consumers.to_string()])
        .args(["--seed", &args.seed.to_string()])
        .args(["--epoch", &args.epoch.to_string()])
        .arg("--json")
        .arg(&json)
        .stdout(std::process::Stdio::null());
    if args.quiet {
        cmd.arg("--quiet");
    }
    let status = cmd.status().context("start the child run")?;
    if !status.success() {
        bail!("the run of {machines} machines failed ({status})");
    }
    read_reports(&json)?
        .pop()
        .with_context(|| format!("no report in {}", json.display()))
}

fn read_reports(path: &std::path::Path) -> anyhow::Result<Vec<ScaleReport>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))
}

fn print(mut reports: Vec<ScaleReport>, target: u64) {
    reports.sort_by_key(|r| r.machines);
    for r in &reports {
        println!("{}", markdown(r));
    }
    if let (Some(small), Some(large)) = (reports.first(), reports.last()) {
        if large.machines > small.machines {
            println!("{}", markdown_extrapolation(small, large, target));
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Nothing unless asked, as for `floorline`: `FLOORLINE_LOG=floorline_store=debug`
    // shows how long each step of the load and the settlement took.
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLOORLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if args.machines == 0 {
        bail!("--machines must be at least 1");
    }
    let options = |machines: u64| ScaleOptions {
        sessions_per_machine: args.sessions_per_machine,
        earnings_per_machine: args.earnings_per_machine,
        consumers: args.consumers,
        seed: args.seed,
        progress: !args.quiet,
        database: args.database.clone(),
        ..ScaleOptions::new(args.backend, machines, args.epoch)
    };
    if args.version_rows {
        let report = run_version_rows(&options(args.machines))
            .await
            .context("version-rows run")?;
        if let Some(path) = &args.json {
            std::fs::write(path, serde_json::to_string_pretty(&report)?)
                .with_context(|| format!("write {}", path.display()))?;
        }
        println!("{}", markdown_version_rows(&report));
        return Ok(());
    }
    if args.refine {
        let report = run_refine(&options(args.machines))
            .await
            .context("refine run")?;
        if let Some(path) = &args.json {
            std::fs::write(path, serde_json::to_string_pretty(&report)?)
                .with_context(|| format!("write {}", path.display()))?;
        }
        println!("{}", markdown_refine(&report));
        return Ok(());
    }
    if args.period != Period::Month {
        return period_main(&args, options(args.machines)).await;
    }
    if !args.from_json.is_empty() {
        let mut all = Vec::new();
        for path in &args.from_json {
            all.extend(read_reports(path)?);
        }
        print(all, args.extrapolate_to);
        return Ok(());
    }
    let small = args
        .small_machines
        .unwrap_or(args.machines / 10)
        .min(args.machines.saturating_sub(1));
    let reports = if args.single || small == 0 || args.database.is_some() {
        vec![run(&options(args.machines)).await.context("run")?]
    } else {
        vec![run_child(&args, small)?, run_child(&args, args.machines)?]
    };
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&reports)?)
            .with_context(|| format!("write {}", path.display()))?;
    }
    print(reports, args.extrapolate_to);
    Ok(())
}

/// `--period day|hour|5m`: one period run (or saved ones with `--from-json`).
async fn period_main(args: &Args, opts: ScaleOptions) -> anyhow::Result<()> {
    let reports: Vec<PeriodReport> = if args.from_json.is_empty() {
        vec![run_period(&opts, args.period).await.context("period run")?]
    } else {
        let mut all = Vec::new();
        for path in &args.from_json {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("read {}", path.display()))?;
            let some: Vec<PeriodReport> =
                serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
            all.extend(some);
        }
        all
    };
    if let (Some(path), true) = (&args.json, args.from_json.is_empty()) {
        std::fs::write(path, serde_json::to_string_pretty(&reports)?)
            .with_context(|| format!("write {}", path.display()))?;
    }
    for r in &reports {
        println!("{}", markdown_period(r));
    }
    Ok(())
}
