//! A seal's write step, on its own thread and without the writer lock: the
//! job a freeze hands over ([`SealJob`]), the segments it writes, and what
//! it hands back to be published ([`SealDone`]). See `seal.rs` for the
//! three steps.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::compaction::merge_segments;
use crate::error::Result;
use crate::event::Event;
use crate::files;
use crate::segment::{SegmentReader, SegmentWriter};
use crate::storage::Storage;
use crate::time::Day;

/// One day's share of a seal.
pub(crate) struct DayJob {
    pub day: Day,
    /// The buffer chunks being sealed (compared by pointer at publish).
    pub chunks: Vec<Arc<Vec<Event>>>,
    pub id: u64,
    /// Segments to merge with the new one, and the merged segment's id.
    pub compact: Option<(Vec<Arc<SegmentReader>>, u64)>,
}

/// Everything a frozen buffer needs to become segments.
pub(crate) struct SealJob {
    pub days: Vec<DayJob>,
    /// Log files whose events are all in this job (or already sealed).
    pub old_logs: Vec<u64>,
}

/// One day's result.
pub(crate) struct DayDone {
    pub day: Day,
    pub chunks: Vec<Arc<Vec<Event>>>,
    pub segment: Arc<SegmentReader>,
    /// Segments the new one supersedes (to drop from the state and unlink).
    pub replaced: Vec<Arc<SegmentReader>>,
    /// The id of the segment written from the chunks (the same as
    /// `segment` unless that was merged), and the xxh3-64 of its ids.
    pub new_id: u64,
    pub new_hashes: Vec<u64>,
}

pub(crate) struct SealDone {
    pub days: Vec<DayDone>,
    pub segments_written: u64,
    pub compactions: u64,
    pub seal_ms: u64,
    pub compact_ms: u64,
}

/// Writes one segment of `day` from `events`, crash-safely, and maps it.
pub(crate) fn write_segment<'a>(
    storage: &dyn Storage,
    root: &Path,
    day: Day,
    id: u64,
    supersedes: Vec<u64>,
    events: impl Iterator<Item = Result<std::borrow::Cow<'a, Event>>>,
) -> Result<Arc<SegmentReader>> {
    let mut w = SegmentWriter::new(day);
    for e in events {
        let e = e?;
        w.push(e.as_ref())?;
    }
    files::create_dir_durable(storage, &files::day_dir(root, day))?;
    let path = files::segment_path(root, day, id);
    w.finish_in(storage, id, supersedes, &path)?;
    Ok(Arc::new(SegmentReader::open_in(storage, &path)?))
}

/// Step 2: writes the job's segments. On failure, unlinks whatever it wrote.
pub(crate) fn run(storage: &dyn Storage, root: &Path, job: &SealJob) -> Result<SealDone> {
    let mut written: Vec<PathBuf> = Vec::new();
    let r = run_inner(storage, root, job, &mut written);
    if r.is_err() {
        for p in &written {
            let _ = files::remove_file(storage, p);
        }
    }
    r
}

fn run_inner(
    storage: &dyn Storage,
    root: &Path,
    job: &SealJob,
    written: &mut Vec<PathBuf>,
) -> Result<SealDone> {
    let started = Instant::now();
    let mut done = SealDone {
        days: Vec::new(),
        segments_written: 0,
        compactions: 0,
        seal_ms: 0,
        compact_ms: 0,
    };
    for d in &job.days {
        let events = d
            .chunks
            .iter()
            .flat_map(|c| c.iter())
            .map(|e| Ok(std::borrow::Cow::Borrowed(e)));
        written.push(files::segment_path(root, d.day, d.id));
        let segment = write_segment(storage, root, d.day, d.id, Vec::new(), events)?;
        done.segments_written += 1;
        let (segment, replaced) = match &d.compact {
            Some((existing, merged_id)) => {
                let t = Instant::now();
                let mut inputs = existing.clone();
                inputs.push(Arc::clone(&segment));
                written.push(files::segment_path(root, d.day, *merged_id));
                let merged = merge_segments(storage, root, d.day, &inputs, *merged_id)?;
                done.compactions += 1;
                done.compact_ms += t.elapsed().as_millis() as u64;
                (merged, inputs)
            }
            None => (segment, Vec::new()),
        };
        let new_hashes = d
            .chunks
            .iter()
            .flat_map(|c| c.iter())
            .map(|e| xxhash_rust::xxh3::xxh3_64(e.event_id.as_bytes()))
            .collect();
        done.days.push(DayDone {
            new_id: d.id,
            new_hashes,
            day: d.day,
            chunks: d.chunks.clone(),
            segment,
            replaced,
        });
    }
    done.seal_ms = started.elapsed().as_millis() as u64;
    Ok(done)
}

/// A seal running on a background thread.
pub(crate) struct InFlight {
    pub job: Arc<SealJob>,
    pub handle: std::thread::JoinHandle<Result<SealDone>>,
}

/// Starts writing `job` on a background thread.
pub(crate) fn spawn(
    storage: Arc<dyn Storage>,
    root: PathBuf,
    job: Arc<SealJob>,
) -> std::io::Result<InFlight> {
    let j2 = Arc::clone(&job);
    let handle = std::thread::Builder::new()
        .name("daybook-seal".into())
        .spawn(move || run(&*storage, &root, &j2))?;
    Ok(InFlight { job, handle })
}
