//! Zero-copy croaring views of a segment's bitmaps, for the query path.
//!
//! This is the only place that builds a view over mapped bytes. CRoaring's
//! view constructor is given no length and trusts the bytes, so a view is
//! built only after (1) the CRC covering the bitmap was verified (the
//! Bitmaps section's, or its group's: `SegmentReader::bitmap_section`) and (2) the bitmap passed the strict
//! portable-format check of `portable.rs` (exact length, offset header
//! equal to the layout, containers well formed, rows inside the segment),
//! once per bitmap per segment. Storage damage is caught by (1);
//! (2) keeps bytes with a forged checksum, or from a buggy writer, from
//! steering CRoaring outside the slice or to wrong rows.

use std::sync::atomic::{AtomicU64, Ordering};

use croaring::{BitmapView, Portable};

use crate::error::Result;
use crate::event::Field;
use crate::segment::SectionKind;

use super::{SegmentReader, portable};

impl SegmentReader {
    /// A view of the bitmap of rows whose `field` has dictionary code `code`
    /// (0 = null), borrowing the map. `None` when the field has no bitmap
    /// index.
    pub fn bitmap_view(&self, field: Field, code: u32) -> Result<Option<BitmapView<'_>>> {
        let Some(bytes) = self.bitmap_bytes(field, code)? else {
            return Ok(None);
        };
        let bad = |why: &str| self.corrupt(SectionKind::Bitmaps, field as u16, why);
        if cfg!(target_endian = "big") {
            // The portable view reads little-endian in place.
            return Err(bad("bitmap views need a little-endian host"));
        }
        let checked = self
            .bitmaps_checked
            .get(field as usize)
            .ok_or_else(|| bad("no such field"))?
            .get_or_init(|| {
                // `bitmap_bytes` checked this count against the meta.
                let bitmaps = self.raw_section(SectionKind::Bitmaps, field as u16);
                let codes = crate::codec::le_u32_at(bitmaps, 0).unwrap_or(0);
                (0..codes.div_ceil(64)).map(|_| AtomicU64::new(0)).collect()
            });
        let word = checked
            .get(code as usize / 64)
            .ok_or_else(|| bad("code out of range"))?;
        let bit = 1u64 << (code % 64);
        // Relaxed: the bit only records a fact about immutable bytes; a
        // thread that misses it checks again.
        if word.load(Ordering::Relaxed) & bit == 0 {
            portable::check(bytes, self.rows())
                .map_err(|why| bad(&format!("bitmap of code {code}: {why}")))?;
            word.fetch_or(bit, Ordering::Relaxed);
        }
        // SAFETY: `bytes` is exactly one well-formed portable bitmap (it
        // passed `portable::check`, now or on an earlier call, over a
        // group or section whose CRC was verified), it borrows the map,
        // which is immutable and outlives the returned view (`'_` ties the
        // view to `self`), and the host is little-endian.
        let view = unsafe { BitmapView::deserialize::<Portable>(bytes) };
        if view.maximum().is_some_and(|m| m >= self.rows()) {
            return Err(bad("bitmap names a row past the end"));
        }
        Ok(Some(view))
    }
}
