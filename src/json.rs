//! JSON in and out: the contract's rules for one event object.
//!
//! Parsing goes through a small borrowed value type so that every error can
//! name the field and say what is wrong, rather than quoting a serde message.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::event::{Event, EventType, Field, FieldError, FieldKind, MAX_ID};
use crate::time::{Day, format_ms, parse_rfc3339_ms};

/// One JSON value, borrowed where possible.
enum Scalar<'a> {
    Null,
    Bool(bool),
    UInt(u64),
    NegInt(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl Scalar<'_> {
    fn describe(&self) -> String {
        match self {
            Scalar::Null => "null".into(),
            Scalar::Bool(b) => format!("{b}"),
            Scalar::UInt(n) => format!("{n}"),
            Scalar::NegInt(n) => format!("{n}"),
            Scalar::Float(x) => format!("{x}"),
            Scalar::Str(s) => {
                let mut shown: String = s.chars().take(40).collect();
                if shown.len() < s.len() {
                    shown.push('…');
                }
                format!("{shown:?}")
            }
            Scalar::Array => "an array".into(),
            Scalar::Object => "an object".into(),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::UInt(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(if v >= 0 {
                    Scalar::UInt(v as u64)
                } else {
                    Scalar::NegInt(v)
                })
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Object)
            }
        }
        d.deserialize_any(V)
    }
}

/// What to do with a key (JSON) or column (CSV) that is not a field of the
/// contract.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownFields {
    /// Reject the record (JSON) or the file (a CSV header), naming it: the
    /// contract's rule, and the default.
    #[default]
    Reject,
    /// Drop it and parse the rest; the parser reports the names it dropped.
    Ignore,
}

/// How records are parsed. The default is the contract's strict rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// What a field the contract does not name does to a record.
    pub unknown_fields: UnknownFields,
}

/// The raw fields of one object, in contract order (`Field as usize`).
struct RawObject<'a> {
    values: Vec<Option<Scalar<'a>>>,
    /// The first problem with the object's shape (unknown or repeated key).
    shape_error: Option<FieldError>,
    /// The first repeated key (the shape problem when unknown keys are
    /// ignored).
    repeated: Option<FieldError>,
    /// The unknown keys, each once, in order.
    unknown: Vec<Cow<'a, str>>,
}

impl<'de> Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object (one event)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = RawObject {
                    values: (0..Field::ALL.len()).map(|_| None).collect(),
                    shape_error: None,
                    repeated: None,
                    unknown: Vec::new(),
                };
                while let Some(key) = a.next_key::<Cow<'de, str>>()? {
                    let Some(field) = Field::parse(&key) else {
                        // Skipped without building it: it may be huge.
                        a.next_value::<IgnoredAny>()?;
                        out.shape_error.get_or_insert_with(|| FieldError {
                            field: None,
                            message: format!("unknown field \"{key}\""),
                        });
                        if !out.unknown.contains(&key) {
                            out.unknown.push(key);
                        }
                        continue;
                    };
                    let value: Scalar<'de> = a.next_value()?;
                    let slot = &mut out.values[field as usize];
                    if slot.is_some() {
                        let e = FieldError::new(field, "appears more than once");
                        out.shape_error.get_or_insert_with(|| e.clone());
                        out.repeated.get_or_insert(e);
                    } else {
                        *slot = Some(value);
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

fn expected(field: Field, what: &str, got: &Scalar<'_>) -> FieldError {
    FieldError::new(field, format!("expected {what}, got {}", got.describe()))
}

fn take_str(field: Field, v: Option<Scalar<'_>>) -> Result<Option<String>, FieldError> {
    match v {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Str(s)) => Ok(Some(s.into_owned())),
        Some(other) => Err(expected(field, "a string", &other)),
    }
}

fn take_bool(field: Field, v: Option<Scalar<'_>>) -> Result<Option<bool>, FieldError> {
    match v {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Bool(b)) => Ok(Some(b)),
        Some(other) => Err(expected(field, "true or false", &other)),
    }
}

fn take_int(field: Field, v: Option<Scalar<'_>>) -> Result<Option<u64>, FieldError> {
    match v {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::UInt(n)) if n <= MAX_ID => Ok(Some(n)),
        Some(other) => Err(expected(
            field,
            &format!("an integer in 0..={MAX_ID}"),
            &other,
        )),
    }
}

fn take_day(field: Field, v: Option<Scalar<'_>>) -> Result<Option<Day>, FieldError> {
    match take_str(field, v)? {
        None => Ok(None),
        Some(s) => Day::parse(&s).map(Some).ok_or_else(|| {
            FieldError::new(field, format!("expected a date YYYY-MM-DD, got {s:?}"))
        }),
    }
}

fn required<T>(field: Field, v: Option<T>) -> Result<T, FieldError> {
    v.ok_or_else(|| FieldError::missing(field))
}

/// Parses one JSON object into a validated event, by the contract's strict
/// rules (an unknown key rejects the record).
pub fn parse_event(text: &str) -> Result<Event, FieldError> {
    parse_event_with(text, &ParseOptions::default(), &mut Vec::new())
}

/// Parses one JSON object into a validated event under `opts`. With
/// [`UnknownFields::Ignore`], unknown keys are skipped and their names
/// appended to `ignored` (each once per object), whether or not the record
/// is valid otherwise.
///
/// ```
/// use daybook::json::{parse_event_with, ParseOptions, UnknownFields};
/// let text = r#"{"event_id":"e-1","event_timestamp":"2026-11-26T14:03:22Z","event_type":"View",
///     "event_name":"Viewed RFI","tool_name":"RFIs","company_name":"Granite Ridge",
///     "device_type":"iOS","is_api":false,"user_id":7,"user_email":"m@x.example",
///     "user_name":"Maria","colour":"red"}"#;
/// let strict = parse_event_with(text, &ParseOptions::default(), &mut Vec::new());
/// assert_eq!(strict.unwrap_err().to_string(), "unknown field \"colour\"");
/// let opts = ParseOptions { unknown_fields: UnknownFields::Ignore };
/// let mut ignored = Vec::new();
/// let event = parse_event_with(text, &opts, &mut ignored).unwrap();
/// assert_eq!((event.event_id.as_str(), ignored), ("e-1", vec!["colour".to_string()]));
/// ```
pub fn parse_event_with(
    text: &str,
    opts: &ParseOptions,
    ignored: &mut Vec<String>,
) -> Result<Event, FieldError> {
    let raw: RawObject<'_> = serde_json::from_str(text).map_err(|e| FieldError {
        field: None,
        message: format!("not a JSON object: {e}"),
    })?;
    let shape_error = match opts.unknown_fields {
        UnknownFields::Reject => raw.shape_error,
        UnknownFields::Ignore => {
            ignored.extend(raw.unknown.iter().map(|k| k.to_string()));
            raw.repeated
        }
    };
    if let Some(e) = shape_error {
        return Err(e);
    }
    from_raw(raw.values)
}

fn from_raw(mut v: Vec<Option<Scalar<'_>>>) -> Result<Event, FieldError> {
    let mut take = |f: Field| v.get_mut(f as usize).and_then(Option::take);
    use Field as F;
    let ts_text = required(
        F::EventTimestamp,
        take_str(F::EventTimestamp, take(F::EventTimestamp))?,
    )?;
    let event_timestamp_ms =
        parse_rfc3339_ms(&ts_text).map_err(|m| FieldError::new(F::EventTimestamp, m))?;
    if let Some(date) = take_day(F::EventDate, take(F::EventDate))? {
        let actual = Day::of_ms(event_timestamp_ms);
        if date != actual {
            return Err(FieldError::new(
                F::EventDate,
                format!("{date} disagrees with event_timestamp {ts_text} (UTC date {actual})"),
            ));
        }
    }
    let type_text = required(F::EventType, take_str(F::EventType, take(F::EventType))?)?;
    let event_type = EventType::parse(&type_text)
        .ok_or_else(|| FieldError::new(F::EventType, EventType::unknown_message(&type_text)))?;
    let event = Event {
        event_id: required(F::EventId, take_str(F::EventId, take(F::EventId))?)?,
        event_timestamp_ms,
        event_type,
        event_name: required(F::EventName, take_str(F::EventName, take(F::EventName))?)?,
        event_subtype: take_str(F::EventSubtype, take(F::EventSubtype))?,
        tool_name: required(F::ToolName, take_str(F::ToolName, take(F::ToolName))?)?,
        company_name: required(
            F::CompanyName,
            take_str(F::CompanyName, take(F::CompanyName))?,
        )?,
        project_name: take_str(F::ProjectName, take(F::ProjectName))?,
        project_number: take_str(F::ProjectNumber, take(F::ProjectNumber))?,
        project_is_demo: take_bool(F::ProjectIsDemo, take(F::ProjectIsDemo))?,
        object_id: take_int(F::ObjectId, take(F::ObjectId))?,
        url: take_str(F::Url, take(F::Url))?,
        device_type: required(F::DeviceType, take_str(F::DeviceType, take(F::DeviceType))?)?,
        is_api: required(F::IsApi, take_bool(F::IsApi, take(F::IsApi))?)?,
        user_id: required(F::UserId, take_int(F::UserId, take(F::UserId))?)?,
        user_email: required(F::UserEmail, take_str(F::UserEmail, take(F::UserEmail))?)?,
        user_login_email: take_str(F::UserLoginEmail, take(F::UserLoginEmail))?,
        user_name: required(F::UserName, take_str(F::UserName, take(F::UserName))?)?,
        user_job_title: take_str(F::UserJobTitle, take(F::UserJobTitle))?,
        user_role: take_str(F::UserRole, take(F::UserRole))?,
        user_type: take_str(F::UserType, take(F::UserType))?,
        user_default_permission_template: take_str(
            F::UserDefaultPermissionTemplate,
            take(F::UserDefaultPermissionTemplate),
        )?,
        user_is_active: take_bool(F::UserIsActive, take(F::UserIsActive))?,
        user_is_authorized_bidder: take_bool(
            F::UserIsAuthorizedBidder,
            take(F::UserIsAuthorizedBidder),
        )?,
        user_last_login_date: take_day(F::UserLastLoginDate, take(F::UserLastLoginDate))?,
    };
    event.validate()?;
    Ok(event)
}

/// One field value as JSON, as the contract writes it.
pub fn value_to_json(field: Field, event: &Event) -> serde_json::Value {
    use crate::event::Value as V;
    use serde_json::Value as J;
    match event.get(field) {
        V::Null => J::Null,
        V::Bool(b) => J::Bool(b),
        V::Int(n) => J::from(n),
        V::Timestamp(ms) => J::String(format_ms(ms)),
        V::Date(d) => J::String(d.to_string()),
        V::EventType(t) => J::String(t.as_str().to_string()),
        V::Str(s) => J::String(s.to_string()),
    }
}

/// The event as a JSON object with every field (missing optional fields as
/// `null`, plus the derived `event_date`), in contract order.
pub fn event_to_json(event: &Event) -> serde_json::Value {
    let mut map = serde_json::Map::with_capacity(Field::ALL.len());
    for field in Field::ALL {
        map.insert(field.name().to_string(), value_to_json(field, event));
    }
    serde_json::Value::Object(map)
}

/// The event as one line of JSON, omitting missing optional fields.
pub fn event_to_json_line(event: &Event) -> String {
    let mut map = serde_json::Map::with_capacity(Field::ALL.len());
    for field in Field::ALL {
        let v = value_to_json(field, event);
        if !v.is_null() {
            map.insert(field.name().to_string(), v);
        }
    }
    serde_json::Value::Object(map).to_string()
}

/// The kind a field's JSON value has, for messages.
pub fn kind_name(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Str => "a string",
        FieldKind::Int => "an integer",
        FieldKind::Bool => "true or false",
        FieldKind::Timestamp => "an RFC 3339 timestamp",
        FieldKind::Date => "a date YYYY-MM-DD",
        FieldKind::EventType => "an event type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"event_id":"6f1c0c9e-3b2a-4c55-9a57-0b1f7c2d9e11","event_timestamp":"2026-11-26T14:03:22.123Z","event_type":"View","event_name":"Viewed RFI","event_subtype":"Detail","tool_name":"RFIs","company_name":"Granite Ridge Builders","project_name":"Harbor Point Tower","project_number":"2026-014","project_is_demo":false,"object_id":845512,"url":"https://app.example.com/projects/311/rfis/845512","device_type":"iOS","is_api":false,"user_id":70211,"user_email":"m.ortiz@graniteridge.example","user_login_email":"mortiz@sso.graniteridge.example","user_name":"Maria Ortiz","user_job_title":"Superintendent","user_role":"Project Manager","user_type":"Employee","user_default_permission_template":"Standard","user_is_active":true,"user_is_authorized_bidder":false,"user_last_login_date":"2026-11-26"}"#;

    fn with(key: &str, raw: &str) -> String {
        let mut v: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
        let obj = v.as_object_mut().unwrap();
        if raw.is_empty() {
            obj.remove(key);
        } else {
            obj.insert(key.into(), serde_json::from_str(raw).unwrap());
        }
        v.to_string()
    }

    fn err(text: &str) -> String {
        parse_event(text).unwrap_err().to_string()
    }

    #[test]
    fn example_parses_and_round_trips() {
        let e = parse_event(EXAMPLE).unwrap();
        assert_eq!(e.event_type, EventType::View);
        assert_eq!(e.object_id, Some(845512));
        assert_eq!(e.user_last_login_date, Day::parse("2026-11-26"));
        let back = parse_event(&event_to_json_line(&e)).unwrap();
        assert_eq!(back, e);
        let full = event_to_json(&e);
        assert_eq!(full["event_date"], "2026-11-26");
        assert_eq!(full["event_timestamp"], "2026-11-26T14:03:22.123Z");
    }

    #[test]
    fn big_ids_survive_exactly() {
        let e = parse_event(&with("user_id", "9223372036854775807")).unwrap();
        assert_eq!(e.user_id, 9_223_372_036_854_775_807);
        let e2 = parse_event(&with("object_id", "9007199254740993")).unwrap();
        assert_eq!(e2.object_id, Some(9_007_199_254_740_993));
        assert!(event_to_json_line(&e2).contains("9007199254740993"));
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(err(&with("colour", "\"red\"")), "unknown field \"colour\"");
        assert_eq!(
            err(&with("user_id", "-4")),
            "field \"user_id\": expected an integer in 0..=9223372036854775807, got -4"
        );
        assert_eq!(
            err(&with("user_id", "9223372036854775808")),
            "field \"user_id\": expected an integer in 0..=9223372036854775807, got 9223372036854775808"
        );
        assert_eq!(
            err(&with("object_id", "1.5")),
            "field \"object_id\": expected an integer in 0..=9223372036854775807, got 1.5"
        );
        assert_eq!(
            err(&with("user_email", "")),
            "field \"user_email\": required field is missing or null"
        );
        assert_eq!(
            err(&with("user_email", "null")),
            "field \"user_email\": required field is missing or null"
        );
        assert_eq!(
            err(&with("is_api", "\"false\"")),
            "field \"is_api\": expected true or false, got \"false\""
        );
        assert_eq!(
            err(&with("event_date", "\"2026-11-25\"")),
            "field \"event_date\": 2026-11-25 disagrees with event_timestamp 2026-11-26T14:03:22.123Z (UTC date 2026-11-26)"
        );
        assert!(err(&with("event_type", "\"Viewed\"")).starts_with(
            "field \"event_type\": unknown event type \"Viewed\" (expected one of Allow, Assign,"
        ));
        assert!(
            err(&with("event_timestamp", "\"2026-11-26\""))
                .starts_with("field \"event_timestamp\": not an RFC 3339")
        );
        assert_eq!(
            err(&with("project_name", "\"\"")),
            "field \"project_name\": must not be empty"
        );
        let long = format!("\"{}\"", "a".repeat(1025));
        assert_eq!(
            err(&with("user_name", &long)),
            "field \"user_name\": is 1025 bytes, at most 1024 allowed"
        );
        let url = format!("\"{}\"", "u".repeat(8192));
        assert!(parse_event(&with("url", &url)).is_ok());
        let id = format!("\"{}\"", "i".repeat(129));
        assert_eq!(
            err(&with("event_id", &id)),
            "field \"event_id\": is 129 bytes, at most 128 allowed"
        );
        assert!(err("[1,2]").starts_with("not a JSON object"));
        assert!(err("{\"event_id\":").starts_with("not a JSON object"));
    }

    #[test]
    fn unknown_keys_are_rejected_or_ignored() {
        let ignore = ParseOptions {
            unknown_fields: UnknownFields::Ignore,
        };
        let text = with("colour", "\"red\"").replace('}', r#","Count":{"n":[1,2]},"colour":2}"#);
        let mut names = Vec::new();
        assert_eq!(
            parse_event_with(&text, &ParseOptions::default(), &mut names)
                .unwrap_err()
                .to_string(),
            "unknown field \"colour\""
        );
        assert!(names.is_empty());
        let e = parse_event_with(&text, &ignore, &mut names).unwrap();
        assert_eq!(e, parse_event(EXAMPLE).unwrap());
        assert_eq!(names, ["colour", "Count"]);
        // Only unknown keys are ignored: a repeated field is still an error,
        // and the names are reported for an invalid record too.
        let mut names = Vec::new();
        let text = with("colour", "1").replace('}', r#","user_id":8}"#);
        assert_eq!(
            parse_event_with(&text, &ignore, &mut names)
                .unwrap_err()
                .to_string(),
            "field \"user_id\": appears more than once"
        );
        assert_eq!(names, ["colour"]);
        // Strict: the first shape problem wins, whichever it is.
        assert_eq!(err(&text), "unknown field \"colour\"");
        let text = with("user_id", "").replace('}', r#","user_id":8,"user_id":9,"colour":1}"#);
        assert_eq!(err(&text), "field \"user_id\": appears more than once");
    }

    #[test]
    fn null_is_missing_for_optional_fields() {
        let e = parse_event(&with("project_name", "null")).unwrap();
        assert_eq!(e.project_name, None);
        let e = parse_event(&with("object_id", "")).unwrap();
        assert_eq!(e.object_id, None);
    }

    #[test]
    fn offsets_are_normalised() {
        let e = parse_event(&with(
            "event_timestamp",
            "\"2026-11-27T01:03:22.123+11:00\"",
        ))
        .unwrap();
        assert_eq!(
            crate::time::format_ms(e.event_timestamp_ms),
            "2026-11-26T14:03:22.123Z"
        );
        // event_date must agree with the UTC date, not the local one.
        let text = with("event_timestamp", "\"2026-11-27T01:03:22.123+11:00\"");
        assert!(parse_event(&text).is_ok());
    }
}
