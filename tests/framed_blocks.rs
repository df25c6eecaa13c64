//! Framed block columns (`Encoding::Framed`, sections 12 and 13): in
//! segments of at least 32,768 rows `url` is stored as 128-row zstd frames
//! with a per-segment dictionary; `object_id` as bit-packed frames in every
//! segment.
//! Listings and needle queries with all fields are checked against the
//! full-scan oracle in every state (buffered, sealed, compacted, reopened),
//! with values at frame and block edges, nulls, 8 KiB and non-ASCII URLs
//! and object ids too far apart to pack; damage to a frame or to the
//! dictionary fails the query that reads it (file, offset, section), and
//! `verify` decodes every frame.

mod common;
#[path = "../fuzz/src/harness/mod.rs"]
#[allow(dead_code)]
mod harness;
#[path = "common/query_gen.rs"]
mod query_gen;

use std::path::{Path, PathBuf};

use common::clock;
use common::oracle::{Oracle, append_both, comparable, state_options};
use daybook::query::{Direction, Op, Query};
use daybook::segment::format::section_crc;
use daybook::segment::{SectionKind, SegmentReader};
use daybook::{Engine, Event, Field};
use query_gen::*;
use serde_json::json;

/// Rows of the framed day: just above the writer's 32,768-row threshold.
const ROWS: usize = 33_000;

fn object_of(k: usize) -> u64 {
    (k as u64 % 40) * 104_729 + 3
}

/// The URL of row `i`: 8 KiB ones at block starts, non-ASCII ones at frame
/// ends, missing ones, and the object's URL otherwise.
fn url_of(i: usize, obj: Option<u64>) -> Option<String> {
    match (i % 1024, i % 128, i % 7) {
        (0, _, _) => Some(format!("https://x.example/{i}/{}", "é".repeat(4000))),
        (_, 127, _) => Some(format!("https://x.example/ü/李/{}", i % 40)),
        (_, _, 3) => None,
        _ => obj.map(|o| format!("https://x.example/o/{o}")),
    }
}

/// `count` events of day `days_ago`, ids `first..`, one every 2 s so that
/// (in a segment of that day alone) event `first + r` is row `r`. Object
/// ids: a missing one every 6 rows, and `MAX_ID` in two frames, whose
/// values then span more than 32 bits (a zstd frame, not a packed one).
fn day_events(days_ago: i64, first: usize, count: usize) -> Vec<Event> {
    let start = day_ago(days_ago).start_ms();
    (0..count)
        .map(|r| {
            let i = first + r;
            let mut a = [0u8; 24];
            for (k, x) in a.iter_mut().enumerate() {
                *x = ((i * 7 + k * 13) % 32) as u8;
            }
            let mut e = make_event(id_for(i, (i % 3) as u8), start + r as i64 * 2000, &a);
            e.object_id = match r {
                300 | 32_999 => Some(MAX_ID),
                _ if r % 6 == 1 => None,
                _ => Some(object_of(i)),
            };
            e.url = url_of(r, e.object_id);
            e
        })
        .collect()
}

fn same(engine: &Engine, oracle: &Oracle, q: &Query, state: &str) {
    let want = oracle.query(q, common::NOW_MS, RETENTION, None).unwrap();
    let got = engine.query(q).unwrap();
    assert_eq!(comparable(got), want.result, "[{state}] {}", q.to_json());
}

/// Every row with every field; newest 100 of filtered listings; needles on
/// object ids, URLs and event ids at frame and block edges; scans.
fn check_state(engine: &Engine, oracle: &Oracle, state: &str) {
    let all = Query::events()
        .order_by(Field::EventTimestamp, Direction::Desc)
        .limit(50_000);
    same(engine, oracle, &all, state);
    for user in USER_IDS {
        let q = Query::events()
            .filter_named("user_id", Op::Eq, json!(user))
            .order_by(Field::EventTimestamp, Direction::Desc)
            .limit(100);
        same(engine, oracle, &q, state);
    }
    let edges = [0usize, 127, 128, 255, 256, 300, 1023, 1024, 32_767, 32_999];
    let ids: Vec<String> = edges.iter().map(|&r| id_for(r, (r % 3) as u8)).collect();
    let q = Query::events()
        .filter_named("event_id", Op::In, json!(ids))
        .order_by(Field::EventTimestamp, Direction::Asc);
    same(engine, oracle, &q, state);
    for value in [json!(object_of(5)), json!(MAX_ID), json!(17)] {
        let q = Query::events()
            .filter_named("object_id", Op::Eq, value)
            .order_by(Field::EventTimestamp, Direction::Desc)
            .limit(60);
        same(engine, oracle, &q, state);
    }
    for url in [
        url_of(1024, None).unwrap(),
        url_of(255, None).unwrap(),
        format!("https://x.example/o/{}", object_of(9)),
    ] {
        let q = Query::events()
            .filter_named("url", Op::Eq, json!(url))
            .order_by(Field::EventTimestamp, Direction::Desc);
        same(engine, oracle, &q, state);
    }
    let q = Query::count()
        .filter_named("url", Op::Contains, json!("ü/李"))
        .group_by(&[Field::ObjectId]);
    same(engine, oracle, &q, state);
    let q = Query::count().group_by(&[Field::Url]);
    same(engine, oracle, &q, state);
}

fn encoding_sections(seg: &SegmentReader, field: Field) -> (bool, bool, bool) {
    (
        seg.section_range(SectionKind::Frames, field as u16)
            .is_some(),
        seg.section_range(SectionKind::FrameDict, field as u16)
            .is_some(),
        seg.section_range(SectionKind::Blocks, field as u16)
            .is_some(),
    )
}

/// The segments of `dir` with their row counts, and whether url is
/// framed in each (object_id always is, with no dictionary section).
fn layout(dir: &Path) -> Vec<(u32, bool)> {
    common::segment_files(dir)
        .iter()
        .map(|p| {
            let seg = SegmentReader::open(p).unwrap();
            seg.verify().unwrap();
            let url = encoding_sections(&seg, Field::Url);
            assert!(url == (true, true, false) || url == (false, false, true));
            assert_eq!(
                encoding_sections(&seg, Field::ObjectId),
                (true, false, false)
            );
            // Event ids stay UUID blocks.
            assert_eq!(
                encoding_sections(&seg, Field::EventId),
                (false, false, true)
            );
            (seg.rows(), url.0)
        })
        .collect()
}

#[test]
fn framed_listings_and_needles_match_oracle_in_every_state() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let mut engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    append_both(&engine, &mut oracle, &day_events(1, 0, ROWS)).unwrap();
    append_both(&engine, &mut oracle, &day_events(2, ROWS, 500)).unwrap();
    check_state(&engine, &oracle, "buffered");
    engine.flush().unwrap();
    let mut rows = layout(dir.path());
    rows.sort();
    assert_eq!(rows, [(500, false), (ROWS as u32, true)]);
    check_state(&engine, &oracle, "sealed");
    // A small second segment of day 1 (blocks), then merged with the
    // framed one: the merge reads frames and writes frames.
    append_both(&engine, &mut oracle, &day_events(1, ROWS + 500, 1000)).unwrap();
    engine.flush().unwrap();
    check_state(&engine, &oracle, "two encodings in one day");
    engine.compact().unwrap();
    let mut rows = layout(dir.path());
    rows.sort();
    assert_eq!(rows, [(500, false), (ROWS as u32 + 1000, true)]);
    check_state(&engine, &oracle, "compacted");
    drop(engine);
    engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    check_state(&engine, &oracle, "reopened");
}

/// Writes a framed segment and returns its path.
fn framed_segment() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    engine.append(day_events(1, 0, ROWS)).unwrap();
    engine.flush().unwrap();
    drop(engine);
    let path = common::segment_files(dir.path()).remove(0);
    (dir, path)
}

/// A byte flipped in url's frames, in its dictionary, or in object_id's
/// frames: a query that reads the column fails with a checksum error
/// naming the file, the section's offset and the section; one that does
/// not read it is answered.
#[test]
fn a_flipped_frame_or_dictionary_byte_fails_the_query_that_reads_it() {
    let (dir, path) = framed_segment();
    let good = std::fs::read(&path).unwrap();
    let c = clock();
    for (kind, field, name) in [
        (SectionKind::Frames, Field::Url, "frames of url"),
        (
            SectionKind::FrameDict,
            Field::Url,
            "frame dictionary of url",
        ),
        (SectionKind::Frames, Field::ObjectId, "frames of object_id"),
    ] {
        let seg = SegmentReader::from_bytes(&path, good.clone()).unwrap();
        let (offset, len) = seg.section_range(kind, field as u16).unwrap();
        let (id, day) = (seg.id(), seg.day());
        let mut bad = good.clone();
        bad[(offset + len / 2) as usize] ^= 0x08;
        std::fs::write(&path, &bad).unwrap();
        let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
        let q = Query::count().filter_named("user_id", Op::Eq, json!(USER_IDS[1]));
        assert!(engine.query(&q).unwrap().matched_events.unwrap() > 0);
        let listing = Query::events()
            .order_by(Field::EventTimestamp, Direction::Desc)
            .limit(5)
            .fields(&[Field::EventId, field]);
        common::assert_checksum_error(
            engine.query(&listing),
            &path,
            offset,
            &format!("{name} (day {day}, segment {id})"),
        );
        let errors = engine.verify();
        assert_eq!(errors.len(), 1, "{errors:?}");
        drop(engine);
    }
    std::fs::write(&path, &good).unwrap();
}

/// Frames damaged with the checksums re-forged (so only the structure can
/// tell): `verify` reports the frame, naming the file, the section's
/// offset and the section, and never returns a value.
#[test]
fn reforged_frame_damage_is_reported_by_verify() {
    let (_dir, path) = framed_segment();
    let good = std::fs::read(&path).unwrap();
    let seg = SegmentReader::from_bytes(&path, good.clone()).unwrap();
    seg.verify().unwrap();
    let (url_at, _) = seg
        .section_range(SectionKind::Frames, Field::Url as u16)
        .unwrap();
    let (obj_at, _) = seg
        .section_range(SectionKind::Frames, Field::ObjectId as u16)
        .unwrap();
    let (dict_at, _) = seg
        .section_range(SectionKind::FrameDict, Field::Url as u16)
        .unwrap();
    let n_frames = (ROWS as u64).div_ceil(128);
    let area = 8 + 4 * (n_frames + 1);
    let cases: Vec<(SectionKind, Field, u64, u8, String)> = vec![
        // The frame count.
        (
            SectionKind::Frames,
            Field::Url,
            url_at + 4,
            0x01,
            format!(
                "corrupted {} at offset {url_at} (frames of url): frame table does not match the row count",
                path.display()
            ),
        ),
        // The first frame's format byte.
        (
            SectionKind::Frames,
            Field::Url,
            url_at + area,
            0x07,
            format!(
                "corrupted {} at offset {url_at} (frames of url): frame 0 has unknown format 7",
                path.display()
            ),
        ),
        // The end offset of the first frame, past the section.
        (
            SectionKind::Frames,
            Field::Url,
            url_at + 8 + 4 + 3,
            0x40,
            format!(
                "corrupted {} at offset {url_at} (frames of url): frame 0 offsets out of range",
                path.display()
            ),
        ),
        // The width of object_id's first frame (packed: format 1).
        (
            SectionKind::Frames,
            Field::ObjectId,
            obj_at + area + 1,
            0x40,
            format!(
                "corrupted {} at offset {obj_at} (frames of object_id): frame 0: packed frame has the wrong width or length",
                path.display()
            ),
        ),
        // The dictionary's first byte, so that it starts with zstd's magic.
        (
            SectionKind::FrameDict,
            Field::Url,
            dict_at,
            0,
            format!(
                "corrupted {} at offset {dict_at} (frame dictionary of url): starts with zstd's formatted-dictionary magic",
                path.display()
            ),
        ),
    ];
    for (kind, field, at, flip, want) in cases {
        let mut bad = good.clone();
        if flip == 0 {
            bad[at as usize..at as usize + 4].copy_from_slice(&[0x37, 0xA4, 0x30, 0xEC]);
        } else {
            bad[at as usize] ^= flip;
        }
        reforge(&mut bad, &seg, kind, field);
        let err = SegmentReader::from_bytes(&path, bad)
            .and_then(|s| s.verify())
            .unwrap_err()
            .to_string();
        assert_eq!(err, want);
    }
}

/// Segments below 32,768 rows keep `url` in 1,024-row blocks.
#[test]
fn small_segments_keep_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    append_both(&engine, &mut oracle, &day_events(1, 0, 32_767)).unwrap();
    engine.flush().unwrap();
    assert_eq!(layout(dir.path()), [(32_767, false)]);
    // object_id's frame of row 300 (MAX_ID) is zstd with no dictionary.
    let all = Query::events()
        .order_by(Field::EventTimestamp, Direction::Desc)
        .limit(50_000);
    same(&engine, &oracle, &all, "sealed");
}

/// The fuzz target `segment_mutated` from its framed starting segment
/// (first byte 6): damage aimed at the frames and frame dictionary
/// sections (region bytes 1 and 2), checksums re-forged or not. The
/// harness asserts every read is an error or the events written.
#[test]
fn fuzz_harness_damages_framed_segments() {
    let (bytes, events) = harness::segment::framed_segment();
    assert_eq!(events.len(), ROWS);
    let seg = SegmentReader::from_bytes(Path::new("framed"), bytes.clone()).unwrap();
    assert!(
        seg.section_range(SectionKind::Frames, Field::Url as u16)
            .is_some()
    );
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for case in 0..24u8 {
        let mut input = vec![6, case % 2];
        for _ in 0..3 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let b = x.to_le_bytes();
            input.extend_from_slice(&[b[0] % 8, 1 + case % 2, b[1], b[2], b[3], b[4], b[5]]);
        }
        harness::segment::segment_mutated(&input);
    }
}

/// Recomputes the checksum of the (kind, field) section in the table, the
/// table's checksum and the footer's.
fn reforge(b: &mut [u8], seg: &SegmentReader, kind: SectionKind, field: Field) {
    let f = b.len() - 64;
    let count = u32::from_le_bytes(b[f + 12..f + 16].try_into().unwrap()) as usize;
    let table = u64::from_le_bytes(b[f + 16..f + 24].try_into().unwrap()) as usize;
    for i in 0..count {
        let e = table + 32 * i;
        if b[e..e + 2] == (kind as u16).to_le_bytes()
            && b[e + 2..e + 4] == (field as u16).to_le_bytes()
        {
            let off = u64::from_le_bytes(b[e + 8..e + 16].try_into().unwrap()) as usize;
            let len = u64::from_le_bytes(b[e + 16..e + 24].try_into().unwrap()) as usize;
            let crc = section_crc(seg.id(), seg.day(), kind, field as u16, &b[off..off + len]);
            b[e + 24..e + 28].copy_from_slice(&crc.to_le_bytes());
        }
    }
    let tcrc = crc32fast::hash(&b[table..f]);
    b[f + 40..f + 44].copy_from_slice(&tcrc.to_le_bytes());
    let crc = crc32fast::hash(&b[f..f + 60]);
    b[f + 60..f + 64].copy_from_slice(&crc.to_le_bytes());
}
