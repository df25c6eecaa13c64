//! CSV in and out: the contract's CSV rules (docs/event-format.md).
//!
//! - A header row is required; columns are identified by its names, in any
//!   order. A name matches a field ignoring case, spaces and underscores,
//!   so a reporting export's display names (`Event ID`, `User Log In Email`,
//!   `Is API`) work as they are. A repeated column is an
//!   error, and so is a missing column for a required field; an unknown
//!   column is an error too, unless [`UnknownFields::Ignore`] drops it.
//! - A `Count` column (the export's measure) is accepted: every row of an
//!   export of single events has Count 1; a row with another Count is
//!   rejected, as a pre-aggregated row cannot be stored as events.
//! - An empty cell is "no value" for an optional field and an error for a
//!   required one. Booleans are `true`/`false` or `yes`/`no` (any case),
//!   integers plain decimal digits, timestamps and dates the same text as in
//!   JSON.
//! - Errors name the field and say what is wrong, in the same words as
//!   [`crate::json::parse_event`], and are reported with the line number of
//!   the record in the text (the header is line 1).
//!
//! [`Reader`] reads a whole CSV stream. For parallel parsing, [`Splitter`]
//! finds record boundaries without parsing, and [`parse_chunk`] parses the
//! records between two boundaries on any thread.

use std::io::{self, Read};

use crate::cut::{Cutter, Piece, Scanner};
use crate::event::{Event, EventType, Field, FieldError, MAX_ID};
pub use crate::json::{ParseOptions, UnknownFields};
use crate::time::{Day, format_ms, parse_rfc3339_ms};

/// The columns of a CSV header row, checked against the contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The field of each column; `None` for the `Count` column and ignored
    /// unknown columns.
    columns: Vec<Option<Field>>,
    /// The position of the `Count` column.
    count: Option<usize>,
    /// The names of the unknown columns dropped, as the header spells them.
    ignored: Vec<String>,
}

/// The field a CSV column name stands for: the contract's name, or the same
/// ignoring ASCII case, spaces and underscores, as a reporting export's
/// display names are (`Event ID`, `User Log In Email` for
/// `user_login_email`, `Is API`).
pub fn column_field(name: &str) -> Option<Field> {
    Field::parse(name).or_else(|| {
        let squash = |s: &str| -> String {
            s.chars()
                .filter(|c| *c != ' ' && *c != '_')
                .map(|c| c.to_ascii_lowercase())
                .collect()
        };
        let key = squash(name);
        Field::ALL.into_iter().find(|f| squash(f.name()) == key)
    })
}

/// Whether a column name is the reporting export's `Count` measure.
fn is_count(name: &str) -> bool {
    name.trim().eq_ignore_ascii_case("count")
}

/// What a CSV stream can fail with as a whole (rather than record by record).
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// Reading the input failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The header row is missing or names a column wrongly (line 1).
    #[error("line 1: {0}")]
    Header(FieldError),
}

impl Header {
    /// Checks a header row's names by the contract's strict rules: see
    /// [`Header::parse_with`].
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Header, FieldError> {
        Header::parse_with(names, &ParseOptions::default())
    }

    /// Checks a header row's names: every one must name a contract field
    /// (see [`column_field`]) or be `Count`, none repeated, and every
    /// required field present. An unknown name is an error, or with
    /// [`UnknownFields::Ignore`] its column is dropped (see
    /// [`Header::ignored`]). A leading UTF-8 byte-order mark is ignored.
    pub fn parse_with<'a>(
        names: impl IntoIterator<Item = &'a str>,
        opts: &ParseOptions,
    ) -> Result<Header, FieldError> {
        let mut h = Header {
            columns: Vec::new(),
            count: None,
            ignored: Vec::new(),
        };
        let mut seen = [false; Field::ALL.len()];
        for (i, name) in names.into_iter().enumerate() {
            let name = if i == 0 {
                name.strip_prefix('\u{feff}').unwrap_or(name)
            } else {
                name
            };
            let field = match column_field(name) {
                Some(field) => field,
                None if is_count(name) => {
                    if h.count.replace(i).is_some() {
                        return Err(FieldError {
                            field: None,
                            message: format!("column \"{name}\" appears more than once"),
                        });
                    }
                    h.columns.push(None);
                    continue;
                }
                None if opts.unknown_fields == UnknownFields::Ignore => {
                    h.ignored.push(name.to_string());
                    h.columns.push(None);
                    continue;
                }
                None => {
                    return Err(FieldError {
                        field: None,
                        message: format!("unknown column \"{name}\""),
                    });
                }
            };
            if std::mem::replace(&mut seen[field as usize], true) {
                return Err(FieldError::new(field, "column appears more than once"));
            }
            h.columns.push(Some(field));
        }
        if h.columns.is_empty() {
            return Err(FieldError {
                field: None,
                message: "the header row is missing".into(),
            });
        }
        let missing: Vec<String> = Field::ALL
            .into_iter()
            .filter(|f| input_required(*f) && !seen[*f as usize])
            .map(|f| format!("\"{f}\""))
            .collect();
        if !missing.is_empty() {
            return Err(FieldError {
                field: None,
                message: format!(
                    "the header has no column for required field(s) {}",
                    missing.join(", ")
                ),
            });
        }
        Ok(h)
    }

    /// Reads the header from a parsed CSV record (bytes that must be UTF-8).
    fn from_record(record: &csv::ByteRecord, opts: &ParseOptions) -> Result<Header, FieldError> {
        let names = record
            .iter()
            .map(|cell| {
                std::str::from_utf8(cell).map_err(|_| FieldError {
                    field: None,
                    message: "the header row is not valid UTF-8".into(),
                })
            })
            .collect::<Result<Vec<&str>, FieldError>>()?;
        Header::parse_with(names, opts)
    }

    /// Parses the header row at the start of `text` (for example the bytes
    /// up to the first boundary a [`Splitter`] reports), strictly.
    pub fn parse_row(text: &[u8]) -> Result<Header, FieldError> {
        Header::parse_row_with(text, &ParseOptions::default())
    }

    /// Parses the header row at the start of `text` under `opts`.
    pub fn parse_row_with(text: &[u8], opts: &ParseOptions) -> Result<Header, FieldError> {
        let mut reader = reader_builder().from_reader(text);
        let mut record = csv::ByteRecord::new();
        match reader.read_byte_record(&mut record) {
            Ok(true) => Header::from_record(&record, opts),
            Ok(false) => Header::parse_with([], opts),
            Err(e) => Err(FieldError {
                field: None,
                message: format!("unreadable header row: {e}"),
            }),
        }
    }

    /// The field of each column, in the header's order; `None` for the
    /// `Count` column and for ignored unknown columns.
    pub fn columns(&self) -> &[Option<Field>] {
        &self.columns
    }

    /// The unknown columns dropped under [`UnknownFields::Ignore`], as the
    /// header names them.
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }

    /// Parses one record given as its cells, in the header's column order.
    pub fn parse_cells<'a>(
        &self,
        cells: impl IntoIterator<Item = &'a str>,
    ) -> Result<Event, FieldError> {
        let mut values: [Option<&str>; Field::ALL.len()] = [None; Field::ALL.len()];
        let mut count = None;
        let mut n = 0;
        for (i, cell) in cells.into_iter().enumerate() {
            n = i + 1;
            if self.count == Some(i) {
                count = Some(cell);
            } else if let Some(Some(field)) = self.columns.get(i) {
                values[*field as usize] = (!cell.is_empty()).then_some(cell);
            }
        }
        self.check_width(n)?;
        check_count(count.map(str::as_bytes))?;
        from_cells(&values)
    }

    fn check_width(&self, n: usize) -> Result<(), FieldError> {
        if n == self.columns.len() {
            return Ok(());
        }
        Err(FieldError {
            field: None,
            message: format!(
                "wrong number of cells ({n}; the header has {})",
                self.columns.len()
            ),
        })
    }

    fn parse_record(&self, record: &csv::ByteRecord) -> Result<Event, FieldError> {
        self.check_width(record.len())?;
        check_count(self.count.and_then(|i| record.get(i)))?;
        let mut values: [Option<&str>; Field::ALL.len()] = [None; Field::ALL.len()];
        for (cell, field) in record.iter().zip(&self.columns) {
            let Some(field) = field.filter(|_| !cell.is_empty()) else {
                continue;
            };
            let text = std::str::from_utf8(cell)
                .map_err(|_| FieldError::new(field, "is not valid UTF-8"))?;
            values[field as usize] = Some(text);
        }
        from_cells(&values)
    }
}

/// A row's `Count` cell: empty or 1. A row that counts several events (a
/// pre-aggregated export) cannot be stored as events.
fn check_count(cell: Option<&[u8]>) -> Result<(), FieldError> {
    match cell {
        None | Some(b"" | b"1") => Ok(()),
        Some(other) => Err(FieldError {
            field: None,
            message: format!(
                "Count must be 1 (one row per event), got {}: a row that counts several events cannot be stored as events",
                describe(&String::from_utf8_lossy(other))
            ),
        }),
    }
}

/// Whether an input record must give the field (`event_date` is derived).
fn input_required(field: Field) -> bool {
    field.required() && field != Field::EventDate
}

fn reader_builder() -> csv::ReaderBuilder {
    let mut b = csv::ReaderBuilder::new();
    // Records are checked against the header by `Header`, with a message
    // that names the line; the header is read by the caller.
    b.has_headers(false).flexible(true);
    b
}

/// A cell as error messages show it: quoted, at most 40 characters.
fn describe(s: &str) -> String {
    let mut shown: String = s.chars().take(40).collect();
    if shown.len() < s.len() {
        shown.push('…');
    }
    format!("{shown:?}")
}

fn required<T>(field: Field, v: Option<T>) -> Result<T, FieldError> {
    v.ok_or_else(|| FieldError::new(field, "required field is missing or empty"))
}

fn int(field: Field, cell: Option<&str>) -> Result<Option<u64>, FieldError> {
    let Some(s) = cell else { return Ok(None) };
    if s.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = s.parse::<u64>()
        && n <= MAX_ID
    {
        return Ok(Some(n));
    }
    Err(FieldError::new(
        field,
        format!("expected an integer in 0..={MAX_ID}, got {}", describe(s)),
    ))
}

/// `true`/`false` or `yes`/`no` in any case (reporting exports write
/// `Yes`/`No`). The message is JSON's, so a record's error reads the same in
/// either format.
fn boolean(field: Field, cell: Option<&str>) -> Result<Option<bool>, FieldError> {
    let Some(s) = cell else { return Ok(None) };
    if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("yes") {
        Ok(Some(true))
    } else if s.eq_ignore_ascii_case("false") || s.eq_ignore_ascii_case("no") {
        Ok(Some(false))
    } else {
        Err(FieldError::new(
            field,
            format!("expected true or false, got {}", describe(s)),
        ))
    }
}

fn day(field: Field, cell: Option<&str>) -> Result<Option<Day>, FieldError> {
    match cell {
        None => Ok(None),
        Some(s) => Day::parse(s).map(Some).ok_or_else(|| {
            FieldError::new(field, format!("expected a date YYYY-MM-DD, got {s:?}"))
        }),
    }
}

/// Builds and validates an event from its cells (`None` = empty or absent),
/// indexed by `Field as usize`. Checks in the same order as the JSON parser,
/// so a record has the same first error in either format.
fn from_cells(v: &[Option<&str>; Field::ALL.len()]) -> Result<Event, FieldError> {
    use Field as F;
    let get = |f: Field| v[f as usize];
    let text = |f: Field| get(f).map(str::to_owned);
    let ts_text = required(F::EventTimestamp, get(F::EventTimestamp))?;
    let event_timestamp_ms =
        parse_rfc3339_ms(ts_text).map_err(|m| FieldError::new(F::EventTimestamp, m))?;
    if let Some(date) = day(F::EventDate, get(F::EventDate))? {
        let actual = Day::of_ms(event_timestamp_ms);
        if date != actual {
            return Err(FieldError::new(
                F::EventDate,
                format!("{date} disagrees with event_timestamp {ts_text} (UTC date {actual})"),
            ));
        }
    }
    let type_text = required(F::EventType, get(F::EventType))?;
    let event_type = EventType::parse(type_text)
        .ok_or_else(|| FieldError::new(F::EventType, EventType::unknown_message(type_text)))?;
    let event = Event {
        event_id: required(F::EventId, text(F::EventId))?,
        event_timestamp_ms,
        event_type,
        event_name: required(F::EventName, text(F::EventName))?,
        event_subtype: text(F::EventSubtype),
        tool_name: required(F::ToolName, text(F::ToolName))?,
        company_name: required(F::CompanyName, text(F::CompanyName))?,
        project_name: text(F::ProjectName),
        project_number: text(F::ProjectNumber),
        project_is_demo: boolean(F::ProjectIsDemo, get(F::ProjectIsDemo))?,
        object_id: int(F::ObjectId, get(F::ObjectId))?,
        url: text(F::Url),
        device_type: required(F::DeviceType, text(F::DeviceType))?,
        is_api: required(F::IsApi, boolean(F::IsApi, get(F::IsApi))?)?,
        user_id: required(F::UserId, int(F::UserId, get(F::UserId))?)?,
        user_email: required(F::UserEmail, text(F::UserEmail))?,
        user_login_email: text(F::UserLoginEmail),
        user_name: required(F::UserName, text(F::UserName))?,
        user_job_title: text(F::UserJobTitle),
        user_role: text(F::UserRole),
        user_type: text(F::UserType),
        user_default_permission_template: text(F::UserDefaultPermissionTemplate),
        user_is_active: boolean(F::UserIsActive, get(F::UserIsActive))?,
        user_is_authorized_bidder: boolean(
            F::UserIsAuthorizedBidder,
            get(F::UserIsAuthorizedBidder),
        )?,
        user_last_login_date: day(F::UserLastLoginDate, get(F::UserLastLoginDate))?,
    };
    event.validate()?;
    Ok(event)
}

/// One parsed record: the line it starts on, and the event or why not.
pub type Parsed = (u64, Result<Event, FieldError>);

/// Parses the records of `chunk`, CSV text that starts at a record boundary
/// (see [`Splitter`]) on line `first_line`, calling `each` with every
/// record's line and event (or why it was rejected), in order. Blank lines
/// are skipped.
pub fn parse_chunk(
    header: &Header,
    chunk: &[u8],
    first_line: u64,
    mut each: impl FnMut(u64, Result<Event, FieldError>),
) {
    // The csv crate's record positions do not count blank lines or lone
    // carriage returns; the scanner gives each record's physical line.
    let mut lines = Vec::new();
    Scanner::default().scan(chunk, |line| lines.push(line));
    let mut reader = reader_builder().from_reader(chunk);
    let mut record = csv::ByteRecord::new();
    let mut i = 0;
    // Reading from a byte slice cannot fail: the tokenizer accepts any bytes.
    while let Ok(true) = reader.read_byte_record(&mut record) {
        let line = first_line + lines.get(i).map_or(0, |l| l - 1);
        i += 1;
        each(line, header.parse_record(&record));
    }
}

/// Reads events from a CSV stream, record by record.
///
/// ```
/// let text = "event_id,event_timestamp,event_type,event_name,tool_name,company_name,\
///             device_type,is_api,user_id,user_email,user_name\n\
///             e-1,2026-11-26T14:03:22.123Z,View,Viewed RFI,RFIs,Granite Ridge,iOS,false,7,m@x.example,Maria\n\
///             \n\
///             e-2,2026-11-26T14:03:23Z,View,Viewed RFI,RFIs,Granite Ridge,iOS,maybe,7,m@x.example,Maria\n";
/// let mut reader = daybook::csv_event::Reader::new(text.as_bytes())?;
/// let (line, first) = reader.next().unwrap()?;
/// assert_eq!((line, first.unwrap().event_id.as_str()), (2, "e-1"));
/// let (line, second) = reader.next().unwrap()?;
/// assert_eq!(line, 4);
/// assert_eq!(second.unwrap_err().to_string(), "field \"is_api\": expected true or false, got \"maybe\"");
/// assert!(reader.next().is_none());
/// # Ok::<(), daybook::csv_event::CsvError>(())
/// ```
pub struct Reader<R> {
    input: R,
    header: Header,
    /// Cuts the text read at record boundaries (the import pipeline's cutter).
    cutter: Cutter,
    /// The buffer each read fills.
    read_buf: Vec<u8>,
    parsed: std::collections::VecDeque<Parsed>,
    eof: bool,
}

const READ_SIZE: usize = 64 << 10;

impl<R: Read> Reader<R> {
    /// Reads and checks the header row, by the contract's strict rules.
    pub fn new(input: R) -> Result<Reader<R>, CsvError> {
        Reader::with_options(input, &ParseOptions::default())
    }

    /// Reads and checks the header row under `opts` (see
    /// [`Header::parse_with`]).
    pub fn with_options(input: R, opts: &ParseOptions) -> Result<Reader<R>, CsvError> {
        let mut r = Reader {
            input,
            header: Header {
                columns: Vec::new(),
                count: None,
                ignored: Vec::new(),
            },
            cutter: Cutter::new(true, READ_SIZE),
            read_buf: vec![0; READ_SIZE],
            parsed: Default::default(),
            eof: false,
        };
        // The header is the first record: read up to its end.
        let (row, _) = loop {
            if let Some(h) = r.cutter.take_header(r.eof) {
                break h;
            }
            r.fill()?;
        };
        r.header = Header::parse_row_with(&row, opts).map_err(CsvError::Header)?;
        Ok(r)
    }

    /// The checked header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Reads more text into the cutter.
    fn fill(&mut self) -> io::Result<()> {
        let n = loop {
            match self.input.read(&mut self.read_buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.cutter.push(self.read_buf.get(..n).unwrap_or_default());
        self.eof = n == 0;
        Ok(())
    }

    /// Parses a piece of records cut from the text.
    fn parse(&mut self, piece: Piece) {
        let parsed = &mut self.parsed;
        parse_chunk(&self.header, &piece.text, piece.first_line, |line, r| {
            parsed.push_back((line, r));
        });
    }
}

impl<R: Read> Iterator for Reader<R> {
    /// The record's line (the header is line 1), and the event or why it was
    /// rejected; `Err` only for a failure to read the stream.
    type Item = io::Result<Parsed>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.parsed.is_empty() {
            let piece = match self.cutter.cut() {
                None if self.eof => Some(self.cutter.finish()?),
                piece => piece,
            };
            match piece {
                Some(piece) => self.parse(piece),
                None => {
                    if let Err(e) = self.fill() {
                        return Some(Err(e));
                    }
                }
            }
        }
        self.parsed.pop_front().map(Ok)
    }
}

/// Record boundaries of CSV text, found without parsing it (the record
/// cutter shared with the import pipeline, `cut.rs`).
pub use crate::cut::Splitter;

/// The header row [`event_to_csv_line`] writes under: the 25 stored fields in
/// contract order (without the derived `event_date`). No line end.
pub fn header_line() -> String {
    Field::stored()
        .map(Field::name)
        .collect::<Vec<_>>()
        .join(",")
}

/// Appends `cell` to `out`, quoted when it has to be.
fn push_cell(out: &mut String, cell: &str) {
    if cell.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

/// Appends the event as one CSV record in [`header_line`]'s column order to
/// `out`: empty cells for missing values, RFC 3339 timestamps as JSON writes
/// them, quoting where needed. No line end.
pub fn push_csv_line(out: &mut String, event: &Event) {
    use crate::event::Value as V;
    use std::fmt::Write as _;
    for (i, field) in Field::stored().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = match event.get(field) {
            V::Null => Ok(()),
            V::Bool(b) => write!(out, "{b}"),
            V::Int(n) => write!(out, "{n}"),
            V::Timestamp(ms) => {
                out.push_str(&format_ms(ms));
                Ok(())
            }
            V::Date(d) => write!(out, "{d}"),
            V::EventType(t) => {
                push_cell(out, t.as_str());
                Ok(())
            }
            V::Str(s) => {
                push_cell(out, s);
                Ok(())
            }
        };
    }
}

/// The event as one CSV record; see [`push_csv_line`].
pub fn event_to_csv_line(event: &Event) -> String {
    let mut out = String::with_capacity(512);
    push_csv_line(&mut out, event);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_event;
    use proptest::prelude::*;

    const EXAMPLE: &str = r#"{"event_id":"6f1c0c9e-3b2a-4c55-9a57-0b1f7c2d9e11","event_timestamp":"2026-11-26T14:03:22.123Z","event_type":"View","event_name":"Viewed RFI","event_subtype":"Detail","tool_name":"RFIs","company_name":"Granite Ridge Builders","project_name":"Harbor Point Tower","project_number":"2026-014","project_is_demo":false,"object_id":845512,"url":"https://app.example.com/projects/311/rfis/845512","device_type":"iOS","is_api":false,"user_id":70211,"user_email":"m.ortiz@graniteridge.example","user_login_email":"mortiz@sso.graniteridge.example","user_name":"Maria Ortiz","user_job_title":"Superintendent","user_role":"Project Manager","user_type":"Employee","user_default_permission_template":"Standard","user_is_active":true,"user_is_authorized_bidder":false,"user_last_login_date":"2026-11-26"}"#;

    fn example() -> Event {
        parse_event(EXAMPLE).unwrap()
    }

    fn read_all(text: &str) -> Result<Vec<Parsed>, CsvError> {
        Reader::new(text.as_bytes())?
            .collect::<io::Result<Vec<_>>>()
            .map_err(CsvError::Io)
    }

    /// The example as CSV with `column` set to `cell` (or its column left
    /// out when `cell` is `None`); returns the error of its one record.
    fn err_with(column: &str, cell: Option<&str>) -> String {
        let header = header_line();
        let names: Vec<&str> = header.split(',').collect();
        let mut line = event_to_csv_line(&example());
        let mut cells: Vec<String> = {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(line.as_bytes());
            r.records()
                .next()
                .unwrap()
                .unwrap()
                .iter()
                .map(String::from)
                .collect()
        };
        let mut names: Vec<String> = names.into_iter().map(String::from).collect();
        match names.iter().position(|n| n == column) {
            Some(i) => match cell {
                Some(c) => cells[i] = c.to_string(),
                None => {
                    names.remove(i);
                    cells.remove(i);
                }
            },
            None => {
                names.push(column.to_string());
                cells.push(cell.unwrap_or("").to_string());
            }
        }
        line = cells.join(",");
        let text = format!("{}\n{line}\n", names.join(","));
        match read_all(&text) {
            Err(e) => e.to_string(),
            Ok(records) => {
                assert_eq!(records.len(), 1);
                records[0].1.clone().unwrap_err().to_string()
            }
        }
    }

    #[test]
    fn round_trips_through_text() {
        let mut e = example();
        e.event_name = "Viewed \"RFI\", with\nnewline".into();
        e.project_name = None;
        e.object_id = Some(MAX_ID);
        let text = format!("{}\r\n{}\r\n\r\n", header_line(), event_to_csv_line(&e));
        let records = read_all(&text).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].0, 2);
        assert_eq!(records[0].1.as_ref().unwrap(), &e);
        assert_eq!(header_line().split(',').count(), 25);
        assert!(!header_line().contains("event_date"));
    }

    #[test]
    fn columns_in_any_order_and_optional_ones_left_out() {
        let text = "user_name,user_email,user_id,is_api,device_type,company_name,tool_name,event_name,event_type,event_timestamp,event_id,event_date,project_name\n\
                    Maria,m@x.example,7,true,API,Granite,RFIs,Viewed RFI,View,2026-11-26T15:03:22.123999+01:00,e-1,2026-11-26,\n";
        let records = read_all(text).unwrap();
        let e = records[0].1.as_ref().unwrap();
        assert_eq!(e.event_timestamp_ms, 1_795_701_802_123);
        assert_eq!(e.project_name, None);
        assert!(e.is_api);
        assert_eq!(e.user_id, 7);
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            err_with("colour", Some("red")),
            "line 1: unknown column \"colour\""
        );
        assert_eq!(
            err_with("Count", Some("3")),
            "Count must be 1 (one row per event), got \"3\": a row that counts several events cannot be stored as events"
        );
        assert_eq!(
            err_with("user_email", None),
            "line 1: the header has no column for required field(s) \"user_email\""
        );
        assert_eq!(
            err_with("user_email", Some("")),
            "field \"user_email\": required field is missing or empty"
        );
        assert_eq!(
            err_with("user_id", Some("-4")),
            "field \"user_id\": expected an integer in 0..=9223372036854775807, got \"-4\""
        );
        assert_eq!(
            err_with("user_id", Some("9223372036854775808")),
            "field \"user_id\": expected an integer in 0..=9223372036854775807, got \"9223372036854775808\""
        );
        assert_eq!(
            err_with("object_id", Some("+5")),
            "field \"object_id\": expected an integer in 0..=9223372036854775807, got \"+5\""
        );
        assert_eq!(
            err_with("is_api", Some("maybe")),
            "field \"is_api\": expected true or false, got \"maybe\""
        );
        assert_eq!(
            err_with("user_is_active", Some("1")),
            "field \"user_is_active\": expected true or false, got \"1\""
        );
        assert_eq!(
            err_with("event_date", Some("2026-11-25")),
            "field \"event_date\": 2026-11-25 disagrees with event_timestamp 2026-11-26T14:03:22.123Z (UTC date 2026-11-26)"
        );
        assert!(err_with("event_type", Some("Viewed")).starts_with(
            "field \"event_type\": unknown event type \"Viewed\" (expected one of Allow, Assign,"
        ));
        assert!(
            err_with("event_timestamp", Some("2026-11-26"))
                .starts_with("field \"event_timestamp\": not an RFC 3339")
        );
        assert_eq!(
            err_with("user_last_login_date", Some("2026-13-01")),
            "field \"user_last_login_date\": expected a date YYYY-MM-DD, got \"2026-13-01\""
        );
        let long = "a".repeat(1025);
        assert_eq!(
            err_with("user_name", Some(&long)),
            "field \"user_name\": is 1025 bytes, at most 1024 allowed"
        );
        // The same words as the JSON parser, where the formats agree.
        let json_err = parse_event(&EXAMPLE.replace("\"is_api\":false", "\"is_api\":\"maybe\""))
            .unwrap_err()
            .to_string();
        assert_eq!(json_err, err_with("is_api", Some("maybe")));
    }

    /// The reporting export's header: display names, `Yes`/`No`, `Count`.
    const EXPORT: &str = "Event ID,Event Timestamp,Event Date,Event Type,Event Name,Event Subtype,Tool Name,Company Name,Project Name,Project Number,Project Is Demo,Object ID,URL,Device Type,Is API,User ID,User Email,User Log In Email,User Name,User Job Title,User Role,User Type,User Default Permission Template,User Is Active,User is Authorized Bidder,User Last Log In Date,Count";

    #[test]
    fn the_reporting_export_parses_as_it_is() {
        let row = "6f1c0c9e-3b2a-4c55-9a57-0b1f7c2d9e11,2026-11-26T14:03:22.123Z,2026-11-26,View,Viewed RFI,Detail,RFIs,Granite Ridge Builders,Harbor Point Tower,2026-014,No,845512,https://app.example.com/projects/311/rfis/845512,iOS,NO,70211,m.ortiz@graniteridge.example,mortiz@sso.graniteridge.example,Maria Ortiz,Superintendent,Project Manager,Employee,Standard,Yes,no,2026-11-26,1";
        let records = read_all(&format!("{EXPORT}\n{row}\n")).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].1.as_ref().unwrap(), &example());
        let header = Header::parse(EXPORT.split(',')).unwrap();
        assert_eq!(header.columns().len(), 27);
        assert_eq!(header.columns()[26], None);
        assert_eq!(header.columns()[17], Some(Field::UserLoginEmail));
        assert!(header.ignored().is_empty());
        // Booleans: true/false/yes/no in any case; nothing else.
        for (cell, want) in [
            ("Yes", true),
            ("TRUE", true),
            ("no", false),
            ("False", false),
        ] {
            assert_eq!(boolean(Field::IsApi, Some(cell)), Ok(Some(want)), "{cell}");
        }
        for cell in ["1", "Y", "yes ", "on"] {
            assert!(boolean(Field::IsApi, Some(cell)).is_err(), "{cell}");
        }
        // Count: 1 or empty; anything else rejects the row.
        let count = |c: &str| {
            let text = format!("{EXPORT}\n{}{c}\n", row.strip_suffix('1').unwrap());
            read_all(&text).unwrap()[0].1.clone().map(|_| ())
        };
        assert_eq!(count("1"), Ok(()));
        assert_eq!(count(""), Ok(()));
        assert_eq!(
            count("2").unwrap_err().to_string(),
            "Count must be 1 (one row per event), got \"2\": a row that counts several events cannot be stored as events"
        );
        assert_eq!(
            count("1.0").unwrap_err().to_string(),
            "Count must be 1 (one row per event), got \"1.0\": a row that counts several events cannot be stored as events"
        );
        assert_eq!(
            Header::parse("count,Count".split(','))
                .unwrap_err()
                .to_string(),
            "column \"Count\" appears more than once"
        );
        assert_eq!(
            Header::parse("Event ID,event_id".split(','))
                .unwrap_err()
                .to_string(),
            "field \"event_id\": column appears more than once"
        );
        assert_eq!(column_field(" User  Name"), Some(Field::UserName));
        assert_eq!(
            column_field("USER_last_Log In_date"),
            Some(Field::UserLastLoginDate)
        );
        assert_eq!(column_field("user-name"), None);
        assert_eq!(column_field("Count"), None);
    }

    #[test]
    fn unknown_columns_are_rejected_or_ignored() {
        let text = format!(
            "colour,{},Extra\nred,{},\"x,y\"\n",
            header_line(),
            event_to_csv_line(&example())
        );
        assert_eq!(
            read_all(&text).err().unwrap().to_string(),
            "line 1: unknown column \"colour\""
        );
        let opts = ParseOptions {
            unknown_fields: UnknownFields::Ignore,
        };
        let reader = Reader::with_options(text.as_bytes(), &opts).unwrap();
        assert_eq!(reader.header().ignored(), ["colour", "Extra"]);
        let records: Vec<Parsed> = reader.map(Result::unwrap).collect();
        assert_eq!(records, vec![(2, Ok(example()))]);
        // Ignoring unknown columns leaves the other header rules as they are.
        assert_eq!(
            Header::parse_with("colour,event_id".split(','), &opts)
                .unwrap_err()
                .to_string(),
            "the header has no column for required field(s) \"event_timestamp\", \"event_type\", \"event_name\", \"tool_name\", \"company_name\", \"device_type\", \"is_api\", \"user_id\", \"user_email\", \"user_name\""
        );
    }

    #[test]
    fn header_problems() {
        let h = header_line();
        assert_eq!(
            read_all(&format!("{h},user_id\n"))
                .err()
                .unwrap()
                .to_string(),
            "line 1: field \"user_id\": column appears more than once"
        );
        assert_eq!(
            read_all("").err().unwrap().to_string(),
            "line 1: the header row is missing"
        );
        // A byte-order mark is ignored; a header alone is no records.
        assert!(read_all(&format!("\u{feff}{h}\n")).unwrap().is_empty());
    }

    #[test]
    fn short_rows_and_bad_utf8() {
        let h = header_line();
        let text = format!("{h}\na,b\n");
        let records = read_all(&text).unwrap();
        assert_eq!(
            records[0].1.clone().unwrap_err().to_string(),
            "wrong number of cells (2; the header has 25)"
        );
        let header = Header::parse_row(h.as_bytes()).unwrap();
        let mut line = event_to_csv_line(&example()).into_bytes();
        let at = line.windows(5).position(|w| w == b"Maria").unwrap();
        line[at] = 0xff;
        let mut out = Vec::new();
        parse_chunk(&header, &line, 7, |l, r| out.push((l, r)));
        assert_eq!(out[0].0, 7);
        assert_eq!(
            out[0].1.clone().unwrap_err().to_string(),
            "field \"user_name\": is not valid UTF-8"
        );
    }

    /// Reads at most 7 bytes at a time.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn reader_gives_the_same_records_however_the_text_arrives() {
        let events: Vec<Event> = crate::generate::Generator::new(Default::default())
            .take(300)
            .enumerate()
            .map(|(i, mut e)| {
                if i % 7 == 0 {
                    e.event_name = format!("Viewed \"RFI\" {i},\nthen more");
                }
                e
            })
            .collect();
        let mut text = header_line() + "\r\n";
        for (i, e) in events.iter().enumerate() {
            text.push_str(&event_to_csv_line(e));
            text.push_str(if i % 2 == 0 { "\n" } else { "\r\n" });
            if i % 50 == 0 {
                text.push('\n');
            }
        }
        let whole: Vec<Parsed> = Reader::new(text.as_bytes())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let trickled: Vec<Parsed> = Reader::new(Trickle(text.as_bytes()))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(whole, trickled);
        let got: Vec<Event> = whole.iter().map(|(_, e)| e.clone().unwrap()).collect();
        assert_eq!(got, events);
        // Lines: the header, then each record's own lines plus blank lines.
        let mut line = 2;
        for (i, (l, e)) in whole.iter().enumerate() {
            assert_eq!(*l, line, "record {i}");
            line += 1 + e.as_ref().unwrap().event_name.matches('\n').count() as u64;
            if i % 50 == 0 {
                line += 1;
            }
        }
    }

    /// Records of a whole text, with their lines, as the csv crate reads it.
    fn records_of(text: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut r = reader_builder().from_reader(text);
        let mut rec = csv::ByteRecord::new();
        let mut lines = Vec::new();
        Scanner::default().scan(text, |l| lines.push(l));
        let mut out = Vec::new();
        while r.read_byte_record(&mut rec).unwrap() {
            out.push((lines[out.len()], rec.iter().map(<[u8]>::to_vec).collect()));
        }
        assert_eq!(out.len(), lines.len(), "one line per record");
        out
    }

    #[test]
    fn record_lines_are_physical_lines() {
        let lines = |text: &str| {
            let mut v = Vec::new();
            Scanner::default().scan(text.as_bytes(), |l| v.push(l));
            v
        };
        assert_eq!(lines("a\n\nb\n"), [1, 3]);
        assert_eq!(lines("h\r\na\r\n\r\nb\r\n"), [1, 2, 4]);
        assert_eq!(lines("\n\na\n\"x\ny\"\nb"), [3, 4, 6]);
        assert_eq!(lines("a\r\rb\n,\n"), [1, 1, 2]);
        assert_eq!(lines("\"a\"\"\n\",b\nc"), [1, 3]);
    }

    proptest! {
        /// Cutting at the splitter's boundaries, whatever the pieces it is fed,
        /// gives exactly the records (and line numbers) of a parse of the whole.
        #[test]
        fn splitting_preserves_records(
            text in proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(b','), Just(b'"'), Just(b'\n'), Just(b'\r'), Just(b' ')],
                0..200,
            ),
            feeds in proptest::collection::vec(1usize..40, 1..20),
        ) {
            let whole = records_of(&text);
            let mut splitter = Splitter::default();
            let mut cuts = vec![0];
            let (mut pos, mut k) = (0, 0);
            while pos < text.len() {
                let n = feeds[k % feeds.len()].min(text.len() - pos);
                k += 1;
                if let Some(b) = splitter.last_boundary(&text[pos..pos + n]) {
                    cuts.push(pos + b);
                }
                pos += n;
            }
            cuts.push(text.len());
            let mut pieces = Vec::new();
            let mut line = 1u64;
            for w in cuts.windows(2) {
                let chunk = &text[w[0]..w[1]];
                for (l, cells) in records_of(chunk) {
                    pieces.push((line + l - 1, cells));
                }
                line += chunk.iter().filter(|b| **b == b'\n').count() as u64;
            }
            prop_assert_eq!(pieces, whole);
        }
    }
}
