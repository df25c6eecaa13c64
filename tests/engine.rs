//! End-to-end behaviour of the engine: appends, duplicates, late events,
//! retention, sealing, compaction and reopening.

mod common;

use std::sync::Arc;

use common::*;
use daybook::{Day, Durability, Engine, Error, Options, RejectReason};

#[test]
fn append_is_visible_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let evs: Vec<_> = (0..100)
        .map(|i| event(&format!("e{i}"), day_ms(i % 3, i * 1000), i as u64))
        .collect();
    {
        let engine = Engine::open(dir.path(), options(&c)).unwrap();
        let r = engine.append(evs.clone()).unwrap();
        assert_eq!((r.stored, r.duplicates, r.rejected.len()), (100, 0, 0));
        // Read-your-writes, before any seal.
        assert_eq!(engine.snapshot().event_count(), 100);
        let got = contents(&engine);
        assert_eq!(got.len(), 3);
        assert_eq!(got.values().map(Vec::len).sum::<usize>(), 100);
    }
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let got = contents(&engine);
    let mut want = evs.clone();
    want.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    let mut all: Vec<_> = got.into_values().flatten().collect();
    all.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    assert_eq!(all, want);
    // The log replay was sealed into segments on open.
    let stats = engine.stats();
    assert_eq!(stats.segments(), 3);
    assert_eq!(stats.counters.replayed_events, 100);
}

#[test]
fn duplicates_are_counted_once_across_buffer_segments_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let a = event("same-id", day_ms(0, 1000), 1);
    // Other fields and day differ; the company is the same (n odd): dedup
    // is per company.
    let mut b = event("same-id", day_ms(2, 5000), 3);
    b.user_name = "Somebody Else".into();
    let r = engine
        .append(vec![a.clone(), b.clone(), a.clone()])
        .unwrap();
    assert_eq!((r.stored, r.duplicates), (1, 2));
    let r = engine.append(vec![b.clone()]).unwrap();
    assert_eq!(
        (r.stored, r.duplicates),
        (0, 1),
        "duplicate of a buffered event"
    );
    engine.flush().unwrap();
    let r = engine.append(vec![b.clone()]).unwrap();
    assert_eq!(
        (r.stored, r.duplicates),
        (0, 1),
        "duplicate of a sealed event"
    );
    drop(engine);
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let r = engine
        .append(vec![b, event("other", day_ms(1, 0), 3)])
        .unwrap();
    assert_eq!((r.stored, r.duplicates), (1, 1), "duplicate after restart");
    let got = contents(&engine);
    assert_eq!(
        got[&Day::of_ms(day_ms(0, 0))],
        vec![a],
        "first stored copy wins"
    );
}

#[test]
fn late_events_land_in_their_day() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    engine
        .append(vec![event("today", day_ms(0, 10), 1)])
        .unwrap();
    engine.flush().unwrap();
    engine
        .append(vec![event("late", day_ms(30, 10), 2)])
        .unwrap();
    let snap = engine.snapshot();
    let old_day = Day::of_ms(day_ms(30, 0));
    assert_eq!(snap.day_events(old_day).unwrap().len(), 1);
    engine.flush().unwrap();
    assert_eq!(engine.snapshot().day(old_day).unwrap().segment_count(), 1);
}

#[test]
fn rejections_name_index_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let mut bad = event("bad", day_ms(0, 0), 1);
    bad.user_email = String::new();
    let expired = event("old", day_ms(31, 0), 2);
    let future = event("future", NOW_MS + 2 * 86_400_000, 3);
    let ok = event("ok", day_ms(30, 0), 4);
    let r = engine.append(vec![ok, bad, expired, future]).unwrap();
    assert_eq!(r.stored, 1);
    let reasons: Vec<(usize, String)> = r
        .rejected
        .iter()
        .map(|x| (x.index, x.reason.to_string()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (1, "field \"user_email\": must not be empty".to_string()),
            (2, "field \"event_timestamp\": day 2026-10-27 is older than the retention horizon 2026-10-28".to_string()),
            (
                3,
                "field \"event_timestamp\": 2026-11-29T12:00:00.000Z is in the future (now is 2026-11-27T12:00:00.000Z)"
                    .to_string()
            ),
        ]
    );
    assert!(matches!(r.rejected[1].reason, RejectReason::Expired { .. }));
    let stats = engine.stats();
    assert_eq!(stats.counters.rejected_expired, 1);
    assert_eq!(stats.counters.rejected_invalid, 1);
    assert_eq!(stats.counters.rejected_future, 1);
}

#[test]
fn retention_drops_whole_days_as_the_clock_advances() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let evs: Vec<_> = (0..31)
        .map(|d| event(&format!("d{d}"), day_ms(d, 0), d as u64))
        .collect();
    engine.append(evs).unwrap();
    engine.flush().unwrap();
    assert_eq!(engine.snapshot().days().len(), 31);
    let held = engine.snapshot();
    c.advance_ms(2 * 86_400_000);
    assert_eq!(
        engine.enforce_retention().unwrap(),
        vec![Day::of_ms(day_ms(30, 0)), Day::of_ms(day_ms(29, 0))]
    );
    // Each drop is reported once.
    let dropped = engine.take_dropped_days();
    assert_eq!(
        dropped,
        vec![Day::of_ms(day_ms(30, 0)), Day::of_ms(day_ms(29, 0))]
    );
    assert!(engine.take_dropped_days().is_empty());
    let snap = engine.snapshot();
    assert_eq!(snap.days().len(), 29);
    assert_eq!(snap.days()[0], Day::of_ms(day_ms(28, 0)));
    // A snapshot taken before the drop still reads the dropped days.
    let oldest = Day::of_ms(day_ms(30, 0));
    assert_eq!(held.day_events(oldest).unwrap()[0].event_id, "d30");
    assert!(!dir.path().join("days").join(oldest.to_string()).exists());
    drop(engine);
    // Reopening later drops more, on open.
    c.advance_ms(86_400_000);
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    assert_eq!(engine.snapshot().days().len(), 28);
}

#[test]
fn day_rollover_seals_the_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    engine.append(vec![event("a", day_ms(0, 5), 1)]).unwrap();
    assert_eq!(engine.stats().segments(), 0);
    c.advance_ms(86_400_000);
    engine
        .append(vec![event("b", NOW_MS + 86_400_000, 2)])
        .unwrap();
    let stats = engine.stats();
    assert_eq!(stats.segments(), 1);
    assert_eq!(stats.days.iter().map(|d| d.buffered_events).sum::<u64>(), 1);
}

#[test]
fn buffer_threshold_seals_and_compaction_merges() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let opts = Options {
        max_buffered_events: 50,
        compact_min_segments: 0,
        ..options(&c)
    };
    let engine = Engine::open(dir.path(), opts).unwrap();
    for batch in 0..10 {
        let evs: Vec<_> = (0..25)
            .map(|i| event(&format!("b{batch}-{i}"), day_ms(1, i * 60_000), i as u64))
            .collect();
        engine.append(evs).unwrap();
    }
    let before = contents(&engine);
    // Seals run in the background: one starts when 50 are buffered, and
    // while it is still writing the buffer may grow to 100 before the next
    // append waits for it. So 250 events make 3 seals (50, 100, 100) to 5
    // (50 each), counting the flush's seal of a remainder.
    engine.flush().unwrap();
    assert_eq!(contents(&engine), before);
    let stats = engine.stats();
    assert!((3..=5).contains(&stats.segments()), "{}", stats.segments());
    assert_eq!(stats.counters.seals, stats.segments() as u64);
    assert_eq!(stats.events(), 250);
    assert_eq!(stats.days.iter().map(|d| d.buffered_events).sum::<u64>(), 0);
    let held = engine.snapshot();
    assert_eq!(engine.compact().unwrap(), 1);
    assert_eq!(engine.stats().segments(), 1);
    assert_eq!(contents(&engine), before);
    // The held snapshot still reads its (now unlinked) segments.
    let day = Day::of_ms(day_ms(1, 0));
    assert_eq!(held.day_events(day).unwrap().len(), 250);
    drop(engine);
    let engine = Engine::open(
        dir.path(),
        Options {
            compact_min_segments: 0,
            ..options(&c)
        },
    )
    .unwrap();
    assert_eq!(contents(&engine), before);
    assert_eq!(engine.stats().segments(), 1);
}

#[test]
fn automatic_compaction_bounds_segments_per_day() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let opts = Options {
        max_buffered_events: 10,
        compact_min_segments: 3,
        ..options(&c)
    };
    let engine = Engine::open(dir.path(), opts).unwrap();
    // A seal every 10 events, on this thread (flush), so that the sizes
    // the size-tiered policy sees do not depend on how fast background
    // seals ran: 10 | 10,10 | 30 | 30,10 | 50 | 50,10 | 50,20 | 80 | 80,10
    // | 80,20 (a new segment joins the smallest while each is at most twice
    // the rows gathered; without compaction there would be 10 segments).
    for i in 0..100 {
        engine
            .append(vec![event(&format!("x{i}"), day_ms(0, i), i as u64)])
            .unwrap();
        if i % 10 == 9 {
            engine.flush().unwrap();
        }
    }
    let stats = engine.stats();
    assert_eq!(stats.segments(), 2);
    assert_eq!(stats.counters.compactions, 5);
    assert_eq!(stats.events(), 100);
    assert_eq!(contents(&engine).values().map(Vec::len).sum::<usize>(), 100);
}

#[test]
fn second_open_of_a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let _engine = Engine::open(dir.path(), options(&c)).unwrap();
    match Engine::open(dir.path(), options(&c)) {
        Err(Error::Locked(_)) => {}
        other => panic!("expected Locked, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn foreign_files_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    {
        let engine = Engine::open(dir.path(), options(&c)).unwrap();
        engine.append(vec![event("a", day_ms(0, 5), 1)]).unwrap();
        engine.flush().unwrap();
    }
    let today = Day::of_ms(NOW_MS).to_string();
    std::fs::write(dir.path().join("README.txt"), "notes").unwrap();
    std::fs::write(dir.path().join("log").join("notes.log"), "x").unwrap();
    std::fs::write(
        dir.path().join("days").join(&today).join("backup.seg.bak"),
        "x",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("days").join("not-a-day")).unwrap();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    assert_eq!(engine.snapshot().event_count(), 1);
    assert!(dir.path().join("README.txt").exists());
}

#[test]
fn interval_durability_still_reads_back_after_clean_close() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    {
        let opts = Options {
            durability: Durability::IntervalMs(5),
            ..options(&c)
        };
        let engine = Engine::open(dir.path(), opts).unwrap();
        for i in 0..20 {
            engine
                .append(vec![event(&format!("i{i}"), day_ms(0, i), i as u64)])
                .unwrap();
        }
    }
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    assert_eq!(engine.snapshot().event_count(), 20);
}

#[test]
fn readers_run_concurrently_with_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let opts = Options {
        max_buffered_events: 200,
        compact_min_segments: 3,
        ..options(&c)
    };
    let engine = Arc::new(Engine::open(dir.path(), opts).unwrap());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..2 {
        let engine = Arc::clone(&engine);
        let stop = Arc::clone(&stop);
        readers.push(std::thread::spawn(move || {
            let mut last = 0u64;
            let mut checks = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let snap = engine.snapshot();
                let n = snap.event_count();
                // Batches are 50 events: a snapshot sees whole batches only,
                // and never fewer events than an earlier snapshot.
                assert_eq!(n % 50, 0);
                assert!(n >= last);
                let total: usize = snap
                    .days()
                    .iter()
                    .map(|d| snap.day_events(*d).unwrap().len())
                    .sum();
                assert_eq!(total as u64, n);
                last = n;
                checks += 1;
            }
            checks
        }));
    }
    for b in 0..40 {
        let evs: Vec<_> = (0..50)
            .map(|i| event(&format!("c{b}-{i}"), day_ms(b % 4, i), i as u64))
            .collect();
        assert_eq!(engine.append(evs).unwrap().stored, 50);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert_eq!(engine.snapshot().event_count(), 2000);
}

#[test]
fn engine_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Engine>();
    check::<daybook::Snapshot>();
}

#[test]
fn a_failed_fsync_is_sticky_and_nothing_acknowledged_is_lost() {
    use daybook::storage::{FaultOp, SimStorage};
    let dir = std::path::Path::new("/sim/data");
    let c = clock();
    let sim = SimStorage::new();
    let opts = Options {
        storage: Arc::new(sim.clone()),
        ..options(&c)
    };
    let engine = Engine::open(dir, opts.clone()).unwrap();
    let ok: Vec<_> = (0..10)
        .map(|i| event(&format!("ok{i}"), day_ms(0, i), i as u64))
        .collect();
    assert_eq!(engine.append(ok.clone()).unwrap().stored, 10);
    // The next fsync fails once; the engine must not retry and acknowledge.
    sim.fail(FaultOp::Sync, 1, false, std::io::ErrorKind::Other);
    let lost: Vec<_> = (0..5)
        .map(|i| event(&format!("maybe{i}"), day_ms(0, i), i as u64))
        .collect();
    match engine.append(lost) {
        Err(Error::Fsync { .. }) => {}
        other => panic!("expected the fsync error, got {other:?}"),
    }
    // Sticky: later writes fail even though fsync would work again.
    let later = vec![event("later", day_ms(0, 99), 1)];
    assert!(matches!(
        engine.append(later.clone()),
        Err(Error::Failed(_))
    ));
    assert!(matches!(engine.flush(), Err(Error::Failed(_))));
    assert!(engine.stats().failed.is_some());
    drop(engine);
    // Reopened, everything acknowledged is there, exactly once; the failed
    // batch may or may not be (it was never acknowledged); "later" is not.
    let engine = Engine::open(dir, opts).unwrap();
    let all: Vec<String> = contents(&engine)
        .into_values()
        .flatten()
        .map(|e| e.event_id)
        .collect();
    for e in &ok {
        assert_eq!(all.iter().filter(|id| **id == e.event_id).count(), 1);
    }
    assert!(!all.contains(&"later".to_string()));
    assert!(all.len() == 10 || all.len() == 15, "{all:?}");
    assert_eq!(engine.append(later).unwrap().stored, 1);
}

#[test]
fn compaction_of_large_realistic_segments_keeps_every_row() {
    // Segments of a few thousand rows use code maps (columns that are a
    // function of another); merging works column by column and must keep
    // every value exactly.
    use daybook::generate::{GenConfig, Generator};
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let opts = Options {
        max_buffered_events: 2_500,
        compact_min_segments: 0,
        ..options(&c)
    };
    let engine = Engine::open(dir.path(), opts).unwrap();
    let cfg = GenConfig {
        days: 2,
        events_per_day: 6_000,
        now_ms: NOW_MS,
        dup_fraction: 0.0,
        ..GenConfig::default()
    };
    let evs: Vec<_> = Generator::new(cfg).collect();
    // A flush every 2,000 events: at least six segments whatever the
    // timing of background seals (which merge buffers while one is busy).
    for (i, chunk) in evs.chunks(500).enumerate() {
        engine.append(chunk.to_vec()).unwrap();
        if i % 4 == 3 {
            engine.flush().unwrap();
        }
    }
    engine.flush().unwrap();
    let before = contents(&engine);
    assert!(engine.stats().segments() >= 6);
    assert_eq!(before.values().map(Vec::len).sum::<usize>(), evs.len());
    assert!(engine.compact().unwrap() >= 1);
    assert_eq!(
        engine.stats().segments(),
        before.len(),
        "one segment per day"
    );
    assert_eq!(contents(&engine), before);
    assert!(engine.verify().is_empty());
    drop(engine);
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    assert_eq!(contents(&engine), before);
}
