//! Engine benchmarks: append throughput (10,000-event batches, one fsync per
//! batch), seal throughput, open time for 31 partitions, retention drop.
//! Figures and the machine are recorded in docs/benchmarks.md.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use daybook::generate::{GenConfig, Generator};
use daybook::segment::SegmentWriter;
use daybook::{Day, Engine, Event, ManualClock, Options};

const NOW_MS: i64 = 1_795_780_800_000; // 2026-11-27T12:00:00Z

fn events(days: u32, per_day: u64, seed: u64) -> Vec<Event> {
    Generator::new(GenConfig {
        days,
        events_per_day: per_day,
        companies: 5,
        seed,
        late_fraction: 0.02,
        dup_fraction: 0.0,
        now_ms: NOW_MS,
    })
    .collect()
}

fn opts(clock: &ManualClock) -> Options {
    Options {
        clock: Arc::new(clock.clone()),
        ..Options::default()
    }
}

fn append(c: &mut Criterion) {
    let evs = events(7, 40_000, 1);
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("batches_of_10k_group_commit", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let clock = ManualClock::new(NOW_MS);
                let engine = Engine::open(dir.path(), opts(&clock)).unwrap();
                let batches: Vec<Vec<Event>> = evs.chunks(10_000).map(|c| c.to_vec()).collect();
                let t = Instant::now();
                for batch in batches {
                    black_box(engine.append(batch).unwrap());
                }
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
}

fn seal(c: &mut Criterion) {
    let evs: Vec<Event> = events(1, 100_000, 2);
    let day = Day::of_ms(NOW_MS);
    let evs: Vec<Event> = evs.into_iter().filter(|e| e.day() == day).collect();
    let mut g = c.benchmark_group("seal");
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.sample_size(10);
    g.bench_function("segment_encode", |b| {
        b.iter(|| {
            let mut w = SegmentWriter::new(day);
            for e in &evs {
                w.push(e).unwrap();
            }
            black_box(w.encode(1, Vec::new()).unwrap().len())
        })
    });
    g.finish();
}

fn open_and_drop(c: &mut Criterion) {
    // 31 days, 20,000 events a day, one segment a day.
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW_MS);
    {
        let engine = Engine::open(dir.path(), opts(&clock)).unwrap();
        let evs = events(31, 20_000, 3);
        for chunk in evs.chunks(10_000) {
            engine.append(chunk.to_vec()).unwrap();
        }
        engine.flush().unwrap();
        engine.compact().unwrap();
        assert_eq!(engine.snapshot().days().len(), 31);
    }
    let mut g = c.benchmark_group("open");
    g.sample_size(20);
    g.bench_function("open_31_partitions", |b| {
        b.iter(|| {
            let engine = Engine::open(dir.path(), opts(&clock)).unwrap();
            black_box(engine.snapshot().days().len())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("retention");
    g.sample_size(10);
    g.bench_function("drop_oldest_partition", |b| {
        b.iter_batched(
            || {
                let copy = tempfile::tempdir().unwrap();
                copy_dir(dir.path(), copy.path());
                let clock = ManualClock::new(NOW_MS);
                let engine = Engine::open(copy.path(), opts(&clock)).unwrap();
                clock.advance_ms(86_400_000);
                (copy, engine)
            },
            |(copy, engine)| {
                assert_eq!(engine.enforce_retention().unwrap().len(), 1);
                (copy, engine)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "daybook.lock" {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

criterion_group!(benches, append, seal, open_and_drop);
criterion_main!(benches);
