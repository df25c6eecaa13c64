//! The `daybook` command, end to end: the real binary on small generated
//! data sets in temporary directories, with a fixed clock.
#![cfg(feature = "cli")]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::cli::{self, text};

const NOW: &str = "2026-11-27T12:00:00Z";

fn daybook(data: &Path, args: &[&str]) -> Command {
    cli::at(data, NOW, args)
}

fn run(data: &Path, args: &[&str]) -> Output {
    cli::run_at(data, NOW, args)
}

/// Runs and expects exit 0; returns standard output.
fn ok(data: &Path, args: &[&str]) -> String {
    cli::ok_at(data, NOW, args)
}

/// Generates `days` x `per_day` events (1% re-sent) in `format` to `path`.
fn generate(dir: &Path, path: &Path, per_day: u64, format: &str) {
    ok(
        dir,
        &[
            "generate",
            "--days",
            "3",
            "--events-per-day",
            &per_day.to_string(),
            "--companies",
            "3",
            "--format",
            format,
            "--out",
            path.to_str().unwrap(),
        ],
    );
}

/// The JSON objects of a JSON Lines file.
fn objects(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Counts by `field` over the first copy of each event id.
fn expected_groups(events: &[serde_json::Value], field: &str) -> BTreeMap<String, u64> {
    let mut seen = HashSet::new();
    let mut out = BTreeMap::new();
    for e in events {
        if seen.insert(e["event_id"].as_str().unwrap().to_string()) {
            *out.entry(e[field].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    out
}

fn distinct_ids(events: &[serde_json::Value]) -> u64 {
    events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect::<HashSet<_>>()
        .len() as u64
}

/// `daybook query --format json` with `args`, parsed.
fn query(data: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["query", "--format", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(data, &all)).unwrap()
}

/// The total count of stored events, from the query's rows.
fn total(data: &Path) -> u64 {
    let doc = query(data, &[]);
    let rows = doc["rows"].as_array().unwrap();
    rows.iter().map(|r| r["count"].as_u64().unwrap()).sum()
}

fn groups(data: &Path, field: &str) -> BTreeMap<String, u64> {
    let doc = query(data, &["--group-by", field]);
    doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[field].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Imports with `args` (files and flags) and expects exit 0; returns the
/// summary.
fn import(data: &Path, args: &[&str]) -> String {
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    ok(data, &all)
}

fn gzip(from: &Path, to: &Path) {
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(to).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(from).unwrap()).unwrap();
    enc.finish().unwrap();
}

/// Runs an import reading `input` on standard input.
fn import_stdin(data: &Path, args: &[&str], input: Vec<u8>) -> Output {
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    let mut child = daybook(data, &all)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

#[test]
fn generate_import_query_gives_the_generated_counts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    generate(dir.path(), &file, 1000, "jsonl");
    let events = objects(&file);
    let unique = distinct_ids(&events);
    assert!(
        unique > 2500 && (unique as usize) < events.len(),
        "{unique}"
    );

    let data = dir.path().join("data");
    let summary = import(&data, &[file.to_str().unwrap()]);
    assert!(
        summary.contains(&format!(
            "stored {unique}, duplicates {}, rejected 0",
            events.len() as u64 - unique
        )),
        "{summary}"
    );
    assert_eq!(total(&data), unique);
    assert_eq!(
        groups(&data, "event_type"),
        expected_groups(&events, "event_type")
    );
    // Importing again stores nothing new: every event is a duplicate.
    let again = import(&data, &[file.to_str().unwrap()]);
    assert!(
        again.contains(&format!("stored 0, duplicates {}", events.len())),
        "{again}"
    );
    assert_eq!(total(&data), unique);
}

#[test]
fn generated_csv_matches_the_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (jsonl, csv) = (dir.path().join("a.jsonl"), dir.path().join("a.csv"));
    generate(dir.path(), &jsonl, 200, "jsonl");
    generate(dir.path(), &csv, 200, "csv");
    let events = objects(&jsonl);
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let stored: Vec<&str> = daybook::Field::stored().map(|f| f.name()).collect();
    assert_eq!(header, stored, "25 stored fields in contract order");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), events.len());
    for (row, event) in rows.iter().zip(&events) {
        for (name, cell) in header.iter().zip(row.iter()) {
            let want = match &event[name.as_str()] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(cell, want, "{name} of {}", event["event_id"]);
        }
    }
}

#[test]
fn jsonl_csv_gzip_and_stdin_give_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    generate(dir.path(), &p("e.jsonl"), 800, "jsonl");
    generate(dir.path(), &p("e.csv"), 800, "csv");
    gzip(&p("e.csv"), &p("e.csv.gz"));
    gzip(&p("e.jsonl"), &p("e.ndjson.gz"));
    let events = objects(&p("e.jsonl"));
    let unique = distinct_ids(&events);

    let mut answers = Vec::new();
    for (name, args) in [
        ("jsonl", vec![p("e.jsonl")]),
        ("csv", vec![p("e.csv")]),
        ("csv.gz", vec![p("e.csv.gz")]),
        ("ndjson.gz", vec![p("e.ndjson.gz")]),
    ] {
        let data = p(&format!("data-{name}"));
        let args: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
        let summary = import(&data, &args);
        assert!(
            summary.contains(&format!("stored {unique},")),
            "{name}: {summary}"
        );
        answers.push((name, data));
    }
    // Standard input: JSON Lines by default, CSV with --format (gzip is
    // recognised by its magic bytes).
    for (name, args, input) in [
        ("stdin", vec!["-"], std::fs::read(p("e.jsonl")).unwrap()),
        (
            "stdin-csv.gz",
            vec!["--format", "csv", "-"],
            std::fs::read(p("e.csv.gz")).unwrap(),
        ),
    ] {
        let data = p(&format!("data-{name}"));
        let out = import_stdin(&data, &args, input);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains(&format!("stored {unique},")));
        answers.push((name, data));
    }

    let by_type = expected_groups(&events, "event_type");
    let by_company = expected_groups(&events, "company_name");
    for (name, data) in &answers {
        assert_eq!(total(data), unique, "{name}");
        assert_eq!(groups(data, "event_type"), by_type, "{name}");
        assert_eq!(groups(data, "company_name"), by_company, "{name}");
        assert_eq!(groups(data, "device_type").len(), 4, "{name}");
    }
    // Byte for byte the same report, whatever the input format.
    let report = |data: &PathBuf| {
        ok(
            data,
            &[
                "query",
                "--format",
                "json",
                "--group-by",
                "company_name,event_type,is_api",
                "--order-by",
                "count:desc,company_name,event_type,is_api",
            ],
        )
    };
    let first = report(&answers[0].1);
    for (name, data) in &answers[1..] {
        assert_eq!(report(data), first, "{name}");
    }
}

/// Replaces `key` in a JSON line (removes it when `value` is `None`).
fn edit(line: &str, key: &str, value: Option<serde_json::Value>) -> String {
    let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
    let o = v.as_object_mut().unwrap();
    match value {
        Some(x) => o.insert(key.into(), x),
        None => o.remove(key),
    };
    v.to_string()
}

#[test]
fn bad_lines_are_reported_by_line_and_the_rest_stored() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jsonl");
    generate(dir.path(), &good, 100, "jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&good)
        .unwrap()
        .lines()
        .take(250)
        .map(String::from)
        .collect();
    let mut out = Vec::new();
    let mut kept = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let n = i + 1;
        let line = match n {
            3 => edit(l, "colour", Some("red".into())),
            7 => edit(l, "user_id", Some((-4).into())),
            21 => edit(l, "user_email", None),
            40 => "{\"event_id\": ".to_string(),
            50 => "   ".to_string(),
            60 => edit(
                &edit(l, "event_timestamp", Some("2026-01-01T00:00:00Z".into())),
                "event_date",
                None,
            ),
            _ => {
                kept.push(serde_json::from_str::<serde_json::Value>(l).unwrap());
                l.clone()
            }
        };
        out.push(line);
    }
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, out.join("\n") + "\n").unwrap();
    let data = dir.path().join("data");
    let summary = import(&data, &[bad.to_str().unwrap()]);
    let name = bad.to_str().unwrap();
    for want in [
        format!("{name}:3: unknown field \"colour\""),
        format!(
            "{name}:7: field \"user_id\": expected an integer in 0..=9223372036854775807, got -4"
        ),
        format!("{name}:21: field \"user_email\": required field is missing or null"),
        format!("{name}:40: not a JSON object"),
        format!(
            "{name}:60: field \"event_timestamp\": day 2026-01-01 is older than the retention horizon 2026-10-28"
        ),
        "rejected 5".to_string(),
        "rejected as invalid: field \"user_id\": 1".to_string(),
        "rejected as expired: 1".to_string(),
    ] {
        assert!(summary.contains(&want), "missing {want:?} in:\n{summary}");
    }
    assert!(!summary.contains(":50:"), "a blank line is not an error");
    // The rejections are listed in line order.
    let at = |s: &str| summary.find(s).unwrap();
    assert!(at(":3:") < at(":7:") && at(":21:") < at(":40:") && at(":40:") < at(":60:"));
    assert_eq!(total(&data), distinct_ids(&kept));
}

#[test]
fn bad_csv_rows_are_reported_by_line_and_the_rest_stored() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.csv");
    generate(dir.path(), &good, 100, "csv");
    let mut reader = csv::Reader::from_path(&good).unwrap();
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<Vec<String>> = reader
        .records()
        .take(200)
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let bad = dir.path().join("bad.csv");
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::CRLF)
        .from_path(&bad)
        .unwrap();
    w.write_record(&header).unwrap();
    // Record k (from 0) is on line k + 2, plus one after the two-line record.
    let mut kept = HashSet::new();
    for (k, row) in rows.iter().enumerate() {
        let mut row = row.clone();
        match k {
            1 => row[col("is_api")] = "maybe".into(),
            3 => row[col("user_email")] = String::new(),
            6 => row[col("event_name")] = "Viewed \"RFI\", twice\non two lines".into(),
            8 => row[col("user_id")] = "-4".into(),
            9 => row.truncate(5),
            _ => {}
        }
        if ![1, 3, 8, 9].contains(&k) {
            kept.insert(row[col("event_id")].clone());
        }
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let data = dir.path().join("data");
    let summary = import(&data, &[bad.to_str().unwrap()]);
    let name = bad.to_str().unwrap();
    for want in [
        format!("{name}:3: field \"is_api\": expected true or false, got \"maybe\""),
        format!("{name}:5: field \"user_email\": required field is missing or empty"),
        format!(
            "{name}:11: field \"user_id\": expected an integer in 0..=9223372036854775807, got \"-4\""
        ),
        format!("{name}:12: wrong number of cells (5; the header has 25)"),
        "rejected 4".to_string(),
    ] {
        assert!(summary.contains(&want), "missing {want:?} in:\n{summary}");
    }
    assert_eq!(total(&data), kept.len() as u64);
    // The two-line cell survived intact.
    assert_eq!(
        groups(&data, "event_name").get("Viewed \"RFI\", twice\non two lines"),
        Some(&1)
    );

    // Header problems fail the file (exit 1) and name the column.
    let csv_text = std::fs::read_to_string(&good).unwrap();
    let first_row = csv_text.lines().nth(1).unwrap();
    for (file, header_line, want) in [
        (
            "colour.csv",
            format!("{},colour", header.iter().collect::<Vec<_>>().join(",")),
            "line 1: unknown column \"colour\"",
        ),
        (
            "typo.csv",
            header
                .iter()
                .map(|h| if h == "user_email" { "user_emial" } else { h })
                .collect::<Vec<_>>()
                .join(","),
            "line 1: unknown column \"user_emial\"",
        ),
    ] {
        let path = dir.path().join(file);
        std::fs::write(&path, format!("{header_line}\n{first_row}\n")).unwrap();
        let out = run(&data, &["import", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{file}");
        assert!(
            text(&out.stderr).contains(want),
            "{file}: {}",
            text(&out.stderr)
        );
    }
    let path = dir.path().join("short.csv");
    std::fs::write(&path, "event_id,event_timestamp\n").unwrap();
    let out = run(&data, &["import", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("line 1: the header has no column for required field(s) \"event_type\""),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn strict_stops_at_the_first_bad_record() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jsonl");
    generate(dir.path(), &good, 100, "jsonl");
    let mut lines: Vec<String> = std::fs::read_to_string(&good)
        .unwrap()
        .lines()
        .take(100)
        .map(String::from)
        .collect();
    lines[4] = edit(&lines[4], "is_api", Some("false".into()));
    lines[9] = edit(&lines[9], "colour", Some("red".into()));
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let data = dir.path().join("data");
    let out = run(&data, &["import", "--strict", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(":5: field \"is_api\": expected true or false, got \"false\""),
        "{stdout}"
    );
    assert!(!stdout.contains(":10:"), "{stdout}");
    assert!(stdout.contains("stopped at the first rejected record"));
    assert!(text(&out.stderr).contains("--strict"));
    // The four records before the bad one are stored.
    assert_eq!(total(&data), 4);

    // An event the engine refuses (too old) stops it the same way: nothing
    // after it is stored, although it passed parsing.
    let mut lines: Vec<String> = std::fs::read_to_string(&good)
        .unwrap()
        .lines()
        .take(100)
        .map(String::from)
        .collect();
    lines[2] = edit(
        &edit(
            &lines[2],
            "event_timestamp",
            Some("2026-01-01T00:00:00Z".into()),
        ),
        "event_date",
        None,
    );
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let data = dir.path().join("data2");
    let out = run(&data, &["import", "--strict", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            ":3: field \"event_timestamp\": day 2026-01-01 is older than the retention horizon"
        ),
        "{stdout}"
    );
    assert_eq!(total(&data), 2);
}

#[test]
fn verify_catches_a_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("e.jsonl");
    generate(dir.path(), &file, 300, "jsonl");
    let data = dir.path().join("data");
    import(&data, &[file.to_str().unwrap()]);
    assert!(ok(&data, &["verify"]).contains("ok:"));
    let seg = std::fs::read_dir(data.join("days"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .expect("a segment file");
    let mut bytes = std::fs::read(&seg).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(&seg, bytes).unwrap();
    let out = run(&data, &["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let all = text(&out.stdout) + &text(&out.stderr);
    let name = seg.file_name().unwrap().to_str().unwrap();
    assert!(all.contains(name), "{all}");
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for args in [
        vec!["import", "--colour", "x.jsonl"],
        vec!["query", "--where", "colour = red"],
        vec!["import"],
        vec!["import", "--format", "xml", "x"],
        vec!["generate", "--format", "parquet"],
        vec!["frobnicate"],
    ] {
        let out = run(&data, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err:?}");
        assert!(err.starts_with("daybook: "), "{args:?}: {err:?}");
    }
    let out = run(&data, &["import", "--colour", "x.jsonl"]);
    assert!(text(&out.stderr).contains("--colour"));
    let out = run(&data, &["query", "--where", "colour = red"]);
    assert!(text(&out.stderr).contains("unknown field \"colour\""));
    // A file that is not there is a failure (1), not a usage error.
    let out = run(&data, &["import", "missing.jsonl"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("missing.jsonl"));
}

#[cfg(unix)]
#[test]
fn ctrl_c_stores_what_was_read_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("e.jsonl");
    generate(dir.path(), &file, 200, "jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .take(300)
        .map(String::from)
        .collect();
    let data = dir.path().join("data");
    let mut child = daybook(&data, &["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Standard input stays open: the import waits for more.
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all((lines.join("\n") + "\n").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    // Wait until the stalled input's events are in the log.
    let log_bytes = || -> u64 {
        std::fs::read_dir(data.join("log"))
            .map_or(0, |d| d.map(|f| f.unwrap().metadata().unwrap().len()).sum())
    };
    let started = std::time::Instant::now();
    while log_bytes() < 20_000 {
        assert!(
            started.elapsed().as_secs() < 30,
            "the stalled input was not stored"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let unique = distinct_ids(
        &lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect::<Vec<_>>(),
    );
    assert!(stdout.contains(&format!("stored {unique},")), "{stdout}");
    assert!(stdout.contains("interrupted"), "{stdout}");
    assert_eq!(total(&data), unique);
    assert!(ok(&data, &["verify"]).contains("ok:"));
}

/// Files of more than one parsing chunk (10,000 lines): records parsed on
/// several threads are stored in file order and keep their line numbers.
#[test]
fn large_files_keep_line_numbers_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("big.jsonl");
    generate(dir.path(), &jsonl, 8500, "jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert!(lines.len() > 25_000);
    let bad_at = [
        2,
        9_999,
        10_001,
        10_400,
        13_000,
        20_500,
        21_000,
        lines.len(),
    ];
    let mut kept = Vec::new();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if bad_at.contains(&(i + 1)) {
            out.push(edit(l, "user_id", Some((-(i as i64) - 1).into())));
        } else {
            kept.push(serde_json::from_str::<serde_json::Value>(l).unwrap());
            out.push(l.clone());
        }
    }
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, out.join("\n") + "\n").unwrap();

    // The same records as CSV, with a two-line cell every 997 records.
    let csv_path = dir.path().join("bad.csv");
    let mut w = csv::Writer::from_path(&csv_path).unwrap();
    let fields: Vec<&str> = daybook::Field::stored().map(|f| f.name()).collect();
    w.write_record(&fields).unwrap();
    let mut csv_line = 2;
    let mut csv_bad = Vec::new();
    for (i, l) in out.iter().enumerate() {
        let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
        if i % 997 == 0 {
            v["event_subtype"] = "first line\nsecond line".into();
        }
        if bad_at.contains(&(i + 1)) {
            csv_bad.push(csv_line);
        }
        let row: Vec<String> = fields
            .iter()
            .map(|f| match &v[*f] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        w.write_record(&row).unwrap();
        csv_line += if i % 997 == 0 { 2 } else { 1 };
    }
    w.flush().unwrap();
    drop(w);

    let unique = distinct_ids(&kept);
    let mut summaries = Vec::new();
    for (name, file, expect) in [
        ("jsonl", &bad, bad_at.to_vec()),
        ("csv", &csv_path, csv_bad),
    ] {
        for threads in ["1", "2", "3"] {
            let data = dir.path().join(format!("data-{name}-{threads}"));
            let summary = import(&data, &["--threads", threads, file.to_str().unwrap()]);
            let listed: Vec<usize> = summary
                .lines()
                .filter_map(|l| l.trim().strip_prefix(file.to_str().unwrap()))
                .map(|rest| rest[1..].split(':').next().unwrap().parse().unwrap())
                .collect();
            assert_eq!(listed, expect, "{name}, {threads} thread(s):\n{summary}");
            assert!(summary.contains(&format!("stored {unique},")), "{summary}");
            assert_eq!(total(&data), unique);
            let by_type = groups(&data, "event_type");
            summaries.push(by_type);
        }
    }
    let first = &summaries[0];
    assert!(summaries.iter().all(|s| s == first));
    assert_eq!(*first, expected_groups(&kept, "event_type"));
}

/// Regression: a one-component relative `--data` ("store") has the empty
/// path as its parent, and syncing that directory failed with
/// "I/O error on : No such file or directory".
#[test]
fn a_relative_data_directory_works() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.jsonl");
    generate(dir.path(), &file, 20, "jsonl");
    for args in [vec!["import", "f.jsonl"], vec!["stats"]] {
        let out = Command::new(cli::bin())
            .current_dir(dir.path())
            .args(["--data", "store", "--now", NOW])
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run daybook");
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    assert!(dir.path().join("store").join("days").is_dir());
}

/// Regression: printing to a closed pipe (`daybook demo | head`) must end
/// the command quietly, not panic in println!.
#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let mut child = daybook(
        &dir.path().join("d"),
        &["demo", "--days", "3", "--events-per-day", "500"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn daybook");
    let mut first = [0u8; 64];
    child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut first)
        .unwrap();
    // The read end is dropped here: the next writes hit a closed pipe.
    let out = child.wait_with_output().expect("wait");
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "{err}");
}
