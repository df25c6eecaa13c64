//! Settling (issue 15, item 1): a day whose writes are over reaches one
//! segment on its own: at the end of an import (`Engine::settle`, which
//! `daybook import` calls) and after a quiet period (the settling thread).
//! Answers never change; only the number of segments does.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{clock, contents, day_ms, event, options};
use daybook::query::Query;
use daybook::{Day, Engine, Event, Options};

/// Segments per day.
fn segments_per_day(engine: &Engine) -> BTreeMap<Day, usize> {
    engine
        .snapshot()
        .partitions()
        .map(|(day, d)| (day, d.segment_count()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Segments of each day that has any, oldest first.
fn counts(engine: &Engine) -> Vec<usize> {
    segments_per_day(engine).into_values().collect()
}

/// 3 days × `per_day` events, appended in batches of 50 across the days
/// (as an import of a file with late events does), with a buffer of 100
/// events: several seals, so several segments a day.
fn fill(engine: &Engine, per_day: i64) {
    let mut evs: Vec<Event> = Vec::new();
    for i in 0..per_day * 3 {
        evs.push(event(&format!("e{i}"), day_ms(i % 3, i * 997), i as u64));
    }
    for batch in evs.chunks(50) {
        engine.append(batch.to_vec()).unwrap();
    }
}

fn opts(c: &daybook::ManualClock, settle_after_ms: u64) -> Options {
    Options {
        max_buffered_events: 100,
        // Seals never merge on their own here, so every day keeps its
        // seals' segments until it settles.
        compact_min_segments: 0,
        settle_after_ms,
        ..options(c)
    }
}

fn by_type(engine: &Engine) -> daybook::QueryResult {
    let q = Query::parse(
        r#"{"time": {"last_days": 31}, "group_by": ["event_date", "event_type"],
            "order_by": [["event_date", "asc"], ["event_type", "asc"]]}"#,
    )
    .unwrap();
    engine.query(&q).unwrap()
}

#[test]
fn settle_merges_every_day_into_one_segment_and_answers_do_not_change() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), opts(&c, 0)).unwrap();
    fill(&engine, 400);
    engine.flush().unwrap();
    let before = segments_per_day(&engine);
    assert_eq!(before.len(), 3);
    assert!(before.values().all(|n| *n >= 4), "{before:?}");
    let (stored, answer) = (contents(&engine), by_type(&engine));
    assert_eq!(stored.values().map(Vec::len).sum::<usize>(), 1200);

    assert_eq!(engine.settle().unwrap(), 3);
    assert_eq!(counts(&engine), [1, 1, 1]);
    assert_eq!(contents(&engine), stored);
    assert_eq!(by_type(&engine), answer);
    // Settled already: nothing to merge.
    assert_eq!(engine.settle().unwrap(), 0);

    // The merged segments are what a reopen finds, inputs gone.
    drop(engine);
    let engine = Engine::open(dir.path(), opts(&c, 0)).unwrap();
    assert_eq!(counts(&engine), [1, 1, 1]);
    assert_eq!(contents(&engine), stored);
    assert_eq!(by_type(&engine), answer);
    let files: usize = stored
        .keys()
        .map(|d| {
            std::fs::read_dir(dir.path().join("days").join(d.to_string()))
                .unwrap()
                .count()
        })
        .sum();
    assert_eq!(files, 3);
}

/// Buffered events are sealed by a settle too: nothing is left to scan
/// without an index.
#[test]
fn settle_seals_the_buffer_first() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), opts(&c, 0)).unwrap();
    fill(&engine, 30); // 90 events: under the buffer's 100, no seal yet
    assert!(segments_per_day(&engine).is_empty());
    assert_eq!(engine.settle().unwrap(), 0);
    assert_eq!(counts(&engine), [1, 1, 1]);
    let snap = engine.snapshot();
    assert!(snap.partitions().all(|(_, d)| d.buffer_chunks() == 0));
}

/// With a quiet period set, the engine settles on its own once appends
/// stop: the test waits (up to a minute, a bound on a loaded machine, not
/// a timing assertion) for every day to reach one segment.
#[test]
fn a_quiet_engine_settles_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), opts(&c, 20)).unwrap();
    fill(&engine, 400);
    engine.flush().unwrap();
    let stored = contents(&engine);
    let deadline = Instant::now() + Duration::from_secs(60);
    while segments_per_day(&engine).values().any(|n| *n > 1) {
        assert!(
            Instant::now() < deadline,
            "not settled after a minute: {:?}",
            segments_per_day(&engine)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(counts(&engine), [1, 1, 1]);
    assert_eq!(contents(&engine), stored);
    assert_eq!(engine.stats().counters.compactions, 3);
    engine.close().unwrap();
}

/// Without a quiet period the thread is off: a flushed engine keeps its
/// segments until asked (what a maintenance tool that wants to control
/// when merges run sets).
#[test]
fn settle_after_zero_leaves_segments_alone() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), opts(&c, 0)).unwrap();
    fill(&engine, 400);
    engine.flush().unwrap();
    let before = segments_per_day(&engine);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(segments_per_day(&engine), before);
    assert_eq!(engine.stats().counters.compactions, 0);
}

/// `daybook import` settles what it wrote: a second import into the same
/// three days leaves one segment a day (not two), says so, and `stats`
/// shows it; a query reads the same answer as before the second import
/// plus its events.
#[cfg(feature = "cli")]
#[test]
fn the_import_command_settles_the_days_it_wrote() {
    use common::cli::ok_at;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let now = "2026-11-27T12:00:00Z"; // common::NOW_MS
    let write = |name: &str, from: i64| {
        let path = dir.path().join(name);
        let lines: String = (from..from + 60)
            .map(|i| {
                let e = event(&format!("e{i}"), day_ms(i % 3, i * 1000), i as u64);
                daybook::json::event_to_json_line(&e) + "\n"
            })
            .collect();
        std::fs::write(&path, lines).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (a, b) = (write("a.jsonl", 0), write("b.jsonl", 60));
    let first = ok_at(&data, now, &["import", &a]);
    assert!(
        first.contains("stored 60, duplicates 0, rejected 0"),
        "{first}"
    );
    let second = ok_at(&data, now, &["import", &b]);
    assert!(
        second.contains("stored 60, duplicates 0, rejected 0"),
        "{second}"
    );
    assert!(
        second.contains("\nsettled: the segments of 3 days merged into one each in "),
        "{second}"
    );
    let stats = ok_at(&data, now, &["stats"]);
    let days: Vec<(String, String)> = stats
        .lines()
        .filter(|l| l.starts_with("20"))
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols[1].to_string(), cols[2].to_string())
        })
        .collect();
    assert_eq!(
        days,
        vec![("1".to_string(), "40".to_string()); 3],
        "{stats}"
    );
}
