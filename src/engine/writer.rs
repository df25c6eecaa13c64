//! The engine's shared core: the published state readers take snapshots
//! of, and the writer's own state behind its mutex. The operations on them
//! live in the rooms that own them (append.rs, seal.rs, compaction.rs,
//! retention.rs); this file holds the types and the few rules every one of
//! them follows (publish a whole new state; an fsync failure is sticky).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use super::buffer::WriteBuffer;
use super::recovery::Loaded;
use super::seal_job::InFlight;
use crate::error::{Error, Result};
use crate::idset::SealedIds;
use crate::log::LogWriter;
use crate::options::Options;
use crate::report::Counters;
use crate::state::State;
use crate::storage::{LockGuard, Storage};
use crate::time::Day;

/// What the engine's handle and its background threads share.
pub(crate) struct Inner {
    pub(crate) root: PathBuf,
    pub(crate) opts: Options,
    /// The state readers see; replaced whole by [`Inner::publish`].
    state: RwLock<Arc<State>>,
    pub(crate) writer: Mutex<Writer>,
    _lock: LockGuard,
}

/// Everything only the writer (one at a time: the mutex) touches.
pub(crate) struct Writer {
    pub(crate) log: LogWriter,
    /// Older log files, all of whose events are still buffered or sealed;
    /// deleted by the next complete seal.
    pub(crate) old_logs: Vec<u64>,
    pub(crate) next_segment_id: u64,
    pub(crate) buffer: WriteBuffer,
    /// A filter over the ids of the sealed segments it covers.
    pub(crate) sealed_ids: SealedIds,
    pub(crate) in_flight: Option<InFlight>,
    /// The last background seal failure (not sticky: the next seal retries).
    pub(crate) seal_error: Option<String>,
    /// The day the last append or retention check ran in.
    pub(crate) last_today: Day,
    /// Unsynced log writes (interval durability).
    pub(crate) dirty: bool,
    pub(crate) failed: Option<String>,
    pub(crate) counters: Counters,
    /// Days dropped by retention and not yet reported
    /// ([`Engine::take_dropped_days`](crate::Engine::take_dropped_days)).
    pub(crate) dropped_days: Vec<Day>,
    /// When each day was last appended to since open: the settling thread
    /// merges a day's segments once it has been quiet (engine/settle.rs).
    pub(crate) last_append: HashMap<Day, Instant>,
}

impl Writer {
    /// The writer of a directory just loaded, appending to a new log.
    pub(crate) fn new(loaded: &mut Loaded, log: LogWriter, opts: &Options, today: Day) -> Writer {
        Writer {
            log,
            old_logs: std::mem::take(&mut loaded.logs),
            next_segment_id: loaded.max_id + 1,
            buffer: WriteBuffer::with_replayed(
                std::mem::take(&mut loaded.mem_ids),
                opts.max_buffered_events,
            ),
            sealed_ids: SealedIds::with_capacity(opts.sealed_id_filter_keys),
            in_flight: None,
            seal_error: None,
            last_today: today,
            dirty: false,
            failed: None,
            counters: std::mem::take(&mut loaded.counters),
            dropped_days: Vec::new(),
            last_append: HashMap::new(),
        }
    }

    /// Takes the next segment id.
    pub(crate) fn take_segment_id(&mut self) -> u64 {
        self.next_segment_id += 1;
        self.next_segment_id - 1
    }
}

impl Inner {
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

    pub(crate) fn storage(&self) -> &dyn Storage {
        &*self.opts.storage
    }

    pub(crate) fn today(&self) -> Day {
        self.opts.today()
    }

    pub(crate) fn horizon(&self, today: Day) -> Day {
        self.opts.horizon(today)
    }

    /// The state as last published (a read lock held for a pointer copy).
    pub(crate) fn snapshot_state(&self) -> Arc<State> {
        Arc::clone(&self.state.read())
    }

    /// Makes `state` the one new snapshots see. Callers hold the writer
    /// lock and built `state` from the last published one.
    pub(crate) fn publish(&self, state: State) {
        *self.state.write() = Arc::new(state);
    }

    /// `Err(Failed)` once an fsync has failed.
    pub(crate) fn check_failed(&self, w: &Writer) -> Result<()> {
        match &w.failed {
            Some(msg) => Err(Error::Failed(msg.clone())),
            None => Ok(()),
        }
    }

    /// Passes `r` through; an fsync failure puts the engine in its sticky
    /// failed state first (the kernel may have dropped the unsynced pages,
    /// so a retry could acknowledge what is not on disk).
    pub(crate) fn note<T>(&self, w: &mut Writer, r: Result<T>) -> Result<T> {
        if let Err(e @ Error::Fsync { .. }) = &r {
            w.failed.get_or_insert_with(|| e.to_string());
        }
        r
    }
}
