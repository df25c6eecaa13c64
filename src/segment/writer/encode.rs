//! Encoders of the segment writer for the sections that are built in one
//! pass over final codes or values: bitmaps, block columns, and the radix
//! sort of the id index. Layouts: docs/format.md.

use super::*;

/// Sorts `keys` by their upper 32 bits, of which only the low `bits` may be
/// set, keeping the order of equal keys (LSD radix sort, 11 bits a pass).
pub(super) fn radix_sort_by_high_half(keys: &mut Vec<u64>, bits: u8) {
    const DIGIT: u32 = 11;
    let mut other = vec![0u64; keys.len()];
    let mut shift = 32;
    while shift < 32 + u32::from(bits) {
        let digit = |k: u64| ((k >> shift) & ((1 << DIGIT) - 1)) as usize;
        let mut start = [0usize; 1 << DIGIT];
        for &k in keys.iter() {
            start[digit(k)] += 1;
        }
        let mut sum = 0;
        for s in start.iter_mut() {
            (*s, sum) = (sum, sum + *s);
        }
        for &k in keys.iter() {
            let d = digit(k);
            other[start[d]] = k;
            start[d] += 1;
        }
        std::mem::swap(keys, &mut other);
        shift += DIGIT;
    }
}

/// The bitmaps section of a column whose rows have final codes `codes`
/// (`0..=count`): rows are grouped by code with a counting sort, then each
/// group becomes one bitmap (roaring's `from_sorted_iter`; its `push` is slow
/// on dense containers).
pub(super) fn encode_bitmaps(codes: &[u32], count: usize) -> Result<Vec<u8>> {
    let mut start = vec![0u32; count + 2];
    for &c in codes {
        start[c as usize + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut next = start.clone();
    let mut grouped = vec![0u32; codes.len()];
    for (row, &c) in codes.iter().enumerate() {
        let slot = &mut next[c as usize];
        grouped[*slot as usize] = row as u32;
        *slot += 1;
    }
    let mut body = Vec::new();
    let mut offsets = Vec::with_capacity(count + 2);
    offsets.push(0u32);
    let mut bits = Vec::new();
    for w in start.windows(2) {
        let rows = &grouped[w[0] as usize..w[1] as usize];
        // Codes on at least 1/16 of the rows (where roaring switches to
        // bitset containers): set bits in a bitset and let roaring cut it
        // into containers, about twice as fast as one push per row. The
        // bitmap is the same either way.
        let mut b = if rows.len() * 16 >= codes.len() {
            bits.clear();
            bits.resize(codes.len().div_ceil(8), 0u8);
            for &r in rows {
                bits[r as usize / 8] |= 1 << (r % 8);
            }
            RoaringBitmap::from_lsb0_bytes(0, &bits)
        } else {
            RoaringBitmap::from_sorted_iter(rows.iter().copied())
                .map_err(|e| Error::Internal(format!("bitmap rows not sorted: {e}")))?
        };
        b.optimize();
        b.serialize_into(&mut body)
            .map_err(|e| Error::Internal(format!("bitmap serialization: {e}")))?;
        offsets.push(body.len() as u32);
    }
    let mut out = Vec::with_capacity(4 + offsets.len() * 4 + body.len());
    out.extend_from_slice(&(count as u32 + 1).to_le_bytes());
    for o in offsets {
        out.extend_from_slice(&o.to_le_bytes());
    }
    out.extend_from_slice(&body);
    Ok(out)
}

/// The 16 bytes of a block column's encoded value if it is a (non-null)
/// canonical lowercase UUID string.
pub(super) fn uuid_value(field: Field, encoded: &[u8]) -> Option<[u8; 16]> {
    let prefix = UUID_TEXT_LEN as u8 + u8::from(!field.required());
    match encoded.split_first() {
        Some((&len, text)) if field.kind() == FieldKind::Str && len == prefix => parse_uuid(text),
        _ => None,
    }
}

pub(super) fn encode_blocks(
    b: &BlockBuilder,
    order: &[u32],
    zstd: &mut zstd::bulk::Compressor<'_>,
) -> Result<Vec<u8>> {
    let value = |i: u32| b.value(i);
    let n_blocks = order.len().div_ceil(BLOCK_ROWS as usize);
    let mut frames = Vec::new();
    let mut offsets = Vec::with_capacity(n_blocks + 1);
    offsets.push(0u64);
    let mut raw = Vec::new();
    for chunk in order.chunks(BLOCK_ROWS as usize) {
        let frame_start = frames.len();
        frames.push(BLOCK_UUID);
        let all_uuids = b.field.kind() == FieldKind::Str
            && chunk.iter().all(|&i| match uuid_value(b.field, value(i)) {
                Some(u) => {
                    frames.extend_from_slice(&u);
                    true
                }
                None => false,
            });
        if !all_uuids {
            frames.truncate(frame_start);
            raw.clear();
            for &i in chunk {
                raw.extend_from_slice(value(i));
            }
            frames.push(BLOCK_ZSTD);
            frames.extend_from_slice(&(raw.len() as u32).to_le_bytes());
            let at = frames.len();
            frames.resize(at + zstd::zstd_safe::compress_bound(raw.len()), 0);
            let n = zstd
                .compress_to_buffer(&raw, &mut frames[at..])
                .map_err(|e| Error::Internal(format!("zstd: {e}")))?;
            frames.truncate(at + n);
        }
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
