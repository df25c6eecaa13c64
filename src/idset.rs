//! A set of event ids keyed by their xxh3-64 hash, for the write buffer's
//! duplicate checks. The hash is computed once per event and reused for the
//! segments' id indexes; a lookup of a new id touches one table slot, and the
//! id itself is compared only when the hashes match, so the set stays exact.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The identity hasher: keys are already uniformly distributed hashes.
#[derive(Default)]
pub(crate) struct HashIsKey(u64);

impl Hasher for HashIsKey {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; fold anything else for completeness.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

enum Slot {
    One(Box<str>),
    /// Distinct ids with the same 64-bit hash (astronomically rare).
    Many(Vec<Box<str>>),
}

/// An exact set of ids, looked up by (id, xxh3-64 of id).
#[derive(Default)]
pub(crate) struct IdSet {
    map: HashMap<u64, Slot, BuildHasherDefault<HashIsKey>>,
    len: usize,
}

impl IdSet {
    pub fn with_capacity(n: usize) -> IdSet {
        IdSet {
            map: HashMap::with_capacity_and_hasher(n, BuildHasherDefault::default()),
            len: 0,
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn contains(&self, id: &str, hash: u64) -> bool {
        match self.map.get(&hash) {
            None => false,
            Some(Slot::One(s)) => &**s == id,
            Some(Slot::Many(v)) => v.iter().any(|s| &**s == id),
        }
    }

    /// Adds `id`; returns false if it was already there.
    pub fn insert(&mut self, id: &str, hash: u64) -> bool {
        use std::collections::hash_map::Entry;
        match self.map.entry(hash) {
            Entry::Vacant(v) => {
                v.insert(Slot::One(id.into()));
            }
            Entry::Occupied(mut o) => {
                let slot = o.get_mut();
                match slot {
                    Slot::One(s) if &**s == id => return false,
                    Slot::Many(v) if v.iter().any(|s| &**s == id) => return false,
                    Slot::One(s) => {
                        let first = std::mem::take(s);
                        *slot = Slot::Many(vec![first, id.into()]);
                    }
                    Slot::Many(v) => v.push(id.into()),
                }
            }
        }
        self.len += 1;
        true
    }

    pub fn remove(&mut self, id: &str, hash: u64) {
        let now_empty = match self.map.get_mut(&hash) {
            Some(Slot::One(s)) if &**s == id => true,
            Some(Slot::Many(v)) => {
                let before = v.len();
                v.retain(|s| &**s != id);
                if v.len() < before {
                    self.len -= 1;
                }
                v.is_empty()
            }
            _ => false,
        };
        if now_empty && matches!(self.map.remove(&hash), Some(Slot::One(_))) {
            self.len -= 1;
        }
    }

    /// Moves every id of `other` into this set.
    pub fn absorb(&mut self, other: IdSet) {
        for (hash, slot) in other.map {
            match slot {
                Slot::One(s) => {
                    self.insert(&s, hash);
                }
                Slot::Many(v) => {
                    for s in v {
                        self.insert(&s, hash);
                    }
                }
            }
        }
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.len = 0;
    }
}

/// A Bloom filter over the ids of the sealed segments it covers: one probe
/// per new event instead of one per segment. A segment is covered once all
/// its ids are in the filter (new segments at publish; a merged segment when
/// all its inputs were covered). Segments sealed before the engine was opened
/// are not covered and are probed one by one. Dropped segments leave their
/// bits behind, which only costs false positives: a "maybe" is always
/// confirmed against the covered segments' own id indexes.
pub(crate) struct SealedIds {
    bloom: crate::segment::bloom::MemBloom,
    covered: std::collections::HashSet<u64>,
}

impl SealedIds {
    pub fn with_capacity(keys: usize) -> SealedIds {
        SealedIds {
            bloom: crate::segment::bloom::MemBloom::with_capacity(keys),
            covered: std::collections::HashSet::new(),
        }
    }

    pub fn covers(&self, segment_id: u64) -> bool {
        self.covered.contains(&segment_id)
    }

    pub fn may_contain(&self, hash: u64) -> bool {
        self.bloom.may_contain(hash)
    }

    /// Adds every id hash of a new segment; it is then covered. A full filter
    /// takes no more segments (they are probed one by one).
    pub fn add_segment(&mut self, segment_id: u64, hashes: &[u64]) {
        if !self.bloom.has_room(hashes.len()) {
            return;
        }
        for &h in hashes {
            self.bloom.insert(h);
        }
        self.covered.insert(segment_id);
    }

    /// A merged segment is covered when all of its inputs were.
    pub fn add_merged(&mut self, merged_id: u64, inputs: impl IntoIterator<Item = u64>) {
        let mut all = true;
        for id in inputs {
            all &= self.covered.remove(&id);
        }
        if all {
            self.covered.insert(merged_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_even_when_hashes_collide() {
        let mut s = IdSet::default();
        assert!(s.insert("a", 1));
        assert!(!s.insert("a", 1));
        assert!(s.insert("b", 1)); // same hash, other id
        assert!(s.contains("a", 1) && s.contains("b", 1) && !s.contains("c", 1));
        assert_eq!(s.len(), 2);
        s.remove("a", 1);
        assert!(!s.contains("a", 1) && s.contains("b", 1));
        s.remove("b", 1);
        assert_eq!(s.len(), 0);
        assert!(!s.contains("b", 1));
        let mut t = IdSet::default();
        t.insert("x", 9);
        s.absorb(t);
        assert!(s.contains("x", 9));
    }
}
