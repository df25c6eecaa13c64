//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::manual_is_multiple_of)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use daybook::{Day, Engine, Event, EventType, ManualClock, Options};

#[cfg(feature = "cli")]
pub mod cli;
pub mod oracle;

/// 2026-11-27T12:00:00Z
pub const NOW_MS: i64 = 1_795_780_800_000;

pub fn day_ms(days_ago: i64, ms_into_day: i64) -> i64 {
    Day::of_ms(NOW_MS).start_ms() - days_ago * 86_400_000 + ms_into_day
}

/// A valid event with the given id and timestamp; other fields derived from
/// `n` so that events differ.
pub fn event(id: &str, ts_ms: i64, n: u64) -> Event {
    let types = EventType::ALL;
    Event {
        event_id: id.to_string(),
        event_timestamp_ms: ts_ms,
        event_type: types[(n % 24) as usize],
        event_name: format!("Did thing {}", n % 5),
        event_subtype: (n % 3 == 0).then(|| "Detail".to_string()),
        tool_name: ["RFIs", "Drawings", "Daily Log", "Submittals"][(n % 4) as usize].to_string(),
        company_name: ["Granite Ridge", "Harbor Point"][(n % 2) as usize].to_string(),
        project_name: (n % 7 != 0).then(|| format!("Project {}", n % 3)),
        project_number: (n % 7 != 0).then(|| format!("2026-0{}", n % 3)),
        project_is_demo: (n % 5 == 0).then_some(n % 2 == 0),
        object_id: (n % 11 != 0).then_some(n * 7919),
        url: (n % 13 != 0).then(|| {
            format!(
                "https://app.example.com/projects/{}/rfis/{}",
                n % 3,
                n * 7919
            )
        }),
        device_type: ["Web", "iOS", "Android", "API"][(n % 4) as usize].to_string(),
        is_api: n % 4 == 3,
        user_id: if n % 17 == 0 {
            9_223_372_036_854_775_807 - n
        } else {
            1000 + n % 50
        },
        user_email: format!("user{}@example.com", n % 50),
        user_login_email: (n % 2 == 0).then(|| format!("u{}@sso.example.com", n % 50)),
        user_name: format!("User {}", n % 50),
        user_job_title: (n % 4 != 0).then(|| "Superintendent".to_string()),
        user_role: Some("Project Manager".to_string()),
        user_type: (n % 6 != 0).then(|| "Employee".to_string()),
        user_default_permission_template: None,
        user_is_active: Some(n % 9 != 0),
        user_is_authorized_bidder: (n % 3 == 1).then_some(true),
        user_last_login_date: (n % 2 == 1).then(|| Day::of_ms(ts_ms)),
    }
}

pub fn clock() -> ManualClock {
    ManualClock::new(NOW_MS)
}

pub fn options(clock: &ManualClock) -> Options {
    Options {
        clock: Arc::new(clock.clone()),
        ..Options::default()
    }
}

/// Every stored event, per day, sorted by id then company (an event's
/// identity): the comparable content.
pub fn contents(engine: &Engine) -> BTreeMap<Day, Vec<Event>> {
    let snap = engine.snapshot();
    let mut out = BTreeMap::new();
    for day in snap.days() {
        let mut evs = snap.day_events(day).expect("day readable");
        evs.sort_by(|a, b| (&a.event_id, &a.company_name).cmp(&(&b.event_id, &b.company_name)));
        if !evs.is_empty() {
            out.insert(day, evs);
        }
    }
    out
}

// ------------------------------------------ damage tests (corruption, external_damage)

/// 20 events on each of three days (ids `e0`..`e59`), sealed: one segment
/// per day. Returns the segment paths, oldest day first.
pub fn sealed_dir(dir: &Path) -> Vec<PathBuf> {
    sealed_dir_with(dir, 0)
}

/// `sealed_dir` plus `extra` events on the middle day (a segment of many
/// pages).
pub fn sealed_dir_with(dir: &Path, extra: i64) -> Vec<PathBuf> {
    let c = clock();
    let engine = Engine::open(dir, options(&c)).unwrap();
    let mut evs: Vec<_> = (0..60)
        .map(|i| event(&format!("e{i}"), day_ms(i % 3, i * 1000), i as u64))
        .collect();
    evs.extend((0..extra).map(|i| event(&format!("m{i}"), day_ms(1, i * 7), i as u64)));
    engine.append(evs).unwrap();
    engine.flush().unwrap();
    segments(&engine)
}

pub fn segments(engine: &Engine) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = engine
        .snapshot()
        .partitions()
        .flat_map(|(_, d)| {
            d.segments()
                .iter()
                .map(|s| s.path().to_path_buf())
                .collect::<Vec<_>>()
        })
        .collect();
    paths.sort();
    paths
}

/// The segment files under a store directory, sorted (for a store no
/// engine has open: read from the directory, not a snapshot).
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for day in std::fs::read_dir(dir.join("days")).unwrap() {
        for f in std::fs::read_dir(day.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "seg") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Rewrites the segment at `path` without the sections of `kinds` (dropped
/// from the table, their bytes zeroed), with `version` in the header and
/// footer when given; table and footer checksums recomputed. Returns how
/// many sections were dropped.
pub fn drop_sections(path: &Path, kinds: &[u16], version: Option<u32>) -> usize {
    let mut b = std::fs::read(path).unwrap();
    let f = b.len() - 64;
    let count = u32::from_le_bytes(b[f + 12..f + 16].try_into().unwrap()) as usize;
    let table = u64::from_le_bytes(b[f + 16..f + 24].try_into().unwrap()) as usize;
    let mut kept = Vec::new();
    for i in 0..count {
        let e = b[table + 32 * i..table + 32 * i + 32].to_vec();
        if kinds.contains(&u16::from_le_bytes([e[0], e[1]])) {
            let off = u64::from_le_bytes(e[8..16].try_into().unwrap()) as usize;
            let len = u64::from_le_bytes(e[16..24].try_into().unwrap()) as usize;
            b[off..off + len].fill(0);
        } else {
            kept.push(e);
        }
    }
    let mut out = b[..table].to_vec();
    let new_table: Vec<u8> = kept.concat();
    out.extend_from_slice(&new_table);
    let mut footer = b[f..].to_vec();
    if let Some(v) = version {
        footer[8..12].copy_from_slice(&v.to_le_bytes());
        out[8..12].copy_from_slice(&v.to_le_bytes());
    }
    footer[12..16].copy_from_slice(&(kept.len() as u32).to_le_bytes());
    footer[40..44].copy_from_slice(&crc32fast::hash(&new_table).to_le_bytes());
    let crc = crc32fast::hash(&footer[..60]);
    footer[60..64].copy_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&footer);
    std::fs::write(path, out).unwrap();
    count - kept.len()
}

/// The day directory of a segment, from its path.
pub fn day_of(segment: &Path) -> Day {
    Day::parse(
        segment
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap(),
    )
    .unwrap()
}

/// `result` is a section checksum error naming `path`, the section's
/// `offset` and `section` (as the engine words it).
pub fn assert_checksum_error<T: std::fmt::Debug>(
    result: daybook::Result<T>,
    path: &Path,
    offset: u64,
    section: &str,
) {
    match result {
        Err(daybook::Error::Corrupted {
            path: p,
            offset: o,
            section: s,
            reason,
        }) => {
            assert_eq!(p, path);
            assert_eq!(o, offset);
            assert_eq!(s, section);
            assert_eq!(reason, "checksum mismatch");
        }
        other => panic!("expected a checksum error in {section}, got {other:?}"),
    }
}
