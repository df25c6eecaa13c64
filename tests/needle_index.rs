//! `eq` / `in` on `object_id`, `url` and `event_id` through their indexes
//! (the needle index, section kind 11, and the event-id index), checked
//! against the full-scan oracle in every state (buffered, sealed,
//! compacted, reopened), on version 1 segments (no index: rows are read),
//! and against damage: a flipped byte of a needle index fails the query
//! that reads it, and an entry changed with its checksum re-forged (a
//! posting that would hide a row) is reported by `verify`.

mod common;
#[path = "common/query_gen.rs"]
mod query_gen;

use std::path::Path;
use std::sync::Arc;

use common::oracle::{Oracle, append_both, comparable, state_options};
use common::{NOW_MS, clock};
use daybook::generate::SplitMix64 as Rng;
use daybook::query::{Direction, Op, Query};
use daybook::segment::format::section_crc;
use daybook::segment::{SectionKind, SegmentReader};
use daybook::{Engine, Event, Field};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use query_gen::*;
use serde_json::{Value as J, json};

/// Object ids that repeat across rows and blocks (some above 2^53).
const POOL: u64 = 40;

fn object_of(k: u64) -> u64 {
    match k {
        0 => MAX_ID,
        1 => (1 << 53) + 1,
        k => k * 104_729,
    }
}

/// `count` events of the day `days_ago`, ids `first..`, objects from the
/// pool (one in six missing), urls of the object (one in seven missing,
/// some not of the object).
fn day_events(rng: &mut Rng, days_ago: i64, first: usize, count: usize) -> Vec<Event> {
    (0..count)
        .map(|i| {
            let mut a = [0u8; 24];
            for x in a.iter_mut() {
                *x = rng.below(32) as u8;
            }
            let ts = day_ago(days_ago).start_ms() + rng.below(MS_PER_DAY as u64) as i64;
            let mut e = make_event(id_for(first + i, (i % 3) as u8), ts, &a);
            let obj = (rng.below(6) != 0).then(|| object_of(rng.below(POOL)));
            e.object_id = obj;
            e.url = match (rng.below(7), obj) {
                (0, _) => None,
                (1, _) | (_, None) => Some(format!("https://x.example/ü/{}", rng.below(POOL))),
                (_, Some(o)) => Some(format!("https://x.example/o/{o}")),
            };
            e
        })
        .collect()
}

/// A needle predicate's operand: a stored value (by index) or one that is
/// not stored.
fn operand(field: Field, events: &[Event], ix: usize, absent: bool) -> J {
    let e = &events[ix % events.len()];
    match (field, absent) {
        (Field::ObjectId, false) => json!(e.object_id.unwrap_or(object_of(ix as u64 % POOL))),
        (Field::ObjectId, true) => json!(7 + ix as u64 * 2),
        (Field::Url, false) => json!(
            e.url
                .clone()
                .unwrap_or_else(|| "https://x.example/o/0".into())
        ),
        (Field::Url, true) => json!(format!("https://x.example/none/{ix}")),
        (_, false) => json!(e.event_id.clone()),
        (_, true) => json!(format!("{}-not", e.event_id)),
    }
}

#[derive(Clone, Debug)]
struct NeedleSeed {
    field: usize,
    values: Vec<(prop::sample::Index, bool)>,
    other: Option<PredSeed>,
    shape: usize,
    limit: u64,
}

fn needle_seed() -> impl Strategy<Value = NeedleSeed> {
    (
        0usize..3,
        prop::collection::vec(
            (any::<prop::sample::Index>(), prop::bool::weighted(0.2)),
            1..5,
        ),
        prop::option::weighted(0.4, pred_seed()),
        0usize..4,
        1u64..40,
    )
        .prop_map(|(field, values, other, shape, limit)| NeedleSeed {
            field,
            values,
            other,
            shape,
            limit,
        })
}

/// `eq` (one value) or `in`, maybe with another predicate, as a count, a
/// count by user, or a listing (newest first, or by the needle field).
fn build(seed: &NeedleSeed, events: &[Event]) -> Query {
    let field = [Field::ObjectId, Field::Url, Field::EventId][seed.field];
    let vals: Vec<J> = seed
        .values
        .iter()
        .map(|(ix, absent)| operand(field, events, ix.index(events.len()), *absent))
        .collect();
    let mut q = match seed.shape {
        0 => Query::count(),
        1 => Query::count().group_by(&[Field::UserId]),
        2 => Query::events()
            .order_by(Field::EventTimestamp, Direction::Desc)
            .limit(seed.limit),
        _ => Query::events()
            .order_by(field, Direction::Asc)
            .limit(seed.limit),
    };
    q = match vals.as_slice() {
        [one] => q.filter_named(field.name(), Op::Eq, one.clone()),
        _ => q.filter_named(field.name(), Op::In, J::Array(vals)),
    };
    if let Some(p) = &seed.other {
        q.filters.push(build_pred(p));
    }
    q
}

fn check(engine: &Engine, oracle: &Oracle, q: &Query, state: &str) -> Result<(), TestCaseError> {
    let want = oracle.query(q, NOW_MS, RETENTION, None);
    let got = engine.query(q);
    match (want, got) {
        (Ok(want), Ok(got)) => {
            if want.result.matched_events.is_none_or(|n| n > 0) {
                NONEMPTY.with(|c| c.set(c.get() + 1));
            }
            prop_assert_eq!(
                &comparable(got),
                &want.result,
                "[{}] {}",
                state,
                q.to_json()
            );
        }
        (Err(part), Err(e)) => {
            prop_assert!(
                part.named_by(&e.to_string()),
                "[{}] {} vs {:?}",
                state,
                e,
                part
            );
        }
        (w, g) => {
            return Err(TestCaseError::fail(format!(
                "[{state}] {}: oracle {:?}, engine {:?}",
                q.to_json(),
                w.map(|a| a.result),
                g
            )));
        }
    }
    Ok(())
}

thread_local! {
    /// Queries of the current state that matched some event.
    static NONEMPTY: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Random needle queries over the engine's current state; most of them
/// must match something (operands are mostly stored values).
fn check_state(engine: &Engine, oracle: &Oracle, state: &str) {
    let events = oracle.events().to_vec();
    NONEMPTY.with(|c| c.set(0));
    let mut runner = TestRunner::new(config(cases(48)));
    let result = runner.run(&needle_seed(), |seed| {
        check(engine, oracle, &build(&seed, &events), state)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let nonempty = NONEMPTY.with(|c| c.get());
    assert!(
        nonempty >= cases(48) / 2,
        "[{state}] {nonempty} queries matched"
    );
}

fn append(engine: &Engine, oracle: &mut Oracle, batch: Vec<Event>) {
    append_both(engine, oracle, &batch).unwrap();
}

#[test]
fn needle_queries_match_oracle_in_every_state() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let mut engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    let mut rng = Rng::new(15);
    append(&engine, &mut oracle, day_events(&mut rng, 1, 0, 1500));
    append(&engine, &mut oracle, day_events(&mut rng, 2, 1500, 300));
    check_state(&engine, &oracle, "buffered");
    engine.flush().unwrap();
    check_state(&engine, &oracle, "sealed");
    // A second segment of day 1 (and re-sent ids), then one per day.
    let mut more = day_events(&mut rng, 1, 1800, 1300);
    more.extend(oracle.events()[..50].to_vec());
    append(&engine, &mut oracle, more);
    engine.flush().unwrap();
    engine.compact().unwrap();
    let rows: Vec<u32> = segments_of(&engine).iter().map(|s| s.rows()).collect();
    assert_eq!(rows, [300, 2800]);
    // The indexes answer: blocks for object_id and url, rows for event_id.
    for (field, value, what) in [
        (
            "object_id",
            json!(object_of(4)),
            "needle index of object_id: ",
        ),
        (
            "url",
            json!(format!("https://x.example/o/{}", object_of(4))),
            "needle index of url: ",
        ),
        ("event_id", json!(id_for(7, 1)), "event-id index: 1 row(s)"),
    ] {
        let q = Query::count().filter_named(field, Op::Eq, value);
        let plan = serde_json::to_string(&engine.explain(&q).unwrap().1).unwrap();
        assert!(plan.contains(what), "{plan}");
    }
    check_state(&engine, &oracle, "compacted");
    append(&engine, &mut oracle, day_events(&mut rng, 0, 3100, 200));
    drop(engine);
    engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    check_state(&engine, &oracle, "reopened");
}

/// The open segments of the engine, oldest day first.
fn segments_of(engine: &Engine) -> Vec<Arc<SegmentReader>> {
    let snap = engine.snapshot();
    let mut out = Vec::new();
    for (_, d) in snap.partitions() {
        out.extend(d.segments().iter().cloned());
    }
    out
}

/// Rewrites the segment at `path` as version 1: the needle sections
/// dropped from the table (their bytes zeroed), version 1 in the header
/// and footer, table and footer checksums recomputed.
fn rewrite_as_version_1(path: &Path) {
    assert_eq!(
        common::drop_sections(path, &[11], Some(1)),
        2,
        "two needle sections"
    );
}

/// A version 1 segment has no needle index: the same queries read its
/// rows and answer the same.
#[test]
fn version_1_segments_answer_the_same_through_rows() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    let mut rng = Rng::new(16);
    append(&engine, &mut oracle, day_events(&mut rng, 1, 0, 2100));
    append(&engine, &mut oracle, day_events(&mut rng, 3, 2100, 400));
    engine.flush().unwrap();
    drop(engine);
    let paths = common::segment_files(dir.path());
    assert_eq!(paths.len(), 2);
    for p in &paths {
        rewrite_as_version_1(p);
        let seg = SegmentReader::open(p).unwrap();
        assert_eq!(seg.version(), 1);
        seg.verify().unwrap();
    }
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let q = Query::count().filter_named("object_id", Op::Eq, json!(object_of(3)));
    let (_, plan) = engine.explain(&q).unwrap();
    let plan = serde_json::to_string(&plan).unwrap();
    assert!(!plan.contains("needle index"), "{plan}");
    check_state(&engine, &oracle, "version 1");
}

/// A byte flipped inside the needle index of `object_id`: the query that
/// reads it fails, naming the file, the section's offset and the section.
#[test]
fn a_flipped_needle_byte_fails_the_query_that_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    append(
        &engine,
        &mut oracle,
        day_events(&mut Rng::new(17), 1, 0, 2100),
    );
    engine.flush().unwrap();
    drop(engine);
    let path = common::segment_files(dir.path()).remove(0);
    let seg = SegmentReader::open(&path).unwrap();
    let (offset, len) = seg
        .section_range(SectionKind::Needle, Field::ObjectId as u16)
        .unwrap();
    let (id, day) = (seg.id(), seg.day());
    drop(seg);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[(offset + len / 2) as usize] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    // A query that does not read the index is answered.
    let all = engine.query(&Query::count()).unwrap();
    assert_eq!(all.matched_events, Some(2100));
    let q = Query::count().filter_named("object_id", Op::Eq, json!(object_of(5)));
    common::assert_checksum_error(
        engine.query(&q),
        &path,
        offset,
        &format!("needle index of object_id (day {day}, segment {id})"),
    );
}

/// Entries of the needle index changed with every checksum re-forged: a
/// wrong block number (the posting that would hide a row's block) and a
/// wrong low part. `verify` rebuilds the index and reports it.
#[test]
fn a_reforged_wrong_posting_is_reported_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    append(
        &engine,
        &mut oracle,
        day_events(&mut Rng::new(18), 1, 0, 2100),
    );
    engine.flush().unwrap();
    drop(engine);
    let path = common::segment_files(dir.path()).remove(0);
    let good = std::fs::read(&path).unwrap();
    for field in [Field::ObjectId, Field::Url] {
        let seg = SegmentReader::from_bytes(&path, good.clone()).unwrap();
        seg.verify().unwrap();
        let (offset, len) = seg
            .section_range(SectionKind::Needle, field as u16)
            .unwrap();
        // The last byte holds block numbers (2 bits each: 3 blocks); the
        // byte a third from the end, low parts.
        for at in [offset + len - 1, offset + len - len / 3] {
            let mut bad = good.clone();
            bad[at as usize] ^= 0x01;
            reforge(&mut bad, &seg, SectionKind::Needle, field);
            let err = SegmentReader::from_bytes(&path, bad)
                .and_then(|s| s.verify())
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "corrupted {} at offset {offset} (needle index of {}): does not index the column's values",
                    path.display(),
                    field.name()
                )
            );
        }
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
