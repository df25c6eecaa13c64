//! The first hour of a new user: `generate` twice and import both, import
//! the reporting product's own CSV export, the messages of a wrong import,
//! and the demo's directions to its store. The real binary, in temporary
//! directories, with a fixed clock.
#![cfg(feature = "cli")]

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use daybook::Event;
use daybook::json::{event_to_json, parse_event};

use common::cli::{self, text};

const NOW: &str = "2026-11-27T12:00:00Z";

fn daybook(data: &Path, now: &str, args: &[&str]) -> Command {
    cli::at(data, now, args)
}

fn run(data: &Path, args: &[&str]) -> Output {
    cli::run_at(data, NOW, args)
}

/// Runs and expects exit 0; returns standard output.
fn ok(data: &Path, args: &[&str]) -> String {
    cli::ok_at(data, NOW, args)
}

/// `generate` to standard output at clock `now`, with `args`.
fn generate(now: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["generate", "--companies", "2"];
    all.extend_from_slice(args);
    let out = daybook(&dir.path().join("unused"), now, &all)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// A run's ids, and how many of its events repeat an earlier id.
fn ids(jsonl: &str) -> (HashSet<String>, usize) {
    let mut ids = HashSet::new();
    let mut repeats = 0;
    for line in jsonl.lines() {
        repeats += usize::from(!ids.insert(parse_event(line).unwrap().event_id));
    }
    (ids, repeats)
}

/// The summary's first line: `read ... rejected N` and the rate, if any.
fn first_line(summary: &str) -> &str {
    summary.lines().next().unwrap_or_default()
}

/// The counts of a summary's first line, from "stored" on.
fn counts(summary: &str) -> &str {
    let line = first_line(summary);
    let from = line.find("stored ").unwrap();
    let to = line.rfind(" (").filter(|k| *k > from).unwrap_or(line.len());
    &line[from..to]
}

/// `query --format json` with `args`: the rows.
fn rows(data: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["query", "--format", "json"];
    all.extend_from_slice(args);
    let doc: serde_json::Value = serde_json::from_str(&ok(data, &all)).unwrap();
    doc["rows"].as_array().unwrap().clone()
}

fn total(data: &Path) -> u64 {
    rows(data, &[])
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum()
}

#[test]
fn generate_runs_with_other_settings_or_clocks_share_no_id() {
    let base = ["--days", "2", "--events-per-day", "300"];
    let runs = [
        generate(NOW, &base),
        generate(NOW, &["--days", "2", "--events-per-day", "400"]),
        generate(
            NOW,
            &["--days", "2", "--events-per-day", "300", "--seed", "7"],
        ),
        generate(NOW, &["--days", "3", "--events-per-day", "300"]),
        // The next day's feed.
        generate("2026-11-28T12:00:00Z", &base),
    ];
    // The same settings and clock: the same output, byte for byte.
    assert_eq!(generate(NOW, &base), runs[0]);
    let all: Vec<(HashSet<String>, usize)> = runs.iter().map(|r| ids(r)).collect();
    for (i, (a, repeats)) in all.iter().enumerate() {
        // Only the planted re-sends repeat an id within a run.
        assert_eq!(a.len() + repeats, runs[i].lines().count(), "run {i}");
        assert!(*repeats > 0, "run {i}: no planted duplicates");
        for (j, (b, _)) in all.iter().enumerate().skip(i + 1) {
            assert_eq!(a.intersection(b).count(), 0, "runs {i} and {j} share ids");
        }
    }

    // Imported one after the other, both runs are stored in full.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (i, run) in runs[..2].iter().enumerate() {
        let file = dir.path().join(format!("run{i}.jsonl"));
        std::fs::write(&file, run).unwrap();
        let summary = ok(&data, &["import", file.to_str().unwrap()]);
        let (unique, repeats) = &all[i];
        assert_eq!(
            counts(&summary),
            format!("stored {}, duplicates {repeats}, rejected 0", unique.len())
        );
    }
    assert_eq!(total(&data), (all[0].0.len() + all[1].0.len()) as u64);
}

/// Three events as the reporting product exports them: display-name
/// columns in its own order, `Yes`/`No` booleans, and `Count` 1.
const EXPORT: &str = "\
Event ID,Event Timestamp,Event Date,Event Type,Event Name,Event Subtype,Tool Name,Company Name,Project Name,Project Number,Project Is Demo,Object ID,URL,Device Type,Is API,User ID,User Email,User Log In Email,User Name,User Job Title,User Role,User Type,User Default Permission Template,User Is Active,User is Authorized Bidder,User Last Log In Date,Count
x-1,2026-11-26T14:03:22.123Z,2026-11-26,View,Viewed RFI,Detail,RFIs,Granite Ridge Builders,Harbor Point Tower,2026-014,No,845512,https://app.example.com/projects/311/rfis/845512,iOS,No,70211,m.ortiz@graniteridge.example,mortiz@sso.graniteridge.example,Maria Ortiz,Superintendent,Project Manager,Employee,Standard,Yes,No,2026-11-26,1
x-2,2026-11-27T08:00:00Z,2026-11-27,Export,Exported Budget,,Budget,Granite Ridge Builders,,,,,,API,Yes,9007199254740993,api@graniteridge.example,,Sync Bot,,,,,,,,1
x-3,2026-11-25T23:10:00-01:00,2026-11-26,Create/Update,\"Updated \"\"RFI\"\", twice\",,RFIs,Cedar Point Construction,Bay Bridge (Demo),2025-101,YES,7,,Web,FALSE,42,j.doe@cedar.example,,Jo Doe,,,,,no,yes,,1
";

/// The export's events, as they must be stored.
fn export_events() -> Vec<Event> {
    [
        r#"{"event_id":"x-1","event_timestamp":"2026-11-26T14:03:22.123Z","event_type":"View","event_name":"Viewed RFI","event_subtype":"Detail","tool_name":"RFIs","company_name":"Granite Ridge Builders","project_name":"Harbor Point Tower","project_number":"2026-014","project_is_demo":false,"object_id":845512,"url":"https://app.example.com/projects/311/rfis/845512","device_type":"iOS","is_api":false,"user_id":70211,"user_email":"m.ortiz@graniteridge.example","user_login_email":"mortiz@sso.graniteridge.example","user_name":"Maria Ortiz","user_job_title":"Superintendent","user_role":"Project Manager","user_type":"Employee","user_default_permission_template":"Standard","user_is_active":true,"user_is_authorized_bidder":false,"user_last_login_date":"2026-11-26"}"#,
        r#"{"event_id":"x-2","event_timestamp":"2026-11-27T08:00:00Z","event_type":"Export","event_name":"Exported Budget","tool_name":"Budget","company_name":"Granite Ridge Builders","device_type":"API","is_api":true,"user_id":9007199254740993,"user_email":"api@graniteridge.example","user_name":"Sync Bot"}"#,
        r#"{"event_id":"x-3","event_timestamp":"2026-11-26T00:10:00Z","event_type":"Create/Update","event_name":"Updated \"RFI\", twice","tool_name":"RFIs","company_name":"Cedar Point Construction","project_name":"Bay Bridge (Demo)","project_number":"2025-101","project_is_demo":true,"object_id":7,"device_type":"Web","is_api":false,"user_id":42,"user_email":"j.doe@cedar.example","user_name":"Jo Doe","user_is_active":false,"user_is_authorized_bidder":true}"#,
    ]
    .map(|j| parse_event(j).unwrap())
    .to_vec()
}

/// Every stored event with every field, by event id.
fn stored_events(data: &Path) -> Vec<serde_json::Value> {
    let mut rows = rows(data, &["--events"]);
    rows.sort_by_key(|r| r["event_id"].as_str().unwrap().to_string());
    rows
}

#[test]
fn the_reporting_export_imports_and_queries_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.csv");
    std::fs::write(&file, EXPORT).unwrap();
    let data = dir.path().join("data");
    let summary = ok(&data, &["import", file.to_str().unwrap()]);
    assert_eq!(counts(&summary), "stored 3, duplicates 0, rejected 0");
    assert_eq!(summary.lines().count(), 1, "{summary}");
    let want: Vec<serde_json::Value> = export_events().iter().map(event_to_json).collect();
    let got = stored_events(&data);
    assert_eq!(got.len(), 3);
    for (g, w) in got.iter().zip(&want) {
        for (key, value) in w.as_object().unwrap() {
            assert_eq!(&g[key], value, "{key} of {}", w["event_id"]);
        }
    }
    assert_eq!(
        got[0].as_object().unwrap().len(),
        26,
        "every field listed: {}",
        got[0]
    );

    // A pre-aggregated row is rejected with the reason; the rest stored.
    let aggregated = EXPORT
        .replace("x-", "y-")
        .replace("2026-11-26,1\n", "2026-11-26,4\n");
    let file = dir.path().join("aggregated.csv");
    std::fs::write(&file, aggregated).unwrap();
    let summary = ok(&data, &["import", file.to_str().unwrap()]);
    let name = file.to_str().unwrap();
    // The import ends by merging each day it wrote to into one segment
    // (the first import's and this one's); its time varies.
    let (settled, rest): (Vec<&str>, Vec<&str>) = summary
        .lines()
        .skip(1)
        .partition(|l| l.starts_with("settled: "));
    assert_eq!(settled.len(), 1, "{settled:?}");
    assert!(
        settled[0].starts_with("settled: the segments of 2 days merged into one each in "),
        "{settled:?}"
    );
    assert_eq!(
        rest,
        [
            "  rejected as invalid: Count must be 1: 1".to_string(),
            "  first 1 rejected record(s):".to_string(),
            format!(
                "  {name}:2: Count must be 1 (one row per event), got \"4\": a row that counts several events cannot be stored as events"
            ),
        ]
    );
    assert_eq!(counts(&summary), "stored 2, duplicates 0, rejected 1");
}

/// The export with an extra `colour` column, and the first event with an
/// extra `colour` key, as JSON Lines.
fn with_colour(dir: &Path) -> (String, String) {
    let csv = dir.join("colour.csv");
    let mut text = String::new();
    for (i, line) in EXPORT.lines().enumerate() {
        text.push_str(line);
        text.push_str(if i == 0 { ",colour\n" } else { ",red\n" });
    }
    std::fs::write(&csv, text).unwrap();
    let jsonl = dir.join("colour.jsonl");
    let mut lines: Vec<String> = export_events()
        .iter()
        .map(|e| event_to_json(e).to_string())
        .collect();
    lines[0] = lines[0].replacen('{', r#"{"colour":"red","#, 1);
    lines[2] = lines[2].replacen('{', r#"{"Shade":1,"colour":[1],"#, 1);
    std::fs::write(&jsonl, lines.join("\n") + "\n").unwrap();
    (
        csv.to_str().unwrap().to_string(),
        jsonl.to_str().unwrap().to_string(),
    )
}

#[test]
fn unknown_fields_ignored_are_stored_without_them_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, jsonl) = with_colour(dir.path());
    let data = dir.path().join("csv");
    let summary = ok(&data, &["import", "--unknown-fields", "ignore", &csv]);
    assert_eq!(counts(&summary), "stored 3, duplicates 0, rejected 0");
    assert_eq!(
        summary.lines().skip(1).collect::<Vec<_>>(),
        ["  1 unknown field(s) ignored: \"colour\" (in 3 records)"]
    );
    let got = stored_events(&data);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|e| e.get("colour").is_none()));

    let data = dir.path().join("jsonl");
    let summary = ok(&data, &["import", "--unknown-fields", "ignore", &jsonl]);
    assert_eq!(counts(&summary), "stored 3, duplicates 0, rejected 0");
    assert_eq!(
        summary.lines().skip(1).collect::<Vec<_>>(),
        ["  2 unknown field(s) ignored: \"Shade\" (in 1 record), \"colour\" (in 2 records)"]
    );
    let want: Vec<serde_json::Value> = export_events().iter().map(event_to_json).collect();
    assert_eq!(stored_events(&data)[0]["user_name"], want[0]["user_name"]);
    assert_eq!(total(&data), 3);
}

#[test]
fn unknown_fields_rejected_by_default_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, jsonl) = with_colour(dir.path());
    let data = dir.path().join("data");
    // CSV: the file fails at its header, with the way out.
    let out = run(&data, &["import", &csv]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "daybook: {csv}: line 1: unknown column \"colour\"; nothing was imported from this file (with --unknown-fields ignore, it is skipped)\n"
        )
    );
    assert_eq!(text(&out.stdout), "");
    let two = dir.path().join("two.csv");
    let header = EXPORT.lines().next().unwrap();
    std::fs::write(&two, format!("Shade,{header},colour\n")).unwrap();
    let out = run(&data, &["import", two.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "daybook: {}: line 1: unknown columns \"Shade\", \"colour\"; nothing was imported from this file (with --unknown-fields ignore, they are skipped)\n",
            two.display()
        )
    );
    // A misspelt required column: ignoring would not help, so no hint.
    let typo = dir.path().join("typo.csv");
    std::fs::write(&typo, header.replace("User Email", "User Emial") + "\n").unwrap();
    let out = run(&data, &["import", typo.to_str().unwrap()]);
    assert_eq!(
        text(&out.stderr),
        format!(
            "daybook: {}: line 1: unknown column \"User Emial\"\n",
            typo.display()
        )
    );
    assert_eq!(out.status.code(), Some(1));

    // JSON: each record with an unknown key is rejected, naming it.
    let summary = ok(&data, &["import", &jsonl]);
    assert_eq!(counts(&summary), "stored 1, duplicates 0, rejected 2");
    assert_eq!(
        summary.lines().skip(1).collect::<Vec<_>>(),
        [
            "  rejected as invalid: unknown field: 2".to_string(),
            "  first 2 rejected record(s):".to_string(),
            format!("  {jsonl}:1: unknown field \"colour\""),
            format!("  {jsonl}:3: unknown field \"Shade\""),
        ]
    );
}

#[test]
fn a_file_of_only_rejected_records_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"event_id\":\"a\"}\nnot json\n\n").unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(&good, EXPORT).unwrap();
    let data = dir.path().join("data");
    let (bad, good) = (bad.to_str().unwrap(), good.to_str().unwrap());
    let out = run(&data, &["import", good, bad]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("daybook: {bad}: all 2 records were rejected, nothing stored\n")
    );
    let summary = text(&out.stdout);
    assert_eq!(counts(&summary), "stored 3, duplicates 0, rejected 2");
    assert_eq!(total(&data), 3);

    // A file of duplicates only is not a failure.
    let summary = ok(&data, &["import", good]);
    assert_eq!(counts(&summary), "stored 0, duplicates 3, rejected 0");

    // One record, rejected by the engine (before the retention horizon).
    let old = dir.path().join("old.csv");
    std::fs::write(
        &old,
        EXPORT
            .lines()
            .take(2)
            .collect::<Vec<_>>()
            .join("\n")
            .replace("2026-11-26", "2025-11-26"),
    )
    .unwrap();
    let out = run(&data, &["import", old.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "daybook: {}: its one record was rejected, nothing stored\n",
            old.display()
        )
    );
}

#[test]
fn csv_on_standard_input_without_format_gets_the_hint() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for input in [EXPORT.to_string(), format!("\n\n{EXPORT}")] {
        let mut child = daybook(&data, NOW, &["import", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let line = if input.starts_with('\n') { 3 } else { 1 };
        assert_eq!(
            text(&out.stderr),
            format!(
                "daybook: stdin: line {line} looks like a CSV header, not JSON; to import CSV, add --format csv\n"
            )
        );
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(text(&out.stdout), "");
    }
    // With --format csv it imports.
    let mut child = daybook(&data, NOW, &["import", "--format", "csv", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(EXPORT.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(total(&data), 3);
}

#[test]
fn the_summary_says_mb_and_no_rate_when_nothing_was_stored() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.csv");
    std::fs::write(&file, EXPORT).unwrap();
    let data = dir.path().join("data");
    let name = file.to_str().unwrap();
    let first = ok(&data, &["import", name]);
    let line = first_line(&first);
    assert!(line.starts_with("read 4 lines (0.0 MB) in "), "{line}");
    assert!(
        line.contains(" s: stored 3, duplicates 0, rejected 0 (") && line.ends_with(" events/s)"),
        "{line}"
    );
    let again = ok(&data, &["import", name]);
    let line = first_line(&again);
    assert!(line.starts_with("read 4 lines (0.0 MB) in "), "{line}");
    assert!(
        line.ends_with(" s: stored 0, duplicates 3, rejected 0"),
        "{line}"
    );
    assert_eq!(again.lines().count(), 1);
}

#[test]
fn the_demo_says_where_its_store_is_and_how_to_query_it() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let store = demo.join("store");
    let out = ok(
        &demo,
        &[
            "demo",
            "--days",
            "3",
            "--events-per-day",
            "300",
            "--companies",
            "2",
        ],
    );
    let first = out.lines().next().unwrap();
    assert!(
        first.ends_with(&format!(
            ", now = 2026-11-27T12:00:00.000Z, store {}",
            store.display()
        )),
        "{first}"
    );
    let tail: Vec<&str> = out.lines().rev().take(2).collect();
    let command = format!(
        "{} --data {} --now {NOW} query --last 7d --group-by event_type --order-by count:desc",
        cli::bin(),
        store.display()
    );
    assert_eq!(
        tail,
        [
            format!("  {command}"),
            format!("the store is {}; to query it:", store.display()),
        ]
    );
    // The line works as printed (the paths here need no quoting).
    let words: Vec<&str> = command.split(' ').collect();
    let listed = Command::new(words[0])
        .args(&words[1..])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let sum: u64 = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, total(&store));
    assert!(sum > 0);

    // A directory with a store the demo did not make is left alone.
    let theirs = dir.path().join("theirs");
    let export = dir.path().join("export.csv");
    std::fs::write(&export, EXPORT).unwrap();
    ok(&theirs, &["import", export.to_str().unwrap()]);
    let out = run(&theirs, &["demo", "--days", "1", "--events-per-day", "10"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "daybook: {} holds a daybook store that the demo did not make; the demo replaces its directory, so give it another with --data\n",
            theirs.display()
        )
    );
    assert_eq!(total(&theirs), 3);
}

#[test]
fn help_names_the_demo_directory() {
    let out = Command::new(cli::bin())
        .args(["demo", "--help"])
        .output()
        .unwrap();
    let help = text(&out.stdout);
    assert!(out.status.success());
    assert!(
        help.contains("./daybook-demo") && help.contains("DIR/store"),
        "{help}"
    );
    let out = Command::new(cli::bin())
        .args(["import", "--help"])
        .output()
        .unwrap();
    let help = text(&out.stdout);
    for want in [
        "--unknown-fields <UNKNOWN_FIELDS>",
        "- reject: Reject it: the record (JSON), or the file at its header row (CSV)",
        "- ignore: Drop it, store the rest, and count it in the summary",
        "[default: reject]",
    ] {
        assert!(help.contains(want), "{want:?} not in {help}");
    }
}
