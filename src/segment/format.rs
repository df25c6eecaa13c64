//! Byte-level constants and the fixed-size structures of a segment file:
//! header, section table and footer. The normative spec is docs/format.md,
//! "Segment file"; this module is its only implementation.

use crate::codec::Reader;
use crate::time::Day;

pub const SEGMENT_MAGIC: [u8; 8] = *b"DAYBKSEG";
pub const SEGMENT_VERSION: u32 = 1;
pub const HEADER_LEN: usize = 16;
pub const FOOTER_LEN: usize = 64;
pub const SECTION_ENTRY_LEN: usize = 32;
/// Sections start at multiples of this, so fixed-width arrays are aligned.
pub const SECTION_ALIGN: usize = 8;
/// `field` value of sections that belong to no field.
pub const NO_FIELD: u16 = u16::MAX;

/// What a section holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum SectionKind {
    /// Segment metadata: ids, time range, column descriptors.
    Meta = 1,
    /// Timestamps as u32 offsets from the segment's base timestamp.
    Timestamps = 2,
    /// A dictionary column's sorted distinct values.
    DictValues = 3,
    /// A dictionary column's per-row codes (0 = null, k = k-th value).
    Codes = 4,
    /// A block-compressed column.
    Blocks = 5,
    /// One roaring bitmap per dictionary code.
    Bitmaps = 6,
    /// Sorted xxh3-64 hashes of every event_id.
    IdHashes = 7,
    /// The row of each hash in `IdHashes`.
    IdRows = 8,
    /// A split-block Bloom filter over the event_id hashes.
    IdBloom = 9,
}

impl SectionKind {
    pub fn from_u16(n: u16) -> Option<SectionKind> {
        use SectionKind::*;
        Some(match n {
            1 => Meta,
            2 => Timestamps,
            3 => DictValues,
            4 => Codes,
            5 => Blocks,
            6 => Bitmaps,
            7 => IdHashes,
            8 => IdRows,
            9 => IdBloom,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SectionKind::Meta => "meta",
            SectionKind::Timestamps => "timestamps",
            SectionKind::DictValues => "dictionary",
            SectionKind::Codes => "codes",
            SectionKind::Blocks => "blocks",
            SectionKind::Bitmaps => "bitmaps",
            SectionKind::IdHashes => "id hashes",
            SectionKind::IdRows => "id rows",
            SectionKind::IdBloom => "id bloom",
        }
    }
}

/// How a column is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Encoding {
    Timestamps = 1,
    Dict = 2,
    Blocks = 3,
}

impl Encoding {
    pub fn from_u8(n: u8) -> Option<Encoding> {
        match n {
            1 => Some(Encoding::Timestamps),
            2 => Some(Encoding::Dict),
            3 => Some(Encoding::Blocks),
            _ => None,
        }
    }
}

/// One entry of the section table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionEntry {
    pub kind: SectionKind,
    pub field: u16,
    pub offset: u64,
    pub len: u64,
    pub crc: u32,
}

impl SectionEntry {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.kind as u16).to_le_bytes());
        out.extend_from_slice(&self.field.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<SectionEntry, String> {
        let short = || "section table cut short".to_string();
        let kind_n = r.u16().ok_or_else(short)?;
        let kind = SectionKind::from_u16(kind_n)
            .ok_or_else(|| format!("unknown section kind {kind_n}"))?;
        let field = r.u16().ok_or_else(short)?;
        let _reserved = r.u32().ok_or_else(short)?;
        let offset = r.u64().ok_or_else(short)?;
        let len = r.u64().ok_or_else(short)?;
        let crc = r.u32().ok_or_else(short)?;
        let _reserved = r.u32().ok_or_else(short)?;
        Ok(SectionEntry {
            kind,
            field,
            offset,
            len,
            crc,
        })
    }
}

/// The checksum of a section: CRC32 over the segment id, day, kind and field
/// followed by the bytes, so that a section copied into the wrong place (or
/// the wrong file) fails its check.
pub fn section_crc(segment_id: u64, day: Day, kind: SectionKind, field: u16, bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&segment_id.to_le_bytes());
    h.update(&day.0.to_le_bytes());
    h.update(&(kind as u16).to_le_bytes());
    h.update(&field.to_le_bytes());
    h.update(bytes);
    h.finalize()
}

/// The fixed-size trailer of every segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    pub version: u32,
    pub section_count: u32,
    pub table_offset: u64,
    pub segment_id: u64,
    pub day: Day,
    pub row_count: u32,
    pub table_crc: u32,
}

impl Footer {
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut b = [0u8; FOOTER_LEN];
        b[0..8].copy_from_slice(&SEGMENT_MAGIC);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[12..16].copy_from_slice(&self.section_count.to_le_bytes());
        b[16..24].copy_from_slice(&self.table_offset.to_le_bytes());
        b[24..32].copy_from_slice(&self.segment_id.to_le_bytes());
        b[32..36].copy_from_slice(&self.day.0.to_le_bytes());
        b[36..40].copy_from_slice(&self.row_count.to_le_bytes());
        b[40..44].copy_from_slice(&self.table_crc.to_le_bytes());
        let crc = crc32fast::hash(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a footer. Errors name the offset within the footer.
    pub fn decode(b: &[u8]) -> Result<Footer, (usize, String)> {
        if b.len() != FOOTER_LEN {
            return Err((0, "footer has the wrong length".into()));
        }
        let mut r = Reader::new(b);
        if r.take(8) != Some(&SEGMENT_MAGIC[..]) {
            return Err((0, "bad footer magic".into()));
        }
        let stored_crc = u32::from_le_bytes([b[60], b[61], b[62], b[63]]);
        if crc32fast::hash(&b[..60]) != stored_crc {
            return Err((60, "footer checksum mismatch".into()));
        }
        let short = || (0, "footer cut short".to_string());
        Ok(Footer {
            version: r.u32().ok_or_else(short)?,
            section_count: r.u32().ok_or_else(short)?,
            table_offset: r.u64().ok_or_else(short)?,
            segment_id: r.u64().ok_or_else(short)?,
            day: Day(r.u32().ok_or_else(short)? as i32),
            row_count: r.u32().ok_or_else(short)?,
            table_crc: r.u32().ok_or_else(short)?,
        })
    }
}

pub fn header_bytes() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h
}

/// One column's descriptor in the meta section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnMeta {
    pub field: u16,
    pub encoding: Encoding,
    /// Bytes per code for `Dict` (1, 2 or 4); 4 for `Timestamps`; 0 otherwise.
    pub width: u8,
    /// Distinct non-null values for `Dict`; rows per block for `Blocks`.
    pub count: u32,
}

/// The decoded meta section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    pub segment_id: u64,
    pub day: Day,
    pub row_count: u32,
    /// Timestamps are stored as u32 offsets from this.
    pub base_ts_ms: i64,
    pub min_ts_ms: i64,
    pub max_ts_ms: i64,
    /// Segments whose rows this one holds (a compaction's inputs).
    pub supersedes: Vec<u64>,
    pub columns: Vec<ColumnMeta>,
}

impl Meta {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.segment_id.to_le_bytes());
        out.extend_from_slice(&self.day.0.to_le_bytes());
        out.extend_from_slice(&self.row_count.to_le_bytes());
        out.extend_from_slice(&self.base_ts_ms.to_le_bytes());
        out.extend_from_slice(&self.min_ts_ms.to_le_bytes());
        out.extend_from_slice(&self.max_ts_ms.to_le_bytes());
        out.extend_from_slice(&(self.supersedes.len() as u32).to_le_bytes());
        for id in &self.supersedes {
            out.extend_from_slice(&id.to_le_bytes());
        }
        out.extend_from_slice(&(self.columns.len() as u32).to_le_bytes());
        for c in &self.columns {
            out.extend_from_slice(&c.field.to_le_bytes());
            out.push(c.encoding as u8);
            out.push(c.width);
            out.extend_from_slice(&c.count.to_le_bytes());
        }
        out
    }

    pub fn decode(b: &[u8]) -> Result<Meta, String> {
        let mut r = Reader::new(b);
        let short = || "meta section cut short".to_string();
        let segment_id = r.u64().ok_or_else(short)?;
        let day = Day(r.u32().ok_or_else(short)? as i32);
        let row_count = r.u32().ok_or_else(short)?;
        let base_ts_ms = r.i64().ok_or_else(short)?;
        let min_ts_ms = r.i64().ok_or_else(short)?;
        let max_ts_ms = r.i64().ok_or_else(short)?;
        let n = r.u32().ok_or_else(short)? as usize;
        if n > r.remaining() / 8 {
            return Err("supersedes list longer than the section".into());
        }
        let mut supersedes = Vec::with_capacity(n);
        for _ in 0..n {
            supersedes.push(r.u64().ok_or_else(short)?);
        }
        let n = r.u32().ok_or_else(short)? as usize;
        if n > r.remaining() / 8 {
            return Err("column list longer than the section".into());
        }
        let mut columns = Vec::with_capacity(n);
        for _ in 0..n {
            let field = r.u16().ok_or_else(short)?;
            let enc = r.u8().ok_or_else(short)?;
            let encoding =
                Encoding::from_u8(enc).ok_or_else(|| format!("unknown column encoding {enc}"))?;
            let width = r.u8().ok_or_else(short)?;
            let count = r.u32().ok_or_else(short)?;
            columns.push(ColumnMeta {
                field,
                encoding,
                width,
                count,
            });
        }
        if r.remaining() != 0 {
            return Err("bytes left over after the meta section".into());
        }
        Ok(Meta {
            segment_id,
            day,
            row_count,
            base_ts_ms,
            min_ts_ms,
            max_ts_ms,
            supersedes,
            columns,
        })
    }
}

/// Rows per compressed block in `Blocks` columns.
pub const BLOCK_ROWS: u32 = 1024;

/// Bytes per code for a dictionary of `distinct` values (plus code 0 for null).
pub fn code_width(distinct: usize) -> u8 {
    if distinct < 0xff {
        1
    } else if distinct < 0xffff {
        2
    } else {
        4
    }
}
