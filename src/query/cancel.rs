//! Stopping a query nobody waits for any more: a [`CancelToken`], passed in
//! [`QueryOptions`] to [`Snapshot::query_with`](crate::Snapshot::query_with).
//!
//! A running query looks at its token before each source (segment or
//! buffered chunk), every [`CHECK_EVERY_ROWS`] rows inside one, between the
//! merge's passes, and before each predicate's dictionary lookup. Once the
//! token is cancelled the query returns [`Error::Cancelled`] at its next
//! look, on every thread it uses, so its threads are free within a few
//! thousand rows of work.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

use super::budget::{DEFAULT_QUERY_MEMORY_BYTES, MemoryPool, Meter};

/// Rows a scan walks between two looks at its token. A look is one relaxed
/// atomic load of a cache line nobody writes until the cancel, so checking
/// per row would cost nothing much either; per block keeps it out of the
/// tightest loops and still answers a cancel within microseconds.
pub(crate) const CHECK_EVERY_ROWS: usize = 4096;

/// A handle that stops queries from another thread.
///
/// Clone it (the clones share one flag), give one copy to a query through
/// [`QueryOptions::with_cancel`] and keep another; [`cancel`](Self::cancel)
/// makes the query return [`Error::Cancelled`] soon after, wherever it is.
/// A token stays cancelled: a query started with a cancelled token returns
/// `Error::Cancelled` without reading anything. `Send + Sync`, and cheap to
/// clone (one `Arc`).
///
/// ```
/// use daybook::{CancelToken, Query, QueryOptions};
/// # let dir = tempfile::tempdir()?;
/// # let engine = daybook::Engine::open(dir.path(), daybook::Options::default())?;
/// let token = CancelToken::new();
/// let opts = QueryOptions::new().with_cancel(token.clone());
/// // Another thread (a deadline, a closed connection) may call:
/// token.cancel();
/// let r = engine.snapshot().query_with(&Query::count(), &opts);
/// assert!(matches!(r, Err(daybook::Error::Cancelled)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
}

impl CancelToken {
    /// A token not cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Asks every query holding this token (or a clone) to stop.
    pub fn cancel(&self) {
        // Relaxed: the flag publishes no other data; a query only needs to
        // see it eventually, and sees it at its next look.
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}

/// How to run a query ([`Snapshot::query_with`](crate::Snapshot::query_with)).
/// The default runs it to the end, as `query` does, on as many threads as
/// it finds worth it (up to one per core).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct QueryOptions {
    /// Stops the query early with [`Error::Cancelled`] once cancelled.
    pub cancel: Option<CancelToken>,
    /// The most threads the query may use, the calling thread included:
    /// `Some(1)` scans every source on the calling thread. `None` (the
    /// default): one per core. `Some(0)` is refused with
    /// [`Error::InvalidOptions`]. The answer is the same whatever the
    /// budget; only the time to it changes.
    pub max_threads: Option<usize>,
    /// The most memory the query may hold, in bytes (what counts:
    /// docs/queries.md, "Memory budget"); past it the query stops with
    /// [`Error::ResourceExhausted`]. `None` (the default):
    /// [`DEFAULT_QUERY_MEMORY_BYTES`]. `Some(0)` is refused with
    /// [`Error::InvalidOptions`]; `Some(u64::MAX)` is no budget.
    pub max_memory_bytes: Option<u64>,
    /// Memory shared with other queries running at once (a server's):
    /// the query's charges are also taken from it, and given back when it
    /// ends.
    pub memory_pool: Option<MemoryPool>,
}

impl QueryOptions {
    /// Options that run a query to the end.
    pub fn new() -> QueryOptions {
        QueryOptions::default()
    }

    /// The query stops with [`Error::Cancelled`] once `token` is cancelled.
    pub fn with_cancel(mut self, token: CancelToken) -> QueryOptions {
        self.cancel = Some(token);
        self
    }

    /// The query uses at most `n` threads, the calling thread included
    /// (1: only the calling thread).
    pub fn with_max_threads(mut self, n: usize) -> QueryOptions {
        self.max_threads = Some(n);
        self
    }

    /// The query holds at most `bytes` of memory
    /// ([`max_memory_bytes`](Self::max_memory_bytes)).
    pub fn with_max_memory_bytes(mut self, bytes: u64) -> QueryOptions {
        self.max_memory_bytes = Some(bytes);
        self
    }

    /// The query also draws its memory from `pool`, shared with other
    /// queries ([`memory_pool`](Self::memory_pool)).
    pub fn with_memory_pool(mut self, pool: MemoryPool) -> QueryOptions {
        self.memory_pool = Some(pool);
        self
    }

    /// The meter of one run under these options: the memory budget,
    /// checked, and the pool.
    pub(crate) fn meter(&self) -> Result<Meter> {
        let limit = match self.max_memory_bytes {
            Some(0) => {
                return Err(Error::InvalidOptions(
                    "query options: max_memory_bytes is 0; give a budget in bytes \
                     (the default is 2 GiB)"
                        .into(),
                ));
            }
            Some(n) => n,
            None => DEFAULT_QUERY_MEMORY_BYTES,
        };
        Ok(Meter::new(limit, self.memory_pool.clone()))
    }

    /// The thread budget: `max_threads`, checked.
    pub(crate) fn thread_budget(&self) -> Result<Option<usize>> {
        match self.max_threads {
            Some(0) => Err(Error::InvalidOptions(
                "query options: max_threads is 0; give at least 1 (the calling thread)".into(),
            )),
            n => Ok(n),
        }
    }

    /// What a run looks at, without a memory meter (nothing is charged):
    /// for work bounded by one segment, such as an export's choice of a
    /// segment's rows.
    pub(crate) fn stop(&self) -> Stop<'_> {
        Stop {
            flag: self.cancel.as_ref().map(|t| &*t.flag),
            meter: None,
        }
    }

    /// What a run looks at: the cancel flag, and `meter` for its memory.
    pub(crate) fn stop_metered<'a>(&'a self, meter: &'a Meter) -> Stop<'a> {
        Stop {
            flag: self.cancel.as_ref().map(|t| &*t.flag),
            meter: Some(meter),
        }
    }
}

/// What a running query looks at: its token's flag, if it has one, and
/// the meter of its memory. Copied into every function and thread that
/// runs part of the query.
#[derive(Clone, Copy)]
pub(crate) struct Stop<'a> {
    flag: Option<&'a AtomicBool>,
    meter: Option<&'a Meter>,
}

impl Stop<'_> {
    /// `Err(Error::Cancelled)` once the token is cancelled.
    #[inline]
    pub(crate) fn check(self) -> Result<()> {
        match self.flag {
            Some(flag) if flag.load(Ordering::Relaxed) => Err(Error::Cancelled),
            _ => Ok(()),
        }
    }

    /// Counts `bytes` more memory held by the query, for `what`;
    /// [`Error::ResourceExhausted`] past its budget (budget.rs).
    #[inline]
    pub(crate) fn charge(self, bytes: u64, what: &str) -> Result<()> {
        match self.meter {
            Some(m) => m.charge(bytes, what),
            None => Ok(()),
        }
    }

    /// Whether the token is cancelled (for loops that cannot return an
    /// error; they stop early and the caller's `check` reports it).
    #[inline]
    pub(crate) fn is_set(self) -> bool {
        self.check().is_err()
    }
}
