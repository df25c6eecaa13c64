//! The query model: what a report asks for, as a Rust value that reads and
//! writes as the JSON document in docs/queries.md. Nothing here is checked
//! against the contract yet; [`super::bind`] does that and names the part
//! of the query at fault.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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
/// it (the day is included; [`super::bind::window_bound`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawWindow", into = "RawWindow")]
pub enum TimeWindow {
    Range { from: String, to: String },
    LastDays { last_days: u32 },
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
    pub field: String,
    pub op: Op,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

/// Comparison operators. Every one but `is_null` is false on a missing
/// value (SQL semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Contains,
    StartsWith,
    IsNull,
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
    Asc,
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

    /// Adds a predicate. `value` converts from strings, integers, booleans
    /// and lists of them (`serde_json::json!` builds anything else).
    pub fn filter(mut self, field: &str, op: Op, value: impl Into<serde_json::Value>) -> Query {
        let value = value.into();
        self.filters.push(Predicate {
            field: field.into(),
            op,
            value: (!value.is_null()).then_some(value),
        });
        self
    }

    /// Adds group-by fields.
    pub fn group_by(mut self, fields: &[&str]) -> Query {
        self.group_by.extend(fields.iter().map(|f| f.to_string()));
        self
    }

    /// Adds a sort key (a field or `count`).
    pub fn order_by(mut self, key: &str, direction: Direction) -> Query {
        self.order_by.push((key.into(), direction));
        self
    }

    /// Sets the row limit.
    pub fn limit(mut self, n: u64) -> Query {
        self.limit = Some(n);
        self
    }
}
