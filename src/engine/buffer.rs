//! The write buffer: events acknowledged but not yet sealed, and the
//! identities that keep them from being stored twice.
//!
//! The events themselves live in the published [`State`], one immutable
//! chunk per append per day, because readers must see them; the buffer
//! owns everything else about them (their identities, how many there are,
//! which of them a seal has frozen) and is the one place that adds chunks
//! to a state or takes them out, so that the three always agree:
//!
//! - `ids` holds exactly the identities of the buffered, unfrozen events,
//!   and `ids.len()` is their number;
//! - `frozen` holds exactly those of the seal in flight (at most one);
//! - every buffered event is in a chunk of its day in the state.

use std::collections::BTreeMap;
use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64;

use crate::event::Event;
use crate::idset::IdSet;
use crate::state::{Chunk, DayState, State};
use crate::time::Day;

/// See the module documentation.
pub(crate) struct WriteBuffer {
    /// Identities (company, event id) of the buffered events not frozen.
    ids: IdSet,
    /// Identities of the events of the seal in flight (its size is their
    /// number).
    frozen: IdSet,
    /// The buffer's bound (`Options::max_buffered_events`): the id sets'
    /// initial capacity.
    capacity: usize,
}

impl WriteBuffer {
    /// A buffer holding the identities replayed from the log (whose events
    /// the caller put in the state).
    pub(crate) fn with_replayed(ids: IdSet, capacity: usize) -> WriteBuffer {
        WriteBuffer {
            ids,
            frozen: IdSet::default(),
            capacity,
        }
    }

    /// Buffered events not frozen by a seal.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether an event with this identity is buffered (frozen or not).
    /// `hash` is the xxh3-64 of `id`.
    pub(crate) fn holds(&self, company: &str, id: &str, hash: u64) -> bool {
        self.ids.contains(company, id, hash) || self.frozen.contains(company, id, hash)
    }

    /// Adds `events` (each with the xxh3-64 of its id, none held yet) to
    /// the buffer: their identities here, their events as one new chunk per
    /// day in `state`.
    pub(crate) fn add(&mut self, state: &mut State, events: Vec<(Event, u64)>) {
        let before = self.len();
        let added = events.len();
        let mut per_day: BTreeMap<Day, usize> = BTreeMap::new();
        for (e, _) in &events {
            *per_day.entry(e.day()).or_default() += 1;
        }
        // Each event is moved once more, straight into its day's chunk.
        let mut by_day: BTreeMap<Day, Vec<Event>> = per_day
            .into_iter()
            .map(|(d, n)| (d, Vec::with_capacity(n)))
            .collect();
        for (e, hash) in events {
            let new = self.ids.insert(&e.company_name, &e.event_id, hash);
            debug_assert!(new, "an event added to the buffer twice");
            by_day.entry(e.day()).or_default().push(e);
        }
        for (day, evs) in by_day {
            Arc::make_mut(state.days.entry(day).or_default()).push_chunk(evs);
        }
        debug_assert_eq!(self.len(), before + added);
    }

    /// Freezes everything buffered for a seal: returns each day's chunks
    /// (still visible in `state` until the seal publishes), by day. New
    /// appends go on into an empty buffer.
    pub(crate) fn freeze(&mut self, state: &State) -> Vec<(Day, Vec<Chunk>)> {
        debug_assert_eq!(self.frozen.len(), 0, "one seal in flight at a time");
        let days: Vec<(Day, Vec<Chunk>)> = state
            .days
            .iter()
            .filter(|(_, d)| !d.mem.is_empty())
            .map(|(&day, d)| (day, d.mem.clone()))
            .collect();
        debug_assert_eq!(
            self.len(),
            days.iter()
                .flat_map(|(_, c)| c.iter())
                .map(|c| c.len())
                .sum::<usize>(),
            "the buffered ids and the state's chunks disagree"
        );
        self.frozen = std::mem::replace(&mut self.ids, IdSet::with_capacity(self.capacity));
        days
    }

    /// The seal failed: its events are buffered again (they stayed in the
    /// state's chunks all along).
    pub(crate) fn thaw(&mut self) {
        let frozen = std::mem::take(&mut self.frozen);
        self.ids.absorb(frozen);
    }

    /// The seal published its segments: takes its chunks out of `day`'s
    /// partition and forgets its identities (the sealed segments answer for
    /// them now).
    pub(crate) fn sealed(&mut self, day: &mut DayState, chunks: &[Chunk]) {
        day.mem
            .retain(|c| !chunks.iter().any(|f| Arc::ptr_eq(c, f)));
    }

    /// Every day of the seal is published.
    pub(crate) fn seal_done(&mut self) {
        self.frozen.clear();
    }

    /// A day left retention: forgets its buffered events' identities (the
    /// caller removes the day from the state).
    pub(crate) fn drop_day(&mut self, day: &DayState) {
        for e in day.mem.iter().flat_map(|c| c.iter()) {
            self.ids
                .remove(&e.company_name, &e.event_id, xxh3_64(e.event_id.as_bytes()));
        }
    }
}
