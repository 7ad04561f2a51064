//! `floorline`: the one binary. Parses arguments, calls the engine, prints.
//! Exit codes: 0 ok, 1 failure, 2 bad input (message names item and field;
//! nothing on stdout).

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use floorline_core::bundle::plan_bundle;
use floorline_core::policy::{parse_config_toml, PolicyPatch};
use floorline_core::CoreError;

#[derive(Parser)]
#[command(
    name = "floorline",
    version,
    about = "Earnings floors for decentralized compute providers"
)]
struct Cli {
    /// Policy and service config (TOML).
    #[arg(long, global = true, env = "FLOORLINE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Recompute an epoch's plan from a facts bundle and print it as JSON.
    ///
    /// Example: floorline plan --facts bundle.json --config floorline.toml
    Plan {
        /// The facts bundle (JSON, SPEC §8); `-` reads standard input.
        #[arg(long)]
        facts: PathBuf,
    },
}

/// A failure with its exit code.
enum Failure {
    BadInput(String),
    Other(anyhow::Error),
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Invalid(_) => Failure::BadInput(e.to_string()),
            other => Failure::Other(other.into()),
        }
    }
}

fn read_input(path: &PathBuf, what: &str) -> Result<String, Failure> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| Failure::BadInput(format!("{what}: cannot read standard input: {e}")))?;
        return Ok(s);
    }
    std::fs::read_to_string(path)
        .map_err(|e| Failure::BadInput(format!("{what}: cannot read {}: {e}", path.display())))
}

fn config_patch(cli: &Cli) -> Result<PolicyPatch, Failure> {
    match &cli.config {
        None => Ok(PolicyPatch::default()),
        Some(path) => {
            let text = read_input(path, "--config")?;
            let (patch, _sections) = parse_config_toml(&text, &path.display().to_string())?;
            Ok(patch)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Plan { facts } => {
            let overrides = config_patch(&cli)?;
            let text = read_input(facts, "--facts")?;
            let plan = plan_bundle(&text, &overrides)?;
            let json = serde_json::to_string_pretty(&plan).map_err(|e| Failure::Other(e.into()))?;
            println!("{json}");
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
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
