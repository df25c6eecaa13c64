//! Differential tests of the query engine against the naive full-scan
//! oracle in `tests/common/oracle.rs`.
//!
//! - `queries_match_oracle_in_every_state`: random small data sets (late,
//!   duplicate and partly-missing events over several days, non-ASCII
//!   strings, ids above 2^53) and random queries from the whole model,
//!   checked while the data is buffered, sealed, mixed, compacted, reopened
//!   and after the clock moved on; listings are paged through with cursors.
//! - `large_segments_match_oracle`: one larger data set (segments of more
//!   than one block, mapped dictionary columns, more distinct values than a
//!   predicate ORs bitmaps for) and many random queries over it.
//!
//! `PROPTEST_CASES=500 cargo test --release --test query` for a longer run
//! (the large test runs 4x that many queries).

mod common;
#[path = "common/query_gen.rs"]
mod query_gen;

use std::cell::Cell;

use common::oracle::{Answer, Oracle, append_both, comparable, fmt_ts, state_options};
use common::{NOW_MS, clock};
use daybook::generate::SplitMix64 as Rng;
use daybook::query::{Op, Query, Select};
use daybook::{Engine, Event, Field};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use query_gen::*;
use serde_json::json;

// ---------------------------------------------------------------------------
// Checking.

/// What the checks of one test saw, to make sure its random queries are
/// not trivial.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    errors: usize,
    ok: usize,
    nonempty: usize,
    filtered: usize,
    pages: usize,
}

thread_local! {
    static SEEN: Cell<Seen> = Cell::new(Seen::default());
}

fn bump(f: impl FnOnce(&mut Seen)) {
    SEEN.with(|s| {
        let mut v = s.get();
        f(&mut v);
        s.set(v);
    });
}

/// Fails unless at least `min_percent` of queries were answered with some
/// events (and some with filters), some rejected, and some paged. (Not
/// checked on short runs.)
fn assert_coverage(name: &str, min_percent: usize) {
    let s = SEEN.with(Cell::get);
    eprintln!("{name}: {s:?}");
    if s.ok + s.errors < 200 {
        return;
    }
    assert!(s.errors > 0, "{name}: no query was rejected: {s:?}");
    assert!(s.pages > 0, "{name}: no listing was paged: {s:?}");
    assert!(
        s.nonempty * 100 >= s.ok * min_percent,
        "{name}: too few queries matched anything: {s:?}"
    );
    assert!(s.filtered * 100 >= s.ok * min_percent / 3, "{name}: {s:?}");
}

/// Runs `q` on the engine and the oracle, and compares; for a listing
/// with a limit, also pages through it with cursors.
fn check(
    engine: &Engine,
    oracle: &Oracle,
    now_ms: i64,
    q: &Query,
    state: &str,
) -> Result<(), TestCaseError> {
    let want = oracle.query(q, now_ms, RETENTION, None);
    let got = engine.query(q);
    let json = q.to_json();
    let want = match (want, got) {
        (Err(part), Err(e)) => {
            bump(|s| s.errors += 1);
            let msg = e.to_string();
            prop_assert!(
                part.named_by(&msg),
                "[{}] error {:?} does not name {:?}; query {}",
                state,
                msg,
                part,
                json
            );
            return Ok(());
        }
        (Err(part), Ok(r)) => {
            return Err(TestCaseError::fail(format!(
                "[{state}] engine accepted a query the oracle rejects at {part}: {json}\n-> {r:?}"
            )));
        }
        (Ok(_), Err(e)) => {
            return Err(TestCaseError::fail(format!(
                "[{state}] engine failed: {e}; query {json}"
            )));
        }
        (Ok(want), Ok(got)) => {
            bump(|s| s.ok += 1);
            if want.result.matched_events.is_none_or(|n| n > 0) {
                bump(|s| s.nonempty += 1);
                if !q.filters.is_empty() {
                    bump(|s| s.filtered += 1);
                }
            }
            prop_assert_eq!(&comparable(got), &want.result, "[{}] query {}", state, json);
            want
        }
    };
    let (explained, _) = engine
        .explain(q)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        &comparable(explained),
        &want.result,
        "[{}] explain of {}",
        state,
        json
    );
    if q.select == Select::Events && q.limit.is_some() {
        page_through(engine, oracle, now_ms, q, &want, state)?;
    }
    Ok(())
}

/// Follows `next_cursor` from the first page; each page must be the
/// oracle's, and all pages together the whole listing from the offset.
fn page_through(
    engine: &Engine,
    oracle: &Oracle,
    now_ms: i64,
    q: &Query,
    first: &Answer,
    state: &str,
) -> Result<(), TestCaseError> {
    let mut seen = first.result.rows.clone();
    let mut cursor = engine
        .query(q)
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .next_cursor;
    let mut last_key = first.last_key.clone();
    let mut pages = 1;
    while let Some(c) = cursor {
        if pages >= 40 {
            return Ok(());
        }
        let mut next = q.clone();
        next.cursor = Some(c);
        next.offset = None;
        let want = oracle
            .query(&next, now_ms, RETENTION, last_key.as_deref())
            .map_err(|e| TestCaseError::fail(format!("oracle: {e}")))?;
        let got = engine
            .query(&next)
            .map_err(|e| TestCaseError::fail(format!("[{state}] page {pages}: {e}")))?;
        cursor = got.next_cursor.clone();
        prop_assert_eq!(
            &comparable(got),
            &want.result,
            "[{}] page {} of {}",
            state,
            pages,
            next.to_json()
        );
        bump(|s| s.pages += 1);
        seen.extend(want.result.rows.iter().cloned());
        last_key = want.last_key;
        pages += 1;
    }
    let offset = q.offset.unwrap_or(0) as usize;
    let whole: Vec<_> = first.all_rows.iter().skip(offset).cloned().collect();
    prop_assert_eq!(seen, whole, "[{}] pages of {}", state, q.to_json());
    Ok(())
}

fn check_all(
    engine: &Engine,
    oracle: &Oracle,
    now_ms: i64,
    queries: &[Query],
    state: &str,
) -> Result<(), TestCaseError> {
    // A few fixed queries every state runs, then the random ones.
    let fixed = [
        Query::count(),
        Query::count().group_by(&[Field::EventDate]),
        Query::events().limit(7),
    ];
    // (Only the random queries count for coverage.)
    let before = SEEN.with(Cell::get);
    for q in &fixed {
        check(engine, oracle, now_ms, q, state)?;
    }
    SEEN.with(|s| s.set(before));
    for q in queries {
        check(engine, oracle, now_ms, q, state)?;
    }
    Ok(())
}

fn append(engine: &Engine, oracle: &mut Oracle, batch: &[Event]) -> Result<(), TestCaseError> {
    append_both(engine, oracle, batch).map_err(TestCaseError::fail)
}

fn run_case(
    batches: &[Vec<Event>],
    queries: &[Query],
    advance_hours: i64,
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let mut engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    let n = batches.len();
    let (g1, rest) = batches.split_at(n.div_ceil(3));
    let (g2, g3) = rest.split_at(rest.len().div_ceil(2));

    for b in g1 {
        append(&engine, &mut oracle, b)?;
    }
    check_all(&engine, &oracle, NOW_MS, queries, "buffered")?;

    engine.flush().unwrap();
    check_all(&engine, &oracle, NOW_MS, queries, "sealed")?;

    for b in g2 {
        append(&engine, &mut oracle, b)?;
    }
    check_all(&engine, &oracle, NOW_MS, queries, "mixed")?;

    engine.flush().unwrap();
    engine.compact().unwrap();
    check_all(&engine, &oracle, NOW_MS, queries, "compacted")?;

    for b in g3 {
        append(&engine, &mut oracle, b)?;
    }
    drop(engine);
    engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    check_all(&engine, &oracle, NOW_MS, queries, "reopened")?;

    c.advance_ms(advance_hours * 3_600_000);
    let later = NOW_MS + advance_hours * 3_600_000;
    check_all(&engine, &oracle, later, queries, "clock advanced")?;
    Ok(())
}

#[test]
fn queries_match_oracle_in_every_state() {
    let strategy = (
        prop::collection::vec(prop::collection::vec(ev_spec(), 0..30), 1..6),
        prop::bool::weighted(0.25),
        prop::collection::vec(q_seed(), 1..7),
        1i64..80,
    );
    let mut runner = TestRunner::new(config(cases(256)));
    let result = runner.run(&strategy, |(specs, uuid_only, qseeds, advance)| {
        let batches = build_batches(&specs, uuid_only);
        let queries: Vec<Query> = qseeds.iter().map(build_query).collect();
        run_case(&batches, &queries, advance)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert_coverage("queries_match_oracle_in_every_state", 40);
}

// ---------------------------------------------------------------------------
// One larger data set: segments over several blocks, mapped dictionary
// columns (user attributes of `user_id`, `event_type`/`tool_name` of
// `event_name`, ...), 60 users (more than a predicate ORs bitmaps for).

const BIG_USERS: u64 = 60;

/// An event whose user attributes are functions of its user (when
/// `functional`), and type and tool functions of its name.
fn big_event(rng: &mut Rng, id: String, ts: i64, functional: bool) -> Event {
    let mut a = [0u8; 24];
    for x in a.iter_mut() {
        *x = rng.below(32) as u8;
    }
    let mut e = make_event(id, ts, &a);
    let u = rng.below(BIG_USERS);
    e.user_id = match u {
        0 => MAX_ID,
        1 => (1 << 53) + 1,
        2 => 1 << 53,
        _ => 1000 + u * 7,
    };
    if functional {
        let k = u as usize;
        e.user_email = format!("user{u}@{}", ["x.example", "y.example", "ü.example"][k % 3]);
        e.user_name = format!("{} {u}", pick(USER_NAMES, k));
        e.user_login_email = (!k.is_multiple_of(4)).then(|| format!("u{u}@sso.example"));
        e.user_job_title = opt_s(JOB_TITLES, k);
        e.user_role = opt_s(ROLES, k / 3);
        e.user_type = opt_s(USER_TYPES, k / 2);
        e.user_default_permission_template = opt_s(TEMPLATES, k / 5);
        e.user_is_active = pick(OPT_BOOLS, k);
        e.user_is_authorized_bidder = pick(OPT_BOOLS, k / 4);
        e.user_last_login_date = pick(LOGIN_DAYS_AGO, k).map(day_ago);
        e.company_name = pick(COMPANIES, k / 7).into();
        let name = a[1] as usize;
        e.event_type = pick(TYPES, name);
        e.tool_name = pick(TOOLS, name).into();
        e.is_api = e.device_type == "API";
        e.project_is_demo = e.project_name.as_ref().map(|p| p.len() % 2 == 0);
    }
    if rng.below(3) == 0 {
        e.object_id = Some(rng.below(5000) * 104_729);
    }
    e
}

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
    oracle: Oracle,
}

fn big_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    let mut rng = Rng::new(7);
    let mut n = 0usize;
    let mut batch = |rng: &mut Rng, days_ago: i64, count: usize, functional: bool| {
        let mut evs = Vec::with_capacity(count);
        for _ in 0..count {
            let ms = match rng.below(10) {
                0 => pick(MS_POINTS, rng.below(8) as usize),
                _ => rng.below(MS_PER_DAY as u64) as i64,
            };
            let id = if n > 0 && rng.below(40) == 0 {
                id_for(rng.below(n as u64) as usize, 0)
            } else {
                n += 1;
                id_for(n - 1, 0)
            };
            evs.push(big_event(
                rng,
                id,
                day_ago(days_ago).start_ms() + ms,
                functional,
            ));
        }
        evs
    };
    let mut add = |b: Vec<Event>| {
        let want = oracle.append(&b);
        let r = engine.append(b).unwrap();
        assert_eq!((r.stored, r.duplicates), want);
        assert!(r.rejected.is_empty());
    };
    // Day 3: one segment of 2,600 rows (three blocks), mapped columns.
    add(batch(&mut rng, 3, 2600, true));
    engine.flush().unwrap();
    // Day 2: two segments, compacted into one of 3,000 rows.
    add(batch(&mut rng, 2, 1500, true));
    engine.flush().unwrap();
    add(batch(&mut rng, 2, 1500, true));
    engine.flush().unwrap();
    engine.compact().unwrap();
    // Older days, sealed.
    add(batch(&mut rng, 30, 300, true));
    add(batch(&mut rng, 29, 200, false));
    add(batch(&mut rng, 6, 200, true));
    // Day 1: attributes not functional (per-row codes), sealed, plus
    // late events for days 1-3 buffered.
    add(batch(&mut rng, 1, 1200, false));
    engine.flush().unwrap();
    add(batch(&mut rng, 1, 150, false));
    add(batch(&mut rng, 2, 100, true));
    add(batch(&mut rng, 3, 100, false));
    // Today: buffered only.
    add(batch(&mut rng, 0, 300, true));
    // The fixture exercises what it is for: segments of several blocks,
    // mapped columns, and buffered events next to segments.
    let snap = engine.snapshot();
    let (mut multi_block, mut mapped, mut mixed) = (0, 0, 0);
    for (_, d) in snap.partitions() {
        for seg in d.segments() {
            multi_block += usize::from(seg.rows() > 1024);
            mapped += usize::from(seg.dict(Field::UserEmail).unwrap().parent().is_some());
        }
        mixed += usize::from((d.segment_count() > 0) && (d.buffer_chunks() > 0));
    }
    assert!(
        multi_block >= 2 && mapped >= 2 && mixed >= 2,
        "{multi_block} {mapped} {mixed}"
    );
    Fixture {
        _dir: dir,
        engine,
        oracle,
    }
}

#[test]
fn large_segments_match_oracle() {
    let fx = big_fixture();
    // Operands of the big data set's own values, besides the vocabularies.
    let users: Vec<u64> = fx.oracle.events().iter().map(|e| e.user_id).collect();
    let emails: Vec<String> = fx
        .oracle
        .events()
        .iter()
        .map(|e| e.user_email.clone())
        .collect();
    let strategy = (
        q_seed(),
        prop::collection::vec((any::<prop::sample::Index>(), 0usize..4), 0..3),
    );
    let mut runner = TestRunner::new(config(cases(256) * 4));
    let result = runner.run(&strategy, |(seed, extra)| {
        let mut q = build_query(&seed);
        for (ix, kind) in extra {
            let (field, op, value) = match kind {
                0 => ("user_id", Op::Eq, json!(users[ix.index(users.len())])),
                1 => (
                    "user_id",
                    Op::NotIn,
                    json!([users[ix.index(users.len())], users[0]]),
                ),
                2 => ("user_email", Op::Eq, json!(emails[ix.index(emails.len())])),
                _ => ("user_email", Op::Gt, json!(emails[ix.index(emails.len())])),
            };
            q = q.filter_named(field, op, value);
        }
        check(&fx.engine, &fx.oracle, NOW_MS, &q, "large")
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert_coverage("large_segments_match_oracle", 40);
}

#[test]
fn fmt_ts_round_trips() {
    for ms in [
        0,
        NOW_MS,
        day_ago(30).start_ms() - 1,
        day_ago(-1).start_ms(),
        951_868_800_000, // 2000-03-01
        951_782_400_000, // 2000-02-29
    ] {
        for off in OFFSETS {
            let s = fmt_ts(ms, *off, true);
            assert_eq!(daybook::time::parse_rfc3339_ms(&s), Ok(ms), "{s}");
        }
    }
    assert_eq!(fmt_ts(NOW_MS, 0, false), "2026-11-27T12:00:00.000Z");
    assert_eq!(fmt_ts(NOW_MS, -330, false), "2026-11-27T06:30:00.000-05:30");
}

/// The oracle's own parsers (it shares no time or field parsing with the
/// library) agree with the contract on the cases that matter.
#[test]
fn the_oracles_parsers_follow_the_contract() {
    use common::oracle::{field_named_for_test as field, parse_ts_for_test as ts};
    for f in daybook::Field::ALL {
        assert_eq!(field(f.name()), Some(f), "{}", f.name());
    }
    assert_eq!(field("colour"), None);
    assert_eq!(ts("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(ts("2026-11-27T12:00:00Z"), Some(1_795_780_800_000));
    assert_eq!(ts("2026-11-27T13:00:00.5+01:00"), Some(1_795_780_800_500));
    assert_eq!(
        ts("2026-11-27T06:59:59.9999-05:00"),
        Some(1_795_780_799_999)
    );
    assert_eq!(ts("2024-02-29T00:00:00z"), Some(1_709_164_800_000));
    for bad in [
        "2025-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-11-27T24:00:00Z",
        "2026-11-27T12:00:00",
        "2026-11-27T12:00:00.Z",
        "2026-11-27 12:00:00Z",
        "1969-12-31T23:59:59.999Z",
        "yesterday",
    ] {
        assert_eq!(ts(bad), None, "{bad}");
    }
}
