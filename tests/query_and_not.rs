//! The and-not path of the planner (a predicate that accepts all but a few
//! of a segment's codes: `ne`, `not_in`) is taken, and answers exactly
//! what a plain filter over every stored event answers, on sealed,
//! buffered, compacted and reopened data. The oracle here is a loop over
//! `Snapshot::day_events`: no planner, no bitmap, no dictionary.

use std::collections::BTreeMap;
use std::sync::Arc;

use daybook::generate::{GenConfig, Generator};
use daybook::{Engine, Event, EventType, Field, ManualClock, Op, Options, Query};

const NOW_MS: i64 = 1_795_780_800_000; // 2026-11-27T12:00:00Z

/// A query, and the events it must count.
type Case = (Query, Box<dyn Fn(&Event) -> bool>);

/// `user_id` has more distinct values in a segment than a union of bitmaps
/// takes (32), so "all but one or two users" is an and-not; `u1` and `u2`
/// are two users who acted.
fn cases(u1: u64, u2: u64) -> Vec<Case> {
    vec![
        (
            Query::count().filter(Field::UserId, Op::Ne, u1),
            Box::new(move |e: &Event| e.user_id != u1),
        ),
        (
            Query::count().filter(Field::UserId, Op::NotIn, [u1, u2]),
            Box::new(move |e: &Event| e.user_id != u1 && e.user_id != u2),
        ),
        (
            // A positive bitmap first, then the and-not subtracted from it.
            Query::count()
                .filter(Field::DeviceType, Op::Eq, "iOS")
                .filter(Field::UserId, Op::Ne, u1),
            Box::new(move |e: &Event| e.device_type == "iOS" && e.user_id != u1),
        ),
        (
            Query::count()
                .filter(Field::EventType, Op::Ne, EventType::View)
                .filter(Field::UserId, Op::NotIn, [u2]),
            Box::new(move |e: &Event| e.event_type != EventType::View && e.user_id != u2),
        ),
    ]
}

/// Every stored event, read without the query engine.
fn stored(engine: &Engine) -> Vec<Event> {
    let snap = engine.snapshot();
    snap.days()
        .into_iter()
        .flat_map(|d| snap.day_events(d).unwrap())
        .collect()
}

/// Checks every case; returns how many sources took an and-not step.
fn check(engine: &Engine, what: &str) -> usize {
    let events = stored(engine);
    let (u1, u2) = (events[0].user_id, events[events.len() / 2].user_id);
    let mut and_nots = 0;
    for (q, keep) in cases(u1, u2) {
        let want = events.iter().filter(|e| keep(e)).count() as u64;
        let (r, ex) = engine.explain(&q).unwrap();
        assert_eq!(r.matched_events, Some(want), "{what}: {}", q.to_json());
        // The same by group: each event type's count exactly.
        let by_type = engine
            .query(&q.clone().group_by(&[Field::EventType]))
            .unwrap();
        let got: BTreeMap<String, u64> = by_type
            .rows()
            .map(|row| {
                let t = row.get_field(Field::EventType).unwrap().to_string();
                (t, row.count().unwrap())
            })
            .collect();
        let mut expect: BTreeMap<String, u64> = BTreeMap::new();
        for e in events.iter().filter(|e| keep(e)) {
            *expect.entry(e.event_type.as_str().to_string()).or_default() += 1;
        }
        assert_eq!(got, expect, "{what}: {}", q.to_json());
        and_nots += ex
            .sources
            .iter()
            .filter(|s| s.steps.iter().any(|st| st.action.starts_with("and-not")))
            .count();
    }
    and_nots
}

#[test]
fn ne_and_not_in_take_the_and_not_path_and_match_a_plain_filter() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || Options {
        clock: Arc::new(ManualClock::new(NOW_MS)),
        max_buffered_events: 1_500,
        compact_min_segments: 0,
        ..Options::default()
    };
    let engine = Engine::open(dir.path(), opts()).unwrap();
    let events: Vec<Event> = Generator::new(GenConfig {
        days: 3,
        events_per_day: 2_000,
        now_ms: NOW_MS,
        seed: 14,
        ..GenConfig::default()
    })
    .collect();
    let (sealed, buffered) = events.split_at(events.len() - 300);
    for batch in sealed.chunks(500) {
        engine.append(batch.to_vec()).unwrap();
    }
    engine.flush().unwrap();
    engine.append(buffered.to_vec()).unwrap();
    // Sealed (several segments a day) and buffered.
    assert!(check(&engine, "sealed + buffered") > 0, "no and-not step");
    engine.flush().unwrap();
    engine.compact().unwrap();
    assert!(check(&engine, "compacted") > 0, "no and-not step");
    engine.close().unwrap();
    let engine = Engine::open(dir.path(), opts()).unwrap();
    assert!(check(&engine, "reopened") > 0, "no and-not step");
}
