//! The token index of `url` (docs/format.md, "Token index"):
//!
//! - `contains_and_starts_with_match_the_oracle_in_every_state`: random
//!   url sets (frequent and rare runs, digit runs, non-ASCII text, nulls,
//!   segments that list every text unit and segments that list only the
//!   frequent ones) and random patterns (with and without separators,
//!   empty, longer than any unit, unicode, matching nothing), alone and
//!   with other predicates, as counts, group-bys and listings, checked
//!   against the oracle while buffered, sealed, compacted and reopened.
//! - Exact answers come from the index alone; a flipped byte in either
//!   section is a checksum error naming the file, offset and section; a
//!   wrong posting under forged checksums fails `verify`, naming the byte.

mod common;
#[path = "common/query_gen.rs"]
mod query_gen;

use std::cell::Cell;
use std::path::Path;

use common::oracle::{Oracle, comparable, state_options};
use common::{NOW_MS, clock};
use daybook::query::{Direction, Op, Query};
use daybook::segment::format::{FOOTER_LEN, SECTION_ENTRY_LEN, section_crc};
use daybook::segment::{SectionKind, SegmentReader, SegmentWriter};
use daybook::{Day, Engine, Error, Event, Field};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use query_gen::*;

/// Runs of url text: frequent ones, digits, non-ASCII.
const RUNS: &[&str] = &[
    "https", "app", "example", "com", "projects", "rfis", "RFIs", "rfi", "1", "12", "123", "é",
    "建設", "ab1", "x",
];
/// Separators between runs.
const SEPS: &[&str] = &["/", "/", ".", "://", "?", "=", "-", "//"];
/// Patterns tried besides pieces of the data's urls.
const PATTERNS: &[&str] = &[
    "",
    "/",
    "/rfis/",
    "rfis",
    "rfis/",
    "/rfis",
    "//rfis",
    "RFIs",
    "fi",
    "é",
    "/é",
    "建",
    "https://",
    "https",
    "http",
    "/1/",
    "1",
    "12/",
    "/123",
    "t7",
    "/t7/",
    "9999/",
    "nothing-like-it",
    "/app.example.com/projects/rfis/123/rfis/é/建設/ab1/x/longer-than-any",
];

#[derive(Clone, Debug)]
struct Spec {
    day: usize,
    ms: i64,
    attrs: [u8; 24],
    /// `None`: a null url; else the runs and separators to build it from.
    url: Option<Vec<(u8, u8)>>,
    lead_sep: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0usize..3,
        0i64..MS_PER_DAY,
        prop::array::uniform24(0u8..32),
        prop::option::weighted(0.9, prop::collection::vec((0u8..40, 0u8..8), 1..7)),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(day, ms, attrs, url, lead_sep)| Spec {
            day,
            ms,
            attrs,
            url,
            lead_sep,
        })
}

/// The url of event `n`: runs from `RUNS`, a rare digit run (`n`) or a rare
/// text run (`t<n>`; with `rare_text`, enough of them that a segment lists
/// none), joined by separators.
fn url(s: &Spec, n: usize, rare_text: bool) -> Option<String> {
    let parts = s.url.as_ref()?;
    let mut out = String::new();
    for (i, &(r, sep)) in parts.iter().enumerate() {
        if i > 0 || s.lead_sep {
            out.push_str(SEPS[sep as usize % SEPS.len()]);
        }
        match r as usize {
            k if k < RUNS.len() * 2 => out.push_str(RUNS[k % RUNS.len()]),
            k if k < 36 => out.push_str(&n.to_string()),
            _ if rare_text => out.push_str(&format!("t{n}")),
            _ => out.push_str(&format!("t{}", n % 9)),
        }
    }
    Some(out)
}

fn events(specs: &[Spec], rare_text: bool) -> Vec<Event> {
    const DAYS: [i64; 3] = [0, 1, 3];
    specs
        .iter()
        .enumerate()
        .map(|(n, s)| {
            let ts = day_ago(DAYS[s.day]).start_ms() + s.ms;
            let ts = if DAYS[s.day] == 0 { ts.min(NOW_MS) } else { ts };
            let mut e = make_event(id_for(n, (n % 3) as u8), ts, &s.attrs);
            e.url = url(s, n, rare_text);
            e
        })
        .collect()
}

/// A pattern: one of `PATTERNS`, or a piece of a url in the data.
fn pattern(evs: &[Event], pick_n: usize, a: usize, b: usize) -> String {
    if !pick_n.is_multiple_of(3) {
        return PATTERNS[pick_n % PATTERNS.len()].to_string();
    }
    let Some(u) = evs
        .get(pick_n % evs.len().max(1))
        .and_then(|e| e.url.as_deref())
    else {
        return "/rfis/".into();
    };
    let cuts: Vec<usize> = (0..=u.len()).filter(|&i| u.is_char_boundary(i)).collect();
    let (x, y) = (cuts[a % cuts.len()], cuts[b % cuts.len()]);
    u[x.min(y)..x.max(y)].to_string()
}

#[derive(Clone, Debug)]
struct QSeed {
    starts: bool,
    pick: usize,
    a: usize,
    b: usize,
    other: u8,
    shape: u8,
}

fn q_seed() -> impl Strategy<Value = QSeed> {
    (
        prop::bool::weighted(0.3),
        0usize..1000,
        0usize..200,
        0usize..200,
        0u8..5,
        0u8..5,
    )
        .prop_map(|(starts, pick, a, b, other, shape)| QSeed {
            starts,
            pick,
            a,
            b,
            other,
            shape,
        })
}

fn build_query(evs: &[Event], s: &QSeed) -> Query {
    let op = if s.starts {
        Op::StartsWith
    } else {
        Op::Contains
    };
    let p = pattern(evs, s.pick, s.a, s.b);
    let mut q = match s.shape {
        0 | 1 => Query::count(),
        2 => Query::count().group_by(&[Field::ToolName, Field::EventDate]),
        3 => Query::count()
            .group_by(&[Field::Url])
            .order_by_count(Direction::Desc)
            .limit(4),
        _ => Query::events()
            .fields(&[Field::EventId, Field::Url, Field::CompanyName])
            .limit(6),
    };
    q = q.last_days(7).filter(Field::Url, op, p.as_str());
    match s.other {
        0 => q.filter(
            Field::CompanyName,
            Op::Eq,
            COMPANIES[s.pick % COMPANIES.len()],
        ),
        1 => q.filter(Field::EventType, Op::Ne, "View"),
        2 => q.filter(Field::Url, Op::Contains, "/"),
        _ => q,
    }
}

thread_local! {
    /// Queries answered with at least one row, all queries, and queries a
    /// token index answered (exactly) in some segment.
    static SEEN: Cell<(usize, usize, usize, usize)> = const { Cell::new((0, 0, 0, 0)) };
}

fn check_all(
    engine: &Engine,
    oracle: &Oracle,
    queries: &[Query],
    state: &str,
) -> Result<(), TestCaseError> {
    for q in queries {
        let want = oracle
            .query(q, NOW_MS, RETENTION, None)
            .map_err(|e| TestCaseError::fail(format!("oracle: {e:?}")))?;
        let got = engine
            .query(q)
            .map_err(|e| TestCaseError::fail(format!("[{state}] {e}; {}", q.to_json())))?;
        prop_assert_eq!(
            &comparable(got),
            &want.result,
            "[{}] {}",
            state,
            q.to_json()
        );
        let (explained, ex) = engine
            .explain(q)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let used = |tag: &str| {
            ex.sources
                .iter()
                .flat_map(|s| &s.steps)
                .any(|s| s.what.contains(tag))
        };
        let (indexed, exact) = (used(": token index"), used(" exact"));
        SEEN.with(|s| {
            let (hit, all, i, x) = s.get();
            let hit = hit + usize::from(!want.result.rows.is_empty());
            s.set((
                hit,
                all + 1,
                i + usize::from(indexed),
                x + usize::from(exact),
            ));
        });
        prop_assert_eq!(
            &comparable(explained),
            &want.result,
            "[{}] explain {}",
            state,
            q.to_json()
        );
    }
    Ok(())
}

fn run_case(evs: &[Event], queries: &[Query]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let mut engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    let (g1, rest) = evs.split_at(evs.len() / 2);
    let (g2, g3) = rest.split_at(rest.len() / 2);
    let append = |engine: &Engine, oracle: &mut Oracle, batch: &[Event]| {
        oracle.append(batch);
        engine.append(batch.to_vec()).unwrap();
    };
    append(&engine, &mut oracle, g1);
    check_all(&engine, &oracle, queries, "buffered")?;
    engine.flush().unwrap();
    check_all(&engine, &oracle, queries, "sealed")?;
    append(&engine, &mut oracle, g2);
    engine.flush().unwrap();
    engine.compact().unwrap();
    check_all(&engine, &oracle, queries, "compacted")?;
    append(&engine, &mut oracle, g3);
    engine.flush().unwrap();
    drop(engine);
    engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    check_all(&engine, &oracle, queries, "reopened")?;
    Ok(())
}

#[test]
fn contains_and_starts_with_match_the_oracle_in_every_state() {
    let strategy = (
        prop::collection::vec(spec(), 1..400),
        prop::bool::weighted(0.3),
        prop::collection::vec(q_seed(), 1..10),
    );
    let mut runner = TestRunner::new(config(cases(24)));
    let result = runner.run(&strategy, |(specs, rare_text, seeds)| {
        let evs = events(&specs, rare_text);
        let queries: Vec<Query> = seeds.iter().map(|s| build_query(&evs, s)).collect();
        run_case(&evs, &queries)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (hit, all, indexed, exact) = SEEN.with(Cell::get);
    eprintln!("{hit} of {all} queries matched rows; token index: {indexed}, exact: {exact}");
    assert!(
        hit * 4 >= all,
        "too few queries matched anything: {hit} of {all}"
    );
    assert!(
        indexed * 4 >= all && exact * 10 >= all,
        "{indexed}, {exact} of {all}"
    );
}

// ---------------------------------------------------------------------------
// One day of `common::event` urls ("https://app.example.com/projects/<n % 3>
// /rfis/<n * 7919>", null when n % 13 == 0).

const ROWS: u64 = 300;

fn day_events() -> Vec<Event> {
    (0..ROWS)
        .map(|n| common::event(&format!("e{n}"), common::day_ms(1, n as i64 * 100), n))
        .collect()
}

/// Events of `day_events` whose url contains `p`.
fn expected(p: &str) -> u64 {
    day_events()
        .iter()
        .filter(|e| e.url.as_deref().is_some_and(|u| u.contains(p)))
        .count() as u64
}

fn count_of(r: &daybook::QueryResult) -> u64 {
    match r.rows.first().and_then(|row| row.last()) {
        Some(daybook::Scalar::Int(n)) => *n,
        _ => 0,
    }
}

/// A store holding `day_events` in one sealed segment; its path.
fn sealed(dir: &Path) -> (Engine, std::path::PathBuf) {
    let c = clock();
    let engine = Engine::open(dir, state_options(&c)).unwrap();
    engine.append(day_events()).unwrap();
    engine.flush().unwrap();
    let paths = common::segments(&engine);
    assert_eq!(paths.len(), 1);
    (engine, paths[0].clone())
}

#[test]
fn a_pattern_of_one_unit_is_answered_by_the_index_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = sealed(dir.path());
    // (pattern, what the index says, rows visited)
    for (p, what, visited) in [
        ("/1/", "token index, 1 of 1 part(s), exact", 0),
        // `rfis` and `projects` are on 12 of 13 rows: dense units (version
        // 3), listed without rows, so their parts are checked on rows.
        ("/rfis/", "token index, 0 of 1 part(s)", 0),
        ("projects/1/", "token index, 1 of 2 part(s)", 92),
        ("/7919", "token index, 0 of 1 part(s)", 0),
        ("/nothing/", "token index, 1 of 1 part(s), exact", 0),
    ] {
        let q = Query::count()
            .last_days(7)
            .filter(Field::Url, Op::Contains, p);
        let (r, ex) = engine.explain(&q).unwrap();
        assert_eq!(count_of(&r), expected(p), "{p}");
        let src = &ex.sources[0];
        let steps: Vec<&str> = src.steps.iter().map(|s| s.what.as_str()).collect();
        let want = format!("url contains \"{p}\": {what}");
        if what.contains("0 of") {
            // Nothing bounded (a digit run the index does not list): rows.
            assert!(!steps.iter().any(|s| s.contains("token")), "{steps:?}");
            assert_eq!(src.rows_visited, ROWS, "{p}");
        } else {
            assert!(steps.contains(&want.as_str()), "{p}: {steps:?}");
            assert_eq!(src.rows_visited, visited, "{p}");
        }
        // An exact answer leaves no check on the rows; otherwise the
        // predicate is checked on each candidate (or each row).
        let want_residual = if what.ends_with("exact") {
            Vec::new()
        } else {
            vec![format!("url contains \"{p}\"")]
        };
        assert_eq!(src.residual, want_residual, "{p}");
    }
}

/// Recomputes every section checksum, the table's and the footer's, as a
/// buggy or hostile writer would.
fn forge_checksums(bytes: &mut [u8]) {
    let f = bytes.len() - FOOTER_LEN;
    let seg_id = u64::from_le_bytes(bytes[f + 24..f + 32].try_into().unwrap());
    let day = Day(i32::from_le_bytes(
        bytes[f + 32..f + 36].try_into().unwrap(),
    ));
    let count = u32::from_le_bytes(bytes[f + 12..f + 16].try_into().unwrap()) as usize;
    let table = u64::from_le_bytes(bytes[f + 16..f + 24].try_into().unwrap()) as usize;
    for i in 0..count {
        let e = table + i * SECTION_ENTRY_LEN;
        let kind = SectionKind::from_u16(u16::from_le_bytes([bytes[e], bytes[e + 1]])).unwrap();
        let field = u16::from_le_bytes([bytes[e + 2], bytes[e + 3]]);
        let off = u64::from_le_bytes(bytes[e + 8..e + 16].try_into().unwrap()) as usize;
        let len = u64::from_le_bytes(bytes[e + 16..e + 24].try_into().unwrap()) as usize;
        let crc = section_crc(seg_id, day, kind, field, &bytes[off..off + len]);
        bytes[e + 24..e + 28].copy_from_slice(&crc.to_le_bytes());
    }
    let crc = crc32fast::hash(&bytes[table..f]);
    bytes[f + 40..f + 44].copy_from_slice(&crc.to_le_bytes());
    let crc = crc32fast::hash(&bytes[f..f + 60]);
    bytes[f + 60..f + 64].copy_from_slice(&crc.to_le_bytes());
}

fn segment_bytes() -> Vec<u8> {
    let mut w = SegmentWriter::new(Day::of_ms(common::day_ms(1, 0)));
    for e in day_events() {
        w.push(&e).unwrap();
    }
    w.encode(1, Vec::new()).unwrap()
}

fn corrupted(e: Error) -> (u64, String, String) {
    match e {
        Error::Corrupted {
            path,
            offset,
            section,
            reason,
        } => {
            assert_eq!(path, Path::new("t.seg"));
            (offset, section, reason)
        }
        other => panic!("not a corruption error: {other}"),
    }
}

#[test]
fn a_flipped_byte_in_the_token_index_is_a_checksum_error() {
    let good = segment_bytes();
    let day = Day::of_ms(common::day_ms(1, 0));
    for (kind, name) in [
        (SectionKind::TokenDict, "token dictionary"),
        (SectionKind::TokenPostings, "token postings"),
    ] {
        let seg = SegmentReader::from_bytes(Path::new("t.seg"), good.clone()).unwrap();
        let (off, len) = seg.section_range(kind, Field::Url as u16).unwrap();
        let mut bad = good.clone();
        bad[(off + len / 2) as usize] ^= 0x10;
        let seg = SegmentReader::from_bytes(Path::new("t.seg"), bad).unwrap();
        let want = (
            off,
            format!("{name} of url (day {day}, segment 1)"),
            "checksum mismatch".to_string(),
        );
        let err = seg.token_index(Field::Url).err().unwrap();
        assert_eq!(corrupted(err), want);
        assert_eq!(corrupted(seg.verify().unwrap_err()), want);
    }
}

#[test]
fn a_wrong_posting_under_forged_checksums_fails_verify() {
    let good = segment_bytes();
    let seg = SegmentReader::from_bytes(Path::new("t.seg"), good.clone()).unwrap();
    seg.verify().unwrap();
    for kind in [SectionKind::TokenPostings, SectionKind::TokenDict] {
        let (off, len) = seg.section_range(kind, Field::Url as u16).unwrap();
        // The low byte of the last value of the last posting (a row), or of
        // the last run's last byte.
        let at = len - 2;
        let mut bad = good.clone();
        bad[(off + at) as usize] ^= 1;
        forge_checksums(&mut bad);
        let forged = SegmentReader::from_bytes(Path::new("t.seg"), bad).unwrap();
        assert_eq!(
            corrupted(forged.verify().unwrap_err()),
            (
                off + at,
                format!("{} of url", kind.name()),
                format!("differs from the column's values at byte {at} of the section")
            )
        );
    }
}

#[test]
fn a_version_1_segment_is_answered_from_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, path) = sealed(dir.path());
    drop(engine);
    let mut b = std::fs::read(&path).unwrap();
    b[8..12].copy_from_slice(&1u32.to_le_bytes());
    let f = b.len() - FOOTER_LEN;
    b[f + 8..f + 12].copy_from_slice(&1u32.to_le_bytes());
    let crc = crc32fast::hash(&b[f..f + 60]);
    b[f + 60..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    let engine = Engine::open(dir.path(), state_options(&clock())).unwrap();
    for p in ["/rfis/", "rfis", "/nothing/"] {
        let q = Query::count()
            .last_days(7)
            .filter(Field::Url, Op::Contains, p);
        let (r, ex) = engine.explain(&q).unwrap();
        assert_eq!(count_of(&r), expected(p), "{p}");
        assert_eq!(ex.sources[0].rows_visited, ROWS, "{p}");
    }
}
