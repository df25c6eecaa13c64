//! Byte-level constants and the fixed-size structures of a segment file:
//! header, section table and footer. The normative spec is docs/format.md,
//! "Segment file"; this module is its only implementation.

use crate::codec::Reader;
use crate::time::Day;

pub const SEGMENT_MAGIC: [u8; 8] = *b"DAYBKSEG";
/// The version this build writes. Version 2 may hold the index sections of
/// kinds 11 and up (docs/format.md, "Versions"); a version 1 file has none,
/// and its queries read rows instead.
pub(crate) const SEGMENT_VERSION: u32 = 3;
/// The oldest version this build reads.
pub(crate) const SEGMENT_VERSION_MIN: u32 = 1;
pub(crate) const HEADER_LEN: usize = 16;
pub const FOOTER_LEN: usize = 64;
pub const SECTION_ENTRY_LEN: usize = 32;
/// Sections start at multiples of this, so fixed-width arrays are aligned.
pub(crate) const SECTION_ALIGN: usize = 8;
/// `field` value of sections that belong to no field.
pub(crate) const NO_FIELD: u16 = u16::MAX;

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
    /// Sorted fingerprints (the upper `fingerprint_bits` bits of the xxh3-64
    /// hash) of every event_id, packed.
    IdHashes = 7,
    /// The row of each fingerprint in `IdHashes`, packed in `row_bits` bits.
    IdRows = 8,
    /// A split-block Bloom filter over the event_id hashes.
    IdBloom = 9,
    /// A mapped dictionary column's code for each code of its parent column.
    CodeMap = 10,
    /// A block column's needle index: fingerprints of its distinct
    /// (value, block) pairs and their blocks (segment/needle.rs).
    Needle = 11,
    /// A framed column's frame table and small zstd frames, each of
    /// `frame_rows` rows compressed with the column's dictionary (framed.rs).
    Frames = 12,
    /// A framed column's raw-content zstd dictionary.
    FrameDict = 13,
    /// A token index's listed units: runs with the bytes around them.
    TokenDict = 14,
    /// A token index's roaring bitmap of rows per listed unit.
    TokenPostings = 15,
    /// One CRC per group of consecutive codes of each Bitmaps section, so
    /// a query verifies only the bitmaps it reads (segment/groups.rs).
    BitmapGroups = 16,
    /// Version 3: timestamps as frames of reference, one per 128 rows
    /// ([`encode_packed_timestamps`]); replaces `Timestamps`.
    PackedTimestamps = 17,
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
            10 => CodeMap,
            11 => Needle,
            12 => Frames,
            13 => FrameDict,
            14 => TokenDict,
            15 => TokenPostings,
            16 => BitmapGroups,
            17 => PackedTimestamps,
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
            SectionKind::CodeMap => "code map",
            SectionKind::Needle => "needle index",
            SectionKind::Frames => "frames",
            SectionKind::FrameDict => "frame dictionary",
            SectionKind::TokenDict => "token dictionary",
            SectionKind::TokenPostings => "token postings",
            SectionKind::BitmapGroups => "bitmap checksums",
            SectionKind::PackedTimestamps => "packed timestamps",
        }
    }
}

/// How a column is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Encoding {
    Timestamps = 1,
    /// Dictionary, one code per row.
    Dict = 2,
    Blocks = 3,
    /// Dictionary whose codes are a function of another (`Dict`) column's
    /// codes in this segment: one code per code of that parent column
    /// instead of one per row. Only ever chosen by the writer for a field
    /// whose `encoding_of` is `Dict`; readers see a `DictColumn` either way.
    MappedDict = 4,
    /// A `Blocks` column stored as small zstd frames sharing a per-segment
    /// dictionary (sections `Frames` and `FrameDict`), so that reading one
    /// row decompresses `frame_rows` rows instead of a 1,024-row block.
    /// Only ever chosen by the writer for a field whose `encoding_of` is
    /// `Blocks`; readers see a `BlockCursor` either way.
    Framed = 5,
}

impl Encoding {
    pub(crate) fn from_u8(n: u8) -> Option<Encoding> {
        match n {
            1 => Some(Encoding::Timestamps),
            2 => Some(Encoding::Dict),
            3 => Some(Encoding::Blocks),
            4 => Some(Encoding::MappedDict),
            5 => Some(Encoding::Framed),
            _ => None,
        }
    }

    /// The encoding `encoding_of` names for a field stored this way
    /// (`MappedDict` is a way of storing a `Dict` column, `Framed` one of
    /// storing a `Blocks` column).
    pub fn logical(self) -> Encoding {
        match self {
            Encoding::MappedDict => Encoding::Dict,
            Encoding::Framed => Encoding::Blocks,
            e => e,
        }
    }
}

/// One entry of the section table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SectionEntry {
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
pub(crate) struct Footer {
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

/// The header a file of `version` starts with.
pub(crate) fn header_bytes(version: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&version.to_le_bytes());
    h
}

/// Bytes of one column descriptor in the meta section.
pub(crate) const COLUMN_META_LEN: usize = 12;

/// One column's descriptor in the meta section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ColumnMeta {
    pub field: u16,
    pub encoding: Encoding,
    /// Bits per packed code for `Dict` and `MappedDict` (1 to 32); 32 for
    /// `Timestamps`; 0 for `Blocks`.
    pub width: u8,
    /// Distinct non-null values for `Dict` and `MappedDict`; rows per block
    /// for `Blocks`; rows per frame for `Framed`.
    pub count: u32,
    /// For `MappedDict`: the field whose codes this column's codes are a
    /// function of. `NO_FIELD` for every other encoding.
    pub parent: u16,
}

/// The decoded meta section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
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
            out.extend_from_slice(&c.parent.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
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
        // A merged segment always has a larger id than its inputs; recovery
        // unlinks every id listed, so a list naming the segment itself (or
        // a later one) would delete acknowledged events (docs/format.md).
        if let Some(s) = supersedes.iter().find(|&&s| s >= segment_id) {
            return Err(format!(
                "supersedes lists segment {s}, not below the segment's own id {segment_id}"
            ));
        }
        let n = r.u32().ok_or_else(short)? as usize;
        if n > r.remaining() / COLUMN_META_LEN {
            return Err("column list longer than the section".into());
        }
        let mut columns = Vec::with_capacity(n);
        for _ in 0..n {
            columns.push(ColumnMeta::decode(&mut r)?);
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

impl ColumnMeta {
    /// One column descriptor of the meta section.
    fn decode(r: &mut Reader<'_>) -> Result<ColumnMeta, String> {
        let short = || "meta section cut short".to_string();
        let field = r.u16().ok_or_else(short)?;
        let enc = r.u8().ok_or_else(short)?;
        let encoding =
            Encoding::from_u8(enc).ok_or_else(|| format!("unknown column encoding {enc}"))?;
        let width = r.u8().ok_or_else(short)?;
        let count = r.u32().ok_or_else(short)?;
        let parent = r.u16().ok_or_else(short)?;
        if r.u16().ok_or_else(short)? != 0 {
            return Err("reserved bytes of a column descriptor are not zero".into());
        }
        if (encoding == Encoding::MappedDict) != (parent != NO_FIELD) {
            return Err(format!(
                "column {field}: parent field {parent} does not match its encoding"
            ));
        }
        Ok(ColumnMeta {
            field,
            encoding,
            width,
            count,
            parent,
        })
    }
}

/// Rows per compressed block in `Blocks` columns.
pub(crate) const BLOCK_ROWS: u32 = 1024;

/// Bits per code for a dictionary of `distinct` values (plus code 0 for
/// null): the fewest bits that hold the code `distinct`.
pub fn code_width(distinct: usize) -> u8 {
    bits_for(distinct as u64)
}

/// Bits per entry of the `IdRows` section of a segment of `rows` rows: the
/// fewest bits that hold the row number `rows - 1`.
pub(crate) fn row_bits(rows: u32) -> u8 {
    bits_for(u64::from(rows.saturating_sub(1)))
}

/// Bits per event-id fingerprint in a segment of `rows` rows: 8 more than
/// `row_bits`, at most 32, so that an id that is not stored (and passed the
/// Bloom filter) matches a stored fingerprint with probability below 1/256.
pub(crate) fn fingerprint_bits(rows: u32) -> u8 {
    (row_bits(rows) + 8).min(32)
}

/// The fingerprint of an event-id hash: its upper `bits` bits.
pub(crate) fn fingerprint(hash: u64, bits: u8) -> u32 {
    (hash >> (64 - u32::from(bits.clamp(1, 32)))) as u32
}

/// The fewest bits (1 to 64) that hold `max`.
pub(crate) fn bits_for(max: u64) -> u8 {
    (64 - max.leading_zeros()).max(1) as u8
}

/// Bytes of a packed array of `n` entries of `bits` bits.
pub fn packed_len(n: usize, bits: u8) -> usize {
    (n * usize::from(bits)).div_ceil(8)
}

/// Entry `index` of a packed array of `bits`-bit unsigned integers (`bits`
/// 1 to 32): entry `i` is bits `i*bits .. (i+1)*bits` of the array read as
/// one little-endian bit string (bit `j` is bit `j % 8` of byte `j / 8`).
/// `None` past the end.
#[inline]
pub fn packed_get(bytes: &[u8], bits: u8, index: usize) -> Option<u32> {
    let bits = usize::from(bits);
    let first = index.checked_mul(bits)?;
    let end = first.checked_add(bits)?;
    if end.div_ceil(8) > bytes.len() || bits == 0 || bits > 32 {
        return None;
    }
    let at = first / 8;
    let word = match bytes.get(at..at + 8) {
        Some(b) => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        None => {
            let mut b = [0u8; 8];
            let tail = bytes.get(at..).unwrap_or_default();
            b[..tail.len().min(8)].copy_from_slice(&tail[..tail.len().min(8)]);
            u64::from_le_bytes(b)
        }
    };
    Some(((word >> (first % 8)) & ((1u64 << bits) - 1)) as u32)
}

/// Entries `start..start + out.len()` of a packed array (as `packed_get`
/// reads them) into `out`; entries past the end read as 0. One pass that
/// reads each 8-byte window once, for scans that count codes in bulk: a
/// row costs about a nanosecond here against several through `packed_get`
/// (its overflow checks and the caller's per-row dispatch).
pub fn unpack_range(bytes: &[u8], bits: u8, start: usize, out: &mut [u32]) {
    if bits == 0 || bits > 32 {
        out.fill(0);
        return;
    }
    let width = usize::from(bits);
    let mask = (1u64 << bits) - 1;
    // Entries whose 8-byte window lies inside `bytes` take the fast path.
    let fast_end = (bytes.len().saturating_sub(8) * 8 / width).min(start.saturating_add(out.len()));
    let mut bit = start.saturating_mul(width);
    for (i, o) in out.iter_mut().enumerate() {
        let at = bit / 8;
        *o = if start + i < fast_end
            && let Some(w) = bytes.get(at..at + 8)
        {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            ((u64::from_le_bytes(b) >> (bit % 8)) & mask) as u32
        } else {
            packed_get(bytes, bits, start + i).unwrap_or(0)
        };
        bit += width;
    }
}

/// The entries at `rows` (as `packed_get` reads them) into `out` (as long
/// as `rows`); entries past the end read as 0.
pub fn unpack_rows(bytes: &[u8], bits: u8, rows: &[u32], out: &mut [u32]) {
    if bits == 0 || bits > 32 {
        out.fill(0);
        return;
    }
    let width = usize::from(bits);
    let mask = (1u64 << bits) - 1;
    for (r, o) in rows.iter().zip(out.iter_mut()) {
        let bit = *r as usize * width;
        let at = bit / 8;
        *o = match bytes.get(at..at + 8) {
            Some(w) => {
                let mut b = [0u8; 8];
                b.copy_from_slice(w);
                ((u64::from_le_bytes(b) >> (bit % 8)) & mask) as u32
            }
            None => packed_get(bytes, bits, *r as usize).unwrap_or(0),
        };
    }
}

/// Packs `values` (each below `2^bits`, `bits` 1 to 32) as `packed_get` reads them.
pub fn pack(values: impl IntoIterator<Item = u32>, bits: u8) -> Vec<u8> {
    let bits = u32::from(bits.clamp(1, 32));
    let mask = (1u64 << bits) - 1;
    let values = values.into_iter();
    let mut out = Vec::with_capacity(packed_len(values.size_hint().0, bits as u8));
    let (mut acc, mut used) = (0u64, 0u32);
    for v in values {
        acc |= (u64::from(v) & mask) << used;
        used += bits;
        if used >= 32 {
            out.extend_from_slice(&(acc as u32).to_le_bytes());
            acc >>= 32;
            used -= 32;
        }
    }
    while used > 0 {
        out.push(acc as u8);
        acc >>= 8;
        used = used.saturating_sub(8);
    }
    out
}

/// Rows per frame of a `PackedTimestamps` section.
pub(crate) const TS_FRAME_ROWS: usize = 128;

/// Frames of a `PackedTimestamps` section of `rows` rows.
pub(crate) fn ts_frames(rows: u32) -> usize {
    (rows as usize).div_ceil(TS_FRAME_ROWS)
}

/// Deltas stored for frame `k` of a section of `rows` rows: its rows,
/// padded with zero deltas to a multiple of 8 (so a frame of width `w`
/// takes exactly `padded / 8 * w` bytes and its width follows from its
/// length).
pub(crate) fn ts_frame_padded(rows: u32, k: usize) -> usize {
    let left = (rows as usize).saturating_sub(k.saturating_mul(TS_FRAME_ROWS));
    left.min(TS_FRAME_ROWS).next_multiple_of(8)
}

/// The `PackedTimestamps` section of rows whose offsets from the segment's
/// base are `offsets` (ascending; docs/format.md, "Packed timestamps
/// section"): for `F` frames of 128 rows, `F` u32 firsts (each frame's
/// first offset), `F + 1` u32 starts (where each frame's deltas begin in
/// the data), then the data: each row's offset minus its frame's first,
/// packed at the frame's width (0 when every delta is 0), the last frame
/// padded with zero deltas to a multiple of 8 rows.
pub fn encode_packed_timestamps(offsets: &[u32]) -> Vec<u8> {
    let frames: Vec<&[u32]> = offsets.chunks(TS_FRAME_ROWS).collect();
    let mut firsts = Vec::with_capacity(frames.len() * 4);
    let mut starts = Vec::with_capacity((frames.len() + 1) * 4);
    let mut data = Vec::new();
    starts.extend_from_slice(&0u32.to_le_bytes());
    for f in &frames {
        let first = f.first().copied().unwrap_or(0);
        let max = f
            .iter()
            .map(|&o| o.saturating_sub(first))
            .max()
            .unwrap_or(0);
        firsts.extend_from_slice(&first.to_le_bytes());
        if max > 0 {
            let width = bits_for(u64::from(max));
            let pad = f.len().next_multiple_of(8) - f.len();
            let deltas = f.iter().map(|&o| o.saturating_sub(first));
            data.extend_from_slice(&pack(deltas.chain(std::iter::repeat_n(0, pad)), width));
        }
        starts.extend_from_slice(&(data.len() as u32).to_le_bytes());
    }
    firsts.extend_from_slice(&starts);
    firsts.extend_from_slice(&data);
    firsts
}

/// Per-block formats of a `Blocks` section (the first byte of each frame).
pub(crate) const BLOCK_ZSTD: u8 = 0;
/// Every value of the block is a canonical lowercase UUID string, stored as
/// its 16 bytes.
pub(crate) const BLOCK_UUID: u8 = 1;
/// Bytes of a UUID in text form (8-4-4-4-12 hex digits).
pub(crate) const UUID_TEXT_LEN: usize = 36;

/// The 16 bytes of `s` if it is a canonical lowercase UUID in text form:
/// 8-4-4-4-12 digits of `0-9a-f` separated by `-` (any version or variant).
pub fn parse_uuid(s: &[u8]) -> Option<[u8; 16]> {
    let s: &[u8; UUID_TEXT_LEN] = s.try_into().ok()?;
    if s[8] != b'-' || s[13] != b'-' || s[18] != b'-' || s[23] != b'-' {
        return None;
    }
    // Offsets of the two digits of each byte; a bad digit sets bit 4.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let mut out = [0u8; 16];
    let mut bad = 0u8;
    for (byte, &at) in out.iter_mut().zip(&AT) {
        let (hi, lo) = (
            HEX_VALUE[usize::from(s[at])],
            HEX_VALUE[usize::from(s[at + 1])],
        );
        bad |= hi | lo;
        *byte = (hi << 4) | (lo & 15);
    }
    (bad & 0x10 == 0).then_some(out)
}

/// The value of each lowercase hex digit; 0x10 for every other byte.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0x10u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// The canonical lowercase text form of a UUID's 16 bytes.
pub fn format_uuid(b: &[u8; 16]) -> [u8; UUID_TEXT_LEN] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; UUID_TEXT_LEN];
    let mut o = 0;
    for (k, &byte) in b.iter().enumerate() {
        o += usize::from(matches!(k, 4 | 6 | 8 | 10));
        out[o] = HEX[usize::from(byte >> 4)];
        out[o + 1] = HEX[usize::from(byte & 15)];
        o += 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bulk readers agree with `packed_get` for every width, at every
    /// start, near the end of the array (where the 8-byte window runs out)
    /// and past it (0).
    #[test]
    fn bulk_unpacking_reads_what_packed_get_reads() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for bits in 1..=32u8 {
            let n = 300 + usize::from(bits);
            let values: Vec<u32> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x as u32) & (((1u64 << bits) - 1) as u32)
                })
                .collect();
            let bytes = pack(values.iter().copied(), bits);
            let want = |i: usize| packed_get(&bytes, bits, i).unwrap_or(0);
            for start in [0, 1, 7, 63, n - 40, n - 1, n, n + 5] {
                let mut out = vec![u32::MAX; 45];
                unpack_range(&bytes, bits, start, &mut out);
                for (k, got) in out.iter().enumerate() {
                    assert_eq!(*got, want(start + k), "bits {bits} row {}", start + k);
                }
            }
            let rows: Vec<u32> = (0..n as u32 + 3).step_by(3).collect();
            let mut out = vec![u32::MAX; rows.len()];
            unpack_rows(&bytes, bits, &rows, &mut out);
            for (r, got) in rows.iter().zip(&out) {
                assert_eq!(*got, want(*r as usize), "bits {bits} row {r}");
            }
            assert_eq!(values.first().copied(), Some(want(0)));
        }
    }
}
