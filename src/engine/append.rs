//! The append path: validate a batch, drop duplicates (within the batch,
//! the buffer, the frozen seal and every sealed segment), refuse what cannot
//! be checked, make the rest durable, then visible, then acknowledged.
//!
//! An event's identity is (`company_name`, `event_id`): the same id under
//! another company is another event, so a tenant can neither learn that
//! another tenant's id exists nor suppress its events (docs/event-format.md,
//! "Duplicates"). Every check below compares both.

use std::collections::HashSet;

use foldhash::fast::RandomState;
use xxhash_rust::xxh3::xxh3_64;

use super::writer::{Inner, Writer};
use crate::error::Result;
use crate::event::Event;
use crate::options::Durability;
use crate::report::{AppendReport, RejectReason, Rejection};
use crate::state::State;
use crate::time::Day;

/// A batch being screened: its events, the xxh3-64 of each id (the hash
/// the segments index, computed once), and the report so far.
struct Batch {
    events: Vec<Event>,
    hashes: Vec<u64>,
    report: AppendReport,
}

impl Inner {
    /// Appends one batch under the writer lock (see [`crate::Engine::append`]).
    pub(super) fn append_locked(&self, w: &mut Writer, events: Vec<Event>) -> Result<AppendReport> {
        self.check_failed(w)?;
        let now_ms = self.opts.clock.now_ms();
        self.catch_up(w, Day::of_ms(now_ms))?;
        let state = self.snapshot_state();
        let hashes = events
            .iter()
            .map(|e| xxh3_64(e.event_id.as_bytes()))
            .collect();
        let mut batch = Batch {
            events,
            hashes,
            report: AppendReport::default(),
        };
        let candidates = self.screen(w, &mut batch, now_ms);
        let keep = self.probe_sealed(w, &state, &mut batch, &candidates);
        count_outcomes(w, &batch.report);
        let stored = keep.iter().filter(|k| **k).count();
        if stored == 0 {
            return Ok(batch.report);
        }
        self.make_durable(w, &batch.events, &keep, stored)?;
        batch.report.stored = stored;
        w.counters.stored += stored as u64;
        let kept: Vec<(Event, u64)> = batch
            .events
            .into_iter()
            .zip(batch.hashes)
            .zip(keep)
            .filter_map(|(eh, k)| k.then_some(eh))
            .collect();
        super::settle::note_appended(
            &mut w.last_append,
            kept.iter().map(|(e, _)| Day::of_ms(e.event_timestamp_ms)),
        );
        let mut next = State::clone(&state);
        w.buffer.add(&mut next, kept);
        self.publish(next);
        self.seal_if_full(w);
        Ok(batch.report)
    }

    /// Before a batch: a new day rolls retention, and a background seal
    /// that has finished is published. A failure of that seal is not this
    /// batch's: it is recorded (and is sticky only for fsync).
    fn catch_up(&self, w: &mut Writer, today: Day) -> Result<()> {
        if today != w.last_today {
            let r = self.roll_day(w, today);
            self.note(w, r)?;
        }
        let r = self.finish_seal(w, false);
        if self.note(w, r).is_err() {
            self.check_failed(w)?;
        }
        Ok(())
    }

    /// Validates each event (contract, retention horizon, future guard) and
    /// drops duplicates within the batch and the write buffer. Returns the
    /// indexes of the events still in the running, ascending.
    fn screen(&self, w: &Writer, batch: &mut Batch, now_ms: i64) -> Vec<usize> {
        let horizon = self.horizon(Day::of_ms(now_ms));
        let mut candidates: Vec<usize> = Vec::with_capacity(batch.events.len());
        let mut batch_ids: HashSet<(&str, &str), RandomState> = HashSet::default();
        for (index, e) in batch.events.iter().enumerate() {
            let reason = match e.validate() {
                Err(err) => Some(RejectReason::Invalid(err)),
                Ok(()) => time_refusal(&self.opts, horizon, now_ms, e),
            };
            if let Some(reason) = reason {
                batch.report.rejected.push(Rejection { index, reason });
            } else if !batch_ids.insert((&e.company_name, &e.event_id))
                || w.buffer
                    .holds(&e.company_name, &e.event_id, batch.hashes[index])
            {
                batch.report.duplicates += 1;
            } else {
                candidates.push(index);
            }
        }
        candidates
    }

    /// Checks the candidates against every sealed segment, segment by
    /// segment, so each segment's Bloom filter stays in cache while the
    /// whole batch probes it. A day whose ids cannot all be checked (a
    /// quarantined segment, or one whose id sections fail their checks)
    /// refuses its new events: no event may appear twice, and a copy may
    /// sit in the bytes that cannot be read (tests/external_damage.rs).
    /// Returns which events of the batch to store.
    fn probe_sealed(
        &self,
        w: &Writer,
        state: &State,
        batch: &mut Batch,
        candidates: &[usize],
    ) -> Vec<bool> {
        let (events, hashes) = (&batch.events, &batch.hashes);
        let mut dup = vec![false; candidates.len()];
        // Segments the sealed-id filter covers are probed only for the
        // candidates the filter cannot rule out; the others for every one.
        let maybe: Vec<usize> = (0..candidates.len())
            .filter(|&k| w.sealed_ids.may_contain(hashes[candidates[k]]))
            .collect();
        let all: Vec<usize> = (0..candidates.len()).collect();
        let mut unsure: HashSet<Day, RandomState> = state
            .days
            .iter()
            .filter(|(_, d)| !d.damaged.is_empty())
            .map(|(day, _)| *day)
            .collect();
        for seg in state.all_segments() {
            let probe = if w.sealed_ids.covers(seg.id()) {
                &maybe
            } else {
                &all
            };
            let Ok(mut index) = seg.id_index() else {
                unsure.insert(seg.day());
                continue;
            };
            for &k in probe {
                let (i, e) = (candidates[k], &events[candidates[k]]);
                if !dup[k]
                    && index
                        .contains(&e.company_name, &e.event_id, hashes[i])
                        .unwrap_or(false)
                {
                    dup[k] = true;
                }
            }
        }
        let mut keep = vec![false; events.len()];
        for (k, &i) in candidates.iter().enumerate() {
            let day = events.get(i).map(Event::day);
            if dup[k] {
                batch.report.duplicates += 1;
            } else if let Some(day) = day.filter(|d| unsure.contains(d)) {
                batch.report.rejected.push(Rejection {
                    index: i,
                    reason: RejectReason::Quarantined { day },
                });
            } else {
                keep[i] = true;
            }
        }
        batch.report.rejected.sort_by_key(|r| r.index);
        keep
    }

    /// One log record for the kept events, and (every-batch durability) one
    /// fsync: durable before visible, visible before acknowledged.
    fn make_durable(
        &self,
        w: &mut Writer,
        events: &[Event],
        keep: &[bool],
        n: usize,
    ) -> Result<()> {
        let kept = events.iter().zip(keep).filter(|(_, k)| **k).map(|(e, _)| e);
        let r = w.log.write_batch(n, kept);
        self.note(w, r)?;
        match self.opts.durability {
            Durability::EveryBatch => {
                let r = w.log.sync();
                self.note(w, r)?;
            }
            Durability::IntervalMs(_) => w.dirty = true,
        }
        Ok(())
    }

    /// Starts a seal when the buffer is full. While the previous seal is
    /// still writing, appends keep buffering up to twice the limit instead
    /// of waiting for it here, with the writer lock held: that wait was the
    /// ack-latency tail under load (docs/benchmarks.md, "gRPC under load").
    /// The next append after the seal ends starts the next one.
    fn seal_if_full(&self, w: &mut Writer) {
        let max = self.opts.max_buffered_events;
        let buffered = w.buffer.len();
        let sealing = w
            .in_flight
            .as_ref()
            .is_some_and(|f| !f.handle.is_finished());
        if buffered >= max && (!sealing || buffered >= max.saturating_mul(2)) {
            // The batch is durable and visible whatever happens here; a
            // failed seal leaves the events buffered (and logged) for the
            // next attempt, unless it was an fsync failure (sticky).
            let r = self.start_seal(w);
            let _ = self.note(w, r);
        }
    }
}

/// Why the engine refuses `e` for its time, if it does: older than the
/// retention horizon, or further in the future than `max_future_ms`. (The
/// import pipeline's strict mode asks the same before it appends.)
pub(crate) fn time_refusal(
    opts: &crate::options::Options,
    horizon: Day,
    now_ms: i64,
    e: &Event,
) -> Option<RejectReason> {
    if e.day() < horizon {
        Some(RejectReason::Expired {
            day: e.day(),
            horizon,
        })
    } else if e.event_timestamp_ms > now_ms.saturating_add(opts.max_future_ms) {
        Some(RejectReason::Future {
            ts_ms: e.event_timestamp_ms,
            now_ms,
        })
    } else {
        None
    }
}

/// Counts the batch's rejections by reason, and its duplicates.
fn count_outcomes(w: &mut Writer, report: &AppendReport) {
    for r in &report.rejected {
        match r.reason {
            RejectReason::Invalid(_) => w.counters.rejected_invalid += 1,
            RejectReason::Expired { .. } => w.counters.rejected_expired += 1,
            RejectReason::Future { .. } => w.counters.rejected_future += 1,
            RejectReason::Quarantined { .. } => w.counters.rejected_quarantined += 1,
        }
    }
    w.counters.duplicates += report.duplicates as u64;
}
