//! Simulated power loss and I/O errors on a countdown (issue 6, items 2 and
//! 3), on [`SimStorage`]: an in-memory file system where every write and
//! directory change not yet synced may be kept, dropped or garbled by a
//! power loss, and where the Nth operation of a kind can fail.
//!
//! One deterministic workload (appends with late, duplicate and edge-of-
//! retention events, seals, an automatic and an explicit compaction, a
//! reopen, a clock move and a retention drop) is run
//!
//! - once per crash point k = 1..N (N: every mutating operation of a clean
//!   run), and the disk a reboot would find is rebuilt under five policies
//!   (keep all, drop all, garble all, two random mixes);
//! - once per (operation kind, n, once|persistent) for every n up to the
//!   number of operations of that kind in a clean run, with the workload
//!   carrying on past the errors;
//! - with the disk filling up during appends and seals.
//!
//! After each, the engine must open, and: acknowledged ⊆ recovered ⊆
//! attempted (less what retention dropped), no event twice, every event
//! exactly as appended, `verify` clean, and the engine accepts new writes.
//! Seals run on the caller's thread (no size-triggered background seals),
//! so a crash point names the same operation in every run.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;

use common::*;
use daybook::storage::{CrashPolicy, FaultOp, SimStorage};
use daybook::{Clock, Day, Engine, Error, Event, ManualClock, Options};

const ROOT: &str = "/sim/data";

/// A simulated disk holding the data directory's parent, durably (the
/// engine creates the data directory and makes its entry durable, but does
/// not sync directories above its parent).
fn fresh_sim() -> SimStorage {
    use daybook::storage::Storage;
    let sim = SimStorage::new();
    sim.create_dir_all(Path::new("/sim")).unwrap();
    sim.sync_dir(Path::new("/")).unwrap();
    sim
}

fn opts(sim: &SimStorage, clock: &ManualClock) -> Options {
    Options {
        storage: Arc::new(sim.clone()),
        max_buffered_events: 1_000,
        compact_min_segments: 3,
        ..options(clock)
    }
}

#[derive(Clone, Debug)]
enum Step {
    Append(Vec<Event>),
    Flush,
    Compact,
    Reopen,
    /// Moves the clock on by whole days.
    Advance(i64),
    Retention,
}

fn ev(id: &str, days_ago: i64, ms: i64, n: u64) -> Event {
    event(id, day_ms(days_ago, ms), n)
}

/// The workload: about a hundred mutating operations.
fn workload() -> Vec<Step> {
    use Step::*;
    vec![
        Append(vec![
            ev("a0", 0, 1_000, 1),
            ev("a1", 0, 2_000, 2),
            ev("a2", 1, 3_000, 3),
            ev("a3", 30, 4_000, 4),
        ]),
        Append(vec![
            ev("b0", 0, 5_000, 5),
            ev("a1", 0, 2_000, 2),
            ev("b1", 2, 6_000, 6),
        ]),
        Flush,
        Append(vec![ev("c0", 0, 7_000, 7), ev("c1", 1, 8_000, 8)]),
        Flush,
        Reopen,
        Append(vec![
            ev("d0", 0, 9_000, 9),
            ev("d1", 1, 10_000, 10),
            ev("d2", 30, 11_000, 11),
        ]),
        // Today's third segment: the seal compacts the day.
        Flush,
        Advance(1),
        // The day 30 days ago is now 31 days old.
        Retention,
        Append(vec![ev("e0", -1, 12_000, 12), ev("e1", 0, 13_000, 13)]),
        Append(vec![ev("f0", -1, 14_000, 14)]),
        Flush,
        Compact,
    ]
}

/// What the workload attempted and what the engine acknowledged.
#[derive(Default)]
struct Outcome {
    attempted: BTreeMap<String, Event>,
    acked: BTreeSet<String>,
    /// An fsync failed at some point (the engine must then be failed).
    fsync_failed: bool,
    /// An append or flush returned Ok after an fsync failure.
    acked_after_fsync_failure: Vec<String>,
}

/// Runs the workload; after a failed step it carries on (a power loss makes
/// every later step fail). Returns the engine if one is open.
fn run(sim: &SimStorage, clock: &ManualClock, steps: &[Step]) -> (Outcome, Option<Engine>) {
    let mut out = Outcome::default();
    let mut engine = match Engine::open(ROOT, opts(sim, clock)) {
        Ok(e) => Some(e),
        Err(e) => {
            out.fsync_failed |= matches!(e, Error::Fsync { .. });
            None
        }
    };
    for (i, step) in steps.iter().enumerate() {
        let Some(eng) = engine.as_ref() else {
            if let Step::Append(evs) = step {
                for e in evs {
                    out.attempted.insert(e.event_id.clone(), e.clone());
                }
            }
            if matches!(step, Step::Reopen) {
                engine = Engine::open(ROOT, opts(sim, clock)).ok();
                if engine.is_some() {
                    out.fsync_failed = false;
                }
            }
            continue;
        };
        let r: Result<(), Error> = match step {
            Step::Append(evs) => {
                for e in evs {
                    out.attempted.insert(e.event_id.clone(), e.clone());
                }
                eng.append(evs.clone()).map(|rep| {
                    assert!(rep.rejected.is_empty(), "step {i}: {:?}", rep.rejected);
                    for e in evs {
                        out.acked.insert(e.event_id.clone());
                    }
                    if out.fsync_failed {
                        out.acked_after_fsync_failure
                            .push(format!("append at step {i}"));
                    }
                })
            }
            Step::Flush => eng.flush(),
            Step::Compact => eng.compact().map(|_| ()),
            Step::Retention => eng.enforce_retention().map(|_| ()),
            Step::Advance(days) => {
                clock.advance_ms(days * 86_400_000);
                Ok(())
            }
            Step::Reopen => {
                engine = None;
                match Engine::open(ROOT, opts(sim, clock)) {
                    Ok(e) => {
                        engine = Some(e);
                        // A reopened engine starts healthy.
                        out.fsync_failed = false;
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = r
            && matches!(e, Error::Fsync { .. })
        {
            out.fsync_failed = true;
        }
    }
    (out, engine)
}

fn stored_events(engine: &Engine, ctx: &str) -> Vec<Event> {
    let snap = engine.snapshot();
    let mut all = Vec::new();
    for day in snap.days() {
        let evs = snap
            .day_events(day)
            .unwrap_or_else(|e| panic!("{ctx}: day {day} unreadable: {e}"));
        all.extend(evs);
    }
    all
}

/// Opens `sim` after the fault and checks the invariants.
fn check_recovered(sim: &SimStorage, clock: &ManualClock, out: &Outcome, ctx: &str) {
    let engine =
        Engine::open(ROOT, opts(sim, clock)).unwrap_or_else(|e| panic!("{ctx}: open: {e}"));
    let horizon = Day::of_ms(clock.now_ms()).add_days(-30);
    let got = stored_events(&engine, ctx);
    let mut seen = BTreeSet::new();
    for e in &got {
        assert!(
            seen.insert(e.event_id.clone()),
            "{ctx}: {} twice",
            e.event_id
        );
        let Some(a) = out.attempted.get(&e.event_id) else {
            panic!("{ctx}: {} was never appended", e.event_id);
        };
        assert_eq!(e, a, "{ctx}: {} differs from what was appended", e.event_id);
        assert!(e.day() >= horizon, "{ctx}: {} is expired", e.event_id);
    }
    for id in &out.acked {
        let day = out.attempted[id].day();
        if day >= horizon {
            assert!(seen.contains(id), "{ctx}: acknowledged {id} lost");
        }
    }
    let problems = engine.verify();
    assert!(problems.is_empty(), "{ctx}: verify: {problems:?}");
    // It takes new writes, and they survive a clean reopen.
    let probe = event("probe", clock.now_ms(), 99);
    engine
        .append(vec![probe])
        .unwrap_or_else(|e| panic!("{ctx}: append after recovery: {e}"));
    engine
        .flush()
        .unwrap_or_else(|e| panic!("{ctx}: flush after recovery: {e}"));
    drop(engine);
    let engine =
        Engine::open(ROOT, opts(sim, clock)).unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
    let ids: BTreeSet<String> = stored_events(&engine, ctx)
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert!(ids.contains("probe"), "{ctx}: the probe was lost");
    assert!(
        seen.iter().all(|id| ids.contains(id)),
        "{ctx}: events lost by the second reopen"
    );
}

#[test]
fn the_clean_workload_stores_what_the_model_says() {
    let sim = fresh_sim();
    let c = clock();
    let (out, engine) = run(&sim, &c, &workload());
    let engine = engine.expect("open");
    let ids: BTreeSet<String> = stored_events(&engine, "clean")
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    // a3 and d2 were 30 days old; the clock moved a day; they expired.
    let want: BTreeSet<String> = [
        "a0", "a1", "a2", "b0", "b1", "c0", "c1", "d0", "d1", "e0", "e1", "f0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(ids, want);
    assert_eq!(out.acked.len(), 14);
    let stats = engine.stats();
    assert!(stats.counters.compactions >= 1, "{:?}", stats.counters);
    assert!(stats.counters.days_dropped >= 1, "{:?}", stats.counters);
    assert!(sim.mutations() > 50, "{}", sim.mutations());
}

#[test]
fn power_loss_at_every_crash_point_keeps_every_acknowledged_event() {
    let c = clock();
    let clean = fresh_sim();
    drop(run(&clean, &c, &workload()));
    let points = clean.mutations();
    let setup = fresh_sim().mutations();
    let mut checked = 0;
    for k in setup + 1..=points {
        let sim = fresh_sim();
        sim.crash_after(k);
        let c = clock();
        let (out, engine) = run(&sim, &c, &workload());
        drop(engine);
        assert!(sim.is_crashed(), "crash point {k} of {points} not reached");
        for policy in [
            CrashPolicy::KeepAll,
            CrashPolicy::DropAll,
            CrashPolicy::GarbleAll { seed: k },
            CrashPolicy::Random { seed: k },
            CrashPolicy::Random { seed: k ^ 0x5eed },
        ] {
            let disk = sim.crash_image(policy);
            check_recovered(
                &disk,
                &c,
                &out,
                &format!("crash after op {k}/{points}, {policy:?}"),
            );
            checked += 1;
        }
    }
    eprintln!("power loss: {points} crash points, {checked} recovered disks checked");
}

#[test]
fn io_errors_on_a_countdown_never_acknowledge_what_is_not_durable() {
    let c = clock();
    let clean = fresh_sim();
    drop(run(&clean, &c, &workload()));
    let mut runs = 0;
    for op in [
        FaultOp::Write,
        FaultOp::Sync,
        FaultOp::Rename,
        FaultOp::Remove,
        FaultOp::Open,
    ] {
        let total = clean.op_count(op);
        assert!(total > 0, "{op:?} never happens in the workload");
        for n in 1..=total {
            for persistent in [false, true] {
                let ctx = format!(
                    "{op:?} #{n} of {total} fails{}",
                    if persistent { " and keeps failing" } else { "" }
                );
                let sim = fresh_sim();
                sim.fail(op, n, persistent, ErrorKind::Other);
                let c = clock();
                let (out, engine) = run(&sim, &c, &workload());
                assert!(
                    out.acked_after_fsync_failure.is_empty(),
                    "{ctx}: acknowledged after a failed fsync: {:?}",
                    out.acked_after_fsync_failure
                );
                drop(engine);
                sim.heal();
                // After the faults stop: a plain reopen, and a power loss
                // that drops everything not synced.
                check_recovered(
                    &sim.crash_image(CrashPolicy::DropAll),
                    &c,
                    &out,
                    &format!("{ctx}, power lost"),
                );
                check_recovered(&sim, &c, &out, &ctx);
                runs += 1;
            }
        }
    }
    eprintln!("I/O errors: {runs} faulty runs checked");
}

#[test]
fn a_full_disk_fails_appends_and_seals_cleanly_and_recovers_when_space_returns() {
    let c = clock();
    let sim = fresh_sim();
    let engine = Engine::open(ROOT, opts(&sim, &c)).unwrap();
    let first: Vec<Event> = (0..20)
        .map(|i| ev(&format!("x{i}"), 0, i, i as u64))
        .collect();
    engine.append(first).unwrap();
    // No room for another log record.
    sim.set_capacity_bytes(Some(sim.used_bytes() + 100));
    let big: Vec<Event> = (0..20)
        .map(|i| ev(&format!("y{i}"), 0, 100 + i, i as u64))
        .collect();
    match engine.append(big.clone()) {
        Err(Error::Io { source, .. }) => assert_eq!(source.kind(), ErrorKind::StorageFull),
        other => panic!("expected a disk-full error, got {other:?}"),
    }
    // Not a failed fsync: the engine is not failed, nothing was stored.
    assert!(engine.stats().failed.is_none());
    assert_eq!(stored_events(&engine, "full").len(), 20);
    // A seal cannot write its segment either; the events stay buffered.
    match engine.flush() {
        Err(Error::Io { source, .. }) => assert_eq!(source.kind(), ErrorKind::StorageFull),
        other => panic!("expected the seal's disk-full error, got {other:?}"),
    }
    assert!(engine.stats().failed.is_none());
    assert_eq!(stored_events(&engine, "full").len(), 20);
    // Space returns: the same batch goes in, and the seal succeeds.
    sim.set_capacity_bytes(None);
    assert_eq!(engine.append(big).unwrap().stored, 20);
    engine.flush().unwrap();
    drop(engine);
    let engine = Engine::open(ROOT, opts(&sim, &c)).unwrap();
    assert_eq!(stored_events(&engine, "reopened").len(), 40);
    assert!(engine.verify().is_empty());
    // And after a power loss that drops everything unsynced.
    drop(engine);
    let disk = sim.crash_image(CrashPolicy::DropAll);
    let engine = Engine::open(ROOT, opts(&disk, &c)).unwrap();
    assert_eq!(stored_events(&engine, "power lost").len(), 40);
}

#[test]
fn a_second_engine_on_the_same_simulated_directory_is_refused() {
    let c = clock();
    let sim = fresh_sim();
    let _a = Engine::open(ROOT, opts(&sim, &c)).unwrap();
    assert!(matches!(
        Engine::open(ROOT, opts(&sim, &c)),
        Err(Error::Locked(p)) if p == Path::new(ROOT)
    ));
}

/// Regression: with interval durability a seal created the next log before
/// syncing the old one's tail; a power loss in between left a torn record
/// in a log that was no longer the newest, which is corruption, and no open
/// succeeded after it. Now the old log is synced first. Interval durability
/// may lose the unsynced batches (by design), never the ability to open.
#[test]
fn interval_durability_power_loss_during_a_seal_still_opens() {
    use daybook::Durability;
    let c = clock();
    let interval = |sim: &SimStorage| Options {
        durability: Durability::IntervalMs(3_600_000),
        ..opts(sim, &c)
    };
    // A full buffer (opts: 1,000 events): the append that fills it starts a
    // seal, and with it the next log, while its own record is unsynced.
    let batch = |tag: &str| -> Vec<Event> {
        (0..1_000)
            .map(|i| ev(&format!("{tag}{i}"), i % 2, i, i as u64))
            .collect()
    };
    // How many mutating operations that append makes, in a clean run.
    let clean = fresh_sim();
    let engine = Engine::open(ROOT, interval(&clean)).unwrap();
    let before = clean.mutations();
    engine.append(batch("a")).unwrap();
    let append_ops = clean.mutations() - before;
    drop(engine);
    assert!(append_ops > 5, "{append_ops}");
    let mut opened = 0;
    for k in 1..=append_ops {
        let sim = fresh_sim();
        let engine = Engine::open(ROOT, interval(&sim)).unwrap();
        sim.crash_after(sim.mutations() + k);
        let _ = engine.append(batch("a"));
        drop(engine);
        assert!(
            sim.is_crashed(),
            "crash point {k} of {append_ops} not reached"
        );
        for policy in [
            CrashPolicy::DropAll,
            CrashPolicy::GarbleAll { seed: k },
            CrashPolicy::Random { seed: k },
        ] {
            let disk = sim.crash_image(policy);
            let engine = Engine::open(ROOT, interval(&disk))
                .unwrap_or_else(|e| panic!("crash after append op {k}, {policy:?}: {e}"));
            let n = engine.snapshot().event_count();
            assert!(n == 0 || n == 1_000, "{n} events after {policy:?} at {k}");
            opened += 1;
        }
    }
    assert_eq!(opened, 3 * append_ops);
}
