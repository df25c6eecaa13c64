//! What an append reports back, and engine statistics.

use std::fmt;

use crate::event::FieldError;
use crate::time::{Day, format_ms};

/// Why one event of a batch was not stored.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// It breaks a rule of the contract.
    Invalid(FieldError),
    /// Its day is older than the retention horizon.
    Expired {
        /// The event's day.
        day: Day,
        /// The oldest day kept.
        horizon: Day,
    },
    /// Its timestamp is further in the future than `max_future_ms` allows.
    Future {
        /// The event's timestamp, ms since the epoch.
        ts_ms: i64,
        /// The engine's clock when the batch arrived, ms since the epoch.
        now_ms: i64,
    },
    /// Its day has a quarantined segment (or one whose id index fails its
    /// checks), so a copy of it there cannot be ruled out: storing it could
    /// store it twice. Restore or remove the damaged segment, then re-send.
    Quarantined {
        /// The event's day.
        day: Day,
    },
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::Invalid(e) => write!(f, "{e}"),
            RejectReason::Expired { day, horizon } => write!(
                f,
                "field \"event_timestamp\": day {day} is older than the retention horizon {horizon}"
            ),
            RejectReason::Future { ts_ms, now_ms } => write!(
                f,
                "field \"event_timestamp\": {} is in the future (now is {})",
                format_ms(*ts_ms),
                format_ms(*now_ms)
            ),
            RejectReason::Quarantined { day } => write!(
                f,
                "field \"event_timestamp\": day {day} has a quarantined segment, so a stored \
                 copy of this event cannot be ruled out; restore or remove the damaged segment \
                 (`daybook verify` names it), then send again"
            ),
        }
    }
}

impl RejectReason {
    /// A short, stable name for grouping rejections in summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            RejectReason::Invalid(_) => "invalid",
            RejectReason::Expired { .. } => "expired",
            RejectReason::Future { .. } => "future",
            RejectReason::Quarantined { .. } => "quarantined",
        }
    }
}

/// One rejected event: its index in the batch (from 0) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The event's index in the batch, from 0.
    pub index: usize,
    /// Why it was not stored.
    pub reason: RejectReason,
}

/// The outcome of one `append`. When `append` returns it, every stored event
/// is durable (under the default durability) and visible to new snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendReport {
    /// Events stored by this call.
    pub stored: usize,
    /// Events whose (`company_name`, `event_id`) was already stored (or
    /// appeared earlier in the same batch): acknowledged, not stored again.
    /// The same id under another company is another event, not a duplicate.
    pub duplicates: usize,
    /// Events refused, in batch order.
    pub rejected: Vec<Rejection>,
}

impl AppendReport {
    /// Adds another report's counts to this one, shifting its indexes by
    /// `offset` (for callers that split one input into several batches).
    pub fn merge(&mut self, other: AppendReport, offset: usize) {
        self.stored += other.stored;
        self.duplicates += other.duplicates;
        self.rejected
            .extend(other.rejected.into_iter().map(|mut r| {
                r.index += offset;
                r
            }));
    }
}

/// One day partition's figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayStats {
    /// The partition's day.
    pub day: Day,
    /// Sealed segments (a compacted day has one).
    pub segments: usize,
    /// Events in sealed segments.
    pub sealed_events: u64,
    /// Events still in the write buffer.
    pub buffered_events: u64,
    /// Bytes of segment files.
    pub bytes: u64,
    /// Bytes of bitmap index sections.
    pub index_bytes: u64,
    /// Bytes of dictionary sections and code maps.
    pub dictionary_bytes: u64,
    /// Segments that failed their checks.
    pub damaged: usize,
}

impl DayStats {
    fn of(day: Day, d: &crate::state::DayState) -> DayStats {
        use crate::segment::SectionKind;
        let mut s = DayStats {
            day,
            segments: d.segments.len(),
            sealed_events: d.segment_rows(),
            buffered_events: d.mem_events() as u64,
            bytes: 0,
            index_bytes: 0,
            dictionary_bytes: 0,
            damaged: d.damaged.len(),
        };
        for seg in &d.segments {
            s.bytes += seg.file_bytes();
            for (kind, _, len) in seg.section_sizes() {
                match kind {
                    SectionKind::Bitmaps => s.index_bytes += len,
                    SectionKind::DictValues | SectionKind::CodeMap => s.dictionary_bytes += len,
                    _ => {}
                }
            }
        }
        s
    }
}

/// Counters since the engine was opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Events stored.
    pub stored: u64,
    /// Events skipped as already stored (same company and `event_id`).
    pub duplicates: u64,
    /// Events refused for breaking the contract.
    pub rejected_invalid: u64,
    /// Events refused for being older than the retention horizon.
    pub rejected_expired: u64,
    /// Events refused for being stamped too far in the future.
    pub rejected_future: u64,
    /// Events refused because their day has a quarantined segment.
    pub rejected_quarantined: u64,
    /// Seals completed (buffer to segments).
    pub seals: u64,
    /// Segments written by seals (one per day a seal touched).
    pub segments_written: u64,
    /// Merges of a day's segments (automatic and `compact`).
    pub compactions: u64,
    /// Wall time spent sealing (including automatic compaction).
    pub seal_ms: u64,
    /// Wall time spent compacting.
    pub compact_ms: u64,
    /// Day partitions dropped by retention (for a reader: hidden).
    pub days_dropped: u64,
    /// Events recovered from the log on open.
    pub replayed_events: u64,
    /// Bytes of torn log tail truncated on open.
    pub torn_tail_bytes: u64,
}

/// A summary of the engine's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    /// "Today" by the engine's clock.
    pub today: Day,
    /// Oldest day kept.
    pub horizon: Day,
    /// Days kept.
    pub retention_days: u32,
    /// Each partition inside retention, ascending.
    pub days: Vec<DayStats>,
    /// Counters since open.
    pub counters: Counters,
    /// Bytes of the current log file (for a [`Reader`](crate::Reader): of
    /// the log files it read).
    pub log_bytes: u64,
    /// Set when the engine has failed (see `Error::Failed`).
    pub failed: Option<String>,
}

impl Stats {
    /// The partitions of a snapshot, with no counters, log bytes or failure.
    pub(crate) fn of_snapshot(snap: &crate::state::Snapshot, retention_days: u32) -> Stats {
        Stats {
            today: snap.today,
            horizon: snap.horizon,
            retention_days,
            days: snap
                .partitions()
                .map(|(day, d)| DayStats::of(day, d))
                .collect(),
            counters: Counters::default(),
            log_bytes: 0,
            failed: None,
        }
    }

    /// Events held (sealed and buffered).
    pub fn events(&self) -> u64 {
        self.days
            .iter()
            .map(|d| d.sealed_events + d.buffered_events)
            .sum()
    }
    /// Bytes of segment files.
    pub fn bytes(&self) -> u64 {
        self.days.iter().map(|d| d.bytes).sum()
    }
    /// Sealed segments, all days.
    pub fn segments(&self) -> usize {
        self.days.iter().map(|d| d.segments).sum()
    }
}
