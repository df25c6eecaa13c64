//! The step every front end shares: parsed records (events, or why a
//! record could not be read) appended in input order, one durable append,
//! and every rejected record reported with its line (or index) and reason,
//! whether the parser or the engine refused it.

use crate::engine::{Engine, time_refusal};
use crate::error::Result;
use crate::event::{Event, FieldError};
use crate::report::RejectReason;
use crate::time::Day;

/// Events waiting for an append, with their lines, and the records rejected
/// while parsing them (reported with the engine's rejections, in line order).
#[derive(Debug, Default)]
pub(crate) struct Batch {
    events: Vec<Event>,
    lines: Vec<u64>,
    errors: Vec<(u64, FieldError)>,
    /// Strict: store nothing from the first record the engine would refuse.
    strict: bool,
}

/// What one append did.
#[derive(Debug, Default)]
pub(crate) struct Appended {
    pub(crate) stored: u64,
    pub(crate) duplicates: u64,
    /// Every rejected record, parser's and engine's, in line order.
    pub(crate) rejected: Vec<(u64, RejectReason)>,
    /// The line of the first record the engine refused (strict: the events
    /// after it were not appended).
    pub(crate) first_refused: Option<u64>,
}

impl Batch {
    /// An empty batch; `strict`: see [`Batch::append`].
    pub(crate) fn new(strict: bool) -> Batch {
        Batch {
            strict,
            ..Batch::default()
        }
    }

    /// Events waiting.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Adds one record: its line (or index) and the event or why not.
    /// (Front ends that parse records one by one use it: gRPC.)
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub(crate) fn push(&mut self, line: u64, record: Result<Event, FieldError>) {
        match record {
            Ok(e) => {
                self.events.push(e);
                self.lines.push(line);
            }
            Err(e) => self.errors.push((line, e)),
        }
    }

    /// Adds a parsed chunk; with `until`, only the events before that line
    /// and the errors up to it.
    pub(crate) fn add(
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

    /// Appends the events (one durable append) and reports every rejected
    /// record. Strict: when the engine would refuse an event as expired or
    /// in the future, nothing from it on is appended (and no rejection
    /// after it is reported).
    pub(crate) fn append(&mut self, engine: &Engine) -> Result<Appended> {
        let mut out = Appended {
            rejected: std::mem::take(&mut self.errors)
                .into_iter()
                .map(|(line, e)| (line, RejectReason::Invalid(e)))
                .collect(),
            ..Appended::default()
        };
        if self.strict
            && let Some((i, reason)) = first_refusal(engine, &self.events)
        {
            let line = self.lines.get(i).copied().unwrap_or(0);
            self.events.truncate(i);
            self.lines.truncate(i);
            out.rejected.retain(|r| r.0 < line);
            out.rejected.push((line, reason));
            out.first_refused = Some(line);
        }
        if !self.events.is_empty() {
            let r = engine.append(std::mem::take(&mut self.events))?;
            out.stored = r.stored as u64;
            out.duplicates = r.duplicates as u64;
            for rej in r.rejected {
                let line = self.lines.get(rej.index).copied().unwrap_or(0);
                out.first_refused = Some(out.first_refused.map_or(line, |f| f.min(line)));
                out.rejected.push((line, rej.reason));
            }
            self.lines.clear();
        }
        out.rejected.sort_by_key(|r| r.0);
        Ok(out)
    }
}

/// The first event the engine would refuse as expired or in the future,
/// by the engine's own options and clock.
fn first_refusal(engine: &Engine, events: &[Event]) -> Option<(usize, RejectReason)> {
    let o = engine.options();
    let now_ms = o.clock.now_ms();
    let horizon = o.horizon(Day::of_ms(now_ms));
    events
        .iter()
        .enumerate()
        .find_map(|(i, e)| Some((i, time_refusal(o, horizon, now_ms, e)?)))
}
