//! Compaction: which of a day's segments merge (the size-tiered policy a
//! seal applies on its own), and the merge itself, column by column into a
//! segment that names its inputs in `supersedes` so that a crash between
//! writing it and unlinking them is repaired on open. A seal merges on its
//! write thread (seal/job.rs); `Engine::compact` merges every day's
//! segments into one (engine/mod.rs).

use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::files;
use crate::segment::{SegmentReader, SegmentWriter};
use crate::storage::Storage;
use crate::time::Day;

/// Which of a day's segments a seal merges with its new one: size-tiered.
/// Taking segments smallest first, each joins while it holds at most twice
/// the rows gathered so far (the new rows included); the first bigger one
/// stops the run. Small segments (a trickle of late events, the last few
/// seals) merge with each other, and a big segment is rewritten only once
/// the rows merging into it are half its size, so each row is rewritten a
/// logarithmic number of times. (The earlier rule, "all unless the largest
/// holds two thirds", rewrote a growing day about every fourth seal: at
/// 1M events a day compaction took 271 of 361 s of sealing.) Empty: write
/// the new segment alone.
pub(crate) fn inputs(segments: &[Arc<SegmentReader>], new_rows: usize) -> Vec<Arc<SegmentReader>> {
    let mut by_rows: Vec<&Arc<SegmentReader>> = segments.iter().collect();
    by_rows.sort_by_key(|s| s.rows());
    let mut gathered = new_rows as u64;
    let mut inputs = Vec::new();
    for s in by_rows {
        let rows = u64::from(s.rows());
        if rows > gathered.saturating_mul(2) {
            break;
        }
        gathered += rows;
        inputs.push(Arc::clone(s));
    }
    inputs
}

/// Merges `inputs` (segments of one day) into one new segment `id`, column
/// by column (no `Event`s are rebuilt). Every row is kept: appends never
/// store an identity (company, event id) twice, and rows of two companies
/// with the same event id are two events.
pub(crate) fn merge_segments(
    storage: &dyn Storage,
    root: &Path,
    day: Day,
    inputs: &[Arc<SegmentReader>],
    id: u64,
) -> Result<Arc<SegmentReader>> {
    let mut w = SegmentWriter::new(day);
    for seg in inputs {
        w.push_segment(seg)?;
    }
    files::create_dir_durable(storage, &files::day_dir(root, day))?;
    let path = files::segment_path(root, day, id);
    // Transitively: an input's own inputs may still be on disk if their
    // unlink failed, and the input itself is about to be unlinked.
    let mut supersedes: Vec<u64> = inputs
        .iter()
        .flat_map(|s| std::iter::once(s.id()).chain(s.supersedes().iter().copied()))
        .collect();
    supersedes.sort_unstable();
    supersedes.dedup();
    w.finish_in(storage, id, supersedes, &path)?;
    Ok(Arc::new(SegmentReader::open_in(storage, &path)?))
}
