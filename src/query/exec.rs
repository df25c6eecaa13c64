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
use crate::event::{Event, Value};
use crate::segment::{RowDecoder, SegmentReader};
use crate::state::Snapshot;
use crate::time::Day;

use super::QueryResult;
use super::bind::{Bound, SortKey};
use super::cursor;
use super::explain::{Explain, SourceTrace};
use super::model::Select;
use super::partial::{GKey, Grouper, KeySrc, Out, Partial, TopRows, cmp_keys};
use super::scalar::Scalar;
use super::segscan;

/// Below this many rows in the window, one thread answers: spawning
/// workers would cost more than it saves.
const PARALLEL_MIN_ROWS: u64 = 200_000;

enum Source<'a> {
    Segment(&'a SegmentReader),
    Buffer(Day, &'a [Event]),
}

fn scan_source<'a>(
    s: &Source<'a>,
    q: &Bound,
    keep: Option<usize>,
    explain: bool,
) -> Result<Partial<'a>> {
    match s {
        Source::Segment(seg) => segscan::scan(seg, q, keep, explain),
        Source::Buffer(day, events) => scan_buffer(*day, events, q, keep, explain),
    }
}

/// Runs `q` over `snap`.
pub fn run<'a>(
    snap: &'a Snapshot,
    q: &Bound,
    explain: bool,
) -> Result<(QueryResult, Option<Explain>)> {
    let started = Instant::now();
    let mut ex = Explain::default();
    ex.set_window(q.from_ms, q.to_ms);
    let mut sources = Vec::new();
    let mut window_rows = 0u64;
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
            window_rows += u64::from(seg.rows());
            sources.push(Source::Segment(seg));
        }
        for chunk in &part.mem {
            window_rows += chunk.len() as u64;
            sources.push(Source::Buffer(day, chunk));
        }
    }
    // A listing keeps one row past the page per source, to know whether
    // another page follows.
    let keep = match q.select {
        Select::Events => q
            .limit
            .map(|l| (q.offset.saturating_add(l).saturating_add(1)) as usize),
        Select::Count => None,
    };
    let scan_one = |s: &Source<'a>| scan_source(s, q, keep, explain);
    let threads = if window_rows >= PARALLEL_MIN_ROWS && sources.len() > 1 {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(sources.len())
    } else {
        1
    };
    let partials: Vec<Partial<'a>> = if threads == 1 {
        sources.iter().map(scan_one).collect::<Result<_>>()?
    } else {
        let next = AtomicUsize::new(0);
        let slots: Vec<Mutex<Option<Result<Partial<'a>>>>> =
            sources.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let (Some(src), Some(slot)) = (sources.get(i), slots.get(i)) else {
                            break;
                        };
                        *slot.lock() = Some(scan_one(src));
                    }
                });
            }
        });
        let mut out = Vec::with_capacity(slots.len());
        for slot in slots {
            if let Some(p) = slot.into_inner() {
                out.push(p?);
            }
        }
        out
    };
    ex.threads = threads;
    let merge_started = Instant::now();
    let mut partials = partials;
    if explain {
        ex.sources = partials.iter_mut().filter_map(|p| p.trace.take()).collect();
    }
    let result = match q.select {
        Select::Count => merge_counts(q, partials)?,
        Select::Events => merge_rows(q, &sources, partials)?,
    };
    ex.folded = q.folded.iter().map(|i| format!("where[{i}]")).collect();
    ex.merge_us = merge_started.elapsed().as_secs_f64() * 1e6;
    ex.total_us = started.elapsed().as_secs_f64() * 1e6;
    ex.result_rows = result.rows.len() as u64;
    Ok((result, explain.then_some(ex)))
}

/// Buffered events: no index, every predicate checked on every event in
/// the window, through the same predicate semantics as segment residuals.
fn scan_buffer<'a>(
    day: Day,
    events: &'a [Event],
    q: &Bound,
    keep: Option<usize>,
    explain: bool,
) -> Result<Partial<'a>> {
    let started = Instant::now();
    let mut trace = explain.then(|| {
        SourceTrace::new(
            "buffered events (no index)".into(),
            day,
            events.len() as u64,
        )
    });
    let hits = events.iter().enumerate().filter(|(_, e)| {
        (q.from_ms..q.to_ms).contains(&e.event_timestamp_ms)
            && q.preds.iter().all(|p| p.matches(e.get(p.field)))
    });
    let mut matched = 0u64;
    let out = match q.select {
        Select::Count => {
            let n = q.group_by.len();
            let mut maps: Vec<HashMap<Value<'a>, u32, FixedState>> =
                (0..n).map(|_| HashMap::default()).collect();
            let mut vals: Vec<Vec<Value<'a>>> = vec![Vec::new(); n];
            let mut grouper = Grouper::new(&vec![None; n]);
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
            Out::Counts {
                srcs: vals.into_iter().map(KeySrc::Borrowed).collect(),
                counts: grouper.finish(),
            }
        }
        Select::Events => {
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
            Out::Rows(top.finish())
        }
    };
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

fn merge_counts(q: &Bound, partials: Vec<Partial<'_>>) -> Result<QueryResult> {
    let n = q.group_by.len();
    let mut interners: Vec<Interner> = (0..n).map(|_| Interner::new()).collect();
    let mut totals: HashMap<GKey, u64, FixedState> = HashMap::default();
    let mut matched = 0u64;
    for p in partials {
        matched += p.matched;
        let Out::Counts { srcs, counts } = p.out else {
            continue;
        };
        // Source-local key -> global id, filled as keys are met.
        let mut memo: Vec<HashMap<u32, u32, FixedState>> =
            (0..n).map(|_| HashMap::default()).collect();
        for (key, count) in counts {
            let mut gkey: GKey = [0; 8];
            for (i, ((src, interner), memo)) in
                srcs.iter().zip(&mut interners).zip(&mut memo).enumerate()
            {
                let local = key.get(i).copied().unwrap_or(0);
                let id = match memo.get(&local) {
                    Some(id) => *id,
                    None => {
                        let id = interner.id(src.value(local)?);
                        memo.insert(local, id);
                        id
                    }
                };
                if let Some(g) = gkey.get_mut(i) {
                    *g = id;
                }
            }
            *totals.entry(gkey).or_insert(0) += count;
        }
    }
    let mut rows: Vec<(Vec<Scalar>, u64)> = totals
        .into_iter()
        .map(|(gkey, count)| {
            let values = interners
                .iter()
                .zip(gkey)
                .map(|(it, id)| it.values.get(id as usize).cloned().unwrap_or(Scalar::Null))
                .collect();
            (values, count)
        })
        .collect();
    if n == 0 && rows.is_empty() {
        rows.push((Vec::new(), 0));
    }
    let pos = |f| q.group_by.iter().position(|g| *g == f);
    rows.sort_unstable_by(|a, b| {
        for (k, desc) in &q.order {
            let o = match k {
                SortKey::Count => a.1.cmp(&b.1),
                SortKey::Field(f) => match pos(*f) {
                    Some(i) => a.0.get(i).cmp(&b.0.get(i)),
                    None => std::cmp::Ordering::Equal,
                },
            };
            let o = if *desc { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    let mut columns: Vec<String> = q.group_by.iter().map(|f| f.name().to_string()).collect();
    columns.push("count".into());
    let rows = rows
        .into_iter()
        .skip(q.offset as usize)
        .take(q.limit.map_or(usize::MAX, |l| l as usize))
        .map(|(mut values, count)| {
            values.push(Scalar::Int(count));
            values
        })
        .collect();
    Ok(QueryResult {
        columns,
        rows,
        matched_events: matched,
        next_cursor: None,
    })
}

fn merge_rows(
    q: &Bound,
    sources: &[Source<'_>],
    partials: Vec<Partial<'_>>,
) -> Result<QueryResult> {
    let mut all: Vec<(Vec<Scalar>, usize, u32)> = Vec::new();
    let mut matched = 0u64;
    for (i, p) in partials.into_iter().enumerate() {
        matched += p.matched;
        if let Out::Rows(rows) = p.out {
            all.extend(rows.into_iter().map(|(k, r)| (k, i, r)));
        }
    }
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
        _ => None,
    };
    let mut rows = Vec::with_capacity(page.len());
    for (_, src, row) in &page {
        let event = match sources.get(*src) {
            Some(Source::Segment(seg)) => RowDecoder::new(seg)?.event(*row)?,
            Some(Source::Buffer(_, events)) => match events.get(*row as usize) {
                Some(e) => e.clone(),
                None => continue,
            },
            None => continue,
        };
        rows.push(
            q.fields
                .iter()
                .map(|f| Scalar::from(event.get(*f)))
                .collect(),
        );
    }
    Ok(QueryResult {
        columns: q.fields.iter().map(|f| f.name().to_string()).collect(),
        rows,
        matched_events: matched,
        next_cursor,
    })
}
