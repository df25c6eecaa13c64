//! `query_doc`: bytes as a query JSON document (`daybook::Query`'s serde
//! form, docs/queries.md). A document that parses must read back equal from
//! its own `to_json`, and is then answered by three engines built once that
//! hold the same events stored differently: every day sealed and compacted
//! into one segment (over 1,024 rows on two days, so mapped columns are
//! used); everything still in the write buffer (the no-index path); and a
//! mix of several segments per day and a buffered tail. Nothing may panic,
//! the three must agree exactly (rows, columns, cursor; `matched_events`
//! where both give it; or the same error), and `explain` must give the
//! same answer as `query`.

use std::sync::{Arc, OnceLock};

use daybook::generate::{GenConfig, Generator};
use daybook::storage::SimStorage;
use daybook::{Engine, Event, ManualClock, Options, Query, QueryResult};

use super::NOW_MS;
use super::events::varied;

pub struct Fixture {
    pub sealed: Engine,
    pub buffered: Engine,
    pub mixed: Engine,
}

fn events() -> Vec<Event> {
    let cfg = GenConfig {
        days: 3,
        events_per_day: 1_300,
        companies: 3,
        seed: 11,
        late_fraction: 0.05,
        dup_fraction: 0.02,
        now_ms: NOW_MS,
    };
    let mut evs: Vec<Event> = Generator::new(cfg).collect();
    // Edge values: missing optionals, the largest ids, non-ASCII text, ties
    // on timestamps, the first and last millisecond of days.
    let today = daybook::Day::of_ms(NOW_MS);
    for i in 0..40u64 {
        let day = today.add_days(-((i % 4) as i32));
        let ts = match i % 5 {
            0 => day.start_ms(),
            1 => day.end_ms() - 1,
            _ => day.start_ms() + 3_600_000 * (i as i64 % 12),
        }
        .min(NOW_MS);
        let mut e = varied(&format!("edge-{i}"), ts, i);
        if i % 6 == 0 {
            e.company_name = "Bâtiment Ünïcode 🏗".into();
            e.user_id = daybook::event::MAX_ID;
        }
        evs.push(e);
    }
    evs
}

fn engine(max_buffered_events: usize) -> Engine {
    let opts = Options {
        clock: Arc::new(ManualClock::new(NOW_MS)),
        storage: Arc::new(SimStorage::new()),
        max_buffered_events,
        compact_min_segments: 0,
        sealed_id_filter_keys: 4096,
        ..Options::default()
    };
    Engine::open("/sim/data", opts).expect("fixture engine opens")
}

/// The three engines, built on first use.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let evs = events();
        let sealed = engine(1 << 20);
        let buffered = engine(1 << 20);
        let mixed = engine(700);
        for chunk in evs.chunks(500) {
            for e in [&sealed, &buffered, &mixed] {
                e.append(chunk.to_vec()).expect("fixture append");
            }
        }
        sealed.flush().expect("fixture flush");
        sealed.compact().expect("fixture compact");
        let n = |e: &Engine| e.snapshot().event_count();
        assert_eq!(n(&sealed), n(&buffered));
        assert_eq!(n(&sealed), n(&mixed));
        Fixture {
            sealed,
            buffered,
            mixed,
        }
    })
}

fn same(q: &str, a: &daybook::Result<QueryResult>, b: &daybook::Result<QueryResult>, what: &str) {
    match (a, b) {
        (Ok(x), Ok(y)) => {
            assert_eq!(x.columns, y.columns, "{what}: columns differ for {q}");
            assert_eq!(x.rows, y.rows, "{what}: rows differ for {q}");
            assert_eq!(
                x.next_cursor, y.next_cursor,
                "{what}: cursors differ for {q}"
            );
            if let (Some(m), Some(n)) = (x.matched_events, y.matched_events) {
                assert_eq!(m, n, "{what}: matched_events differ for {q}");
            }
        }
        (Err(x), Err(y)) => assert_eq!(
            x.to_string(),
            y.to_string(),
            "{what}: errors differ for {q}"
        ),
        (x, y) => panic!("{what}: one answers, one fails for {q}: {x:?} vs {y:?}"),
    }
}

/// Whether any operand holds a JSON number that is not an integer.
pub fn has_float(q: &Query) -> bool {
    fn float(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Number(n) => n.is_f64(),
            serde_json::Value::Array(a) => a.iter().any(float),
            serde_json::Value::Object(o) => o.values().any(float),
            _ => false,
        }
    }
    q.filters
        .iter()
        .any(|p| p.value.as_ref().is_some_and(float))
}

pub fn query_doc(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(q) = Query::parse(&text) else { return };
    let doc = q.to_json();
    // Finding 3 of docs/notes/fuzzing.md (a float operand one ulp off after
    // the round trip) is fixed by serde_json's `float_roundtrip`.
    assert_eq!(
        Query::parse(&doc).ok().as_ref(),
        Some(&q),
        "to_json does not read back: {doc}"
    );
    let f = fixture();
    let a = f.sealed.query(&q);
    let b = f.buffered.query(&q);
    let c = f.mixed.query(&q);
    same(&doc, &a, &b, "sealed vs buffered");
    same(&doc, &a, &c, "sealed vs mixed");
    for e in [&f.sealed, &f.mixed] {
        let ex = e.explain(&q).map(|(r, ex)| {
            let _ = (ex.to_string(), ex.to_json());
            r
        });
        same(&doc, &a, &ex, "query vs explain");
    }
    // The next page, when there is one, answers alike too.
    if let Ok(QueryResult {
        next_cursor: Some(cursor),
        ..
    }) = &a
    {
        let mut next = q.clone();
        next.cursor = Some(cursor.clone());
        same(
            &doc,
            &f.sealed.query(&next),
            &f.buffered.query(&next),
            "page 2",
        );
    }
}
