//! A split-block Bloom filter (the design Parquet uses): 256-bit blocks of
//! eight 32-bit words; a key sets one bit in each word of one block, so a
//! lookup touches one cache line. About 10 bits per key, ~1% false positives.

use crate::codec::le_u32_at;

const SALT: [u32; 8] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];
pub const BLOCK_BYTES: usize = 32;
const BITS_PER_KEY: usize = 10;

/// Number of blocks for `keys` keys.
pub fn block_count(keys: usize) -> usize {
    (keys * BITS_PER_KEY).div_ceil(BLOCK_BYTES * 8).max(1)
}

fn block_of(hash: u64, blocks: usize) -> usize {
    (((hash >> 32) * blocks as u64) >> 32) as usize
}

fn bit(key: u32, i: usize) -> u32 {
    1u32 << (key.wrapping_mul(SALT[i]) >> 27)
}

/// Builds the filter bytes (`block_count(hashes.len()) * 32` bytes, words LE).
pub fn build(hashes: &[u64]) -> Vec<u8> {
    let blocks = block_count(hashes.len());
    let mut words = vec![0u32; blocks * 8];
    for &h in hashes {
        let b = block_of(h, blocks);
        for i in 0..8 {
            words[b * 8 + i] |= bit(h as u32, i);
        }
    }
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Whether `hash` may be in the filter. `filter` must be a whole number of
/// blocks (checked when the segment is opened); a short filter answers
/// "maybe", which is always safe.
pub fn may_contain(filter: &[u8], hash: u64) -> bool {
    let blocks = filter.len() / BLOCK_BYTES;
    if blocks == 0 {
        return true;
    }
    let b = block_of(hash, blocks);
    (0..8).all(|i| le_u32_at(filter, b * 8 + i).is_none_or(|w| w & bit(hash as u32, i) != 0))
}

/// An in-memory split-block Bloom filter of fixed size that takes keys one
/// at a time (the engine's filter over sealed ids).
pub(crate) struct MemBloom {
    words: Vec<u32>,
    blocks: usize,
    keys: usize,
    capacity: usize,
}

impl MemBloom {
    pub fn with_capacity(keys: usize) -> MemBloom {
        let blocks = block_count(keys);
        MemBloom {
            words: vec![0; blocks * 8],
            blocks,
            keys: 0,
            capacity: keys,
        }
    }

    /// Whether another `n` keys fit without raising the false-positive rate
    /// past the design point.
    pub fn has_room(&self, n: usize) -> bool {
        self.keys + n <= self.capacity
    }

    pub fn insert(&mut self, hash: u64) {
        let b = block_of(hash, self.blocks);
        for i in 0..8 {
            if let Some(w) = self.words.get_mut(b * 8 + i) {
                *w |= bit(hash as u32, i);
            }
        }
        self.keys += 1;
    }

    pub fn may_contain(&self, hash: u64) -> bool {
        let b = block_of(hash, self.blocks);
        (0..8).all(|i| {
            self.words
                .get(b * 8 + i)
                .is_none_or(|w| w & bit(hash as u32, i) != 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let keys: Vec<u64> = (0..10_000u64)
            .map(|i| xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()))
            .collect();
        let f = build(&keys);
        assert!(keys.iter().all(|&k| may_contain(&f, k)));
        let fp = (10_000..110_000u64)
            .filter(|i| may_contain(&f, xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes())))
            .count();
        assert!(fp < 3_000, "false positive rate too high: {fp} of 100000");
    }
}
