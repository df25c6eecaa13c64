//! Builds one segment file from a day's events. Layout: docs/format.md.

use std::collections::HashMap;
use std::path::Path;

use foldhash::fast::RandomState;
use roaring::RoaringBitmap;
use xxhash_rust::xxh3::xxh3_64;

use super::bloom;
use super::format::{
    BLOCK_ROWS, ColumnMeta, Encoding, FOOTER_LEN, Footer, Meta, NO_FIELD, SECTION_ALIGN,
    SEGMENT_VERSION, SectionEntry, SectionKind, code_width, header_bytes, section_crc,
};
use super::{INDEXED_FIELDS, encoding_of, value_key};
use crate::codec::encode_value;
use crate::error::{Error, Result};
use crate::event::{Event, Field, Value};
use crate::time::Day;

/// zstd level for block columns: fast to write, still ~3x on ids and URLs.
const ZSTD_LEVEL: i32 = 3;

enum DictValues {
    Str(HashMap<Box<str>, u32, RandomState>, Vec<Box<str>>),
    Num(HashMap<u64, u32, RandomState>, Vec<u64>),
}

/// A dictionary column being built: values interned as they arrive, codes in
/// arrival order (0 = null); sorted and remapped at `finish`.
struct DictBuilder {
    field: Field,
    values: DictValues,
    codes: Vec<u32>,
}

impl DictBuilder {
    fn new(field: Field) -> DictBuilder {
        let values = if field.kind() == crate::event::FieldKind::Str {
            DictValues::Str(HashMap::default(), Vec::new())
        } else {
            DictValues::Num(HashMap::default(), Vec::new())
        };
        DictBuilder {
            field,
            values,
            codes: Vec::new(),
        }
    }

    fn push(&mut self, v: Value<'_>) {
        let code = match (&mut self.values, v) {
            (_, Value::Null) => 0,
            (DictValues::Str(map, list), Value::Str(s)) => match map.get(s) {
                Some(&c) => c,
                None => {
                    list.push(s.into());
                    let c = list.len() as u32;
                    map.insert(s.into(), c);
                    c
                }
            },
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
        };
        self.codes.push(code);
    }
}

/// Builds one segment. Push events in any order; rows are written in
/// timestamp order (ties keep arrival order).
pub struct SegmentWriter {
    day: Day,
    ts: Vec<i64>,
    ids: Vec<u64>,
    dicts: Vec<DictBuilder>,
    /// Encoded values of block columns, concatenated, with row end offsets.
    blocks: Vec<(Field, Vec<u8>, Vec<u32>)>,
}

/// What `finish` wrote.
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
                Encoding::Dict => dicts.push(DictBuilder::new(field)),
                Encoding::Blocks => blocks.push((field, Vec::new(), Vec::new())),
                Encoding::Timestamps => {}
            }
        }
        SegmentWriter {
            day,
            ts: Vec::new(),
            ids: Vec::new(),
            dicts,
            blocks,
        }
    }

    pub fn rows(&self) -> usize {
        self.ts.len()
    }

    /// Adds one event. It must belong to this writer's day.
    pub fn push(&mut self, e: &Event) -> Result<()> {
        if e.day() != self.day {
            return Err(Error::Invalid(format!(
                "event {} belongs to {}, not to segment day {}",
                e.event_id,
                e.day(),
                self.day
            )));
        }
        if self.ts.len() >= u32::MAX as usize - 1 {
            return Err(Error::Invalid("segment row limit reached".into()));
        }
        self.ts.push(e.event_timestamp_ms);
        self.ids.push(xxh3_64(e.event_id.as_bytes()));
        for d in &mut self.dicts {
            d.push(e.get(d.field));
        }
        for (field, buf, ends) in &mut self.blocks {
            encode_value(buf, *field, e.get(*field));
            if buf.len() > u32::MAX as usize {
                return Err(Error::Invalid("block column larger than 4 GiB".into()));
            }
            ends.push(buf.len() as u32);
        }
        Ok(())
    }

    /// Writes the segment crash-safely to `path` (temp file, fsync, rename,
    /// directory fsync).
    pub fn finish(self, id: u64, supersedes: Vec<u64>, path: &Path) -> Result<WrittenSegment> {
        let bytes = self.encode(id, supersedes)?;
        crate::files::write_atomic(path, &bytes)?;
        Ok(WrittenSegment {
            id,
            day: self.day,
            rows: self.ts.len() as u32,
            bytes: bytes.len() as u64,
        })
    }

    /// The whole file's bytes.
    pub fn encode(&self, id: u64, supersedes: Vec<u64>) -> Result<Vec<u8>> {
        let rows = self.ts.len();
        if rows == 0 {
            return Err(Error::Invalid("refusing to write an empty segment".into()));
        }
        let mut order: Vec<u32> = (0..rows as u32).collect();
        order.sort_by_key(|&i| self.ts[i as usize]);
        let min_ts = self.ts.iter().copied().min().unwrap_or(0);
        let max_ts = self.ts.iter().copied().max().unwrap_or(0);
        // Invariant: a segment holds one UTC day, so offsets fit in u32.
        assert!(
            max_ts - min_ts < i64::from(u32::MAX),
            "segment spans more than a day"
        );

        let mut out = header_bytes().to_vec();
        let mut sections: Vec<SectionEntry> = Vec::new();
        let mut add = |out: &mut Vec<u8>, kind: SectionKind, field: u16, bytes: &[u8]| {
            while !out.len().is_multiple_of(SECTION_ALIGN) {
                out.push(0);
            }
            sections.push(SectionEntry {
                kind,
                field,
                offset: out.len() as u64,
                len: bytes.len() as u64,
                crc: section_crc(id, self.day, kind, field, bytes),
            });
            out.extend_from_slice(bytes);
        };
        let mut columns = Vec::new();

        // Timestamps.
        let ts_bytes: Vec<u8> = order
            .iter()
            .flat_map(|&i| ((self.ts[i as usize] - min_ts) as u32).to_le_bytes())
            .collect();
        add(
            &mut out,
            SectionKind::Timestamps,
            Field::EventTimestamp as u16,
            &ts_bytes,
        );
        columns.push(ColumnMeta {
            field: Field::EventTimestamp as u16,
            encoding: Encoding::Timestamps,
            width: 4,
            count: 0,
        });

        // Dictionary columns, their codes, and bitmap indexes.
        for d in &self.dicts {
            let field = d.field as u16;
            let (dict_bytes, remap) = sorted_dictionary(&d.values);
            let count = remap.len() - 1;
            let width = code_width(count);
            let mut codes = Vec::with_capacity(rows * usize::from(width));
            let index = INDEXED_FIELDS.contains(&d.field);
            // Row ids per code, collected first: roaring's push is slow on
            // dense containers, from_sorted_iter is not (docs/benchmarks.md).
            let mut rows_of: Vec<Vec<u32>> = if index {
                vec![Vec::new(); count + 1]
            } else {
                Vec::new()
            };
            for (row, &i) in order.iter().enumerate() {
                let code = remap[d.codes[i as usize] as usize];
                match width {
                    1 => codes.push(code as u8),
                    2 => codes.extend_from_slice(&(code as u16).to_le_bytes()),
                    _ => codes.extend_from_slice(&code.to_le_bytes()),
                }
                if let Some(r) = rows_of.get_mut(code as usize) {
                    r.push(row as u32);
                }
            }
            add(&mut out, SectionKind::DictValues, field, &dict_bytes);
            add(&mut out, SectionKind::Codes, field, &codes);
            if index {
                let mut bitmaps = Vec::with_capacity(rows_of.len());
                for r in rows_of {
                    bitmaps.push(
                        RoaringBitmap::from_sorted_iter(r)
                            .map_err(|e| Error::Invalid(format!("bitmap rows not sorted: {e}")))?,
                    );
                }
                add(
                    &mut out,
                    SectionKind::Bitmaps,
                    field,
                    &encode_bitmaps(&bitmaps)?,
                );
            }
            columns.push(ColumnMeta {
                field,
                encoding: Encoding::Dict,
                width,
                count: count as u32,
            });
        }

        // Block-compressed columns.
        for (field, buf, ends) in &self.blocks {
            let bytes = encode_blocks(&order, buf, ends)?;
            add(&mut out, SectionKind::Blocks, *field as u16, &bytes);
            columns.push(ColumnMeta {
                field: *field as u16,
                encoding: Encoding::Blocks,
                width: 0,
                count: BLOCK_ROWS,
            });
        }

        // Event-id hashes (sorted, with their rows) and their Bloom filter.
        let mut pairs: Vec<(u64, u32)> = order
            .iter()
            .enumerate()
            .map(|(row, &i)| (self.ids[i as usize], row as u32))
            .collect();
        pairs.sort_unstable();
        let hashes: Vec<u64> = pairs.iter().map(|p| p.0).collect();
        let hash_bytes: Vec<u8> = hashes.iter().flat_map(|h| h.to_le_bytes()).collect();
        let row_bytes: Vec<u8> = pairs.iter().flat_map(|p| p.1.to_le_bytes()).collect();
        add(&mut out, SectionKind::IdHashes, NO_FIELD, &hash_bytes);
        add(&mut out, SectionKind::IdRows, NO_FIELD, &row_bytes);
        add(
            &mut out,
            SectionKind::IdBloom,
            NO_FIELD,
            &bloom::build(&hashes),
        );

        let meta = Meta {
            segment_id: id,
            day: self.day,
            row_count: rows as u32,
            base_ts_ms: min_ts,
            min_ts_ms: min_ts,
            max_ts_ms: max_ts,
            supersedes,
            columns,
        };
        add(&mut out, SectionKind::Meta, NO_FIELD, &meta.encode());

        while !out.len().is_multiple_of(SECTION_ALIGN) {
            out.push(0);
        }
        let table_offset = out.len() as u64;
        let mut table = Vec::with_capacity(sections.len() * 32);
        for s in &sections {
            s.encode(&mut table);
        }
        out.extend_from_slice(&table);
        let footer = Footer {
            version: SEGMENT_VERSION,
            section_count: sections.len() as u32,
            table_offset,
            segment_id: id,
            day: self.day,
            row_count: rows as u32,
            table_crc: crc32fast::hash(&table),
        };
        out.extend_from_slice(&footer.encode());
        debug_assert!(out.len() >= FOOTER_LEN);
        Ok(out)
    }
}

/// Sorts a dictionary; returns its section bytes and the map from arrival
/// code to final code (index 0, null, maps to 0).
fn sorted_dictionary(values: &DictValues) -> (Vec<u8>, Vec<u32>) {
    match values {
        DictValues::Str(_, list) => {
            let mut idx: Vec<usize> = (0..list.len()).collect();
            idx.sort_by(|&a, &b| list[a].cmp(&list[b]));
            let mut remap = vec![0u32; list.len() + 1];
            let mut out = Vec::new();
            out.extend_from_slice(&(list.len() as u32).to_le_bytes());
            let mut offset = 0u32;
            out.extend_from_slice(&offset.to_le_bytes());
            for &i in &idx {
                offset += list[i].len() as u32;
                out.extend_from_slice(&offset.to_le_bytes());
            }
            for (code, &i) in idx.iter().enumerate() {
                out.extend_from_slice(list[i].as_bytes());
                remap[i + 1] = code as u32 + 1;
            }
            (out, remap)
        }
        DictValues::Num(_, list) => {
            let mut idx: Vec<usize> = (0..list.len()).collect();
            idx.sort_by_key(|&i| list[i]);
            let mut remap = vec![0u32; list.len() + 1];
            let mut out = Vec::new();
            out.extend_from_slice(&(list.len() as u32).to_le_bytes());
            for (code, &i) in idx.iter().enumerate() {
                out.extend_from_slice(&list[i].to_le_bytes());
                remap[i + 1] = code as u32 + 1;
            }
            (out, remap)
        }
    }
}

fn encode_bitmaps(bitmaps: &[RoaringBitmap]) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut offsets = Vec::with_capacity(bitmaps.len() + 1);
    offsets.push(0u32);
    for b in bitmaps {
        b.serialize_into(&mut body)
            .map_err(|e| Error::Invalid(format!("bitmap serialization: {e}")))?;
        offsets.push(body.len() as u32);
    }
    let mut out = Vec::with_capacity(4 + offsets.len() * 4 + body.len());
    out.extend_from_slice(&(bitmaps.len() as u32).to_le_bytes());
    for o in offsets {
        out.extend_from_slice(&o.to_le_bytes());
    }
    out.extend_from_slice(&body);
    Ok(out)
}

fn encode_blocks(order: &[u32], buf: &[u8], ends: &[u32]) -> Result<Vec<u8>> {
    let value = |i: u32| {
        let i = i as usize;
        let start = if i == 0 { 0 } else { ends[i - 1] as usize };
        &buf[start..ends[i] as usize]
    };
    let n_blocks = order.len().div_ceil(BLOCK_ROWS as usize);
    let mut frames = Vec::new();
    let mut offsets = vec![0u64];
    let mut raw = Vec::new();
    for chunk in order.chunks(BLOCK_ROWS as usize) {
        raw.clear();
        for &i in chunk {
            raw.extend_from_slice(value(i));
        }
        let z = zstd::bulk::compress(&raw, ZSTD_LEVEL)
            .map_err(|e| Error::Invalid(format!("zstd: {e}")))?;
        frames.extend_from_slice(&(raw.len() as u32).to_le_bytes());
        frames.extend_from_slice(&z);
        offsets.push(frames.len() as u64);
    }
    let mut out = Vec::with_capacity(8 + offsets.len() * 8 + frames.len());
    out.extend_from_slice(&BLOCK_ROWS.to_le_bytes());
    out.extend_from_slice(&(n_blocks as u32).to_le_bytes());
    for o in offsets {
        out.extend_from_slice(&o.to_le_bytes());
    }
    out.extend_from_slice(&frames);
    Ok(out)
}
