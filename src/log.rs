//! The write-ahead log: every stored event is framed here, and synced, before
//! it is acknowledged. Layout: docs/format.md, "Log file".
//!
//! A log file is a header followed by records, one record per appended
//! batch. On open the records are replayed; a torn tail (a record cut short
//! by a crash, after the last sync) is truncated, while damage followed by
//! valid records is corruption and is reported, never cut off.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::codec::{Reader, decode_event, encode_event};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::storage::{Storage, WriteFile};

pub const LOG_MAGIC: [u8; 8] = *b"DAYBKLOG";
pub const LOG_VERSION: u32 = 1;
pub const LOG_HEADER_LEN: usize = 32;
pub const RECORD_MAGIC: u32 = 0xB10C_DA7A;
pub const RECORD_HEADER_LEN: usize = 12;
/// Largest record payload accepted on replay (a batch is split below this).
pub const MAX_RECORD_LEN: u32 = 1 << 30;

fn header_bytes(seq: u64) -> [u8; LOG_HEADER_LEN] {
    let mut h = [0u8; LOG_HEADER_LEN];
    h[0..8].copy_from_slice(&LOG_MAGIC);
    h[8..12].copy_from_slice(&LOG_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32fast::hash(&h[..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Fills in the record header in front of a payload: `record` is
/// `RECORD_HEADER_LEN` placeholder bytes followed by the payload.
fn frame_in_place(record: &mut [u8]) {
    let Some((header, payload)) = record.split_at_mut_checked(RECORD_HEADER_LEN) else {
        return;
    };
    let len = payload.len() as u32;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len.to_le_bytes());
    crc.update(payload);
    header[0..4].copy_from_slice(&RECORD_MAGIC.to_le_bytes());
    header[4..8].copy_from_slice(&len.to_le_bytes());
    header[8..12].copy_from_slice(&crc.finalize().to_le_bytes());
}

/// Appends records to one log file.
pub struct LogWriter {
    path: PathBuf,
    file: Arc<dyn WriteFile>,
    seq: u64,
    len: u64,
    buf: Vec<u8>,
}

impl LogWriter {
    /// Creates a new, empty log file (header synced, directory entry synced).
    pub fn create(storage: &dyn Storage, root: &Path, seq: u64) -> Result<LogWriter> {
        let path = crate::files::log_path(root, seq);
        let file = storage
            .create(&path, true)
            .map_err(|e| Error::io(&path, e))?;
        file.write_all_at(&header_bytes(seq), 0)
            .map_err(|e| Error::io(&path, e))?;
        file.sync_all().map_err(|e| Error::Fsync {
            path: path.clone(),
            source: e,
        })?;
        if let Some(dir) = path.parent() {
            crate::files::sync_dir(storage, dir)?;
        }
        Ok(LogWriter {
            path,
            file,
            seq,
            len: LOG_HEADER_LEN as u64,
            buf: Vec::new(),
        })
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Bytes in the file so far.
    pub fn len_bytes(&self) -> u64 {
        self.len
    }

    /// Writes one record holding the `count` events of `events` (not yet
    /// synced).
    pub fn write_batch<'a>(
        &mut self,
        count: usize,
        events: impl Iterator<Item = &'a Event>,
    ) -> Result<()> {
        // Header placeholder, then the payload; framed in place (no copy).
        self.buf.clear();
        self.buf.resize(RECORD_HEADER_LEN, 0);
        self.buf.extend_from_slice(&(count as u32).to_le_bytes());
        let mut written = 0usize;
        for e in events {
            encode_event(&mut self.buf, e);
            written += 1;
        }
        if written != count {
            return Err(Error::Internal(format!(
                "log record announced {count} events but was given {written}"
            )));
        }
        let payload_len = self.buf.len() - RECORD_HEADER_LEN;
        if payload_len > MAX_RECORD_LEN as usize {
            return Err(Error::InvalidInput(format!(
                "batch encodes to {payload_len} bytes, more than a log record holds ({MAX_RECORD_LEN}); split it"
            )));
        }
        frame_in_place(&mut self.buf);
        // Positioned write: after a failed (partial) write, e.g. disk full,
        // the next record is written at the same offset, over the debris.
        if let Err(e) = self.file.write_all_at(&self.buf, self.len) {
            // Best effort: cut the debris now (the log is never mapped, so
            // truncating it is safe). Replay would treat it as a torn tail.
            let _ = self.file.set_len(self.len);
            return Err(Error::io(&self.path, e));
        }
        self.len += self.buf.len() as u64;
        Ok(())
    }

    /// Makes everything written so far durable.
    pub fn sync(&self) -> Result<()> {
        let fsync = |source| Error::Fsync {
            path: self.path.clone(),
            source,
        };
        self.file.sync_data().map_err(fsync)?;
        // Durable in a file no reopen will find is not durable: a log
        // unlinked behind the engine's back (tests/external_damage.rs) must
        // not acknowledge. Reported as a failed sync, so it is sticky.
        if !self.file.is_linked().map_err(fsync)? {
            return Err(fsync(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the log file was removed from the data directory while open",
            )));
        }
        Ok(())
    }
}

/// What replaying one log file found.
pub struct Replay {
    /// The batches, in the order they were written.
    pub batches: Vec<Vec<Event>>,
    /// Bytes of a torn tail, cut off ([`Tail::Truncate`]) or skipped
    /// ([`Tail::Skip`]); 0 if none.
    pub truncated_bytes: u64,
    /// Bytes of the file as read.
    pub file_bytes: u64,
}

fn corrupted(path: &Path, offset: usize, section: &str, reason: impl Into<String>) -> Error {
    Error::corrupted(path, offset as u64, section, reason)
}

/// Checks for a complete, valid record at `pos`; returns its payload range.
fn record_at(bytes: &[u8], pos: usize) -> std::result::Result<(usize, usize), &'static str> {
    let mut r = Reader::new(bytes.get(pos..).unwrap_or(&[]));
    let (Some(magic), Some(len), Some(crc)) = (r.u32(), r.u32(), r.u32()) else {
        return Err("record header cut short");
    };
    if magic != RECORD_MAGIC {
        return Err("bad record magic");
    }
    if len > MAX_RECORD_LEN {
        return Err("record length out of range");
    }
    let start = pos + RECORD_HEADER_LEN;
    let end = start + len as usize;
    let Some(payload) = bytes.get(start..end) else {
        return Err("record cut short");
    };
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(payload);
    if h.finalize() != crc {
        return Err("record checksum mismatch");
    }
    Ok((start, end))
}

/// What [`replay`] does with a torn tail: a record cut short, with no valid
/// record after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail {
    /// The newest log, opened by the writer: its tail may not have been
    /// synced before a crash, so it is cut off the file.
    Truncate,
    /// The newest log, read by a read-only reader: the tail may be a record
    /// the writer is still writing, so it is skipped and the file is left
    /// exactly as it is.
    Skip,
    /// An older log: it was complete before the next one was started, so
    /// any damage is corruption.
    Strict,
}

/// Replays the log file at `path`, handling a torn tail as `tail` says.
pub fn replay(storage: &dyn Storage, path: &Path, tail: Tail) -> Result<Replay> {
    let bytes = storage.read(path).map_err(|e| Error::io(path, e))?;
    let file_bytes = bytes.len() as u64;
    if let Some((offset, why)) = torn_header(&bytes) {
        // A header is written and synced before any record: a newest log
        // that holds no more than a header, cut short or garbled, was being
        // created when the machine stopped, and nothing in it was
        // acknowledged.
        if tail == Tail::Strict || bytes.len() > LOG_HEADER_LEN {
            return Err(corrupted(path, offset, "log header", why));
        }
        if tail == Tail::Truncate {
            crate::files::remove_file(storage, path)?;
        }
        return Ok(Replay {
            batches: Vec::new(),
            truncated_bytes: file_bytes,
            file_bytes,
        });
    }
    check_header(path, &bytes)?;
    let (batches, torn_at) = read_records(path, &bytes)?;
    match (torn_at, tail) {
        (Some((pos, why)), Tail::Strict) => Err(corrupted(path, pos, "log record", why)),
        (Some((pos, _)), Tail::Skip | Tail::Truncate) => {
            if tail == Tail::Truncate {
                truncate_synced(storage, path, pos as u64)?;
            }
            Ok(Replay {
                batches,
                truncated_bytes: file_bytes - pos as u64,
                file_bytes,
            })
        }
        (None, _) => {
            if tail == Tail::Truncate {
                // The newest log may end in records written but never
                // synced (an append whose fsync failed, in an earlier
                // process). Replayed now, they must be durable before
                // recovery creates a newer log: a power loss would then
                // leave a torn record in a log that is no longer the newest,
                // which is corruption, and no open would succeed.
                let f = storage.open_write(path).map_err(|e| Error::io(path, e))?;
                f.sync_all().map_err(|source| Error::Fsync {
                    path: path.to_path_buf(),
                    source,
                })?;
            }
            Ok(Replay {
                batches,
                truncated_bytes: 0,
                file_bytes,
            })
        }
    }
}

/// What is wrong with a header that is short or garbled (as a header
/// being written when the machine stopped may be): its offset and why.
fn torn_header(bytes: &[u8]) -> Option<(usize, &'static str)> {
    let Some(h) = bytes.get(..LOG_HEADER_LEN) else {
        return Some((0, "file shorter than its header"));
    };
    if h[0..8] != LOG_MAGIC {
        return Some((0, "bad magic"));
    }
    if crc32fast::hash(&h[..28]) != u32::from_le_bytes([h[28], h[29], h[30], h[31]]) {
        return Some((28, "header checksum mismatch"));
    }
    None
}

/// Checks a whole, intact header ([`torn_header`] found nothing): its
/// version, and that it names the sequence its file name says (a log
/// copied or renamed into the wrong place names another).
fn check_header(path: &Path, bytes: &[u8]) -> Result<()> {
    let Some(h) = bytes.get(..LOG_HEADER_LEN) else {
        return Err(corrupted(
            path,
            0,
            "log header",
            "file shorter than its header",
        ));
    };
    let le_u32 = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let version = le_u32(8);
    if version != LOG_VERSION {
        return Err(Error::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            supported: LOG_VERSION,
        });
    }
    let seq = u64::from(le_u32(16)) | (u64::from(le_u32(20)) << 32);
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(crate::files::FileKind::of_name);
    if let Some(crate::files::FileKind::Log { seq: name_seq }) = named
        && name_seq != seq
    {
        return Err(corrupted(
            path,
            16,
            "log header",
            format!("header says log {seq}, the file name says {name_seq}"),
        ));
    }
    Ok(())
}

/// A torn record: its offset and what is wrong with it.
type Torn = (usize, String);

/// Decodes the records after the header, up to the end or to a torn tail
/// (returned with its offset). A bad record followed by a valid one was
/// once complete: that is corruption, not a torn tail.
fn read_records(path: &Path, bytes: &[u8]) -> Result<(Vec<Vec<Event>>, Option<Torn>)> {
    let mut batches = Vec::new();
    let mut pos = LOG_HEADER_LEN;
    while pos < bytes.len() {
        match record_at(bytes, pos) {
            Ok((start, end)) => {
                batches.push(decode_batch(path, &bytes[start..end], start)?);
                pos = end;
            }
            Err(why) => {
                let later = (pos + 1..bytes.len().saturating_sub(RECORD_HEADER_LEN - 1))
                    .find(|&q| record_at(bytes, q).is_ok());
                if let Some(q) = later {
                    return Err(corrupted(
                        path,
                        pos,
                        "log record",
                        format!("{why}; a valid record follows at offset {q}"),
                    ));
                }
                return Ok((batches, Some((pos, why.to_string()))));
            }
        }
    }
    Ok((batches, None))
}

/// Cuts a torn tail off at `len`, durably.
fn truncate_synced(storage: &dyn Storage, path: &Path, len: u64) -> Result<()> {
    let f = storage.open_write(path).map_err(|e| Error::io(path, e))?;
    f.set_len(len)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

fn decode_batch(path: &Path, payload: &[u8], offset: usize) -> Result<Vec<Event>> {
    let mut r = Reader::new(payload);
    let count = r
        .u32()
        .ok_or_else(|| corrupted(path, offset, "log record", "payload shorter than its count"))?;
    let mut events = Vec::with_capacity((count as usize).min(payload.len()));
    for i in 0..count {
        let at = offset + r.pos();
        let e = decode_event(&mut r)
            .map_err(|why| corrupted(path, at, "log record", format!("event {i}: {why}")))?;
        events.push(e);
    }
    if r.remaining() != 0 {
        return Err(corrupted(
            path,
            offset + r.pos(),
            "log record",
            "bytes left over after the last event",
        ));
    }
    Ok(events)
}
