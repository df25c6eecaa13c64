//! Checks a [`Query`] against the contract and the retention window, and
//! turns it into typed form: fields resolved, operands parsed to the
//! field's type, the time window resolved to milliseconds. Every error
//! names the part of the query at fault.
//!
//! Range predicates on `event_timestamp` and `event_date` are folded into
//! the window here: both are required, so `event_timestamp >= t` is the
//! same as a window starting at `t`, and the planner cuts row ranges by
//! binary search instead of testing rows.

use std::cmp::Ordering;

use crate::error::{Error, Result};
use crate::event::{EventType, Field, FieldKind, MAX_ID, Value};
use crate::time::{Day, MAX_TS_MS, MIN_TS_MS, TimeError, parse_rfc3339_ms};

use super::model::{Direction, Op, Predicate, Query, Select, TimeWindow};
use super::scalar::Scalar;

/// Most fields a count can group by.
pub(crate) const MAX_GROUP_FIELDS: usize = 8;

/// A checked query.
#[derive(Clone, Debug)]
pub(crate) struct Bound {
    /// The window `[from_ms, to_ms)`, already cut to retention and narrowed
    /// by folded predicates. Empty when `from_ms >= to_ms`.
    pub from_ms: i64,
    pub to_ms: i64,
    /// Predicates left after folding, in query order.
    pub preds: Vec<Pred>,
    /// Indexes (into `where`) of the predicates folded into the window.
    pub folded: Vec<usize>,
    pub select: Select,
    /// Fields returned by an event listing.
    pub fields: Vec<Field>,
    pub group_by: Vec<Field>,
    /// The full sort order, tie-breaks included: for counts, the given keys
    /// then every group field ascending; for events, the given keys (or
    /// `event_timestamp desc`) then `event_id asc`, `company_name asc`.
    pub order: Vec<(SortKey, bool)>,
    pub limit: Option<u64>,
    pub offset: u64,
    /// For listings: only rows after this sort key.
    pub after: Option<Vec<Scalar>>,
}

impl Bound {
    /// Whether this is a listing that stops at its page instead of checking
    /// every row: a `limit`, sorted by `event_timestamp` first (rows are
    /// stored in that order), with a predicate on a block-compressed field
    /// (`event_id`, `url`, `object_id`: checking it means decompressing).
    /// Such a listing does not count its matches (`matched_events` is
    /// `None`).
    pub fn stops_early(&self) -> bool {
        self.select == Select::Events
            && self.limit.is_some()
            && matches!(
                self.order.first(),
                Some((SortKey::Field(Field::EventTimestamp), _))
            )
            && self
                .preds
                .iter()
                .any(|p| matches!(p.field, Field::EventId | Field::Url | Field::ObjectId))
    }
}

/// What a sort key is (defined beside the cursors that carry its values).
pub(crate) use super::cursor::SortKey;

/// One checked predicate.
#[derive(Clone, Debug)]
pub(crate) struct Pred {
    pub field: Field,
    pub op: Op,
    pub arg: Arg,
}

/// A predicate's operand, parsed to the field's type. `event_type`
/// operands are strings: the type compares by its contract spelling.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    None,
    One(Scalar),
    /// Sorted, deduplicated (`in`, `not_in`).
    Many(Vec<Scalar>),
}

/// `event_type` values compare as their spelling (docs/queries.md); the
/// enum's order is the same (alphabetical), but operands may be any string.
#[inline]
pub(crate) fn norm(v: Value<'_>) -> Value<'_> {
    match v {
        Value::EventType(t) => Value::Str(t.as_str()),
        other => other,
    }
}

impl Pred {
    /// Whether a value satisfies the predicate: the semantics every path
    /// (dictionary resolution, residual checks, buffered rows) shares.
    pub fn matches(&self, v: Value<'_>) -> bool {
        if v.is_null() {
            return self.op == Op::IsNull;
        }
        let v = norm(v);
        let cmp = |s: &Scalar| v.cmp(&s.as_value());
        match (&self.op, &self.arg) {
            (Op::IsNull, _) => false,
            (Op::NotNull, _) => true,
            (Op::Eq, Arg::One(s)) => cmp(s) == Ordering::Equal,
            (Op::Ne, Arg::One(s)) => cmp(s) != Ordering::Equal,
            (Op::Lt, Arg::One(s)) => cmp(s) == Ordering::Less,
            (Op::Le, Arg::One(s)) => cmp(s) != Ordering::Greater,
            (Op::Gt, Arg::One(s)) => cmp(s) == Ordering::Greater,
            (Op::Ge, Arg::One(s)) => cmp(s) != Ordering::Less,
            (Op::In, Arg::Many(list)) => list.binary_search_by(|s| cmp(s).reverse()).is_ok(),
            (Op::NotIn, Arg::Many(list)) => list.binary_search_by(|s| cmp(s).reverse()).is_err(),
            (Op::Contains, Arg::One(Scalar::Str(t))) => {
                matches!(v, Value::Str(s) if s.contains(t.as_str()))
            }
            (Op::StartsWith, Arg::One(Scalar::Str(t))) => {
                matches!(v, Value::Str(s) if s.starts_with(t.as_str()))
            }
            // bind never builds other shapes.
            _ => false,
        }
    }

    /// `matches` for a string value given as bytes (`None`: missing),
    /// with `finder` the predicate's `contains` searcher. Bytewise order is
    /// the contract's string order, and a UTF-8 needle found in UTF-8 bytes
    /// is a match of the strings.
    pub fn matches_bytes(
        &self,
        v: Option<&[u8]>,
        finder: Option<&memchr::memmem::Finder<'_>>,
    ) -> bool {
        let Some(v) = v else {
            return self.op == Op::IsNull;
        };
        let arg = |s: &Scalar| match s {
            Scalar::Str(t) => t.as_bytes().cmp(v).reverse(),
            _ => Ordering::Less,
        };
        match (&self.op, &self.arg) {
            (Op::IsNull, _) => false,
            (Op::NotNull, _) => true,
            (Op::Eq, Arg::One(s)) => arg(s) == Ordering::Equal,
            (Op::Ne, Arg::One(s)) => arg(s) != Ordering::Equal,
            (Op::Lt, Arg::One(s)) => arg(s) == Ordering::Less,
            (Op::Le, Arg::One(s)) => arg(s) != Ordering::Greater,
            (Op::Gt, Arg::One(s)) => arg(s) == Ordering::Greater,
            (Op::Ge, Arg::One(s)) => arg(s) != Ordering::Less,
            (Op::In, Arg::Many(list)) => list.binary_search_by(|s| arg(s).reverse()).is_ok(),
            (Op::NotIn, Arg::Many(list)) => list.binary_search_by(|s| arg(s).reverse()).is_err(),
            (Op::Contains, Arg::One(Scalar::Str(t))) => match finder {
                Some(f) => f.find(v).is_some(),
                None => memchr::memmem::find(v, t.as_bytes()).is_some(),
            },
            (Op::StartsWith, Arg::One(Scalar::Str(t))) => v.starts_with(t.as_bytes()),
            _ => false,
        }
    }

    /// A searcher for a `contains` predicate's needle.
    pub fn finder(&self) -> Option<memchr::memmem::Finder<'_>> {
        match (&self.op, &self.arg) {
            (Op::Contains, Arg::One(Scalar::Str(t))) => {
                Some(memchr::memmem::Finder::new(t.as_bytes()))
            }
            _ => None,
        }
    }

    /// Whether the predicate can hold on a missing value.
    pub fn matches_null(&self) -> bool {
        self.op == Op::IsNull
    }
}

impl std::fmt::Display for Pred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.field, self.op.name())?;
        match &self.arg {
            Arg::None => Ok(()),
            Arg::One(s) => write!(f, " {}", s.to_json()),
            Arg::Many(l) => {
                let items: Vec<_> = l.iter().map(Scalar::to_json).collect();
                write!(f, " {}", serde_json::Value::Array(items))
            }
        }
    }
}

fn bad(part: impl std::fmt::Display, why: impl std::fmt::Display) -> Error {
    Error::InvalidQuery(format!("{part}: {why}"))
}

fn field_named(part: &str, name: &str) -> Result<Field> {
    Field::parse(name).ok_or_else(|| {
        bad(
            part,
            format!("unknown field {name:?} (fields are the contract's, plus event_date)"),
        )
    })
}

/// Parses one operand of `field` from JSON.
/// `part` names the operand in an error; it is built only then (a list
/// may hold hundreds of thousands of operands).
fn operand(
    part: impl Fn() -> String,
    field: Field,
    op: Op,
    j: &serde_json::Value,
) -> Result<Scalar> {
    use serde_json::Value as J;
    let want = |what: &str| bad(part(), format!("{field} takes {what}, got {j}"));
    match field.kind() {
        FieldKind::Str => match j {
            J::String(s) => Ok(Scalar::Str(s.clone())),
            _ => Err(want("a string")),
        },
        FieldKind::EventType => match j {
            J::String(s) => {
                let exact = matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn);
                if exact && EventType::parse(s).is_none() {
                    return Err(bad(part(), EventType::unknown_message(s)));
                }
                Ok(Scalar::Str(s.clone()))
            }
            _ => Err(want("a string")),
        },
        FieldKind::Int => match j.as_u64() {
            Some(n) if n <= MAX_ID => Ok(Scalar::Int(n)),
            _ => Err(want("an integer in 0..=9223372036854775807")),
        },
        FieldKind::Bool => j
            .as_bool()
            .map(Scalar::Bool)
            .ok_or_else(|| want("true or false")),
        FieldKind::Timestamp => match j {
            J::String(s) => parse_rfc3339_ms(s)
                .map(Scalar::Timestamp)
                .map_err(|e| bad(part(), e)),
            _ => Err(want("an RFC 3339 timestamp string")),
        },
        FieldKind::Date => match j {
            J::String(s) => Day::parse(s)
                .map(Scalar::Date)
                .ok_or_else(|| want("a date YYYY-MM-DD")),
            _ => Err(want("a date string YYYY-MM-DD")),
        },
    }
}

fn bind_pred(index: usize, p: &Predicate) -> Result<Pred> {
    let part = format!("where[{index}]");
    let field = field_named(&format!("{part}.field"), &p.field)?;
    let part = format!("where[{index}] ({} {})", p.field, p.op.name());
    let value = p.value.as_ref().filter(|v| !v.is_null());
    let is_text = matches!(field.kind(), FieldKind::Str | FieldKind::EventType);
    let arg = match p.op {
        Op::IsNull | Op::NotNull => match value {
            None => Arg::None,
            Some(_) => return Err(bad(&part, "takes no value")),
        },
        _ if value.is_none() => {
            return Err(bad(
                &part,
                "needs a value (use is_null to match missing values)",
            ));
        }
        Op::Contains | Op::StartsWith if !is_text => {
            return Err(bad(
                &part,
                format!("{} applies to strings; {field} is not one", p.op.name()),
            ));
        }
        Op::In | Op::NotIn => {
            let Some(serde_json::Value::Array(items)) = value else {
                return Err(bad(&part, "takes a list of values"));
            };
            let mut list = items
                .iter()
                .enumerate()
                .map(|(i, j)| operand(|| format!("{part}.value[{i}]"), field, p.op, j))
                .collect::<Result<Vec<_>>>()?;
            list.sort();
            list.dedup();
            Arg::Many(list)
        }
        _ => Arg::One(operand(
            || part.clone(),
            field,
            p.op,
            value.unwrap_or(&serde_json::Value::Null),
        )?),
    };
    Ok(Pred {
        field,
        op: p.op,
        arg,
    })
}

/// Narrows `[from, to)` by a range predicate on `event_timestamp` or
/// `event_date`; returns false if the predicate is not one.
fn fold(p: &Pred, from: &mut i64, to: &mut i64) -> bool {
    let Arg::One(s) = &p.arg else {
        return false;
    };
    // The half-open millisecond range the predicate accepts.
    let (lo, hi) = match (p.field, s) {
        (Field::EventTimestamp, Scalar::Timestamp(t)) => match p.op {
            Op::Eq => (*t, t + 1),
            Op::Lt => (i64::MIN, *t),
            Op::Le => (i64::MIN, t + 1),
            Op::Gt => (t + 1, i64::MAX),
            Op::Ge => (*t, i64::MAX),
            _ => return false,
        },
        (Field::EventDate, Scalar::Date(d)) => match p.op {
            Op::Eq => (d.start_ms(), d.end_ms()),
            Op::Lt => (i64::MIN, d.start_ms()),
            Op::Le => (i64::MIN, d.end_ms()),
            Op::Gt => (d.end_ms(), i64::MAX),
            Op::Ge => (d.start_ms(), i64::MAX),
            _ => return false,
        },
        _ => return false,
    };
    *from = (*from).max(lo);
    *to = (*to).min(hi);
    true
}

/// One bound of a time window (`time.from`, `time.to`, and the command
/// line's `--from` and `--to`), in UTC milliseconds: an RFC 3339 timestamp
/// with an offset is that instant; a date `YYYY-MM-DD` is a whole UTC day,
/// so as a start (`end` false) it is the day's first millisecond and as an
/// end (`end` true, an exclusive bound) the next day's: `from 2026-11-20 to
/// 2026-11-26` is the seven days 20 to 26, both included. The error names
/// the text.
pub fn window_bound(text: &str, end: bool) -> std::result::Result<i64, TimeError> {
    if let Some(day) = Day::parse(text) {
        let ms = if end { day.end_ms() } else { day.start_ms() };
        return if (MIN_TS_MS..=MAX_TS_MS.saturating_add(1)).contains(&ms) {
            Ok(ms)
        } else {
            Err(TimeError(format!("date {text:?} is outside 1970..=9999")))
        };
    }
    let date_like = text.len() == 10 && text.bytes().filter(|b| *b == b'-').count() == 2;
    if date_like {
        return Err(TimeError(format!("not a date YYYY-MM-DD: {text:?}")));
    }
    match chrono::DateTime::parse_from_rfc3339(text) {
        // Parsed: the range check, with its own message.
        Ok(_) => parse_rfc3339_ms(text),
        Err(e) => Err(TimeError(format!(
            "expected a date YYYY-MM-DD or an RFC 3339 timestamp with offset, got {text:?} ({e})"
        ))),
    }
}

/// Checks `q` for a snapshot whose retention starts at `horizon` and whose
/// today is `today`. The parts are checked in document order (window,
/// `where`, `group_by`, `fields`, `select`, `order_by`, `cursor`), so the
/// first fault named is the first one in the query.
pub(crate) fn bind(q: &Query, horizon: Day, today: Day) -> Result<Bound> {
    let (mut from_ms, mut to_ms) = bind_window(q.time.as_ref(), horizon, today)?;
    let (preds, folded) = bind_filters(&q.filters, horizon, &mut from_ms, &mut to_ms)?;
    let group_by = bind_group_by(&q.group_by)?;
    let mut fields = bind_fields(&q.fields)?;
    check_select(q, &fields, &group_by)?;
    if fields.is_empty() {
        fields = Field::ALL.to_vec();
    }
    let order = bind_order(q, &group_by)?;
    let after = match &q.cursor {
        None => None,
        Some(c) => super::cursor::decode(c, &order)?,
    };
    Ok(Bound {
        from_ms,
        to_ms,
        preds,
        folded,
        select: q.select,
        fields,
        group_by,
        order,
        limit: q.limit,
        // A cursor already stands after the skipped rows of the first page:
        // with one, `offset` is not applied again.
        offset: if q.cursor.is_some() {
            0
        } else {
            q.offset.unwrap_or(0)
        },
        after,
    })
}

/// The window `[from, to)` in milliseconds, cut to retention: everything
/// retained when `time` is absent.
fn bind_window(time: Option<&TimeWindow>, horizon: Day, today: Day) -> Result<(i64, i64)> {
    let retained_from = horizon.start_ms();
    match time {
        None => Ok((retained_from, i64::MAX)),
        Some(TimeWindow::LastDays { last_days }) => {
            let max = (today.0 - horizon.0 + 1).max(1);
            if *last_days == 0 || i64::from(*last_days) > i64::from(max) {
                return Err(bad(
                    "time.last_days",
                    format!("{last_days} is outside 1..={max} (the retained days, today included)"),
                ));
            }
            let first = today.add_days(1 - *last_days as i32);
            Ok((first.start_ms(), today.end_ms()))
        }
        Some(TimeWindow::Range { from, to }) => {
            let f = window_bound(from, false).map_err(|e| bad("time.from", e))?;
            let t = window_bound(to, true).map_err(|e| bad("time.to", e))?;
            if f >= t {
                return Err(bad("time", format!("from {from} is not before to {to}")));
            }
            if t <= retained_from {
                // A date `to` is included: the window closes after it.
                let close = if Day::parse(to).is_some() { ']' } else { ')' };
                return Err(bad(
                    "time",
                    format!(
                        "the window [{from}, {to}{close} ends before the retention horizon \
                         {horizon}: older days are dropped"
                    ),
                ));
            }
            Ok((f.max(retained_from), t))
        }
    }
}

/// The predicates of `where`, checked; range predicates on the time
/// fields are folded into `[from_ms, to_ms)` and their indexes returned
/// beside the predicates left.
fn bind_filters(
    filters: &[Predicate],
    horizon: Day,
    from_ms: &mut i64,
    to_ms: &mut i64,
) -> Result<(Vec<Pred>, Vec<usize>)> {
    let retained_from = horizon.start_ms();
    let mut preds = Vec::new();
    let mut folded = Vec::new();
    let mut before_horizon = None;
    for (i, p) in filters.iter().enumerate() {
        let p = bind_pred(i, p)?;
        let to_before = *to_ms;
        if fold(&p, from_ms, to_ms) {
            if *to_ms < to_before && *to_ms <= retained_from {
                before_horizon = Some(i);
            }
            folded.push(i);
        } else {
            preds.push(p);
        }
    }
    // A folded predicate can move the window before retention too: say so
    // as for an explicit window.
    if let Some(i) = before_horizon {
        return Err(bad(
            format!("where[{i}]"),
            format!(
                "selects only times before the retention horizon {horizon}: older days are dropped"
            ),
        ));
    }
    Ok((preds, folded))
}

/// The `group_by` fields; a field listed twice is an error (it would
/// only repeat a column).
fn bind_group_by(names: &[String]) -> Result<Vec<Field>> {
    let mut group_by = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let f = field_named(&format!("group_by[{i}]"), name)?;
        if group_by.contains(&f) {
            return Err(bad(
                format!("group_by[{i}]"),
                format!("{name} is listed twice"),
            ));
        }
        group_by.push(f);
    }
    Ok(group_by)
}

/// The listed `fields`, repeats dropped (empty: all, decided by the
/// caller once `select` is checked).
fn bind_fields(names: &[String]) -> Result<Vec<Field>> {
    let mut fields = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let f = field_named(&format!("fields[{i}]"), name)?;
        if !fields.contains(&f) {
            fields.push(f);
        }
    }
    Ok(fields)
}

/// The parts that apply to one `select` only are not given to the other,
/// and a count groups by at most [`MAX_GROUP_FIELDS`] fields.
fn check_select(q: &Query, fields: &[Field], group_by: &[Field]) -> Result<()> {
    match q.select {
        Select::Count if !fields.is_empty() => {
            return Err(bad(
                "fields",
                "applies to select \"events\"; use group_by for counts",
            ));
        }
        Select::Events if !group_by.is_empty() => {
            return Err(bad("group_by", "applies to select \"count\""));
        }
        Select::Count if q.cursor.is_some() => {
            return Err(bad(
                "cursor",
                "applies to select \"events\"; counts page with offset",
            ));
        }
        _ => {}
    }
    if group_by.len() > MAX_GROUP_FIELDS {
        return Err(bad(
            "group_by",
            format!("at most {MAX_GROUP_FIELDS} fields, got {}", group_by.len()),
        ));
    }
    Ok(())
}

/// The full sort order: the `order_by` keys, then the tie-breaks that
/// make it total (see [`Bound::order`]), each key once.
fn bind_order(q: &Query, group_by: &[Field]) -> Result<Vec<(SortKey, bool)>> {
    let mut order = Vec::new();
    for (i, (name, dir)) in q.order_by.iter().enumerate() {
        let key = sort_key(&format!("order_by[{i}]"), q.select, name, group_by)?;
        order.push((key, *dir == Direction::Desc));
    }
    match q.select {
        Select::Count => {
            for f in group_by {
                order.push((SortKey::Field(*f), false));
            }
        }
        Select::Events => {
            if order.is_empty() {
                order.push((SortKey::Field(Field::EventTimestamp), true));
            }
            // An event's identity, unique in a store: the same event_id
            // may be stored once per company (docs/event-format.md,
            // "Duplicates"), so the order is total and paging stable.
            order.push((SortKey::Field(Field::EventId), false));
            order.push((SortKey::Field(Field::CompanyName), false));
        }
    }
    // A key already sorted on decides nothing later: drop repeats.
    let mut seen = Vec::new();
    order.retain(|(k, _)| {
        let new = !seen.contains(k);
        seen.push(*k);
        new
    });
    Ok(order)
}

/// One `order_by` key: `count` (of a count), a group field (of a count),
/// or any field (of a listing).
fn sort_key(part: &str, select: Select, name: &str, group_by: &[Field]) -> Result<SortKey> {
    match (select, name) {
        (Select::Count, "count") => Ok(SortKey::Count),
        (Select::Events, "count") => Err(bad(part, "count is a column of select \"count\" only")),
        (Select::Count, n) => {
            let f = field_named(part, n)?;
            if !group_by.contains(&f) {
                return Err(bad(part, format!("{n} is not in group_by")));
            }
            Ok(SortKey::Field(f))
        }
        (Select::Events, n) => Ok(SortKey::Field(field_named(part, n)?)),
    }
}
