//! Segment files on their own: round trips of every column encoding (mapped
//! dictionary columns, binary UUID blocks, the compact id index), and
//! reports of the per-section sizes of a full day of the `ingest_month`
//! data set and of a day of the comparison harness's small set
//! (`cargo test --release --test segment -- --ignored --nocapture report_`).

use std::collections::HashSet;
use std::time::Instant;

use daybook::generate::{GenConfig, Generator, SplitMix64};
use daybook::segment::format::{format_uuid, pack, packed_get, packed_len, parse_uuid};
use daybook::segment::{Encoding, SectionKind, SegmentReader, SegmentWriter, encoding_of};
use daybook::{Day, Event, Field};

/// 2026-11-27T12:00:00Z, the clock of examples/ingest_month.rs.
const NOW_MS: i64 = 1_795_780_800_000;

/// One full day (2026-11-26) of the data set examples/ingest_month.rs
/// ingests with its defaults (100,000 events/day, 31 days; the comparison
/// harness's medium set), or with `events_per_day` (10,000: its small
/// set), duplicates removed as the engine removes them.
fn ingest_month_day(events_per_day: u64) -> (Day, Vec<Event>) {
    let day = Day::of_ms(NOW_MS).add_days(-1);
    let cfg = GenConfig {
        days: 31,
        events_per_day,
        companies: 20,
        seed: 7,
        now_ms: NOW_MS,
        ..GenConfig::default()
    };
    let mut seen = HashSet::new();
    let events = Generator::new(cfg)
        .filter(|e| e.day() == day && seen.insert(e.event_id.clone()))
        .collect();
    (day, events)
}

/// A random lowercase UUID from `r`.
fn uuid(r: &mut SplitMix64) -> String {
    let v = (u128::from(r.next_u64()) << 64) | u128::from(r.next_u64());
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn day() -> Day {
    Day::of_ms(NOW_MS).add_days(-1)
}

/// `n` events of one day: user attributes and the company are functions of
/// `user_id`, `project_number` and `project_is_demo` of `project_name`,
/// `is_api` of `device_type`; ids are lowercase UUIDs; timestamps shuffled.
fn functional_events(n: usize, seed: u64) -> Vec<Event> {
    let mut r = SplitMix64::new(seed);
    let start = day().start_ms();
    (0..n)
        .map(|i| {
            let user = r.below(300);
            let project = r.below(40);
            let device = ["Web", "iOS", "Android", "API"][r.below(4) as usize];
            let tool = ["RFIs", "Drawings", "Daily Log", "Submittals"][r.below(4) as usize];
            Event {
                event_id: uuid(&mut r),
                event_timestamp_ms: start + r.below(86_400_000) as i64,
                event_type: daybook::EventType::ALL[r.below(24) as usize],
                event_name: format!("{tool} thing {}", i % 7),
                event_subtype: (r.below(3) != 0).then(|| "Detail".to_string()),
                tool_name: tool.to_string(),
                company_name: format!("Company {}", user % 5),
                project_name: (project != 0).then(|| format!("Project {project}")),
                project_number: (project != 0).then(|| format!("2026-{project:03}")),
                project_is_demo: (project != 0).then_some(project.is_multiple_of(9)),
                object_id: (r.below(20) != 0).then(|| r.below(1 << 40)),
                url: (r.below(20) != 0).then(|| format!("https://x.example/p/{project}/{i}")),
                device_type: device.to_string(),
                is_api: device == "API",
                user_id: if user == 7 {
                    u64::MAX >> 1
                } else {
                    1000 + user * 37
                },
                user_email: format!("user{user}@example.com"),
                user_login_email: user
                    .is_multiple_of(3)
                    .then(|| format!("u{user}@sso.example.com")),
                user_name: format!("User {}", user % 250),
                user_job_title: (!user.is_multiple_of(4)).then(|| format!("Title {}", user % 6)),
                user_role: Some(format!("Role {}", user % 3)),
                user_type: (!user.is_multiple_of(6)).then(|| "Employee".to_string()),
                user_default_permission_template: None,
                user_is_active: (!user.is_multiple_of(11)).then_some(!user.is_multiple_of(13)),
                user_is_authorized_bidder: (user % 3 == 1).then_some(true),
                user_last_login_date: (user % 2 == 1).then(|| day().add_days(-((user % 9) as i32))),
            }
        })
        .collect()
}

/// Writes `events` as one segment in `dir`, opens and verifies it.
fn write(dir: &std::path::Path, events: &[Event]) -> SegmentReader {
    let mut w = SegmentWriter::new(day());
    for e in events {
        w.push(e).unwrap();
    }
    assert_eq!(w.rows(), events.len());
    let path = dir.join("00000000000000000009.seg");
    let written = w.finish(9, vec![3, 4], &path).unwrap();
    assert_eq!(written.rows as usize, events.len());
    let seg = SegmentReader::open(&path).unwrap();
    assert_eq!(seg.file_bytes(), written.bytes);
    seg.verify().unwrap();
    seg
}

/// The events in the order a segment stores them: by timestamp, ties in
/// arrival order.
fn row_order(events: &[Event]) -> Vec<Event> {
    let mut v = events.to_vec();
    v.sort_by_key(|e| e.event_timestamp_ms);
    v
}

fn mapped(seg: &SegmentReader, field: Field) -> Option<Field> {
    let d = seg.dict(field).unwrap();
    let parent = d.parent();
    assert_eq!(
        parent.is_some(),
        seg.section_range(SectionKind::CodeMap, field as u16)
            .is_some()
    );
    assert_eq!(
        parent.is_none(),
        seg.section_range(SectionKind::Codes, field as u16)
            .is_some()
    );
    parent
}

#[test]
fn functionally_dependent_columns_are_mapped_and_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let events = functional_events(5000, 1);
    let seg = write(dir.path(), &events);
    assert_eq!(seg.events().unwrap(), row_order(&events));
    assert_eq!(seg.supersedes(), &[3, 4]);
    for f in [
        Field::UserEmail,
        Field::UserLoginEmail,
        Field::UserName,
        Field::UserJobTitle,
        Field::UserRole,
        Field::UserIsActive,
        Field::UserIsAuthorizedBidder,
        Field::UserLastLoginDate,
        Field::CompanyName,
    ] {
        assert_eq!(mapped(&seg, f), Some(Field::UserId), "{f}");
    }
    assert_eq!(mapped(&seg, Field::ProjectNumber), Some(Field::ProjectName));
    assert_eq!(mapped(&seg, Field::IsApi), Some(Field::DeviceType));
    for f in [
        Field::UserId,
        Field::ProjectName,
        Field::DeviceType,
        Field::EventSubtype,
    ] {
        assert_eq!(mapped(&seg, f), None, "{f}");
    }
    // Codes of a mapped column are the map of the parent's codes, and agree
    // with the column's own bitmaps.
    let company = seg.dict(Field::CompanyName).unwrap();
    let user = seg.dict(Field::UserId).unwrap();
    for row in 0..seg.rows() {
        assert_eq!(company.code(row), company.code_of_parent(user.code(row)));
        let bm = seg
            .bitmap(Field::CompanyName, company.code(row))
            .unwrap()
            .unwrap();
        assert!(bm.contains(row));
    }
}

#[test]
fn an_attribute_that_changes_mid_day_keeps_per_row_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut events = functional_events(3000, 2);
    // User 1000 + 37k: one event with another job title, one with another
    // login email becoming null, one with a company change.
    let uid = events[10].user_id;
    let mut changed = 0;
    for e in events
        .iter_mut()
        .filter(|e| e.user_id == uid)
        .skip(1)
        .take(1)
    {
        e.user_job_title = Some("Promoted".into());
        e.user_is_active = None;
        changed += 1;
    }
    assert_eq!(changed, 1);
    let seg = write(dir.path(), &events);
    assert_eq!(seg.events().unwrap(), row_order(&events));
    assert_eq!(mapped(&seg, Field::UserJobTitle), None);
    assert_eq!(mapped(&seg, Field::UserIsActive), None);
    assert_eq!(mapped(&seg, Field::UserEmail), Some(Field::UserId));
    assert_eq!(mapped(&seg, Field::UserRole), Some(Field::UserId));
}

#[test]
fn small_segments_keep_per_row_codes() {
    let dir = tempfile::tempdir().unwrap();
    for n in [1, 2, 100, 1023] {
        let events = functional_events(n, 3);
        let seg = write(dir.path(), &events);
        assert_eq!(seg.events().unwrap(), row_order(&events));
        for f in Field::stored().filter(|f| encoding_of(*f) == Encoding::Dict) {
            assert_eq!(mapped(&seg, f), None, "{n} rows, {f}");
        }
    }
}

#[test]
fn uuid_ids_are_stored_in_16_bytes_and_other_ids_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut events = functional_events(4 * 1024 + 17, 4);
    let all_uuid = write(dir.path(), &events);
    let (_, len) = all_uuid
        .section_range(SectionKind::Blocks, Field::EventId as u16)
        .unwrap();
    // 16 bytes per id, a format byte and an 8-byte offset per block.
    let blocks = (events.len() as u64).div_ceil(1024);
    assert_eq!(
        len,
        8 + 8 * (blocks + 1) + blocks + 16 * events.len() as u64
    );
    drop(all_uuid);
    // Ids that are not canonical lowercase UUIDs, each in its own block.
    let odd = [
        events[0].event_id.to_uppercase(),
        "e-1".to_string(),
        format!("{}x", &events[1].event_id[..35]),
        events[2].event_id.replace('-', "_"),
        format!("{}-", &events[3].event_id[..35]),
        format!("{{{}}}", events[4].event_id),
        "00000000-0000-0000-0000-000000000000".to_string(),
        "ffffffff-ffff-ffff-ffff-ffffffffffff".to_string(),
        format!("{}é", &events[5].event_id[..34]),
    ];
    let mut sorted_ts: Vec<i64> = events.iter().map(|e| e.event_timestamp_ms).collect();
    sorted_ts.sort_unstable();
    for (k, id) in odd.iter().enumerate() {
        // The event at row k * 450 gets the odd id.
        let ts = sorted_ts[k * 450];
        let e = events
            .iter_mut()
            .find(|e| e.event_timestamp_ms == ts)
            .unwrap();
        e.event_id = id.clone();
    }
    let seg = write(dir.path(), &events);
    assert_eq!(seg.events().unwrap(), row_order(&events));
    let (_, mixed_len) = seg
        .section_range(SectionKind::Blocks, Field::EventId as u16)
        .unwrap();
    assert!(mixed_len > len, "blocks with odd ids fall back to zstd");
    let mut ids = seg.blocks(Field::EventId).unwrap();
    for (row, e) in row_order(&events).iter().enumerate().rev() {
        assert_eq!(
            ids.get(row as u32).unwrap(),
            daybook::Value::Str(&e.event_id)
        );
    }
    for e in &events {
        let h = xxhash_rust::xxh3::xxh3_64(e.event_id.as_bytes());
        assert!(
            seg.contains_id(&e.company_name, &e.event_id, h).unwrap(),
            "{}",
            e.event_id
        );
    }
}

#[test]
fn the_id_index_finds_every_stored_id_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = SplitMix64::new(99);
    for n in [1usize, 2, 255, 256, 257, 1500, 65_537] {
        let mut events = functional_events(n.min(3000), 5 + n as u64);
        // Larger segments repeat the same events with fresh ids.
        while events.len() < n {
            let mut e = events[events.len() % 3000].clone();
            e.event_id = uuid(&mut r);
            events.push(e);
        }
        if n > 1 {
            events[1].event_id = format!("not-a-uuid-{n}");
        }
        let seg = write(dir.path(), &events);
        let mut index = seg.id_index().unwrap();
        for e in &events {
            let h = xxhash_rust::xxh3::xxh3_64(e.event_id.as_bytes());
            assert!(
                index.contains(&e.company_name, &e.event_id, h).unwrap(),
                "{n}: {}",
                e.event_id
            );
        }
        for _ in 0..20_000 {
            let id = uuid(&mut r);
            let h = xxhash_rust::xxh3::xxh3_64(id.as_bytes());
            assert!(!index.contains("Company 0", &id, h).unwrap());
        }
        // A stored id's hash with other text is not a match (exact check).
        let e = &events[0];
        let h = xxhash_rust::xxh3::xxh3_64(e.event_id.as_bytes());
        assert!(
            !index
                .contains(&e.company_name, "something else", h)
                .unwrap()
        );
        // A stored id under another company is not a match either.
        assert!(!index.contains("another company", &e.event_id, h).unwrap());
    }
}

#[test]
fn packed_arrays_round_trip_at_every_width() {
    let mut r = SplitMix64::new(7);
    for bits in 1..=32u8 {
        for n in [0usize, 1, 7, 8, 9, 63, 64, 65, 1000] {
            let max = if bits == 32 {
                u64::from(u32::MAX)
            } else {
                (1u64 << bits) - 1
            };
            let mut values: Vec<u32> = (0..n).map(|_| (r.next_u64() & max) as u32).collect();
            if n > 0 {
                values[n - 1] = max as u32;
            }
            let bytes = pack(values.iter().copied(), bits);
            assert_eq!(bytes.len(), packed_len(n, bits));
            for (i, &v) in values.iter().enumerate() {
                assert_eq!(
                    packed_get(&bytes, bits, i),
                    Some(v),
                    "bits {bits} n {n} i {i}"
                );
            }
            // Past the end (beyond the padding bits of the last byte).
            assert_eq!(packed_get(&bytes, bits, n + 8), None);
        }
    }
}

#[test]
fn uuid_text_round_trips_and_only_canonical_lowercase_parses() {
    let mut r = SplitMix64::new(11);
    for _ in 0..1000 {
        let id = uuid(&mut r);
        let b = parse_uuid(id.as_bytes()).unwrap();
        assert_eq!(format_uuid(&b).as_slice(), id.as_bytes());
        if id.bytes().any(|c| c.is_ascii_lowercase()) {
            assert_eq!(parse_uuid(id.to_uppercase().as_bytes()), None);
        }
    }
    for bad in [
        "",
        "0123456789abcdef0123456789abcdef",
        "01234567-89ab-cdef-0123-456789abcdeF",
        "01234567-89ab-cdef-0123-456789abcde",
        "01234567-89ab-cdef-0123-456789abcdef0",
        "0123456789-ab-cdef-0123-456789abcdef",
        "01234567-89ab-cdef-0123-456789abcdeg",
        "01234567+89ab-cdef-0123-456789abcdef",
        " 1234567-89ab-cdef-0123-456789abcdef",
    ] {
        assert_eq!(parse_uuid(bad.as_bytes()), None, "{bad}");
    }
}

#[test]
fn flipped_bytes_and_truncations_of_a_mapped_segment_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let events = functional_events(1100, 8);
    let good = {
        let seg = write(dir.path(), &events);
        assert!(mapped(&seg, Field::UserEmail).is_some());
        std::fs::read(seg.path()).unwrap()
    };
    let scratch = dir.path().join("00000000000000000009.seg");
    let check = |bytes: &[u8]| -> Result<(), daybook::Error> {
        std::fs::write(&scratch, bytes).unwrap();
        let seg = SegmentReader::open(&scratch)?;
        seg.verify()
    };
    check(&good).unwrap();
    // Every byte of the small sections and the tail, a sample of the rest.
    let tail = good.len() - 2048;
    for i in (0..good.len()).filter(|&i| i >= tail || i % 11 == 0) {
        let mut bad = good.clone();
        bad[i] ^= 0x21;
        match check(&bad) {
            Err(daybook::Error::Corrupted { .. }) => {}
            Err(daybook::Error::UnsupportedVersion { .. }) => {}
            other => panic!("flip at {i} not detected: {other:?}"),
        }
    }
    for len in (0..good.len()).filter(|&l| l >= tail || l % 97 == 0) {
        std::fs::write(&scratch, &good[..len]).unwrap();
        assert!(
            matches!(
                SegmentReader::open(&scratch),
                Err(daybook::Error::Corrupted { .. })
            ),
            "truncation to {len} bytes"
        );
    }
}

#[test]
#[ignore = "a measurement, not a test: run with --release --ignored --nocapture"]
fn report_full_day_sections() {
    report_day_sections(100_000);
}

/// The same report for a day of the harness's small set (10,000 events a
/// day: segments of about 10,000 rows), where per-segment fixed costs show.
#[test]
#[ignore = "a measurement, not a test: run with --release --ignored --nocapture"]
fn report_small_day_sections() {
    report_day_sections(10_000);
}

/// Per-section sizes (bytes/event) and speeds of one generated day.
fn report_day_sections(events_per_day: u64) {
    let (day, events) = ingest_month_day(events_per_day);
    let n = events.len();
    let (mut push_ns, mut encode_ns) = (f64::MAX, f64::MAX);
    let mut bytes = Vec::new();
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    for _ in 0..reps {
        let t = Instant::now();
        let mut w = SegmentWriter::new(day);
        for e in &events {
            w.push(e).unwrap();
        }
        let p = t.elapsed().as_secs_f64();
        let t = Instant::now();
        bytes = w.encode(1, Vec::new()).unwrap();
        let en = t.elapsed().as_secs_f64();
        push_ns = push_ns.min(p * 1e9 / n as f64);
        encode_ns = encode_ns.min(en * 1e9 / n as f64);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("00000000000000000001.seg");
    std::fs::write(&path, &bytes).unwrap();
    let seg = SegmentReader::open(&path).unwrap();
    let t = Instant::now();
    seg.verify().unwrap();
    let verify_ms = t.elapsed().as_secs_f64() * 1e3;
    let mut decode_ns = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        assert_eq!(seg.events().unwrap().len(), n);
        decode_ns = decode_ns.min(t.elapsed().as_secs_f64() * 1e9 / n as f64);
    }
    println!(
        "day {day}: {n} rows, {} bytes = {:.2} bytes/event; push {:.0} ns/event, encode {:.0} ns/event, total {:.0} ns/event; verify {verify_ms:.0} ms; decode {decode_ns:.0} ns/event",
        bytes.len(),
        bytes.len() as f64 / n as f64,
        push_ns,
        encode_ns,
        push_ns + encode_ns
    );
    let mut sizes = seg.section_sizes();
    sizes.sort_by_key(|s| std::cmp::Reverse(s.2));
    let mut by_kind = std::collections::BTreeMap::<&str, u64>::new();
    for (kind, field, len) in &sizes {
        *by_kind.entry(kind.name()).or_default() += len;
        let name = Field::from_ordinal(*field).map_or("-", |f| f.name());
        println!(
            "  {:<12} {:<34} {:>8.3} bytes/event",
            kind.name(),
            name,
            *len as f64 / n as f64
        );
    }
    let parents: Vec<String> = Field::stored()
        .filter(|f| encoding_of(*f) == Encoding::Dict)
        .filter_map(|f| Some(format!("{f} <- {}", seg.dict(f).ok()?.parent()?)))
        .collect();
    println!("mapped columns: {}", parents.join(", "));
    println!("per kind:");
    for (kind, len) in by_kind {
        println!("  {kind:<12} {:>8.3} bytes/event", len as f64 / n as f64);
    }
    let listed: u64 = sizes.iter().map(|s| s.2).sum();
    println!(
        "  {:<12} {:>8.3} bytes/event",
        "other",
        (bytes.len() as u64 - listed) as f64 / n as f64
    );
}

/// `BlockCursor::row_contains` searches a whole decompressed block at once:
/// a match must count only inside one value's bytes, never across a length
/// prefix or two values, and overlapping matches must all be seen. Checked
/// against `str::contains` on every row, for needles built to straddle
/// values.
#[test]
fn block_contains_matches_only_inside_one_value() {
    let dir = tempfile::tempdir().unwrap();
    let urls: Vec<Option<String>> = vec![
        Some("aa".into()),
        Some("a".into()),
        None,
        Some("aaa".into()),
        Some("b".into()),
        Some("\u{3}a".into()),
        Some("ba".into()),
        Some("xaay".into()),
        None,
        Some("a\u{2}".into()),
    ];
    let mut events = functional_events(3000, 11);
    for (i, e) in events.iter_mut().enumerate() {
        e.url = urls[i % urls.len()].clone();
    }
    let seg = write(dir.path(), &events);
    let stored = row_order(&events);
    for needle in [
        "", "a", "aa", "aaa", "ab", "ba", "b", "\u{2}a", "a\u{3}", "a\u{2}", "xaay", "zz",
    ] {
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        let mut cursor = seg.blocks(Field::Url).unwrap();
        for (row, e) in stored.iter().enumerate() {
            let want = e.url.as_deref().is_some_and(|u| u.contains(needle));
            let got = cursor.row_contains(row as u32, &finder).unwrap();
            assert_eq!(got, want, "needle {needle:?}, row {row}, url {:?}", e.url);
        }
    }
}
