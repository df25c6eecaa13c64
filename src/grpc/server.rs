//! The service: authentication, per-company restriction, limits, and the
//! calls themselves. Engine calls block (fsync, mapped reads), so they run
//! on tokio's blocking pool; queries there carry a cancel token that their
//! deadline (or their client going away) sets.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

use super::auth::{Principal, Right, Tokens};
use super::convert::{event_from_pb, query_from_pb, scalar_to_pb};
use super::pb;
use super::pb::daybook_server::{Daybook, DaybookServer};
use crate::error::Error;
use crate::event::{Event, Field, FieldError};
use crate::ingest::batch::Batch;
use crate::ingest::field_of;
use crate::query::{CancelToken, MemoryPool, Op, Query, QueryOptions};
use crate::{Engine, RejectReason, Snapshot};

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
    /// DEADLINE_EXCEEDED, and the query's engine work is cancelled.
    pub max_query_ms: u64,
    /// Most rows a query may return (page with limit and cursor); more:
    /// RESOURCE_EXHAUSTED.
    pub max_result_rows: usize,
    /// The memory budget of one query (`QueryOptions::max_memory_bytes`);
    /// past it: RESOURCE_EXHAUSTED.
    pub max_query_memory_bytes: u64,
    /// The memory all queries running at once share: with 64 calls at once
    /// each may not have its whole budget. A query that finds it spent:
    /// RESOURCE_EXHAUSTED (retry later).
    pub max_queries_memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 << 20,
            max_events_per_batch: 10_000,
            max_concurrent_calls: 64,
            max_query_ms: 30_000,
            max_result_rows: 100_000,
            max_query_memory_bytes: crate::query::DEFAULT_QUERY_MEMORY_BYTES,
            max_queries_memory_bytes: 2 * crate::query::DEFAULT_QUERY_MEMORY_BYTES,
        }
    }
}

/// Everything the server needs.
pub struct ServerConfig {
    /// The engine the server writes to and queries.
    pub engine: Arc<Engine>,
    /// Who may call, and what each token may do.
    pub tokens: Tokens,
    /// Sizes, rates and deadlines.
    pub limits: Limits,
}

/// Rows per streamed query message.
const ROWS_PER_MESSAGE: usize = 1_000;

/// The most a query stops before its client's deadline (a tenth of the
/// deadline when that is less). tonic itself ends a call at the client's
/// deadline, dropping it and answering CANCELLED ("Timeout expired"); the
/// server's own deadline, which starts a little later (after the request is
/// read), must fire first for the client to see DEADLINE_EXCEEDED, in time
/// for the answer to reach it.
const CLIENT_DEADLINE_MARGIN: Duration = Duration::from_millis(50);

struct Service {
    engine: Arc<Engine>,
    tokens: Arc<Tokens>,
    limits: Limits,
    calls: Arc<Semaphore>,
    queries: Arc<QueryCounters>,
    memory: MemoryPool,
}

/// The server's queries, for an admin's `Stats`.
#[derive(Default)]
struct QueryCounters {
    /// Query and explain engine work started and not yet returned.
    running: AtomicU64,
    /// Engine work that returned `Error::Cancelled`.
    cancelled: AtomicU64,
}

/// One query's engine work, from its start until it returns: counted as
/// running, and holding its call's admission slot (if it took one) until
/// then, past the call's own end when its deadline cut it short.
struct InFlight {
    permit: Option<OwnedSemaphorePermit>,
    counters: Arc<QueryCounters>,
}

impl InFlight {
    fn start(permit: Option<OwnedSemaphorePermit>, counters: &Arc<QueryCounters>) -> InFlight {
        counters.running.fetch_add(1, Ordering::SeqCst);
        InFlight {
            permit,
            counters: Arc::clone(counters),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The slot first: whoever sees `running` fall finds the slot free.
        drop(self.permit.take());
        self.counters.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Cancels a query's engine work when its call's future is dropped before
/// the answer: by tonic at the client's deadline, or by hyper when the
/// client resets the call or closes the connection.
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
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
        queries: Arc::default(),
        memory: MemoryPool::new(limits.max_queries_memory_bytes),
    };
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<DaybookServer<Service>>()
        .await;
    let api = DaybookServer::new(service)
        .max_decoding_message_size(limits.max_message_bytes)
        .max_encoding_message_size(limits.max_message_bytes.max(4 << 20));
    let mut builder = tonic::transport::Server::builder();
    let mut router = builder.add_service(health).add_service(api);
    // The descriptor sets are this build's own constants: a set that fails
    // to load would fail in every test, not in the field.
    if let Ok(v1) = reflection().build_v1() {
        router = router.add_service(v1);
    }
    if let Ok(v1alpha) = reflection().build_v1alpha() {
        router = router.add_service(v1alpha);
    }
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

/// Server reflection, served as `grpc.reflection.v1` and as
/// `grpc.reflection.v1alpha` (older grpcurl and Python's grpcio-reflection
/// ask for that one); each lists every service: the API, health and both
/// reflection versions.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .include_reflection_service(false)
        .register_encoded_file_descriptor_set(super::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
}

fn status_of(e: &Error) -> Status {
    match e {
        Error::InvalidQuery(m) | Error::InvalidInput(m) => Status::invalid_argument(m.clone()),
        // The server's own options: not something the caller sent.
        Error::InvalidOptions(_) => Status::failed_precondition(e.to_string()),
        // Only a call that is still waiting sees this: its token was
        // cancelled by something other than its deadline.
        Error::Cancelled => Status::cancelled(e.to_string()),
        Error::Corrupted { .. } | Error::UnsupportedVersion { .. } => {
            Status::data_loss(e.to_string())
        }
        Error::Failed(_) | Error::Busy(_) | Error::Locked(_) => Status::unavailable(e.to_string()),
        Error::ResourceExhausted { .. } => Status::resource_exhausted(e.to_string()),
        // A bug (a panicked seal thread, a broken invariant), I/O: the
        // server's fault, never the client's.
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
            q = q.filter(Field::CompanyName, Op::Eq, company);
        }
        // One row past the maximum tells "too many" from "exactly enough"
        // without materialising an unbounded result.
        let cap = self.limits.max_result_rows as u64 + 1;
        q.limit = Some(q.limit.map_or(cap, |l| l.min(cap)));
        Ok(q)
    }

    /// How long a query may run: the server's limit, or the client's
    /// deadline less a margin (`CLIENT_DEADLINE_MARGIN`) if that is sooner.
    fn deadline<T>(&self, req: &Request<T>) -> Duration {
        let max = Duration::from_millis(self.limits.max_query_ms);
        client_timeout(req).map_or(max, |c| {
            c.saturating_sub((c / 10).min(CLIENT_DEADLINE_MARGIN))
                .min(max)
        })
    }

    /// Runs `work` (a query or an explain, named `what` in messages) on the
    /// blocking pool over a fresh snapshot, with a cancel token. At
    /// `deadline` the token is cancelled and the call answers
    /// DEADLINE_EXCEEDED at once; the engine stops at its next check (within
    /// a few thousand rows), and only then releases `permit`, the call's
    /// admission slot, and leaves the running count. If the call's future
    /// is dropped first (client gone), the token is cancelled the same way.
    async fn run_query<T: Send + 'static>(
        &self,
        permit: Option<OwnedSemaphorePermit>,
        deadline: Duration,
        what: &str,
        work: impl FnOnce(&Snapshot, &QueryOptions) -> crate::Result<T> + Send + 'static,
    ) -> Result<T, Status> {
        let token = CancelToken::new();
        let _cancel_on_drop = CancelOnDrop(token.clone());
        let opts = QueryOptions::new()
            .with_cancel(token.clone())
            .with_max_memory_bytes(self.limits.max_query_memory_bytes)
            .with_memory_pool(self.memory.clone());
        let in_flight = InFlight::start(permit, &self.queries);
        let engine = Arc::clone(&self.engine);
        let started = Instant::now();
        let task = tokio::task::spawn_blocking(move || {
            let r = work(&engine.snapshot(), &opts);
            if matches!(r, Err(Error::Cancelled)) {
                in_flight.counters.cancelled.fetch_add(1, Ordering::SeqCst);
            }
            drop(in_flight);
            r
        });
        let late = || {
            Status::deadline_exceeded(format!(
                "{what} ran past its deadline of {} ms",
                deadline.as_millis()
            ))
        };
        match tokio::time::timeout(deadline, task).await {
            Err(_) => {
                token.cancel();
                Err(late())
            }
            Ok(Err(e)) => Err(Status::internal(format!("{what} task failed: {e}"))),
            // An answer that arrives after the deadline is as late as none.
            Ok(Ok(_)) if started.elapsed() > deadline => Err(late()),
            Ok(Ok(r)) => r.map_err(|e| status_of(&e)),
        }
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
    let mut batch = Batch::new(false);
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
            for (i, e) in b.events.into_iter().enumerate() {
                batch.push(i as u64, only_own_company(principal, event_from_pb(e)));
            }
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
            // Every line is a record (a blank one is rejected): a record's
            // index is its line - 1.
            for (i, line) in lines.into_iter().enumerate() {
                let e = crate::json::parse_event(line);
                batch.push(i as u64, only_own_company(principal, e));
            }
        }
    }
    let appended = batch.append(engine).map_err(|e| status_of(&e))?;
    Ok(pb::IngestResponse {
        stored: appended.stored,
        duplicates: appended.duplicates,
        rejected: appended.rejected.len() as u64,
        errors: appended
            .rejected
            .into_iter()
            .map(|(index, reason)| pb::RecordError {
                index: index as u32,
                field: field_of(&reason).unwrap_or_default().to_string(),
                reason: match reason {
                    RejectReason::Invalid(fe) => fe.message,
                    other => other.to_string(),
                },
            })
            .collect(),
    })
}

/// A token bound to a company ingests only that company's events.
fn only_own_company(
    principal: &Principal,
    record: Result<Event, FieldError>,
) -> Result<Event, FieldError> {
    let event = record?;
    match principal.company() {
        Some(c) if event.company_name != c => Err(FieldError {
            field: Some("company_name".into()),
            message: format!("this token may only ingest events of company {c:?}"),
        }),
        _ => Ok(event),
    }
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
        let result = self
            .run_query(Some(permit), deadline, "the query", move |snap, opts| {
                snap.query_with(&q, opts)
            })
            .await?;
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
        let (_, explain) = self
            .run_query(None, deadline, "explain", move |snap, opts| {
                snap.explain_with(&q, opts)
            })
            .await?;
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
            queries_running: 0,
            queries_cancelled: 0,
        };
        match principal.company() {
            None => {
                out.queries_running = self.queries.running.load(Ordering::SeqCst);
                out.queries_cancelled = self.queries.cancelled.load(Ordering::SeqCst);
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
                    .filter(Field::CompanyName, Op::Eq, company)
                    .group_by(&[Field::EventDate]);
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

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::status_of;
    use crate::error::Error;

    /// The caller is blamed (INVALID_ARGUMENT) only for the caller's
    /// errors; a bug or the server's own configuration never is.
    #[test]
    fn each_error_maps_to_the_code_of_whose_fault_it_is() {
        let io = || std::io::Error::other("disk");
        // (error, code, the caller's error?). Options are the caller's when
        // an embedder passes them, but a server's options are its own.
        let cases = [
            (Error::InvalidQuery("q".into()), Code::InvalidArgument, true),
            (Error::InvalidInput("i".into()), Code::InvalidArgument, true),
            (
                Error::InvalidOptions("o".into()),
                Code::FailedPrecondition,
                true,
            ),
            (
                Error::Internal("seal thread panicked".into()),
                Code::Internal,
                false,
            ),
            (Error::io("/d/f", io()), Code::Internal, false),
            (Error::Failed("fsync".into()), Code::Unavailable, false),
            (Error::Busy("b".into()), Code::Unavailable, false),
            (Error::Locked("/d".into()), Code::Unavailable, false),
            (Error::Cancelled, Code::Cancelled, false),
            (
                Error::ResourceExhausted {
                    what: "groups".into(),
                    limit_bytes: 1 << 20,
                    shared: false,
                },
                Code::ResourceExhausted,
                true,
            ),
            (
                Error::ResourceExhausted {
                    what: "groups".into(),
                    limit_bytes: 1 << 20,
                    shared: true,
                },
                Code::ResourceExhausted,
                false,
            ),
            (
                Error::corrupted("/d/s", 8, "footer", "crc"),
                Code::DataLoss,
                false,
            ),
        ];
        for (e, code, caller) in cases {
            assert_eq!(e.is_caller_error(), caller, "{e}");
            assert_eq!(status_of(&e).code(), code, "{e}");
        }
    }
}
