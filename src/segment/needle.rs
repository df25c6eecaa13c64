//! Needle index (section kind 11) over a block column (`object_id`, `url`):
//! for each distinct (value, block) pair, a fingerprint of the value and the
//! block, sorted by fingerprint, so that `eq` / `in` read only the blocks
//! that may hold the value. Layout and rules: docs/format.md, "Needle index".
//!
//! Fingerprints are Elias-Fano coded: the high `h` bits (the bucket) in
//! unary, the low `L` bits packed; with `2^h` about the entry count, that is
//! about 1.75 + `L` bits an entry, and a value not in a segment matches an
//! entry of its bucket with probability about `2^-L` per entry there.

use xxhash_rust::xxh3::xxh3_64;

use super::format::{
    BLOCK_ROWS, NO_FIELD, SectionKind, bits_for, fingerprint, fingerprint_bits, pack, packed_get,
    packed_len, row_bits,
};
use super::{BlockCursor, SegmentReader};
use crate::codec::encode_value;
use crate::error::Result;
use crate::event::{Field, Value};

/// The block columns with a needle index.
pub const NEEDLE_FIELDS: [Field; 2] = [Field::ObjectId, Field::Url];

/// Low bits of each fingerprint: a value not stored in a segment matches
/// about one entry in 2^7 per entry of its bucket (buckets hold 0.5 to 1
/// entries on average), so about 1% of segments read one block for nothing.
const LOW_BITS: u8 = 7;

/// Buckets per sample of the unary bit string.
const SAMPLE_EVERY: u64 = 64;

/// Bytes of the section header.
const HEADER: usize = 8;

/// The hash the index keeps of a value: xxh3-64 (seed 0) of its value
/// encoding (docs/format.md, "Event record"). `None` for a missing value,
/// which the index does not hold (`eq` and `in` never match it).
pub(crate) fn value_hash(field: Field, v: Value<'_>) -> Option<u64> {
    if v.is_null() {
        return None;
    }
    let mut enc = Vec::with_capacity(16);
    encode_value(&mut enc, field, v);
    Some(xxh3_64(&enc))
}

/// The hash of a row's value encoding as the writer holds it, `None` for
/// the encoding of a missing value (a single 0 byte: both indexed fields
/// are optional).
pub(crate) fn encoding_hash(enc: &[u8]) -> Option<u64> {
    (enc != [0]).then(|| xxh3_64(enc))
}

/// Bucket bits for `n` entries: `bits(n) - 1`, so `n/2 < 2^h <= n` (and
/// `h = 0` for at most one entry).
fn high_bits(n: usize) -> u8 {
    bits_for(n as u64) - 1
}

/// The section bytes of a column of `rows` rows whose non-null values have
/// hashes `pairs` as (hash, row). Deterministic: `verify` rebuilds it and
/// compares bytes.
pub(crate) fn build(mut pairs: Vec<(u64, u32)>, rows: u32) -> Vec<u8> {
    for p in &mut pairs {
        p.1 /= BLOCK_ROWS;
    }
    pairs.sort_unstable();
    pairs.dedup();
    let n = pairs.len();
    let n_blocks = rows.div_ceil(BLOCK_ROWS);
    let (h, l, b) = (
        high_bits(n),
        LOW_BITS,
        bits_for(u64::from(n_blocks.saturating_sub(1))),
    );
    let shift = 64 - u32::from(h + l);
    let mut keys: Vec<(u64, u32)> = pairs
        .iter()
        .map(|&(hash, blk)| (hash >> shift, blk))
        .collect();
    keys.sort_unstable();
    let buckets = 1u64 << h;
    let mut out = Vec::new();
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(&[h, l, b, 0]);
    // Unary: per bucket, a 1 per entry then a 0.
    let total = n as u64 + buckets;
    let mut words = vec![0u64; total.div_ceil(64) as usize];
    let mut samples = Vec::with_capacity((buckets / SAMPLE_EVERY + 1) as usize);
    let (mut pos, mut i) = (0u64, 0usize);
    for bucket in 0..buckets {
        if bucket.is_multiple_of(SAMPLE_EVERY) {
            samples.push(pos as u32);
        }
        while keys.get(i).is_some_and(|k| k.0 >> l == bucket) {
            words[(pos / 64) as usize] |= 1 << (pos % 64);
            pos += 1;
            i += 1;
        }
        pos += 1;
    }
    if buckets.is_multiple_of(SAMPLE_EVERY) {
        samples.push(pos as u32);
    }
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
    let low_mask = (1u64 << l) - 1;
    out.extend_from_slice(&pack(keys.iter().map(|k| (k.0 & low_mask) as u32), l));
    out.extend_from_slice(&pack(keys.iter().map(|k| k.1), b));
    out
}

/// A needle index read in place.
pub struct NeedleIndex<'a> {
    h: u8,
    l: u8,
    b: u8,
    samples: &'a [u8],
    unary: &'a [u8],
    low: &'a [u8],
    blocks: &'a [u8],
}

impl<'a> NeedleIndex<'a> {
    /// Splits the section of a column of `rows` rows; an `Err` says what is
    /// inconsistent (lengths or parameters), for a corruption error.
    pub fn parse(bytes: &'a [u8], rows: u32) -> std::result::Result<NeedleIndex<'a>, String> {
        let head = bytes.get(..HEADER).ok_or("cut short before its header")?;
        let n = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let (h, l, b) = (head[4], head[5], head[6]);
        let n_blocks = rows.div_ceil(BLOCK_ROWS);
        if n > rows as usize || head[7] != 0 {
            return Err(format!("{n} entries for {rows} rows, or reserved byte set"));
        }
        if h != high_bits(n)
            || l != LOW_BITS
            || b != bits_for(u64::from(n_blocks.saturating_sub(1)))
        {
            return Err(format!(
                "parameters h {h}, L {l}, B {b} do not match {n} entries"
            ));
        }
        let buckets = 1u64 << h;
        let n_samples = (buckets / SAMPLE_EVERY + 1) as usize;
        let unary_len = (n as u64 + buckets).div_ceil(64) as usize * 8;
        let lens = [n_samples * 4, unary_len, packed_len(n, l), packed_len(n, b)];
        if HEADER + lens.iter().sum::<usize>() != bytes.len() {
            return Err(format!(
                "{} bytes, not the length of {n} entries",
                bytes.len()
            ));
        }
        let mut at = HEADER;
        let mut part = |len: usize| {
            let s = bytes.get(at..at + len).unwrap_or(&[]);
            at += len;
            s
        };
        Ok(NeedleIndex {
            h,
            l,
            b,
            samples: part(lens[0]),
            unary: part(lens[1]),
            low: part(lens[2]),
            blocks: part(lens[3]),
        })
    }

    fn bit(&self, pos: u64) -> Option<bool> {
        let byte = *self.unary.get((pos / 8) as usize)?;
        Some(byte >> (pos % 8) & 1 == 1)
    }

    /// Adds to `out` every block that may hold a value of this `hash`
    /// (every block that does is among them). `Err`: the bytes contradict
    /// themselves (a sample or a bit past the end).
    pub fn blocks_of(&self, hash: u64, out: &mut Vec<u32>) -> std::result::Result<(), String> {
        let fp = hash >> (64 - u32::from(self.h + self.l));
        let (bucket, low) = (fp >> self.l, (fp & ((1 << self.l) - 1)) as u32);
        let k = (bucket / SAMPLE_EVERY) as usize;
        let sample = self
            .samples
            .get(k * 4..k * 4 + 4)
            .ok_or("sample past the end")?;
        let mut pos = u64::from(u32::from_le_bytes([
            sample[0], sample[1], sample[2], sample[3],
        ]));
        // Skip the buckets between the sample's and this one.
        let mut skip = bucket % SAMPLE_EVERY;
        while skip > 0 {
            if !self.bit(pos).ok_or("bucket past the end")? {
                skip -= 1;
            }
            pos += 1;
        }
        let first = pos.checked_sub(bucket).ok_or("bucket before its entries")? as usize;
        let mut i = first;
        while self.bit(pos).ok_or("bucket past the end")? {
            if packed_get(self.low, self.l, i) == Some(low) {
                out.push(packed_get(self.blocks, self.b, i).ok_or("entry past the end")?);
            }
            pos += 1;
            i += 1;
        }
        Ok(())
    }
}

impl SegmentReader {
    /// The needle index of `field`, if this segment has one (a version 1
    /// segment has none).
    pub(crate) fn needle(&self, field: Field) -> Result<Option<NeedleIndex<'_>>> {
        if !self.has_section(SectionKind::Needle, field as u16) {
            return Ok(None);
        }
        let bytes = self.section(SectionKind::Needle, field as u16)?;
        NeedleIndex::parse(bytes, self.rows())
            .map(Some)
            .map_err(|why| self.corrupt(SectionKind::Needle, field as u16, why))
    }

    /// The blocks of `field` that may hold a value hashing to `hash`, with
    /// errors naming the section.
    pub(crate) fn needle_blocks(
        &self,
        idx: &NeedleIndex<'_>,
        field: Field,
        hash: u64,
        out: &mut Vec<u32>,
    ) -> Result<()> {
        idx.blocks_of(hash, out)
            .map_err(|why| self.corrupt(SectionKind::Needle, field as u16, why))
    }

    /// Open-time check of a needle section: only on a field that has one.
    /// Its bytes are parsed (and checked against their header) on first
    /// use, by [`SegmentReader::needle`]: an open reads no page of an
    /// index the query does not use.
    pub(super) fn check_needle(&self, field: u16) -> Result<()> {
        if NEEDLE_FIELDS.iter().any(|f| *f as u16 == field) {
            return Ok(());
        }
        Err(self.corrupt(
            SectionKind::Needle,
            field,
            "a needle index on a field that has none",
        ))
    }

    /// `verify`: each needle section is exactly the index of its column's
    /// values (rebuilt and compared byte for byte), so no entry can be
    /// missing or wrong.
    pub(super) fn verify_needles(&self) -> Result<()> {
        for field in NEEDLE_FIELDS {
            if !self.has_section(SectionKind::Needle, field as u16) {
                continue;
            }
            let stored = self.section(SectionKind::Needle, field as u16)?;
            let mut cursor: BlockCursor<'_> = self.blocks(field)?;
            let mut pairs = Vec::new();
            for row in 0..self.rows() {
                if let Some(h) = value_hash(field, cursor.get(row)?) {
                    pairs.push((h, row));
                }
            }
            if build(pairs, self.rows()) != stored {
                return Err(self.corrupt(
                    SectionKind::Needle,
                    field as u16,
                    "does not index the column's values",
                ));
            }
        }
        self.verify_id_index()
    }

    /// `verify`: the event-id fingerprints and rows are exactly those of
    /// the stored ids (queries on `event_id` and duplicate checks trust
    /// them to name every row).
    fn verify_id_index(&self) -> Result<()> {
        let rows = self.rows();
        let fp_bits = fingerprint_bits(rows);
        let mut ids = self.blocks(Field::EventId)?;
        let mut pairs = Vec::with_capacity(rows as usize);
        for row in 0..rows {
            let hash = match ids.get(row)? {
                Value::Str(id) => xxh3_64(id.as_bytes()),
                _ => 0,
            };
            pairs.push((fingerprint(hash, fp_bits), row));
        }
        pairs.sort_unstable();
        for (kind, bytes) in [
            (
                SectionKind::IdHashes,
                pack(pairs.iter().map(|p| p.0), fp_bits),
            ),
            (
                SectionKind::IdRows,
                pack(pairs.iter().map(|p| p.1), row_bits(rows)),
            ),
        ] {
            if self.section(kind, NO_FIELD)? != bytes {
                return Err(self.corrupt(kind, NO_FIELD, "does not index the stored event ids"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every stored (hash, block) pair is found, for entry counts around
    /// the bucket boundaries; the section has exactly the length `parse`
    /// expects.
    #[test]
    fn every_stored_value_finds_its_blocks() {
        for rows in [1u32, 2, 63, 64, 65, 1024, 1025, 5000] {
            let pairs: Vec<(u64, u32)> = (0..rows)
                .map(|r| (xxh3_64(&u64::from(r % 97).to_le_bytes()), r))
                .collect();
            let bytes = build(pairs.clone(), rows);
            let idx = NeedleIndex::parse(&bytes, rows).unwrap();
            for (hash, row) in pairs {
                let mut out = Vec::new();
                idx.blocks_of(hash, &mut out).unwrap();
                assert!(out.contains(&(row / BLOCK_ROWS)), "{rows} rows: row {row}");
            }
            assert!(NeedleIndex::parse(&bytes[..bytes.len() - 1], rows).is_err());
        }
    }

    /// Hashes of values not stored match few entries: 5,000 distinct
    /// values (4,096 buckets, 1.22 entries each) and 10,000 other hashes
    /// match 98 times, as 10,000 × 1.22 / 2^7 = 95 predicts.
    #[test]
    fn values_not_stored_rarely_match() {
        let rows = 5000u32;
        let pairs = (0..rows).map(|r| (xxh3_64(&r.to_le_bytes()), r)).collect();
        let bytes = build(pairs, rows);
        let idx = NeedleIndex::parse(&bytes, rows).unwrap();
        let mut out = Vec::new();
        for k in 0..10_000u64 {
            idx.blocks_of(xxh3_64(&(k + 1_000_000).to_le_bytes()), &mut out)
                .unwrap();
        }
        assert_eq!(out.len(), FALSE_MATCHES);
    }
    const FALSE_MATCHES: usize = 98;
}
