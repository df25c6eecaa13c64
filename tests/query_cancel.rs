//! Cancelling a query through its `CancelToken` (issue 13, item 4), on a
//! `Snapshot`: a token cancelled before the query makes every query shape
//! return exactly `Error::Cancelled`, with nothing read; a token never
//! cancelled answers exactly as `query` does. (Cancels during a query:
//! `segscan`'s unit test for the per-block check, and tests/grpc_deadline.rs
//! for deadlines.)

mod common;

use common::*;
use daybook::{CancelToken, Engine, Error, Event, Query, QueryOptions, Snapshot};

/// Three days in segments (two seals), and buffered events not yet sealed.
fn engine(dir: &std::path::Path) -> Engine {
    let c = clock();
    let engine = Engine::open(dir, options(&c)).unwrap();
    let events: Vec<Event> = (0..3_000u64)
        .map(|n| {
            event(
                &format!("e{n:05}"),
                day_ms((n % 3) as i64, n as i64 * 1000),
                n,
            )
        })
        .collect();
    engine.append(events[..1_200].to_vec()).unwrap();
    engine.flush().unwrap();
    engine.append(events[1_200..2_400].to_vec()).unwrap();
    engine.flush().unwrap();
    engine.append(events[2_400..].to_vec()).unwrap();
    engine
}

/// One query of each way a query runs: counts from bitmaps, grouped counts
/// (dictionary codes, block values, bitmap cardinalities), residual checks,
/// listings by time (newest first, stopping early) and by another field.
fn queries() -> Vec<Query> {
    [
        r#"{}"#,
        r#"{"group_by": ["event_id"]}"#,
        r#"{"group_by": ["user_email", "event_type"], "order_by": [["count", "desc"], ["user_email", "asc"], ["event_type", "asc"]]}"#,
        r#"{"group_by": ["company_name"]}"#,
        r#"{"where": [{"field": "url", "op": "contains", "value": "rfis/7"}], "group_by": ["tool_name"]}"#,
        r#"{"select": "events", "fields": ["event_id", "url"], "order_by": [["event_timestamp", "desc"]], "limit": 7}"#,
        r#"{"select": "events", "fields": ["event_id"], "where": [{"field": "object_id", "op": "gt", "value": 1000}], "order_by": [["event_timestamp", "asc"]], "limit": 3}"#,
        r#"{"select": "events", "fields": ["event_id", "user_id"], "order_by": [["user_id", "desc"], ["event_id", "asc"]], "limit": 5}"#,
    ]
    .iter()
    .map(|j| Query::parse(j).unwrap())
    .collect()
}

fn cancelled() -> QueryOptions {
    let token = CancelToken::new();
    token.cancel();
    QueryOptions::new().with_cancel(token)
}

fn assert_cancelled(snap: &Snapshot, q: &Query) {
    match snap.query_with(q, &cancelled()) {
        Err(Error::Cancelled) => {}
        other => panic!("{}: {other:?}", q.to_json()),
    }
    match snap.explain_with(q, &cancelled()) {
        Err(Error::Cancelled) => {}
        other => panic!("explain {}: {other:?}", q.to_json()),
    }
}

#[test]
fn a_token_cancelled_before_the_query_gives_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let snap = engine.snapshot();
    for q in queries() {
        assert_cancelled(&snap, &q);
    }
    assert_eq!(Error::Cancelled.to_string(), "the query was cancelled");
    // With nothing stored there is nothing to scan: still cancelled.
    let empty_dir = tempfile::tempdir().unwrap();
    let empty = Engine::open(empty_dir.path(), options(&clock())).unwrap();
    assert_cancelled(&empty.snapshot(), &Query::count());
}

#[test]
fn a_query_is_checked_before_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let q = Query::parse(r#"{"group_by": ["nope"]}"#).unwrap();
    match engine.snapshot().query_with(&q, &cancelled()) {
        Err(Error::InvalidQuery(m)) => assert_eq!(
            m,
            "group_by[0]: unknown field \"nope\" (fields are the contract's, plus event_date)"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_token_never_cancelled_answers_as_query_does() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let snap = engine.snapshot();
    let token = CancelToken::new();
    let opts = QueryOptions::new().with_cancel(token.clone());
    for q in queries() {
        let plain = snap.query(&q).unwrap();
        assert_ne!(
            plain.rows,
            Vec::<Vec<daybook::Scalar>>::new(),
            "{}",
            q.to_json()
        );
        assert_eq!(
            snap.query_with(&q, &opts).unwrap(),
            plain,
            "{}",
            q.to_json()
        );
        assert_eq!(snap.query_with(&q, &QueryOptions::new()).unwrap(), plain);
        assert_eq!(snap.explain_with(&q, &opts).unwrap().0, plain);
    }
    assert!(!token.is_cancelled());
    // The queries above read every kind of source: not vacuous.
    assert_eq!(
        snap.query(&Query::count()).unwrap().matched_events,
        Some(3_000)
    );
}

#[test]
fn clones_share_one_flag_across_threads() {
    fn send_sync<T: Send + Sync + 'static>(_: &T) {}
    let token = CancelToken::new();
    send_sync(&token);
    send_sync(&QueryOptions::new().with_cancel(token.clone()));
    let other = token.clone();
    std::thread::spawn(move || other.cancel()).join().unwrap();
    assert!(token.is_cancelled());
}
