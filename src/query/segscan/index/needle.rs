//! `eq` / `in` on `event_id`, `object_id` and `url` through their indexes:
//! the event-id index (fingerprint → rows) and the needle index
//! (fingerprint → blocks, segment/needle.rs). The rows of the candidate
//! blocks are the superset: the scan checks each against the predicate,
//! reading each such block once (checking them here too would
//! decompress every candidate block twice).

use croaring::Bitmap;
use xxhash_rust::xxh3::xxh3_64;

use crate::error::Result;
use crate::event::{Field, FieldKind};
use crate::query::bind::{Arg, Pred};
use crate::query::model::Op;
use crate::query::scalar::Scalar;
use crate::segment::format::BLOCK_ROWS;
use crate::segment::{NEEDLE_FIELDS, SegmentReader, needle_value_hash};

/// Most values of an `in` list looked up one by one; a longer list is
/// checked on rows (a lookup per value per segment would cost more than
/// reading the column).
const MAX_NEEDLES: usize = 1024;

/// The rows of `seg` that can match `pred` (`eq` / `in` on an indexed
/// block column), with what answered; `None` when no index answers it.
pub(super) fn superset(seg: &SegmentReader, pred: &Pred) -> Result<Option<(Bitmap, String)>> {
    let values: &[Scalar] = match (&pred.op, &pred.arg) {
        (Op::Eq, Arg::One(s)) => std::slice::from_ref(s),
        (Op::In, Arg::Many(list)) => list,
        _ => return Ok(None),
    };
    if values.len() > MAX_NEEDLES {
        return Ok(None);
    }
    let field = pred.field;
    // Hashes of the operands of the column's kind; others match no row.
    let operands = values.iter().filter(|s| {
        matches!(
            (s, field.kind()),
            (Scalar::Str(_), FieldKind::Str) | (Scalar::Int(_), FieldKind::Int)
        )
    });
    if field == Field::EventId {
        // The event-id index hashes the id's text (docs/format.md).
        let hashes: Vec<u64> = operands
            .filter_map(|s| match s {
                Scalar::Str(t) => Some(xxh3_64(t.as_bytes())),
                _ => None,
            })
            .collect();
        return event_id_rows(seg, &hashes).map(Some);
    }
    let hashes: Vec<u64> = operands
        .filter_map(|s| needle_value_hash(field, s.as_value()))
        .collect();
    if !NEEDLE_FIELDS.contains(&field) {
        return Ok(None);
    }
    let Some(idx) = seg.needle(field)? else {
        return Ok(None);
    };
    let mut blocks = Vec::new();
    for h in &hashes {
        seg.needle_blocks(&idx, field, *h, &mut blocks)?;
    }
    blocks.sort_unstable();
    blocks.dedup();
    let rows = block_rows(seg, &blocks);
    let what = format!(
        "needle index of {field}: {} block(s) of {}",
        blocks.len(),
        seg.rows().div_ceil(BLOCK_ROWS)
    );
    Ok(Some((rows, what)))
}

/// The rows whose event-id fingerprint is one of `hashes`'.
fn event_id_rows(seg: &SegmentReader, hashes: &[u64]) -> Result<(Bitmap, String)> {
    let idx = seg.id_index()?;
    let mut rows = Vec::new();
    for h in hashes {
        idx.fingerprint_rows(*h, &mut rows)?;
    }
    rows.sort_unstable();
    rows.dedup();
    let what = format!("event-id index: {} row(s) by fingerprint", rows.len());
    Ok((Bitmap::of(&rows), what))
}

/// The rows of `blocks` (the last block may be short).
fn block_rows(seg: &SegmentReader, blocks: &[u32]) -> Bitmap {
    let mut rows = Bitmap::new();
    for b in blocks {
        let start = b.saturating_mul(BLOCK_ROWS).min(seg.rows());
        let end = start.saturating_add(BLOCK_ROWS).min(seg.rows());
        rows.add_range(start..end);
    }
    rows
}
