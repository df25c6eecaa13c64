//! Builds one segment file from a day's events. Layout: docs/format.md.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::path::Path;

use foldhash::fast::FixedState;
use roaring::RoaringBitmap;
use xxhash_rust::xxh3::xxh3_64;

use super::bloom;
use super::format::{
    BLOCK_ROWS, BLOCK_UUID, BLOCK_ZSTD, ColumnMeta, Encoding, FOOTER_LEN, Footer, Meta, NO_FIELD,
    SECTION_ALIGN, SEGMENT_VERSION, SectionEntry, SectionKind, UUID_TEXT_LEN, bits_for, code_width,
    encode_packed_timestamps, fingerprint, fingerprint_bits, header_bytes, pack, parse_uuid,
    row_bits, section_crc,
};
use super::{
    INDEXED_FIELDS, NEEDLE_FIELDS, SegmentReader, TOKEN_FIELDS, encoding_of, groups, needle,
    value_key,
};
use crate::codec::encode_value;
use crate::error::{Error, Result};
use crate::event::{Event, Field, FieldKind, Value};
use crate::time::Day;

mod encode;
use encode::{encode_bitmaps, encode_blocks, radix_sort_by_high_half};

use super::framed;

/// zstd level for block columns: fast to write, still ~3x on URLs.
const ZSTD_LEVEL: i32 = 1;

/// Interned strings of one column: the distinct values in arrival order in
/// one arena, found through a map from their 64-bit hash to their code and
/// place in the arena (so a hit reads one bucket and the bytes it compares).
/// Equality is always checked against the arena (exact); strings whose hash
/// collides with a different string's go to `spill`.
struct StrDict {
    hasher: FixedState,
    by_hash: HashMap<u64, Slot, BuildHasherDefault<HashIsKey>>,
    spill: HashMap<Box<str>, u32, FixedState>,
    arena: Vec<u8>,
    /// End offset in `arena` of value `code - 1`.
    ends: Vec<u32>,
    /// Every string hashes alike: tests of the collision path.
    #[cfg(test)]
    collide: bool,
}

/// Where an interned string is: its code, and its bytes in the arena.
#[derive(Clone, Copy)]
struct Slot {
    code: u32,
    start: u32,
    len: u32,
}

impl StrDict {
    fn new() -> StrDict {
        StrDict {
            hasher: FixedState::default(),
            by_hash: HashMap::default(),
            spill: HashMap::default(),
            arena: Vec::new(),
            ends: Vec::new(),
            #[cfg(test)]
            collide: false,
        }
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// The value with arrival code `code` (1-based).
    #[inline]
    fn value(&self, code: u32) -> &[u8] {
        let i = code as usize - 1;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.arena[start..self.ends[i] as usize]
    }

    #[inline]
    fn hash(&self, s: &str) -> u64 {
        #[cfg(test)]
        if self.collide {
            return 7;
        }
        self.hasher.hash_one(s.as_bytes())
    }

    #[inline]
    fn intern(&mut self, s: &str) -> u32 {
        let h = self.hash(s);
        let next = self.ends.len() as u32 + 1;
        let start = self.arena.len() as u32;
        match self.by_hash.entry(h) {
            Entry::Occupied(e) => {
                let slot = *e.get();
                let bytes = self
                    .arena
                    .get(slot.start as usize..(slot.start + slot.len) as usize)
                    .unwrap_or_default();
                if same_bytes(bytes, s.as_bytes()) {
                    return slot.code;
                }
                match self.spill.get(s) {
                    Some(&code) => code,
                    None => {
                        self.spill.insert(s.into(), next);
                        self.push_value(s);
                        next
                    }
                }
            }
            Entry::Vacant(e) => {
                e.insert(Slot {
                    code: next,
                    start,
                    len: s.len() as u32,
                });
                self.push_value(s);
                next
            }
        }
    }

    fn push_value(&mut self, s: &str) {
        self.arena.extend_from_slice(s.as_bytes());
        self.ends.push(self.arena.len() as u32);
    }
}

/// Byte equality, inlined: dictionary values are short, and a call to
/// `memcmp` per lookup was the largest cost of `push`.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    ca.zip(cb).all(|(x, y)| x == y) && ra.iter().zip(rb).all(|(x, y)| x == y)
}

/// A `Hasher` for keys that are already hashes.
#[derive(Default)]
struct HashIsKey(u64);

impl Hasher for HashIsKey {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

enum DictValues {
    Str(StrDict),
    Num(HashMap<u64, u32, FixedState>, Vec<u64>),
}

/// A dictionary column being built: values interned as they arrive, codes in
/// arrival order (0 = null); sorted and remapped at `encode`.
struct DictBuilder {
    field: Field,
    values: DictValues,
    codes: Vec<u32>,
}

impl DictBuilder {
    fn new(field: Field) -> DictBuilder {
        let values = if field.kind() == FieldKind::Str {
            DictValues::Str(StrDict::new())
        } else {
            DictValues::Num(HashMap::default(), Vec::new())
        };
        DictBuilder {
            field,
            values,
            codes: Vec::new(),
        }
    }

    /// Distinct non-null values so far.
    fn distinct(&self) -> usize {
        match &self.values {
            DictValues::Str(d) => d.len(),
            DictValues::Num(_, list) => list.len(),
        }
    }

    #[inline]
    fn push(&mut self, v: Value<'_>) {
        let code = self.intern(v);
        self.codes.push(code);
    }

    /// The arrival code of `v`, adding it to the dictionary if new.
    #[inline]
    fn intern(&mut self, v: Value<'_>) -> u32 {
        match (&mut self.values, v) {
            (_, Value::Null) => 0,
            (DictValues::Str(d), Value::Str(s)) => d.intern(s),
            (DictValues::Num(map, list), v) => {
                let key = value_key(v);
                *map.entry(key).or_insert_with(|| {
                    list.push(key);
                    list.len() as u32
                })
            }
            // A string value in a numeric column cannot come from a valid
            // event (fields have fixed kinds); store it as null.
            (DictValues::Str(..), _) => 0,
        }
    }
}

/// A block-compressed column being built: the value encodings of its rows,
/// concatenated in arrival order, and where each row's encoding ends.
struct BlockBuilder {
    field: Field,
    buf: Vec<u8>,
    ends: Vec<u32>,
}

impl BlockBuilder {
    /// The encoded value of arrival `i`.
    fn value(&self, i: u32) -> &[u8] {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.buf[start..self.ends[i] as usize]
    }
}

/// Builds one segment. Push events in any order; rows are written in
/// timestamp order (ties keep arrival order).
pub struct SegmentWriter {
    day: Day,
    ts: Vec<i64>,
    ids: Vec<u64>,
    dicts: Vec<DictBuilder>,
    blocks: Vec<BlockBuilder>,
    /// The format version written: `SEGMENT_VERSION`, or (tests only) 2 for
    /// the layout older builds wrote.
    version: u32,
}

/// What `finish` wrote.
#[cfg(feature = "internals")]
#[derive(Clone, Debug)]
pub struct WrittenSegment {
    pub id: u64,
    pub day: Day,
    pub rows: u32,
    pub bytes: u64,
}

impl SegmentWriter {
    pub fn new(day: Day) -> SegmentWriter {
        let mut dicts = Vec::new();
        let mut blocks = Vec::new();
        for field in Field::stored() {
            match encoding_of(field) {
                Encoding::Dict | Encoding::MappedDict => dicts.push(DictBuilder::new(field)),
                Encoding::Blocks | Encoding::Framed => blocks.push(BlockBuilder {
                    field,
                    buf: Vec::new(),
                    ends: Vec::new(),
                }),
                Encoding::Timestamps => {}
            }
        }
        SegmentWriter {
            day,
            ts: Vec::new(),
            ids: Vec::new(),
            dicts,
            blocks,
            version: SEGMENT_VERSION,
        }
    }

    /// Writes the version 2 layout instead (plain timestamps, every token
    /// unit rule of version 2), for tests that an older file still reads.
    #[cfg(feature = "internals")]
    pub fn write_version_2(&mut self) {
        self.version = 2;
    }

    /// Rows pushed so far.
    #[cfg(feature = "internals")]
    pub fn rows(&self) -> usize {
        self.ts.len()
    }

    /// Adds one event. It must belong to this writer's day.
    pub fn push(&mut self, e: &Event) -> Result<()> {
        if e.day() != self.day {
            return Err(Error::Internal(format!(
                "event {} belongs to {}, not to segment day {}",
                e.event_id,
                e.day(),
                self.day
            )));
        }
        if self.ts.len() >= u32::MAX as usize - 1 {
            return Err(Error::Internal("segment row limit reached".into()));
        }
        self.ts.push(e.event_timestamp_ms);
        self.ids.push(xxh3_64(e.event_id.as_bytes()));
        for d in &mut self.dicts {
            d.push(e.get(d.field));
        }
        for b in &mut self.blocks {
            encode_value(&mut b.buf, b.field, e.get(b.field));
            if b.buf.len() > u32::MAX as usize {
                return Err(Error::Internal("block column larger than 4 GiB".into()));
            }
            b.ends.push(b.buf.len() as u32);
        }
        Ok(())
    }

    /// Adds every row of `seg`, a segment of the same day, without
    /// rebuilding events: each distinct dictionary value is interned once and
    /// rows copy remapped codes; block columns are re-encoded value by value.
    /// This is how compaction merges segments (about 10x cheaper than
    /// decoding rows into `Event`s and pushing them).
    pub fn push_segment(&mut self, seg: &SegmentReader) -> Result<()> {
        if seg.day() != self.day {
            return Err(Error::Internal(format!(
                "segment {} belongs to {}, not to segment day {}",
                seg.id(),
                seg.day(),
                self.day
            )));
        }
        let rows = seg.rows();
        if self.ts.len() + rows as usize >= u32::MAX as usize - 1 {
            return Err(Error::Internal("segment row limit reached".into()));
        }
        match seg.timestamps()?.all() {
            Some(ts) => self.ts.extend(ts),
            None => {
                for row in 0..rows {
                    self.ts.push(seg.timestamp(row)?);
                }
            }
        }
        let mut ids = seg.blocks(Field::EventId)?;
        self.ids.reserve(rows as usize);
        for row in 0..rows {
            match ids.get(row)? {
                Value::Str(id) => self.ids.push(xxh3_64(id.as_bytes())),
                other => {
                    return Err(Error::corrupted(
                        seg.path(),
                        0,
                        "blocks of event_id",
                        format!("row {row} has no event_id ({other:?})"),
                    ));
                }
            }
        }
        for d in &mut self.dicts {
            let col = seg.dict(d.field)?;
            let mut remap = Vec::with_capacity(col.count() as usize + 1);
            for code in 0..=col.count() {
                remap.push(d.intern(col.value(code)?));
            }
            d.codes.reserve(rows as usize);
            for row in 0..rows {
                d.codes
                    .push(remap.get(col.code(row) as usize).copied().unwrap_or(0));
            }
        }
        for b in &mut self.blocks {
            let mut cursor = seg.blocks(b.field)?;
            b.ends.reserve(rows as usize);
            for row in 0..rows {
                encode_value(&mut b.buf, b.field, cursor.get(row)?);
                if b.buf.len() > u32::MAX as usize {
                    return Err(Error::Internal("block column larger than 4 GiB".into()));
                }
                b.ends.push(b.buf.len() as u32);
            }
        }
        Ok(())
    }

    /// Writes the segment crash-safely to `path` (temp file, fsync, rename,
    /// directory fsync).
    #[cfg(feature = "internals")]
    pub fn finish(self, id: u64, supersedes: Vec<u64>, path: &Path) -> Result<WrittenSegment> {
        let (day, rows) = (self.day, self.ts.len() as u32);
        let bytes = self.finish_in(&crate::storage::OsStorage, id, supersedes, path)?;
        Ok(WrittenSegment {
            id,
            day,
            rows,
            bytes,
        })
    }

    /// [`SegmentWriter::finish`] on the given storage. Returns the file's
    /// length in bytes.
    pub(crate) fn finish_in(
        self,
        storage: &dyn crate::storage::Storage,
        id: u64,
        supersedes: Vec<u64>,
        path: &Path,
    ) -> Result<u64> {
        let bytes = self.encode(id, supersedes)?;
        crate::files::write_atomic(storage, path, &bytes)?;
        Ok(bytes.len() as u64)
    }

    /// The whole file's bytes: the sections in their fixed order (docs/format.md,
    /// "Segment file"), then the section table and the footer.
    pub fn encode(&self, id: u64, supersedes: Vec<u64>) -> Result<Vec<u8>> {
        let (min_ts, max_ts) = self.check_encodable(id, &supersedes)?;
        let order = self.row_order(min_ts, max_ts);
        let mut file = SectionWriter::new(id, self.day, self.version);
        let mut columns = vec![self.write_timestamps(&mut file, &order, min_ts)];
        self.write_dicts(&mut file, &mut columns, &order)?;
        self.write_blocks(&mut file, &mut columns, &order)?;
        self.write_tokens(&mut file, &order)?;
        self.write_id_index(&mut file, &order);
        self.write_needles(&mut file, &order);
        let rows = self.ts.len() as u32;
        let meta = Meta {
            segment_id: id,
            day: self.day,
            row_count: rows,
            base_ts_ms: min_ts,
            min_ts_ms: min_ts,
            max_ts_ms: max_ts,
            supersedes,
            columns,
        };
        file.add(SectionKind::Meta, NO_FIELD, &meta.encode());
        Ok(file.finish(rows))
    }

    /// Refuses what no segment may hold; returns the smallest and largest
    /// timestamp.
    fn check_encodable(&self, id: u64, supersedes: &[u64]) -> Result<(i64, i64)> {
        if self.ts.is_empty() {
            return Err(Error::Internal("refusing to write an empty segment".into()));
        }
        if let Some(s) = supersedes.iter().find(|&&s| s >= id) {
            return Err(Error::Internal(format!(
                "segment {id} cannot supersede segment {s}: inputs have smaller ids"
            )));
        }
        let min_ts = self.ts.iter().copied().min().unwrap_or(0);
        let max_ts = self.ts.iter().copied().max().unwrap_or(0);
        // Packed timestamps place frames by u32 byte positions (4 bytes a
        // row at most).
        if self.ts.len() > 1 << 30 {
            return Err(Error::Internal("segment has too many rows".into()));
        }
        // A segment holds one UTC day (push checks it), so offsets fit in u32.
        if max_ts - min_ts >= i64::from(u32::MAX) {
            return Err(Error::Internal("segment spans more than a day".into()));
        }
        Ok((min_ts, max_ts))
    }

    /// The arrival index of each row, rows in timestamp order and ties in
    /// arrival order: a stable sort of (offset, arrival index) keys by their
    /// offset.
    fn row_order(&self, min_ts: i64, max_ts: i64) -> Vec<u32> {
        let mut keys: Vec<u64> = self
            .ts
            .iter()
            .enumerate()
            .map(|(i, &ts)| (((ts - min_ts) as u64) << 32) | i as u64)
            .collect();
        radix_sort_by_high_half(&mut keys, bits_for((max_ts - min_ts) as u64));
        keys.iter().map(|&k| k as u32).collect()
    }

    /// The timestamps section: each row's offset from `min_ts`, packed in
    /// frames of reference (version 3) or as one u32 per row (version 2).
    fn write_timestamps(&self, file: &mut SectionWriter, order: &[u32], min_ts: i64) -> ColumnMeta {
        let offsets = order
            .iter()
            .map(|&i| (self.ts.get(i as usize).copied().unwrap_or(min_ts) - min_ts) as u32);
        let field = Field::EventTimestamp as u16;
        if self.version >= 3 {
            let offsets: Vec<u32> = offsets.collect();
            file.add(
                SectionKind::PackedTimestamps,
                field,
                &encode_packed_timestamps(&offsets),
            );
        } else {
            let bytes: Vec<u8> = offsets.flat_map(u32::to_le_bytes).collect();
            file.add(SectionKind::Timestamps, field, &bytes);
        }
        ColumnMeta {
            field,
            encoding: Encoding::Timestamps,
            width: 32,
            count: 0,
            parent: NO_FIELD,
        }
    }

    /// Dictionary columns, each as its values, then per-row codes or a code
    /// map, then (for indexed fields) its bitmaps.
    fn write_dicts(
        &self,
        file: &mut SectionWriter,
        columns: &mut Vec<ColumnMeta>,
        order: &[u32],
    ) -> Result<()> {
        let sorted: Vec<(Vec<u8>, Vec<u32>)> = self
            .dicts
            .iter()
            .map(|d| sorted_dictionary(&d.values))
            .collect();
        let plan = plan_maps(&self.dicts, self.ts.len());
        // Final codes in row order, for every column stored with per-row codes.
        let row_codes: Vec<Option<Vec<u32>>> = self
            .dicts
            .iter()
            .zip(&sorted)
            .zip(&plan)
            .map(|((d, (_, remap)), p)| {
                p.is_none().then(|| {
                    order
                        .iter()
                        .map(|&i| remap[d.codes[i as usize] as usize])
                        .collect()
                })
            })
            .collect();
        let mut bitmap_sections = Vec::new();
        for (k, d) in self.dicts.iter().enumerate() {
            let (dict_bytes, remap) = &sorted[k];
            file.add(SectionKind::DictValues, d.field as u16, dict_bytes);
            let mapped_codes;
            let codes: &[u32] = match &plan[k] {
                Some((p, arrival_map)) => {
                    let parent = (
                        &self.dicts[*p],
                        sorted[*p].1.as_slice(),
                        row_codes[*p].as_deref(),
                    );
                    let (column, codes) = write_code_map(file, d, remap, parent, arrival_map);
                    columns.push(column);
                    mapped_codes = codes;
                    &mapped_codes
                }
                None => {
                    let codes = row_codes[k].as_deref().unwrap_or_default();
                    columns.push(write_codes(file, d.field, remap.len() - 1, codes));
                    codes
                }
            };
            if INDEXED_FIELDS.contains(&d.field) {
                let bitmaps = encode_bitmaps(codes, remap.len() - 1)?;
                file.add(SectionKind::Bitmaps, d.field as u16, &bitmaps);
                bitmap_sections.push((d.field as u16, bitmaps));
            }
        }
        if !bitmap_sections.is_empty() {
            bitmap_sections.sort_by_key(|(field, _)| *field);
            let groups = groups::encode(file.id, file.day, &bitmap_sections);
            file.add(SectionKind::BitmapGroups, NO_FIELD, &groups);
        }
        Ok(())
    }

    /// Block-compressed columns.
    fn write_blocks(
        &self,
        file: &mut SectionWriter,
        columns: &mut Vec<ColumnMeta>,
        order: &[u32],
    ) -> Result<()> {
        let mut zstd = zstd::bulk::Compressor::new(ZSTD_LEVEL)
            .map_err(|e| Error::Internal(format!("zstd: {e}")))?;
        for b in &self.blocks {
            if framed::is_framed(b.field, order.len() as u32) {
                let value = |i: u32| b.value(i);
                let dict = framed::build_dict(b.field, order, value);
                let bytes = framed::encode_frames(b.field, order, value, &dict)?;
                file.add(SectionKind::Frames, b.field as u16, &bytes);
                // No section for an empty dictionary (integer columns).
                if !dict.is_empty() {
                    file.add(SectionKind::FrameDict, b.field as u16, &dict);
                }
                columns.push(ColumnMeta {
                    field: b.field as u16,
                    encoding: Encoding::Framed,
                    width: 0,
                    count: framed::FRAME_ROWS,
                    parent: NO_FIELD,
                });
                continue;
            }
            let bytes = encode_blocks(b, order, &mut zstd)?;
            file.add(SectionKind::Blocks, b.field as u16, &bytes);
            columns.push(ColumnMeta {
                field: b.field as u16,
                encoding: Encoding::Blocks,
                width: 0,
                count: BLOCK_ROWS,
                parent: NO_FIELD,
            });
        }
        Ok(())
    }

    /// The token index of each field that has one (docs/format.md, "Token
    /// index"), over its values in row order.
    fn write_tokens(&self, file: &mut SectionWriter, order: &[u32]) -> Result<()> {
        for b in self
            .blocks
            .iter()
            .filter(|b| TOKEN_FIELDS.contains(&b.field))
        {
            let values = order.iter().map(|&i| {
                let i = i as usize;
                let start = if i == 0 { 0 } else { b.ends[i - 1] as usize };
                let mut r = crate::codec::Reader::new(&b.buf[start..b.ends[i] as usize]);
                match crate::codec::decode_value(&mut r, b.field) {
                    Ok(Value::Str(s)) => Some(s.as_bytes()),
                    _ => None,
                }
            });
            let (dict, postings) = super::tokens::encode(values, self.version)?;
            file.add(SectionKind::TokenDict, b.field as u16, &dict);
            file.add(SectionKind::TokenPostings, b.field as u16, &postings);
        }
        Ok(())
    }

    /// Event-id fingerprints (sorted, with their rows) and the Bloom filter
    /// over the full hashes.
    fn write_id_index(&self, file: &mut SectionWriter, order: &[u32]) {
        let rows = self.ts.len() as u32;
        let fp_bits = fingerprint_bits(rows);
        let mut pairs: Vec<u64> = order
            .iter()
            .enumerate()
            .map(|(row, &i)| {
                (u64::from(fingerprint(self.ids[i as usize], fp_bits)) << 32) | row as u64
            })
            .collect();
        radix_sort_by_high_half(&mut pairs, fp_bits);
        let hashes = pack(pairs.iter().map(|&p| (p >> 32) as u32), fp_bits);
        file.add(SectionKind::IdHashes, NO_FIELD, &hashes);
        let id_rows = pack(pairs.iter().map(|&p| p as u32), row_bits(rows));
        file.add(SectionKind::IdRows, NO_FIELD, &id_rows);
        file.add(SectionKind::IdBloom, NO_FIELD, &bloom::build(&self.ids));
    }
}

impl SegmentWriter {
    /// The needle index of each block column that has one: the hash of
    /// each row's value encoding, rows in final order (docs/format.md,
    /// "Needle index").
    fn write_needles(&self, file: &mut SectionWriter, order: &[u32]) {
        for b in self
            .blocks
            .iter()
            .filter(|b| NEEDLE_FIELDS.contains(&b.field))
        {
            let pairs = order
                .iter()
                .enumerate()
                .filter_map(|(row, &i)| {
                    let i = i as usize;
                    let start = if i == 0 { 0 } else { b.ends[i - 1] as usize };
                    let enc = b.buf.get(start..b.ends[i] as usize)?;
                    Some((needle::encoding_hash(enc)?, row as u32))
                })
                .collect();
            let bytes = needle::build(pairs, order.len() as u32);
            file.add(SectionKind::Needle, b.field as u16, &bytes);
        }
    }
}

/// A column stored with per-row codes: its codes section. `codes` are the
/// final codes in row order, `count` its distinct non-null values.
fn write_codes(file: &mut SectionWriter, field: Field, count: usize, codes: &[u32]) -> ColumnMeta {
    let width = code_width(count);
    file.add(
        SectionKind::Codes,
        field as u16,
        &pack(codes.iter().copied(), width),
    );
    ColumnMeta {
        field: field as u16,
        encoding: Encoding::Dict,
        width,
        count: count as u32,
        parent: NO_FIELD,
    }
}

/// A column stored as a map over its parent's codes: its code map section.
/// `remap` turns its arrival codes into final codes; `parent` is the parent
/// column, its arrival-to-final remap and its final codes in row order;
/// `arrival_map` is the plan's map of parent arrival code to arrival code.
/// Returns the column's final codes in row order when the column is indexed
/// (its bitmaps need them), else an empty vector.
fn write_code_map(
    file: &mut SectionWriter,
    d: &DictBuilder,
    remap: &[u32],
    parent: (&DictBuilder, &[u32], Option<&[u32]>),
    arrival_map: &[u32],
) -> (ColumnMeta, Vec<u32>) {
    let (parent, parent_remap, parent_codes) = parent;
    let count = remap.len() - 1;
    let width = code_width(count);
    // Final parent code -> final code. Parent codes that occur in no row
    // (null, when the parent is never null) map to 0.
    let mut map = vec![0u32; parent_remap.len()];
    for (pa, &ca) in arrival_map.iter().enumerate() {
        if ca != u32::MAX {
            map[parent_remap[pa] as usize] = remap[ca as usize];
        }
    }
    file.add(
        SectionKind::CodeMap,
        d.field as u16,
        &pack(map.iter().copied(), width),
    );
    let column = ColumnMeta {
        field: d.field as u16,
        encoding: Encoding::MappedDict,
        width,
        count: count as u32,
        parent: parent.field as u16,
    };
    let codes = if INDEXED_FIELDS.contains(&d.field) {
        parent_codes
            .unwrap_or_default()
            .iter()
            .map(|&pc| map[pc as usize])
            .collect()
    } else {
        Vec::new()
    };
    (column, codes)
}

/// A segment file being assembled: sections appended at aligned offsets and
/// their table entries (each with its checksum), then the table and the
/// footer.
struct SectionWriter {
    id: u64,
    day: Day,
    version: u32,
    out: Vec<u8>,
    sections: Vec<SectionEntry>,
}

impl SectionWriter {
    fn new(id: u64, day: Day, version: u32) -> SectionWriter {
        SectionWriter {
            id,
            day,
            version,
            out: header_bytes(version).to_vec(),
            sections: Vec::new(),
        }
    }

    /// Pads with zeros to the next `SECTION_ALIGN` boundary.
    fn align(&mut self) {
        while !self.out.len().is_multiple_of(SECTION_ALIGN) {
            self.out.push(0);
        }
    }

    /// Appends one section, aligned, and records it in the table.
    fn add(&mut self, kind: SectionKind, field: u16, bytes: &[u8]) {
        self.align();
        self.sections.push(SectionEntry {
            kind,
            field,
            offset: self.out.len() as u64,
            len: bytes.len() as u64,
            crc: section_crc(self.id, self.day, kind, field, bytes),
        });
        self.out.extend_from_slice(bytes);
    }

    /// Appends the section table (aligned) and the footer; the file's bytes.
    fn finish(mut self, rows: u32) -> Vec<u8> {
        self.align();
        let table_offset = self.out.len() as u64;
        let mut table = Vec::with_capacity(self.sections.len() * 32);
        for s in &self.sections {
            s.encode(&mut table);
        }
        self.out.extend_from_slice(&table);
        let footer = Footer {
            version: self.version,
            section_count: self.sections.len() as u32,
            table_offset,
            segment_id: self.id,
            day: self.day,
            row_count: rows,
            table_crc: crc32fast::hash(&table),
        };
        self.out.extend_from_slice(&footer.encode());
        debug_assert!(self.out.len() >= FOOTER_LEN);
        self.out
    }
}

/// Which dictionary columns to store as a map over another column's codes:
/// for each column, `Some((parent index, map))` where `map[p]` is the column's
/// arrival code on every row whose parent has arrival code `p` (`u32::MAX`
/// for parent codes on no row), or `None` for per-row codes.
///
/// Columns are considered from most to fewest distinct values; a column is
/// mapped onto the column with the fewest values, among those already kept
/// with per-row codes, that determines it on every row and has at most half
/// as many codes (null included) as the segment has rows. Parents are never
/// mapped themselves, so a code is at most one indirection away. Segments of
/// fewer than `MIN_MAPPED_ROWS` rows keep per-row codes for every column.
type MapPlan = Vec<Option<(usize, Vec<u32>)>>;

/// Below this many rows a map saves at most a few hundred bytes per column,
/// and columns are often functions of one another by coincidence.
const MIN_MAPPED_ROWS: usize = BLOCK_ROWS as usize;

fn plan_maps(dicts: &[DictBuilder], rows: usize) -> MapPlan {
    let mut plan: MapPlan = (0..dicts.len()).map(|_| None).collect();
    if rows < MIN_MAPPED_ROWS {
        return plan;
    }
    let mut by_count: Vec<usize> = (0..dicts.len()).collect();
    by_count.sort_by_key(|&k| (Reverse(dicts[k].distinct()), dicts[k].field));
    // Columns kept with per-row codes, most distinct values first.
    let mut direct: Vec<usize> = Vec::new();
    let mut map = Vec::new();
    for &c in &by_count {
        let parent = direct.iter().rev().copied().find(|&p| {
            (dicts[p].distinct() + 1) * 2 <= rows
                && determines(
                    &dicts[p].codes,
                    &dicts[c].codes,
                    dicts[p].distinct(),
                    &mut map,
                )
        });
        match parent {
            Some(p) => plan[c] = Some((p, std::mem::take(&mut map))),
            None => direct.push(c),
        }
    }
    plan
}

/// Whether `parent` codes determine `child` codes row by row; if so `map`
/// holds the child code of each parent code (`u32::MAX` where none).
fn determines(parent: &[u32], child: &[u32], parent_values: usize, map: &mut Vec<u32>) -> bool {
    map.clear();
    map.resize(parent_values + 1, u32::MAX);
    for (&p, &c) in parent.iter().zip(child) {
        let Some(slot) = map.get_mut(p as usize) else {
            return false;
        };
        if *slot != c {
            if *slot != u32::MAX {
                return false;
            }
            *slot = c;
        }
    }
    true
}

/// Sorts a dictionary; returns its section bytes and the map from arrival
/// code to final code (index 0, null, maps to 0).
fn sorted_dictionary(values: &DictValues) -> (Vec<u8>, Vec<u32>) {
    match values {
        DictValues::Str(d) => {
            let mut idx: Vec<u32> = (1..=d.len() as u32).collect();
            idx.sort_unstable_by(|&a, &b| d.value(a).cmp(d.value(b)));
            let mut remap = vec![0u32; d.len() + 1];
            let mut out = Vec::with_capacity(4 + 4 * (d.len() + 1) + d.arena.len());
            out.extend_from_slice(&(d.len() as u32).to_le_bytes());
            let mut offset = 0u32;
            out.extend_from_slice(&offset.to_le_bytes());
            for &c in &idx {
                offset += d.value(c).len() as u32;
                out.extend_from_slice(&offset.to_le_bytes());
            }
            for (code, &c) in idx.iter().enumerate() {
                out.extend_from_slice(d.value(c));
                remap[c as usize] = code as u32 + 1;
            }
            (out, remap)
        }
        DictValues::Num(_, list) => {
            let mut idx: Vec<usize> = (0..list.len()).collect();
            idx.sort_unstable_by_key(|&i| list[i]);
            let mut remap = vec![0u32; list.len() + 1];
            let mut out = Vec::with_capacity(4 + 8 * list.len());
            out.extend_from_slice(&(list.len() as u32).to_le_bytes());
            for (code, &i) in idx.iter().enumerate() {
                out.extend_from_slice(&list[i].to_le_bytes());
                remap[i + 1] = code as u32 + 1;
            }
            (out, remap)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_exact_even_when_every_hash_collides() {
        for collide in [false, true] {
            let mut d = StrDict::new();
            d.collide = collide;
            let words = [
                "b",
                "a",
                "ab",
                "b",
                "",
                "a",
                "abcdefghij",
                "abcdefghik",
                "ab",
            ];
            let codes: Vec<u32> = words.iter().map(|w| d.intern(w)).collect();
            assert_eq!(codes, [1, 2, 3, 1, 4, 2, 5, 6, 3]);
            for (w, &c) in words.iter().zip(&codes) {
                assert_eq!(d.value(c), w.as_bytes());
            }
            let (bytes, remap) = sorted_dictionary(&DictValues::Str(d));
            // Sorted: "", "a", "ab", "abcdefghij", "abcdefghik", "b".
            assert_eq!(remap, [0, 6, 2, 3, 1, 4, 5]);
            assert_eq!(&bytes[4 + 4 * 7..], b"aababcdefghijabcdefghikb");
        }
    }

    #[test]
    fn equal_bytes_compares_every_byte() {
        let a = b"0123456789abcdefXYZ";
        for len in 0..a.len() {
            assert!(same_bytes(&a[..len], &a[..len]));
            for i in 0..len {
                let mut b = a[..len].to_vec();
                b[i] ^= 1;
                assert!(!same_bytes(&a[..len], &b));
            }
            assert!(!same_bytes(&a[..len], &a[..len + 1]));
        }
    }

    #[test]
    fn a_column_determined_by_another_is_planned_as_a_map() {
        let rows = 2048;
        let mut parent = DictBuilder::new(Field::UserId);
        let mut child = DictBuilder::new(Field::UserEmail);
        let mut other = DictBuilder::new(Field::EventSubtype);
        for i in 0..rows {
            parent.push(Value::Int(i as u64 % 100));
            child.push(Value::Str(["x", "y", "z"][i % 100 % 3]));
            other.push(Value::Str(["p", "q"][i % 7 % 2]));
        }
        let plan = plan_maps(&[parent, child, other], rows);
        assert!(plan[0].is_none());
        let (p, map) = plan[1].as_ref().unwrap();
        assert_eq!(*p, 0);
        // Arrival codes: parent i % 100 has code i % 100 + 1.
        assert_eq!(map[0], u32::MAX);
        assert_eq!(&map[1..4], &[1, 2, 3]);
        assert!(plan[2].is_none());
    }
}
