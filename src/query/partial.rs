//! What one source (a segment or a chunk of buffered events) contributes to
//! a query's answer, before the merge: group counts keyed by source-local
//! codes, or the source's best rows for a listing.

use std::cmp::Ordering;
use std::collections::HashMap;

use foldhash::fast::FixedState;

use crate::error::Result;
use crate::event::Value;
use crate::segment::DictColumn;

use super::bind::{MAX_GROUP_FIELDS, SortKey};
use super::explain::SourceTrace;
use super::keys::{BytesKeys, K};
use super::scalar::Scalar;

/// A group key: one source-local key per group field (unused slots 0).
pub(crate) type GKey = [u32; MAX_GROUP_FIELDS];

/// Where a group field's source-local keys come from, and how to turn one
/// back into a value at merge time.
pub(crate) enum KeySrc<'a> {
    /// Key = dictionary code of the segment's column.
    Dict(DictColumn<'a>),
    /// Key = code of the parent of a mapped column (`len` codes); the
    /// value is the child's for that parent code.
    Mapped { child: DictColumn<'a>, len: usize },
    /// The field has one value in the whole source (`event_date` of a
    /// segment); key 0.
    Const(Scalar),
    /// Key = index into values interned while scanning (block-compressed
    /// and timestamp columns).
    Owned(Vec<Scalar>),
    /// Key = index into values borrowed from buffered events.
    Borrowed(Vec<Value<'a>>),
    /// Key = key of the string bytes of a block-compressed column met while
    /// scanning (0: no value).
    Bytes(BytesKeys),
}

impl KeySrc<'_> {
    /// How many distinct keys the source can hand out.
    pub fn len(&self) -> usize {
        match self {
            KeySrc::Dict(col) => col.count() as usize + 1,
            KeySrc::Mapped { len, .. } => *len,
            KeySrc::Const(_) => 1,
            KeySrc::Owned(v) => v.len(),
            KeySrc::Borrowed(v) => v.len(),
            KeySrc::Bytes(b) => b.len(),
        }
    }

    /// The value of `key`, as the merge compares it.
    #[inline]
    pub fn key(&self, key: u32) -> Result<K<'_>> {
        match self {
            KeySrc::Bytes(b) => Ok(b.get(key)),
            _ => self.value(key).map(K::Val),
        }
    }

    pub fn value(&self, key: u32) -> Result<Value<'_>> {
        Ok(match self {
            KeySrc::Dict(col) => col.value(key)?,
            KeySrc::Mapped { child, .. } => child.value(child.code_of_parent(key))?,
            KeySrc::Const(s) => s.as_value(),
            KeySrc::Owned(v) => v.get(key as usize).map_or(Value::Null, Scalar::as_value),
            KeySrc::Borrowed(v) => v.get(key as usize).copied().unwrap_or(Value::Null),
            KeySrc::Bytes(b) => match b.get(key) {
                K::Val(v) => v,
                K::Bytes(bytes) => std::str::from_utf8(bytes).map_or(Value::Null, Value::Str),
            },
        })
    }
}

/// One source's contribution.
pub(crate) struct Partial<'a> {
    /// Events in the source that match the window and every predicate.
    pub matched: u64,
    pub out: Out<'a>,
    pub trace: Option<SourceTrace>,
}

pub(crate) enum Out<'a> {
    /// `select: count`: non-zero counts by source-local group key.
    Counts {
        srcs: Vec<KeySrc<'a>>,
        counts: Counts,
    },
    /// `select: events`: the source's best rows (sort key, row), best first.
    Rows(Vec<(Vec<Scalar>, u32)>),
}

/// A source's groups: per group its key (only the group fields' slots, 4
/// bytes each) and its count; 12 bytes a group for one field, where a
/// full `(GKey, u64)` takes 40 (a month of `group_by event_id` holds one
/// per event until the merge).
#[derive(Default)]
pub(crate) struct Counts {
    width: usize,
    keys: Vec<u32>,
    counts: Vec<u64>,
}

impl Counts {
    pub fn new(width: usize) -> Counts {
        Counts {
            width: width.min(MAX_GROUP_FIELDS),
            ..Counts::default()
        }
    }

    #[inline]
    pub fn push(&mut self, key: &GKey, count: u64) {
        self.keys
            .extend_from_slice(key.get(..self.width).unwrap_or(key));
        self.counts.push(count);
    }

    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Room for `n` more groups.
    pub fn reserve(&mut self, n: usize) {
        self.keys.reserve(n * self.width);
        self.counts.reserve(n);
    }

    /// The bytes held (for the query's memory budget).
    pub fn bytes(&self) -> u64 {
        (self.keys.capacity() * 4 + self.counts.capacity() * 8) as u64
    }

    /// The key of group `i` (zeros past the end).
    #[inline]
    pub fn key(&self, i: usize) -> GKey {
        let w = self.width;
        let mut key: GKey = [0; MAX_GROUP_FIELDS];
        if let (Some(dst), Some(src)) = (key.get_mut(..w), self.keys.get(i * w..i * w + w)) {
            dst.copy_from_slice(src);
        }
        key
    }

    /// The groups, in the order pushed.
    pub fn iter(&self) -> impl Iterator<Item = (GKey, u64)> + '_ {
        let w = self.width;
        self.counts.iter().enumerate().map(move |(i, c)| {
            let mut key: GKey = [0; MAX_GROUP_FIELDS];
            if let (Some(dst), Some(src)) = (key.get_mut(..w), self.keys.get(i * w..i * w + w)) {
                dst.copy_from_slice(src);
            }
            (key, *c)
        })
    }
}

impl FromIterator<(GKey, u64)> for Counts {
    /// Full-width keys (for the few groups built without a width).
    fn from_iter<I: IntoIterator<Item = (GKey, u64)>>(it: I) -> Counts {
        let mut c = Counts::new(MAX_GROUP_FIELDS);
        for (k, n) in it {
            c.push(&k, n);
        }
        c
    }
}

/// Counts rows by group key: a dense array when every key is a small code,
/// a hash map otherwise.
pub(crate) struct Grouper {
    width: usize,
    dense: Option<Dense>,
    /// Per field, the bits of its key in a packed `u64` key, when every
    /// field is bounded and they fit: hashing 8 bytes instead of 32.
    packed: Option<Vec<u32>>,
    packed_hash: HashMap<u64, u64, FixedState>,
    /// Keyed by the field of the most keys (the lead, a URL's) in a dense
    /// array, when the others fit a packed key: per lead key, the first
    /// group met with it (the others' packed keys and its count). Another
    /// group with that lead key (a URL seen with two users) goes to
    /// `hash`. Block columns' keys are numbered from 0 as met, so the
    /// array is as dense as the rows, and most rows cost one array
    /// access instead of a hash probe.
    lead: Option<Lead>,
    hash: HashMap<GKey, u64, FixedState>,
}

/// The lead field, the others' bits (the lead's 0) and the per-key slots.
type Lead = (usize, Vec<u32>, Vec<(u64, u64)>);

/// Counts by mixed-radix index, and per field its stride and number of
/// keys.
type Dense = (Vec<u64>, Vec<(usize, usize)>);

/// A dense counting array is used when it has at most this many entries,
/// or at most twice as many as the rows to count (zeroing and scanning it
/// then costs about what counting does), up to `DENSE_CAP`.
const DENSE_MIN: usize = 1 << 16;
const DENSE_CAP: usize = 1 << 24;

impl Grouper {
    /// `sizes[i]`: the number of distinct keys of field `i`, if bounded;
    /// `rows`: how many rows will be counted, at most.
    pub fn new(sizes: &[Option<usize>], rows: u64) -> Grouper {
        let dense_max = usize::try_from(rows.saturating_mul(2))
            .unwrap_or(usize::MAX)
            .clamp(DENSE_MIN, DENSE_CAP);
        let mut strides = Vec::with_capacity(sizes.len());
        let mut total = 1usize;
        let mut dense = true;
        for s in sizes {
            strides.push((total, s.unwrap_or(1).max(1)));
            match s.and_then(|s| total.checked_mul(s.max(1))) {
                Some(t) if t <= dense_max => total = t,
                _ => dense = false,
            }
        }
        let bits: Option<Vec<u32>> = sizes
            .iter()
            .map(|s| s.map(|n| usize::BITS - n.saturating_sub(1).leading_zeros()))
            .collect();
        let lead = bits
            .as_ref()
            .filter(|b| !dense && b.len() > 1)
            .and_then(|b| lead_of(sizes, b));
        let packed = bits.filter(|b| !dense && lead.is_none() && b.iter().sum::<u32>() <= 64);
        // Room for a group per row when hashing (keys of block columns are
        // mostly distinct): the table then never grows, which would hash
        // every key again at each doubling.
        let room = if dense || lead.is_some() {
            0
        } else {
            usize::try_from(rows).unwrap_or(0).min(DENSE_CAP)
        };
        let (packed_hash, hash) = match packed {
            Some(_) => (
                HashMap::with_capacity_and_hasher(room, FixedState::default()),
                HashMap::default(),
            ),
            None => (
                HashMap::default(),
                HashMap::with_capacity_and_hasher(room, FixedState::default()),
            ),
        };
        Grouper {
            width: sizes.len(),
            dense: dense.then(|| (vec![0; total], strides)),
            packed,
            packed_hash,
            lead,
            hash,
        }
    }

    /// The packed key; `None` when a field's key does not fit its bits (a
    /// code past its dictionary: counted by the full key instead).
    #[inline]
    fn pack(bits: &[u32], key: &GKey) -> Option<u64> {
        let mut p = 0u64;
        let mut shift = 0u32;
        for (k, b) in key.iter().zip(bits) {
            if u64::from(*k).checked_shr(*b).unwrap_or(0) != 0 {
                return None;
            }
            p |= u64::from(*k).checked_shl(shift).unwrap_or(0);
            shift += b;
        }
        Some(p)
    }

    fn unpack(bits: &[u32], mut p: u64) -> GKey {
        let mut key = [0u32; MAX_GROUP_FIELDS];
        for (k, b) in key.iter_mut().zip(bits) {
            let mask = 1u64.checked_shl(*b).map_or(u64::MAX, |m| m - 1);
            *k = (p & mask) as u32;
            p = p.checked_shr(*b).unwrap_or(0);
        }
        key
    }

    #[inline]
    pub fn add(&mut self, key: &GKey, n: u64) {
        if let Some((lead, bits, slots)) = &mut self.lead {
            let mut rest = *key;
            let l = rest.get_mut(*lead).map_or(0, std::mem::take) as usize;
            if let (Some(p), Some(slot)) = (Self::pack(bits, &rest), slots.get_mut(l)) {
                if slot.1 == 0 {
                    *slot = (p, n);
                    return;
                }
                if slot.0 == p {
                    slot.1 += n;
                    return;
                }
            }
            *self.hash.entry(*key).or_insert(0) += n;
            return;
        }
        match &mut self.dense {
            Some((counts, strides)) => {
                let i: usize = strides
                    .iter()
                    .zip(key)
                    .map(|((s, _), k)| s * *k as usize)
                    .sum();
                if let Some(c) = counts.get_mut(i) {
                    *c += n;
                }
            }
            None => match self.packed.as_deref().and_then(|b| Self::pack(b, key)) {
                Some(p) => *self.packed_hash.entry(p).or_insert(0) += n,
                None => *self.hash.entry(*key).or_insert(0) += n,
            },
        }
    }

    pub fn finish(self) -> Counts {
        let mut out = Counts::new(self.width);
        out.reserve(self.packed_hash.len() + self.hash.len());
        if let Some((lead, bits, slots)) = &self.lead {
            for (l, (p, c)) in slots.iter().enumerate().filter(|(_, s)| s.1 > 0) {
                let mut key = Self::unpack(bits, *p);
                if let Some(k) = key.get_mut(*lead) {
                    *k = l as u32;
                }
                out.push(&key, *c);
            }
        }
        match self.dense {
            Some((counts, strides)) => {
                for (i, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
                    let mut key = [0u32; MAX_GROUP_FIELDS];
                    for (k, (stride, n)) in key.iter_mut().zip(&strides) {
                        *k = ((i / stride) % n) as u32;
                    }
                    out.push(&key, *c);
                }
            }
            None => {
                if let Some(bits) = &self.packed {
                    for (p, c) in self.packed_hash {
                        out.push(&Self::unpack(bits, p), c);
                    }
                }
                for (k, c) in self.hash {
                    out.push(&k, c);
                }
            }
        }
        out
    }
}

/// The lead of a [`Grouper`]: the field of the most keys, when its slots
/// fit `DENSE_CAP` and the other fields' keys fit 64 bits.
fn lead_of(sizes: &[Option<usize>], bits: &[u32]) -> Option<Lead> {
    let (lead, size) = sizes
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|s| (i, s)))
        .max_by_key(|(i, s)| (*s, std::cmp::Reverse(*i)))?;
    let mut rest = bits.to_vec();
    *rest.get_mut(lead)? = 0;
    (size <= DENSE_CAP && rest.iter().sum::<u32>() <= 64).then(|| (lead, rest, vec![(0, 0); size]))
}

/// Compares two sort keys under the query's order.
pub(crate) fn cmp_keys(order: &[(SortKey, bool)], a: &[Scalar], b: &[Scalar]) -> Ordering {
    for (((_, desc), x), y) in order.iter().zip(a).zip(b) {
        let o = super::scalar::cmp_dir(x, y, *desc);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Keeps the best `k` rows of a listing seen so far, skipping rows at or
/// before the cursor.
pub(crate) struct TopRows<'q> {
    order: &'q [(SortKey, bool)],
    k: Option<usize>,
    after: Option<&'q [Scalar]>,
    rows: Vec<(Vec<Scalar>, u32)>,
}

impl<'q> TopRows<'q> {
    pub fn new(
        order: &'q [(SortKey, bool)],
        k: Option<usize>,
        after: Option<&'q [Scalar]>,
    ) -> TopRows<'q> {
        TopRows {
            order,
            k,
            after,
            rows: Vec::new(),
        }
    }

    /// Whether a row with this key would be kept (after the cursor).
    pub fn after_cursor(&self, key: &[Scalar]) -> bool {
        self.after
            .is_none_or(|a| cmp_keys(self.order, key, a) == Ordering::Greater)
    }

    /// Offers a row; returns whether it was after the cursor.
    pub fn push(&mut self, key: Vec<Scalar>, row: u32) -> bool {
        if !self.after_cursor(&key) {
            return false;
        }
        self.rows.push((key, row));
        if let Some(k) = self.k
            && self.rows.len() >= k.max(64).saturating_mul(2)
        {
            self.trim(k);
        }
        true
    }

    /// Rows kept so far.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    fn trim(&mut self, k: usize) {
        let order = self.order;
        self.rows
            .sort_unstable_by(|a, b| cmp_keys(order, &a.0, &b.0));
        self.rows.truncate(k);
    }

    pub fn finish(mut self) -> Vec<(Vec<Scalar>, u32)> {
        let k = self.k.unwrap_or(usize::MAX);
        self.trim(k);
        self.rows
    }
}
