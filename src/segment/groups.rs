//! Checksums per group of bitmaps (section kind 16, docs/format.md,
//! "Bitmap group checksums section").
//!
//! A query reads a few bitmaps of a field (one user's, one tool's), but the
//! Bitmaps section's one CRC covers all of them: verifying it on first use
//! read the whole section (`user_id`'s is 400 KB in a 130,000-row segment),
//! far more than the query needs. This section holds, per Bitmaps section,
//! one CRC32 per group of `2^shift` consecutive codes, over those codes'
//! offset entries and bitmap bytes; the reader verifies only the groups it
//! reads. The section table's CRC of the Bitmaps section stays, and
//! `verify` checks it and every group.
//!
//! Layout (little-endian): `u32` entry count E; E entries of `u16 field,
//! u8 shift, u8 kind (6: the field's Bitmaps section), u32 groups`, in
//! ascending field order; then every entry's group CRCs (`u32` each), entry
//! after entry. The kind byte leaves room for groups of other sections
//! (blocks, needle indexes) in a later layout; this one has only bitmaps.

use crate::codec::le_u32_at;
use crate::time::Day;

use super::format::SectionKind;

/// Bytes of one entry in the section's header.
pub(crate) const ENTRY_LEN: usize = 8;

/// The bitmap bytes a group aims at: the largest power-of-two number of
/// codes whose average bitmaps fit in it. About one page: a query's first
/// touch of one user's bitmap verifies a page, not the section. Measured
/// (section bytes per event on the medium / small sets): 1 KB groups
/// 0.032 / 0.068, 4 KB 0.011 / 0.027, 16 KB 0.0045 / 0.014 (but four pages
/// read per touch).
const TARGET_GROUP_BYTES: usize = 4096;

/// Codes per group, as a power of two, for a Bitmaps section of `n`
/// bitmaps whose bitmaps take `body_len` bytes.
fn shift_for(n: usize, body_len: usize) -> u8 {
    let avg = (body_len / n.max(1)).max(1);
    let mut shift = 0u8;
    while shift < 31 && avg << (shift + 1) <= TARGET_GROUP_BYTES {
        shift += 1;
    }
    shift
}

/// Where one field's groups are: its codes per group (`1 << shift`), its
/// group count, and the index of its first CRC among the section's CRCs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Groups {
    pub shift: u8,
    pub count: u32,
    pub first: usize,
}

impl Groups {
    /// The codes of group `g`: `lo ..= hi`, with `hi` the offset entry that
    /// ends the group (one past its last bitmap), of a section of `n`
    /// bitmaps.
    pub fn codes(&self, g: u32, n: u32) -> (u32, u32) {
        let lo = g << self.shift;
        (lo, lo.saturating_add(1 << self.shift).min(n))
    }
}

/// The CRC of group `g` of a Bitmaps section (`bitmaps`, of `field`):
/// over the segment id, day, kind 16, field and group, then the offset
/// entries `lo ..= hi` and the bitmap bytes they delimit. `None` when the
/// offsets point outside the section.
pub(crate) fn group_crc(
    segment_id: u64,
    day: Day,
    field: u16,
    g: u32,
    (lo, hi): (u32, u32),
    bitmaps: &[u8],
) -> Option<u32> {
    let n = le_u32_at(bitmaps, 0)? as usize;
    let body = 4 + 4 * (n + 1);
    let (lo, hi) = (lo as usize, hi as usize);
    let offsets = bitmaps.get(4 + 4 * lo..4 + 4 * (hi + 1))?;
    let start = le_u32_at(bitmaps, 1 + lo)? as usize;
    let end = le_u32_at(bitmaps, 1 + hi)? as usize;
    let bytes = bitmaps.get(body.checked_add(start)?..body.checked_add(end)?)?;
    let mut h = crc32fast::Hasher::new();
    h.update(&segment_id.to_le_bytes());
    h.update(&day.0.to_le_bytes());
    h.update(&(SectionKind::BitmapGroups as u16).to_le_bytes());
    h.update(&field.to_le_bytes());
    h.update(&g.to_le_bytes());
    h.update(offsets);
    h.update(bytes);
    Some(h.finalize())
}

/// The section's bytes for the Bitmaps sections `(field, bytes)` of a
/// segment, in ascending field order.
pub(crate) fn encode(segment_id: u64, day: Day, sections: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut head = (sections.len() as u32).to_le_bytes().to_vec();
    let mut crcs = Vec::new();
    for (field, bitmaps) in sections {
        let n = le_u32_at(bitmaps, 0).unwrap_or(0);
        let body = 4 + 4 * (n as usize + 1);
        let shift = shift_for(n as usize, bitmaps.len().saturating_sub(body));
        let g = Groups {
            shift,
            count: n.div_ceil(1 << shift),
            first: 0,
        };
        head.extend_from_slice(&field.to_le_bytes());
        head.extend_from_slice(&[shift, SectionKind::Bitmaps as u8]);
        head.extend_from_slice(&g.count.to_le_bytes());
        for i in 0..g.count {
            let crc = group_crc(segment_id, day, *field, i, g.codes(i, n), bitmaps);
            crcs.extend_from_slice(&crc.unwrap_or(0).to_le_bytes());
        }
    }
    head.extend_from_slice(&crcs);
    head
}

/// `field`'s groups in the section `bytes` (its CRC verified), for a
/// Bitmaps section of `n` bitmaps: `Ok(None)` when the section has no
/// entry for the field, `Err` naming what is wrong when the section's
/// layout or the entry's group count does not hold.
pub(crate) fn find(bytes: &[u8], field: u16, n: u32) -> Result<Option<Groups>, String> {
    let entries = le_u32_at(bytes, 0).ok_or("cut short")? as usize;
    let mut first = 0usize;
    let mut found = None;
    for i in 0..entries {
        let at = 4 + i * ENTRY_LEN;
        let e = bytes.get(at..at + ENTRY_LEN).ok_or("entries cut short")?;
        let f = u16::from_le_bytes([e[0], e[1]]);
        let shift = e[2];
        let count = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        if shift > 31 || u16::from(e[3]) != SectionKind::Bitmaps as u16 {
            return Err(format!("entry {i} has a bad shift or section kind"));
        }
        if f == field {
            found = Some(Groups {
                shift,
                count,
                first,
            });
        }
        first += count as usize;
    }
    if bytes.len() != 4 + entries * ENTRY_LEN + 4 * first {
        return Err("length does not match its entries".into());
    }
    match found {
        Some(g) if g.count != n.div_ceil(1 << g.shift) => Err(format!(
            "{} groups of {} codes for {n} bitmaps",
            g.count,
            1u64 << g.shift
        )),
        found => Ok(found),
    }
}

/// The stored CRC of group `g`.
pub(crate) fn stored_crc(bytes: &[u8], entries: usize, groups: Groups, g: u32) -> Option<u32> {
    le_u32_at(
        bytes,
        1 + entries * ENTRY_LEN / 4 + groups.first + g as usize,
    )
}

/// Recomputes every group checksum in a segment file's bytes from its
/// Bitmaps sections, for tools that forge bytes (fuzzing) and then forge the
/// section checksums: bytes past the checksums must reach the structural
/// checks. Bytes whose table does not parse are left alone.
#[cfg(feature = "internals")]
pub fn forge_group_crcs(bytes: &mut [u8]) {
    use super::format::{FOOTER_LEN, SectionEntry};
    let Some(footer) = bytes.len().checked_sub(FOOTER_LEN) else {
        return;
    };
    let f = |at: usize, n: usize| bytes.get(footer + at..footer + at + n).unwrap_or(&[]);
    let u64_at = |b: &[u8]| b.try_into().map(u64::from_le_bytes).unwrap_or(0);
    let count = le_u32_at(f(12, 4), 0).unwrap_or(0) as usize;
    let (table, id) = (u64_at(f(16, 8)) as usize, u64_at(f(24, 8)));
    let day = Day(le_u32_at(f(32, 4), 0).unwrap_or(0) as i32);
    let mut r = crate::codec::Reader::new(bytes.get(table..footer).unwrap_or(&[]));
    let sections: Vec<SectionEntry> = (0..count.min(4096))
        .map_while(|_| SectionEntry::decode(&mut r).ok())
        .collect();
    let range = |s: &SectionEntry| s.offset as usize..(s.offset + s.len) as usize;
    let Some(target) = sections
        .iter()
        .find(|s| s.kind == SectionKind::BitmapGroups)
    else {
        return;
    };
    let mut maps: Vec<(u16, Vec<u8>)> = sections
        .iter()
        .filter(|s| s.kind == SectionKind::Bitmaps)
        .filter_map(|s| Some((s.field, bytes.get(range(s))?.to_vec())))
        .collect();
    maps.sort_by_key(|(field, _)| *field);
    let fresh = encode(id, day, &maps);
    if let Some(old) = bytes.get_mut(range(target))
        && old.len() == fresh.len()
    {
        old.copy_from_slice(&fresh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_aim_at_the_target_bytes() {
        assert_eq!(shift_for(25, 107_000), 0);
        assert_eq!(shift_for(5007, 414_000), 5);
        assert_eq!(shift_for(1, 0), 12);
    }

    #[test]
    fn entries_name_their_field_shift_and_section_kind() {
        // One empty bitmap (count 1, offsets 0 and 0).
        let bitmaps = [1u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0].to_vec();
        let mut bytes = encode(7, Day(3), &[(15, bitmaps)]);
        let want = Groups {
            shift: 12,
            count: 1,
            first: 0,
        };
        assert_eq!(find(&bytes, 15, 1), Ok(Some(want)));
        assert_eq!(find(&bytes, 3, 1), Ok(None));
        assert_eq!(
            find(&bytes, 15, 4097),
            Err("1 groups of 4096 codes for 4097 bitmaps".to_string())
        );
        bytes[7] = 0;
        assert_eq!(
            find(&bytes, 15, 1),
            Err("entry 0 has a bad shift or section kind".to_string())
        );
    }

    #[test]
    fn a_group_ends_at_the_last_code() {
        let g = Groups {
            shift: 2,
            count: 3,
            first: 0,
        };
        assert_eq!(g.codes(0, 10), (0, 4));
        assert_eq!(g.codes(2, 10), (8, 10));
    }
}
