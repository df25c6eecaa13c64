//! Fixtures of the deterministic query tests (`query_ops.rs`,
//! `query_listing.rs`): seven hand-made events held four ways, and helpers.
#![allow(dead_code)]

use std::sync::Arc;

pub use super::common::clock;
use daybook::query::{Direction, Op, Query, Scalar};
use daybook::time::parse_rfc3339_ms;
use daybook::{Day, Engine, Event, EventType, Options, QueryResult};
use serde_json::Value as J;

pub const MAX_ID: u64 = i64::MAX as u64;
pub const P53: u64 = 1 << 53;

pub fn ts(s: &str) -> i64 {
    parse_rfc3339_ms(s).unwrap()
}

pub fn day(s: &str) -> Day {
    Day::parse(s).unwrap()
}

/// An event with every optional field missing.
pub fn base(id: &str, at: &str) -> Event {
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
/// retained day. A second copy of `c` (the same company, another user name)
/// is dropped: dedup is per company.
pub fn events() -> (Vec<Event>, Vec<Event>) {
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
    c2.user_name = "Second copy".into();
    (vec![d, c, a, f], vec![g, c2, e, b])
}

/// The same events, held four ways.
pub struct Db {
    _dirs: Vec<tempfile::TempDir>,
    engines: Vec<(&'static str, Engine)>,
}

/// The seven events in one engine of its own: the first batch sealed, the
/// second buffered. Keep the directory and clock alive with the engine.
pub fn mixed_engine() -> (tempfile::TempDir, daybook::ManualClock, Engine) {
    let (first, second) = events();
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), opts(&c)).unwrap();
    engine.append(first).unwrap();
    engine.flush().unwrap();
    engine.append(second).unwrap();
    (dir, c, engine)
}

pub fn opts(c: &daybook::ManualClock) -> Options {
    Options {
        clock: Arc::new(c.clone()),
        max_buffered_events: 1 << 20,
        compact_min_segments: 0,
        ..Options::default()
    }
}

pub fn db() -> Db {
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
    pub fn run(&self, q: &Query) -> QueryResult {
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
    pub fn err(&self, q: &Query) -> String {
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
    pub fn ids(&self, q: &Query) -> Vec<String> {
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
        assert_eq!(r.matched_events, Some(ids.len() as u64));
        let mut count = q.clone();
        count.select = daybook::Select::Count;
        count.group_by.clear();
        count.order_by.clear();
        let c = self.run(&count);
        assert_eq!(c.rows, vec![vec![Scalar::Int(ids.len() as u64)]]);
        assert_eq!(c.matched_events, Some(ids.len() as u64));
        ids
    }

    /// The ids matching one predicate.
    pub fn w(&self, field: &str, op: Op, value: impl Into<J>) -> Vec<String> {
        self.ids(&Query::count().filter_named(field, op, value))
    }

    pub fn window(&self, from: &str, to: &str) -> Vec<String> {
        self.ids(&Query::count().between(from, to))
    }
}

pub fn ids(s: &str) -> Vec<String> {
    s.chars().map(|c| c.to_string()).collect()
}

pub const NONE: J = J::Null;

pub fn s(v: &str) -> Scalar {
    Scalar::Str(v.into())
}

pub fn n(v: u64) -> Scalar {
    Scalar::Int(v)
}

pub fn id_rows(r: &QueryResult) -> String {
    r.rows
        .iter()
        .map(|row| match row.first() {
            Some(Scalar::Str(s)) => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

pub fn listing() -> Query {
    let mut q = Query::events();
    q.fields = vec!["event_id".into()];
    q
}
pub fn pages(db: &Db, q: &Query) -> Vec<String> {
    let mut out: Option<Vec<String>> = None;
    for (state, engine) in &db.engines {
        let mut pages = Vec::new();
        let mut q = q.clone();
        loop {
            let r = engine.query(&q).unwrap();
            assert_eq!(r.matched_events, Some(7), "[{state}]");
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
pub fn assert_names(msg: &str, part: &str) {
    assert!(msg.contains(part), "{msg:?} does not name {part:?}");
}
