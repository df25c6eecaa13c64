//! `daybook::ingest::Importer`, driven directly: JSON Lines and CSV inputs
//! with bad, duplicate, expired and future records, blank lines, CRLF and
//! (CSV) quoted line feeds, cut into chunks of every size down to records
//! that straddle reads, checked against a model of what each record should
//! do and on which line it starts. Also strict mode, the stop token and
//! the errors that end an input.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Cursor, Read};
use std::sync::mpsc;

use common::*;
use daybook::csv_event;
use daybook::ingest::{Format, ImportError, ImportOptions, Importer, Stop, Stopped, Summary};
use daybook::json::{UnknownFields, event_to_json_line};
use daybook::{CancelToken, Engine, Event};

/// A `user_id` the inputs replace with an invalid value.
const BAD_USER_ID: u64 = 4_242_424_242;

/// What a record is, and so what the import must do with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Good,
    /// The last good record again (same company and id).
    Dup,
    /// `user_id` is not an integer.
    Bad,
    /// Older than the retention horizon.
    Expired,
    /// Further in the future than allowed.
    Future,
}

fn kind(i: u64) -> Kind {
    match i % 10 {
        3 => Kind::Bad,
        5 => Kind::Dup,
        7 => Kind::Expired,
        9 if i % 20 == 9 => Kind::Future,
        _ => Kind::Good,
    }
}

/// The event of record `i` (`last_good`: the one a `Dup` repeats).
fn event_of(i: u64, last_good: &Option<Event>) -> Event {
    let mut e = match (kind(i), last_good) {
        (Kind::Dup, Some(e)) => return e.clone(),
        (Kind::Expired, _) => event(&format!("e-{i}"), day_ms(400, 0), i),
        (Kind::Future, _) => event(&format!("e-{i}"), NOW_MS + 10 * 86_400_000, i),
        _ => event(&format!("e-{i}"), day_ms(1, i as i64 * 1000), i),
    };
    if kind(i) == Kind::Bad {
        e.user_id = BAD_USER_ID;
    }
    if i % 4 == 1 {
        // A line feed and quotes in a cell: CSV quotes it over two lines.
        e.event_name = "Viewed\n\"the\" RFI".into();
    }
    e
}

/// An input and what importing it must give.
struct Case {
    text: Vec<u8>,
    stored: BTreeSet<String>,
    duplicates: u64,
    /// Rejected records: line, field, summary group.
    rejected: Vec<(u64, String, String)>,
    lines: u64,
}

/// `n` records (the first `Dup` has no good record before it: none is
/// before record 5) as JSON Lines or CSV, lines ended by `eol`, with a
/// blank line before every 13th record.
fn case(format: Format, n: u64, eol: &str) -> Case {
    let mut c = Case {
        text: Vec::new(),
        stored: BTreeSet::new(),
        duplicates: 0,
        rejected: Vec::new(),
        lines: 0,
    };
    let mut line = 1;
    if format == Format::Csv {
        c.text = format!("{}{eol}", csv_event::header_line()).into_bytes();
        line = 2;
    }
    let mut last_good = None;
    for i in 0..n {
        if i % 13 == 0 {
            c.text.extend_from_slice(eol.as_bytes());
            line += 1;
        }
        let e = event_of(i, &last_good);
        let mut record = match format {
            Format::Jsonl => event_to_json_line(&e),
            Format::Csv => csv_event::event_to_csv_line(&e),
        };
        let bad = format!("{BAD_USER_ID}");
        record = match format {
            Format::Jsonl => record.replace(&format!("\"user_id\":{bad}"), "\"user_id\":\"x\""),
            Format::Csv => record.replace(&format!(",{bad},"), ",x,"),
        };
        let mut reject = |field: &str, group: &str| {
            c.rejected.push((line, field.into(), group.into()));
        };
        match kind(i) {
            Kind::Good => {
                c.stored.insert(e.event_id.clone());
                last_good = Some(e);
            }
            Kind::Dup => c.duplicates += 1,
            Kind::Bad => reject("user_id", "invalid: field \"user_id\""),
            Kind::Expired => reject("event_timestamp", "expired"),
            Kind::Future => reject("event_timestamp", "future"),
        }
        line += 1 + record.matches('\n').count() as u64;
        c.text.extend_from_slice(record.as_bytes());
        c.text.extend_from_slice(eol.as_bytes());
    }
    c.lines = line - 1;
    c
}

fn opts(format: Format, read_size: usize, chunk_lines: u64, batch_size: usize) -> ImportOptions {
    ImportOptions {
        threads: 3,
        read_size,
        chunk_lines,
        batch_size,
        first_errors: 1000,
        ..ImportOptions::new(format)
    }
}

/// Chunkings: the defaults, and pieces small enough that records straddle
/// reads and chunks.
const CUTS: [(usize, u64, usize); 5] = [
    (1 << 20, 10_000, 10_000),
    (7, 1, 1),
    (13, 3, 4),
    (64, 2, 7),
    (251, 5, 100),
];

fn ids(engine: &Engine) -> BTreeSet<String> {
    contents(engine)
        .into_values()
        .flatten()
        .map(|e| e.event_id)
        .collect()
}

fn check(format: Format, eol: &str) {
    let c = case(format, 120, eol);
    assert_eq!(c.stored.len(), 78, "the model");
    for (read_size, chunk_lines, batch) in CUTS {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let engine = Engine::open(dir.path(), options(&clock)).unwrap();
        let mut importer = Importer::new(&engine, opts(format, read_size, chunk_lines, batch));
        let stop = importer.import("in", Cursor::new(c.text.clone())).unwrap();
        let s = importer.into_summary();
        let at = format!("{format:?} {eol:?} read {read_size} chunk {chunk_lines}");
        assert_eq!(stop, None, "{at}");
        assert_eq!(s.stored, c.stored.len() as u64, "{at}");
        assert_eq!(s.duplicates, c.duplicates, "{at}");
        assert_eq!(s.rejected, c.rejected.len() as u64, "{at}");
        assert_eq!((s.lines, s.bytes), (c.lines, c.text.len() as u64), "{at}");
        let got: Vec<(u64, String, String)> = s
            .first_rejected
            .iter()
            .map(|r| {
                assert_eq!(r.input, "in");
                let group = match &r.reason {
                    daybook::RejectReason::Invalid(_) => "invalid: field \"user_id\"".into(),
                    other => other.kind().to_string(),
                };
                (r.line, r.field().unwrap_or("").to_string(), group)
            })
            .collect();
        assert_eq!(got, c.rejected, "{at}");
        let mut groups: BTreeMap<String, u64> = BTreeMap::new();
        for (_, _, g) in &c.rejected {
            *groups.entry(g.clone()).or_default() += 1;
        }
        assert_eq!(s.by_reason, groups, "{at}");
        assert_eq!(ids(&engine), c.stored, "{at}");
        assert_eq!(s.stopped, None);
    }
}

#[test]
fn jsonl_counts_and_lines_match_the_model_at_every_chunking() {
    check(Format::Jsonl, "\n");
}

#[test]
fn jsonl_with_crlf_matches_the_model() {
    check(Format::Jsonl, "\r\n");
}

#[test]
fn csv_with_quoted_line_feeds_matches_the_model_at_every_chunking() {
    check(Format::Csv, "\n");
}

#[test]
fn csv_with_crlf_matches_the_model() {
    check(Format::Csv, "\r\n");
}

#[test]
fn the_first_rejected_record_message_names_input_line_and_field() {
    let c = case(Format::Csv, 5, "\n");
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), options(&clock())).unwrap();
    let mut importer = Importer::new(&engine, ImportOptions::new(Format::Csv));
    importer.import("a.csv", Cursor::new(c.text)).unwrap();
    let s = importer.summary();
    // Records 0..5 start on lines 3, 4, 6, 7, 8 (a blank line 2, record 1
    // spans two lines); record 3 is bad.
    assert_eq!(s.first_rejected.len(), 1);
    assert_eq!(
        s.first_rejected[0].to_string(),
        "a.csv:7: field \"user_id\": expected an integer in 0..=9223372036854775807, got \"x\""
    );
}

fn strict(format: Format, (read_size, chunk_lines, batch): (usize, u64, usize)) -> ImportOptions {
    ImportOptions {
        strict: true,
        ..opts(format, read_size, chunk_lines, batch)
    }
}

#[test]
fn strict_stops_at_the_first_bad_record_and_stores_only_what_came_before() {
    for format in [Format::Jsonl, Format::Csv] {
        // The first rejection of the model is record 3 (bad user_id).
        let c = case(format, 120, "\n");
        let (first_line, _, _) = c.rejected[0].clone();
        for cut in CUTS {
            let dir = tempfile::tempdir().unwrap();
            let engine = Engine::open(dir.path(), options(&clock())).unwrap();
            let mut importer = Importer::new(&engine, strict(format, cut));
            let stop = importer.import("in", Cursor::new(c.text.clone())).unwrap();
            let s = importer.into_summary();
            assert_eq!(stop, Some(Stop::Strict), "{format:?} {cut:?}");
            assert_eq!(
                (s.stored, s.duplicates, s.rejected),
                (3, 0, 1),
                "{format:?} {cut:?}"
            );
            assert_eq!(s.first_rejected[0].line, first_line);
            assert_eq!(
                s.stopped,
                Some(Stopped {
                    why: Stop::Strict,
                    input: "in".into(),
                    line: first_line
                })
            );
            assert_eq!(ids(&engine), set(&["e-0", "e-1", "e-2"]));
        }
    }
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn strict_stops_at_a_record_the_engine_refuses() {
    let lines: Vec<String> = [
        event("a", day_ms(1, 0), 1),
        event("b", day_ms(1, 1), 2),
        event("old", day_ms(400, 0), 3),
        event("c", day_ms(1, 2), 4),
    ]
    .iter()
    .map(event_to_json_line)
    .collect();
    let text = lines.join("\n") + "\n";
    for cut in CUTS {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path(), options(&clock())).unwrap();
        let mut importer = Importer::new(&engine, strict(Format::Jsonl, cut));
        let stop = importer.import("x", Cursor::new(text.clone())).unwrap();
        let s = importer.into_summary();
        assert_eq!(stop, Some(Stop::Strict));
        assert_eq!((s.stored, s.rejected), (2, 1), "{cut:?}");
        assert_eq!(s.by_reason, BTreeMap::from([("expired".to_string(), 1)]));
        assert_eq!(s.stopped.map(|s| s.line), Some(3));
        assert_eq!(ids(&engine), set(&["a", "b"]));
    }
}

/// Gives `first`, then cancels `token` and blocks until `release` ends.
struct CancelAfter {
    first: Option<Vec<u8>>,
    token: CancelToken,
    release: mpsc::Receiver<()>,
}

impl Read for CancelAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(first) = self.first.take() {
            buf[..first.len()].copy_from_slice(&first);
            return Ok(first.len());
        }
        self.token.cancel();
        let _ = self.release.recv();
        Err(io::Error::other("released"))
    }
}

#[test]
fn the_stop_token_ends_a_stalled_input_after_storing_what_was_read() {
    let lines: Vec<String> = (0..5)
        .map(|i| event_to_json_line(&event(&format!("s-{i}"), day_ms(1, i), i as u64)))
        .collect();
    let text = lines.join("\n") + "\n";
    let token = CancelToken::new();
    let (release_tx, release) = mpsc::channel();
    let input = CancelAfter {
        first: Some(text.into_bytes()),
        token: token.clone(),
        release,
    };
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), options(&clock())).unwrap();
    let o = ImportOptions {
        cancel: Some(token),
        ..ImportOptions::new(Format::Jsonl)
    };
    let mut importer = Importer::new(&engine, o);
    // The input never ends on its own: the import returns by the token.
    let stop = importer.import("stdin", input).unwrap();
    let s = importer.into_summary();
    assert_eq!(stop, Some(Stop::Cancelled));
    assert_eq!((s.stored, s.lines, s.rejected), (5, 5, 0));
    assert_eq!(
        s.stopped,
        Some(Stopped {
            why: Stop::Cancelled,
            input: "stdin".into(),
            line: 5
        })
    );
    assert_eq!(ids(&engine).len(), 5);
    drop(release_tx);
}

#[test]
fn a_csv_header_in_json_lines_and_unknown_csv_columns_end_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), options(&clock())).unwrap();
    let csv = case(Format::Csv, 3, "\n").text;
    let mut importer = Importer::new(&engine, ImportOptions::new(Format::Jsonl));
    match importer.import("a.jsonl", Cursor::new(csv)) {
        Err(ImportError::CsvHeader { input, line }) => {
            assert_eq!((input.as_str(), line), ("a.jsonl", 1))
        }
        other => panic!("{other:?}"),
    }
    let text = format!("{},colour\n", csv_event::header_line());
    let mut importer = Importer::new(&engine, ImportOptions::new(Format::Csv));
    match importer.import("b.csv", Cursor::new(text.clone())) {
        Err(ImportError::Header {
            input,
            unknown_columns,
            ..
        }) => assert_eq!(
            (input.as_str(), unknown_columns),
            ("b.csv", vec!["colour".to_string()])
        ),
        other => panic!("{other:?}"),
    }
    let o = ImportOptions {
        unknown_fields: UnknownFields::Ignore,
        ..ImportOptions::new(Format::Csv)
    };
    let mut importer = Importer::new(&engine, o);
    assert_eq!(importer.import("b.csv", Cursor::new(text)).unwrap(), None);
    assert_eq!(
        importer.summary(),
        &Summary {
            lines: 1,
            bytes: csv_event::header_line().len() as u64 + 8,
            ..Summary::default()
        }
    );
}

#[test]
fn an_importer_sums_its_inputs_and_keeps_the_first_errors() {
    let c = case(Format::Jsonl, 40, "\n");
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), options(&clock())).unwrap();
    let o = ImportOptions {
        first_errors: 3,
        ..ImportOptions::new(Format::Jsonl)
    };
    let mut importer = Importer::new(&engine, o);
    let mut calls = 0;
    importer.on_progress(|_| calls += 1);
    importer.import("one", Cursor::new(c.text.clone())).unwrap();
    importer.import("two", Cursor::new(c.text.clone())).unwrap();
    let s = importer.into_summary();
    assert!(calls >= 2);
    // The second input's good records are all duplicates now.
    assert_eq!(s.stored, c.stored.len() as u64);
    assert_eq!(s.duplicates, 2 * c.duplicates + c.stored.len() as u64);
    assert_eq!(s.rejected, 2 * c.rejected.len() as u64);
    let first: Vec<(&str, u64)> = s
        .first_rejected
        .iter()
        .map(|r| (r.input.as_str(), r.line))
        .collect();
    let want: Vec<(&str, u64)> = c.rejected.iter().take(3).map(|r| ("one", r.0)).collect();
    assert_eq!(first, want);
}
