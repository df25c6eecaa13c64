//! daybook: a storage engine for user-activity audit events.
//!
//! See `docs/architecture.md` for the modules and data flow, and
//! `docs/format.md` for the on-disk format.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod codec;
pub mod error;
pub mod event;
pub mod files;
pub mod json;
pub mod log;
pub mod segment;
pub mod time;

pub use error::{Error, Result};
pub use event::{Event, EventType, Field, FieldKind, Value};
pub use time::{Clock, Day, ManualClock, SystemClock};
