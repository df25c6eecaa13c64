//! The fuzz targets' checks (fuzz/src/harness, included below) run on
//! their starting inputs and on inputs the fuzzers found, so that the
//! harness compiles with `cargo test` and every crash found stays fixed.
//! docs/notes/fuzzing.md has the runs and what they found.
//!
//! To replay a new crash: `cargo run --release --manifest-path fuzz/Cargo.toml
//! --bin replay -- <target> fuzz/artifacts/<target>/crash-...`, then add it
//! here as a named test.

#[path = "../fuzz/src/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

use std::path::Path;
use std::sync::Arc;

use daybook::segment::{SectionKind, SegmentReader, SegmentWriter};
use daybook::storage::{FaultOp, SimStorage, Storage};
use daybook::{Day, Engine, Field, ManualClock, Op, Options, Query};
use harness::seeds;

/// Runs `check` on every input, naming the one that fails.
fn each(inputs: &[Vec<u8>], check: fn(&[u8])) {
    for (i, input) in inputs.iter().enumerate() {
        if let Err(e) = std::panic::catch_unwind(|| check(input)) {
            std::panic::resume_unwind(Box::new(format!(
                "input {i} ({} bytes) failed: {}",
                input.len(),
                e.downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| e.downcast_ref::<&str>().copied())
                    .unwrap_or("?")
            )));
        }
    }
}

/// The fuzzers' own crash inputs (tests/data/fuzz/), replayed through the
/// harness with the findings fixed and its detours removed. The last is a
/// harness false alarm (an armed power loss struck during the fault-free
/// retry of a failed open, and the harness did not reboot).
#[test]
fn the_raw_crash_inputs_replay_through_the_harness() {
    let data = |name: &str| std::fs::read(format!("tests/data/fuzz/{name}")).unwrap();
    harness::segment::segment_mutated(&data("segment_mutated-bitmap-offset-sigsegv"));
    harness::ops::ops_model(&data("ops_model-io-error-recorded-as-damage"));
    harness::query::query_doc(&data("query_doc-float-round-trip"));
    harness::ops::ops_model(&data("ops_model-power-loss-during-the-retry-open"));
}

#[test]
fn segment_bytes_seeds() {
    each(&seeds::segment_bytes(), harness::segment::segment_bytes);
}

#[test]
fn segment_mutated_seeds_small_and_big_with_and_without_forged_checksums() {
    each(&seeds::segment_mutated(), harness::segment::segment_mutated);
}

#[test]
fn the_big_segment_has_mapped_columns_and_several_blocks() {
    let (bytes, events) = harness::segment::big_segment();
    let seg =
        daybook::segment::SegmentReader::from_bytes(std::path::Path::new("big.seg"), bytes.clone())
            .unwrap();
    assert_eq!(seg.rows() as usize, events.len());
    assert!(seg.rows() > 2 * 1024, "fewer than three blocks");
    let mapped = daybook::Field::stored()
        .filter(|f| seg.dict(*f).is_ok_and(|d| d.parent().is_some()))
        .count();
    assert!(mapped >= 3, "only {mapped} mapped columns");
}

#[test]
fn log_bytes_seeds() {
    each(&seeds::log_bytes(), harness::log::log_bytes);
}

#[test]
fn json_event_seeds() {
    each(&seeds::json_event(), harness::json::json_event);
}

#[test]
fn csv_event_seeds() {
    each(&seeds::csv_event(), harness::csv::csv_event);
}

/// Found by csv_event: a lone carriage return ends a record but not a line,
/// so the record after it reports the same line (the harness expected
/// strictly increasing lines; the library is right).
#[test]
fn csv_lone_carriage_return_two_records_on_one_line() {
    let header = daybook::csv_event::header_line();
    let row = "e-1,2026-11-26T14:03:22.123Z,View,Viewed RFI,,RFIs,Granite Ridge,,,,,,iOS,false,7,m@x.example,,Maria,,,,,,,";
    let text = format!("{header}\n{row}\r{row}\n");
    let records: Vec<_> = daybook::csv_event::Reader::new(text.as_bytes())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!((records[0].0, records[1].0), (2, 2));
    let mut input = vec![5u8, 1, 0, 1, 0, 1, 0, 1, 0];
    input.extend_from_slice(text.as_bytes());
    harness::csv::csv_event(&input);
}

#[test]
fn query_doc_seeds_docs_examples_on_sealed_buffered_and_mixed_engines() {
    each(
        &seeds::query_doc(include_str!("../docs/queries.md")),
        harness::query::query_doc,
    );
}

#[test]
fn ops_model_seeds_with_faults_and_power_loss() {
    each(&seeds::ops_model(), harness::ops::ops_model);
}

/// A six-row segment whose `user_id` bitmap of dictionary code 2 (the row
/// holding user 1002) has its container offset header set to `offset`,
/// every checksum then recomputed: bytes a buggy or hostile writer could
/// produce. The portable format's offset of the single container is at
/// byte 12 of the bitmap (cookie 12346, count, key/cardinality, offset).
fn segment_with_bitmap_offset(offset: u32) -> Vec<u8> {
    let day = Day::of_ms(harness::NOW_MS);
    let mut w = SegmentWriter::new(day);
    for i in 0..6u64 {
        let e = harness::events::varied(&format!("e{i}"), day.start_ms() + 1000 * i as i64, i);
        w.push(&e).unwrap();
    }
    let mut bytes = w.encode(7, Vec::new()).unwrap();
    let seg = SegmentReader::from_bytes(Path::new("ok.seg"), bytes.clone()).unwrap();
    let (start, _) = seg
        .section_range(SectionKind::Bitmaps, Field::UserId as u16)
        .unwrap();
    let s = start as usize;
    let le = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
    let codes = le(s);
    let bitmap = s + 4 + 4 * (codes + 1) + le(s + 4 + 4 * 2);
    assert_eq!(
        &bytes[bitmap..bitmap + 4],
        &12346u32.to_le_bytes(),
        "no offset header"
    );
    assert_eq!(le(bitmap + 12), 16, "the writer's offset");
    bytes[bitmap + 12..bitmap + 16].copy_from_slice(&offset.to_le_bytes());
    harness::segment::forge_checksums(&mut bytes);
    bytes
}

/// Runs the ignored test `name` again in a child process (its body sees
/// `DAYBOOK_FUZZ_CHILD`), so that a crash that kills the process fails this
/// test instead of the whole test binary. Returns true in the child.
fn in_child(name: &str) -> bool {
    if std::env::var("DAYBOOK_FUZZ_CHILD").as_deref() == Ok(name) {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            name,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DAYBOOK_FUZZ_CHILD", name)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} in a child process: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// Found by segment_mutated (finding 1 of docs/notes/fuzzing.md). The
/// segment passed `verify` (roaring-rs skips the offset header), and
/// `bitmap_view` built a croaring view after CRoaring's size check
/// (`roaring_bitmap_portable_deserialize_size`, which also skips the
/// offsets) — but the view (`roaring_bitmap_portable_deserialize_frozen`)
/// placed the container at `start + offset`, 4 GiB away, and the process
/// died with SIGSEGV. Fixed by the strict check of
/// src/segment/reader/portable.rs before any view and in `bitmap`. Run in a
/// child process so that a regression fails this test, not the binary.
#[test]
fn bitmap_view_with_a_forged_offset_header_pointing_outside_the_file() {
    if !in_child("bitmap_view_with_a_forged_offset_header_pointing_outside_the_file") {
        return;
    }
    let bytes = segment_with_bitmap_offset(0xFFFF_FF10);
    let seg = SegmentReader::from_bytes(Path::new("bad.seg"), bytes).unwrap();
    for e in [
        seg.bitmap(Field::UserId, 2).map(|_| ()).unwrap_err(),
        seg.bitmap_view(Field::UserId, 2).map(|_| ()).unwrap_err(),
        // Refused again, not remembered as checked.
        seg.bitmap_view(Field::UserId, 2).map(|_| ()).unwrap_err(),
    ] {
        assert!(e.is_corruption(), "{e}");
        assert!(
            e.to_string()
                .contains("bitmap of code 2: offset header disagrees with the containers' layout"),
            "{e}"
        );
    }
    // The field's other bitmaps, and other fields, are intact and viewable.
    let other = seg.bitmap_view(Field::UserId, 1).unwrap().unwrap();
    let owned = seg.bitmap(Field::UserId, 1).unwrap().unwrap();
    assert!(other.iter().eq(owned.iter()));
    assert!(seg.bitmap_view(Field::ToolName, 1).unwrap().is_some());
}

/// The same forged header, pointing inside the bitmap (at its own
/// key/cardinality bytes, which read as row 0): before the fix, no crash,
/// but the view and every query through it named row 0 instead of row 2,
/// while `verify` and the validating `bitmap` saw nothing wrong: a silently
/// wrong answer. Now `verify` reports it and the query fails naming it.
#[test]
fn bitmap_view_with_a_forged_offset_header_pointing_inside_the_bitmap() {
    let bytes = segment_with_bitmap_offset(8);
    let seg = SegmentReader::from_bytes(Path::new("bad.seg"), bytes.clone()).unwrap();
    let e = seg.bitmap(Field::UserId, 2).unwrap_err();
    assert!(
        e.is_corruption() && e.to_string().contains("offset header"),
        "{e}"
    );
    let view_err = seg.bitmap_view(Field::UserId, 2).unwrap_err();
    assert_eq!(view_err.to_string(), e.to_string());
    // Through the engine: the listing of user 1002's events.
    let sim = SimStorage::new();
    let day = Day::of_ms(harness::NOW_MS);
    let dir = Path::new("/sim/data/days").join(day.to_string());
    sim.create_dir_all(&dir).unwrap();
    let f = sim
        .create(&dir.join(format!("{:020}.seg", 7)), true)
        .unwrap();
    f.write_all_at(&bytes, 0).unwrap();
    let engine = Engine::open(
        "/sim/data",
        Options {
            clock: Arc::new(ManualClock::new(harness::NOW_MS)),
            storage: Arc::new(sim),
            ..Options::default()
        },
    )
    .unwrap();
    let q = Query {
        fields: vec!["event_id".into()],
        ..Query::events().filter(Field::UserId, Op::Eq, 1002)
    };
    let e = engine.query(&q).unwrap_err();
    assert!(e.is_corruption(), "{e}");
    assert!(
        e.to_string().contains("bad.seg") || e.to_string().contains(".seg"),
        "{e}"
    );
    // A query that needs no user_id bitmap still answers.
    let q = Query {
        fields: vec!["event_id".into()],
        ..Query::events().filter(Field::ToolName, Op::Eq, "RFIs")
    };
    let _ = engine.query(&q).unwrap();
}

/// Seen while writing the segment_mutated harness, not a fuzz crash: a
/// segment whose meta lists its own id in `supersedes` (a forged or buggy
/// meta with valid checksums) was unlinked by recovery (src/recovery.rs:
/// `superseded` gathers every segment's list, then every segment whose id
/// is in it is removed), so its events vanished without an error. Now the
/// writer refuses such a list and the reader reports it as corrupted meta:
/// the segment is quarantined, kept on disk, and its day fails loudly.
#[test]
fn a_segment_that_supersedes_itself_is_not_deleted_on_open() {
    let day = Day::of_ms(harness::NOW_MS);
    let mut w = SegmentWriter::new(day);
    for i in 0..6u64 {
        let e = harness::events::varied(&format!("e{i}"), day.start_ms() + 1000 * i as i64, i);
        w.push(&e).unwrap();
    }
    let e = w.encode(7, vec![7]).unwrap_err();
    assert!(e.to_string().contains("cannot supersede segment 7"), "{e}");
    // Forge it: a valid list, then the id patched to 5 (below it is 7).
    let mut bytes = w.encode(9, vec![7]).unwrap();
    let seg = SegmentReader::from_bytes(Path::new("ok.seg"), bytes.clone()).unwrap();
    let (meta, _) = seg.section_range(SectionKind::Meta, u16::MAX).unwrap();
    let m = meta as usize;
    assert_eq!(&bytes[m..m + 8], &9u64.to_le_bytes());
    bytes[m..m + 8].copy_from_slice(&5u64.to_le_bytes());
    harness::segment::forge_checksums(&mut bytes);
    let e = SegmentReader::from_bytes(Path::new("bad.seg"), bytes.clone()).unwrap_err();
    assert!(e.is_corruption(), "{e}");
    assert!(
        e.to_string()
            .contains("supersedes lists segment 7, not below the segment's own id 5"),
        "{e}"
    );

    let sim = SimStorage::new();
    let dir = Path::new("/sim/data/days").join(day.to_string());
    sim.create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:020}.seg", 5));
    let f = sim.create(&path, true).unwrap();
    f.write_all_at(&bytes, 0).unwrap();
    let engine = Engine::open(
        "/sim/data",
        Options {
            clock: Arc::new(ManualClock::new(harness::NOW_MS)),
            storage: Arc::new(sim.clone()),
            ..Options::default()
        },
    )
    .unwrap();
    let e = engine.snapshot().day_events(day).unwrap_err();
    assert!(e.is_corruption(), "{e}");
    drop(engine);
    assert_eq!(sim.read(&path).unwrap(), bytes, "the segment was removed");
}

fn sim_options(sim: &SimStorage) -> Options {
    Options {
        clock: Arc::new(ManualClock::new(harness::NOW_MS)),
        storage: Arc::new(sim.clone()),
        sealed_id_filter_keys: 4096,
        ..Options::default()
    }
}

/// Found by ops_model (finding 2 of docs/notes/fuzzing.md): an I/O error
/// (here an injected one, once) while recovery maps a healthy segment is
/// was recorded as damage on its day (src/recovery.rs, the `Err(e)` arm
/// after `SegmentReader::open_in`: every error became a `Damage`, reported
/// as "corrupted ... (file): I/O error"). The open succeeded, the day's
/// acknowledged events were unreadable, and appends skip a quarantined
/// segment in their duplicate check (src/engine/append.rs, `append_locked` probes
/// `state.all_segments()` only): a re-sent event was stored again, and after
/// the next clean open its id was there twice, with two different contents.
/// Now only bad bytes quarantine a segment; an I/O error fails the open.
/// For each n, the n-th open-kind operation of the reopen fails once; the
/// open may fail (fine), but if it succeeds nothing may be lost or doubled.
#[test]
fn an_io_error_while_mapping_a_segment_at_open_is_not_damage() {
    let day = Day::of_ms(harness::NOW_MS);
    let first = harness::events::varied("a", day.start_ms() + 5, 1);
    // Another n of the same company (`varied` takes it from n % 2): a
    // re-send with other contents. Dedup is per company.
    let again = harness::events::varied("a", day.start_ms() + 9, 3);
    for nth in 1..40 {
        let sim = SimStorage::new();
        let engine = Engine::open("/sim/data", sim_options(&sim)).unwrap();
        engine.append(vec![first.clone()]).unwrap();
        engine.flush().unwrap();
        drop(engine);
        sim.fail(FaultOp::Open, nth, false, std::io::ErrorKind::Other);
        let opened = Engine::open("/sim/data", sim_options(&sim));
        sim.heal();
        let Ok(engine) = opened else {
            continue;
        };
        let read = engine.snapshot().day_events(day).map_err(|e| e.to_string());
        let r = engine.append(vec![again.clone()]).unwrap();
        // Sealed: replaying a log would drop the copy (its id is in a segment).
        engine.flush().unwrap();
        drop(engine);
        let engine = Engine::open("/sim/data", sim_options(&sim)).unwrap();
        let after: Vec<u64> = (engine.snapshot().day_events(day).unwrap())
            .iter()
            .map(|e| e.user_id)
            .collect();
        assert_eq!(
            after,
            [first.user_id],
            "op {nth} failed: after a re-send and a clean reopen, the user_ids of 'a'"
        );
        assert_eq!((r.stored, r.duplicates), (0, 1), "op {nth}: the re-send");
        assert_eq!(
            read,
            Ok(vec![first.clone()]),
            "op {nth}: the day reads back"
        );
    }
}

/// Found by query_doc (finding 3 of docs/notes/fuzzing.md): a number
/// operand that is not an exact integer (here 923392023372036854775807,
/// beyond u64) does not survive `Query::to_json` then `Query::parse`:
/// serde_json parses it to 9.233920233720369e23, writes that, and parses
/// the text back as 9.233920233720367e23 (one ulp off; serde_json's float
/// parsing is approximate without its `float_roundtrip` feature). The
/// README promises `Query::parse(&q.to_json())? == q`. Harmless for answers
/// (bind rejects such operands on every field); fixed by serde_json's
/// `float_roundtrip` feature.
#[test]
fn a_query_with_a_huge_number_operand_round_trips() {
    let q = Query::parse(
        r#"{"where":[{"field":"user_id","op":"not_in","value":[923392023372036854775807,1001]}]}"#,
    )
    .unwrap();
    assert!(harness::query::has_float(&q));
    assert_eq!(Query::parse(&q.to_json()).unwrap(), q);
}
