//! The embedder's query API: the typed builder builds exactly the query
//! its JSON document reads as; results are addressable by column name; a
//! thread budget changes nothing in the answers.

use std::sync::Arc;

use daybook::generate::{GenConfig, Generator};
use daybook::query::{Operand, QueryResult};
use daybook::{
    Day, Direction, Engine, Error, EventType, Field, ManualClock, Op, Options, Query, QueryOptions,
    Scalar,
};

const NOW_MS: i64 = 1_795_780_800_000; // 2026-11-27T12:00:00Z

/// Built queries beside the JSON documents they must equal.
fn built_and_documents() -> Vec<(Query, &'static str)> {
    let day = Day::parse("2026-11-26").unwrap();
    vec![
        (Query::count(), r#"{}"#),
        (
            Query::count()
                .last_days(7)
                .filter(Field::CompanyName, Op::Eq, "Redstone General Contracting")
                .group_by(&[Field::UserEmail, Field::EventType])
                .order_by_count(Direction::Desc)
                .limit(50),
            r#"{"time": {"last_days": 7},
                "where": [{"field": "company_name", "op": "eq",
                           "value": "Redstone General Contracting"}],
                "group_by": ["user_email", "event_type"],
                "order_by": [["count", "desc"]], "limit": 50}"#,
        ),
        (
            Query::count()
                .between("2026-11-20", "2026-11-26T10:00:00Z")
                .filter(
                    Field::EventType,
                    Op::In,
                    [EventType::Delete, EventType::Export],
                )
                .filter(Field::ProjectName, Op::IsNull, ())
                .filter(Field::UserId, Op::Ge, 7u64)
                .filter(Field::ObjectId, Op::Lt, 1_000_000)
                .filter(Field::IsApi, Op::Eq, false)
                .filter(Field::EventDate, Op::Ne, day)
                .filter(Field::ToolName, Op::NotIn, vec!["RFIs".to_string()])
                .filter(Field::DeviceType, Op::NotNull, Operand::NONE)
                .group_by(&[Field::EventDate])
                .order_by(Field::EventDate, Direction::Asc)
                .offset(1),
            r#"{"time": {"from": "2026-11-20", "to": "2026-11-26T10:00:00Z"},
                "where": [
                  {"field": "event_type", "op": "in", "value": ["Delete", "Export"]},
                  {"field": "project_name", "op": "is_null"},
                  {"field": "user_id", "op": "ge", "value": 7},
                  {"field": "object_id", "op": "lt", "value": 1000000},
                  {"field": "is_api", "op": "eq", "value": false},
                  {"field": "event_date", "op": "ne", "value": "2026-11-26"},
                  {"field": "tool_name", "op": "not_in", "value": ["RFIs"]},
                  {"field": "device_type", "op": "not_null"}],
                "group_by": ["event_date"],
                "order_by": [["event_date", "asc"]], "offset": 1}"#,
        ),
        (
            Query::events()
                .filter(
                    Field::EventTimestamp,
                    Op::Ge,
                    Operand::timestamp_ms(NOW_MS - 2 * 3_600_000),
                )
                .filter(Field::Url, Op::Contains, "/rfis/")
                .filter(Field::EventSubtype, Op::StartsWith, String::from("De"))
                .filter(Field::EventType, Op::Eq, Scalar::EventType(EventType::View))
                .fields(&[Field::EventId, Field::UserName, Field::EventTimestamp])
                .order_by(Field::UserId, Direction::Desc)
                .limit(3)
                .after_cursor("abc"),
            r#"{"select": "events",
                "where": [
                  {"field": "event_timestamp", "op": "ge",
                   "value": "2026-11-27T10:00:00.000Z"},
                  {"field": "url", "op": "contains", "value": "/rfis/"},
                  {"field": "event_subtype", "op": "starts_with", "value": "De"},
                  {"field": "event_type", "op": "eq", "value": "View"}],
                "fields": ["event_id", "user_name", "event_timestamp"],
                "order_by": [["user_id", "desc"]], "limit": 3, "cursor": "abc"}"#,
        ),
    ]
}

#[test]
fn the_typed_builder_builds_the_document_s_query() {
    for (i, (built, doc)) in built_and_documents().into_iter().enumerate() {
        let parsed = Query::parse(doc).unwrap_or_else(|e| panic!("document {i}: {e}"));
        assert_eq!(built, parsed, "query {i}");
        assert_eq!(built.to_json(), parsed.to_json(), "query {i}");
    }
}

/// The front ends' form (a caller's field name and JSON operand) builds
/// the same predicate, and an unknown name is named when the query runs.
#[test]
fn filter_named_is_the_same_predicate_by_name() {
    let typed = Query::count().filter(Field::UserId, Op::In, vec![7u64, 9]);
    let named = Query::count().filter_named("user_id", Op::In, serde_json::json!([7, 9]));
    assert_eq!(typed, named);
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Options::default()).unwrap();
    let err = engine
        .query(&Query::count().filter_named("colour", Op::Eq, "red"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "where[0].field: unknown field \"colour\" (fields are the contract's, \
         plus event_date)"
    );
}

/// `days` of generated activity (seed `seed`), appended in chunks that
/// each seal into segments, the newest events left buffered: many sources,
/// both paths.
fn engine(dir: &std::path::Path, seed: u64, days: u32) -> Engine {
    let engine = Engine::open(
        dir,
        Options {
            clock: Arc::new(ManualClock::new(NOW_MS)),
            ..Options::default()
        },
    )
    .unwrap();
    let events: Vec<_> = Generator::new(GenConfig {
        days,
        events_per_day: 4_000,
        companies: 4,
        seed,
        now_ms: NOW_MS,
        ..GenConfig::default()
    })
    .collect();
    let (old, new) = events.split_at(events.len() * 9 / 10);
    for chunk in old.chunks(2_000) {
        engine.append(chunk.to_vec()).unwrap();
        engine.flush().unwrap();
    }
    engine.append(new.to_vec()).unwrap();
    engine
}

fn report_queries() -> Vec<Query> {
    vec![
        Query::count(),
        Query::count()
            .group_by(&[Field::CompanyName, Field::EventType])
            .order_by_count(Direction::Desc),
        Query::count()
            .filter(Field::DeviceType, Op::In, ["iOS", "Android"])
            .group_by(&[Field::UserEmail, Field::ToolName, Field::EventDate])
            .order_by(Field::UserEmail, Direction::Asc)
            .limit(40)
            .offset(3),
        Query::count()
            .filter(Field::Url, Op::Contains, "/")
            .filter(Field::ProjectName, Op::NotNull, ())
            .group_by(&[Field::ProjectName]),
        Query::events()
            .filter(Field::EventType, Op::Ne, EventType::View)
            .limit(25),
        Query::events()
            .order_by(Field::UserId, Direction::Desc)
            .fields(&[Field::EventId, Field::UserId, Field::UserName])
            .limit(30)
            .offset(5),
        Query::events().filter(Field::IsApi, Op::Eq, true),
    ]
}

/// A budget of one thread answers exactly as the default (up to a thread
/// per core), on several generated data sets; explain says one thread.
#[test]
fn a_budget_of_one_thread_gives_the_same_answers() {
    let one = QueryOptions::new().with_max_threads(1);
    for seed in [1, 7, 2026] {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path(), seed, 3);
        let snap = engine.snapshot();
        assert!(snap.query(&Query::count()).unwrap().matched_events > Some(10_000));
        for (i, q) in report_queries().iter().enumerate() {
            let default = snap.query(q).unwrap();
            let single = snap.query_with(q, &one).unwrap();
            assert_eq!(single, default, "seed {seed}, query {i}: {}", q.to_json());
            let (explained, ex) = snap.explain_with(q, &one).unwrap();
            assert_eq!(explained, default, "seed {seed}, query {i}");
            assert_eq!(ex.threads, 1, "seed {seed}, query {i}");
        }
    }
}

#[test]
fn a_budget_of_no_thread_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Options::default()).unwrap();
    let err = engine
        .snapshot()
        .query_with(&Query::count(), &QueryOptions::new().with_max_threads(0))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOptions(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "query options: max_threads is 0; give at least 1 (the calling thread)"
    );
}

/// Every cell found by name is the cell at its column's position.
fn assert_by_name_is_positional(r: &QueryResult) {
    assert_eq!(r.rows().len(), r.rows.len());
    for (i, row) in r.rows().enumerate() {
        assert_eq!(row.values(), r.rows[i].as_slice());
        assert_eq!(r.row(i).unwrap().values(), row.values());
        for (c, name) in r.columns.iter().enumerate() {
            assert_eq!(r.column_index(name), Some(c));
            assert_eq!(row.get(name), Some(&r.rows[i][c]), "row {i} column {name}");
            if let Some(f) = Field::parse(name) {
                assert_eq!(row.get_field(f), Some(&r.rows[i][c]));
            }
        }
        assert_eq!(row.get("colour"), None);
    }
    assert!(r.row(r.rows.len()).is_none());
    assert_eq!(r.column_index("colour"), None);
}

#[test]
fn results_by_column_name_equal_positional_results() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), 11, 2);
    let counts = engine
        .query(
            &Query::count()
                .group_by(&[Field::UserEmail, Field::EventType, Field::IsApi])
                .order_by_count(Direction::Desc)
                .limit(20),
        )
        .unwrap();
    assert_eq!(counts.rows.len(), 20);
    assert_by_name_is_positional(&counts);
    let mut total = 0;
    for (i, row) in counts.rows().enumerate() {
        // Typed accessors read the cells as their types.
        assert_eq!(row.count(), counts.rows[i][3].as_u64());
        total += row.count().unwrap();
        let email = row.get_field(Field::UserEmail).unwrap();
        let text = match &counts.rows[i][0] {
            Scalar::Str(s) => Some(s.as_str()),
            _ => None,
        };
        assert_eq!(email.as_str(), text);
        assert_eq!(email.as_u64(), None);
        let t = row.get_field(Field::EventType).unwrap().as_event_type();
        assert_eq!(
            t,
            Some(match &counts.rows[i][1] {
                Scalar::EventType(t) => *t,
                other => panic!("event_type cell {other:?}"),
            })
        );
        assert!(row.get_field(Field::IsApi).unwrap().as_bool().is_some());
        assert_eq!(row.get_field(Field::UserId), None);
    }
    assert!(total > 0);

    let listing = engine
        .query(
            &Query::events()
                .fields(&[Field::EventId, Field::EventTimestamp, Field::EventDate])
                .limit(10),
        )
        .unwrap();
    assert_eq!(listing.rows.len(), 10);
    assert_by_name_is_positional(&listing);
    for row in listing.rows() {
        let ts = row
            .get("event_timestamp")
            .unwrap()
            .as_timestamp_ms()
            .unwrap();
        let day = row.get_field(Field::EventDate).unwrap().as_day().unwrap();
        assert!(ts >= day.start_ms() && ts < day.end_ms());
        assert!(!row.get_field(Field::EventId).unwrap().is_null());
        assert_eq!(row.count(), None);
    }
}
