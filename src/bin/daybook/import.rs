//! `daybook import` and `daybook generate`: JSON Lines in and out.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::time::Instant;

use daybook::json::{event_to_json_line, parse_event};
use daybook::{Engine, Event};
use indicatif::{ProgressBar, ProgressStyle};

use crate::Failure;

const BATCH: usize = 10_000;
/// Rejected records listed in the summary.
const SHOW_REJECTED: usize = 10;

#[derive(Default)]
pub struct Summary {
    pub lines: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub by_reason: BTreeMap<String, u64>,
    pub first_rejected: Vec<String>,
    pub seconds: f64,
    pub bytes: u64,
}

impl Summary {
    fn reject(&mut self, source: &str, line: u64, kind: &str, why: String) {
        self.rejected += 1;
        *self.by_reason.entry(kind.to_string()).or_default() += 1;
        if self.first_rejected.len() < SHOW_REJECTED {
            self.first_rejected.push(format!("{source}:{line}: {why}"));
        }
    }

    pub fn print(&self) {
        let rate = self.stored as f64 / self.seconds.max(1e-9);
        println!(
            "read {} lines ({:.1} MB) in {:.2} s: stored {}, duplicates {}, rejected {} ({:.0} events/s)",
            self.lines,
            self.bytes as f64 / 1e6,
            self.seconds,
            self.stored,
            self.duplicates,
            self.rejected,
            rate
        );
        for (reason, n) in &self.by_reason {
            println!("  rejected as {reason}: {n}");
        }
        for r in &self.first_rejected {
            println!("  {r}");
        }
    }
}

fn open_input(name: &str) -> Result<(Box<dyn Read>, Option<u64>), Failure> {
    if name == "-" {
        return Ok((Box::new(std::io::stdin().lock()), None));
    }
    let f = File::open(name).map_err(|e| Failure {
        message: format!("{name}: {e}"),
        code: 1,
    })?;
    let len = f.metadata().ok().map(|m| m.len());
    Ok((Box::new(f), len))
}

fn progress(total: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match total {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    }
}

/// Imports each file in order, in batches of 10,000 events.
pub fn import_files(engine: &Engine, files: &[String], strict: bool) -> Result<Summary, Failure> {
    let mut s = Summary::default();
    let started = Instant::now();
    for name in files {
        let (input, len) = open_input(name)?;
        let bar = progress(len);
        let mut reader = BufReader::with_capacity(1 << 20, input);
        let mut batch: Vec<Event> = Vec::with_capacity(BATCH);
        let mut lines_of_batch: Vec<u64> = Vec::with_capacity(BATCH);
        let mut line = String::new();
        let mut lineno = 0u64;
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(|e| Failure {
                message: format!("{name}: {e}"),
                code: 1,
            })?;
            if n == 0 {
                break;
            }
            lineno += 1;
            s.lines += 1;
            s.bytes += n as u64;
            bar.inc(n as u64);
            let text = line.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            match parse_event(text) {
                Ok(e) => {
                    batch.push(e);
                    lines_of_batch.push(lineno);
                }
                Err(e) => {
                    s.reject(name, lineno, "invalid", e.to_string());
                    if strict {
                        return Ok(finish(s, started));
                    }
                }
            }
            if batch.len() == BATCH {
                flush_batch(engine, name, &mut batch, &mut lines_of_batch, &mut s)?;
                bar.set_message(format!("{} stored", s.stored));
            }
        }
        flush_batch(engine, name, &mut batch, &mut lines_of_batch, &mut s)?;
        bar.finish_and_clear();
    }
    Ok(finish(s, started))
}

fn finish(mut s: Summary, started: Instant) -> Summary {
    s.seconds = started.elapsed().as_secs_f64();
    s
}

fn flush_batch(
    engine: &Engine,
    name: &str,
    batch: &mut Vec<Event>,
    lines: &mut Vec<u64>,
    s: &mut Summary,
) -> Result<(), Failure> {
    if batch.is_empty() {
        return Ok(());
    }
    let r = engine.append(std::mem::take(batch))?;
    s.stored += r.stored as u64;
    s.duplicates += r.duplicates as u64;
    for rej in r.rejected {
        let line = lines.get(rej.index).copied().unwrap_or(0);
        s.reject(name, line, rej.reason.kind(), rej.reason.to_string());
    }
    lines.clear();
    Ok(())
}

/// Writes events as JSON Lines to a file or standard output (`-`).
pub fn write_jsonl(events: impl Iterator<Item = Event>, out: &str) -> Result<u64, Failure> {
    let sink: Box<dyn Write> = if out == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(File::create(out).map_err(|e| Failure {
            message: format!("{out}: {e}"),
            code: 1,
        })?)
    };
    let mut w = BufWriter::with_capacity(1 << 20, sink);
    let mut n = 0;
    for e in events {
        let line = event_to_json_line(&e);
        if let Err(e) = w
            .write_all(line.as_bytes())
            .and_then(|()| w.write_all(b"\n"))
        {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(n);
            }
            return Err(Failure {
                message: format!("{out}: {e}"),
                code: 1,
            });
        }
        n += 1;
    }
    w.flush().map_err(|e| Failure {
        message: format!("{out}: {e}"),
        code: 1,
    })?;
    Ok(n)
}
