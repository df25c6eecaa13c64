//! `Engine::close`: the error dropping an engine swallows, reported.

mod common;

use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;

use common::*;
use daybook::storage::{FaultOp, SimStorage, Storage};
use daybook::{Durability, Engine, Error, Options};

fn sim_options(sim: &SimStorage, durability: Durability) -> Options {
    Options {
        storage: Arc::new(sim.clone()),
        durability,
        ..options(&clock())
    }
}

fn fresh_sim() -> SimStorage {
    let sim = SimStorage::new();
    sim.create_dir_all(Path::new("/sim")).unwrap();
    sim.sync_dir(Path::new("/")).unwrap();
    sim
}

/// Interval durability leaves the last appends unsynced; `close` syncs
/// them, says so, and releases the lock: a new engine opens at once and
/// holds every event.
#[test]
fn close_syncs_the_last_interval_and_releases_the_lock() {
    let sim = fresh_sim();
    let dir = Path::new("/sim/data");
    let engine = Engine::open(dir, sim_options(&sim, Durability::IntervalMs(3_600_000))).unwrap();
    let events: Vec<_> = (0..10)
        .map(|i| event(&format!("e{i}"), day_ms(0, 1_000 + i), i as u64))
        .collect();
    assert_eq!(engine.append(events.clone()).unwrap().stored, 10);
    let syncs_before = sim.op_count(FaultOp::Sync);
    engine.close().unwrap();
    assert!(
        sim.op_count(FaultOp::Sync) > syncs_before,
        "close synced the log"
    );
    // Only what was synced survives a power loss: all ten events.
    let after_crash = sim.crash_image(daybook::storage::CrashPolicy::DropAll);
    let engine = Engine::open(dir, sim_options(&after_crash, Durability::EveryBatch)).unwrap();
    assert_eq!(engine.snapshot().event_count(), 10);
    engine.close().unwrap();
}

/// The fsync `close` makes fails: `close` returns the fsync error (a drop
/// would have said nothing), and the events it could not sync are not
/// claimed.
#[test]
fn close_reports_a_failed_sync() {
    let sim = fresh_sim();
    let dir = Path::new("/sim/data");
    let engine = Engine::open(dir, sim_options(&sim, Durability::IntervalMs(3_600_000))).unwrap();
    let e = event("only", day_ms(0, 5_000), 1);
    assert_eq!(engine.append(vec![e]).unwrap().stored, 1);
    sim.fail(FaultOp::Sync, 1, true, ErrorKind::Other);
    match engine.close() {
        Err(Error::Fsync { path, .. }) => {
            assert_eq!(path.parent(), Some(dir.join("log").as_path()), "{path:?}")
        }
        other => panic!("expected the log's fsync error, got {other:?}"),
    }
}

/// An engine already failed by an fsync error says so at close.
#[test]
fn close_of_a_failed_engine_is_an_error() {
    let sim = fresh_sim();
    let dir = Path::new("/sim/data");
    let engine = Engine::open(dir, sim_options(&sim, Durability::EveryBatch)).unwrap();
    sim.fail(FaultOp::Sync, 1, false, ErrorKind::Other);
    let e = event("first", day_ms(0, 5_000), 1);
    assert!(matches!(engine.append(vec![e]), Err(Error::Fsync { .. })));
    sim.heal();
    assert!(matches!(engine.close(), Err(Error::Failed(_))));
}
