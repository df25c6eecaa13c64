//! Counts answered by folding (src/query/segscan/fold.rs): when every
//! group field and every predicate is a function of one dictionary
//! column's codes in a segment (`user_email`, `user_role`,
//! `user_job_title`, ... stored as code maps of `user_id`), a segment's
//! window is counted once per `user_id` code and the predicates become a
//! set of accepted codes.
//!
//! - `folded_counts_match_oracle_in_every_state`: random data (user fields
//!   functions of the id, except a few renamed users, so that some
//!   segments map them and others do not) and random group-bys and
//!   predicates on user fields, mixed with ones that are not (which take
//!   the planner's path), over aligned and cut windows; buffered, sealed,
//!   compacted and reopened.
//! - `explain_shows_the_fold_and_its_codes`: the path is taken where it
//!   should be (and the property test above exercises it), and not where a
//!   predicate is on a column of its own, nor where one key's own bitmap
//!   cardinalities answer without reading rows.

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

/// Days the data falls on.
const AGES: &[i64] = &[1, 2, 3];

/// Segments of at least 1,024 rows store columns that are functions of
/// another as code maps: each day gets more rows than that.
fn build(seed: u64, per_day: usize, renames: bool) -> Vec<Event> {
    let mut rng = Rng::new(seed);
    let users = 30 + rng.below(400);
    let mut out = Vec::new();
    for (d, age) in AGES.iter().enumerate() {
        for i in 0..per_day {
            let ts = day_ago(*age).start_ms() + rng.below(MS_PER_DAY as u64) as i64;
            let mut a = [0u8; 24];
            for x in a.iter_mut() {
                *x = rng.below(32) as u8;
            }
            let mut e = make_event(id_for(d * per_day + i, 0), ts, &a);
            let u = rng.below(users) as usize;
            e.user_id = 5000 + u as u64 * 3;
            e.user_name = if renames && u % 13 == 5 && rng.below(2) == 0 {
                format!("renamed {u}")
            } else {
                format!("{} {u}", pick(USER_NAMES, u))
            };
            e.user_email = format!("u{u}@x.example");
            e.company_name = pick(COMPANIES, u / 7).into();
            e.user_job_title = opt_s(JOB_TITLES, u / 3);
            e.user_role = opt_s(ROLES, u / 5);
            e.user_type = opt_s(USER_TYPES, u / 11);
            out.push(e);
        }
    }
    out
}

const KEYS: &[&[Field]] = &[
    &[Field::UserEmail],
    &[Field::UserRole],
    &[Field::UserId, Field::UserName],
    &[Field::UserJobTitle, Field::UserRole],
    &[Field::CompanyName, Field::UserEmail],
    &[Field::EventDate, Field::UserRole],
    &[Field::UserName],
    &[Field::UserRole, Field::ToolName],
];

/// A count from a seed: keys, zero to two predicates (mostly on user
/// fields), an order, maybe a limit, and an aligned or cut window.
fn build_query(seed: u64) -> Query {
    let mut rng = Rng::new(seed);
    let keys = KEYS[rng.below(KEYS.len() as u64) as usize];
    let mut q = Query::count().group_by(keys);
    q = if rng.below(3) == 0 {
        // Cut through the middle of the oldest and the newest day.
        let from = day_ago(3).start_ms() + rng.below(MS_PER_DAY as u64) as i64;
        let to = day_ago(1).start_ms() + rng.below(MS_PER_DAY as u64) as i64;
        q.between(&fmt_ts(from), &fmt_ts(to))
    } else {
        q.last_days(RETENTION)
    };
    for _ in 0..rng.below(3) {
        q = match rng.below(9) {
            0 => q.filter(
                Field::CompanyName,
                Op::Eq,
                pick(COMPANIES, rng.below(8) as usize),
            ),
            1 => q.filter(Field::UserJobTitle, Op::Ne, "PM"),
            2 => q.filter(Field::UserJobTitle, Op::IsNull, ()),
            3 => q.filter(Field::UserRole, Op::NotNull, ()),
            4 => q.filter(Field::UserId, Op::Lt, 5000 + rng.below(1200)),
            5 => q.filter(Field::UserType, Op::NotIn, vec!["Employee".to_string()]),
            6 => q.filter(Field::UserName, Op::Ge, "M"),
            7 => q.filter(Field::ToolName, Op::Ne, "Drawings"),
            _ => q.filter(Field::UserEmail, Op::Gt, "u2"),
        };
    }
    q = q.order_by_count(Direction::Desc);
    q = q.order_by(keys[0], Direction::Asc);
    if rng.below(2) == 0 {
        q = q.limit([1, 5, 20][rng.below(3) as usize]);
    }
    q
}

fn fmt_ts(ms: i64) -> String {
    common::oracle::fmt_ts(ms, 0, false)
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
    let half = events.len() / 2;
    append_both(&engine, &mut oracle, &events[..half]).map_err(TestCaseError::fail)?;
    check_all(&engine, &oracle, qs, "buffered")?;
    engine.flush().unwrap();
    check_all(&engine, &oracle, qs, "sealed")?;
    append_both(&engine, &mut oracle, &events[half..]).map_err(TestCaseError::fail)?;
    engine.flush().unwrap();
    check_all(&engine, &oracle, qs, "two seals")?;
    engine.compact().unwrap();
    check_all(&engine, &oracle, qs, "compacted")?;
    drop(engine);
    engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    check_all(&engine, &oracle, qs, "reopened")?;
    Ok(())
}

#[test]
fn folded_counts_match_oracle_in_every_state() {
    let strategy = (
        any::<u64>(),
        1100usize..2600,
        any::<bool>(),
        prop::collection::vec(any::<u64>(), 6..14),
    );
    let mut runner = TestRunner::new(config(cases(12)));
    let result = runner.run(&strategy, |(seed, per_day, renames, qseeds)| {
        let events = build(seed, per_day, renames);
        let qs: Vec<Query> = qseeds.iter().map(|s| build_query(*s)).collect();
        run_case(&events, &qs)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Whether every source of the explained query folded (true), none did
/// (false); panics on a mix.
fn folded(engine: &Engine, oracle: &Oracle, q: &Query) -> bool {
    let (got, ex) = engine.explain(q).unwrap();
    let want = oracle.query(q, NOW_MS, RETENTION, None).unwrap();
    assert_eq!(comparable(got), want.result, "{}", q.to_json());
    assert!(!want.result.rows.is_empty(), "{}", q.to_json());
    let each: Vec<bool> = ex
        .sources
        .iter()
        .map(|s| s.steps.iter().any(|st| st.what.contains("then fold")))
        .collect();
    assert_eq!(each.len(), AGES.len(), "{}", q.to_json());
    assert!(
        each.iter().all(|f| *f == each[0]),
        "{each:?}: {}",
        q.to_json()
    );
    each[0]
}

#[test]
fn explain_shows_the_fold_and_its_codes() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    append_both(&engine, &mut oracle, &build(11, 3000, false)).unwrap();
    engine.flush().unwrap();

    let by_role = Query::count()
        .last_days(RETENTION)
        .filter(Field::UserJobTitle, Op::Ne, "PM")
        .group_by(&[Field::UserRole]);
    assert!(folded(&engine, &oracle, &by_role));
    let (_, ex) = engine.explain(&by_role).unwrap();
    for s in &ex.sources {
        // Every row of the day was counted; those of "PM"s were not kept.
        assert_eq!(s.rows_visited, s.rows, "{s:?}");
        assert!(s.matched < s.rows, "{s:?}");
        let step = s
            .steps
            .iter()
            .find(|st| st.what.contains("then fold"))
            .unwrap();
        assert!(
            step.what.starts_with("count by user_id codes, then fold: "),
            "{}",
            step.what
        );
    }
    let by_email = Query::count()
        .last_days(RETENTION)
        .group_by(&[Field::UserEmail])
        .order_by_count(Direction::Desc)
        .limit(3);
    assert!(folded(&engine, &oracle, &by_email));
    // Regression (harness q21, q23): one key with bitmaps of its own and
    // few codes (company_name keeps its bitmaps though it is a code map of
    // user_id here) is counted by bitmap cardinalities, reading no row,
    // not folded over user_id's codes.
    let by_company = Query::count()
        .last_days(RETENTION)
        .group_by(&[Field::CompanyName]);
    assert!(!folded(&engine, &oracle, &by_company));
    let (_, ex) = engine.explain(&by_company).unwrap();
    for s in &ex.sources {
        assert_eq!(s.rows_visited, 0, "{s:?}");
        assert!(
            s.steps
                .iter()
                .any(|st| st.what.contains("bitmap cardinalities")),
            "{s:?}"
        );
    }
    // A predicate on a column of its own (tool_name is no function of the
    // user) takes the planner's path.
    let by_tool = by_role.clone().filter(Field::ToolName, Op::Ne, "Drawings");
    assert!(!folded(&engine, &oracle, &by_tool));
    // A company nobody is in accepts no code: nothing is read.
    let nobody = by_role.filter(Field::CompanyName, Op::Eq, "No Such Company");
    let (got, ex) = engine.explain(&nobody).unwrap();
    assert_eq!(got.rows.len(), 0);
    assert!(ex.sources.iter().all(|s| s.rows_visited == 0), "{ex:?}");
}
