//! Deterministic tests of every query operator on every field type, of
//! windows at day boundaries and UTC offsets, of ordering, grouping and
//! paging, and of every error a query can get. Expected answers are
//! written out by hand for a fixed set of seven events.
//!
//! Every query runs on the same events held four ways: buffered only,
//! sealed, half sealed and half buffered, and compacted then reopened; all
//! four must give the same answer.

mod common;
#[path = "common/query_fixture.rs"]
mod fixture;

use daybook::EventType;
use daybook::Field;
use daybook::query::{Direction, Op, Query, Scalar};
use fixture::*;
use serde_json::json;

// ---------------------------------------------------------------------------
// Operators by field type.

#[test]
fn string_ops_required_field() {
    let db = db();
    // Bytewise: "Bâtiments Ødegård" < "Granite Ridge" < "Granite Ridge
    // Builders" < "Zeta" < "granite ridge" < "建設".
    let f = "company_name";
    assert_eq!(db.w(f, Op::Eq, "Granite Ridge"), ids("ag"));
    assert_eq!(db.w(f, Op::Eq, "Granite"), ids(""));
    assert_eq!(db.w(f, Op::Eq, "建設"), ids("c"));
    assert_eq!(db.w(f, Op::Ne, "Granite Ridge"), ids("bcdef"));
    assert_eq!(db.w(f, Op::Lt, "Granite Ridge"), ids("b"));
    assert_eq!(db.w(f, Op::Le, "Granite Ridge"), ids("abg"));
    assert_eq!(db.w(f, Op::Gt, "Granite Ridge"), ids("cdef"));
    assert_eq!(db.w(f, Op::Ge, "Zeta"), ids("cef"));
    assert_eq!(db.w(f, Op::Gt, "granite ridge"), ids("c"));
    assert_eq!(db.w(f, Op::In, json!(["建設", "Zeta", "Nope"])), ids("cf"));
    assert_eq!(db.w(f, Op::In, json!([])), ids(""));
    assert_eq!(
        db.w(f, Op::NotIn, json!(["Granite Ridge", "granite ridge"])),
        ids("bcdf")
    );
    assert_eq!(db.w(f, Op::NotIn, json!([])), ids("abcdefg"));
    assert_eq!(db.w(f, Op::Contains, "Ridge"), ids("adg"));
    assert_eq!(db.w(f, Op::Contains, "Ø"), ids("b"));
    assert_eq!(db.w(f, Op::Contains, "ø"), ids(""));
    assert_eq!(db.w(f, Op::Contains, ""), ids("abcdefg"));
    assert_eq!(db.w(f, Op::StartsWith, "Granite"), ids("adg"));
    assert_eq!(db.w(f, Op::StartsWith, "建"), ids("c"));
    assert_eq!(db.w(f, Op::StartsWith, "Ridge"), ids(""));
    assert_eq!(db.w(f, Op::IsNull, NONE), ids(""));
    assert_eq!(db.w(f, Op::NotNull, NONE), ids("abcdefg"));
}

#[test]
fn string_ops_with_missing_values() {
    let db = db();
    // a d g: Detail; c: détail; e: List; b f: missing.
    let f = "event_subtype";
    assert_eq!(db.w(f, Op::Eq, "Detail"), ids("adg"));
    assert_eq!(db.w(f, Op::Ne, "Detail"), ids("ce"));
    assert_eq!(db.w(f, Op::Lt, "List"), ids("adg"));
    assert_eq!(db.w(f, Op::Le, "List"), ids("adeg"));
    assert_eq!(db.w(f, Op::Gt, "List"), ids("c"));
    assert_eq!(db.w(f, Op::Ge, ""), ids("acdeg"));
    assert_eq!(db.w(f, Op::In, json!(["List", "détail"])), ids("ce"));
    assert_eq!(db.w(f, Op::NotIn, json!(["Detail"])), ids("ce"));
    assert_eq!(db.w(f, Op::NotIn, json!([])), ids("acdeg"));
    assert_eq!(db.w(f, Op::Contains, "tail"), ids("acdg"));
    assert_eq!(db.w(f, Op::Contains, ""), ids("acdeg"));
    assert_eq!(db.w(f, Op::StartsWith, "d"), ids("c"));
    assert_eq!(db.w(f, Op::IsNull, NONE), ids("bf"));
    assert_eq!(db.w(f, Op::NotNull, NONE), ids("acdeg"));
    // A field missing everywhere.
    assert_eq!(db.w("user_role", Op::IsNull, NONE), ids("abcdefg"));
    assert_eq!(db.w("user_role", Op::Ne, "Admin"), ids(""));
    assert_eq!(db.w("user_role", Op::NotIn, json!(["Admin"])), ids(""));
    // url: only a has one.
    assert_eq!(db.w("url", Op::StartsWith, "https://"), ids("a"));
    assert_eq!(db.w("url", Op::Ne, "x"), ids("a"));
    assert_eq!(db.w("url", Op::IsNull, NONE), ids("bcdefg"));
}

#[test]
fn integer_ops_beyond_2_pow_53() {
    let db = db();
    // user_id: a 2^53+1, b 2^53, c e g 7, d 2^63-1, f 1.
    let f = "user_id";
    assert_eq!(db.w(f, Op::Eq, P53 + 1), ids("a"));
    assert_eq!(db.w(f, Op::Eq, P53), ids("b"));
    assert_eq!(db.w(f, Op::Eq, MAX_ID), ids("d"));
    assert_eq!(db.w(f, Op::Ne, 7u64), ids("abdf"));
    assert_eq!(db.w(f, Op::Lt, P53 + 1), ids("bcefg"));
    assert_eq!(db.w(f, Op::Le, P53), ids("bcefg"));
    assert_eq!(db.w(f, Op::Gt, P53), ids("ad"));
    assert_eq!(db.w(f, Op::Ge, MAX_ID), ids("d"));
    assert_eq!(db.w(f, Op::Gt, MAX_ID), ids(""));
    assert_eq!(db.w(f, Op::In, json!([1, P53 + 1])), ids("af"));
    assert_eq!(db.w(f, Op::NotIn, json!([7, 1])), ids("abd"));
    assert_eq!(db.w(f, Op::IsNull, NONE), ids(""));
    assert_eq!(db.w(f, Op::NotNull, NONE), ids("abcdefg"));
    // object_id: a 2^63-1, c 2^53+1, d 0, e 5; b f g missing.
    let f = "object_id";
    assert_eq!(db.w(f, Op::Eq, 0u64), ids("d"));
    assert_eq!(db.w(f, Op::Eq, P53 + 1), ids("c"));
    assert_eq!(db.w(f, Op::Eq, P53), ids(""));
    assert_eq!(db.w(f, Op::Ne, 0u64), ids("ace"));
    assert_eq!(db.w(f, Op::Lt, P53 + 1), ids("de"));
    assert_eq!(db.w(f, Op::Le, P53 + 1), ids("cde"));
    assert_eq!(db.w(f, Op::Gt, 5u64), ids("ac"));
    assert_eq!(db.w(f, Op::Ge, 0u64), ids("acde"));
    assert_eq!(db.w(f, Op::In, json!([MAX_ID])), ids("a"));
    assert_eq!(db.w(f, Op::NotIn, json!([5])), ids("acd"));
    assert_eq!(db.w(f, Op::IsNull, NONE), ids("bfg"));
    assert_eq!(db.w(f, Op::NotNull, NONE), ids("acde"));
}

#[test]
fn bool_ops() {
    let db = db();
    // is_api: b d true.
    let f = "is_api";
    assert_eq!(db.w(f, Op::Eq, true), ids("bd"));
    assert_eq!(db.w(f, Op::Ne, true), ids("acefg"));
    assert_eq!(db.w(f, Op::Lt, true), ids("acefg"));
    assert_eq!(db.w(f, Op::Le, false), ids("acefg"));
    assert_eq!(db.w(f, Op::Gt, false), ids("bd"));
    assert_eq!(db.w(f, Op::Ge, false), ids("abcdefg"));
    assert_eq!(db.w(f, Op::In, json!([true])), ids("bd"));
    assert_eq!(db.w(f, Op::NotIn, json!([false])), ids("bd"));
    assert_eq!(db.w(f, Op::IsNull, NONE), ids(""));
    // project_is_demo: a d true, b f false, c e g missing.
    let f = "project_is_demo";
    assert_eq!(db.w(f, Op::Eq, false), ids("bf"));
    assert_eq!(db.w(f, Op::Ne, false), ids("ad"));
    assert_eq!(db.w(f, Op::Gt, false), ids("ad"));
    assert_eq!(db.w(f, Op::Lt, true), ids("bf"));
    assert_eq!(db.w(f, Op::Le, true), ids("abdf"));
    assert_eq!(db.w(f, Op::Ge, false), ids("abdf"));
    assert_eq!(db.w(f, Op::In, json!([true, false])), ids("abdf"));
    assert_eq!(db.w(f, Op::NotIn, json!([true])), ids("bf"));
    assert_eq!(db.w(f, Op::IsNull, NONE), ids("ceg"));
    assert_eq!(db.w(f, Op::NotNull, NONE), ids("abdf"));
}

#[test]
fn date_ops() {
    let db = db();
    // event_date: a 11-26, b c g 11-27, d 11-25, e 11-28, f 10-28.
    let f = "event_date";
    assert_eq!(db.w(f, Op::Eq, "2026-11-27"), ids("bcg"));
    assert_eq!(db.w(f, Op::Ne, "2026-11-27"), ids("adef"));
    assert_eq!(db.w(f, Op::Lt, "2026-11-26"), ids("df"));
    assert_eq!(db.w(f, Op::Le, "2026-11-26"), ids("adf"));
    assert_eq!(db.w(f, Op::Gt, "2026-11-27"), ids("e"));
    assert_eq!(db.w(f, Op::Ge, "2026-11-27"), ids("bceg"));
    assert_eq!(db.w(f, Op::Eq, "2026-11-01"), ids(""));
    assert_eq!(
        db.w(f, Op::In, json!(["2026-11-25", "2026-10-28", "2026-01-01"])),
        ids("df")
    );
    assert_eq!(db.w(f, Op::NotIn, json!(["2026-11-27"])), ids("adef"));
    assert_eq!(db.w(f, Op::IsNull, NONE), ids(""));
    assert_eq!(db.w(f, Op::NotNull, NONE), ids("abcdefg"));
    // Combined with each other and with a window.
    let q = Query::count()
        .filter_named(f, Op::Ge, "2026-11-26")
        .filter_named(f, Op::Lt, "2026-11-28");
    assert_eq!(db.ids(&q), ids("abcg"));
    let q = Query::count()
        .last_days(2)
        .filter_named(f, Op::Le, "2026-11-26");
    assert_eq!(db.ids(&q), ids("a"));
    // user_last_login_date: a f 11-20, c 11-27, d 10-01; b e g missing.
    let f = "user_last_login_date";
    assert_eq!(db.w(f, Op::Eq, "2026-11-20"), ids("af"));
    assert_eq!(db.w(f, Op::Ne, "2026-11-20"), ids("cd"));
    assert_eq!(db.w(f, Op::Lt, "2026-11-27"), ids("adf"));
    assert_eq!(db.w(f, Op::Le, "2026-11-27"), ids("acdf"));
    assert_eq!(db.w(f, Op::Gt, "2026-10-01"), ids("acf"));
    assert_eq!(db.w(f, Op::Ge, "2026-11-20"), ids("acf"));
    assert_eq!(db.w(f, Op::In, json!(["2026-10-01"])), ids("d"));
    assert_eq!(db.w(f, Op::NotIn, json!(["2026-10-01"])), ids("acf"));
    assert_eq!(db.w(f, Op::IsNull, NONE), ids("beg"));
    assert_eq!(db.w(f, Op::NotNull, NONE), ids("acdf"));
}

#[test]
fn timestamp_ops_at_any_offset() {
    let db = db();
    let f = "event_timestamp";
    // a = 2026-11-26T23:59:59.999Z, written at +02:00.
    assert_eq!(db.w(f, Op::Eq, "2026-11-27T01:59:59.999+02:00"), ids("a"));
    // b = 2026-11-27T00:00:00.000Z, written at -05:00.
    assert_eq!(db.w(f, Op::Eq, "2026-11-26T19:00:00-05:00"), ids("b"));
    // c g = 10:00Z; sub-millisecond digits are dropped.
    assert_eq!(db.w(f, Op::Eq, "2026-11-27T10:00:00.0009Z"), ids("cg"));
    assert_eq!(db.w(f, Op::Eq, "2026-11-27T10:00:00.001Z"), ids(""));
    let b = "2026-11-27T05:30:00.000+05:30";
    assert_eq!(db.w(f, Op::Lt, b), ids("adf"));
    assert_eq!(db.w(f, Op::Le, b), ids("abdf"));
    assert_eq!(db.w(f, Op::Gt, "2026-11-26T23:59:59.999Z"), ids("bceg"));
    assert_eq!(db.w(f, Op::Ge, "2026-11-27T10:00:00Z"), ids("ceg"));
    assert_eq!(db.w(f, Op::Ne, "2026-11-27T10:00:00Z"), ids("abdef"));
    assert_eq!(
        db.w(
            f,
            Op::In,
            json!(["2026-11-26T23:59:59.999Z", "2026-11-28T12:00:00+01:00"])
        ),
        ids("ae")
    );
    assert_eq!(
        db.w(f, Op::NotIn, json!(["2026-11-27T11:00:00+01:00"])),
        ids("abdef")
    );
    assert_eq!(db.w(f, Op::IsNull, NONE), ids(""));
    assert_eq!(db.w(f, Op::NotNull, NONE), ids("abcdefg"));
    // Ranges on the timestamp combine with the window and each other.
    let q = Query::count()
        .between("2026-11-26T00:00:00Z", "2026-11-28T00:00:00Z")
        .filter_named(f, Op::Gt, "2026-11-26T23:59:59.999Z")
        .filter_named(f, Op::Le, "2026-11-27T10:00:00Z");
    assert_eq!(db.ids(&q), ids("bcg"));
    let q = Query::count()
        .filter_named(f, Op::Ge, "2026-11-27T10:00:00Z")
        .filter_named(f, Op::Lt, "2026-11-27T10:00:00Z");
    assert_eq!(db.ids(&q), ids(""));
}

#[test]
fn event_type_ops_compare_spellings() {
    let db = db();
    // a f g View, b Create/Update, c Close, d Withdraw/Void, e Delete.
    // By spelling: Close < Create/Update < Delete < View < Withdraw/Void.
    let f = "event_type";
    assert_eq!(db.w(f, Op::Eq, "Create/Update"), ids("b"));
    assert_eq!(db.w(f, Op::Eq, "Publish"), ids(""));
    assert_eq!(db.w(f, Op::Ne, "View"), ids("bcde"));
    assert_eq!(db.w(f, Op::Lt, "Create/Update"), ids("c"));
    assert_eq!(db.w(f, Op::Lt, "Create"), ids("c"));
    assert_eq!(db.w(f, Op::Gt, "Create"), ids("abdefg"));
    assert_eq!(db.w(f, Op::Le, "D"), ids("bc"));
    assert_eq!(db.w(f, Op::Ge, "Delete"), ids("adefg"));
    assert_eq!(db.w(f, Op::Gt, "View"), ids("d"));
    assert_eq!(
        db.w(f, Op::In, json!(["Close", "Withdraw/Void", "Publish"])),
        ids("cd")
    );
    assert_eq!(db.w(f, Op::NotIn, json!(["View"])), ids("bcde"));
    assert_eq!(db.w(f, Op::Contains, "/"), ids("bd"));
    assert_eq!(db.w(f, Op::Contains, "e"), ids("abcefg"));
    assert_eq!(db.w(f, Op::StartsWith, "W"), ids("d"));
    assert_eq!(db.w(f, Op::StartsWith, "view"), ids(""));
    assert_eq!(db.w(f, Op::IsNull, NONE), ids(""));
    assert_eq!(db.w(f, Op::NotNull, NONE), ids("abcdefg"));
}

#[test]
fn predicates_are_anded() {
    let db = db();
    let q = Query::count()
        .filter(Field::CompanyName, Op::StartsWith, "Granite")
        .filter(Field::UserId, Op::Ne, 7u64)
        .filter(Field::EventType, Op::Ne, "Withdraw/Void");
    assert_eq!(db.ids(&q), ids("a"));
    let q = Query::count()
        .filter(Field::EventSubtype, Op::Eq, "Detail")
        .filter_named("object_id", Op::IsNull, NONE);
    assert_eq!(db.ids(&q), ids("g"));
}

// ---------------------------------------------------------------------------
// Windows.

#[test]
fn windows_at_day_boundaries() {
    let db = db();
    let a = "2026-11-26T23:59:59.999Z";
    let b = "2026-11-27T00:00:00.000Z";
    assert_eq!(db.window(a, b), ids("a"));
    assert_eq!(db.window(a, "2026-11-27T00:00:00.001Z"), ids("ab"));
    assert_eq!(db.window(b, "2026-11-27T10:00:00Z"), ids("b"));
    assert_eq!(db.window(b, "2026-11-27T10:00:00.001Z"), ids("bcg"));
    assert_eq!(db.window("2026-11-26T00:00:00Z", a), ids(""));
    assert_eq!(
        db.window("2026-11-26T23:59:59.998Z", "2026-11-26T23:59:59.999Z"),
        ids("")
    );
    // The same instants at other offsets.
    assert_eq!(
        db.window("2026-11-27T01:59:59.999+02:00", "2026-11-26T19:00:00-05:00"),
        ids("a")
    );
    // [b, c): 2026-11-27T00:00Z to 10:00Z at -10:00 and +13:45.
    assert_eq!(
        db.window("2026-11-26T14:00:00-10:00", "2026-11-27T23:45:00+13:45"),
        ids("b")
    );
    assert_eq!(
        db.window("2026-11-26T14:00:00-10:00", "2026-11-27T23:45:00.001+13:45"),
        ids("bcg")
    );
    // Everything, whatever the offsets say.
    assert_eq!(
        db.window("2026-10-01T00:00:00+14:00", "2026-12-01T00:00:00-12:00"),
        ids("abcdefg")
    );
    // Starts before the horizon (2026-10-28): cut to it.
    assert_eq!(
        db.window("2026-09-01T00:00:00Z", "2026-10-28T00:00:00.001Z"),
        ids("f")
    );
    // Ends after now: tomorrow's event is there.
    assert_eq!(
        db.window("2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z"),
        ids("e")
    );
}

#[test]
fn last_days_and_no_window() {
    let db = db();
    // Whole UTC days, today included; tomorrow's event is never in them.
    assert_eq!(db.ids(&Query::count().last_days(1)), ids("bcg"));
    assert_eq!(db.ids(&Query::count().last_days(2)), ids("abcg"));
    assert_eq!(db.ids(&Query::count().last_days(3)), ids("abcdg"));
    assert_eq!(db.ids(&Query::count().last_days(30)), ids("abcdg"));
    assert_eq!(db.ids(&Query::count().last_days(31)), ids("abcdfg"));
    // No window: everything retained.
    assert_eq!(db.ids(&Query::count()), ids("abcdefg"));
}

#[test]
fn retention_moves_with_the_clock() {
    let (_dir, c, engine) = mixed_engine();
    let count = |q: &Query| engine.query(q).unwrap().rows;
    assert_eq!(count(&Query::count()), vec![vec![Scalar::Int(7)]]);
    // One day later f's day (2026-10-28) is out of retention.
    c.advance_ms(86_400_000);
    assert_eq!(count(&Query::count()), vec![vec![Scalar::Int(6)]]);
    assert_eq!(
        count(&Query::count().between("2026-10-01T00:00:00Z", "2026-11-27T00:00:00Z")),
        vec![vec![Scalar::Int(2)]]
    );
    // last_days(1) is now 2026-11-28: e only.
    assert_eq!(
        count(&Query::count().last_days(1)),
        vec![vec![Scalar::Int(1)]]
    );
    let e = engine
        .query(&Query::count().between("2026-10-01T00:00:00Z", "2026-10-29T00:00:00Z"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("time"), "{e}");
}

// ---------------------------------------------------------------------------
// Counts.

#[test]
fn count_without_groups_is_one_row() {
    let db = db();
    let r = db.run(&Query::count());
    assert_eq!(r.columns, vec!["count"]);
    assert_eq!(r.rows, vec![vec![n(7)]]);
    assert_eq!(r.matched_events, Some(7));
    assert_eq!(r.next_cursor, None);
    let r = db.run(&Query::count().filter(Field::CompanyName, Op::Eq, "Nope"));
    assert_eq!(r.rows, vec![vec![n(0)]]);
    assert_eq!(r.matched_events, Some(0));
    let r = db.run(
        &Query::count()
            .filter(Field::CompanyName, Op::Eq, "Nope")
            .group_by(&[Field::CompanyName]),
    );
    assert_eq!(r.columns, vec!["company_name", "count"]);
    assert_eq!(r.rows, Vec::<Vec<Scalar>>::new());
}

#[test]
fn groups_sort_by_value_with_missing_lowest() {
    let db = db();
    let q = Query::count().group_by(&[Field::EventType]);
    let t = Scalar::EventType;
    assert_eq!(
        db.run(&q).rows,
        vec![
            vec![t(EventType::Close), n(1)],
            vec![t(EventType::CreateUpdate), n(1)],
            vec![t(EventType::Delete), n(1)],
            vec![t(EventType::View), n(3)],
            vec![t(EventType::WithdrawVoid), n(1)],
        ]
    );
    let q = Query::count().group_by(&[Field::EventSubtype]);
    let r = db.run(&q);
    assert_eq!(r.columns, vec!["event_subtype", "count"]);
    assert_eq!(
        r.rows,
        vec![
            vec![Scalar::Null, n(2)],
            vec![s("Detail"), n(3)],
            vec![s("List"), n(1)],
            vec![s("détail"), n(1)],
        ]
    );
    let q = Query::count()
        .group_by(&[Field::EventSubtype])
        .order_by(Field::EventSubtype, Direction::Desc);
    assert_eq!(
        db.run(&q).rows,
        vec![
            vec![s("détail"), n(1)],
            vec![s("List"), n(1)],
            vec![s("Detail"), n(3)],
            vec![Scalar::Null, n(2)],
        ]
    );
    let q = Query::count()
        .group_by(&[Field::EventSubtype])
        .order_by_count(Direction::Desc);
    assert_eq!(
        db.run(&q).rows,
        vec![
            vec![s("Detail"), n(3)],
            vec![Scalar::Null, n(2)],
            vec![s("List"), n(1)],
            vec![s("détail"), n(1)],
        ]
    );
    let q = Query::count()
        .group_by(&[Field::EventSubtype])
        .order_by_count(Direction::Asc);
    assert_eq!(
        db.run(&q).rows,
        vec![
            vec![s("List"), n(1)],
            vec![s("détail"), n(1)],
            vec![Scalar::Null, n(2)],
            vec![s("Detail"), n(3)],
        ]
    );
}

#[test]
fn groups_of_several_fields_and_every_kind() {
    let db = db();
    let q = Query::count().group_by(&[Field::ProjectIsDemo, Field::IsApi]);
    let bo = Scalar::Bool;
    assert_eq!(
        db.run(&q).rows,
        vec![
            vec![Scalar::Null, bo(false), n(3)],
            vec![bo(false), bo(false), n(1)],
            vec![bo(false), bo(true), n(1)],
            vec![bo(true), bo(false), n(1)],
            vec![bo(true), bo(true), n(1)],
        ]
    );
    // Tie-breaks: the group fields ascending, after the given keys.
    let q = Query::count()
        .group_by(&[Field::IsApi, Field::ProjectIsDemo])
        .order_by_count(Direction::Desc)
        .order_by(Field::IsApi, Direction::Desc);
    assert_eq!(
        db.run(&q).rows,
        vec![
            vec![bo(false), Scalar::Null, n(3)],
            vec![bo(true), bo(false), n(1)],
            vec![bo(true), bo(true), n(1)],
            vec![bo(false), bo(false), n(1)],
            vec![bo(false), bo(true), n(1)],
        ]
    );
    // Integers above 2^53 stay distinct.
    let q = Query::count().group_by(&[Field::UserId]);
    assert_eq!(
        db.run(&q).rows,
        vec![
            vec![n(1), n(1)],
            vec![n(7), n(3)],
            vec![n(P53), n(1)],
            vec![n(P53 + 1), n(1)],
            vec![n(MAX_ID), n(1)],
        ]
    );
    let q = Query::count().group_by(&[Field::ObjectId]);
    assert_eq!(
        db.run(&q).rows,
        vec![
            vec![Scalar::Null, n(3)],
            vec![n(0), n(1)],
            vec![n(5), n(1)],
            vec![n(P53 + 1), n(1)],
            vec![n(MAX_ID), n(1)],
        ]
    );
    // Dates and timestamps.
    let q = Query::count()
        .between("2026-11-26T12:00:00Z", "2026-11-27T12:00:00+00:00")
        .group_by(&[Field::EventDate]);
    let r = db.run(&q);
    assert_eq!(
        r.rows,
        vec![
            vec![Scalar::Date(day("2026-11-26")), n(1)],
            vec![Scalar::Date(day("2026-11-27")), n(3)],
        ]
    );
    assert_eq!(r.matched_events, Some(4));
    let q = Query::count()
        .last_days(1)
        .group_by(&[Field::EventTimestamp])
        .order_by(Field::EventTimestamp, Direction::Desc);
    assert_eq!(
        db.run(&q).rows,
        vec![
            vec![Scalar::Timestamp(ts("2026-11-27T10:00:00Z")), n(2)],
            vec![Scalar::Timestamp(ts("2026-11-27T00:00:00Z")), n(1)],
        ]
    );
    let q = Query::count()
        .group_by(&[Field::UserLastLoginDate, Field::CompanyName])
        .filter_named("user_last_login_date", Op::NotNull, NONE);
    assert_eq!(
        db.run(&q).rows,
        vec![
            vec![
                Scalar::Date(day("2026-10-01")),
                s("Granite Ridge Builders"),
                n(1)
            ],
            vec![Scalar::Date(day("2026-11-20")), s("Granite Ridge"), n(1)],
            vec![Scalar::Date(day("2026-11-20")), s("Zeta"), n(1)],
            vec![Scalar::Date(day("2026-11-27")), s("建設"), n(1)],
        ]
    );
}

#[test]
fn count_pages_with_offset_and_limit() {
    let db = db();
    let q = Query::count()
        .group_by(&[Field::EventType])
        .order_by_count(Direction::Desc)
        .limit(2);
    let r = db.run(&q);
    assert_eq!(
        r.rows,
        vec![
            vec![Scalar::EventType(EventType::View), n(3)],
            vec![Scalar::EventType(EventType::Close), n(1)],
        ]
    );
    assert_eq!(r.matched_events, Some(7));
    assert_eq!(r.next_cursor, None);
    let mut q2 = q.clone();
    q2.offset = Some(1);
    assert_eq!(
        db.run(&q2).rows,
        vec![
            vec![Scalar::EventType(EventType::Close), n(1)],
            vec![Scalar::EventType(EventType::CreateUpdate), n(1)],
        ]
    );
    q2.offset = Some(4);
    assert_eq!(
        db.run(&q2).rows,
        vec![vec![Scalar::EventType(EventType::WithdrawVoid), n(1)]]
    );
    q2.offset = Some(5);
    assert_eq!(db.run(&q2).rows, Vec::<Vec<Scalar>>::new());
    // Without groups the one row pages too.
    let mut q3 = Query::count();
    q3.offset = Some(1);
    let r = db.run(&q3);
    assert_eq!(r.rows, Vec::<Vec<Scalar>>::new());
    assert_eq!(r.matched_events, Some(7));
}
