//! Event listings over one segment: sort keys of matching rows, the best
//! rows kept, and the fields of the rows a page returns.

use crate::error::Result;
use crate::event::Field;
use crate::query::bind::{Bound, SortKey};
use crate::query::cancel::{CHECK_EVERY_ROWS, Stop};
use crate::query::partial::{Out, TopRows};
use crate::query::scalar::Scalar;
use crate::segment::{BlockCursor, DictColumn, Encoding, SegmentReader, encoding_of};

use super::{Cand, Resid, Ts, passes};

/// Reads the sort-key values of rows.
struct KeyReader<'a> {
    cols: Vec<KeyCol<'a>>,
}

enum KeyCol<'a> {
    Ts,
    Date(Scalar),
    Dict(DictColumn<'a>),
    Block(BlockCursor<'a>),
}

impl<'a> KeyReader<'a> {
    fn new(seg: &'a SegmentReader, order: &[(SortKey, bool)]) -> Result<KeyReader<'a>> {
        let fields: Vec<Field> = order
            .iter()
            .filter_map(|(k, _)| match k {
                SortKey::Field(f) => Some(*f),
                SortKey::Count => None,
            })
            .collect();
        KeyReader::of(seg, &fields)
    }

    /// Readers of `fields`, in that order.
    fn of(seg: &'a SegmentReader, fields: &[Field]) -> Result<KeyReader<'a>> {
        let mut cols = Vec::new();
        for f in fields {
            cols.push(match encoding_of(*f) {
                _ if *f == Field::EventDate => KeyCol::Date(Scalar::Date(seg.day())),
                Encoding::Timestamps => KeyCol::Ts,
                Encoding::Blocks => KeyCol::Block(seg.blocks(*f)?),
                _ => KeyCol::Dict(seg.dict(*f)?),
            });
        }
        Ok(KeyReader { cols })
    }

    fn key(&mut self, ts: &Ts<'_>, row: u32) -> Result<Vec<Scalar>> {
        let mut key = Vec::with_capacity(self.cols.len());
        for c in &mut self.cols {
            key.push(match c {
                KeyCol::Ts => Scalar::Timestamp(ts.at(row)),
                KeyCol::Date(d) => d.clone(),
                KeyCol::Dict(d) => Scalar::from(d.get(row)?),
                KeyCol::Block(b) => Scalar::from(b.get(row)?),
            });
        }
        Ok(key)
    }
}

pub(super) fn list_rows<'a>(
    seg: &'a SegmentReader,
    q: &Bound,
    ts: &Ts<'_>,
    cand: &Cand<'a>,
    resid: &mut [Resid<'a, '_>],
    keep: Option<usize>,
    stop: Stop<'_>,
) -> Result<(Out<'a>, u64)> {
    // A listing that stops early checks rows lazily, as it walks them; any
    // other checks every candidate first (and counts the matches).
    let lazy = q.stops_early();
    let mut rows = Vec::new();
    cand.for_each(stop, |r| {
        if lazy || passes(resid, ts, r)? {
            rows.push(r);
        }
        Ok(())
    })?;
    let matched = if lazy { 0 } else { rows.len() as u64 };
    let mut keys = KeyReader::new(seg, &q.order)?;
    let mut top = TopRows::new(&q.order, keep, q.after.as_deref());
    // Rows are in timestamp order: when the listing is too, walk from the
    // right end and stop once `keep` rows are in and the timestamp moves on.
    let ts_first = match q.order.first() {
        Some((SortKey::Field(Field::EventTimestamp), desc)) => Some(*desc),
        _ => None,
    };
    match (ts_first, keep) {
        (Some(desc), Some(k)) => {
            let mut boundary: Option<i64> = None;
            let walk: Box<dyn Iterator<Item = &u32>> = if desc {
                Box::new(rows.iter().rev())
            } else {
                Box::new(rows.iter())
            };
            for (i, r) in walk.enumerate() {
                if i % CHECK_EVERY_ROWS == 0 {
                    stop.check()?;
                }
                let t = ts.at(*r);
                if boundary.is_some_and(|b| b != t) {
                    break;
                }
                if lazy && !passes(resid, ts, *r)? {
                    continue;
                }
                top.push(keys.key(ts, *r)?, *r);
                if boundary.is_none() && top.len() >= k {
                    boundary = Some(t);
                }
            }
        }
        _ => {
            for (i, r) in rows.iter().enumerate() {
                if i % CHECK_EVERY_ROWS == 0 {
                    stop.check()?;
                }
                if lazy && !passes(resid, ts, *r)? {
                    continue;
                }
                top.push(keys.key(ts, *r)?, *r);
            }
        }
    }
    Ok((Out::Rows(top.finish()), matched))
}

/// The values of `fields` on `rows` of `seg`. Rows are read in ascending
/// order (each block-compressed block is decompressed once however many of
/// its rows are asked for) and returned in the order asked; only the
/// requested columns are read.
pub(crate) fn fetch_rows(
    seg: &SegmentReader,
    fields: &[Field],
    rows: &[u32],
) -> Result<Vec<Vec<Scalar>>> {
    let ts = seg.timestamps()?;
    let mut reader = KeyReader::of(seg, fields)?;
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|i| rows.get(*i).copied().unwrap_or(0));
    let mut out = vec![Vec::new(); rows.len()];
    for i in order {
        if let (Some(row), Some(slot)) = (rows.get(i), out.get_mut(i)) {
            *slot = reader.key(&ts, *row)?;
        }
    }
    Ok(out)
}
