//! Indexes over the block-compressed columns (`event_id`, `object_id`,
//! `url`), which have no dictionary and no bitmaps: a predicate on one of
//! them asks here for a superset of the rows it can match. The rows are a
//! bitmap, intersected with the others cheapest first; the predicate is
//! still checked on every candidate row (an index may answer with false
//! positives, never with false negatives). `None`: no index answers it
//! (another operator, or a version 1 segment, which has no index
//! sections), and the predicate is checked on every row left.

use croaring::Bitmap;

use crate::error::Result;
use crate::query::bind::Pred;
use crate::segment::SegmentReader;

mod needle;

/// A superset of the rows of `seg` that can match `pred`, with what
/// answered it (for `explain`).
pub(super) fn superset(seg: &SegmentReader, pred: &Pred) -> Result<Option<(Bitmap, String)>> {
    if seg.version() < 2 {
        return Ok(None);
    }
    needle::superset(seg, pred)
}
