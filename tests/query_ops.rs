//! Deterministic tests of every query operator on every field type, of
//! windows at day boundaries and UTC offsets, of ordering, grouping and
//! paging, and of every error a query can get. Expected answers are
//! written out by hand for a fixed set of seven events.
//!
//! Every query runs on the same events held four ways: buffered only,
//! sealed, half sealed and half buffered, and compacted then reopened; all
//! four must give the same answer.

mod common;

use std::sync::Arc;

use common::clock;
use daybook::query::{Direction, Op, Query, Scalar, TimeWindow};
use daybook::time::parse_rfc3339_ms;
use daybook::{Day, Engine, Event, EventType, Field, Options, QueryResult};
use serde_json::{Value as J, json};

const MAX_ID: u64 = i64::MAX as u64;
const P53: u64 = 1 << 53;

fn ts(s: &str) -> i64 {
    parse_rfc3339_ms(s).unwrap()
}

fn day(s: &str) -> Day {
    Day::parse(s).unwrap()
}

/// An event with every optional field missing.
fn base(id: &str, at: &str) -> Event {
    Event {
        event_id: id.into(),
        event_timestamp_ms: ts(at),
        event_type: EventType::View,
        event_name: "Viewed".into(),
        event_subtype: None,
        tool_name: "RFIs".into(),
        company_name: "Granite Ridge".into(),
        project_name: None,
        project_number: None,
        project_is_demo: None,
        object_id: None,
        url: None,
        device_type: "Web".into(),
        is_api: false,
        user_id: 1,
        user_email: "u@x.example".into(),
        user_login_email: None,
        user_name: "U".into(),
        user_job_title: None,
        user_role: None,
        user_type: None,
        user_default_permission_template: None,
        user_is_active: None,
        user_is_authorized_bidder: None,
        user_last_login_date: None,
    }
}

/// Now is 2026-11-27T12:00:00Z; retention 31 days: 2026-10-28 onwards.
///
/// | id | event_timestamp          | type          | company                | subtype | user_id  | object_id | is_api | demo  | last login |
/// |----|--------------------------|---------------|------------------------|---------|----------|-----------|--------|-------|------------|
/// | a  | 2026-11-26T23:59:59.999Z | View          | Granite Ridge          | Detail  | 2^53+1   | 2^63-1    | false  | true  | 2026-11-20 |
/// | b  | 2026-11-27T00:00:00.000Z | Create/Update | Bâtiments Ødegård      | -       | 2^53     | -         | true   | false | -          |
/// | c  | 2026-11-27T10:00:00.000Z | Close         | 建設                   | détail  | 7        | 2^53+1    | false  | -     | 2026-11-27 |
/// | d  | 2026-11-25T12:00:00.000Z | Withdraw/Void | Granite Ridge Builders | Detail  | 2^63-1   | 0         | true   | true  | 2026-10-01 |
/// | e  | 2026-11-28T11:00:00.000Z | Delete        | granite ridge          | List    | 7        | 5         | false  | -     | -          |
/// | f  | 2026-10-28T00:00:00.000Z | View          | Zeta                   | -       | 1        | -         | false  | false | 2026-11-20 |
/// | g  | 2026-11-27T10:00:00.000Z | View          | Granite Ridge          | Detail  | 7        | -         | false  | -     | -          |
///
/// `e` is tomorrow (accepted: within a day of now); `f` is on the oldest
/// retained day. A second copy of `c` (different company) is dropped.
fn events() -> (Vec<Event>, Vec<Event>) {
    let mut a = base("a", "2026-11-26T23:59:59.999Z");
    a.company_name = "Granite Ridge".into();
    a.event_subtype = Some("Detail".into());
    a.user_id = P53 + 1;
    a.object_id = Some(MAX_ID);
    a.project_is_demo = Some(true);
    a.user_last_login_date = Some(day("2026-11-20"));
    a.url = Some("https://app.example.com/p/1".into());

    let mut b = base("b", "2026-11-27T00:00:00.000Z");
    b.event_type = EventType::CreateUpdate;
    b.company_name = "Bâtiments Ødegård".into();
    b.user_id = P53;
    b.is_api = true;
    b.project_is_demo = Some(false);

    let mut c = base("c", "2026-11-27T10:00:00.000Z");
    c.event_type = EventType::Close;
    c.company_name = "建設".into();
    c.event_subtype = Some("détail".into());
    c.user_id = 7;
    c.object_id = Some(P53 + 1);
    c.user_last_login_date = Some(day("2026-11-27"));

    let mut d = base("d", "2026-11-25T12:00:00.000Z");
    d.event_type = EventType::WithdrawVoid;
    d.company_name = "Granite Ridge Builders".into();
    d.event_subtype = Some("Detail".into());
    d.user_id = MAX_ID;
    d.object_id = Some(0);
    d.is_api = true;
    d.project_is_demo = Some(true);
    d.user_last_login_date = Some(day("2026-10-01"));

    let mut e = base("e", "2026-11-28T11:00:00.000Z");
    e.event_type = EventType::Delete;
    e.company_name = "granite ridge".into();
    e.event_subtype = Some("List".into());
    e.user_id = 7;
    e.object_id = Some(5);

    let mut f = base("f", "2026-10-28T00:00:00.000Z");
    f.company_name = "Zeta".into();
    f.project_is_demo = Some(false);
    f.user_last_login_date = Some(day("2026-11-20"));

    let mut g = base("g", "2026-11-27T10:00:00.000Z");
    g.event_subtype = Some("Detail".into());
    g.user_id = 7;

    let mut c2 = c.clone();
    c2.company_name = "Zeta".into();
    (vec![d, c, a, f], vec![g, c2, e, b])
}

/// The same events, held four ways.
struct Db {
    _dirs: Vec<tempfile::TempDir>,
    engines: Vec<(&'static str, Engine)>,
}

fn opts(c: &daybook::ManualClock) -> Options {
    Options {
        clock: Arc::new(c.clone()),
        max_buffered_events: 1 << 20,
        compact_min_segments: 0,
        ..Options::default()
    }
}

fn db() -> Db {
    let (first, second) = events();
    let c = clock();
    let mut dirs = Vec::new();
    let mut engines = Vec::new();
    for state in ["buffered", "sealed", "mixed", "compacted+reopened"] {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = Engine::open(dir.path(), opts(&c)).unwrap();
        let r = engine.append(first.clone()).unwrap();
        assert_eq!((r.stored, r.duplicates, r.rejected.len()), (4, 0, 0));
        if state != "buffered" {
            engine.flush().unwrap();
        }
        let r = engine.append(second.clone()).unwrap();
        assert_eq!((r.stored, r.duplicates, r.rejected.len()), (3, 1, 0));
        match state {
            "sealed" => engine.flush().unwrap(),
            "compacted+reopened" => {
                engine.flush().unwrap();
                engine.compact().unwrap();
                drop(engine);
                engine = Engine::open(dir.path(), opts(&c)).unwrap();
            }
            _ => {}
        }
        dirs.push(dir);
        engines.push((state, engine));
    }
    Db {
        _dirs: dirs,
        engines,
    }
}

impl Db {
    /// The answer, the same in every state.
    fn run(&self, q: &Query) -> QueryResult {
        let mut first: Option<QueryResult> = None;
        for (state, engine) in &self.engines {
            let r = engine
                .query(q)
                .unwrap_or_else(|e| panic!("[{state}] {}: {e}", q.to_json()));
            let (x, _) = engine.explain(q).unwrap();
            assert_eq!(x, r, "[{state}] explain differs: {}", q.to_json());
            match &first {
                None => first = Some(r),
                Some(f) => assert_eq!(&r, f, "[{state}] differs: {}", q.to_json()),
            }
        }
        first.unwrap()
    }

    /// The error message, the same in every state.
    fn err(&self, q: &Query) -> String {
        let mut first: Option<String> = None;
        for (state, engine) in &self.engines {
            let msg = match engine.query(q) {
                Ok(r) => panic!("[{state}] accepted {}: {r:?}", q.to_json()),
                Err(e) => e.to_string(),
            };
            match &first {
                None => first = Some(msg),
                Some(f) => assert_eq!(&msg, f, "[{state}]"),
            }
        }
        first.unwrap()
    }

    /// The ids of the events `q` (its window and filters) matches, in id
    /// order; also checks the count agrees.
    fn ids(&self, q: &Query) -> Vec<String> {
        let mut list = q.clone();
        list.select = daybook::Select::Events;
        list.fields = vec!["event_id".into()];
        list.order_by = vec![("event_id".into(), Direction::Asc)];
        let r = self.run(&list);
        let ids: Vec<String> = r
            .rows
            .iter()
            .map(|row| match row.as_slice() {
                [Scalar::Str(s)] => s.clone(),
                other => panic!("row {other:?}"),
            })
            .collect();
        assert_eq!(r.matched_events, ids.len() as u64);
        let mut count = q.clone();
        count.select = daybook::Select::Count;
        count.group_by.clear();
        count.order_by.clear();
        let c = self.run(&count);
        assert_eq!(c.rows, vec![vec![Scalar::Int(ids.len() as u64)]]);
        assert_eq!(c.matched_events, ids.len() as u64);
        ids
    }

    /// The ids matching one predicate.
    fn w(&self, field: &str, op: Op, value: impl Into<J>) -> Vec<String> {
        self.ids(&Query::count().filter(field, op, value))
    }

    fn window(&self, from: &str, to: &str) -> Vec<String> {
        self.ids(&Query::count().between(from, to))
    }
}

fn ids(s: &str) -> Vec<String> {
    s.chars().map(|c| c.to_string()).collect()
}

const NONE: J = J::Null;

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
        .filter(f, Op::Ge, "2026-11-26")
        .filter(f, Op::Lt, "2026-11-28");
    assert_eq!(db.ids(&q), ids("abcg"));
    let q = Query::count().last_days(2).filter(f, Op::Le, "2026-11-26");
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
        .filter(f, Op::Gt, "2026-11-26T23:59:59.999Z")
        .filter(f, Op::Le, "2026-11-27T10:00:00Z");
    assert_eq!(db.ids(&q), ids("bcg"));
    let q = Query::count()
        .filter(f, Op::Ge, "2026-11-27T10:00:00Z")
        .filter(f, Op::Lt, "2026-11-27T10:00:00Z");
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
        .filter("company_name", Op::StartsWith, "Granite")
        .filter("user_id", Op::Ne, 7u64)
        .filter("event_type", Op::Ne, "Withdraw/Void");
    assert_eq!(db.ids(&q), ids("a"));
    let q = Query::count()
        .filter("event_subtype", Op::Eq, "Detail")
        .filter("object_id", Op::IsNull, NONE);
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
    let (first, second) = events();
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), opts(&c)).unwrap();
    engine.append(first).unwrap();
    engine.flush().unwrap();
    engine.append(second).unwrap();
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

fn s(v: &str) -> Scalar {
    Scalar::Str(v.into())
}

fn n(v: u64) -> Scalar {
    Scalar::Int(v)
}

#[test]
fn count_without_groups_is_one_row() {
    let db = db();
    let r = db.run(&Query::count());
    assert_eq!(r.columns, vec!["count"]);
    assert_eq!(r.rows, vec![vec![n(7)]]);
    assert_eq!(r.matched_events, 7);
    assert_eq!(r.next_cursor, None);
    let r = db.run(&Query::count().filter("company_name", Op::Eq, "Nope"));
    assert_eq!(r.rows, vec![vec![n(0)]]);
    assert_eq!(r.matched_events, 0);
    let r = db.run(
        &Query::count()
            .filter("company_name", Op::Eq, "Nope")
            .group_by(&["company_name"]),
    );
    assert_eq!(r.columns, vec!["company_name", "count"]);
    assert_eq!(r.rows, Vec::<Vec<Scalar>>::new());
}

#[test]
fn groups_sort_by_value_with_missing_lowest() {
    let db = db();
    let q = Query::count().group_by(&["event_type"]);
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
    let q = Query::count().group_by(&["event_subtype"]);
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
        .group_by(&["event_subtype"])
        .order_by("event_subtype", Direction::Desc);
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
        .group_by(&["event_subtype"])
        .order_by("count", Direction::Desc);
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
        .group_by(&["event_subtype"])
        .order_by("count", Direction::Asc);
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
    let q = Query::count().group_by(&["project_is_demo", "is_api"]);
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
        .group_by(&["is_api", "project_is_demo"])
        .order_by("count", Direction::Desc)
        .order_by("is_api", Direction::Desc);
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
    let q = Query::count().group_by(&["user_id"]);
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
    let q = Query::count().group_by(&["object_id"]);
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
        .group_by(&["event_date"]);
    let r = db.run(&q);
    assert_eq!(
        r.rows,
        vec![
            vec![Scalar::Date(day("2026-11-26")), n(1)],
            vec![Scalar::Date(day("2026-11-27")), n(3)],
        ]
    );
    assert_eq!(r.matched_events, 4);
    let q = Query::count()
        .last_days(1)
        .group_by(&["event_timestamp"])
        .order_by("event_timestamp", Direction::Desc);
    assert_eq!(
        db.run(&q).rows,
        vec![
            vec![Scalar::Timestamp(ts("2026-11-27T10:00:00Z")), n(2)],
            vec![Scalar::Timestamp(ts("2026-11-27T00:00:00Z")), n(1)],
        ]
    );
    let q = Query::count()
        .group_by(&["user_last_login_date", "company_name"])
        .filter("user_last_login_date", Op::NotNull, NONE);
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
        .group_by(&["event_type"])
        .order_by("count", Direction::Desc)
        .limit(2);
    let r = db.run(&q);
    assert_eq!(
        r.rows,
        vec![
            vec![Scalar::EventType(EventType::View), n(3)],
            vec![Scalar::EventType(EventType::Close), n(1)],
        ]
    );
    assert_eq!(r.matched_events, 7);
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
    assert_eq!(r.matched_events, 7);
}

// ---------------------------------------------------------------------------
// Listings.

fn id_rows(r: &QueryResult) -> String {
    r.rows
        .iter()
        .map(|row| match row.first() {
            Some(Scalar::Str(s)) => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn listing() -> Query {
    let mut q = Query::events();
    q.fields = vec!["event_id".into()];
    q
}

#[test]
fn listing_default_order_is_newest_first_then_id() {
    let db = db();
    let r = db.run(&listing());
    assert_eq!(id_rows(&r), "ecgbadf");
    assert_eq!(r.columns, vec!["event_id"]);
    assert_eq!(r.matched_events, 7);
    assert_eq!(r.next_cursor, None);
}

#[test]
fn listing_orders_by_any_field() {
    let db = db();
    let by = |f: &str, d: Direction| id_rows(&db.run(&listing().order_by(f, d)));
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
        .order_by("is_api", Direction::Desc)
        .order_by("event_timestamp", Direction::Asc);
    assert_eq!(id_rows(&db.run(&q)), "dbfacge");
    let q = listing()
        .order_by("user_id", Direction::Asc)
        .order_by("event_id", Direction::Desc);
    assert_eq!(id_rows(&db.run(&q)), "fgecbad");
}

#[test]
fn listing_fields_and_values() {
    let db = db();
    let mut q = Query::events().filter("event_id", Op::Eq, "a");
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
    let q = q.filter("user_id", Op::Ge, P53);
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
            .filter("event_id", Op::Eq, "c")
            .order_by("company_name", Direction::Asc),
    );
    assert_eq!(r.rows, vec![vec![s("c")]]);
    let mut q = listing().filter("event_id", Op::Eq, "c");
    q.fields = vec!["company_name".into()];
    assert_eq!(db.run(&q).rows, vec![vec![s("建設")]]);
}

/// Pages of `q` through `next_cursor`, per engine: the same pages in every
/// state.
fn pages(db: &Db, q: &Query) -> Vec<String> {
    let mut out: Option<Vec<String>> = None;
    for (state, engine) in &db.engines {
        let mut pages = Vec::new();
        let mut q = q.clone();
        loop {
            let r = engine.query(&q).unwrap();
            assert_eq!(r.matched_events, 7, "[{state}]");
            pages.push(id_rows(&r));
            match r.next_cursor {
                Some(c) => {
                    q.cursor = Some(c);
                    q.offset = None;
                }
                None => break,
            }
            assert!(pages.len() < 20, "[{state}] endless paging");
        }
        match &out {
            None => out = Some(pages),
            Some(o) => assert_eq!(&pages, o, "[{state}]"),
        }
    }
    out.unwrap()
}

#[test]
fn listing_pages_with_cursors() {
    let db = db();
    assert_eq!(pages(&db, &listing().limit(3)), vec!["ecg", "bad", "f"]);
    assert_eq!(pages(&db, &listing().limit(2)), vec!["ec", "gb", "ad", "f"]);
    // A limit that ends exactly at the last row: no cursor.
    assert_eq!(pages(&db, &listing().limit(7)), vec!["ecgbadf"]);
    assert_eq!(pages(&db, &listing().limit(1)).concat(), "ecgbadf");
    // Pages of other orders, ties included.
    let q = listing().order_by("object_id", Direction::Desc).limit(4);
    assert_eq!(pages(&db, &q), vec!["aced", "bfg"]);
    let q = listing().order_by("company_name", Direction::Asc).limit(2);
    assert_eq!(pages(&db, &q), vec!["ba", "gd", "fe", "c"]);
    let q = listing().order_by("event_type", Direction::Desc).limit(3);
    assert_eq!(pages(&db, &q), vec!["daf", "geb", "c"]);
    // First page after an offset.
    let mut q = listing().limit(2);
    q.offset = Some(3);
    assert_eq!(pages(&db, &q), vec!["ba", "df"]);
}

#[test]
fn cursor_pages_see_rows_appended_between_pages_only_after_it() {
    let (first, second) = events();
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), opts(&c)).unwrap();
    engine.append(first).unwrap();
    engine.flush().unwrap();
    engine.append(second).unwrap();
    let q = listing().order_by("event_id", Direction::Asc).limit(3);
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
    assert_eq!(r.matched_events, 9);
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
        .filter("user_id", Op::In, json!([P53 + 1, 7]))
        .filter("event_subtype", Op::NotNull, NONE)
        .group_by(&["company_name"])
        .order_by("count", Direction::Desc);
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

fn assert_names(msg: &str, part: &str) {
    assert!(msg.contains(part), "{msg:?} does not name {part:?}");
}

#[test]
fn error_unknown_field() {
    let db = db();
    let q = Query::count()
        .filter("user_id", Op::Eq, 7u64)
        .filter("colour", Op::Eq, "red");
    let m = db.err(&q);
    assert_names(&m, "where[1]");
    assert_names(&m, "colour");
    let m = db.err(&Query::count().group_by(&["company_name", "colour"]));
    assert_names(&m, "group_by[1]");
    let mut q = Query::events();
    q.fields = vec!["event_id".into(), "colour".into()];
    assert_names(&db.err(&q), "fields[1]");
    let m = db.err(&Query::events().order_by("colour", Direction::Asc));
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
            .filter("event_subtype", Op::NotNull, NONE)
            .filter(field, Op::Eq, value.clone());
        let m = db.err(&q);
        assert_names(&m, "where[1]");
        assert_names(&m, field);
    }
    // Inside a list.
    let q = Query::count().filter("user_id", Op::In, json!([7, "8"]));
    assert_names(&db.err(&q), "where[0]");
    // A list for a single value, a single value for a list.
    let q = Query::count().filter("user_id", Op::NotIn, 7u64);
    assert_names(&db.err(&q), "where[0]");
}

#[test]
fn error_missing_or_extra_value() {
    let db = db();
    for op in [
        Op::Eq,
        Op::Ne,
        Op::Lt,
        Op::Le,
        Op::Gt,
        Op::Ge,
        Op::In,
        Op::NotIn,
        Op::Contains,
        Op::StartsWith,
    ] {
        let q = Query::count().filter("company_name", op, NONE);
        assert_names(&db.err(&q), "where[0]");
    }
    for op in [Op::IsNull, Op::NotNull] {
        let q = Query::count().filter("company_name", op, "Zeta");
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
            let q =
                Query::count()
                    .filter("company_name", Op::Ne, "x")
                    .filter(field, op, value.clone());
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
        let m = db.err(&Query::count().filter("event_type", op, "Viewed"));
        assert_names(&m, "where[0]");
        assert_names(&m, "Viewed");
    }
    let m = db.err(&Query::count().filter("event_type", Op::In, json!(["View", "view"])));
    assert_names(&m, "where[0]");
    let m = db.err(&Query::count().filter("event_type", Op::NotIn, json!(["Create"])));
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
    // Not timestamps.
    assert_names(&bad("yesterday", "2026-11-27T00:00:00Z"), "time.from");
    assert_names(&bad("2026-11-27T00:00:00Z", "2026-11-28"), "time.to");
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
    let mut q = Query::events().group_by(&["company_name"]);
    assert_names(&db.err(&q), "group_by");
    q = Query::count();
    q.fields = vec!["event_id".into()];
    assert_names(&db.err(&q), "fields");
    // order_by a field not grouped by; count on a listing.
    let q = Query::count()
        .group_by(&["company_name"])
        .order_by("count", Direction::Desc)
        .order_by("user_id", Direction::Asc);
    let m = db.err(&q);
    assert_names(&m, "order_by[1]");
    assert_names(&m, "user_id");
    let q = Query::count().order_by("company_name", Direction::Asc);
    assert_names(&db.err(&q), "order_by[0]");
    let q = Query::events().order_by("count", Direction::Desc);
    assert_names(&db.err(&q), "order_by[0]");
    // A group field twice.
    let q = Query::count().group_by(&["company_name", "company_name"]);
    assert_names(&db.err(&q), "group_by[1]");
    // More than 8 group fields.
    let q = Query::count().group_by(&[
        "event_type",
        "event_name",
        "tool_name",
        "company_name",
        "device_type",
        "is_api",
        "user_id",
        "user_email",
        "user_name",
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
    let mut other = listing().order_by("company_name", Direction::Asc).limit(2);
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
    assert_eq!(r.matched_events, 7);
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
        let mut q = listing().order_by("company_name", Direction::Asc);
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
        (String::new(), None, 7)
    );
    let mut q = Query::count().group_by(&["event_type"]);
    q.offset = Some(u64::MAX);
    q.limit = Some(u64::MAX);
    assert_eq!(db.run(&q).rows, Vec::<Vec<Scalar>>::new());
}
