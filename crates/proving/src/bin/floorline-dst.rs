//! `floorline-dst`: runs the deterministic simulation for many seeds and
//! prints per-backend totals; exits 1 (naming the seed to replay) if any
//! trial found a violation or could not run.
//!
//! `cargo run --release -p floorline-proving --bin floorline-dst -- --seeds 500 --backend both`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use floorline_proving::dst::{run_seed_with, Backend, Options, TrialReport};
use floorline_store::FailPoint;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, Parser)]
#[command(
    name = "floorline-dst",
    about = "Deterministic simulation test of floorline"
)]
struct Args {
    /// Number of seeds per backend.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    start: u64,
    #[arg(long, value_enum, default_value_t = Which::Sqlite)]
    backend: Which,
    /// The `floorline` binary: enables process-level crashes (`FLOORLINE_FAILPOINT=…:abort`).
    #[arg(long)]
    floorline: Option<PathBuf>,
    /// PostgreSQL admin URL (a database is created and dropped per seed).
    #[arg(long, env = "FLOORLINE_TEST_PG_URL", default_value = floorline_proving::dst::DEFAULT_PG_URL)]
    pg_url: String,
    /// Trials run at once.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Print one line per trial.
    #[arg(long)]
    verbose: bool,
    /// Print every step of every trial.
    #[arg(long)]
    trace: bool,
}

#[derive(Default)]
struct Totals {
    trials: u64,
    steps: u64,
    settlements: u64,
    previews: u64,
    ticks: u64,
    period_ticks: u64,
    period_tick_runs: u64,
    month_settles: u64,
    between_period_crashes: u64,
    /// Trials and live settlements per unit of settlement.
    by_period: BTreeMap<String, (u64, u64)>,
    verifies: u64,
    concurrent_rounds: u64,
    concurrent_process_rounds: u64,
    batches_sent: u64,
    batches_rejected: u64,
    duplicates: u64,
    refined: u64,
    conflicts: u64,
    refusals: u64,
    draws: u64,
    drawn_micro_usd: i64,
    late_payments: u64,
    pool_bound_runs: u64,
    final_machines: u64,
    final_eligible: u64,
    final_excluded: BTreeMap<String, u64>,
    crash_points: BTreeMap<&'static str, u64>,
    process_crashes: BTreeMap<&'static str, u64>,
    violations: u64,
    errors: u64,
    failed: Vec<TrialReport>,
}

impl Totals {
    fn add(&mut self, r: TrialReport) {
        self.trials += 1;
        self.steps += r.steps;
        self.settlements += r.settlements;
        self.previews += r.previews;
        self.ticks += r.ticks;
        self.period_ticks += r.period_ticks;
        self.period_tick_runs += r.period_tick_runs;
        self.month_settles += r.month_settles;
        self.between_period_crashes += r.between_period_crashes;
        let slot = self.by_period.entry(r.period.clone()).or_insert((0, 0));
        slot.0 += 1;
        slot.1 += r.settlements;
        self.verifies += r.verifies;
        self.concurrent_rounds += r.concurrent_rounds;
        self.concurrent_process_rounds += r.concurrent_process_rounds;
        self.batches_sent += r.batches_sent;
        self.batches_rejected += r.batches_rejected;
        self.duplicates += r.duplicates;
        self.refined += r.refined;
        self.conflicts += r.conflicts;
        self.refusals += r.refusals;
        self.draws += r.draws;
        self.drawn_micro_usd += r.drawn_micro_usd;
        self.late_payments += r.late_payments;
        self.pool_bound_runs += r.pool_bound_runs;
        self.final_machines += r.final_machines;
        self.final_eligible += r.final_eligible;
        for (k, n) in &r.final_excluded {
            *self.final_excluded.entry(k.clone()).or_insert(0) += n;
        }
        for (p, n) in &r.crash_points {
            *self.crash_points.entry(p).or_insert(0) += n;
        }
        for (p, n) in &r.process_crashes {
            *self.process_crashes.entry(p).or_insert(0) += n;
        }
        self.violations += u64::try_from(r.violations.len()).unwrap_or(u64::MAX);
        if r.error.is_some() {
            self.errors += 1;
        }
        if !r.passed() {
            self.failed.push(r);
        }
    }

    fn print(&self, backend: Backend, elapsed: Duration, with_processes: bool) {
        println!("== {} ==", backend.as_str());
        println!("trials:              {}", self.trials);
        let periods: Vec<String> = self
            .by_period
            .iter()
            .map(|(p, (t, s))| format!("{p}: {t} trials, {s} live runs"))
            .collect();
        println!("  by period:         {}", periods.join("; "));
        println!("steps:               {}", self.steps);
        println!("settlements (live):  {}", self.settlements);
        println!(
            "  of which late:      {} (paid on top of earlier draws)",
            self.late_payments
        );
        println!(
            "  of which pool-bound: {} (granted until nothing was left)",
            self.pool_bound_runs
        );
        println!(
            "draws:               {} (${}.{:02})",
            self.draws,
            self.drawn_micro_usd / 1_000_000,
            self.drawn_micro_usd % 1_000_000 / 10_000
        );
        println!(
            "final plans:         {} machine-epochs, {} eligible; excluded for {:?}",
            self.final_machines, self.final_eligible, self.final_excluded
        );
        println!(
            "refused as expected: {} (epoch open / watermarks lagging)",
            self.refusals
        );
        println!("previews:            {}", self.previews);
        println!(
            "scheduler ticks:     {} ({} on period seeds, committing {} period runs)",
            self.ticks, self.period_ticks, self.period_tick_runs
        );
        println!(
            "settle_month calls:  {} ({} failed or died between periods of a month)",
            self.month_settles, self.between_period_crashes
        );
        println!("verifies:            {}", self.verifies);
        println!(
            "concurrent rounds:   {} in one process (a pool each), {} of real processes",
            self.concurrent_rounds, self.concurrent_process_rounds
        );
        println!(
            "fact batches:        {} sent, {} rejected whole, {} duplicates, {} refined, {} conflicts",
            self.batches_sent, self.batches_rejected, self.duplicates, self.refined, self.conflicts
        );
        println!("crash points hit (in-process error):");
        for p in FailPoint::ALL {
            let n = self.crash_points.get(p.as_str()).copied().unwrap_or(0);
            println!("  {:<16} {n}", p.as_str());
        }
        if with_processes {
            println!("process crashes (floorline killed by abort):");
            for p in FailPoint::ALL {
                let n = self.process_crashes.get(p.as_str()).copied().unwrap_or(0);
                println!("  {:<16} {n}", p.as_str());
            }
        }
        println!("violations:          {}", self.violations);
        println!("trials not run:      {}", self.errors);
        println!("elapsed:             {:.1} s", elapsed.as_secs_f64());
    }
}

async fn run_backend(args: &Args, backend: Backend, opts: &Options) -> Totals {
    let mut totals = Totals::default();
    let mut set = tokio::task::JoinSet::new();
    let end = args.start.saturating_add(args.seeds);
    let mut next = args.start;
    loop {
        while set.len() < args.jobs.max(1) && next < end {
            let (seed, opts) = (next, opts.clone());
            set.spawn(async move { run_seed_with(seed, backend, &opts).await });
            next += 1;
        }
        match set.join_next().await {
            Some(Ok(r)) => {
                if args.verbose {
                    print_trial(&r);
                }
                totals.add(r);
                if totals.trials % 50 == 0 {
                    eprintln!(
                        "[{}] {} trials, {} violations",
                        backend.as_str(),
                        totals.trials,
                        totals.violations
                    );
                }
            }
            Some(Err(e)) => {
                eprintln!("a trial task failed: {e}");
                totals.trials += 1;
                totals.errors += 1;
            }
            None => return totals,
        }
    }
}

fn print_trial(r: &TrialReport) {
    eprintln!(
        "seed {} {:?}: {} machines, period {}, epochs {:?}, {} steps, {} settlements, {} violations{}",
        r.seed,
        r.backend.map(|b| b.as_str()),
        r.n_machines,
        r.period,
        r.epochs,
        r.steps,
        r.settlements,
        r.violations.len(),
        r.error
            .as_deref()
            .map(|e| format!(", error: {e}"))
            .unwrap_or_default()
    );
}

fn main() -> ExitCode {
    let args = Args::parse();
    let backends = match args.backend {
        Which::Sqlite => vec![Backend::Sqlite],
        Which::Postgres => vec![Backend::Postgres],
        Which::Both => vec![Backend::Sqlite, Backend::Postgres],
    };
    // Absolute: the processes run in each trial's own directory.
    let floorline_bin = match args.floorline.as_deref().map(std::fs::canonicalize) {
        None => None,
        Some(Ok(path)) => Some(path),
        Some(Err(e)) => {
            eprintln!("floorline-dst: --floorline: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = Options {
        pg_admin_url: args.pg_url.clone(),
        floorline_bin,
        trace: args.trace,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "floorline-dst: seeds {}..{} ({}), process crashes {}",
        args.start,
        args.start.saturating_add(args.seeds),
        backends
            .iter()
            .map(|b| b.as_str())
            .collect::<Vec<_>>()
            .join(" + "),
        if args.floorline.is_some() {
            "on"
        } else {
            "off"
        }
    );
    let mut failed = false;
    for backend in backends {
        let started = Instant::now();
        let totals = rt.block_on(run_backend(&args, backend, &opts));
        totals.print(backend, started.elapsed(), args.floorline.is_some());
        for r in &totals.failed {
            failed = true;
            println!(
                "FAILED seed {} on {}: replay with `cargo run --release -p floorline-proving --bin floorline-dst -- --seeds 1 --start {} --backend {}`",
                r.seed,
                backend.as_str(),
                r.seed,
                backend.as_str()
            );
            if let Some(e) = &r.error {
                println!("  error: {e}");
            }
            for v in r.violations.iter().take(5) {
                println!("  step {} [{}]: {}", v.step, v.action, v.what);
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
