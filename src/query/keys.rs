//! Group key values as the merge sees them, and the compact table a segment
//! interns block-compressed string keys into.
//!
//! A key value is either bytes (a block column's string, read in place and
//! never checked as UTF-8 until it is output) or a [`Value`]. Both forms of
//! one string hash, compare and sort alike: the contract's string order is
//! bytewise, and strings sort after every other kind of value.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::event::Value;

use super::scalar::Scalar;

/// One group key value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum K<'x> {
    Bytes(&'x [u8]),
    Val(Value<'x>),
}

impl<'x> K<'x> {
    /// Strings as bytes, so both forms of one string are one form.
    #[inline]
    fn norm(self) -> K<'x> {
        match self {
            K::Val(Value::Str(s)) => K::Bytes(s.as_bytes()),
            k => k,
        }
    }

    /// The hash of the value under `h`; equal for both forms of a string.
    #[inline]
    pub fn hash(self, h: &FixedState) -> u64 {
        match self.norm() {
            K::Bytes(b) => h.hash_one(b),
            K::Val(v) => h.hash_one(v),
        }
    }

    #[inline]
    pub fn same(self, other: K<'_>) -> bool {
        match (self.norm(), other.norm()) {
            (K::Bytes(a), K::Bytes(b)) => a == b,
            (K::Val(a), K::Val(b)) => a == b,
            _ => false,
        }
    }

    /// The order of [`Value`] (and [`Scalar`]): strings bytewise and after
    /// every other kind.
    #[inline]
    pub fn cmp(self, other: K<'_>) -> Ordering {
        match (self.norm(), other.norm()) {
            (K::Bytes(a), K::Bytes(b)) => a.cmp(b),
            (K::Val(a), K::Val(b)) => a.cmp(&b),
            (K::Bytes(_), K::Val(_)) => Ordering::Greater,
            (K::Val(_), K::Bytes(_)) => Ordering::Less,
        }
    }

    /// For a string, a number whose order is the string's on its first 7
    /// bytes (and whose top byte is 1): two strings with different
    /// prefixes compare as these; equal ones must be compared in full.
    /// `None` for other values.
    #[inline]
    pub fn str_prefix(self) -> Option<u64> {
        match self.norm() {
            K::Bytes(b) => {
                let mut p = [0u8; 8];
                p[0] = 1;
                for (d, s) in p.iter_mut().skip(1).zip(b) {
                    *d = *s;
                }
                Some(u64::from_be_bytes(p))
            }
            K::Val(_) => None,
        }
    }

    /// The output value; `None` when bytes are not UTF-8 (a damaged
    /// segment: the caller names it).
    pub fn to_scalar(self) -> Option<Scalar> {
        match self {
            K::Bytes(b) => std::str::from_utf8(b)
                .ok()
                .map(|s| Scalar::Str(s.to_string())),
            K::Val(v) => Some(Scalar::from(v)),
        }
    }
}

/// The distinct string values of a block column met while grouping one
/// segment, by local key: key 0 is "no value", key `i > 0` the bytes
/// `arena[ends[i-1]..ends[i]]`. About the value's length plus 12 bytes per
/// distinct value (arena, end offset, table slot), where a `HashMap` of
/// owned strings took about 100.
#[derive(Default)]
pub(crate) struct BytesKeys {
    arena: Vec<u8>,
    /// `ends[0]` is 0: key 0 (no value) owns no bytes.
    ends: Vec<usize>,
    table: HashTable<u32>,
    hasher: FixedState,
}

impl BytesKeys {
    pub fn new() -> BytesKeys {
        BytesKeys {
            ends: vec![0],
            ..BytesKeys::default()
        }
    }

    /// Keys for about `n` distinct values: the table then grows at most
    /// once (growing hashes every value again).
    pub fn with_capacity(n: usize) -> BytesKeys {
        let mut k = BytesKeys::new();
        k.table.reserve(n, |_| 0);
        k.ends.reserve(n);
        k
    }

    /// How many keys there are (the missing value's included).
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The key of `bytes`, added if new and `accept(bytes)`; `Err(())`
    /// when new and refused. One hash for both the look-up and the insert.
    #[inline]
    pub fn find_or_insert(
        &mut self,
        bytes: &[u8],
        accept: impl FnOnce(&[u8]) -> bool,
    ) -> std::result::Result<u32, ()> {
        let h = self.hasher.hash_one(bytes);
        let (arena, ends) = (&self.arena, &self.ends);
        if let Some(k) = self.table.find(h, |k| slice(arena, ends, *k) == bytes) {
            return Ok(*k);
        }
        if !accept(bytes) {
            return Err(());
        }
        Ok(self.insert_hashed(bytes, h))
    }

    /// Adds `bytes`, not met before, as a new key.
    pub fn insert(&mut self, bytes: &[u8]) -> u32 {
        let h = self.hasher.hash_one(bytes);
        self.insert_hashed(bytes, h)
    }

    fn insert_hashed(&mut self, bytes: &[u8], h: u64) -> u32 {
        let k = self.ends.len() as u32;
        self.arena.extend_from_slice(bytes);
        self.ends.push(self.arena.len());
        let (arena, ends, hasher) = (&self.arena, &self.ends, &self.hasher);
        self.table
            .insert_unique(h, k, |k| hasher.hash_one(slice(arena, ends, *k)));
        k
    }

    /// The value of `key`.
    pub fn get(&self, key: u32) -> K<'_> {
        if key == 0 || key as usize >= self.ends.len() {
            K::Val(Value::Null)
        } else {
            K::Bytes(slice(&self.arena, &self.ends, key))
        }
    }

    /// The bytes held once sealed (for the query's memory budget): the
    /// strings and their end offsets.
    pub fn bytes(&self) -> u64 {
        (self.arena.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()) as u64
    }

    /// The table is only needed while keys are added.
    pub fn seal(&mut self) {
        self.table = HashTable::new();
        self.arena.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// The bytes of key `k` (key 0 and keys past the end own none).
#[inline]
fn slice<'b>(arena: &'b [u8], ends: &[usize], k: u32) -> &'b [u8] {
    let i = k as usize;
    match (i.checked_sub(1).and_then(|p| ends.get(p)), ends.get(i)) {
        (Some(s), Some(e)) => arena.get(*s..*e).unwrap_or(&[]),
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_keys_intern_and_compare_like_values() {
        let mut k = BytesKeys::new();
        assert_eq!(k.find_or_insert(b"/a", |_| false), Err(()));
        let a = k.insert(b"/a");
        let b = k.insert(b"/b");
        assert_eq!((a, b), (1, 2));
        assert_eq!(k.find_or_insert(b"/a", |_| false), Ok(1));
        assert_eq!(k.find_or_insert(b"", |_| false), Err(()));
        assert_eq!(k.insert(b""), 3);
        assert_eq!(k.find_or_insert(b"", |_| false), Ok(3));
        assert_eq!(k.find_or_insert(b"/b", |_| false), Ok(2));
        assert_eq!(k.find_or_insert(b"/c", |_| false), Err(()));
        assert_eq!(k.find_or_insert(b"/c", |_| true), Ok(4));
        assert_eq!(k.find_or_insert(b"/c", |_| false), Ok(4));
        k.insert(b"/d");
        assert_eq!(k.len(), 6);
        k.seal();
        // "/a", "/b", "", "/c", "/d" and 6 ends.
        assert_eq!(k.bytes(), 8 + 6 * 8);
        assert!(k.get(1).same(K::Val(Value::Str("/a"))));
        assert!(k.get(0).same(K::Val(Value::Null)));
        assert!(k.get(3).same(K::Val(Value::Str(""))));
        let h = FixedState::default();
        assert_eq!(k.get(2).hash(&h), K::Val(Value::Str("/b")).hash(&h));
        assert_eq!(k.get(1).cmp(k.get(2)), Ordering::Less);
        assert_eq!(k.get(0).cmp(k.get(3)), Ordering::Less);
        assert_eq!(k.get(3).cmp(K::Val(Value::Int(7))), Ordering::Greater);
        assert_eq!(k.get(2).to_scalar(), Some(Scalar::Str("/b".into())));
        // Prefixes order strings by their first 7 bytes; a shorter string
        // is a smaller prefix only when the bytes differ.
        let p = |s: &str| K::Val(Value::Str(s)).str_prefix().unwrap();
        assert!(p("/a") < p("/b"));
        assert_eq!(p(""), p("\u{0}"));
        assert_eq!(p("abcdefgX"), p("abcdefgY"));
        assert!(p("abcdefg") > p("abcdef"));
        assert_eq!(k.get(1).str_prefix(), Some(p("/a")));
        assert_eq!(K::Val(Value::Int(3)).str_prefix(), None);
    }
}
