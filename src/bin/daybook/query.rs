//! `daybook query` and `daybook explain`: a query from its JSON document or
//! from readable flags, printed as an aligned table or for machines.

use std::io::{IsTerminal, Read, Write};
use std::time::Instant;

use clap::{Args, ValueEnum};
use daybook::query::Predicate;
use daybook::query::window_bound;
use daybook::time::format_ms;
use daybook::{
    Direction, Explain, Field, FieldKind, Op, Query, QueryOptions, QueryResult, Scalar, Select,
    Snapshot,
};

use crate::{Failure, usage};

#[derive(Args, Clone, Debug)]
pub struct QueryArgs {
    /// The query as its JSON document (docs/queries.md): a file, or - for
    /// standard input. Flags below add to it; --last, --from and --to
    /// replace its time.
    #[arg(long)]
    json: Option<String>,
    /// The last N UTC days, today included: `7d` or `7`. Not with --from
    /// or --to.
    #[arg(long)]
    last: Option<String>,
    /// Window start, included: a date (2026-11-20: from its start, UTC) or
    /// an RFC 3339 timestamp. Alone: from then on.
    #[arg(long)]
    from: Option<String>,
    /// Window end: a date, included (2026-11-26: through its end, UTC), or
    /// an RFC 3339 timestamp, excluded. Alone: everything retained before.
    #[arg(long)]
    to: Option<String>,
    /// A predicate, e.g. 'tool_name = RFIs' (or tool_name=RFIs),
    /// 'event_type in (Delete, Export)', 'url contains /rfis/',
    /// 'project_name is null'; operators as in SQL or as in a query document
    /// (eq, not_in, not_null, ...). Repeatable (ANDed).
    #[arg(long = "where", value_name = "PREDICATE")]
    filters: Vec<String>,
    /// Group-by fields, comma-separated.
    #[arg(long, value_delimiter = ',')]
    group_by: Vec<String>,
    /// Sort keys: `field` or `field:asc|desc` (or `count:desc`), comma-separated.
    #[arg(long, value_delimiter = ',')]
    order_by: Vec<String>,
    /// At most this many rows.
    #[arg(long)]
    limit: Option<u64>,
    /// Skip this many rows first (counts; listings page with --cursor).
    #[arg(long)]
    offset: Option<u64>,
    /// List events instead of counting.
    #[arg(long)]
    events: bool,
    /// For --events: the fields to show, comma-separated.
    #[arg(long, value_delimiter = ',')]
    fields: Vec<String>,
    /// Continue a listing after the page that printed this cursor.
    #[arg(long)]
    cursor: Option<String>,
    /// Benchmarking: run the query this many more times after the first
    /// (a warm-up) and print `timing: runs=N median_ms=M min_ms=M` on
    /// standard error.
    #[arg(long, default_value_t = 0)]
    repeat: u32,
    /// The query's memory budget, bytes (default 2 GiB); a query that needs
    /// more is refused (exit 3).
    #[arg(long)]
    max_memory_bytes: Option<u64>,
    /// Output format (default: table on a terminal, jsonl when piped).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Jsonl,
}

/// The operators `--where` takes: SQL's symbols and phrases, and the query
/// document's names (docs/queries.md), in any case. A symbol needs no
/// spaces around it (`tool_name=RFIs`); a word ends at a space, `(` or the
/// end. Where one is the start of another, the longer comes first.
const WHERE_OPS: [(&str, Op); 23] = [
    ("!=", Op::Ne),
    ("<>", Op::Ne),
    ("<=", Op::Le),
    (">=", Op::Ge),
    ("==", Op::Eq),
    ("=", Op::Eq),
    ("<", Op::Lt),
    (">", Op::Gt),
    ("is not null", Op::NotNull),
    ("is null", Op::IsNull),
    ("not in", Op::NotIn),
    ("not_null", Op::NotNull),
    ("is_null", Op::IsNull),
    ("not_in", Op::NotIn),
    ("starts_with", Op::StartsWith),
    ("contains", Op::Contains),
    ("in", Op::In),
    ("eq", Op::Eq),
    ("ne", Op::Ne),
    ("lt", Op::Lt),
    ("le", Op::Le),
    ("gt", Op::Gt),
    ("ge", Op::Ge),
];

/// What an unknown operator's message lists.
const OPS_HELP: &str = "=, !=, <, <=, >, >=, in (a, b), not in (a, b), contains, starts_with, \
                        is null, is not null (or as in a query document: eq, ne, lt, le, gt, ge, \
                        in, not_in, contains, starts_with, is_null, not_null)";

/// The length of the start of `text` that is the operator `name`: its
/// words in any case, with one or more spaces between them, and a word
/// ending where a word may.
fn op_len(text: &str, name: &str) -> Option<usize> {
    let mut at = 0;
    for (i, word) in name.split(' ').enumerate() {
        if i > 0 {
            let spaces = text[at..].len() - text[at..].trim_start().len();
            if spaces == 0 {
                return None;
            }
            at += spaces;
        }
        let rest = text.get(at..at + word.len())?;
        if !rest.eq_ignore_ascii_case(word) {
            return None;
        }
        at += word.len();
    }
    let wordy = name.starts_with(|c: char| c.is_ascii_alphabetic());
    let ends = text[at..]
        .chars()
        .next()
        .is_none_or(|c| c.is_whitespace() || c == '(');
    (!wordy || ends).then_some(at)
}

/// The field name at the start of a `--where`, checked: an unknown one gets
/// the closest names.
fn where_field(name: &str, text: &str) -> Result<Field, String> {
    if let Some(f) = Field::parse(name) {
        return Ok(f);
    }
    let names = Field::ALL.map(Field::name);
    let hint = match daybook::query::values::closest(name, names, 3).as_slice() {
        [] => format!("fields: {}", names.join(", ")),
        close => format!("did you mean {}?", one_of(close)),
    };
    Err(format!("--where {text:?}: unknown field {name:?} ({hint})"))
}

/// `a`, `a or b`, `a, b or c`.
fn one_of(items: &[&str]) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// Splits a list's inside at commas outside quotes.
fn list_items(inner: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut quote = None;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, ',') => {
                items.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(inner[start..].trim());
    items.retain(|s| !s.is_empty());
    items
}

/// Splits `field op value` into the query model's predicate. Spaces around
/// a symbol are optional (`tool_name=RFIs`); a value may be quoted.
pub fn parse_where(text: &str) -> Result<Predicate, String> {
    let t = text.trim();
    let name_len = t
        .find(|c: char| c.is_whitespace() || "=!<>(".contains(c))
        .unwrap_or(t.len());
    let (name, rest) = t.split_at(name_len);
    if name.is_empty() {
        return Err(format!(
            "--where {text:?}: expected `field op value`, e.g. 'tool_name = RFIs'"
        ));
    }
    let f = where_field(name, text)?;
    let rest = rest.trim_start();
    let Some((op_name, op, len)) = WHERE_OPS
        .iter()
        .find_map(|(n, op)| op_len(rest, n).map(|len| (*n, *op, len)))
    else {
        let got = rest.split_whitespace().next().unwrap_or_default();
        let got = if got.is_empty() {
            "none".to_string()
        } else {
            format!("{got:?}")
        };
        return Err(format!(
            "--where {text:?}: unknown operator {got} after {name}; use one of {OPS_HELP}"
        ));
    };
    let operand = rest[len..].trim();
    let value = match op {
        Op::IsNull | Op::NotNull => {
            if !operand.is_empty() {
                return Err(format!("--where {text:?}: {op_name} takes no value"));
            }
            None
        }
        Op::In | Op::NotIn => {
            let inner = operand
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| format!("--where {text:?}: {op_name} takes a list: (a, b, c)"))?;
            let items = list_items(inner)
                .into_iter()
                .map(|s| typed(f, s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("--where {text:?}: {e}"))?;
            Some(serde_json::Value::Array(items))
        }
        _ if operand.is_empty() => {
            return Err(format!(
                "--where {text:?}: {op_name} takes a value (is null matches missing values)"
            ));
        }
        _ => Some(typed(f, operand).map_err(|e| format!("--where {text:?}: {e}"))?),
    };
    Ok(Predicate {
        field: f.name().into(),
        op,
        value,
    })
}

/// A flag's text as the JSON value the field takes.
fn typed(field: Field, s: &str) -> Result<serde_json::Value, String> {
    let unquoted = s
        .strip_prefix('\'')
        .and_then(|x| x.strip_suffix('\''))
        .or_else(|| s.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
        .unwrap_or(s);
    Ok(match field.kind() {
        FieldKind::Int => serde_json::Value::from(
            unquoted
                .parse::<u64>()
                .map_err(|_| format!("{field} takes an integer, got {s:?}"))?,
        ),
        FieldKind::Bool => match unquoted {
            "true" => serde_json::Value::Bool(true),
            "false" => serde_json::Value::Bool(false),
            _ => return Err(format!("{field} takes true or false, got {s:?}")),
        },
        _ => serde_json::Value::String(unquoted.to_string()),
    })
}

/// The earliest time the engine holds: `--to` alone starts here (and is
/// cut to retention like any window).
const EPOCH: &str = "1970-01-01T00:00:00Z";

/// Sets the window and adds the `--where` predicates: shared by `query`,
/// `explain` and `export`. The window flags replace a query document's
/// `time`: `--last N` the last N days; `--from A --to B` from A to B, with
/// a date a whole UTC day (`--to 2026-11-30` includes the 30th; see
/// `window_bound`); `--from A` alone from A on, as the folded predicate
/// `event_timestamp ge A`; `--to B` alone everything retained up to B.
pub fn window_and_filters(
    mut q: Query,
    last: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    filters: &[String],
) -> Result<Query, Failure> {
    let bound = |flag: &str, text: &str, end: bool| {
        window_bound(text, end).map_err(|e| usage(format!("{flag}: {e}")))
    };
    if let Some(last) = last {
        if let Some((flag, v)) = from.map(|v| ("--from", v)).or(to.map(|v| ("--to", v))) {
            return Err(usage(format!(
                "--last {last} and {flag} {v} both set the window: give --last, or --from and --to"
            )));
        }
        let n: u32 = last.trim_end_matches('d').parse().map_err(|_| {
            usage(format!(
                "--last {last:?}: expected a number of days, e.g. 7d"
            ))
        })?;
        q = q.last_days(n);
    }
    for w in filters {
        q.filters.push(parse_where(w).map_err(usage)?);
    }
    match (from, to) {
        (Some(f), Some(t)) => {
            bound("--from", f, false)?;
            bound("--to", t, true)?;
            q = q.between(f, t);
        }
        (Some(f), None) => {
            let ms = bound("--from", f, false)?;
            q.time = None;
            q.filters.push(Predicate {
                field: Field::EventTimestamp.name().into(),
                op: Op::Ge,
                value: Some(format_ms(ms).into()),
            });
        }
        (None, Some(t)) => {
            bound("--to", t, true)?;
            q = q.between(EPOCH, t);
        }
        (None, None) => {}
    }
    Ok(q)
}

/// The query the arguments describe.
pub fn build(a: &QueryArgs) -> Result<Query, Failure> {
    let mut q = match &a.json {
        Some(path) => {
            let mut text = String::new();
            if path == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(path)
                    .map_err(|e| Failure::from(format!("--json {path}: {e}")))?;
            }
            Query::parse(&text).map_err(|e| usage(e.to_string()))?
        }
        None => Query::default(),
    };
    q = window_and_filters(
        q,
        a.last.as_deref(),
        a.from.as_deref(),
        a.to.as_deref(),
        &a.filters,
    )?;
    q.group_by.extend(a.group_by.iter().cloned());
    for key in &a.order_by {
        let (name, dir) = match key.split_once(':') {
            None => (key.as_str(), Direction::Asc),
            Some((n, "asc")) => (n, Direction::Asc),
            Some((n, "desc")) => (n, Direction::Desc),
            Some(_) => {
                return Err(usage(format!(
                    "--order-by {key:?}: use field:asc or field:desc"
                )));
            }
        };
        q.order_by.push((name.into(), dir));
    }
    if a.events {
        q.select = Select::Events;
    }
    q.fields.extend(a.fields.iter().cloned());
    if a.limit.is_some() {
        q.limit = a.limit;
    }
    if a.offset.is_some() {
        q.offset = a.offset;
    }
    if a.cursor.is_some() {
        q.cursor = a.cursor.clone();
    }
    Ok(q)
}

fn cell(s: &Scalar) -> String {
    match s {
        Scalar::Null => String::new(),
        other => other.to_string(),
    }
}

/// One row as a JSON object, keys in the result's column order (a
/// `serde_json::Map` would sort them). `spaced` puts a space after `:` and
/// `,`, for the indented `json` document.
fn json_object(columns: &[String], row: &[Scalar], spaced: bool) -> String {
    let sep = if spaced { ", " } else { "," };
    let colon = if spaced { ": " } else { ":" };
    let fields: Vec<String> = columns
        .iter()
        .zip(row)
        .map(|(c, v)| {
            format!(
                "{}{colon}{}",
                serde_json::Value::from(c.as_str()),
                v.to_json()
            )
        })
        .collect();
    format!("{{{}}}", fields.join(sep))
}

/// Prints a result as an aligned table: numbers right-aligned, other
/// values left-aligned and cut at 60 characters.
fn print_table(r: &QueryResult, out: &mut impl Write) -> std::io::Result<()> {
    const WIDEST: usize = 60;
    let cells: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|s| cell(s).chars().take(WIDEST).collect())
                .collect()
        })
        .collect();
    let numeric: Vec<bool> = (0..r.columns.len())
        .map(|i| {
            r.rows
                .iter()
                .all(|row| matches!(row.get(i), Some(Scalar::Int(_) | Scalar::Null)))
        })
        .collect();
    let mut widths: Vec<usize> = r.columns.iter().map(|c| c.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, items: &[String]| -> std::io::Result<()> {
        let parts: Vec<String> = items
            .iter()
            .zip(widths.iter().zip(&numeric))
            .map(|(c, (w, right))| {
                if *right {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        writeln!(out, "{}", parts.join("  ").trim_end())
    };
    line(out, &r.columns)?;
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(out, &rule)?;
    for row in &cells {
        line(out, row)?;
    }
    Ok(())
}

/// Prints a result in `format`.
pub fn print(r: &QueryResult, format: Format, out: &mut impl Write) -> std::io::Result<()> {
    match format {
        Format::Table => print_table(r, out),
        Format::Csv => {
            let esc = |s: &str| {
                if s.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.to_string()
                }
            };
            writeln!(
                out,
                "{}",
                r.columns
                    .iter()
                    .map(|c| esc(c))
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
            for row in &r.rows {
                let cells: Vec<String> = row.iter().map(|s| esc(&cell(s))).collect();
                writeln!(out, "{}", cells.join(","))?;
            }
            Ok(())
        }
        Format::Jsonl => {
            for row in &r.rows {
                writeln!(out, "{}", json_object(&r.columns, row, false))?;
            }
            Ok(())
        }
        Format::Json => {
            // {"rows": [...], "matched_events": n, "next_cursor": c}, a row
            // per line.
            let rows: Vec<String> = r
                .rows
                .iter()
                .map(|row| format!("    {}", json_object(&r.columns, row, true)))
                .collect();
            let rows = if rows.is_empty() {
                "[]".to_string()
            } else {
                format!("[\n{}\n  ]", rows.join(",\n"))
            };
            writeln!(
                out,
                "{{\n  \"rows\": {rows},\n  \"matched_events\": {},\n  \"next_cursor\": {}\n}}",
                serde_json::json!(r.matched_events),
                serde_json::json!(r.next_cursor)
            )
        }
    }
}

/// The plan with its times rounded to 0.1 µs (what a clock that coarse
/// can say), as text or one JSON document (`jsonl`: on one line).
fn print_plan(ex: &Explain, format: Format, out: &mut impl Write) -> std::io::Result<()> {
    let tenth = |us: f64| (us * 10.0).round() / 10.0;
    let mut ex = ex.clone();
    ex.merge_us = tenth(ex.merge_us);
    ex.total_us = tenth(ex.total_us);
    for s in &mut ex.sources {
        s.time_us = tenth(s.time_us);
    }
    match format {
        Format::Json => writeln!(out, "{}", ex.to_json()),
        Format::Jsonl => writeln!(out, "{}", serde_json::to_string(&ex).unwrap_or_default()),
        Format::Table | Format::Csv => writeln!(out, "{ex}"),
    }
}

/// Notes for the filter values (`eq`, `in`) of string fields that no event
/// of the window holds, with the closest values it does hold: a misspelt
/// company or tool answers with nothing, and this says why. The values come
/// from the window's dictionaries and buffered events
/// (`Snapshot::field_values`).
fn absent_value_notes(snap: &Snapshot, q: &Query) -> Vec<String> {
    // The window: `time` and the time predicates folded into it.
    let scope = Query {
        time: q.time.clone(),
        filters: q
            .filters
            .iter()
            .filter(|p| p.field == "event_timestamp" || p.field == "event_date")
            .cloned()
            .collect(),
        ..Query::default()
    };
    let mut notes = Vec::new();
    for p in &q.filters {
        let Some(field) = Field::parse(&p.field) else {
            continue;
        };
        // event_id and url are unique per event: no dictionary, and no
        // useful "closest".
        if field.kind() != FieldKind::Str || matches!(field, Field::EventId | Field::Url) {
            continue;
        }
        let values: Vec<&str> = match (p.op, &p.value) {
            (Op::Eq, Some(v)) => v.as_str().into_iter().collect(),
            (Op::In, Some(serde_json::Value::Array(l))) => {
                l.iter().filter_map(serde_json::Value::as_str).collect()
            }
            _ => continue,
        };
        for v in values {
            let held = snap
                .query(&scope.clone().filter_named(&p.field, Op::Eq, v))
                .map(|r| r.matched_events != Some(0));
            if held.unwrap_or(true) {
                continue;
            }
            let known = snap
                .field_values(&scope, field, "", usize::MAX)
                .unwrap_or_default();
            let names = known.iter().map(|(name, _)| name.as_str());
            let close = daybook::query::values::closest(v, names.clone(), 3);
            let quoted = |l: Vec<&str>| {
                l.iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let hint = if !close.is_empty() {
                format!("; closest: {}", quoted(close))
            } else if known.is_empty() {
                String::new()
            } else {
                format!("; most frequent: {}", quoted(names.take(3).collect()))
            };
            notes.push(format!(
                "note: no event has {} = {v:?} in the window{hint}",
                p.field
            ));
        }
    }
    notes
}

/// A query over its memory budget exits 3 (narrow it or raise
/// --max-memory-bytes); the caller's other errors (a bad query or option)
/// are usage errors (exit 2); anything else a failure.
fn query_error(e: daybook::Error) -> Failure {
    match e {
        e @ daybook::Error::ResourceExhausted { .. } => Failure {
            message: e.to_string(),
            code: 3,
        },
        e if e.is_caller_error() => usage(e.to_string()),
        other => Failure::from(other),
    }
}

/// `--repeat N`: runs the query N more times, checks each answer is the
/// first's, and prints the median and fastest times on standard error.
fn time_repeats(
    engine: &daybook::Reader,
    q: &Query,
    opts: &QueryOptions,
    first: &QueryResult,
    n: u32,
) -> Result<(), Failure> {
    let mut times: Vec<f64> = Vec::with_capacity(n as usize);
    let snap = engine.snapshot();
    for _ in 0..n {
        let t = Instant::now();
        let r = snap.query_with(q, opts).map_err(query_error)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if r != *first {
            return Err(Failure::from("a repeated run gave a different answer"));
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    let min = times.first().copied().unwrap_or(0.0);
    eprintln!(
        "timing: runs={} median_ms={median:.4} min_ms={min:.4}",
        times.len()
    );
    Ok(())
}

/// `daybook query` / `daybook explain`.
/// The query is built before `open` runs: a usage error is reported as
/// one whatever the data directory.
pub fn run(
    open: impl FnOnce() -> Result<daybook::Reader, Failure>,
    a: &QueryArgs,
    explain: bool,
) -> Result<(), Failure> {
    let q = build(a)?;
    // Leaked: the process ends after this command, and unmapping every
    // segment one by one on the way out costs more than the kernel's
    // teardown of the whole address space at exit.
    let engine: &daybook::Reader = Box::leak(Box::new(open()?));
    let terminal = std::io::stdout().is_terminal();
    let format = a.format.unwrap_or(if terminal {
        Format::Table
    } else {
        Format::Jsonl
    });
    let mut opts = QueryOptions::new();
    if let Some(bytes) = a.max_memory_bytes {
        opts = opts.with_max_memory_bytes(bytes);
    }
    let snap = engine.snapshot();
    let started = Instant::now();
    let (result, plan) = if explain {
        let (r, ex) = snap.explain_with(&q, &opts).map_err(query_error)?;
        (r, Some(ex))
    } else {
        (snap.query_with(&q, &opts).map_err(query_error)?, None)
    };
    let took = started.elapsed();
    if a.repeat > 0 {
        time_repeats(engine, &q, &opts, &result, a.repeat)?;
    }
    let mut out = std::io::stdout().lock();
    let notes = absent_value_notes(&snap, &q);
    if let Some(ex) = &plan {
        print_plan(ex, format, &mut out)?;
    }
    // An explain as JSON is the plan alone: one document.
    let plan_only = plan.is_some() && matches!(format, Format::Json | Format::Jsonl);
    if !plan_only {
        print(&result, format, &mut out)?;
    }
    if format == Format::Table {
        writeln!(
            out,
            "({} row(s); {} matching event(s); {:.2} ms)",
            result.rows.len(),
            result
                .matched_events
                .map_or_else(|| "uncounted".to_string(), |n| n.to_string()),
            took.as_secs_f64() * 1e3
        )?;
        if let Some(c) = &result.next_cursor {
            writeln!(out, "next page: --cursor {c}")?;
        }
    } else if let Some(c) = &result.next_cursor {
        eprintln!("next page: --cursor {c}");
    }
    drop(out);
    for n in notes {
        eprintln!("{n}");
    }
    Ok(())
}
