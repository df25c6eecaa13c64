//! gRPC deadlines cancel the engine work (issue 13, item 4): a heavy query
//! past its deadline answers DEADLINE_EXCEEDED, its engine work stops
//! (the server's `queries_cancelled` counts it, `queries_running` falls to
//! 0) and its admission slot comes back: with one call allowed at a time, the
//! next query is answered. A client that goes away cancels its query the
//! same way. No timing is asserted: the counters say what happened.
#![cfg(feature = "grpc")]

mod common;
#[path = "common/grpc_server.rs"]
mod grpc_server;

use std::time::Duration;

use common::{day_ms, event};
use daybook::grpc::Limits;
use daybook::grpc::pb::{QueryRequest, StatsRequest, StatsResponse, query_request};
use daybook::{Engine, Event};
use grpc_server::{ACME, ADMIN, Server, authed, start};
use tonic::Code;

/// Events in the store: enough that grouping by `event_id` (a hash entry
/// per event, then a merge of as many groups) takes far longer than the
/// deadlines below.
const EVENTS: u64 = 150_000;

/// Three days, each sealed in several segments.
fn fill(engine: &Engine) {
    let events: Vec<Event> = (0..EVENTS)
        .map(|n| {
            let day = (n % 3) as i64;
            event(&format!("ev-{n:07}"), day_ms(day, (n / 3) as i64 * 500), n)
        })
        .collect();
    for chunk in events.chunks(25_000) {
        engine.append(chunk.to_vec()).unwrap();
        engine.flush().unwrap();
    }
}

/// Every event's count by id, time and more: one group per event, six
/// keys each (by id alone it now ends before the deadline in the test
/// build).
const HEAVY: &str = r#"{"group_by": ["event_id", "event_timestamp", "url", "object_id", "user_email", "event_name"]}"#;

fn request(json: &str, token: &str, deadline: Option<Duration>) -> tonic::Request<QueryRequest> {
    let mut r = authed(
        QueryRequest {
            query: Some(query_request::Query::Json(json.to_string())),
        },
        token,
    );
    if let Some(d) = deadline {
        r.set_timeout(d);
    }
    r
}

/// Runs a query to its end: the rows, or the status.
fn query(s: &Server, req: tonic::Request<QueryRequest>) -> Result<Vec<String>, tonic::Status> {
    let mut client = s.client();
    s.rt.block_on(async move {
        let mut out = client.query(req).await?.into_inner();
        let mut rows = Vec::new();
        while let Some(m) = out.message().await? {
            rows.extend(m.rows.iter().map(|r| format!("{:?}", r.values)));
        }
        Ok(rows)
    })
}

fn stats(s: &Server) -> StatsResponse {
    let mut client = s.client();
    s.rt.block_on(client.stats(authed(StatsRequest {}, ADMIN)))
        .unwrap()
        .into_inner()
}

/// Waits until the server runs exactly `n` queries; their counters then.
fn wait_for_running(s: &Server, n: u64) -> StatsResponse {
    for _ in 0..2000 {
        let st = stats(s);
        if st.queries_running == n {
            return st;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the server never ran exactly {n} queries: {:?}", stats(s));
}

/// The events of Granite Ridge (even `n`), counted: the query that must
/// get the one admission slot back.
fn quick_count(s: &Server) -> Vec<String> {
    query(s, request("{}", ACME, None)).unwrap()
}

fn one_slot() -> Limits {
    Limits {
        max_concurrent_calls: 1,
        ..Limits::default()
    }
}

#[test]
fn a_query_past_its_deadline_stops_and_frees_its_slot() {
    let mut s = start(one_slot(), fill);
    let before = stats(&s);
    assert_eq!((before.queries_running, before.queries_cancelled), (0, 0));
    assert_eq!(before.events, EVENTS);

    // A client deadline of 200 ms: the server stops the query 20 ms sooner
    // (a tenth), so that its answer is in time. Uncancelled, the query
    // takes about a second in the test build.
    let e = query(&s, request(HEAVY, ADMIN, Some(Duration::from_millis(200)))).unwrap_err();
    assert_eq!(e.code(), Code::DeadlineExceeded, "{e:?}");
    assert_eq!(e.message(), "the query ran past its deadline of 180 ms");

    // The engine work stopped at a check, before its end (an uncancelled
    // query does not count as cancelled), and left the running count.
    let after = wait_for_running(&s, 0);
    assert_eq!(after.queries_cancelled, 1);
    // With one call allowed at a time, the slot is free again.
    let expected = format!("[Scalar {{ kind: Some(Int({})) }}]", EVENTS / 2);
    assert_eq!(quick_count(&s), vec![expected]);
    // The counters are the server's, across companies: admins only.
    let mut client = s.client();
    let acme =
        s.rt.block_on(client.stats(authed(StatsRequest {}, ACME)))
            .unwrap()
            .into_inner();
    assert_eq!(acme.events, EVENTS / 2);
    assert_eq!((acme.queries_running, acme.queries_cancelled), (0, 0));
    s.shutdown();
}

#[test]
fn a_client_that_goes_away_cancels_its_query() {
    let mut s = start(one_slot(), fill);
    let mut client = s.client();
    // No deadline at all: only the client's going away can stop it.
    let call = s.rt.spawn(async move {
        let r = client.query(request(HEAVY, ADMIN, None)).await;
        r.map(|_| ()).map_err(|e| e.code())
    });
    let running = wait_for_running(&s, 1);
    assert_eq!(running.queries_cancelled, 0);
    // While it runs, it holds the one slot.
    let e = query(&s, request("{}", ACME, None)).unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert_eq!(
        e.message(),
        "the server is running its maximum of 1 ingest and query calls; retry later"
    );
    // Dropping the call resets its HTTP/2 stream; the server drops the
    // call, which cancels the engine work.
    call.abort();
    assert!(s.rt.block_on(call).unwrap_err().is_cancelled());
    let after = wait_for_running(&s, 0);
    assert_eq!(after.queries_cancelled, 1);
    let expected = format!("[Scalar {{ kind: Some(Int({})) }}]", EVENTS / 2);
    assert_eq!(quick_count(&s), vec![expected]);
    s.shutdown();
}
