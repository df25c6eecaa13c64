//! An in-memory file system for tests: failures on a countdown, a disk that
//! fills up, and power loss.
//!
//! Power loss follows the weakest reading of POSIX: until a file is fsynced,
//! each write to it (and each truncation) since its last sync may reach the
//! disk whole, not at all, or garbled (torn short, or with flipped bytes),
//! independently of the others; until a directory is fsynced, each entry
//! change in it (create, rename, unlink, mkdir, rmdir) since its last sync
//! may or may not survive, independently (a rename is one change: the old
//! name goes exactly when the new one comes). Synced bytes and entries
//! always survive.
//!
//! A test sets a crash point ("after the k-th mutating operation"), runs a
//! workload (every operation after the crash point fails, as if the machine
//! were off), then builds the disk a reboot would find with
//! [`SimStorage::crash_image`] and reopens the engine on it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{DirEntry, LockGuard, Mapped, Storage, WriteFile};
use crate::generate::SplitMix64;

/// The kinds of operation a fault can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultOp {
    /// Writes, truncations and directory creation.
    Write,
    /// fsync of a file or a directory.
    Sync,
    Rename,
    /// Unlink of a file or removal of a directory.
    Remove,
    /// Opening, creating, reading or mapping a file, listing a directory,
    /// taking the lock.
    Open,
    /// Every operation.
    Any,
}

const KINDS: [FaultOp; 5] = [
    FaultOp::Write,
    FaultOp::Sync,
    FaultOp::Rename,
    FaultOp::Remove,
    FaultOp::Open,
];

/// What a power loss does to the writes and directory changes that were not
/// yet synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPolicy {
    /// Everything reached the disk.
    KeepAll,
    /// Nothing unsynced reached the disk.
    DropAll,
    /// Every unsynced write is garbled (torn or bit-flipped); directory
    /// changes survive.
    GarbleAll { seed: u64 },
    /// Each unsynced write is kept, dropped or garbled, each directory change
    /// kept or dropped, at random.
    Random { seed: u64 },
}

/// An in-memory [`Storage`] with fault injection. Clones share one file
/// system.
#[derive(Clone, Debug, Default)]
pub struct SimStorage {
    sim: Arc<Mutex<Sim>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    File(usize),
    Dir,
}

#[derive(Clone, Debug)]
enum NsOp {
    Link(String, Entry),
    Unlink(String),
    Rename { from: String, to: String },
}

#[derive(Clone, Debug, Default)]
struct Dir {
    entries: BTreeMap<String, Entry>,
    synced: BTreeMap<String, Entry>,
    pending: Vec<NsOp>,
}

#[derive(Clone, Debug)]
enum DataOp {
    Write { offset: u64, bytes: Vec<u8> },
    SetLen(u64),
}

#[derive(Clone, Debug, Default)]
struct Inode {
    data: Vec<u8>,
    synced: Vec<u8>,
    pending: Vec<DataOp>,
    links: u32,
}

#[derive(Clone, Debug)]
struct Fault {
    op: FaultOp,
    nth: u64,
    persistent: bool,
    kind: ErrorKind,
    seen: u64,
}

#[derive(Clone, Debug, Default)]
struct Disk {
    inodes: Vec<Inode>,
    dirs: BTreeMap<PathBuf, Dir>,
    /// Directories removed (their last state), for a crash that undoes the
    /// removal.
    removed_dirs: HashMap<PathBuf, Dir>,
}

#[derive(Debug, Default)]
struct Sim {
    disk: Disk,
    mutations: u64,
    counts: HashMap<FaultOp, u64>,
    crash_after: Option<u64>,
    image: Option<Disk>,
    faults: Vec<Fault>,
    capacity_bytes: Option<u64>,
    locks: HashSet<PathBuf>,
}

fn err(kind: ErrorKind, what: &str) -> io::Error {
    io::Error::new(kind, what.to_string())
}

fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| err(ErrorKind::InvalidInput, "path has no file name"))?;
    let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();
    Ok((parent, name.to_string()))
}

/// Directories with no parent ("/" or "") exist implicitly.
fn is_root(dir: &Path) -> bool {
    dir.parent().is_none() || dir.as_os_str().is_empty()
}

impl Disk {
    fn dir(&self, dir: &Path) -> io::Result<&Dir> {
        self.dirs
            .get(dir)
            .ok_or_else(|| err(ErrorKind::NotFound, "no such directory"))
    }

    fn dir_mut(&mut self, dir: &Path) -> io::Result<&mut Dir> {
        if is_root(dir) && !self.dirs.contains_key(dir) {
            self.dirs.insert(dir.to_path_buf(), Dir::default());
        }
        self.dirs
            .get_mut(dir)
            .ok_or_else(|| err(ErrorKind::NotFound, "no such directory"))
    }

    fn lookup(&self, path: &Path) -> io::Result<usize> {
        let (parent, name) = split(path)?;
        match self.dir(&parent)?.entries.get(&name) {
            Some(Entry::File(ino)) => Ok(*ino),
            Some(Entry::Dir) => Err(err(ErrorKind::IsADirectory, "is a directory")),
            None => Err(err(ErrorKind::NotFound, "no such file")),
        }
    }

    fn used_bytes(&self) -> u64 {
        self.inodes
            .iter()
            .filter(|i| i.links > 0)
            .map(|i| i.data.len() as u64)
            .sum()
    }

    fn inode(&mut self, ino: usize) -> io::Result<&mut Inode> {
        self.inodes
            .get_mut(ino)
            .ok_or_else(|| err(ErrorKind::NotFound, "stale file handle"))
    }

    fn link_count(&mut self, entry: Option<Entry>, delta: i32) {
        if let Some(Entry::File(ino)) = entry
            && let Some(i) = self.inodes.get_mut(ino)
        {
            i.links = i.links.saturating_add_signed(delta);
        }
    }
}

impl Sim {
    /// Counts an operation and decides whether it fails.
    fn begin(&mut self, op: FaultOp) -> io::Result<()> {
        if self.image.is_some() {
            return Err(err(ErrorKind::Other, "simulated power loss"));
        }
        *self.counts.entry(op).or_default() += 1;
        let mut failure = None;
        for f in &mut self.faults {
            if f.op == op || f.op == FaultOp::Any {
                f.seen += 1;
                if f.seen == f.nth || (f.persistent && f.seen > f.nth) {
                    failure = Some(f.kind);
                }
            }
        }
        match failure {
            Some(kind) => Err(err(kind, "injected I/O failure")),
            None => Ok(()),
        }
    }

    /// Called after a mutating operation succeeded: the crash point.
    fn mutated(&mut self) {
        self.mutations += 1;
        if self.crash_after == Some(self.mutations) {
            self.image = Some(self.disk.clone());
        }
    }

    fn write(&mut self, ino: usize, buf: &[u8], offset: u64) -> io::Result<()> {
        self.begin(FaultOp::Write)?;
        let end = offset
            .checked_add(buf.len() as u64)
            .ok_or_else(|| err(ErrorKind::InvalidInput, "offset overflows"))?;
        let used = self.disk.used_bytes();
        let inode = self.disk.inode(ino)?;
        let grows = end.saturating_sub(inode.data.len() as u64);
        let mut fits = buf.len();
        let mut full = false;
        if let Some(cap) = self.capacity_bytes
            && used + grows > cap
        {
            let room = cap.saturating_sub(used);
            let keep_end = (inode.data.len() as u64 + room).max(offset);
            fits = usize::try_from(keep_end.min(end) - offset).unwrap_or(0);
            full = true;
        }
        let bytes = buf.get(..fits).unwrap_or_default().to_vec();
        apply_write(&mut inode.data, offset, &bytes);
        inode.pending.push(DataOp::Write { offset, bytes });
        self.mutated();
        if full {
            return Err(err(ErrorKind::StorageFull, "no space left on device"));
        }
        Ok(())
    }

    fn set_len(&mut self, ino: usize, len: u64) -> io::Result<()> {
        self.begin(FaultOp::Write)?;
        let used = self.disk.used_bytes();
        let inode = self.disk.inode(ino)?;
        if let Some(cap) = self.capacity_bytes
            && used + len.saturating_sub(inode.data.len() as u64) > cap
        {
            return Err(err(ErrorKind::StorageFull, "no space left on device"));
        }
        inode
            .data
            .resize(usize::try_from(len).unwrap_or(usize::MAX), 0);
        inode.pending.push(DataOp::SetLen(len));
        self.mutated();
        Ok(())
    }

    fn sync_file(&mut self, ino: usize) -> io::Result<()> {
        self.begin(FaultOp::Sync)?;
        let inode = self.disk.inode(ino)?;
        inode.synced = inode.data.clone();
        inode.pending.clear();
        self.mutated();
        Ok(())
    }

    fn create(&mut self, path: &Path, exclusive: bool) -> io::Result<usize> {
        self.begin(FaultOp::Open)?;
        let (parent, name) = split(path)?;
        let existing = self.disk.dir(&parent)?.entries.get(&name).copied();
        let ino = match existing {
            Some(Entry::Dir) => return Err(err(ErrorKind::IsADirectory, "is a directory")),
            Some(Entry::File(_)) if exclusive => {
                return Err(err(ErrorKind::AlreadyExists, "file exists"));
            }
            Some(Entry::File(ino)) => {
                let inode = self.disk.inode(ino)?;
                inode.data.clear();
                inode.pending.push(DataOp::SetLen(0));
                ino
            }
            None => {
                let ino = self.disk.inodes.len();
                self.disk.inodes.push(Inode {
                    links: 1,
                    ..Inode::default()
                });
                let entry = Entry::File(ino);
                let dir = self.disk.dir_mut(&parent)?;
                dir.entries.insert(name.clone(), entry);
                dir.pending.push(NsOp::Link(name, entry));
                ino
            }
        };
        self.mutated();
        Ok(ino)
    }
}

fn apply_write(data: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let Ok(start) = usize::try_from(offset) else {
        return;
    };
    let end = start + bytes.len();
    if data.len() < end {
        data.resize(end, 0);
    }
    if let Some(dst) = data.get_mut(start..end) {
        dst.copy_from_slice(bytes);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Keep,
    Drop,
    Garble,
}

fn fate(policy: CrashPolicy, rng: &mut SplitMix64, data: bool) -> Fate {
    match policy {
        CrashPolicy::KeepAll => Fate::Keep,
        CrashPolicy::DropAll => Fate::Drop,
        CrashPolicy::GarbleAll { .. } => {
            if data {
                Fate::Garble
            } else {
                Fate::Keep
            }
        }
        CrashPolicy::Random { .. } => match rng.below(if data { 3 } else { 2 }) {
            0 => Fate::Keep,
            1 => Fate::Drop,
            _ => Fate::Garble,
        },
    }
}

/// The disk a reboot finds after a power loss at the moment `disk` was taken.
fn after_power_loss(disk: &Disk, policy: CrashPolicy) -> Disk {
    let seed = match policy {
        CrashPolicy::GarbleAll { seed } | CrashPolicy::Random { seed } => seed,
        _ => 0,
    };
    let mut rng = SplitMix64::new(seed);
    let mut out = Disk::default();
    for inode in &disk.inodes {
        let mut data = inode.synced.clone();
        for op in &inode.pending {
            let f = fate(policy, &mut rng, true);
            match (op, f) {
                (_, Fate::Drop) => {}
                (DataOp::SetLen(len), _) => {
                    data.resize(usize::try_from(*len).unwrap_or(usize::MAX), 0);
                }
                (DataOp::Write { offset, bytes }, Fate::Keep) => {
                    apply_write(&mut data, *offset, bytes);
                }
                (DataOp::Write { offset, bytes }, Fate::Garble) => {
                    let mut b = bytes.clone();
                    if rng.below(2) == 0 || b.is_empty() {
                        // Torn: only a prefix reached the disk.
                        b.truncate(rng.below(b.len() as u64) as usize);
                    } else {
                        for _ in 0..=rng.below(4) {
                            let i = rng.below(b.len() as u64) as usize;
                            if let Some(x) = b.get_mut(i) {
                                *x ^= 1 << rng.below(8);
                            }
                        }
                    }
                    apply_write(&mut data, *offset, &b);
                }
            }
        }
        out.inodes.push(Inode {
            synced: data.clone(),
            data,
            pending: Vec::new(),
            links: 0,
        });
    }
    // Each directory's entries after its surviving changes.
    let mut all: BTreeMap<PathBuf, BTreeMap<String, Entry>> = BTreeMap::new();
    let dirs = disk.removed_dirs.iter().chain(disk.dirs.iter());
    for (path, dir) in dirs {
        let mut entries = dir.synced.clone();
        for op in &dir.pending {
            if fate(policy, &mut rng, false) != Fate::Keep {
                continue;
            }
            match op {
                NsOp::Link(name, e) => {
                    entries.insert(name.clone(), *e);
                }
                NsOp::Unlink(name) => {
                    entries.remove(name);
                }
                NsOp::Rename { from, to } => {
                    if let Some(e) = entries.remove(from) {
                        entries.insert(to.clone(), e);
                    }
                }
            }
        }
        all.insert(path.clone(), entries);
    }
    // Keep the directories reachable from a root.
    let mut stack: Vec<PathBuf> = all.keys().filter(|p| is_root(p)).cloned().collect();
    while let Some(path) = stack.pop() {
        let entries = all.get(&path).cloned().unwrap_or_default();
        for (name, e) in &entries {
            match e {
                Entry::Dir => stack.push(path.join(name)),
                Entry::File(ino) => {
                    if let Some(i) = out.inodes.get_mut(*ino) {
                        i.links += 1;
                    }
                }
            }
        }
        out.dirs.insert(
            path,
            Dir {
                synced: entries.clone(),
                entries,
                pending: Vec::new(),
            },
        );
    }
    out
}

impl SimStorage {
    pub fn new() -> SimStorage {
        SimStorage::default()
    }

    /// The `nth` operation of kind `op` from now (1 = the next) fails with
    /// `kind`; with `persistent`, so does every later one.
    pub fn fail(&self, op: FaultOp, nth: u64, persistent: bool, kind: ErrorKind) {
        self.sim.lock().faults.push(Fault {
            op,
            nth,
            persistent,
            kind,
            seen: 0,
        });
    }

    /// Removes every injected fault (not the capacity limit).
    pub fn heal(&self) {
        self.sim.lock().faults.clear();
    }

    /// Limits the bytes of all linked files; a write beyond it writes what
    /// fits and fails with `ErrorKind::StorageFull`. `None`: unlimited.
    pub fn set_capacity_bytes(&self, capacity_bytes: Option<u64>) {
        self.sim.lock().capacity_bytes = capacity_bytes;
    }

    /// Bytes of all linked files now.
    pub fn used_bytes(&self) -> u64 {
        self.sim.lock().disk.used_bytes()
    }

    /// Operations of kind `op` attempted so far (`Any`: all kinds).
    pub fn op_count(&self, op: FaultOp) -> u64 {
        let s = self.sim.lock();
        if op == FaultOp::Any {
            KINDS
                .iter()
                .map(|k| s.counts.get(k).copied().unwrap_or(0))
                .sum()
        } else {
            s.counts.get(&op).copied().unwrap_or(0)
        }
    }

    /// Mutating operations (writes, syncs, creates, renames, removals,
    /// mkdirs) that succeeded so far: the crash points.
    pub fn mutations(&self) -> u64 {
        self.sim.lock().mutations
    }

    /// The power goes off right after the `k`-th mutating operation (counted
    /// from the start of this storage): every later operation fails.
    pub fn crash_after(&self, k: u64) {
        let mut s = self.sim.lock();
        s.crash_after = Some(k);
        if s.mutations >= k && s.image.is_none() {
            s.image = Some(s.disk.clone());
        }
    }

    /// Whether the power is off.
    pub fn is_crashed(&self) -> bool {
        self.sim.lock().image.is_some()
    }

    /// The disk after a power loss at the crash point (or now, if the crash
    /// point was not reached), as a fresh storage with no faults.
    pub fn crash_image(&self, policy: CrashPolicy) -> SimStorage {
        let s = self.sim.lock();
        let disk = s.image.as_ref().unwrap_or(&s.disk);
        SimStorage {
            sim: Arc::new(Mutex::new(Sim {
                disk: after_power_loss(disk, policy),
                ..Sim::default()
            })),
        }
    }

    /// Every file and its length, for test diagnostics.
    pub fn files(&self) -> Vec<(PathBuf, usize)> {
        let s = self.sim.lock();
        let mut out = Vec::new();
        for (path, dir) in &s.disk.dirs {
            for (name, e) in &dir.entries {
                if let Entry::File(ino) = e {
                    let len = s.disk.inodes.get(*ino).map_or(0, |i| i.data.len());
                    out.push((path.join(name), len));
                }
            }
        }
        out
    }

    /// Replaces a file's bytes behind the engine's back (synced at once),
    /// for damage tests.
    pub fn overwrite(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut s = self.sim.lock();
        let ino = s.disk.lookup(path)?;
        let inode = s.disk.inode(ino)?;
        inode.data = bytes.to_vec();
        inode.synced = bytes.to_vec();
        inode.pending.clear();
        Ok(())
    }
}

struct SimFile {
    sim: Arc<Mutex<Sim>>,
    ino: usize,
}

impl WriteFile for SimFile {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.sim.lock().write(self.ino, buf, offset)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.sim.lock().set_len(self.ino, len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.sim.lock().sync_file(self.ino)
    }
    fn sync_all(&self) -> io::Result<()> {
        self.sim.lock().sync_file(self.ino)
    }
}

struct SimLock {
    sim: Arc<Mutex<Sim>>,
    path: PathBuf,
}

impl Drop for SimLock {
    fn drop(&mut self) {
        self.sim.lock().locks.remove(&self.path);
    }
}

impl Storage for SimStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.sim.lock();
        s.begin(FaultOp::Write)?;
        let mut missing = Vec::new();
        let mut cur = dir;
        while !is_root(cur) && !s.disk.dirs.contains_key(cur) {
            missing.push(cur.to_path_buf());
            cur = cur.parent().unwrap_or(Path::new(""));
        }
        for path in missing.into_iter().rev() {
            let (parent, name) = split(&path)?;
            let d = s.disk.dir_mut(&parent)?;
            if d.entries.contains_key(&name) {
                return Err(err(ErrorKind::AlreadyExists, "a file is in the way"));
            }
            d.entries.insert(name.clone(), Entry::Dir);
            d.pending.push(NsOp::Link(name, Entry::Dir));
            s.disk.removed_dirs.remove(&path);
            s.disk.dirs.insert(path, Dir::default());
            s.mutated();
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.sim.lock();
        s.begin(FaultOp::Sync)?;
        let d = s.disk.dir_mut(dir)?;
        d.synced = d.entries.clone();
        d.pending.clear();
        s.mutated();
        Ok(())
    }

    fn read_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        let mut s = self.sim.lock();
        s.begin(FaultOp::Open)?;
        Ok(s.disk
            .dir(dir)?
            .entries
            .iter()
            .map(|(name, e)| DirEntry {
                name: name.clone(),
                is_dir: *e == Entry::Dir,
            })
            .collect())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut s = self.sim.lock();
        s.begin(FaultOp::Remove)?;
        s.disk.lookup(path)?;
        let (parent, name) = split(path)?;
        let d = s.disk.dir_mut(&parent)?;
        let old = d.entries.remove(&name);
        d.pending.push(NsOp::Unlink(name));
        s.disk.link_count(old, -1);
        s.mutated();
        Ok(())
    }

    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.sim.lock();
        s.begin(FaultOp::Remove)?;
        if !s.disk.dir(dir)?.entries.is_empty() {
            return Err(err(ErrorKind::DirectoryNotEmpty, "directory not empty"));
        }
        let (parent, name) = split(dir)?;
        let p = s.disk.dir_mut(&parent)?;
        p.entries.remove(&name);
        p.pending.push(NsOp::Unlink(name));
        if let Some(d) = s.disk.dirs.remove(dir) {
            s.disk.removed_dirs.insert(dir.to_path_buf(), d);
        }
        s.mutated();
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.sim.lock();
        s.begin(FaultOp::Rename)?;
        let ino = s.disk.lookup(from)?;
        let (from_dir, from_name) = split(from)?;
        let (to_dir, to_name) = split(to)?;
        if from_dir != to_dir {
            return Err(err(
                ErrorKind::Unsupported,
                "the simulator renames within one directory only",
            ));
        }
        let d = s.disk.dir_mut(&to_dir)?;
        d.entries.remove(&from_name);
        let replaced = d.entries.insert(to_name.clone(), Entry::File(ino));
        d.pending.push(NsOp::Rename {
            from: from_name,
            to: to_name,
        });
        s.disk.link_count(replaced, -1);
        s.mutated();
        Ok(())
    }

    fn create(&self, path: &Path, exclusive: bool) -> io::Result<Arc<dyn WriteFile>> {
        let ino = self.sim.lock().create(path, exclusive)?;
        Ok(Arc::new(SimFile {
            sim: Arc::clone(&self.sim),
            ino,
        }))
    }

    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn WriteFile>> {
        let mut s = self.sim.lock();
        s.begin(FaultOp::Open)?;
        let ino = s.disk.lookup(path)?;
        Ok(Arc::new(SimFile {
            sim: Arc::clone(&self.sim),
            ino,
        }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut s = self.sim.lock();
        s.begin(FaultOp::Open)?;
        let ino = s.disk.lookup(path)?;
        Ok(s.disk.inode(ino)?.data.clone())
    }

    fn map(&self, path: &Path) -> io::Result<Mapped> {
        self.read(path).map(Mapped::from_bytes)
    }

    fn lock(&self, path: &Path) -> io::Result<Option<LockGuard>> {
        let mut s = self.sim.lock();
        s.begin(FaultOp::Open)?;
        if !s.locks.insert(path.to_path_buf()) {
            return Ok(None);
        }
        Ok(Some(LockGuard::new(Box::new(SimLock {
            sim: Arc::clone(&self.sim),
            path: path.to_path_buf(),
        }))))
    }
}
