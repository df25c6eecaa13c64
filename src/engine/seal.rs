//! Sealing: turning buffered events into segments, off the append path.
//!
//! A seal has three steps:
//!
//! 1. **freeze** (writer lock held, fast): take each day's buffered chunks,
//!    allocate segment ids, start a new log file, move the buffered ids to
//!    the "frozen" set ([`WriteBuffer::freeze`](super::buffer::WriteBuffer::freeze)).
//!    Appends carry on into fresh buffers and the new log.
//! 2. **write** (no lock, on a background thread, `seal_job.rs`): one segment per
//!    day; where a day has `compact_min_segments` segments, merge the
//!    smaller ones (size-tiered: [`compaction::inputs`]) with the new one,
//!    column by column, into a segment that supersedes them.
//! 3. **publish** (writer lock held, fast): swap the frozen chunks for the
//!    new segment in the state, unlink compacted inputs and the old log files.
//!
//! Until step 3 the frozen events stay visible from their buffer chunks, so
//! readers never miss them. If step 2 fails, it removes what it wrote and
//! the freeze is undone (the events stay buffered, the old logs stay).
//! A crash at any point is repaired by recovery: the old logs are replayed
//! and events already sealed are skipped as duplicates; a merged segment
//! names its inputs in `supersedes`.

use std::path::PathBuf;
use std::sync::Arc;

use super::compaction;
use super::seal_job::{self as job, DayDone, DayJob, SealDone, SealJob};
use super::writer::{Inner, Writer};
use crate::error::{Error, Result};
use crate::files::{self, LOG_DIR};
use crate::log::LogWriter;
use crate::state::State;

impl Inner {
    /// Step 1: freezes the buffer into a job (none when nothing is buffered).
    fn freeze(&self, w: &mut Writer) -> Result<Option<SealJob>> {
        if w.buffer.len() == 0 {
            return Ok(None);
        }
        let state = self.snapshot_state();
        let mut days = Vec::new();
        for (day, d) in state.days.iter().filter(|(_, d)| !d.mem.is_empty()) {
            let id = w.take_segment_id();
            let min = self.opts.compact_min_segments;
            let merge = min > 1 && d.damaged.is_empty() && d.segments.len() + 1 >= min;
            let inputs = if merge {
                compaction::inputs(&d.segments, d.mem_events())
            } else {
                Vec::new()
            };
            let compact = (!inputs.is_empty()).then(|| (inputs, w.take_segment_id()));
            days.push(DayJob {
                day: *day,
                chunks: Vec::new(),
                id,
                compact,
            });
        }
        let old_logs = self.start_new_log(w)?;
        let chunks = w.buffer.freeze(&state);
        for (job, (day, chunks)) in days.iter_mut().zip(chunks) {
            debug_assert_eq!(job.day, day, "freeze: days in the same order");
            job.chunks = chunks;
        }
        Ok(Some(SealJob { days, old_logs }))
    }

    /// Step 3: publishes the job's segments, or undoes the freeze.
    fn complete(&self, w: &mut Writer, job: &SealJob, result: Result<SealDone>) -> Result<()> {
        let done = match result {
            Ok(done) => done,
            Err(e) => {
                w.buffer.thaw();
                w.old_logs.extend(job.old_logs.iter().copied());
                w.seal_error = Some(e.to_string());
                return Err(e);
            }
        };
        w.counters.seals += 1;
        w.counters.segments_written += done.segments_written;
        w.counters.compactions += done.compactions;
        w.counters.seal_ms += done.seal_ms;
        w.counters.compact_ms += done.compact_ms;
        let unlink = self.publish_sealed(w, done.days);
        w.seal_error = None;
        // Compaction inputs: the merged segment is durable and names them, so
        // unlinking them now (or a crash before it) is safe. Snapshots that
        // still map them keep reading.
        self.unlink_segments(&unlink)?;
        self.delete_logs(&job.old_logs)
    }

    /// Swaps each day's frozen chunks for its new segment in a new state and
    /// records the sealed ids. Returns the files no state names any more
    /// (compaction inputs; a segment of a day dropped while it was written).
    fn publish_sealed(&self, w: &mut Writer, days: Vec<DayDone>) -> Vec<PathBuf> {
        let mut next = State::clone(&self.snapshot_state());
        let mut unlink: Vec<PathBuf> = Vec::new();
        for d in days {
            w.sealed_ids.add_segment(d.new_id, &d.new_hashes);
            if !d.replaced.is_empty() {
                w.sealed_ids
                    .add_merged(d.segment.id(), d.replaced.iter().map(|r| r.id()));
            }
            unlink.extend(d.replaced.iter().map(|r| r.path().to_path_buf()));
            match next.days.get_mut(&d.day) {
                Some(ds) => {
                    let ds = Arc::make_mut(ds);
                    w.buffer.sealed(ds, &d.chunks);
                    ds.replace_segments(&d.replaced, d.segment);
                }
                // The day was dropped while the seal ran.
                None => unlink.push(d.segment.path().to_path_buf()),
            }
        }
        self.publish(next);
        w.buffer.seal_done();
        unlink
    }

    /// Unlinks segment files, then syncs each directory they were in.
    pub(crate) fn unlink_segments(&self, paths: &[PathBuf]) -> Result<()> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for p in paths {
            files::remove_file(self.storage(), p)?;
            if let Some(d) = p.parent()
                && !dirs.iter().any(|x| x == d)
            {
                dirs.push(d.to_path_buf());
            }
        }
        for d in dirs {
            files::sync_dir(self.storage(), &d)?;
        }
        Ok(())
    }

    /// Publishes a background seal that has finished; with `wait`, waits for
    /// one that is still running.
    pub(crate) fn finish_seal(&self, w: &mut Writer, wait: bool) -> Result<()> {
        let Some(f) = w.in_flight.take() else {
            return Ok(());
        };
        if !wait && !f.handle.is_finished() {
            w.in_flight = Some(f);
            return Ok(());
        }
        let result = f
            .handle
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the seal thread panicked".into())));
        let r = self.complete(w, &f.job, result);
        self.note(w, r)
    }

    /// Starts a seal on a background thread (after the previous one).
    pub(crate) fn start_seal(&self, w: &mut Writer) -> Result<()> {
        self.finish_seal(w, true)?;
        let Some(job) = self.freeze(w)? else {
            return Ok(());
        };
        let job = Arc::new(job);
        match job::spawn(
            Arc::clone(&self.opts.storage),
            self.root.clone(),
            Arc::clone(&job),
        ) {
            Ok(f) => {
                w.in_flight = Some(f);
                Ok(())
            }
            // No thread to be had: seal here instead.
            Err(_) => {
                let result = job::run(self.storage(), &self.root, &job);
                self.complete(w, &job, result)
            }
        }
    }

    /// Seals everything buffered now, on this thread.
    pub(crate) fn seal_now(&self, w: &mut Writer) -> Result<()> {
        self.finish_seal(w, true)?;
        if let Some(job) = self.freeze(w)? {
            let result = job::run(self.storage(), &self.root, &job);
            self.complete(w, &job, result)?;
        }
        Ok(())
    }

    /// Starts a new log file; returns the sequence numbers of the older ones
    /// (to delete once their events are sealed).
    fn start_new_log(&self, w: &mut Writer) -> Result<Vec<u64>> {
        if w.dirty {
            // Interval durability: the old log's tail must be durable before
            // a newer log exists (a torn tail in a log that is no longer the
            // newest is corruption, and no open would succeed) and before
            // its events are only in segments that are not yet written.
            w.log.sync()?;
            w.dirty = false;
        }
        let next = LogWriter::create(self.storage(), &self.root, w.log.seq() + 1)?;
        let old = std::mem::replace(&mut w.log, next);
        let mut seqs = std::mem::take(&mut w.old_logs);
        seqs.push(old.seq());
        Ok(seqs)
    }

    /// Deletes log files whose events are all sealed.
    pub(crate) fn delete_logs(&self, seqs: &[u64]) -> Result<()> {
        for &seq in seqs {
            files::remove_file(self.storage(), &files::log_path(&self.root, seq))?;
        }
        files::sync_dir(self.storage(), &self.root.join(LOG_DIR))
    }
}
