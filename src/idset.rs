//! A set of event identities, (`company_name`, `event_id`), keyed by the
//! xxh3-64 hash of the event id, for the write buffer's duplicate checks.
//! The hash is computed once per event and reused for the segments' id
//! indexes (which hash the id alone, docs/format.md); a lookup of a new id
//! touches one table slot, and the id and company are compared only when the
//! hashes match, so the set stays exact. The same id under two companies is
//! two identities in one slot: dedup is per tenant (docs/event-format.md,
//! "Duplicates").

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

/// One identity: the event id followed by the company name, in one
/// allocation (one per buffered event, as before companies were compared).
#[derive(Default)]
struct Key {
    text: Box<str>,
    id_len: usize,
}

impl Key {
    fn new(company: &str, id: &str) -> Key {
        let mut text = String::with_capacity(id.len() + company.len());
        text.push_str(id);
        text.push_str(company);
        Key {
            text: text.into_boxed_str(),
            id_len: id.len(),
        }
    }

    fn is(&self, company: &str, id: &str) -> bool {
        self.id_len == id.len()
            && self
                .text
                .split_at_checked(self.id_len)
                .is_some_and(|(i, c)| i == id && c == company)
    }
}

enum Slot {
    One(Key),
    /// Distinct identities with the same id hash: the same id under several
    /// companies, or (astronomically rare) distinct ids whose hashes collide.
    Many(Vec<Key>),
}

/// An exact set of (company, id) pairs, looked up by (company, id, xxh3-64
/// of id).
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

    /// Identities held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn contains(&self, company: &str, id: &str, hash: u64) -> bool {
        match self.map.get(&hash) {
            None => false,
            Some(Slot::One(k)) => k.is(company, id),
            Some(Slot::Many(v)) => v.iter().any(|k| k.is(company, id)),
        }
    }

    /// Adds (`company`, `id`); returns false if it was already there.
    pub fn insert(&mut self, company: &str, id: &str, hash: u64) -> bool {
        use std::collections::hash_map::Entry;
        match self.map.entry(hash) {
            Entry::Vacant(v) => {
                v.insert(Slot::One(Key::new(company, id)));
            }
            Entry::Occupied(mut o) => {
                let slot = o.get_mut();
                match slot {
                    Slot::One(k) if k.is(company, id) => return false,
                    Slot::Many(v) if v.iter().any(|k| k.is(company, id)) => return false,
                    Slot::One(k) => {
                        let first = std::mem::take(k);
                        *slot = Slot::Many(vec![first, Key::new(company, id)]);
                    }
                    Slot::Many(v) => v.push(Key::new(company, id)),
                }
            }
        }
        self.len += 1;
        true
    }

    pub fn remove(&mut self, company: &str, id: &str, hash: u64) {
        let now_empty = match self.map.get_mut(&hash) {
            Some(Slot::One(k)) if k.is(company, id) => true,
            Some(Slot::Many(v)) => {
                let before = v.len();
                v.retain(|k| !k.is(company, id));
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

    /// Moves every identity of `other` into this set.
    pub fn absorb(&mut self, other: IdSet) {
        for (hash, slot) in other.map {
            let keys = match slot {
                Slot::One(k) => vec![k],
                Slot::Many(v) => v,
            };
            for k in keys {
                if let Some((id, company)) = k.text.split_at_checked(k.id_len) {
                    self.insert(company, id, hash);
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
/// confirmed against the covered segments' own id indexes. It holds hashes
/// of event ids alone, so another company's copy of an id is a "maybe" too;
/// the id index then compares the company (dedup is per company).
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
        assert!(s.insert("A", "a", 1));
        assert!(!s.insert("A", "a", 1));
        assert!(s.insert("A", "b", 1)); // same hash, other id
        assert!(s.contains("A", "a", 1) && s.contains("A", "b", 1) && !s.contains("A", "c", 1));
        assert_eq!(s.len(), 2);
        s.remove("A", "a", 1);
        assert!(!s.contains("A", "a", 1) && s.contains("A", "b", 1));
        s.remove("A", "b", 1);
        assert_eq!(s.len(), 0);
        assert!(!s.contains("A", "b", 1));
        let mut t = IdSet::default();
        t.insert("A", "x", 9);
        s.absorb(t);
        assert!(s.contains("A", "x", 9));
    }

    #[test]
    fn the_same_id_under_two_companies_is_two_identities() {
        let mut s = IdSet::default();
        assert!(s.insert("Acme", "e1", 7));
        assert!(s.insert("Zeta", "e1", 7));
        assert!(!s.insert("Zeta", "e1", 7));
        // The split between id and company is kept: ("e1", "Acme") is not
        // ("e1A", "cme") nor ("e", "1Acme").
        assert!(!s.contains("cme", "e1A", 7) && !s.contains("1Acme", "e", 7));
        assert_eq!(s.len(), 2);
        s.remove("Acme", "e1", 7);
        assert!(!s.contains("Acme", "e1", 7) && s.contains("Zeta", "e1", 7));
        let mut t = IdSet::default();
        t.insert("Acme", "e1", 7);
        t.insert("Zeta", "e1", 7);
        s.absorb(t);
        assert!(s.contains("Acme", "e1", 7) && s.contains("Zeta", "e1", 7));
        assert_eq!(s.len(), 2);
    }
}
