//! UTC days, timestamps and the injectable clock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};

/// Milliseconds in one UTC day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// A UTC calendar day, as the number of days since 1970-01-01.
///
/// A day is the unit of partitioning and of retention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i32);

impl Day {
    /// The UTC day that contains `ts_ms` (milliseconds since the epoch).
    pub fn of_ms(ts_ms: i64) -> Day {
        // Timestamps are validated to years 1970..=9999, so this fits in i32.
        Day(ts_ms.div_euclid(MS_PER_DAY) as i32)
    }

    /// First millisecond of the day.
    pub fn start_ms(self) -> i64 {
        i64::from(self.0) * MS_PER_DAY
    }

    /// One past the last millisecond of the day.
    pub fn end_ms(self) -> i64 {
        self.start_ms() + MS_PER_DAY
    }

    /// The day `n` days later (or earlier, for negative `n`).
    pub fn add_days(self, n: i32) -> Day {
        Day(self.0.saturating_add(n))
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Day> {
        if s.len() != 10 {
            return None;
        }
        let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        Some(Day::from_naive(date))
    }

    fn from_naive(date: NaiveDate) -> Day {
        // num_days_from_ce counts from 0001-01-01 as day 1; 1970-01-01 is 719_163.
        Day(date.num_days_from_ce() - 719_163)
    }

    /// The calendar date, if representable.
    pub fn to_naive(self) -> Option<NaiveDate> {
        NaiveDate::from_num_days_from_ce_opt(self.0.checked_add(719_163)?)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_naive() {
            Some(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            None => write!(f, "day#{}", self.0),
        }
    }
}

/// Earliest timestamp the engine accepts: 1970-01-01T00:00:00Z.
pub const MIN_TS_MS: i64 = 0;
/// Latest timestamp the engine accepts: 9999-12-31T23:59:59.999Z.
pub const MAX_TS_MS: i64 = 253_402_300_799_999;

/// Why a text is not a time the contract accepts. The message quotes the
/// text and names the rule; callers add the field or flag it was given for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimeError(pub(crate) String);

impl From<TimeError> for String {
    fn from(e: TimeError) -> String {
        e.0
    }
}

/// Parses an RFC 3339 timestamp with any offset into UTC milliseconds,
/// truncating sub-millisecond digits.
pub fn parse_rfc3339_ms(s: &str) -> Result<i64, TimeError> {
    let dt = DateTime::parse_from_rfc3339(s).map_err(|e| {
        TimeError(format!(
            "not an RFC 3339 timestamp with offset ({e}): {s:?}"
        ))
    })?;
    let ms = dt.timestamp_millis();
    if !(MIN_TS_MS..=MAX_TS_MS).contains(&ms) {
        return Err(TimeError(format!("timestamp {s:?} is outside 1970..=9999")));
    }
    Ok(ms)
}

/// Formats UTC milliseconds as RFC 3339 with millisecond precision and `Z`.
pub fn format_ms(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => format!("@{ms}ms"),
    }
}

/// The engine's notion of "now". Injectable so that data sets and tests are
/// reproducible.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Milliseconds since the Unix epoch, UTC.
    fn now_ms(&self) -> i64;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        Utc::now().timestamp_millis()
    }
}

/// A clock that only moves when told to. Cloning shares the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock reading `now_ms`.
    pub fn new(now_ms: i64) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(now_ms)))
    }

    /// Sets the time.
    pub fn set_ms(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }

    /// Moves the time forward by `delta_ms`.
    pub fn advance_ms(&self, delta_ms: i64) {
        self.0.fetch_add(delta_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_round_trips() {
        let d = Day::parse("2026-11-26").unwrap();
        assert_eq!(d.to_string(), "2026-11-26");
        assert_eq!(Day::of_ms(d.start_ms()), d);
        assert_eq!(Day::of_ms(d.end_ms() - 1), d);
        assert_eq!(Day::of_ms(d.end_ms()), d.add_days(1));
        assert_eq!(Day::parse("1970-01-01"), Some(Day(0)));
        assert_eq!(Day::parse("2026-02-30"), None);
        assert_eq!(Day::parse("2026-1-01"), None);
    }

    #[test]
    fn offsets_normalise_and_truncate() {
        let a = parse_rfc3339_ms("2026-11-26T14:03:22.1239Z").unwrap();
        let b = parse_rfc3339_ms("2026-11-26T16:03:22.123+02:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(format_ms(a), "2026-11-26T14:03:22.123Z");
        assert!(parse_rfc3339_ms("2026-11-26 14:03:22").is_err());
        assert!(parse_rfc3339_ms("1969-12-31T23:59:59Z").is_err());
    }
}
