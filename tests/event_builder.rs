//! `Event::builder`: an event built in Rust equals the JSON parser's event
//! of the same fields, and every broken rule of the contract
//! (docs/event-format.md) gives the JSON parser's `FieldError`.

use daybook::event::{EventBuilder, FieldError, MAX_ID};
use daybook::json::parse_event;
use daybook::time::parse_rfc3339_ms;
use daybook::{Day, Event, EventType, Field, FieldKind};
use serde_json::{Value as J, json};

/// The example of docs/event-format.md.
const EXAMPLE: &str = r#"{"event_id":"6f1c0c9e-3b2a-4c55-9a57-0b1f7c2d9e11","event_timestamp":"2026-11-26T14:03:22.123Z","event_type":"View","event_name":"Viewed RFI","event_subtype":"Detail","tool_name":"RFIs","company_name":"Granite Ridge Builders","project_name":"Harbor Point Tower","project_number":"2026-014","project_is_demo":false,"object_id":845512,"url":"https://app.example.com/projects/311/rfis/845512","device_type":"iOS","is_api":false,"user_id":70211,"user_email":"m.ortiz@graniteridge.example","user_login_email":"mortiz@sso.graniteridge.example","user_name":"Maria Ortiz","user_job_title":"Superintendent","user_role":"Project Manager","user_type":"Employee","user_default_permission_template":"Standard","user_is_active":true,"user_is_authorized_bidder":false,"user_last_login_date":"2026-11-26"}"#;

const TS: &str = "2026-11-26T14:03:22.123Z";

fn ts() -> i64 {
    parse_rfc3339_ms(TS).unwrap()
}

/// The required fields set through setters (the rest are arguments of
/// `Event::builder`).
const SET_LATER: [Field; 7] = [
    Field::EventName,
    Field::ToolName,
    Field::DeviceType,
    Field::IsApi,
    Field::UserId,
    Field::UserEmail,
    Field::UserName,
];

/// The value of string field `f` in the minimal event.
fn base_str(f: Field) -> &'static str {
    match f {
        Field::EventId => "e-1",
        Field::CompanyName => "Granite Ridge",
        Field::EventName => "Viewed RFI",
        Field::ToolName => "RFIs",
        Field::DeviceType => "iOS",
        Field::UserEmail => "m@x.example",
        Field::UserName => "Maria",
        _ => "optional value",
    }
}

/// The minimal event's JSON object (required fields only).
fn base_json() -> serde_json::Map<String, J> {
    let mut m = serde_json::Map::new();
    for f in [
        Field::EventId,
        Field::CompanyName,
        Field::EventName,
        Field::ToolName,
        Field::DeviceType,
        Field::UserEmail,
        Field::UserName,
    ] {
        m.insert(f.name().into(), json!(base_str(f)));
    }
    m.insert("event_timestamp".into(), json!(TS));
    m.insert("event_type".into(), json!("View"));
    m.insert("is_api".into(), json!(false));
    m.insert("user_id".into(), json!(7));
    m
}

fn parse(m: serde_json::Map<String, J>) -> Result<Event, FieldError> {
    parse_event(&J::Object(m).to_string())
}

/// The minimal event's builder with every required field set except
/// `without`, and string field `field` (required or optional) set to `v`.
fn builder(without: Option<Field>, field: Option<Field>, v: &str) -> EventBuilder {
    let s = |f: Field| if Some(f) == field { v } else { base_str(f) };
    let mut b = Event::builder(
        s(Field::EventId),
        ts(),
        EventType::View,
        s(Field::CompanyName),
    );
    for f in SET_LATER.into_iter().filter(|&f| Some(f) != without) {
        b = match f {
            Field::EventName => b.event_name(s(f)),
            Field::ToolName => b.tool_name(s(f)),
            Field::DeviceType => b.device_type(s(f)),
            Field::IsApi => b.is_api(false),
            Field::UserId => b.user_id(7),
            Field::UserEmail => b.user_email(s(f)),
            _ => b.user_name(s(f)),
        };
    }
    match field {
        Some(Field::EventSubtype) => b.event_subtype(v),
        Some(Field::ProjectName) => b.project_name(v),
        Some(Field::ProjectNumber) => b.project_number(v),
        Some(Field::Url) => b.url(v),
        Some(Field::UserLoginEmail) => b.user_login_email(v),
        Some(Field::UserJobTitle) => b.user_job_title(v),
        Some(Field::UserRole) => b.user_role(v),
        Some(Field::UserType) => b.user_type(v),
        Some(Field::UserDefaultPermissionTemplate) => b.user_default_permission_template(v),
        _ => b,
    }
}

fn minimal() -> EventBuilder {
    builder(None, None, "")
}

#[test]
fn a_built_event_equals_the_parsed_event_of_the_same_fields() {
    let built = Event::builder(
        "6f1c0c9e-3b2a-4c55-9a57-0b1f7c2d9e11",
        ts(),
        EventType::View,
        "Granite Ridge Builders",
    )
    .event_name("Viewed RFI")
    .event_subtype("Detail")
    .tool_name("RFIs")
    .project_name("Harbor Point Tower")
    .project_number("2026-014")
    .project_is_demo(false)
    .object_id(845_512)
    .url("https://app.example.com/projects/311/rfis/845512")
    .device_type("iOS")
    .is_api(false)
    .user_id(70_211)
    .user_email("m.ortiz@graniteridge.example")
    .user_login_email("mortiz@sso.graniteridge.example")
    .user_name("Maria Ortiz")
    .user_job_title("Superintendent")
    .user_role("Project Manager")
    .user_type("Employee")
    .user_default_permission_template("Standard")
    .user_is_active(true)
    .user_is_authorized_bidder(false)
    .user_last_login_date(Day::parse("2026-11-26").unwrap())
    .build()
    .unwrap();
    assert_eq!(built, parse_event(EXAMPLE).unwrap());
}

#[test]
fn a_minimal_built_event_equals_the_parsed_one_with_every_optional_field_null() {
    let built = minimal().build().unwrap();
    assert_eq!(built, parse(base_json()).unwrap());
    assert_eq!(built.project_name, None);
    assert_eq!(built.object_id, None);
    assert_eq!(built.user_last_login_date, None);
}

#[test]
fn a_setter_called_twice_keeps_the_last_value() {
    let e = minimal()
        .user_role("A")
        .user_role("B")
        .user_id(9)
        .build()
        .unwrap();
    assert_eq!((e.user_role.as_deref(), e.user_id), (Some("B"), 9));
}

#[test]
fn each_missing_required_field_is_the_json_parsers_error() {
    for f in SET_LATER {
        let err = builder(Some(f), None, "").build().unwrap_err();
        assert_eq!(
            err,
            FieldError {
                field: Some(f.name().to_string()),
                message: "required field is missing or null".into(),
            }
        );
        let mut m = base_json();
        m.remove(f.name());
        assert_eq!(parse(m).unwrap_err(), err, "{f}");
    }
    // Nothing set: the first in contract order, as JSON reports it.
    let nothing = Event::builder("e-1", ts(), EventType::View, "Granite Ridge");
    let err = nothing.build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "field \"event_name\": required field is missing or null"
    );
    let mut m = base_json();
    for f in SET_LATER {
        m.remove(f.name());
    }
    assert_eq!(parse(m).unwrap_err(), err);
}

#[test]
fn each_empty_or_too_long_string_is_the_json_parsers_error() {
    let strings: Vec<Field> = Field::stored()
        .filter(|f| f.kind() == FieldKind::Str)
        .collect();
    assert_eq!(strings.len(), 16);
    for f in strings {
        let long = "x".repeat(f.max_bytes() + 1);
        for (v, why) in [
            (String::new(), "must not be empty".to_string()),
            (
                long.clone(),
                format!("is {} bytes, at most {} allowed", long.len(), f.max_bytes()),
            ),
        ] {
            let err = builder(None, Some(f), &v).build().unwrap_err();
            assert_eq!(err, FieldError::new(f, why));
            let mut m = base_json();
            m.insert(f.name().into(), json!(v));
            assert_eq!(parse(m).unwrap_err(), err, "{f}");
        }
        // The longest allowed value is accepted by both.
        let max = "x".repeat(f.max_bytes());
        let built = builder(None, Some(f), &max).build().unwrap();
        let mut m = base_json();
        m.insert(f.name().into(), json!(max));
        assert_eq!(parse(m).unwrap(), built, "{f}");
    }
}

#[test]
fn a_date_before_1970_is_the_json_parsers_error() {
    let err = minimal()
        .user_last_login_date(Day::parse("1969-12-31").unwrap())
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        FieldError::new(Field::UserLastLoginDate, "date outside 1970..=9999")
    );
    let mut m = base_json();
    m.insert("user_last_login_date".into(), json!("1969-12-31"));
    assert_eq!(parse(m).unwrap_err(), err);
}

/// A builder, the field it breaks and its message, and the JSON key and
/// value breaking the same rule with the JSON parser's message.
type OutOfRange = (EventBuilder, Field, String, (&'static str, J), String);

/// Values JSON cannot carry in the same form (an integer above 2^63 - 1, a
/// timestamp given as milliseconds) break the same rule on the same field;
/// the message is `Event::validate`'s, as for any event built in Rust
/// (`Engine::append`), since there is no JSON text to quote.
#[test]
fn ids_and_timestamps_out_of_range_name_the_same_field_as_json() {
    let above = |n: u64| format!("{n} is above the maximum {MAX_ID}");
    let range = |n: u64| format!("expected an integer in 0..={MAX_ID}, got {n}");
    let cases: Vec<OutOfRange> = vec![
        (
            minimal().user_id(MAX_ID + 1),
            Field::UserId,
            above(MAX_ID + 1),
            ("user_id", json!(MAX_ID + 1)),
            range(MAX_ID + 1),
        ),
        (
            minimal().object_id(u64::MAX),
            Field::ObjectId,
            above(u64::MAX),
            ("object_id", json!(u64::MAX)),
            range(u64::MAX),
        ),
        (
            Event::builder("e-1", -1, EventType::View, "Granite Ridge")
                .event_name("n")
                .tool_name("t")
                .device_type("d")
                .is_api(true)
                .user_id(1)
                .user_email("e")
                .user_name("u"),
            Field::EventTimestamp,
            "timestamp outside 1970..=9999".to_string(),
            ("event_timestamp", json!("1969-12-31T23:59:59.999Z")),
            "timestamp \"1969-12-31T23:59:59.999Z\" is outside 1970..=9999".to_string(),
        ),
    ];
    for (b, field, why, (key, value), json_why) in cases {
        assert_eq!(b.build().unwrap_err(), FieldError::new(field, why));
        let mut m = base_json();
        m.insert(key.into(), value);
        assert_eq!(parse(m).unwrap_err(), FieldError::new(field, json_why));
    }
    assert_eq!(minimal().user_id(MAX_ID).build().unwrap().user_id, MAX_ID);
}
