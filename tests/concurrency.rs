//! Concurrency soak: one writer appending batches (new, late, duplicate,
//! expired, future and invalid events), several readers querying snapshots,
//! with sealing (a small buffer), automatic and explicit compaction, and
//! retention (a shared `ManualClock` moved forward, then
//! `enforce_retention`) all running together for a bounded time.
//!
//! Exactness: the writer keeps a model (every stored event with the
//! version that stored it, and every drop with its version and horizon) and
//! publishes version `v` only after the call that made it returned. A
//! reader reads the published version before and after taking a snapshot;
//! every answer on that snapshot must then equal the oracle's
//! (`tests/common/oracle.rs`) over the model at one version in
//! `[before, after + 1]` (the call in flight may or may not be visible),
//! the same version for every query of the snapshot, at the snapshot's own
//! "today". The queries also agree with each other (total == sum of the
//! per-day counts == listed events), so no reader sees a half-sealed day.
//! A separate reader holds a snapshot across a retention drop and checks
//! that the 31-day query on it still returns that snapshot's complete
//! answer after the dropped days' files are unlinked.
//!
//! `DAYBOOK_SOAK_SECS=60 cargo test --release --test concurrency -- --nocapture`
//! for a long run (default 5 s).

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use common::oracle::{Oracle, comparable};
use common::*;
use daybook::Field;
use daybook::query::{Direction, Op, Query, Scalar};
use daybook::{Clock, Day, Engine, Event, ManualClock, Options, QueryResult, Snapshot};

const DAY_MS: i64 = 86_400_000;
const RETENTION: u32 = 31;
const READERS: usize = 3;
/// The writer runs at least this many steps (so that several days are
/// dropped however slow the machine) and at most `MAX_STEPS`.
const MIN_STEPS: u64 = 200;
const MAX_STEPS: u64 = 200_000;

/// The model, shared with the readers.
#[derive(Default)]
struct Shared {
    /// Every stored event and the version whose call stored it.
    stored: RwLock<Vec<(u64, Event)>>,
    /// Every retention drop: the version whose call made it, and the horizon
    /// (days before it were dropped).
    drops: RwLock<Vec<(u64, Day)>>,
    /// The last version whose call has returned.
    version: AtomicU64,
    /// Retention drops that removed at least one day.
    day_drops: AtomicU64,
    /// The writer has stopped (or panicked).
    done: AtomicBool,
    /// Snapshots checked by the old-snapshot reader after a drop unlinked
    /// some of their days.
    old_checks: AtomicU64,
    /// A reader panicked: the writer stops early.
    reader_failed: AtomicBool,
}

impl Shared {
    /// The events stored at version `v` (before the snapshot's own
    /// retention horizon is applied, which the oracle does).
    fn oracle_at(&self, v: u64) -> Oracle {
        let drop_horizon = self
            .drops
            .read()
            .unwrap()
            .iter()
            .filter(|(dv, _)| *dv <= v)
            .map(|(_, h)| *h)
            .max();
        let mut o = Oracle::new();
        let stored = self.stored.read().unwrap();
        let live: Vec<Event> = stored
            .iter()
            .filter(|(sv, e)| *sv <= v && drop_horizon.is_none_or(|h| e.day() >= h))
            .map(|(_, e)| e.clone())
            .collect();
        let (_, dups) = o.append(&live);
        assert_eq!(dups, 0, "model holds an id twice at version {v}");
        o
    }
}

/// Sets `done` when the writer ends, even by a panic, so readers stop.
struct DoneOnDrop<'a>(&'a Shared);
impl Drop for DoneOnDrop<'_> {
    fn drop(&mut self) {
        self.0.done.store(true, SeqCst);
    }
}

/// Sets `reader_failed` if a reader panics, so the writer stops.
struct FailOnPanic<'a>(&'a Shared);
impl Drop for FailOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.reader_failed.store(true, SeqCst);
        }
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn soak_duration() -> Duration {
    let secs = std::env::var("DAYBOOK_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(5.0);
    Duration::from_secs_f64(secs)
}

fn opts(c: &ManualClock) -> Options {
    Options {
        max_buffered_events: 64,
        compact_min_segments: 3,
        retention_days: RETENTION,
        ..options(c)
    }
}

/// The queries every reader runs on each snapshot. The first three must
/// agree with each other: [0] total count, [1] counts by day, [2] every
/// event id.
fn queries() -> Vec<Query> {
    let mut ids = Query::events();
    ids.fields = vec!["event_id".into()];
    let mut recent = Query::events()
        .last_days(3)
        .filter(Field::ToolName, Op::In, vec!["RFIs", "Drawings"])
        .limit(10);
    recent.fields = vec![
        "event_id".into(),
        "event_timestamp".into(),
        "tool_name".into(),
    ];
    vec![
        Query::count(),
        Query::count().group_by(&[Field::EventDate]),
        ids,
        // The 31-day report.
        Query::count().last_days(31).group_by(&[Field::EventDate]),
        Query::count()
            .last_days(7)
            .filter(Field::DeviceType, Op::Eq, "iOS")
            .group_by(&[Field::CompanyName, Field::EventType])
            .order_by_count(Direction::Desc),
        Query::count()
            .group_by(&[Field::ProjectName])
            .order_by_count(Direction::Desc)
            .limit(3),
        recent,
    ]
}

fn int(s: &Scalar) -> u64 {
    match s {
        Scalar::Int(n) => *n,
        other => panic!("expected a count, got {other:?}"),
    }
}

/// Runs every query on `snap`, checks that they agree with each other, and
/// that all of them equal the model at one version in `[before, after+1]`.
/// Returns the version that matched.
fn check_snapshot(shared: &Shared, snap: &Snapshot, before: u64, after: u64, qs: &[Query]) -> u64 {
    let got: Vec<QueryResult> = qs
        .iter()
        .map(|q| match snap.query(q) {
            Ok(r) => comparable(r),
            Err(e) => panic!("query {} failed: {e}", q.to_json()),
        })
        .collect();
    // The queries agree with each other: no half-sealed day.
    let total = int(&got[0].rows[0][0]);
    let by_day: u64 = got[1].rows.iter().map(|r| int(&r[1])).sum();
    let listed = got[2].rows.len() as u64;
    assert_eq!(
        (total, by_day, listed, got[2].matched_events),
        (total, total, total, Some(total)),
        "total count, sum of counts by day and listed events disagree on one snapshot"
    );
    let now_ms = snap.today.start_ms();
    let answer = |v: u64| -> Vec<QueryResult> {
        let o = shared.oracle_at(v);
        qs.iter()
            .map(|q| match o.query(q, now_ms, RETENTION, None) {
                Ok(a) => a.result,
                Err(e) => panic!("oracle refused {}: {e}", q.to_json()),
            })
            .collect()
    };
    for v in (before..=after).rev() {
        if answer(v) == got {
            return v;
        }
    }
    // The call in flight when `after` was read may be visible already.
    let next = after + 1;
    while shared.version.load(SeqCst) < next {
        if shared.done.load(SeqCst) && shared.version.load(SeqCst) < next {
            break;
        }
        std::thread::yield_now();
    }
    if shared.version.load(SeqCst) >= next && answer(next) == got {
        return next;
    }
    let want = answer(after);
    for (i, q) in qs.iter().enumerate() {
        if want[i] != got[i] {
            panic!(
                "snapshot (today {}, versions {before}..={next}) disagrees with the model: query {}\n\
                 engine: {:?}\nmodel at {after}: {:?}",
                snap.today,
                q.to_json(),
                got[i],
                want[i]
            );
        }
    }
    panic!("snapshot matches version {after} query by query but not as a whole");
}

/// Counts of what the writer did.
#[derive(Debug, Default)]
struct WriterCounts {
    steps: u64,
    appends: u64,
    events_sent: u64,
    stored: u64,
    duplicates: u64,
    rejected: u64,
    clock_advances: u64,
    retention_calls: u64,
    explicit_compactions: u64,
    flushes: u64,
}

/// One batch: mostly new events over the retained days, some late, some
/// re-sent (earlier batches and within the batch), some expired, in the
/// future or invalid.
fn make_batch(rng: &mut Rng, now: i64, next_id: &mut u64, sent: &[Event]) -> Vec<Event> {
    let today = Day::of_ms(now);
    let n = 1 + rng.below(24);
    let mut batch: Vec<Event> = Vec::new();
    for _ in 0..n {
        let kind = rng.below(100);
        let days_ago = match kind {
            0..72 => rng.below(2) as i64,
            // Late: mostly the oldest retained days, so that each new day
            // drops data.
            72..76 => 2 + rng.below(24) as i64,
            76..80 => 26 + rng.below(5) as i64,
            84..87 => 31 + rng.below(2) as i64,
            _ => rng.below(5) as i64,
        };
        let ms = rng.below(DAY_MS as u64) as i64;
        let ts = match kind {
            // Tomorrow, within the future guard.
            80..84 => now + 1 + ms,
            // Beyond the future guard.
            87..89 => now + DAY_MS + 1 + ms % 1000,
            _ => today.start_ms() - days_ago * DAY_MS + ms,
        };
        let mut e = if (93..100).contains(&kind) && !sent.is_empty() {
            // Re-send an earlier id with other fields: a duplicate if it is
            // still stored under the same company, a new event if its day
            // was dropped or the company differs (dedup is per company).
            let old = &sent[rng.below(sent.len() as u64) as usize];
            let mut e = event(&old.event_id, ts, rng.below(1000));
            e.user_name = "Re-sent".into();
            e
        } else {
            *next_id += 1;
            event(&format!("w{next_id}"), ts, rng.below(1000))
        };
        if (89..93).contains(&kind) {
            e.tool_name = String::new();
        }
        batch.push(e);
        if rng.below(20) == 0 {
            let mut copy = batch[rng.below(batch.len() as u64) as usize].clone();
            copy.user_name = "In-batch copy".into();
            batch.push(copy);
        }
    }
    batch
}

fn writer(engine: &Engine, c: &ManualClock, shared: &Shared, until: Instant) -> WriterCounts {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut counts = WriterCounts::default();
    // The writer's own view of the model: (company, id) -> first stored
    // copy, still retained.
    let key = |e: &Event| (e.company_name.clone(), e.event_id.clone());
    let mut live: HashMap<(String, String), Event> = HashMap::new();
    let mut sent: Vec<Event> = Vec::new();
    let mut next_id = 0u64;
    let mut version = 0u64;
    let publish = |version: &mut u64| {
        *version += 1;
        shared.version.store(*version, SeqCst);
    };
    while (Instant::now() < until
        || counts.steps < MIN_STEPS
        || shared.old_checks.load(SeqCst) == 0)
        && counts.steps < MAX_STEPS
        && !shared.reader_failed.load(SeqCst)
    {
        counts.steps += 1;
        let step = counts.steps;
        if step % 8 == 0 {
            // A third of a day later; on a new day, the oldest days go.
            c.advance_ms(8 * 3_600_000);
            counts.clock_advances += 1;
            let horizon = Day::of_ms(c.now_ms()).add_days(1 - RETENTION as i32);
            let expired: HashSet<Day> = live
                .values()
                .map(Event::day)
                .filter(|d| *d < horizon)
                .collect();
            let dropped = engine.enforce_retention().unwrap().len();
            counts.retention_calls += 1;
            assert_eq!(dropped, expired.len(), "days dropped at horizon {horizon}");
            live.retain(|_, e| e.day() >= horizon);
            shared.drops.write().unwrap().push((version + 1, horizon));
            publish(&mut version);
            if dropped > 0 {
                shared.day_drops.fetch_add(1, SeqCst);
            }
        } else if step % 37 == 0 {
            engine.compact().unwrap();
            counts.explicit_compactions += 1;
        } else if step % 53 == 0 {
            engine.flush().unwrap();
            counts.flushes += 1;
        } else {
            let now = c.now_ms();
            let horizon = Day::of_ms(now).add_days(1 - RETENTION as i32);
            let batch = make_batch(&mut rng, now, &mut next_id, &sent);
            // What the model expects.
            let mut rejected = Vec::new();
            let mut dups = 0;
            let mut new: Vec<Event> = Vec::new();
            let mut batch_ids = HashSet::new();
            for (i, e) in batch.iter().enumerate() {
                if e.validate().is_err() || e.day() < horizon || e.event_timestamp_ms > now + DAY_MS
                {
                    rejected.push(i);
                } else if !batch_ids.insert(key(e)) || live.contains_key(&key(e)) {
                    dups += 1;
                } else {
                    new.push(e.clone());
                }
            }
            counts.appends += 1;
            counts.events_sent += batch.len() as u64;
            let r = engine.append(batch).unwrap();
            let got: Vec<usize> = r.rejected.iter().map(|x| x.index).collect();
            assert_eq!(
                (r.stored, r.duplicates, got),
                (new.len(), dups, rejected.clone()),
                "append at step {step}"
            );
            counts.stored += new.len() as u64;
            counts.duplicates += dups as u64;
            counts.rejected += rejected.len() as u64;
            {
                let mut stored = shared.stored.write().unwrap();
                for e in &new {
                    stored.push((version + 1, e.clone()));
                }
            }
            for e in new {
                sent.push(e.clone());
                live.insert(key(&e), e);
            }
            publish(&mut version);
        }
    }
    counts
}

/// Takes snapshots and checks every query on each until the writer stops.
/// Returns (snapshots checked, queries run).
fn reader(engine: &Engine, shared: &Shared) -> (u64, u64) {
    let qs = queries();
    let (mut snaps, mut runs) = (0, 0);
    while !shared.done.load(SeqCst) {
        let before = shared.version.load(SeqCst);
        let snap = engine.snapshot();
        let after = shared.version.load(SeqCst);
        check_snapshot(shared, &snap, before, after, &qs);
        snaps += 1;
        runs += qs.len() as u64;
    }
    (snaps, runs)
}

/// Holds a snapshot until a retention drop has unlinked some of its days,
/// then runs the 31-day query (and the others) on it. Returns the number
/// of snapshots so checked.
fn old_snapshot_reader(engine: &Engine, shared: &Shared) -> u64 {
    let qs = queries();
    let mut checked = 0;
    while !shared.done.load(SeqCst) {
        let before = shared.version.load(SeqCst);
        let drops = shared.day_drops.load(SeqCst);
        let snap = engine.snapshot();
        let after = shared.version.load(SeqCst);
        while shared.day_drops.load(SeqCst) == drops && !shared.done.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Days of the snapshot that were sealed and have been dropped since:
        // their segment files are unlinked, only the mapping holds them.
        let horizon_now = engine.snapshot().horizon;
        let unlinked: Vec<Day> = snap
            .days()
            .into_iter()
            .filter(|d| *d < horizon_now)
            .filter(|d| snap.day(*d).is_some_and(|s| s.segment_count() > 0))
            .filter(|d| !engine.path().join("days").join(d.to_string()).exists())
            .collect();
        if unlinked.is_empty() {
            continue;
        }
        check_snapshot(shared, &snap, before, after, &qs);
        // The 31-day answer still holds the unlinked days' events.
        let r = snap
            .query(&Query::count().last_days(31).group_by(&[Field::EventDate]))
            .unwrap();
        for d in &unlinked {
            let n = r
                .rows
                .iter()
                .find(|row| row[0] == Scalar::Date(*d))
                .map(|row| int(&row[1]));
            assert!(n.is_some_and(|n| n > 0), "unlinked day {d} missing: {r:?}");
        }
        checked += 1;
        shared.old_checks.fetch_add(1, SeqCst);
    }
    checked
}

#[test]
fn writer_readers_seal_compact_and_retention_agree_with_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), opts(&c)).unwrap();
    let shared = Shared::default();
    let started = Instant::now();
    let until = started + soak_duration();
    let (counts, reads, old) = std::thread::scope(|s| {
        let w = s.spawn(|| {
            let _done = DoneOnDrop(&shared);
            writer(&engine, &c, &shared, until)
        });
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                s.spawn(|| {
                    let _fail = FailOnPanic(&shared);
                    reader(&engine, &shared)
                })
            })
            .collect();
        let old = s.spawn(|| {
            let _fail = FailOnPanic(&shared);
            old_snapshot_reader(&engine, &shared)
        });
        let counts = w.join().unwrap();
        let reads: Vec<(u64, u64)> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        (counts, reads, old.join().unwrap())
    });
    let elapsed = started.elapsed();

    // Quiet now: the last version, exactly.
    let last = shared.version.load(SeqCst);
    let qs = queries();
    assert_eq!(
        check_snapshot(&shared, &engine.snapshot(), last, last, &qs),
        last
    );
    let stats = engine.stats();
    let k = &stats.counters;
    assert_eq!((k.stored, k.duplicates), (counts.stored, counts.duplicates));
    assert_eq!(
        k.rejected_invalid + k.rejected_expired + k.rejected_future + k.rejected_quarantined,
        counts.rejected
    );
    eprintln!(
        "concurrency soak: {:.1} s, writer {counts:?}",
        elapsed.as_secs_f64()
    );
    eprintln!(
        "  engine: seals {}, segments written {}, compactions {} (automatic and {} explicit), days dropped {}, segments now {}, events now {}",
        k.seals,
        k.segments_written,
        k.compactions,
        counts.explicit_compactions,
        k.days_dropped,
        stats.segments(),
        stats.events()
    );
    eprintln!(
        "  readers: {} snapshots, {} queries checked against the model; {} old snapshots queried after their days were unlinked",
        reads.iter().map(|r| r.0).sum::<u64>(),
        reads.iter().map(|r| r.1).sum::<u64>(),
        old
    );
    // Everything the test is about happened.
    assert!(k.seals > 0 && k.compactions > 0);
    assert!(k.days_dropped > 0 && old > 0);
    assert!(reads.iter().all(|r| r.0 > 0));

    // And it is all still there after a reopen.
    let want = shared.oracle_at(last);
    let horizon = Day::of_ms(c.now_ms()).add_days(1 - RETENTION as i32);
    let mut want: Vec<Event> = want
        .events()
        .iter()
        .filter(|e| e.day() >= horizon)
        .cloned()
        .collect();
    let by_identity =
        |a: &Event, b: &Event| (&a.event_id, &a.company_name).cmp(&(&b.event_id, &b.company_name));
    want.sort_by(by_identity);
    drop(engine);
    let engine = Engine::open(dir.path(), opts(&c)).unwrap();
    let mut got: Vec<Event> = contents(&engine).into_values().flatten().collect();
    got.sort_by(by_identity);
    assert_eq!(got.len(), want.len());
    assert!(got == want, "contents after reopen differ from the model");
}
