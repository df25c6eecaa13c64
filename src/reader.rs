//! Looking at a data directory without writing to it: the read-only
//! [`Reader`], for commands that only read (query, explain, stats, verify,
//! export) and for processes that look while another one writes.
//!
//! A reader takes no lock and changes nothing: no file is created, written,
//! truncated or removed, whatever its clock or retention. It maps the sealed
//! segments and replays the logs' records into memory, as the writer's open
//! does, but it skips what the writer would repair (unfinished `*.tmp`
//! files, compaction inputs already merged, days older than its horizon) and
//! stops before a torn log tail instead of cutting it off (it may be the
//! record a running writer is writing).
//!
//! While a writer runs, the directory changes under the reader: a seal adds
//! segments and only then deletes its old logs; a compaction adds a merged
//! segment and only then deletes its inputs. The reader lists the logs,
//! maps the segments (listing them twice and mapping what the second
//! listing adds: a merged segment whose inputs vanished), then lists the
//! logs again: if a log vanished, a seal ended meanwhile and it loads again
//! (as it does when a log vanishes before it is read). So it sees every
//! batch acknowledged before it opened, a batch whole, never an event
//! twice (a log event also in a segment is skipped), without waiting for
//! the writer to pause.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::recovery::{Loaded, Mode, load};
use crate::error::{Error, Result};
use crate::files::{self, DAYS_DIR, FileKind, LOCK_FILE, LOG_DIR};
use crate::options::Options;
use crate::query::{Explain, Query, QueryResult};
use crate::report::Stats;
use crate::state::Snapshot;
use crate::storage::Storage;
use crate::time::Day;

/// Loads tried before a reader gives up on a directory that keeps changing.
/// A load is retried only when a seal ended while it mapped the segments
/// (a few milliseconds of a seal every half second or so under a full
/// import), so a few tries are enough; 40 with the backoff below (1, 2, 4
/// ... 64 ms, then 100 ms) sleep about 3.3 s in all.
const LOAD_ATTEMPTS: u32 = 40;

/// A read-only view of a data directory as it was when opened (see the
/// module documentation). `Send + Sync`; open a new one to see later data.
#[derive(Debug)]
pub struct Reader {
    root: PathBuf,
    retention_days: u32,
    snapshot: Snapshot,
    loaded: Summary,
}

/// What a reader's load found besides the data.
#[derive(Debug)]
struct Summary {
    log_bytes: u64,
    counters: crate::report::Counters,
    expired_days: Vec<Day>,
}

impl Reader {
    /// Opens `dir` read-only. The options' clock and `retention_days` only
    /// choose what the reader shows (days older than the horizon are
    /// hidden, never deleted); `storage` is where it reads. Fails naming the
    /// directory when it does not exist or is not a data directory.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Reader> {
        opts.validate()?;
        let root = dir.as_ref().to_path_buf();
        let storage = &*opts.storage;
        check_data_dir(storage, &root)?;
        let today = opts.today();
        let horizon = opts.horizon(today);
        let loaded = load_consistent(storage, &root, horizon, opts.max_buffered_events)?;
        Ok(Reader {
            root,
            retention_days: opts.retention_days,
            snapshot: Snapshot {
                state: std::sync::Arc::new(loaded.state),
                horizon,
                today,
            },
            loaded: Summary {
                log_bytes: loaded.log_bytes,
                counters: loaded.counters,
                expired_days: loaded.expired_days,
            },
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The data as loaded (sealed segments and the logs' events).
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.clone()
    }

    /// Answers a report query (see docs/queries.md).
    pub fn query(&self, q: &Query) -> Result<QueryResult> {
        self.snapshot.query(q)
    }

    /// Answers a query and says how.
    pub fn explain(&self, q: &Query) -> Result<(QueryResult, Explain)> {
        self.snapshot.explain(q)
    }

    /// Partitions, segments and sizes. The counters say what the load
    /// found: `replayed_events` (events only in the logs),
    /// `torn_tail_bytes` (a log tail skipped), `days_dropped` (days older
    /// than the horizon, hidden and left on disk: see
    /// [`Reader::hidden_days`]).
    pub fn stats(&self) -> Stats {
        Stats {
            counters: self.loaded.counters.clone(),
            log_bytes: self.loaded.log_bytes,
            ..Stats::of_snapshot(&self.snapshot, self.retention_days)
        }
    }

    /// Checks every byte of every segment (checksums and structure).
    /// Returns one error per damaged segment.
    pub fn verify(&self) -> Vec<Error> {
        self.snapshot.verify()
    }

    /// Days on disk older than the reader's horizon: not shown, not
    /// deleted (a writer whose clock puts them out of retention drops them).
    pub fn hidden_days(&self) -> &[Day] {
        &self.loaded.expired_days
    }
}

/// Fails unless `root` is an existing data directory (it holds `days/`,
/// `log/` or the lock file), naming it: a mistyped path must not read as an
/// empty store.
pub(crate) fn check_data_dir(storage: &dyn Storage, root: &Path) -> Result<()> {
    let not = |reason: &str| Error::NoDataDir {
        path: root.to_path_buf(),
        reason: reason.into(),
    };
    let entries = match storage.read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(not("it does not exist"));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(not("it is not a directory"));
        }
        Err(e) => return Err(Error::io(root, e)),
    };
    let ours = |name: &str| name == DAYS_DIR || name == LOG_DIR || name == LOCK_FILE;
    if entries.iter().any(|e| ours(&e.name)) {
        Ok(())
    } else {
        Err(not("it holds no days/ or log/ directory"))
    }
}

/// Loads until a load sees no seal end under it (see `engine::recovery::load`) and
/// finds every file it listed, so that no seal or compaction is half seen.
fn load_consistent(
    storage: &dyn Storage,
    root: &Path,
    horizon: Day,
    max_buffered_events: usize,
) -> Result<Loaded> {
    let mut pause_ms = 1;
    for attempt in 1..=LOAD_ATTEMPTS {
        match load(storage, root, horizon, max_buffered_events, Mode::Look) {
            Ok(loaded) => return Ok(loaded),
            Err(e) if attempt < LOAD_ATTEMPTS && changed_under_us(storage, root, &e) => {}
            Err(e) => return Err(e),
        }
        std::thread::sleep(Duration::from_millis(pause_ms));
        pause_ms = (pause_ms * 2).min(100);
    }
    Err(Error::Busy(format!(
        "{} kept changing while it was read ({LOAD_ATTEMPTS} tries): a writer is sealing; try again",
        root.display()
    )))
}

/// Whether a load failed because a writer changed the directory under it:
/// a seal ended during the load (`Busy`), a file listed a moment ago is
/// gone, or the newest log looked damaged because a record was being
/// written as it was read. Damage in an older log is real, and reported at
/// once.
fn changed_under_us(storage: &dyn Storage, root: &Path, e: &Error) -> bool {
    match e {
        Error::Busy(_) => true,
        Error::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        Error::Corrupted { path, .. } => {
            let newest = files::list_dir(storage, &root.join(LOG_DIR))
                .ok()
                .and_then(|l| l.into_iter().rev().find(|f| is_log(&f.name)));
            newest.is_some_and(|n| n.path == *path)
        }
        _ => false,
    }
}

fn is_log(name: &str) -> bool {
    matches!(FileKind::of_name(name), Some(FileKind::Log { .. }))
}
