//! Zero-copy croaring views of a segment's bitmaps, for the query path.
//!
//! This is the only place that builds a view over mapped bytes. CRoaring's
//! view constructor is given no length and trusts the bytes, so a view is
//! built only after (1) the Bitmaps section's CRC was verified (by
//! `SegmentReader::section`), (2) CRoaring's own size walk over the
//! serialized header says the bitmap is exactly the slice it was given, and
//! (3) its largest row is inside the segment. Storage damage is caught by
//! (1); (2) keeps even a bitmap with a forged checksum from being read past
//! its slice. `daybook verify` deserializes every bitmap in full with the
//! validating reader (`SegmentReader::bitmap`).

use croaring::{BitmapView, Portable};

use crate::error::Result;
use crate::event::Field;
use crate::segment::SectionKind;

use super::SegmentReader;

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
        // SAFETY: the function reads the serialized header and container
        // descriptors and never more than `bytes.len()` bytes from the
        // pointer; it returns the size the bitmap would occupy, or 0 if the
        // bytes are not a valid header.
        let size = unsafe {
            croaring_sys::roaring_bitmap_portable_deserialize_size(
                bytes.as_ptr().cast(),
                bytes.len(),
            )
        };
        if size == 0 || size != bytes.len() {
            return Err(bad("bitmap is not a well-formed portable roaring bitmap"));
        }
        // SAFETY: `bytes` is exactly one portable bitmap (size checked just
        // above, over a section whose CRC was verified), it borrows the map,
        // which is immutable and outlives the returned view (`'_` ties the
        // view to `self`), and the host is little-endian.
        let view = unsafe { BitmapView::deserialize::<Portable>(bytes) };
        if view.maximum().is_some_and(|m| m >= self.rows()) {
            return Err(bad("bitmap names a row past the end"));
        }
        Ok(Some(view))
    }
}
