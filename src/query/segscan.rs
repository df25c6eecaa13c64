//! Runs a bound query over one sealed segment.
//!
//! 1. The window is cut to a row range by binary search: rows are in
//!    timestamp order.
//! 2. Each predicate is resolved against the segment's dictionary once: to
//!    the set of codes it accepts. None: the segment is empty for this
//!    query. All: the predicate is dropped. A predicate on a column stored as
//!    a code map of another (`user_email` of `user_id`) becomes a predicate
//!    on the parent's codes, so it can use the parent's bitmaps.
//! 3. On an indexed field, a set of few codes becomes a bitmap (the union of
//!    their bitmaps), a set of all but few an and-not; bitmaps are
//!    intersected smallest first. Everything else is a residual check.
//! 4. Residual checks run only on the rows the bitmaps left: code-set
//!    lookups first, then timestamps, then block-compressed values.
//! 5. Counts without residual checks come from bitmap cardinalities.

use std::collections::HashMap;
use std::time::Instant;

use croaring::{Bitmap, BitmapView};

use crate::codec::le_u32_at;
use crate::error::Result;
use crate::event::{Field, FieldKind, Value};
use crate::query::bind::{Arg, Bound, Pred, SortKey};
use crate::query::model::{Op, Select};
use crate::segment::{BlockCursor, DictColumn, Encoding, SegmentReader, encoding_of};

use super::explain::{SourceTrace, Step};
use super::partial::{GKey, Grouper, KeySrc, Out, Partial, TopRows};
use super::scalar::Scalar;

/// Most codes whose bitmaps one predicate ORs; beyond it the predicate is
/// checked on rows through the codes.
const MAX_OR_CODES: usize = 32;

/// A bitmap-count for group-by pays when the candidates outnumber the
/// groups by this factor.
const GROUP_BY_BITMAP_RATIO: u64 = 256;

enum Bm<'a> {
    View(BitmapView<'a>),
    Owned(Bitmap),
}

impl std::ops::Deref for Bm<'_> {
    type Target = Bitmap;
    fn deref(&self) -> &Bitmap {
        match self {
            Bm::View(v) => v,
            Bm::Owned(b) => b,
        }
    }
}

/// The rows left after the bitmaps (or after every check: `Rows`).
enum Cand<'a> {
    Range(u32, u32),
    Bits(Bm<'a>),
    Rows(Vec<u32>),
}

impl Cand<'_> {
    fn len(&self) -> u64 {
        match self {
            Cand::Range(lo, hi) => u64::from(hi - lo),
            Cand::Bits(b) => b.cardinality(),
            Cand::Rows(r) => r.len() as u64,
        }
    }

    fn for_each(&self, mut f: impl FnMut(u32) -> Result<()>) -> Result<()> {
        match self {
            Cand::Range(lo, hi) => (*lo..*hi).try_for_each(f),
            Cand::Rows(rows) => rows.iter().try_for_each(|r| f(*r)),
            Cand::Bits(b) => {
                let mut it = b.iter();
                let mut buf = [0u32; 256];
                loop {
                    let n = it.next_many(&mut buf);
                    if n == 0 {
                        return Ok(());
                    }
                    for r in buf.get(..n).unwrap_or(&[]) {
                        f(*r)?;
                    }
                }
            }
        }
    }
}

/// A predicate resolved against one segment.
enum Resolved<'a> {
    Empty(String),
    True,
    Bitmap {
        field: Field,
        codes: Vec<u32>,
        negate: bool,
    },
    Codes {
        col: DictColumn<'a>,
        bits: Vec<bool>,
    },
    Values,
}

/// A check on each candidate row.
enum Resid<'a, 'q> {
    Codes {
        col: DictColumn<'a>,
        bits: Vec<bool>,
    },
    Ts {
        pred: &'q Pred,
    },
    Block {
        pred: &'q Pred,
        cursor: BlockCursor<'a>,
    },
}

struct Ts<'a> {
    base: i64,
    bytes: &'a [u8],
}

impl Ts<'_> {
    #[inline]
    fn at(&self, row: u32) -> i64 {
        // The section's length was checked against the row count at open.
        le_u32_at(self.bytes, row as usize).map_or(i64::MAX, |d| self.base + i64::from(d))
    }

    /// First row in `0..n` whose timestamp is >= `t`.
    fn first_at_or_after(&self, n: u32, t: i64) -> u32 {
        let (mut lo, mut hi) = (0u32, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.at(mid) < t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// The code of `target` in a sorted dictionary (string and integer
/// dictionaries are sorted by value; docs/format.md).
fn find_code(col: &DictColumn<'_>, target: Value<'_>) -> Result<Option<u32>> {
    let (mut lo, mut hi) = (1u32, col.count() + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match col.value(mid)?.cmp(&target) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(Some(mid)),
        }
    }
    Ok(None)
}

/// Which codes of `col` (0 = null) satisfy `pred`.
fn match_codes(col: &DictColumn<'_>, field: Field, pred: &Pred) -> Result<Vec<bool>> {
    let n = col.count() as usize;
    let mut bits = vec![false; n + 1];
    if let Some(b) = bits.first_mut() {
        *b = pred.matches_null();
    }
    let sorted = matches!(field.kind(), FieldKind::Str | FieldKind::Int);
    let lookups: Option<&[Scalar]> = match (&pred.op, &pred.arg) {
        (Op::Eq, Arg::One(s)) if sorted => Some(std::slice::from_ref(s)),
        (Op::In, Arg::Many(list)) if sorted => Some(list),
        _ => None,
    };
    match lookups {
        Some(list) => {
            for s in list {
                if let Some(c) = find_code(col, s.as_value())?
                    && let Some(b) = bits.get_mut(c as usize)
                {
                    *b = true;
                }
            }
        }
        None => {
            for (c, b) in bits.iter_mut().enumerate().skip(1) {
                *b = pred.matches(col.value(c as u32)?);
            }
        }
    }
    Ok(bits)
}

fn resolve<'a>(seg: &'a SegmentReader, pred: &Pred) -> Result<Resolved<'a>> {
    let field = pred.field;
    if field == Field::EventDate {
        return Ok(if pred.matches(Value::Date(seg.day())) {
            Resolved::True
        } else {
            Resolved::Empty(format!("event_date is {}", seg.day()))
        });
    }
    match (pred.op, encoding_of(field)) {
        (Op::IsNull, _) if field.required() => {
            return Ok(Resolved::Empty(format!("{field} is required")));
        }
        (Op::NotNull, _) if field.required() => return Ok(Resolved::True),
        (_, Encoding::Timestamps | Encoding::Blocks) => return Ok(Resolved::Values),
        _ => {}
    }
    let col = seg.dict(field)?;
    let bits = match_codes(&col, field, pred)?;
    let n_match = bits.iter().filter(|b| **b).count();
    if n_match == 0 {
        return Ok(Resolved::Empty("no value in the dictionary matches".into()));
    }
    if n_match == bits.len() {
        return Ok(Resolved::True);
    }
    if let Some(r) = as_bitmap(seg, field, &bits, n_match)? {
        return Ok(r);
    }
    // A mapped column's predicate is a predicate on its parent's codes:
    // the parent's bitmaps may answer it, and its codes are read directly.
    let Some(parent) = col.parent() else {
        return Ok(Resolved::Codes { col, bits });
    };
    let pcol = seg.dict(parent)?;
    let pbits: Vec<bool> = (0..=pcol.count())
        .map(|p| {
            bits.get(col.code_of_parent(p) as usize)
                .copied()
                .unwrap_or(false)
        })
        .collect();
    let n_match = pbits.iter().filter(|b| **b).count();
    if let Some(r) = as_bitmap(seg, parent, &pbits, n_match)? {
        return Ok(r);
    }
    Ok(Resolved::Codes {
        col: pcol,
        bits: pbits,
    })
}

/// The bitmap form of a code set on `field`, if the field is indexed and
/// few codes match (a union) or few do not (an and-not).
fn as_bitmap<'a>(
    seg: &'a SegmentReader,
    field: Field,
    bits: &[bool],
    n_match: usize,
) -> Result<Option<Resolved<'a>>> {
    let pick = |want: bool| -> Vec<u32> {
        (0..bits.len() as u32)
            .filter(|c| bits.get(*c as usize).copied() == Some(want))
            .collect()
    };
    if n_match > MAX_OR_CODES && bits.len() - n_match > MAX_OR_CODES {
        return Ok(None);
    }
    if seg.bitmap_view(field, 0)?.is_none() {
        return Ok(None);
    }
    Ok(Some(if n_match <= MAX_OR_CODES {
        Resolved::Bitmap {
            field,
            codes: pick(true),
            negate: false,
        }
    } else {
        Resolved::Bitmap {
            field,
            codes: pick(false),
            negate: true,
        }
    }))
}

/// The union of the bitmaps of `codes`.
fn union<'a>(seg: &'a SegmentReader, field: Field, codes: &[u32]) -> Result<Bm<'a>> {
    let mut views = Vec::with_capacity(codes.len());
    for c in codes {
        if let Some(v) = seg.bitmap_view(field, *c)? {
            views.push(v);
        }
    }
    if views.len() == 1
        && let Some(v) = views.pop()
    {
        return Ok(Bm::View(v));
    }
    let refs: Vec<&Bitmap> = views.iter().map(|v| &**v).collect();
    Ok(Bm::Owned(Bitmap::fast_or(&refs)))
}

fn step(trace: &mut Option<SourceTrace>, what: String, cardinality: u64, action: &str) {
    if let Some(t) = trace {
        t.steps.push(Step {
            what,
            cardinality,
            action: action.into(),
        });
    }
}

/// Runs `q` over `seg`.
pub fn scan<'a>(
    seg: &'a SegmentReader,
    q: &Bound,
    keep: Option<usize>,
    trace: bool,
) -> Result<Partial<'a>> {
    let started = Instant::now();
    let n = seg.rows();
    let mut trace = trace.then(|| {
        SourceTrace::new(
            format!("segment {} ({})", seg.id(), seg.path().display()),
            seg.day(),
            u64::from(n),
        )
    });
    let (base, bytes) = seg.timestamps()?;
    let ts = Ts { base, bytes };
    let lo = if q.from_ms <= seg.min_ts_ms() {
        0
    } else {
        ts.first_at_or_after(n, q.from_ms)
    };
    let hi = if q.to_ms > seg.max_ts_ms() {
        n
    } else {
        ts.first_at_or_after(n, q.to_ms)
    };
    let hi = hi.max(lo);
    step(
        &mut trace,
        "window rows (binary search on event_timestamp)".into(),
        u64::from(hi - lo),
        "range",
    );
    let empty = |trace: Option<SourceTrace>| -> Result<Partial<'a>> {
        let out = match q.select {
            Select::Count => Out::Counts {
                srcs: Vec::new(),
                counts: Vec::new(),
            },
            Select::Events => Out::Rows(Vec::new()),
        };
        Ok(finish(
            Partial {
                matched: 0,
                out,
                trace,
            },
            started,
        ))
    };
    if lo == hi {
        return empty(trace);
    }

    let mut pos: Vec<(u64, Bm<'a>, String)> = Vec::new();
    let mut neg: Vec<(u64, Bm<'a>, String)> = Vec::new();
    let mut resid: Vec<Resid<'a, '_>> = Vec::new();
    for p in &q.preds {
        match resolve(seg, p)? {
            Resolved::Empty(why) => {
                step(&mut trace, format!("{p}: {why}"), 0, "segment empty");
                return empty(trace);
            }
            Resolved::True => step(
                &mut trace,
                format!("{p}"),
                u64::from(n),
                "true on every row",
            ),
            Resolved::Bitmap {
                field,
                codes,
                negate,
            } => {
                let bm = union(seg, field, &codes)?;
                let card = bm.cardinality();
                let what = format!("{p}: bitmap {field} × {} code(s)", codes.len());
                if negate {
                    neg.push((card, bm, what))
                } else {
                    pos.push((card, bm, what))
                }
            }
            Resolved::Codes { col, bits } => resid.push(Resid::Codes { col, bits }),
            Resolved::Values => match encoding_of(p.field) {
                Encoding::Timestamps => resid.push(Resid::Ts { pred: p }),
                _ => resid.push(Resid::Block {
                    pred: p,
                    cursor: seg.blocks(p.field)?,
                }),
            },
        }
    }
    // Cheapest first; and-nots after every positive.
    pos.sort_by_key(|(c, _, _)| *c);
    resid.sort_by_key(|r| match r {
        Resid::Codes { .. } => 0,
        Resid::Ts { .. } => 1,
        Resid::Block { .. } => 2,
    });
    let full = lo == 0 && hi == n;
    let count_only = q.select == Select::Count && q.group_by.is_empty() && resid.is_empty();
    if count_only && neg.is_empty() && pos.len() <= 2 {
        let matched = match pos.as_slice() {
            [] => u64::from(hi - lo),
            [(_, a, w)] => {
                let c = a.range_cardinality(lo..hi);
                step(&mut trace, w.clone(), c, "range cardinality");
                c
            }
            [(_, a, wa), (_, b, wb)] if full => {
                let c = a.and_cardinality(b);
                step(&mut trace, format!("{wa} ∩ {wb}"), c, "and cardinality");
                c
            }
            _ => u64::MAX,
        };
        if matched != u64::MAX {
            let out = Out::Counts {
                srcs: Vec::new(),
                counts: vec![([0; 8], matched)],
            };
            return Ok(finish(
                Partial {
                    matched,
                    out,
                    trace,
                },
                started,
            ));
        }
    }
    let cand = if pos.is_empty() && neg.is_empty() {
        Cand::Range(lo, hi)
    } else {
        let mut pos = pos.into_iter();
        let mut acc: Bm<'a> = match pos.next() {
            None => Bm::Owned(Bitmap::from_range(lo..hi)),
            Some((c, first, w)) => {
                step(&mut trace, w, c, "start");
                if full {
                    first
                } else {
                    Bm::Owned(first.and(&Bitmap::from_range(lo..hi)))
                }
            }
        };
        for (c, b, w) in pos {
            let mut owned = match acc {
                Bm::Owned(o) => o,
                Bm::View(v) => v.to_bitmap(),
            };
            owned.and_inplace(&b);
            step(&mut trace, w, c, &format!("and → {}", owned.cardinality()));
            acc = Bm::Owned(owned);
        }
        for (c, b, w) in neg {
            let mut owned = match acc {
                Bm::Owned(o) => o,
                Bm::View(v) => v.to_bitmap(),
            };
            owned.andnot_inplace(&b);
            step(
                &mut trace,
                w,
                c,
                &format!("and-not → {}", owned.cardinality()),
            );
            acc = Bm::Owned(owned);
        }
        Cand::Bits(acc)
    };
    if let Some(t) = &mut trace {
        for p in &q.preds {
            let is_resid = match encoding_of(p.field) {
                Encoding::Timestamps | Encoding::Blocks => p.field != Field::EventDate,
                _ => false,
            };
            if is_resid {
                t.residual.push(p.to_string());
            }
        }
        for r in &resid {
            if let Resid::Codes { col, bits } = r {
                let n_codes = bits.iter().filter(|b| **b).count();
                t.residual.push(format!(
                    "codes of {}: {n_codes} of {} accepted",
                    col.field(),
                    bits.len()
                ));
            }
        }
        t.rows_visited = cand.len();
    }
    let out = match q.select {
        Select::Count => count_groups(seg, q, &cand, &mut resid, &mut trace)?,
        Select::Events => list_rows(seg, q, &ts, &cand, &mut resid, keep)?,
    };
    Ok(finish(
        Partial {
            matched: out.1,
            out: out.0,
            trace,
        },
        started,
    ))
}

fn finish(mut p: Partial<'_>, started: Instant) -> Partial<'_> {
    if let Some(t) = &mut p.trace {
        t.matched = p.matched;
        t.time_us = started.elapsed().as_secs_f64() * 1e6;
    }
    p
}

fn passes(resid: &mut [Resid<'_, '_>], ts: &Ts<'_>, row: u32) -> Result<bool> {
    for r in resid.iter_mut() {
        let ok = match r {
            Resid::Codes { col, bits } => {
                bits.get(col.code(row) as usize).copied().unwrap_or(false)
            }
            Resid::Ts { pred } => pred.matches(Value::Timestamp(ts.at(row))),
            Resid::Block { pred, cursor } => {
                let v = cursor.get(row)?;
                pred.matches(v)
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Local keys of one group field.
enum GroupCol<'a> {
    Dict(DictColumn<'a>),
    Const(Scalar),
    Ts(HashMap<i64, u32>, Vec<Scalar>),
    Block(BlockCursor<'a>, HashMap<Scalar, u32>, Vec<Scalar>),
}

fn count_groups<'a>(
    seg: &'a SegmentReader,
    q: &Bound,
    cand: &Cand<'a>,
    resid: &mut [Resid<'a, '_>],
    trace: &mut Option<SourceTrace>,
) -> Result<(Out<'a>, u64)> {
    let (base, bytes) = seg.timestamps()?;
    let ts = Ts { base, bytes };
    if q.group_by.is_empty() {
        let mut matched = 0u64;
        cand.for_each(|r| {
            matched += u64::from(passes(resid, &ts, r)?);
            Ok(())
        })?;
        let out = Out::Counts {
            srcs: Vec::new(),
            counts: vec![([0; 8], matched)],
        };
        return Ok((out, matched));
    }
    let mut cols = Vec::with_capacity(q.group_by.len());
    for f in &q.group_by {
        cols.push(match encoding_of(*f) {
            _ if *f == Field::EventDate => GroupCol::Const(Scalar::Date(seg.day())),
            Encoding::Timestamps => GroupCol::Ts(HashMap::new(), Vec::new()),
            Encoding::Blocks => GroupCol::Block(seg.blocks(*f)?, HashMap::new(), Vec::new()),
            _ => GroupCol::Dict(seg.dict(*f)?),
        });
    }
    // Counts by one indexed field straight from bitmap cardinalities.
    if let ([GroupCol::Dict(col)], true) = (cols.as_slice(), resid.is_empty())
        && seg.bitmap_view(q.group_by[0], 0)?.is_some()
        && (u64::from(col.count()) + 1) * GROUP_BY_BITMAP_RATIO <= cand.len()
    {
        let field = q.group_by[0];
        let mut counts = Vec::new();
        let mut matched = 0;
        for code in 0..=col.count() {
            let Some(bm) = seg.bitmap_view(field, code)? else {
                continue;
            };
            let c = match cand {
                Cand::Range(lo, hi) => bm.range_cardinality(*lo..*hi),
                Cand::Bits(b) => b.and_cardinality(&bm),
                Cand::Rows(rows) => rows.iter().filter(|r| bm.contains(**r)).count() as u64,
            };
            if c > 0 {
                let mut key = [0; 8];
                key[0] = code;
                counts.push((key, c));
                matched += c;
            }
        }
        step(
            trace,
            format!("group by {field}: {} bitmap cardinalities", col.count() + 1),
            matched,
            "count",
        );
        let srcs = cols.into_iter().map(|c| match c {
            GroupCol::Dict(d) => KeySrc::Dict(d),
            _ => KeySrc::Owned(Vec::new()),
        });
        return Ok((
            Out::Counts {
                srcs: srcs.collect(),
                counts,
            },
            matched,
        ));
    }
    // Past here, checks run first and counting sees only matching rows.
    let filtered;
    let cand = if resid.is_empty() {
        cand
    } else {
        let mut rows = Vec::new();
        cand.for_each(|r| {
            if passes(resid, &ts, r)? {
                rows.push(r);
            }
            Ok(())
        })?;
        filtered = Cand::Rows(rows);
        &filtered
    };
    if let Some(counts) = count_codes(&cols, cand) {
        let matched = counts.iter().map(|(_, c)| c).sum();
        let srcs = cols
            .into_iter()
            .map(|c| match c {
                GroupCol::Dict(d) => KeySrc::Dict(d),
                GroupCol::Const(s) => KeySrc::Const(s),
                GroupCol::Ts(_, v) | GroupCol::Block(_, _, v) => KeySrc::Owned(v),
            })
            .collect();
        return Ok((Out::Counts { srcs, counts }, matched));
    }
    let sizes: Vec<Option<usize>> = cols
        .iter()
        .map(|c| match c {
            GroupCol::Dict(d) => Some(d.count() as usize + 1),
            GroupCol::Const(_) => Some(1),
            _ => None,
        })
        .collect();
    let mut grouper = Grouper::new(&sizes, cand.len());
    let mut matched = 0u64;
    let mut key: GKey = [0; 8];
    cand.for_each(|r| {
        matched += 1;
        for (k, c) in key.iter_mut().zip(cols.iter_mut()) {
            *k = match c {
                GroupCol::Dict(d) => d.code(r),
                GroupCol::Const(_) => 0,
                GroupCol::Ts(map, vals) => {
                    let t = ts.at(r);
                    *map.entry(t).or_insert_with(|| {
                        vals.push(Scalar::Timestamp(t));
                        vals.len() as u32 - 1
                    })
                }
                GroupCol::Block(cursor, map, vals) => {
                    let v = Scalar::from(cursor.get(r)?);
                    match map.get(&v) {
                        Some(i) => *i,
                        None => {
                            vals.push(v.clone());
                            map.insert(v, vals.len() as u32 - 1);
                            vals.len() as u32 - 1
                        }
                    }
                }
            };
        }
        grouper.add(&key, 1);
        Ok(())
    })?;
    let srcs = cols
        .into_iter()
        .map(|c| match c {
            GroupCol::Dict(d) => KeySrc::Dict(d),
            GroupCol::Const(s) => KeySrc::Const(s),
            GroupCol::Ts(_, v) | GroupCol::Block(_, _, v) => KeySrc::Owned(v),
        })
        .collect();
    Ok((
        Out::Counts {
            srcs,
            counts: grouper.finish(),
        },
        matched,
    ))
}

/// The tight loop for the common case: every group field is a dictionary
/// column (or constant); counts in a dense array indexed by the codes in
/// mixed radix. When the codes' product is too big for the rows at hand,
/// a first pass renumbers the codes that occur (a company's users, not the
/// whole day's). `None` when even that is too big.
fn count_codes(cols: &[GroupCol<'_>], cand: &Cand<'_>) -> Option<Vec<(GKey, u64)>> {
    let mut dicts: Vec<&DictColumn<'_>> = Vec::new();
    for c in cols {
        match c {
            GroupCol::Dict(d) => dicts.push(d),
            GroupCol::Const(_) => {}
            _ => return None,
        }
    }
    let cap = usize::try_from(cand.len().saturating_mul(2))
        .unwrap_or(usize::MAX)
        .clamp(1 << 16, 1 << 24);
    let product = |sizes: &[usize]| {
        sizes
            .iter()
            .try_fold(1usize, |t, n| t.checked_mul((*n).max(1)))
    };
    let full_sizes: Vec<usize> = dicts.iter().map(|d| d.count() as usize + 1).collect();
    let full = product(&full_sizes);
    // Per field: code -> dense id, and dense id -> code.
    let mut remap: Option<Vec<(Vec<u32>, Vec<u32>)>> = None;
    if full.is_none_or(|t| t > cap) {
        let mut maps: Vec<(Vec<u32>, Vec<u32>)> = dicts
            .iter()
            .map(|d| (vec![u32::MAX; d.count() as usize + 1], Vec::new()))
            .collect();
        let _ = cand.for_each(|r| {
            for (d, (fwd, back)) in dicts.iter().zip(maps.iter_mut()) {
                let c = d.code(r);
                if let Some(slot) = fwd.get_mut(c as usize)
                    && *slot == u32::MAX
                {
                    *slot = back.len() as u32;
                    back.push(c);
                }
            }
            Ok(())
        });
        remap = Some(maps);
    }
    let sizes: Vec<usize> = match &remap {
        Some(maps) => maps.iter().map(|(_, back)| back.len()).collect(),
        None => full_sizes,
    };
    let total = product(&sizes)?;
    if total > cap {
        return None;
    }
    let mut strides = Vec::with_capacity(sizes.len());
    let mut acc = 1usize;
    for n in &sizes {
        strides.push(acc);
        acc *= (*n).max(1);
    }
    let mut counts = vec![0u32; total];
    let mut bump = |r: u32| {
        let i: usize = match &remap {
            None => dicts
                .iter()
                .zip(&strides)
                .map(|(d, s)| d.code(r) as usize * s)
                .sum(),
            Some(maps) => dicts
                .iter()
                .zip(&strides)
                .zip(maps)
                .map(|((d, s), (fwd, _))| {
                    fwd.get(d.code(r) as usize).copied().unwrap_or(0) as usize * s
                })
                .sum(),
        };
        if let Some(c) = counts.get_mut(i) {
            *c += 1;
        }
    };
    let _ = cand.for_each(|r| {
        bump(r);
        Ok(())
    });
    // Dict fields in `cols` order; constant fields keep key 0.
    let slots: Vec<usize> = cols
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c, GroupCol::Dict(_)))
        .map(|(i, _)| i)
        .collect();
    Some(
        counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| {
                let mut key = [0u32; 8];
                for (j, (stride, n)) in strides.iter().zip(&sizes).enumerate() {
                    let dense = ((i / stride) % n.max(&1)) as u32;
                    let code = match &remap {
                        Some(maps) => maps
                            .get(j)
                            .and_then(|(_, back)| back.get(dense as usize))
                            .copied()
                            .unwrap_or(0),
                        None => dense,
                    };
                    if let Some(k) = slots.get(j).and_then(|s| key.get_mut(*s)) {
                        *k = code;
                    }
                }
                (key, u64::from(*c))
            })
            .collect(),
    )
}

/// Reads the sort-key values of rows.
struct KeyReader<'a> {
    cols: Vec<KeyCol<'a>>,
}

enum KeyCol<'a> {
    Ts,
    Date(Scalar),
    Dict(DictColumn<'a>),
    Block(BlockCursor<'a>),
}

impl<'a> KeyReader<'a> {
    fn new(seg: &'a SegmentReader, order: &[(SortKey, bool)]) -> Result<KeyReader<'a>> {
        let mut cols = Vec::new();
        for (k, _) in order {
            let SortKey::Field(f) = k else { continue };
            cols.push(match encoding_of(*f) {
                _ if *f == Field::EventDate => KeyCol::Date(Scalar::Date(seg.day())),
                Encoding::Timestamps => KeyCol::Ts,
                Encoding::Blocks => KeyCol::Block(seg.blocks(*f)?),
                _ => KeyCol::Dict(seg.dict(*f)?),
            });
        }
        Ok(KeyReader { cols })
    }

    fn key(&mut self, ts: &Ts<'_>, row: u32) -> Result<Vec<Scalar>> {
        let mut key = Vec::with_capacity(self.cols.len());
        for c in &mut self.cols {
            key.push(match c {
                KeyCol::Ts => Scalar::Timestamp(ts.at(row)),
                KeyCol::Date(d) => d.clone(),
                KeyCol::Dict(d) => Scalar::from(d.get(row)?),
                KeyCol::Block(b) => Scalar::from(b.get(row)?),
            });
        }
        Ok(key)
    }
}

fn list_rows<'a>(
    seg: &'a SegmentReader,
    q: &Bound,
    ts: &Ts<'_>,
    cand: &Cand<'a>,
    resid: &mut [Resid<'a, '_>],
    keep: Option<usize>,
) -> Result<(Out<'a>, u64)> {
    let mut rows = Vec::new();
    cand.for_each(|r| {
        if passes(resid, ts, r)? {
            rows.push(r);
        }
        Ok(())
    })?;
    let matched = rows.len() as u64;
    let mut keys = KeyReader::new(seg, &q.order)?;
    let mut top = TopRows::new(&q.order, keep, q.after.as_deref());
    // Rows are in timestamp order: when the listing is too, walk from the
    // right end and stop once `keep` rows are in and the timestamp moves on.
    let ts_first = match q.order.first() {
        Some((SortKey::Field(Field::EventTimestamp), desc)) => Some(*desc),
        _ => None,
    };
    match (ts_first, keep) {
        (Some(desc), Some(k)) => {
            let mut boundary: Option<i64> = None;
            let walk: Box<dyn Iterator<Item = &u32>> = if desc {
                Box::new(rows.iter().rev())
            } else {
                Box::new(rows.iter())
            };
            for r in walk {
                let t = ts.at(*r);
                if boundary.is_some_and(|b| b != t) {
                    break;
                }
                top.push(keys.key(ts, *r)?, *r);
                if boundary.is_none() && top.len() >= k {
                    boundary = Some(t);
                }
            }
        }
        _ => {
            for r in &rows {
                top.push(keys.key(ts, *r)?, *r);
            }
        }
    }
    Ok((Out::Rows(top.finish()), matched))
}
