//! Immutable, memory-mapped, columnar segment files: one per flush of a day
//! partition. Format: docs/format.md, "Segment file".

pub(crate) mod bloom;
pub mod format;
mod framed;
pub(crate) mod groups;
#[cfg(feature = "internals")]
pub use groups::forge_group_crcs;
mod needle;
mod reader;
pub mod tokens;
mod writer;

pub use format::{Encoding, SectionKind};
pub use needle::NEEDLE_FIELDS;
pub(crate) use needle::value_hash as needle_value_hash;
pub use reader::{
    BlockCursor, DictColumn, RowChunk, SegmentReader, TOKEN_FIELDS, Timestamps, TokenIndex,
};
pub use writer::SegmentWriter;
#[cfg(feature = "internals")]
pub use writer::WrittenSegment;

use crate::event::{EventType, Field, FieldKind, Value};
use crate::time::Day;

/// Fields with a roaring bitmap per distinct value: the ones reports filter
/// on most. `event_name` has none (docs/format.md, "Bitmaps section"): its
/// bitmaps were larger than its codes, reports group by it rather than
/// filter on it, and a filter on it narrows first with the bitmaps of
/// `event_type` and `tool_name`, which it determines.
pub const INDEXED_FIELDS: [Field; 6] = [
    Field::UserId,
    Field::ToolName,
    Field::EventType,
    Field::CompanyName,
    Field::ProjectName,
    Field::DeviceType,
];

/// How each stored field is encoded. Unique, rarely-read columns are
/// block-compressed; everything else is dictionary-coded.
pub fn encoding_of(field: Field) -> Encoding {
    match field {
        Field::EventTimestamp => Encoding::Timestamps,
        Field::EventId | Field::Url | Field::ObjectId => Encoding::Blocks,
        _ => Encoding::Dict,
    }
}

/// The u64 key of a non-string dictionary value.
pub(crate) fn value_key(v: Value<'_>) -> u64 {
    match v {
        Value::Int(n) => n,
        Value::Bool(b) => u64::from(b),
        Value::Date(d) => u64::from(d.0 as u32),
        Value::EventType(t) => u64::from(t.ordinal()),
        Value::Timestamp(ms) => ms as u64,
        Value::Null | Value::Str(_) => 0,
    }
}

/// The value of a non-string dictionary key, or `None` if the key is not a
/// valid value of the field's kind.
pub(crate) fn key_value(field: Field, key: u64) -> Option<Value<'static>> {
    match field.kind() {
        FieldKind::Int => Some(Value::Int(key)),
        FieldKind::Bool => match key {
            0 => Some(Value::Bool(false)),
            1 => Some(Value::Bool(true)),
            _ => None,
        },
        FieldKind::Date => i32::try_from(key).ok().map(|d| Value::Date(Day(d))),
        FieldKind::EventType => EventType::from_ordinal(key).map(Value::EventType),
        FieldKind::Timestamp => i64::try_from(key).ok().map(Value::Timestamp),
        FieldKind::Str => None,
    }
}
