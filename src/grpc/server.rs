//! The service: authentication, per-company restriction, limits, and the
//! calls themselves. Engine calls block (fsync, mapped reads), so they run
//! on tokio's blocking pool.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

use super::auth::{Principal, Right, Tokens};
use super::convert::{event_from_pb, query_from_pb, scalar_to_pb};
use super::pb;
use super::pb::daybook_server::{Daybook, DaybookServer};
use crate::Engine;
use crate::error::Error;
use crate::event::{Event, FieldError};
use crate::query::{Op, Query};

/// What one call may cost. Each refusal has its own status; the server stays
/// healthy for everyone else.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request message (protobuf bytes); larger: OUT_OF_RANGE
    /// (tonic's status for an oversized message).
    pub max_message_bytes: usize,
    /// Most events (or JSON lines) in one ingest batch; more:
    /// INVALID_ARGUMENT, and the stream ends.
    pub max_events_per_batch: usize,
    /// Ingest and query calls in progress at once, server-wide; more:
    /// RESOURCE_EXHAUSTED.
    pub max_concurrent_calls: usize,
    /// The longest a query may run; a client deadline shortens it. Past it:
    /// DEADLINE_EXCEEDED.
    pub max_query_ms: u64,
    /// Most rows a query may return (page with limit and cursor); more:
    /// RESOURCE_EXHAUSTED.
    pub max_result_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 << 20,
            max_events_per_batch: 10_000,
            max_concurrent_calls: 64,
            max_query_ms: 30_000,
            max_result_rows: 100_000,
        }
    }
}

/// Everything the server needs.
pub struct ServerConfig {
    pub engine: Arc<Engine>,
    pub tokens: Tokens,
    pub limits: Limits,
}

/// Rows per streamed query message.
const ROWS_PER_MESSAGE: usize = 1_000;

struct Service {
    engine: Arc<Engine>,
    tokens: Arc<Tokens>,
    limits: Limits,
    calls: Arc<Semaphore>,
}

/// Serves the API (with health and reflection) on `listener` until
/// `shutdown` completes; then stops accepting, lets calls in flight finish
/// and returns. The caller flushes the engine.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let limits = config.limits.clone();
    let service = Service {
        engine: config.engine,
        tokens: Arc::new(config.tokens),
        calls: Arc::new(Semaphore::new(limits.max_concurrent_calls)),
        limits: limits.clone(),
    };
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<DaybookServer<Service>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(super::FILE_DESCRIPTOR_SET)
        .build_v1();
    let api = DaybookServer::new(service)
        .max_decoding_message_size(limits.max_message_bytes)
        .max_encoding_message_size(limits.max_message_bytes.max(4 << 20));
    let mut builder = tonic::transport::Server::builder();
    let router = builder.add_service(health).add_service(api);
    let router = match reflection {
        Ok(r) => router.add_service(r),
        Err(_) => router,
    };
    // TCP_NODELAY on every connection: without it, a small answer waits for
    // the client's delayed ACK (Nagle), and every unary call and every
    // batch acknowledgement took ~40 ms on loopback (examples/grpc_load.rs).
    let incoming = tokio_stream::StreamExt::map(TcpListenerStream::new(listener), |conn| {
        if let Ok(c) = &conn {
            let _ = c.set_nodelay(true);
        }
        conn
    });
    router
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

fn status_of(e: &Error) -> Status {
    match e {
        Error::Invalid(m) | Error::Query(m) => Status::invalid_argument(m.clone()),
        Error::Corrupted { .. } | Error::UnsupportedVersion { .. } => {
            Status::data_loss(e.to_string())
        }
        Error::Failed(_) => Status::unavailable(e.to_string()),
        _ => Status::internal(e.to_string()),
    }
}

/// The caller's deadline from the `grpc-timeout` header, if any.
fn client_timeout<T>(req: &Request<T>) -> Option<Duration> {
    let v = req.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (n, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

impl Service {
    /// Who is calling, and whether they may do `right`.
    fn authorize<T>(&self, req: &Request<T>, right: Right) -> Result<Principal, Status> {
        let header = req
            .metadata()
            .get("authorization")
            .ok_or_else(|| Status::unauthenticated("missing authorization: Bearer <token>"))?;
        let token = header
            .as_bytes()
            .strip_prefix(b"Bearer ")
            .ok_or_else(|| Status::unauthenticated("authorization must be \"Bearer <token>\""))?;
        let principal = self
            .tokens
            .lookup(token)
            .ok_or_else(|| Status::unauthenticated("unknown token"))?;
        if !principal.may(right) {
            return Err(Status::permission_denied(format!(
                "this token has no {} right",
                match right {
                    Right::Ingest => "ingest",
                    Right::Query => "query",
                }
            )));
        }
        Ok(principal.clone())
    }

    fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Status> {
        Arc::clone(&self.calls).try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "the server is running its maximum of {} ingest and query calls; retry later",
                self.limits.max_concurrent_calls
            ))
        })
    }

    /// The request's query, restricted to the caller's company, with a row
    /// limit the server can afford.
    fn bound_query(&self, principal: &Principal, req: pb::QueryRequest) -> Result<Query, Status> {
        let mut q = query_from_pb(req).map_err(|e| status_of(&e))?;
        if let Some(company) = principal.company() {
            q = q.filter("company_name", Op::Eq, company);
        }
        // One row past the maximum tells "too many" from "exactly enough"
        // without materialising an unbounded result.
        let cap = self.limits.max_result_rows as u64 + 1;
        q.limit = Some(q.limit.map_or(cap, |l| l.min(cap)));
        Ok(q)
    }

    fn deadline<T>(&self, req: &Request<T>) -> Duration {
        let max = Duration::from_millis(self.limits.max_query_ms);
        client_timeout(req).map_or(max, |c| c.min(max))
    }
}

/// One ingest batch: converted, checked against the caller's company,
/// appended (durable on return), answered.
fn ingest_batch(
    engine: &Engine,
    principal: &Principal,
    limits: &Limits,
    req: pb::IngestRequest,
) -> Result<pb::IngestResponse, Status> {
    let mut parsed: Vec<(usize, Result<Event, FieldError>)> = Vec::new();
    match req.payload {
        None => return Err(Status::invalid_argument("empty ingest message")),
        Some(pb::ingest_request::Payload::Batch(b)) => {
            if b.events.len() > limits.max_events_per_batch {
                return Err(Status::invalid_argument(format!(
                    "batch of {} events; at most {} per message",
                    b.events.len(),
                    limits.max_events_per_batch
                )));
            }
            parsed.extend(b.events.into_iter().map(event_from_pb).enumerate());
        }
        Some(pb::ingest_request::Payload::Jsonl(text)) => {
            let lines: Vec<&str> = text.lines().collect();
            if lines.len() > limits.max_events_per_batch {
                return Err(Status::invalid_argument(format!(
                    "batch of {} lines; at most {} per message",
                    lines.len(),
                    limits.max_events_per_batch
                )));
            }
            parsed.extend(lines.into_iter().map(crate::json::parse_event).enumerate());
        }
    }
    let mut errors: BTreeMap<usize, (String, String)> = BTreeMap::new();
    let mut events = Vec::with_capacity(parsed.len());
    let mut index_of = Vec::with_capacity(parsed.len());
    for (i, r) in parsed {
        match r {
            Err(e) => {
                errors.insert(i, (e.field.unwrap_or_default(), e.message));
            }
            Ok(e) => match principal.company() {
                Some(c) if e.company_name != c => {
                    errors.insert(
                        i,
                        (
                            "company_name".into(),
                            format!("this token may only ingest events of company {c:?}"),
                        ),
                    );
                }
                _ => {
                    index_of.push(i);
                    events.push(e);
                }
            },
        }
    }
    let report = engine.append(events).map_err(|e| status_of(&e))?;
    for r in &report.rejected {
        let i = index_of.get(r.index).copied().unwrap_or(r.index);
        let (field, reason) = match &r.reason {
            crate::RejectReason::Invalid(fe) => {
                (fe.field.clone().unwrap_or_default(), fe.message.clone())
            }
            other => ("event_timestamp".to_string(), other.to_string()),
        };
        errors.insert(i, (field, reason));
    }
    Ok(pb::IngestResponse {
        stored: report.stored as u64,
        duplicates: report.duplicates as u64,
        rejected: errors.len() as u64,
        errors: errors
            .into_iter()
            .map(|(index, (field, reason))| pb::RecordError {
                index: index as u32,
                field,
                reason,
            })
            .collect(),
    })
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl Daybook for Service {
    type IngestStream = BoxStream<pb::IngestResponse>;
    type QueryStream = BoxStream<pb::QueryResponse>;

    async fn ingest(
        &self,
        request: Request<Streaming<pb::IngestRequest>>,
    ) -> Result<Response<Self::IngestStream>, Status> {
        let principal = self.authorize(&request, Right::Ingest)?;
        let permit = self.admit()?;
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(4);
        let engine = Arc::clone(&self.engine);
        let limits = self.limits.clone();
        tokio::spawn(async move {
            let _permit = permit;
            loop {
                let msg = match inbound.message().await {
                    Ok(Some(m)) => m,
                    Ok(None) => break,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        break;
                    }
                };
                let (engine, principal, limits) =
                    (Arc::clone(&engine), principal.clone(), limits.clone());
                let answer = tokio::task::spawn_blocking(move || {
                    ingest_batch(&engine, &principal, &limits, msg)
                })
                .await
                .unwrap_or_else(|e| Err(Status::internal(format!("ingest task failed: {e}"))));
                let failed = answer.is_err();
                if tx.send(answer).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn query(
        &self,
        request: Request<pb::QueryRequest>,
    ) -> Result<Response<Self::QueryStream>, Status> {
        let principal = self.authorize(&request, Right::Query)?;
        let permit = self.admit()?;
        let deadline = self.deadline(&request);
        let q = self.bound_query(&principal, request.into_inner())?;
        let engine = Arc::clone(&self.engine);
        let started = std::time::Instant::now();
        let run = tokio::task::spawn_blocking(move || engine.query(&q));
        let late = || {
            Status::deadline_exceeded(format!(
                "the query ran past its deadline of {} ms",
                deadline.as_millis()
            ))
        };
        let result = match tokio::time::timeout(deadline, run).await {
            Err(_) => return Err(late()),
            Ok(Err(e)) => return Err(Status::internal(format!("query task failed: {e}"))),
            Ok(Ok(r)) => r.map_err(|e| status_of(&e))?,
        };
        // An answer that arrives after the deadline is as late as none.
        if started.elapsed() > deadline {
            return Err(late());
        }
        drop(permit);
        if result.rows.len() > self.limits.max_result_rows {
            return Err(Status::resource_exhausted(format!(
                "the result has more than {} rows, the server's maximum; add a limit and page with the cursor",
                self.limits.max_result_rows
            )));
        }
        let mut messages = Vec::new();
        let mut chunks = result.rows.chunks(ROWS_PER_MESSAGE).peekable();
        let mut first = true;
        loop {
            let rows = chunks.next();
            let last = chunks.peek().is_none();
            messages.push(Ok(pb::QueryResponse {
                columns: if first {
                    result.columns.clone()
                } else {
                    Vec::new()
                },
                rows: rows
                    .unwrap_or_default()
                    .iter()
                    .map(|r| pb::Row {
                        values: r.iter().map(scalar_to_pb).collect(),
                    })
                    .collect(),
                matched_events: if last { result.matched_events } else { None },
                next_cursor: if last {
                    result.next_cursor.clone().unwrap_or_default()
                } else {
                    String::new()
                },
                last,
            }));
            first = false;
            if last {
                break;
            }
        }
        Ok(Response::new(Box::pin(tokio_stream::iter(messages))))
    }

    async fn explain(
        &self,
        request: Request<pb::QueryRequest>,
    ) -> Result<Response<pb::ExplainResponse>, Status> {
        let principal = self.authorize(&request, Right::Query)?;
        if principal != Principal::Admin {
            return Err(Status::permission_denied(
                "explain needs an admin token: a plan shows index sizes across companies",
            ));
        }
        let deadline = self.deadline(&request);
        let q = self.bound_query(&principal, request.into_inner())?;
        let engine = Arc::clone(&self.engine);
        let run = tokio::task::spawn_blocking(move || engine.explain(&q));
        let (_, explain) = match tokio::time::timeout(deadline, run).await {
            Err(_) => return Err(Status::deadline_exceeded("explain ran past its deadline")),
            Ok(Err(e)) => return Err(Status::internal(format!("explain task failed: {e}"))),
            Ok(Ok(r)) => r.map_err(|e| status_of(&e))?,
        };
        Ok(Response::new(pb::ExplainResponse {
            text: explain.to_string(),
            json: explain.to_json(),
        }))
    }

    async fn stats(
        &self,
        request: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsResponse>, Status> {
        let principal = self.authorize(&request, Right::Query)?;
        let engine = Arc::clone(&self.engine);
        let stats = engine.stats();
        let mut out = pb::StatsResponse {
            today: stats.today.to_string(),
            horizon: stats.horizon.to_string(),
            retention_days: stats.retention_days,
            days: Vec::new(),
            events: 0,
        };
        match principal.company() {
            None => {
                for d in &stats.days {
                    let events = d.sealed_events + d.buffered_events;
                    out.events += events;
                    out.days.push(pb::DayStats {
                        day: d.day.to_string(),
                        events,
                        segments: d.segments as u64,
                        bytes: d.bytes,
                    });
                }
            }
            Some(company) => {
                // Only the company's own counts: no sizes, no segments.
                let q = Query::count()
                    .filter("company_name", Op::Eq, company)
                    .group_by(&["event_date"]);
                let r = tokio::task::spawn_blocking(move || engine.query(&q))
                    .await
                    .map_err(|e| Status::internal(format!("stats task failed: {e}")))?
                    .map_err(|e| status_of(&e))?;
                for row in r.rows {
                    if let [day, crate::query::Scalar::Int(n)] = row.as_slice() {
                        out.events += n;
                        out.days.push(pb::DayStats {
                            day: day.to_json().as_str().unwrap_or_default().to_string(),
                            events: *n,
                            segments: 0,
                            bytes: 0,
                        });
                    }
                }
            }
        }
        Ok(Response::new(out))
    }
}
