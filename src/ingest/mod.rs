//! Importing event files: JSON Lines or CSV text from any reader, parsed on
//! several threads and appended in input order, every rejected record
//! reported with its line.
//!
//! An [`Importer`] runs each input through a pipeline of threads:
//!
//! 1. a reader: raw reads of the input. It is the only thread that blocks
//!    on it, so a stalled producer never holds up the others;
//! 2. a splitter: cuts the text at record boundaries into chunks of about
//!    [`ImportOptions::chunk_lines`] lines, numbered in input order, each
//!    with its first line number (the one record cutter of the crate,
//!    shared with [`csv_event::Reader`]);
//! 3. parsers, [`ImportOptions::threads`] of them: each turns a chunk into
//!    events and rejections, with their line numbers;
//! 4. the calling thread: puts the parsed chunks back in input order and
//!    appends their events in batches of about
//!    [`ImportOptions::batch_size`], one durable append each.
//!
//! When the input stalls for a moment, what was read so far is parsed and
//! stored, so a slow producer sees its events land. A cancelled
//! [`CancelToken`] stops the reading; what was read up to the last
//! complete record is still parsed and stored.
//!
//! ```
//! use daybook::ingest::{Format, ImportOptions, Importer};
//! # let dir = tempfile::tempdir()?;
//! # let now = daybook::time::parse_rfc3339_ms("2026-11-26T15:00:00Z").unwrap();
//! # let opts = daybook::Options { clock: std::sync::Arc::new(daybook::ManualClock::new(now)), ..Default::default() };
//! # let engine = daybook::Engine::open(dir.path(), opts)?;
//! let text = "event_id,event_timestamp,event_type,event_name,tool_name,company_name,\
//!             device_type,is_api,user_id,user_email,user_name\n\
//!             e-1,2026-11-26T14:03:22Z,View,Viewed RFI,RFIs,Granite Ridge,iOS,false,7,m@x.example,Maria\n\
//!             e-2,2026-11-26T14:03:23Z,View,Viewed RFI,RFIs,Granite Ridge,iOS,maybe,7,m@x.example,Maria\n";
//! let mut importer = Importer::new(&engine, ImportOptions::new(Format::Csv));
//! importer.import("events.csv", std::io::Cursor::new(text))?;
//! let s = importer.summary();
//! assert_eq!((s.stored, s.rejected), (1, 1));
//! assert_eq!(
//!     s.first_rejected[0].to_string(),
//!     "events.csv:3: field \"is_api\": expected true or false, got \"maybe\""
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`csv_event::Reader`]: crate::csv_event::Reader

pub(crate) mod batch;

mod parse;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::csv_event::Header;
use crate::engine::Engine;
use crate::error::Error;
use crate::event::FieldError;
use crate::json::{ParseOptions, UnknownFields};
use crate::query::CancelToken;
use crate::report::RejectReason;

use crate::cut::{self, Cutter};
use batch::{Appended, Batch};
use parse::{Parse, Parsed};

/// When the input stalls this long, what was read so far is parsed and
/// stored (a slow producer on standard input sees its events land).
const IDLE: Duration = Duration::from_millis(200);

/// An event file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON Lines: one JSON object per line; blank lines are skipped.
    Jsonl,
    /// CSV with a header row naming the columns (docs/event-format.md).
    Csv,
}

/// How an [`Importer`] reads and stores.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The format of the input.
    pub format: Format,
    /// Parser threads (at least one is used). Default: one per core.
    pub threads: usize,
    /// Events per append (one durable append each): parsed events are
    /// appended once at least half of this is waiting. Default 10,000.
    pub batch_size: usize,
    /// Lines per parsing chunk: a chunk ends at the first record boundary
    /// past this many lines. Default 10,000.
    pub chunk_lines: u64,
    /// Bytes asked of the input per read. Default 1 MiB.
    pub read_size: usize,
    /// Stop at the first rejected record: the records before it are stored,
    /// it and everything after it are not.
    pub strict: bool,
    /// Unknown JSON keys and CSV columns: reject (the record; for CSV, the
    /// input, at its header) or ignore (dropped, and counted in
    /// [`Summary::ignored`]).
    pub unknown_fields: UnknownFields,
    /// Rejected records kept in [`Summary::first_rejected`]. Default 10.
    pub first_errors: usize,
    /// Stops the reading once cancelled (see the module docs).
    pub cancel: Option<CancelToken>,
}

impl ImportOptions {
    /// The defaults for `format`: one parser per core, not strict, unknown
    /// fields rejected.
    pub fn new(format: Format) -> ImportOptions {
        ImportOptions {
            format,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            batch_size: 10_000,
            chunk_lines: 10_000,
            read_size: 1 << 20,
            strict: false,
            unknown_fields: UnknownFields::Reject,
            first_errors: 10,
            cancel: None,
        }
    }
}

impl Default for ImportOptions {
    /// The defaults for JSON Lines.
    fn default() -> ImportOptions {
        ImportOptions::new(Format::Jsonl)
    }
}

/// Why an import ended before the end of its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// [`ImportOptions::strict`], and a record was rejected.
    Strict,
    /// The [`ImportOptions::cancel`] token was cancelled.
    Cancelled,
}

/// Where an import stopped early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// Why.
    pub why: Stop,
    /// The input's name, as given to [`Importer::import`].
    pub input: String,
    /// Strict: the line of the rejected record. Cancelled: the last line
    /// read (everything up to it was parsed).
    pub line: u64,
}

/// One rejected record: where it is and why it was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordError {
    /// The input's name, as given to [`Importer::import`].
    pub input: String,
    /// The line the record starts on (from 1; a CSV header is line 1).
    pub line: u64,
    /// Why: invalid (the field and what is wrong), or refused by the engine.
    pub reason: RejectReason,
}

impl RecordError {
    /// The field at fault, if the reason names one (the engine's refusals
    /// are about `event_timestamp`).
    pub fn field(&self) -> Option<&str> {
        field_of(&self.reason)
    }
}

impl fmt::Display for RecordError {
    /// `input:line: reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.input, self.line, self.reason)
    }
}

/// The field a rejection is about.
pub(crate) fn field_of(reason: &RejectReason) -> Option<&str> {
    match reason {
        RejectReason::Invalid(e) => e.field.as_deref(),
        _ => Some("event_timestamp"),
    }
}

/// What an [`Importer`] did, over all its inputs so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Lines of text read (a CSV header included).
    pub lines: u64,
    /// Bytes of text read.
    pub bytes: u64,
    /// Events stored.
    pub stored: u64,
    /// Events already stored (by company and event id): not stored again.
    pub duplicates: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Rejections counted by kind and field, e.g. `invalid: field
    /// "user_id"`, `expired` (for an error about the whole record, its kind
    /// and the start of its message).
    pub by_reason: BTreeMap<String, u64>,
    /// The first [`ImportOptions::first_errors`] rejected records, in input
    /// order.
    pub first_rejected: Vec<RecordError>,
    /// Unknown fields dropped ([`UnknownFields::Ignore`]): name, records.
    pub ignored: BTreeMap<String, u64>,
    /// Set when an input ended early.
    pub stopped: Option<Stopped>,
}

impl Summary {
    /// Counts an append's results.
    fn count(&mut self, input: &str, a: Appended, keep: usize) {
        self.stored += a.stored;
        self.duplicates += a.duplicates;
        for (line, reason) in a.rejected {
            self.rejected += 1;
            *self.by_reason.entry(reason_key(&reason)).or_default() += 1;
            if self.first_rejected.len() < keep {
                self.first_rejected.push(RecordError {
                    input: input.to_string(),
                    line,
                    reason,
                });
            }
        }
    }
}

/// The summary's grouping of a rejection: its kind, and the field at fault
/// (or, for an error about the whole record, the start of its message).
fn reason_key(reason: &RejectReason) -> String {
    let RejectReason::Invalid(e) = reason else {
        return reason.kind().to_string();
    };
    let kind = reason.kind();
    match &e.field {
        Some(field) => format!("{kind}: field \"{field}\""),
        None => {
            let m = &e.message;
            let head = m.split([':', '"', '(']).next().unwrap_or(m).trim();
            format!("{kind}: {head}")
        }
    }
}

/// Progress of an import, given to the [`Importer::on_progress`] callback
/// after each parsed chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes read from the current input so far.
    pub bytes_read: u64,
    /// Events stored by the importer so far (all inputs).
    pub stored: u64,
}

/// What ended an input's import early, other than a rejected record.
/// What was stored before it stays stored, and is in the [`Summary`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Reading the input failed.
    #[error("{input}: {error}")]
    Read {
        /// The input's name.
        input: String,
        /// What the reader returned.
        error: io::Error,
    },
    /// The CSV header row is missing or names a column wrongly; nothing of
    /// the input was imported.
    #[error("{input}: line 1: {error}")]
    Header {
        /// The input's name.
        input: String,
        /// What is wrong with the header.
        error: FieldError,
        /// When the only trouble is unknown columns: their names (with
        /// [`UnknownFields::Ignore`] they would be skipped).
        unknown_columns: Vec<String>,
    },
    /// Input read as JSON Lines starts with what looks like a CSV header.
    #[error("{input}: line {line} looks like a CSV header, not JSON")]
    CsvHeader {
        /// The input's name.
        input: String,
        /// The line of the header row.
        line: u64,
    },
    /// The engine failed (storage, a failed state, an internal error).
    #[error(transparent)]
    Engine(#[from] Error),
}

/// Imports inputs into an engine, one after another, and sums up what
/// happened (see the module docs).
pub struct Importer<'a> {
    engine: &'a Engine,
    opts: ImportOptions,
    summary: Summary,
    progress: Option<Box<dyn FnMut(Progress) + 'a>>,
}

impl fmt::Debug for Importer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Importer")
            .field("opts", &self.opts)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl<'a> Importer<'a> {
    /// An importer into `engine`.
    pub fn new(engine: &'a Engine, opts: ImportOptions) -> Importer<'a> {
        Importer {
            engine,
            opts,
            summary: Summary::default(),
            progress: None,
        }
    }

    /// Calls `f` after each parsed chunk is stored (on the calling thread).
    pub fn on_progress(&mut self, f: impl FnMut(Progress) + 'a) {
        self.progress = Some(Box::new(f));
    }

    /// What was done so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Ends the importer, returning its summary.
    pub fn into_summary(self) -> Summary {
        self.summary
    }

    /// Imports one input, named `input` in the summary and in errors, to
    /// its end or until it stops early: then returns why (and
    /// [`Summary::stopped`] says where). The input is read on a thread of
    /// its own; if the import stops early, that thread ends at its next
    /// read.
    pub fn import(
        &mut self,
        input: &str,
        reader: impl Read + Send + 'static,
    ) -> Result<Option<Stop>, ImportError> {
        let bytes_read = Arc::new(AtomicU64::new(0));
        let done = self.start(reader, Arc::clone(&bytes_read))?;
        self.collect(input, &done, &bytes_read)
    }

    /// Starts the reader, splitter and parser threads; returns where their
    /// output arrives.
    fn start(
        &self,
        reader: impl Read + Send + 'static,
        bytes_read: Arc<AtomicU64>,
    ) -> Result<Receiver<Msg>, Error> {
        let o = &self.opts;
        let threads = o.threads.max(1);
        let (raw_tx, raw_rx) = mpsc::sync_channel(4);
        let (recycle_tx, recycle_rx) = mpsc::channel();
        let (work_tx, work_rx) = mpsc::sync_channel::<Chunk>(threads);
        let (done_tx, done_rx) = mpsc::sync_channel::<Msg>(threads + 2);
        let read_size = o.read_size.max(1);
        spawn("import-read".into(), move || {
            read_input(reader, read_size, &raw_tx, &recycle_rx, &bytes_read);
        })?;
        let split = Split {
            raw: raw_rx,
            recycle: recycle_tx,
            parse: ParseOptions {
                unknown_fields: o.unknown_fields,
            },
            cutter: Cutter::new(o.format == Format::Csv, 2 * read_size),
            chunk_lines: o.chunk_lines.max(1),
            cancel: o.cancel.clone(),
            work: work_tx,
            done: done_tx.clone(),
            seq: 0,
            header: None,
            header_size: (0, 0),
        };
        spawn("import-split".into(), move || split.run())?;
        let work_rx = Arc::new(Mutex::new(work_rx));
        for i in 0..threads {
            let (work, done) = (Arc::clone(&work_rx), done_tx.clone());
            spawn(format!("import-parse-{i}"), move || {
                parse_chunks(&work, &done)
            })?;
        }
        Ok(done_rx)
    }

    /// Puts the parsed chunks back in input order, appends and counts them.
    fn collect(
        &mut self,
        input: &str,
        done: &Receiver<Msg>,
        bytes_read: &AtomicU64,
    ) -> Result<Option<Stop>, ImportError> {
        let mut batch = Batch::new(self.opts.strict);
        let mut waiting: BTreeMap<u64, Msg> = BTreeMap::new();
        let mut next = 0u64;
        let mut last_line = 0u64;
        loop {
            let msg = done.recv().map_err(|_| {
                Error::Internal(format!(
                    "{input}: the import's threads stopped unexpectedly"
                ))
            })?;
            waiting.insert(msg.seq(), msg);
            while let Some(msg) = waiting.remove(&next) {
                next += 1;
                match msg {
                    Msg::Parsed(p) => {
                        last_line = last_line.max(p.parsed.last_line);
                        if let Some(stop) = self.add_chunk(input, *p, &mut batch)? {
                            return Ok(Some(stop));
                        }
                        if let Some(f) = &mut self.progress {
                            f(Progress {
                                bytes_read: bytes_read.load(Ordering::Relaxed),
                                stored: self.summary.stored,
                            });
                        }
                    }
                    Msg::End {
                        error,
                        cancelled,
                        header,
                        ..
                    } => return self.end(input, &mut batch, error, cancelled, header, last_line),
                }
            }
        }
    }

    /// Adds a parsed chunk to the batch, appending it when it is full (or
    /// the input stalled). Returns `Some` when the import stops here.
    fn add_chunk(
        &mut self,
        input: &str,
        p: ParsedChunk,
        batch: &mut Batch,
    ) -> Result<Option<Stop>, ImportError> {
        let ParsedChunk { flush, parsed, .. } = p;
        if let Some(line) = parsed.csv_header {
            return Err(ImportError::CsvHeader {
                input: input.to_string(),
                line,
            });
        }
        let s = &mut self.summary;
        for (name, n) in parsed.ignored {
            *s.ignored.entry(name).or_default() += n;
        }
        s.lines += parsed.text_lines;
        s.bytes += parsed.bytes;
        let strict = self.opts.strict;
        let stop_line = parsed
            .errors
            .first()
            .map(|(line, _)| *line)
            .filter(|_| strict);
        batch.add(parsed.events, parsed.lines, parsed.errors, stop_line);
        if let Some(line) = stop_line {
            // The good records before it are stored.
            let at = self.append(input, batch)?;
            return Ok(Some(self.stop(Stop::Strict, input, at.unwrap_or(line))));
        }
        if batch.len() >= self.opts.batch_size / 2 || flush {
            let at = self.append(input, batch)?;
            if let Some(at) = at.filter(|_| strict) {
                return Ok(Some(self.stop(Stop::Strict, input, at)));
            }
        }
        Ok(None)
    }

    /// The end of an input's chunks: what is left is appended.
    fn end(
        &mut self,
        input: &str,
        batch: &mut Batch,
        error: Option<SplitError>,
        cancelled: bool,
        (header_lines, header_bytes): (u64, u64),
        last_line: u64,
    ) -> Result<Option<Stop>, ImportError> {
        self.summary.lines += header_lines;
        self.summary.bytes += header_bytes;
        let refused_at = self.append(input, batch)?;
        let input = input.to_string();
        match error {
            Some(SplitError::Read(error)) => return Err(ImportError::Read { input, error }),
            Some(SplitError::Header {
                error,
                unknown_columns,
            }) => {
                return Err(ImportError::Header {
                    input,
                    error,
                    unknown_columns,
                });
            }
            None => {}
        }
        if let Some(at) = refused_at.filter(|_| self.opts.strict) {
            return Ok(Some(self.stop(Stop::Strict, &input, at)));
        }
        if cancelled {
            return Ok(Some(self.stop(Stop::Cancelled, &input, last_line)));
        }
        Ok(None)
    }

    /// Appends the batch and counts it; returns the line of the first
    /// record the engine refused.
    fn append(&mut self, input: &str, batch: &mut Batch) -> Result<Option<u64>, Error> {
        let a = batch.append(self.engine)?;
        let at = a.first_refused;
        self.summary.count(input, a, self.opts.first_errors);
        Ok(at)
    }

    /// Notes where the import stopped.
    fn stop(&mut self, why: Stop, input: &str, line: u64) -> Stop {
        self.summary.stopped = Some(Stopped {
            why,
            input: input.to_string(),
            line,
        });
        why
    }
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<(), Error> {
    std::thread::Builder::new()
        .name(name)
        .spawn(f)
        .map(drop)
        .map_err(|e| Error::Internal(format!("cannot start an import thread: {e}")))
}

/// Text cut at record boundaries, for a parser.
struct Chunk {
    seq: u64,
    first_line: u64,
    text: Vec<u8>,
    parse: Parse,
    /// Store what was parsed so far once this chunk is in (the input stalled).
    flush: bool,
}

/// Why the splitter ended an input.
enum SplitError {
    Read(io::Error),
    Header {
        error: FieldError,
        unknown_columns: Vec<String>,
    },
}

/// What the calling thread receives, numbered in input order.
enum Msg {
    Parsed(Box<ParsedChunk>),
    /// The end of the input's chunks: the whole input, or up to an error or
    /// a cancel.
    End {
        seq: u64,
        error: Option<SplitError>,
        cancelled: bool,
        /// The CSV header's lines and bytes (not in any chunk).
        header: (u64, u64),
    },
}

/// A parsed chunk, numbered.
struct ParsedChunk {
    seq: u64,
    flush: bool,
    parsed: Parsed,
}

impl Msg {
    fn seq(&self) -> u64 {
        match self {
            Msg::Parsed(p) => p.seq,
            Msg::End { seq, .. } => *seq,
        }
    }
}

/// A piece of input: a buffer and how many of its bytes were read.
type RawPiece = io::Result<(Vec<u8>, usize)>;

/// The reader thread: sends the input's bytes in pieces, an empty piece at
/// the end, or the error that ended it. Buffers come back through
/// `recycle` to be read into again.
fn read_input(
    mut input: impl Read,
    read_size: usize,
    out: &SyncSender<RawPiece>,
    recycle: &Receiver<Vec<u8>>,
    count: &AtomicU64,
) {
    loop {
        let mut buf = recycle.try_recv().unwrap_or_else(|_| vec![0u8; read_size]);
        let piece = match input.read(&mut buf) {
            Ok(n) => {
                count.fetch_add(n as u64, Ordering::Relaxed);
                Ok((buf, n))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(e),
        };
        let end = !matches!(&piece, Ok((_, n)) if *n > 0);
        if out.send(piece).is_err() || end {
            return;
        }
    }
}

/// The splitter thread's state.
struct Split {
    raw: Receiver<RawPiece>,
    recycle: mpsc::Sender<Vec<u8>>,
    parse: ParseOptions,
    cutter: Cutter,
    chunk_lines: u64,
    cancel: Option<CancelToken>,
    work: SyncSender<Chunk>,
    done: SyncSender<Msg>,
    seq: u64,
    /// CSV: the checked header row.
    header: Option<Arc<Header>>,
    /// The CSV header's lines and bytes.
    header_size: (u64, u64),
}

impl Split {
    /// Cuts the text into chunks at record boundaries until the input ends.
    fn run(mut self) {
        loop {
            let (idle, eof, error) = match self.raw.recv_timeout(IDLE) {
                Ok(Ok((buf, n))) => {
                    self.cutter.push(buf.get(..n).unwrap_or_default());
                    let _ = self.recycle.send(buf);
                    (false, n == 0, None)
                }
                Ok(Err(e)) => (false, false, Some(e)),
                Err(RecvTimeoutError::Timeout) => (true, false, None),
                Err(RecvTimeoutError::Disconnected) => (false, true, None),
            };
            let stop = self.cancel.as_ref().is_some_and(CancelToken::is_cancelled);
            // The CSV header, before any record.
            if self.cutter.wants_header() {
                match self.cutter.take_header(eof) {
                    Some((row, lines)) => {
                        if let Err(e) = self.check_header(&row, lines) {
                            return self.end(Some(e), false);
                        }
                    }
                    None if error.is_some() || stop => {
                        return self.end(error.map(SplitError::Read), stop);
                    }
                    None => continue,
                }
            }
            let parse = match &self.header {
                Some(h) => Parse::Csv(Arc::clone(h)),
                None => Parse::Jsonl(self.parse),
            };
            if eof {
                if let Some(piece) = self.cutter.finish()
                    && !self.send(piece, parse, false)
                {
                    return;
                }
                return self.end(None, false);
            }
            if self.cutter.has_boundary()
                && (self.cutter.pending_lines() >= self.chunk_lines
                    || idle
                    || stop
                    || error.is_some())
                && let Some(piece) = self.cutter.cut()
                && !self.send(piece, parse, idle)
            {
                return;
            }
            if error.is_some() || stop {
                return self.end(error.map(SplitError::Read), stop);
            }
        }
    }

    /// Checks the CSV header row (`lines` long).
    fn check_header(&mut self, row: &[u8], lines: u64) -> Result<(), SplitError> {
        match Header::parse_row_with(row, &self.parse) {
            Ok(h) => {
                self.header = Some(Arc::new(h));
                self.header_size = (lines.max(1), row.len() as u64);
                Ok(())
            }
            Err(error) => Err(SplitError::Header {
                unknown_columns: self.unknown_columns(row),
                error,
            }),
        }
    }

    /// When unknown columns are rejected and they are the only trouble of
    /// a header row: their names.
    fn unknown_columns(&self, row: &[u8]) -> Vec<String> {
        let lenient = ParseOptions {
            unknown_fields: UnknownFields::Ignore,
        };
        match Header::parse_row_with(row, &lenient) {
            Ok(h) if self.parse.unknown_fields == UnknownFields::Reject => h.ignored().to_vec(),
            _ => Vec::new(),
        }
    }

    /// Sends a piece as a chunk. False if the parsers are gone.
    fn send(&mut self, piece: cut::Piece, parse: Parse, flush: bool) -> bool {
        let chunk = Chunk {
            seq: self.seq,
            first_line: piece.first_line,
            text: piece.text,
            parse,
            flush,
        };
        self.seq += 1;
        self.work.send(chunk).is_ok()
    }

    fn end(self, error: Option<SplitError>, cancelled: bool) {
        let _ = self.done.send(Msg::End {
            seq: self.seq,
            error,
            cancelled,
            header: self.header_size,
        });
    }
}

/// A parser thread: parses chunks until there are no more.
fn parse_chunks(work: &Mutex<Receiver<Chunk>>, done: &SyncSender<Msg>) {
    loop {
        let chunk = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(chunk) = chunk else { return };
        let parsed = parse::parse(&chunk.parse, &chunk.text, chunk.first_line, chunk.seq == 0);
        let p = ParsedChunk {
            seq: chunk.seq,
            flush: chunk.flush,
            parsed,
        };
        drop(chunk);
        if done.send(Msg::Parsed(Box::new(p))).is_err() {
            return;
        }
    }
}
