//! A naive full-scan oracle for report queries, written from the query
//! specification alone (it shares no code with `daybook::query` beyond the
//! public model types and `Scalar`): every query is answered by filtering a
//! plain list of the stored events, grouping with a hash map and sorting
//! with a hand-written comparator.
//!
//! A rejected query is reported as the part of it at fault (`"time"`,
//! `"where[1]"`, `"group_by[0]"`, ...; [`Fail`]): the engine's message must
//! name it. Besides the specification's window errors, a time predicate
//! (`eq`/`lt`/`le` on `event_timestamp` or `event_date`) that only holds
//! before the retention horizon is an error at that predicate, as the
//! engine decided (commit cc22bfc: "a folded predicate before retention is
//! an error like a window").

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use daybook::query::{Direction, Op, Query, Scalar, Select, TimeWindow};
use daybook::{
    Day, Engine, Event, EventType, Field, FieldKind, ManualClock, Options, QueryResult, Value,
};

/// Largest id the contract allows.
const MAX_ID: u64 = i64::MAX as u64;
const MS_PER_DAY: i64 = 86_400_000;
/// Most fields a count may group by.
const MAX_GROUP_FIELDS: usize = 8;

/// What the oracle puts in `next_cursor`: only its presence is compared.
pub const CURSOR_MARK: &str = "<oracle cursor>";

/// The stored events, as the engine should hold them.
#[derive(Clone, Debug, Default)]
pub struct Oracle {
    events: Vec<Event>,
    /// Identities stored: (`company_name`, `event_id`).
    ids: HashSet<(String, String)>,
}

/// An oracle answer.
#[derive(Clone, Debug)]
pub struct Answer {
    /// `next_cursor` is [`CURSOR_MARK`] when a next page exists.
    pub result: QueryResult,
    /// For listings: the full sort key of the last row returned, to ask the
    /// oracle for the next page.
    pub last_key: Option<Vec<Scalar>>,
    /// For listings: every matching row after the cursor (before offset and
    /// limit), in order.
    pub all_rows: Vec<Vec<Scalar>>,
}

/// A comparable operand or event value. `event_type` is its spelling.
#[derive(Clone, Debug, PartialEq, Eq)]
enum V {
    Str(String),
    Int(u64),
    Bool(bool),
    Ts(i64),
    Date(i32),
}

impl V {
    fn of(v: Value<'_>) -> Option<V> {
        Some(match v {
            Value::Null => return None,
            Value::Bool(b) => V::Bool(b),
            Value::Int(n) => V::Int(n),
            Value::Timestamp(t) => V::Ts(t),
            Value::Date(d) => V::Date(d.0),
            Value::EventType(t) => V::Str(t.as_str().to_string()),
            Value::Str(s) => V::Str(s.to_string()),
        })
    }

    fn cmp(&self, o: &V) -> Ordering {
        match (self, o) {
            (V::Str(a), V::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            (V::Int(a), V::Int(b)) => a.cmp(b),
            (V::Bool(a), V::Bool(b)) => a.cmp(b),
            (V::Ts(a), V::Ts(b)) => a.cmp(b),
            (V::Date(a), V::Date(b)) => a.cmp(b),
            (a, b) => panic!("oracle: comparing {a:?} with {b:?}"),
        }
    }
}

/// A checked predicate.
struct P {
    field: Field,
    op: Op,
    one: Option<V>,
    many: Vec<V>,
}

impl P {
    fn holds(&self, e: &Event) -> bool {
        let Some(v) = V::of(e.get(self.field)) else {
            return self.op == Op::IsNull;
        };
        let one = || self.one.as_ref().expect("operand");
        match self.op {
            Op::IsNull => false,
            Op::NotNull => true,
            Op::Eq => v.cmp(one()) == Ordering::Equal,
            Op::Ne => v.cmp(one()) != Ordering::Equal,
            Op::Lt => v.cmp(one()) == Ordering::Less,
            Op::Le => v.cmp(one()) != Ordering::Greater,
            Op::Gt => v.cmp(one()) == Ordering::Greater,
            Op::Ge => v.cmp(one()) != Ordering::Less,
            Op::In => self.many.iter().any(|m| v.cmp(m) == Ordering::Equal),
            Op::NotIn => self.many.iter().all(|m| v.cmp(m) != Ordering::Equal),
            Op::Contains | Op::StartsWith => {
                let (V::Str(s), Some(V::Str(t))) = (&v, &self.one) else {
                    panic!("oracle: string op on {v:?}");
                };
                if self.op == Op::Contains {
                    s.contains(t.as_str())
                } else {
                    s.starts_with(t.as_str())
                }
            }
        }
    }
}

/// Compares two result values of one field: missing lowest, strings
/// bytewise, event types by spelling, the rest by value.
pub fn cmp_scalar(a: &Scalar, b: &Scalar) -> Ordering {
    match (a, b) {
        (Scalar::Null, Scalar::Null) => Ordering::Equal,
        (Scalar::Null, _) => Ordering::Less,
        (_, Scalar::Null) => Ordering::Greater,
        (Scalar::Str(x), Scalar::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Scalar::EventType(x), Scalar::EventType(y)) => x.as_str().cmp(y.as_str()),
        (Scalar::Int(x), Scalar::Int(y)) => x.cmp(y),
        (Scalar::Bool(x), Scalar::Bool(y)) => x.cmp(y),
        (Scalar::Timestamp(x), Scalar::Timestamp(y)) => x.cmp(y),
        (Scalar::Date(x), Scalar::Date(y)) => x.0.cmp(&y.0),
        (x, y) => panic!("oracle: comparing {x:?} with {y:?}"),
    }
}

/// Compares two sort keys, key by key, each under its direction.
fn cmp_key(dirs: &[bool], a: &[Scalar], b: &[Scalar]) -> Ordering {
    for ((desc, x), y) in dirs.iter().zip(a).zip(b) {
        let o = cmp_scalar(x, y);
        let o = if *desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// A rejected query: the parts of it the error may name (any one of
/// them: when several predicates are at fault, the engine names one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fail(pub Vec<String>);

impl Fail {
    fn at(part: impl Into<String>) -> Fail {
        Fail(vec![part.into()])
    }

    /// Whether an error message names one of the parts.
    pub fn named_by(&self, msg: &str) -> bool {
        self.0.iter().any(|p| msg.contains(p.as_str()))
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" or "))
    }
}

fn operand(field: Field, op: Op, j: &serde_json::Value) -> Result<V, ()> {
    match field.kind() {
        FieldKind::Str => j.as_str().map(|s| V::Str(s.to_string())).ok_or(()),
        FieldKind::EventType => {
            let s = j.as_str().ok_or(())?;
            // Exact matches must name a real type; orderings and substring
            // tests take any string (the type compares by its spelling).
            if matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn)
                && !EventType::ALL.iter().any(|t| t.as_str() == s)
            {
                return Err(());
            }
            Ok(V::Str(s.to_string()))
        }
        FieldKind::Int => match j.as_u64() {
            Some(n) if n <= MAX_ID => Ok(V::Int(n)),
            _ => Err(()),
        },
        FieldKind::Bool => j.as_bool().map(V::Bool).ok_or(()),
        FieldKind::Timestamp => j.as_str().and_then(parse_ts).map(V::Ts).ok_or(()),
        FieldKind::Date => j
            .as_str()
            .and_then(parse_date)
            .map(|d| V::Date(d.0))
            .ok_or(()),
    }
}

fn check_pred(i: usize, p: &daybook::query::Predicate) -> Result<P, Fail> {
    let part = Fail::at(format!("where[{i}]"));
    let field = field_named(&p.field).ok_or_else(|| part.clone())?;
    let value = p.value.as_ref().filter(|v| !v.is_null());
    let text = matches!(field.kind(), FieldKind::Str | FieldKind::EventType);
    let mut out = P {
        field,
        op: p.op,
        one: None,
        many: Vec::new(),
    };
    match p.op {
        Op::IsNull | Op::NotNull => {
            if value.is_some() {
                return Err(part);
            }
        }
        _ if value.is_none() => return Err(part),
        Op::Contains | Op::StartsWith if !text => return Err(part),
        Op::In | Op::NotIn => {
            let Some(serde_json::Value::Array(items)) = value else {
                return Err(part);
            };
            for j in items {
                out.many
                    .push(operand(field, p.op, j).map_err(|_| part.clone())?);
            }
        }
        _ => {
            let j = value.expect("checked");
            out.one = Some(operand(field, p.op, j).map_err(|_| part.clone())?);
        }
    }
    Ok(out)
}

/// For `eq`/`lt`/`le` on `event_timestamp` or `event_date`: the end
/// (exclusive, in UTC milliseconds) of the times the predicate accepts.
fn upper_bound(p: &P) -> Option<i64> {
    match (p.field, p.op, &p.one) {
        (Field::EventTimestamp, Op::Eq | Op::Le, Some(V::Ts(t))) => Some(t + 1),
        (Field::EventTimestamp, Op::Lt, Some(V::Ts(t))) => Some(*t),
        (Field::EventDate, Op::Eq | Op::Le, Some(V::Date(d))) => {
            Some((i64::from(*d) + 1) * MS_PER_DAY)
        }
        (Field::EventDate, Op::Lt, Some(V::Date(d))) => Some(i64::from(*d) * MS_PER_DAY),
        _ => None,
    }
}

impl Oracle {
    pub fn new() -> Oracle {
        Oracle::default()
    }

    /// Stores a batch of valid, retained events: the first copy of each
    /// (company, id) wins. Returns (stored, duplicates).
    pub fn append(&mut self, batch: &[Event]) -> (usize, usize) {
        let (mut stored, mut dups) = (0, 0);
        for e in batch {
            if self
                .ids
                .insert((e.company_name.clone(), e.event_id.clone()))
            {
                self.events.push(e.clone());
                stored += 1;
            } else {
                dups += 1;
            }
        }
        (stored, dups)
    }

    /// Every stored event, retained or not.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Answers `q` as of `now_ms` with `retention_days` of retention. For
    /// listings, `after` is the sort key of the last row of the previous
    /// page (what the engine's cursor stands for); `q.cursor` itself is
    /// only checked for being allowed.
    pub fn query(
        &self,
        q: &Query,
        now_ms: i64,
        retention_days: u32,
        after: Option<&[Scalar]>,
    ) -> Result<Answer, Fail> {
        let today = Day::of_ms(now_ms);
        let horizon = today.add_days(1 - retention_days as i32);
        let retained_from = i64::from(horizon.0) * MS_PER_DAY;

        // The window.
        let (from, to) = match &q.time {
            None => (retained_from, i64::MAX),
            Some(TimeWindow::LastDays { last_days }) => {
                if *last_days == 0 || *last_days > retention_days {
                    return Err(Fail::at("time"));
                }
                let first = today.add_days(1 - *last_days as i32);
                (
                    i64::from(first.0) * MS_PER_DAY,
                    i64::from(today.0 + 1) * MS_PER_DAY,
                )
            }
            Some(TimeWindow::Range { from, to }) => {
                let f = parse_ts(from).ok_or_else(|| Fail::at("time.from"))?;
                let t = parse_ts(to).ok_or_else(|| Fail::at("time.to"))?;
                if f >= t || t <= retained_from {
                    return Err(Fail::at("time"));
                }
                (f, t)
            }
        };

        // Predicates.
        let preds = q
            .filters
            .iter()
            .enumerate()
            .map(|(i, p)| check_pred(i, p))
            .collect::<Result<Vec<_>, _>>()?;

        // A time predicate that only holds before the horizon is an error,
        // like a window that ends there.
        let at_fault: Vec<String> = preds
            .iter()
            .enumerate()
            .filter(|(_, p)| upper_bound(p).is_some_and(|ub| ub <= retained_from))
            .map(|(i, _)| format!("where[{i}]"))
            .collect();
        if !at_fault.is_empty() {
            return Err(Fail(at_fault));
        }

        // Shape.
        let mut group_by: Vec<Field> = Vec::new();
        for (i, name) in q.group_by.iter().enumerate() {
            let f = field_named(name).ok_or_else(|| Fail::at(format!("group_by[{i}]")))?;
            if group_by.contains(&f) {
                return Err(Fail::at(format!("group_by[{i}]")));
            }
            group_by.push(f);
        }
        let mut fields: Vec<Field> = Vec::new();
        for (i, name) in q.fields.iter().enumerate() {
            let f = field_named(name).ok_or_else(|| Fail::at(format!("fields[{i}]")))?;
            if !fields.contains(&f) {
                fields.push(f);
            }
        }
        match q.select {
            Select::Count if !fields.is_empty() => return Err(Fail::at("fields")),
            Select::Events if !group_by.is_empty() => return Err(Fail::at("group_by")),
            Select::Count if q.cursor.is_some() => return Err(Fail::at("cursor")),
            _ => {}
        }
        if group_by.len() > MAX_GROUP_FIELDS {
            return Err(Fail::at("group_by"));
        }
        // Sort keys: None = count.
        let mut keys: Vec<(Option<Field>, bool)> = Vec::new();
        for (i, (name, dir)) in q.order_by.iter().enumerate() {
            let desc = *dir == Direction::Desc;
            let part = Fail::at(format!("order_by[{i}]"));
            match q.select {
                Select::Count if name == "count" => keys.push((None, desc)),
                Select::Count => {
                    let f = field_named(name).ok_or_else(|| part.clone())?;
                    if !group_by.contains(&f) {
                        return Err(part);
                    }
                    keys.push((Some(f), desc));
                }
                Select::Events => {
                    let f = field_named(name).ok_or(part)?;
                    keys.push((Some(f), desc));
                }
            }
        }

        // The scan.
        let hits: Vec<&Event> = self
            .events
            .iter()
            .filter(|e| e.day() >= horizon)
            .filter(|e| (from..to).contains(&e.event_timestamp_ms))
            .filter(|e| preds.iter().all(|p| p.holds(e)))
            .collect();
        let matched = hits.len() as u64;
        let offset = q.offset.unwrap_or(0) as usize;
        let limit = q.limit.map_or(usize::MAX, |l| l as usize);

        match q.select {
            Select::Count => {
                let mut columns: Vec<String> =
                    group_by.iter().map(|f| f.name().to_string()).collect();
                columns.push("count".into());
                let mut rows: Vec<Vec<Scalar>> = if group_by.is_empty() {
                    vec![vec![Scalar::Int(matched)]]
                } else {
                    let mut groups: HashMap<Vec<Scalar>, u64> = HashMap::new();
                    for e in &hits {
                        let key: Vec<Scalar> =
                            group_by.iter().map(|f| Scalar::from(e.get(*f))).collect();
                        *groups.entry(key).or_insert(0) += 1;
                    }
                    groups
                        .into_iter()
                        .map(|(mut k, n)| {
                            k.push(Scalar::Int(n));
                            k
                        })
                        .collect()
                };
                let n = group_by.len();
                let pos = |f: Field| group_by.iter().position(|g| *g == f).expect("in group_by");
                let mut order: Vec<(usize, bool)> = keys
                    .iter()
                    .map(|(k, desc)| (k.map_or(n, pos), *desc))
                    .collect();
                order.extend((0..n).map(|i| (i, false)));
                rows.sort_by(|a, b| {
                    for (i, desc) in &order {
                        let o = cmp_scalar(&a[*i], &b[*i]);
                        let o = if *desc { o.reverse() } else { o };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    Ordering::Equal
                });
                let rows = rows.into_iter().skip(offset).take(limit).collect();
                Ok(Answer {
                    result: QueryResult {
                        columns,
                        rows,
                        matched_events: Some(matched),
                        next_cursor: None,
                    },
                    last_key: None,
                    all_rows: Vec::new(),
                })
            }
            Select::Events => {
                if fields.is_empty() {
                    fields = Field::ALL.to_vec();
                }
                let mut order: Vec<(Field, bool)> =
                    keys.iter().map(|(f, d)| (f.expect("field"), *d)).collect();
                if order.is_empty() {
                    order.push((Field::EventTimestamp, true));
                }
                order.push((Field::EventId, false));
                order.push((Field::CompanyName, false));
                let dirs: Vec<bool> = order.iter().map(|(_, d)| *d).collect();
                let mut listed: Vec<(Vec<Scalar>, &Event)> = hits
                    .iter()
                    .map(|e| {
                        let k = order.iter().map(|(f, _)| Scalar::from(e.get(*f))).collect();
                        (k, *e)
                    })
                    .collect();
                listed.sort_by(|a, b| cmp_key(&dirs, &a.0, &b.0));
                if let Some(after) = after {
                    listed.retain(|(k, _)| cmp_key(&dirs, k, after) == Ordering::Greater);
                }
                let row = |e: &Event| -> Vec<Scalar> {
                    fields.iter().map(|f| Scalar::from(e.get(*f))).collect()
                };
                let all_rows: Vec<Vec<Scalar>> = listed.iter().map(|(_, e)| row(e)).collect();
                let page: Vec<&(Vec<Scalar>, &Event)> =
                    listed.iter().skip(offset).take(limit).collect();
                let more = q.limit.is_some() && listed.len() > offset.saturating_add(limit);
                // A limited listing by time with a predicate on a
                // block-compressed field stops at its page: not counted.
                let stops_early = q.limit.is_some()
                    && order.first().map(|(f, _)| *f) == Some(Field::EventTimestamp)
                    && q.filters
                        .iter()
                        .any(|p| matches!(p.field.as_str(), "event_id" | "url" | "object_id"));
                Ok(Answer {
                    result: QueryResult {
                        columns: fields.iter().map(|f| f.name().to_string()).collect(),
                        rows: page.iter().map(|(_, e)| row(e)).collect(),
                        matched_events: (!stops_early).then_some(matched),
                        next_cursor: more.then(|| CURSOR_MARK.to_string()),
                    },
                    last_key: page.last().map(|(k, _)| k.clone()),
                    all_rows,
                })
            }
        }
    }
}

/// The engine's answer in the oracle's terms: the cursor only as present or
/// not.
pub fn comparable(mut r: QueryResult) -> QueryResult {
    if r.next_cursor.is_some() {
        r.next_cursor = Some(CURSOR_MARK.to_string());
    }
    r
}

/// Formats UTC milliseconds as RFC 3339 at a UTC offset of `offset_min`
/// minutes, with milliseconds, and with an extra sub-millisecond digit
/// (dropped when parsed) if `extra_digit`.
pub fn fmt_ts(ms: i64, offset_min: i32, extra_digit: bool) -> String {
    let local = ms + i64::from(offset_min) * 60_000;
    let (y, m, d) = civil_from_days(local.div_euclid(MS_PER_DAY));
    let rem = local.rem_euclid(MS_PER_DAY);
    let (h, mi, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    let extra = if extra_digit { "9" } else { "" };
    let off = if offset_min == 0 {
        "Z".to_string()
    } else {
        let sign = if offset_min < 0 { '-' } else { '+' };
        let a = offset_min.abs();
        format!("{sign}{:02}:{:02}", a / 60, a % 60)
    };
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}{extra}{off}")
}

/// The field of a contract name (docs/event-format.md, in contract order),
/// from the oracle's own list rather than the library's parser.
fn field_named(name: &str) -> Option<Field> {
    const NAMES: [&str; 26] = [
        "event_id",
        "event_timestamp",
        "event_date",
        "event_type",
        "event_name",
        "event_subtype",
        "tool_name",
        "company_name",
        "project_name",
        "project_number",
        "project_is_demo",
        "object_id",
        "url",
        "device_type",
        "is_api",
        "user_id",
        "user_email",
        "user_login_email",
        "user_name",
        "user_job_title",
        "user_role",
        "user_type",
        "user_default_permission_template",
        "user_is_active",
        "user_is_authorized_bidder",
        "user_last_login_date",
    ];
    let i = NAMES.iter().position(|n| *n == name)?;
    Field::ALL.get(i).copied()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of
/// `civil_from_days`); `None` for a month or day that does not exist.
fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let last = *month_days.get(usize::try_from(m - 1).ok()?)?;
    if !(1..=last).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The digits `s[at..at + n]` as a number; `None` if any is not a digit.
fn digits(s: &[u8], at: usize, n: usize) -> Option<i64> {
    let part = s.get(at..at + n)?;
    part.iter().try_fold(0i64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// A `YYYY-MM-DD` date, written from the contract (not the library's
/// parser).
fn parse_date(s: &str) -> Option<Day> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let days = days_from_civil(digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?)?;
    Some(Day(i32::try_from(days).ok()?))
}

/// An RFC 3339 `date-time` (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`)
/// as UTC milliseconds, sub-millisecond digits truncated, years 1970 to
/// 9999: the contract's rule, written here from RFC 3339 section 5.6
/// rather than shared with the library's parser.
fn parse_ts(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let date = parse_date(s.get(..10)?)?;
    if !matches!(b.get(10), Some(b'T' | b't'))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let (h, mi, sec) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let mut at = 19;
    let mut milli = 0i64;
    if b.get(at) == Some(&b'.') {
        let start = at + 1;
        at = start;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
        for k in 0..3 {
            milli = milli * 10
                + b.get(start + k)
                    .filter(|_| start + k < at)
                    .map_or(0, |d| i64::from(d - b'0'));
        }
    }
    let offset_min = match b.get(at..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (digits(b, at + 1, 2)?, digits(b, at + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let m = oh * 60 + om;
            if *sign == b'-' { -m } else { m }
        }
        _ => return None,
    };
    let ms = i64::from(date.0) * MS_PER_DAY + ((h * 60 + mi) * 60 + sec) * 1000 + milli
        - offset_min * 60_000;
    (0..=253_402_300_799_999).contains(&ms).then_some(ms)
}

/// (year, month, day) of a count of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// For the oracle's own test (tests/query.rs).
pub fn field_named_for_test(name: &str) -> Option<Field> {
    field_named(name)
}

/// For the oracle's own test (tests/query.rs).
pub fn parse_ts_for_test(s: &str) -> Option<i64> {
    parse_ts(s)
}

/// Options for a test that compares the engine with the oracle in states
/// it chooses itself (buffered, sealed, compacted, reopened): everything
/// stays buffered until the test flushes, and nothing merges unless the
/// test compacts (no seal-time compaction, no settling thread).
pub fn state_options(c: &ManualClock) -> Options {
    Options {
        clock: std::sync::Arc::new(c.clone()),
        max_buffered_events: 1 << 20,
        compact_min_segments: 0,
        settle_after_ms: 0,
        ..Options::default()
    }
}

/// Appends `batch` to the engine and the oracle; the engine must store and
/// drop as duplicates exactly what the oracle does, and reject nothing.
pub fn append_both(engine: &Engine, oracle: &mut Oracle, batch: &[Event]) -> Result<(), String> {
    let want = oracle.append(batch);
    let r = engine.append(batch.to_vec()).map_err(|e| e.to_string())?;
    if !r.rejected.is_empty() {
        return Err(format!("rejected: {:?}", r.rejected));
    }
    if (r.stored, r.duplicates) != want {
        return Err(format!(
            "stored, duplicates: {:?}, oracle {want:?}",
            (r.stored, r.duplicates)
        ));
    }
    Ok(())
}

/// Runs every query of `qs` on the engine and on the oracle (at `now_ms`,
/// keeping `retention_days`): equal answers, or an error naming the state,
/// the query and both answers.
pub fn check_queries(
    engine: &Engine,
    oracle: &Oracle,
    now_ms: i64,
    retention_days: u32,
    qs: &[Query],
    state: &str,
) -> Result<(), String> {
    for q in qs {
        let want = oracle
            .query(q, now_ms, retention_days, None)
            .map_err(|e| format!("oracle rejects {}: {e:?}", q.to_json()))?;
        let got = engine
            .query(q)
            .map_err(|e| format!("[{state}] {e}; query {}", q.to_json()))?;
        let got = comparable(got);
        if got != want.result {
            return Err(format!(
                "[{state}] query {}\n got: {got:?}\nwant: {:?}",
                q.to_json(),
                want.result
            ));
        }
    }
    Ok(())
}
