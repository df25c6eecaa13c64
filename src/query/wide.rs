//! The merge of a count keyed by fields of many distinct values that no
//! month-wide dictionary holds (`event_id`, `url`, `object_id`,
//! timestamps, or any field of buffered events only).
//!
//! Instead of numbering each such field's values query-wide (a table per
//! field, a memo per source) and then summing by the numbers (another
//! table), every source group goes once into one table keyed by a 64-bit
//! hash of its whole key: the values of those fields (hashed in place,
//! from the source's own bytes) and the month-wide ids of the others. A
//! group is represented by the first source group met with its key; the
//! page is ranked and output from those representatives, so nothing is
//! copied or numbered.
//!
//! Exact: two source groups with one hash are compared value by value. Two
//! different keys with one hash (about one query in 2^40 at these sizes,
//! or a crafted key) stop this path, and the caller merges by ids instead.
//!
//! Memory (charged before the sum, an upper bound): per source group a
//! 32-byte record (hash, representative, total, order prefix); per source
//! and field, 8 bytes per local key keyed by value (its value's hash, until
//! the records are made), 4 per local key keyed by id (its id). A partition's table is a few hundred
//! kilobytes, reused.

use std::cmp::Ordering;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::error::Result;

use super::cancel::{CHECK_EVERY_ROWS, Stop};
use super::groups::{Ids, Memo, Src, Top};
use super::keys::K;
use super::partial::{GKey, KeySrc};
use super::scalar::Scalar;

/// Bytes charged per source group (see the module docs).
const GROUP_BYTES: u64 = 32;

/// How one group field is keyed in the table.
enum FieldKey {
    /// By the month-wide id of its value: per source, the local key -> id
    /// memo.
    Ids(Vec<Memo>),
    /// By its value: per source, the hash of each local key's value.
    Value(Vec<Vec<u64>>),
}

/// One source group in the table: its whole key's hash, its
/// representative (source, group index in that source's counts) and
/// count. After the sum, the first record of each key holds the key's
/// total and the others 0.
#[derive(Clone, Copy, Default)]
struct Rec {
    hash: u64,
    /// The order's first group field, when a string: its prefix
    /// ([`K::str_prefix`]); else 0. Most comparisons of the page's ranking
    /// end here, without reading the values.
    prefix: u64,
    src: u32,
    group: u32,
    total: u64,
}

/// Source groups per partition of the sum, about: a partition's table
/// and records then stay in the processor's cache.
const PARTITION_GROUPS: usize = 8192;

/// The page of a count (offset applied, each row its values then the
/// count), or `None` when two different keys share a hash (the caller
/// then merges by ids). `by_value[f]`: group field `f` is keyed by value;
/// the others by `ids[f]`.
pub(super) fn page(
    srcs: &[Src<'_>],
    ids: &mut [Ids<'_>],
    by_value: &[bool],
    order: &[(Option<usize>, bool)],
    (offset, limit): (usize, Option<usize>),
    stop: Stop<'_>,
) -> Result<Option<Vec<Vec<Scalar>>>> {
    let mut keys = field_keys(srcs, ids, by_value, stop)?;
    // The order's first group field: records carry its prefix.
    let first = order.iter().find_map(|(k, _)| *k);
    let Some(recs) = sum(srcs, &mut keys, first, stop)? else {
        return Ok(None);
    };
    let ids: &[Ids<'_>] = ids;
    let value = |f: usize, e: u32| -> K<'_> { entry_key(srcs, ids, &keys, &recs, f, e) };
    let prefix = |e: u32| recs.get(e as usize).map_or(0, |r| r.prefix);
    let cmp = |a: &(GKey, u64), b: &(GKey, u64)| -> Ordering {
        let (ea, eb) = (a.0[0], b.0[0]);
        for (k, desc) in order {
            let o = match k {
                None => a.1.cmp(&b.1),
                Some(_) if ea == eb => Ordering::Equal,
                Some(f) => {
                    let (pa, pb) = (prefix(ea), prefix(eb));
                    if Some(*f) == first && pa != pb && pa != 0 && pb != 0 {
                        pa.cmp(&pb)
                    } else {
                        value(*f, ea).cmp(value(*f, eb))
                    }
                }
            };
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    };
    let page_end = limit.map_or(usize::MAX, |l| offset.saturating_add(l));
    let mut top = Top::new(page_end, &cmp);
    for (e, rec) in recs.iter().enumerate() {
        if e.is_multiple_of(CHECK_EVERY_ROWS) {
            stop.check()?;
        }
        // Records summed into their key's first hold 0.
        if rec.total == 0 {
            continue;
        }
        let mut key: GKey = [0; 8];
        key[0] = e as u32;
        top.push(key, rec.total);
    }
    let mut rows = Vec::new();
    for (at, (key, total)) in top
        .finish()
        .into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .enumerate()
    {
        if at.is_multiple_of(CHECK_EVERY_ROWS) {
            stop.check()?;
        }
        let mut values: Vec<Scalar> = (0..keys.len())
            .map(|f| value(f, key[0]).to_scalar().unwrap_or(Scalar::Null))
            .collect();
        values.push(Scalar::Int(total));
        rows.push(values);
    }
    Ok(Some(rows))
}

/// Per group field, how the table keys it: memos of ids, or the hashes of
/// the sources' local values.
fn field_keys(
    srcs: &[Src<'_>],
    ids: &mut [Ids<'_>],
    by_value: &[bool],
    stop: Stop<'_>,
) -> Result<Vec<FieldKey>> {
    let hasher = FixedState::default();
    let mut keys = Vec::with_capacity(ids.len());
    for (f, fids) in ids.iter_mut().enumerate() {
        if by_value.get(f).copied().unwrap_or(false) {
            let mut per_src = Vec::with_capacity(srcs.len());
            for s in srcs {
                let n = s.keys.get(f).map_or(0, KeySrc::len);
                stop.charge(8 * n as u64, "merge of groups")?;
                let mut hashes = Vec::with_capacity(n);
                for local in 0..n as u32 {
                    if (local as usize).is_multiple_of(CHECK_EVERY_ROWS) {
                        stop.check()?;
                    }
                    hashes.push(s.key(f, local)?.hash(&hasher));
                }
                per_src.push(hashes);
            }
            keys.push(FieldKey::Value(per_src));
        } else {
            let n: usize = srcs
                .iter()
                .filter_map(|s| s.keys.get(f))
                .map(KeySrc::len)
                .sum();
            stop.charge(4 * n as u64, "merge of groups")?;
            fids.reserve(srcs);
            let memos = (0..srcs.len())
                .map(|s| fids.memo(srcs, s, stop))
                .collect::<Result<Vec<_>>>()?;
            keys.push(FieldKey::Ids(memos));
        }
    }
    Ok(keys)
}

/// The hash of field key `k` of a source's local key `local`.
#[inline]
fn field_hash(k: &FieldKey, src: usize, local: u32) -> u64 {
    match k {
        FieldKey::Ids(memos) => memos.get(src).map_or(0, |m| u64::from(m.get(local))),
        FieldKey::Value(h) => h
            .get(src)
            .and_then(|h| h.get(local as usize))
            .copied()
            .unwrap_or(0),
    }
}

/// The whole key's hash: the fields' hashes folded, then mixed so that
/// both the table's bucket bits (low) and tag bits (high) vary.
#[inline]
fn key_hash(keys: &[FieldKey], src: usize, local: &GKey) -> u64 {
    let mut h = 0u64;
    for (k, l) in keys.iter().zip(local) {
        h = (h.rotate_left(23) ^ field_hash(k, src, *l)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    // The splitmix64 finalizer.
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

/// Whether source group (`sa`, local key `la`) and (`sb`, `lb`) have the
/// same key, field by field.
fn same_key(
    srcs: &[Src<'_>],
    keys: &[FieldKey],
    (sa, la): (usize, &GKey),
    (sb, lb): (usize, &GKey),
) -> Result<bool> {
    for (f, k) in keys.iter().enumerate() {
        let (a, b) = (la.get(f).copied(), lb.get(f).copied());
        let (a, b) = (a.unwrap_or(0), b.unwrap_or(0));
        let same = match k {
            FieldKey::Ids(_) => field_hash(k, sa, a) == field_hash(k, sb, b),
            FieldKey::Value(_) => match (srcs.get(sa), srcs.get(sb)) {
                (Some(x), Some(y)) => x.key(f, a)?.same(y.key(f, b)?),
                _ => false,
            },
        };
        if !same {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Sums every source's groups by whole key; `None` on two different keys
/// with one hash. The groups are first spread by hash into partitions
/// small enough for the cache, then summed one partition at a time (a
/// month of unique keys in one table would miss the cache at every
/// group).
fn sum(
    srcs: &[Src<'_>],
    keys: &mut [FieldKey],
    first: Option<usize>,
    stop: Stop<'_>,
) -> Result<Option<Vec<Rec>>> {
    let groups: usize = srcs.iter().map(|s| s.counts.len()).sum();
    stop.charge(groups as u64 * GROUP_BYTES, "merge of groups")?;
    // Partitions by hash bits 32 and up: the table within one indexes by
    // the low bits and tags by the top 7.
    let parts = groups
        .div_ceil(PARTITION_GROUPS)
        .next_power_of_two()
        .min(1 << 16);
    let part = |h: u64| ((h >> 32) as usize) & (parts - 1);
    // Two passes over the groups, each hashing them (cheaper than holding
    // the hashes): partition sizes, then the records.
    let mut starts = vec![0usize; parts + 1];
    for (s, src) in srcs.iter().enumerate() {
        stop.check()?;
        for (local, _) in src.counts.iter() {
            if let Some(n) = starts.get_mut(part(key_hash(keys, s, &local)) + 1) {
                *n += 1;
            }
        }
    }
    for p in 1..=parts {
        let before = starts.get(p - 1).copied().unwrap_or(0);
        if let Some(n) = starts.get_mut(p) {
            *n += before;
        }
    }
    let mut at = starts.clone();
    let mut recs = vec![Rec::default(); groups];
    for (s, src) in srcs.iter().enumerate() {
        stop.check()?;
        for (i, (local, count)) in src.counts.iter().enumerate() {
            let hash = key_hash(keys, s, &local);
            let prefix = match first {
                Some(f) => src.key(f, local.get(f).copied().unwrap_or(0))?,
                None => K::Val(crate::event::Value::Null),
            }
            .str_prefix()
            .unwrap_or(0);
            if let Some(slot) = at.get_mut(part(hash))
                && let Some(r) = recs.get_mut(*slot)
            {
                *r = Rec {
                    hash,
                    prefix,
                    src: s as u32,
                    group: i as u32,
                    total: count,
                };
                *slot += 1;
            }
        }
    }
    // Values are compared from here on, not hashed.
    for k in keys.iter_mut() {
        if let FieldKey::Value(h) = k {
            *h = Vec::new();
        }
    }
    let keys: &[FieldKey] = keys;
    let mut table: HashTable<(u64, u32)> = HashTable::new();
    for p in 0..parts {
        if p.is_multiple_of(16) {
            stop.check()?;
        }
        let (Some(lo), Some(hi)) = (starts.get(p).copied(), starts.get(p + 1).copied()) else {
            continue;
        };
        table.clear();
        table.reserve(hi - lo, |(h, _)| *h);
        for r in lo..hi {
            let Some(rec) = recs.get(r).copied() else {
                continue;
            };
            let h = rec.hash;
            let Some((_, first)) = table.find(h, |(x, _)| *x == h).copied() else {
                table.insert_unique(h, (h, r as u32), |(x, _)| *x);
                continue;
            };
            let Some(rep) = recs.get(first as usize).copied() else {
                return Ok(None);
            };
            let key_of = |x: &Rec| {
                srcs.get(x.src as usize)
                    .map_or([0; 8], |s| s.counts.key(x.group as usize))
            };
            let (a, b) = (key_of(&rep), key_of(&rec));
            if !same_key(srcs, keys, (rep.src as usize, &a), (rec.src as usize, &b))? {
                return Ok(None);
            }
            if let Some(x) = recs.get_mut(first as usize) {
                x.total += rec.total;
            }
            if let Some(x) = recs.get_mut(r) {
                x.total = 0;
            }
        }
    }
    Ok(Some(recs))
}

/// The value of group field `f` of table entry `e`, from its
/// representative.
fn entry_key<'s>(
    srcs: &'s [Src<'_>],
    ids: &'s [Ids<'_>],
    keys: &[FieldKey],
    recs: &[Rec],
    f: usize,
    e: u32,
) -> K<'s> {
    let null = K::Val(crate::event::Value::Null);
    let Some((s, i)) = recs.get(e as usize).map(|r| (r.src, r.group)) else {
        return null;
    };
    let Some(src) = srcs.get(s as usize) else {
        return null;
    };
    let local = src.counts.key(i as usize).get(f).copied().unwrap_or(0);
    match keys.get(f) {
        Some(k @ FieldKey::Ids(_)) => ids.get(f).map_or(null, |fids| {
            fids.key(srcs, field_hash(k, s as usize, local) as u32)
        }),
        Some(FieldKey::Value(_)) => src.key(f, local).unwrap_or(null),
        None => null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::QueryOptions;
    use crate::query::partial::Counts;

    /// A source of one field keyed by `values`, with `counts[i]` rows of
    /// local key `i`.
    fn src(values: &[&str], counts: &[u64]) -> Src<'static> {
        let mut c = Counts::new(1);
        for (k, n) in counts.iter().enumerate() {
            c.push(&[k as u32, 0, 0, 0, 0, 0, 0, 0], *n);
        }
        Src {
            keys: vec![KeySrc::Owned(
                values.iter().map(|v| Scalar::Str((*v).into())).collect(),
            )],
            counts: c,
        }
    }

    fn totals(recs: &[Rec]) -> Vec<(u32, u32, u64)> {
        let mut t: Vec<_> = recs
            .iter()
            .filter(|r| r.total > 0)
            .map(|r| (r.src, r.group, r.total))
            .collect();
        t.sort();
        t
    }

    #[test]
    fn equal_keys_sum_and_a_shared_hash_of_different_keys_stops() {
        let srcs = [src(&["a", "b"], &[2, 1]), src(&["b", "c"], &[5, 1])];
        let hasher = FixedState::default();
        let hashes = |s: &Src<'_>| -> Vec<u64> {
            (0..2).map(|l| s.key(0, l).unwrap().hash(&hasher)).collect()
        };
        let keys = [FieldKey::Value(srcs.iter().map(hashes).collect())];
        let opts = QueryOptions::default();
        let mut keys = keys;
        let recs = sum(&srcs, &mut keys, Some(0), opts.stop())
            .unwrap()
            .unwrap();
        // "b" is summed into its first source group; "a" and "c" alone.
        assert_eq!(totals(&recs), vec![(0, 0, 2), (0, 1, 6), (1, 1, 1)]);
        let a = recs.iter().find(|r| r.src == 0 && r.group == 0).unwrap();
        assert_eq!(a.prefix, K::Bytes(b"a").str_prefix().unwrap());
        // Every value given one hash: "a" and "b" meet, and the sum stops.
        let mut keys = [FieldKey::Value(vec![vec![7, 7], vec![7, 7]])];
        assert!(sum(&srcs, &mut keys, None, opts.stop()).unwrap().is_none());
    }
}
