//! daybook: a storage engine for user-activity audit events.
//!
//! See `docs/architecture.md` for the modules and data flow, and
//! `docs/format.md` for the on-disk format.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod codec;
pub mod csv_event;
mod engine;
pub mod error;
pub mod event;
#[cfg(feature = "parquet")]
pub mod export;
pub mod files;
pub mod generate;
#[cfg(feature = "grpc")]
pub mod grpc;
mod idset;
pub mod ingest;
pub mod json;
pub mod log;
mod options;
pub mod query;
mod reader;
mod recovery;
mod report;
mod seal;
pub mod segment;
mod state;
pub mod storage;
pub mod time;

pub use engine::Engine;
pub use error::{Error, Result};
pub use event::{Event, EventType, Field, FieldKind, Value};
pub use options::{Durability, Options};
pub use query::{CancelToken, QueryOptions};
pub use query::{Direction, Explain, Op, Query, QueryResult, Scalar, Select};
pub use reader::Reader;
pub use report::{AppendReport, Counters, DayStats, RejectReason, Rejection, Stats};
pub use state::{Damage, DayState, Snapshot};
pub use time::{Clock, Day, ManualClock, SystemClock};

/// The README's code examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
