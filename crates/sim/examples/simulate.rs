//! `floorline simulate` without the CLI, for trying scenarios while it is
//! being wired: `cargo run -p floorline-sim --example simulate --
//! builtin:cold-start [--out DIR] [--compare FILE] [--quiet]`.

use std::path::PathBuf;
use std::process::ExitCode;

use floorline_sim::{run_simulate, SimulateOptions};

fn main() -> ExitCode {
    let mut opts = SimulateOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => opts.out = args.next().map(PathBuf::from),
            "--compare" => opts.compare = args.next(),
            "--quiet" => opts.quiet = true,
            _ => opts.scenario = arg,
        }
    }
    if opts.scenario.is_empty() {
        opts.scenario = "builtin:cold-start".into();
    }
    match run_simulate(&opts, &mut std::io::stdout()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.is_bad_input() { 2 } else { 1 })
        }
    }
}
