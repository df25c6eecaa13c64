//! `daybook demo` and `daybook stats`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use daybook::Field;
use daybook::generate::{GenConfig, Generator, total_hint};
use daybook::time::{format_ms, parse_rfc3339_ms};
use daybook::{Clock, Engine, ManualClock, Options, Query, QueryResult, Scalar, SystemClock};

use crate::Failure;

/// Runs one report through the query engine and prints it as a table, with
/// the time it took.
fn report(engine: &Engine, title: &str, q: &Query) -> Result<QueryResult, Failure> {
    let t = Instant::now();
    let r = engine.query(q)?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "\n{title}  ({ms:.2} ms, {} matching events)",
        r.matched_events
            .map_or_else(|| "uncounted".to_string(), |n| n.to_string())
    );
    println!("  query: {}", q.to_json());
    crate::query::print(
        &r,
        crate::query::Format::Table,
        &mut std::io::stdout().lock(),
    )?;
    Ok(r)
}

/// The reports an administrator builds, over the demo's month.
fn reports(engine: &Engine) -> Result<(), Failure> {
    use daybook::{Direction::Desc, Op};
    report(
        engine,
        "who deleted what this week",
        &Query::count()
            .last_days(7)
            .filter(Field::EventType, Op::Eq, "Delete")
            .group_by(&[Field::UserEmail, Field::ToolName])
            .order_by_count(Desc)
            .limit(10),
    )?;
    report(
        engine,
        "mobile activity by tool, this month",
        &Query::count()
            .filter(Field::DeviceType, Op::In, vec!["iOS", "Android"])
            .group_by(&[Field::ToolName, Field::DeviceType])
            .order_by_count(Desc)
            .limit(10),
    )?;
    report(
        engine,
        "API usage by day, last 14 days",
        &Query::count()
            .last_days(14)
            .filter(Field::IsApi, Op::Eq, true)
            .group_by(&[Field::EventDate]),
    )?;
    let downloads = report(
        engine,
        "downloads of drawings by user, this month",
        &Query::count()
            .filter(Field::EventType, Op::Eq, "Download")
            .filter(Field::ToolName, Op::Eq, "Drawings")
            .group_by(&[Field::UserId, Field::UserEmail])
            .order_by_count(Desc)
            .limit(5),
    )?;
    if let Some(Scalar::Int(user)) = downloads.rows.first().and_then(|r| r.first()) {
        let mut trail = Query::events()
            .filter(Field::UserId, Op::Eq, *user)
            .limit(12);
        trail.fields = [
            "event_timestamp",
            "event_type",
            "event_name",
            "project_name",
            "device_type",
        ]
        .map(String::from)
        .to_vec();
        report(engine, "that user's audit trail, newest first", &trail)?;
    }
    report(
        engine,
        "events by type, whole month",
        &Query::count()
            .group_by(&[Field::EventType])
            .order_by_count(Desc),
    )?;
    Ok(())
}

pub fn print_stats(engine: &Engine) {
    print_stats_of(&engine.stats());
}

pub fn print_stats_of(s: &daybook::Stats) {
    println!(
        "retention: {} days, horizon {} .. today {}",
        s.retention_days, s.horizon, s.today
    );
    println!(
        "{:<10} {:>8} {:>10} {:>9} {:>12} {:>11} {:>10}",
        "day", "segments", "events", "buffered", "bytes", "bytes/event", "index"
    );
    for d in &s.days {
        let events = d.sealed_events + d.buffered_events;
        println!(
            "{:<10} {:>8} {:>10} {:>9} {:>12} {:>11.1} {:>10}{}",
            d.day.to_string(),
            d.segments,
            events,
            d.buffered_events,
            d.bytes,
            d.bytes as f64 / d.sealed_events.max(1) as f64,
            d.index_bytes,
            if d.damaged > 0 {
                format!("  DAMAGED ({})", d.damaged)
            } else {
                String::new()
            }
        );
    }
    let sealed: u64 = s.days.iter().map(|d| d.sealed_events).sum();
    println!(
        "total: {} days, {} segments, {} events, {} bytes ({:.1} bytes/event)",
        s.days.len(),
        s.segments(),
        s.events(),
        s.bytes(),
        s.bytes() as f64 / sealed.max(1) as f64
    );
}

/// The demo's directory when `--data` is not given: not the other commands'
/// `./daybook-data`, as each run of the demo replaces its directory.
pub const DEFAULT_DIR: &str = "./daybook-demo";

/// Empties `dir` for a new run: only a directory that is empty or that an
/// earlier demo made (its store in `dir/store`) is replaced.
fn prepare(dir: &Path) -> Result<(), Failure> {
    if dir.exists() {
        let ours = dir.join("store").join("daybook.lock").exists()
            || std::fs::read_dir(dir)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
        if !ours {
            let what = if dir.join("daybook.lock").exists() {
                "holds a daybook store that the demo did not make"
            } else {
                "exists and is not a demo directory"
            };
            return Err(Failure {
                message: format!(
                    "{} {what}; the demo replaces its directory, so give it another with --data",
                    dir.display()
                ),
                code: 1,
            });
        }
        std::fs::remove_dir_all(dir)?;
    }
    Ok(std::fs::create_dir_all(dir)?)
}

/// `word` as one shell word: quoted when it has anything beyond the
/// characters that need none.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Where the demo's data is, and a report to run on it, ready to paste.
fn print_next_steps(store: &Path, now: Option<&str>) {
    // The program as it was started (`target/release/daybook` under cargo).
    let program = std::env::args().next().unwrap_or_else(|| "daybook".into());
    let clock = now.map_or_else(String::new, |n| format!(" --now {}", shell_word(n)));
    println!("\nthe store is {}; to query it:", store.display());
    println!(
        "  {} --data {}{clock} query --last 7d --group-by event_type --order-by count:desc",
        shell_word(&program),
        shell_word(&store.display().to_string())
    );
}

/// Runs the demo in `dir` (replaced on each run): generates, imports into
/// `dir/store`, reopens, verifies, reports, and says how to query the store.
pub fn run(
    dir: &Path,
    now: Option<&str>,
    events_per_day: u64,
    days: u32,
    companies: u32,
) -> Result<(), Failure> {
    prepare(dir)?;
    let now_ms = match now {
        Some(s) => parse_rfc3339_ms(s).map_err(|e| Failure {
            message: format!("--now: {e}"),
            code: 2,
        })?,
        None => SystemClock.now_ms(),
    };
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now_ms));
    let cfg = GenConfig {
        days,
        events_per_day,
        companies,
        seed: 2026,
        now_ms,
        ..GenConfig::default()
    };
    let store = dir.join("store");
    println!(
        "daybook demo: {} days of activity for {} companies (~{} events, 2% late, 1% re-sent), now = {}, store {}",
        days,
        companies,
        total_hint(&cfg),
        format_ms(now_ms),
        store.display()
    );

    let file = dir.join("activity.jsonl");
    let t = Instant::now();
    let n = crate::import::write_jsonl(
        Generator::new(cfg),
        file.to_str().unwrap_or("activity.jsonl"),
    )?;
    println!(
        "generated {n} events as JSON Lines in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let opts = || Options {
        clock: Arc::clone(&clock),
        ..Options::default()
    };
    {
        let engine = Engine::open(&store, opts())?;
        let summary = crate::import::import_files(&engine, &[file.display().to_string()], false)?;
        let t = Instant::now();
        engine.flush()?;
        engine.compact()?;
        summary.print();
        println!("sealed and compacted in {:.2} s", t.elapsed().as_secs_f64());
    }
    std::fs::remove_file(&file)?;

    let t = Instant::now();
    let engine = Engine::open(&store, opts())?;
    println!(
        "\nreopened {} partitions in {:.1} ms",
        engine.snapshot().days().len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let problems = engine.verify();
    if let Some(p) = problems.first() {
        return Err(Failure {
            message: format!("verify failed: {p}"),
            code: 1,
        });
    }
    println!(
        "verified every checksum and row in {:.2} s",
        t.elapsed().as_secs_f64()
    );

    reports(&engine)?;
    let snap = engine.snapshot();
    // A re-sent event is acknowledged and not stored twice.
    let last_day = snap.partitions().last().map(|(day, _)| day);
    if let Some(day) = last_day
        && let Some(e) = snap.day_events(day)?.into_iter().next()
    {
        let r = engine.append(vec![e.clone()])?;
        println!(
            "\nre-sending event {} -> stored {}, duplicates {}",
            e.event_id, r.stored, r.duplicates
        );
    }
    println!();
    print_stats(&engine);
    print_next_steps(&store, now);
    Ok(())
}
