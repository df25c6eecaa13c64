//! Pins the exact bytes `SegmentWriter` writes for fixed inputs, so a
//! refactor of the writer cannot change the on-disk format by accident.
//!
//! Each case hashes the whole file (xxh3-64) and checks its length. A
//! failure here means the bytes changed: if that is intended (a format
//! change), update docs/format.md ("Segment file") and `SEGMENT_VERSION`
//! on purpose, then the constants below. The generated data set is pinned
//! on its own (`generated_events_are_pinned`), so a change in the generator
//! or its RNG shows up there rather than as a segment change.

use std::collections::HashSet;
use std::path::Path;

use daybook::event::{MAX_EVENT_ID_BYTES, MAX_ID, MAX_STRING_BYTES, MAX_URL_BYTES};
use daybook::generate::{GenConfig, Generator};
use daybook::json::event_to_json_line;
use daybook::segment::{SegmentReader, SegmentWriter};
use daybook::{Day, Event, EventType};
use xxhash_rust::xxh3::xxh3_64;

/// 2026-11-27T12:00:00Z.
const NOW_MS: i64 = 1_795_780_800_000;

fn day() -> Day {
    Day::of_ms(NOW_MS).add_days(-1)
}

/// One day of generated events (3 days generated, late events and
/// duplicates included, duplicates then removed as the engine removes
/// them): more rows than a block, so mapped dictionary columns and several
/// blocks are written.
fn generated() -> Vec<Event> {
    let cfg = GenConfig {
        days: 3,
        events_per_day: 4_000,
        companies: 4,
        seed: 11,
        now_ms: NOW_MS,
        ..GenConfig::default()
    };
    let mut seen = HashSet::new();
    Generator::new(cfg)
        .filter(|e| e.day() == day() && seen.insert(e.event_id.clone()))
        .collect()
}

/// An event of `day()` with every required field set and every optional
/// field null.
fn minimal(id: &str, offset_ms: i64) -> Event {
    let mut e = Event::blank();
    e.event_id = id.to_string();
    e.event_timestamp_ms = day().start_ms() + offset_ms;
    e.event_type = EventType::View;
    e.event_name = "Viewed".into();
    e.tool_name = "RFIs".into();
    e.company_name = "Acme".into();
    e.device_type = "Web".into();
    e.user_id = 1;
    e.user_email = "a@acme.example".into();
    e.user_name = "A".into();
    e
}

/// The edges of the contract: nulls everywhere, non-ASCII text, strings and
/// urls at their maximum length, the largest id, the first and last
/// millisecond of the day, equal timestamps (ties keep arrival order),
/// event ids that are not UUIDs and UUIDs in upper case.
fn edge_cases() -> Vec<Event> {
    let last_ms = 86_400_000 - 1;
    let mut v = vec![
        minimal("all-optional-null", 0),
        minimal("6F1C0C9E-3B2A-4C55-9A57-0B1F7C2D9E11", last_ms),
    ];
    let mut e = minimal("6f1c0c9e-3b2a-4c55-9a57-0b1f7c2d9e11", 5_000);
    e.event_type = EventType::WithdrawVoid;
    e.event_name = "Übermittelt — 提出 ✅".into();
    e.event_subtype = Some("ε".into());
    e.company_name = "Société Générale du Bâtiment".into();
    e.project_name = Some("東京タワー改修".into());
    e.project_number = Some("№ 7".into());
    e.project_is_demo = Some(true);
    e.object_id = Some(MAX_ID);
    e.url = Some(format!(
        "https://x.example/{}",
        "u".repeat(MAX_URL_BYTES - 18)
    ));
    e.is_api = true;
    e.user_id = MAX_ID;
    e.user_email = "zoë@example.com".into();
    e.user_login_email = Some("e\u{301}@sso.example".into());
    e.user_name = "n".repeat(MAX_STRING_BYTES);
    e.user_job_title = Some("👷".repeat(MAX_STRING_BYTES / 4));
    e.user_role = Some("Rôle".into());
    e.user_type = Some("Employee".into());
    e.user_default_permission_template = Some("Standard".into());
    e.user_is_active = Some(false);
    e.user_is_authorized_bidder = Some(true);
    e.user_last_login_date = Some(Day(0));
    v.push(e);
    for i in 0..5 {
        // Five events at the same millisecond.
        let mut t = minimal(&format!("tie-{i}"), 5_000);
        t.user_id = 10 + i;
        t.url = (i % 2 == 0).then(|| format!("https://x.example/{i}"));
        v.push(t);
    }
    v.push(minimal(&"i".repeat(MAX_EVENT_ID_BYTES), 1));
    v
}

/// 3,000 rows where every string and number is distinct: wide codes, no
/// column determines another, every bitmap holds one row.
fn many_distinct() -> Vec<Event> {
    (0..3_000u64)
        .map(|i| {
            let mut e = minimal(&format!("d-{i:05}"), (i as i64 * 28_793) % 86_400_000);
            e.event_type = EventType::ALL[(i % 24) as usize];
            e.event_name = format!("name {i}");
            e.tool_name = format!("tool {i}");
            e.company_name = format!("company {i}");
            e.project_name = Some(format!("project {i}"));
            e.object_id = Some(i * 7_919);
            e.url = Some(format!("https://x.example/{i}"));
            e.device_type = format!("device {i}");
            e.user_id = 1_000_000 + i;
            e.user_email = format!("u{i}@x.example");
            e.user_name = format!("user {i}");
            e
        })
        .collect()
}

fn encode(events: &[Event], id: u64, supersedes: Vec<u64>) -> Vec<u8> {
    let mut w = SegmentWriter::new(day());
    for e in events {
        w.push(e).unwrap();
    }
    w.encode(id, supersedes).unwrap()
}

/// `(length, xxh3-64)` of a file's bytes, after checking a reader accepts it.
fn digest(bytes: &[u8]) -> (usize, u64) {
    let seg = SegmentReader::from_bytes(Path::new("pinned.seg"), bytes.to_vec()).unwrap();
    seg.verify().unwrap();
    (bytes.len(), xxh3_64(bytes))
}

#[test]
fn generated_events_are_pinned() {
    let events = generated();
    let mut text = String::new();
    for e in &events {
        text.push_str(&event_to_json_line(e));
        text.push('\n');
    }
    assert_eq!(events.len(), 5_395);
    assert_eq!(xxh3_64(text.as_bytes()), 0x2adf9830961c04cd);
}

#[test]
fn generated_segment_bytes_are_pinned() {
    let bytes = encode(&generated(), 9, vec![3, 4]);
    assert_eq!(digest(&bytes), (347_024, 0x20aa117d55daee9d));
}

#[test]
fn edge_case_segment_bytes_are_pinned() {
    let bytes = encode(&edge_cases(), 2, Vec::new());
    assert_eq!(digest(&bytes), (14_544, 0xb2ead2fd6895dd06));
}

#[test]
fn one_row_segment_bytes_are_pinned() {
    let bytes = encode(&[minimal("only", 12_345)], 1, Vec::new());
    assert_eq!(digest(&bytes), (3_416, 0xdd1db557fbf4a87c));
}

#[test]
fn many_distinct_values_segment_bytes_are_pinned() {
    let bytes = encode(&many_distinct(), 5, Vec::new());
    assert_eq!(digest(&bytes), (753_160, 0xf778c174878766c3));
}

/// Compaction's path: rows copied from segments (`push_segment`), not
/// pushed as events.
#[test]
fn merged_segment_bytes_are_pinned() {
    let a = encode(&generated(), 3, Vec::new());
    let b = encode(&edge_cases(), 4, Vec::new());
    let mut w = SegmentWriter::new(day());
    for bytes in [a, b] {
        let seg = SegmentReader::from_bytes(Path::new("input.seg"), bytes).unwrap();
        w.push_segment(&seg).unwrap();
    }
    let bytes = w.encode(7, vec![3, 4]).unwrap();
    assert_eq!(digest(&bytes), (364_112, 0x26272570d694f9ac));
}

/// The same bytes with version `v` in the header and the footer (footer
/// CRC recomputed).
fn with_version(bytes: &[u8], v: u32) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[8..12].copy_from_slice(&v.to_le_bytes());
    let f = b.len() - 64;
    b[f + 8..f + 12].copy_from_slice(&v.to_le_bytes());
    let crc = crc32fast::hash(&b[f..f + 60]);
    b[f + 60..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Version 2 only added optional index sections: a version 1 file (the
/// layout without them) is still read, and every row reads back the same.
/// Version 3 is refused, naming the file and both versions.
#[test]
fn versions_1_and_2_still_read_and_a_version_4_one_is_refused() {
    let bytes = encode(&edge_cases(), 2, Vec::new());
    let v3 = SegmentReader::from_bytes(Path::new("v3.seg"), bytes.clone()).unwrap();
    assert_eq!(v3.version(), 3);
    for old in [1, 2] {
        let seg =
            SegmentReader::from_bytes(Path::new("old.seg"), with_version(&bytes, old)).unwrap();
        seg.verify().unwrap();
        assert_eq!(seg.version(), old);
        assert_eq!(seg.rows(), v3.rows());
        assert_eq!(seg.events().unwrap(), v3.events().unwrap());
    }
    let err = SegmentReader::from_bytes(Path::new("v4.seg"), with_version(&bytes, 4)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "v4.seg: unsupported format version 4 (this build reads versions up to 3)"
    );
}
