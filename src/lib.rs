//! daybook: a storage engine for user-activity audit events.
//!
//! An embedder opens an [`Engine`] on a data directory, appends batches of
//! [`Event`]s (each acknowledged batch is durable), and answers reports
//! with a [`Query`] over a [`Snapshot`]; a [`Reader`] looks at a directory
//! without writing to it, also while an engine writes. Everything else
//! (segments, the log, the planner) is private: see `docs/architecture.md`
//! for the modules and data flow, and `docs/format.md` for the bytes on
//! disk.
//!
//! Features: `cli` (the `daybook` tool), `grpc` (the module `grpc`, the server),
//! `parquet` (the module `export`), `generate` (the module `generate`, synthetic activity).
//! An embedder turns the defaults off (`default-features = false`) and
//! compiles none of the front ends' dependencies.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

/// Declares modules that are private, except with the feature `internals`
/// (this crate's own tests, fuzz targets, benches and examples), where
/// they are public and hidden from the docs. Not an API: nothing in them
/// is a promise, and any of it may change in any release.
macro_rules! internal_mods {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        #[allow(missing_docs)]
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        mod $name;
    )*};
}

internal_mods!(codec, event, files, idset, log, segment);

mod cut;

pub mod csv_event;
mod engine;
mod error;
#[cfg(feature = "parquet")]
pub mod export;
#[cfg(feature = "generate")]
pub mod generate;
#[cfg(feature = "grpc")]
pub mod grpc;
pub mod ingest;
pub mod json;
mod options;
pub mod query;
mod reader;
mod report;
mod state;
pub mod storage;
pub mod time;

pub use engine::Engine;
pub use error::{Error, Result};
pub use event::{Event, EventBuilder, EventType, Field, FieldError, FieldKind, Value};
pub use options::{Durability, Options};
pub use query::{CancelToken, DEFAULT_QUERY_MEMORY_BYTES, MemoryPool, QueryOptions};
pub use query::{
    Direction, Explain, Op, Operand, Predicate, Query, QueryResult, Row, Scalar, Select,
};
pub use reader::Reader;
pub use report::{AppendReport, Counters, DayStats, RejectReason, Rejection, Stats};
pub use state::{Damage, DayState, Snapshot};
pub use time::{Clock, Day, ManualClock, SystemClock};

/// The README's code examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
