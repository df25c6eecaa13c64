//! `daybook serve`: the gRPC server (docs/grpc.md).

use std::path::PathBuf;
use std::sync::Arc;

use daybook::Engine;
use daybook::grpc::{Limits, ServerConfig, Tokens};

use crate::{Failure, usage};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:50051")]
    listen: String,
    /// The tokens file (JSON; see docs/grpc.md).
    #[arg(long)]
    tokens: PathBuf,
    /// Largest request message, bytes.
    #[arg(long, default_value_t = Limits::default().max_message_bytes)]
    max_message_bytes: usize,
    /// Most events in one ingest batch.
    #[arg(long, default_value_t = Limits::default().max_events_per_batch)]
    max_events_per_batch: usize,
    /// Ingest and query calls in progress at once.
    #[arg(long, default_value_t = Limits::default().max_concurrent_calls)]
    max_concurrent_calls: usize,
    /// Longest a query may run, ms (a client deadline shortens it); past
    /// it the query is cancelled.
    #[arg(long, default_value_t = Limits::default().max_query_ms)]
    max_query_ms: u64,
    /// Most rows one query may return.
    #[arg(long, default_value_t = Limits::default().max_result_rows)]
    max_result_rows: usize,
    /// The memory budget of one query, bytes; past it the query is
    /// refused (RESOURCE_EXHAUSTED).
    #[arg(long, default_value_t = Limits::default().max_query_memory_bytes)]
    max_query_memory_bytes: u64,
    /// The memory all queries running at once share, bytes; a query that
    /// finds it spent is refused (RESOURCE_EXHAUSTED, retry later).
    #[arg(long, default_value_t = Limits::default().max_queries_memory_bytes)]
    max_queries_memory_bytes: u64,
}

pub fn run(engine: Engine, args: &ServeArgs) -> Result<(), Failure> {
    let tokens = Tokens::load(&args.tokens).map_err(|e| usage(e.to_string()))?;
    let engine = Arc::new(engine);
    let config = ServerConfig {
        engine: Arc::clone(&engine),
        tokens,
        limits: Limits {
            max_message_bytes: args.max_message_bytes,
            max_events_per_batch: args.max_events_per_batch,
            max_concurrent_calls: args.max_concurrent_calls,
            max_query_ms: args.max_query_ms,
            max_result_rows: args.max_result_rows,
            max_query_memory_bytes: args.max_query_memory_bytes,
            max_queries_memory_bytes: args.max_queries_memory_bytes,
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| usage(format!("--listen {}: {e}", args.listen)))?;
        let addr = listener.local_addr()?;
        eprintln!("daybook: serving gRPC on {addr} (Ctrl-C or SIGTERM stops)");
        tokio::spawn(retention_ticker(Arc::clone(&engine)));
        daybook::grpc::serve(listener, config, shutdown_signal()).await?;
        Ok::<(), Failure>(())
    })?;
    // Calls in flight have finished: make everything durable and sealed.
    engine.flush()?;
    crate::report_drops(&engine);
    eprintln!("daybook: stopped; everything acknowledged is durable");
    Ok(())
}

/// Once a minute: drops the days that aged out of retention (an idle server
/// would otherwise keep them until the next append) and prints every drop,
/// also those an append's day change made.
async fn retention_ticker(engine: Arc<Engine>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        let e = Arc::clone(&engine);
        let run = tokio::task::spawn_blocking(move || {
            let r = e.enforce_retention();
            crate::report_drops(&e);
            r
        });
        if let Ok(Err(err)) = run.await {
            eprintln!("daybook: retention: {err}");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}
