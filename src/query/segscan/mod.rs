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
//!
//! The query's cancel flag is looked at before each predicate is resolved
//! and every few thousand candidate rows ([`Cand::for_each`]).

use std::time::Instant;

use croaring::{Bitmap, BitmapView};

use crate::error::Result;
use crate::event::{Field, FieldKind, Value};
use crate::query::bind::{Arg, Bound, Pred};
use crate::query::cancel::{CHECK_EVERY_ROWS, Stop};
use crate::query::model::{Op, Select};
use crate::segment::{BlockCursor, DictColumn, Encoding, RowChunk, SegmentReader, encoding_of};

use super::explain::{SourceTrace, Step};

mod constant;
mod dictmatch;
mod fold;
mod group;
mod index;
mod inlist;
mod list;
mod tokens;

use super::partial::{Out, Partial};
use super::scalar::Scalar;
use group::count_groups;
pub(crate) use list::fetch_rows;
use list::list_rows;

/// Most codes whose bitmaps one predicate ORs, at the least; beyond it
/// the predicate is checked on rows through the codes.
const MAX_OR_CODES: usize = 32;

/// A segment of `n` rows ORs up to `n / OR_CODE_ROWS` codes' bitmaps (if
/// more than `MAX_OR_CODES`): a bitmap costs about what checking this many
/// rows' codes does, so 40 users of a 200,000-value `in` list are a union,
/// not a walk over every row.
const OR_CODE_ROWS: usize = 128;

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

    /// Calls `f` on every candidate row, in order; looks at `stop` every
    /// `CHECK_EVERY_ROWS` rows (every 256 of a bitmap) and returns
    /// `Error::Cancelled` once it is set.
    fn for_each(&self, stop: Stop<'_>, mut f: impl FnMut(u32) -> Result<()>) -> Result<()> {
        match self {
            Cand::Range(lo, hi) => {
                let step = CHECK_EVERY_ROWS as u32;
                let mut start = *lo;
                while start < *hi {
                    stop.check()?;
                    let end = start.saturating_add(step).min(*hi);
                    (start..end).try_for_each(&mut f)?;
                    start = end;
                }
                Ok(())
            }
            Cand::Rows(rows) => rows.chunks(CHECK_EVERY_ROWS).try_for_each(|chunk| {
                stop.check()?;
                chunk.iter().try_for_each(|r| f(*r))
            }),
            Cand::Bits(b) => {
                let mut it = b.iter();
                let mut buf = [0u32; 256];
                loop {
                    stop.check()?;
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

impl Cand<'_> {
    /// Calls `f` on the candidates in chunks of at most `CHUNK_ROWS` rows,
    /// in order (a run of rows for a range, a list otherwise), for loops
    /// that read codes in bulk; looks at `stop` before each chunk.
    fn for_each_chunk(
        &self,
        stop: Stop<'_>,
        mut f: impl FnMut(RowChunk<'_>) -> Result<()>,
    ) -> Result<()> {
        match self {
            Cand::Range(lo, hi) => {
                let mut start = *lo;
                while start < *hi {
                    stop.check()?;
                    let n = (*hi - start).min(CHUNK_ROWS as u32);
                    f(RowChunk::Range(start, n))?;
                    start += n;
                }
                Ok(())
            }
            Cand::Rows(rows) => rows.chunks(CHUNK_ROWS).try_for_each(|chunk| {
                stop.check()?;
                f(RowChunk::List(chunk))
            }),
            Cand::Bits(b) => {
                let mut it = b.iter();
                let mut buf = [0u32; CHUNK_ROWS];
                loop {
                    stop.check()?;
                    let n = it.next_many(&mut buf);
                    if n == 0 {
                        return Ok(());
                    }
                    f(RowChunk::List(buf.get(..n).unwrap_or(&[])))?;
                }
            }
        }
    }
}

/// Rows a bulk loop handles at a time: big enough to amortise the dispatch,
/// small enough that a chunk's codes stay in the L1 cache.
const CHUNK_ROWS: usize = 256;

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
    /// An index over a column without a dictionary answered with a
    /// superset of the matching rows (`index::superset`): the bitmap joins
    /// the intersection and the predicate is still checked on each row.
    Superset {
        rows: Bitmap,
        what: String,
    },
    /// The rows that match, exactly (`tokens::rows`): no row check.
    Exact {
        rows: Bitmap,
        what: String,
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
        cursor: Box<BlockCursor<'a>>,
    },
    /// A string block column, matched on its bytes.
    Text {
        pred: &'q Pred,
        cursor: Box<BlockCursor<'a>>,
        finder: Option<memchr::memmem::Finder<'q>>,
    },
}

// The segment's timestamps, one reader for every layout.
use crate::segment::Timestamps as Ts;

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
        None if dictmatch::mark_fast(col, pred, &mut bits)? => {}
        Some(list) => inlist::mark_listed(col, list, &mut bits)?,
        None if pred.op == Op::NotIn && sorted => {
            if let Arg::Many(list) = &pred.arg {
                inlist::mark_listed(col, list, &mut bits)?;
            }
            for b in bits.iter_mut().skip(1) {
                *b = !*b;
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
    if let Some(v) = constant::constant(seg, field)? {
        return Ok(if pred.matches(v.as_value()) {
            Resolved::True
        } else {
            Resolved::Empty(format!("{field} is {v} in the whole segment"))
        });
    }
    match (pred.op, encoding_of(field)) {
        (Op::IsNull, _) if field.required() => {
            return Ok(Resolved::Empty(format!("{field} is required")));
        }
        (Op::NotNull, _) if field.required() => return Ok(Resolved::True),
        (_, Encoding::Blocks) => {
            if let Some(t) = tokens::rows(seg, pred)? {
                let (rows, what) = (t.rows, t.what);
                return Ok(if t.exact {
                    Resolved::Exact { rows, what }
                } else {
                    Resolved::Superset { rows, what }
                });
            }
            return Ok(match index::superset(seg, pred)? {
                Some((rows, what)) => Resolved::Superset { rows, what },
                None => Resolved::Values,
            });
        }
        (_, Encoding::Timestamps) => return Ok(Resolved::Values),
        _ => {}
    }
    // Values only until rows must be read: a bitmap answer never reads
    // (nor verifies) the column's per-row codes.
    let col = seg.dict_values(field)?;
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
        let col = seg.dict(field)?;
        return Ok(Resolved::Codes { col, bits });
    };
    let pcol = seg.dict_values(parent)?;
    let pbits = col.parent_bits(&bits, pcol.count());
    let n_match = pbits.iter().filter(|b| **b).count();
    if let Some(r) = as_bitmap(seg, parent, &pbits, n_match)? {
        return Ok(r);
    }
    Ok(Resolved::Codes {
        col: seg.dict(parent)?,
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
    let max_or = MAX_OR_CODES.max(seg.rows() as usize / OR_CODE_ROWS);
    if n_match > max_or && bits.len() - n_match > max_or {
        return Ok(None);
    }
    if seg.bitmap_view(field, 0)?.is_none() {
        return Ok(None);
    }
    Ok(Some(if n_match <= max_or {
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

/// A bitmap a predicate resolved to: its cardinality, the bitmap, and
/// what it is (for the trace).
type Leg<'a> = (u64, Bm<'a>, String);

/// The predicates resolved against one segment: bitmaps to intersect
/// (`pos`) and to subtract (`neg`), and checks on each candidate row
/// (`resid`), each in the order it is cheapest to apply.
struct Plan<'a, 'q> {
    pos: Vec<Leg<'a>>,
    neg: Vec<Leg<'a>>,
    resid: Vec<Resid<'a, 'q>>,
}

/// Runs `q` over `seg`; `stop` cancels it.
pub(crate) fn scan<'a>(
    seg: &'a SegmentReader,
    q: &Bound,
    keep: Option<usize>,
    trace: bool,
    stop: Stop<'_>,
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
    // The timestamps are read (and their section's checksum verified) only
    // when the window cuts the segment or a listing sorts by them.
    let cuts = q.from_ms > seg.min_ts_ms() || q.to_ms <= seg.max_ts_ms();
    let ts = timestamps_if(seg, cuts || q.select == Select::Events)?;
    let (lo, hi) = window_rows(seg, q, &ts);
    step(
        &mut trace,
        "window rows (binary search on event_timestamp)".into(),
        u64::from(hi - lo),
        "range",
    );
    if lo == hi {
        return Ok(finish(empty(q, trace), started));
    }
    if q.select == Select::Count
        && !q.group_by.is_empty()
        && let Some((out, matched)) = fold::count(seg, q, (lo, hi), &mut trace, stop)?
    {
        return Ok(answer(out, matched, trace, started));
    }
    let Some(plan) = plan(seg, q, &mut trace, stop)? else {
        return Ok(finish(empty(q, trace), started));
    };
    let full = lo == 0 && hi == n;
    if let Some(matched) = count_from_bitmaps(q, &plan, lo, hi, full, &mut trace) {
        let out = Out::Counts {
            srcs: Vec::new(),
            counts: [([0; 8], matched)].into_iter().collect(),
        };
        return Ok(answer(out, matched, trace, started));
    }
    let Plan {
        pos,
        neg,
        mut resid,
    } = plan;
    let cand = candidates(pos, neg, lo, hi, full, &mut trace);
    if let Some(t) = &mut trace {
        trace_residuals(t, &resid, &cand);
    }
    let (out, matched) = match q.select {
        Select::Count => count_groups(seg, q, &cand, &mut resid, &mut trace, stop)?,
        Select::Events => list_rows(seg, q, &ts, &cand, &mut resid, keep, stop)?,
    };
    Ok(answer(out, matched, trace, started))
}

/// The rows of `seg` in the window of `q` that every predicate accepts,
/// ascending: a query's three stages (plan: each predicate resolved to a
/// bitmap, an index's superset or a row check; candidates: the bitmaps
/// intersected cheapest first; residual checks on the candidates) for a
/// caller that reads the rows itself (`export`).
pub(crate) fn matching_rows(seg: &SegmentReader, q: &Bound, stop: Stop<'_>) -> Result<Vec<u32>> {
    let ts = seg.timestamps()?;
    let (lo, hi) = window_rows(seg, q, &ts);
    let mut trace = None;
    if lo == hi {
        return Ok(Vec::new());
    }
    let Some(Plan {
        pos,
        neg,
        mut resid,
    }) = plan(seg, q, &mut trace, stop)?
    else {
        return Ok(Vec::new());
    };
    let full = lo == 0 && hi == seg.rows();
    let cand = candidates(pos, neg, lo, hi, full, &mut trace);
    passing_rows(&cand, &mut resid, &ts, stop)
}

/// The segment's timestamps when `needed`; else none (a query that reads
/// no timestamp does not map or checksum the section).
fn timestamps_if(seg: &SegmentReader, needed: bool) -> Result<Ts<'_>> {
    if !needed {
        return Ok(Ts::empty(seg.min_ts_ms()));
    }
    seg.timestamps()
}

/// Whether counting reads timestamps: a residual check on them, or a
/// group by them.
fn counts_need_ts(q: &Bound, resid: &[Resid<'_, '_>]) -> bool {
    q.group_by.contains(&Field::EventTimestamp)
        || resid.iter().any(|r| matches!(r, Resid::Ts { .. }))
}

/// The rows `[lo, hi)` of the window, by binary search on the timestamps
/// (rows are in timestamp order); no search for a bound the segment's
/// range already satisfies.
fn window_rows(seg: &SegmentReader, q: &Bound, ts: &Ts<'_>) -> (u32, u32) {
    let n = seg.rows();
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
    (lo, hi.max(lo))
}

/// The answer of a segment where nothing matches.
fn empty<'a>(q: &Bound, trace: Option<SourceTrace>) -> Partial<'a> {
    let out = match q.select {
        Select::Count => Out::Counts {
            srcs: Vec::new(),
            counts: Default::default(),
        },
        Select::Events => Out::Rows(Vec::new()),
    };
    Partial {
        matched: 0,
        out,
        trace,
    }
}

/// Resolves every predicate against the segment's dictionaries and sorts
/// the result cheapest first. `None`: a predicate matches no row here, so
/// the segment is empty for this query (the trace says which).
fn plan<'a, 'q>(
    seg: &'a SegmentReader,
    q: &'q Bound,
    trace: &mut Option<SourceTrace>,
    stop: Stop<'_>,
) -> Result<Option<Plan<'a, 'q>>> {
    let mut plan = Plan {
        pos: Vec::new(),
        neg: Vec::new(),
        resid: Vec::new(),
    };
    for p in &q.preds {
        // Resolving reads the dictionary: every distinct value, for some
        // operators.
        stop.check()?;
        // The predicate as the trace shows it: written out only for a
        // trace (an `in` list may hold 200,000 values).
        let p = Label(p, trace.is_some());
        let resolved = resolve(seg, p.0)?;
        let exact = matches!(resolved, Resolved::Exact { .. });
        match resolved {
            Resolved::Empty(why) => {
                step(trace, format!("{p}: {why}"), 0, "segment empty");
                return Ok(None);
            }
            Resolved::True => step(
                trace,
                format!("{p}"),
                u64::from(seg.rows()),
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
                    plan.neg.push((card, bm, what))
                } else {
                    plan.pos.push((card, bm, what))
                }
            }
            Resolved::Codes { col, bits } => plan.resid.push(Resid::Codes { col, bits }),
            // An index's rows: exact, or a superset still checked per row.
            Resolved::Superset { rows, what } | Resolved::Exact { rows, what } => {
                let card = rows.cardinality();
                if card == 0 {
                    step(trace, format!("{p}: {what}"), 0, "segment empty");
                    return Ok(None);
                }
                plan.pos
                    .push((card, Bm::Owned(rows), format!("{p}: {what}")));
                if !exact {
                    plan.resid.push(value_check(seg, p.0)?);
                }
            }
            Resolved::Values => plan.resid.push(value_check(seg, p.0)?),
        }
    }
    // Cheapest first; and-nots after every positive.
    plan.pos.sort_by_key(|(c, _, _)| *c);
    plan.resid.sort_by_key(|r| match r {
        Resid::Codes { .. } => 0,
        Resid::Ts { .. } => 1,
        Resid::Block { .. } | Resid::Text { .. } => 2,
    });
    Ok(Some(plan))
}

/// A predicate as a plan's steps name it: itself when traced, else
/// nothing (the names are only read by the trace).
struct Label<'q>(&'q Pred, bool);

impl std::fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.1 { self.0.fmt(f) } else { Ok(()) }
    }
}

/// The row check of a predicate on a column without a dictionary.
fn value_check<'a, 'q>(seg: &'a SegmentReader, p: &'q Pred) -> Result<Resid<'a, 'q>> {
    Ok(match encoding_of(p.field) {
        Encoding::Timestamps => Resid::Ts { pred: p },
        _ if p.field.kind() == FieldKind::Str => Resid::Text {
            pred: p,
            cursor: Box::new(seg.blocks(p.field)?),
            finder: p.finder(),
        },
        _ => Resid::Block {
            pred: p,
            cursor: Box::new(seg.blocks(p.field)?),
        },
    })
}

/// A count with no group and no row check answered from bitmap
/// cardinalities alone (no candidate rows visited), when at most two
/// positive bitmaps and no and-not are left; `None` otherwise.
fn count_from_bitmaps(
    q: &Bound,
    plan: &Plan<'_, '_>,
    lo: u32,
    hi: u32,
    full: bool,
    trace: &mut Option<SourceTrace>,
) -> Option<u64> {
    let count_only = q.select == Select::Count && q.group_by.is_empty() && plan.resid.is_empty();
    if !(count_only && plan.neg.is_empty() && plan.pos.len() <= 2) {
        return None;
    }
    match plan.pos.as_slice() {
        [] => Some(u64::from(hi - lo)),
        [(_, a, w)] => {
            let c = a.range_cardinality(lo..hi);
            step(trace, w.clone(), c, "range cardinality");
            Some(c)
        }
        [(_, a, wa), (_, b, wb)] if full => {
            let c = a.and_cardinality(b);
            step(trace, format!("{wa} ∩ {wb}"), c, "and cardinality");
            Some(c)
        }
        _ => None,
    }
}

/// The rows the bitmaps leave in `[lo, hi)`: the positives intersected
/// smallest first, then the and-nots subtracted; the whole range when
/// there are none.
fn candidates<'a>(
    pos: Vec<Leg<'a>>,
    neg: Vec<Leg<'a>>,
    lo: u32,
    hi: u32,
    full: bool,
    trace: &mut Option<SourceTrace>,
) -> Cand<'a> {
    if pos.is_empty() && neg.is_empty() {
        return Cand::Range(lo, hi);
    }
    let mut pos = pos.into_iter();
    let mut acc: Bm<'a> = match pos.next() {
        None => Bm::Owned(Bitmap::from_range(lo..hi)),
        Some((c, first, w)) => {
            step(trace, w, c, "start");
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
        step(trace, w, c, &format!("and → {}", owned.cardinality()));
        acc = Bm::Owned(owned);
    }
    for (c, b, w) in neg {
        let mut owned = match acc {
            Bm::Owned(o) => o,
            Bm::View(v) => v.to_bitmap(),
        };
        owned.andnot_inplace(&b);
        step(trace, w, c, &format!("and-not → {}", owned.cardinality()));
        acc = Bm::Owned(owned);
    }
    Cand::Bits(acc)
}

/// Notes in the trace the checks made on candidate rows, and how many
/// rows they visit.
fn trace_residuals(t: &mut SourceTrace, resid: &[Resid<'_, '_>], cand: &Cand<'_>) {
    // The checks the plan kept, value checks first (an index that answered
    // a predicate exactly left none for it).
    for r in resid {
        if let Resid::Ts { pred } | Resid::Block { pred, .. } | Resid::Text { pred, .. } = r {
            t.residual.push(pred.to_string());
        }
    }
    for r in resid {
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

/// A segment's answer with its trace completed.
fn answer<'a>(
    out: Out<'a>,
    matched: u64,
    trace: Option<SourceTrace>,
    started: Instant,
) -> Partial<'a> {
    finish(
        Partial {
            matched,
            out,
            trace,
        },
        started,
    )
}

fn finish(mut p: Partial<'_>, started: Instant) -> Partial<'_> {
    if let Some(t) = &mut p.trace {
        t.matched = p.matched;
        t.time_us = started.elapsed().as_secs_f64() * 1e6;
    }
    p
}

/// The candidates that pass every check, ascending. Code checks run a chunk
/// at a time on codes read in bulk (q15's `user_type not_in` over 45,000
/// candidates a day spent half its time in per-row checks); the others run
/// row by row on what the code checks kept.
fn passing_rows(
    cand: &Cand<'_>,
    resid: &mut [Resid<'_, '_>],
    ts: &Ts<'_>,
    stop: Stop<'_>,
) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    let mut keep: Vec<u32> = Vec::with_capacity(CHUNK_ROWS);
    let mut codes = [0u32; CHUNK_ROWS];
    cand.for_each_chunk(stop, |chunk| {
        keep.clear();
        match chunk {
            RowChunk::Range(start, n) => keep.extend(start..start + n),
            RowChunk::List(rows) => keep.extend_from_slice(rows),
        }
        for r in resid.iter_mut() {
            let mut kept = 0;
            if let Resid::Codes { col, bits } = r {
                col.codes_into(RowChunk::List(&keep), &mut codes);
                // Branch-free: every row is written, the kept ones advance.
                for i in 0..keep.len() {
                    let code = codes.get(i).copied().unwrap_or(0);
                    let ok = bits.get(code as usize).copied().unwrap_or(false);
                    let row = keep.get(i).copied().unwrap_or(0);
                    if let Some(slot) = keep.get_mut(kept) {
                        *slot = row;
                    }
                    kept += usize::from(ok);
                }
            } else {
                for i in 0..keep.len() {
                    let row = keep.get(i).copied().unwrap_or(0);
                    if passes(std::slice::from_mut(r), ts, row)? {
                        keep.swap(kept, i);
                        kept += 1;
                    }
                }
            }
            keep.truncate(kept);
        }
        out.extend_from_slice(&keep);
        Ok(())
    })?;
    Ok(out)
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
            Resid::Text {
                pred,
                cursor,
                finder,
            } => {
                match finder {
                    // `contains` is false on a missing value, like every op
                    // but is_null.
                    Some(f) => cursor.row_contains(row, f)?,
                    None => {
                        let v = cursor.get_str_bytes(row)?;
                        pred.matches_bytes(v, None)
                    }
                }
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::query::{CancelToken, QueryOptions};

    /// A cancel during a walk over candidate rows stops it at the next
    /// check: the rest of that block of rows, and no more.
    #[test]
    fn a_walk_stops_at_the_check_after_a_cancel() {
        let n = 100_000u32;
        let block = CHECK_EVERY_ROWS as u64;
        for (cand, visited) in [
            (Cand::Range(7, n), block),
            (Cand::Rows((0..n).collect()), block),
            (Cand::Bits(Bm::Owned(Bitmap::from_range(0..n))), 256),
        ] {
            let token = CancelToken::new();
            let opts = QueryOptions::new().with_cancel(token.clone());
            let mut seen = 0u64;
            let r = cand.for_each(opts.stop(), |_| {
                seen += 1;
                if seen == 10 {
                    token.cancel();
                }
                Ok(())
            });
            assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
            assert_eq!(seen, visited);
            // Not cancelled: every row.
            let mut all = 0u64;
            cand.for_each(QueryOptions::new().stop(), |_| {
                all += 1;
                Ok(())
            })
            .unwrap();
            assert_eq!(all, cand.len());
        }
    }
}
