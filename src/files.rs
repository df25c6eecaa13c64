//! The data directory: which files exist, what they are called, and the
//! crash-safe ways of creating and removing them.
//!
//! ```text
//! DATA/daybook.lock                    advisory lock: one engine per directory
//! DATA/log/00000000000000000007.log    write-ahead log files (see log.rs)
//! DATA/days/2026-11-26/00000000000000000042.seg   sealed segments of one day
//! DATA/**/*.tmp                        unfinished writes, removed on open
//! ```
//!
//! Anything else in the directory is foreign and ignored.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::storage::Storage;
use crate::time::Day;

/// Every kind of file the engine writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `daybook.lock`
    Lock,
    /// `log/<seq>.log`: the write-ahead log.
    Log { seq: u64 },
    /// `days/<day>/<id>.seg`: an immutable segment.
    Segment { id: u64 },
    /// `*.tmp`: a file being written; never valid after a crash.
    Temp,
}

pub const LOCK_FILE: &str = "daybook.lock";
pub const LOG_DIR: &str = "log";
pub const DAYS_DIR: &str = "days";

impl FileKind {
    /// Recognises one of our file names (the name only, not the path).
    pub fn of_name(name: &str) -> Option<FileKind> {
        if name == LOCK_FILE {
            return Some(FileKind::Lock);
        }
        if name.ends_with(".tmp") {
            return Some(FileKind::Temp);
        }
        let parse = |stem: &str| {
            (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
                .then(|| stem.parse::<u64>().ok())
                .flatten()
        };
        if let Some(stem) = name.strip_suffix(".log") {
            return parse(stem).map(|seq| FileKind::Log { seq });
        }
        if let Some(stem) = name.strip_suffix(".seg") {
            return parse(stem).map(|id| FileKind::Segment { id });
        }
        None
    }
}

pub fn log_path(root: &Path, seq: u64) -> PathBuf {
    root.join(LOG_DIR).join(format!("{seq:020}.log"))
}

pub fn day_dir(root: &Path, day: Day) -> PathBuf {
    root.join(DAYS_DIR).join(day.to_string())
}

pub fn segment_path(root: &Path, day: Day, id: u64) -> PathBuf {
    day_dir(root, day).join(format!("{id:020}.seg"))
}

/// An entry of [`list_dir`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub path: PathBuf,
    pub is_dir: bool,
}

/// Makes a directory's entries (creations, renames, removals) durable.
pub fn sync_dir(storage: &dyn Storage, dir: &Path) -> Result<()> {
    // The parent of a relative one-component path ("data") is the empty
    // path: the current directory.
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    storage.sync_dir(dir).map_err(|e| Error::Fsync {
        path: dir.to_path_buf(),
        source: e,
    })
}

/// Creates `dir` (and missing parents) and makes every new entry durable:
/// each created directory's parent is synced, outermost first, so a power
/// loss cannot take away a parent while keeping what is below it.
pub fn create_dir_durable(storage: &dyn Storage, dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || storage.read_dir(d).is_ok() {
            break;
        }
        missing.push(d);
        cur = d.parent();
    }
    if missing.is_empty() {
        return Ok(());
    }
    storage.create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for d in missing.iter().rev() {
        if let Some(parent) = d.parent() {
            sync_dir(storage, parent)?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` crash-safely: a temporary file, fsync, rename,
/// fsync of the directory. A reader sees the old state or the whole file.
pub fn write_atomic(storage: &dyn Storage, path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let f = storage
        .create(&tmp, false)
        .map_err(|e| Error::io(&tmp, e))?;
    if let Err(e) = f.write_all_at(bytes, 0) {
        drop(f);
        // Best effort: a failed write (disk full) leaves no stray file.
        let _ = storage.remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    f.sync_all().map_err(|e| Error::Fsync {
        path: tmp.clone(),
        source: e,
    })?;
    drop(f);
    storage.rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    if let Some(dir) = path.parent() {
        sync_dir(storage, dir)?;
    }
    Ok(())
}

/// Lists the entries of `dir`, sorted by name, skipping names that are not
/// UTF-8 (foreign files). A missing directory is empty.
pub fn list_dir(storage: &dyn Storage, dir: &Path) -> Result<Vec<Listed>> {
    let entries = match storage.read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out: Vec<Listed> = entries
        .into_iter()
        .map(|e| Listed {
            path: dir.join(&e.name),
            name: e.name,
            is_dir: e.is_dir,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Removes a file; a file that is already gone is fine. Files that readers
/// may have mapped are only ever unlinked, never truncated: a mapping keeps
/// the unlinked bytes alive until it is dropped.
pub fn remove_file(storage: &dyn Storage, path: &Path) -> Result<()> {
    match storage.remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(FileKind::of_name("daybook.lock"), Some(FileKind::Lock));
        assert_eq!(
            FileKind::of_name("00000000000000000007.log"),
            Some(FileKind::Log { seq: 7 })
        );
        assert_eq!(
            FileKind::of_name("00000000000000000042.seg"),
            Some(FileKind::Segment { id: 42 })
        );
        assert_eq!(FileKind::of_name("x.seg.tmp"), Some(FileKind::Temp));
        assert_eq!(FileKind::of_name("42.seg"), None);
        assert_eq!(FileKind::of_name("notes.txt"), None);
        let root = Path::new("/d");
        assert_eq!(
            segment_path(root, Day::parse("2026-11-26").unwrap(), 42),
            Path::new("/d/days/2026-11-26/00000000000000000042.seg")
        );
    }
}
