//! Damaged files: every flipped byte and every truncation of a segment is
//! detected (at open or by verify) with an error naming the file, offset and
//! section; a damaged segment makes its day fail while other days stay
//! readable; a torn log tail is truncated, damage below it is reported.
//! Nothing panics, nothing raises SIGBUS.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use daybook::segment::{SectionKind, SegmentReader};
use daybook::{Engine, Error, Field};

/// XORs `mask` into the middle byte of `field`'s `kind` section of the
/// segment at `path`; returns the section's offset.
fn flip_in_section(path: &Path, kind: SectionKind, field: Field, mask: u8) -> u64 {
    let (offset, len) = SegmentReader::open(path)
        .unwrap()
        .section_range(kind, field as u16)
        .unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    bytes[(offset + len / 2) as usize] ^= mask;
    std::fs::write(path, &bytes).unwrap();
    offset
}

fn check_or_verify(path: &Path) -> Result<(), Error> {
    let seg = SegmentReader::open(path)?;
    seg.verify()
}

#[test]
fn every_flipped_byte_of_a_segment_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let seg = sealed_dir(dir.path()).remove(0);
    let good = std::fs::read(&seg).unwrap();
    let scratch = dir.path().join("scratch.seg");
    std::fs::write(&scratch, &good).unwrap();
    check_or_verify(&scratch).unwrap();
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x5a;
        std::fs::write(&scratch, &bad).unwrap();
        match check_or_verify(&scratch) {
            Err(Error::Corrupted {
                path,
                section,
                reason,
                ..
            }) => {
                assert_eq!(path, scratch);
                assert!(!section.is_empty() && !reason.is_empty());
            }
            Err(Error::UnsupportedVersion { .. }) => {
                assert!((8..12).contains(&i) || i >= good.len() - 64)
            }
            other => panic!("flip at byte {i} of {} not detected: {other:?}", good.len()),
        }
    }
}

#[test]
fn every_truncation_of_a_segment_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let seg = sealed_dir(dir.path()).remove(0);
    let good = std::fs::read(&seg).unwrap();
    let scratch = dir.path().join("scratch.seg");
    for len in 0..good.len() {
        std::fs::write(&scratch, &good[..len]).unwrap();
        match SegmentReader::open(&scratch) {
            Err(Error::Corrupted { .. }) => {}
            other => panic!(
                "truncation to {len} bytes not detected: {:?}",
                other.map(|_| ())
            ),
        }
    }
}

#[test]
fn a_damaged_segment_fails_its_day_and_spares_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let segs = sealed_dir(dir.path());
    // Damage a data section the day's events are read from.
    let victim = &segs[0];
    let offset = flip_in_section(victim, SectionKind::Codes, Field::ToolName, 0xff);
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let snap = engine.snapshot();
    let days = snap.days();
    assert_eq!(days.len(), 3);
    let victim_day = day_of(victim);
    for day in days {
        let r = snap.day_events(day);
        if day == victim_day {
            match r {
                Err(Error::Corrupted {
                    path,
                    offset: at,
                    section,
                    ..
                }) => {
                    assert_eq!(&path, victim);
                    assert_eq!(at, offset);
                    assert!(section.starts_with("codes of tool_name"), "{section}");
                }
                other => panic!(
                    "damaged day read without error: {:?}",
                    other.map(|v| v.len())
                ),
            }
        } else {
            assert_eq!(r.unwrap().len(), 20);
        }
    }
    let problems = engine.verify();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].to_string().contains(victim.to_str().unwrap()),
        "{}",
        problems[0]
    );
}

#[test]
fn a_truncated_segment_is_quarantined_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let segs = sealed_dir(dir.path());
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&segs[1])
        .unwrap();
    f.set_len(100).unwrap();
    drop(f);
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let snap = engine.snapshot();
    let bad_day = day_of(&segs[1]);
    let err = snap.day_events(bad_day).unwrap_err();
    assert!(
        err.to_string().contains("footer") || err.to_string().contains("file"),
        "{err}"
    );
    assert_eq!(snap.event_count(), 40);
}

fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Leaves three batches in the log (no seal) by copying the log aside
/// before the engine seals it on close... the engine only seals on open, so
/// we capture the log while the engine is still open.
fn unsealed_log(dir: &Path) -> (PathBuf, Vec<u8>) {
    let c = clock();
    let engine = Engine::open(dir, options(&c)).unwrap();
    for b in 0..3 {
        let evs: Vec<_> = (0..10)
            .map(|i| event(&format!("b{b}-{i}"), day_ms(0, i), i as u64))
            .collect();
        engine.append(evs).unwrap();
    }
    let log = log_files(dir).pop().unwrap();
    let bytes = std::fs::read(&log).unwrap();
    drop(engine);
    // Put the unsealed log back in place of whatever the engine left.
    for f in log_files(dir) {
        std::fs::remove_file(f).unwrap();
    }
    std::fs::remove_dir_all(dir.join("days")).unwrap();
    std::fs::create_dir(dir.join("days")).unwrap();
    (log, bytes)
}

#[test]
fn a_torn_log_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (log, bytes) = unsealed_log(dir.path());
    // Cut the last record in half.
    std::fs::write(&log, &bytes[..bytes.len() - 100]).unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    assert_eq!(engine.snapshot().event_count(), 20);
    assert!(engine.stats().counters.torn_tail_bytes > 0);
}

#[test]
fn a_log_under_another_name_is_corruption_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let (log, bytes) = unsealed_log(dir.path());
    // The same bytes under the next sequence number: a misplaced file.
    let name = log.file_name().unwrap().to_str().unwrap();
    let seq: u64 = name.trim_end_matches(".log").parse().unwrap();
    let wrong = log.with_file_name(format!("{:020}.log", seq + 1));
    std::fs::write(&wrong, &bytes).unwrap();
    let c = clock();
    match Engine::open(dir.path(), options(&c)) {
        Err(Error::Corrupted {
            path,
            offset,
            section,
            reason,
        }) => {
            assert_eq!(path, wrong);
            assert_eq!(offset, 16);
            assert_eq!(section, "log header");
            assert_eq!(
                reason,
                format!("header says log {seq}, the file name says {}", seq + 1)
            );
        }
        other => panic!("expected corruption, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_newest_log_with_only_a_torn_header_is_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let (log, bytes) = unsealed_log(dir.path());
    std::fs::write(&log, &bytes).unwrap();
    // A newer log whose header was garbled before its first sync.
    let name = log.file_name().unwrap().to_str().unwrap();
    let seq: u64 = name.trim_end_matches(".log").parse().unwrap();
    let newest = log.with_file_name(format!("{:020}.log", seq + 1));
    let mut header = bytes[..32].to_vec();
    header[5] ^= 0xff;
    std::fs::write(&newest, &header).unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    assert_eq!(engine.snapshot().event_count(), 30);
    assert!(!newest.exists());
    // The same header damage on a log that holds records is corruption.
    drop(engine);
    let dir = tempfile::tempdir().unwrap();
    let (log, mut bytes) = unsealed_log(dir.path());
    bytes[5] ^= 0xff;
    std::fs::write(&log, &bytes).unwrap();
    assert!(matches!(
        Engine::open(dir.path(), options(&c)),
        Err(Error::Corrupted { offset: 0, .. })
    ));
}

#[test]
fn damage_below_the_tail_is_reported_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (log, mut bytes) = unsealed_log(dir.path());
    // Flip a byte inside the first record's payload: valid records follow.
    bytes[32 + 12 + 20] ^= 0x01;
    std::fs::write(&log, &bytes).unwrap();
    let c = clock();
    match Engine::open(dir.path(), options(&c)) {
        Err(Error::Corrupted {
            path,
            offset,
            section,
            reason,
        }) => {
            assert_eq!(path, log);
            assert_eq!(offset, 32);
            assert_eq!(section, "log record");
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("expected corruption, got {:?}", other.map(|_| ())),
    }
    // The log is left as it was for an operator to inspect.
    assert_eq!(std::fs::read(&log).unwrap(), bytes);
}

#[test]
fn every_flipped_byte_of_the_log_is_an_error_or_a_clean_tail_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (log, bytes) = unsealed_log(dir.path());
    let c = clock();
    for i in (0..bytes.len()).step_by(7) {
        let mut bad = bytes.clone();
        bad[i] ^= 0x10;
        std::fs::write(&log, &bad).unwrap();
        for f in log_files(dir.path()) {
            if f != log {
                std::fs::remove_file(f).unwrap();
            }
        }
        let _ = std::fs::remove_dir_all(dir.path().join("days"));
        match Engine::open(dir.path(), options(&c)) {
            Err(Error::Corrupted { .. }) => {}
            // Only damage in the last record can be a torn tail: the first
            // two batches must then be intact.
            Ok(engine) => assert_eq!(engine.snapshot().event_count(), 20, "flip at {i}"),
            Err(other) => panic!("flip at {i}: unexpected error {other}"),
        }
    }
}

/// A flipped byte inside a bitmap section (which the query path views in
/// place with CRoaring after a CRC check) fails the query that reads that
/// bitmap, naming the file, the section and its offset; `verify` names it
/// too; another day's query still answers.
#[test]
fn a_flipped_bitmap_byte_fails_the_query_that_reads_it() {
    use daybook::{Op, Query};
    let dir = tempfile::tempdir().unwrap();
    let segs = sealed_dir(dir.path());
    let victim = &segs[0];
    let offset = flip_in_section(victim, SectionKind::Bitmaps, Field::ToolName, 0x01);
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let victim_day = day_of(victim).to_string();
    let q = |day: &str| {
        Query::count()
            .between(day, day)
            .filter(Field::ToolName, Op::Eq, "RFIs")
    };
    match engine.query(&q(&victim_day)) {
        Err(Error::Corrupted {
            path,
            offset: at,
            section,
            ..
        }) => {
            assert_eq!(&path, victim);
            assert_eq!(at, offset);
            assert!(section.starts_with("bitmaps of tool_name"), "{section}");
        }
        other => panic!("a damaged bitmap was read: {other:?}"),
    }
    let other_day = segs
        .iter()
        .map(|s| day_of(s).to_string())
        .find(|d| *d != victim_day)
        .unwrap();
    let want = engine
        .snapshot()
        .day_events(daybook::Day::parse(&other_day).unwrap())
        .unwrap()
        .iter()
        .filter(|e| e.tool_name == "RFIs")
        .count() as u64;
    let got = engine.query(&q(&other_day)).unwrap().matched_events;
    assert_eq!(got, Some(want));
    let problems = engine.verify();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(matches!(&problems[0], Error::Corrupted { path, .. } if path == victim));
}
