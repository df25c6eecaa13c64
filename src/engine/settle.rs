//! Settling: a day whose writes are over is merged into one segment, the
//! form queries are fastest on (one dictionary per column, one bitmap per
//! value, one index, one merge input per day instead of the few a
//! size-tiered seal leaves).
//!
//! When a day's writes are over is known in two ways: an import has read
//! its whole input (`daybook import` calls [`Engine::settle`] at the end),
//! or nothing was appended to the day for `Options::settle_after_ms`, which
//! a background thread watches. Measured on the medium comparison set
//! (3.1M events, 31 days): a plain import left about 5 segments a day,
//! and a month-wide group-by merged 158 segments' dictionaries.
//!
//! Merges of different days are independent: [`Inner::merge_days`] runs
//! them on up to one thread per core, under the writer lock (appends wait;
//! readers never do: they keep the segments of their snapshot).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::Engine;
use super::compaction;
use super::writer::{Inner, Writer};
use crate::error::{Error, Result};
use crate::segment::SegmentReader;
use crate::state::State;
use crate::time::Day;

/// A day's merge to run: its day, its segments, the new segment's id.
type Job = (Day, Vec<Arc<SegmentReader>>, u64);

impl Engine {
    /// Seals every buffered event, then merges each day that has more than
    /// one segment into one. `daybook import` calls it when its input
    /// ends; a serving engine does the same on its own for a day that had
    /// no append for [`Options::settle_after_ms`](crate::Options). Returns
    /// the number of days merged.
    pub fn settle(&self) -> Result<usize> {
        self.flush()?;
        self.compact()
    }
}

impl Inner {
    /// Merges the segments of every day of `days` that has at least two
    /// (and no damage) into one per day, on up to `threads` threads.
    /// Every merge that succeeded is published and its inputs unlinked,
    /// even when another failed; the first error is returned then. Returns
    /// the days merged.
    pub(super) fn merge_days(&self, w: &mut Writer, days: &[Day], threads: usize) -> Result<usize> {
        let started = Instant::now();
        let state = self.snapshot_state();
        let jobs: Vec<Job> = days
            .iter()
            .filter_map(|day| {
                let d = state.days.get(day)?;
                (d.segments.len() >= 2 && d.damaged.is_empty())
                    .then(|| (*day, d.segments.clone(), w.take_segment_id()))
            })
            .collect();
        if jobs.is_empty() {
            return Ok(0);
        }
        let results = self.run_merges(&jobs, threads);
        let mut next = State::clone(&state);
        let mut unlink: Vec<PathBuf> = Vec::new();
        let mut first_error = None;
        let mut merged = 0;
        for ((day, inputs, id), result) in jobs.iter().zip(results) {
            let segment = match result {
                Ok(s) => s,
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            Arc::make_mut(next.days.entry(*day).or_default()).replace_segments(inputs, segment);
            w.sealed_ids.add_merged(*id, inputs.iter().map(|s| s.id()));
            unlink.extend(inputs.iter().map(|s| s.path().to_path_buf()));
            merged += 1;
        }
        self.publish(next);
        // Each merged segment is durable and names its inputs, so a crash
        // before these unlinks is repaired on open.
        self.unlink_segments(&unlink)?;
        w.counters.compactions += merged as u64;
        w.counters.compact_ms += started.elapsed().as_millis() as u64;
        match first_error {
            Some(e) => Err(e),
            None => Ok(merged),
        }
    }

    /// Runs `jobs` on up to `threads` threads (the calling one included),
    /// each taking the next job from a shared counter; results in job order.
    fn run_merges(&self, jobs: &[Job], threads: usize) -> Vec<Result<Arc<SegmentReader>>> {
        let next = AtomicUsize::new(0);
        let slots: Vec<Mutex<Option<Result<Arc<SegmentReader>>>>> =
            jobs.iter().map(|_| Mutex::new(None)).collect();
        let work = || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let (Some((day, inputs, id)), Some(slot)) = (jobs.get(i), slots.get(i)) else {
                    break;
                };
                let r = compaction::merge_segments(self.storage(), &self.root, *day, inputs, *id);
                *slot.lock() = Some(r);
            }
        };
        std::thread::scope(|s| {
            for _ in 1..threads.clamp(1, jobs.len()) {
                s.spawn(work);
            }
            work();
        });
        slots
            .into_iter()
            .map(|slot| {
                slot.into_inner().unwrap_or_else(|| {
                    Err(Error::Internal(
                        "a merge thread ended without a result".into(),
                    ))
                })
            })
            .collect()
    }

    /// The days with at least two segments that had no append for
    /// `quiet` (counting from `since` for a day not appended to since).
    fn quiet_days(&self, w: &Writer, quiet: Duration, since: Instant) -> Vec<Day> {
        let state = self.snapshot_state();
        state
            .days
            .iter()
            .filter(|(day, d)| {
                let last = w.last_append.get(day).copied().unwrap_or(since).max(since);
                d.segments.len() >= 2 && last.elapsed() >= quiet
            })
            .map(|(day, _)| *day)
            .collect()
    }
}

/// Notes the days `events` touched as just appended to (what
/// [`spawn_settler`] counts quiet time from).
pub(super) fn note_appended(
    last_append: &mut HashMap<Day, Instant>,
    days: impl Iterator<Item = Day>,
) {
    let now = Instant::now();
    let mut last = None;
    // A batch is mostly one day: one map update per run of equal days.
    for day in days {
        if last != Some(day) {
            last_append.insert(day, now);
            last = Some(day);
        }
    }
}

/// Starts the thread that merges a day's segments once it had no append
/// for `quiet`: it looks every second (or every `quiet`, if shorter) and
/// merges one day per look, so that appends wait for one merge at most.
/// A merge that fails is retried at the next look; an fsync failure makes
/// the engine failed, as anywhere.
pub(super) fn spawn_settler(
    inner: &Arc<Inner>,
    quiet: Duration,
) -> (Arc<AtomicBool>, JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let stop2 = Arc::clone(&stop);
    let since = Instant::now();
    let every = quiet.min(Duration::from_secs(1));
    let handle = std::thread::spawn(move || {
        while !stop2.load(Ordering::SeqCst) {
            std::thread::park_timeout(every);
            if stop2.load(Ordering::SeqCst) {
                break;
            }
            let Some(inner) = weak.upgrade() else { break };
            let mut w = inner.writer.lock();
            // A seal in flight may be merging the same segments: the next
            // look comes after it is published.
            if w.failed.is_some() || w.in_flight.is_some() {
                continue;
            }
            if let Some(day) = inner.quiet_days(&w, quiet, since).first().copied() {
                let r = inner.merge_days(&mut w, &[day], 1);
                if inner.note(&mut w, r).is_err() {
                    // Not every look: the day waits another quiet period.
                    note_appended(&mut w.last_append, std::iter::once(day));
                }
            }
        }
    });
    (stop, handle)
}
