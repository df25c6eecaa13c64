//! A query process starts cheaply: checksums per group of bitmaps (section
//! kind 16) are verified only for the groups a query reads, and a
//! read-only command changes nothing on disk and starts no writer thread.
//!
//! - A flipped byte inside one group fails the query that reads it (file,
//!   section, offset named), a query of another group answers exactly, and
//!   `verify` names the damage; damage to the group checksums themselves
//!   is caught the same way.
//! - `query`, `stats` and `explain` leave the store's files as they were.
//! - Random queries equal the oracle on stores whose `user_id` bitmaps
//!   span several groups: buffered, sealed, compacted, reopened, read-only.

mod common;
#[path = "common/query_gen.rs"]
mod query_gen;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use common::oracle::{Oracle, append_both, comparable, state_options};
use common::{NOW_MS, assert_checksum_error, clock, day_ms};
use daybook::generate::SplitMix64 as Rng;
use daybook::query::{Op, Query};
use daybook::segment::{SectionKind, SegmentReader};
use daybook::{Engine, Event, Field, Reader};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use query_gen::*;
use serde_json::json;

const NO_FIELD: u16 = u16::MAX;
/// Distinct users in the fixture's segments: enough for several groups of
/// `user_id` bitmaps.
const USERS: u64 = 900;
const FIRST_USER: u64 = 1_000_000;

/// `count` events on the day `days_ago`, user `FIRST_USER + i % USERS`,
/// other fields random from the query generator's vocabularies.
fn events(rng: &mut Rng, prefix: &str, days_ago: i64, count: usize) -> Vec<Event> {
    (0..count)
        .map(|i| {
            let mut a = [0u8; 24];
            for x in a.iter_mut() {
                *x = rng.below(32) as u8;
            }
            let ts = day_ms(days_ago, rng.below(MS_PER_DAY as u64 / 2) as i64);
            let mut e = make_event(format!("{prefix}-{i}"), ts, &a);
            e.user_id = FIRST_USER + i as u64 % USERS;
            e
        })
        .collect()
}

/// One sealed segment of 3,000 events on yesterday; its path.
fn one_segment(dir: &Path) -> PathBuf {
    let c = clock();
    let engine = Engine::open(dir, state_options(&c)).unwrap();
    engine
        .append(events(&mut Rng::new(3), "e", 1, 3000))
        .unwrap();
    engine.flush().unwrap();
    let segs = common::segments(&engine);
    engine.close().unwrap();
    assert_eq!(segs.len(), 1);
    segs[0].clone()
}

fn le32(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// Where a segment's `user_id` bitmaps are: the section's offset, the
/// file offset of code `c`'s bitmap (`bitmap(c)`), and codes per group.
struct UserBitmaps {
    section: u64,
    body: usize,
    offsets: Vec<usize>,
    group_codes: usize,
    groups: usize,
}

impl UserBitmaps {
    fn of(path: &Path) -> UserBitmaps {
        let seg = SegmentReader::open(path).unwrap();
        let bytes = std::fs::read(path).unwrap();
        let (at, _) = seg
            .section_range(SectionKind::Bitmaps, Field::UserId as u16)
            .unwrap();
        let s = at as usize;
        let n = le32(&bytes, s);
        let offsets = (0..=n).map(|i| le32(&bytes, s + 4 + 4 * i)).collect();
        // The group checksums' entry for user_id (docs/format.md).
        let (g, _) = seg
            .section_range(SectionKind::BitmapGroups, NO_FIELD)
            .unwrap();
        let g = g as usize;
        let entries = le32(&bytes, g);
        let entry = (0..entries)
            .map(|i| g + 4 + 8 * i)
            .find(|&e| u16::from_le_bytes([bytes[e], bytes[e + 1]]) == Field::UserId as u16)
            .unwrap();
        UserBitmaps {
            section: at,
            body: s + 4 + 4 * (n + 1),
            offsets,
            group_codes: 1 << bytes[entry + 2],
            groups: le32(&bytes, entry + 4),
        }
    }

    /// The file offset of the middle byte of code `c`'s bitmap.
    fn middle_of(&self, c: usize) -> usize {
        self.body + (self.offsets[c] + self.offsets[c + 1]) / 2
    }
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x10;
    std::fs::write(path, &bytes).unwrap();
}

fn user_count(user: u64) -> Query {
    Query::count()
        .last_days(31)
        .filter(Field::UserId, Op::Eq, user)
}

/// The section name a checksum error of `path`'s `kind` section gives.
fn section_name(path: &Path, what: &str) -> String {
    let seg = SegmentReader::open(path).unwrap();
    format!("{what} (day {}, segment {})", seg.day(), seg.id())
}

#[test]
fn a_flipped_byte_in_one_bitmap_group_fails_only_the_queries_that_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = one_segment(dir.path());
    let map = UserBitmaps::of(&path);
    assert!(map.groups >= 3, "{} groups", map.groups);
    assert_eq!(map.offsets.len(), USERS as usize + 2);
    // Code c is user FIRST_USER + c - 1 (codes follow sorted values; 0 is
    // null). Damage the first bitmap of the second group.
    let victim = map.group_codes;
    flip(&path, map.middle_of(victim));
    let c = clock();
    let reader = Reader::open(dir.path(), state_options(&c)).unwrap();
    let last = (map.group_codes * 2 - 1).min(USERS as usize);
    assert_checksum_error(
        reader.query(&user_count(FIRST_USER + victim as u64 - 1)),
        &path,
        map.section,
        &section_name(
            &path,
            &format!("bitmaps of user_id, codes {victim} to {last}"),
        ),
    );
    // Users of the first and third groups answer exactly: 3,000 rows over
    // 900 users, user k has rows k, k + 900, ...
    for code in [1, 2 * map.group_codes] {
        let user = FIRST_USER + code as u64 - 1;
        let want = (0..3000u64).filter(|i| FIRST_USER + i % USERS == user);
        let got = reader.query(&user_count(user)).unwrap();
        assert_eq!(got.matched_events, Some(want.count() as u64), "code {code}");
    }
    // verify checks the whole section.
    let errors = reader.verify();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_checksum_error(
        Err::<(), _>(errors.into_iter().next().unwrap()),
        &path,
        map.section,
        &section_name(&path, "bitmaps of user_id"),
    );
}

#[test]
fn damage_to_the_group_checksums_is_caught_never_a_wrong_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = one_segment(dir.path());
    let (at, len) = SegmentReader::open(&path)
        .unwrap()
        .section_range(SectionKind::BitmapGroups, NO_FIELD)
        .unwrap();
    // A byte among the CRCs (past the entries).
    flip(&path, (at + len - 2) as usize);
    let c = clock();
    let reader = Reader::open(dir.path(), state_options(&c)).unwrap();
    let name = section_name(&path, "bitmap checksums of segment");
    assert_checksum_error(reader.query(&user_count(FIRST_USER)), &path, at, &name);
    let errors = reader.verify();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_checksum_error(
        Err::<(), _>(errors.into_iter().next().unwrap()),
        &path,
        at,
        &name,
    );
}

/// Every file and directory under `root`: its length and modification time.
fn tree(root: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            }
            out.insert(entry.path(), (meta.len(), meta.modified().unwrap()));
        }
    }
    out
}

/// A store with sealed segments and events only in the log.
fn store_with_log(dir: &Path) {
    let c = clock();
    let engine = Engine::open(dir, state_options(&c)).unwrap();
    let mut rng = Rng::new(5);
    engine.append(events(&mut rng, "a", 2, 1500)).unwrap();
    engine.flush().unwrap();
    engine.append(events(&mut rng, "b", 1, 200)).unwrap();
    engine.close().unwrap();
}

#[test]
fn read_only_commands_create_write_and_delete_nothing() {
    let dir = tempfile::tempdir().unwrap();
    store_with_log(dir.path());
    let before = tree(dir.path());
    assert!(
        before
            .keys()
            .any(|p| p.extension().is_some_and(|e| e == "log"))
    );
    let now = "2026-11-27T12:00:00Z";
    // The query documents live outside the store.
    let docs = tempfile::tempdir().unwrap();
    let doc = |name: &str, text: &str| {
        let path = docs.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let q = &doc(
        "user.json",
        r#"{"time":{"last_days":31},"where":[{"field":"user_id","op":"eq","value":1000001}]}"#,
    );
    let all = &doc("all.json", r#"{"time":{"last_days":31}}"#);
    for args in [
        vec!["query", "--json", q],
        vec!["explain", "--json", q],
        vec!["stats"],
        vec!["query", "--json", all],
    ] {
        let out = common::cli::ok_at(dir.path(), now, &args);
        assert!(!out.is_empty(), "{args:?}");
        assert_eq!(tree(dir.path()), before, "after {args:?}");
    }
    let out = common::cli::ok_at(dir.path(), now, &["query", "--json", q]);
    // 1,500 + 200 events over 900 users: user 1 has rows 1 and 901 of the
    // first batch and row 1 of the second.
    assert_eq!(out.trim(), r#"{"count":3}"#);
}

/// Threads of this process, from /proc.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn a_read_only_open_starts_no_thread() {
    // Alone in a child process: other tests' threads would come and go.
    const CHILD: &str = "DAYBOOK_CLI_START_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_read_only_open_starts_no_thread",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .status()
            .unwrap();
        assert!(status.success());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    store_with_log(dir.path());
    let c = clock();
    let before = threads();
    let reader = Reader::open(dir.path(), state_options(&c)).unwrap();
    assert_eq!(threads(), before);
    assert_eq!(reader.stats().counters.replayed_events, 200);
    assert_eq!(threads(), before);
    // (A query may bring in helper threads of its own, joined before it
    // returns: not counted here.)
    let r = reader.query(&user_count(FIRST_USER + 1)).unwrap();
    assert_eq!(r.matched_events, Some(3));
}

// ---------------------------------------------------------------------------
// Differential: random queries over stores whose user_id bitmaps span
// several groups, against the oracle.

fn check(
    what: &str,
    answer: impl Fn(&Query) -> daybook::Result<daybook::query::QueryResult>,
    oracle: &Oracle,
    q: &Query,
) -> Result<(), TestCaseError> {
    let json = q.to_json();
    match (oracle.query(q, NOW_MS, RETENTION, None), answer(q)) {
        (Ok(want), Ok(got)) => {
            prop_assert_eq!(&comparable(got), &want.result, "[{}] {}", what, json);
        }
        (Err(_), Err(_)) => {}
        (want, got) => {
            return Err(TestCaseError::fail(format!(
                "[{what}] {json}: oracle {:?}, engine {got:?}",
                want.map(|a| a.result)
            )));
        }
    }
    Ok(())
}

/// Random queries, each with up to two `user_id` predicates on the data's
/// users (one group or several), on `answer`.
fn random_queries(
    what: &str,
    answer: &dyn Fn(&Query) -> daybook::Result<daybook::query::QueryResult>,
    oracle: &Oracle,
) {
    let strategy = (
        q_seed(),
        prop::collection::vec((0..USERS + 2, 0usize..3), 0..3),
    );
    let mut runner = TestRunner::new(config(cases(48)));
    let result = runner.run(&strategy, |(seed, extra)| {
        let mut q = build_query(&seed);
        for (u, kind) in extra {
            let user = FIRST_USER + u;
            q = match kind {
                0 => q.filter_named("user_id", Op::Eq, json!(user)),
                1 => q.filter_named("user_id", Op::In, json!([user, user + 300, user + 600])),
                _ => q.filter_named("user_id", Op::NotIn, json!([user])),
            };
        }
        check(what, answer, oracle, &q)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn random_queries_match_the_oracle_with_group_checks() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let mut engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    let mut oracle = Oracle::new();
    let mut rng = Rng::new(11);
    // Day 3: two segments compacted into one; day 2: one sealed segment;
    // day 1: buffered (in the log) only.
    for (prefix, days_ago, n) in [("c1", 3, 1400), ("c2", 3, 1400), ("s", 2, 2000)] {
        append_both(&engine, &mut oracle, &events(&mut rng, prefix, days_ago, n)).unwrap();
        engine.flush().unwrap();
        if prefix == "c2" {
            engine.compact().unwrap();
        }
    }
    append_both(&engine, &mut oracle, &events(&mut rng, "b", 1, 600)).unwrap();
    for seg in common::segments(&engine) {
        let groups = UserBitmaps::of(&seg).groups;
        assert!(groups >= 2, "{} has {groups} group(s)", seg.display());
    }
    random_queries("live", &|q| engine.query(q), &oracle);
    let reader = Reader::open(dir.path(), state_options(&c)).unwrap();
    random_queries("read-only", &|q| reader.query(q), &oracle);
    drop(reader);
    engine.close().unwrap();
    engine = Engine::open(dir.path(), state_options(&c)).unwrap();
    random_queries("reopened", &|q| engine.query(q), &oracle);
    assert!(engine.verify().is_empty());
}
