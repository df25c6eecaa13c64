//! Commands and readers that only read never write or delete anything,
//! whatever clock or retention they are given; readers work while a writer
//! holds the directory; a writer that would delete more than the defaults
//! delete needs --yes and says what it dropped; a missing data directory is
//! an error naming it, created only by the commands that store data.
#![cfg(feature = "cli")]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::cli::{self, text};
use common::{NOW_MS, clock, day_ms, event, options};
use daybook::Field;
use daybook::{Engine, Error, ManualClock, Options, Query, Reader, Scalar};

const NOW: &str = "2026-11-27T12:00:00Z";

fn run(data: &Path, args: &[&str]) -> Output {
    cli::command(data, args).output().expect("run daybook")
}

/// Every file and directory below `root`: relative path -> content (None
/// for a directory).
fn tree(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if p.is_dir() {
                out.insert(rel, None);
                stack.push(p);
            } else {
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// A directory with sealed segments on 20 days, events only in the log on
/// 3 days, and a torn record at the log's end: 300 sealed + 30 logged.
fn mixed_dir(dir: &Path) {
    let c = clock();
    {
        let engine = Engine::open(dir, options(&c)).unwrap();
        let sealed: Vec<_> = (0..300)
            .map(|i| event(&format!("s{i}"), day_ms(i % 20, i * 1000), i as u64))
            .collect();
        engine.append(sealed).unwrap();
        engine.flush().unwrap();
        let logged: Vec<_> = (0..30)
            .map(|i| event(&format!("l{i}"), day_ms(i % 3, 5_000 + i), i as u64))
            .collect();
        engine.append(logged).unwrap();
        // Dropped without flush: the 30 stay in the log only.
    }
    let log = std::fs::read_dir(dir.join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend_from_slice(&[0x7a, 0xda, 0x0c, 0xb1, 200, 0, 0, 0, 1, 2]);
    std::fs::write(&log, bytes).unwrap();
}

#[test]
fn read_commands_leave_the_directory_byte_identical_under_any_clock_and_retention() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    mixed_dir(&data);
    let before = tree(&data);
    let out_dir = dir.path().join("parquet");
    let out = out_dir.to_str().unwrap();
    let clocks: [Option<&str>; 4] = [
        None,
        Some(NOW),
        Some("2099-01-01T00:00:00Z"),
        Some("1999-06-01T00:00:00Z"),
    ];
    let mut runs = 0;
    for now in clocks {
        for retention in ["1", "2", "7", "31", "400"] {
            for cmd in [
                vec!["query", "--last", "7d", "--format", "json"],
                vec!["query", "--format", "jsonl"],
                vec!["explain", "--format", "json"],
                vec!["stats"],
                vec!["verify"],
                vec!["export", "--format", "parquet", out],
            ] {
                let mut args = vec!["--retention-days", retention];
                if let Some(now) = now {
                    args.extend(["--now", now]);
                }
                args.extend(cmd.iter().copied());
                let o = run(&data, &args);
                // `--last 7d` asks for more days than a narrower retention
                // keeps: a usage error; everything else answers.
                let expect = if cmd[1..].contains(&"7d") && retention.parse::<u32>().unwrap() < 7 {
                    2
                } else {
                    0
                };
                assert_eq!(
                    o.status.code(),
                    Some(expect),
                    "{args:?}: {}",
                    text(&o.stderr)
                );
                assert_eq!(tree(&data), before, "{args:?} changed the directory");
                runs += 1;
            }
        }
    }
    assert_eq!(runs, 4 * 5 * 6);
    // What they showed: under NOW and 31 days, all 330 events.
    let o = run(&data, &["--now", NOW, "query", "--format", "jsonl"]);
    assert_eq!(text(&o.stdout).trim(), r#"{"count":330}"#);
    // Under a clock a year later nothing is inside retention, and nothing
    // was deleted either.
    let o = run(
        &data,
        &[
            "--now",
            "2027-11-27T12:00:00Z",
            "query",
            "--format",
            "jsonl",
        ],
    );
    assert_eq!(text(&o.stdout).trim(), r#"{"count":0}"#);
    assert_eq!(tree(&data), before);
}

#[test]
fn a_reader_sees_sealed_and_logged_events_and_hides_old_days_without_deleting_them() {
    let dir = tempfile::tempdir().unwrap();
    mixed_dir(dir.path());
    let before = tree(dir.path());
    let c = clock();
    let r = Reader::open(dir.path(), options(&c)).unwrap();
    assert_eq!(r.snapshot().event_count(), 330);
    let s = r.stats();
    assert_eq!(s.days.len(), 20);
    assert_eq!(s.counters.replayed_events, 30);
    assert_eq!(s.counters.torn_tail_bytes, 10);
    assert!(r.verify().is_empty());
    assert!(r.hidden_days().is_empty());
    // Three days kept: today and the two before it hold 15 + 15 + 15 sealed
    // and 10 + 10 + 10 logged events.
    let narrow = Reader::open(
        dir.path(),
        Options {
            retention_days: 3,
            ..options(&c)
        },
    )
    .unwrap();
    assert_eq!(narrow.snapshot().event_count(), 75);
    assert_eq!(narrow.hidden_days().len(), 17);
    let q = Query::count();
    assert_eq!(narrow.query(&q).unwrap().rows, vec![vec![Scalar::Int(75)]]);
    assert_eq!(tree(dir.path()), before);
    // The writer then finds everything the reader saw.
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    assert_eq!(engine.snapshot().event_count(), 330);
}

#[test]
fn read_commands_work_while_a_writer_holds_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let evs: Vec<_> = (0..40)
        .map(|i| event(&format!("e{i}"), day_ms(i % 4, i), i as u64))
        .collect();
    engine.append(evs).unwrap();
    engine.flush().unwrap();
    engine
        .append(vec![event("late", day_ms(0, 99), 7)])
        .unwrap();
    let data = dir.path();
    let o = run(data, &["--now", NOW, "query", "--format", "jsonl"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim(), r#"{"count":41}"#);
    let o = run(data, &["--now", NOW, "verify"]);
    assert_eq!(text(&o.stdout).trim(), "ok: 4 segments verified");
    let o = run(data, &["--now", NOW, "stats"]);
    assert!(
        text(&o.stdout).contains("total: 4 days, 4 segments, 41 events"),
        "{}",
        text(&o.stdout)
    );
    // A second writer is still refused.
    let o = run(data, &["--now", NOW, "compact"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("is locked by another process"));
}

/// One writer appends batches of 10 new events with a tiny buffer (a seal
/// every 5 batches, compaction at 2 segments) while readers open again and
/// again: each sees a whole number of batches, at least those acknowledged
/// before it opened and at most those acknowledged after (plus the one in
/// flight), never an event twice.
#[test]
fn a_reader_opened_during_seals_and_compactions_sees_one_moment() {
    const BATCH: u64 = 10;
    let dir = tempfile::tempdir().unwrap();
    let c = ManualClock::new(NOW_MS);
    let opts = || Options {
        max_buffered_events: 50,
        compact_min_segments: 2,
        ..options(&c)
    };
    let engine = Engine::open(dir.path(), opts()).unwrap();
    let acked = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let checked = std::thread::scope(|s| {
        s.spawn(|| {
            for b in 0..400u64 {
                let evs = (0..BATCH)
                    .map(|i| {
                        let n = b * BATCH + i;
                        event(&format!("w{n}"), day_ms((n % 3) as i64, n as i64), n)
                    })
                    .collect();
                let r = engine.append(evs).unwrap();
                assert_eq!(r.stored, BATCH as usize);
                acked.fetch_add(BATCH, Ordering::SeqCst);
            }
            stop.store(true, Ordering::SeqCst);
        });
        let reader = s.spawn(|| {
            let mut checked = 0;
            while !stop.load(Ordering::SeqCst) {
                let low = acked.load(Ordering::SeqCst);
                let r = match Reader::open(dir.path(), opts()) {
                    Ok(r) => r,
                    Err(Error::Busy(_)) => continue,
                    Err(e) => panic!("reader: {e}"),
                };
                let high = acked.load(Ordering::SeqCst);
                let n = r.snapshot().event_count();
                assert!(
                    n >= low && n <= high + BATCH && n % BATCH == 0,
                    "reader saw {n} events; acknowledged {low} before, {high} after"
                );
                let ids = r
                    .query(&Query::count().group_by(&[Field::EventId]))
                    .unwrap()
                    .rows;
                assert_eq!(ids.len() as u64, n, "an event seen twice");
                checked += 1;
            }
            checked
        });
        reader.join().unwrap()
    });
    assert!(checked > 0);
    assert!(engine.stats().counters.compactions > 0);
    let r = Reader::open(dir.path(), opts()).unwrap();
    assert_eq!(r.snapshot().event_count(), 4000);
}

/// The real file system, but the second listing of the log directory (the
/// reader lists the logs, maps the segments, then lists the logs again)
/// first runs `hook`: a writer's seal lands between the
/// reader's look at the segments and its look at the logs.
struct SealMidLoad<F: Fn() + Send + Sync> {
    hook: std::sync::Mutex<Option<F>>,
    log_listings: AtomicU64,
}

impl<F: Fn() + Send + Sync> std::fmt::Debug for SealMidLoad<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealMidLoad")
    }
}

impl<F: Fn() + Send + Sync + 'static> daybook::storage::Storage for SealMidLoad<F> {
    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        daybook::storage::OsStorage.create_dir_all(dir)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        daybook::storage::OsStorage.sync_dir(dir)
    }
    fn read_dir(&self, dir: &Path) -> std::io::Result<Vec<daybook::storage::DirEntry>> {
        if dir.ends_with("log")
            && self.log_listings.fetch_add(1, Ordering::SeqCst) == 1
            && let Some(hook) = self.hook.lock().unwrap().take()
        {
            hook();
        }
        daybook::storage::OsStorage.read_dir(dir)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        daybook::storage::OsStorage.remove_file(path)
    }
    fn remove_dir(&self, dir: &Path) -> std::io::Result<()> {
        daybook::storage::OsStorage.remove_dir(dir)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        daybook::storage::OsStorage.rename(from, to)
    }
    fn create(
        &self,
        path: &Path,
        exclusive: bool,
    ) -> std::io::Result<Arc<dyn daybook::storage::WriteFile>> {
        daybook::storage::OsStorage.create(path, exclusive)
    }
    fn open_write(&self, path: &Path) -> std::io::Result<Arc<dyn daybook::storage::WriteFile>> {
        daybook::storage::OsStorage.open_write(path)
    }
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        daybook::storage::OsStorage.read(path)
    }
    fn map(&self, path: &Path) -> std::io::Result<daybook::storage::Mapped> {
        daybook::storage::OsStorage.map(path)
    }
    fn lock(&self, path: &Path) -> std::io::Result<Option<daybook::storage::LockGuard>> {
        daybook::storage::OsStorage.lock(path)
    }
}

/// Regression: a seal between the reader's look at the segments and its
/// look at the logs moved the events from the (deleted) log into a segment
/// the reader had not listed; without the second listing it saw none.
#[test]
fn a_seal_between_listing_segments_and_reading_logs_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Arc::new(Engine::open(dir.path(), options(&c)).unwrap());
    let evs: Vec<_> = (0..25)
        .map(|i| event(&format!("e{i}"), day_ms(i % 2, i), i as u64))
        .collect();
    engine.append(evs).unwrap();
    let writer = Arc::clone(&engine);
    let storage = SealMidLoad {
        hook: std::sync::Mutex::new(Some(move || writer.flush().unwrap())),
        log_listings: AtomicU64::new(0),
    };
    let opts = Options {
        storage: Arc::new(storage),
        ..options(&c)
    };
    let r = Reader::open(dir.path(), opts).unwrap();
    assert_eq!(r.snapshot().event_count(), 25);
    assert_eq!(r.stats().segments(), 2);
    assert_eq!(r.stats().counters.replayed_events, 0);
}

/// Writes a JSON Lines file of `days` days ending today by this machine's
/// clock (the writer tests below run without --now).
fn generate_recent(dir: &Path, days: &str) -> PathBuf {
    let file = dir.join("recent.jsonl");
    let o = run(
        &dir.join("unused"),
        &[
            "generate",
            "--days",
            days,
            "--events-per-day",
            "50",
            "--late-fraction",
            "0",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    file
}

#[test]
fn a_writer_ahead_of_the_clock_or_with_a_narrower_retention_needs_yes_and_says_what_it_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = generate_recent(dir.path(), "10");
    let f = file.to_str().unwrap();
    let o = run(&data, &["import", f]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let days = |data: &Path| std::fs::read_dir(data.join("days")).unwrap().count();
    assert_eq!(days(&data), 10);
    let before = tree(&data);

    // A clock a year ahead: refused, nothing touched.
    let o = run(&data, &["--now", "2099-01-01T00:00:00Z", "import", f]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("--now 2099-01-01T00:00:00.000Z is ahead of this machine's clock"),
        "{err}"
    );
    assert!(
        err.contains("it would delete 10 day(s) here for good"),
        "{err}"
    );
    assert!(err.contains("add --yes"), "{err}");
    for cmd in [["compact"], ["retention"]] {
        let o = run(
            &data,
            &[&["--now", "2099-01-01T00:00:00Z"][..], &cmd].concat(),
        );
        assert_eq!(o.status.code(), Some(2), "{cmd:?}");
    }
    assert_eq!(tree(&data), before);

    // A narrower retention: refused without --yes.
    let o = run(&data, &["--retention-days", "7", "retention"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("--retention-days 7 is below the default 31"),
        "{err}"
    );
    assert!(
        err.contains("it would delete 3 day(s) here for good"),
        "{err}"
    );
    assert_eq!(tree(&data), before);

    // Confirmed: the three oldest days go, and the command says which.
    let o = run(&data, &["--retention-days", "7", "--yes", "retention"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim(), "dropped 3 day(s)");
    let err = text(&o.stderr);
    assert!(
        err.starts_with("dropped 3 day(s) older than the retention horizon"),
        "{err}"
    );
    assert_eq!(days(&data), 7);
}

#[test]
fn a_missing_data_directory_is_an_error_naming_it_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir");
    for cmd in [
        vec!["query"],
        vec!["explain"],
        vec!["stats"],
        vec!["verify"],
        vec!["export", "--format", "parquet", "out"],
        vec!["compact"],
        vec!["retention"],
    ] {
        let o = run(&missing, &cmd);
        assert_eq!(o.status.code(), Some(1), "{cmd:?}");
        assert_eq!(
            text(&o.stderr).trim(),
            format!(
                "daybook: no daybook data directory at {}: it does not exist",
                missing.display()
            ),
            "{cmd:?}"
        );
        assert!(!dir.path().join("no").exists(), "{cmd:?} created it");
    }
    // An existing directory that is not a data directory.
    let o = run(dir.path(), &["stats"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr).trim(),
        format!(
            "daybook: no daybook data directory at {}: it holds no days/ or log/ directory",
            dir.path().display()
        )
    );
    // The library says the same.
    let c = clock();
    match Reader::open(&missing, options(&c)) {
        Err(Error::NoDataDir { path, reason }) => {
            assert_eq!(
                (path, reason.as_str()),
                (missing.clone(), "it does not exist")
            );
        }
        other => panic!("{other:?}"),
    }
    let no_create = Options {
        create_if_missing: false,
        ..options(&c)
    };
    assert!(matches!(
        Engine::open(&missing, no_create),
        Err(Error::NoDataDir { .. })
    ));
    // import creates it.
    let file = generate_recent(dir.path(), "2");
    let o = run(&missing, &["import", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(missing.join("days").is_dir());
}

#[test]
fn a_reader_of_a_shared_handle_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Reader>();
}

/// Regression: events only in the log (a crash before their seal) whose day
/// left retention were dropped with the log without being named.
#[test]
fn a_day_only_in_the_log_that_left_retention_is_named_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    {
        let engine = Engine::open(dir.path(), options(&c)).unwrap();
        engine
            .append(vec![
                event("old", day_ms(30, 5), 1),
                event("new", day_ms(0, 5), 2),
            ])
            .unwrap();
        // Dropped unsealed: both events are only in the log.
    }
    let old_day = daybook::Day::of_ms(day_ms(30, 5));
    c.advance_ms(86_400_000);
    let r = Reader::open(dir.path(), options(&c)).unwrap();
    assert_eq!(r.hidden_days(), &[old_day]);
    assert_eq!(r.snapshot().event_count(), 1);
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    assert_eq!(engine.take_dropped_days(), vec![old_day]);
    assert_eq!(engine.snapshot().event_count(), 1);
}
