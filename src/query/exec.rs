//! Runs a bound query over a snapshot: picks the sources (segments and
//! buffered chunks) the window touches, scans them in parallel, and merges
//! their partial results into the answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use foldhash::fast::FixedState;
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
    Segment(&'a Arc<SegmentReader>),
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
        Select::Count => {
            let segs: Vec<_> = sources
                .iter()
                .map(|s| match s {
                    Source::Segment(seg) => Some(*seg),
                    Source::Buffer(..) => None,
                })
                .collect();
            super::groups::merge_counts(q, &segs, partials, stop)?
        }
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
