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

use crate::error::{Error, Result};
use crate::event::Event;
use crate::files::{self, DAYS_DIR, LOCK_FILE, LOG_DIR};
use crate::log::LogWriter;
use crate::options::{Durability, Options};
use crate::report::{AppendReport, Stats};
use crate::state::Snapshot;
use crate::storage::{LockGuard, Storage};
use crate::time::Day;

use self::recovery::Mode;
use self::writer::{Inner, Writer};

mod append;
pub(crate) use append::time_refusal;
mod buffer;
pub(crate) mod compaction;
pub(crate) mod recovery;
mod retention;
mod seal;
mod seal_job;
mod settle;
mod writer;

/// The storage engine: the one writer of a data directory, and a source of
/// snapshots to query. `Send + Sync`: share it between threads by reference
/// or in an `Arc`. Call [`Engine::close`] at the end to learn whether the
/// last work reached the disk (dropping it does the same, silently).
pub struct Engine {
    inner: Arc<Inner>,
    syncer: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
    settler: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
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
        opts.validate()?;
        let root = dir.as_ref().to_path_buf();
        let lock = prepare_dir(&*opts.storage, &root, opts.create_if_missing)?;
        let inner = Arc::new(recover(root, opts, lock)?);
        let syncer = match inner.opts.durability {
            Durability::IntervalMs(ms) => Some(spawn_syncer(&inner, ms.max(1))),
            Durability::EveryBatch => None,
        };
        let settler = (inner.opts.settle_after_ms > 0).then(|| {
            settle::spawn_settler(&inner, Duration::from_millis(inner.opts.settle_after_ms))
        });
        Ok(Engine {
            inner,
            syncer,
            settler,
        })
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

    /// Merges each day's segments into one, days in parallel (one thread
    /// per core). Readers are not blocked: they keep the segments of their
    /// snapshot. Returns the days compacted.
    pub fn compact(&self) -> Result<usize> {
        let mut w = self.inner.writer.lock();
        self.inner.check_failed(&w)?;
        self.inner.finish_seal(&mut w, true)?;
        let days: Vec<Day> = self.inner.snapshot_state().days.keys().copied().collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let r = self.inner.merge_days(&mut w, &days, threads);
        self.inner.note(&mut w, r)
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

impl Engine {
    /// Closes the engine: stops its background threads, publishes a seal
    /// still being written, and fsyncs the log if interval durability left
    /// writes unsynced. Returns the first error, which dropping the engine
    /// cannot: `Ok` means everything acknowledged is on disk and the
    /// directory's lock is released. Buffered events need no seal to be
    /// safe (they are in the log); the next open replays them.
    pub fn close(mut self) -> Result<()> {
        self.shut_down()
    }

    /// [`Engine::close`]'s work; idempotent (the syncer is taken, a seal
    /// published once, a clean log not synced again).
    fn shut_down(&mut self) -> Result<()> {
        for (thread, what) in [
            (self.settler.take(), "the settling thread"),
            (self.syncer.take(), "the log sync thread"),
        ] {
            let Some((stop, handle)) = thread else {
                continue;
            };
            stop.store(true, Ordering::SeqCst);
            handle.thread().unpark();
            if handle.join().is_err() {
                return Err(Error::Internal(format!("{what} panicked")));
            }
        }
        let mut w = self.inner.writer.lock();
        let sealed = self.inner.finish_seal(&mut w, true);
        self.inner.check_failed(&w)?;
        if w.dirty {
            let r = w.log.sync();
            self.inner.note(&mut w, r)?;
            w.dirty = false;
        }
        sealed
    }
}

impl Drop for Engine {
    /// Does what [`Engine::close`] does; errors cannot be reported from
    /// here, so callers who care call `close`.
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

/// Checks or creates the data directory and takes its lock.
fn prepare_dir(storage: &dyn Storage, root: &Path, create: bool) -> Result<LockGuard> {
    if !create {
        crate::reader::check_data_dir(storage, root)?;
    }
    files::create_dir_durable(storage, root)?;
    files::create_dir_durable(storage, &root.join(LOG_DIR))?;
    files::create_dir_durable(storage, &root.join(DAYS_DIR))?;
    // The entries of the data directory, of its subdirectories and of
    // the day directories, even if they exist: an earlier open or seal
    // may have created them and failed before making them durable.
    files::sync_dir(storage, root.parent().unwrap_or(Path::new("")))?;
    files::sync_dir(storage, root)?;
    files::sync_dir(storage, &root.join(DAYS_DIR))?;
    let lock_path = root.join(LOCK_FILE);
    match storage.lock(&lock_path) {
        Ok(Some(guard)) => Ok(guard),
        Ok(None) => Err(Error::Locked(root.to_path_buf())),
        Err(e) => Err(Error::io(&lock_path, e)),
    }
}

/// The writer's open: loads and repairs the directory, starts a new log
/// file, seals what the log held (its days may have ended, and the old logs
/// can then go), and removes the expired days last.
fn recover(root: PathBuf, opts: Options, lock: LockGuard) -> Result<Inner> {
    let storage = &*opts.storage;
    let today = opts.today();
    let horizon = opts.horizon(today);
    let mut loaded = recovery::load(
        storage,
        &root,
        horizon,
        opts.max_buffered_events,
        Mode::Repair,
    )?;
    let next_seq = loaded.logs.last().map_or(1, |s| s + 1);
    let log = LogWriter::create(storage, &root, next_seq)?;
    let writer = Writer::new(&mut loaded, log, &opts, today);
    let state = std::mem::take(&mut loaded.state);
    let inner = Inner::new(root, opts, state, writer, lock);
    {
        let mut w = inner.writer.lock();
        if w.buffer.len() > 0 {
            inner.seal_now(&mut w)?;
        } else {
            let old = std::mem::take(&mut w.old_logs);
            inner.delete_logs(&old)?;
        }
        inner.drop_loaded_expired(&mut w, &loaded.expired_days)?;
    }
    Ok(inner)
}

fn spawn_syncer(inner: &Arc<Inner>, interval_ms: u64) -> (Arc<AtomicBool>, JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let weak = Arc::downgrade(inner);
    let stop2 = Arc::clone(&stop);
    let handle = std::thread::spawn(move || {
        while !stop2.load(Ordering::SeqCst) {
            std::thread::park_timeout(Duration::from_millis(interval_ms));
            // Woken to stop: the closing thread makes the last sync itself
            // and reports its error (this thread could only make the engine
            // failed, turning close's fsync error into a vaguer one).
            if stop2.load(Ordering::SeqCst) {
                break;
            }
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
