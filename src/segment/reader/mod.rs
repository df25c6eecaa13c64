//! Opens and reads a segment file in place, from a memory map.
//!
//! Opening checks the footer, the section table, the meta section and every
//! section's size against the row count, so later reads can index the map
//! without running off it. A section's checksum is verified the first time
//! it is read (opening 31 days must not read every byte).

use std::collections::HashMap;

use foldhash::fast::FixedState;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::storage::{Mapped, Storage};
use roaring::RoaringBitmap;

use super::bloom;
use super::encoding_of;
use super::format::{
    ColumnMeta, Encoding, FOOTER_LEN, Footer, HEADER_LEN, Meta, NO_FIELD, SECTION_ENTRY_LEN,
    SEGMENT_MAGIC, SEGMENT_VERSION, SEGMENT_VERSION_MIN, SectionEntry, SectionKind, UUID_TEXT_LEN,
    fingerprint_bits, packed_len, row_bits, section_crc,
};
use super::groups;
use crate::codec::{Reader, le_u32_at};
use crate::error::{Error, Result};
use crate::event::{Event, Field, FieldKind};
use crate::time::Day;

mod columns;
mod portable;
mod timestamps;
mod tokens;
mod views;
use columns::Codes;
pub use columns::{BlockCursor, DictColumn, IdIndex, RowChunk, RowDecoder};
pub use timestamps::Timestamps;
pub use tokens::{TOKEN_FIELDS, TokenIndex};

/// A sealed segment, mapped.
pub struct SegmentReader {
    path: PathBuf,
    map: Mapped,
    /// The file's format version (1 or 2: a version 1 file has no index
    /// sections of kind 11 and up).
    version: u32,
    meta: Meta,
    sections: Vec<SectionEntry>,
    checked: Vec<OnceLock<bool>>,
    /// Per field: the address and length of its string dictionary's text
    /// once checked to be UTF-8 (`None`: it is not), for the segment's
    /// lifetime (the map is immutable).
    dict_utf8: Vec<OnceLock<Option<(usize, usize)>>>,
    /// Per field, one bit per dictionary code: set once that code's bitmap
    /// passed the strict portable-format check (views.rs), so each bitmap
    /// is checked once per segment, when first viewed.
    bitmaps_checked: Vec<OnceLock<Box<[AtomicU64]>>>,
    /// Per framed field: its frame dictionary, prepared once per segment
    /// (after its checksum passed) for every cursor over the column.
    frame_dicts: Vec<OnceLock<zstd::zstd_safe::DDict<'static>>>,
    /// Per field, one bit per group of its bitmaps (section kind 16): set
    /// once that group's checksum held, so a query verifies only the
    /// groups it reads, each once per segment.
    groups_checked: Vec<OnceLock<Box<[AtomicU64]>>>,
    by_key: SectionIndex,
    columns: Vec<Option<ColumnMeta>>,
}

impl std::fmt::Debug for SegmentReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentReader")
            .field("path", &self.path)
            .field("day", &self.meta.day)
            .field("rows", &self.meta.row_count)
            .finish()
    }
}

fn field_name(field: u16) -> String {
    Field::from_ordinal(field).map_or_else(|| "segment".to_string(), |f| f.name().to_string())
}

/// The sections of a segment, in table order, and where each (kind, field)
/// is in that order.
type SectionTable = (Vec<SectionEntry>, SectionIndex);

/// Where each (kind, field) is in the section table. A fixed fast hash:
/// an open builds one per segment (60 entries), and SipHash's cost showed
/// in a month's open.
type SectionIndex = HashMap<(SectionKind, u16), usize, FixedState>;

/// The footer, after checking the file is long enough for a header and a
/// footer, starts with the magic, and is of the version this build reads.
fn read_footer(path: &Path, map: &Mapped) -> Result<Footer> {
    let len = map.len() as u64;
    let bad = |offset: u64, section: &str, reason: String| {
        Error::corrupted(path, offset, section, reason)
    };
    if len < (HEADER_LEN + FOOTER_LEN) as u64 {
        return Err(bad(
            0,
            "file",
            format!("{len} bytes is shorter than a header and footer"),
        ));
    }
    // The header's magic is checked by `verify`, not here: the footer has
    // one too, and reading the header would touch one more page of every
    // segment at every open.
    let footer_at = map.len() - FOOTER_LEN;
    let footer = Footer::decode(&map[footer_at..])
        .map_err(|(off, why)| bad((footer_at + off) as u64, "footer", why))?;
    if !(SEGMENT_VERSION_MIN..=SEGMENT_VERSION).contains(&footer.version) {
        return Err(Error::UnsupportedVersion {
            path: path.to_path_buf(),
            found: footer.version,
            supported: SEGMENT_VERSION,
        });
    }
    Ok(footer)
}

/// The section table: it ends at the footer, its checksum holds, and every
/// section lies between the header and the table, once per (kind, field).
fn read_section_table(path: &Path, map: &Mapped, footer: &Footer) -> Result<SectionTable> {
    let bad = |offset: u64, section: &str, reason: String| {
        Error::corrupted(path, offset, section, reason)
    };
    let footer_at = map.len() - FOOTER_LEN;
    let table_len = (footer.section_count as usize)
        .checked_mul(SECTION_ENTRY_LEN)
        .ok_or_else(|| bad(footer_at as u64, "footer", "section count overflows".into()))?;
    let table_start = usize::try_from(footer.table_offset).unwrap_or(usize::MAX);
    if table_start < HEADER_LEN || table_start.checked_add(table_len) != Some(footer_at) {
        return Err(bad(
            footer_at as u64,
            "footer",
            "section table does not end at the footer".into(),
        ));
    }
    let table = &map[table_start..footer_at];
    if crc32fast::hash(table) != footer.table_crc {
        return Err(bad(
            footer.table_offset,
            "section table",
            "checksum mismatch".into(),
        ));
    }
    let mut r = Reader::new(table);
    let mut sections = Vec::with_capacity(footer.section_count as usize);
    let mut by_key =
        SectionIndex::with_capacity_and_hasher(sections.capacity(), FixedState::default());
    for i in 0..footer.section_count as usize {
        let at = (table_start + i * SECTION_ENTRY_LEN) as u64;
        let s = SectionEntry::decode(&mut r).map_err(|why| bad(at, "section table", why))?;
        let end = s.offset.checked_add(s.len);
        if s.offset < HEADER_LEN as u64 || end.is_none_or(|e| e > footer.table_offset) {
            return Err(bad(
                at,
                "section table",
                format!("{} section out of bounds", s.kind.name()),
            ));
        }
        if by_key.insert((s.kind, s.field), i).is_some() {
            return Err(bad(
                at,
                "section table",
                format!("duplicate {} section", s.kind.name()),
            ));
        }
        sections.push(s);
    }
    Ok((sections, by_key))
}

/// The meta section, checksum verified (it is read at every open), agreeing
/// with the footer, with a time range inside the segment's day.
fn read_meta(
    path: &Path,
    map: &Mapped,
    footer: &Footer,
    sections: &[SectionEntry],
    by_key: &SectionIndex,
) -> Result<Meta> {
    let bad = |offset: u64, section: &str, reason: String| {
        Error::corrupted(path, offset, section, reason)
    };
    let meta_idx = *by_key.get(&(SectionKind::Meta, NO_FIELD)).ok_or_else(|| {
        bad(
            footer.table_offset,
            "section table",
            "no meta section".into(),
        )
    })?;
    let ms = sections[meta_idx];
    let meta_bytes = &map[ms.offset as usize..(ms.offset + ms.len) as usize];
    if section_crc(
        footer.segment_id,
        footer.day,
        SectionKind::Meta,
        NO_FIELD,
        meta_bytes,
    ) != ms.crc
    {
        return Err(bad(ms.offset, "meta", "checksum mismatch".into()));
    }
    let meta = Meta::decode(meta_bytes).map_err(|why| bad(ms.offset, "meta", why))?;
    if meta.segment_id != footer.segment_id
        || meta.day != footer.day
        || meta.row_count != footer.row_count
    {
        return Err(bad(
            ms.offset,
            "meta",
            "meta disagrees with the footer".into(),
        ));
    }
    if meta.row_count == 0
        || Day::of_ms(meta.min_ts_ms) != meta.day
        || Day::of_ms(meta.max_ts_ms) != meta.day
        || meta.min_ts_ms > meta.max_ts_ms
        || meta.base_ts_ms != meta.min_ts_ms
    {
        return Err(bad(
            ms.offset,
            "meta",
            "row count or time range inconsistent with the day".into(),
        ));
    }
    Ok(meta)
}

impl SegmentReader {
    #[cfg(feature = "internals")]
    /// Maps and checks the structure of the segment at `path`.
    pub fn open(path: &Path) -> Result<SegmentReader> {
        SegmentReader::open_in(&crate::storage::OsStorage, path)
    }

    #[cfg(feature = "internals")]
    /// Checks the structure of a segment held in memory; `path` names it in
    /// errors. For tools and fuzzing.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<SegmentReader> {
        SegmentReader::from_mapped(path, Mapped::from_bytes(bytes))
    }

    /// [`SegmentReader::open`] on the given storage.
    pub(crate) fn open_in(storage: &dyn Storage, path: &Path) -> Result<SegmentReader> {
        let map = storage.map(path).map_err(|e| Error::io(path, e))?;
        SegmentReader::from_mapped(path, map)
    }

    fn from_mapped(path: &Path, map: Mapped) -> Result<SegmentReader> {
        let footer = read_footer(path, &map)?;
        let (sections, by_key) = read_section_table(path, &map, &footer)?;
        let meta = read_meta(path, &map, &footer, &sections, &by_key)?;
        let checked = (0..sections.len()).map(|_| OnceLock::new()).collect();
        let mut seg = SegmentReader {
            path: path.to_path_buf(),
            map,
            version: footer.version,
            meta,
            sections,
            checked,
            dict_utf8: (0..Field::ALL.len()).map(|_| OnceLock::new()).collect(),
            bitmaps_checked: (0..Field::ALL.len()).map(|_| OnceLock::new()).collect(),
            frame_dicts: (0..Field::ALL.len()).map(|_| OnceLock::new()).collect(),
            groups_checked: (0..Field::ALL.len()).map(|_| OnceLock::new()).collect(),
            by_key,
            columns: vec![None; Field::ALL.len()],
        };
        seg.check_layout()?;
        Ok(seg)
    }

    /// Checks that every column's sections exist with sizes that match the
    /// row count, so later reads stay inside the map. Errors about the
    /// columns' description point at the meta section.
    fn check_layout(&mut self) -> Result<()> {
        let meta_offset = self
            .entry(SectionKind::Meta, NO_FIELD)
            .map_or(0, |s| s.offset);
        for c in self.meta.columns.clone() {
            self.check_column(c, meta_offset)?;
        }
        for f in Field::stored() {
            if self.columns[f as usize].is_none() {
                return Err(self.meta_error(meta_offset, format!("no column for {f}")));
            }
        }
        self.check_code_maps(meta_offset)?;
        self.check_sections_described()?;
        self.check_token_sections()?;
        self.check_id_index(meta_offset)
    }

    /// An error about the meta section (at `meta_offset`).
    fn meta_error(&self, meta_offset: u64, why: String) -> Error {
        Error::corrupted(&self.path, meta_offset, "meta", why)
    }

    /// An error about section `s` of column `field`.
    fn size_error(&self, s: SectionEntry, field: Field, why: &str) -> Error {
        Error::corrupted(
            &self.path,
            s.offset,
            format!("{} of {field}", s.kind.name()),
            why.to_string(),
        )
    }

    /// The `kind` section of column `field`, which the meta says it has.
    fn needed(&self, kind: SectionKind, field: Field, meta_offset: u64) -> Result<SectionEntry> {
        self.entry(kind, field as u16).ok_or_else(|| {
            self.meta_error(
                meta_offset,
                format!("column {field} has no {} section", kind.name()),
            )
        })
    }

    /// One column of the meta: a stored field, with its field's encoding,
    /// described once, whose sections fit its row count.
    fn check_column(&mut self, c: ColumnMeta, meta_offset: u64) -> Result<()> {
        let bad = |why: String| Error::corrupted(&self.path, meta_offset, "meta", why);
        let field = Field::from_ordinal(c.field)
            .filter(|f| *f != Field::EventDate)
            .ok_or_else(|| bad(format!("column for unknown field {}", c.field)))?;
        if encoding_of(field) != c.encoding.logical() {
            return Err(bad(format!("column {field} has an unexpected encoding")));
        }
        if self.columns[field as usize].replace(c).is_some() {
            return Err(self.meta_error(meta_offset, format!("column {field} appears twice")));
        }
        match c.encoding {
            Encoding::Timestamps => self.check_timestamps(c, field, meta_offset),
            Encoding::Dict | Encoding::MappedDict => self.check_dict_column(c, field, meta_offset),
            Encoding::Blocks => self.check_block_column(field, meta_offset),
            Encoding::Framed => {
                let s = self.needed(SectionKind::Frames, field, meta_offset)?;
                if s.len < 8 {
                    return Err(self.size_error(s, field, "frame header cut short"));
                }
                Ok(())
            }
        }
    }

    /// The timestamps column: one section, plain (kind 2: a u32 per row)
    /// or packed (kind 17, what version 3 writes) holding the row count.
    fn check_timestamps(&self, c: ColumnMeta, field: Field, meta_offset: u64) -> Result<()> {
        let rows = self.meta.row_count;
        let kind = self.ts_kind();
        let s = self.needed(kind, field, meta_offset)?;
        let why = match kind {
            SectionKind::PackedTimestamps => {
                if self.entry(SectionKind::Timestamps, c.field).is_some() {
                    return Err(self.meta_error(
                        meta_offset,
                        format!("column {field} has two timestamps sections"),
                    ));
                }
                timestamps::packed_len_error(self.raw(s), rows)
            }
            _ => (s.len != u64::from(rows) * 4).then_some("length does not match the row count"),
        };
        match why {
            Some(why) => Err(self.size_error(s, field, why)),
            None if c.width != 32 => Err(self.size_error(s, field, "width is not 32")),
            None => Ok(()),
        }
    }

    /// Which section holds the timestamps: packed if the file has one.
    fn ts_kind(&self) -> SectionKind {
        let packed = (SectionKind::PackedTimestamps, Field::EventTimestamp as u16);
        if self.by_key.contains_key(&packed) {
            SectionKind::PackedTimestamps
        } else {
            SectionKind::Timestamps
        }
    }

    /// A dictionary column: a code width that holds every code, per-row
    /// codes (unless mapped: its map is checked once every column is known),
    /// a dictionary of `count` values, and a bitmap per code if indexed.
    fn check_dict_column(&self, c: ColumnMeta, field: Field, meta_offset: u64) -> Result<()> {
        if !(1..=32).contains(&c.width) || u64::from(c.count) >> c.width != 0 {
            return Err(self.meta_error(
                meta_offset,
                format!("column {field} has code width {}", c.width),
            ));
        }
        let rows = self.meta.row_count as usize;
        if c.encoding == Encoding::Dict {
            let codes = self.needed(SectionKind::Codes, field, meta_offset)?;
            if codes.len != packed_len(rows, c.width) as u64 {
                return Err(self.size_error(codes, field, "length does not match the row count"));
            }
        } else if self.entry(SectionKind::Codes, c.field).is_some() {
            return Err(self.meta_error(
                meta_offset,
                format!("mapped column {field} has a codes section"),
            ));
        }
        let dict = self.needed(SectionKind::DictValues, field, meta_offset)?;
        let n = u64::from(c.count);
        let min_len = if field.kind() == FieldKind::Str {
            4 + 4 * (n + 1)
        } else {
            4 + 8 * n
        };
        // Lengths only: the counts inside the sections are checked with
        // their checksums, on first use (`check_header`), so an open
        // touches no page of a column the query does not read.
        let ok = dict.len >= min_len && (field.kind() == FieldKind::Str || dict.len == min_len);
        if !ok {
            return Err(self.size_error(dict, field, "length does not match the value count"));
        }
        if let Some(b) = self.entry(SectionKind::Bitmaps, c.field)
            && b.len < 4 + 4 * (n + 2)
        {
            return Err(self.size_error(b, field, "bitmap count does not match the dictionary"));
        }
        Ok(())
    }

    /// The counts a section starts with agree with the meta (the
    /// dictionary's values, its bitmaps, the block table's blocks): checked
    /// on each use of the section, before any read of it relies on them.
    fn check_header(&self, s: SectionEntry, bytes: &[u8]) -> Result<()> {
        let Some(field) = Field::from_ordinal(s.field) else {
            return Ok(());
        };
        let count = self
            .columns
            .get(field as usize)
            .copied()
            .flatten()
            .map(|c| c.count);
        match s.kind {
            SectionKind::DictValues if le_u32_at(bytes, 0) != count => {
                Err(self.size_error(s, field, "length does not match the value count"))
            }
            SectionKind::Bitmaps if le_u32_at(bytes, 0) != count.map(|n| n + 1) => {
                Err(self.size_error(s, field, "bitmap count does not match the dictionary"))
            }
            SectionKind::Blocks => self.check_block_table(s, field, bytes),
            SectionKind::Frames => {
                match super::framed::table_error(bytes, self.meta.row_count, count.unwrap_or(0)) {
                    Some(why) => Err(self.size_error(s, field, why)),
                    None => Ok(()),
                }
            }
            SectionKind::FrameDict if bytes.starts_with(&super::framed::ZSTD_DICT_MAGIC) => {
                Err(self.size_error(s, field, "starts with zstd's formatted-dictionary magic"))
            }
            _ => Ok(()),
        }
    }

    /// A block column: a block table, long enough for its header (its
    /// entries are checked on first use, `check_block_table`).
    fn check_block_column(&self, field: Field, meta_offset: u64) -> Result<()> {
        let s = self.needed(SectionKind::Blocks, field, meta_offset)?;
        if s.len < 8 {
            return Err(self.size_error(s, field, "block header cut short"));
        }
        Ok(())
    }

    /// A block table with one entry per block of rows.
    fn check_block_table(&self, s: SectionEntry, field: Field, raw: &[u8]) -> Result<()> {
        let (Some(block_rows), Some(n_blocks)) = (le_u32_at(raw, 0), le_u32_at(raw, 1)) else {
            return Err(self.size_error(s, field, "block header cut short"));
        };
        let rows = u64::from(self.meta.row_count);
        if block_rows == 0
            || u64::from(n_blocks) != rows.div_ceil(u64::from(block_rows))
            || s.len < 8 + 8 * (u64::from(n_blocks) + 1)
        {
            return Err(self.size_error(s, field, "block table does not match the row count"));
        }
        Ok(())
    }

    /// A mapped column's parent is a column with per-row codes, and its map
    /// has one entry per parent code (null included).
    fn check_code_maps(&self, meta_offset: u64) -> Result<()> {
        for c in self.columns.iter().flatten() {
            if c.encoding != Encoding::MappedDict {
                continue;
            }
            let parent = Field::from_ordinal(c.parent)
                .and_then(|f| self.columns.get(f as usize).copied().flatten())
                .filter(|p| p.encoding == Encoding::Dict && p.field != c.field)
                .ok_or_else(|| {
                    self.meta_error(
                        meta_offset,
                        format!(
                            "column {} is mapped over {}, which has no per-row codes",
                            field_name(c.field),
                            field_name(c.parent)
                        ),
                    )
                })?;
            let map = self.entry(SectionKind::CodeMap, c.field).ok_or_else(|| {
                self.meta_error(
                    meta_offset,
                    format!("mapped column {} has no code map", field_name(c.field)),
                )
            })?;
            if map.len != packed_len(parent.count as usize + 1, c.width) as u64 {
                return Err(Error::corrupted(
                    &self.path,
                    map.offset,
                    format!("code map of {}", field_name(c.field)),
                    "length does not match the parent's dictionary",
                ));
            }
        }
        Ok(())
    }

    /// Every section belongs to something the meta describes.
    fn check_sections_described(&self) -> Result<()> {
        for s in &self.sections {
            let col = Field::from_ordinal(s.field).and_then(|f| self.columns[f as usize]);
            let expected = match s.kind {
                SectionKind::Meta
                | SectionKind::IdHashes
                | SectionKind::IdRows
                | SectionKind::IdBloom
                | SectionKind::BitmapGroups => s.field == NO_FIELD,
                SectionKind::Timestamps | SectionKind::PackedTimestamps => {
                    col.is_some_and(|c| c.encoding == Encoding::Timestamps)
                }
                SectionKind::Blocks => col.is_some_and(|c| c.encoding == Encoding::Blocks),
                SectionKind::Frames | SectionKind::FrameDict => {
                    col.is_some_and(|c| c.encoding == Encoding::Framed)
                }
                SectionKind::TokenDict | SectionKind::TokenPostings => {
                    col.is_some_and(|c| c.encoding.logical() == Encoding::Blocks)
                }
                SectionKind::Codes => col.is_some_and(|c| c.encoding == Encoding::Dict),
                SectionKind::CodeMap => col.is_some_and(|c| c.encoding == Encoding::MappedDict),
                SectionKind::Needle => {
                    self.check_needle(s.field)?;
                    col.is_some_and(|c| c.encoding.logical() == Encoding::Blocks)
                }
                SectionKind::DictValues | SectionKind::Bitmaps => {
                    col.is_some_and(|c| c.encoding.logical() == Encoding::Dict)
                }
            };
            if !expected {
                return Err(Error::corrupted(
                    &self.path,
                    s.offset,
                    "section table",
                    format!(
                        "{} section of {} matches no column",
                        s.kind.name(),
                        field_name(s.field)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The id index: fingerprints and rows packed one per row, and a Bloom
    /// filter of whole blocks.
    fn check_id_index(&self, meta_offset: u64) -> Result<()> {
        let rows = self.meta.row_count;
        for (kind, len) in [
            (
                SectionKind::IdHashes,
                packed_len(rows as usize, fingerprint_bits(rows)) as u64,
            ),
            (
                SectionKind::IdRows,
                packed_len(rows as usize, row_bits(rows)) as u64,
            ),
        ] {
            match self.entry(kind, NO_FIELD) {
                Some(s) if s.len == len => {}
                _ => {
                    return Err(Error::corrupted(
                        &self.path,
                        meta_offset,
                        kind.name(),
                        "missing or wrong length",
                    ));
                }
            }
        }
        match self.entry(SectionKind::IdBloom, NO_FIELD) {
            Some(s) if s.len > 0 && s.len % bloom::BLOCK_BYTES as u64 == 0 => Ok(()),
            _ => Err(Error::corrupted(
                &self.path,
                meta_offset,
                "id bloom",
                "missing or wrong length",
            )),
        }
    }

    fn entry(&self, kind: SectionKind, field: u16) -> Option<SectionEntry> {
        self.by_key.get(&(kind, field)).map(|&i| self.sections[i])
    }

    /// The bytes of a section, unchecked (bounds were checked at open).
    fn raw(&self, s: SectionEntry) -> &[u8] {
        self.map
            .get(s.offset as usize..(s.offset + s.len) as usize)
            .unwrap_or(&[])
    }

    /// Whether the segment has this section (index sections of kind 11 and
    /// up are absent from version 1 files).
    pub(crate) fn has_section(&self, kind: SectionKind, field: u16) -> bool {
        self.by_key.contains_key(&(kind, field))
    }

    /// The bytes of a section, unchecked: for open-time length checks.
    pub(crate) fn raw_section(&self, kind: SectionKind, field: u16) -> &[u8] {
        self.entry(kind, field).map_or(&[], |s| self.raw(s))
    }

    /// The bytes of a section, checksum verified on first use.
    pub(crate) fn section(&self, kind: SectionKind, field: u16) -> Result<&[u8]> {
        let idx = *self.by_key.get(&(kind, field)).ok_or_else(|| {
            Error::corrupted(
                &self.path,
                0,
                kind.name(),
                format!("no {} section for {}", kind.name(), field_name(field)),
            )
        })?;
        let s = self.sections[idx];
        let bytes = self.raw(s);
        let ok = *self.checked[idx].get_or_init(|| {
            section_crc(self.meta.segment_id, self.meta.day, kind, field, bytes) == s.crc
        });
        if !ok {
            return Err(Error::corrupted(
                &self.path,
                s.offset,
                format!(
                    "{} of {} (day {}, segment {})",
                    kind.name(),
                    field_name(field),
                    self.meta.day,
                    self.meta.segment_id
                ),
                "checksum mismatch",
            ));
        }
        self.check_header(s, bytes)?;
        Ok(bytes)
    }

    pub(crate) fn corrupt(&self, kind: SectionKind, field: u16, why: impl Into<String>) -> Error {
        let offset = self.entry(kind, field).map_or(0, |s| s.offset);
        Error::corrupted(
            &self.path,
            offset,
            format!("{} of {}", kind.name(), field_name(field)),
            why,
        )
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn id(&self) -> u64 {
        self.meta.segment_id
    }
    pub fn day(&self) -> Day {
        self.meta.day
    }
    /// The file's format version: 1 (no index sections) or 2.
    pub fn version(&self) -> u32 {
        self.version
    }
    pub fn rows(&self) -> u32 {
        self.meta.row_count
    }
    pub fn min_ts_ms(&self) -> i64 {
        self.meta.min_ts_ms
    }
    pub fn max_ts_ms(&self) -> i64 {
        self.meta.max_ts_ms
    }
    /// Ids of segments whose rows this segment holds (compaction inputs).
    pub fn supersedes(&self) -> &[u64] {
        &self.meta.supersedes
    }
    pub fn file_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    #[cfg(feature = "internals")]
    /// Where a section lies in the file: (offset, length).
    pub fn section_range(&self, kind: SectionKind, field: u16) -> Option<(u64, u64)> {
        self.entry(kind, field).map(|s| (s.offset, s.len))
    }

    /// Bytes per section kind, for stats.
    pub fn section_sizes(&self) -> Vec<(SectionKind, u16, u64)> {
        self.sections
            .iter()
            .map(|s| (s.kind, s.field, s.len))
            .collect()
    }

    /// The timestamps column, checksum verified, whichever way it is stored.
    pub fn timestamps(&self) -> Result<Timestamps<'_>> {
        let (base, rows) = (self.meta.base_ts_ms, self.meta.row_count);
        let kind = self.ts_kind();
        let bytes = self.section(kind, Field::EventTimestamp as u16)?;
        Ok(match kind {
            SectionKind::PackedTimestamps => Timestamps::packed(base, rows, bytes),
            _ => Timestamps::plain(base, rows, bytes),
        })
    }

    /// The timestamp of `row`.
    pub fn timestamp(&self, row: u32) -> Result<i64> {
        self.timestamps()?
            .get(row)
            .ok_or_else(|| self.ts_corrupt("row out of range"))
    }

    /// An error in the timestamps section, whichever kind it is.
    fn ts_corrupt(&self, why: impl Into<String>) -> Error {
        self.corrupt(self.ts_kind(), Field::EventTimestamp as u16, why)
    }

    /// The text of `field`'s string dictionary (its values' bytes, one
    /// after the other), if it is UTF-8. Checked once per segment.
    pub(crate) fn dict_text<'s>(&'s self, field: Field, body: &'s [u8]) -> Option<&'s str> {
        let key = (body.as_ptr() as usize, body.len());
        let checked = self
            .dict_utf8
            .get(field as usize)
            .map(|c| *c.get_or_init(|| std::str::from_utf8(body).is_ok().then_some(key)))?;
        if checked != Some(key) {
            // Not the slice that was checked (or it failed): check this one.
            return std::str::from_utf8(body).ok();
        }
        // SAFETY: these exact bytes (same address and length, inside the
        // immutable map this reader owns) were checked to be UTF-8 when
        // `checked` was filled in.
        Some(unsafe { std::str::from_utf8_unchecked(body) })
    }

    /// A dictionary-coded column.
    pub fn dict(&self, field: Field) -> Result<DictColumn<'_>> {
        self.dict_with(field, true)
    }

    /// A dictionary column for its values only (count, values, and a
    /// mapped column's code map): its per-row codes are not read, so their
    /// section's checksum is not verified (all the rows' bytes, when a
    /// query only looks a value up to read its bitmap). Every row reads as
    /// code 0 here: rows are read through [`SegmentReader::dict`].
    pub(crate) fn dict_values(&self, field: Field) -> Result<DictColumn<'_>> {
        self.dict_with(field, false)
    }

    /// [`SegmentReader::dict`], with the per-row codes (`rows`) or not.
    fn dict_with(&self, field: Field, rows: bool) -> Result<DictColumn<'_>> {
        let codes_of = |f: u16| {
            if rows {
                self.section(SectionKind::Codes, f)
            } else {
                Ok(&[][..])
            }
        };
        let c = self.column(field, Encoding::Dict)?;
        let values = self.section(SectionKind::DictValues, c.field)?;
        let (codes, map) = match c.encoding {
            Encoding::MappedDict => {
                let parent = Field::from_ordinal(c.parent)
                    .map(|f| self.column(f, Encoding::Dict))
                    .transpose()?
                    .ok_or_else(|| self.corrupt(SectionKind::Meta, NO_FIELD, "bad parent"))?;
                (
                    Codes {
                        bytes: codes_of(parent.field)?,
                        width: parent.width,
                    },
                    Some((
                        Field::from_ordinal(c.parent).unwrap_or(field),
                        Codes {
                            bytes: self.section(SectionKind::CodeMap, c.field)?,
                            width: c.width,
                        },
                    )),
                )
            }
            _ => (
                Codes {
                    bytes: codes_of(c.field)?,
                    width: c.width,
                },
                None,
            ),
        };
        Ok(DictColumn {
            seg: self,
            field,
            values,
            codes,
            map,
            count: c.count,
        })
    }

    /// How many values `field`'s dictionary holds (null not counted), from
    /// the meta alone: no section is read. `None` unless dictionary-coded.
    pub(crate) fn dict_count(&self, field: Field) -> Option<u32> {
        self.column(field, Encoding::Dict).ok().map(|c| c.count)
    }

    /// The descriptor of `field`'s column if it is stored with `encoding`
    /// (`Dict` also matches `MappedDict`).
    fn column(&self, field: Field, encoding: Encoding) -> Result<ColumnMeta> {
        self.columns
            .get(field as usize)
            .copied()
            .flatten()
            .filter(|c| c.encoding.logical() == encoding)
            .ok_or_else(|| Error::Internal(format!("field {field} is not stored as {encoding:?}")))
    }

    /// The serialized (portable roaring) bitmap of rows whose `field` has
    /// dictionary code `code` (0 = null), checksum-verified. `None` when the
    /// field has no bitmap index.
    pub(crate) fn bitmap_bytes(&self, field: Field, code: u32) -> Result<Option<&[u8]>> {
        let Some(s) = self.entry(SectionKind::Bitmaps, field as u16) else {
            return Ok(None);
        };
        let bytes = self.bitmap_section(s, field, code)?;
        let bad = |why: &str| self.corrupt(SectionKind::Bitmaps, field as u16, why);
        let i = code as usize;
        let (Some(start), Some(end)) = (le_u32_at(bytes, 1 + i), le_u32_at(bytes, 2 + i)) else {
            return Err(bad("code out of range"));
        };
        let n = le_u32_at(bytes, 0).unwrap_or(0) as usize;
        let body = 4 + 4 * (n + 1);
        bytes
            .get(body + start as usize..body + end as usize)
            .filter(|_| start <= end)
            .map(Some)
            .ok_or_else(|| bad("bitmap offsets out of range"))
    }

    /// The Bitmaps section `s` of `field`, with the checksum of the group
    /// holding `code` verified (the whole section's, in a file without
    /// group checksums).
    fn bitmap_section(&self, s: SectionEntry, field: Field, code: u32) -> Result<&[u8]> {
        let Some(crcs) = self.entry(SectionKind::BitmapGroups, NO_FIELD) else {
            return self.section(SectionKind::Bitmaps, field as u16);
        };
        let bytes = self.raw(s);
        self.check_header(s, bytes)?;
        let n = le_u32_at(bytes, 0).unwrap_or(0);
        let table = self.section(SectionKind::BitmapGroups, NO_FIELD)?;
        let groups = groups::find(table, field as u16, n)
            .map_err(|why| Error::corrupted(&self.path, crcs.offset, "bitmap checksums", why))?;
        let Some(groups) = groups else {
            return self.section(SectionKind::Bitmaps, field as u16);
        };
        if code >= n {
            return Err(self.corrupt(SectionKind::Bitmaps, field as u16, "code out of range"));
        }
        self.check_group(s, field, table, groups, code >> groups.shift)?;
        Ok(bytes)
    }

    /// Group `g` of the Bitmaps section `s` (of `field`) matches its
    /// checksum in the group checksums section `table`: checked once per
    /// segment, then remembered.
    fn check_group(
        &self,
        s: SectionEntry,
        field: Field,
        table: &[u8],
        groups: groups::Groups,
        g: u32,
    ) -> Result<()> {
        let bytes = self.raw(s);
        let n = le_u32_at(bytes, 0).unwrap_or(0);
        let checked = self
            .groups_checked
            .get(field as usize)
            .ok_or_else(|| Error::Internal(format!("no group checks for {field}")))?
            .get_or_init(|| {
                (0..groups.count.div_ceil(64))
                    .map(|_| AtomicU64::new(0))
                    .collect()
            });
        let (word, bit) = (checked.get(g as usize / 64), 1u64 << (g % 64));
        // Relaxed: the bit records a fact about immutable bytes; a thread
        // that misses it checks again.
        if word.is_some_and(|w| w.load(Ordering::Relaxed) & bit != 0) {
            return Ok(());
        }
        let entries = le_u32_at(table, 0).unwrap_or(0) as usize;
        let codes = groups.codes(g, n);
        let (id, day) = (self.meta.segment_id, self.meta.day);
        let crc = groups::group_crc(id, day, field as u16, g, codes, bytes);
        if crc.is_none() || crc != groups::stored_crc(table, entries, groups, g) {
            return Err(Error::corrupted(
                &self.path,
                s.offset,
                format!(
                    "bitmaps of {field}, codes {} to {} (day {day}, segment {id})",
                    codes.0,
                    codes.1.saturating_sub(1),
                ),
                "checksum mismatch",
            ));
        }
        if let Some(w) = word {
            w.fetch_or(bit, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Every group checksum of every Bitmaps section holds (`verify`; the
    /// sections' own checksums are checked with the others).
    fn verify_bitmap_groups(&self) -> Result<()> {
        if !self.has_section(SectionKind::BitmapGroups, NO_FIELD) {
            return Ok(());
        }
        for field in Field::stored() {
            let Some(s) = self.entry(SectionKind::Bitmaps, field as u16) else {
                continue;
            };
            let n = le_u32_at(self.raw(s), 0).unwrap_or(0);
            let table = self.section(SectionKind::BitmapGroups, NO_FIELD)?;
            let shift = groups::find(table, field as u16, n)
                .ok()
                .flatten()
                .map(|g| g.shift)
                .ok_or_else(|| {
                    self.corrupt(
                        SectionKind::BitmapGroups,
                        NO_FIELD,
                        format!("no entry for {field}"),
                    )
                })?;
            for code in (0..n).step_by(1 << shift) {
                self.bitmap_section(s, field, code)?;
            }
        }
        Ok(())
    }

    /// The bitmap of rows whose `field` has dictionary code `code` (0 = null),
    /// fully deserialized and validated. `None` when the field has no bitmap
    /// index. The query path uses [`SegmentReader::bitmap_view`] instead.
    pub fn bitmap(&self, field: Field, code: u32) -> Result<Option<RoaringBitmap>> {
        let Some(slice) = self.bitmap_bytes(field, code)? else {
            return Ok(None);
        };
        let bad = |why: &str| self.corrupt(SectionKind::Bitmaps, field as u16, why);
        // The strict check first: roaring-rs skips the offset header that
        // croaring views follow (portable.rs), and `verify` reads through here.
        portable::check(slice, self.rows())
            .map_err(|why| bad(&format!("bitmap of code {code}: {why}")))?;
        let bm =
            RoaringBitmap::deserialize_from(slice).map_err(|e| bad(&format!("bad bitmap: {e}")))?;
        if bm.max().is_some_and(|m| m >= self.rows()) {
            return Err(bad("bitmap names a row past the end"));
        }
        Ok(Some(bm))
    }

    /// A cursor over a block-compressed column (1,024-row blocks, or
    /// frames with a dictionary).
    pub fn blocks(&self, field: Field) -> Result<BlockCursor<'_>> {
        let c = self.column(field, Encoding::Blocks)?;
        let (bytes, ddict) = if c.encoding == Encoding::Framed {
            let bytes = self.section(SectionKind::Frames, c.field)?;
            (bytes, Some(self.frame_dict(field)?))
        } else {
            (self.section(SectionKind::Blocks, c.field)?, None)
        };
        Ok(BlockCursor {
            seg: self,
            field,
            bytes,
            ddict,
            block_rows: le_u32_at(bytes, 0).unwrap_or(1).max(1),
            n_blocks: le_u32_at(bytes, 1).unwrap_or(0),
            current: None,
            uuids: None,
            packed: None,
            raw: Vec::new(),
            starts: Vec::new(),
            text: [0; UUID_TEXT_LEN],
            hits: Vec::new(),
            hits_block: None,
        })
    }

    /// A framed column's dictionary (empty when it has no dictionary
    /// section), prepared on first use.
    fn frame_dict(&self, field: Field) -> Result<&zstd::zstd_safe::DDict<'static>> {
        let slot = self
            .frame_dicts
            .get(field as usize)
            .ok_or_else(|| Error::Internal(format!("no frame dictionary slot for {field}")))?;
        if let Some(d) = slot.get() {
            return Ok(d);
        }
        // No section: the column's dictionary is empty.
        let bytes = match self.entry(SectionKind::FrameDict, field as u16) {
            Some(_) => self.section(SectionKind::FrameDict, field as u16)?,
            None => &[],
        };
        let d = zstd::zstd_safe::DDict::try_create(bytes).ok_or_else(|| {
            self.corrupt(SectionKind::FrameDict, field as u16, "zstd cannot load it")
        })?;
        Ok(slot.get_or_init(|| d))
    }

    /// The event-id index, for duplicate checks of many ids.
    pub fn id_index(&self) -> Result<IdIndex<'_>> {
        Ok(IdIndex {
            seg: self,
            bloom: self.section(SectionKind::IdBloom, NO_FIELD)?,
            fingerprints: self.section(SectionKind::IdHashes, NO_FIELD)?,
            rows: self.section(SectionKind::IdRows, NO_FIELD)?,
            fp_bits: fingerprint_bits(self.rows()),
            row_bits: row_bits(self.rows()),
            ids: None,
            companies: None,
        })
    }

    /// Whether an event of `company` with this id (and its xxh3-64 `hash`)
    /// is stored here.
    pub fn contains_id(&self, company: &str, id: &str, hash: u64) -> Result<bool> {
        self.id_index()?.contains(company, id, hash)
    }

    /// Decodes every row into events, in row (timestamp) order.
    pub fn events(&self) -> Result<Vec<Event>> {
        let mut rows = RowDecoder::new(self)?;
        (0..self.rows()).map(|r| rows.event(r)).collect()
    }

    /// Reads every section and checks every checksum and structure: what
    /// `daybook verify` runs.
    pub fn verify(&self) -> Result<()> {
        for s in &self.sections {
            self.section(s.kind, s.field)?;
        }
        self.verify_unread_bytes()?;
        self.verify_bitmap_groups()?;
        self.verify_tokens()?;
        self.timestamps()?
            .check()
            .map_err(|why| self.ts_corrupt(why))?;
        let mut dec = RowDecoder::new(self)?;
        for row in 0..self.rows() {
            let e = dec.event(row)?;
            if e.day() != self.day() {
                return Err(self.ts_corrupt("row outside the day"));
            }
        }
        for field in Field::stored() {
            if encoding_of(field) == Encoding::Dict {
                self.verify_codes(field)?;
            }
        }
        self.verify_needles()
    }

    /// Bytes outside every section (header fields, alignment padding) are
    /// not read by queries, but a flip there is still damage: they must be
    /// exactly what the writer puts there.
    fn verify_unread_bytes(&self) -> Result<()> {
        if self.map.get(0..8) != Some(&SEGMENT_MAGIC[..]) {
            return Err(Error::corrupted(&self.path, 0, "header", "bad magic"));
        }
        if self.map.get(8..16) != Some(&super::format::header_bytes(self.version)[8..16]) {
            return Err(Error::corrupted(
                &self.path,
                8,
                "header",
                "header fields differ from this version's",
            ));
        }
        let mut spans: Vec<(u64, u64)> = self
            .sections
            .iter()
            .map(|s| (s.offset, s.offset + s.len))
            .collect();
        spans.sort_unstable();
        let mut pos = HEADER_LEN as u64;
        let table =
            self.map.len() as u64 - (FOOTER_LEN + self.sections.len() * SECTION_ENTRY_LEN) as u64;
        spans.push((table, table));
        for (start, end) in spans {
            if start < pos {
                return Err(Error::corrupted(
                    &self.path,
                    start,
                    "section table",
                    "sections overlap",
                ));
            }
            if let Some(gap) = self.map.get(pos as usize..start as usize)
                && let Some(i) = gap.iter().position(|&b| b != 0)
            {
                return Err(Error::corrupted(
                    &self.path,
                    pos + i as u64,
                    "padding",
                    "non-zero byte between sections",
                ));
            }
            pos = end;
        }
        Ok(())
    }

    /// A dictionary column's code map names only codes of its dictionary,
    /// and its bitmaps (if indexed) hold exactly the rows of their code.
    fn verify_codes(&self, field: Field) -> Result<()> {
        let dict = self.dict(field)?;
        if let Some((_, map)) = &dict.map {
            let entries = map.bytes.len() * 8 / usize::from(map.width.max(1));
            if (0..entries).any(|p| map.get(p) > dict.count) {
                return Err(self.corrupt(
                    SectionKind::CodeMap,
                    field as u16,
                    "a code past the dictionary",
                ));
            }
        }
        if self.entry(SectionKind::Bitmaps, field as u16).is_none() {
            return Ok(());
        }
        let mut total = 0u64;
        for code in 0..=dict.count() {
            let bm = self.bitmap(field, code)?.unwrap_or_default();
            if bm.iter().any(|row| dict.code(row) != code) {
                return Err(self.corrupt(
                    SectionKind::Bitmaps,
                    field as u16,
                    "bitmap disagrees with codes",
                ));
            }
            total += bm.len();
        }
        if total != u64::from(self.rows()) {
            return Err(self.corrupt(
                SectionKind::Bitmaps,
                field as u16,
                "bitmaps do not cover every row once",
            ));
        }
        Ok(())
    }
}
