//! What the engine holds at one moment: per day, its sealed segments and its
//! buffered (unsealed) events. A [`Snapshot`] is an immutable copy readers
//! query while the writer moves on.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::segment::SegmentReader;
use crate::time::Day;

/// A segment that could not be opened or read: the day it belongs to fails
/// queries with this error rather than answering without it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// The segment file.
    pub path: PathBuf,
    /// Byte offset of the damage.
    pub offset: u64,
    /// The part of the file whose check failed.
    pub section: String,
    /// What check failed.
    pub reason: String,
}

impl Damage {
    /// The damage an open of `path` failed with (`Corrupted` keeps its
    /// place; any other error is reported against the whole file).
    pub(crate) fn from_error(path: PathBuf, e: &Error) -> Damage {
        match e {
            Error::Corrupted {
                path,
                offset,
                section,
                reason,
            } => Damage {
                path: path.clone(),
                offset: *offset,
                section: section.clone(),
                reason: reason.clone(),
            },
            other => Damage {
                path,
                offset: 0,
                section: "file".into(),
                reason: other.to_string(),
            },
        }
    }

    /// As the error a query of its day fails with.
    pub fn to_error(&self) -> Error {
        Error::corrupted(&self.path, self.offset, &self.section, &self.reason)
    }
}

/// A chunk of buffered events: those of one day from one append (or one
/// log replayed), shared by every snapshot that shows them.
pub(crate) type Chunk = Arc<Vec<Event>>;

/// One day partition: its sealed segments and its buffered events. Read
/// its figures here; its contents through a [`Snapshot`]'s queries.
#[derive(Clone, Debug, Default)]
pub struct DayState {
    /// Sealed segments, by id (oldest first).
    pub(crate) segments: Vec<Arc<SegmentReader>>,
    /// Buffered events, in arrival order, one chunk per append (added and
    /// removed only by the engine's write buffer).
    pub(crate) mem: Vec<Chunk>,
    /// Segments of this day that failed their checks.
    pub(crate) damaged: Vec<Damage>,
}

impl DayState {
    /// Buffered (not yet sealed) events.
    pub fn mem_events(&self) -> usize {
        self.mem.iter().map(|c| c.len()).sum()
    }

    /// Events in sealed segments.
    pub fn segment_rows(&self) -> u64 {
        self.segments.iter().map(|s| u64::from(s.rows())).sum()
    }

    /// Sealed segments (a compacted day has one).
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Chunks of buffered events (one per append that stored events of
    /// this day since the last seal).
    pub fn buffer_chunks(&self) -> usize {
        self.mem.len()
    }

    /// The segments of this day that failed their checks (the day's
    /// queries fail naming the first).
    pub fn damage(&self) -> &[Damage] {
        &self.damaged
    }

    /// The sealed segments themselves (feature `internals`: tests, fuzzing
    /// and the examples that print a segment's layout).
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn segments(&self) -> &[Arc<SegmentReader>] {
        &self.segments
    }

    /// Nothing sealed, buffered or damaged.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty() && self.mem.is_empty() && self.damaged.is_empty()
    }

    /// Adds a chunk of buffered events (the engine's write buffer and the
    /// log replay; all of this day).
    pub(crate) fn push_chunk(&mut self, events: Vec<Event>) {
        self.mem.push(Arc::new(events));
    }

    /// Puts `segment` in place of `replaced` (empty: beside the others),
    /// keeping the segments ordered by id.
    pub(crate) fn replace_segments(
        &mut self,
        replaced: &[Arc<SegmentReader>],
        segment: Arc<SegmentReader>,
    ) {
        self.segments
            .retain(|s| !replaced.iter().any(|r| r.id() == s.id()));
        self.segments.push(segment);
        self.segments.sort_by_key(|s| s.id());
    }
}

/// The engine's partitions at one moment.
#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    pub(crate) days: BTreeMap<Day, Arc<DayState>>,
}

impl State {
    /// Every sealed segment, for duplicate checks.
    pub(crate) fn all_segments(&self) -> impl Iterator<Item = &Arc<SegmentReader>> {
        self.days.values().flat_map(|d| d.segments.iter())
    }
}

/// A consistent, immutable view of the engine's data. Cheap to take; holding
/// one keeps its segments mapped even after they are compacted or dropped.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub(crate) state: Arc<State>,
    /// First day inside retention when the snapshot was taken.
    pub horizon: Day,
    /// "Today" when the snapshot was taken.
    pub today: Day,
}

impl Snapshot {
    /// Days inside retention that hold data, ascending.
    pub fn days(&self) -> Vec<Day> {
        self.partitions()
            .filter(|(_, d)| !d.is_empty())
            .map(|(d, _)| d)
            .collect()
    }

    /// One day's partition, if it is inside retention and holds anything.
    pub fn day(&self, day: Day) -> Option<&DayState> {
        if day < self.horizon {
            return None;
        }
        self.state.days.get(&day).map(|d| d.as_ref())
    }

    /// Every partition inside retention. (Partitions that fell out of
    /// retention since the last drop are hidden, not yet unlinked.)
    pub fn partitions(&self) -> impl Iterator<Item = (Day, &DayState)> {
        self.state
            .days
            .range(self.horizon..)
            .map(|(d, s)| (*d, s.as_ref()))
    }

    /// Every event of `day` (sealed rows in timestamp order, then buffered
    /// events in arrival order). Fails if a segment of the day is damaged.
    pub fn day_events(&self, day: Day) -> Result<Vec<Event>> {
        let Some(d) = self.day(day) else {
            return Ok(Vec::new());
        };
        if let Some(damage) = d.damaged.first() {
            return Err(damage.to_error());
        }
        let mut out = Vec::new();
        for s in &d.segments {
            out.extend(s.events()?);
        }
        for c in &d.mem {
            out.extend(c.iter().cloned());
        }
        Ok(out)
    }

    /// Checks every byte of every segment of the snapshot (checksums and
    /// structure). Returns one error per damaged segment.
    pub fn verify(&self) -> Vec<Error> {
        let mut problems = Vec::new();
        for (_, d) in self.partitions() {
            problems.extend(d.damaged.iter().map(|x| x.to_error()));
            problems.extend(d.segments.iter().filter_map(|seg| seg.verify().err()));
        }
        problems
    }

    /// Number of events stored (sealed and buffered), all days.
    pub fn event_count(&self) -> u64 {
        self.partitions()
            .map(|(_, d)| d.segment_rows() + d.mem_events() as u64)
            .sum()
    }
}
