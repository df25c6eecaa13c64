//! An owned field value: what query results hold.

use std::cmp::Ordering;
use std::fmt;

use crate::event::{EventType, Value};
use crate::time::{Day, format_ms};

/// One field's value in a result row. Sorts like [`Value`]: missing lowest,
/// strings bytewise, everything else by value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scalar {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (ids, counts).
    Int(u64),
    /// UTC milliseconds since the epoch.
    Timestamp(i64),
    /// A UTC day.
    Date(Day),
    /// An event type.
    EventType(EventType),
    /// Text.
    Str(String),
}

impl Scalar {
    /// The borrowed form.
    pub fn as_value(&self) -> Value<'_> {
        match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Int(n) => Value::Int(*n),
            Scalar::Timestamp(ms) => Value::Timestamp(*ms),
            Scalar::Date(d) => Value::Date(*d),
            Scalar::EventType(t) => Value::EventType(*t),
            Scalar::Str(s) => Value::Str(s),
        }
    }

    /// The string, for a string field's value (an `event_type` is a
    /// [`Scalar::EventType`]: see [`as_event_type`](Self::as_event_type)).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer (ids, counts).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Scalar::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A timestamp, in UTC milliseconds since the epoch.
    pub fn as_timestamp_ms(&self) -> Option<i64> {
        match self {
            Scalar::Timestamp(ms) => Some(*ms),
            _ => None,
        }
    }

    /// A date.
    pub fn as_day(&self) -> Option<Day> {
        match self {
            Scalar::Date(d) => Some(*d),
            _ => None,
        }
    }

    /// An event type.
    pub fn as_event_type(&self) -> Option<EventType> {
        match self {
            Scalar::EventType(t) => Some(*t),
            _ => None,
        }
    }

    /// Whether the value is missing.
    pub fn is_null(&self) -> bool {
        matches!(self, Scalar::Null)
    }

    /// As the contract writes it in JSON.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Scalar::Null => J::Null,
            Scalar::Bool(b) => J::Bool(*b),
            Scalar::Int(n) => J::from(*n),
            Scalar::Timestamp(ms) => J::String(format_ms(*ms)),
            Scalar::Date(d) => J::String(d.to_string()),
            Scalar::EventType(t) => J::String(t.as_str().into()),
            Scalar::Str(s) => J::String(s.clone()),
        }
    }
}

impl From<Value<'_>> for Scalar {
    fn from(v: Value<'_>) -> Scalar {
        match v {
            Value::Null => Scalar::Null,
            Value::Bool(b) => Scalar::Bool(b),
            Value::Int(n) => Scalar::Int(n),
            Value::Timestamp(ms) => Scalar::Timestamp(ms),
            Value::Date(d) => Scalar::Date(d),
            Value::EventType(t) => Scalar::EventType(t),
            Value::Str(s) => Scalar::Str(s.to_string()),
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_value().fmt(f)
    }
}

/// Compares two values of one field under a direction; missing values sort
/// lowest (first ascending, last descending).
pub(crate) fn cmp_dir(a: &Scalar, b: &Scalar, desc: bool) -> Ordering {
    let o = a.cmp(b);
    if desc { o.reverse() } else { o }
}
