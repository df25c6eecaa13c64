//! The query model: what a report asks for, as a Rust value that reads and
//! writes as the JSON document in docs/queries.md. Nothing here is checked
//! against the contract yet; `bind` does that and names the part
//! of the query at fault.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::event::{EventType, Field};
use crate::time::{Day, format_ms};

use super::scalar::Scalar;

/// One report: a time window, filters, and what to return.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// The window on `event_timestamp`. Absent: everything retained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeWindow>,
    /// Predicates, ANDed.
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Predicate>,
    /// Counts (the default) or whole events.
    #[serde(default)]
    pub select: Select,
    /// For `select: events`, the fields to return (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// For `select: count`, the fields to group by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// Sort keys: a field name or `count`, and a direction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_by: Vec<(String, Direction)>,
    /// At most this many rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Skip this many rows first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// For `select: events`: continue after the page that returned this
    /// cursor (`QueryResult::next_cursor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A half-open window `[from, to)` in RFC 3339, or the last `N` UTC days
/// (today included). `from` and `to` may also be dates `YYYY-MM-DD`, whole
/// UTC days: `from` a date starts at its beginning, `to` a date ends after
/// it (the day is included; [`window_bound`](super::window_bound)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawWindow", into = "RawWindow")]
pub enum TimeWindow {
    /// From `from` to `to` (RFC 3339 timestamps or `YYYY-MM-DD` days).
    Range {
        /// The start: a timestamp, or a day from its beginning.
        from: String,
        /// The end: a timestamp (excluded), or a day through its end.
        to: String,
    },
    /// Today and the `last_days - 1` days before it.
    LastDays {
        /// How many days, today included.
        last_days: u32,
    },
}

/// The JSON object of a window, before checking which form it is (so a
/// wrong one gets a message naming `time`, not serde's "no variant").
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_days: Option<u32>,
}

impl TryFrom<RawWindow> for TimeWindow {
    type Error = String;
    fn try_from(w: RawWindow) -> std::result::Result<TimeWindow, String> {
        match (w.from, w.to, w.last_days) {
            (Some(from), Some(to), None) => Ok(TimeWindow::Range { from, to }),
            (None, None, Some(last_days)) => Ok(TimeWindow::LastDays { last_days }),
            _ => Err(
                "time: give {\"from\": ..., \"to\": ...} (both) or {\"last_days\": N}, not a mix"
                    .into(),
            ),
        }
    }
}

impl From<TimeWindow> for RawWindow {
    fn from(w: TimeWindow) -> RawWindow {
        match w {
            TimeWindow::Range { from, to } => RawWindow {
                from: Some(from),
                to: Some(to),
                last_days: None,
            },
            TimeWindow::LastDays { last_days } => RawWindow {
                from: None,
                to: None,
                last_days: Some(last_days),
            },
        }
    }
}

/// `field op value`. `value` is a JSON value of the field's type (a list
/// for `in`/`not_in`; absent for `is_null`/`not_null`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predicate {
    /// The field, by its contract name.
    pub field: String,
    /// The comparison.
    pub op: Op,
    /// The operand, as in the JSON document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

/// Comparison operators. Every one but `is_null` is false on a missing
/// value (SQL semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal to the operand.
    Eq,
    /// Not equal (a missing value is not equal).
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Equal to one of a list.
    In,
    /// Equal to none of a list.
    NotIn,
    /// Text containing the operand.
    Contains,
    /// Text starting with the operand.
    StartsWith,
    /// No value.
    IsNull,
    /// Any value.
    NotNull,
}

impl Op {
    /// Every operator.
    pub const ALL: [Op; 12] = [
        Op::Eq,
        Op::Ne,
        Op::Lt,
        Op::Le,
        Op::Gt,
        Op::Ge,
        Op::In,
        Op::NotIn,
        Op::Contains,
        Op::StartsWith,
        Op::IsNull,
        Op::NotNull,
    ];

    /// The JSON spelling.
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::IsNull => "is_null",
            Op::NotNull => "not_null",
        }
    }
}

/// What a query returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Select {
    /// One row per distinct `group_by` tuple, with its number of events.
    #[default]
    Count,
    /// Whole events (or the `fields` subset), for audit listings.
    Events,
}

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

impl Query {
    /// Reads a query from its JSON document.
    pub fn parse(json: &str) -> Result<Query> {
        serde_json::from_str(json).map_err(|e| Error::InvalidQuery(format!("query: {e}")))
    }

    /// The query as its JSON document.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A count over everything retained, with no filters: add to it.
    pub fn count() -> Query {
        Query::default()
    }

    /// An event listing over everything retained: add to it.
    pub fn events() -> Query {
        Query {
            select: Select::Events,
            ..Query::default()
        }
    }

    /// Restricts to `[from, to)` (RFC 3339, or dates: see [`TimeWindow`]).
    pub fn between(mut self, from: &str, to: &str) -> Query {
        self.time = Some(TimeWindow::Range {
            from: from.into(),
            to: to.into(),
        });
        self
    }

    /// Restricts to the last `days` UTC days, today included.
    pub fn last_days(mut self, days: u32) -> Query {
        self.time = Some(TimeWindow::LastDays { last_days: days });
        self
    }

    /// Adds the predicate `field op value`. `value` is a typed [`Operand`]:
    /// a string, an integer, a bool, an [`EventType`], a [`Day`], a
    /// [`Scalar`], a list of them (for `in` and `not_in`), or `()` (for
    /// `is_null` and `not_null`). Whether it fits the field is checked when
    /// the query runs, as for the JSON document.
    pub fn filter(self, field: Field, op: Op, value: impl Into<Operand>) -> Query {
        self.push_filter(field.name(), op, value.into().0)
    }

    /// [`filter`](Self::filter) with the field named as the JSON document
    /// names it and the operand as JSON: for front ends that pass a
    /// caller's text through (an unknown name is an
    /// [`Error::InvalidQuery`] naming it when the query runs).
    pub fn filter_named(self, field: &str, op: Op, value: impl Into<serde_json::Value>) -> Query {
        self.push_filter(field, op, Some(value.into()))
    }

    fn push_filter(mut self, field: &str, op: Op, value: Option<serde_json::Value>) -> Query {
        self.filters.push(Predicate {
            field: field.into(),
            op,
            value: value.filter(|v| !v.is_null()),
        });
        self
    }

    /// Adds group-by fields (for `select: count`).
    pub fn group_by(mut self, fields: &[Field]) -> Query {
        self.group_by
            .extend(fields.iter().map(|f| f.name().to_string()));
        self
    }

    /// Adds fields to return (for `select: events`; all when none).
    pub fn fields(mut self, fields: &[Field]) -> Query {
        self.fields
            .extend(fields.iter().map(|f| f.name().to_string()));
        self
    }

    /// Adds a sort key on a field.
    pub fn order_by(mut self, field: Field, direction: Direction) -> Query {
        self.order_by.push((field.name().into(), direction));
        self
    }

    /// Adds a sort key on the `count` column (for `select: count`).
    pub fn order_by_count(mut self, direction: Direction) -> Query {
        self.order_by.push(("count".into(), direction));
        self
    }

    /// Sets the row limit.
    pub fn limit(mut self, n: u64) -> Query {
        self.limit = Some(n);
        self
    }

    /// Skips `n` rows first.
    pub fn offset(mut self, n: u64) -> Query {
        self.offset = Some(n);
        self
    }

    /// Continues a listing after the page that returned `cursor`
    /// ([`QueryResult::next_cursor`](super::QueryResult::next_cursor)).
    pub fn after_cursor(mut self, cursor: impl Into<String>) -> Query {
        self.cursor = Some(cursor.into());
        self
    }
}

/// A predicate's operand in the typed builder ([`Query::filter`]): one
/// value, a list (for `in`, `not_in`), or none (`()`, for `is_null`,
/// `not_null`). It is held as the JSON document writes it, so a built query
/// equals the parsed document it reads as.
#[derive(Clone, Debug, PartialEq)]
pub struct Operand(Option<serde_json::Value>);

impl Operand {
    /// No operand (for `is_null` and `not_null`); the same as `()`.
    pub const NONE: Operand = Operand(None);

    /// A timestamp operand, UTC milliseconds since the epoch (written as
    /// RFC 3339, as the document does).
    pub fn timestamp_ms(ms: i64) -> Operand {
        Operand(Some(serde_json::Value::String(format_ms(ms))))
    }

    fn json(self) -> serde_json::Value {
        self.0.unwrap_or(serde_json::Value::Null)
    }
}

impl From<()> for Operand {
    fn from(_: ()) -> Operand {
        Operand::NONE
    }
}

impl From<&Scalar> for Operand {
    fn from(s: &Scalar) -> Operand {
        Operand(Some(s.to_json()))
    }
}

impl From<Scalar> for Operand {
    fn from(s: Scalar) -> Operand {
        Operand::from(&s)
    }
}

impl From<EventType> for Operand {
    fn from(t: EventType) -> Operand {
        Operand(Some(t.as_str().into()))
    }
}

impl From<Day> for Operand {
    fn from(d: Day) -> Operand {
        Operand(Some(d.to_string().into()))
    }
}

/// Operands the JSON value of which is the value itself.
macro_rules! json_operands {
    ($($t:ty),*) => {$(
        impl From<$t> for Operand {
            fn from(v: $t) -> Operand {
                Operand(Some(v.into()))
            }
        }
    )*};
}
json_operands!(&str, String, bool, u64, u32, i64, i32);

impl From<&String> for Operand {
    fn from(s: &String) -> Operand {
        Operand::from(s.as_str())
    }
}

impl<T: Into<Operand>> From<Vec<T>> for Operand {
    fn from(items: Vec<T>) -> Operand {
        Operand(Some(serde_json::Value::Array(
            items.into_iter().map(|v| v.into().json()).collect(),
        )))
    }
}

impl<T: Into<Operand> + Clone> From<&[T]> for Operand {
    fn from(items: &[T]) -> Operand {
        Operand::from(items.to_vec())
    }
}

impl<T: Into<Operand>, const N: usize> From<[T; N]> for Operand {
    fn from(items: [T; N]) -> Operand {
        Operand::from(Vec::from(items))
    }
}
