//! Opening a data directory: map the segments, repair what a crash left
//! half done, replay the log.
//!
//! The writer (`Engine::open`, under the directory lock, with
//! [`Mode::Repair`]) repairs:
//! - `*.tmp` files are unfinished writes: removed.
//! - A segment named in another segment's `supersedes` list was a compaction
//!   input whose unlink did not happen: removed.
//! - Day directories older than the retention horizon: removed.
//! - A segment that fails its checks is kept on disk and recorded as damage
//!   on its day; the rest of the data stays readable. A segment that cannot
//!   be read at all (an I/O error, not bad bytes) fails the open.
//! - Log files are replayed in order; events already sealed (a crash between
//!   a seal and the log rotation) or expired are skipped. The newest log may
//!   end in a torn record, which is truncated.
//! - Files and directories we do not recognise are left alone.
//!
//! A read-only reader ([`load`] with [`Mode::Look`], no lock) sees the same
//! data but changes nothing: it skips what the writer would remove and
//! stops before a torn tail instead of cutting it off.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::files::{self, DAYS_DIR, FileKind, LOG_DIR};
use crate::idset::IdSet;
use crate::log::{Tail, replay};
use crate::report::Counters;
use crate::segment::SegmentReader;
use crate::state::{Damage, DayState, State};
use crate::storage::Storage;
use crate::time::Day;

/// Whether loading a directory may change it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The writer, holding the lock: removes leftovers and expired days,
    /// truncates a torn log tail.
    Repair,
    /// A read-only reader: writes nothing, deletes nothing.
    Look,
}

/// What a data directory holds, as [`load`] found it.
pub(crate) struct Loaded {
    pub(crate) state: State,
    /// Sequence numbers of the log files replayed, ascending.
    pub(crate) logs: Vec<u64>,
    /// The largest segment id seen (named or superseded).
    pub(crate) max_id: u64,
    pub(crate) mem_ids: IdSet,
    pub(crate) counters: Counters,
    /// Days older than the horizon, ascending: day directories and days of
    /// log events. Not loaded; left on disk in both modes (the writer
    /// removes them once its open has succeeded).
    pub(crate) expired_days: Vec<Day>,
    /// Bytes of the log files read.
    pub(crate) log_bytes: u64,
}

/// Loads a data directory: its segments (superseded compaction inputs left
/// out, damaged ones recorded), then its logs' events that no segment holds.
pub(crate) fn load(
    storage: &dyn Storage,
    root: &Path,
    horizon: Day,
    max_buffered_events: usize,
    mode: Mode,
) -> Result<Loaded> {
    let mut counters = Counters::default();
    // A look checks below that no log vanished while it mapped the
    // segments: a seal that ends deletes its old logs only after its
    // segments are in place, so a vanished log means segments this look may
    // not have listed hold events it will not find in the logs.
    let logs_before = match mode {
        Mode::Look => list_logs(storage, root, mode)?,
        Mode::Repair => Vec::new(),
    };
    let (days, max_id, expired_dirs) = load_segments(storage, root, horizon, mode)?;
    let mut expired: BTreeSet<Day> = expired_dirs.into_iter().collect();
    let mut state = State {
        days: days.into_iter().map(|(d, s)| (d, Arc::new(s))).collect(),
    };
    let logs = list_logs(storage, root, mode)?;
    if let Some(gone) = logs_before.iter().find(|s| !logs.contains(s)) {
        return Err(Error::Busy(format!(
            "{} was sealed while it was read",
            files::log_path(root, *gone).display()
        )));
    }
    // A look only dedups the logs it replays: no table sized for a
    // writer's whole buffer (zeroed pages a query never uses).
    let mut mem_ids = IdSet::with_capacity(match mode {
        Mode::Repair => max_buffered_events,
        Mode::Look => 0,
    });
    let mut log_bytes = 0u64;
    for (i, &seq) in logs.iter().enumerate() {
        let tail = match (i + 1 == logs.len(), mode) {
            (false, _) => Tail::Strict,
            (true, Mode::Repair) => Tail::Truncate,
            (true, Mode::Look) => Tail::Skip,
        };
        let mut replayed = Replayed {
            state: &mut state,
            mem_ids: &mut mem_ids,
            counters: &mut counters,
            expired: &mut expired,
        };
        log_bytes += replayed.log(storage, &files::log_path(root, seq), tail, horizon)?;
    }
    let expired_days: Vec<Day> = expired.into_iter().collect();
    counters.days_dropped += expired_days.len() as u64;
    Ok(Loaded {
        state,
        logs,
        max_id,
        mem_ids,
        counters,
        expired_days,
        log_bytes,
    })
}

/// Where a log's events go as they are replayed.
struct Replayed<'a> {
    state: &'a mut State,
    mem_ids: &'a mut IdSet,
    counters: &'a mut Counters,
    expired: &'a mut BTreeSet<Day>,
}

impl Replayed<'_> {
    /// Replays one log file: each event inside the horizon that no segment
    /// and no earlier record holds is buffered (one chunk per day per log);
    /// a day older than the horizon is only named. Returns the file's bytes.
    fn log(&mut self, storage: &dyn Storage, path: &Path, tail: Tail, horizon: Day) -> Result<u64> {
        let r = replay(storage, path, tail)?;
        self.counters.torn_tail_bytes += r.truncated_bytes;
        let mut by_day: BTreeMap<Day, Vec<Event>> = BTreeMap::new();
        for e in r.batches.into_iter().flatten() {
            if e.day() < horizon {
                // Only in the log, and out of retention: dropped with the
                // log, so named like a dropped day directory.
                self.expired.insert(e.day());
                continue;
            }
            let h = xxh3_64(e.event_id.as_bytes());
            let (company, id) = (e.company_name.as_str(), e.event_id.as_str());
            let sealed = || {
                self.state
                    .all_segments()
                    .any(|s| s.contains_id(company, id, h).unwrap_or(false))
            };
            if self.mem_ids.contains(company, id, h) || sealed() {
                continue;
            }
            self.mem_ids.insert(company, id, h);
            self.counters.replayed_events += 1;
            by_day.entry(e.day()).or_default().push(e);
        }
        for (day, evs) in by_day {
            Arc::make_mut(self.state.days.entry(day).or_default()).push_chunk(evs);
        }
        Ok(r.file_bytes)
    }
}

type Segments = (BTreeMap<Day, DayState>, u64, Vec<Day>);

/// Maps every segment inside the horizon; records damage; leaves out (and,
/// repairing, removes) compaction inputs that a merged segment supersedes.
///
/// A read-only look (no lock: a writer may seal and compact meanwhile)
/// skips a segment listed but gone before it is mapped: a compaction input
/// (unlinked only after its merged segment was in place) or a dropped day.
/// Only then does it list the segments a second time and map what that
/// listing adds (the merged segment). When every listed segment was
/// mapped, the first listing is a consistent view: a compaction that
/// ended meanwhile unlinked inputs this look already holds, and a merged
/// segment listed beside its inputs supersedes them.
fn load_segments(storage: &dyn Storage, root: &Path, horizon: Day, mode: Mode) -> Result<Segments> {
    let mut max_id = 0u64;
    let mut days: BTreeMap<Day, DayState> = BTreeMap::new();
    let mut superseded: HashSet<u64> = HashSet::new();
    let mut damaged: Vec<(Day, u64, Damage)> = Vec::new();
    let mut expired = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let passes = if mode == Mode::Look { 2 } else { 1 };
    let mut missed = false;
    for pass in 0..passes {
        if pass > 0 && !missed {
            break;
        }
        for entry in files::list_dir(storage, &root.join(DAYS_DIR))? {
            let Some(day) = Day::parse(&entry.name) else {
                continue;
            };
            if !entry.is_dir {
                continue;
            }
            if day < horizon {
                if pass == 0 {
                    expired.push(day);
                }
                continue;
            }
            for f in files::list_dir(storage, &entry.path)? {
                if f.is_dir {
                    continue;
                }
                match FileKind::of_name(&f.name) {
                    Some(FileKind::Temp) if mode == Mode::Repair => {
                        files::remove_file(storage, &f.path)?
                    }
                    Some(FileKind::Segment { id }) if seen.insert(f.path.clone()) => {
                        max_id = max_id.max(id);
                        match open_segment(storage, f.path, day, id) {
                            Ok(Ok(seg)) => {
                                superseded.extend(seg.supersedes().iter().copied());
                                days.entry(day).or_default().segments.push(Arc::new(seg));
                            }
                            Ok(Err(damage)) => damaged.push((day, id, damage)),
                            Err(Error::Io { source, .. })
                                if mode == Mode::Look
                                    && source.kind() == std::io::ErrorKind::NotFound =>
                            {
                                missed = true;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    for id in &superseded {
        max_id = max_id.max(*id);
    }
    for d in days.values_mut() {
        let mut keep = Vec::new();
        for seg in d.segments.drain(..) {
            if !superseded.contains(&seg.id()) {
                keep.push(seg);
            } else if mode == Mode::Repair {
                files::remove_file(storage, seg.path())?;
            }
        }
        keep.sort_by_key(|s| s.id());
        d.segments = keep;
    }
    for (day, id, damage) in damaged {
        if !superseded.contains(&id) {
            days.entry(day).or_default().damaged.push(damage);
        } else if mode == Mode::Repair {
            files::remove_file(storage, &damage.path)?;
        }
    }
    Ok((days, max_id, expired))
}

/// Opens one segment: `Ok(Err(damage))` for bad bytes (quarantined, the
/// rest stays readable), `Err` when it could not be read at all.
fn open_segment(
    storage: &dyn Storage,
    path: PathBuf,
    day: Day,
    id: u64,
) -> Result<std::result::Result<SegmentReader, Damage>> {
    match SegmentReader::open_in(storage, &path) {
        Ok(seg) if seg.day() == day && seg.id() == id => Ok(Ok(seg)),
        Ok(seg) => Ok(Err(Damage {
            offset: 0,
            section: "footer".into(),
            reason: format!(
                "segment claims id {} of day {}, but its name says id {id} of day {day}",
                seg.id(),
                seg.day()
            ),
            path,
        })),
        // Bad bytes: quarantine the segment, keep the rest.
        Err(e) if e.is_corruption() => Ok(Err(Damage::from_error(path, &e))),
        // Could not read it (EIO, EMFILE, ENOMEM mapping): the file may be
        // fine. Opening without it would hide acknowledged events and let a
        // re-sent one be stored twice (docs/notes/fuzzing.md, finding 2), so
        // the open fails and can be retried.
        Err(e) => Err(e),
    }
}

/// The log files' sequence numbers, ascending (repairing: `*.tmp` removed).
fn list_logs(storage: &dyn Storage, root: &Path, mode: Mode) -> Result<Vec<u64>> {
    let mut logs: Vec<u64> = Vec::new();
    for entry in files::list_dir(storage, &root.join(LOG_DIR))? {
        match FileKind::of_name(&entry.name) {
            Some(FileKind::Log { seq }) if !entry.is_dir => logs.push(seq),
            Some(FileKind::Temp) if !entry.is_dir && mode == Mode::Repair => {
                files::remove_file(storage, &entry.path)?
            }
            _ => {}
        }
    }
    logs.sort_unstable();
    Ok(logs)
}
