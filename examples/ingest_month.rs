//! Ingests a generated month of activity in 10,000-event batches (one fsync
//! each) and prints throughput, bytes per event and peak resident memory.
//!
//! cargo run --release --example ingest_month -- [events_per_day] [days] [dir]

use std::sync::Arc;
use std::time::Instant;

use daybook::generate::{GenConfig, Generator};
use daybook::{Engine, ManualClock, Options};

const NOW_MS: i64 = 1_795_780_800_000; // 2026-11-27T12:00:00Z

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let per_day: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let days: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(31);
    let tmp = tempfile::tempdir().unwrap();
    let dir = args
        .get(3)
        .map_or_else(|| tmp.path().to_path_buf(), std::path::PathBuf::from);
    let clock = ManualClock::new(NOW_MS);
    let max_buffered_events: usize = std::env::var("BUFFER")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(Options::default().max_buffered_events);
    let compact_min_segments: usize = std::env::var("COMPACT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(Options::default().compact_min_segments);
    let engine = Engine::open(
        &dir,
        Options {
            clock: Arc::new(clock),
            max_buffered_events,
            compact_min_segments,
            ..Options::default()
        },
    )
    .unwrap();
    let cfg = GenConfig {
        days,
        events_per_day: per_day,
        companies: 20,
        seed: 7,
        now_ms: NOW_MS,
        ..GenConfig::default()
    };
    let mut gen_time = 0.0;
    let mut append_time = 0.0;
    let (mut stored, mut dups, mut rejected) = (0, 0, 0);
    let mut generator = Generator::new(cfg);
    loop {
        let t = Instant::now();
        let batch: Vec<_> = generator.by_ref().take(10_000).collect();
        gen_time += t.elapsed().as_secs_f64();
        if batch.is_empty() {
            break;
        }
        let t = Instant::now();
        let r = engine.append(batch).unwrap();
        append_time += t.elapsed().as_secs_f64();
        stored += r.stored;
        dups += r.duplicates;
        rejected += r.rejected.len();
    }
    let c = engine.stats().counters;
    println!(
        "during appends: seal {} ms (of which compaction {} ms), {} seals, {} segments written",
        c.seal_ms, c.compact_ms, c.seals, c.segments_written
    );
    let t = Instant::now();
    engine.flush().unwrap();
    engine.compact().unwrap();
    let finish = t.elapsed().as_secs_f64();
    let stats = engine.stats();
    println!("events stored {stored}, duplicates {dups}, rejected {rejected}");
    println!(
        "generate: {:.2} s; append: {:.2} s = {:.0} events/s (group commit per 10k batch, seals included)",
        gen_time,
        append_time,
        stored as f64 / append_time
    );
    println!(
        "final flush + compaction: {finish:.2} s; overall {:.0} events/s",
        stored as f64 / (append_time + finish)
    );
    let bytes = stats.bytes();
    let index: u64 = stats.days.iter().map(|d| d.index_bytes).sum();
    let dict: u64 = stats.days.iter().map(|d| d.dictionary_bytes).sum();
    println!(
        "segments {}, bytes {} = {:.1} bytes/event (bitmaps {:.1}, dictionaries {:.1})",
        stats.segments(),
        bytes,
        bytes as f64 / stored as f64,
        index as f64 / stored as f64,
        dict as f64 / stored as f64
    );
    println!("peak RSS {:.0} MiB", peak_rss_mib());
    let snap = engine.snapshot();
    if let Some((_, d)) = snap.partitions().last()
        && let Some(seg) = d.segments().first()
    {
        let mut sizes = seg.section_sizes();
        sizes.sort_by_key(|s| std::cmp::Reverse(s.2));
        let rows = f64::from(seg.rows());
        println!(
            "largest sections of the newest day's segment ({} rows):",
            seg.rows()
        );
        for (kind, field, len) in sizes.iter().take(14) {
            let name = daybook::Field::from_ordinal(*field).map_or("-", |f| f.name());
            println!(
                "  {:<12} {:<34} {:>6.2} bytes/event",
                kind.name(),
                name,
                *len as f64 / rows
            );
        }
    }
}
