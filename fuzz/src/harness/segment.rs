//! Segment files: `segment_bytes` (raw bytes as a segment) and
//! `segment_mutated` (a valid segment, then input-driven damage).
//!
//! Both open the bytes with `SegmentReader::from_bytes`; when that works
//! they run `verify`, read every column, dictionary value, bitmap (both the
//! validating `roaring` reader and the zero-copy croaring view), block value
//! and id-index entry through the public API, then put the file in an
//! in-memory data directory and run reports on it through an `Engine`.
//! Errors are fine; panics are findings. And:
//!
//! - verify passed => every read above succeeds, and the engine answers the
//!   day's total and group counts exactly as the decoded events say;
//! - damage with the checksums left as they were (`segment_mutated` without
//!   its "forge" flag) that verify does not catch => the decoded events are
//!   exactly the original ones (a single changed byte must never pass
//!   unnoticed and change data);
//! - the unharmed segment decodes to exactly the events written.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use daybook::event::{Field, FieldKind};
use daybook::generate::{GenConfig, Generator};
use daybook::segment::format::{FOOTER_LEN, SECTION_ENTRY_LEN, SEGMENT_MAGIC, section_crc};
use daybook::segment::{
    Encoding, INDEXED_FIELDS, SectionKind, SegmentReader, SegmentWriter, encoding_of,
};
use daybook::storage::{SimStorage, Storage};
use daybook::time::MAX_TS_MS;
use daybook::{Day, Engine, Error, Event, ManualClock, Op, Options, Query, Scalar};
use xxhash_rust::xxh3::xxh3_64;

use super::events::from_input;
use super::{Input, NOW_MS};

const LABEL: &str = "fuzz.seg";

/// `segment_bytes`: the input is a whole segment file.
pub fn segment_bytes(data: &[u8]) {
    check(data.to_vec(), None);
}

/// `segment_mutated`: byte 0 picks the starting segment (a small one built
/// from events derived from the input, a prebuilt 2,100-row one with
/// several blocks and mapped columns, or a prebuilt 33,000-row one with
/// framed columns), byte 1 holds flags (bit 0: forge the
/// checksums after the damage), then up to 16 mutations follow.
pub fn segment_mutated(data: &[u8]) {
    let mut inp = Input::new(data);
    let base = inp.u8();
    let flags = inp.u8();
    let forge = flags & 1 == 1;
    let (original, events) = if base % 8 == 7 {
        let (b, e) = big_segment();
        (b.clone(), e.clone())
    } else if base % 8 == 6 {
        let (b, e) = framed_segment();
        (b.clone(), e.clone())
    } else {
        small_segment(&mut inp)
    };
    let mut bytes = original.clone();
    mutate(&mut inp, &mut bytes);
    if forge {
        forge_checksums(&mut bytes);
    }
    if let Some(p) = std::env::var_os("DAYBOOK_FUZZ_DUMP") {
        std::fs::write(p, &bytes).unwrap();
    }
    let expect = (!forge).then_some(&events[..]);
    check(bytes, expect);
}

/// A segment of 1-40 events of 2026-11-27, each shaped by the input. Returns
/// the bytes and the events in row order (timestamp, then arrival).
pub fn small_segment(inp: &mut Input<'_>) -> (Vec<u8>, Vec<Event>) {
    let day = Day::of_ms(NOW_MS);
    let n = 1 + inp.below(40) as usize;
    let events: Vec<Event> = (0..n).map(|i| from_input(inp, day, i)).collect();
    let supersedes = if inp.chance(32) {
        vec![3, 5]
    } else {
        Vec::new()
    };
    build(day, 7, supersedes, events)
}

fn build(day: Day, id: u64, supersedes: Vec<u64>, mut events: Vec<Event>) -> (Vec<u8>, Vec<Event>) {
    let mut w = SegmentWriter::new(day);
    for e in &events {
        w.push(e).expect("events of the segment's day are accepted");
    }
    let bytes = w
        .encode(id, supersedes)
        .expect("a non-empty segment encodes");
    // Rows are in timestamp order, ties in arrival order (a stable sort).
    events.sort_by_key(|e| e.event_timestamp_ms);
    let seg =
        SegmentReader::from_bytes(Path::new(LABEL), bytes.clone()).expect("a fresh segment opens");
    seg.verify().expect("a fresh segment verifies");
    assert_eq!(
        seg.events().expect("a fresh segment decodes"),
        events,
        "written != read back"
    );
    (bytes, events)
}

/// A 2,100-row segment of generated activity (three blocks per block column,
/// UUID and zstd blocks, mapped dictionary columns), built once.
pub fn big_segment() -> &'static (Vec<u8>, Vec<Event>) {
    static BIG: OnceLock<(Vec<u8>, Vec<Event>)> = OnceLock::new();
    BIG.get_or_init(|| {
        let cfg = GenConfig {
            days: 1,
            events_per_day: 2_400,
            companies: 3,
            seed: 7,
            late_fraction: 0.0,
            dup_fraction: 0.0,
            now_ms: NOW_MS,
        };
        let day = Day::of_ms(NOW_MS);
        let mut seen = std::collections::HashSet::new();
        let events: Vec<Event> = Generator::new(cfg)
            .filter(|e| e.day() == day && seen.insert(e.event_id.clone()))
            .take(2_100)
            .collect();
        build(day, 11, Vec::new(), events)
    })
}

/// A segment of 33,000 rows of generated activity: enough rows for the
/// framed encoding of url and object_id (sections 12 and 13; zstd frames
/// with a dictionary, bit-packed frames), built once.
pub fn framed_segment() -> &'static (Vec<u8>, Vec<Event>) {
    static FRAMED: OnceLock<(Vec<u8>, Vec<Event>)> = OnceLock::new();
    FRAMED.get_or_init(|| {
        let cfg = GenConfig {
            days: 1,
            events_per_day: 36_000,
            companies: 3,
            seed: 8,
            late_fraction: 0.0,
            dup_fraction: 0.0,
            now_ms: NOW_MS,
        };
        let day = Day::of_ms(NOW_MS);
        let mut seen = std::collections::HashSet::new();
        let events: Vec<Event> = Generator::new(cfg)
            .filter(|e| e.day() == day && seen.insert(e.event_id.clone()))
            .take(33_000)
            .collect();
        assert_eq!(events.len(), 33_000, "the generator made too few events");
        build(day, 13, Vec::new(), events)
    })
}

/// The byte ranges of the sections of a segment file, from its table (no
/// checks beyond bounds): `(kind, field, start, end)`.
fn sections(bytes: &[u8]) -> Vec<(u16, u16, usize, usize)> {
    let mut out = Vec::new();
    let Some(footer_at) = bytes.len().checked_sub(FOOTER_LEN) else {
        return out;
    };
    let f = &bytes[footer_at..];
    let count = u32::from_le_bytes([f[12], f[13], f[14], f[15]]) as usize;
    let table = u64::from_le_bytes(f[16..24].try_into().unwrap_or([0; 8])) as usize;
    if count > 4096 || table.checked_add(count * SECTION_ENTRY_LEN) != Some(footer_at) {
        return out;
    }
    for i in 0..count {
        let e = &bytes[table + i * SECTION_ENTRY_LEN..table + (i + 1) * SECTION_ENTRY_LEN];
        let kind = u16::from_le_bytes([e[0], e[1]]);
        let field = u16::from_le_bytes([e[2], e[3]]);
        let off = u64::from_le_bytes(e[8..16].try_into().unwrap_or([0; 8]));
        let len = u64::from_le_bytes(e[16..24].try_into().unwrap_or([0; 8]));
        let (Ok(start), Some(end)) = (usize::try_from(off), off.checked_add(len)) else {
            continue;
        };
        let Ok(end) = usize::try_from(end) else {
            continue;
        };
        if start <= end && end <= bytes.len() {
            out.push((kind, field, start, end));
        }
    }
    out
}

/// Applies up to 16 input-chosen mutations. Each picks a region (the whole
/// file, a section, or a bitmaps, token postings, frames, frame
/// dictionary or packed timestamps section specifically) and an offset in
/// it.
pub fn mutate(inp: &mut Input<'_>, bytes: &mut Vec<u8>) {
    let secs = sections(bytes);
    let bitmaps: Vec<_> = secs
        .iter()
        .copied()
        .filter(|s| {
            [
                SectionKind::Bitmaps,
                SectionKind::TokenPostings,
                SectionKind::Frames,
                SectionKind::FrameDict,
                SectionKind::PackedTimestamps,
            ]
            .iter()
            .any(|k| s.0 == *k as u16)
        })
        .collect();
    for _ in 0..16 {
        if inp.is_empty() || bytes.is_empty() {
            break;
        }
        let op = inp.u8();
        let region = match inp.u8() % 4 {
            0 => (0, bytes.len()),
            1 | 2 if !bitmaps.is_empty() => {
                let s = bitmaps[inp.below(bitmaps.len() as u64) as usize];
                (s.2, s.3)
            }
            _ if !secs.is_empty() => {
                let s = secs[inp.below(secs.len() as u64) as usize];
                (s.2, s.3)
            }
            _ => (0, bytes.len()),
        };
        let (start, end) = (region.0.min(bytes.len()), region.1.min(bytes.len()));
        if start >= end {
            continue;
        }
        let at = start + inp.below((end - start) as u64) as usize;
        match op % 8 {
            0 => bytes[at] ^= 1 << (inp.u8() % 8),
            1 => bytes[at] = inp.u8(),
            2 => {
                let v: u32 = match inp.u8() % 6 {
                    0 => 0,
                    1 => u32::MAX,
                    2 => i32::MAX as u32,
                    3 => (end - start) as u32,
                    4 => inp.u8().into(),
                    _ => inp.u32(),
                };
                put(bytes, at, &v.to_le_bytes());
            }
            3 => {
                let v: u64 = match inp.u8() % 4 {
                    0 => 0,
                    1 => u64::MAX,
                    2 => bytes.len() as u64,
                    _ => inp.u64(),
                };
                put(bytes, at, &v.to_le_bytes());
            }
            4 => bytes.truncate(at),
            5 => {
                let n = inp.below(64) as usize + 1;
                let stop = (at + n).min(end);
                bytes[at..stop].fill(0);
            }
            6 => {
                // Copy a run from elsewhere (a block written to the wrong place).
                let from = inp.below(bytes.len() as u64) as usize;
                let n = (inp.below(64) as usize + 1)
                    .min(bytes.len() - from)
                    .min(end - at);
                let run = bytes[from..from + n].to_vec();
                put(bytes, at, &run);
            }
            _ => {
                let src = inp.bytes(inp_len(op));
                put(bytes, at, src);
            }
        }
    }
}

fn inp_len(op: u8) -> usize {
    usize::from(op >> 3) + 1
}

fn put(bytes: &mut [u8], at: usize, src: &[u8]) {
    let n = src.len().min(bytes.len().saturating_sub(at));
    bytes[at..at + n].copy_from_slice(&src[..n]);
}

/// Recomputes every checksum (sections, table, footer) so that damage gets
/// past them and reaches the structural checks, as bytes from a buggy or
/// hostile writer would.
pub fn forge_checksums(bytes: &mut [u8]) {
    let Some(footer_at) = bytes.len().checked_sub(FOOTER_LEN) else {
        return;
    };
    if bytes[footer_at..footer_at + 8] != SEGMENT_MAGIC {
        return;
    }
    daybook::segment::forge_group_crcs(bytes);
    let f = bytes[footer_at..].to_vec();
    let seg_id = u64::from_le_bytes(f[24..32].try_into().unwrap_or([0; 8]));
    let day = Day(i32::from_le_bytes(f[32..36].try_into().unwrap_or([0; 4])));
    let count = u32::from_le_bytes([f[12], f[13], f[14], f[15]]) as usize;
    let table = u64::from_le_bytes(f[16..24].try_into().unwrap_or([0; 8])) as usize;
    if count <= 4096 && table.checked_add(count * SECTION_ENTRY_LEN) == Some(footer_at) {
        for i in 0..count {
            let e = table + i * SECTION_ENTRY_LEN;
            let kind = u16::from_le_bytes([bytes[e], bytes[e + 1]]);
            let field = u16::from_le_bytes([bytes[e + 2], bytes[e + 3]]);
            let off = u64::from_le_bytes(bytes[e + 8..e + 16].try_into().unwrap_or([0; 8]));
            let len = u64::from_le_bytes(bytes[e + 16..e + 24].try_into().unwrap_or([0; 8]));
            let (Some(kind), Some(end)) = (SectionKind::from_u16(kind), off.checked_add(len))
            else {
                continue;
            };
            if end > footer_at as u64 {
                continue;
            }
            let crc = section_crc(seg_id, day, kind, field, &bytes[off as usize..end as usize]);
            bytes[e + 24..e + 28].copy_from_slice(&crc.to_le_bytes());
        }
        let crc = crc32fast::hash(&bytes[table..footer_at]);
        bytes[footer_at + 40..footer_at + 44].copy_from_slice(&crc.to_le_bytes());
    }
    let crc = crc32fast::hash(&bytes[footer_at..footer_at + 60]);
    bytes[footer_at + 60..footer_at + 64].copy_from_slice(&crc.to_le_bytes());
}

/// Opens, verifies, reads and queries `bytes`. With `expect` (damage that
/// left the checksums alone), a segment that verifies must hold exactly
/// those events.
pub fn check(bytes: Vec<u8>, expect: Option<&[Event]>) {
    let Ok(seg) = SegmentReader::from_bytes(Path::new(LABEL), bytes.clone()) else {
        return;
    };
    let t = std::time::Instant::now();
    let verified = seg.verify();
    let t1 = t.elapsed();
    // Finding 1 of docs/notes/fuzzing.md (a forged bitmap offset header
    // steering croaring views) is fixed: views and queries run on every input.
    let read = read_everything(&seg);
    let t2 = t.elapsed();
    let queried = query(&bytes, &seg);
    super::trace(|| {
        format!(
            "verify {t1:?} read {t2:?} query {:?} ok={}",
            t.elapsed(),
            verified.is_ok()
        )
    });
    if verified.is_err() {
        return;
    }
    let events = match read {
        Ok(events) => events,
        Err(e) => panic!("verify passed but a read failed: {e}"),
    };
    if let Some(expect) = expect {
        assert_eq!(
            events, expect,
            "damage passed verify and changed the events"
        );
    }
    match queried {
        Ok(Some(answers)) => answers.check(&events),
        Ok(None) => {}
        Err(e) => panic!("verify passed but a query failed: {e}"),
    }
}

/// Reads every value the public API exposes. Returns the decoded events.
pub fn read_everything(seg: &SegmentReader) -> Result<Vec<Event>, Error> {
    let rows = seg.rows();
    let _ = (
        seg.id(),
        seg.day(),
        seg.min_ts_ms(),
        seg.max_ts_ms(),
        seg.supersedes(),
    );
    for (kind, field, _) in seg.section_sizes() {
        let _ = seg.section_range(kind, field);
    }
    let ts = seg.timestamps()?;
    // The bulk decode and the searches read what single rows read.
    let all = ts.all();
    for r in 0..rows {
        let t = seg.timestamp(r)?;
        assert!(all.as_ref().is_none_or(|a| a.get(r as usize) == Some(&t)));
        let _ = ts.first_at_or_after(rows, t);
    }
    assert!(
        seg.timestamp(rows).is_err() || rows == u32::MAX,
        "a row past the end read"
    );
    let finder = memchr::memmem::Finder::new(b"a");
    for field in Field::stored() {
        match encoding_of(field) {
            Encoding::Dict | Encoding::MappedDict => {
                let d = seg.dict(field)?;
                let count = d.count();
                let _ = d.parent();
                for code in 0..=count {
                    d.value(code)?;
                    let _ = d.code_of_parent(code);
                }
                assert!(d.value(count.saturating_add(1)).is_err() || count == u32::MAX);
                for r in 0..rows {
                    let _ = d.code(r);
                    d.get(r)?;
                }
                if INDEXED_FIELDS.contains(&field) {
                    let mut total = 0u64;
                    for code in 0..=count {
                        let owned = seg.bitmap(field, code)?;
                        let view = seg.bitmap_view(field, code)?;
                        if let (Some(o), Some(v)) = (&owned, &view) {
                            total += o.len();
                            // The view must read the bytes as roaring-rs does.
                            assert_eq!(v.cardinality(), o.len(), "view cardinality");
                            assert_eq!((v.minimum(), v.maximum()), (o.min(), o.max()));
                            assert!(v.iter().take(4096).eq(o.iter().take(4096)));
                            assert_eq!(v.contains(0), o.contains(0));
                        }
                    }
                    let _ = total;
                }
            }
            Encoding::Blocks | Encoding::Framed => {
                let mut b = seg.blocks(field)?;
                for r in 0..rows {
                    b.get(r)?;
                }
                if field.kind() == FieldKind::Str {
                    // Backwards, to reload blocks, and through the byte paths.
                    for r in (0..rows).rev() {
                        let _ = b.get_str_bytes(r)?;
                        let _ = b.row_contains(r, &finder)?;
                    }
                }
                assert!(b.get(rows).is_err(), "a row past the end read");
            }
            Encoding::Timestamps => {}
        }
    }
    read_token_index(seg)?;
    let events = seg.events()?;
    let mut ids = seg.id_index()?;
    for e in events.iter().take(64) {
        let h = xxh3_64(e.event_id.as_bytes());
        ids.contains(&e.company_name, &e.event_id, h)?;
        seg.contains_id(&e.company_name, &e.event_id, h)?;
        // The same id under another company: the company column is read.
        ids.contains("another company", &e.event_id, h)?;
    }
    for probe in ["", "e-1", "not there"] {
        ids.contains("c", probe, xxh3_64(probe.as_bytes()))?;
    }
    Ok(events)
}

/// Every unit and posting of the url token index (docs/format.md, "Token
/// index"), through the dictionary's binary search and the croaring views.
fn read_token_index(seg: &SegmentReader) -> Result<(), Error> {
    let Some(ix) = seg.token_index(Field::Url)? else {
        return Ok(());
    };
    let _ = ix.complete();
    for i in 0..ix.len() {
        let u = ix.unit(i)?;
        let _ = ix.lower_bound(u.run)?;
        let rows = ix.rows(i)?;
        assert!(
            rows.maximum().is_none_or(|m| m < seg.rows()),
            "posting past the end"
        );
    }
    assert!(
        ix.unit(ix.len()).is_err() && ix.rows(ix.len()).is_err(),
        "a unit past the end read"
    );
    Ok(())
}

/// `url` patterns whose counts are checked against the rows: one unit
/// (answered by the token index alone), several, text and digits.
const URL_PATTERNS: [(Op, &str); 6] = [
    (Op::Contains, "/rfis/"),
    (Op::Contains, "a"),
    (Op::Contains, "example.com/"),
    (Op::Contains, "/1"),
    (Op::StartsWith, "https:"),
    (Op::StartsWith, "https://app."),
];

/// The engine's answers for one segment's day.
pub struct Answers {
    damaged: bool,
    total: u64,
    groups: Vec<(Field, BTreeMap<Scalar, u64>)>,
    /// The count of each of `URL_PATTERNS`.
    urls: Vec<u64>,
}

impl Answers {
    fn check(&self, events: &[Event]) {
        assert!(
            !self.damaged,
            "verify passed but the engine set the segment aside"
        );
        assert_eq!(self.total, events.len() as u64, "query total != rows");
        for (field, got) in &self.groups {
            let mut want: BTreeMap<Scalar, u64> = BTreeMap::new();
            for e in events {
                *want.entry(Scalar::from(e.get(*field))).or_default() += 1;
            }
            assert_eq!(got, &want, "group counts by {field} differ from the rows");
        }
        for ((op, p), got) in URL_PATTERNS.iter().zip(&self.urls) {
            let want = events
                .iter()
                .filter(|e| {
                    e.url.as_deref().is_some_and(|u| match op {
                        Op::StartsWith => u.starts_with(p),
                        _ => u.contains(p),
                    })
                })
                .count() as u64;
            assert_eq!(
                *got,
                want,
                "url {} {p:?}: count differs from the rows",
                op.name()
            );
        }
    }
}

fn count_of(r: &daybook::QueryResult) -> u64 {
    match r.rows.first().and_then(|row| row.last()) {
        Some(Scalar::Int(n)) => *n,
        _ => 0,
    }
}

/// Puts the segment in an in-memory data directory as the only file of its
/// day and runs reports on it. `Ok(None)`: the engine does not see it (a day
/// outside 1970..=9999).
pub fn query(bytes: &[u8], seg: &SegmentReader) -> Result<Option<Answers>, Error> {
    let day = seg.day();
    if day < Day(0) || day > Day::of_ms(MAX_TS_MS) {
        return Ok(None);
    }
    // A segment that names itself in `supersedes` is unlinked by recovery
    // (see docs/notes/fuzzing.md): the engine then holds nothing.
    if seg.supersedes().contains(&seg.id()) {
        return Ok(None);
    }
    let sim = SimStorage::new();
    let dir = Path::new("/sim/data/days").join(day.to_string());
    let path = dir.join(format!("{:020}.seg", seg.id()));
    sim.create_dir_all(&dir).expect("sim mkdir");
    let f = sim.create(&path, true).expect("sim create");
    f.write_all_at(bytes, 0).expect("sim write");
    let clock = ManualClock::new(day.start_ms() + 43_200_000);
    let engine = Engine::open(
        "/sim/data",
        Options {
            clock: Arc::new(clock),
            storage: Arc::new(sim.clone()),
            // The default (8M keys, a 10 MB filter zeroed at every open)
            // would dominate a fuzz run.
            sealed_id_filter_keys: 4096,
            ..Options::default()
        },
    )?;
    let snap = engine.snapshot();
    let damaged = snap.day(day).is_some_and(|d| !d.damage().is_empty());
    let _ = engine.stats();
    let total = engine.query(&Query::count());
    let mut groups = Vec::new();
    let mut first_err = total.as_ref().err().map(|e| e.to_string());
    let grouped = [
        Field::UserId,
        Field::ToolName,
        Field::EventType,
        Field::DeviceType,
        Field::EventName,
        Field::UserEmail,
        Field::UserLastLoginDate,
    ];
    for field in grouped {
        match engine.query(&Query::count().group_by(&[field])) {
            Ok(r) => {
                let map = super::counts_by_group(&r);
                groups.push((field, map));
            }
            Err(e) => {
                first_err.get_or_insert(e.to_string());
            }
        }
    }
    // Predicates through bitmaps, codes and blocks; listings; explain. Only
    // "no panic" is asked of these (forged dictionaries need not be sorted).
    let sample = snap.day_events(day).ok().and_then(|v| v.into_iter().next());
    let mut qs = vec![
        Query::count().filter(Field::Url, Op::Contains, "a"),
        Query::count().filter(Field::EventId, Op::StartsWith, "e"),
        Query::count().filter(Field::UserId, Op::Lt, 1_000_000),
        Query::count()
            .filter(Field::ToolName, Op::Ne, "RFIs")
            .group_by(&[Field::UserEmail]),
        Query::count().filter(Field::ProjectName, Op::IsNull, ()),
        Query::events().limit(5),
        Query::events()
            .filter(Field::ObjectId, Op::Ge, 3)
            .order_by(Field::UserId, daybook::Direction::Asc)
            .limit(3),
    ];
    if let Some(e) = &sample {
        qs.push(Query::count().filter(Field::ToolName, Op::Eq, e.tool_name.as_str()));
        qs.push(
            Query::count()
                .filter(Field::UserId, Op::Eq, e.user_id)
                .filter(Field::EventType, Op::In, vec![e.event_type.as_str()]),
        );
        qs.push(Query::events().filter(Field::EventId, Op::Eq, e.event_id.as_str()));
        // The needle index of object_id (url's is reached below).
        if let Some(o) = e.object_id {
            qs.push(Query::events().filter(Field::ObjectId, Op::In, vec![o, 7]));
        }
        if let Some(u) = &e.url {
            qs.push(
                Query::events()
                    .filter(Field::Url, Op::Eq, u.as_str())
                    .limit(2),
            );
        }
    }
    for (i, q) in qs.iter().enumerate() {
        if i == 0 {
            let _ = engine.explain(q).map(|(_, ex)| ex.to_string());
        } else {
            let _ = engine.query(q);
        }
    }
    let mut urls = Vec::new();
    for (op, p) in URL_PATTERNS {
        match engine.query(&Query::count().filter(Field::Url, op, p)) {
            Ok(r) => urls.push(count_of(&r)),
            Err(e) => {
                first_err.get_or_insert(e.to_string());
            }
        }
    }
    if damaged {
        return Ok(Some(Answers {
            damaged,
            total: 0,
            groups: Vec::new(),
            urls,
        }));
    }
    if let Some(e) = first_err {
        return Err(Error::InvalidQuery(e));
    }
    let total = total.map(|r| count_of(&r)).unwrap_or(0);
    Ok(Some(Answers {
        damaged,
        total,
        groups,
        urls,
    }))
}
