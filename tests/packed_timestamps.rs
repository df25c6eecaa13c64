//! Packed timestamps (section kind 17, format version 3; docs/format.md,
//! "Packed timestamps section"): frames of reference of 128 rows.
//!
//! - `frames_read_back_and_search_exactly`: for segments of 1 to 1,000
//!   rows (frame edges, equal timestamps, frames of width 0, the first and
//!   last millisecond of the day) every row, every bulk range and every
//!   search bound (each stored timestamp, one below and one above) reads
//!   as the sorted input; version 2 (plain, kind 2) reads the same.
//! - `timestamp_queries_match_the_oracle_in_every_state`: listings (newest
//!   and oldest first, offsets), windows cut at frame edges and inside
//!   frames (UTC offsets, sub-millisecond digits), timestamp predicates and
//!   group-bys match the oracle buffered, sealed, settled and reopened.
//! - `a_version_2_directory_still_answers`: segments rewritten in the
//!   version 2 layout answer the same queries exactly, and `verify` passes.
//! - `damage_to_packed_timestamps_is_caught`: a flipped byte fails the
//!   query that reads it (file, offset, section named); a frame rewritten
//!   with its checksum re-forged (rows out of order) is reported by
//!   `verify`.

mod common;
#[path = "common/query_gen.rs"]
mod query_gen;

use std::path::{Path, PathBuf};

use common::oracle::{Oracle, append_both, comparable, fmt_ts, state_options};
use common::{NOW_MS, assert_checksum_error, clock};
use daybook::generate::SplitMix64 as Rng;
use daybook::query::{Direction, Op, Operand, Query};
use daybook::segment::format::section_crc;
use daybook::segment::{SectionKind, SegmentReader, SegmentWriter};
use daybook::{Day, Engine, Event, Field};
use query_gen::*;

const RETENTION: u32 = 31;
const FRAME: usize = 128;

/// `count` events on the day `days_ago`: bursts (many rows on one
/// millisecond or within one second), quiet gaps, and the day's first and
/// last millisecond.
fn day_events(rng: &mut Rng, days_ago: i64, first: usize, count: usize) -> Vec<Event> {
    let start = day_ago(days_ago).start_ms();
    let mut at = rng.below(3_600_000) as i64;
    (0..count)
        .map(|i| {
            at = match (i, rng.below(10)) {
                (0, _) => 0,
                (i, _) if i + 1 == count => MS_PER_DAY - 1,
                (_, 0..=2) => at,
                (_, 3..=6) => at + rng.below(1000) as i64,
                _ => at + rng.below(400_000) as i64,
            }
            .min(MS_PER_DAY - 1);
            let mut a = [0u8; 24];
            for x in a.iter_mut() {
                *x = rng.below(32) as u8;
            }
            make_event(id_for(first + i, (i % 3) as u8), start + at, &a)
        })
        .collect()
}

fn segment_of(events: &[Event], day: Day, v2: bool) -> Vec<u8> {
    let mut w = SegmentWriter::new(day);
    if v2 {
        w.write_version_2();
    }
    for e in events {
        w.push(e).unwrap();
    }
    w.encode(1, Vec::new()).unwrap()
}

fn has(seg: &SegmentReader, kind: SectionKind) -> bool {
    seg.section_sizes().iter().any(|(k, _, _)| *k == kind)
}

#[test]
fn frames_read_back_and_search_exactly() {
    let mut rng = Rng::new(5);
    let day = day_ago(1);
    for rows in [1usize, 2, 127, 128, 129, 255, 256, 257, 1000] {
        let mut events = day_events(&mut rng, 1, 0, rows);
        // One frame of equal timestamps (width 0) in the larger cases.
        if rows >= 256 {
            for e in &mut events[FRAME..2 * FRAME] {
                e.event_timestamp_ms = day.start_ms() + 40_000_000;
            }
        }
        let mut want: Vec<i64> = events.iter().map(|e| e.event_timestamp_ms).collect();
        want.sort();
        let mut lens = Vec::new();
        for v2 in [false, true] {
            let path = Path::new(if v2 { "v2.seg" } else { "v3.seg" });
            let bytes = segment_of(&events, day, v2);
            lens.push(bytes.len());
            let seg = SegmentReader::from_bytes(path, bytes).unwrap();
            assert_eq!(seg.version(), if v2 { 2 } else { 3 });
            assert_eq!(has(&seg, SectionKind::PackedTimestamps), !v2);
            assert_eq!(has(&seg, SectionKind::Timestamps), v2);
            seg.verify().unwrap();
            let ts = seg.timestamps().unwrap();
            let n = rows as u32;
            for (r, t) in want.iter().enumerate() {
                assert_eq!(ts.at(r as u32), *t, "{rows} rows, row {r}");
                assert_eq!(seg.timestamp(r as u32).unwrap(), *t);
            }
            assert_eq!(ts.get(n), None);
            assert_eq!(ts.at(n), i64::MAX);
            for start in [0, 1, 127, 128, 129, 200, 255, 256, rows.saturating_sub(3)] {
                let mut out = vec![0u32; 300];
                ts.offsets(start as u32, &mut out);
                for (i, o) in out.iter().enumerate() {
                    let r = start + i;
                    let w = want.get(r).map_or(u32::MAX, |t| (t - want[0]) as u32);
                    assert_eq!(*o, w, "{rows} rows, bulk from {start}, row {r}");
                }
            }
            for t in want.iter().flat_map(|&t| [t - 1, t, t + 1]) {
                let expect = want.partition_point(|&x| x < t) as u32;
                assert_eq!(ts.first_at_or_after(n, t), expect, "{rows} rows, bound {t}");
                let cut = n / 2;
                assert_eq!(
                    ts.first_at_or_after(cut, t),
                    expect.min(cut),
                    "cut at {cut}"
                );
            }
            assert_eq!(ts.first_at_or_after(n, i64::MIN), 0);
            assert_eq!(ts.first_at_or_after(n, i64::MAX), n);
            let from = SegmentReader::from_bytes(Path::new("x.seg"), segment_of(&events, day, v2));
            assert_eq!(from.unwrap().events().unwrap().len(), rows);
        }
        if rows >= 1000 {
            // Version 2 spends 4 bytes a row on timestamps; version 3 less, even
            // on these sparse rows (about 3).
            assert!(lens[1] - lens[0] > rows / 2, "{lens:?}");
        }
    }
}

/// Timestamps where windows and predicates cut: each frame's first row's
/// and last row's timestamp (in the sealed, sorted order of each day), one
/// millisecond to either side, and the day's edges.
fn cut_points(events: &[Event]) -> Vec<i64> {
    let mut by_day: std::collections::BTreeMap<Day, Vec<i64>> = Default::default();
    for e in events {
        by_day
            .entry(e.day())
            .or_default()
            .push(e.event_timestamp_ms);
    }
    let mut out = Vec::new();
    for (day, mut ts) in by_day {
        ts.sort();
        out.extend([day.start_ms(), day.start_ms() + MS_PER_DAY]);
        for k in (0..ts.len()).step_by(FRAME) {
            for r in [k.saturating_sub(1), k, k + 1, k + FRAME / 2] {
                if let Some(&t) = ts.get(r) {
                    out.extend([t - 1, t, t + 1]);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Queries that read timestamps, cutting at `cuts` (picked by `rng`).
fn queries(cuts: &[i64], rng: &mut Rng) -> Vec<Query> {
    let mut out = vec![
        Query::count()
            .last_days(7)
            .group_by(&[Field::EventTimestamp])
            .order_by_count(Direction::Desc)
            .order_by(Field::EventTimestamp, Direction::Asc)
            .limit(25),
        Query::events()
            .last_days(7)
            .order_by(Field::EventTimestamp, Direction::Desc)
            .limit(30),
    ];
    for i in 0..60 {
        let a = cuts[rng.below(cuts.len() as u64) as usize];
        let b = cuts[rng.below(cuts.len() as u64) as usize];
        let (from, to) = (a.min(b), a.max(b) + i64::from(a == b));
        let (of, ot) = (rng.below(7) as usize, rng.below(7) as usize);
        let (f, t) = (
            fmt_ts(from, OFFSETS[of % OFFSETS.len()], i % 3 == 0),
            fmt_ts(to, OFFSETS[ot % OFFSETS.len()], false),
        );
        let win = |q: Query| q.between(&f, &t);
        let listing = |dir: Direction, limit: u64, offset: u64| {
            win(Query::events())
                .fields(&[Field::EventId, Field::EventTimestamp, Field::UserId])
                .order_by(Field::EventTimestamp, dir)
                .order_by(Field::EventId, Direction::Asc)
                .limit(limit)
                .offset(offset)
        };
        out.push(win(Query::count()));
        out.push(win(Query::count()).group_by(&[Field::EventType]));
        out.push(listing(Direction::Desc, 1 + i % 9, i % 4));
        out.push(listing(Direction::Asc, 1 + i % 5, (i / 4) % 3));
        let ops = [Op::Ge, Op::Gt, Op::Lt, Op::Le, Op::Eq, Op::Ne];
        let op = ops[i as usize % ops.len()];
        let p = Operand::timestamp_ms(a);
        out.push(
            Query::count()
                .last_days(7)
                .filter(Field::EventTimestamp, op, p.clone()),
        );
        out.push(
            Query::events()
                .last_days(7)
                .filter(Field::EventTimestamp, op, p)
                .filter(Field::EventTimestamp, Op::Lt, Operand::timestamp_ms(to))
                .order_by(Field::EventTimestamp, Direction::Desc)
                .order_by(Field::EventId, Direction::Asc)
                .limit(4),
        );
        out.push(
            win(Query::count())
                .group_by(&[Field::EventTimestamp, Field::EventType])
                .order_by(Field::EventTimestamp, Direction::Desc)
                .limit(6),
        );
    }
    out
}

/// Every query answers as the oracle does; returns how many matched rows.
fn check_all(engine: &Engine, oracle: &Oracle, qs: &[Query], state: &str) -> usize {
    let mut matched = 0;
    for q in qs {
        let want = oracle
            .query(q, NOW_MS, RETENTION, None)
            .unwrap_or_else(|e| panic!("[{state}] oracle: {e:?}: {}", q.to_json()));
        let got = engine
            .query(q)
            .unwrap_or_else(|e| panic!("[{state}] {e}: {}", q.to_json()));
        assert_eq!(comparable(got), want.result, "[{state}] {}", q.to_json());
        matched += usize::from(!want.result.rows.is_empty());
    }
    matched
}

/// Three days, each in two batches (so each day seals as two segments).
fn batches() -> (Vec<Event>, Vec<Event>) {
    let mut rng = Rng::new(21);
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    for (k, (days_ago, n)) in [(1i64, 700usize), (2, 129), (3, 1100)]
        .into_iter()
        .enumerate()
    {
        let evs = day_events(&mut rng, days_ago, k * 10_000, n);
        let cut = n * 2 / 3;
        first.extend_from_slice(&evs[..cut]);
        rest.extend_from_slice(&evs[cut..]);
    }
    (first, rest)
}

#[test]
fn timestamp_queries_match_the_oracle_in_every_state() {
    let (first, rest) = batches();
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let mut engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    append_both(&engine, &mut oracle, &first).unwrap();
    append_both(&engine, &mut oracle, &rest).unwrap();
    let qs = queries(&cut_points(oracle.events()), &mut Rng::new(3));
    let matched = check_all(&engine, &oracle, &qs, "buffered");
    assert!(matched >= qs.len() / 2, "{matched} of {} matched", qs.len());
    drop(engine);
    // Sealed as two segments a day: the first batch, then the rest.
    let dir = tempfile::tempdir().unwrap();
    engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    append_both(&engine, &mut oracle, &first).unwrap();
    engine.flush().unwrap();
    append_both(&engine, &mut oracle, &rest).unwrap();
    engine.flush().unwrap();
    assert_eq!(common::segments(&engine).len(), 6);
    for p in common::segments(&engine) {
        let seg = SegmentReader::open(&p).unwrap();
        assert!(has(&seg, SectionKind::PackedTimestamps) && !has(&seg, SectionKind::Timestamps));
        seg.verify().unwrap();
    }
    check_all(&engine, &oracle, &qs, "sealed");
    engine.settle().unwrap();
    let segs = common::segments(&engine);
    assert_eq!(segs.len(), 3);
    let mut rows: Vec<u32> = segs
        .iter()
        .map(|p| SegmentReader::open(p).unwrap().rows())
        .collect();
    rows.sort();
    assert_eq!(rows, [129, 700, 1100]);
    check_all(&engine, &oracle, &qs, "settled");
    drop(engine);
    engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    check_all(&engine, &oracle, &qs, "reopened");
}

/// Rewrites every segment of the engine's directory in the version 2
/// layout (same id and rows); returns the paths.
fn rewrite_as_version_2(paths: &[PathBuf]) {
    for p in paths {
        let seg = SegmentReader::open(p).unwrap();
        let mut w = SegmentWriter::new(seg.day());
        w.write_version_2();
        for e in seg.events().unwrap() {
            w.push(&e).unwrap();
        }
        let bytes = w.encode(seg.id(), Vec::new()).unwrap();
        drop(seg);
        std::fs::write(p, bytes).unwrap();
    }
}

#[test]
fn a_version_2_directory_still_answers() {
    let (first, rest) = batches();
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    append_both(&engine, &mut oracle, &first).unwrap();
    engine.flush().unwrap();
    append_both(&engine, &mut oracle, &rest).unwrap();
    engine.flush().unwrap();
    let paths = common::segments(&engine);
    drop(engine);
    rewrite_as_version_2(&paths);
    for p in &paths {
        let seg = SegmentReader::open(p).unwrap();
        assert_eq!(seg.version(), 2);
        assert!(has(&seg, SectionKind::Timestamps) && !has(&seg, SectionKind::PackedTimestamps));
        seg.verify().unwrap();
    }
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let qs = queries(&cut_points(oracle.events()), &mut Rng::new(4));
    check_all(&engine, &oracle, &qs, "version 2");
    // Settling rewrites them as version 3, answering the same.
    engine.settle().unwrap();
    for p in common::segments(&engine) {
        let seg = SegmentReader::open(&p).unwrap();
        assert_eq!(seg.version(), 3);
        assert!(has(&seg, SectionKind::PackedTimestamps));
    }
    check_all(&engine, &oracle, &qs, "version 2 settled");
}

/// One sealed segment of 700 rows (six frames).
fn sealed(dir: &Path) -> PathBuf {
    let mut rng = Rng::new(9);
    let events = day_events(&mut rng, 1, 0, 700);
    let engine = Engine::open(dir, state_options(&clock())).unwrap();
    engine.append(events).unwrap();
    engine.flush().unwrap();
    let paths = common::segments(&engine);
    assert_eq!(paths.len(), 1);
    paths[0].clone()
}

fn listing() -> Query {
    Query::events()
        .last_days(7)
        .order_by(Field::EventTimestamp, Direction::Desc)
        .limit(5)
}

#[test]
fn damage_to_packed_timestamps_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let path = sealed(dir.path());
    let field = Field::EventTimestamp as u16;
    let (offset, len) = SegmentReader::open(&path)
        .unwrap()
        .section_range(SectionKind::PackedTimestamps, field)
        .unwrap();
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    bad[(offset + len / 2) as usize] ^= 0x10;
    std::fs::write(&path, &bad).unwrap();
    let section = format!(
        "packed timestamps of event_timestamp (day {}, segment 1)",
        day_ago(1)
    );
    let engine = Engine::open(dir.path(), state_options(&clock())).unwrap();
    assert_checksum_error(engine.query(&listing()), &path, offset, &section);
    let seg = SegmentReader::open(&path).unwrap();
    assert_checksum_error(seg.verify(), &path, offset, &section);
    drop((engine, seg));

    // The second frame's first offset set below the first frame's rows,
    // checksum re-forged: rows out of order, which `verify` reports.
    let mut forged = good.clone();
    let at = offset as usize + 4;
    forged[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
    let seg = SegmentReader::open(&path).unwrap();
    let crc = section_crc(seg.id(), seg.day(), SectionKind::PackedTimestamps, field, {
        let (o, l) = (offset as usize, len as usize);
        &forged[o..o + l]
    });
    drop(seg);
    forge_crc(&mut forged, SectionKind::PackedTimestamps, crc);
    std::fs::write(&path, &forged).unwrap();
    let err = SegmentReader::open(&path).unwrap().verify().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "corrupted {} at offset {offset} (packed timestamps of event_timestamp): \
             row {FRAME} is out of timestamp order",
            path.display()
        )
    );
}

/// Sets the table entry's checksum of the `kind` section, and the table's
/// and footer's checksums after it.
fn forge_crc(b: &mut [u8], kind: SectionKind, crc: u32) {
    let f = b.len() - 64;
    let count = u32::from_le_bytes(b[f + 12..f + 16].try_into().unwrap()) as usize;
    let table = u64::from_le_bytes(b[f + 16..f + 24].try_into().unwrap()) as usize;
    for i in 0..count {
        let e = table + 32 * i;
        if u16::from_le_bytes([b[e], b[e + 1]]) == kind as u16 {
            b[e + 24..e + 28].copy_from_slice(&crc.to_le_bytes());
        }
    }
    let t = crc32fast::hash(&b[table..table + 32 * count]);
    b[f + 40..f + 44].copy_from_slice(&t.to_le_bytes());
    let c = crc32fast::hash(&b[f..f + 60]);
    b[f + 60..f + 64].copy_from_slice(&c.to_le_bytes());
}

/// Version 3 lists a url unit on more than 7/8 of a segment's rows
/// without rows (an empty posting); version 2 keeps every posting. On
/// `common::event` urls, `https`, `app`, `example`, `com`, `projects` and
/// `rfis` are on 12 of 13 rows; `/0/`, `/1/`, `/2/` on about a third.
#[test]
fn dense_token_units_are_listed_without_rows() {
    let day = day_ago(1);
    let events: Vec<Event> = (0..400u64)
        .map(|n| common::event(&format!("e{n}"), day.start_ms() + n as i64 * 1000, n))
        .collect();
    for v2 in [false, true] {
        let seg =
            SegmentReader::from_bytes(Path::new("t.seg"), segment_of(&events, day, v2)).unwrap();
        seg.verify().unwrap();
        let ix = seg.token_index(Field::Url).unwrap().unwrap();
        let mut dense = Vec::new();
        for i in 0..ix.len() {
            let u = ix.unit(i).unwrap();
            let run = String::from_utf8(u.run.to_vec()).unwrap();
            let holding = events
                .iter()
                .filter(|e| {
                    e.url.as_deref().is_some_and(|s| {
                        daybook::segment::tokens::units(s.as_bytes()).any(|x| x == u)
                    })
                })
                .count();
            if ix.dense(i) {
                assert_eq!((v2, holding * 8 > 400 * 7), (false, true), "{run}");
                dense.push(run);
            } else {
                assert_eq!(ix.rows(i).unwrap().cardinality() as usize, holding, "{run}");
            }
        }
        dense.sort();
        let want: &[&str] = if v2 {
            &[]
        } else {
            &["app", "com", "example", "https", "projects", "rfis"]
        };
        assert_eq!(dense, want, "version 2: {v2}");
    }
    // Patterns on dense units answer exactly, from rows, in both versions.
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    append_both(&engine, &mut oracle, &events).unwrap();
    engine.flush().unwrap();
    let patterns = [
        "/rfis/",
        "rfis",
        "https://app",
        "example.com/projects/1/",
        "/2/",
        "s/0",
    ];
    let qs: Vec<Query> = patterns
        .iter()
        .flat_map(|p| {
            [
                Query::count()
                    .last_days(7)
                    .filter(Field::Url, Op::Contains, *p),
                Query::count()
                    .last_days(7)
                    .filter(Field::Url, Op::StartsWith, *p),
            ]
        })
        .collect();
    check_all(&engine, &oracle, &qs, "version 3");
    let (_, ex) = engine
        .explain(
            &Query::count()
                .last_days(7)
                .filter(Field::Url, Op::Contains, "/rfis/"),
        )
        .unwrap();
    assert_eq!(ex.sources[0].rows_visited, 400);
    let paths = common::segments(&engine);
    drop(engine);
    rewrite_as_version_2(&paths);
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    check_all(&engine, &oracle, &qs, "version 2");
    let (_, ex) = engine
        .explain(
            &Query::count()
                .last_days(7)
                .filter(Field::Url, Op::Contains, "/rfis/"),
        )
        .unwrap();
    assert_eq!(ex.sources[0].rows_visited, 0);
}
