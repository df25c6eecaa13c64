//! The engine: appends, seals, compacts and drops partitions, and hands out
//! snapshots. One writer at a time (a mutex), any number of readers (each on
//! an immutable [`Snapshot`]).
//!
//! Write path: validate the batch -> drop duplicates, by (company, event id)
//! (this batch, the write buffer, every sealed segment) -> one log record ->
//! one fsync -> publish
//! the events to the day partitions' buffers -> seal when the buffer is full
//! or the day has ended.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::files::{self, DAYS_DIR, FileKind, LOCK_FILE, LOG_DIR};
use crate::idset::{IdSet, SealedIds};
use crate::log::LogWriter;
use crate::options::{Durability, Options};
use crate::report::{AppendReport, Counters, Stats};
use crate::seal::{self, DayJob, InFlight, SealDone, SealJob};
use crate::state::{Snapshot, State};
use crate::storage::{LockGuard, Storage};
use crate::time::Day;

mod append;

/// The storage engine. `Send + Sync`: share it between threads by reference
/// or in an `Arc`.
pub struct Engine {
    inner: Arc<Inner>,
    syncer: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

pub(crate) struct Inner {
    pub(crate) root: PathBuf,
    pub(crate) opts: Options,
    pub(crate) state: RwLock<Arc<State>>,
    pub(crate) writer: Mutex<Writer>,
    _lock: LockGuard,
}

pub(crate) struct Writer {
    pub(crate) log: LogWriter,
    /// Older log files, all of whose events are still buffered or sealed;
    /// deleted by the next complete seal.
    pub(crate) old_logs: Vec<u64>,
    pub(crate) next_segment_id: u64,
    /// (company, id) of buffered events (bounded by `max_buffered_events`).
    pub(crate) mem_ids: IdSet,
    /// Ids of the events of the seal in flight (at most one).
    pub(crate) frozen_ids: IdSet,
    /// A filter over the ids of the sealed segments it covers.
    pub(crate) sealed_ids: SealedIds,
    pub(crate) in_flight: Option<InFlight>,
    /// The last background seal failure (not sticky: the next seal retries).
    pub(crate) seal_error: Option<String>,
    pub(crate) buffered: usize,
    pub(crate) last_today: Day,
    /// Unsynced log writes (interval durability).
    pub(crate) dirty: bool,
    pub(crate) failed: Option<String>,
    pub(crate) counters: Counters,
    /// Days dropped by retention and not yet reported
    /// ([`Engine::take_dropped_days`]).
    pub(crate) dropped_days: Vec<Day>,
}

impl Engine {
    /// Opens the engine in `dir` (creating it if missing and
    /// [`Options::create_if_missing`] says so): recovers the log, maps the
    /// segments, drops the partitions older than the retention horizon under
    /// the options' clock ([`Engine::take_dropped_days`] names them).
    ///
    /// The engine is the directory's one writer: it holds its lock. To look
    /// at a directory without writing to it, also while a writer runs, use
    /// [`Reader`](crate::Reader).
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Engine> {
        if opts.retention_days == 0 {
            return Err(Error::InvalidOptions(
                "retention_days must be at least 1".into(),
            ));
        }
        if opts.max_buffered_events == 0 {
            return Err(Error::InvalidOptions(
                "max_buffered_events must be at least 1".into(),
            ));
        }
        let root = dir.as_ref().to_path_buf();
        let storage = &*opts.storage;
        if !opts.create_if_missing {
            crate::reader::check_data_dir(storage, &root)?;
        }
        files::create_dir_durable(storage, &root)?;
        files::create_dir_durable(storage, &root.join(LOG_DIR))?;
        files::create_dir_durable(storage, &root.join(DAYS_DIR))?;
        // The entries of the data directory, of its subdirectories and of
        // the day directories, even if they exist: an earlier open or seal
        // may have created them and failed before making them durable.
        files::sync_dir(storage, root.parent().unwrap_or(Path::new("")))?;
        files::sync_dir(storage, &root)?;
        files::sync_dir(storage, &root.join(DAYS_DIR))?;
        let lock_path = root.join(LOCK_FILE);
        let lock = match storage.lock(&lock_path) {
            Ok(Some(guard)) => guard,
            Ok(None) => return Err(Error::Locked(root)),
            Err(e) => return Err(Error::io(&lock_path, e)),
        };
        let inner = crate::recovery::recover(root, opts, lock)?;
        let inner = Arc::new(inner);
        let syncer = match inner.opts.durability {
            Durability::IntervalMs(ms) => Some(spawn_syncer(&inner, ms.max(1))),
            Durability::EveryBatch => None,
        };
        Ok(Engine { inner, syncer })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.inner.root
    }

    /// The options the engine was opened with.
    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    /// Stores a batch. Every event is validated; invalid, expired and
    /// future events are rejected (with their index and reason), duplicates
    /// (an event of the same company with the same `event_id`, already stored
    /// or earlier in the batch) are counted and skipped, the rest is stored with one log write and
    /// one fsync. When this returns `Ok`, the stored events are durable
    /// (with [`Durability::EveryBatch`]) and visible to new snapshots.
    pub fn append(&self, events: Vec<Event>) -> Result<AppendReport> {
        let mut w = self.inner.writer.lock();
        self.inner.append_locked(&mut w, events)
    }

    /// Seals every buffered event into segments, and fsyncs the log.
    pub fn flush(&self) -> Result<()> {
        let mut w = self.inner.writer.lock();
        self.inner.check_failed(&w)?;
        if w.dirty {
            let r = w.log.sync();
            self.inner.note(&mut w, r)?;
            w.dirty = false;
        }
        let r = self.inner.seal_now(&mut w);
        self.inner.note(&mut w, r)?;
        Ok(())
    }

    /// Fsyncs the log (useful with interval durability).
    pub fn sync(&self) -> Result<()> {
        let mut w = self.inner.writer.lock();
        self.inner.check_failed(&w)?;
        let r = w.log.sync();
        self.inner.note(&mut w, r)?;
        w.dirty = false;
        Ok(())
    }

    /// Merges each day's segments into one. Readers are not blocked: they
    /// keep the segments of their snapshot. Returns the days compacted.
    pub fn compact(&self) -> Result<usize> {
        let mut w = self.inner.writer.lock();
        self.inner.check_failed(&w)?;
        self.inner.finish_seal(&mut w, true)?;
        let days: Vec<Day> = self
            .inner
            .snapshot_state()
            .days
            .iter()
            .filter(|(_, d)| d.segments.len() > 1)
            .map(|(d, _)| *d)
            .collect();
        let mut n = 0;
        for day in days {
            let r = self.inner.compact_day(&mut w, day);
            if self.inner.note(&mut w, r)? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Drops the partitions older than the retention horizon now. Returns
    /// the days dropped, ascending.
    pub fn enforce_retention(&self) -> Result<Vec<Day>> {
        let mut w = self.inner.writer.lock();
        self.inner.check_failed(&w)?;
        let today = self.inner.today();
        let r = self.inner.roll_day(&mut w, today);
        self.inner.note(&mut w, r)
    }

    /// The days dropped by retention since the last call (or since open,
    /// including those dropped by the open itself), ascending. Front ends
    /// print them: a drop deletes data for good, so it never goes unsaid.
    pub fn take_dropped_days(&self) -> Vec<Day> {
        let mut days = std::mem::take(&mut self.inner.writer.lock().dropped_days);
        days.sort_unstable();
        days.dedup();
        days
    }

    /// A consistent view of everything stored so far.
    pub fn snapshot(&self) -> Snapshot {
        let today = self.inner.today();
        Snapshot {
            state: self.inner.snapshot_state(),
            horizon: self.inner.horizon(today),
            today,
        }
    }

    /// Answers a report query over everything stored (sealed and buffered),
    /// as of now. See docs/queries.md.
    pub fn query(&self, q: &crate::query::Query) -> Result<crate::query::QueryResult> {
        self.snapshot().query(q)
    }

    /// Answers a query and says how (`daybook explain`).
    pub fn explain(
        &self,
        q: &crate::query::Query,
    ) -> Result<(crate::query::QueryResult, crate::query::Explain)> {
        self.snapshot().explain(q)
    }

    /// Partitions, segments, sizes and counters.
    pub fn stats(&self) -> Stats {
        let (counters, failed, log_bytes) = {
            let w = self.inner.writer.lock();
            (w.counters.clone(), w.failed.clone(), w.log.len_bytes())
        };
        Stats {
            counters,
            log_bytes,
            failed,
            ..Stats::of_snapshot(&self.snapshot(), self.inner.opts.retention_days)
        }
    }

    /// Checks every byte of every segment (checksums and structure).
    /// Returns one error per damaged segment.
    pub fn verify(&self) -> Vec<Error> {
        self.snapshot().verify()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.syncer.take() {
            stop.store(true, Ordering::SeqCst);
            handle.thread().unpark();
            let _ = handle.join();
        }
        // Interval durability: make the last interval durable on a clean
        // shutdown. Errors cannot be reported from drop; callers who care
        // call `sync` or `flush` first.
        let mut w = self.inner.writer.lock();
        let _ = self.inner.finish_seal(&mut w, true);
        if w.dirty && w.failed.is_none() {
            let _ = w.log.sync();
            w.dirty = false;
        }
    }
}

fn spawn_syncer(inner: &Arc<Inner>, interval_ms: u64) -> (Arc<AtomicBool>, JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let weak = Arc::downgrade(inner);
    let stop2 = Arc::clone(&stop);
    let handle = std::thread::spawn(move || {
        while !stop2.load(Ordering::SeqCst) {
            std::thread::park_timeout(Duration::from_millis(interval_ms));
            let Some(inner) = weak.upgrade() else { break };
            let mut w = inner.writer.lock();
            if w.dirty && w.failed.is_none() {
                let r = w.log.sync();
                if inner.note(&mut w, r).is_ok() {
                    w.dirty = false;
                }
            }
        }
    });
    (stop, handle)
}

impl Inner {
    pub(crate) fn storage(&self) -> &dyn Storage {
        &*self.opts.storage
    }

    pub(crate) fn new(
        root: PathBuf,
        opts: Options,
        state: State,
        writer: Writer,
        lock: LockGuard,
    ) -> Inner {
        Inner {
            root,
            opts,
            state: RwLock::new(Arc::new(state)),
            writer: Mutex::new(writer),
            _lock: lock,
        }
    }

    pub(crate) fn today(&self) -> Day {
        Day::of_ms(self.opts.clock.now_ms())
    }

    pub(crate) fn horizon(&self, today: Day) -> Day {
        horizon(today, self.opts.retention_days)
    }

    pub(crate) fn snapshot_state(&self) -> Arc<State> {
        Arc::clone(&self.state.read())
    }

    fn publish(&self, state: State) {
        *self.state.write() = Arc::new(state);
    }

    fn check_failed(&self, w: &Writer) -> Result<()> {
        match &w.failed {
            Some(msg) => Err(Error::Failed(msg.clone())),
            None => Ok(()),
        }
    }

    /// Passes `r` through; an fsync failure puts the engine in its sticky
    /// failed state first.
    fn note<T>(&self, w: &mut Writer, r: Result<T>) -> Result<T> {
        if let Err(e @ Error::Fsync { .. }) = &r {
            w.failed.get_or_insert_with(|| e.to_string());
        }
        r
    }

    /// Step 1 of a seal (see seal.rs): freezes the buffer into a job.
    fn freeze(&self, w: &mut Writer) -> Result<Option<SealJob>> {
        if w.buffered == 0 {
            return Ok(None);
        }
        let state = self.snapshot_state();
        let mut days = Vec::new();
        for (&day, d) in &state.days {
            if d.mem.is_empty() {
                continue;
            }
            let id = w.next_segment_id;
            w.next_segment_id += 1;
            let min = self.opts.compact_min_segments;
            let inputs = if min > 1 && d.damaged.is_empty() && d.segments.len() + 1 >= min {
                compaction_inputs(&d.segments, d.mem_events())
            } else {
                Vec::new()
            };
            let compact = if inputs.is_empty() {
                None
            } else {
                w.next_segment_id += 1;
                Some((inputs, w.next_segment_id - 1))
            };
            days.push(DayJob {
                day,
                chunks: d.mem.clone(),
                id,
                compact,
            });
        }
        let old_logs = self.start_new_log(w)?;
        w.frozen_ids = std::mem::replace(
            &mut w.mem_ids,
            IdSet::with_capacity(self.opts.max_buffered_events),
        );
        let frozen_events = std::mem::take(&mut w.buffered);
        Ok(Some(SealJob {
            days,
            old_logs,
            frozen_events,
        }))
    }

    /// Step 3 of a seal: publishes its segments, or undoes the freeze.
    fn complete(&self, w: &mut Writer, job: &SealJob, result: Result<SealDone>) -> Result<()> {
        let done = match result {
            Ok(done) => done,
            Err(e) => {
                let frozen = std::mem::take(&mut w.frozen_ids);
                w.mem_ids.absorb(frozen);
                w.buffered += job.frozen_events;
                w.old_logs.extend(job.old_logs.iter().copied());
                w.seal_error = Some(e.to_string());
                return Err(e);
            }
        };
        let mut next = State::clone(&self.snapshot_state());
        let mut unlink: Vec<PathBuf> = Vec::new();
        let mut covered = Vec::with_capacity(done.days.len());
        for d in done.days {
            let merged = (!d.replaced.is_empty()).then(|| {
                (
                    d.segment.id(),
                    d.replaced.iter().map(|r| r.id()).collect::<Vec<_>>(),
                )
            });
            covered.push((d.new_id, d.new_hashes, merged));
            match next.days.get_mut(&d.day) {
                Some(ds) => {
                    let ds = Arc::make_mut(ds);
                    ds.mem
                        .retain(|c| !d.chunks.iter().any(|f| Arc::ptr_eq(c, f)));
                    ds.segments
                        .retain(|s| !d.replaced.iter().any(|r| r.id() == s.id()));
                    ds.segments.push(d.segment);
                    ds.segments.sort_by_key(|s| s.id());
                }
                // The day was dropped while the seal ran.
                None => unlink.push(d.segment.path().to_path_buf()),
            }
            unlink.extend(d.replaced.iter().map(|r| r.path().to_path_buf()));
        }
        self.publish(next);
        w.frozen_ids.clear();
        for (id, hashes, merged) in covered {
            w.sealed_ids.add_segment(id, &hashes);
            if let Some((merged_id, inputs)) = merged {
                w.sealed_ids.add_merged(merged_id, inputs);
            }
        }
        w.seal_error = None;
        w.counters.seals += 1;
        w.counters.segments_written += done.segments_written;
        w.counters.compactions += done.compactions;
        w.counters.seal_ms += done.seal_ms;
        w.counters.compact_ms += done.compact_ms;
        // Compaction inputs: the merged segment is durable and names them, so
        // unlinking them now (or a crash before it) is safe. Snapshots that
        // still map them keep reading.
        let mut dirs: Vec<PathBuf> = Vec::new();
        for p in &unlink {
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
        self.delete_logs(&job.old_logs)
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
    fn start_seal(&self, w: &mut Writer) -> Result<()> {
        self.finish_seal(w, true)?;
        let Some(job) = self.freeze(w)? else {
            return Ok(());
        };
        let job = Arc::new(job);
        match seal::spawn(
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
                let result = seal::run(self.storage(), &self.root, &job);
                self.complete(w, &job, result)
            }
        }
    }

    /// Seals everything buffered now, on this thread.
    pub(crate) fn seal_now(&self, w: &mut Writer) -> Result<()> {
        self.finish_seal(w, true)?;
        if let Some(job) = self.freeze(w)? {
            let result = seal::run(self.storage(), &self.root, &job);
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

    pub(crate) fn delete_logs(&self, seqs: &[u64]) -> Result<()> {
        for &seq in seqs {
            files::remove_file(self.storage(), &files::log_path(&self.root, seq))?;
        }
        files::sync_dir(self.storage(), &self.root.join(LOG_DIR))
    }

    /// Merges all segments of `day` into one. Returns whether it did.
    fn compact_day(&self, w: &mut Writer, day: Day) -> Result<bool> {
        let started = std::time::Instant::now();
        let state = self.snapshot_state();
        let Some(d) = state.days.get(&day) else {
            return Ok(false);
        };
        if d.segments.len() < 2 || !d.damaged.is_empty() {
            return Ok(false);
        }
        let inputs = d.segments.clone();
        let id = w.next_segment_id;
        w.next_segment_id += 1;
        let merged = seal::merge_segments(self.storage(), &self.root, day, &inputs, id)?;
        let mut next = State::clone(&self.snapshot_state());
        let ds = Arc::make_mut(next.days.entry(day).or_default());
        ds.segments
            .retain(|s| !inputs.iter().any(|i| i.id() == s.id()));
        ds.segments.insert(0, merged);
        self.publish(next);
        w.sealed_ids.add_merged(id, inputs.iter().map(|s| s.id()));
        // The merged segment is durable and names its inputs, so a crash
        // before these unlinks is repaired on open.
        for seg in &inputs {
            files::remove_file(self.storage(), seg.path())?;
        }
        files::sync_dir(self.storage(), &files::day_dir(&self.root, day))?;
        w.counters.compactions += 1;
        w.counters.compact_ms += started.elapsed().as_millis() as u64;
        Ok(true)
    }

    /// Handles a new "today": seals what is buffered (its day may have
    /// ended) and drops partitions that fell out of retention.
    fn roll_day(&self, w: &mut Writer, today: Day) -> Result<Vec<Day>> {
        self.finish_seal(w, true)?;
        if w.buffered > 0 && today != w.last_today {
            self.seal_now(w)?;
        }
        let dropped = self.drop_expired(w, today)?;
        w.last_today = today;
        Ok(dropped)
    }

    /// Drops whole partitions older than the horizon: out of the state first
    /// (snapshots keep their mapped segments), then unlinked from disk.
    /// Returns the days unlinked, ascending.
    fn drop_expired(&self, w: &mut Writer, today: Day) -> Result<Vec<Day>> {
        let horizon = self.horizon(today);
        let state = self.snapshot_state();
        let expired: Vec<Day> = state.days.range(..horizon).map(|(d, _)| *d).collect();
        if !expired.is_empty() {
            let mut next = State::clone(&state);
            for day in &expired {
                if let Some(d) = next.days.remove(day) {
                    w.buffered = w.buffered.saturating_sub(d.mem_events());
                    for e in d.mem.iter().flat_map(|c| c.iter()) {
                        w.mem_ids.remove(
                            &e.company_name,
                            &e.event_id,
                            xxh3_64(e.event_id.as_bytes()),
                        );
                    }
                }
            }
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
}

/// The oldest day kept when "today" is `today`: today and the
/// `retention_days - 1` days before it.
pub(crate) fn horizon(today: Day, retention_days: u32) -> Day {
    today.add_days(1 - retention_days.min(i32::MAX as u32) as i32)
}

/// Which of a day's segments a seal merges with its new one: size-tiered.
/// Taking segments smallest first, each joins while it holds at most twice
/// the rows gathered so far (the new rows included); the first bigger one
/// stops the run. Small segments (a trickle of late events, the last few
/// seals) merge with each other, and a big segment is rewritten only once
/// the rows merging into it are half its size, so each row is rewritten a
/// logarithmic number of times. (The earlier rule, "all unless the largest
/// holds two thirds", rewrote a growing day about every fourth seal: at
/// 1M events a day compaction took 271 of 361 s of sealing.) Empty: write
/// the new segment alone.
fn compaction_inputs(
    segments: &[Arc<crate::segment::SegmentReader>],
    new_rows: usize,
) -> Vec<Arc<crate::segment::SegmentReader>> {
    let mut by_rows: Vec<&Arc<crate::segment::SegmentReader>> = segments.iter().collect();
    by_rows.sort_by_key(|s| s.rows());
    let mut gathered = new_rows as u64;
    let mut inputs = Vec::new();
    for s in by_rows {
        let rows = u64::from(s.rows());
        if rows > gathered.saturating_mul(2) {
            break;
        }
        gathered += rows;
        inputs.push(Arc::clone(s));
    }
    inputs
}

/// Unlinks our files in a day directory and removes it if nothing foreign
/// is left in it.
pub(crate) fn remove_day_dir(storage: &dyn Storage, dir: &Path) -> Result<()> {
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
