//! Columns with one value in a whole segment, known from metadata alone:
//! `event_date` (a segment holds one day), and a dictionary column with one
//! value and no missing value (or none at all). A predicate on such a
//! column is true or empty for the whole segment, and a group-by on it is a
//! constant key: neither reads a row.

use crate::error::Result;
use crate::event::Field;
use crate::query::scalar::Scalar;
use crate::segment::{DictColumn, Encoding, SegmentReader, encoding_of};

/// The one value `field` has on every row of `seg`, if the metadata says
/// so.
pub(super) fn constant(seg: &SegmentReader, field: Field) -> Result<Option<Scalar>> {
    if field == Field::EventDate {
        return Ok(Some(Scalar::Date(seg.day())));
    }
    if matches!(encoding_of(field), Encoding::Blocks | Encoding::Timestamps) {
        return Ok(None);
    }
    // From the meta first: a column of many values is not constant, and
    // loading it would verify its codes section (all its rows' bytes).
    if seg.dict_count(field).is_some_and(|n| n > 1) {
        return Ok(None);
    }
    let col = seg.dict(field)?;
    match col.count() {
        // No value on any row.
        0 => Ok(Some(Scalar::Null)),
        1 if no_missing(seg, &col)? => Ok(Some(Scalar::from(col.value(1)?))),
        _ => Ok(None),
    }
}

/// Whether no row of a one-value column misses its value: the field is
/// required, its missing-value bitmap is empty, or (stored as a code map of
/// another column) every code of that parent maps to the value and the
/// parent misses none.
fn no_missing(seg: &SegmentReader, col: &DictColumn<'_>) -> Result<bool> {
    let field = col.field();
    if field.required() {
        return Ok(true);
    }
    if let Some(parent) = col.parent() {
        let pcol = seg.dict(parent)?;
        if !(1..=pcol.count()).all(|p| col.code_of_parent(p) == 1) {
            return Ok(false);
        }
        return Ok(parent.required() || seg.bitmap_view(parent, 0)?.is_some_and(|b| b.is_empty()));
    }
    Ok(seg.bitmap_view(field, 0)?.is_some_and(|b| b.is_empty()))
}
