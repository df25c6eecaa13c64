//! `daybook demo` and `daybook stats`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use daybook::generate::{GenConfig, Generator, total_hint};
use daybook::time::{format_ms, parse_rfc3339_ms};
use daybook::{Clock, Engine, Field, ManualClock, Options, Snapshot, SystemClock};

use crate::Failure;

/// Counts events per value of `field` over the days `from..=to`, reading
/// dictionary codes in place for sealed data.
fn count_by(snap: &Snapshot, field: Field) -> Result<BTreeMap<String, u64>, Failure> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for (_, day) in snap.partitions() {
        for seg in &day.segments {
            let col = seg.dict(field)?;
            let mut counts = vec![0u64; col.count() as usize + 1];
            for row in 0..seg.rows() {
                counts[col.code(row) as usize] += 1;
            }
            for (code, n) in counts.into_iter().enumerate().filter(|(_, n)| *n > 0) {
                *out.entry(col.value(code as u32)?.to_string()).or_default() += n;
            }
        }
        for chunk in &day.mem {
            for e in chunk.iter() {
                *out.entry(e.get(field).to_string()).or_default() += 1;
            }
        }
    }
    Ok(out)
}

fn print_counts(title: &str, counts: BTreeMap<String, u64>, top: usize, took_ms: f64) {
    let mut rows: Vec<(String, u64)> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!("\n{title}  ({took_ms:.1} ms)");
    let width = rows
        .iter()
        .take(top)
        .map(|r| r.0.len())
        .max()
        .unwrap_or(5)
        .max(5);
    for (value, n) in rows.iter().take(top) {
        println!("  {value:<width$}  {n:>10}");
    }
    if rows.len() > top {
        println!("  … {} more", rows.len() - top);
    }
}

pub fn print_stats(engine: &Engine) {
    let s = engine.stats();
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

pub fn run(
    data: &Path,
    now: Option<&str>,
    events_per_day: u64,
    days: u32,
    companies: u32,
) -> Result<(), Failure> {
    let dir = if data == Path::new("./daybook-data") {
        Path::new("./daybook-demo")
    } else {
        data
    };
    if dir.exists() {
        let ours = dir.join("store").join("daybook.lock").exists()
            || std::fs::read_dir(dir)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
        if !ours {
            return Err(Failure {
                message: format!(
                    "{} exists and is not a daybook directory; choose another with --data",
                    dir.display()
                ),
                code: 1,
            });
        }
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
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
    println!(
        "daybook demo: {} days of activity for {} companies (~{} events, 2% late, 1% re-sent), now = {}, data in {}",
        days,
        companies,
        total_hint(&cfg),
        format_ms(now_ms),
        dir.display()
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
    let store = dir.join("store");
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

    let snap = engine.snapshot();
    for (title, field, top) in [
        ("events by type, whole month", Field::EventType, 24),
        ("events by device", Field::DeviceType, 10),
        ("busiest tools", Field::ToolName, 10),
        ("most active users", Field::UserEmail, 10),
    ] {
        let t = Instant::now();
        let counts = count_by(&snap, field)?;
        print_counts(title, counts, top, t.elapsed().as_secs_f64() * 1e3);
    }
    // A re-sent event is acknowledged and not stored twice.
    if let Some(seg) = snap
        .partitions()
        .last()
        .and_then(|(_, d)| d.segments.first().cloned())
    {
        let mut rows = daybook::segment::RowDecoder::new(&seg)?;
        let e = rows.event(0)?;
        let r = engine.append(vec![e.clone()])?;
        println!(
            "\nre-sending event {} -> stored {}, duplicates {}",
            e.event_id, r.stored, r.duplicates
        );
    }
    println!();
    print_stats(&engine);
    Ok(())
}
