//! Group-bys against the oracle on the shapes issue 15 made cheap: keys of
//! many values (users, emails, projects, URLs, object and event ids) merged
//! through month-wide ids and cached segment-to-global code maps, keys
//! interned from block-compressed columns, multi-field keys, every order
//! with limits and offsets, and columns constant in a partition or a
//! segment (answered from metadata).
//!
//! - `group_bys_match_oracle_in_every_state`: random data sets and
//!   queries, checked buffered, sealed, mixed, compacted, reopened, after a
//!   day was dropped and after more data was sealed: the cached maps live
//!   in the process, so each state's queries meet maps built for the
//!   segments of earlier states (and must never use a stale one).
//! - `constant_columns_read_no_rows`: `group_by [event_date,
//!   company_name]` and a filter on a column with one value in a segment
//!   visit no row (`explain`), with exact answers.
//! - `cached_maps_follow_compaction_and_new_names`: the same query before
//!   and after the segments it cached maps for are replaced.

mod common;
#[path = "common/query_gen.rs"]
mod query_gen;

use common::oracle::{Oracle, append_both, check_queries, comparable, state_options};
use common::{NOW_MS, clock};
use daybook::generate::SplitMix64 as Rng;
use daybook::query::{Direction, Op, Query};
use daybook::{Engine, Event, Field};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use query_gen::*;

/// Days the data falls on: recent ones, and two the retention drops once
/// the clock moves two days on.
const AGES: &[i64] = &[1, 2, 3, 29, 30];

/// A data set of many users (names and emails functions of the id, except
/// for a few renamed users when `renames`), URLs, objects and projects;
/// per day, `user_type` (and sometimes `tool_name`) may be one value.
fn build(seed: u64, n: usize, renames: bool) -> Vec<Event> {
    let mut rng = Rng::new(seed);
    let users = 20 + rng.below(300);
    let constant_type: Vec<bool> = AGES.iter().map(|_| rng.below(2) == 0).collect();
    let constant_tool: Vec<bool> = AGES.iter().map(|_| rng.below(3) == 0).collect();
    let mut out: Vec<Event> = Vec::with_capacity(n);
    for i in 0..n {
        let d = rng.below(AGES.len() as u64) as usize;
        let ts = day_ago(AGES[d]).start_ms() + rng.below(MS_PER_DAY as u64) as i64;
        let id = if i > 0 && rng.below(20) == 0 {
            out[rng.below(i as u64) as usize].event_id.clone()
        } else {
            id_for(i, (rng.below(4)) as u8)
        };
        let mut a = [0u8; 24];
        for x in a.iter_mut() {
            *x = rng.below(32) as u8;
        }
        let mut e = make_event(id, ts, &a);
        let u = rng.below(users);
        e.user_id = if u == 0 { MAX_ID } else { 1000 + u * 7 };
        e.user_name = if renames && u % 17 == 3 && rng.below(2) == 0 {
            format!("renamed {u}")
        } else {
            format!("{} {u}", pick(USER_NAMES, u as usize))
        };
        e.user_email = format!("u{u}@{}", ["x.example", "ü.example"][u as usize % 2]);
        e.company_name = pick(COMPANIES, u as usize / 9).into();
        e.url = (rng.below(5) != 0).then(|| format!("/p/{}/r/{}", rng.below(40), rng.below(60)));
        e.object_id = (rng.below(4) != 0).then(|| rng.below(400) * 104_729);
        e.project_name = (rng.below(6) != 0).then(|| format!("Project {}", rng.below(150)));
        if constant_type[d] {
            e.user_type = Some("Employee".into());
        }
        if constant_tool[d] {
            e.tool_name = "Drawings".into();
        }
        out.push(e);
    }
    out
}

const KEYS: &[&[Field]] = &[
    &[Field::UserId],
    &[Field::UserId, Field::UserName],
    &[Field::UserName],
    &[Field::UserEmail],
    &[Field::ProjectName],
    &[Field::Url],
    &[Field::ObjectId],
    &[Field::EventId],
    &[Field::Url, Field::ObjectId, Field::UserEmail],
    &[Field::EventDate, Field::CompanyName],
    &[Field::EventDate],
    &[Field::UserType],
    &[Field::ToolName, Field::EventDate],
    &[Field::CompanyName, Field::UserType, Field::UserId],
    &[Field::UserId, Field::Url],
    &[Field::EventId, Field::EventDate],
];

/// A count query from a seed: group keys, an order (count or a key, each
/// way), a limit and offset, and sometimes a filter.
fn build_query(seed: u64) -> Query {
    let mut rng = Rng::new(seed);
    let keys = KEYS[rng.below(KEYS.len() as u64) as usize];
    let mut q = Query::count().last_days(RETENTION).group_by(keys);
    let dir = |r: &mut Rng| {
        if r.below(2) == 0 {
            Direction::Asc
        } else {
            Direction::Desc
        }
    };
    match rng.below(4) {
        0 => {}
        1 => q = q.order_by_count(dir(&mut rng)),
        2 => {
            let f = keys[rng.below(keys.len() as u64) as usize];
            q = q.order_by(f, dir(&mut rng));
        }
        _ => {
            q = q.order_by_count(dir(&mut rng));
            let f = keys[rng.below(keys.len() as u64) as usize];
            q = q.order_by(f, dir(&mut rng));
        }
    }
    if rng.below(4) != 0 {
        q = q.limit([0, 1, 3, 10, 40][rng.below(5) as usize]);
    }
    if rng.below(3) == 0 {
        q = q.offset([0, 2, 7][rng.below(3) as usize]);
    }
    match rng.below(5) {
        0 => {
            q = q.filter(
                Field::CompanyName,
                Op::Eq,
                pick(COMPANIES, rng.below(9) as usize),
            )
        }
        1 => q = q.filter(Field::UserType, Op::Eq, "Employee"),
        2 => q = q.filter(Field::ToolName, Op::Ne, "Drawings"),
        _ => {}
    }
    q
}

fn check_all(
    engine: &Engine,
    oracle: &Oracle,
    now_ms: i64,
    qs: &[Query],
    state: &str,
) -> Result<(), TestCaseError> {
    check_queries(engine, oracle, now_ms, RETENTION, qs, state).map_err(TestCaseError::fail)
}

fn append(engine: &Engine, oracle: &mut Oracle, batch: &[Event]) -> Result<(), TestCaseError> {
    append_both(engine, oracle, batch).map_err(TestCaseError::fail)
}

fn run_case(events: &[Event], qs: &[Query]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let mut engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    let chunks: Vec<&[Event]> = events.chunks(events.len().div_ceil(4).max(1)).collect();
    let mut next = chunks.into_iter();

    append(&engine, &mut oracle, next.next().unwrap_or(&[]))?;
    check_all(&engine, &oracle, NOW_MS, qs, "buffered")?;
    engine.flush().unwrap();
    check_all(&engine, &oracle, NOW_MS, qs, "sealed")?;
    append(&engine, &mut oracle, next.next().unwrap_or(&[]))?;
    check_all(&engine, &oracle, NOW_MS, qs, "mixed")?;
    engine.flush().unwrap();
    check_all(&engine, &oracle, NOW_MS, qs, "two seals")?;
    engine.compact().unwrap();
    check_all(&engine, &oracle, NOW_MS, qs, "compacted")?;
    append(&engine, &mut oracle, next.next().unwrap_or(&[]))?;
    let appended = (events.len().div_ceil(4).max(1) * 3).min(events.len());
    drop(engine);
    engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    check_all(&engine, &oracle, NOW_MS, qs, "reopened")?;
    c.advance_ms(2 * MS_PER_DAY);
    let later = NOW_MS + 2 * MS_PER_DAY;
    let mut dropped = engine.enforce_retention().unwrap();
    dropped.sort();
    let mut old_days: Vec<_> = events
        .iter()
        .take(appended)
        .map(|e| daybook::Day::of_ms(e.event_timestamp_ms))
        .filter(|d| *d <= day_ago(29))
        .collect();
    old_days.sort();
    old_days.dedup();
    prop_assert_eq!(dropped, old_days);
    check_all(&engine, &oracle, later, qs, "day dropped")?;
    // Events of the dropped days are refused now: only the others.
    let last: Vec<Event> = next
        .next()
        .unwrap_or(&[])
        .iter()
        .filter(|e| e.event_timestamp_ms >= day_ago(28).start_ms())
        // (A re-sent id whose first copy was on a dropped day is a case of
        // retention, not of group-bys.)
        .filter(|e| !events[..appended].iter().any(|o| o.event_id == e.event_id))
        .cloned()
        .collect();
    append(&engine, &mut oracle, &last)?;
    engine.flush().unwrap();
    check_all(&engine, &oracle, later, qs, "sealed again")?;
    engine.compact().unwrap();
    check_all(&engine, &oracle, later, qs, "compacted again")?;
    Ok(())
}

#[test]
fn group_bys_match_oracle_in_every_state() {
    let strategy = (
        any::<u64>(),
        200usize..1500,
        any::<bool>(),
        prop::collection::vec(any::<u64>(), 4..12),
    );
    let mut runner = TestRunner::new(config(cases(24)));
    let result = runner.run(&strategy, |(seed, n, renames, qseeds)| {
        let events = build(seed, n, renames);
        let qs: Vec<Query> = qseeds.iter().map(|s| build_query(*s)).collect();
        run_case(&events, &qs)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Every key shape and order on one data set, including the limit that
/// cuts a run of equal counts (ties broken by the keys).
#[test]
fn every_shape_and_order_matches_oracle() {
    let events = build(7, 3000, true);
    let mut qs = Vec::new();
    for keys in KEYS {
        for (by_count, dir) in [
            (true, Direction::Desc),
            (true, Direction::Asc),
            (false, Direction::Desc),
            (false, Direction::Asc),
        ] {
            for (limit, offset) in [(None, 0), (Some(5), 0), (Some(4), 3), (Some(0), 0)] {
                let mut q = Query::count().last_days(RETENTION).group_by(keys);
                q = if by_count {
                    q.order_by_count(dir)
                } else {
                    q.order_by(keys[keys.len() - 1], dir)
                };
                if let Some(l) = limit {
                    q = q.limit(l).offset(offset);
                }
                qs.push(q);
            }
        }
    }
    let result = run_case(&events, &qs);
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn day_events(age: i64, n: usize, f: impl Fn(usize, &mut Event)) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let a = [(i % 32) as u8; 24];
            let mut e = make_event(
                format!("d{age}-{i}"),
                day_ago(age).start_ms() + (i as i64) * 1000,
                &a,
            );
            f(i, &mut e);
            e
        })
        .collect()
}

#[test]
fn constant_columns_read_no_rows() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    // Day 1: user_type "Employee" on every row; day 2: "Employee" or
    // missing (not a function of another column: a column of its own).
    let one = day_events(1, 3000, |i, e| {
        e.user_type = Some("Employee".into());
        e.company_name = pick(COMPANIES, i % 3).into();
    });
    let two = day_events(2, 3000, |i, e| {
        e.user_type = (i % 3 != 0).then(|| "Employee".into());
        e.company_name = pick(COMPANIES, i % 3).into();
    });
    oracle.append(&one);
    oracle.append(&two);
    engine.append(one).unwrap();
    engine.append(two).unwrap();
    engine.flush().unwrap();
    engine.compact().unwrap();

    let by_date_company = Query::count()
        .last_days(RETENTION)
        .group_by(&[Field::EventDate, Field::CompanyName]);
    let (got, ex) = engine.explain(&by_date_company).unwrap();
    let want = oracle
        .query(&by_date_company, NOW_MS, RETENTION, None)
        .unwrap();
    assert_eq!(comparable(got), want.result);
    assert_eq!(want.result.rows.len(), 6);
    assert_eq!(ex.sources.len(), 2);
    for s in &ex.sources {
        assert_eq!(s.rows_visited, 0, "{s:?}");
        assert!(
            s.steps
                .iter()
                .any(|st| st.what.contains("bitmap cardinalities")),
            "{s:?}"
        );
    }

    let employees = Query::count()
        .last_days(RETENTION)
        .filter(Field::UserType, Op::Eq, "Employee")
        .group_by(&[Field::UserType, Field::EventDate]);
    let (got, ex) = engine.explain(&employees).unwrap();
    let want = oracle.query(&employees, NOW_MS, RETENTION, None).unwrap();
    assert_eq!(comparable(got), want.result);
    // Day 1 (one value, none missing) reads no row; day 2 counts its rows.
    let visited: Vec<(String, u64)> = ex
        .sources
        .iter()
        .map(|s| (s.day.clone(), s.matched))
        .collect();
    assert_eq!(
        visited,
        vec![
            (day_ago(2).to_string(), 2000),
            (day_ago(1).to_string(), 3000)
        ]
    );
    assert_eq!(ex.sources[1].rows_visited, 0);
    assert_eq!(ex.sources[1].residual, Vec::<String>::new());

    let not_employees =
        Query::count()
            .last_days(RETENTION)
            .filter(Field::UserType, Op::Ne, "Employee");
    let (got, ex) = engine.explain(&not_employees).unwrap();
    let want = oracle
        .query(&not_employees, NOW_MS, RETENTION, None)
        .unwrap();
    assert_eq!(comparable(got), want.result);
    let day1 = ex
        .sources
        .iter()
        .find(|s| s.day == day_ago(1).to_string())
        .unwrap();
    assert_eq!((day1.rows_visited, day1.matched), (0, 0));
}

#[test]
fn cached_maps_follow_compaction_and_new_names() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    let q = Query::count()
        .last_days(RETENTION)
        .group_by(&[Field::UserId, Field::UserName])
        .order_by_count(Direction::Desc)
        .limit(3);
    let check = |engine: &Engine, oracle: &Oracle, rows: usize| {
        let got = engine.query(&q).unwrap();
        let want = oracle.query(&q, NOW_MS, RETENTION, None).unwrap();
        assert_eq!(comparable(got), want.result);
        assert_eq!(want.result.rows.len(), rows);
    };
    let first = day_events(1, 500, |i, e| {
        e.user_id = (i % 5) as u64;
        e.user_name = format!("user {}", i % 5);
    });
    oracle.append(&first);
    engine.append(first).unwrap();
    engine.flush().unwrap();
    check(&engine, &oracle, 3);
    // The same day again with users renamed: a new segment, then one
    // compacted segment replacing both (new codes for the same values).
    let second = day_events(1, 700, |i, e| {
        e.event_id = format!("again-{i}");
        e.user_id = (i % 7) as u64;
        e.user_name = format!("name {}", i % 2);
    });
    oracle.append(&second);
    engine.append(second).unwrap();
    engine.flush().unwrap();
    check(&engine, &oracle, 3);
    engine.compact().unwrap();
    check(&engine, &oracle, 3);
    let top = engine.query(&q).unwrap();
    assert_eq!(top.matched_events, Some(1200));
}
