//! What compaction does to a day's bytes (docs/format.md, "Why a compacted
//! day can be larger"): a merge writes exactly what a fresh seal of the same
//! events writes, a compacted day of generated data is smaller than its
//! segments were, and the one way a merge stores more per row than its
//! inputs did (a determined column that stops being determined) follows the
//! format's rules to the byte.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use common::NOW_MS;
use daybook::generate::{GenConfig, Generator};
use daybook::segment::format::{code_width, packed_len};
use daybook::segment::{SectionKind, SegmentReader, SegmentWriter};
use daybook::{Day, Engine, Event, Field, ManualClock, Options};

/// The generated events of the day before `NOW_MS` (a full day), in arrival
/// order, without re-sent duplicates.
fn generated_day(events_per_day: u64, seed: u64) -> (Day, Vec<Event>) {
    let day = Day::of_ms(NOW_MS).add_days(-1);
    let cfg = GenConfig {
        days: 3,
        events_per_day,
        companies: 3,
        seed,
        now_ms: NOW_MS,
        ..GenConfig::default()
    };
    let mut seen = HashSet::new();
    let events = Generator::new(cfg)
        .filter(|e| e.day() == day && seen.insert(e.event_id.clone()))
        .collect();
    (day, events)
}

/// Writes `events` as segment `id` in `dir` and opens it.
fn write(dir: &Path, day: Day, id: u64, events: &[Event]) -> SegmentReader {
    let mut w = SegmentWriter::new(day);
    for e in events {
        w.push(e).unwrap();
    }
    let path = dir.join(format!("{id:020}.seg"));
    w.finish(id, Vec::new(), &path).unwrap();
    SegmentReader::open(&path).unwrap()
}

fn merge(day: Day, inputs: &[&SegmentReader]) -> SegmentWriter {
    let mut w = SegmentWriter::new(day);
    for s in inputs {
        w.push_segment(s).unwrap();
    }
    w
}

fn section_len(seg: &SegmentReader, kind: SectionKind, field: Field) -> Option<u64> {
    seg.section_range(kind, field as u16).map(|(_, len)| len)
}

/// Compaction (`push_segment`, column by column) and a seal of the decoded
/// events produce the same bytes: the merge loses no sort order, no code
/// map and no encoding a fresh seal would have chosen.
#[test]
fn a_merge_writes_exactly_what_a_fresh_seal_of_the_same_events_writes() {
    let (day, events) = generated_day(9_000, 11);
    assert_eq!(events.len(), 12_117);
    let dir = tempfile::tempdir().unwrap();
    // Three seals' worth, in arrival order (late events land in the last).
    let a = write(dir.path(), day, 1, &events[..3_000]);
    let b = write(dir.path(), day, 2, &events[3_000..7_000]);
    let c = write(dir.path(), day, 3, &events[7_000..]);
    let merged = merge(day, &[&a, &b, &c]).encode(4, Vec::new()).unwrap();
    let mut fresh = SegmentWriter::new(day);
    for e in &events {
        fresh.push(e).unwrap();
    }
    let fresh = fresh.encode(4, Vec::new()).unwrap();
    assert!(merged == fresh, "merge differs from a fresh seal");
    let inputs = a.file_bytes() + b.file_bytes() + c.file_bytes();
    assert!(
        (merged.len() as u64) < inputs,
        "merged {} bytes, inputs {inputs}",
        merged.len()
    );
}

/// The engine path: four days of generated events sealed into many small
/// segments a day (no automatic compaction), then `compact`. Every day
/// holds the same events in fewer bytes than before.
#[test]
fn compacting_generated_days_never_makes_them_larger() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW_MS);
    let opts = || Options {
        clock: Arc::new(clock.clone()),
        max_buffered_events: 3_000,
        compact_min_segments: 0,
        ..Options::default()
    };
    let engine = Engine::open(dir.path(), opts()).unwrap();
    let cfg = GenConfig {
        days: 4,
        events_per_day: 5_000,
        companies: 3,
        seed: 5,
        now_ms: NOW_MS,
        ..GenConfig::default()
    };
    let events: Vec<Event> = Generator::new(cfg).collect();
    for batch in events.chunks(1_000) {
        engine.append(batch.to_vec()).unwrap();
    }
    engine.flush().unwrap();
    let per_day = |e: &Engine| -> BTreeMap<Day, (usize, u64, u64)> {
        e.stats()
            .days
            .iter()
            .map(|d| (d.day, (d.segments, d.sealed_events, d.bytes)))
            .collect()
    };
    let before = per_day(&engine);
    // How many segments a day gets depends on when the background seals
    // ran; the three full days always get several (today, a few hours old,
    // maybe only one).
    let merged = before.values().filter(|d| d.0 > 1).count();
    assert!(before.len() == 4 && merged >= 3, "{before:?}");
    assert_eq!(engine.compact().unwrap(), merged);
    let after = per_day(&engine);
    for (day, &(segments, rows, bytes)) in &before {
        let (segments_after, rows_after, bytes_after) = after[day];
        assert_eq!((segments_after, rows_after), (1, rows), "{day}");
        if segments > 1 {
            assert!(bytes_after < bytes, "{day}: {bytes} -> {bytes_after} bytes");
        } else {
            assert_eq!(bytes_after, bytes, "{day}");
        }
    }
}

/// A column stored as a code map (here `user_last_login_date` over
/// `user_id`) in every input, where one user's value changes between the
/// inputs, is no longer a function of its parent in the merged segment: it
/// gets per-row codes, `ceil(rows × bits(K) / 8)` bytes, which no input
/// paid. This is the one per-row cost a merge adds beyond the wider codes
/// and id index of a bigger segment.
#[test]
fn a_determined_column_that_changes_between_inputs_gets_per_row_codes() {
    let (day, mut events) = generated_day(9_000, 11);
    let user = events.iter().map(|e| e.user_id).min().unwrap();
    // Noon in the generated companies' time zones (UTC-5 to UTC-8).
    let noon = day.start_ms() + 18 * 3_600_000;
    // The user logs in at noon: later events carry the new login date.
    for e in events.iter_mut() {
        if e.user_id == user && e.event_timestamp_ms >= noon {
            e.user_last_login_date = Some(day);
        }
    }
    let (am, pm): (Vec<Event>, Vec<Event>) = events
        .into_iter()
        .partition(|e| e.event_timestamp_ms < noon);
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), day, 1, &am);
    let b = write(dir.path(), day, 2, &pm);
    let field = Field::UserLastLoginDate;
    for seg in [&a, &b] {
        assert_eq!(seg.dict(field).unwrap().parent(), Some(Field::UserId));
        assert_eq!(section_len(seg, SectionKind::Codes, field), None);
    }
    let path = dir.path().join(format!("{:020}.seg", 3));
    merge(day, &[&a, &b]).finish(3, vec![1, 2], &path).unwrap();
    let m = SegmentReader::open(&path).unwrap();
    let col = m.dict(field).unwrap();
    assert_eq!(col.parent(), None);
    assert_eq!(section_len(&m, SectionKind::CodeMap, field), None);
    let rows = (am.len() + pm.len()) as u64;
    assert_eq!(m.rows() as u64, rows);
    let k = col.count() as usize;
    assert_eq!((rows, k, code_width(k)), (12_117, 30, 5));
    assert_eq!(
        section_len(&m, SectionKind::Codes, field),
        Some(packed_len(rows as usize, code_width(k)) as u64)
    );
    assert_eq!(section_len(&m, SectionKind::Codes, field), Some(7_574));
    // The other user columns are still maps.
    assert_eq!(
        m.dict(Field::UserEmail).unwrap().parent(),
        Some(Field::UserId)
    );
}

/// Inputs that each hold one company (a feed split by tenant) are better
/// clustered than the time-ordered day they merge into: a one-company
/// segment's `company_name` bitmaps are a 39-byte section (count, three
/// offsets, the empty null bitmap of 8 bytes, one run container of 15
/// bytes), its URLs share prefixes block by block, and project numbers are a
/// function of project names inside one company only. Merged, the day is
/// larger than its inputs, by exactly what a fresh seal of the same events
/// would take.
#[test]
fn segments_of_one_company_each_merge_into_a_larger_day() {
    let (day, events) = generated_day(9_000, 11);
    let dir = tempfile::tempdir().unwrap();
    let segs = per_company_segments(dir.path(), day, &events);
    assert_eq!(segs.len(), 3);
    let company = Field::CompanyName;
    for s in &segs {
        assert_eq!(section_len(s, SectionKind::Bitmaps, company), Some(39));
        assert_eq!(
            s.dict(Field::ProjectNumber).unwrap().parent(),
            Some(Field::ProjectName)
        );
    }
    let inputs: Vec<&SegmentReader> = segs.iter().collect();
    let merged = merge(day, &inputs).encode(4, Vec::new()).unwrap();
    // Rows with equal timestamps keep arrival order, and the merge sees the
    // companies one after another.
    let mut fresh = SegmentWriter::new(day);
    for s in &segs {
        for e in s.events().unwrap() {
            fresh.push(&e).unwrap();
        }
    }
    assert!(merged == fresh.encode(4, Vec::new()).unwrap());
    // Without the url token index, which lists units by their share of the
    // rows and so lists fewer digit units in the larger day.
    let tokens = |s: &SegmentReader| {
        [SectionKind::TokenDict, SectionKind::TokenPostings]
            .iter()
            .filter_map(|k| section_len(s, *k, Field::Url))
            .sum::<u64>()
    };
    let sum: u64 = segs.iter().map(|s| s.file_bytes() - tokens(s)).sum();
    let path = dir.path().join(format!("{:020}.seg", 4));
    std::fs::write(&path, &merged).unwrap();
    let m = SegmentReader::open(&path).unwrap();
    assert!(
        merged.len() as u64 - tokens(&m) > sum,
        "merged {}, inputs {sum}",
        merged.len()
    );
    assert!(section_len(&m, SectionKind::Bitmaps, company).unwrap() > 100 * 39);
    // Two companies have projects of the same name: across the day the
    // number determines the name, not the other way round.
    assert_eq!(m.dict(Field::ProjectNumber).unwrap().parent(), None);
    assert_eq!(
        m.dict(Field::ProjectName).unwrap().parent(),
        Some(Field::ProjectNumber)
    );
}

// ---- Reports (ignored): the figures in docs/format.md ----

/// Bytes per (section kind, field) of every segment of one day directory.
fn day_sections(dir: &Path) -> (u64, u64, usize, BTreeMap<(String, String), u64>) {
    let mut out = BTreeMap::new();
    let (mut rows, mut bytes, mut n) = (0u64, 0u64, 0usize);
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "seg") {
            continue;
        }
        let seg = SegmentReader::open(&p).unwrap();
        n += 1;
        rows += u64::from(seg.rows());
        bytes += seg.file_bytes();
        let mut listed = 0;
        for (kind, field, len) in seg.section_sizes() {
            listed += len;
            let name = Field::from_ordinal(field).map_or("-", |f| f.name());
            *out.entry((kind.name().to_string(), name.to_string()))
                .or_default() += len;
        }
        // Header, section table, footer and padding.
        *out.entry(("other".into(), "-".into())).or_default() += seg.file_bytes() - listed;
    }
    (rows, bytes, n, out)
}

/// Whether merging the segments of a day directory (in id order) writes the
/// same bytes as a seal of their decoded events.
fn merge_is_fresh_seal(dir: &Path) -> bool {
    let mut segs: Vec<SegmentReader> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| SegmentReader::open(&e.unwrap().path()).unwrap())
        .collect();
    segs.sort_by_key(|s| s.id());
    let day = segs[0].day();
    let mut fresh = SegmentWriter::new(day);
    for s in &segs {
        for e in s.events().unwrap() {
            fresh.push(&e).unwrap();
        }
    }
    let inputs: Vec<&SegmentReader> = segs.iter().collect();
    let id = u64::MAX - 1;
    merge(day, &inputs).encode(id, Vec::new()).unwrap() == fresh.encode(id, Vec::new()).unwrap()
}

/// Per day and section, the bytes of two copies of a data directory, one
/// before and one after `daybook compact`:
/// `BEFORE=dir AFTER=dir cargo test --release --test compaction_size --
/// --ignored --nocapture report_compaction_sections`.
#[test]
#[ignore]
fn report_compaction_sections() {
    let before = std::env::var("BEFORE").unwrap();
    let after = std::env::var("AFTER").unwrap();
    let mut days: Vec<_> = std::fs::read_dir(Path::new(&before).join("days"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    days.sort();
    let mut total = BTreeMap::<(String, String), (u64, u64)>::new();
    for day in days {
        let (rows, b0, n0, s0) = day_sections(&Path::new(&before).join("days").join(&day));
        let (_, b1, n1, s1) = day_sections(&Path::new(&after).join("days").join(&day));
        println!(
            "{}: {rows} rows, {n0} segments {b0} bytes ({:.2}/event) -> {n1} segments {b1} bytes ({:.2}/event)",
            day.to_string_lossy(),
            b0 as f64 / rows as f64,
            b1 as f64 / rows as f64
        );
        println!(
            "  a merge of the {n0} segments is byte-identical to a fresh seal of their events: {}",
            merge_is_fresh_seal(&Path::new(&before).join("days").join(&day))
        );
        for (k, v) in s0 {
            total.entry(k).or_default().0 += v;
        }
        for (k, v) in s1 {
            total.entry(k).or_default().1 += v;
        }
    }
    let mut kinds = BTreeMap::<String, (u64, u64)>::new();
    println!(
        "{:<12} {:<32} {:>10} {:>10} {:>9}",
        "section", "field", "before", "after", "delta"
    );
    for ((kind, field), (a, b)) in &total {
        let k = kinds.entry(kind.clone()).or_default();
        k.0 += a;
        k.1 += b;
        println!(
            "{kind:<12} {field:<32} {a:>10} {b:>10} {:>+9}",
            *b as i64 - *a as i64
        );
    }
    for (kind, (a, b)) in &kinds {
        println!(
            "{kind:<12} {:<32} {a:>10} {b:>10} {:>+9}",
            "(all)",
            *b as i64 - *a as i64
        );
    }
}

/// One full generated day (50,000 events a day, seed 42, the third day
/// before `NOW_MS`) sealed as two segments split at 18:00 UTC (about noon
/// where the generated companies are), where the
/// first `CHANGERS` users (default 1) get a new `user_last_login_date` at
/// noon; the merge's bytes per section against the inputs'.
#[test]
#[ignore]
fn report_attribute_change() {
    let day = Day::of_ms(NOW_MS).add_days(-3);
    let cfg = GenConfig {
        days: 7,
        events_per_day: 50_000,
        now_ms: NOW_MS,
        ..GenConfig::default()
    };
    let mut seen = HashSet::new();
    let mut events: Vec<Event> = Generator::new(cfg)
        .filter(|e| e.day() == day && seen.insert(e.event_id.clone()))
        .collect();
    let changers: usize = std::env::var("CHANGERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let noon = day.start_ms() + 18 * 3_600_000;
    let mut users: Vec<u64> = events.iter().map(|e| e.user_id).collect();
    users.sort_unstable();
    users.dedup();
    let changed: HashSet<u64> = users.iter().copied().take(changers).collect();
    for e in &mut events {
        if e.event_timestamp_ms >= noon && changed.contains(&e.user_id) {
            e.user_last_login_date = Some(day);
        }
    }
    let (am, pm): (Vec<Event>, Vec<Event>) = events
        .iter()
        .cloned()
        .partition(|e| e.event_timestamp_ms < noon);
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), day, 1, &am);
    let b = write(dir.path(), day, 2, &pm);
    let path = dir.path().join(format!("{:020}.seg", 3));
    merge(day, &[&a, &b]).finish(3, vec![1, 2], &path).unwrap();
    let m = SegmentReader::open(&path).unwrap();
    println!(
        "{day}: {} rows ({} + {}), {} users, {changers} changing: inputs {} + {} = {} bytes, merged {} bytes",
        events.len(),
        am.len(),
        pm.len(),
        users.len(),
        a.file_bytes(),
        b.file_bytes(),
        a.file_bytes() + b.file_bytes(),
        m.file_bytes()
    );
    print_section_deltas(&[&a, &b], &m);
}

/// Bytes per "kind field" of a segment.
fn sizes(seg: &SegmentReader) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (k, f, len) in seg.section_sizes() {
        let name = Field::from_ordinal(f).map_or("-", |f| f.name());
        *out.entry(format!("{} {name}", k.name())).or_default() += len;
    }
    out
}

/// Prints the sections whose bytes differ between `inputs` (summed) and
/// `merged`.
fn print_section_deltas(inputs: &[&SegmentReader], merged: &SegmentReader) {
    let mut before = BTreeMap::<String, u64>::new();
    for s in inputs {
        for (k, v) in sizes(s) {
            *before.entry(k).or_default() += v;
        }
    }
    let after = sizes(merged);
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let (i, o) = (
            before.get(k).copied().unwrap_or(0),
            after.get(k).copied().unwrap_or(0),
        );
        if i != o {
            println!("  {k:<45} {i:>9} {o:>9} {:>+9}", o as i64 - i as i64);
        }
    }
}

/// One segment per company of `events`, in `dir`, ids from 1.
fn per_company_segments(dir: &Path, day: Day, events: &[Event]) -> Vec<SegmentReader> {
    let mut companies: Vec<&str> = events.iter().map(|e| e.company_name.as_str()).collect();
    companies.sort_unstable();
    companies.dedup();
    (1..)
        .zip(companies)
        .map(|(id, c)| {
            let mine: Vec<Event> = events
                .iter()
                .filter(|e| e.company_name == c)
                .cloned()
                .collect();
            write(dir, day, id, &mine)
        })
        .collect()
}

/// `cargo test --release --test compaction_size -- --ignored --nocapture
/// report_per_company_inputs`: the day of `report_attribute_change` sealed
/// as one segment per company, and their merge, by section.
#[test]
#[ignore]
fn report_per_company_inputs() {
    let day = Day::of_ms(NOW_MS).add_days(-3);
    let cfg = GenConfig {
        days: 7,
        events_per_day: 50_000,
        now_ms: NOW_MS,
        ..GenConfig::default()
    };
    let mut seen = HashSet::new();
    let events: Vec<Event> = Generator::new(cfg)
        .filter(|e| e.day() == day && seen.insert(e.event_id.clone()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let segs = per_company_segments(dir.path(), day, &events);
    let inputs: Vec<&SegmentReader> = segs.iter().collect();
    let path = dir.path().join(format!("{:020}.seg", 99));
    merge(day, &inputs).finish(99, Vec::new(), &path).unwrap();
    let m = SegmentReader::open(&path).unwrap();
    let sum: u64 = segs.iter().map(|s| s.file_bytes()).sum();
    println!(
        "{day}: {} rows in {} per-company segments, {sum} bytes; merged {} bytes",
        events.len(),
        segs.len(),
        m.file_bytes()
    );
    print_section_deltas(&inputs, &m);
}
