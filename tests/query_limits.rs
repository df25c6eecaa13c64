//! Heavy and hostile queries (issue 15, item 9): a query over its memory
//! budget is refused with `Error::ResourceExhausted` (the library), exit 3
//! (the command line) and RESOURCE_EXHAUSTED (gRPC, also when the memory
//! queries share is spent); large `in` / `not_in` lists answer as the
//! oracle does with buffered, sealed and reopened data; a damaged
//! dictionary is still reported when a list first reads it.

mod common;

use common::oracle::{Oracle, comparable};
use common::*;
use daybook::segment::{SectionKind, SegmentReader};
use daybook::{Engine, Error, Event, Field, Query, QueryOptions};

/// 2,000 events over three days; `user_id` takes 50 small values and a
/// few large ones, `user_email` 50 values.
fn events() -> Vec<Event> {
    (0..2_000u64)
        .map(|n| {
            event(
                &format!("e{n:05}"),
                day_ms((n % 3) as i64, n as i64 * 1000),
                n,
            )
        })
        .collect()
}

/// The engine holding [`events`]: sealed (two segments a day) or only
/// buffered.
fn engine(dir: &std::path::Path, sealed: bool) -> Engine {
    let engine = Engine::open(dir, options(&clock())).unwrap();
    let all = events();
    engine.append(all[..1_000].to_vec()).unwrap();
    if sealed {
        engine.flush().unwrap();
    }
    engine.append(all[1_000..].to_vec()).unwrap();
    if sealed {
        engine.flush().unwrap();
    }
    engine
}

fn budget(bytes: u64) -> QueryOptions {
    QueryOptions::new().with_max_memory_bytes(bytes)
}

/// The error of `q` under a budget of `bytes`, which must be an
/// over-budget refusal: (what, limit, shared) and the message.
fn refusal(engine: &Engine, json: &str, bytes: u64) -> ((String, u64, bool), String) {
    let q = Query::parse(json).unwrap();
    let e = engine
        .snapshot()
        .query_with(&q, &budget(bytes))
        .unwrap_err();
    let msg = e.to_string();
    match e {
        Error::ResourceExhausted {
            what,
            limit_bytes,
            shared,
        } => ((what, limit_bytes, shared), msg),
        other => panic!("expected ResourceExhausted for {json}, got {other:?}"),
    }
}

const HOW_TO: &str = ": narrow it (a shorter window, more filters, fewer or smaller group \
                      fields, a limit) or raise the budget (QueryOptions::max_memory_bytes, \
                      daybook query --max-memory-bytes, daybook serve --max-query-memory-bytes)";

const BY_ID: &str = r#"{"group_by": ["event_id"]}"#;
const LIST_ALL: &str = r#"{"select": "events", "fields": ["event_id", "url"]}"#;

/// A list of `n` user ids: every id the events use (1000..1050 and the
/// large ones) among `n - 50` others.
fn user_list(n: u64) -> Vec<u64> {
    let mut ids: Vec<u64> = (0..n - 50).map(|i| 5_000_000 + i * 3).collect();
    ids.extend(
        (0..2_000u64)
            .filter(|n| n % 17 == 0)
            .map(|n| i64::MAX as u64 - n),
    );
    ids.extend(1000..1030);
    ids
}

fn in_query(op: &str, field: &str, values: &serde_json::Value, group: &str) -> String {
    serde_json::json!({
        "where": [{"field": field, "op": op, "value": values}],
        "group_by": [group],
    })
    .to_string()
}

#[test]
fn an_over_budget_group_by_listing_and_list_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), true);
    let (e, msg) = refusal(&engine, BY_ID, 10_000);
    assert_eq!(e, ("groups".into(), 10_000, false));
    assert_eq!(
        msg,
        format!(
            "the query needs more than its memory budget of 10000 bytes for its groups{HOW_TO}"
        )
    );
    let (e, _) = refusal(&engine, LIST_ALL, 10_000);
    assert_eq!(e, ("listed rows".into(), 10_000, false));
    let ids = serde_json::json!(user_list(1_000));
    let (e, msg) = refusal(&engine, &in_query("in", "user_id", &ids, "user_id"), 10_000);
    assert_eq!(
        e,
        ("in list on user_id (1098 values)".into(), 10_000, false)
    );
    assert!(msg.starts_with(
        "the query needs more than its memory budget of 10000 bytes for its in list on user_id \
         (1098 values): "
    ));
    // The same on buffered events, and whole binary units are named so.
    let dir = tempfile::tempdir().unwrap();
    let engine = crate::engine(dir.path(), false);
    assert_eq!(
        refusal(&engine, BY_ID, 1 << 10).0,
        ("groups".into(), 1024, false)
    );
    let err = Error::ResourceExhausted {
        what: "groups".into(),
        limit_bytes: 2 << 30,
        shared: false,
    };
    assert!(
        err.to_string()
            .starts_with("the query needs more than its memory budget of 2 GiB for its groups")
    );
    assert!(err.is_caller_error());
}

/// A budget that holds the query answers it exactly as the default does;
/// a zero budget is refused as an option.
#[test]
fn a_query_within_its_budget_answers_as_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), true);
    let snap = engine.snapshot();
    for json in [
        BY_ID,
        LIST_ALL,
        r#"{"group_by": ["user_email", "event_type"]}"#,
    ] {
        let q = Query::parse(json).unwrap();
        let want = snap.query(&q).unwrap();
        assert_eq!(
            snap.query_with(&q, &budget(64 << 20)).unwrap(),
            want,
            "{json}"
        );
    }
    match snap.query_with(&Query::count(), &budget(0)) {
        Err(Error::InvalidOptions(m)) => assert_eq!(
            m,
            "query options: max_memory_bytes is 0; give a budget in bytes (the default is 2 GiB)"
        ),
        other => panic!("{other:?}"),
    }
}

/// `in` and `not_in` with 200,000 values (integers) and 20,000 (strings)
/// answer as the oracle does, with the data buffered, sealed and reopened.
#[test]
fn large_lists_answer_as_the_oracle_in_every_state() {
    let mut oracle = Oracle::new();
    oracle.append(&events());
    let ids = serde_json::json!(user_list(200_000));
    let mut emails: Vec<String> = (0..20_000)
        .map(|i| format!("x{i:05}@example.com"))
        .collect();
    emails.extend((0..50).step_by(3).map(|i| format!("user{i}@example.com")));
    let emails = serde_json::json!(emails);
    let queries: Vec<String> = vec![
        in_query("in", "user_id", &ids, "user_id"),
        in_query("not_in", "user_id", &ids, "user_id"),
        in_query("in", "user_email", &emails, "user_email"),
        in_query("not_in", "user_email", &emails, "tool_name"),
        in_query(
            "in",
            "user_id",
            &serde_json::json!([1003, 1017, 99]),
            "user_id",
        ),
        serde_json::json!({
            "where": [{"field": "user_id", "op": "in", "value": ids},
                      {"field": "tool_name", "op": "eq", "value": "RFIs"}],
            "select": "events", "fields": ["event_id", "user_id"], "limit": 20,
        })
        .to_string(),
    ];
    let check = |engine: &Engine, state: &str| {
        for json in &queries {
            let q = Query::parse(json).unwrap();
            let want = oracle.query(&q, NOW_MS, 31, None).unwrap().result;
            let got = comparable(engine.query(&q).unwrap());
            assert_eq!(got, want, "[{state}] {}", &json[..json.len().min(120)]);
            assert!(got.matched_events.unwrap() > 0, "[{state}] matches nothing");
        }
    };
    let dir = tempfile::tempdir().unwrap();
    check(&engine(dir.path(), false), "buffered");
    let dir = tempfile::tempdir().unwrap();
    drop(engine(dir.path(), true));
    let reopened = Engine::open(dir.path(), options(&clock())).unwrap();
    check(&reopened, "reopened");
    let dir = tempfile::tempdir().unwrap();
    check(&engine(dir.path(), true), "sealed");
}

/// A flipped byte in a dictionary is reported, naming the file, the
/// section's offset and the section, when a list is first matched against
/// it; `verify` finds it too.
#[test]
fn a_damaged_dictionary_is_reported_when_a_list_first_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), true);
    let seg = segments(&e).remove(0);
    drop(e);
    let reader = SegmentReader::open(&seg).unwrap();
    let (day, id) = (reader.day(), reader.id());
    let (offset, len) = reader
        .section_range(SectionKind::DictValues, Field::UserEmail as u16)
        .unwrap();
    drop(reader);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[(offset + len - 3) as usize] ^= 0x21;
    std::fs::write(&seg, &bytes).unwrap();
    let engine = Engine::open(dir.path(), options(&clock())).unwrap();
    let mut emails: Vec<String> = (0..5_000).map(|i| format!("x{i:05}@example.com")).collect();
    emails.push("user3@example.com".into());
    let q = Query::parse(&in_query(
        "in",
        "user_email",
        &serde_json::json!(emails),
        "user_email",
    ))
    .unwrap();
    common::assert_checksum_error(
        engine.query(&q),
        &seg,
        offset,
        &format!("dictionary of user_email (day {day}, segment {id})"),
    );
    let found = SegmentReader::open(&seg).unwrap().verify().unwrap_err();
    assert!(found.is_corruption(), "{found}");
}

/// A query that needs no timestamp (no window cut, no sort or group by
/// time) does not read the timestamps section; the first query that does
/// reports its damage, naming the file, the section's offset and the
/// section. `verify` finds it without any query.
#[test]
fn damaged_timestamps_are_reported_by_the_first_query_that_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), true);
    let want = e
        .query(&Query::parse(r#"{"group_by": ["tool_name"]}"#).unwrap())
        .unwrap();
    let seg = segments(&e).remove(0);
    drop(e);
    let reader = SegmentReader::open(&seg).unwrap();
    let (day, id) = (reader.day(), reader.id());
    let (offset, len) = reader
        .section_range(SectionKind::PackedTimestamps, Field::EventTimestamp as u16)
        .unwrap();
    drop(reader);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[(offset + len / 2) as usize] ^= 0x10;
    std::fs::write(&seg, &bytes).unwrap();
    let engine = Engine::open(dir.path(), options(&clock())).unwrap();
    let q = Query::parse(r#"{"group_by": ["tool_name"]}"#).unwrap();
    assert_eq!(engine.query(&q).unwrap(), want);
    let from = daybook::time::format_ms(day.start_ms() + 500_000);
    let cut = Query::parse(&format!(
        r#"{{"time": {{"from": "{from}", "to": "{day}"}}, "group_by": ["tool_name"]}}"#
    ))
    .unwrap();
    common::assert_checksum_error(
        engine.query(&cut),
        &seg,
        offset,
        &format!("packed timestamps of event_timestamp (day {day}, segment {id})"),
    );
    assert!(
        SegmentReader::open(&seg)
            .unwrap()
            .verify()
            .unwrap_err()
            .is_corruption()
    );
}

#[cfg(feature = "cli")]
mod cli_budget {
    use super::*;

    /// `daybook query --max-memory-bytes` too small: exit 3 and the
    /// message; large enough: the answer.
    #[test]
    fn the_command_line_exits_3_over_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        drop(engine(dir.path(), true));
        let out = common::cli::run_at(
            dir.path(),
            "2026-11-27T12:00:00Z",
            &[
                "query",
                "--group-by",
                "event_id",
                "--max-memory-bytes",
                "10000",
                "--format",
                "csv",
            ],
        );
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(
            common::cli::text(&out.stderr),
            format!(
                "daybook: the query needs more than its memory budget of 10000 bytes for its \
                 groups{HOW_TO}\n"
            )
        );
        assert!(out.stdout.is_empty());
        let ok = common::cli::ok_at(
            dir.path(),
            "2026-11-27T12:00:00Z",
            &[
                "query",
                "--group-by",
                "tool_name",
                "--max-memory-bytes",
                "1000000",
                "--format",
                "csv",
            ],
        );
        assert_eq!(
            ok,
            "tool_name,count\nDaily Log,500\nDrawings,500\nRFIs,500\nSubmittals,500\n"
        );
    }
}

#[cfg(feature = "grpc")]
#[path = "common/grpc_server.rs"]
mod grpc_server;

#[cfg(feature = "grpc")]
mod grpc_budget {
    use daybook::grpc::Limits;
    use daybook::grpc::pb::{QueryRequest, query_request};
    use tonic::Code;

    use super::grpc_server::{ADMIN, Server, authed, start};
    use super::*;

    fn fill(e: &Engine) {
        let all = events();
        e.append(all[..1_000].to_vec()).unwrap();
        e.flush().unwrap();
        e.append(all[1_000..].to_vec()).unwrap();
        e.flush().unwrap();
    }

    fn query(s: &Server, json: &str) -> Result<usize, tonic::Status> {
        let mut client = s.client();
        let req = authed(
            QueryRequest {
                query: Some(query_request::Query::Json(json.to_string())),
            },
            ADMIN,
        );
        s.rt.block_on(async move {
            let mut out = client.query(req).await?.into_inner();
            let mut rows = 0;
            while let Some(m) = out.message().await? {
                rows += m.rows.len();
            }
            Ok(rows)
        })
    }

    /// One query over its own budget: RESOURCE_EXHAUSTED with the message;
    /// a smaller query is still answered.
    #[test]
    fn a_query_over_its_budget_is_resource_exhausted() {
        let mut s = start(
            Limits {
                max_query_memory_bytes: 10_000,
                ..Limits::default()
            },
            fill,
        );
        let e = query(&s, BY_ID).unwrap_err();
        assert_eq!(e.code(), Code::ResourceExhausted);
        assert_eq!(
            e.message(),
            format!(
                "the query needs more than its memory budget of 10000 bytes for its groups{HOW_TO}"
            )
        );
        assert_eq!(query(&s, r#"{"group_by": ["tool_name"]}"#).unwrap(), 4);
        s.shutdown();
    }

    /// The memory queries share: heavy queries sent at once (each within
    /// its own budget) that together need more than the shared budget are
    /// refused with RESOURCE_EXHAUSTED, never all admitted; each refusal
    /// gives back what it took, so the server stays usable.
    #[test]
    fn queries_at_once_share_one_memory_budget() {
        let mut s = start(
            Limits {
                max_queries_memory_bytes: 20_000,
                ..Limits::default()
            },
            fill,
        );
        // Eight heavy queries at once, each its own task.
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let mut c = s.client();
                let req = authed(
                    QueryRequest {
                        query: Some(query_request::Query::Json(BY_ID.to_string())),
                    },
                    ADMIN,
                );
                s.rt.spawn(async move {
                    let mut out = c.query(req).await?.into_inner();
                    let mut rows = 0;
                    while let Some(m) = out.message().await? {
                        rows += m.rows.len();
                    }
                    Ok::<usize, tonic::Status>(rows)
                })
            })
            .collect();
        let results: Vec<Result<usize, tonic::Status>> = tasks
            .into_iter()
            .map(|t| s.rt.block_on(t).unwrap())
            .collect();
        for r in results {
            let e = r.unwrap_err();
            assert_eq!(e.code(), Code::ResourceExhausted);
            assert_eq!(
                e.message(),
                "the memory shared by queries running at once (20000 bytes) is in use; this query \
                 needed more for its groups: retry later, or raise the shared budget \
                 (daybook serve --max-queries-memory-bytes)"
            );
        }
        // Nothing stays taken: a small query fits.
        assert_eq!(query(&s, r#"{"group_by": ["tool_name"]}"#).unwrap(), 4);
        s.shutdown();
    }
}
