//! Where the engine's bytes go. Every file-system call the engine makes goes
//! through [`Storage`], so that a test can swap the real file system
//! ([`OsStorage`], the default) for `SimStorage` (feature `internals`): an in-memory file system
//! that fails operations on a countdown, runs out of space, and simulates
//! power loss by keeping, dropping or garbling every write and directory
//! change that was not yet synced.
//!
//! The trait is deliberately small: it is what the engine needs (whole-file
//! writes at offsets, fsync of files and directories, rename, unlink, read,
//! map, an exclusive lock), not a general VFS.

mod os;
#[cfg(feature = "internals")]
#[allow(missing_docs, reason = "a test double behind the feature internals")]
mod sim;

use std::fmt;
use std::io;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

pub use os::OsStorage;
#[cfg(feature = "internals")]
#[doc(hidden)]
pub use sim::{CrashPolicy, FaultOp, SimStorage};

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's name (entries whose names are not UTF-8 are not listed).
    pub name: String,
    /// Whether the entry is a directory.
    pub is_dir: bool,
}

/// The file-system operations the engine performs.
///
/// Errors are plain `io::Error`s; the engine wraps them with the path.
/// Implementations must be usable from several threads at once.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Creates `dir` and any missing parents (not yet durable: see
    /// [`Storage::sync_dir`]).
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Makes the entries of `dir` (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// The entries of `dir`, in any order. A missing directory is
    /// `ErrorKind::NotFound`.
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>>;
    /// Unlinks a file. Readers that mapped it keep their bytes.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes an empty directory.
    fn remove_dir(&self, dir: &Path) -> io::Result<()>;
    /// Renames a file, replacing `to` if it exists.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Creates a file for writing. With `exclusive`, fails if it exists;
    /// otherwise an existing file is truncated.
    fn create(&self, path: &Path, exclusive: bool) -> io::Result<Arc<dyn WriteFile>>;
    /// Opens an existing file for writing, keeping its bytes.
    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn WriteFile>>;
    /// The whole content of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// A read-only view of an immutable file (a memory map on a real file
    /// system). The caller guarantees that nobody writes to or truncates
    /// the file while the view lives (segments are only ever unlinked).
    fn map(&self, path: &Path) -> io::Result<Mapped>;
    /// Takes an exclusive lock named by `path` (created if missing) for the
    /// life of the guard; `Ok(None)` if someone else holds it.
    fn lock(&self, path: &Path) -> io::Result<Option<LockGuard>>;
}

/// A file open for writing.
pub trait WriteFile: Send + Sync {
    /// Writes all of `buf` at `offset` (a partial write is an error).
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Truncates or extends the file.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes the file's data durable (not necessarily its metadata).
    fn sync_data(&self) -> io::Result<()>;
    /// Makes the file's data and metadata durable.
    fn sync_all(&self) -> io::Result<()>;
    /// Whether the file still has a name in the file system (it was not
    /// unlinked behind the engine's back). Storages without a way to tell
    /// say yes.
    fn is_linked(&self) -> io::Result<bool> {
        Ok(true)
    }
}

/// Holds a [`Storage::lock`] until dropped.
pub struct LockGuard {
    _held: Box<dyn Send + Sync>,
}

impl LockGuard {
    pub(crate) fn new(held: Box<dyn Send + Sync>) -> LockGuard {
        LockGuard { _held: held }
    }
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockGuard")
    }
}

/// The bytes of an immutable file: a memory map, or a copy held in memory.
pub struct Mapped(MappedInner);

enum MappedInner {
    Map(memmap2::Mmap),
    Bytes(Arc<[u8]>),
}

impl Mapped {
    /// A view of bytes held in memory.
    pub fn from_bytes(bytes: impl Into<Arc<[u8]>>) -> Mapped {
        Mapped(MappedInner::Bytes(bytes.into()))
    }
}

impl Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            MappedInner::Map(m) => m,
            MappedInner::Bytes(b) => b,
        }
    }
}

impl fmt::Debug for Mapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mapped({} bytes)", self.len())
    }
}

/// The default storage: the real file system.
pub fn os() -> Arc<dyn Storage> {
    Arc::new(OsStorage)
}
