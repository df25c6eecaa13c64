//! Bad input: every rule of the event contract (docs/event-format.md) broken
//! once, through the JSON parser (`daybook::json::parse_event`), the CSV
//! reader (`daybook::csv_event::Reader`), `Engine::append` (events built in
//! Rust, which skip the parsers) and `daybook import`. Each bad record gets
//! its exact message and position; the good records around it are stored.

mod common;

use std::collections::BTreeSet;

use common::*;
use daybook::csv_event::Reader;
use daybook::json::parse_event;
use daybook::time::parse_rfc3339_ms;
use daybook::{Day, Engine, Event, RejectReason};
use serde_json::Value as J;

const TYPES: &str = "Allow, Assign, Close, Create/Update, Delete, Download, Execute, Export, \
     Include, Link, Move, Notify, Other, Publish, Reject, Remove, Reset, Sign, Submit, Sync, \
     Upload, Validate, View, Withdraw/Void";
const INT_RANGE: &str = "expected an integer in 0..=9223372036854775807";
const REQUIRED: [&str; 11] = [
    "event_id",
    "event_timestamp",
    "event_type",
    "event_name",
    "tool_name",
    "company_name",
    "device_type",
    "is_api",
    "user_id",
    "user_email",
    "user_name",
];

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

/// What a JSON line must give: an event (with this event id) or this error.
enum Want {
    Ok(&'static str),
    Err(String),
}

fn err(s: impl Into<String>) -> Want {
    Want::Err(s.into())
}

/// One bad line per rule, each under a distinct id so that the good ones
/// can be told apart.
fn json_cases() -> Vec<(String, String, Want)> {
    let mut cases: Vec<(String, String, Want)> = Vec::new();
    let mut add = |label: &str, line: String, want: Want| cases.push((label.into(), line, want));
    add("good", good("g-1"), Want::Ok("g-1"));
    // Field set.
    add(
        "unknown key",
        with("x", "colour", Some(r#""red""#)),
        err(r#"unknown field "colour""#),
    );
    add(
        "count is not a field",
        with("x", "count", Some("3")),
        err(r#"unknown field "count""#),
    );
    add(
        "a key twice",
        good("x").replacen('{', r#"{"user_id":1,"#, 1),
        err(r#"field "user_id": appears more than once"#),
    );
    for f in REQUIRED {
        let msg = format!("field \"{f}\": required field is missing or null");
        add(&format!("{f} missing"), with("x", f, None), err(&msg));
        add(&format!("{f} null"), with("x", f, Some("null")), err(&msg));
    }
    let mut o = base("g-2");
    for (k, v) in o.iter_mut() {
        if !REQUIRED.contains(&k.as_str()) {
            *v = J::Null;
        }
    }
    add(
        "every optional field null",
        J::Object(o).to_string(),
        Want::Ok("g-2"),
    );
    add(
        "optional field missing",
        with("g-3", "url", None),
        Want::Ok("g-3"),
    );
    // Strings.
    for f in ["event_id", "event_name", "tool_name", "user_email"] {
        add(
            &format!("{f} empty"),
            with("x", f, Some(r#""""#)),
            err(format!("field \"{f}\": must not be empty")),
        );
    }
    for f in ["project_name", "url", "user_login_email", "user_job_title"] {
        add(
            &format!("optional {f} empty"),
            with("x", f, Some(r#""""#)),
            err(format!("field \"{f}\": must not be empty")),
        );
    }
    let s = |n: usize, c: &str| format!("\"{}\"", c.repeat(n));
    add(
        "1025 bytes",
        with("x", "user_name", Some(&s(1025, "a"))),
        err(r#"field "user_name": is 1025 bytes, at most 1024 allowed"#),
    );
    add(
        "1024 bytes",
        with("g-4", "user_name", Some(&s(1024, "a"))),
        Want::Ok("g-4"),
    );
    add(
        "513 two-byte characters",
        with("x", "company_name", Some(&s(513, "é"))),
        err(r#"field "company_name": is 1026 bytes, at most 1024 allowed"#),
    );
    add(
        "512 escaped two-byte characters",
        with("g-5", "company_name", Some(&s(512, r"\u00e9"))),
        Want::Ok("g-5"),
    );
    add(
        "url 8193 bytes",
        with("x", "url", Some(&s(8193, "u"))),
        err(r#"field "url": is 8193 bytes, at most 8192 allowed"#),
    );
    add(
        "url 8192 bytes",
        with("g-6", "url", Some(&s(8192, "u"))),
        Want::Ok("g-6"),
    );
    add(
        "event_id 129 bytes",
        with("x", "event_id", Some(&s(129, "i"))),
        err(r#"field "event_id": is 129 bytes, at most 128 allowed"#),
    );
    let id128 = "i".repeat(128).leak();
    add(
        "event_id 128 bytes",
        with(id128, "event_id", Some(&format!("\"{id128}\""))),
        Want::Ok(id128),
    );
    // The bad value first, so that the parser's column is easy to tell.
    let first = |raw: &str| {
        let rest = with("x", "user_name", None);
        format!("{{\"user_name\":{raw},{}", &rest[1..])
    };
    add(
        "unpaired leading surrogate",
        first(r#""\ud800""#),
        err("not a JSON object: unexpected end of hex escape at line 1 column 21"),
    );
    add(
        "leading surrogate and a letter",
        first(r#""a\ud800b""#),
        err("not a JSON object: unexpected end of hex escape at line 1 column 22"),
    );
    add(
        "lone trailing surrogate",
        first(r#""\udc00""#),
        err("not a JSON object: lone leading surrogate in hex escape at line 1 column 20"),
    );
    add(
        "surrogate pair",
        first(r#""\ud83d\ude00""#).replace(r#""event_id":"x""#, r#""event_id":"g-7""#),
        Want::Ok("g-7"),
    );
    // Types.
    add(
        "quoted integer",
        with("x", "user_id", Some(r#""70211""#)),
        err(format!("field \"user_id\": {INT_RANGE}, got \"70211\"")),
    );
    add(
        "negative integer",
        with("x", "user_id", Some("-4")),
        err(format!("field \"user_id\": {INT_RANGE}, got -4")),
    );
    add(
        "2^63",
        with("x", "user_id", Some("9223372036854775808")),
        err(format!(
            "field \"user_id\": {INT_RANGE}, got 9223372036854775808"
        )),
    );
    add(
        "u64::MAX",
        with("x", "object_id", Some("18446744073709551615")),
        err(format!(
            "field \"object_id\": {INT_RANGE}, got 18446744073709551615"
        )),
    );
    add(
        "fraction",
        with("x", "object_id", Some("1.5")),
        err(format!("field \"object_id\": {INT_RANGE}, got 1.5")),
    );
    add(
        "2^63-1",
        with("g-8", "user_id", Some("9223372036854775807")),
        Want::Ok("g-8"),
    );
    add("zero", with("g-9", "object_id", Some("0")), Want::Ok("g-9"));
    add(
        "number for a string",
        with("x", "event_name", Some("5")),
        err(r#"field "event_name": expected a string, got 5"#),
    );
    add(
        "boolean for a string",
        with("x", "tool_name", Some("true")),
        err(r#"field "tool_name": expected a string, got true"#),
    );
    add(
        "array for a string",
        with("x", "company_name", Some(r#"["a"]"#)),
        err(r#"field "company_name": expected a string, got an array"#),
    );
    add(
        "object for a string",
        with("x", "device_type", Some(r#"{"a":1}"#)),
        err(r#"field "device_type": expected a string, got an object"#),
    );
    add(
        "quoted boolean",
        with("x", "is_api", Some(r#""true""#)),
        err(r#"field "is_api": expected true or false, got "true""#),
    );
    add(
        "0 for a boolean",
        with("x", "is_api", Some("0")),
        err(r#"field "is_api": expected true or false, got 0"#),
    );
    add(
        "1 for an optional boolean",
        with("x", "user_is_active", Some("1")),
        err(r#"field "user_is_active": expected true or false, got 1"#),
    );
    add(
        "False",
        format!("{{\"is_api\":False,{}", &with("x", "is_api", None)[1..]),
        err("not a JSON object: expected value at line 1 column 11"),
    );
    // Event types.
    for t in [
        "Viewed",
        "view",
        "VIEW",
        "Create-Update",
        "Withdraw / Void",
        "",
    ] {
        add(
            &format!("event type {t:?}"),
            with("x", "event_type", Some(&format!("\"{t}\""))),
            err(format!(
                "field \"event_type\": unknown event type \"{t}\" (expected one of {TYPES})"
            )),
        );
    }
    add(
        "event type Create/Update",
        with("g-10", "event_type", Some(r#""Create/Update""#)),
        Want::Ok("g-10"),
    );
    // Timestamps.
    let ts_err = |text: &str, why: &str| {
        err(format!(
            "field \"event_timestamp\": not an RFC 3339 timestamp with offset ({why}): \"{text}\""
        ))
    };
    for (text, why) in [
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
        add(
            &format!("timestamp {text:?}"),
            with("x", "event_timestamp", Some(&format!("\"{text}\""))),
            ts_err(text, why),
        );
    }
    add(
        "timestamp before 1970",
        with(
            "x",
            "event_timestamp",
            Some(r#""1969-12-31T23:59:59.999Z""#),
        ),
        err(
            r#"field "event_timestamp": timestamp "1969-12-31T23:59:59.999Z" is outside 1970..=9999"#,
        ),
    );
    add(
        "timestamp as a number",
        with("x", "event_timestamp", Some("1795701802123")),
        err(r#"field "event_timestamp": expected a string, got 1795701802123"#),
    );
    add(
        "sub-millisecond digits and an offset",
        with(
            "g-11",
            "event_timestamp",
            Some(r#""2026-11-26T15:03:22.123999+01:00""#),
        ),
        Want::Ok("g-11"),
    );
    // Dates.
    add(
        "event_date disagrees",
        with("x", "event_date", Some(r#""2026-11-25""#)),
        err(
            "field \"event_date\": 2026-11-25 disagrees with event_timestamp 2026-11-26T14:03:22.123Z (UTC date 2026-11-26)",
        ),
    );
    let mut o = base("x");
    o.insert("event_timestamp".into(), "2026-11-25T23:10:00-01:00".into());
    o.insert("event_date".into(), "2026-11-25".into());
    add(
        "event_date is the local date, not the UTC one",
        J::Object(o.clone()).to_string(),
        err(
            "field \"event_date\": 2026-11-25 disagrees with event_timestamp 2026-11-25T23:10:00-01:00 (UTC date 2026-11-26)",
        ),
    );
    o.insert("event_id".into(), "g-12".into());
    o.insert("event_date".into(), "2026-11-26".into());
    add(
        "event_date is the UTC date",
        J::Object(o).to_string(),
        Want::Ok("g-12"),
    );
    for (f, text) in [
        ("event_date", "2026-11-26T00:00:00Z"),
        ("event_date", "2026-2-5"),
        ("user_last_login_date", "2026-02-30"),
        ("user_last_login_date", "26/11/2026"),
    ] {
        add(
            &format!("{f} {text:?}"),
            with("x", f, Some(&format!("\"{text}\""))),
            err(format!(
                "field \"{f}\": expected a date YYYY-MM-DD, got \"{text}\""
            )),
        );
    }
    add(
        "last login before 1970",
        with("x", "user_last_login_date", Some(r#""1969-12-31""#)),
        err(r#"field "user_last_login_date": date outside 1970..=9999"#),
    );
    // Not an object at all.
    for (line, why) in [
        (
            "[1,2]",
            "invalid type: sequence, expected a JSON object (one event) at line 1 column 0",
        ),
        (
            "null",
            "invalid type: null, expected a JSON object (one event) at line 1 column 4",
        ),
        (
            "\"text\"",
            "invalid type: string \"text\", expected a JSON object (one event) at line 1 column 6",
        ),
        (
            "{\"event_id\":",
            "EOF while parsing a value at line 1 column 12",
        ),
        ("", "EOF while parsing a value at line 1 column 0"),
    ] {
        add(
            &format!("not an object {line:?}"),
            line.into(),
            err(format!("not a JSON object: {why}")),
        );
    }
    let trailing = format!("{} x", good("x"));
    add(
        "trailing characters",
        trailing.clone(),
        err(format!(
            "not a JSON object: trailing characters at line 1 column {}",
            trailing.len()
        )),
    );
    add(
        "empty object",
        "{}".into(),
        err(r#"field "event_timestamp": required field is missing or null"#),
    );
    cases
}

fn parse_all(cases: &[(String, String, Want)]) -> Vec<Event> {
    let mut fails = Vec::new();
    let mut events = Vec::new();
    for (label, line, want) in cases {
        match (parse_event(line), want) {
            (Ok(e), Want::Ok(id)) if e.event_id == *id => events.push(e),
            (Err(e), Want::Err(msg)) if e.to_string() == *msg => {}
            (got, Want::Ok(id)) => fails.push(format!("{label}: want event {id}, got {got:?}")),
            (got, Want::Err(msg)) => fails.push(format!(
                "{label}:\n   want Err({msg:?})\n    got {:?}",
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
    events
}

#[test]
fn json_every_rule_broken_once_has_its_exact_message() {
    let cases = json_cases();
    let events = parse_all(&cases);
    let want_ids: BTreeSet<&str> = cases
        .iter()
        .filter_map(|(_, _, w)| match w {
            Want::Ok(id) => Some(*id),
            Want::Err(_) => None,
        })
        .collect();
    assert_eq!(events.len(), want_ids.len());
    // The values the rules promise.
    let by_id = |id: &str| events.iter().find(|e| e.event_id == id).unwrap();
    assert_eq!(by_id("g-11").event_timestamp_ms, 1_795_701_802_123);
    assert_eq!(by_id("g-8").user_id, 9_223_372_036_854_775_807);
    assert_eq!(by_id("g-7").user_name, "\u{1f600}");
    assert_eq!(by_id("g-5").company_name, "é".repeat(512));
    assert_eq!(by_id("g-12").day(), Day::parse("2026-11-26").unwrap());
    assert_eq!(by_id("g-2").project_name, None);
    // The good records of the file are stored, every one.
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let r = engine.append(events).unwrap();
    assert_eq!(
        (r.stored, r.duplicates, r.rejected.len()),
        (want_ids.len(), 0, 0)
    );
    let stored: BTreeSet<String> = contents(&engine)
        .into_values()
        .flatten()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(stored, want_ids.iter().map(|s| s.to_string()).collect());
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
    let ok = |id: &str, at: &str| event(id, ts(at), 1);
    let bad = |f: &dyn Fn(&mut Event), why: &str| {
        let mut e = ok("bad", "2026-11-26T10:00:00Z");
        f(&mut e);
        (e, Some(why.to_string()))
    };
    let cases = vec![
        (ok("ok-1", "2026-11-26T10:00:00Z"), None),
        bad(&|e| e.event_id.clear(), r#"field "event_id": must not be empty"#),
        bad(&|e| e.event_name.clear(), r#"field "event_name": must not be empty"#),
        bad(&|e| e.user_role = Some(String::new()), r#"field "user_role": must not be empty"#),
        bad(&|e| e.user_name = "n".repeat(1025), r#"field "user_name": is 1025 bytes, at most 1024 allowed"#),
        bad(&|e| e.url = Some("u".repeat(8193)), r#"field "url": is 8193 bytes, at most 8192 allowed"#),
        bad(&|e| e.event_id = "i".repeat(129), r#"field "event_id": is 129 bytes, at most 128 allowed"#),
        bad(
            &|e| e.user_id = 1 << 63,
            r#"field "user_id": 9223372036854775808 is above the maximum 9223372036854775807"#,
        ),
        bad(
            &|e| e.object_id = Some(u64::MAX),
            r#"field "object_id": 18446744073709551615 is above the maximum 9223372036854775807"#,
        ),
        bad(&|e| e.event_timestamp_ms = -1, r#"field "event_timestamp": timestamp outside 1970..=9999"#),
        bad(&|e| e.event_timestamp_ms = i64::MAX, r#"field "event_timestamp": timestamp outside 1970..=9999"#),
        bad(
            &|e| e.user_last_login_date = Some(Day(-1)),
            r#"field "user_last_login_date": date outside 1970..=9999"#,
        ),
        (ok("ok-2", "2026-11-27T11:00:00Z"), None),
        // The 31-day retention edge: now is 2026-11-27T12:00:00Z, so the
        // oldest day kept is 2026-10-28.
        (ok("edge-in", "2026-10-28T00:00:00.000Z"), None),
        (
            ok("edge-out", "2026-10-27T23:59:59.999Z"),
            Some(r#"field "event_timestamp": day 2026-10-27 is older than the retention horizon 2026-10-28"#.into()),
        ),
        (
            ok("edge-out-offset", "2026-10-28T00:59:59.999+01:00"),
            Some(r#"field "event_timestamp": day 2026-10-27 is older than the retention horizon 2026-10-28"#.into()),
        ),
        (ok("edge-in-offset", "2026-10-27T23:00:00.000-01:00"), None),
        // Day boundaries.
        (ok("last-ms", "2026-11-26T23:59:59.999Z"), None),
        (ok("first-ms", "2026-11-27T00:00:00.000Z"), None),
        // The future guard: now + 24 h is accepted, a millisecond more is not.
        (ok("future-edge", "2026-11-28T12:00:00.000Z"), None),
        (
            ok("future-out", "2026-11-28T12:00:00.001Z"),
            Some(r#"field "event_timestamp": 2026-11-28T12:00:00.001Z is in the future (now is 2026-11-27T12:00:00.000Z)"#.into()),
        ),
        (
            ok("far-future", "9999-12-31T23:59:59.999Z"),
            Some(r#"field "event_timestamp": 9999-12-31T23:59:59.999Z is in the future (now is 2026-11-27T12:00:00.000Z)"#.into()),
        ),
        // A rejected event does not claim its id: the valid copy after it is stored.
        (
            {
                let mut e = ok("ok-3", "2026-11-26T10:00:00Z");
                e.tool_name.clear();
                e
            },
            Some(r#"field "tool_name": must not be empty"#.into()),
        ),
        (ok("ok-3", "2026-11-26T10:00:00Z"), None),
        (ok("ok-1", "2026-11-20T10:00:00Z"), Some("duplicate".into())),
    ];
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let (events, wants): (Vec<Event>, Vec<Option<String>>) = cases.into_iter().unzip();
    let r = engine.append(events.clone()).unwrap();
    let got: Vec<(usize, String)> = r
        .rejected
        .iter()
        .map(|x| (x.index, x.reason.to_string()))
        .collect();
    let want: Vec<(usize, String)> = wants
        .iter()
        .enumerate()
        .filter_map(|(i, w)| w.clone().filter(|w| w != "duplicate").map(|w| (i, w)))
        .collect();
    assert_eq!(got, want);
    let kinds: Vec<&str> = r.rejected.iter().map(|x| x.reason.kind()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "expired").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "future").count(), 2);
    assert!(matches!(
        r.rejected.last().unwrap().reason,
        RejectReason::Invalid(_)
    ));
    let want_ids = [
        "ok-1",
        "ok-2",
        "edge-in",
        "edge-in-offset",
        "last-ms",
        "first-ms",
        "future-edge",
        "ok-3",
    ];
    assert_eq!((r.stored, r.duplicates), (want_ids.len(), 1));
    let stored = contents(&engine);
    let ids: BTreeSet<&str> = stored
        .values()
        .flatten()
        .map(|e| e.event_id.as_str())
        .collect();
    assert_eq!(ids, want_ids.into_iter().collect());
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
        .group_by(&["event_date"]);
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
    let cells: Vec<(&str, &[u8])> = vec![
        ("event_id", id.as_bytes()),
        ("event_timestamp", b"2026-11-26T14:03:22.123Z"),
        ("event_date", b""),
        ("event_type", b"View"),
        ("event_name", b"Viewed RFI"),
        ("tool_name", b"RFIs"),
        ("company_name", b"Granite Ridge Builders"),
        ("project_name", b"Harbor Point Tower"),
        ("object_id", b"845512"),
        ("url", b"https://app.example.com/rfis/845512"),
        ("device_type", b"iOS"),
        ("is_api", b"false"),
        ("user_id", b"70211"),
        ("user_email", b"m.ortiz@graniteridge.example"),
        ("user_name", b"Maria Ortiz"),
        ("user_is_active", b"true"),
        ("user_last_login_date", b"2026-11-26"),
    ];
    let mut out = Vec::new();
    for (i, (name, cell)) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let cell = edits
            .iter()
            .find(|(n, _)| n == name)
            .map_or(*cell, |(_, c)| *c);
        out.extend_from_slice(cell);
    }
    out
}

#[test]
fn csv_every_rule_broken_once_has_its_exact_line_and_message() {
    let long = "n".repeat(1025);
    // (row bytes, expected: Ok(id) or Err(message)); lines counted below.
    let rows: Vec<(Vec<u8>, Result<&str, String>)> = vec![
        (csv_row("c-1", &[]), Ok("c-1")),
        (csv_row("x", &[("is_api", b"yes")]), Err(r#"field "is_api": expected true or false, got "yes""#.into())),
        (csv_row("x", &[("is_api", b"TRUE")]), Err(r#"field "is_api": expected true or false, got "TRUE""#.into())),
        (csv_row("x", &[("user_is_active", b"1")]), Err(r#"field "user_is_active": expected true or false, got "1""#.into())),
        (csv_row("x", &[("is_api", b"")]), Err(r#"field "is_api": required field is missing or empty"#.into())),
        (csv_row("x", &[("user_email", b"")]), Err(r#"field "user_email": required field is missing or empty"#.into())),
        (csv_row("c-2", &[("project_name", b""), ("object_id", b""), ("url", b"")]), Ok("c-2")),
        (csv_row("x", &[("user_id", b"-4")]), Err(format!("field \"user_id\": {INT_RANGE}, got \"-4\""))),
        (csv_row("x", &[("user_id", b"845512.0")]), Err(format!("field \"user_id\": {INT_RANGE}, got \"845512.0\""))),
        (csv_row("x", &[("user_id", b"+5")]), Err(format!("field \"user_id\": {INT_RANGE}, got \"+5\""))),
        (csv_row("x", &[("user_id", b" 5")]), Err(format!("field \"user_id\": {INT_RANGE}, got \" 5\""))),
        (csv_row("x", &[("object_id", b"9223372036854775808")]), Err(format!("field \"object_id\": {INT_RANGE}, got \"9223372036854775808\""))),
        (csv_row("c-3", &[("object_id", b"9223372036854775807")]), Ok("c-3")),
        (csv_row("x", &[("event_type", b"view")]), Err(format!("field \"event_type\": unknown event type \"view\" (expected one of {TYPES})"))),
        (
            csv_row("x", &[("event_timestamp", b"2026-11-26T14:03:22")]),
            Err(r#"field "event_timestamp": not an RFC 3339 timestamp with offset (premature end of input): "2026-11-26T14:03:22""#.into()),
        ),
        (
            csv_row("x", &[("event_date", b"2026-11-25")]),
            Err("field \"event_date\": 2026-11-25 disagrees with event_timestamp 2026-11-26T14:03:22.123Z (UTC date 2026-11-26)".into()),
        ),
        (csv_row("x", &[("user_last_login_date", b"2026-02-30")]), Err(r#"field "user_last_login_date": expected a date YYYY-MM-DD, got "2026-02-30""#.into())),
        (csv_row("x", &[("user_name", b"Mar\xffa")]), Err(r#"field "user_name": is not valid UTF-8"#.into())),
        (csv_row("x", &[("user_name", long.as_bytes())]), Err(r#"field "user_name": is 1025 bytes, at most 1024 allowed"#.into())),
        (b"x,2026-11-26T14:03:22Z,View".to_vec(), Err("wrong number of cells (3; the header has 17)".into())),
        ([csv_row("x", &[]), b",extra".to_vec()].concat(), Err("wrong number of cells (18; the header has 17)".into())),
        // A quoted cell over two lines: the next record's line moves on.
        (csv_row("c-4", &[("event_name", b"\"Viewed \"\"RFI\"\",\ntwice\"")]), Ok("c-4")),
        (b"".to_vec(), Ok("")),
        (csv_row("x", &[("tool_name", b"")]), Err(r#"field "tool_name": required field is missing or empty"#.into())),
        (csv_row("c-5", &[("event_timestamp", b"2026-10-27T23:59:59.999Z")]), Ok("c-5")),
        (csv_row("c-6", &[]), Ok("c-6")),
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
    let got: Vec<(usize, String)> = r
        .rejected
        .iter()
        .map(|x| (x.index, x.reason.to_string()))
        .collect();
    assert_eq!(
        got,
        vec![(at, r#"field "event_timestamp": day 2026-10-27 is older than the retention horizon 2026-10-28"#.to_string())]
    );
    let ids: BTreeSet<String> = contents(&engine)
        .into_values()
        .flatten()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(
        ids,
        ["c-1", "c-2", "c-3", "c-4", "c-6"]
            .iter()
            .map(|s| s.to_string())
            .collect()
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
            b"Event_ID\n".to_vec(),
            r#"line 1: unknown column "Event_ID""#,
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

    fn stored_ids(data: &Path) -> BTreeSet<String> {
        let c = clock();
        let engine = Engine::open(data, options(&c)).unwrap();
        contents(&engine)
            .into_values()
            .flatten()
            .map(|e| e.event_id)
            .collect()
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
            stored_ids(&data),
            ["f-1", "f-2", "f-3", "f-4", "f-5", "f-6", "f-7"]
                .iter()
                .map(|s| s.to_string())
                .collect()
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
        assert_eq!(
            stored_ids(&data),
            ["f-1", "f-2"].iter().map(|s| s.to_string()).collect()
        );
    }
}
