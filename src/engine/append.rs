//! The append path: validate a batch, drop duplicates (within the batch,
//! the buffer, the frozen seal and every sealed segment), refuse what cannot
//! be checked, make the rest durable, then visible, then acknowledged.
//!
//! An event's identity is (`company_name`, `event_id`): the same id under
//! another company is another event, so a tenant can neither learn that
//! another tenant's id exists nor suppress its events (docs/event-format.md,
//! "Duplicates"). Every check below compares both.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use foldhash::fast::RandomState;
use xxhash_rust::xxh3::xxh3_64;

use super::{Inner, Writer};
use crate::error::Result;
use crate::event::Event;
use crate::options::Durability;
use crate::report::{AppendReport, RejectReason, Rejection};
use crate::state::State;
use crate::time::Day;

impl Inner {
    /// Appends one batch under the writer lock (see [`crate::Engine::append`]).
    pub(super) fn append_locked(&self, w: &mut Writer, events: Vec<Event>) -> Result<AppendReport> {
        self.check_failed(w)?;
        let now_ms = self.opts.clock.now_ms();
        let today = Day::of_ms(now_ms);
        if today != w.last_today {
            let r = self.roll_day(w, today);
            self.note(w, r)?;
        }
        // Publish a background seal that has finished. A failure there is
        // not this batch's: it is recorded (and is sticky only for fsync).
        let r = self.finish_seal(w, false);
        if self.note(w, r).is_err() {
            self.check_failed(w)?;
        }
        let horizon = self.horizon(today);
        let state = self.snapshot_state();
        let mut report = AppendReport::default();

        // Validate, and drop duplicates within the batch and the buffer.
        // Each id is hashed once (xxh3-64 of the id alone, the hash the
        // segments index); the company is compared on a hash match.
        let hashes: Vec<u64> = events
            .iter()
            .map(|e| xxh3_64(e.event_id.as_bytes()))
            .collect();
        let mut keep = vec![false; events.len()];
        let mut candidates: Vec<usize> = Vec::with_capacity(events.len());
        {
            let mut batch_ids: HashSet<(&str, &str), RandomState> = HashSet::default();
            for (index, e) in events.iter().enumerate() {
                let reason = if let Err(err) = e.validate() {
                    Some(RejectReason::Invalid(err))
                } else if e.day() < horizon {
                    Some(RejectReason::Expired {
                        day: e.day(),
                        horizon,
                    })
                } else if e.event_timestamp_ms > now_ms.saturating_add(self.opts.max_future_ms) {
                    Some(RejectReason::Future {
                        ts_ms: e.event_timestamp_ms,
                        now_ms,
                    })
                } else {
                    None
                };
                if let Some(reason) = reason {
                    report.rejected.push(Rejection { index, reason });
                } else if !batch_ids.insert((&e.company_name, &e.event_id))
                    || w.mem_ids
                        .contains(&e.company_name, &e.event_id, hashes[index])
                    || w.frozen_ids
                        .contains(&e.company_name, &e.event_id, hashes[index])
                {
                    report.duplicates += 1;
                } else {
                    candidates.push(index);
                }
            }
        }
        // Against sealed segments: segment by segment, so each segment's
        // Bloom filter stays in cache while the whole batch probes it.
        let mut dup = vec![false; candidates.len()];
        // Segments the sealed-id filter covers are probed only for the
        // candidates the filter cannot rule out; the others for every one.
        let maybe: Vec<usize> = (0..candidates.len())
            .filter(|&k| w.sealed_ids.may_contain(hashes[candidates[k]]))
            .collect();
        let all: Vec<usize> = (0..candidates.len()).collect();
        // Days whose ids cannot all be checked: a quarantined segment, or a
        // segment whose id sections fail their checks.
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
            // A segment whose id sections fail their checks cannot say:
            // its day's new events are refused below.
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
        for (k, &i) in candidates.iter().enumerate() {
            let day = events.get(i).map(Event::day);
            if dup[k] {
                report.duplicates += 1;
            } else if let Some(day) = day.filter(|d| unsure.contains(d)) {
                // No event appears twice: a copy may sit in the bytes that
                // cannot be read (tests/external_damage.rs).
                report.rejected.push(Rejection {
                    index: i,
                    reason: RejectReason::Quarantined { day },
                });
            } else {
                keep[i] = true;
            }
        }
        report.rejected.sort_by_key(|r| r.index);
        for r in &report.rejected {
            match r.reason {
                RejectReason::Invalid(_) => w.counters.rejected_invalid += 1,
                RejectReason::Expired { .. } => w.counters.rejected_expired += 1,
                RejectReason::Future { .. } => w.counters.rejected_future += 1,
                RejectReason::Quarantined { .. } => w.counters.rejected_quarantined += 1,
            }
        }
        w.counters.duplicates += report.duplicates as u64;
        let stored = keep.iter().filter(|k| **k).count();
        if stored == 0 {
            return Ok(report);
        }

        // Durable before visible, visible before acknowledged.
        let kept = events
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(e, _)| e);
        let r = w.log.write_batch(stored, kept);
        self.note(w, r)?;
        match self.opts.durability {
            Durability::EveryBatch => {
                let r = w.log.sync();
                self.note(w, r)?;
            }
            Durability::IntervalMs(_) => w.dirty = true,
        }
        report.stored = stored;
        w.counters.stored += stored as u64;
        w.buffered += stored;
        // Each event is moved once more, straight into its day's chunk.
        let mut per_day: BTreeMap<Day, usize> = BTreeMap::new();
        for (e, _) in events.iter().zip(&keep).filter(|(_, k)| **k) {
            *per_day.entry(e.day()).or_default() += 1;
        }
        let mut by_day: BTreeMap<Day, Vec<Event>> = per_day
            .into_iter()
            .map(|(d, n)| (d, Vec::with_capacity(n)))
            .collect();
        for ((e, hash), k) in events.into_iter().zip(hashes).zip(keep) {
            if k {
                w.mem_ids.insert(&e.company_name, &e.event_id, hash);
                by_day.entry(e.day()).or_default().push(e);
            }
        }
        let mut next = State::clone(&state);
        for (day, evs) in by_day {
            Arc::make_mut(next.days.entry(day).or_default())
                .mem
                .push(Arc::new(evs));
        }
        self.publish(next);

        let max = self.opts.max_buffered_events;
        // While the previous seal is still writing, keep buffering up to
        // twice the limit instead of waiting for it here, with the writer
        // lock held: that wait was the ack-latency tail under load
        // (docs/benchmarks.md, "gRPC under load"). The next append after
        // the seal ends starts the next one.
        let sealing = w
            .in_flight
            .as_ref()
            .is_some_and(|f| !f.handle.is_finished());
        if w.buffered >= max && (!sealing || w.buffered >= max.saturating_mul(2)) {
            // The batch is durable and visible whatever happens here; a
            // failed seal leaves the events buffered (and logged) for the
            // next attempt, unless it was an fsync failure (sticky).
            let r = self.start_seal(w);
            let _ = self.note(w, r);
        }
        Ok(report)
    }
}
