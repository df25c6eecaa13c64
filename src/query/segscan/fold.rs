//! Counting by one column's codes, then folding: when every group field
//! and every predicate of a count is a function of one dictionary column's
//! codes in a segment (the column itself, or a column stored as a code map
//! of it, such as `user_email`, `user_role` and `user_job_title` over
//! `user_id`), the rows of the window are counted once per code of that
//! column, the predicates become a set of accepted codes, and each group
//! key is the code. No candidate bitmap is built and no row is checked.
//!
//! Why: `user_job_title ne "Foreman"` grouped by `user_role` (harness q17)
//! built an and-not of 910 `user_id` bitmaps per day and gathered codes row
//! by row from it (about 0.5 ms a day); a sequential pass over the day's
//! `user_id` codes costs about a nanosecond a row.

use crate::error::Result;
use crate::event::Field;
use crate::query::bind::Bound;
use crate::query::cancel::Stop;
use crate::query::explain::SourceTrace;
use crate::query::partial::{Counts, GKey, KeySrc, Out};
use crate::segment::{DictColumn, Encoding, RowChunk, SegmentReader, encoding_of};

use super::constant::constant;
use super::{CHUNK_ROWS, GROUP_BY_BITMAP_RATIO, match_codes, step};

/// A group field's key in a folded count.
enum FoldKey<'a> {
    /// The base column itself: key = its code.
    Base,
    /// A column stored as a code map of the base: key = the base's code.
    Mapped(DictColumn<'a>),
    Const(crate::query::scalar::Scalar),
}

/// Below this share of the base column's codes accepted by the predicates,
/// the bitmaps of the accepted codes make fewer candidates than the window
/// has rows by enough to beat a pass over every code: the planner's path.
const MIN_ACCEPTED_SHARE: usize = 8;

/// The counts of `q` over rows `lo..hi` of `seg` by folding, or `None` when
/// some group field or predicate is not a function of one dictionary column
/// (or the predicates accept too few of its codes for a pass to pay).
pub(super) fn count<'a>(
    seg: &'a SegmentReader,
    q: &Bound,
    (lo, hi): (u32, u32),
    trace: &mut Option<SourceTrace>,
    stop: Stop<'_>,
) -> Result<Option<(Out<'a>, u64)>> {
    let Some((base, keys)) = group_keys(seg, q)? else {
        return Ok(None);
    };
    let col = seg.dict(base)?;
    // One varying key with bitmaps of its own (`event_type`, `company_name`
    // keep theirs though stored as code maps) and few codes counts faster
    // by bitmap cardinalities (`group::count_groups`): q21 `group_by
    // event_type` took 0.3 ms that way and 12 ms folded over `event_name`.
    let mut varying = q
        .group_by
        .iter()
        .zip(&keys)
        .filter(|(_, k)| !matches!(k, FoldKey::Const(_)))
        .map(|(f, _)| *f);
    if let (Some(only), None) = (varying.next(), varying.next())
        && few_indexed_codes(seg, only, hi - lo)?
    {
        return Ok(None);
    }
    let Some(accept) = accepted(seg, q, base, &col)? else {
        return Ok(None);
    };
    let n_accepted = accept.iter().filter(|a| **a).count();
    if n_accepted > 0 && n_accepted * MIN_ACCEPTED_SHARE < accept.len() {
        return Ok(None);
    }
    let mut per_code = vec![0u32; accept.len()];
    let mut codes = [0u32; CHUNK_ROWS];
    // Nothing accepted: no row is read.
    let mut start = if n_accepted == 0 { hi } else { lo };
    while start < hi {
        stop.check()?;
        let n = (hi - start).min(CHUNK_ROWS as u32);
        let chunk = codes.get_mut(..n as usize).unwrap_or_default();
        col.codes_into(RowChunk::Range(start, n), chunk);
        for c in chunk.iter() {
            if let Some(k) = per_code.get_mut(*c as usize) {
                *k += 1;
            }
        }
        start += n;
    }
    let mut counts = Counts::new(keys.len());
    let mut matched = 0u64;
    for (code, (n, ok)) in per_code.iter().zip(&accept).enumerate() {
        if *n == 0 || !*ok {
            continue;
        }
        let mut key: GKey = Default::default();
        for (k, fk) in key.iter_mut().zip(&keys) {
            if !matches!(fk, FoldKey::Const(_)) {
                *k = code as u32;
            }
        }
        counts.push(&key, u64::from(*n));
        matched += u64::from(*n);
    }
    if let Some(t) = trace.as_mut() {
        t.rows_visited = if n_accepted == 0 {
            0
        } else {
            u64::from(hi - lo)
        };
    }
    step(
        trace,
        format!(
            "count by {base} codes, then fold: {n_accepted} of {} codes accepted",
            accept.len()
        ),
        matched,
        "count",
    );
    let len = accept.len();
    let srcs = keys
        .into_iter()
        .map(|k| match k {
            FoldKey::Base => Ok(KeySrc::Dict(seg.dict(base)?)),
            FoldKey::Mapped(child) => Ok(KeySrc::Mapped { child, len }),
            FoldKey::Const(s) => Ok(KeySrc::Const(s)),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some((Out::Counts { srcs, counts }, matched)))
}

/// Whether `field` has bitmaps of its own in `seg` and few enough codes for
/// their cardinalities to beat counting `rows` rows.
fn few_indexed_codes(seg: &SegmentReader, field: Field, rows: u32) -> Result<bool> {
    let indexed = seg.bitmap_view(field, 0)?.is_some() || seg.bitmap_view(field, 1)?.is_some();
    Ok(indexed
        && (u64::from(seg.dict(field)?.count()) + 1) * GROUP_BY_BITMAP_RATIO <= u64::from(rows))
}

/// The base column of the group fields and each field's key, or `None`
/// when a group field is not a dictionary column of one common base.
fn group_keys<'a>(seg: &'a SegmentReader, q: &Bound) -> Result<Option<(Field, Vec<FoldKey<'a>>)>> {
    let mut base = None;
    let mut keys = Vec::with_capacity(q.group_by.len());
    for f in &q.group_by {
        if let Some(v) = constant(seg, *f)? {
            keys.push(FoldKey::Const(v));
            continue;
        }
        if encoding_of(*f) != Encoding::Dict {
            return Ok(None);
        }
        let d = seg.dict(*f)?;
        let b = d.parent().unwrap_or(*f);
        if *base.get_or_insert(b) != b {
            return Ok(None);
        }
        keys.push(match d.parent() {
            Some(_) => FoldKey::Mapped(d),
            None => FoldKey::Base,
        });
    }
    Ok(base.map(|b| (b, keys)))
}

/// Per code of the base column (0 = null), whether every predicate accepts
/// its rows; `None` when a predicate is not a function of the base's codes.
fn accepted(
    seg: &SegmentReader,
    q: &Bound,
    base: Field,
    col: &DictColumn<'_>,
) -> Result<Option<Vec<bool>>> {
    let mut accept = vec![true; col.count() as usize + 1];
    for p in &q.preds {
        if let Some(v) = constant(seg, p.field)? {
            if !p.matches(v.as_value()) {
                accept.fill(false);
            }
            continue;
        }
        if encoding_of(p.field) != Encoding::Dict {
            return Ok(None);
        }
        let pcol = seg.dict(p.field)?;
        if p.field != base && pcol.parent() != Some(base) {
            return Ok(None);
        }
        let bits = match_codes(&pcol, p.field, p)?;
        for (code, a) in accept.iter_mut().enumerate() {
            // The predicate's column's code on the rows of this base code.
            let own = pcol.code_of_parent(code as u32);
            *a &= bits.get(own as usize).copied().unwrap_or(false);
        }
    }
    Ok(Some(accept))
}
