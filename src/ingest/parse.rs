//! Parsing a piece of text cut at record boundaries, on a parser thread:
//! every record becomes an event or a rejection, with its line number.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::csv_event::{self, Header};
use crate::event::{Event, FieldError};
use crate::json::{ParseOptions, parse_event_with};

/// How a chunk's records are parsed.
#[derive(Clone, Debug)]
pub(crate) enum Parse {
    Jsonl(ParseOptions),
    Csv(Arc<Header>),
}

/// A parsed chunk: its events with their lines, and its rejected records.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub(crate) events: Vec<Event>,
    pub(crate) lines: Vec<u64>,
    pub(crate) errors: Vec<(u64, FieldError)>,
    /// Unknown fields dropped: name, records.
    pub(crate) ignored: BTreeMap<String, u64>,
    /// The line of a CSV header row at the start of a file read as JSON.
    pub(crate) csv_header: Option<u64>,
    /// Lines and bytes of text, and the last line.
    pub(crate) text_lines: u64,
    pub(crate) bytes: u64,
    pub(crate) last_line: u64,
}

/// Parses `text`, which starts at a record boundary on line `first_line`.
/// `first`: the chunk is the first of its input (a JSON Lines input is
/// checked for a CSV header row there).
pub(crate) fn parse(parse: &Parse, text: &[u8], first_line: u64, first: bool) -> Parsed {
    let newlines = memchr::memchr_iter(b'\n', text).count() as u64;
    let mut p = Parsed {
        events: Vec::with_capacity(newlines as usize + 1),
        lines: Vec::with_capacity(newlines as usize + 1),
        bytes: text.len() as u64,
        ..Parsed::default()
    };
    let (events, lines, errors) = (&mut p.events, &mut p.lines, &mut p.errors);
    let each = |line: u64, r: Result<Event, FieldError>| match r {
        Ok(e) => {
            events.push(e);
            lines.push(line);
        }
        Err(e) => errors.push((line, e)),
    };
    match parse {
        Parse::Jsonl(opts) => {
            if first {
                p.csv_header = first_line_if_csv_header(text, first_line);
            }
            parse_lines(text, first_line, opts, &mut p.ignored, each);
        }
        Parse::Csv(header) => {
            csv_event::parse_chunk(header, text, first_line, each);
            let records = (p.events.len() + p.errors.len()) as u64;
            for name in header.ignored() {
                *p.ignored.entry(name.clone()).or_default() += records;
            }
        }
    }
    let unterminated = u64::from(text.last().is_some_and(|b| *b != b'\n'));
    p.text_lines = newlines + unterminated;
    p.last_line = (first_line + p.text_lines).saturating_sub(1);
    p
}

/// Whether `line` (the first of a file read as JSON Lines) is rather a CSV
/// header row: not a JSON object, and at least two cells name event fields.
fn looks_like_csv_header(line: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(line) else {
        return false;
    };
    !text.trim_start().starts_with('{')
        && text
            .split(',')
            .filter(|cell| csv_event::column_field(cell.trim().trim_matches('"')).is_some())
            .nth(1)
            .is_some()
}

/// The line of the first non-blank line of `text` (starting on line
/// `first_line`), if it looks like a CSV header row.
fn first_line_if_csv_header(text: &[u8], first_line: u64) -> Option<u64> {
    let (k, raw) = text
        .split(|b| *b == b'\n')
        .enumerate()
        .find(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))?;
    looks_like_csv_header(raw).then_some(first_line + k as u64)
}

/// Parses JSON Lines starting on line `first_line`; blank lines are skipped.
/// Unknown keys dropped (with [`UnknownFields::Ignore`]) are counted in
/// `ignored`.
///
/// [`UnknownFields::Ignore`]: crate::json::UnknownFields::Ignore
fn parse_lines(
    text: &[u8],
    first_line: u64,
    opts: &ParseOptions,
    ignored: &mut BTreeMap<String, u64>,
    mut each: impl FnMut(u64, Result<Event, FieldError>),
) {
    let mut names = Vec::new();
    let mut start = 0;
    let mut line = first_line;
    while let Some(rest) = text.get(start..).filter(|r| !r.is_empty()) {
        let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let raw = rest.get(..len).unwrap_or_default();
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if !raw.iter().all(u8::is_ascii_whitespace) {
            let parsed = match std::str::from_utf8(raw) {
                Ok(text) => parse_event_with(text, opts, &mut names),
                Err(e) => Err(FieldError {
                    field: None,
                    message: format!("not valid UTF-8 (at byte {})", e.valid_up_to() + 1),
                }),
            };
            each(line, parsed);
            for name in names.drain(..) {
                *ignored.entry(name).or_default() += 1;
            }
        }
        start += len + 1;
        line += 1;
    }
}
