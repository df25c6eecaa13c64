//! A gRPC server on an ephemeral loopback port, for the tests of
//! `grpc_deadline.rs`, `grpc_reflection.rs` and `tenant_dedup.rs`: an engine, tokens (an admin
//! and one company), limits, and a tonic client.
#![allow(dead_code)]

use std::sync::Arc;

use daybook::Engine;
use daybook::grpc::pb::daybook_client::DaybookClient;
use daybook::grpc::{Limits, ServerConfig, Tokens};
use tonic::transport::Channel;

use super::common::{clock, options};

pub const ADMIN: &str = "admin-token-0123456789";
pub const ACME: &str = "acme-token-0123456789ab";

pub struct Server {
    pub rt: tokio::runtime::Runtime,
    pub addr: std::net::SocketAddr,
    pub engine: Arc<Engine>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// Serves a fresh engine with an admin token and one company's
/// (`Granite Ridge`); `fill` stores its data before the server starts.
pub fn start(limits: Limits, fill: impl FnOnce(&Engine)) -> Server {
    let tokens = format!(
        r#"[{{"token": "{ADMIN}", "admin": true}},
            {{"token": "{ACME}", "company": "Granite Ridge", "rights": ["ingest", "query"]}}]"#
    );
    start_with_tokens(&tokens, limits, fill)
}

/// [`start`] with the tokens file's JSON.
pub fn start_with_tokens(tokens: &str, limits: Limits, fill: impl FnOnce(&Engine)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Arc::new(Engine::open(dir.path(), options(&c)).unwrap());
    fill(&engine);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tokens = Tokens::parse(tokens).unwrap();
    let config = ServerConfig {
        engine: Arc::clone(&engine),
        tokens,
        limits,
    };
    let done = rt.spawn(async move {
        daybook::grpc::serve(listener, config, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Server {
        rt,
        addr,
        engine,
        stop: Some(tx),
        done: Some(done),
        _dir: dir,
    }
}

impl Server {
    /// A connected channel (the server may take a moment to accept).
    pub fn channel(&self) -> Channel {
        let url = format!("http://{}", self.addr);
        self.rt.block_on(async {
            for _ in 0..50 {
                if let Ok(c) = Channel::from_shared(url.clone()).unwrap().connect().await {
                    return c;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            panic!("server did not come up")
        })
    }

    pub fn client(&self) -> DaybookClient<Channel> {
        DaybookClient::new(self.channel())
    }

    pub fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            self.rt.block_on(done).unwrap();
        }
    }
}

pub fn authed<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}
