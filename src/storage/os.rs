//! The real file system.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::{DirEntry, LockGuard, Mapped, MappedInner, Storage, WriteFile};

/// [`Storage`] on the operating system's file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsStorage;

impl Storage for OsStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn read_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if let Ok(name) = entry.file_name().into_string() {
                // file_type does not follow symlinks; a symlink is foreign.
                let is_dir = entry.file_type()?.is_dir();
                out.push(DirEntry { name, is_dir });
            }
        }
        Ok(out)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        fs::remove_dir(dir)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn create(&self, path: &Path, exclusive: bool) -> io::Result<Arc<dyn WriteFile>> {
        let mut o = OpenOptions::new();
        o.write(true);
        if exclusive {
            o.create_new(true);
        } else {
            o.create(true).truncate(true);
        }
        Ok(Arc::new(OsFile(o.open(path)?)))
    }

    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn WriteFile>> {
        Ok(Arc::new(OsFile(OpenOptions::new().write(true).open(path)?)))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        File::open(path)?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn map(&self, path: &Path) -> io::Result<Mapped> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if len == 0 {
            // mmap of an empty file is an error on Linux; nothing to map.
            return Ok(Mapped::from_bytes(Vec::new()));
        }
        // SAFETY: the caller guarantees (see `Storage::map`) that the file
        // is immutable: the engine never writes to or truncates a file it
        // maps, it only unlinks it, and the mapping keeps unlinked bytes
        // alive. Every access through the map is bounds-checked against
        // its length, which is fixed at creation.
        let map = unsafe { memmap2::Mmap::map(&file) }?;
        Ok(Mapped(MappedInner::Map(map)))
    }

    fn lock(&self, path: &Path) -> io::Result<Option<LockGuard>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        // A busy lock is retried for a while before the open is refused:
        // flock belongs to the open file description, which a process
        // forked by anyone in this process (a test harness, a service
        // spawning a helper) shares until it execs. An engine dropped in
        // that window keeps its directory locked for a moment after drop
        // returns, and a reopen must not fail for it. Another process
        // really holding the directory is reported after LOCK_WAIT_MS.
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(LOCK_WAIT_MS);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(LockGuard::new(Box::new(file)))),
                Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(LOCK_RETRY_MS));
                }
                Err(fs::TryLockError::WouldBlock) => return Ok(None),
                Err(fs::TryLockError::Error(e)) => return Err(e),
            }
        }
    }
}

/// How long a busy data-directory lock is retried before `Locked`.
const LOCK_WAIT_MS: u64 = 500;
/// The pause between tries.
const LOCK_RETRY_MS: u64 = 10;

struct OsFile(File);

impl WriteFile for OsFile {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_all_at(buf, offset)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.0.sync_all()
    }
    fn is_linked(&self) -> io::Result<bool> {
        use std::os::unix::fs::MetadataExt;
        Ok(self.0.metadata()?.nlink() > 0)
    }
}
