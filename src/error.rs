//! What can go wrong, as one error type for the whole library.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error the library returns.
///
/// `Corrupted` is reserved for bytes on disk that fail a check (checksum,
/// magic, bounds, structure). It always names the file, the byte offset and
/// the section so an operator can find the damage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// An fsync failed. After this the engine is in its failed state: the
    /// kernel may have dropped the unsynced pages, so retrying could
    /// acknowledge data that is not on disk.
    #[error("fsync failed on {path}: {source}")]
    Fsync {
        /// The file or directory being synced.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Bytes on disk are damaged or not what this version wrote.
    #[error("corrupted {path} at offset {offset} ({section}): {reason}")]
    Corrupted {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the damage (or of the start of the section whose
        /// check failed).
        offset: u64,
        /// The part of the file: "footer", "log record", a column's
        /// section, ...
        section: String,
        /// What check failed.
        reason: String,
    },
    /// A file was written by a newer (or unknown) format version.
    #[error(
        "{path}: unsupported format version {found} (this build reads versions up to {supported})"
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version the file says it has.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// An earlier fsync (or write) failed. The engine refuses all further
    /// writes: data acknowledged before the failure is safe, nothing after it
    /// is acknowledged. Reopen the engine once the cause is fixed.
    #[error("engine is in a failed state after an earlier I/O error: {0}")]
    Failed(String),
    /// The data directory is used by another open engine.
    #[error("data directory {0} is locked by another process")]
    Locked(PathBuf),
    /// The path given as a data directory is not one (missing, not a
    /// directory, or holding none of daybook's files). Only a writer with
    /// [`Options::create_if_missing`](crate::Options::create_if_missing)
    /// creates one.
    #[error("no daybook data directory at {path}: {reason}")]
    NoDataDir {
        /// The path given.
        path: PathBuf,
        /// Why it is not a data directory.
        reason: String,
    },
    /// A read-only reader could not get a consistent view: the directory
    /// kept changing under it. Try again.
    #[error("{0}")]
    Busy(String),
    // ---- The caller's errors: the request is wrong; fix it and retry. ----
    /// An option is out of range ([`Options`](crate::Options), export
    /// options, a server's tokens file).
    #[error("{0}")]
    InvalidOptions(String),
    /// A query (document, builder or cursor) asks for something the
    /// contract does not allow: an unknown field, an operand of the wrong
    /// kind, a window outside retention, a cursor of another query.
    #[error("{0}")]
    InvalidQuery(String),
    /// Input data cannot be taken as a whole: a batch too large for one
    /// log record, a value an export format cannot hold. (An invalid event
    /// in a batch is not an error: [`AppendReport`](crate::AppendReport)
    /// names it and the rest of the batch is stored.)
    #[error("{0}")]
    InvalidInput(String),
    // ---- The engine's errors: nothing the caller sent is at fault. ----
    /// A bug in daybook: an internal invariant did not hold or a worker
    /// thread panicked. Nothing acknowledged is lost; please report it.
    #[error("internal error (a bug in daybook): {0}")]
    Internal(String),
    /// The query's [`CancelToken`](crate::CancelToken) was cancelled before
    /// it finished (a deadline passed, or its caller went away); it stopped
    /// at its next check and returns no partial answer.
    #[error("the query was cancelled")]
    Cancelled,
    /// A query needed more memory than its budget allows and was stopped
    /// before taking it. `shared: false`: the query's own budget
    /// ([`QueryOptions::max_memory_bytes`](crate::QueryOptions)); the same
    /// query fails again, so narrow it or raise the budget. `shared: true`:
    /// the memory all queries running at once share (a server's) is spent;
    /// the query may fit later.
    #[error("{}", exhausted_message(what, *limit_bytes, *shared))]
    ResourceExhausted {
        /// What was growing: "group table", "merge of groups", "listed
        /// rows", "in list of `where[0]`", ...
        what: String,
        /// The budget that was reached, in bytes.
        limit_bytes: u64,
        /// Whether the budget is the one queries running at once share.
        shared: bool,
    },
}

/// The text of [`Error::ResourceExhausted`]: which budget, and how to get
/// past it.
fn exhausted_message(what: &str, limit: u64, shared: bool) -> String {
    let size = bytes_text(limit);
    if shared {
        format!(
            "the memory shared by queries running at once ({size}) is in use; this query \
             needed more for its {what}: retry later, or raise the shared budget \
             (daybook serve --max-queries-memory-bytes)"
        )
    } else {
        format!(
            "the query needs more than its memory budget of {size} for its {what}: narrow it \
             (a shorter window, more filters, fewer or smaller group fields, a limit) or raise \
             the budget (QueryOptions::max_memory_bytes, daybook query --max-memory-bytes, \
             daybook serve --max-query-memory-bytes)"
        )
    }
}

/// `2 GiB`, `64 MiB`, `1000 bytes`: whole binary units when exact.
fn bytes_text(n: u64) -> String {
    match n {
        _ if n >= 1 << 30 && n.is_multiple_of(1 << 30) => format!("{} GiB", n >> 30),
        _ if n >= 1 << 20 && n.is_multiple_of(1 << 20) => format!("{} MiB", n >> 20),
        _ => format!("{n} bytes"),
    }
}

impl Error {
    /// Wraps an `io::Error` with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Builds a `Corrupted` error.
    pub fn corrupted(
        path: impl Into<PathBuf>,
        offset: u64,
        section: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Corrupted {
            path: path.into(),
            offset,
            section: section.into(),
            reason: reason.into(),
        }
    }

    /// True when the caller is at fault (bad options, query or input) and
    /// the same request will fail again; false when the engine, the disk or
    /// the moment is (I/O, corruption, a busy or failed engine, a bug,
    /// cancellation). Front ends map the first to "invalid argument" and
    /// never blame a caller for the second.
    pub fn is_caller_error(&self) -> bool {
        matches!(
            self,
            Error::InvalidOptions(_)
                | Error::InvalidQuery(_)
                | Error::InvalidInput(_)
                | Error::ResourceExhausted { shared: false, .. }
        )
    }

    /// True when the error reports damaged bytes on disk.
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corrupted { .. })
    }
}
