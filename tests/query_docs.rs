//! The examples of docs/queries.md are real: every ```json block there is a
//! query that parses, binds and finds events in the demo's activity (two
//! days of it); every error message the page quotes is the one daybook
//! gives; the Rust example runs.
//!
//! Result and explain examples on that page use other info strings
//! (```text) and are not run.

use std::sync::Arc;

use daybook::Field;
use daybook::generate::{GenConfig, Generator};
use daybook::{Direction, Engine, ManualClock, Op, Options, Query, Scalar};

const NOW_MS: i64 = 1_795_780_800_000; // 2026-11-27T12:00:00Z

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/queries.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// The fenced blocks whose info string is exactly `info`: (line of the
/// opening fence, text).
fn blocks(doc: &str, info: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, bool, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match &mut open {
            None if fence => {
                let tag = line.trim_start().trim_start_matches('`').trim();
                open = Some((i + 1, tag == info, String::new()));
            }
            None => {}
            Some((start, keep, text)) => {
                if fence {
                    if *keep {
                        out.push((*start, std::mem::take(text)));
                    }
                    open = None;
                } else {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
    }
    assert!(
        open.is_none(),
        "docs/queries.md: a code block is not closed"
    );
    out
}

/// The activity `daybook demo` generates (its seed 2026, eight companies,
/// 30,000 events a day: the companies and users of the examples), two days
/// of it: 2026-11-26 and the morning of the 27th. Most of it sealed into
/// segments, the newest events still buffered, so both paths answer.
fn engine(dir: &std::path::Path) -> Engine {
    let clock = ManualClock::new(NOW_MS);
    let engine = Engine::open(
        dir,
        Options {
            clock: Arc::new(clock),
            ..Options::default()
        },
    )
    .expect("open");
    let events: Vec<_> = Generator::new(GenConfig {
        days: 2,
        events_per_day: 30_000,
        companies: 8,
        seed: 2026,
        now_ms: NOW_MS,
        ..GenConfig::default()
    })
    .collect();
    let sealed = events.len() * 9 / 10;
    let (old, new) = events.split_at(sealed);
    for chunk in old.chunks(5000) {
        engine.append(chunk.to_vec()).expect("append");
    }
    engine.flush().expect("flush");
    engine.compact().expect("compact");
    engine.append(new.to_vec()).expect("append");
    engine
}

#[test]
fn every_json_example_is_a_query_that_finds_events() {
    let doc = doc();
    let examples = blocks(&doc, "json");
    assert!(
        examples.len() >= 6,
        "docs/queries.md has only {} json examples",
        examples.len()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(dir.path());
    for (line, text) in &examples {
        let q = Query::parse(text)
            .unwrap_or_else(|e| panic!("docs/queries.md:{line}: does not parse: {e}\n{text}"));
        let r = engine
            .query(&q)
            .unwrap_or_else(|e| panic!("docs/queries.md:{line}: does not bind: {e}\n{text}"));
        assert!(
            r.matched_events.is_none_or(|n| n > 0) && !r.rows.is_empty(),
            "docs/queries.md:{line}: finds no events in the generated week\n{text}"
        );
        // Written back and read again, the query is the same.
        assert_eq!(Query::parse(&q.to_json()).ok(), Some(q.clone()));
    }
}

#[test]
fn the_first_example_answers_as_documented() {
    let doc = doc();
    let (line, text) = blocks(&doc, "json")
        .into_iter()
        .next()
        .expect("a json example");
    assert!(
        text.contains("\"Redstone General Contracting\"") && text.contains("\"Export\""),
        "docs/queries.md:{line}: the first example is no longer the headline query"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(dir.path());
    let r = engine
        .query(&Query::parse(&text).expect("parse"))
        .expect("query");
    assert_eq!(r.columns, ["user_email", "event_type", "count"]);
    // More than 50 (user, type) groups: the page holds the 50 busiest.
    assert_eq!(r.rows.len(), 50);
    let total: u64 = r
        .rows
        .iter()
        .map(|row| match row.last() {
            Some(Scalar::Int(n)) => *n,
            other => panic!("count column holds {other:?}"),
        })
        .sum();
    assert!(
        r.matched_events.is_some_and(|m| total < m),
        "the page counts {total} of {:?} events",
        r.matched_events
    );
    for row in &r.rows {
        let t = row[1].to_string();
        assert!(t == "Delete" || t == "Export", "event type {t}");
    }
    // Ordered by count descending, then user_email, then event_type.
    let keys: Vec<_> = r
        .rows
        .iter()
        .map(|row| {
            let Some(Scalar::Int(n)) = row.last() else {
                unreachable!()
            };
            (std::cmp::Reverse(*n), row[0].clone(), row[1].clone())
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "order: {keys:?}");
}

/// The queries behind the error messages the page quotes.
const ERRORS: &[&str] = &[
    r#"{"time": {"from": "2026-11-22T00:00:00Z", "to": "2026-11-21T00:00:00Z"}}"#,
    r#"{"time": {"from": "2026-10-01T00:00:00Z", "to": "2026-10-20T00:00:00Z"}}"#,
    r#"{"time": {"from": "2026-11-22 10:00", "to": "2026-11-23T00:00:00Z"}}"#,
    r#"{"time": {"from": "2026-11-22T00:00:00Z", "to": "2026-11-31"}}"#,
    r#"{"time": {"last_days": 32}}"#,
    r#"{"where": [{"field": "company", "op": "eq", "value": "x"}]}"#,
    r#"{"where": [{"field": "company_name", "op": "eq", "value": "x"},
                  {"field": "user_id", "op": "eq", "value": "11139"}]}"#,
    r#"{"where": [{"field": "event_type", "op": "eq", "value": "Deleted"}]}"#,
    r#"{"where": [{"field": "event_type", "op": "in", "value": ["View", "Bogus"]}]}"#,
    r#"{"where": [{"field": "user_id", "op": "contains", "value": "11"}]}"#,
    r#"{"where": [{"field": "user_id", "op": "in", "value": 11139}]}"#,
    r#"{"where": [{"field": "url", "op": "eq"}]}"#,
    r#"{"where": [{"field": "url", "op": "is_null", "value": "x"}]}"#,
    r#"{"where": [{"field": "user_is_active", "op": "eq", "value": "true"}]}"#,
    r#"{"where": [{"field": "event_date", "op": "eq", "value": "2026-11-5"}]}"#,
    r#"{"fields": ["url"]}"#,
    r#"{"select": "events", "group_by": ["user_email"]}"#,
    r#"{"group_by": ["user_email", "user_email"]}"#,
    r#"{"group_by": ["event_id", "event_timestamp", "event_date", "event_type", "event_name",
                     "event_subtype", "tool_name", "company_name", "project_name"]}"#,
    r#"{"order_by": [["user_email", "asc"]]}"#,
    r#"{"select": "events", "order_by": [["count", "desc"]]}"#,
    r#"{"cursor": "00"}"#,
    r#"{"select": "events", "cursor": "abcd"}"#,
    r#"{"whatever": 1}"#,
];

#[test]
fn quoted_error_messages_are_the_real_ones() {
    let doc = doc();
    let quoted: Vec<String> = blocks(&doc, "text")
        .into_iter()
        .flat_map(|(_, t)| t.lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(dir.path());
    for q in ERRORS {
        let err = match Query::parse(q) {
            Err(e) => e,
            Ok(q) => engine
                .query(&q)
                .expect_err("the query of a quoted error fails"),
        };
        let msg = err.to_string();
        assert!(
            quoted.contains(&msg),
            "docs/queries.md does not quote the message of {q}:\n{msg}"
        );
    }
}

/// The Rust example of the page ("From Rust"), and the other builder forms
/// it names.
#[test]
fn the_rust_example_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(dir.path());
    let q = Query::count()
        .last_days(7)
        .filter(Field::CompanyName, Op::Eq, "Redstone General Contracting")
        .group_by(&[Field::UserEmail, Field::EventType])
        .order_by_count(Direction::Desc)
        .limit(50);
    let result = engine.query(&q).expect("query");
    assert_eq!(result.rows.len(), 50);
    assert!(result.rows.iter().all(|row| row.len() == 3));
    let json = result.to_json();
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(50));
    assert!(json["next_cursor"].is_null());

    let with_types = q
        .clone()
        .filter(Field::EventType, Op::In, vec!["Delete", "Export"]);
    let n = engine
        .query(&with_types)
        .expect("query")
        .matched_events
        .unwrap_or(0);
    assert!(n > 0 && Some(n) < result.matched_events);
    let no_project = Query::count()
        .last_days(7)
        .filter(Field::ProjectName, Op::IsNull, ());
    assert!(engine.query(&no_project).expect("query").matched_events > Some(0));

    let (r, explain) = engine.explain(&q).expect("explain");
    assert_eq!(r, result);
    assert!(explain.to_string().contains("window ["));
    assert!(explain.to_json().contains("\"sources\""));
    assert_eq!(engine.snapshot().query(&q).expect("query"), result);
}
