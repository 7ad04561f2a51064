//! `floorline demo`: a month of a 600-machine provider network, simulated
//! against a real in-process server on a fresh SQLite file and settled live,
//! then a one-screen summary (URLs, keys, eligible, excluded by reason, pool
//! used, unallocated, every planted cheater and why floorline caught it).
//! Without `--no-serve` the server keeps running until Ctrl-C or SIGTERM.
//!
//! Progress goes to stderr, the summary to stdout. The simulation itself
//! lives in `floorline_demo`; this is argument handling and I/O.

use std::io::Write as _;
use std::time::Instant;

use floorline_demo::{run_demo, summary, DemoError, DemoOptions};
use tracing::instrument::WithSubscriber as _;

use crate::failure::Failure;

/// The demo's database, in the working directory (deleted first).
pub const DEMO_DATABASE: &str = "floorline-demo.db";
/// Where the demo serves unless told otherwise (`--no-serve` picks a free port).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The demo's log filter unless `FLOORLINE_LOG` says otherwise: the
/// hundreds of per-probe verdict lines are left out (the summary counts them).
pub const DEMO_LOG_FILTER: &str = "info,floorline_prober=warn";

/// The subscriber the simulation runs under (the server's own request
/// tasks keep the global one).
fn demo_logs() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FLOORLINE_LOG")
                .unwrap_or_else(|_| DEMO_LOG_FILTER.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .finish()
}

fn failure(e: DemoError, listen: &str) -> Failure {
    match e {
        DemoError::Io { what, source } if what.starts_with("listening") => {
            Failure::bad(format!("--listen {listen}: {source}"))
        }
        DemoError::Setup(msg) => Failure::bad(msg),
        other => Failure::other(other),
    }
}

/// Runs the demo; `listen` defaults to [`DEFAULT_LISTEN`] (a free port with `no_serve`).
pub async fn run(seed: u64, no_serve: bool, listen: Option<String>) -> Result<(), Failure> {
    let started = Instant::now();
    let database = std::env::current_dir()?.join(DEMO_DATABASE);
    let default_listen = if no_serve {
        "127.0.0.1:0"
    } else {
        DEFAULT_LISTEN
    };
    let listen = listen.unwrap_or_else(|| default_listen.to_string());
    let opts = DemoOptions {
        listen: listen.clone(),
        ..DemoOptions::new(seed, database.clone())
    };
    eprintln!(
        "floorline demo: simulating last month's fleet (seed {seed}) into a fresh {}",
        database.display()
    );
    let run = run_demo(&opts, &|line| eprintln!("{line}"))
        .with_subscriber(demo_logs())
        .await
        .map_err(|e| failure(e, &listen))?;
    let mut out = std::io::stdout();
    write!(out, "{}", summary::render(&run))?;
    out.flush()?;
    eprintln!(
        "demo done in {} ms (simulation and live settlement)",
        started.elapsed().as_millis()
    );
    let all_caught = run.all_caught();
    if !no_serve {
        eprintln!(
            "serving {}/provider and {}/admin until Ctrl-C (no scheduler, no background prober)",
            run.url, run.url
        );
        crate::serve::stop_signal().await;
        eprintln!("stopping");
    }
    run.shutdown().await.map_err(Failure::other)?;
    if all_caught {
        Ok(())
    } else {
        Err(Failure::other("some planted cheaters were not caught"))
    }
}
