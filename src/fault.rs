//! Fault injection for tests: make the engine's fsyncs fail on a countdown.
//! Hidden from the documentation; production code never sets it.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// Fails fsyncs of the write-ahead log once a countdown reaches zero.
#[derive(Debug)]
pub struct FaultInjector {
    /// Fsyncs left before the failure; negative = never fail.
    countdown: AtomicI64,
    /// After the first failure, keep failing.
    persistent: AtomicBool,
}

impl Default for FaultInjector {
    fn default() -> Self {
        FaultInjector {
            countdown: AtomicI64::new(-1),
            persistent: AtomicBool::new(false),
        }
    }
}

impl FaultInjector {
    /// The `n`th log fsync from now (1 = the next) fails; with `persistent`,
    /// so does every later one.
    pub fn fail_fsync_after(&self, n: i64, persistent: bool) {
        self.persistent.store(persistent, Ordering::SeqCst);
        self.countdown.store(n, Ordering::SeqCst);
    }

    /// Stops injecting.
    pub fn heal(&self) {
        self.countdown.store(-1, Ordering::SeqCst);
    }

    /// Called before each log fsync.
    pub(crate) fn before_fsync(&self) -> std::io::Result<()> {
        let left = self.countdown.load(Ordering::SeqCst);
        if left < 0 {
            return Ok(());
        }
        if left <= 1 {
            if !self.persistent.load(Ordering::SeqCst) {
                self.countdown.store(-1, Ordering::SeqCst);
            } else {
                self.countdown.store(0, Ordering::SeqCst);
            }
            return Err(std::io::Error::other("injected fsync failure"));
        }
        self.countdown.store(left - 1, Ordering::SeqCst);
        Ok(())
    }
}
