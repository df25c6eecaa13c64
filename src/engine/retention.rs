//! Retention: a new "today" seals what is buffered (its day may have
//! ended) and drops the partitions older than the horizon
//! ([`Options::horizon`](crate::Options)) whole: out of the state first
//! (snapshots keep their mapped segments), then off the disk. Every day
//! dropped is recorded at once for [`Engine::take_dropped_days`](crate::Engine::take_dropped_days):
//! a drop deletes data for good, so it never goes unsaid.

use std::path::Path;

use super::writer::{Inner, Writer};
use crate::error::Result;
use crate::files::{self, DAYS_DIR, FileKind};
use crate::state::State;
use crate::storage::Storage;
use crate::time::Day;

impl Inner {
    /// Handles a new "today": seals what is buffered (its day may have
    /// ended) and drops partitions that fell out of retention. Returns the
    /// days dropped, ascending.
    pub(crate) fn roll_day(&self, w: &mut Writer, today: Day) -> Result<Vec<Day>> {
        self.finish_seal(w, true)?;
        if w.buffer.len() > 0 && today != w.last_today {
            self.seal_now(w)?;
        }
        let dropped = self.drop_expired(w, today)?;
        w.last_today = today;
        Ok(dropped)
    }

    /// Drops whole partitions older than the horizon. No seal is in flight
    /// (`roll_day` finished it), so a dropped day's buffered events are all
    /// in the write buffer's unfrozen part. Returns the days unlinked.
    fn drop_expired(&self, w: &mut Writer, today: Day) -> Result<Vec<Day>> {
        let horizon = self.horizon(today);
        let state = self.snapshot_state();
        if state.days.range(..horizon).next().is_some() {
            let mut next = State::clone(&state);
            let kept = next.days.split_off(&horizon);
            for d in next.days.values() {
                w.buffer.drop_day(d);
            }
            next.days = kept;
            self.publish(next);
        }
        let mut dropped = Vec::new();
        for e in files::list_dir(self.storage(), &self.root.join(DAYS_DIR))? {
            if let Some(day) = Day::parse(&e.name).filter(|d| e.is_dir && *d < horizon) {
                remove_day_dir(self.storage(), &e.path)?;
                // Recorded at once: a later failure must not hide it.
                w.dropped_days.push(day);
                w.counters.days_dropped += 1;
                dropped.push(day);
            }
        }
        if !dropped.is_empty() {
            files::sync_dir(self.storage(), &self.root.join(DAYS_DIR))?;
        }
        Ok(dropped)
    }

    /// The open's part: removes the day directories a load found expired
    /// (`Loaded::expired_days`), once the open can no longer fail for
    /// another reason, so a failed open deletes nothing it did not report.
    /// (A day only in the log has no directory: nothing to remove, but it
    /// is named all the same.)
    pub(crate) fn drop_loaded_expired(&self, w: &mut Writer, days: &[Day]) -> Result<()> {
        let storage = self.storage();
        for &day in days {
            remove_day_dir(storage, &files::day_dir(&self.root, day))?;
            w.dropped_days.push(day);
        }
        if !days.is_empty() {
            files::sync_dir(storage, &self.root.join(DAYS_DIR))?;
        }
        Ok(())
    }
}

/// Unlinks our files in a day directory and removes it if nothing foreign
/// is left in it.
fn remove_day_dir(storage: &dyn Storage, dir: &Path) -> Result<()> {
    for e in files::list_dir(storage, dir)? {
        if matches!(
            FileKind::of_name(&e.name),
            Some(FileKind::Segment { .. } | FileKind::Temp)
        ) {
            files::remove_file(storage, &e.path)?;
        }
    }
    // A directory still holding foreign files stays; that is fine.
    let _ = storage.remove_dir(dir);
    Ok(())
}
