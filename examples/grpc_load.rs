//! gRPC load test (issue 7): concurrent ingest streams and query clients
//! against a `daybook serve` process over loopback, each closed loop (the
//! next request goes out when the previous answer is in). Three phases of
//! `--seconds` each: ingest alone, queries alone (on what was ingested),
//! then both together. Prints events/s, queries/s and latency percentiles,
//! and checks that the server holds exactly what it acknowledged.
//!
//! cargo build --release && cargo run --release --example grpc_load -- \
//!     [--bin target/release/daybook] [--streams 4] [--queriers 4] \
//!     [--seconds 15] [--batch 1000]
//!
//! Results on this project's machine: docs/benchmarks.md, "gRPC under load".

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use daybook::generate::{GenConfig, Generator};
use daybook::grpc::event_to_pb;
use daybook::grpc::pb::daybook_client::DaybookClient;
use daybook::grpc::pb::{
    self, EventBatch, IngestRequest, QueryRequest, StatsRequest, ingest_request, query_request,
};
use tonic::transport::Channel;

const ADMIN: &str = "load-admin-0123456789abcdef";
const COMPANY: &str = "load-company-0123456789abcd";
const NOW: &str = "2026-11-27T12:00:00Z";
const NOW_MS: i64 = 1_795_780_800_000;

/// Kills the server if the load test panics, so it never outlives us.
struct KillOnDrop(Option<std::process::Child>);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

struct Args {
    bin: String,
    streams: usize,
    queriers: usize,
    seconds: u64,
    batch: usize,
}

fn args() -> Args {
    let mut a = Args {
        bin: "target/release/daybook".into(),
        streams: 4,
        queriers: 4,
        seconds: 15,
        batch: 1000,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    for pair in v.chunks(2) {
        let val = pair.get(1).cloned().unwrap_or_default();
        let num = || val.parse::<u64>().expect("a number");
        match pair[0].as_str() {
            "--bin" => a.bin = val.clone(),
            "--streams" => a.streams = num() as usize,
            "--queriers" => a.queriers = num() as usize,
            "--seconds" => a.seconds = num(),
            "--batch" => a.batch = num() as usize,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn auth<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

/// Latencies of one kind of request, in microseconds.
#[derive(Default)]
struct Lat(Vec<u64>);

impl Lat {
    fn add(&mut self, d: Duration) {
        self.0.push(d.as_micros() as u64);
    }
    fn line(&mut self) -> String {
        self.0.sort_unstable();
        let n = self.0.len();
        if n == 0 {
            return "no requests".into();
        }
        let p = |q: f64| self.0[((n as f64 * q) as usize).min(n - 1)] as f64 / 1000.0;
        format!(
            "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({n} requests)",
            p(0.50),
            p(0.95),
            p(0.99),
            p(1.0)
        )
    }
}

/// One ingest stream: batches from its own generator (its own seed, so
/// its own event ids), one in flight at a time, until `stop`.
async fn ingest(
    mut client: DaybookClient<Channel>,
    seed: u64,
    batch: usize,
    stop: Arc<AtomicBool>,
    skip: usize,
) -> (u64, u64, u64, Lat) {
    let cfg = GenConfig {
        days: 31,
        events_per_day: 200_000,
        companies: 20,
        seed,
        now_ms: NOW_MS,
        ..GenConfig::default()
    };
    let mut g = Generator::new(cfg).skip(skip);
    let (tx, rx) = tokio::sync::mpsc::channel::<IngestRequest>(1);
    let mut answers = client
        .ingest(auth(tokio_stream::wrappers::ReceiverStream::new(rx), ADMIN))
        .await
        .expect("ingest call")
        .into_inner();
    let (mut stored, mut dups, mut sent) = (0u64, 0u64, 0u64);
    let mut lat = Lat::default();
    while !stop.load(Ordering::Relaxed) {
        let events: Vec<pb::Event> = g.by_ref().take(batch).map(|e| event_to_pb(&e)).collect();
        sent += events.len() as u64;
        let req = IngestRequest {
            payload: Some(ingest_request::Payload::Batch(EventBatch { events })),
        };
        let t = Instant::now();
        tx.send(req).await.expect("stream open");
        let a = answers
            .message()
            .await
            .expect("ingest answer")
            .expect("an answer per batch");
        lat.add(t.elapsed());
        assert_eq!(a.rejected, 0, "rejected: {:?}", a.errors.first());
        stored += a.stored;
        dups += a.duplicates;
    }
    drop(tx);
    while answers.message().await.expect("stream end").is_some() {}
    (stored, dups, sent, lat)
}

/// The reports the query clients cycle through: (name, token, JSON).
fn reports(user_id: u64) -> Vec<(&'static str, &'static str, String)> {
    vec![
        (
            "count by event type, 31 days",
            ADMIN,
            r#"{"select":"count","group_by":["event_type"]}"#.into(),
        ),
        (
            "one user's audit trail, 50 newest",
            ADMIN,
            format!(
                r#"{{"where":[{{"field":"user_id","op":"eq","value":{user_id}}}],"select":"events","fields":["event_timestamp","event_type","event_name","project_name"],"limit":50}}"#
            ),
        ),
        (
            "company token: top users by downloads, 31 days",
            COMPANY,
            r#"{"where":[{"field":"event_type","op":"eq","value":"Download"}],"select":"count","group_by":["user_id","user_email"],"order_by":[["count","desc"]],"limit":10}"#.into(),
        ),
        (
            "company token: events per day and device, 31 days",
            COMPANY,
            r#"{"select":"count","group_by":["event_date","device_type"]}"#.into(),
        ),
    ]
}

async fn query_loop(
    mut client: DaybookClient<Channel>,
    reports: Vec<(&'static str, &'static str, String)>,
    first: usize,
    stop: Arc<AtomicBool>,
) -> Vec<Lat> {
    let mut lats: Vec<Lat> = reports.iter().map(|_| Lat::default()).collect();
    let mut i = first;
    while !stop.load(Ordering::Relaxed) {
        let k = i % reports.len();
        let (_, token, json) = &reports[k];
        let req = QueryRequest {
            query: Some(query_request::Query::Json(json.clone())),
        };
        let t = Instant::now();
        let mut s = client
            .query(auth(req, token))
            .await
            .expect("query")
            .into_inner();
        let mut rows = 0usize;
        while let Some(m) = s.message().await.expect("query stream") {
            rows += m.rows.len();
        }
        lats[k].add(t.elapsed());
        assert!(rows > 0, "{json}: no rows");
        i += 1;
    }
    lats
}

struct Phase {
    stored: u64,
    dups: u64,
    sent: u64,
    ingest: Lat,
    queries: Vec<Lat>,
    secs: f64,
}

async fn phase(
    addr: &str,
    a: &Args,
    streams: usize,
    queriers: usize,
    reports: &[(&'static str, &'static str, String)],
    skip: usize,
) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let mut ingests = Vec::new();
    for s in 0..streams {
        let c = DaybookClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        ingests.push(tokio::spawn(ingest(
            c,
            100 + s as u64,
            a.batch,
            Arc::clone(&stop),
            skip,
        )));
    }
    let mut queries = Vec::new();
    for q in 0..queriers {
        let c = DaybookClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        queries.push(tokio::spawn(query_loop(
            c,
            reports.to_vec(),
            q,
            Arc::clone(&stop),
        )));
    }
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut p = Phase {
        stored: 0,
        dups: 0,
        sent: 0,
        ingest: Lat::default(),
        queries: reports.iter().map(|_| Lat::default()).collect(),
        secs: 0.0,
    };
    for h in ingests {
        let (s, d, n, l) = h.await.unwrap();
        p.stored += s;
        p.dups += d;
        p.sent += n;
        p.ingest.0.extend(l.0);
    }
    for h in queries {
        for (k, l) in h.await.unwrap().into_iter().enumerate() {
            p.queries[k].0.extend(l.0);
        }
    }
    p.secs = t.elapsed().as_secs_f64();
    p
}

fn report(name: &str, p: &mut Phase, reports: &[(&'static str, &'static str, String)]) {
    println!("\n## {name} ({:.1} s)", p.secs);
    if !p.ingest.0.is_empty() {
        println!(
            "ingest: {} events sent, {} stored, {} duplicates: {:.0} events/s stored; batch ack {}",
            p.sent,
            p.stored,
            p.dups,
            p.stored as f64 / p.secs,
            p.ingest.line()
        );
    }
    let total: usize = p.queries.iter().map(|l| l.0.len()).sum();
    if total > 0 {
        println!("queries: {:.1} /s in all", total as f64 / p.secs);
        for (k, l) in p.queries.iter_mut().enumerate() {
            println!("  {}: {}", reports[k].0, l.line());
        }
    }
}

fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap();
    // A company the generator uses, and one of its users.
    let sample: Vec<daybook::Event> = Generator::new(GenConfig {
        days: 31,
        events_per_day: 200_000,
        companies: 20,
        seed: 100,
        now_ms: NOW_MS,
        ..GenConfig::default()
    })
    .take(1000)
    .collect();
    let company = sample[0].company_name.clone();
    let user_id = sample[0].user_id;
    let tokens = dir.path().join("tokens.json");
    std::fs::write(
        &tokens,
        format!(
            r#"[{{"token":"{ADMIN}","admin":true}},{{"token":"{COMPANY}","company":"{company}","rights":["query"]}}]"#
        ),
    )
    .unwrap();
    let mut server = Command::new(&a.bin)
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["--now", NOW, "serve", "--listen", "127.0.0.1:0", "--tokens"])
        .arg(&tokens)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start daybook serve (build it first: cargo build --release)");
    let mut err = BufReader::new(server.stderr.take().unwrap());
    let mut server = KillOnDrop(Some(server));
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line
        .split_whitespace()
        .skip_while(|w| *w != "on")
        .nth(1)
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    // Keep draining the server's log so it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    println!(
        "# gRPC load: {} ingest streams, {} query clients, batches of {} events, {} s per phase; server {}",
        a.streams, a.queriers, a.batch, a.seconds, a.bin
    );
    println!(
        "machine: {} logical CPUs (client and server share them)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let reports = reports(user_id);
    let stored = rt.block_on(async {
        let mut p1 = phase(&addr, &a, a.streams, 0, &reports, 0).await;
        report("ingest alone", &mut p1, &reports);
        let mut p2 = phase(&addr, &a, 0, a.queriers, &reports, 0).await;
        report("queries alone", &mut p2, &reports);
        // Each stream resumes its generator past what it sent in phase 1.
        let skip = (p1.sent / a.streams.max(1) as u64) as usize;
        let mut p3 = phase(&addr, &a, a.streams, a.queriers, &reports, skip).await;
        report("ingest and queries together", &mut p3, &reports);
        let mut c = DaybookClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        let stats = c
            .stats(auth(StatsRequest::default(), ADMIN))
            .await
            .unwrap()
            .into_inner();
        let acked = p1.stored + p3.stored;
        println!(
            "\nserver holds {} events; acknowledged as stored: {acked}",
            stats.events
        );
        assert_eq!(stats.events, acked, "acknowledged events missing or extra");
        acked
    });
    // SIGTERM: a graceful stop that seals nothing new and exits 0.
    let mut server = server.0.take().unwrap();
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let status = server.wait().unwrap();
    assert!(status.success(), "server exited {status}");
    println!("server stopped cleanly; {stored} events acknowledged and held");
}
