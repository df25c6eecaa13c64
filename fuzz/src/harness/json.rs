//! `json_event`: bytes as one JSON Lines record through
//! `daybook::json::parse_event`. It must not panic. An error names a real
//! field (or none). An event it accepts must be valid and come back equal
//! through every way daybook writes events: its JSON line, the full JSON
//! object (nulls and the derived `event_date` included), the binary record
//! of the log and block columns, and a CSV row under `header_line`.

use daybook::Field;
use daybook::codec::{Reader, decode_event, encode_event};
use daybook::csv_event::{self, header_line};
use daybook::json::{event_to_json, event_to_json_line, parse_event};

use super::csv::round_trip_csv;

pub fn json_event(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match parse_event(&text) {
        Ok(e) => round_trip(&e),
        Err(err) => {
            if let Some(f) = &err.field {
                assert!(Field::parse(f).is_some(), "error names no field: {err}");
            }
            let _ = err.to_string();
        }
    }
}

/// An accepted event survives every encoding daybook has.
pub fn round_trip(e: &daybook::Event) {
    e.validate().expect("a parsed event is valid");
    let line = event_to_json_line(e);
    assert!(!line.contains('\n'), "a JSON line holds a line feed");
    assert_eq!(
        parse_event(&line).as_ref(),
        Ok(e),
        "JSON line round trip: {line}"
    );
    let full = event_to_json(e).to_string();
    assert_eq!(
        parse_event(&full).as_ref(),
        Ok(e),
        "full JSON round trip: {full}"
    );
    let mut rec = Vec::new();
    encode_event(&mut rec, e);
    let mut r = Reader::new(&rec);
    assert_eq!(
        decode_event(&mut r).as_ref(),
        Ok(e),
        "binary record round trip"
    );
    assert_eq!(r.remaining(), 0, "binary record left bytes over");
    round_trip_csv(e);
    let _ = (header_line(), csv_event::event_to_csv_line(e));
}
