//! Runs a bound query over a snapshot: picks the sources (segments and
//! buffered chunks) the window touches, scans them in parallel, and merges
//! their partial results into the answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use parking_lot::Mutex;

use crate::error::Result;
use crate::event::{Event, Field, Value};
use crate::segment::SegmentReader;
use crate::state::Snapshot;
use crate::time::Day;

use super::QueryResult;
use super::bind::{Bound, SortKey};
use super::budget;
use super::cancel::{CHECK_EVERY_ROWS, QueryOptions, Stop};
use super::cursor;
use super::explain::{Explain, SourceTrace};
use super::model::Select;
use super::partial::{GKey, Grouper, KeySrc, Out, Partial, TopRows, cmp_keys};
use super::scalar::Scalar;
use super::segscan;

/// Helper threads join a query whose remaining sources are projected to
/// take longer than this, in microseconds.
const PARALLEL_AFTER_US: u128 = 500;

enum Source<'a> {
    Segment(&'a SegmentReader),
    Buffer(Day, &'a [Event]),
}

/// How one source is scanned: the query's row limit per source, whether to
/// trace, and its cancel flag.
#[derive(Clone, Copy)]
struct Scan<'s> {
    keep: Option<usize>,
    explain: bool,
    stop: Stop<'s>,
}

/// Scans one source; every source begins with a look at the cancel flag.
fn scan_source<'a>(s: &Source<'a>, q: &Bound, how: Scan<'_>) -> Result<Partial<'a>> {
    how.stop.check()?;
    let p = match s {
        Source::Segment(seg) => segscan::scan(seg, q, how.keep, how.explain, how.stop)?,
        Source::Buffer(day, events) => scan_buffer(*day, events, q, how)?,
    };
    budget::charge_partial(&p, how.stop)?;
    Ok(p)
}

/// Runs `q` over `snap` with `opts`: its cancel token and thread budget
/// (docs/queries.md).
pub(crate) fn run(
    snap: &Snapshot,
    q: &Bound,
    explain: bool,
    opts: &QueryOptions,
) -> Result<(QueryResult, Option<Explain>)> {
    let budget = opts.thread_budget()?;
    let meter = opts.meter()?;
    let stop = opts.stop_metered(&meter);
    stop.check()?;
    budget::charge_lists(q, stop)?;
    let started = Instant::now();
    let mut ex = Explain::default();
    ex.set_window(q.from_ms, q.to_ms);
    let sources = pick_sources(snap, q, &mut ex)?;
    // A listing keeps one row past the page per source, to know whether
    // another page follows.
    let keep = match q.select {
        Select::Events => q
            .limit
            .map(|l| (q.offset.saturating_add(l).saturating_add(1)) as usize),
        Select::Count => None,
    };
    let ts_first = match q.order.first() {
        Some((SortKey::Field(Field::EventTimestamp), desc)) => Some(*desc),
        _ => None,
    };
    let how = Scan {
        keep,
        explain,
        stop,
    };
    let (mut partials, threads) = match (q.select, keep, ts_first) {
        (Select::Events, Some(k), Some(desc)) => {
            let (p, skipped) = best_first(&sources, q, k, desc, how)?;
            ex.sources_counted_only = skipped;
            (p, 1)
        }
        _ => scan_all(&sources, q, how, budget)?,
    };
    stop.check()?;
    ex.threads = threads;
    let merge_started = Instant::now();
    if explain {
        ex.sources = partials.iter_mut().filter_map(|p| p.trace.take()).collect();
    }
    let result = match q.select {
        Select::Count => merge_counts(q, partials, stop)?,
        Select::Events => merge_rows(q, &sources, partials, stop)?,
    };
    ex.folded = q.folded.iter().map(|i| format!("where[{i}]")).collect();
    ex.merge_us = merge_started.elapsed().as_secs_f64() * 1e6;
    ex.total_us = started.elapsed().as_secs_f64() * 1e6;
    ex.result_rows = result.rows.len() as u64;
    Ok((result, explain.then_some(ex)))
}

/// The sources (segments and buffered chunks) the window of `q` touches;
/// the days and segments it prunes are noted in `ex`. A damaged day the
/// window touches is an error: its answer would be incomplete.
fn pick_sources<'a>(snap: &'a Snapshot, q: &Bound, ex: &mut Explain) -> Result<Vec<Source<'a>>> {
    let mut sources = Vec::new();
    for (day, part) in snap.partitions() {
        if part.is_empty() {
            continue;
        }
        if q.from_ms >= q.to_ms || day.end_ms() <= q.from_ms || day.start_ms() >= q.to_ms {
            ex.partitions_pruned.push(day.to_string());
            continue;
        }
        if let Some(d) = part.damaged.first() {
            return Err(d.to_error());
        }
        ex.partitions_kept.push(day.to_string());
        for seg in &part.segments {
            if seg.max_ts_ms() < q.from_ms || seg.min_ts_ms() >= q.to_ms {
                ex.segments_pruned += 1;
                continue;
            }
            sources.push(Source::Segment(seg));
        }
        for chunk in &part.mem {
            sources.push(Source::Buffer(day, chunk));
        }
    }
    Ok(sources)
}

/// Scans every source: the calling thread starts alone; once the sources
/// done so far say the rest will take longer than `PARALLEL_AFTER_US`, it
/// brings in helpers that take sources from the same counter. Selective
/// queries (a few µs per segment) never pay for spawning threads. At most
/// `budget` threads run (the calling thread included; `None`: one per
/// core).
fn scan_all<'a>(
    sources: &[Source<'a>],
    q: &Bound,
    how: Scan<'_>,
    budget: Option<usize>,
) -> Result<(Vec<Partial<'a>>, usize)> {
    let scan_one = |s: &Source<'a>| scan_source(s, q, how);
    let cap = budget.map_or_else(cores, |b| b.min(cores()));
    let max_threads = cap.min(sources.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<Partial<'a>>>>> =
        sources.iter().map(|_| Mutex::new(None)).collect();
    let helpers = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let (Some(src), Some(slot)) = (sources.get(i), slots.get(i)) else {
                break;
            };
            *slot.lock() = Some(scan_one(src));
        }
    };
    std::thread::scope(|s| {
        let t0 = Instant::now();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let (Some(src), Some(slot)) = (sources.get(i), slots.get(i)) else {
                break;
            };
            *slot.lock() = Some(scan_one(src));
            let done = i as u128 + 1;
            let left = sources.len() as u128 - done.min(sources.len() as u128);
            if max_threads > 1
                && helpers.load(Ordering::Relaxed) == 0
                && left > 0
                && t0.elapsed().as_micros() * left / done > PARALLEL_AFTER_US
            {
                helpers.store(max_threads - 1, Ordering::Relaxed);
                for _ in 1..max_threads {
                    s.spawn(work);
                }
            }
        }
    });
    let threads = 1 + helpers.load(Ordering::Relaxed);
    let mut partials = Vec::with_capacity(slots.len());
    for slot in slots {
        if let Some(p) = slot.into_inner() {
            partials.push(p?);
        }
    }
    Ok((partials, threads))
}

/// A listing sorted by `event_timestamp`: sources are read newest first
/// (oldest first ascending); once `k` rows are in, a source whose
/// timestamps are all worse than the `k`-th is only counted (for
/// `matched_events`), never listed.
fn best_first<'a>(
    sources: &[Source<'a>],
    q: &Bound,
    k: usize,
    desc: bool,
    how: Scan<'_>,
) -> Result<(Vec<Partial<'a>>, u64)> {
    let (ranges, order) = read_order(sources, desc);
    let count_q = Bound {
        select: Select::Count,
        group_by: Vec::new(),
        ..q.clone()
    };
    let mut slots: Vec<Option<Partial<'a>>> = (0..sources.len()).map(|_| None).collect();
    let mut kept_ts: Vec<i64> = Vec::new();
    let mut counted_only = 0u64;
    for i in order {
        let (Some(src), Some((lo, hi))) = (sources.get(i), ranges.get(i).copied()) else {
            continue;
        };
        let worse = match kth_best(&mut kept_ts, k, desc) {
            Some(t) if desc => hi < t,
            Some(t) => lo > t,
            None => false,
        };
        let p = if worse && q.stops_early() {
            // Not even counted: counting would check every row.
            counted_only += 1;
            Partial {
                matched: 0,
                out: Out::Rows(Vec::new()),
                trace: None,
            }
        } else if worse {
            counted_only += 1;
            let c = scan_source(src, &count_q, Scan { keep: None, ..how })?;
            Partial {
                matched: c.matched,
                out: Out::Rows(Vec::new()),
                trace: c.trace,
            }
        } else {
            let p = scan_source(
                src,
                q,
                Scan {
                    keep: Some(k),
                    ..how
                },
            )?;
            if let Out::Rows(rows) = &p.out {
                kept_ts.extend(rows.iter().filter_map(|(key, _)| match key.first() {
                    Some(Scalar::Timestamp(t)) => Some(*t),
                    _ => None,
                }));
            }
            p
        };
        if let Some(slot) = slots.get_mut(i) {
            *slot = Some(p);
        }
    }
    let partials = slots
        .into_iter()
        .map(|p| {
            p.unwrap_or(Partial {
                matched: 0,
                out: Out::Rows(Vec::new()),
                trace: None,
            })
        })
        .collect();
    Ok((partials, counted_only))
}

/// Each source's timestamp range, and the order [`best_first`] reads
/// them in: newest first (`desc`), else oldest first.
fn read_order(sources: &[Source<'_>], desc: bool) -> (Vec<(i64, i64)>, Vec<usize>) {
    let range = |s: &Source<'_>| -> (i64, i64) {
        match s {
            Source::Segment(seg) => (seg.min_ts_ms(), seg.max_ts_ms()),
            Source::Buffer(_, events) => events.iter().fold((i64::MAX, i64::MIN), |(lo, hi), e| {
                (lo.min(e.event_timestamp_ms), hi.max(e.event_timestamp_ms))
            }),
        }
    };
    let ranges: Vec<(i64, i64)> = sources.iter().map(range).collect();
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|i| {
        let (lo, hi) = ranges.get(*i).copied().unwrap_or((0, 0));
        if desc { -hi } else { lo }
    });
    (ranges, order)
}

/// The `k`-th best timestamp listed so far (`None` before `k` rows are
/// in); `kept_ts` is cut to the best `k`.
fn kth_best(kept_ts: &mut Vec<i64>, k: usize, desc: bool) -> Option<i64> {
    if kept_ts.len() < k {
        return None;
    }
    if desc {
        kept_ts.sort_unstable_by(|a, b| b.cmp(a));
    } else {
        kept_ts.sort_unstable();
    }
    kept_ts.truncate(k);
    kept_ts.last().copied()
}

/// Buffered events: no index, every predicate checked on every event in
/// the window, through the same predicate semantics as segment residuals.
fn scan_buffer<'a>(day: Day, events: &'a [Event], q: &Bound, how: Scan<'_>) -> Result<Partial<'a>> {
    let Scan {
        keep,
        explain,
        stop,
    } = how;
    let started = Instant::now();
    let mut trace = explain.then(|| {
        SourceTrace::new(
            "buffered events (no index)".into(),
            day,
            events.len() as u64,
        )
    });
    // The walk ends early once the query is cancelled; the check after the
    // counting reports it, so a cut-short count is never returned.
    let hits = events
        .iter()
        .enumerate()
        .take_while(|(i, _)| i % CHECK_EVERY_ROWS != 0 || !stop.is_set())
        .filter(|(_, e)| {
            (q.from_ms..q.to_ms).contains(&e.event_timestamp_ms)
                && q.preds.iter().all(|p| p.matches(e.get(p.field)))
        });
    let (out, matched) = match q.select {
        Select::Count => count_buffered(q, hits),
        Select::Events => list_buffered(q, keep, hits),
    };
    stop.check()?;
    if let Some(t) = &mut trace {
        t.residual = q.preds.iter().map(|p| p.to_string()).collect();
        t.rows_visited = events.len() as u64;
        t.matched = matched;
        t.time_us = started.elapsed().as_secs_f64() * 1e6;
    }
    Ok(Partial {
        matched,
        out,
        trace,
    })
}

/// The groups of the buffered events `hits` (with their positions), and
/// how many there are.
#[inline]
fn count_buffered<'a>(q: &Bound, hits: impl Iterator<Item = (usize, &'a Event)>) -> (Out<'a>, u64) {
    let n = q.group_by.len();
    let mut matched = 0u64;
    let mut maps: Vec<HashMap<Value<'a>, u32, FixedState>> =
        (0..n).map(|_| HashMap::default()).collect();
    let mut vals: Vec<Vec<Value<'a>>> = vec![Vec::new(); n];
    let mut grouper = Grouper::new(&vec![None; n], 0);
    let mut key: GKey = [0; 8];
    for (_, e) in hits {
        matched += 1;
        for (i, f) in q.group_by.iter().enumerate() {
            let v = e.get(*f);
            let (Some(map), Some(list), Some(k)) =
                (maps.get_mut(i), vals.get_mut(i), key.get_mut(i))
            else {
                continue;
            };
            *k = *map.entry(v).or_insert_with(|| {
                list.push(v);
                list.len() as u32 - 1
            });
        }
        grouper.add(&key, 1);
    }
    let out = Out::Counts {
        srcs: vals.into_iter().map(KeySrc::Borrowed).collect(),
        counts: grouper.finish(),
    };
    (out, matched)
}

/// The best `keep` rows of the buffered events `hits` in the query's
/// order, and how many matched.
#[inline]
fn list_buffered<'a>(
    q: &Bound,
    keep: Option<usize>,
    hits: impl Iterator<Item = (usize, &'a Event)>,
) -> (Out<'a>, u64) {
    let mut matched = 0u64;
    let mut top = TopRows::new(&q.order, keep, q.after.as_deref());
    for (i, e) in hits {
        matched += 1;
        let key = q
            .order
            .iter()
            .map(|(k, _)| match k {
                SortKey::Field(f) => Scalar::from(e.get(*f)),
                SortKey::Count => Scalar::Null,
            })
            .collect();
        top.push(key, i as u32);
    }
    (Out::Rows(top.finish()), matched)
}

/// Distinct values of one group field across sources, by id.
struct Interner {
    table: HashTable<u32>,
    values: Vec<Scalar>,
    hasher: FixedState,
}

impl Interner {
    fn new() -> Interner {
        Interner {
            table: HashTable::new(),
            values: Vec::new(),
            hasher: FixedState::default(),
        }
    }

    fn id(&mut self, v: Value<'_>) -> u32 {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(v);
        let values = &self.values;
        if let Some(id) = self.table.find(h, |id| {
            values.get(*id as usize).map(Scalar::as_value) == Some(v)
        }) {
            return *id;
        }
        let id = self.values.len() as u32;
        self.values.push(Scalar::from(v));
        let (values, hasher) = (&self.values, &self.hasher);
        self.table.insert_unique(h, id, |id| {
            values
                .get(*id as usize)
                .map_or(0, |s| hasher.hash_one(s.as_value()))
        });
        id
    }
}

/// Sums the sources' group counts by value, sorts and pages them. The
/// cancel flag is looked at every few thousand groups of the first pass
/// (a value lookup per group) and between passes.
fn merge_counts(q: &Bound, partials: Vec<Partial<'_>>, stop: Stop<'_>) -> Result<QueryResult> {
    let mut interners: Vec<Interner> = (0..q.group_by.len()).map(|_| Interner::new()).collect();
    let (keyed, matched) = to_global_keys(partials, &mut interners, stop)?;
    stop.check()?;
    let totals = sum_by_key(keyed, &interners);
    stop.check()?;
    let mut rows = ranked_rows(totals, &interners);
    if q.group_by.is_empty() && rows.is_empty() {
        rows.push(([0; 8], [0; 8], 0));
    }
    stop.check()?;
    sort_page(q, &mut rows);
    let mut columns: Vec<String> = q.group_by.iter().map(|f| f.name().to_string()).collect();
    columns.push("count".into());
    let rows = rows
        .into_iter()
        .skip(q.offset as usize)
        .take(q.limit.map_or(usize::MAX, |l| l as usize))
        .map(|(_, gkey, count)| {
            let mut values: Vec<Scalar> = interners
                .iter()
                .zip(gkey)
                .map(|(it, id)| it.values.get(id as usize).cloned().unwrap_or(Scalar::Null))
                .collect();
            values.push(Scalar::Int(count));
            values
        })
        .collect();
    Ok(QueryResult {
        columns,
        rows,
        matched_events: Some(matched),
        next_cursor: None,
    })
}

/// One source's groups: (key of global value ids, count).
type Keyed = Vec<(GKey, u64)>;

/// Pass 1 of [`merge_counts`]: every source's keys to global ids (each
/// distinct value of a source is looked up once), and the events matched.
fn to_global_keys(
    partials: Vec<Partial<'_>>,
    interners: &mut [Interner],
    stop: Stop<'_>,
) -> Result<(Vec<Keyed>, u64)> {
    let mut matched = 0u64;
    let mut keyed: Vec<Keyed> = Vec::with_capacity(partials.len());
    for p in partials {
        matched += p.matched;
        let Out::Counts { srcs, counts } = p.out else {
            continue;
        };
        let before: Vec<usize> = interners.iter().map(|it| it.values.len()).collect();
        keyed.push(intern_source(&srcs, counts, interners, stop)?);
        budget::charge_merge(&keyed, interners.iter().map(|it| &it.values), &before, stop)?;
    }
    Ok((keyed, matched))
}

/// One source's groups with their keys as global ids.
#[inline]
fn intern_source(
    srcs: &[KeySrc<'_>],
    counts: Vec<(GKey, u64)>,
    interners: &mut [Interner],
    stop: Stop<'_>,
) -> Result<Keyed> {
    // Source-local key -> global id, filled as keys are met.
    let mut memo: Vec<Vec<u32>> = srcs.iter().map(|s| vec![u32::MAX; s.len()]).collect();
    let mut out = Vec::with_capacity(counts.len());
    for (at, (key, count)) in counts.into_iter().enumerate() {
        // A value looked up per group: one source can hold many.
        if at % CHECK_EVERY_ROWS == 0 {
            stop.check()?;
        }
        let mut gkey: GKey = [0; 8];
        for (i, ((src, interner), memo)) in srcs
            .iter()
            .zip(interners.iter_mut())
            .zip(&mut memo)
            .enumerate()
        {
            let local = key.get(i).copied().unwrap_or(0);
            let id = match memo.get_mut(local as usize) {
                Some(id) if *id != u32::MAX => *id,
                slot => {
                    let id = interner.id(src.value(local)?);
                    if let Some(s) = slot {
                        *s = id;
                    }
                    id
                }
            };
            if let Some(g) = gkey.get_mut(i) {
                *g = id;
            }
        }
        out.push((gkey, count));
    }
    Ok(out)
}

/// Pass 2 of [`merge_counts`]: sums counts by global key, in a dense array
/// when the global value counts allow (far cheaper than hashing every
/// source's groups).
fn sum_by_key(keyed: Vec<Keyed>, interners: &[Interner]) -> HashMap<GKey, u64, FixedState> {
    let sizes: Vec<usize> = interners.iter().map(|it| it.values.len().max(1)).collect();
    let entries: usize = keyed.iter().map(Vec::len).sum();
    let dense_cap = entries.saturating_mul(4).clamp(1 << 16, 1 << 24);
    let product = sizes
        .iter()
        .try_fold(1usize, |t, n| t.checked_mul(*n))
        .filter(|t| *t <= dense_cap);
    match product {
        Some(total) => sum_dense(&keyed, &sizes, total),
        None => {
            let mut totals: HashMap<GKey, u64, FixedState> = HashMap::default();
            for (gkey, count) in keyed.into_iter().flatten() {
                *totals.entry(gkey).or_insert(0) += count;
            }
            totals
        }
    }
}

/// [`sum_by_key`] in an array of `total` cells, one per key tuple (field
/// `i` has `sizes[i]` distinct values).
fn sum_dense(keyed: &[Keyed], sizes: &[usize], total: usize) -> HashMap<GKey, u64, FixedState> {
    let mut strides = Vec::with_capacity(sizes.len());
    let mut acc = 1usize;
    for s in sizes {
        strides.push(acc);
        acc *= s;
    }
    let mut dense = vec![0u64; total];
    for (gkey, count) in keyed.iter().flatten() {
        let i: usize = gkey
            .iter()
            .zip(&strides)
            .map(|(k, s)| *k as usize * s)
            .sum();
        if let Some(c) = dense.get_mut(i) {
            *c += count;
        }
    }
    let mut totals: HashMap<GKey, u64, FixedState> = HashMap::default();
    totals.reserve(dense.iter().filter(|c| **c > 0).count());
    for (i, c) in dense.iter().enumerate().filter(|(_, c)| **c > 0) {
        let mut gkey: GKey = [0; 8];
        for ((k, stride), n) in gkey.iter_mut().zip(&strides).zip(sizes) {
            *k = ((i / stride) % n) as u32;
        }
        totals.insert(gkey, *c);
    }
    totals
}

/// The summed groups as (ranked key, global key, count). Every field's
/// distinct values are ranked once, so rows sort by comparing integers;
/// only the rows of the page are turned into values.
fn ranked_rows(
    totals: HashMap<GKey, u64, FixedState>,
    interners: &[Interner],
) -> Vec<(GKey, GKey, u64)> {
    let ranks: Vec<Vec<u32>> = interners
        .iter()
        .map(|it| {
            let mut ids: Vec<u32> = (0..it.values.len() as u32).collect();
            ids.sort_unstable_by(|a, b| {
                it.values.get(*a as usize).cmp(&it.values.get(*b as usize))
            });
            let mut rank = vec![0u32; ids.len()];
            for (r, id) in ids.iter().enumerate() {
                if let Some(slot) = rank.get_mut(*id as usize) {
                    *slot = r as u32;
                }
            }
            rank
        })
        .collect();
    totals
        .into_iter()
        .map(|(gkey, count)| {
            let mut ranked: GKey = [0; 8];
            for ((r, id), rank) in ranked.iter_mut().zip(gkey).zip(&ranks) {
                *r = rank.get(id as usize).copied().unwrap_or(0);
            }
            (ranked, gkey, count)
        })
        .collect()
}

/// Sorts `rows` in the query's order, up to the end of its page (rows
/// past it are dropped: only the page needs sorting, so it is selected
/// first).
fn sort_page(q: &Bound, rows: &mut Vec<(GKey, GKey, u64)>) {
    // Sort keys as (group field position or count, descending).
    let keys: Vec<(Option<usize>, bool)> = q
        .order
        .iter()
        .filter_map(|(k, desc)| match k {
            SortKey::Count => Some((None, *desc)),
            SortKey::Field(f) => q
                .group_by
                .iter()
                .position(|g| g == f)
                .map(|i| (Some(i), *desc)),
        })
        .collect();
    let cmp = |a: &(GKey, GKey, u64), b: &(GKey, GKey, u64)| {
        for (k, desc) in &keys {
            let o = match k {
                None => a.2.cmp(&b.2),
                Some(i) => a.0.get(*i).cmp(&b.0.get(*i)),
            };
            let o = if *desc { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    };
    let page_end = q
        .limit
        .map_or(usize::MAX, |l| (q.offset.saturating_add(l)) as usize);
    if page_end < rows.len() {
        rows.select_nth_unstable_by(page_end, cmp);
        rows.truncate(page_end);
    }
    rows.sort_unstable_by(cmp);
}

fn merge_rows(
    q: &Bound,
    sources: &[Source<'_>],
    partials: Vec<Partial<'_>>,
    stop: Stop<'_>,
) -> Result<QueryResult> {
    let mut all: Vec<(Vec<Scalar>, usize, u32)> = Vec::new();
    let mut matched = 0u64;
    for (i, p) in partials.into_iter().enumerate() {
        matched += p.matched;
        if let Out::Rows(rows) = p.out {
            all.extend(rows.into_iter().map(|(k, r)| (k, i, r)));
        }
    }
    stop.check()?;
    all.sort_unstable_by(|a, b| cmp_keys(&q.order, &a.0, &b.0));
    let limit = q.limit.map_or(usize::MAX, |l| l as usize);
    let more = all.len() > (q.offset as usize).saturating_add(limit);
    let page: Vec<_> = all
        .into_iter()
        .skip(q.offset as usize)
        .take(limit)
        .collect();
    let next_cursor = match (more, page.last()) {
        (true, Some((key, _, _))) => Some(cursor::encode(&q.order, key)),
        // An empty page (`limit: 0`) before more rows: the next page starts
        // where this one did.
        (true, None) => Some(match &q.after {
            Some(key) => cursor::encode(&q.order, key),
            None => cursor::encode(&q.order, &[]),
        }),
        _ => None,
    };
    // Fetch the page's fields source by source, each source's rows at once.
    let mut rows: Vec<Vec<Scalar>> = vec![Vec::new(); page.len()];
    let mut by_source: Vec<(usize, u32, usize)> = page
        .iter()
        .enumerate()
        .map(|(i, (_, src, row))| (*src, *row, i))
        .collect();
    by_source.sort_unstable();
    for group in by_source.chunk_by(|a, b| a.0 == b.0) {
        let Some((src, _, _)) = group.first() else {
            continue;
        };
        let wanted: Vec<u32> = group.iter().map(|(_, r, _)| *r).collect();
        let values = match sources.get(*src) {
            Some(Source::Segment(seg)) => segscan::fetch_rows(seg, &q.fields, &wanted)?,
            Some(Source::Buffer(_, events)) => wanted
                .iter()
                .map(|r| match events.get(*r as usize) {
                    Some(e) => q.fields.iter().map(|f| Scalar::from(e.get(*f))).collect(),
                    None => Vec::new(),
                })
                .collect(),
            None => continue,
        };
        for ((_, _, i), v) in group.iter().zip(values) {
            if let Some(slot) = rows.get_mut(*i) {
                *slot = v;
            }
        }
    }
    Ok(QueryResult {
        columns: q.fields.iter().map(|f| f.name().to_string()).collect(),
        rows,
        matched_events: (!q.stops_early()).then_some(matched),
        next_cursor,
    })
}

/// The number of cores, asked once: on Linux `available_parallelism` reads
/// cgroup files under /proc on every call, a few percent of a query on a
/// small segment (docs/notes/fuzzing.md, "Other things noticed").
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
