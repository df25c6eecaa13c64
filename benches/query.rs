//! Query benchmarks over a generated month: one bench per kind of report
//! (docs/queries.md), each over all 31 days.
//!
//! The month is ingested once (31 days × `DAYBOOK_BENCH_EVENTS_PER_DAY`,
//! default 100,000, 20 companies, seed 7, now 2026-11-27T12:00:00Z), then
//! settled as `daybook import` leaves it (`Engine::settle`: one segment per
//! day, the state users query). `DAYBOOK_BENCH_DIR` keeps the
//! data in that directory and reuses it on the next run when it already
//! holds events (the ingest is skipped; its size is then whatever was
//! ingested first).
//!
//! The values filtered on (the most active company, its most active user,
//! that user's most frequent tool and event type) are picked at setup by
//! querying the engine itself. Before benchmarking, each query's result
//! size and an `explain` summary are printed, so a reader can check that
//! the plan does what the bench claims.
//!
//! `cargo bench --bench query`. Run as a test (`cargo test --benches`, no
//! `--bench` flag) it ingests 2,000 events a day unless the variable says
//! otherwise, and runs each query once.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use daybook::Field;
use daybook::generate::{GenConfig, Generator};
use daybook::{Direction, Engine, Explain, ManualClock, Op, Options, Query, Scalar};

const NOW_MS: i64 = 1_795_780_800_000; // 2026-11-27T12:00:00Z
const DAYS: u32 = 31;

/// A substring of some URLs but not most: the RFIs tool's URLs
/// (`https://app.example.com/projects/{id}/rfis/{object}`), about a tenth
/// of the events.
const URL_PART: &str = "/rfis/";

fn open(dir: &Path) -> Engine {
    let clock = ManualClock::new(NOW_MS);
    Engine::open(
        dir,
        Options {
            clock: Arc::new(clock),
            ..Options::default()
        },
    )
    .expect("open the engine")
}

fn total_events(engine: &Engine) -> u64 {
    engine
        .query(&Query::count())
        .expect("count everything")
        .matched_events
        .unwrap_or(0)
}

/// Ingests the month into `engine` in 10,000-event batches, then settles
/// it as an import does (one segment per day).
fn ingest(engine: &Engine, per_day: u64) {
    let started = Instant::now();
    let mut generator = Generator::new(GenConfig {
        days: DAYS,
        events_per_day: per_day,
        companies: 20,
        seed: 7,
        now_ms: NOW_MS,
        ..GenConfig::default()
    });
    let mut stored = 0;
    loop {
        let batch: Vec<_> = generator.by_ref().take(10_000).collect();
        if batch.is_empty() {
            break;
        }
        stored += engine.append(batch).expect("append").stored;
    }
    engine.settle().expect("settle");
    println!(
        "ingested {stored} events ({DAYS} days × {per_day}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn text(s: &Scalar) -> String {
    match s {
        Scalar::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first row of a count query.
fn top_row(engine: &Engine, q: &Query) -> Vec<Scalar> {
    let r = engine.query(q).expect("setup query");
    r.rows.into_iter().next().expect("setup query found a row")
}

fn summary(ex: &Explain) -> String {
    let visited: u64 = ex.sources.iter().map(|s| s.rows_visited).sum();
    let rows: u64 = ex.sources.iter().map(|s| s.rows).sum();
    format!(
        "total {:.0} µs, {} source(s) on {} thread(s), rows visited {visited} of {rows}, \
         partitions kept {} / pruned {}, segments pruned {}, merge {:.0} µs",
        ex.total_us,
        ex.sources.len(),
        ex.threads,
        ex.partitions_kept.len(),
        ex.partitions_pruned.len(),
        ex.segments_pruned,
        ex.merge_us,
    )
}

/// The benched queries, named.
fn queries(engine: &Engine) -> Vec<(&'static str, Query)> {
    let month = |q: Query| q.last_days(DAYS);
    // The most active company, its most active user, and that user's most
    // frequent (tool, event type).
    let company = text(
        &top_row(
            engine,
            &Query::count()
                .group_by(&[Field::CompanyName])
                .order_by_count(Direction::Desc)
                .limit(1),
        )[0],
    );
    let user = top_row(
        engine,
        &Query::count()
            .filter(Field::CompanyName, Op::Eq, company.as_str())
            .group_by(&[Field::UserId, Field::UserEmail])
            .order_by_count(Direction::Desc)
            .limit(1),
    );
    let Scalar::Int(user_id) = user[0] else {
        panic!("user_id is an integer: {:?}", user[0]);
    };
    let user_email = text(&user[1]);
    let pair = top_row(
        engine,
        &Query::count()
            .filter(Field::UserId, Op::Eq, user_id)
            .group_by(&[Field::ToolName, Field::EventType])
            .order_by_count(Direction::Desc)
            .limit(1),
    );
    let (tool, event_type) = (text(&pair[0]), text(&pair[1]));
    println!(
        "picked: company {company:?}; user {user_id} ({user_email}); \
         tool {tool:?}, event type {event_type:?}"
    );
    vec![
        (
            "a_selective_count_user_tool_type",
            month(Query::count())
                .filter(Field::UserId, Op::Eq, user_id)
                .filter(Field::ToolName, Op::Eq, tool.as_str())
                .filter(Field::EventType, Op::Eq, event_type.as_str()),
        ),
        (
            "b_company_by_user_email_event_type",
            month(Query::count())
                .filter(Field::CompanyName, Op::Eq, company.as_str())
                .group_by(&[Field::UserEmail, Field::EventType])
                .order_by_count(Direction::Desc),
        ),
        (
            "c_audit_listing_user_newest_100",
            month(Query::events())
                .filter(Field::UserEmail, Op::Eq, user_email.as_str())
                .limit(100),
        ),
        (
            "d_url_contains_and_company",
            month(Query::count())
                .filter(Field::CompanyName, Op::Eq, company.as_str())
                .filter(Field::Url, Op::Contains, URL_PART),
        ),
        (
            "d2_url_contains",
            month(Query::count()).filter(Field::Url, Op::Contains, URL_PART),
        ),
        (
            "e_unaligned_window_by_event_type",
            Query::count()
                .between("2026-11-03T07:13:00Z", "2026-11-19T16:41:00Z")
                .group_by(&[Field::EventType])
                .order_by_count(Direction::Desc),
        ),
        (
            "f_by_event_type",
            month(Query::count())
                .group_by(&[Field::EventType])
                .order_by_count(Direction::Desc),
        ),
        ("g_count_all", month(Query::count())),
    ]
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let per_day: u64 = std::env::var("DAYBOOK_BENCH_EVENTS_PER_DAY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if benching { 100_000 } else { 2_000 });
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = std::env::var_os("DAYBOOK_BENCH_DIR")
        .map_or_else(|| tmp.path().to_path_buf(), std::path::PathBuf::from);
    let engine = open(&dir);
    let held = total_events(&engine);
    if held == 0 {
        ingest(&engine, per_day);
    } else {
        println!("reusing {held} events in {}", dir.display());
    }
    let qs = queries(&engine);
    for (name, q) in &qs {
        // Once cold (pages mapped in), then explained warm.
        engine.query(q).expect("query");
        let (r, ex) = engine.explain(q).expect("explain");
        println!(
            "{name}: {} row(s), {:?} matched; {}",
            r.rows.len(),
            r.matched_events,
            summary(&ex)
        );
        println!("    {}", q.to_json());
        if std::env::var_os("DAYBOOK_BENCH_EXPLAIN").is_some() {
            println!("{ex}");
        }
    }

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("query");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat);
    for (name, q) in &qs {
        g.bench_function(*name, |b| {
            b.iter(|| black_box(engine.query(black_box(q)).expect("query")))
        });
    }
    g.finish();
    c.final_summary();
}
