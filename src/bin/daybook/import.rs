//! `daybook import` and `daybook generate`: JSON Lines and CSV in and out.
//!
//! The import itself (reading, cutting at record boundaries, parsing on
//! several threads, appending in order, reporting per record) is the
//! library's [`daybook::ingest::Importer`]. This module adds what only the
//! command has: files and standard input, gzip, the progress bar, Ctrl-C
//! and the printed summary.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use daybook::csv_event;
use daybook::ingest::{self, ImportError, ImportOptions as LibOptions, Importer};
use daybook::json::{UnknownFields, event_to_json_line};
use daybook::{CancelToken, Engine, Event};
use indicatif::{ProgressBar, ProgressStyle};

use crate::Failure;

/// Bytes per read.
const READ_SIZE: usize = 1 << 20;

/// An event file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// JSON Lines: one JSON object per line.
    Jsonl,
    /// CSV with a header row naming the columns.
    Csv,
}

impl From<Format> for ingest::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Jsonl => ingest::Format::Jsonl,
            Format::Csv => ingest::Format::Csv,
        }
    }
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

/// One parser thread per core (the library's default).
pub fn default_threads() -> usize {
    LibOptions::default().threads
}

/// Why an import ended before the end of its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// `--strict` and a record was rejected.
    Strict,
    /// Ctrl-C.
    Interrupted,
}

/// What an import did: the library's counts, and how the command ended.
#[derive(Default)]
pub struct Summary {
    pub counts: ingest::Summary,
    pub seconds: f64,
    /// Set when the import ended early; `stopped_at` says where.
    pub stop: Option<Stop>,
    pub stopped_at: Option<String>,
    /// A failure that ended the import (unreadable file, bad CSV header,
    /// storage error). What was stored before it stays stored.
    pub failure: Option<Failure>,
    /// Days whose segments were merged into one after the input ended
    /// (`Engine::settle`), and the seconds it took (part of `seconds`).
    pub settled: Option<(usize, f64)>,
}

impl Summary {
    pub fn print(&self) {
        let c = &self.counts;
        // A rate of nothing stored (all duplicates, say) says nothing.
        let rate = if c.stored > 0 {
            format!(
                " ({:.0} events/s)",
                c.stored as f64 / self.seconds.max(1e-9)
            )
        } else {
            String::new()
        };
        println!(
            "read {} lines ({:.1} MB) in {:.2} s: stored {}, duplicates {}, rejected {}{rate}",
            c.lines,
            c.bytes as f64 / 1e6,
            self.seconds,
            c.stored,
            c.duplicates,
            c.rejected,
        );
        if !c.ignored.is_empty() {
            let names: Vec<String> = c
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
        for (reason, n) in &c.by_reason {
            println!("  rejected as {reason}: {n}");
        }
        if !c.first_rejected.is_empty() {
            println!("  first {} rejected record(s):", c.first_rejected.len());
        }
        for r in &c.first_rejected {
            println!("  {r}");
        }
        if let Some((days, seconds)) = self.settled
            && days > 0
        {
            println!(
                "settled: the segments of {days} day{} merged into one each in {seconds:.2} s",
                plural(days as u64)
            );
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

/// Cancelled by Ctrl-C (once `catch_interrupt` is set up).
static INTERRUPT: std::sync::OnceLock<CancelToken> = std::sync::OnceLock::new();

fn interrupt() -> &'static CancelToken {
    INTERRUPT.get_or_init(CancelToken::new)
}

/// From now on Ctrl-C stops imports gracefully (a second one exits at once).
pub fn catch_interrupt() -> Result<(), Failure> {
    let token = interrupt().clone();
    ctrlc::set_handler(move || {
        if token.is_cancelled() {
            std::process::exit(130);
        }
        token.cancel();
    })
    .map_err(|e| Failure::from(format!("cannot catch Ctrl-C: {e}")))
}

fn interrupted() -> bool {
    interrupt().is_cancelled()
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

/// Gzip-decoded input; its errors say so.
struct Gunzip<R: BufRead>(flate2::bufread::MultiGzDecoder<R>);

impl<R: BufRead> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| match e.kind() {
            io::ErrorKind::Interrupted => e,
            kind => io::Error::new(kind, format!("gzip: {e}")),
        })
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
    let (stop, failure) = import_inputs(engine, inputs, opts, &mut s);
    s.stop = stop;
    s.failure = failure;
    // The input is over: its days get the one-segment form queries are
    // fastest on now, not after a quiet period (unless Ctrl-C asked to
    // stop, or storage failed).
    if s.stop != Some(Stop::Interrupted) && s.failure.is_none() && s.counts.stored > 0 {
        let t = Instant::now();
        match engine.settle() {
            Ok(days) => s.settled = Some((days, t.elapsed().as_secs_f64())),
            Err(e) => {
                s.failure = Some(Failure {
                    message: format!("settling the imported days: {e}"),
                    code: 1,
                })
            }
        }
    }
    s.seconds = started.elapsed().as_secs_f64();
    s
}

/// Imports the opened files in order; returns why it stopped early, or
/// the failure that ended it.
fn import_inputs(
    engine: &Engine,
    inputs: Vec<(&str, Option<File>)>,
    opts: &ImportOptions,
    s: &mut Summary,
) -> (Option<Stop>, Option<Failure>) {
    // Files of which every record was rejected: the import fails (exit 1).
    let mut all_rejected = Vec::new();
    for (name, file) in inputs {
        if interrupted() {
            s.stopped_at = Some(format!("the end of a file, before {}", display_name(name)));
            return (Some(Stop::Interrupted), None);
        }
        let c = &s.counts;
        let (kept, rejected) = (c.stored + c.duplicates, c.rejected);
        match import_one(engine, name, file, opts, s) {
            Ok(None) => {
                let c = &s.counts;
                if c.stored + c.duplicates == kept && c.rejected > rejected {
                    let n = c.rejected - rejected;
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
            Ok(Some(stop)) => return (Some(stop), None),
            Err(f) => return (None, Some(f)),
        }
    }
    if all_rejected.is_empty() {
        return (None, None);
    }
    let failure = Failure {
        message: all_rejected.join("; "),
        code: 1,
    };
    (None, Some(failure))
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

/// The input of a file (`None`: standard input), counting its raw bytes
/// in `raw_read`, and its length if known.
fn open_input(name: &str, file: Option<File>, raw_read: &Arc<AtomicU64>) -> (Sniffed, Option<u64>) {
    let (input, total): (Box<dyn Read + Send>, Option<u64>) = match file {
        Some(f) => {
            let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
            (Box::new(f), len)
        }
        None => (Box::new(io::stdin()), None),
    };
    let input = Counting {
        inner: input,
        count: Arc::clone(raw_read),
    };
    let gz_by_name = name.to_ascii_lowercase().ends_with(".gz");
    let sniffed = Sniffed {
        first: Some((BufReader::with_capacity(READ_SIZE, input), gz_by_name)),
        input: Box::new(io::empty()),
    };
    (sniffed, total)
}

type Raw = BufReader<Counting<Box<dyn Read + Send>>>;

/// An input gzip-decoded when its name ends in `.gz` or its data starts
/// with the gzip magic. It looks at the first read, on the importer's
/// reading thread (so a silent standard input blocks only that thread).
struct Sniffed {
    first: Option<(Raw, bool)>,
    input: Box<dyn Read + Send>,
}

impl Read for Sniffed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((mut raw, gz_by_name)) = self.first.take() {
            let gz = gz_by_name || matches!(raw.fill_buf(), Ok(b) if b.starts_with(&[0x1f, 0x8b]));
            self.input = if gz {
                Box::new(Gunzip(flate2::bufread::MultiGzDecoder::new(raw)))
            } else {
                Box::new(raw)
            };
        }
        self.input.read(buf)
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
    let raw_read = Arc::new(AtomicU64::new(0));
    let (input, total) = open_input(name, file, &raw_read);
    let bar = progress(total);
    let lib = LibOptions {
        threads: opts.threads,
        strict: opts.strict,
        unknown_fields: opts.unknown_fields,
        cancel: Some(interrupt().clone()),
        ..LibOptions::new(format.into())
    };
    let stored_before = s.counts.stored;
    let mut importer = Importer::new(engine, lib);
    importer.on_progress(|p| {
        bar.set_position(raw_read.load(Ordering::Relaxed));
        bar.set_message(format!("{} stored", stored_before + p.stored));
    });
    let result = importer.import(source, input);
    bar.finish_and_clear();
    add(&mut s.counts, importer.into_summary());
    let stop = result.map_err(|e| failure(e, opts))?;
    let Some(stopped) = s.counts.stopped.take() else {
        return Ok(None);
    };
    s.stopped_at = Some(format!("{}:{}", stopped.input, stopped.line));
    Ok(stop.map(|stop| match stop {
        ingest::Stop::Strict => Stop::Strict,
        ingest::Stop::Cancelled => Stop::Interrupted,
    }))
}

/// Adds one file's counts to the import's.
fn add(to: &mut ingest::Summary, from: ingest::Summary) {
    to.lines += from.lines;
    to.bytes += from.bytes;
    to.stored += from.stored;
    to.duplicates += from.duplicates;
    to.rejected += from.rejected;
    merge(&mut to.by_reason, from.by_reason);
    merge(&mut to.ignored, from.ignored);
    let room = SHOW_REJECTED.saturating_sub(to.first_rejected.len());
    to.first_rejected
        .extend(from.first_rejected.into_iter().take(room));
    to.stopped = from.stopped;
}

fn merge(to: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
    for (k, n) in from {
        *to.entry(k).or_default() += n;
    }
}

/// Rejected records listed in the summary.
const SHOW_REJECTED: usize = 10;

/// The command's message for what ended a file's import.
fn failure(e: ImportError, opts: &ImportOptions) -> Failure {
    let message = match e {
        ImportError::Header {
            input,
            unknown_columns,
            ..
        } if !unknown_columns.is_empty() && opts.unknown_fields == UnknownFields::Reject => {
            let names: Vec<String> = unknown_columns.iter().map(|n| format!("\"{n}\"")).collect();
            let (what, which) = match names.len() {
                1 => ("column", "it is"),
                _ => ("columns", "they are"),
            };
            format!(
                "{input}: line 1: unknown {what} {}; nothing was imported from this file (with --unknown-fields ignore, {which} skipped)",
                names.join(", ")
            )
        }
        ImportError::CsvHeader { input, line } => format!(
            "{input}: line {line} looks like a CSV header, not JSON; to import CSV, add --format csv"
        ),
        other => other.to_string(),
    };
    Failure { message, code: 1 }
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
