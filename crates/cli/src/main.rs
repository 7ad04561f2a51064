//! `floorline`: the one binary. Parses arguments, opens the store, calls the
//! engine, prints. Exit codes: 0 ok, 1 failure, 2 bad input (the message
//! names the item and field; nothing on stdout).

mod demo;
mod failure;
mod import;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use floorline_core::bundle::{plan_bundle, Bundle};
use floorline_core::{EpochId, FactKind};
use floorline_engine::clock::SystemClock;
use floorline_engine::config::Config;
use floorline_engine::ingest::Format;
use floorline_engine::{Engine, SettleOptions};
use floorline_store::{Adjust, AdjustKind, Role, Store};
use serde::Serialize;

use crate::failure::Failure;

#[derive(Parser)]
#[command(name = "floorline", version, about = "Earnings floors for decentralized compute providers", long_about = None)]
struct Cli {
    /// Database: `sqlite://PATH` (embedded default) or `postgres://…`.
    #[arg(
        long,
        global = true,
        env = "FLOORLINE_DATABASE_URL",
        default_value = "sqlite://floorline.db"
    )]
    database_url: String,
    /// Policy and service config (TOML); `FLOORLINE_*` variables override it.
    #[arg(long, global = true, env = "FLOORLINE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Recompute an epoch's plan from a facts bundle and print it as JSON.
    #[command(after_help = "Example: floorline plan --facts bundle.json --config floorline.toml")]
    Plan {
        /// The facts bundle (JSON, SPEC §8); `-` reads standard input.
        #[arg(long)]
        facts: PathBuf,
    },
    /// Apply the database migrations (also done by every command at start).
    #[command(
        after_help = "Example: floorline --database-url postgres://localhost/floorline migrate"
    )]
    Migrate,
    /// Settle a closed epoch (or period) live: credit draws in one transaction.
    #[command(after_help = "Examples: floorline settle --epoch 2026-10 --dry-run\n\
        floorline settle --month 2026-10   (with period = \"day\": every closed, unsettled day, in order)")]
    Settle {
        /// The epoch or period id (`2026-10`, `2026-10-05`, `2026-10-05T13`, `2026-10-05T13:05`).
        #[arg(long, required_unless_present = "month", conflicts_with = "month")]
        epoch: Option<String>,
        /// Settle every closed, unsettled period of this month, one transaction each.
        #[arg(long)]
        month: Option<String>,
        /// Plan and print, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Settle although some fact source has not reported past the epoch end.
        #[arg(long)]
        force: bool,
        /// Recorded on the run.
        #[arg(long, default_value = "cli")]
        actor: String,
    },
    /// A month's draws over all its periods per account, and its manifest (SPEC D24).
    #[command(after_help = "Example: floorline statement --month 2026-10")]
    Statement {
        #[arg(long)]
        month: String,
    },
    /// Plan an epoch and store it as a preview (no money moves).
    #[command(after_help = "Example: floorline preview --epoch 2026-10")]
    Preview {
        #[arg(long)]
        epoch: String,
        #[arg(long, default_value = "cli")]
        actor: String,
    },
    /// Recompute each live run from the facts as it read them and compare it with what was committed.
    #[command(
        after_help = "Examples:\n  floorline verify --epoch 2026-10   (exit 1 when anything differs)\n  floorline verify --epoch 2026-10 --drift   (also: what today's facts would change)"
    )]
    Verify {
        #[arg(long)]
        epoch: String,
        /// Also recompute from today's facts and list, per machine and
        /// account, what the later facts would change (does not affect the exit code).
        #[arg(long)]
        drift: bool,
    },
    /// Every term of one machine's figures in one epoch, each gate with its evidence.
    #[command(after_help = "Example: floorline explain --machine mac-0042 --epoch 2026-10")]
    Explain {
        #[arg(long)]
        machine: String,
        #[arg(long)]
        epoch: String,
    },
    /// Write the facts bundle of an epoch (what `plan` reads) to stdout or --out.
    #[command(
        after_help = "Examples:\n  floorline export-facts --epoch 2026-10 --out 2026-10.json\n  floorline export-facts --epoch 2026-10 --run 3   (the facts exactly as run 3 read them)"
    )]
    ExportFacts {
        #[arg(long)]
        epoch: String,
        #[arg(long)]
        out: Option<PathBuf>,
        /// The facts as this settlement run read them (default: as they stand now).
        #[arg(long)]
        run: Option<i64>,
    },
    /// Import facts: a whole bundle, or NDJSON/CSV facts of one kind.
    #[command(
        after_help = "Examples:\n  floorline import --bundle 2026-10.json\n  floorline import --kind earnings jobs.ndjson\n  floorline import --kind sessions sessions.csv --batch 2000"
    )]
    Import {
        /// A facts bundle (the round trip of export-facts).
        #[arg(long, conflicts_with_all = ["kind", "file"])]
        bundle: Option<PathBuf>,
        /// machines, aliases, bindings, sessions, health, earnings, probes or watermarks.
        #[arg(long, requires = "file")]
        kind: Option<String>,
        /// The NDJSON (one fact per line) or CSV (header of field names) file.
        file: Option<PathBuf>,
        /// Default: from the file extension (.csv → csv, else ndjson).
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// Facts per transaction.
        #[arg(long, default_value_t = import::DEFAULT_BATCH)]
        batch: usize,
        /// Ignore FILE.progress and start from the first line.
        #[arg(long)]
        restart: bool,
    },
    /// API keys: create (prints the token alone), list, revoke.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// A correction: a new ledger entry with a reason (never an edit).
    #[command(
        after_help = "Example: floorline adjust --account alice --amount-micro-usd -5000000 --kind clawback --reason \"self-dealing found in audit\" --actor ops@example"
    )]
    Adjust {
        #[arg(long)]
        account: String,
        #[arg(long, allow_hyphen_values = true)]
        amount_micro_usd: i64,
        #[arg(long, value_enum, default_value = "adjustment")]
        kind: AdjustArg,
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "cli")]
        actor: String,
    },
    /// Run the HTTP API, dashboard, scheduler and prober.
    #[command(after_help = "Example: floorline serve --listen 127.0.0.1:8080")]
    Serve {
        /// Default: `[server] listen` of the config, 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Probe one machine now and print the verdict JSON.
    #[command(after_help = "Example: floorline probe --machine mac-0042")]
    Probe {
        #[arg(long)]
        machine: String,
    },
    /// Simulate last month's 600-machine fleet against an in-process server
    /// on a fresh ./floorline-demo.db, settle it live and print a summary.
    #[command(
        after_help = "Examples:\n  floorline demo --no-serve\n  floorline demo --seed 7 --listen 127.0.0.1:9090   (then open http://127.0.0.1:9090/admin)"
    )]
    Demo {
        /// Seed of the simulated fleet (same seed, same fleet).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print the summary and exit instead of serving until Ctrl-C.
        #[arg(long)]
        no_serve: bool,
        /// Default: 127.0.0.1:8080 (a free port with --no-serve).
        #[arg(long)]
        listen: Option<String>,
    },
    /// A policy what-if over months: table, CSV, JSON and SVG charts.
    #[command(
        after_help = "Examples:\n  floorline simulate --scenario builtin:cold-start --out sim/\n  floorline simulate --scenario builtin:cold-start --compare crates/sim/scenarios/half-k.toml"
    )]
    Simulate {
        /// A scenario file or `builtin:cold-start`.
        #[arg(long)]
        scenario: String,
        #[arg(long)]
        out: Option<PathBuf>,
        /// A second scenario to run side by side.
        #[arg(long)]
        compare: Option<String>,
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print its token (shown once).
    #[command(after_help = "Example: floorline keys create --role provider --account alice")]
    Create {
        #[arg(long, value_enum)]
        role: RoleArg,
        #[arg(long)]
        account: Option<String>,
    },
    /// List keys (never the tokens).
    #[command(after_help = "Example: floorline keys list")]
    List,
    /// Revoke a key by id.
    #[command(after_help = "Example: floorline keys revoke 3")]
    Revoke { id: i64 },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    Admin,
    Ingest,
    Provider,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Ndjson,
    Csv,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AdjustArg {
    Adjustment,
    Clawback,
}

fn read_input(path: &PathBuf, what: &str) -> Result<String, Failure> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| Failure::bad(format!("{what}: cannot read standard input: {e}")))?;
        return Ok(s);
    }
    std::fs::read_to_string(path)
        .map_err(|e| Failure::bad(format!("{what}: cannot read {}: {e}", path.display())))
}

fn load_config(cli: &Cli) -> Result<Config, Failure> {
    let (text, source) = match &cli.config {
        Some(p) => (read_input(p, "--config")?, p.display().to_string()),
        None => (String::new(), "floorline.toml".to_string()),
    };
    let config = Config::load(&text, &source, std::env::vars())?;
    for w in &config.warnings {
        eprintln!("floorline: warning: {w}");
    }
    Ok(config)
}

/// The file of a `sqlite://PATH` URL when it does not exist yet (connecting
/// creates it).
fn new_sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = url.strip_prefix("sqlite://")?.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    let path = std::path::PathBuf::from(path);
    (!path.exists()).then_some(path)
}

fn month_id(text: &str) -> Result<EpochId, Failure> {
    match text.parse::<EpochId>() {
        Ok(m) if m.period() == floorline_core::time::Period::Month => Ok(m),
        Ok(_) => Err(Failure::bad(format!(
            "--month: `{text}` is not a month YYYY-MM"
        ))),
        Err(e) => Err(Failure::bad(format!("--month: {e}"))),
    }
}

fn epoch(text: &str) -> Result<EpochId, Failure> {
    text.parse()
        .map_err(|e: String| Failure::bad(format!("--epoch: {e}")))
}

/// What `import --bundle` prints per fact kind.
#[derive(Serialize)]
struct KindReport<'a> {
    kind: &'a str,
    report: &'a floorline_store::IngestReport,
}

fn print_json<T: Serialize>(v: &T) -> Result<(), Failure> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).map_err(Failure::other)?
    );
    Ok(())
}

async fn open_engine(cli: &Cli) -> Result<Engine, Failure> {
    let config = load_config(cli)?;
    let created = new_sqlite_file(&cli.database_url);
    let store = Store::connect(&cli.database_url).await?;
    store.migrate().await?;
    if let Some(path) = created {
        eprintln!(
            "floorline: created a new, empty database {} (--database-url or FLOORLINE_DATABASE_URL names another)",
            path.display()
        );
    }
    Ok(Engine::new(store, config, Arc::new(SystemClock)))
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Plan { facts } => {
            let config = load_config(&cli)?;
            let text = read_input(facts, "--facts")?;
            print_json(&plan_bundle(&text, &config.policy_patch)?)
        }
        Command::Simulate {
            scenario,
            out,
            compare,
            quiet,
        } => {
            let opts = floorline_sim::SimulateOptions {
                scenario: scenario.clone(),
                out: out.clone(),
                compare: compare.clone(),
                quiet: *quiet,
            };
            floorline_sim::run_simulate(&opts, &mut std::io::stdout())?;
            Ok(())
        }
        Command::Migrate => {
            open_engine(&cli).await?;
            eprintln!("migrations applied to {}", cli.database_url);
            Ok(())
        }
        Command::Settle {
            epoch: e,
            month,
            dry_run,
            force,
            actor,
        } => {
            let engine = open_engine(&cli).await?;
            let opts = SettleOptions {
                force: *force,
                dry_run: *dry_run,
            };
            match (e, month) {
                (Some(e), _) => print_json(&engine.settle(epoch(e)?, actor, opts).await?),
                (None, Some(m)) => {
                    let month = month_id(m)?;
                    print_json(&engine.settle_month(month, actor, opts).await?)
                }
                (None, None) => Err(Failure::bad("--epoch or --month is required")),
            }
        }
        Command::Statement { month } => {
            let engine = open_engine(&cli).await?;
            print_json(&engine.month_statement(month_id(month)?).await?)
        }
        Command::Preview { epoch: e, actor } => {
            let engine = open_engine(&cli).await?;
            print_json(&engine.preview(epoch(e)?, actor).await?)
        }
        Command::Verify { epoch: e, drift } => {
            let engine = open_engine(&cli).await?;
            let opts = floorline_engine::VerifyOptions { drift: *drift };
            let report = engine.verify_with(epoch(e)?, opts).await?;
            print_json(&report)?;
            if report.ok {
                Ok(())
            } else {
                Err(Failure::other(format!(
                    "verify: {} differences, {} balance mismatches",
                    report.differences.len(),
                    report.balance_mismatches.len()
                )))
            }
        }
        Command::Explain { machine, epoch: e } => {
            let engine = open_engine(&cli).await?;
            print_json(&engine.explain(epoch(e)?, machine).await?)
        }
        Command::ExportFacts { epoch: e, out, run } => {
            let engine = open_engine(&cli).await?;
            let bundle = match run {
                Some(id) => engine.export_facts_of_run(epoch(e)?, *id).await?,
                None => engine.export_facts(epoch(e)?).await?,
            };
            let json = serde_json::to_string_pretty(&bundle).map_err(Failure::other)?;
            match out {
                Some(path) => std::fs::write(path, json)?,
                None => println!("{json}"),
            }
            Ok(())
        }
        Command::Import {
            bundle,
            kind,
            file,
            format,
            batch,
            restart,
        } => {
            let engine = open_engine(&cli).await?;
            match (bundle, kind, file) {
                (Some(path), _, _) => {
                    let mut b = Bundle::from_json(&read_input(path, "--bundle")?)?;
                    // Base-reward rows of an exported bundle are written by settlement, not imported.
                    b.earnings
                        .retain(|e| !e.job_id.starts_with(floorline_store::RESERVED_JOB_PREFIX));
                    // One transaction: the whole bundle is written, or nothing of it.
                    let reports = engine.store().ingest_bundle(&b).await?;
                    let out: Vec<KindReport> = reports
                        .iter()
                        .map(|(kind, report)| KindReport { kind, report })
                        .collect();
                    print_json(&out)
                }
                (None, Some(kind), Some(path)) => {
                    let kind = FactKind::parse(kind)
                        .ok_or_else(|| Failure::bad(format!("--kind: unknown kind `{kind}`")))?;
                    let format = match format {
                        Some(FormatArg::Ndjson) => Format::Ndjson,
                        Some(FormatArg::Csv) => Format::Csv,
                        None => Format::from_path(path),
                    };
                    print_json(
                        &import::import_kind(&engine, kind, path, format, *batch, *restart).await?,
                    )
                }
                _ => Err(Failure::bad(
                    "import: give --bundle FILE or --kind KIND FILE",
                )),
            }
        }
        Command::Keys(k) => {
            let engine = open_engine(&cli).await?;
            match k {
                KeysCommand::Create { role, account } => {
                    let role = match role {
                        RoleArg::Admin => Role::Admin,
                        RoleArg::Ingest => Role::Ingest,
                        RoleArg::Provider => Role::Provider,
                    };
                    let (id, token) = engine.create_key(role, account.as_deref()).await?;
                    eprintln!(
                        "created key {id} ({}); the token is shown once:",
                        role.as_str()
                    );
                    println!("{token}");
                    Ok(())
                }
                KeysCommand::List => print_json(&engine.store().list_api_keys().await?),
                KeysCommand::Revoke { id } => {
                    print_json(&engine.store().revoke_api_key(*id, engine.now().0).await?)
                }
            }
        }
        Command::Adjust {
            account,
            amount_micro_usd,
            kind,
            reason,
            actor,
        } => {
            let engine = open_engine(&cli).await?;
            let kind = match kind {
                AdjustArg::Adjustment => AdjustKind::Adjustment,
                AdjustArg::Clawback => AdjustKind::Clawback,
            };
            let entry = engine
                .store()
                .adjust(&Adjust {
                    account_id: account.clone(),
                    amount_micro_usd: *amount_micro_usd,
                    kind,
                    reason: reason.clone(),
                    actor: actor.clone(),
                    now_ms: engine.now().0,
                    reference: None,
                })
                .await?;
            print_json(&entry)
        }
        Command::Serve { listen } => {
            let engine = open_engine(&cli).await?;
            serve::serve(engine, listen.clone()).await
        }
        Command::Demo {
            seed,
            no_serve,
            listen,
        } => demo::run(*seed, *no_serve, listen.clone()).await,
        Command::Probe { machine } => {
            let engine = open_engine(&cli).await?;
            print_json(&engine.probe_now(machine).await?)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FLOORLINE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
