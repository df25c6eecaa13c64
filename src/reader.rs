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
//! segments and then deletes logs, a compaction adds a segment and deletes
//! its inputs. The reader lists the directory's segment and log files before
//! and after loading and loads again until both listings agree (and again
//! when a file vanished while it was read), so what it sees is the state of
//! one moment: every batch acknowledged before it opened, never half a seal.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::files::{self, DAYS_DIR, FileKind, LOCK_FILE, LOG_DIR};
use crate::options::Options;
use crate::query::{Explain, Query, QueryResult};
use crate::recovery::{Loaded, Mode, load};
use crate::report::Stats;
use crate::state::Snapshot;
use crate::storage::Storage;
use crate::time::Day;

/// Loads tried before a reader gives up on a directory that keeps changing.
/// A busy writer seals about every half second and a month's load takes
/// tens of milliseconds, so a few tries are enough; 40 with the backoff
/// below (1, 2, 4 ... 64 ms, then 100 ms) sleep about 3.3 s in all.
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
        if opts.retention_days == 0 {
            return Err(Error::Invalid("retention_days must be at least 1".into()));
        }
        let root = dir.as_ref().to_path_buf();
        let storage = &*opts.storage;
        check_data_dir(storage, &root)?;
        let today = Day::of_ms(opts.clock.now_ms());
        let horizon = crate::engine::horizon(today, opts.retention_days);
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

/// Loads until the directory's listing is the same before and after, so
/// that no seal or compaction happened in between.
fn load_consistent(
    storage: &dyn Storage,
    root: &Path,
    horizon: Day,
    max_buffered_events: usize,
) -> Result<Loaded> {
    let mut pause_ms = 1;
    for attempt in 1..=LOAD_ATTEMPTS {
        let last = attempt == LOAD_ATTEMPTS;
        let before = listing(storage, root)?;
        match load(storage, root, horizon, max_buffered_events, Mode::Look) {
            Ok(loaded) if listing(storage, root)? == before => return Ok(loaded),
            Ok(_) if last => break,
            Ok(_) => {}
            Err(e) if !last && changed_under_us(&e, &before) => {}
            Err(e) => return Err(e),
        }
        std::thread::sleep(Duration::from_millis(pause_ms));
        pause_ms = (pause_ms * 2).min(100);
    }
    Err(Error::Busy(format!(
        "{} kept changing while it was read ({LOAD_ATTEMPTS} tries): a writer is sealing or compacting; try again",
        root.display()
    )))
}

/// Whether a load failed because a writer changed the directory under it:
/// a file listed a moment ago is gone, or the newest log (as `listed`)
/// looked damaged because a record was being written as it was read.
/// Damage in an older log is real, and reported at once.
fn changed_under_us(e: &Error, listed: &[String]) -> bool {
    match e {
        Error::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        Error::Corrupted { path, .. } => {
            let newest_log = listed.iter().rfind(|n| !n.contains('/'));
            let name = path.file_name().and_then(|n| n.to_str());
            path.parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d == LOG_DIR)
                && name.is_some_and(|n| newest_log.is_some_and(|l| l == n))
        }
        _ => false,
    }
}

/// The names of the segment files (`day/name`) and then of the log files
/// (`name`, ascending, so the last is the newest).
fn listing(storage: &dyn Storage, root: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for day in files::list_dir(storage, &root.join(DAYS_DIR))? {
        if !day.is_dir || Day::parse(&day.name).is_none() {
            continue;
        }
        for f in files::list_dir(storage, &day.path)? {
            if matches!(FileKind::of_name(&f.name), Some(FileKind::Segment { .. })) {
                names.push(format!("{}/{}", day.name, f.name));
            }
        }
    }
    for f in files::list_dir(storage, &root.join(LOG_DIR))? {
        if matches!(FileKind::of_name(&f.name), Some(FileKind::Log { .. })) {
            names.push(f.name);
        }
    }
    Ok(names)
}
