//! Column readers over a mapped segment: the id index, dictionary columns,
//! block-compressed columns, and whole-row decoding.

use crate::codec::{Reader, decode_value, le_u32_at, le_u64_at};
use crate::error::{Error, Result};
use crate::event::{Event, Field, FieldKind, Value};
use crate::segment::bloom;
use crate::segment::format::{
    BLOCK_UUID, BLOCK_ZSTD, Encoding, NO_FIELD, SectionKind, UUID_TEXT_LEN, fingerprint,
    format_uuid, packed_get, unpack_range, unpack_rows,
};
use crate::segment::{encoding_of, framed, key_value};

use super::SegmentReader;

/// A segment's event-id index: Bloom filter, sorted fingerprints (the upper
/// `fingerprint_bits` bits of the xxh3-64 hashes of the event ids), their
/// rows. The hashes are of the id alone; an event's identity is (company,
/// id), so a match is confirmed against both stored values.
pub struct IdIndex<'a> {
    pub(super) seg: &'a SegmentReader,
    pub(super) bloom: &'a [u8],
    pub(super) fingerprints: &'a [u8],
    pub(super) rows: &'a [u8],
    pub(super) fp_bits: u8,
    pub(super) row_bits: u8,
    pub(super) ids: Option<BlockCursor<'a>>,
    pub(super) companies: Option<DictColumn<'a>>,
}

impl IdIndex<'_> {
    /// Whether an event of `company` with this id (and its xxh3-64 `hash`)
    /// is stored. Exact: every row with a matching fingerprint is checked
    /// (the same id may be stored once per company, and fingerprints of
    /// other ids collide), company first (a dictionary lookup), then the id.
    pub fn contains(&mut self, company: &str, id: &str, hash: u64) -> Result<bool> {
        if !bloom::may_contain(self.bloom, hash) {
            return Ok(false);
        }
        let fp = fingerprint(hash, self.fp_bits);
        let n = self.seg.rows() as usize;
        // First index whose fingerprint is >= `fp` (fingerprints are sorted).
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if packed_get(self.fingerprints, self.fp_bits, mid).unwrap_or(u32::MAX) < fp {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        while lo < n && packed_get(self.fingerprints, self.fp_bits, lo) == Some(fp) {
            let row = packed_get(self.rows, self.row_bits, lo)
                .ok_or_else(|| self.seg.corrupt(SectionKind::IdRows, NO_FIELD, "cut short"))?;
            lo += 1;
            let companies = match &mut self.companies {
                Some(c) => c,
                None => self.companies.insert(self.seg.dict(Field::CompanyName)?),
            };
            if companies.get(row)? != Value::Str(company) {
                continue;
            }
            let cursor = match &mut self.ids {
                Some(c) => c,
                None => self.ids.insert(self.seg.blocks(Field::EventId)?),
            };
            if cursor.get(row)? == Value::Str(id) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl IdIndex<'_> {
    /// Adds to `out` the rows whose `event_id` may hash to `hash`: those
    /// with its fingerprint (every row holding such an id is among them;
    /// none if the Bloom filter rules the hash out).
    pub fn fingerprint_rows(&self, hash: u64, out: &mut Vec<u32>) -> Result<()> {
        if !bloom::may_contain(self.bloom, hash) {
            return Ok(());
        }
        let fp = fingerprint(hash, self.fp_bits);
        let n = self.seg.rows() as usize;
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if packed_get(self.fingerprints, self.fp_bits, mid).unwrap_or(u32::MAX) < fp {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        while lo < n && packed_get(self.fingerprints, self.fp_bits, lo) == Some(fp) {
            out.push(
                packed_get(self.rows, self.row_bits, lo)
                    .ok_or_else(|| self.seg.corrupt(SectionKind::IdRows, NO_FIELD, "cut short"))?,
            );
            lo += 1;
        }
        Ok(())
    }
}

/// A packed array of `width`-bit codes, in place in the map.
#[derive(Clone, Copy)]
pub(super) struct Codes<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) width: u8,
}

impl Codes<'_> {
    /// Entry `i`; 0 past the end (lengths were checked at open).
    #[inline]
    pub(super) fn get(&self, i: usize) -> u32 {
        packed_get(self.bytes, self.width, i).unwrap_or(0)
    }

    /// The entries of `rows` into `out` (as long as the rows), in bulk.
    fn get_many(&self, rows: RowChunk<'_>, out: &mut [u32]) {
        match rows {
            RowChunk::Range(start, _) => unpack_range(self.bytes, self.width, start as usize, out),
            RowChunk::List(rows) => unpack_rows(self.bytes, self.width, rows, out),
        }
    }
}

/// Rows whose codes are read in bulk: a run of consecutive rows (start,
/// count), or a sorted list.
#[derive(Clone, Copy)]
pub enum RowChunk<'r> {
    Range(u32, u32),
    List(&'r [u32]),
}

impl RowChunk<'_> {
    /// How many rows.
    pub fn row_count(&self) -> usize {
        match self {
            RowChunk::Range(_, n) => *n as usize,
            RowChunk::List(rows) => rows.len(),
        }
    }
}

/// A dictionary column read in place: codes are bit-packed fixed-width
/// integers in the map; values are looked up only when needed. A mapped
/// column (`Encoding::MappedDict`) reads its parent's code for the row, then
/// its own code for that parent code from the code map.
pub struct DictColumn<'a> {
    pub(super) seg: &'a SegmentReader,
    pub(super) field: Field,
    pub(super) values: &'a [u8],
    /// Per-row codes: this column's, or its parent's when mapped.
    pub(super) codes: Codes<'a>,
    /// The parent field and the code map, when mapped.
    pub(super) map: Option<(Field, Codes<'a>)>,
    pub(super) count: u32,
}

impl<'a> DictColumn<'a> {
    /// The field this column stores.
    pub fn field(&self) -> Field {
        self.field
    }

    /// Distinct non-null values.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The code of `row` (0 = null). Rows past the end read as 0; the codes
    /// section's length was checked against the row count at open.
    #[inline]
    pub fn code(&self, row: u32) -> u32 {
        let c = self.codes.get(row as usize);
        match &self.map {
            None => c,
            Some((_, map)) => map.get(c as usize),
        }
    }

    /// A string column's values in one piece: the text holding every value
    /// back to back in code order, and `bounds` (count + 1 offsets) with
    /// code `k`'s value at `bounds[k - 1]..bounds[k]`, checked (increasing,
    /// within the text, on character boundaries) as `value` checks one.
    /// `None` for a column of another kind.
    pub fn str_values(&self) -> Result<Option<(&'a str, Vec<usize>)>> {
        if self.field.kind() != FieldKind::Str {
            return Ok(None);
        }
        let bad = || {
            self.seg.corrupt(
                SectionKind::DictValues,
                self.field as u16,
                "value offsets out of range or not on a character boundary",
            )
        };
        let n = self.count as usize;
        let body = 4 + 4 * (n + 1);
        let text = self
            .seg
            .dict_text(self.field, self.values.get(body..).unwrap_or(&[]))
            .ok_or_else(|| {
                self.seg.corrupt(
                    SectionKind::DictValues,
                    self.field as u16,
                    "values are not UTF-8",
                )
            })?;
        let mut bounds = Vec::with_capacity(n + 1);
        for i in 0..=n {
            let at = le_u32_at(self.values, 1 + i).ok_or_else(bad)? as usize;
            let ok = at <= text.len()
                && text.is_char_boundary(at)
                && bounds.last().is_none_or(|prev| *prev < at);
            if !ok {
                return Err(bad());
            }
            bounds.push(at);
        }
        Ok(Some((text, bounds)))
    }

    /// The codes of `rows` into `out[..rows.row_count()]` (0 = null), as `code`
    /// reads them one at a time. `out` must hold the rows.
    pub fn codes_into(&self, rows: RowChunk<'_>, out: &mut [u32]) {
        let Some(out) = out.get_mut(..rows.row_count()) else {
            return;
        };
        self.codes.get_many(rows, out);
        if let Some((_, map)) = &self.map {
            for c in out.iter_mut() {
                *c = map.get(*c as usize);
            }
        }
    }

    /// The field whose codes this column's codes are a function of in this
    /// segment (`Encoding::MappedDict`), or `None` for per-row codes.
    /// Grouping by such a column can count the parent's codes and then map
    /// each with [`DictColumn::code_of_parent`].
    pub fn parent(&self) -> Option<Field> {
        self.map.as_ref().map(|(f, _)| *f)
    }

    /// Per code of the parent (0..=`parent_count`), `bits` of this column's
    /// code on its rows (`code_of_parent` for each, the map read in bulk: a
    /// predicate on `user_email` is a set of `user_id` codes, 5,000 a day,
    /// on every query that filters by email). For a column with per-row
    /// codes, `bits` itself up to `parent_count`.
    pub fn parent_bits(&self, bits: &[bool], parent_count: u32) -> Vec<bool> {
        let n = parent_count as usize + 1;
        let mut out = Vec::with_capacity(n);
        let Some((_, map)) = &self.map else {
            out.extend((0..n).map(|c| bits.get(c).copied().unwrap_or(false)));
            return out;
        };
        let mut codes = [0u32; 256];
        let mut start = 0usize;
        while start < n {
            let chunk = codes.get_mut(..(n - start).min(256)).unwrap_or_default();
            map.get_many(RowChunk::Range(start as u32, chunk.len() as u32), chunk);
            out.extend(
                chunk
                    .iter()
                    .map(|c| bits.get(*c as usize).copied().unwrap_or(false)),
            );
            start += chunk.len();
        }
        out
    }

    /// For a mapped column, its code on the rows whose parent has code
    /// `parent_code`; for a column with per-row codes, `parent_code` itself.
    #[inline]
    pub fn code_of_parent(&self, parent_code: u32) -> u32 {
        match &self.map {
            None => parent_code,
            Some((_, map)) => map.get(parent_code as usize),
        }
    }

    /// The value of dictionary code `code`.
    pub fn value(&self, code: u32) -> Result<Value<'a>> {
        if code == 0 {
            return Ok(Value::Null);
        }
        if code > self.count {
            let kind = if self.map.is_some() {
                SectionKind::CodeMap
            } else {
                SectionKind::Codes
            };
            return Err(self.seg.corrupt(
                kind,
                self.field as u16,
                format!("code {code} past the dictionary"),
            ));
        }
        let i = code as usize - 1;
        let bad = |why: &str| {
            self.seg
                .corrupt(SectionKind::DictValues, self.field as u16, why)
        };
        if self.field.kind() == FieldKind::Str {
            let body = 4 + 4 * (self.count as usize + 1);
            let (Some(start), Some(end)) =
                (le_u32_at(self.values, 1 + i), le_u32_at(self.values, 2 + i))
            else {
                return Err(bad("offsets cut short"));
            };
            // The whole text is checked once per segment (not per column
            // opened, not per value read); `get` checks the value's bounds
            // fall on character boundaries.
            let text = self
                .seg
                .dict_text(self.field, self.values.get(body..).unwrap_or(&[]))
                .ok_or_else(|| bad("values are not UTF-8"))?;
            text.get(start as usize..end as usize)
                .filter(|_| start < end)
                .map(Value::Str)
                .ok_or_else(|| bad("value offsets out of range or not on a character boundary"))
        } else {
            let key = le_u64_at(self.values.get(4..).unwrap_or(&[]), i)
                .ok_or_else(|| bad("values cut short"))?;
            key_value(self.field, key).ok_or_else(|| bad(&format!("{key} is not a valid value")))
        }
    }

    /// The value of `row`.
    pub fn get(&self, row: u32) -> Result<Value<'a>> {
        self.value(self.code(row))
    }
}

/// Reads a block-compressed column, keeping the last decoded block (a
/// block of a framed column is one of its frames).
pub struct BlockCursor<'a> {
    pub(super) seg: &'a SegmentReader,
    pub(super) field: Field,
    /// The blocks section, or the frames section of a framed column.
    pub(super) bytes: &'a [u8],
    /// A framed column's prepared dictionary; `None` for 1,024-row blocks.
    pub(super) ddict: Option<&'a zstd::zstd_safe::DDict<'static>>,
    pub(super) block_rows: u32,
    pub(super) n_blocks: u32,
    pub(super) current: Option<u32>,
    /// The current block's 16-byte values, in place, when it is a UUID block.
    pub(super) uuids: Option<&'a [u8]>,
    /// The current frame's codes, in place, when it is a bit-packed frame.
    pub(super) packed: Option<framed::Packed<'a>>,
    /// The current block decompressed, when it is a zstd block.
    pub(super) raw: Vec<u8>,
    pub(super) starts: Vec<u32>,
    /// The text of the last UUID returned.
    pub(super) text: [u8; UUID_TEXT_LEN],
    /// `row_contains`: per row of `hits_block`, whether its value holds
    /// the needle.
    pub(super) hits: Vec<bool>,
    pub(super) hits_block: Option<u32>,
}

impl<'a> BlockCursor<'a> {
    fn bad(&self, why: impl Into<String>) -> Error {
        let kind = match self.ddict {
            Some(_) => SectionKind::Frames,
            None => SectionKind::Blocks,
        };
        self.seg.corrupt(kind, self.field as u16, why)
    }

    fn load(&mut self, block: u32) -> Result<()> {
        if block >= self.n_blocks {
            return Err(self.bad(format!("block {block} past the end")));
        }
        self.current = None;
        if let Some(ddict) = self.ddict {
            self.load_frame(block, ddict)?;
            self.current = Some(block);
            return Ok(());
        }
        let table_end = 8 + 8 * (self.n_blocks as usize + 1);
        let table = self.bytes.get(8..).unwrap_or(&[]);
        let (Some(start), Some(end)) = (
            le_u64_at(table, block as usize),
            le_u64_at(table, block as usize + 1),
        ) else {
            return Err(self.bad("block table cut short"));
        };
        let bytes: &'a [u8] = self.bytes;
        let frame = usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .filter(|(s, e)| s < e)
            .and_then(|(s, e)| bytes.get(table_end.checked_add(s)?..table_end.checked_add(e)?))
            .ok_or_else(|| self.bad(format!("block {block} offsets out of range")))?;
        let rows_in_block = (self.seg.rows() - block * self.block_rows).min(self.block_rows);
        let (format, body) = frame.split_first().unwrap_or((&u8::MAX, &[]));
        match *format {
            BLOCK_UUID => {
                if self.field.kind() != FieldKind::Str || body.len() != rows_in_block as usize * 16
                {
                    return Err(self.bad(format!("UUID block {block} has the wrong length")));
                }
                self.uuids = Some(body);
            }
            BLOCK_ZSTD => {
                self.uuids = None;
                self.load_zstd(block, body, rows_in_block)?;
            }
            f => return Err(self.bad(format!("block {block} has unknown format {f}"))),
        }
        self.current = Some(block);
        Ok(())
    }

    fn load_zstd(&mut self, block: u32, body: &[u8], rows_in_block: u32) -> Result<()> {
        let raw_len = le_u32_at(body, 0).unwrap_or(0) as usize;
        let frame = body.get(4..).unwrap_or(&[]);
        // A block holds at most block_rows values of at most 8 KiB each.
        if body.len() < 4 || raw_len > self.block_rows as usize * (crate::event::MAX_URL_BYTES + 16)
        {
            return Err(self.bad(format!("block {block} claims {raw_len} bytes")));
        }
        self.raw.clear();
        self.raw.reserve(raw_len);
        let n = with_decompressor(|z| z.decompress(&mut self.raw, frame))?;
        if n.map_err(|e| self.bad(format!("block {block}: {}", zstd_error(e))))? != raw_len
            || self.raw.len() != raw_len
        {
            return Err(self.bad(format!("block {block} decompressed to the wrong size")));
        }
        self.index_values(block, rows_in_block)
    }

    /// Decompresses frame `frame` of a framed column with its dictionary:
    /// the frame states its size, at most `frame_rows` values of at most
    /// 8 KiB each.
    fn load_frame(&mut self, frame: u32, ddict: &zstd::zstd_safe::DDict<'static>) -> Result<()> {
        self.uuids = None;
        self.packed = None;
        let rows_in_frame = (self.seg.rows() - frame * self.block_rows).min(self.block_rows);
        let (format, bytes) = framed::frame(self.bytes, self.n_blocks, frame)
            .and_then(|f| f.split_first())
            .ok_or_else(|| self.bad(format!("frame {frame} offsets out of range")))?;
        match *format {
            framed::FRAME_ZSTD => {}
            framed::FRAME_PACKED if self.field.kind() == FieldKind::Int => {
                let p = framed::packed_frame(bytes, rows_in_frame)
                    .map_err(|why| self.bad(format!("frame {frame}: {why}")))?;
                self.packed = Some(p);
                return Ok(());
            }
            f => return Err(self.bad(format!("frame {frame} has unknown format {f}"))),
        }
        let cap = self.block_rows as u64 * (crate::event::MAX_URL_BYTES as u64 + 16);
        let raw_len = match zstd::zstd_safe::get_frame_content_size(bytes) {
            Ok(Some(n)) if n <= cap => n as usize,
            _ => return Err(self.bad(format!("frame {frame} has no valid size"))),
        };
        self.raw.clear();
        self.raw.reserve(raw_len);
        let n = with_decompressor(|z| z.decompress_using_ddict(&mut self.raw, bytes, ddict))?;
        if n.map_err(|e| self.bad(format!("frame {frame}: {}", zstd_error(e))))? != raw_len
            || self.raw.len() != raw_len
        {
            return Err(self.bad(format!("frame {frame} decompressed to the wrong size")));
        }
        self.index_values(frame, rows_in_frame)
    }

    /// Finds where each of the `rows` values of the decompressed block
    /// starts, checking they fill it exactly.
    fn index_values(&mut self, block: u32, rows: u32) -> Result<()> {
        let rows_in_block = rows;
        self.starts.clear();
        let mut r = Reader::new(&self.raw);
        let is_str = self.field.kind() == FieldKind::Str;
        for _ in 0..rows_in_block {
            self.starts.push(r.pos() as u32);
            if is_str {
                // Lengths only: UTF-8 is checked when a value is read as a
                // string (`get`); byte-level matching needs no check.
                let len = r.varint().and_then(|n| {
                    let n = n.checked_sub(u64::from(!self.field.required()) & u64::from(n > 0))?;
                    usize::try_from(n).ok()
                });
                if len.and_then(|n| r.take(n)).is_none() {
                    return Err(self.bad(format!("block {block}: value cut short")));
                }
                continue;
            }
            decode_value(&mut r, self.field)
                .map_err(|why| self.bad(format!("block {block}: {why}")))?;
        }
        if r.remaining() != 0 {
            return Err(self.bad(format!("block {block} has bytes past its last value")));
        }
        Ok(())
    }

    /// The bytes of a string column's value at `row` (`None`: missing),
    /// without the UTF-8 check `get` makes: for matching, where bytewise
    /// comparison is the contract's string order. The section's checksum was
    /// verified when it was first read.
    pub fn get_str_bytes(&mut self, row: u32) -> Result<Option<&[u8]>> {
        if self.field.kind() != FieldKind::Str {
            return Err(self.bad("not a string column"));
        }
        if row >= self.seg.rows() {
            return Err(self.bad(format!("row {row} past the end")));
        }
        let block = row / self.block_rows;
        if self.current != Some(block) {
            self.load(block)?;
        }
        if self.uuids.is_some() {
            return match self.get(row)? {
                Value::Str(_) => Ok(Some(&self.text[..])),
                _ => Ok(None),
            };
        }
        let i = (row % self.block_rows) as usize;
        let start = self.starts.get(i).copied().unwrap_or(0) as usize;
        let mut r = Reader::new(self.raw.get(start..).unwrap_or(&[]));
        let n = r
            .varint()
            .ok_or_else(|| self.bad(format!("row {row} cut short")))?;
        if !self.field.required() && n == 0 {
            return Ok(None);
        }
        let len = usize::try_from(n - u64::from(!self.field.required()))
            .map_err(|_| self.bad(format!("row {row}: length {n} too large")))?;
        let end = start + r.pos();
        self.raw
            .get(end..end + len)
            .map(Some)
            .ok_or_else(|| self.bad(format!("row {row} cut short")))
    }

    /// Whether the string value at `row` contains `finder`'s needle (false
    /// when missing). One search over each decompressed block marks the rows
    /// holding a match, instead of a search per row; a cursor answers for
    /// one needle only.
    pub fn row_contains(&mut self, row: u32, finder: &memchr::memmem::Finder<'_>) -> Result<bool> {
        if row >= self.seg.rows() {
            return Err(self.bad(format!("row {row} past the end")));
        }
        let block = row / self.block_rows;
        if self.current != Some(block) {
            self.load(block)?;
        }
        // UUID blocks hold no text to search; an empty needle is in every
        // present value (and would "match" between values).
        if self.uuids.is_some() || self.packed.is_some() || finder.needle().is_empty() {
            return Ok(self
                .get_str_bytes(row)?
                .is_some_and(|v| finder.find(v).is_some()));
        }
        if self.hits_block != Some(block) {
            self.mark_hits(finder)?;
            self.hits_block = Some(block);
        }
        Ok(self
            .hits
            .get((row % self.block_rows) as usize)
            .copied()
            .unwrap_or(false))
    }

    /// Marks the rows of the loaded zstd block whose value holds the needle.
    fn mark_hits(&mut self, finder: &memchr::memmem::Finder<'_>) -> Result<()> {
        self.hits.clear();
        self.hits.resize(self.starts.len(), false);
        let needle = finder.needle().len();
        let optional = !self.field.required();
        let mut from = 0usize;
        while let Some(at) = self.raw.get(from..).and_then(|rest| finder.find(rest)) {
            let p = from + at;
            // The value the match starts in: the last one starting at or
            // before it. Count the match only if it lies inside that value's
            // bytes (not in a length prefix, not across two values).
            let i = self
                .starts
                .partition_point(|s| *s as usize <= p)
                .saturating_sub(1);
            let start = self.starts.get(i).copied().unwrap_or(0) as usize;
            let mut r = Reader::new(self.raw.get(start..).unwrap_or(&[]));
            let n = r.varint().ok_or_else(|| self.bad("value cut short"))?;
            let len = usize::try_from(n.saturating_sub(u64::from(optional && n > 0))).unwrap_or(0);
            let value_start = start + r.pos();
            if p >= value_start
                && p + needle <= value_start + len
                && let Some(h) = self.hits.get_mut(i)
            {
                *h = true;
            }
            from = p + 1;
        }
        Ok(())
    }

    /// The value of `row`.
    pub fn get(&mut self, row: u32) -> Result<Value<'_>> {
        if row >= self.seg.rows() {
            return Err(self.bad(format!("row {row} past the end")));
        }
        let block = row / self.block_rows;
        if self.current != Some(block) {
            self.load(block)?;
        }
        let i = (row % self.block_rows) as usize;
        if let Some(p) = self.packed {
            return match p.get(i) {
                Some(Some(n)) => Ok(Value::Int(n)),
                Some(None) if !self.field.required() => Ok(Value::Null),
                _ => Err(self.bad(format!("row {row}: bad packed code"))),
            };
        }
        if let Some(uuids) = self.uuids {
            let bytes: Option<&[u8; 16]> = uuids
                .get(i * 16..i * 16 + 16)
                .and_then(|b| b.try_into().ok());
            let Some(bytes) = bytes else {
                return Err(self.bad(format!("row {row} past its UUID block")));
            };
            self.text = format_uuid(bytes);
            return std::str::from_utf8(&self.text)
                .map(Value::Str)
                .map_err(|_| self.bad("UUID text is not UTF-8"));
        }
        let start = self.starts.get(i).copied().unwrap_or(0) as usize;
        let mut r = Reader::new(self.raw.get(start..).unwrap_or(&[]));
        decode_value(&mut r, self.field).map_err(|why| self.bad(why))
    }
}

/// Rebuilds whole events from a segment's columns.
pub struct RowDecoder<'a> {
    pub(super) seg: &'a SegmentReader,
    pub(super) dicts: Vec<DictColumn<'a>>,
    pub(super) blocks: Vec<BlockCursor<'a>>,
    ts: super::Timestamps<'a>,
}

impl<'a> RowDecoder<'a> {
    pub fn new(seg: &'a SegmentReader) -> Result<RowDecoder<'a>> {
        let mut dicts = Vec::new();
        let mut blocks = Vec::new();
        for field in Field::stored() {
            match encoding_of(field) {
                Encoding::Dict | Encoding::MappedDict => dicts.push(seg.dict(field)?),
                Encoding::Blocks | Encoding::Framed => blocks.push(seg.blocks(field)?),
                Encoding::Timestamps => {}
            }
        }
        Ok(RowDecoder {
            seg,
            dicts,
            blocks,
            ts: seg.timestamps()?,
        })
    }

    pub fn event(&mut self, row: u32) -> Result<Event> {
        let mut e = Event::blank();
        let fix = |seg: &SegmentReader, f: Field, why: crate::event::FieldError| {
            seg.corrupt(SectionKind::Codes, f as u16, why.to_string())
        };
        e.event_timestamp_ms = match self.ts.get(row) {
            Some(t) => t,
            None => self.seg.timestamp(row)?,
        };
        for d in &self.dicts {
            let v = d.get(row)?;
            e.set(d.field, v)
                .map_err(|why| fix(self.seg, d.field, why))?;
        }
        for b in &mut self.blocks {
            let field = b.field;
            let v = b.get(row)?;
            e.set(field, v).map_err(|why| fix(self.seg, field, why))?;
        }
        e.validate().map_err(|why| {
            self.seg
                .corrupt(SectionKind::Meta, NO_FIELD, format!("row {row}: {why}"))
        })?;
        Ok(e)
    }
}

thread_local! {
    /// One zstd decompression context per thread, reused by every block
    /// cursor: creating one per cursor (`ZSTD_createDCtx`) was 12-20 % of
    /// the CPU of workloads with many small segments (docs/notes/fuzzing.md).
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::zstd_safe::DCtx<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` with this thread's decompression context.
fn with_decompressor<T>(f: impl FnOnce(&mut zstd::zstd_safe::DCtx<'static>) -> T) -> Result<T> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let z = match &mut *slot {
            Some(z) => z,
            None => slot.insert(
                zstd::zstd_safe::DCtx::try_create()
                    .ok_or_else(|| Error::Internal("zstd: cannot create a context".into()))?,
            ),
        };
        Ok(f(z))
    })
}

/// zstd's name for an error code.
fn zstd_error(code: usize) -> &'static str {
    zstd::zstd_safe::get_error_name(code)
}
