//! Opening a data directory: map the segments, repair what a crash left
//! half done, replay the log.
//!
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

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64;

use crate::engine::{Inner, Writer, remove_day_dir};
use crate::error::Result;
use crate::event::Event;
use crate::files::{self, DAYS_DIR, FileKind, LOG_DIR};
use crate::idset::{IdSet, SealedIds};
use crate::log::{LogWriter, replay};
use crate::options::Options;
use crate::report::Counters;
use crate::segment::SegmentReader;
use crate::state::{Damage, DayState, State};
use crate::storage::LockGuard;
use crate::time::Day;

pub(crate) fn recover(root: PathBuf, opts: Options, lock: LockGuard) -> Result<Inner> {
    let storage = &*opts.storage;
    let today = Day::of_ms(opts.clock.now_ms());
    let horizon = today.add_days(1 - opts.retention_days.min(i32::MAX as u32) as i32);
    let mut counters = Counters::default();
    let mut max_id = 0u64;
    let mut days: BTreeMap<Day, DayState> = BTreeMap::new();
    let mut superseded: HashSet<u64> = HashSet::new();
    let mut damaged: Vec<(Day, u64, Damage)> = Vec::new();

    for entry in files::list_dir(storage, &root.join(DAYS_DIR))? {
        let Some(day) = Day::parse(&entry.name) else {
            continue;
        };
        if !entry.is_dir {
            continue;
        }
        let path = entry.path;
        if day < horizon {
            remove_day_dir(storage, &path)?;
            counters.days_dropped += 1;
            continue;
        }
        for f in files::list_dir(storage, &path)? {
            let fpath = f.path;
            if f.is_dir {
                continue;
            }
            match FileKind::of_name(&f.name) {
                Some(FileKind::Temp) => files::remove_file(storage, &fpath)?,
                Some(FileKind::Segment { id }) => {
                    max_id = max_id.max(id);
                    match SegmentReader::open_in(storage, &fpath) {
                        Ok(seg) if seg.day() == day && seg.id() == id => {
                            superseded.extend(seg.supersedes().iter().copied());
                            days.entry(day).or_default().segments.push(Arc::new(seg));
                        }
                        Ok(seg) => damaged.push((
                            day,
                            id,
                            Damage {
                                path: fpath.clone(),
                                offset: 0,
                                section: "footer".into(),
                                reason: format!(
                                    "segment claims id {} of day {}, but its name says id {id} of day {day}",
                                    seg.id(),
                                    seg.day()
                                ),
                            },
                        )),
                        // Bad bytes: quarantine the segment, keep the rest.
                        Err(e) if e.is_corruption() => {
                            damaged.push((day, id, Damage::from_error(fpath.clone(), &e)));
                        }
                        // Could not read it (EIO, EMFILE, ENOMEM mapping):
                        // the file may be fine. Opening without it would
                        // hide acknowledged events and let a re-sent one be
                        // stored twice (docs/notes/fuzzing.md, finding 2),
                        // so the open fails and can be retried.
                        Err(e) => return Err(e),
                    }
                }
                _ => {}
            }
        }
    }
    for id in &superseded {
        max_id = max_id.max(*id);
    }
    for d in days.values_mut() {
        let mut keep = Vec::new();
        for seg in d.segments.drain(..) {
            if superseded.contains(&seg.id()) {
                files::remove_file(storage, seg.path())?;
            } else {
                keep.push(seg);
            }
        }
        keep.sort_by_key(|s| s.id());
        d.segments = keep;
    }
    for (day, id, damage) in damaged {
        if superseded.contains(&id) {
            files::remove_file(storage, &damage.path)?;
        } else {
            days.entry(day).or_default().damaged.push(damage);
        }
    }

    // The log.
    let mut logs: Vec<u64> = Vec::new();
    for entry in files::list_dir(storage, &root.join(LOG_DIR))? {
        match FileKind::of_name(&entry.name) {
            Some(FileKind::Log { seq }) if !entry.is_dir => logs.push(seq),
            Some(FileKind::Temp) if !entry.is_dir => files::remove_file(storage, &entry.path)?,
            _ => {}
        }
    }
    logs.sort_unstable();
    let mut state = State {
        days: days.into_iter().map(|(d, s)| (d, Arc::new(s))).collect(),
    };
    let mut mem_ids = IdSet::with_capacity(opts.max_buffered_events);
    let mut buffered = 0usize;
    let mut by_day: BTreeMap<Day, Vec<Event>> = BTreeMap::new();
    for (i, &seq) in logs.iter().enumerate() {
        let path = files::log_path(&root, seq);
        let r = replay(storage, &path, i + 1 == logs.len())?;
        counters.torn_tail_bytes += r.truncated_bytes;
        for e in r.batches.into_iter().flatten() {
            let h = xxh3_64(e.event_id.as_bytes());
            let (company, id) = (e.company_name.as_str(), e.event_id.as_str());
            if e.day() < horizon || mem_ids.contains(company, id, h) {
                continue;
            }
            if state
                .all_segments()
                .any(|s| s.contains_id(company, id, h).unwrap_or(false))
            {
                continue;
            }
            mem_ids.insert(company, id, h);
            buffered += 1;
            counters.replayed_events += 1;
            by_day.entry(e.day()).or_default().push(e);
        }
    }
    for (day, evs) in by_day {
        Arc::make_mut(state.days.entry(day).or_default())
            .mem
            .push(Arc::new(evs));
    }
    let next_seq = logs.last().map_or(1, |s| s + 1);
    let log = LogWriter::create(storage, &root, next_seq)?;
    let writer = Writer {
        log,
        old_logs: logs,
        next_segment_id: max_id + 1,
        mem_ids,
        frozen_ids: IdSet::default(),
        sealed_ids: SealedIds::with_capacity(opts.sealed_id_filter_keys),
        in_flight: None,
        seal_error: None,
        buffered,
        last_today: today,
        dirty: false,
        failed: None,
        counters,
    };
    let inner = Inner::new(root, opts, state, writer, lock);
    {
        // Seal what the log held: its days may have ended, and the old logs
        // can then go.
        let mut w = inner.writer.lock();
        if w.buffered > 0 {
            inner.seal_now(&mut w)?;
        } else {
            let old = std::mem::take(&mut w.old_logs);
            inner.delete_logs(&old)?;
        }
    }
    Ok(inner)
}
