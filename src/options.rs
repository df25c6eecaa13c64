//! How an engine is configured.

use std::sync::Arc;

use crate::storage::Storage;
use crate::time::{Clock, SystemClock};

/// When appended events reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `append` returns only after its batch is fsynced (one fsync per batch,
    /// however many days it touches). The default: "returned Ok" means
    /// durable.
    EveryBatch,
    /// `append` returns after writing to the log; a background thread
    /// fsyncs every `interval_ms`. A crash or power loss can lose the events
    /// of the last interval even though `append` returned Ok. For embedders
    /// that can re-send (their source is itself durable) and want speed.
    IntervalMs(u64),
}

/// Engine options. `Options::default()` is the production configuration.
#[derive(Clone, Debug)]
pub struct Options {
    /// Days kept: today (UTC) and the `retention_days - 1` before it.
    pub retention_days: u32,
    /// The clock that says what "today" is. Inject a
    /// [`ManualClock`](crate::ManualClock) for reproducible runs.
    pub clock: Arc<dyn Clock>,
    /// When an append's events reach the disk (default: every batch is
    /// fsynced before `append` returns).
    pub durability: Durability,
    /// Unsealed events held in memory (and in the log) before they are
    /// sealed into segments. Bounds the memory of the write buffer: while
    /// a seal is still writing, appends go on until twice this many are
    /// buffered (plus the events being sealed) before they wait for it.
    pub max_buffered_events: usize,
    /// Events stamped more than this far after "now" are rejected as being
    /// in the future (a clock-skew guard).
    pub max_future_ms: i64,
    /// A day with at least this many segments is compacted after a seal.
    /// 0 disables automatic compaction.
    pub compact_min_segments: usize,
    /// A day with more than one segment and no append for this long is
    /// merged into one segment by a background thread (engine/settle.rs):
    /// the form queries are fastest on. 0 turns the thread off
    /// ([`Engine::settle`](crate::Engine::settle) still does it on demand).
    pub settle_after_ms: u64,
    /// Capacity of the in-memory filter over the ids sealed since open (one
    /// duplicate probe per event instead of one per segment); 1.25 bytes per
    /// key. Segments beyond it are probed one by one.
    pub sealed_id_filter_keys: usize,
    /// Where the files go: the real file system by default. Tests pass a
    /// `SimStorage` (feature `internals`) to inject I/O failures
    /// and power loss.
    pub storage: Arc<dyn Storage>,
    /// Whether [`Engine::open`](crate::Engine::open) creates a missing data
    /// directory (the default, for embedders). The CLI's commands that only
    /// maintain an existing directory (`compact`, `retention`) turn it off,
    /// so that a mistyped path fails instead of answering about an empty
    /// directory.
    pub create_if_missing: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retention_days: 31,
            clock: Arc::new(SystemClock),
            durability: Durability::EveryBatch,
            max_buffered_events: 65_536,
            max_future_ms: crate::time::MS_PER_DAY,
            compact_min_segments: 4,
            settle_after_ms: 30_000,
            sealed_id_filter_keys: 8 << 20,
            storage: crate::storage::os(),
            create_if_missing: true,
        }
    }
}

impl Options {
    /// Checks the options an open depends on; the caller's error names the
    /// option.
    pub(crate) fn validate(&self) -> crate::Result<()> {
        if self.retention_days == 0 {
            return Err(crate::Error::InvalidOptions(
                "retention_days must be at least 1".into(),
            ));
        }
        if self.max_buffered_events == 0 {
            return Err(crate::Error::InvalidOptions(
                "max_buffered_events must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The oldest day kept when "today" is `today`: today and the
    /// `retention_days - 1` days before it. (The one place this formula is
    /// written: the writer drops, and a reader hides, what is older.)
    pub(crate) fn horizon(&self, today: crate::time::Day) -> crate::time::Day {
        today.add_days(1 - self.retention_days.min(i32::MAX as u32) as i32)
    }

    /// "Today" by the options' clock.
    pub(crate) fn today(&self) -> crate::time::Day {
        crate::time::Day::of_ms(self.clock.now_ms())
    }

    /// The default options with this clock.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Options {
        Options {
            clock,
            ..Options::default()
        }
    }
}
