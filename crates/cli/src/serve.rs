//! `floorline serve`: the API and dashboard, the scheduler and the prober in
//! one process, stopped gracefully by SIGTERM or Ctrl-C (requests in flight
//! finish; an accepted batch is never cut off).

use std::sync::Arc;

use floorline_engine::Engine;
use floorline_server::AppState;
use tokio_util::sync::CancellationToken;

use crate::failure::Failure;

/// Completes on Ctrl-C or (on Unix) SIGTERM.
pub(crate) async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        () = term => {}
    }
}

async fn shutdown_signal(cancel: CancellationToken) {
    tokio::select! {
        () = stop_signal() => {}
        () = cancel.cancelled() => {}
    }
    cancel.cancel();
}

/// Runs until a signal; `listen` overrides `[server] listen`.
pub async fn serve(engine: Engine, listen: Option<String>) -> Result<(), Failure> {
    let addr = listen.unwrap_or_else(|| engine.config().server.listen.clone());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| Failure::bad(format!("--listen {addr}: {e}")))?;
    let local = listener.local_addr()?;
    let state = AppState::new(engine.clone());
    let cancel = CancellationToken::new();
    let scheduler = {
        let engine = engine.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            engine
                .run_scheduler(
                    floorline_engine::schedule::tick_interval(engine.config().policy.period),
                    cancel,
                )
                .await
        })
    };
    let prober = {
        let engine = engine.clone();
        let cancel = cancel.clone();
        let metrics = state.metrics.clone();
        let hook: floorline_engine::probing::VerdictHook = Arc::new(move |v| {
            metrics.count_probe(v.failure.map(|f| f.code()));
        });
        tokio::spawn(async move {
            if let Err(e) = engine.run_prober(Some(hook), cancel).await {
                tracing::warn!(error = %e, "Prober did not start.");
            }
        })
    };
    tracing::info!(listen = %local, "Serving floorline.");
    eprintln!("floorline listening on http://{local} (dashboard: http://{local}/provider, http://{local}/admin)");
    floorline_server::serve(listener, state, shutdown_signal(cancel.clone())).await?;
    cancel.cancel();
    let _ = scheduler.await;
    let _ = prober.await;
    tracing::info!("Stopped.");
    Ok(())
}
