//! Deterministic tests of event listings (orders, fields, cursor paging),
//! the JSON form of queries, and every error a query can get, on the seven
//! hand-made events of `common/query_fixture.rs`.

mod common;
#[path = "common/query_fixture.rs"]
mod fixture;

use daybook::query::{Direction, Op, Query, Scalar, TimeWindow};
use daybook::{EventType, Field};
use fixture::*;
use serde_json::{Value as J, json};

// ---------------------------------------------------------------------------
// Listings.

#[test]
fn listing_default_order_is_newest_first_then_id() {
    let db = db();
    let r = db.run(&listing());
    assert_eq!(id_rows(&r), "ecgbadf");
    assert_eq!(r.columns, vec!["event_id"]);
    assert_eq!(r.matched_events, Some(7));
    assert_eq!(r.next_cursor, None);
}

fn field(name: &str) -> Field {
    Field::parse(name).unwrap()
}

#[test]
fn listing_orders_by_any_field() {
    let db = db();
    let by = |f: &str, d: Direction| id_rows(&db.run(&listing().order_by(field(f), d)));
    assert_eq!(by("company_name", Direction::Asc), "bagdfec");
    assert_eq!(by("company_name", Direction::Desc), "cefdagb");
    // Missing lowest ascending, last descending; ties by id ascending.
    assert_eq!(by("object_id", Direction::Asc), "bfgdeca");
    assert_eq!(by("object_id", Direction::Desc), "acedbfg");
    assert_eq!(by("event_type", Direction::Asc), "cbeafgd");
    assert_eq!(by("event_type", Direction::Desc), "dafgebc");
    assert_eq!(by("event_timestamp", Direction::Asc), "fdabcge");
    assert_eq!(by("user_id", Direction::Desc), "dabcegf");
    assert_eq!(by("event_date", Direction::Asc), "fdabcge");
    assert_eq!(by("project_is_demo", Direction::Desc), "adbfceg");
    // Several keys.
    let q = listing()
        .order_by(Field::IsApi, Direction::Desc)
        .order_by(Field::EventTimestamp, Direction::Asc);
    assert_eq!(id_rows(&db.run(&q)), "dbfacge");
    let q = listing()
        .order_by(Field::UserId, Direction::Asc)
        .order_by(Field::EventId, Direction::Desc);
    assert_eq!(id_rows(&db.run(&q)), "fgecbad");
}

#[test]
fn listing_fields_and_values() {
    let db = db();
    let mut q = Query::events().filter(Field::EventId, Op::Eq, "a");
    let r = db.run(&q);
    let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
    assert_eq!(r.columns, names);
    assert_eq!(
        r.rows,
        vec![vec![
            s("a"),
            Scalar::Timestamp(ts("2026-11-26T23:59:59.999Z")),
            Scalar::Date(day("2026-11-26")),
            Scalar::EventType(EventType::View),
            s("Viewed"),
            s("Detail"),
            s("RFIs"),
            s("Granite Ridge"),
            Scalar::Null,
            Scalar::Null,
            Scalar::Bool(true),
            n(MAX_ID),
            s("https://app.example.com/p/1"),
            s("Web"),
            Scalar::Bool(false),
            n(P53 + 1),
            s("u@x.example"),
            Scalar::Null,
            s("U"),
            Scalar::Null,
            Scalar::Null,
            Scalar::Null,
            Scalar::Null,
            Scalar::Null,
            Scalar::Null,
            Scalar::Date(day("2026-11-20")),
        ]]
    );
    q.fields = vec![
        "user_id".into(),
        "event_date".into(),
        "company_name".into(),
        "object_id".into(),
    ];
    q.filters.clear();
    let q = q.filter(Field::UserId, Op::Ge, P53);
    let r = db.run(&q);
    assert_eq!(
        r.columns,
        vec!["user_id", "event_date", "company_name", "object_id"]
    );
    assert_eq!(
        r.rows,
        vec![
            vec![
                n(P53),
                Scalar::Date(day("2026-11-27")),
                s("Bâtiments Ødegård"),
                Scalar::Null
            ],
            vec![
                n(P53 + 1),
                Scalar::Date(day("2026-11-26")),
                s("Granite Ridge"),
                n(MAX_ID)
            ],
            vec![
                n(MAX_ID),
                Scalar::Date(day("2026-11-25")),
                s("Granite Ridge Builders"),
                n(0)
            ],
        ]
    );
    // The duplicate copy of c never shows.
    let r = db.run(
        &listing()
            .filter(Field::EventId, Op::Eq, "c")
            .order_by(Field::CompanyName, Direction::Asc),
    );
    assert_eq!(r.rows, vec![vec![s("c")]]);
    let mut q = listing().filter(Field::EventId, Op::Eq, "c");
    q.fields = vec!["company_name".into()];
    assert_eq!(db.run(&q).rows, vec![vec![s("建設")]]);
}

/// Pages of `q` through `next_cursor`, per engine: the same pages in every
/// state.

#[test]
fn listing_pages_with_cursors() {
    let db = db();
    assert_eq!(pages(&db, &listing().limit(3)), vec!["ecg", "bad", "f"]);
    assert_eq!(pages(&db, &listing().limit(2)), vec!["ec", "gb", "ad", "f"]);
    // A limit that ends exactly at the last row: no cursor.
    assert_eq!(pages(&db, &listing().limit(7)), vec!["ecgbadf"]);
    assert_eq!(pages(&db, &listing().limit(1)).concat(), "ecgbadf");
    // Pages of other orders, ties included.
    let q = listing()
        .order_by(Field::ObjectId, Direction::Desc)
        .limit(4);
    assert_eq!(pages(&db, &q), vec!["aced", "bfg"]);
    let q = listing()
        .order_by(Field::CompanyName, Direction::Asc)
        .limit(2);
    assert_eq!(pages(&db, &q), vec!["ba", "gd", "fe", "c"]);
    let q = listing()
        .order_by(Field::EventType, Direction::Desc)
        .limit(3);
    assert_eq!(pages(&db, &q), vec!["daf", "geb", "c"]);
    // First page after an offset.
    let mut q = listing().limit(2);
    q.offset = Some(3);
    assert_eq!(pages(&db, &q), vec!["ba", "df"]);
}

#[test]
fn cursor_pages_see_rows_appended_between_pages_only_after_it() {
    let (_dir, _c, engine) = mixed_engine();
    let q = listing().order_by(Field::EventId, Direction::Asc).limit(3);
    let r = engine.query(&q).unwrap();
    assert_eq!(id_rows(&r), "abc");
    // New rows before and after the cursor.
    let mut early = base("0", "2026-11-27T03:00:00Z");
    early.company_name = "X".into();
    let late = base("zz", "2026-11-27T03:00:00Z");
    engine.append(vec![early, late]).unwrap();
    let mut q2 = q.clone();
    q2.cursor = r.next_cursor;
    let r = engine.query(&q2).unwrap();
    assert_eq!(id_rows(&r), "def");
    q2.cursor = r.next_cursor;
    let r = engine.query(&q2).unwrap();
    assert_eq!(id_rows(&r), "gzz");
    assert_eq!(r.matched_events, Some(9));
    assert_eq!(r.next_cursor, None);
}

// ---------------------------------------------------------------------------
// The JSON form.

#[test]
fn json_queries_answer_like_built_ones() {
    let db = db();
    let doc = r#"{"time":{"from":"2026-11-26T23:59:59.999Z","to":"2026-11-27T10:00:00.001+00:00"},
        "where":[{"field":"user_id","op":"in","value":[9007199254740993,7]},
                 {"field":"event_subtype","op":"not_null"}],
        "select":"count","group_by":["company_name"],"order_by":[["count","desc"]]}"#;
    let q = Query::parse(doc).unwrap();
    let built = Query::count()
        .between("2026-11-26T23:59:59.999Z", "2026-11-27T10:00:00.001+00:00")
        .filter_named("user_id", Op::In, json!([P53 + 1, 7]))
        .filter_named("event_subtype", Op::NotNull, NONE)
        .group_by(&[Field::CompanyName])
        .order_by_count(Direction::Desc);
    assert_eq!(q, built);
    assert_eq!(Query::parse(&q.to_json()).unwrap(), q);
    let r = db.run(&q);
    assert_eq!(
        r.rows,
        vec![vec![s("Granite Ridge"), n(2)], vec![s("建設"), n(1)]]
    );
    assert_eq!(
        r.to_json(),
        json!({"columns":["company_name","count"],
               "rows":[["Granite Ridge",2],["建設",1]],
               "matched_events":3,"next_cursor":null})
    );
    let q = Query::parse(r#"{"time":{"last_days":1},"select":"events","fields":["event_id","event_timestamp","event_type"],"limit":1}"#).unwrap();
    assert_eq!(q.time, Some(TimeWindow::LastDays { last_days: 1 }));
    let r = db.run(&q);
    assert_eq!(
        r.to_json()["rows"],
        json!([["c", "2026-11-27T10:00:00.000Z", "Close"]])
    );
    assert!(r.next_cursor.is_some());
}

// ---------------------------------------------------------------------------
// Errors: each names the part of the query at fault.

#[test]
fn error_unknown_field() {
    let db = db();
    let q = Query::count()
        .filter(Field::UserId, Op::Eq, 7u64)
        .filter_named("colour", Op::Eq, "red");
    let m = db.err(&q);
    assert_names(&m, "where[1]");
    assert_names(&m, "colour");
    let mut q = Query::count().group_by(&[Field::CompanyName]);
    q.group_by.push("colour".into());
    let m = db.err(&q);
    assert_names(&m, "group_by[1]");
    let mut q = Query::events();
    q.fields = vec!["event_id".into(), "colour".into()];
    assert_names(&db.err(&q), "fields[1]");
    let mut q = Query::events();
    q.order_by.push(("colour".into(), Direction::Asc));
    let m = db.err(&q);
    assert_names(&m, "order_by[0]");
    // Unknown keys of the document.
    let e = Query::parse(r#"{"wher":[]}"#).unwrap_err().to_string();
    assert_names(&e, "wher");
    let e = Query::parse(r#"{"where":[{"field":"user_id","op":"equals","value":1}]}"#)
        .unwrap_err()
        .to_string();
    assert_names(&e, "equals");
}

#[test]
fn error_wrong_value_type() {
    let db = db();
    let cases: Vec<(&str, J)> = vec![
        ("user_id", json!("7")),
        ("user_id", json!(-1)),
        ("user_id", json!(1.5)),
        ("user_id", json!(1u64 << 63)),
        ("object_id", json!(u64::MAX)),
        ("company_name", json!(5)),
        ("company_name", json!(["Zeta"])),
        ("is_api", json!("true")),
        ("is_api", json!(1)),
        ("event_timestamp", json!("2026-11-27 10:00:00")),
        ("event_timestamp", json!("2026-11-27T10:00:00")),
        ("event_timestamp", json!(1_795_780_800_000i64)),
        ("event_date", json!("2026-11-31")),
        ("event_date", json!("2026-11-27T00:00:00Z")),
        ("user_last_login_date", json!(20261127)),
        ("event_type", json!(3)),
    ];
    for (field, value) in cases {
        let q = Query::count()
            .filter_named("event_subtype", Op::NotNull, NONE)
            .filter_named(field, Op::Eq, value.clone());
        let m = db.err(&q);
        assert_names(&m, "where[1]");
        assert_names(&m, field);
    }
    // Inside a list.
    let q = Query::count().filter_named("user_id", Op::In, json!([7, "8"]));
    assert_names(&db.err(&q), "where[0]");
    // A list for a single value, a single value for a list.
    let q = Query::count().filter(Field::UserId, Op::NotIn, 7u64);
    assert_names(&db.err(&q), "where[0]");
}

#[test]
fn error_missing_or_extra_value() {
    let db = db();
    // Every op that takes a value.
    for op in Op::ALL
        .into_iter()
        .filter(|op| !matches!(op, Op::IsNull | Op::NotNull))
    {
        let q = Query::count().filter_named("company_name", op, NONE);
        assert_names(&db.err(&q), "where[0]");
    }
    for op in [Op::IsNull, Op::NotNull] {
        let q = Query::count().filter(Field::CompanyName, op, "Zeta");
        assert_names(&db.err(&q), "where[0]");
    }
}

#[test]
fn error_op_does_not_fit_field() {
    let db = db();
    for (field, value) in [
        ("user_id", json!("7")),
        ("object_id", json!(7)),
        ("is_api", json!(true)),
        ("event_timestamp", json!("2026-11-27T10:00:00Z")),
        ("event_date", json!("2026-11-27")),
        ("user_last_login_date", json!("2026")),
    ] {
        for op in [Op::Contains, Op::StartsWith] {
            let q = Query::count()
                .filter(Field::CompanyName, Op::Ne, "x")
                .filter_named(field, op, value.clone());
            let m = db.err(&q);
            assert_names(&m, "where[1]");
            assert_names(&m, op.name());
        }
    }
}

#[test]
fn error_unknown_event_type() {
    let db = db();
    for op in [Op::Eq, Op::Ne] {
        let m = db.err(&Query::count().filter(Field::EventType, op, "Viewed"));
        assert_names(&m, "where[0]");
        assert_names(&m, "Viewed");
    }
    let m = db.err(&Query::count().filter_named("event_type", Op::In, json!(["View", "view"])));
    assert_names(&m, "where[0]");
    let m = db.err(&Query::count().filter_named("event_type", Op::NotIn, json!(["Create"])));
    assert_names(&m, "where[0]");
}

#[test]
fn error_bad_windows() {
    let db = db();
    let bad = |from: &str, to: &str| db.err(&Query::count().between(from, to));
    // Empty or reversed.
    assert_names(&bad("2026-11-27T00:00:00Z", "2026-11-27T00:00:00Z"), "time");
    assert_names(
        &bad("2026-11-27T01:00:00+01:00", "2026-11-27T00:00:00Z"),
        "time",
    );
    assert_names(&bad("2026-11-27T10:00:00Z", "2026-11-26T10:00:00Z"), "time");
    // Empty once sub-millisecond digits are dropped.
    assert_names(
        &bad("2026-11-26T23:59:59.999Z", "2026-11-26T23:59:59.9991Z"),
        "time",
    );
    // Outside retention: ends at or before the horizon (2026-10-28).
    assert_names(&bad("2026-10-01T00:00:00Z", "2026-10-28T00:00:00Z"), "time");
    assert_names(
        &bad("2026-10-01T00:00:00Z", "2026-10-28T01:00:00+01:00"),
        "time",
    );
    assert_names(&bad("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"), "time");
    // Neither timestamps nor dates (a date is a whole day: see
    // tests/first_hour.rs).
    assert_names(&bad("yesterday", "2026-11-27T00:00:00Z"), "time.from");
    assert_names(&bad("2026-11-27T00:00:00Z", "2026-11-31"), "time.to");
    // last_days outside 1..=31.
    for days in [0, 32, 1000] {
        let m = db.err(&Query::count().last_days(days));
        assert_names(&m, "time");
        assert_names(&m, "last_days");
    }
}

#[test]
fn error_shape() {
    let db = db();
    // group_by on a listing, fields on a count.
    let mut q = Query::events().group_by(&[Field::CompanyName]);
    assert_names(&db.err(&q), "group_by");
    q = Query::count();
    q.fields = vec!["event_id".into()];
    assert_names(&db.err(&q), "fields");
    // order_by a field not grouped by; count on a listing.
    let q = Query::count()
        .group_by(&[Field::CompanyName])
        .order_by_count(Direction::Desc)
        .order_by(Field::UserId, Direction::Asc);
    let m = db.err(&q);
    assert_names(&m, "order_by[1]");
    assert_names(&m, "user_id");
    let q = Query::count().order_by(Field::CompanyName, Direction::Asc);
    assert_names(&db.err(&q), "order_by[0]");
    let q = Query::events().order_by_count(Direction::Desc);
    assert_names(&db.err(&q), "order_by[0]");
    // A group field twice.
    let q = Query::count().group_by(&[Field::CompanyName, Field::CompanyName]);
    assert_names(&db.err(&q), "group_by[1]");
    // More than 8 group fields.
    let q = Query::count().group_by(&[
        Field::EventType,
        Field::EventName,
        Field::ToolName,
        Field::CompanyName,
        Field::DeviceType,
        Field::IsApi,
        Field::UserId,
        Field::UserEmail,
        Field::UserName,
    ]);
    assert_names(&db.err(&q), "group_by");
}

#[test]
fn error_bad_cursor() {
    let db = db();
    let q = listing().limit(2);
    let first = db.run(&q);
    let cursor = first.next_cursor.clone().unwrap();
    for bad in ["", "zz", "abc", "00", "7b7d", &cursor[..cursor.len() - 2]] {
        let mut q = q.clone();
        q.cursor = Some(bad.to_string());
        assert_names(&db.err(&q), "cursor");
    }
    // A cursor of another sort order.
    let mut other = listing()
        .order_by(Field::CompanyName, Direction::Asc)
        .limit(2);
    other.cursor = Some(cursor.clone());
    assert_names(&db.err(&other), "cursor");
    // Counts page with offset, not cursors.
    let mut count = Query::count();
    count.cursor = Some(cursor.clone());
    assert_names(&db.err(&count), "cursor");
    // The cursor itself works.
    let mut q2 = q.clone();
    q2.cursor = Some(cursor);
    assert_eq!(id_rows(&db.run(&q2)), "gb");
}

// ---------------------------------------------------------------------------
// Regressions: the engine disagreed with the query specification here
// (found by the differential tests' author; fixed in src/query).

/// Spec: `next_cursor` is present iff a limit was given and more rows
/// exist after the page. A `limit: 0` page is empty, and every row is
/// after it. The engine returns no cursor (it only makes one from the last
/// row of a non-empty page).
#[test]
fn regression_limit_zero_page_has_a_next_cursor() {
    let db = db();
    let r = db.run(&listing().limit(0));
    assert_eq!(r.rows, Vec::<Vec<Scalar>>::new());
    assert_eq!(r.matched_events, Some(7));
    assert!(
        r.next_cursor.is_some(),
        "7 rows follow an empty page: {r:?}"
    );
}

/// Spec: passing `next_cursor` as `cursor` in the same query returns the
/// rows strictly after the last returned row. With an `offset` in the
/// query, the engine skips `offset` rows again after the cursor, so paging
/// the same query leaves gaps (here: `b`).
#[test]
fn regression_cursor_in_the_same_query_with_offset_skips_rows() {
    let db = db();
    let mut q = listing().limit(2);
    q.offset = Some(1);
    let r = db.run(&q);
    assert_eq!(id_rows(&r), "cg");
    q.cursor = r.next_cursor;
    assert_eq!(id_rows(&db.run(&q)), "ba");
}

/// A limit near the top of `u64` ("no limit" written as `u64::MAX` or
/// `i64::MAX`): the listing's top-k buffer computes `2 * k` with
/// `k = offset + limit + 1`, which overflows. Debug builds panic
/// ("attempt to multiply with overflow", src/query/partial.rs
/// `TopRows::push`); release builds wrap to a tiny trim threshold and
/// re-sort the kept rows on every row (quadratic: 20,000 buffered rows take
/// seconds instead of milliseconds).
#[test]
fn regression_huge_limit_lists_everything() {
    let db = db();
    for limit in [u64::MAX, i64::MAX as u64, 1 << 63] {
        let mut q = listing().order_by(Field::CompanyName, Direction::Asc);
        q.limit = Some(limit);
        let r = db.run(&q);
        assert_eq!(id_rows(&r), "bagdfec");
        assert_eq!(r.next_cursor, None);
        q.offset = Some(2);
        assert_eq!(id_rows(&db.run(&q)), "gdfec");
        let mut q = listing();
        q.limit = Some(limit);
        assert_eq!(id_rows(&db.run(&q)), "ecgbadf");
    }
    // Offsets past the end, with and without a limit.
    let mut q = listing();
    q.offset = Some(u64::MAX);
    assert_eq!(id_rows(&db.run(&q)), "");
    q.limit = Some(3);
    let r = db.run(&q);
    assert_eq!(
        (id_rows(&r), r.next_cursor, r.matched_events),
        (String::new(), None, Some(7))
    );
    let mut q = Query::count().group_by(&[Field::EventType]);
    q.offset = Some(u64::MAX);
    q.limit = Some(u64::MAX);
    assert_eq!(db.run(&q).rows, Vec::<Vec<Scalar>>::new());
}
