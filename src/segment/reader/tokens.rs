//! Reads the token index of a block column (docs/format.md, "Token
//! index"; built by `segment::tokens`). Opening checks the two sections'
//! sizes against their headers; each run is bounds-checked when read, and
//! each posting passes the strict portable check (`portable.rs`) before
//! CRoaring views it, as the Bitmaps section's do. `verify` rebuilds both
//! sections from the column's values and compares them byte for byte, so a
//! wrong posting (even under a matching checksum) is found there.

use croaring::{BitmapView, Portable};

use crate::codec::le_u32_at;
use crate::error::{Error, Result};
use crate::event::{Field, Value};
use crate::segment::SectionKind;
use crate::segment::tokens::{self, COMPLETE, DICT_HEADER, Unit};

use super::{SegmentReader, portable};

/// The fields with a token index.
pub const TOKEN_FIELDS: [Field; 1] = [Field::Url];

/// A segment's token index over one column.
pub struct TokenIndex<'a> {
    seg: &'a SegmentReader,
    field: Field,
    count: u32,
    complete: bool,
    /// `count + 1` u32 end offsets of the runs in `text`.
    ends: &'a [u8],
    /// `count` pairs of u16: left, right.
    sides: &'a [u8],
    text: &'a [u8],
    postings: &'a [u8],
}

impl SegmentReader {
    /// The token index of `field`, checksums verified; `None` when the
    /// segment has none (a version 1 file, or a field without one).
    pub fn token_index(&self, field: Field) -> Result<Option<TokenIndex<'_>>> {
        if self.entry(SectionKind::TokenDict, field as u16).is_none() {
            return Ok(None);
        }
        let dict = self.section(SectionKind::TokenDict, field as u16)?;
        let postings = self.section(SectionKind::TokenPostings, field as u16)?;
        self.check_token_sizes(field)?;
        let count = le_u32_at(dict, 0).unwrap_or(0);
        let n = count as usize;
        let sides_at = DICT_HEADER + 4 * (n + 1);
        let text_at = sides_at + 4 * n;
        Ok(Some(TokenIndex {
            seg: self,
            field,
            count,
            complete: le_u32_at(dict, 1).unwrap_or(0) & COMPLETE != 0,
            ends: dict.get(DICT_HEADER..sides_at).unwrap_or_default(),
            sides: dict.get(sides_at..text_at).unwrap_or_default(),
            text: dict.get(text_at..).unwrap_or_default(),
            postings,
        }))
    }

    /// At open: token sections come in pairs, on a token-indexed block
    /// column. Their sizes are checked against their headers on first use
    /// (`check_token_sizes`): an open reads no page of an index the query
    /// does not use.
    pub(super) fn check_token_sections(&self) -> Result<()> {
        for field in Field::ALL {
            let (d, p) = (
                self.entry(SectionKind::TokenDict, field as u16),
                self.entry(SectionKind::TokenPostings, field as u16),
            );
            let d = match (d, p) {
                (None, None) => continue,
                (Some(d), Some(_)) => d,
                (Some(s), None) | (None, Some(s)) => {
                    return Err(self.size_error(s, field, "token sections come in pairs"));
                }
            };
            if !TOKEN_FIELDS.contains(&field) {
                return Err(self.size_error(d, field, "no token index expected here"));
            }
        }
        Ok(())
    }

    /// `field`'s token sections have the sizes their headers say.
    fn check_token_sizes(&self, field: Field) -> Result<()> {
        let (Some(d), Some(p)) = (
            self.entry(SectionKind::TokenDict, field as u16),
            self.entry(SectionKind::TokenPostings, field as u16),
        ) else {
            return Ok(());
        };
        let (dict, post) = (self.raw(d), self.raw(p));
        let n = u64::from(le_u32_at(dict, 0).unwrap_or(u32::MAX));
        let fixed = DICT_HEADER as u64 + 4 * (n + 1) + 4 * n;
        let text = le_u32_at(dict, (DICT_HEADER / 4) + n as usize).map(u64::from);
        if d.len < fixed || Some(d.len - fixed) != text || le_u32_at(dict, 1).unwrap_or(0) > 1 {
            return Err(self.size_error(d, field, "length does not match the unit count"));
        }
        let body = 4 + 4 * (n + 1);
        let last = le_u32_at(post, 1 + n as usize).map(u64::from);
        if p.len < body
            || le_u32_at(post, 0).map(u64::from) != Some(n)
            || Some(p.len - body) != last
        {
            return Err(self.size_error(p, field, "length does not match the unit count"));
        }
        Ok(())
    }

    /// `verify`: each token index is exactly the one the writer builds
    /// from the column's values.
    pub(super) fn verify_tokens(&self) -> Result<()> {
        for field in TOKEN_FIELDS {
            if self.entry(SectionKind::TokenDict, field as u16).is_none() {
                continue;
            }
            let mut cursor = self.blocks(field)?;
            let mut values: Vec<Option<Vec<u8>>> = Vec::with_capacity(self.rows() as usize);
            for row in 0..self.rows() {
                values.push(match cursor.get(row)? {
                    Value::Str(s) => Some(s.as_bytes().to_vec()),
                    _ => None,
                });
            }
            let (dict, post) = tokens::encode(values.iter().map(|v| v.as_deref()), self.version)?;
            for (kind, want) in [
                (SectionKind::TokenDict, dict),
                (SectionKind::TokenPostings, post),
            ] {
                let have = self.section(kind, field as u16)?;
                if have != want.as_slice() {
                    let at = have
                        .iter()
                        .zip(&want)
                        .position(|(a, b)| a != b)
                        .unwrap_or(have.len().min(want.len()));
                    let start = self.entry(kind, field as u16).map_or(0, |s| s.offset);
                    return Err(Error::corrupted(
                        &self.path,
                        start + at as u64,
                        format!("{} of {field}", kind.name()),
                        format!("differs from the column's values at byte {at} of the section"),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl<'a> TokenIndex<'a> {
    /// Units listed.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether every unit with a non-digit byte is listed (so a unit with
    /// one that is not listed is on no row).
    pub fn complete(&self) -> bool {
        self.complete
    }

    fn bad(&self, kind: SectionKind, why: &str) -> Error {
        self.seg.corrupt(kind, self.field as u16, why)
    }

    /// The `i`-th listed unit (in (run, left, right) order).
    pub fn unit(&self, i: u32) -> Result<Unit<'a>> {
        let i = i as usize;
        let (Some(start), Some(end)) = (le_u32_at(self.ends, i), le_u32_at(self.ends, i + 1))
        else {
            return Err(self.bad(SectionKind::TokenDict, "unit out of range"));
        };
        let run = self
            .text
            .get(start as usize..end as usize)
            .ok_or_else(|| self.bad(SectionKind::TokenDict, "run offsets out of range"))?;
        let side = |k: usize| {
            self.sides
                .get(k..k + 2)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u16::from_le_bytes)
        };
        Ok(Unit {
            left: side(4 * i),
            run,
            right: side(4 * i + 2),
        })
    }

    /// The first unit whose run is not less than `run`.
    pub fn lower_bound(&self, run: &[u8]) -> Result<u32> {
        let (mut lo, mut hi) = (0u32, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.unit(mid)?.run < run {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Whether the `i`-th unit is dense (version 3: on more than 7/8 of the
    /// rows, listed without rows; `tokens::is_dense`): a part it fits is
    /// checked on rows.
    pub fn dense(&self, i: u32) -> bool {
        let k = i as usize;
        self.seg.version >= 3
            && le_u32_at(self.postings, 1 + k)
                .is_some_and(|s| le_u32_at(self.postings, 2 + k) == Some(s))
    }

    /// The rows holding the `i`-th unit, borrowing the map.
    pub fn rows(&self, i: u32) -> Result<BitmapView<'a>> {
        let bad = |why: &str| self.bad(SectionKind::TokenPostings, why);
        let n = self.count as usize;
        let k = i as usize;
        let (Some(start), Some(end)) = (
            le_u32_at(self.postings, 1 + k),
            le_u32_at(self.postings, 2 + k),
        ) else {
            return Err(bad("unit out of range"));
        };
        let body = 4 + 4 * (n + 1);
        let bytes = self
            .postings
            .get(body + start as usize..body + end as usize)
            .filter(|_| start <= end)
            .ok_or_else(|| bad("posting offsets out of range"))?;
        if cfg!(target_endian = "big") {
            return Err(bad("bitmap views need a little-endian host"));
        }
        portable::check(bytes, self.seg.rows())
            .map_err(|why| bad(&format!("posting of unit {i}: {why}")))?;
        // SAFETY: `bytes` is exactly one well-formed portable bitmap whose
        // values are rows of this segment (it just passed
        // `portable::check`, over a section whose CRC was verified), it
        // borrows the map, which is immutable and outlives the view (`'a`
        // ties it to the reader), and the host is little-endian.
        let view = unsafe { BitmapView::deserialize::<Portable>(bytes) };
        Ok(view)
    }
}
