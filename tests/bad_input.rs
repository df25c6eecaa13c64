//! Bad input: every rule of the event contract (docs/event-format.md) broken
//! once, through the JSON parser (`daybook::json::parse_event`), the CSV
//! reader (`daybook::csv_event::Reader`), `Engine::append` (events built in
//! Rust, which skip the parsers) and `daybook import`. Each bad record gets
//! its exact message and position; the good records around it are stored.

mod common;

use std::collections::BTreeSet;

use common::*;
use daybook::Field;
use daybook::csv_event::Reader;
use daybook::json::parse_event;
use daybook::time::parse_rfc3339_ms;
use daybook::{Day, Engine, Event, RejectReason};
use serde_json::Value as J;

const TYPES: &str = "Allow, Assign, Close, Create/Update, Delete, Download, Execute, Export, \
     Include, Link, Move, Notify, Other, Publish, Reject, Remove, Reset, Sign, Submit, Sync, \
     Upload, Validate, View, Withdraw/Void";
const INT_RANGE: &str = "expected an integer in 0..=9223372036854775807";
/// The required fields (every one but the derived `event_date`).
const REQUIRED: &str = "event_id event_timestamp event_type event_name tool_name company_name \
     device_type is_api user_id user_email user_name";

/// The ids stored in `engine`.
fn stored_ids(engine: &Engine) -> BTreeSet<String> {
    contents(engine)
        .into_values()
        .flatten()
        .map(|e| e.event_id)
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// An append report's rejections as (index, message).
fn rejections(r: &daybook::AppendReport) -> Vec<(usize, String)> {
    r.rejected
        .iter()
        .map(|x| (x.index, x.reason.to_string()))
        .collect()
}

/// The contract's example event (now is 2026-11-27T12:00:00Z, so it is
/// retained), under another id.
fn base(id: &str) -> serde_json::Map<String, J> {
    let text = r#"{"event_id":"6f1c0c9e-3b2a-4c55-9a57-0b1f7c2d9e11","event_timestamp":"2026-11-26T14:03:22.123Z","event_type":"View","event_name":"Viewed RFI","event_subtype":"Detail","tool_name":"RFIs","company_name":"Granite Ridge Builders","project_name":"Harbor Point Tower","project_number":"2026-014","project_is_demo":false,"object_id":845512,"url":"https://app.example.com/projects/311/rfis/845512","device_type":"iOS","is_api":false,"user_id":70211,"user_email":"m.ortiz@graniteridge.example","user_login_email":"mortiz@sso.graniteridge.example","user_name":"Maria Ortiz","user_job_title":"Superintendent","user_role":"Project Manager","user_type":"Employee","user_default_permission_template":"Standard","user_is_active":true,"user_is_authorized_bidder":false,"user_last_login_date":"2026-11-26"}"#;
    let J::Object(mut o) = serde_json::from_str(text).unwrap() else {
        unreachable!()
    };
    o.insert("event_id".into(), J::String(id.into()));
    o
}

/// The example under `id` with `key` set to the raw JSON `raw` (removed
/// when `None`).
fn with(id: &str, key: &str, raw: Option<&str>) -> String {
    let mut o = base(id);
    match raw {
        Some(raw) => o.insert(key.into(), serde_json::from_str(raw).unwrap()),
        None => o.remove(key),
    };
    J::Object(o).to_string()
}

fn good(id: &str) -> String {
    J::Object(base(id)).to_string()
}

/// The accepted outcome in the case tables.
const OK: &str = "";
const MISSING: &str = "required field is missing or null";
const EXPIRED: &str =
    r#"field "event_timestamp": day 2026-10-27 is older than the retention horizon 2026-10-28"#;

/// One edit of the example per case: (field, its raw JSON value or `None`
/// to leave it out, the message after `field "F": `, or `OK`).
fn field_cases() -> Vec<(&'static str, Option<String>, String)> {
    let r = |raw: &str| Some(raw.to_string());
    let rep = |n: usize, c: &str| Some(format!("\"{}\"", c.repeat(n)));
    let q = |text: &str| Some(format!("\"{text}\""));
    let int = |got: &str| format!("{INT_RANGE}, got {got}");
    let long = |n: usize, max: usize| format!("is {n} bytes, at most {max} allowed");
    let date = |t: &str| format!("expected a date YYYY-MM-DD, got \"{t}\"");
    let mut v: Vec<(&str, Option<String>, String)> = Vec::new();
    // Field set: every required field left out, and null.
    for f in REQUIRED.split_whitespace() {
        v.push((f, None, MISSING.into()));
        v.push((f, r("null"), MISSING.into()));
    }
    // Strings: never empty, required or not.
    for f in [
        "event_id",
        "event_name",
        "tool_name",
        "user_email",
        "project_name",
        "url",
    ] {
        v.push((f, r(r#""""#), "must not be empty".into()));
    }
    // Event types: exact spelling.
    for t in [
        "Viewed",
        "view",
        "VIEW",
        "Create-Update",
        "Withdraw / Void",
        "",
    ] {
        let msg = format!("unknown event type \"{t}\" (expected one of {TYPES})");
        v.push(("event_type", q(t), msg));
    }
    // Timestamps: RFC 3339 with an offset.
    for (t, why) in [
        ("2026-11-26T14:03:22", "premature end of input"),
        ("2026-11-26", "premature end of input"),
        ("", "premature end of input"),
        (
            "2026-11-26T14:03:22+0100",
            "input contains invalid characters",
        ),
        ("2026-02-30T00:00:00Z", "input is out of range"),
        ("2026-11-26T24:00:00Z", "input is out of range"),
        ("26/11/2026 14:03", "premature end of input"),
        ("10000-01-01T00:00:00Z", "input contains invalid characters"),
    ] {
        let msg = format!("not an RFC 3339 timestamp with offset ({why}): \"{t}\"");
        v.push(("event_timestamp", q(t), msg));
    }
    v.extend([
        ("url", None, OK.into()),
        ("project_name", r("null"), OK.into()),
        // Lengths in UTF-8 bytes, after escapes.
        ("user_name", rep(1025, "a"), long(1025, 1024)),
        ("user_name", rep(1024, "a"), OK.into()),
        ("company_name", rep(513, "é"), long(1026, 1024)),
        ("company_name", rep(512, r"\u00e9"), OK.into()),
        ("url", rep(8193, "u"), long(8193, 8192)),
        ("url", rep(8192, "u"), OK.into()),
        ("event_id", rep(129, "i"), long(129, 128)),
        ("event_id", rep(128, "i"), OK.into()),
        // Integers.
        ("user_id", q("70211"), int("\"70211\"")),
        ("user_id", r("-4"), int("-4")),
        ("user_id", r("9223372036854775808"), int("9223372036854775808")),
        ("object_id", r("18446744073709551615"), int("18446744073709551615")),
        ("object_id", r("1.5"), int("1.5")),
        ("user_id", r("9223372036854775807"), OK.into()),
        ("object_id", r("0"), OK.into()),
        // Other types.
        ("event_name", r("5"), "expected a string, got 5".into()),
        ("tool_name", r("true"), "expected a string, got true".into()),
        ("company_name", r(r#"["a"]"#), "expected a string, got an array".into()),
        ("device_type", r(r#"{"a":1}"#), "expected a string, got an object".into()),
        ("is_api", q("true"), "expected true or false, got \"true\"".into()),
        ("is_api", r("0"), "expected true or false, got 0".into()),
        ("user_is_active", r("1"), "expected true or false, got 1".into()),
        ("event_type", q("Create/Update"), OK.into()),
        ("event_timestamp", r("1795701802123"), "expected a string, got 1795701802123".into()),
        (
            "event_timestamp",
            q("1969-12-31T23:59:59.999Z"),
            "timestamp \"1969-12-31T23:59:59.999Z\" is outside 1970..=9999".into(),
        ),
        ("event_timestamp", q("2026-11-26T15:03:22.123999+01:00"), OK.into()),
        // Dates.
        (
            "event_date",
            q("2026-11-25"),
            "2026-11-25 disagrees with event_timestamp 2026-11-26T14:03:22.123Z (UTC date 2026-11-26)"
                .into(),
        ),
        ("event_date", q("2026-11-26"), OK.into()),
        ("event_date", q("2026-11-26T00:00:00Z"), date("2026-11-26T00:00:00Z")),
        ("event_date", q("2026-2-5"), date("2026-2-5")),
        ("user_last_login_date", q("2026-02-30"), date("2026-02-30")),
        ("user_last_login_date", q("26/11/2026"), date("26/11/2026")),
        ("user_last_login_date", q("1969-12-31"), "date outside 1970..=9999".into()),
    ]);
    v
}

/// Lines that break a rule about the whole record: (label, line, message
/// or `OK`).
fn line_cases() -> Vec<(&'static str, String, String)> {
    // The bad value first, so that the parser's column is easy to tell.
    let first = |key: &str, raw: &str| format!("{{\"{key}\":{raw},{}", &with("x", key, None)[1..]);
    let not_obj = |why: &str| format!("not a JSON object: {why}");
    let trailing = format!("{} x", good("x"));
    let mut local = base("x");
    local.insert("event_timestamp".into(), "2026-11-25T23:10:00-01:00".into());
    local.insert("event_date".into(), "2026-11-25".into());
    let local_date = J::Object(local.clone()).to_string();
    local.insert("event_date".into(), "2026-11-26".into());
    local.insert("event_id".into(), "utc-date".into());
    let utc_date = J::Object(local).to_string();
    vec![
        ("unknown key", with("x", "colour", Some(r#""red""#)), r#"unknown field "colour""#.into()),
        ("count is not a field", with("x", "count", Some("3")), r#"unknown field "count""#.into()),
        (
            "a key twice",
            first("user_id", "1").replacen(r#""user_id":1,"#, r#""user_id":1,"user_id":2,"#, 1),
            r#"field "user_id": appears more than once"#.into(),
        ),
        ("False", first("is_api", "False"), not_obj("expected value at line 1 column 11")),
        (
            "unpaired leading surrogate",
            first("user_name", r#""\ud800""#),
            not_obj("unexpected end of hex escape at line 1 column 21"),
        ),
        (
            "leading surrogate and a letter",
            first("user_name", r#""a\ud800b""#),
            not_obj("unexpected end of hex escape at line 1 column 22"),
        ),
        (
            "lone trailing surrogate",
            first("user_name", r#""\udc00""#),
            not_obj("lone leading surrogate in hex escape at line 1 column 20"),
        ),
        ("surrogate pair", first("user_name", r#""\ud83d\ude00""#).replace("\"x\"", "\"pair\""), OK.into()),
        (
            "event_date is the local date, not the UTC one",
            local_date,
            "field \"event_date\": 2026-11-25 disagrees with event_timestamp 2026-11-25T23:10:00-01:00 (UTC date 2026-11-26)"
                .into(),
        ),
        ("event_date is the UTC date", utc_date, OK.into()),
        (
            "an array",
            "[1,2]".into(),
            not_obj("invalid type: sequence, expected a JSON object (one event) at line 1 column 0"),
        ),
        (
            "null",
            "null".into(),
            not_obj("invalid type: null, expected a JSON object (one event) at line 1 column 4"),
        ),
        (
            "a string",
            "\"text\"".into(),
            not_obj("invalid type: string \"text\", expected a JSON object (one event) at line 1 column 6"),
        ),
        ("cut short", "{\"event_id\":".into(), not_obj("EOF while parsing a value at line 1 column 12")),
        ("empty", String::new(), not_obj("EOF while parsing a value at line 1 column 0")),
        (
            "trailing characters",
            trailing.clone(),
            not_obj(&format!("trailing characters at line 1 column {}", trailing.len())),
        ),
        ("empty object", "{}".into(), format!("field \"event_timestamp\": {MISSING}")),
    ]
}

#[test]
fn json_every_rule_broken_once_has_its_exact_message() {
    // Every case as one line of a file, accepted ones under distinct ids.
    let mut lines: Vec<(String, String, String)> = Vec::new();
    for (i, (f, raw, msg)) in field_cases().into_iter().enumerate() {
        let id = if f == "event_id" {
            "x".to_string()
        } else {
            format!("ok-{i}")
        };
        let want = if msg == OK {
            msg
        } else {
            format!("field \"{f}\": {msg}")
        };
        let shown: String = raw
            .as_deref()
            .unwrap_or("(left out)")
            .chars()
            .take(40)
            .collect();
        lines.push((format!("{f} = {shown}"), with(&id, f, raw.as_deref()), want));
    }
    for (label, line, want) in line_cases() {
        lines.push((label.into(), line, want));
    }
    let mut fails = Vec::new();
    let mut events = Vec::new();
    for (label, line, want) in &lines {
        match parse_event(line) {
            Ok(e) if *want == OK => events.push(e),
            Err(e) if e.to_string() == *want => {}
            got => fails.push(format!(
                "{label}:\n   want {want:?}\n    got {:?}",
                got.map(|e| e.event_id).map_err(|e| e.to_string())
            )),
        }
    }
    assert!(
        fails.is_empty(),
        "{} mismatches:\n{}",
        fails.len(),
        fails.join("\n")
    );
    let accepted = lines.iter().filter(|l| l.2 == OK).count();
    assert_eq!((events.len(), accepted), (13, 13));
    // The values the rules promise.
    let one = |f: &str, raw: &str| parse_event(&with("v", f, Some(raw))).unwrap();
    let e = one("event_timestamp", r#""2026-11-26T15:03:22.123999+01:00""#);
    assert_eq!(e.event_timestamp_ms, 1_795_701_802_123);
    assert_eq!(
        one("user_id", "9223372036854775807").user_id,
        9_223_372_036_854_775_807
    );
    assert_eq!(one("user_name", r#""\ud83d\ude00""#).user_name, "\u{1f600}");
    let e = one("company_name", &format!("\"{}\"", r"\u00e9".repeat(512)));
    assert_eq!(e.company_name, "é".repeat(512));
    assert_eq!(one("project_name", "null").project_name, None);
    let utc = events.iter().find(|e| e.event_id == "utc-date").unwrap();
    assert_eq!(utc.day(), Day::parse("2026-11-26").unwrap());
    // The good records of the file are all stored.
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let want: BTreeSet<String> = events.iter().map(|e| e.event_id.clone()).collect();
    let r = engine.append(events).unwrap();
    assert_eq!((r.stored, r.duplicates, r.rejected.len()), (13, 0, 0));
    assert_eq!(stored_ids(&engine), want);
}

/// A float that happens to be whole is shown as a whole number: the
/// message says "got 845512" for `845512.0`, which reads like a valid value.
#[test]
#[ignore = "bug: JSON float operands are shown without their fraction/exponent (got 845512 for 845512.0)"]
fn json_whole_floats_are_shown_as_written() {
    let got: Vec<String> = ["845512.0", "8.45512e5", "99999999999999999999"]
        .iter()
        .map(|raw| {
            parse_event(&with("x", "object_id", Some(raw)))
                .unwrap_err()
                .to_string()
        })
        .collect();
    // Any spelling that is not a valid integer will do; Rust's `{:?}` of
    // the f64 is one.
    let want: Vec<String> = ["845512.0", "845512.0", "1e20"]
        .iter()
        .map(|shown| format!("field \"object_id\": {INT_RANGE}, got {shown}"))
        .collect();
    assert_eq!(got, want);
}

/// The engine's own checks, on events built in Rust (no parser in front),
/// and the time rules (retention edge, future guard, day boundaries) that
/// only the engine can apply. Good events sit between the bad ones.
#[test]
fn append_rejects_each_broken_rule_with_index_and_reason() {
    let ts = |s: &str| parse_rfc3339_ms(s).unwrap();
    let ok = |id: &str, at: &str| (event(id, ts(at), 1), None);
    let bad = |f: &dyn Fn(&mut Event), field: &str, why: &str| {
        let mut e = event("bad", ts("2026-11-26T10:00:00Z"), 1);
        f(&mut e);
        (e, Some(format!("field \"{field}\": {why}")))
    };
    let at = |id: &str, t: &str, why: &str| (event(id, ts(t), 1), Some(why.to_string()));
    let empty = "must not be empty";
    let above = |n: u64| format!("{n} is above the maximum 9223372036854775807");
    let outside = "timestamp outside 1970..=9999";
    let future = |t: &str| {
        format!("field \"event_timestamp\": {t} is in the future (now is 2026-11-27T12:00:00.000Z)")
    };
    let cases = vec![
        ok("ok-1", "2026-11-26T10:00:00Z"),
        bad(&|e| e.event_id.clear(), "event_id", empty),
        bad(&|e| e.event_name.clear(), "event_name", empty),
        bad(&|e| e.user_role = Some(String::new()), "user_role", empty),
        bad(
            &|e| e.user_name = "n".repeat(1025),
            "user_name",
            "is 1025 bytes, at most 1024 allowed",
        ),
        bad(
            &|e| e.url = Some("u".repeat(8193)),
            "url",
            "is 8193 bytes, at most 8192 allowed",
        ),
        bad(
            &|e| e.event_id = "i".repeat(129),
            "event_id",
            "is 129 bytes, at most 128 allowed",
        ),
        bad(&|e| e.user_id = 1 << 63, "user_id", &above(1 << 63)),
        bad(
            &|e| e.object_id = Some(u64::MAX),
            "object_id",
            &above(u64::MAX),
        ),
        bad(&|e| e.event_timestamp_ms = -1, "event_timestamp", outside),
        bad(
            &|e| e.event_timestamp_ms = i64::MAX,
            "event_timestamp",
            outside,
        ),
        bad(
            &|e| e.user_last_login_date = Some(Day(-1)),
            "user_last_login_date",
            "date outside 1970..=9999",
        ),
        ok("ok-2", "2026-11-27T11:00:00Z"),
        // The 31-day retention edge: now is 2026-11-27T12:00:00Z, so the
        // oldest day kept is 2026-10-28.
        ok("edge-in", "2026-10-28T00:00:00.000Z"),
        at("edge-out", "2026-10-27T23:59:59.999Z", EXPIRED),
        at("edge-out-offset", "2026-10-28T00:59:59.999+01:00", EXPIRED),
        ok("edge-in-offset", "2026-10-27T23:00:00.000-01:00"),
        // Day boundaries.
        ok("last-ms", "2026-11-26T23:59:59.999Z"),
        ok("first-ms", "2026-11-27T00:00:00.000Z"),
        // The future guard: now + 24 h is accepted, a millisecond more is not.
        ok("future-edge", "2026-11-28T12:00:00.000Z"),
        at(
            "future-out",
            "2026-11-28T12:00:00.001Z",
            &future("2026-11-28T12:00:00.001Z"),
        ),
        at(
            "far-future",
            "9999-12-31T23:59:59.999Z",
            &future("9999-12-31T23:59:59.999Z"),
        ),
        // A rejected event does not claim its id: the valid copy after it
        // is stored; a later copy of a stored id is a duplicate.
        bad(
            &|e| (e.event_id, e.tool_name) = ("ok-3".into(), String::new()),
            "tool_name",
            empty,
        ),
        ok("ok-3", "2026-11-26T10:00:00Z"),
        // (n = 3: other fields, the same company as n = 1; dedup is per
        // company.)
        (
            event("ok-1", ts("2026-11-20T10:00:00Z"), 3),
            Some("duplicate".into()),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let (events, wants): (Vec<Event>, Vec<Option<String>>) = cases.into_iter().unzip();
    let r = engine.append(events.clone()).unwrap();
    let want: Vec<(usize, String)> = wants
        .iter()
        .enumerate()
        .filter_map(|(i, w)| w.clone().filter(|w| w != "duplicate").map(|w| (i, w)))
        .collect();
    assert_eq!(rejections(&r), want);
    let kinds: Vec<&str> = r.rejected.iter().map(|x| x.reason.kind()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "expired").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "future").count(), 2);
    assert!(matches!(
        r.rejected.last().unwrap().reason,
        RejectReason::Invalid(_)
    ));
    let want_ids = "ok-1 ok-2 edge-in edge-in-offset last-ms first-ms future-edge ok-3";
    let want_ids: Vec<&str> = want_ids.split(' ').collect();
    assert_eq!((r.stored, r.duplicates), (want_ids.len(), 1));
    assert_eq!(stored_ids(&engine), set(&want_ids));
    let stored = contents(&engine);
    // Each boundary event is in the partition of its UTC day.
    let day_of = |id: &str| {
        let (d, _) = stored
            .iter()
            .find(|(_, evs)| evs.iter().any(|e| e.event_id == id))
            .unwrap();
        d.to_string()
    };
    assert_eq!(day_of("last-ms"), "2026-11-26");
    assert_eq!(day_of("first-ms"), "2026-11-27");
    assert_eq!(day_of("edge-in"), "2026-10-28");
    assert_eq!(day_of("edge-in-offset"), "2026-10-28");
    assert_eq!(day_of("future-edge"), "2026-11-28");
    // And queries by day see them there, sealed or not.
    engine.flush().unwrap();
    let q = daybook::Query::count()
        .between("2026-11-26T23:59:59.999Z", "2026-11-27T00:00:00.001Z")
        .group_by(&[Field::EventDate]);
    let rows = engine.query(&q).unwrap().rows;
    assert_eq!(
        rows,
        vec![
            vec![
                daybook::Scalar::Date(Day::parse("2026-11-26").unwrap()),
                daybook::Scalar::Int(1)
            ],
            vec![
                daybook::Scalar::Date(Day::parse("2026-11-27").unwrap()),
                daybook::Scalar::Int(1)
            ],
        ]
    );
}

const CSV_HEADER: &str = "event_id,event_timestamp,event_date,event_type,event_name,tool_name,company_name,project_name,object_id,url,device_type,is_api,user_id,user_email,user_name,user_is_active,user_last_login_date";

/// A CSV row under `CSV_HEADER`, with `edits` (column, raw cell bytes).
fn csv_row(id: &str, edits: &[(&str, &[u8])]) -> Vec<u8> {
    const CELLS: &str = "2026-11-26T14:03:22.123Z,,View,Viewed RFI,RFIs,Granite Ridge Builders,\
        Harbor Point Tower,845512,https://app.example.com/rfis/845512,iOS,false,70211,\
        m.ortiz@graniteridge.example,Maria Ortiz,true,2026-11-26";
    let cells = std::iter::once(id).chain(CELLS.split(','));
    let mut out = Vec::new();
    for (name, cell) in CSV_HEADER.split(',').zip(cells) {
        if !out.is_empty() {
            out.push(b',');
        }
        let edit = edits.iter().find(|(n, _)| *n == name);
        out.extend_from_slice(edit.map_or(cell.as_bytes(), |(_, c)| *c));
    }
    out
}

#[test]
fn csv_every_rule_broken_once_has_its_exact_line_and_message() {
    let long = "n".repeat(1025);
    let ok = |id: &'static str, edits: &[(&str, &[u8])]| (csv_row(id, edits), Ok(id));
    let bad = |col: &str, cell: &[u8], why: &str| {
        (
            csv_row("x", &[(col, cell)]),
            Err(format!("field \"{col}\": {why}")),
        )
    };
    let int = |got: &str| format!("{INT_RANGE}, got \"{got}\"");
    let boolean = |got: &str| format!("expected true or false, got \"{got}\"");
    let empty = "required field is missing or empty";
    // (row bytes, Ok(id) or Err(message)); lines are counted below.
    let rows: Vec<(Vec<u8>, Result<&str, String>)> = vec![
        ok("c-1", &[]),
        bad("is_api", b"maybe", &boolean("maybe")),
        bad("is_api", b"Y", &boolean("Y")),
        bad("user_is_active", b"1", &boolean("1")),
        bad("is_api", b"", empty),
        bad("user_email", b"", empty),
        ok(
            "c-2",
            &[("project_name", b""), ("object_id", b""), ("url", b"")],
        ),
        bad("user_id", b"-4", &int("-4")),
        bad("user_id", b"845512.0", &int("845512.0")),
        bad("user_id", b"+5", &int("+5")),
        bad("user_id", b" 5", &int(" 5")),
        bad(
            "object_id",
            b"9223372036854775808",
            &int("9223372036854775808"),
        ),
        ok("c-3", &[("object_id", b"9223372036854775807")]),
        bad(
            "event_type",
            b"view",
            &format!("unknown event type \"view\" (expected one of {TYPES})"),
        ),
        bad(
            "event_timestamp",
            b"2026-11-26T14:03:22",
            r#"not an RFC 3339 timestamp with offset (premature end of input): "2026-11-26T14:03:22""#,
        ),
        bad(
            "event_date",
            b"2026-11-25",
            "2026-11-25 disagrees with event_timestamp 2026-11-26T14:03:22.123Z (UTC date 2026-11-26)",
        ),
        bad(
            "user_last_login_date",
            b"2026-02-30",
            r#"expected a date YYYY-MM-DD, got "2026-02-30""#,
        ),
        bad("user_name", b"Mar\xffa", "is not valid UTF-8"),
        bad(
            "user_name",
            long.as_bytes(),
            "is 1025 bytes, at most 1024 allowed",
        ),
        (
            b"x,2026-11-26T14:03:22Z,View".to_vec(),
            Err("wrong number of cells (3; the header has 17)".into()),
        ),
        (
            [csv_row("x", &[]), b",extra".to_vec()].concat(),
            Err("wrong number of cells (18; the header has 17)".into()),
        ),
        // A quoted cell over two lines: the next record's line moves on.
        ok("c-4", &[("event_name", b"\"Viewed \"\"RFI\"\",\ntwice\"")]),
        (b"".to_vec(), Ok("")),
        bad("tool_name", b"", empty),
        ok("c-5", &[("event_timestamp", b"2026-10-27T23:59:59.999Z")]),
        ok("c-6", &[]),
    ];
    let mut text = CSV_HEADER.as_bytes().to_vec();
    text.extend_from_slice(b"\r\n");
    let mut line = 2u64;
    let mut want: Vec<(u64, Result<String, String>)> = Vec::new();
    for (row, w) in &rows {
        text.extend_from_slice(row);
        text.extend_from_slice(b"\r\n");
        match w {
            Ok("") => {}
            Ok(id) => want.push((line, Ok(id.to_string()))),
            Err(m) => want.push((line, Err(m.clone()))),
        }
        line += 1 + row.iter().filter(|b| **b == b'\n').count() as u64;
    }
    let got: Vec<(u64, Result<Event, String>)> = Reader::new(&text[..])
        .unwrap()
        .map(|r| {
            let (line, e) = r.unwrap();
            (line, e.map_err(|e| e.to_string()))
        })
        .collect();
    let got_cmp: Vec<(u64, Result<String, String>)> = got
        .iter()
        .map(|(l, r)| {
            (
                *l,
                r.as_ref().map(|e| e.event_id.clone()).map_err(Clone::clone),
            )
        })
        .collect();
    assert_eq!(got_cmp, want);
    let events: Vec<Event> = got.into_iter().filter_map(|(_, r)| r.ok()).collect();
    let by_id = |id: &str| events.iter().find(|e| e.event_id == id).unwrap().clone();
    assert_eq!(by_id("c-4").event_name, "Viewed \"RFI\",\ntwice");
    assert_eq!(by_id("c-2").object_id, None);
    // Appended: the one past the retention edge is rejected at its index.
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let r = engine.append(events.clone()).unwrap();
    let at = events.iter().position(|e| e.event_id == "c-5").unwrap();
    assert_eq!(rejections(&r), vec![(at, EXPIRED.to_string())]);
    assert_eq!(
        stored_ids(&engine),
        set(&["c-1", "c-2", "c-3", "c-4", "c-6"])
    );
}

#[test]
fn csv_header_errors_name_the_column() {
    let row = String::from_utf8(csv_row("h-1", &[])).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            format!("{CSV_HEADER},colour\n{row},x\n").into_bytes(),
            r#"line 1: unknown column "colour""#,
        ),
        (
            format!("{CSV_HEADER},user_id\n{row},1\n").into_bytes(),
            r#"line 1: field "user_id": column appears more than once"#,
        ),
        (
            format!("{}\n", CSV_HEADER.replace("event_type,", "")).into_bytes(),
            r#"line 1: the header has no column for required field(s) "event_type""#,
        ),
        (
            format!(
                "{}\n",
                CSV_HEADER
                    .replace("event_id,", "")
                    .replace(",user_name", "")
            )
            .into_bytes(),
            r#"line 1: the header has no column for required field(s) "event_id", "user_name""#,
        ),
        (Vec::new(), "line 1: the header row is missing"),
        (
            [b"event_id,event_t\xffmestamp\n".as_slice()].concat(),
            "line 1: the header row is not valid UTF-8",
        ),
        (
            b"Event_IDs\n".to_vec(),
            r#"line 1: unknown column "Event_IDs""#,
        ),
    ];
    let mut fails = Vec::new();
    for (text, want) in cases {
        match Reader::new(&text[..]) {
            Err(e) if e.to_string() == want => {}
            Err(e) => fails.push(format!("want {want:?}\n got {:?}", e.to_string())),
            Ok(_) => fails.push(format!("want {want:?}\n got a reader")),
        }
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
    // A byte-order mark before the header is not part of the first name.
    let text = format!("\u{feff}{CSV_HEADER}\n{row}\n");
    let parsed: Vec<_> = Reader::new(text.as_bytes())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].1.as_ref().unwrap().event_id, "h-1");
}

#[test]
fn a_ten_megabyte_line_is_one_clear_error() {
    let huge = format!("\"{}\"", "u".repeat(10 << 20));
    let line = with("x", "url", Some(&huge));
    assert!(line.len() > 10 << 20);
    assert_eq!(
        parse_event(&line).unwrap_err().to_string(),
        r#"field "url": is 10485760 bytes, at most 8192 allowed"#
    );
    // Ten megabytes of a valid JSON string in an unknown key: the key is named.
    let line = with("x", "padding", Some(&huge));
    assert_eq!(
        parse_event(&line).unwrap_err().to_string(),
        r#"unknown field "padding""#
    );
}

/// `daybook import` on one file that mixes good and bad lines.
#[cfg(feature = "cli")]
mod cli {
    use super::*;
    use std::path::Path;
    use std::process::{Command, Output, Stdio};

    const BIN: &str = env!("CARGO_BIN_EXE_daybook");

    fn daybook(data: &Path, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--data")
            .arg(data)
            .args(["--now", "2026-11-27T12:00:00Z"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ids_in(data: &Path) -> BTreeSet<String> {
        let c = clock();
        stored_ids(&Engine::open(data, options(&c)).unwrap())
    }

    /// One JSON Lines file mixing good and bad lines. Returns the position
    /// (from 1) of the byte on line 5 that is not UTF-8.
    fn mixed_file(path: &Path) -> usize {
        let mut lines: Vec<Vec<u8>> = vec![
            good("f-1").into_bytes(),
            good("f-2").into_bytes(),
            with("x", "colour", Some(r#""red""#)).into_bytes(),
            good("f-3").into_bytes(),
            good("x").replace("Maria Ortiz", "Mar\u{ff}a").into_bytes(),
            good("f-4").into_bytes(),
            with("x", "url", Some(&format!("\"{}\"", "u".repeat(10 << 20)))).into_bytes(),
            good("f-5").into_bytes(),
            with(
                "x",
                "event_timestamp",
                Some(r#""2026-10-27T23:59:59.999Z""#),
            )
            .into_bytes(),
            with(
                "x",
                "event_timestamp",
                Some(r#""2026-11-28T12:00:00.001Z""#),
            )
            .into_bytes(),
            with("f-1", "user_name", Some(r#""Someone Else""#)).into_bytes(),
            b"   ".to_vec(),
            b"{\"event_id\": ".to_vec(),
            with(
                "f-6",
                "event_timestamp",
                Some(r#""2026-10-28T00:00:00.000Z""#),
            )
            .into_bytes(),
            with(
                "f-7",
                "event_timestamp",
                Some(r#""2026-11-28T12:00:00.000Z""#),
            )
            .into_bytes(),
        ];
        // Line 5: a byte that is not UTF-8 inside a string.
        let l5 = &mut lines[4];
        let at = l5
            .windows(2)
            .position(|w| w == "\u{ff}".as_bytes())
            .unwrap();
        l5.splice(at..at + 2, [0xff]);
        let mut text = lines.join(&b'\n');
        text.push(b'\n');
        std::fs::write(path, text).unwrap();
        at + 1
    }

    #[test]
    fn cli_import_names_the_bad_lines_and_stores_the_good_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mixed.jsonl");
        let bad_byte = mixed_file(&file);
        let name = file.to_str().unwrap();
        let data = dir.path().join("data");
        let out = daybook(&data, &["import", name]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut lines = stdout.lines();
        let first = lines.next().unwrap();
        assert!(first.starts_with("read 15 lines (10.5 MB) in "), "{first}");
        assert!(
            first.contains(" s: stored 7, duplicates 1, rejected 6 ("),
            "{first}"
        );
        let rest: Vec<&str> = lines.collect();
        let want = [
            "  rejected as expired: 1".to_string(),
            "  rejected as future: 1".to_string(),
            "  rejected as invalid: field \"url\": 1".to_string(),
            "  rejected as invalid: not a JSON object: 1".to_string(),
            "  rejected as invalid: not valid UTF-8: 1".to_string(),
            "  rejected as invalid: unknown field: 1".to_string(),
            "  first 6 rejected record(s):".to_string(),
            format!("  {name}:3: unknown field \"colour\""),
            format!("  {name}:5: not valid UTF-8 (at byte {bad_byte})"),
            format!("  {name}:7: field \"url\": is 10485760 bytes, at most 8192 allowed"),
            format!(
                "  {name}:9: field \"event_timestamp\": day 2026-10-27 is older than the retention horizon 2026-10-28"
            ),
            format!(
                "  {name}:10: field \"event_timestamp\": 2026-11-28T12:00:00.001Z is in the future (now is 2026-11-27T12:00:00.000Z)"
            ),
            format!(
                "  {name}:13: not a JSON object: EOF while parsing a value at line 1 column 13"
            ),
        ];
        assert_eq!(rest, want.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(
            ids_in(&data),
            set(&["f-1", "f-2", "f-3", "f-4", "f-5", "f-6", "f-7"])
        );
    }

    #[test]
    fn cli_import_strict_stops_at_the_first_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mixed.jsonl");
        mixed_file(&file);
        let name = file.to_str().unwrap();
        let data = dir.path().join("data");
        let out = daybook(&data, &["import", "--strict", name]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        let rest: Vec<&str> = stdout.lines().skip(1).collect();
        assert_eq!(
            rest,
            vec![
                "  rejected as invalid: unknown field: 1".to_string(),
                "  first 1 rejected record(s):".to_string(),
                format!("  {name}:3: unknown field \"colour\""),
                format!("stopped at the first rejected record ({name}:3, --strict)"),
            ]
        );
        assert!(
            stdout
                .lines()
                .next()
                .unwrap()
                .contains(" s: stored 2, duplicates 0, rejected 1 ("),
            "{stdout}"
        );
        assert_eq!(
            stderr,
            "daybook: import stopped at the first bad record (--strict)\n"
        );
        assert_eq!(ids_in(&data), set(&["f-1", "f-2"]));
    }
}
