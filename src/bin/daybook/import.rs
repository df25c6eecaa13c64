//! `daybook import` and `daybook generate`: JSON Lines and CSV in and out.
//!
//! An import runs each file through a pipeline of threads:
//!
//! 1. a reader: raw reads (gzip-decoded when the name ends in `.gz` or the
//!    data starts with the gzip magic). It is the only thread that blocks on
//!    the input, so a stalled standard input never holds up the others;
//! 2. a splitter: cuts the text at record boundaries into chunks of about
//!    10,000 lines, numbered in file order, each with its first line number;
//! 3. parsers, one per core: each turns a chunk into events and rejections,
//!    with their line numbers;
//! 4. the calling thread: puts the parsed chunks back in file order and
//!    appends their events in batches of about 10,000 (a chunk's events, or
//!    several small chunks' together), one durable append each.
//!
//! Ctrl-C (once `catch_interrupt` is set up) stops the reading; what was
//! read up to the last complete record is still parsed and stored.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daybook::FieldError;
use daybook::csv_event::{self, Header, Splitter};
use daybook::json::{ParseOptions, UnknownFields, event_to_json_line, parse_event_with};
use daybook::{Day, Engine, Event, RejectReason};
use indicatif::{ProgressBar, ProgressStyle};

use crate::Failure;

/// Events per append (one fsync each): a batch is appended once it holds
/// at least half of this, so a chunk's events usually go as they are.
const BATCH: usize = 10_000;
/// Lines per parsing chunk (a chunk ends at the first record boundary past it).
const CHUNK_LINES: u64 = 10_000;
/// Bytes per read.
const READ_SIZE: usize = 1 << 20;
/// When the input stalls this long, what was read so far is parsed and
/// stored (a slow producer on standard input sees its events land).
const IDLE: Duration = Duration::from_millis(200);
/// Rejected records listed in the summary.
const SHOW_REJECTED: usize = 10;

/// An event file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// JSON Lines: one JSON object per line.
    Jsonl,
    /// CSV with a header row naming the columns.
    Csv,
}

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The format of every file; `None`: by file name (`.csv`, `.csv.gz` are
    /// CSV; anything else, and standard input, JSON Lines).
    pub format: Option<Format>,
    /// Stop at the first rejected record.
    pub strict: bool,
    /// Parser threads.
    pub threads: usize,
    /// Unknown JSON keys and CSV columns: reject (the record; for CSV, the
    /// file, at its header) or ignore (dropped, and counted in the summary).
    pub unknown_fields: UnknownFields,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            format: None,
            strict: false,
            threads: default_threads(),
            unknown_fields: UnknownFields::Reject,
        }
    }
}

/// `--unknown-fields`: what to do with a JSON key or CSV column that is not
/// a field of the event format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum UnknownFieldsArg {
    /// Reject it: the record (JSON), or the file at its header row (CSV).
    Reject,
    /// Drop it, store the rest, and count it in the summary.
    Ignore,
}

impl From<UnknownFieldsArg> for UnknownFields {
    fn from(a: UnknownFieldsArg) -> Self {
        match a {
            UnknownFieldsArg::Reject => UnknownFields::Reject,
            UnknownFieldsArg::Ignore => UnknownFields::Ignore,
        }
    }
}

/// One parser thread per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Why an import ended before the end of its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// `--strict` and a record was rejected.
    Strict,
    /// Ctrl-C.
    Interrupted,
}

#[derive(Default)]
pub struct Summary {
    pub lines: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Rejections counted by kind and field, e.g. `invalid: field "user_id"`.
    pub by_reason: BTreeMap<String, u64>,
    pub first_rejected: Vec<String>,
    /// Unknown fields dropped (`--unknown-fields ignore`): name, records.
    pub ignored: BTreeMap<String, u64>,
    pub seconds: f64,
    /// Bytes of (decompressed) text read.
    pub bytes: u64,
    /// Set when the import ended early; `stopped_at` says where.
    pub stop: Option<Stop>,
    pub stopped_at: Option<String>,
    /// A failure that ended the import (unreadable file, bad CSV header,
    /// storage error). What was stored before it stays stored.
    pub failure: Option<Failure>,
}

impl Summary {
    fn reject(&mut self, source: &str, line: u64, key: String, why: String) {
        self.rejected += 1;
        *self.by_reason.entry(key).or_default() += 1;
        if self.first_rejected.len() < SHOW_REJECTED {
            self.first_rejected.push(format!("{source}:{line}: {why}"));
        }
    }

    pub fn print(&self) {
        // A rate of nothing stored (all duplicates, say) says nothing.
        let rate = if self.stored > 0 {
            format!(
                " ({:.0} events/s)",
                self.stored as f64 / self.seconds.max(1e-9)
            )
        } else {
            String::new()
        };
        println!(
            "read {} lines ({:.1} MB) in {:.2} s: stored {}, duplicates {}, rejected {}{rate}",
            self.lines,
            self.bytes as f64 / 1e6,
            self.seconds,
            self.stored,
            self.duplicates,
            self.rejected,
        );
        if !self.ignored.is_empty() {
            let names: Vec<String> = self
                .ignored
                .iter()
                .map(|(name, n)| format!("\"{name}\" (in {n} record{})", plural(*n)))
                .collect();
            println!(
                "  {} unknown field(s) ignored: {}",
                names.len(),
                names.join(", ")
            );
        }
        for (reason, n) in &self.by_reason {
            println!("  rejected as {reason}: {n}");
        }
        if !self.first_rejected.is_empty() {
            println!("  first {} rejected record(s):", self.first_rejected.len());
        }
        for r in &self.first_rejected {
            println!("  {r}");
        }
        match (self.stop, &self.stopped_at) {
            (Some(Stop::Strict), Some(at)) => {
                println!("stopped at the first rejected record ({at}, --strict)");
            }
            (Some(Stop::Interrupted), Some(at)) => {
                println!("interrupted: stopped reading after {at}");
            }
            _ => {}
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The summary's grouping of a rejection: its kind, and the field at fault
/// (or, for an error about the whole record, the start of its message).
fn reason_key(kind: &str, e: Option<&FieldError>) -> String {
    match e {
        Some(FieldError {
            field: Some(field), ..
        }) => format!("{kind}: field \"{field}\""),
        Some(FieldError { message, .. }) => {
            let head = message
                .split([':', '"', '('])
                .next()
                .unwrap_or(message)
                .trim();
            format!("{kind}: {head}")
        }
        None => kind.to_string(),
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// From now on Ctrl-C stops imports gracefully (a second one exits at once).
pub fn catch_interrupt() -> Result<(), Failure> {
    ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    })
    .map_err(|e| Failure::from(format!("cannot catch Ctrl-C: {e}")))
}

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// The format of `name`: `--format`, else by its extension.
pub fn format_of(name: &str, forced: Option<Format>) -> Format {
    if let Some(f) = forced {
        return f;
    }
    let lower = name.to_ascii_lowercase();
    let base = lower.strip_suffix(".gz").unwrap_or(&lower);
    if base.ends_with(".csv") {
        Format::Csv
    } else {
        Format::Jsonl
    }
}

fn display_name(name: &str) -> &str {
    if name == "-" { "stdin" } else { name }
}

/// Counts the raw (possibly compressed) bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Imports each file in order with the default options: the format by file
/// name, one parser per core. A failure is returned as the error.
pub fn import_files(engine: &Engine, files: &[String], strict: bool) -> Result<Summary, Failure> {
    let opts = ImportOptions {
        strict,
        ..ImportOptions::default()
    };
    let mut s = import(engine, files, &opts);
    match s.failure.take() {
        Some(f) => Err(f),
        None => Ok(s),
    }
}

/// Imports each file in order. The summary says how it ended.
pub fn import(engine: &Engine, files: &[String], opts: &ImportOptions) -> Summary {
    let mut s = Summary::default();
    let started = Instant::now();
    // Fail before storing anything if a file cannot be opened.
    let mut inputs = Vec::with_capacity(files.len());
    for name in files {
        if name == "-" {
            inputs.push((name.as_str(), None));
            continue;
        }
        match File::open(name) {
            Ok(f) => inputs.push((name.as_str(), Some(f))),
            Err(e) => {
                s.failure = Some(Failure {
                    message: format!("{name}: {e}"),
                    code: 1,
                });
                return s;
            }
        }
    }
    // Files of which every record was rejected: the import fails (exit 1).
    let mut all_rejected = Vec::new();
    for (name, file) in inputs {
        if interrupted() {
            s.stop = Some(Stop::Interrupted);
            s.stopped_at = Some(format!("the end of a file, before {}", display_name(name)));
            break;
        }
        let (kept, rejected) = (s.stored + s.duplicates, s.rejected);
        match import_one(engine, name, file, opts, &mut s) {
            Ok(None) => {
                if s.stored + s.duplicates == kept && s.rejected > rejected {
                    let n = s.rejected - rejected;
                    all_rejected.push(format!(
                        "{}: {}, nothing stored",
                        display_name(name),
                        if n == 1 {
                            "its one record was rejected".to_string()
                        } else {
                            format!("all {n} records were rejected")
                        }
                    ));
                }
            }
            Ok(Some(stop)) => {
                s.stop = Some(stop);
                break;
            }
            Err(f) => {
                s.failure = Some(f);
                break;
            }
        }
    }
    if s.failure.is_none() && s.stop.is_none() && !all_rejected.is_empty() {
        s.failure = Some(Failure {
            message: all_rejected.join("; "),
            code: 1,
        });
    }
    s.seconds = started.elapsed().as_secs_f64();
    s
}

/// How a chunk's records are parsed.
#[derive(Clone)]
enum Parse {
    Jsonl(ParseOptions),
    Csv(Arc<Header>),
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

/// What the calling thread receives, numbered in file order.
enum Msg {
    Parsed(Box<ParsedChunk>),
    /// The end of the file's chunks: the whole file, or up to an error or
    /// an interruption.
    End {
        seq: u64,
        error: Option<String>,
        interrupted: bool,
        /// The CSV header's lines and bytes (not in any chunk).
        header: (u64, u64),
    },
}

/// A parsed chunk: its events with their lines, and its rejected records.
struct ParsedChunk {
    seq: u64,
    events: Vec<Event>,
    lines: Vec<u64>,
    errors: Vec<(u64, FieldError)>,
    /// Unknown fields dropped: name, records.
    ignored: BTreeMap<String, u64>,
    /// The line of a CSV header row at the start of a file read as JSON.
    csv_header: Option<u64>,
    /// Lines and bytes of text.
    text_lines: u64,
    bytes: u64,
    last_line: u64,
    flush: bool,
}

impl Msg {
    fn seq(&self) -> u64 {
        match self {
            Msg::Parsed(p) => p.seq,
            Msg::End { seq, .. } => *seq,
        }
    }
}

fn progress(total: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match total {
        Some(n) => ProgressBar::new(n).with_style(
            // MB (10^6 bytes), as in the summary.
            ProgressStyle::with_template(
                "{bar:40} {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {decimal_bytes} {decimal_bytes_per_sec} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    }
}

/// Imports one file (`file` is `None` for standard input). Returns why it
/// stopped early, if it did.
fn import_one(
    engine: &Engine,
    name: &str,
    file: Option<File>,
    opts: &ImportOptions,
    s: &mut Summary,
) -> Result<Option<Stop>, Failure> {
    let source = display_name(name);
    let format = format_of(name, opts.format);
    let gz_by_name = name.to_ascii_lowercase().ends_with(".gz");
    let raw_read = Arc::new(AtomicU64::new(0));
    let (input, total): (Box<dyn Read + Send>, Option<u64>) = match file {
        Some(f) => {
            let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
            (Box::new(f), len)
        }
        None => (Box::new(io::stdin()), None),
    };
    let input = Counting {
        inner: input,
        count: Arc::clone(&raw_read),
    };
    let bar = progress(total);

    let threads = opts.threads.max(1);
    let (raw_tx, raw_rx) = mpsc::sync_channel(4);
    let (recycle_tx, recycle_rx) = mpsc::channel();
    let (work_tx, work_rx) = mpsc::sync_channel::<Chunk>(threads);
    let (done_tx, done_rx) = mpsc::sync_channel::<Msg>(threads + 2);
    std::thread::Builder::new()
        .name("import-read".into())
        .spawn(move || read_input(input, gz_by_name, raw_tx, recycle_rx))?;
    {
        let done = done_tx.clone();
        let parse = ParseOptions {
            unknown_fields: opts.unknown_fields,
        };
        std::thread::Builder::new()
            .name("import-split".into())
            .spawn(move || split(raw_rx, recycle_tx, format, parse, work_tx, done))?;
    }
    let work_rx = Arc::new(Mutex::new(work_rx));
    for i in 0..threads {
        let (work, done) = (Arc::clone(&work_rx), done_tx.clone());
        std::thread::Builder::new()
            .name(format!("import-parse-{i}"))
            .spawn(move || parse_chunks(&work, &done))?;
    }
    drop(done_tx);

    let mut batch = Batch {
        strict: opts.strict,
        ..Batch::default()
    };
    let mut waiting: BTreeMap<u64, Msg> = BTreeMap::new();
    let mut next = 0u64;
    let mut last_line = 0u64;
    loop {
        let msg = done_rx.recv().map_err(|_| Failure {
            message: format!("{source}: the import stopped unexpectedly"),
            code: 1,
        })?;
        waiting.insert(msg.seq(), msg);
        while let Some(msg) = waiting.remove(&next) {
            next += 1;
            match msg {
                Msg::Parsed(p) => {
                    let p = *p;
                    if let Some(line) = p.csv_header {
                        bar.finish_and_clear();
                        return Err(Failure {
                            message: format!(
                                "{source}: line {line} looks like a CSV header, not JSON; to import CSV, add --format csv"
                            ),
                            code: 1,
                        });
                    }
                    for (name, n) in p.ignored {
                        *s.ignored.entry(name).or_default() += n;
                    }
                    s.lines += p.text_lines;
                    s.bytes += p.bytes;
                    last_line = last_line.max(p.last_line);
                    let stop_line = if opts.strict {
                        p.errors.first().map(|(line, _)| *line)
                    } else {
                        None
                    };
                    batch.add(p.events, p.lines, p.errors, stop_line);
                    if let Some(line) = stop_line {
                        // The good records before it are stored.
                        let at = batch.append(engine, source, s)?;
                        return Ok(Some(strict_stop(s, source, at.unwrap_or(line), &bar)));
                    }
                    if batch.events.len() >= BATCH / 2 || p.flush {
                        let at = batch.append(engine, source, s)?;
                        if let Some(at) = at.filter(|_| opts.strict) {
                            return Ok(Some(strict_stop(s, source, at, &bar)));
                        }
                    }
                    bar.set_position(raw_read.load(Ordering::Relaxed));
                    bar.set_message(format!("{} stored", s.stored));
                }
                Msg::End {
                    error,
                    interrupted,
                    header: (header_lines, header_bytes),
                    ..
                } => {
                    s.lines += header_lines;
                    s.bytes += header_bytes;
                    let rejected_at = batch.append(engine, source, s)?;
                    bar.finish_and_clear();
                    if let Some(e) = error {
                        return Err(Failure {
                            message: format!("{source}: {e}"),
                            code: 1,
                        });
                    }
                    if let Some(at) = rejected_at.filter(|_| opts.strict) {
                        return Ok(Some(strict_stop(s, source, at, &bar)));
                    }
                    if interrupted {
                        s.stopped_at = Some(format!("{source}:{last_line}"));
                        return Ok(Some(Stop::Interrupted));
                    }
                    return Ok(None);
                }
            }
        }
    }
}

/// Notes where `--strict` stopped.
fn strict_stop(s: &mut Summary, source: &str, line: u64, bar: &ProgressBar) -> Stop {
    s.stopped_at = Some(format!("{source}:{line}"));
    bar.finish_and_clear();
    Stop::Strict
}

/// Events waiting for an append, with their lines, and the records rejected
/// while parsing them (reported with the engine's rejections, in line order).
#[derive(Default)]
struct Batch {
    events: Vec<Event>,
    lines: Vec<u64>,
    errors: Vec<(u64, FieldError)>,
    /// `--strict`: store nothing after the first rejected record.
    strict: bool,
}

impl Batch {
    /// Adds a parsed chunk; with `until`, only the events before that line.
    fn add(
        &mut self,
        mut events: Vec<Event>,
        mut lines: Vec<u64>,
        errors: Vec<(u64, FieldError)>,
        until: Option<u64>,
    ) {
        if let Some(until) = until {
            let keep = lines.partition_point(|l| *l < until);
            events.truncate(keep);
            lines.truncate(keep);
        }
        if self.events.is_empty() {
            // The usual case: a chunk is a batch, and its events stay put.
            self.events = events;
            self.lines = lines;
        } else {
            self.events.append(&mut events);
            self.lines.append(&mut lines);
        }
        match until {
            Some(until) => self
                .errors
                .extend(errors.into_iter().take_while(|(l, _)| *l <= until)),
            None => self.errors.extend(errors),
        }
    }

    /// Appends the events (one durable append) and reports the rejected
    /// records. Returns the line of the first one the engine rejected.
    fn append(
        &mut self,
        engine: &Engine,
        source: &str,
        s: &mut Summary,
    ) -> Result<Option<u64>, Failure> {
        let mut rejected: Vec<(u64, String, String)> = std::mem::take(&mut self.errors)
            .into_iter()
            .map(|(line, e)| (line, reason_key("invalid", Some(&e)), e.to_string()))
            .collect();
        let mut first = None;
        if self.strict
            && let Some((i, reason)) = first_refusal(engine, &self.events)
        {
            // The engine would store the events after this one: stop here.
            let line = self.lines[i];
            self.events.truncate(i);
            self.lines.truncate(i);
            rejected.retain(|r| r.0 < line);
            rejected.push((line, reason_key(reason.kind(), None), reason.to_string()));
            first = Some(line);
        }
        if !self.events.is_empty() {
            let r = engine.append(std::mem::take(&mut self.events))?;
            s.stored += r.stored as u64;
            s.duplicates += r.duplicates as u64;
            for rej in r.rejected {
                let line = self.lines.get(rej.index).copied().unwrap_or(0);
                first = Some(first.map_or(line, |f: u64| f.min(line)));
                let key = match &rej.reason {
                    RejectReason::Invalid(e) => reason_key("invalid", Some(e)),
                    other => reason_key(other.kind(), None),
                };
                rejected.push((line, key, rej.reason.to_string()));
            }
            self.lines.clear();
        }
        rejected.sort_by_key(|r| r.0);
        for (line, key, why) in rejected {
            s.reject(source, line, key, why);
        }
        Ok(first)
    }
}

/// The first event the engine would refuse as expired or in the future,
/// by the engine's own options and clock.
fn first_refusal(engine: &Engine, events: &[Event]) -> Option<(usize, RejectReason)> {
    let o = engine.options();
    let now_ms = o.clock.now_ms();
    let horizon = Day::of_ms(now_ms).add_days(1 - o.retention_days.min(i32::MAX as u32) as i32);
    events.iter().enumerate().find_map(|(i, e)| {
        if e.day() < horizon {
            Some((
                i,
                RejectReason::Expired {
                    day: e.day(),
                    horizon,
                },
            ))
        } else if e.event_timestamp_ms > now_ms.saturating_add(o.max_future_ms) {
            Some((
                i,
                RejectReason::Future {
                    ts_ms: e.event_timestamp_ms,
                    now_ms,
                },
            ))
        } else {
            None
        }
    })
}

/// A piece of input: a buffer and how many of its bytes were read.
type Piece = io::Result<(Vec<u8>, usize)>;

/// The reader thread: sends the input's (decompressed) bytes in pieces, an
/// empty piece at the end, or the error that ended it. Buffers come back
/// through `recycle` to be read into again.
fn read_input(
    input: impl Read,
    gz_by_name: bool,
    out: SyncSender<Piece>,
    recycle: Receiver<Vec<u8>>,
) {
    let mut input = BufReader::with_capacity(READ_SIZE, input);
    let gz = gz_by_name || matches!(input.fill_buf(), Ok(b) if b.starts_with(&[0x1f, 0x8b]));
    let mut input: Box<dyn Read> = if gz {
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    };
    loop {
        let mut buf = recycle.try_recv().unwrap_or_else(|_| vec![0u8; READ_SIZE]);
        let piece = match input.read(&mut buf) {
            Ok(n) => Ok((buf, n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if gz => Err(io::Error::new(e.kind(), format!("gzip: {e}"))),
            Err(e) => Err(e),
        };
        let end = !matches!(&piece, Ok((_, n)) if *n > 0);
        if out.send(piece).is_err() || end {
            return;
        }
    }
}

/// Finds the last record boundary in text that continues what came before.
enum Boundaries {
    Lines,
    /// CSV: the header is read first, then records.
    Csv {
        header: Option<Arc<Header>>,
        header_scan: Splitter,
        records: Splitter,
    },
}

/// The splitter's output: chunks to the parsers, the end to the caller.
struct Cutter {
    work: SyncSender<Chunk>,
    done: SyncSender<Msg>,
    seq: u64,
    /// Text not sent yet; it starts at a record boundary on line `line`.
    pending: Vec<u8>,
    line: u64,
    /// The CSV header's lines and bytes.
    header: (u64, u64),
}

impl Cutter {
    /// Sends `pending[..end]` as a chunk. False if the parsers are gone.
    fn send(&mut self, end: usize, parse: Parse, flush: bool) -> bool {
        // The next chunk will be about as long as this one.
        let mut rest = Vec::with_capacity(end + 2 * READ_SIZE);
        rest.extend_from_slice(&self.pending[end..]);
        self.pending.truncate(end);
        let text = std::mem::replace(&mut self.pending, rest);
        let first_line = self.line;
        self.line += memchr::memchr_iter(b'\n', &text).count() as u64;
        let chunk = Chunk {
            seq: self.seq,
            first_line,
            text,
            parse,
            flush,
        };
        self.seq += 1;
        self.work.send(chunk).is_ok()
    }

    fn end(&self, error: Option<String>, interrupted: bool) {
        let _ = self.done.send(Msg::End {
            seq: self.seq,
            error,
            interrupted,
            header: self.header,
        });
    }
}

/// The splitter thread: cuts the text into chunks at record boundaries.
fn split(
    raw: Receiver<Piece>,
    recycle: mpsc::Sender<Vec<u8>>,
    format: Format,
    opts: ParseOptions,
    work: SyncSender<Chunk>,
    done: SyncSender<Msg>,
) {
    let mut b = match format {
        Format::Jsonl => Boundaries::Lines,
        Format::Csv => Boundaries::Csv {
            header: None,
            header_scan: Splitter::default(),
            records: Splitter::default(),
        },
    };
    let mut out = Cutter {
        work,
        done,
        seq: 0,
        pending: Vec::new(),
        line: 1,
        header: (0, 0),
    };
    // The part of `out.pending` scanned for boundaries, its line feeds, and
    // the last boundary in it.
    let mut scanned = 0usize;
    let mut newlines = 0u64;
    let mut boundary: Option<usize> = None;
    loop {
        let (idle, eof, error) = match raw.recv_timeout(IDLE) {
            Ok(Ok((buf, n))) => {
                out.pending.extend_from_slice(&buf[..n]);
                let _ = recycle.send(buf);
                (false, n == 0, None)
            }
            Ok(Err(e)) => (false, false, Some(e.to_string())),
            Err(RecvTimeoutError::Timeout) => (true, false, None),
            Err(RecvTimeoutError::Disconnected) => (false, true, None),
        };
        let stop = interrupted();
        // The CSV header, before any record.
        if let Boundaries::Csv {
            header,
            header_scan,
            ..
        } = &mut b
            && header.is_none()
        {
            let found = header_scan
                .first_boundary(&out.pending[scanned..])
                .map(|k| scanned + k);
            scanned = out.pending.len();
            let header_end = match found {
                Some(k) => k,
                None if eof => out.pending.len(),
                None if error.is_some() || stop => {
                    out.end(error, stop);
                    return;
                }
                None => continue,
            };
            match Header::parse_row_with(&out.pending[..header_end], &opts) {
                Ok(h) => *header = Some(Arc::new(h)),
                Err(e) => {
                    let message = header_error(&out.pending[..header_end], &e, &opts);
                    out.end(Some(message), false);
                    return;
                }
            }
            let lines = memchr::memchr_iter(b'\n', &out.pending[..header_end]).count() as u64;
            out.header = (lines.max(1), header_end as u64);
            out.line += lines;
            out.pending.drain(..header_end);
            scanned = 0;
        }
        let parse = match &b {
            Boundaries::Lines => Parse::Jsonl(opts),
            Boundaries::Csv {
                header: Some(h), ..
            } => Parse::Csv(Arc::clone(h)),
            Boundaries::Csv { header: None, .. } => return,
        };
        // Scan what is new.
        if scanned < out.pending.len() {
            let new = &out.pending[scanned..];
            newlines += memchr::memchr_iter(b'\n', new).count() as u64;
            let found = match &mut b {
                Boundaries::Lines => memchr::memrchr(b'\n', new).map(|k| k + 1),
                Boundaries::Csv { records, .. } => records.last_boundary(new),
            };
            if let Some(k) = found {
                boundary = Some(scanned + k);
            }
            scanned = out.pending.len();
        }
        if eof {
            let n = out.pending.len();
            if n > 0 && !out.send(n, parse, false) {
                return;
            }
            out.end(None, false);
            return;
        }
        if let Some(k) = boundary
            && (newlines >= CHUNK_LINES || idle || stop || error.is_some())
        {
            if !out.send(k, parse, idle) {
                return;
            }
            scanned = out.pending.len();
            newlines = memchr::memchr_iter(b'\n', &out.pending).count() as u64;
            boundary = None;
        }
        if error.is_some() || stop {
            out.end(error, stop);
            return;
        }
    }
}

/// The message for a CSV header row that failed. When the only trouble is
/// unknown columns, it names them all, says the file was not imported, and
/// how to import it without them.
fn header_error(row: &[u8], e: &FieldError, opts: &ParseOptions) -> String {
    let lenient = ParseOptions {
        unknown_fields: UnknownFields::Ignore,
    };
    if opts.unknown_fields == UnknownFields::Reject
        && let Ok(h) = Header::parse_row_with(row, &lenient)
        && !h.ignored().is_empty()
    {
        let names: Vec<String> = h.ignored().iter().map(|n| format!("\"{n}\"")).collect();
        let (what, which) = match names.len() {
            1 => ("column", "it is"),
            _ => ("columns", "they are"),
        };
        return format!(
            "line 1: unknown {what} {}; nothing was imported from this file (with --unknown-fields ignore, {which} skipped)",
            names.join(", ")
        );
    }
    format!("line 1: {e}")
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

/// A parser thread: parses chunks until there are no more.
fn parse_chunks(work: &Mutex<Receiver<Chunk>>, done: &SyncSender<Msg>) {
    loop {
        let chunk = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(chunk) = chunk else { return };
        let newlines = memchr::memchr_iter(b'\n', &chunk.text).count() as u64;
        let mut p = ParsedChunk {
            seq: chunk.seq,
            events: Vec::with_capacity(newlines as usize + 1),
            lines: Vec::with_capacity(newlines as usize + 1),
            errors: Vec::new(),
            ignored: BTreeMap::new(),
            csv_header: None,
            text_lines: 0,
            bytes: chunk.text.len() as u64,
            last_line: 0,
            flush: chunk.flush,
        };
        let each = |line: u64, r: Result<Event, FieldError>| match r {
            Ok(e) => {
                p.events.push(e);
                p.lines.push(line);
            }
            Err(e) => p.errors.push((line, e)),
        };
        match &chunk.parse {
            Parse::Jsonl(opts) => {
                if chunk.seq == 0 {
                    p.csv_header = first_line_if_csv_header(&chunk.text, chunk.first_line);
                }
                parse_lines(&chunk.text, chunk.first_line, opts, &mut p.ignored, each);
            }
            Parse::Csv(header) => {
                csv_event::parse_chunk(header, &chunk.text, chunk.first_line, each);
                let records = (p.events.len() + p.errors.len()) as u64;
                for name in header.ignored() {
                    *p.ignored.entry(name.clone()).or_default() += records;
                }
            }
        }
        let unterminated = u64::from(chunk.text.last().is_some_and(|b| *b != b'\n'));
        p.text_lines = newlines + unterminated;
        p.last_line = chunk.first_line + p.text_lines - 1;
        drop(chunk);
        if done.send(Msg::Parsed(Box::new(p))).is_err() {
            return;
        }
    }
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
/// Unknown keys dropped (with `--unknown-fields ignore`) are counted in
/// `ignored`.
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
    while start < text.len() {
        let end = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |k| start + k);
        let raw = &text[start..end];
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
        start = end + 1;
        line += 1;
    }
}

/// Writes events as JSON Lines to a file or standard output (`-`).
pub fn write_jsonl(events: impl Iterator<Item = Event>, out: &str) -> Result<u64, Failure> {
    write_events(events, out, Format::Jsonl)
}

/// Writes events in `format` to a file or standard output (`-`). CSV gets a
/// header row of the 25 stored fields.
pub fn write_events(
    events: impl Iterator<Item = Event>,
    out: &str,
    format: Format,
) -> Result<u64, Failure> {
    let sink: Box<dyn Write> = if out == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(File::create(out).map_err(|e| Failure {
            message: format!("{out}: {e}"),
            code: 1,
        })?)
    };
    let mut w = BufWriter::with_capacity(1 << 20, sink);
    let failed = |e: io::Error| Failure {
        message: format!("{out}: {e}"),
        code: 1,
    };
    let mut n = 0;
    let mut line = String::with_capacity(1024);
    if format == Format::Csv {
        line.push_str(&csv_event::header_line());
        line.push('\n');
    }
    for e in events {
        match format {
            Format::Jsonl => line.push_str(&event_to_json_line(&e)),
            Format::Csv => csv_event::push_csv_line(&mut line, &e),
        }
        line.push('\n');
        if let Err(e) = w.write_all(line.as_bytes()) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Ok(n);
            }
            return Err(failed(e));
        }
        line.clear();
        n += 1;
    }
    if let Err(e) = w.write_all(line.as_bytes()).and_then(|()| w.flush())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        return Err(failed(e));
    }
    Ok(n)
}
