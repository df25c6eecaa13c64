//! The merge of a count: every source's group keys become query-wide ids,
//! counts are summed by id, and only the rows of the page are ranked and
//! turned into values.
//!
//! Ids of a field: first the month-wide ids of its dictionary values
//! (`global`: a segment's codes map to them through a cached array), then
//! ids for values no dictionary has (block-compressed strings, timestamps,
//! buffered events), kept as references (source, local key) to the value a
//! source already holds: nothing is copied until the page is output.
//!
//! Memory (what a budget counts): per source and field, 4 bytes per local
//! key not mapped by a cached array (`Memo::Built`); per such key also 8
//! bytes of reference and a 5-byte table slot, reserved up front (`Ids`); for the sums, 8 bytes per cell
//! of a dense array, 8 bytes + 4 per dependent field per id of the
//! functional-dependency array, or 16 to 48 bytes per group of the hash
//! map; the page collector holds at most twice the page (or every group
//! when there is no limit).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::error::Result;
use crate::segment::SegmentReader;

use super::QueryResult;
use super::bind::{Bound, SortKey};
use super::cancel::{CHECK_EVERY_ROWS, Stop};
use super::global::{self, Held, Keyed};
use super::keys::K;
use super::partial::{Counts, GKey, KeySrc, Out, Partial};
use super::scalar::Scalar;

/// A dense sum array has at most this many cells, or four per group summed
/// when that is more, up to `DENSE_CAP`.
const DENSE_MIN: usize = 1 << 16;
const DENSE_CAP: usize = 1 << 24;

/// One source's groups: its key sources and counts by local key.
pub(super) struct Src<'a> {
    pub keys: Vec<KeySrc<'a>>,
    pub counts: Counts,
}

impl Src<'_> {
    pub fn key(&self, field: usize, local: u32) -> Result<K<'_>> {
        match self.keys.get(field) {
            Some(k) => k.key(local),
            None => Ok(K::Val(crate::event::Value::Null)),
        }
    }
}

/// The query-wide ids of one group field.
pub(super) struct Ids<'m> {
    field: usize,
    held: Option<&'m Held>,
    /// Ids below `base` are the field's month-wide ids.
    base: u32,
    /// Id `base + i` is the value of local key `refs[i].1` of source
    /// `refs[i].0`.
    refs: Vec<(u32, u32)>,
    table: HashTable<u32>,
    hasher: FixedState,
}

/// A source's local key -> id map for one field.
pub(super) enum Memo {
    Cached(Arc<[u32]>),
    Built(Vec<u32>),
}

impl Memo {
    #[inline]
    pub fn get(&self, local: u32) -> u32 {
        let m: &[u32] = match self {
            Memo::Cached(m) => m,
            Memo::Built(m) => m,
        };
        m.get(local as usize).copied().unwrap_or(0)
    }
}

impl<'m> Ids<'m> {
    fn new(field: usize, held: Option<&'m Held>) -> Ids<'m> {
        Ids {
            field,
            held,
            base: held.map_or(0, |h| h.dict.len() as u32),
            refs: Vec::new(),
            table: HashTable::new(),
            hasher: FixedState::default(),
        }
    }

    fn len(&self) -> usize {
        self.base as usize + self.refs.len()
    }

    /// Room for the keys of every source without a cached map: growing
    /// the table would hash every key again (from its source's bytes).
    pub fn reserve(&mut self, srcs: &[Src<'_>]) {
        let n: usize = srcs
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                self.held
                    .is_none_or(|h| h.maps.get(*i).is_none_or(Option::is_none))
            })
            .filter_map(|(_, s)| s.keys.get(self.field))
            .map(KeySrc::len)
            .sum();
        self.refs.reserve(n);
        self.table.reserve(n, |_| 0);
    }

    /// The value of id `id`.
    #[inline]
    pub fn key<'s>(&'s self, srcs: &'s [Src<'_>], id: u32) -> K<'s> {
        let null = K::Val(crate::event::Value::Null);
        if id < self.base {
            return self
                .held
                .and_then(|h| h.dict.value(id))
                .map_or(null, |s| K::Val(s.as_value()));
        }
        let Some((src, local)) = self.refs.get((id - self.base) as usize) else {
            return null;
        };
        srcs.get(*src as usize)
            .and_then(|s| s.key(self.field, *local).ok())
            .unwrap_or(null)
    }

    /// The id of local key `local` of source `src`, added if new.
    fn id(&mut self, srcs: &[Src<'_>], src: u32, local: u32) -> Result<u32> {
        let k = match srcs.get(src as usize) {
            Some(s) => s.key(self.field, local)?,
            None => return Ok(0),
        };
        if let Some(id) = self.held.and_then(|h| h.dict.find(k)) {
            return Ok(id);
        }
        let h = k.hash(&self.hasher);
        let (refs, base, field) = (&self.refs, self.base, self.field);
        let at = |id: u32| -> Option<K<'_>> {
            let (s, l) = refs.get(id.checked_sub(base)? as usize)?;
            srcs.get(*s as usize)?.key(field, *l).ok()
        };
        if let Some(id) = self.table.find(h, |id| at(*id).is_some_and(|v| v.same(k))) {
            return Ok(*id);
        }
        let id = self.base + self.refs.len() as u32;
        self.refs.push((src, local));
        let (refs, hasher) = (&self.refs, &self.hasher);
        self.table.insert_unique(h, id, |id| {
            refs.get(id.saturating_sub(base) as usize)
                .and_then(|(s, l)| srcs.get(*s as usize)?.key(field, *l).ok())
                .map_or(0, |v| v.hash(hasher))
        });
        Ok(id)
    }

    /// Source `src`'s local keys as ids: its cached map, or each key looked
    /// up once.
    pub fn memo(&mut self, srcs: &[Src<'_>], src: usize, stop: Stop<'_>) -> Result<Memo> {
        if let Some(m) = self.held.and_then(|h| h.maps.get(src)?.clone()) {
            return Ok(Memo::Cached(m));
        }
        let n = srcs
            .get(src)
            .and_then(|s| s.keys.get(self.field))
            .map_or(0, KeySrc::len);
        let mut m = Vec::with_capacity(n);
        for local in 0..n as u32 {
            if (local as usize).is_multiple_of(CHECK_EVERY_ROWS) {
                stop.check()?;
            }
            m.push(self.id(srcs, src as u32, local)?);
        }
        Ok(Memo::Built(m))
    }
}

/// Sums the sources' group counts by value, and pages them in the query's
/// order. `segs[i]` is the segment partial `i` came from, if any.
pub(crate) fn merge_counts(
    q: &Bound,
    segs: &[Option<&Arc<SegmentReader>>],
    partials: Vec<Partial<'_>>,
    stop: Stop<'_>,
) -> Result<QueryResult> {
    let mut matched = 0u64;
    let mut srcs = Vec::with_capacity(partials.len());
    let mut src_segs = Vec::with_capacity(partials.len());
    for (p, seg) in partials
        .into_iter()
        .zip(segs.iter().chain(std::iter::repeat(&None)))
    {
        matched += p.matched;
        if let Out::Counts { srcs: keys, counts } = p.out {
            srcs.push(Src { keys, counts });
            src_segs.push(*seg);
        }
    }
    let held = hold_fields(q, &srcs, &src_segs)?;
    let mut ids: Vec<Ids<'_>> = held
        .iter()
        .enumerate()
        .map(|(i, h)| Ids::new(i, h.as_ref()))
        .collect();
    let keys = order_keys(q);
    let mut columns: Vec<String> = q.group_by.iter().map(|f| f.name().to_string()).collect();
    columns.push("count".into());
    // Fields no month-wide dictionary holds are keyed by value (wide.rs);
    // `None` back: two keys shared a hash, merged by ids below instead.
    let by_value: Vec<bool> = held.iter().map(Option::is_none).collect();
    if by_value.contains(&true) {
        let page = (q.offset as usize, q.limit.map(|l| l as usize));
        if let Some(rows) = super::wide::page(&srcs, &mut ids, &by_value, &keys, page, stop)? {
            return Ok(QueryResult {
                columns,
                rows,
                matched_events: Some(matched),
                next_cursor: None,
            });
        }
    }
    for f in &mut ids {
        f.reserve(&srcs);
    }
    let mut memos: Vec<Vec<Memo>> = Vec::with_capacity(srcs.len());
    for s in 0..srcs.len() {
        stop.check()?;
        let m = ids
            .iter_mut()
            .map(|f| f.memo(&srcs, s, stop))
            .collect::<Result<Vec<_>>>()?;
        memos.push(m);
        let groups = srcs.get(s).map_or(0, |src| src.counts.len());
        super::budget::charge_merge(groups, q.group_by.len(), stop)?;
    }
    let sizes: Vec<usize> = ids.iter().map(|f| f.len().max(1)).collect();
    let page_end = q
        .limit
        .map_or(usize::MAX, |l| (q.offset.saturating_add(l)) as usize);
    let cmp = |a: &(GKey, u64), b: &(GKey, u64)| -> Ordering {
        for (k, desc) in &keys {
            let o = match k {
                None => a.1.cmp(&b.1),
                Some(i) => match ids.get(*i) {
                    Some(f) => {
                        let (x, y) = (a.0.get(*i), b.0.get(*i));
                        let (x, y) = (x.copied().unwrap_or(0), y.copied().unwrap_or(0));
                        if x == y {
                            Ordering::Equal
                        } else {
                            f.key(&srcs, x).cmp(f.key(&srcs, y))
                        }
                    }
                    None => Ordering::Equal,
                },
            };
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    };
    let mut top = Top::new(page_end, &cmp);
    let groups = Groups {
        srcs: &srcs,
        memos: &memos,
        n: q.group_by.len(),
        stop,
    };
    sum(&groups, &sizes, &mut top)?;
    let mut rows = top.finish();
    if q.group_by.is_empty() && rows.is_empty() {
        rows.push(([0; 8], 0));
    }
    // The page is turned into values with a look at the cancel flag every
    // few thousand rows (a page without a limit is every group).
    let mut out = Vec::new();
    for (at, (gkey, count)) in rows
        .into_iter()
        .skip(q.offset as usize)
        .take(q.limit.map_or(usize::MAX, |l| l as usize))
        .enumerate()
    {
        if at.is_multiple_of(CHECK_EVERY_ROWS) {
            stop.check()?;
        }
        let mut values: Vec<Scalar> = ids
            .iter()
            .zip(gkey)
            .map(|(f, id)| f.key(&srcs, id).to_scalar().unwrap_or(Scalar::Null))
            .collect();
        values.push(Scalar::Int(count));
        out.push(values);
    }
    let rows = out;
    Ok(QueryResult {
        columns,
        rows,
        matched_events: Some(matched),
        next_cursor: None,
    })
}

/// Per group field, its month-wide table and the sources' maps into it,
/// when some segment keys it by dictionary codes. Fields are locked in
/// field order.
fn hold_fields(
    q: &Bound,
    srcs: &[Src<'_>],
    segs: &[Option<&Arc<SegmentReader>>],
) -> Result<Vec<Option<Held>>> {
    let mut held: Vec<Option<Held>> = q.group_by.iter().map(|_| None).collect();
    let mut order: Vec<usize> = (0..q.group_by.len()).collect();
    order.sort_by_key(|i| q.group_by.get(*i).copied());
    for i in order {
        let Some(field) = q.group_by.get(i).copied() else {
            continue;
        };
        let wanted: Vec<Option<(&Arc<SegmentReader>, Keyed)>> = srcs
            .iter()
            .zip(segs)
            .map(|(s, seg)| {
                let keyed = match s.keys.get(i) {
                    Some(KeySrc::Dict(_)) => Keyed::Own,
                    Some(KeySrc::Mapped { .. }) => Keyed::Parent,
                    _ => return None,
                };
                seg.map(|seg| (seg, keyed))
            })
            .collect();
        if wanted.iter().any(Option::is_some)
            && let Some(slot) = held.get_mut(i)
        {
            *slot = global::hold(field, &wanted)?;
        }
    }
    Ok(held)
}

/// Sort keys as (group field position or count, descending).
fn order_keys(q: &Bound) -> Vec<(Option<usize>, bool)> {
    q.order
        .iter()
        .filter_map(|(k, desc)| match k {
            SortKey::Count => Some((None, *desc)),
            SortKey::Field(f) => q
                .group_by
                .iter()
                .position(|g| g == f)
                .map(|i| (Some(i), *desc)),
        })
        .collect()
}

/// Every source's groups, keyed by ids.
struct Groups<'g, 'a> {
    srcs: &'g [Src<'a>],
    memos: &'g [Vec<Memo>],
    n: usize,
    stop: Stop<'g>,
}

impl Groups<'_, '_> {
    fn len(&self) -> usize {
        self.srcs.iter().map(|s| s.counts.len()).sum()
    }

    /// Calls `f` on every source group with its key as ids; stops early
    /// (returning `false`) when `f` does.
    fn each(&self, mut f: impl FnMut(&GKey, u64) -> bool) -> Result<bool> {
        for (src, memos) in self.srcs.iter().zip(self.memos) {
            for (at, (local, count)) in src.counts.iter().enumerate() {
                if at % CHECK_EVERY_ROWS == 0 {
                    self.stop.check()?;
                }
                let mut key: GKey = [0; 8];
                for ((k, l), m) in key.iter_mut().zip(local).zip(memos).take(self.n) {
                    *k = m.get(l);
                }
                if !f(&key, count) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// Sums the groups by key into `top`: in a dense array when the fields' id
/// counts allow; else keyed by the field with the most ids when the
/// others are a function of it (a user's name of its id); else in a hash
/// map of packed keys.
fn sum<F>(groups: &Groups<'_, '_>, sizes: &[usize], top: &mut Top<'_, F>) -> Result<()>
where
    F: Fn(&(GKey, u64), &(GKey, u64)) -> Ordering,
{
    let n = groups.n;
    let entries = groups.len();
    let cap = entries.saturating_mul(4).clamp(DENSE_MIN, DENSE_CAP);
    let product = sizes
        .iter()
        .take(n)
        .try_fold(1usize, |t, s| t.checked_mul(*s));
    if let Some(total) = product.filter(|t| *t <= cap) {
        return sum_dense(groups, sizes, total, top);
    }
    if n > 1 && sum_dependent(groups, sizes, top)? {
        return Ok(());
    }
    let bits: Vec<u32> = sizes
        .iter()
        .take(n)
        .map(|s| usize::BITS - s.saturating_sub(1).leading_zeros())
        .collect();
    let total_bits: u32 = bits.iter().sum();
    if total_bits <= 64 {
        sum_hash(
            groups,
            top,
            |k| pack(k, &bits) as u64,
            |p| unpack(u128::from(p), &bits),
        )
    } else if total_bits <= 128 {
        sum_hash(groups, top, |k| pack(k, &bits), |p| unpack(p, &bits))
    } else {
        sum_hash(groups, top, |k| *k, |k| k)
    }
}

fn pack(k: &GKey, bits: &[u32]) -> u128 {
    let mut p = 0u128;
    let mut shift = 0;
    for (v, b) in k.iter().zip(bits) {
        p |= u128::from(*v) << shift;
        shift += b;
    }
    p
}

fn unpack(mut p: u128, bits: &[u32]) -> GKey {
    let mut k: GKey = [0; 8];
    for (v, b) in k.iter_mut().zip(bits) {
        *v = (p & ((1u128 << b) - 1)) as u32;
        p >>= b;
    }
    k
}

fn sum_dense<F>(
    groups: &Groups<'_, '_>,
    sizes: &[usize],
    total: usize,
    top: &mut Top<'_, F>,
) -> Result<()>
where
    F: Fn(&(GKey, u64), &(GKey, u64)) -> Ordering,
{
    let mut strides = Vec::with_capacity(sizes.len());
    let mut acc = 1usize;
    for s in sizes.iter().take(groups.n) {
        strides.push(acc);
        acc = acc.saturating_mul(*s);
    }
    let mut dense = vec![0u64; total];
    groups.each(|key, count| {
        let i: usize = key.iter().zip(&strides).map(|(k, s)| *k as usize * s).sum();
        if let Some(c) = dense.get_mut(i) {
            *c += count;
        }
        true
    })?;
    for (i, c) in dense.iter().enumerate() {
        if *c == 0 {
            continue;
        }
        let mut key: GKey = [0; 8];
        for ((k, stride), n) in key.iter_mut().zip(&strides).zip(sizes) {
            *k = ((i / stride) % n) as u32;
        }
        top.push(key, *c);
    }
    Ok(())
}

/// Sums by the field with the most ids, when every group's other fields
/// are a function of it; `false` (nothing pushed) when they are not.
fn sum_dependent<F>(groups: &Groups<'_, '_>, sizes: &[usize], top: &mut Top<'_, F>) -> Result<bool>
where
    F: Fn(&(GKey, u64), &(GKey, u64)) -> Ordering,
{
    let n = groups.n;
    let Some((lead, lead_size)) = sizes
        .iter()
        .take(n)
        .copied()
        .enumerate()
        .max_by_key(|(_, s)| *s)
    else {
        return Ok(false);
    };
    if lead_size > DENSE_CAP.max(groups.len().saturating_mul(4)) {
        return Ok(false);
    }
    let mut counts = vec![0u64; lead_size];
    // Per lead id, the other fields' ids (u32::MAX: not seen yet).
    let mut deps = vec![u32::MAX; lead_size.saturating_mul(n - 1)];
    let others: Vec<usize> = (0..n).filter(|i| *i != lead).collect();
    let complete = groups.each(|key, count| {
        let l = key.get(lead).copied().unwrap_or(0) as usize;
        for (j, o) in others.iter().enumerate() {
            let v = key.get(*o).copied().unwrap_or(0);
            match deps.get_mut(l * others.len() + j) {
                Some(d) if *d == u32::MAX => *d = v,
                Some(d) if *d == v => {}
                _ => return false,
            }
        }
        if let Some(c) = counts.get_mut(l) {
            *c += count;
        }
        true
    })?;
    if !complete {
        return Ok(false);
    }
    for (l, c) in counts.iter().enumerate() {
        if *c == 0 {
            continue;
        }
        let mut key: GKey = [0; 8];
        if let Some(k) = key.get_mut(lead) {
            *k = l as u32;
        }
        for (j, o) in others.iter().enumerate() {
            if let (Some(k), Some(d)) = (key.get_mut(*o), deps.get(l * others.len() + j)) {
                *k = *d;
            }
        }
        top.push(key, *c);
    }
    Ok(true)
}

fn sum_hash<F, P: Hash + Eq + Copy>(
    groups: &Groups<'_, '_>,
    top: &mut Top<'_, F>,
    pack: impl Fn(&GKey) -> P,
    unpack: impl Fn(P) -> GKey,
) -> Result<()>
where
    F: Fn(&(GKey, u64), &(GKey, u64)) -> Ordering,
{
    let mut totals: HashMap<P, u64, FixedState> = HashMap::default();
    groups.each(|key, count| {
        *totals.entry(pack(key)).or_insert(0) += count;
        true
    })?;
    for (k, c) in totals {
        top.push(unpack(k), c);
    }
    Ok(())
}

/// Keeps the best `k` groups offered, in the query's order: a group worse
/// than the `k`-th kept is dropped with one comparison; the kept ones are
/// cut back to `k` whenever they reach twice that.
pub(super) struct Top<'c, F> {
    k: usize,
    rows: Vec<(GKey, u64)>,
    worst: Option<(GKey, u64)>,
    cmp: &'c F,
}

impl<'c, F> Top<'c, F>
where
    F: Fn(&(GKey, u64), &(GKey, u64)) -> Ordering,
{
    pub fn new(k: usize, cmp: &'c F) -> Self {
        Top {
            k,
            rows: Vec::new(),
            worst: None,
            cmp,
        }
    }

    #[inline]
    pub fn push(&mut self, key: GKey, count: u64) {
        if self.k == 0 {
            return;
        }
        let row = (key, count);
        if let Some(w) = &self.worst
            && (self.cmp)(&row, w) != Ordering::Less
        {
            return;
        }
        self.rows.push(row);
        if self.rows.len() >= self.k.max(512).saturating_mul(2) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        if self.rows.len() > self.k {
            let cmp = self.cmp;
            self.rows.select_nth_unstable_by(self.k - 1, cmp);
            self.rows.truncate(self.k);
            self.worst = self.rows.get(self.k - 1).copied();
        }
    }

    pub fn finish(mut self) -> Vec<(GKey, u64)> {
        self.trim();
        let cmp = self.cmp;
        self.rows.sort_unstable_by(cmp);
        self.rows
    }
}
