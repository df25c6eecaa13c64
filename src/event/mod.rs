//! The event model: every field of the contract (docs/event-format.md), typed.

use std::fmt;

use crate::time::{Day, MAX_TS_MS, MIN_TS_MS, format_ms};

mod builder;
pub use builder::EventBuilder;

/// Largest integer the contract allows for ids: 2^63 - 1.
pub const MAX_ID: u64 = i64::MAX as u64;
/// Longest string field, in bytes (except `url` and `event_id`).
pub const MAX_STRING_BYTES: usize = 1024;
/// Longest `url`, in bytes.
pub const MAX_URL_BYTES: usize = 8192;
/// Longest `event_id`, in bytes.
pub const MAX_EVENT_ID_BYTES: usize = 128;

macro_rules! event_types {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// The 24 event types, in the contract's (alphabetical) order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum EventType { $(#[doc = concat!("`", $name, "`")] $variant),* }

        impl EventType {
            /// Every type, in order; `ALL[t as usize] == t`.
            pub const ALL: [EventType; 24] = [$(EventType::$variant),*];

            /// The contract's spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name),* }
            }

            /// Parses the contract's exact spelling.
            pub fn parse(s: &str) -> Option<EventType> {
                match s { $($name => Some(EventType::$variant),)* _ => None }
            }
        }
    };
}

event_types! {
    Allow => "Allow", Assign => "Assign", Close => "Close", CreateUpdate => "Create/Update",
    Delete => "Delete", Download => "Download", Execute => "Execute", Export => "Export",
    Include => "Include", Link => "Link", Move => "Move", Notify => "Notify", Other => "Other",
    Publish => "Publish", Reject => "Reject", Remove => "Remove", Reset => "Reset",
    Sign => "Sign", Submit => "Submit", Sync => "Sync", Upload => "Upload",
    Validate => "Validate", View => "View", WithdrawVoid => "Withdraw/Void",
}

impl EventType {
    /// The ordinal stored on disk.
    pub fn ordinal(self) -> u8 {
        self as u8
    }

    /// The message for a name that is not one of the 24 types (JSON, CSV
    /// and query operands say it the same way).
    pub fn unknown_message(name: &str) -> String {
        let all: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        format!(
            "unknown event type {name:?} (expected one of {})",
            all.join(", ")
        )
    }

    /// The type with this ordinal.
    pub fn from_ordinal(n: u64) -> Option<EventType> {
        usize::try_from(n)
            .ok()
            .and_then(|i| EventType::ALL.get(i).copied())
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One user action. Optional fields are `None` when the value is missing
/// (missing and JSON `null` are the same); strings are never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The event's id (with `company_name`, its identity: a re-sent event
    /// is stored once).
    pub event_id: String,
    /// UTC milliseconds since the Unix epoch.
    pub event_timestamp_ms: i64,
    /// What kind of action (one of 24).
    pub event_type: EventType,
    /// The action as the product names it ("Viewed RFI").
    pub event_name: String,
    /// A finer kind, where the tool has one.
    pub event_subtype: Option<String>,
    /// The tool the action happened in ("RFIs", "Drawings").
    pub tool_name: String,
    /// The company (tenant) the event belongs to.
    pub company_name: String,
    /// The project, if the action was in one.
    pub project_name: Option<String>,
    /// The project's number.
    pub project_number: Option<String>,
    /// Whether the project is a demo project.
    pub project_is_demo: Option<bool>,
    /// The id of the object acted on.
    pub object_id: Option<u64>,
    /// The page or API path of the action.
    pub url: Option<String>,
    /// Where the action came from: "web", "iOS", "Android", "API", ...
    pub device_type: String,
    /// Whether the action came through the public API.
    pub is_api: bool,
    /// The acting user's id.
    pub user_id: u64,
    /// The acting user's email.
    pub user_email: String,
    /// The email the user signed in with, if another.
    pub user_login_email: Option<String>,
    /// The acting user's name.
    pub user_name: String,
    /// The user's job title.
    pub user_job_title: Option<String>,
    /// The user's role in the company.
    pub user_role: Option<String>,
    /// The kind of user (employee, collaborator, ...).
    pub user_type: Option<String>,
    /// The permission template the user starts from.
    pub user_default_permission_template: Option<String>,
    /// Whether the user is active.
    pub user_is_active: Option<bool>,
    /// Whether the user may bid.
    pub user_is_authorized_bidder: Option<bool>,
    /// The user's last sign-in day.
    pub user_last_login_date: Option<Day>,
}

/// How a field's values are typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Text.
    Str,
    /// An unsigned integer (ids: 0 ..= 2^63-1).
    Int,
    /// true or false.
    Bool,
    /// UTC milliseconds.
    Timestamp,
    /// A UTC day.
    Date,
    /// One of the 24 [`EventType`]s.
    EventType,
}

macro_rules! fields {
    ($($variant:ident => $name:literal, $kind:ident, $required:literal);* $(;)?) => {
        /// Every field of the contract, plus the derived `event_date`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum Field { $(#[doc = concat!("`", $name, "`")] $variant),* }

        impl Field {
            /// Every field, in contract order; `ALL[f as usize] == f`.
            pub const ALL: [Field; 26] = [$(Field::$variant),*];

            /// The contract's field name.
            pub fn name(self) -> &'static str {
                match self { $(Field::$variant => $name),* }
            }

            /// The field with this contract name.
            pub fn parse(s: &str) -> Option<Field> {
                match s { $($name => Some(Field::$variant),)* _ => None }
            }

            /// The type of its values.
            pub fn kind(self) -> FieldKind {
                match self { $(Field::$variant => FieldKind::$kind),* }
            }

            /// Whether every event has a value.
            pub fn required(self) -> bool {
                match self { $(Field::$variant => $required),* }
            }
        }
    };
}

fields! {
    EventId => "event_id", Str, true;
    EventTimestamp => "event_timestamp", Timestamp, true;
    EventDate => "event_date", Date, true;
    EventType => "event_type", EventType, true;
    EventName => "event_name", Str, true;
    EventSubtype => "event_subtype", Str, false;
    ToolName => "tool_name", Str, true;
    CompanyName => "company_name", Str, true;
    ProjectName => "project_name", Str, false;
    ProjectNumber => "project_number", Str, false;
    ProjectIsDemo => "project_is_demo", Bool, false;
    ObjectId => "object_id", Int, false;
    Url => "url", Str, false;
    DeviceType => "device_type", Str, true;
    IsApi => "is_api", Bool, true;
    UserId => "user_id", Int, true;
    UserEmail => "user_email", Str, true;
    UserLoginEmail => "user_login_email", Str, false;
    UserName => "user_name", Str, true;
    UserJobTitle => "user_job_title", Str, false;
    UserRole => "user_role", Str, false;
    UserType => "user_type", Str, false;
    UserDefaultPermissionTemplate => "user_default_permission_template", Str, false;
    UserIsActive => "user_is_active", Bool, false;
    UserIsAuthorizedBidder => "user_is_authorized_bidder", Bool, false;
    UserLastLoginDate => "user_last_login_date", Date, false;
}

impl Field {
    /// Fields that are stored (everything but the derived `event_date`).
    pub fn stored() -> impl Iterator<Item = Field> {
        Field::ALL.into_iter().filter(|f| *f != Field::EventDate)
    }

    /// The field with this ordinal.
    pub fn from_ordinal(n: u16) -> Option<Field> {
        Field::ALL.get(usize::from(n)).copied()
    }

    /// Longest allowed value in bytes, for string fields.
    pub fn max_bytes(self) -> usize {
        match self {
            Field::EventId => MAX_EVENT_ID_BYTES,
            Field::Url => MAX_URL_BYTES,
            _ => MAX_STRING_BYTES,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One field's value, borrowed from an event or a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value<'a> {
    /// No value. Sorts lowest.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(u64),
    /// UTC milliseconds since the epoch.
    Timestamp(i64),
    /// A UTC day.
    Date(Day),
    /// An event type.
    EventType(EventType),
    /// Text.
    Str(&'a str),
}

impl Value<'_> {
    /// True for `Value::Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Timestamp(ms) => f.write_str(&format_ms(*ms)),
            Value::Date(d) => write!(f, "{d}"),
            Value::EventType(t) => f.write_str(t.as_str()),
            Value::Str(s) => f.write_str(s),
        }
    }
}

fn opt_str(s: &Option<String>) -> Value<'_> {
    match s {
        Some(s) => Value::Str(s),
        None => Value::Null,
    }
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Value<'static>) -> Value<'static> {
    v.map_or(Value::Null, f)
}

/// A field that failed validation, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field at fault, or `None` for an error about the record as a whole.
    pub field: Option<String>,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: Field, message: impl Into<String>) -> Self {
        FieldError {
            field: Some(field.name().to_string()),
            message: message.into(),
        }
    }

    /// A required field with no value, as the JSON parser and
    /// [`EventBuilder`] report it.
    pub fn missing(field: Field) -> Self {
        FieldError::new(field, "required field is missing or null")
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field \"{field}\": {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FieldError {}

impl Event {
    /// The UTC day (partition) of the event.
    pub fn day(&self) -> Day {
        Day::of_ms(self.event_timestamp_ms)
    }

    /// The value of `field`.
    pub fn get(&self, field: Field) -> Value<'_> {
        match field {
            Field::EventId => Value::Str(&self.event_id),
            Field::EventTimestamp => Value::Timestamp(self.event_timestamp_ms),
            Field::EventDate => Value::Date(self.day()),
            Field::EventType => Value::EventType(self.event_type),
            Field::EventName => Value::Str(&self.event_name),
            Field::EventSubtype => opt_str(&self.event_subtype),
            Field::ToolName => Value::Str(&self.tool_name),
            Field::CompanyName => Value::Str(&self.company_name),
            Field::ProjectName => opt_str(&self.project_name),
            Field::ProjectNumber => opt_str(&self.project_number),
            Field::ProjectIsDemo => opt(self.project_is_demo, Value::Bool),
            Field::ObjectId => opt(self.object_id, Value::Int),
            Field::Url => opt_str(&self.url),
            Field::DeviceType => Value::Str(&self.device_type),
            Field::IsApi => Value::Bool(self.is_api),
            Field::UserId => Value::Int(self.user_id),
            Field::UserEmail => Value::Str(&self.user_email),
            Field::UserLoginEmail => opt_str(&self.user_login_email),
            Field::UserName => Value::Str(&self.user_name),
            Field::UserJobTitle => opt_str(&self.user_job_title),
            Field::UserRole => opt_str(&self.user_role),
            Field::UserType => opt_str(&self.user_type),
            Field::UserDefaultPermissionTemplate => opt_str(&self.user_default_permission_template),
            Field::UserIsActive => opt(self.user_is_active, Value::Bool),
            Field::UserIsAuthorizedBidder => opt(self.user_is_authorized_bidder, Value::Bool),
            Field::UserLastLoginDate => opt(self.user_last_login_date, Value::Date),
        }
    }

    /// Checks every rule of the contract that the type system does not.
    pub fn validate(&self) -> Result<(), FieldError> {
        for field in Field::stored() {
            match self.get(field) {
                Value::Str(s) => {
                    if s.is_empty() {
                        return Err(FieldError::new(field, "must not be empty"));
                    }
                    if s.len() > field.max_bytes() {
                        return Err(FieldError::new(
                            field,
                            format!(
                                "is {} bytes, at most {} allowed",
                                s.len(),
                                field.max_bytes()
                            ),
                        ));
                    }
                }
                Value::Int(n) if n > MAX_ID => {
                    return Err(FieldError::new(
                        field,
                        format!("{n} is above the maximum {MAX_ID}"),
                    ));
                }
                Value::Timestamp(ms) if !(MIN_TS_MS..=MAX_TS_MS).contains(&ms) => {
                    return Err(FieldError::new(field, "timestamp outside 1970..=9999"));
                }
                Value::Date(d) if !(Day(0)..=Day::of_ms(MAX_TS_MS)).contains(&d) => {
                    return Err(FieldError::new(field, "date outside 1970..=9999"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Sets `field` from a value of the matching kind. Used by readers that
    /// rebuild events column by column.
    pub fn set(&mut self, field: Field, value: Value<'_>) -> Result<(), FieldError> {
        fn s(v: Value<'_>, field: Field) -> Result<Option<String>, FieldError> {
            match v {
                Value::Null => Ok(None),
                Value::Str(s) => Ok(Some(s.to_string())),
                other => Err(FieldError::new(
                    field,
                    format!("expected a string, got {other:?}"),
                )),
            }
        }
        fn req<T>(v: Option<T>, field: Field) -> Result<T, FieldError> {
            v.ok_or_else(|| FieldError::new(field, "required field has no value"))
        }
        fn b(v: Value<'_>, field: Field) -> Result<Option<bool>, FieldError> {
            match v {
                Value::Null => Ok(None),
                Value::Bool(b) => Ok(Some(b)),
                other => Err(FieldError::new(
                    field,
                    format!("expected a bool, got {other:?}"),
                )),
            }
        }
        fn i(v: Value<'_>, field: Field) -> Result<Option<u64>, FieldError> {
            match v {
                Value::Null => Ok(None),
                Value::Int(n) => Ok(Some(n)),
                other => Err(FieldError::new(
                    field,
                    format!("expected an integer, got {other:?}"),
                )),
            }
        }
        match field {
            Field::EventId => self.event_id = req(s(value, field)?, field)?,
            Field::EventTimestamp => match value {
                Value::Timestamp(ms) => self.event_timestamp_ms = ms,
                other => {
                    return Err(FieldError::new(
                        field,
                        format!("expected a timestamp, got {other:?}"),
                    ));
                }
            },
            Field::EventDate => {}
            Field::EventType => match value {
                Value::EventType(t) => self.event_type = t,
                other => {
                    return Err(FieldError::new(
                        field,
                        format!("expected an event type, got {other:?}"),
                    ));
                }
            },
            Field::EventName => self.event_name = req(s(value, field)?, field)?,
            Field::EventSubtype => self.event_subtype = s(value, field)?,
            Field::ToolName => self.tool_name = req(s(value, field)?, field)?,
            Field::CompanyName => self.company_name = req(s(value, field)?, field)?,
            Field::ProjectName => self.project_name = s(value, field)?,
            Field::ProjectNumber => self.project_number = s(value, field)?,
            Field::ProjectIsDemo => self.project_is_demo = b(value, field)?,
            Field::ObjectId => self.object_id = i(value, field)?,
            Field::Url => self.url = s(value, field)?,
            Field::DeviceType => self.device_type = req(s(value, field)?, field)?,
            Field::IsApi => self.is_api = req(b(value, field)?, field)?,
            Field::UserId => self.user_id = req(i(value, field)?, field)?,
            Field::UserEmail => self.user_email = req(s(value, field)?, field)?,
            Field::UserLoginEmail => self.user_login_email = s(value, field)?,
            Field::UserName => self.user_name = req(s(value, field)?, field)?,
            Field::UserJobTitle => self.user_job_title = s(value, field)?,
            Field::UserRole => self.user_role = s(value, field)?,
            Field::UserType => self.user_type = s(value, field)?,
            Field::UserDefaultPermissionTemplate => {
                self.user_default_permission_template = s(value, field)?;
            }
            Field::UserIsActive => self.user_is_active = b(value, field)?,
            Field::UserIsAuthorizedBidder => self.user_is_authorized_bidder = b(value, field)?,
            Field::UserLastLoginDate => match value {
                Value::Null => self.user_last_login_date = None,
                Value::Date(d) => self.user_last_login_date = Some(d),
                other => {
                    return Err(FieldError::new(
                        field,
                        format!("expected a date, got {other:?}"),
                    ));
                }
            },
        }
        Ok(())
    }

    /// An event with every required field at a placeholder value; readers
    /// fill it with `set`.
    pub fn blank() -> Event {
        Event {
            event_id: String::new(),
            event_timestamp_ms: 0,
            event_type: EventType::Other,
            event_name: String::new(),
            event_subtype: None,
            tool_name: String::new(),
            company_name: String::new(),
            project_name: None,
            project_number: None,
            project_is_demo: None,
            object_id: None,
            url: None,
            device_type: String::new(),
            is_api: false,
            user_id: 0,
            user_email: String::new(),
            user_login_email: None,
            user_name: String::new(),
            user_job_title: None,
            user_role: None,
            user_type: None,
            user_default_permission_template: None,
            user_is_active: None,
            user_is_authorized_bidder: None,
            user_last_login_date: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
            assert_eq!(Field::parse(f.name()), Some(*f));
        }
        for (i, t) in EventType::ALL.iter().enumerate() {
            assert_eq!(*t as usize, i);
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
            assert_eq!(EventType::from_ordinal(i as u64), Some(*t));
        }
        assert_eq!(EventType::parse("view"), None);
        assert_eq!(EventType::from_ordinal(24), None);
    }

    #[test]
    fn set_get_round_trip() {
        let mut e = Event::blank();
        e.event_id = "x".into();
        e.object_id = Some(MAX_ID);
        e.user_last_login_date = Some(Day(20000));
        let mut f = Event::blank();
        for field in Field::stored() {
            f.set(field, e.get(field)).unwrap();
        }
        assert_eq!(e, f);
    }
}
