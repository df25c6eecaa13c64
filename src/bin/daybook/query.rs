//! `daybook query` and `daybook explain`: a query from its JSON document or
//! from readable flags, printed as an aligned table or for machines.

use std::io::{IsTerminal, Read, Write};
use std::time::Instant;

use clap::{Args, ValueEnum};
use daybook::query::Predicate;
use daybook::{Direction, Field, FieldKind, Op, Query, QueryResult, Scalar, Select};

use crate::{Failure, usage};

#[derive(Args, Clone, Debug)]
pub struct QueryArgs {
    /// The query as its JSON document (docs/queries.md): a file, or - for
    /// standard input. Flags below add to it.
    #[arg(long)]
    json: Option<String>,
    /// The last N days, today included: `7d` or `7`.
    #[arg(long)]
    last: Option<String>,
    /// Window start (RFC 3339), inclusive.
    #[arg(long)]
    from: Option<String>,
    /// Window end (RFC 3339), exclusive.
    #[arg(long)]
    to: Option<String>,
    /// A predicate, e.g. 'tool_name = RFIs', 'event_type in (Delete, Export)',
    /// 'url contains /rfis/', 'project_name is null'. Repeatable (ANDed).
    #[arg(long = "where", value_name = "PREDICATE")]
    filters: Vec<String>,
    /// Group-by fields, comma-separated.
    #[arg(long, value_delimiter = ',')]
    group_by: Vec<String>,
    /// Sort keys: `field` or `field:asc|desc` (or `count:desc`), comma-separated.
    #[arg(long, value_delimiter = ',')]
    order_by: Vec<String>,
    #[arg(long)]
    limit: Option<u64>,
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

/// Splits `field op value` into the query model's predicate.
pub fn parse_where(text: &str) -> Result<Predicate, String> {
    let t = text.trim();
    let (field, rest) = t
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("--where {text:?}: expected `field op value`"))?;
    let f =
        Field::parse(field).ok_or_else(|| format!("--where {text:?}: unknown field {field:?}"))?;
    let rest = rest.trim_start();
    let lower = rest.to_ascii_lowercase();
    const OPS: [(&str, Op); 14] = [
        ("is not null", Op::NotNull),
        ("is null", Op::IsNull),
        ("not in", Op::NotIn),
        ("starts_with", Op::StartsWith),
        ("contains", Op::Contains),
        ("in", Op::In),
        ("!=", Op::Ne),
        ("<>", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("=", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    let (name, op) = OPS
        .iter()
        .find(|(name, _)| {
            lower.starts_with(name)
                && (!name.as_bytes()[0].is_ascii_alphabetic()
                    || lower[name.len()..].starts_with(|c: char| c.is_whitespace() || c == '(')
                    || lower.len() == name.len())
        })
        .ok_or_else(|| format!("--where {text:?}: unknown operator in {rest:?}"))?;
    let operand = rest[name.len()..].trim();
    let value = match op {
        Op::IsNull | Op::NotNull => {
            if !operand.is_empty() {
                return Err(format!("--where {text:?}: {name} takes no value"));
            }
            None
        }
        Op::In | Op::NotIn => {
            let inner = operand
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| format!("--where {text:?}: {name} takes a list: (a, b, c)"))?;
            let items = inner
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| typed(f, s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("--where {text:?}: {e}"))?;
            Some(serde_json::Value::Array(items))
        }
        _ => Some(typed(f, operand).map_err(|e| format!("--where {text:?}: {e}"))?),
    };
    Ok(Predicate {
        field: f.name().into(),
        op: *op,
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

/// Sets the window (`--last`, or `--from` with `--to`) and adds the
/// `--where` predicates: shared by `query`, `explain` and `export`.
pub fn window_and_filters(
    mut q: Query,
    last: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    filters: &[String],
) -> Result<Query, Failure> {
    if let Some(last) = last {
        let n: u32 = last.trim_end_matches('d').parse().map_err(|_| {
            usage(format!(
                "--last {last:?}: expected a number of days, e.g. 7d"
            ))
        })?;
        q = q.last_days(n);
    }
    match (from, to) {
        (Some(f), Some(t)) => q = q.between(f, t),
        (None, None) => {}
        _ => return Err(usage("--from and --to go together")),
    }
    for w in filters {
        q.filters.push(parse_where(w).map_err(usage)?);
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
        q = q.order_by(name, dir);
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

/// Prints a result in `format`.
pub fn print(r: &QueryResult, format: Format, out: &mut impl Write) -> std::io::Result<()> {
    match format {
        Format::Table => {
            let mut widths: Vec<usize> = r.columns.iter().map(|c| c.chars().count()).collect();
            let cells: Vec<Vec<String>> = r
                .rows
                .iter()
                .map(|row| row.iter().map(cell).collect())
                .collect();
            for row in &cells {
                for (w, c) in widths.iter_mut().zip(row) {
                    *w = (*w).max(c.chars().count().min(60));
                }
            }
            let line = |out: &mut dyn Write, items: &[String]| -> std::io::Result<()> {
                let parts: Vec<String> = items
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| {
                        let c: String = c.chars().take(60).collect();
                        format!("{c:<w$}")
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
        Format::Json | Format::Jsonl => {
            let objects = r.rows.iter().map(|row| {
                let map: serde_json::Map<String, serde_json::Value> = r
                    .columns
                    .iter()
                    .cloned()
                    .zip(row.iter().map(Scalar::to_json))
                    .collect();
                serde_json::Value::Object(map)
            });
            if format == Format::Jsonl {
                for o in objects {
                    writeln!(out, "{o}")?;
                }
            } else {
                let doc = serde_json::json!({
                    "rows": objects.collect::<Vec<_>>(),
                    "matched_events": r.matched_events,
                    "next_cursor": r.next_cursor,
                });
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&doc).unwrap_or_default()
                )?;
            }
            Ok(())
        }
    }
}

/// A bad query is a usage error (exit 2); anything else a failure.
fn query_error(e: daybook::Error) -> Failure {
    match e {
        daybook::Error::Query(_) | daybook::Error::Invalid(_) => usage(e.to_string()),
        other => Failure::from(other),
    }
}

/// `daybook query` / `daybook explain`.
pub fn run(engine: &daybook::Reader, a: &QueryArgs, explain: bool) -> Result<(), Failure> {
    let q = build(a)?;
    let terminal = std::io::stdout().is_terminal();
    let format = a.format.unwrap_or(if terminal {
        Format::Table
    } else {
        Format::Jsonl
    });
    let started = Instant::now();
    let (result, plan) = if explain {
        let (r, ex) = engine.explain(&q).map_err(query_error)?;
        (r, Some(ex))
    } else {
        (engine.query(&q).map_err(query_error)?, None)
    };
    let took = started.elapsed();
    if a.repeat > 0 {
        let mut times: Vec<f64> = Vec::with_capacity(a.repeat as usize);
        for _ in 0..a.repeat {
            let t = Instant::now();
            let r = engine.query(&q).map_err(query_error)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            if r != result {
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
    }
    let mut out = std::io::stdout().lock();
    if let Some(ex) = &plan {
        if matches!(format, Format::Json | Format::Jsonl) {
            writeln!(out, "{}", ex.to_json())?;
            return Ok(());
        }
        write!(out, "{ex}")?;
        writeln!(out)?;
    }
    print(&result, format, &mut out)?;
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
    Ok(())
}
