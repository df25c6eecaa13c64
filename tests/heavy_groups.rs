//! Heavy group-bys (issue 15 item 9) against the oracle: keys of mostly
//! distinct values from block-compressed columns (`event_id`, `url`,
//! `object_id`, timestamps), alone and mixed with dictionary fields,
//! merged by whole-key hash (src/query/wide.rs), with top-N limits that
//! cut runs of equal counts, offsets, filters, and the same `event_id` in
//! two companies (both kept: deduplication is per company).
//!
//! - `heavy_group_bys_match_oracle_in_every_state`: random data sets and
//!   queries, buffered, sealed, mixed, compacted (settled) and reopened.
//! - `every_heavy_shape_and_order_matches_oracle`: every key shape and
//!   order on one data set.
//! - `a_heavy_group_by_past_its_budget_is_refused_by_the_merge`: the merge
//!   charges its table before building it, and the refusal names it.

mod common;
#[path = "common/query_gen.rs"]
mod query_gen;

use common::oracle::{Oracle, append_both, check_queries, state_options};
use common::{NOW_MS, clock};
use daybook::generate::SplitMix64 as Rng;
use daybook::query::{Direction, Op, Query, QueryOptions};
use daybook::{Engine, Error, Event, Field};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use query_gen::*;

const AGES: &[i64] = &[0, 1, 2, 5];

/// A data set whose ids are mostly distinct (canonical UUIDs and other
/// strings), a few re-sent in their company (deduplicated) and a few
/// reused by another company (kept); URLs and objects of many values with
/// some repeated (counts above 1, and ties); missing values.
fn build(seed: u64, n: usize) -> Vec<Event> {
    let mut rng = Rng::new(seed);
    let urls = 5 + rng.below(n as u64);
    let mut out: Vec<Event> = Vec::with_capacity(n);
    for i in 0..n {
        let d = rng.below(AGES.len() as u64) as usize;
        let ts = day_ago(AGES[d]).start_ms() + rng.below(MS_PER_DAY as u64 / 2) as i64;
        let mut a = [0u8; 24];
        for x in a.iter_mut() {
            *x = rng.below(32) as u8;
        }
        let reuse =
            (i > 0 && rng.below(10) == 0).then(|| out[rng.below(i as u64) as usize].clone());
        let id = match &reuse {
            Some(o) => o.event_id.clone(),
            None => id_for(i, rng.below(5) as u8 % 4),
        };
        let mut e = make_event(id, ts, &a);
        if let Some(o) = reuse {
            // Half re-sent (same company: one kept), half the same id in
            // another company (both kept).
            e.company_name = if rng.below(2) == 0 {
                o.company_name.clone()
            } else {
                pick(
                    COMPANIES,
                    COMPANIES
                        .iter()
                        .position(|c| *c == o.company_name)
                        .unwrap_or(0)
                        + 1,
                )
                .into()
            };
        }
        let u = rng.below(urls);
        e.url = (rng.below(6) != 0).then(|| format!("/projects/{}/drawings/{u}", u % 7));
        e.object_id = match rng.below(5) {
            0 => None,
            1 => Some(rng.below(8)),
            _ => Some(u * 1_000_003),
        };
        if rng.below(3) == 0 {
            e.event_timestamp_ms = day_ago(AGES[d]).start_ms() + (i as i64 % 5) * 1000;
        }
        out.push(e);
    }
    out
}

const KEYS: &[&[Field]] = &[
    &[Field::EventId],
    &[Field::Url],
    &[Field::ObjectId],
    &[Field::EventTimestamp],
    &[Field::Url, Field::ObjectId, Field::UserEmail],
    &[Field::EventId, Field::CompanyName],
    &[Field::CompanyName, Field::EventId],
    &[Field::Url, Field::UserType],
    &[Field::ObjectId, Field::EventType, Field::UserId],
    &[Field::EventDate, Field::Url],
];

fn dir(r: &mut Rng) -> Direction {
    if r.below(2) == 0 {
        Direction::Asc
    } else {
        Direction::Desc
    }
}

/// A count query from a seed: a heavy key, an order (count and keys, each
/// way), a top-N limit and offset, and sometimes a filter.
fn build_query(seed: u64) -> Query {
    let mut rng = Rng::new(seed);
    let keys = KEYS[rng.below(KEYS.len() as u64) as usize];
    let mut q = Query::count().last_days(RETENTION).group_by(keys);
    if rng.below(4) != 0 {
        q = q.order_by_count(dir(&mut rng));
    }
    for f in keys {
        if rng.below(2) == 0 {
            q = q.order_by(*f, dir(&mut rng));
        }
    }
    if rng.below(5) != 0 {
        q = q.limit([1, 2, 5, 10, 40][rng.below(5) as usize]);
    }
    if rng.below(3) == 0 {
        q = q.offset([1, 3, 8][rng.below(3) as usize]);
    }
    match rng.below(6) {
        0 => {
            q = q.filter(
                Field::CompanyName,
                Op::Eq,
                pick(COMPANIES, rng.below(9) as usize),
            )
        }
        1 => q = q.filter(Field::UserType, Op::Eq, "Employee"),
        2 => q = q.filter(Field::Url, Op::StartsWith, "/projects/3/"),
        _ => {}
    }
    q
}

fn check_all(
    engine: &Engine,
    oracle: &Oracle,
    qs: &[Query],
    state: &str,
) -> Result<(), TestCaseError> {
    check_queries(engine, oracle, NOW_MS, RETENTION, qs, state).map_err(TestCaseError::fail)
}

fn run_case(events: &[Event], qs: &[Query]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let mut engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    let mut next = events.chunks(events.len().div_ceil(3).max(1));
    let mut append = |engine: &Engine, oracle: &mut Oracle| {
        append_both(engine, oracle, next.next().unwrap_or(&[])).map_err(TestCaseError::fail)
    };
    append(&engine, &mut oracle)?;
    check_all(&engine, &oracle, qs, "buffered")?;
    engine.flush().unwrap();
    check_all(&engine, &oracle, qs, "sealed")?;
    append(&engine, &mut oracle)?;
    check_all(&engine, &oracle, qs, "mixed")?;
    engine.flush().unwrap();
    engine.compact().unwrap();
    check_all(&engine, &oracle, qs, "settled")?;
    append(&engine, &mut oracle)?;
    drop(engine);
    engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    check_all(&engine, &oracle, qs, "reopened")?;
    engine.flush().unwrap();
    check_all(&engine, &oracle, qs, "reopened and sealed")?;
    Ok(())
}

#[test]
fn heavy_group_bys_match_oracle_in_every_state() {
    let strategy = (
        any::<u64>(),
        100usize..1200,
        prop::collection::vec(any::<u64>(), 4..10),
    );
    let mut runner = TestRunner::new(config(cases(20)));
    let result = runner.run(&strategy, |(seed, n, qseeds)| {
        let events = build(seed, n);
        let qs: Vec<Query> = qseeds.iter().map(|s| build_query(*s)).collect();
        run_case(&events, &qs)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Every key shape, by count and by key each way, with limits that cut
/// runs of equal counts (ties broken by the keys) and an offset.
#[test]
fn every_heavy_shape_and_order_matches_oracle() {
    let events = build(11, 2500);
    // The data has what the shapes are about: an id in two companies,
    // and URLs counted more than once.
    let mut both: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.event_id.as_str(), e.company_name.as_str()))
        .collect();
    both.sort();
    both.dedup();
    assert!(both.windows(2).any(|w| w[0].0 == w[1].0));
    let mut qs = Vec::new();
    for keys in KEYS {
        for (by_count, d) in [
            (true, Direction::Desc),
            (true, Direction::Asc),
            (false, Direction::Desc),
        ] {
            for (limit, offset) in [(None, 0), (Some(1), 0), (Some(7), 2), (Some(0), 0)] {
                let mut q = Query::count().last_days(RETENTION).group_by(keys);
                if by_count {
                    q = q.order_by_count(d);
                }
                q = q.order_by(keys[keys.len() - 1], d);
                if keys.len() > 1 {
                    q = q.order_by(keys[0], Direction::Asc);
                }
                if let Some(l) = limit {
                    q = q.limit(l).offset(offset);
                }
                qs.push(q);
            }
        }
    }
    if let Err(e) = run_case(&events, &qs) {
        panic!("{e}");
    }
}

/// The error of `q` under a budget of `bytes`, or `None` if it answers.
fn under_budget(engine: &Engine, q: &Query, bytes: u64) -> Option<Error> {
    let opts = QueryOptions::new().with_max_memory_bytes(bytes);
    engine.snapshot().query_with(q, &opts).err()
}

/// `group_by event_id` over sealed days: the smallest budget that answers
/// is found; one byte less is refused by the merge's last charge (its
/// table, at least 40 bytes a group), with the exact error and message.
#[test]
fn a_heavy_group_by_past_its_budget_is_refused_by_the_merge() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let events: Vec<Event> = (0..3000)
        .map(|i| {
            let a = [(i % 32) as u8; 24];
            make_event(
                id_for(i, 0),
                day_ago((i % 3) as i64).start_ms() + i as i64,
                &a,
            )
        })
        .collect();
    engine.append(events).unwrap();
    engine.flush().unwrap();
    let q = Query::count()
        .last_days(RETENTION)
        .group_by(&[Field::EventId])
        .order_by_count(Direction::Desc)
        .order_by(Field::EventId, Direction::Asc)
        .limit(10);
    let full = engine.query(&q).unwrap();
    assert_eq!(full.matched_events, Some(3000));
    assert_eq!(full.rows.len(), 10);
    let (mut lo, mut hi) = (1u64, 1u64 << 30);
    assert!(under_budget(&engine, &q, hi).is_none());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if under_budget(&engine, &q, mid).is_none() {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let needed = lo;
    assert!(needed >= 3000 * 32, "{needed} bytes");
    let budgeted = engine
        .snapshot()
        .query_with(&q, &QueryOptions::new().with_max_memory_bytes(needed))
        .unwrap();
    assert_eq!(budgeted, full);
    let e = under_budget(&engine, &q, needed - 1).unwrap();
    let msg = e.to_string();
    match e {
        Error::ResourceExhausted {
            what,
            limit_bytes,
            shared,
        } => assert_eq!(
            (what.as_str(), limit_bytes, shared),
            ("merge of groups", needed - 1, false)
        ),
        other => panic!("expected ResourceExhausted, got {other:?}"),
    }
    assert_eq!(
        msg,
        format!(
            "the query needs more than its memory budget of {} bytes for its merge of groups: \
             narrow it (a shorter window, more filters, fewer or smaller group fields, a limit) \
             or raise the budget (QueryOptions::max_memory_bytes, daybook query \
             --max-memory-bytes, daybook serve --max-query-memory-bytes)",
            needed - 1
        )
    );
}
