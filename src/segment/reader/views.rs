//! Zero-copy croaring views of a segment's bitmaps, for the query path.
//!
//! This is the only place that builds a view over mapped bytes. CRoaring's
//! view constructor is given no length and trusts the bytes, so a view is
//! built only after (1) the Bitmaps section's CRC was verified (by
//! `SegmentReader::section`) and (2) every bitmap of the field passed the
//! strict portable-format check of `portable.rs` (exact length, offset
//! header equal to the layout, containers well formed, rows inside the
//! segment), once per field per segment. Storage damage is caught by (1);
//! (2) keeps bytes with a forged checksum, or from a buggy writer, from
//! steering CRoaring outside the slice or to wrong rows.

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
        let failed = self
            .bitmaps_checked
            .get(field as usize)
            .ok_or_else(|| bad("no such field"))?
            .get_or_init(|| self.first_bad_bitmap(field));
        if let Some((code, why)) = failed {
            return Err(bad(&format!("bitmap of code {code}: {why}")));
        }
        // SAFETY: `bytes` is exactly one well-formed portable bitmap (every
        // bitmap of the field passed `portable::check` just above, over a
        // section whose CRC was verified), it borrows the map,
        // which is immutable and outlives the returned view (`'_` ties the
        // view to `self`), and the host is little-endian.
        let view = unsafe { BitmapView::deserialize::<Portable>(bytes) };
        if view.maximum().is_some_and(|m| m >= self.rows()) {
            return Err(bad("bitmap names a row past the end"));
        }
        Ok(Some(view))
    }

    /// The first of `field`'s bitmaps that fails the strict check, with
    /// the reason; `None` when all pass (or the section is unreadable, which
    /// `bitmap_bytes` reports on its own).
    fn first_bad_bitmap(&self, field: Field) -> Option<(u32, &'static str)> {
        let count = self
            .section(SectionKind::Bitmaps, field as u16)
            .ok()
            .and_then(|s| crate::codec::le_u32_at(s, 0))?;
        (0..count).find_map(|code| match self.bitmap_bytes(field, code) {
            Ok(Some(bytes)) => portable::check(bytes, self.rows())
                .err()
                .map(|why| (code, why)),
            Ok(None) | Err(_) => None,
        })
    }
}
