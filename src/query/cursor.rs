//! Opaque paging cursors for event listings.
//!
//! A cursor is the sort key of the last row a page returned: the values of
//! every sort key (the order always ends with `event_id`, `company_name`,
//! an event's identity, so the key is unique), as a JSON array, prefixed by
//! a check of the sort order it was made for, hex-encoded. The next page is the rows strictly after it.
//! Rows appended between pages that sort before the cursor are not
//! returned; nothing is returned twice.

use crate::error::{Error, Result};
use crate::event::{EventType, FieldKind};
use crate::time::{Day, parse_rfc3339_ms};

use super::scalar::Scalar;

/// What a sort key is: the count, or a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SortKey {
    /// The group's count.
    Count,
    /// A field's value.
    Field(crate::event::Field),
}

fn order_tag(order: &[(SortKey, bool)]) -> String {
    let spec: Vec<String> = order
        .iter()
        .map(|(k, desc)| match k {
            SortKey::Count => format!("count:{desc}"),
            SortKey::Field(f) => format!("{f}:{desc}"),
        })
        .collect();
    format!(
        "{:08x}",
        xxhash_rust::xxh3::xxh3_64(spec.join(",").as_bytes()) as u32
    )
}

/// The cursor for a row whose sort key is `key`.
pub(crate) fn encode(order: &[(SortKey, bool)], key: &[Scalar]) -> String {
    let items: Vec<_> = key.iter().map(Scalar::to_json).collect();
    let text = format!("{}{}", order_tag(order), serde_json::Value::Array(items));
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn invalid() -> Error {
    Error::InvalidQuery("cursor: not a cursor of this query's sort order".into())
}

/// The sort key a cursor holds, checked against `order`.
pub(crate) fn decode(cursor: &str, order: &[(SortKey, bool)]) -> Result<Option<Vec<Scalar>>> {
    if !cursor.len().is_multiple_of(2) || !cursor.is_ascii() {
        return Err(invalid());
    }
    let bytes = (0..cursor.len() / 2)
        .map(|i| u8::from_str_radix(cursor.get(2 * i..2 * i + 2).unwrap_or("zz"), 16))
        .collect::<std::result::Result<Vec<u8>, _>>()
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let tag = order_tag(order);
    let json = text.strip_prefix(tag.as_str()).ok_or_else(invalid)?;
    let items: Vec<serde_json::Value> = serde_json::from_str(json).map_err(|_| invalid())?;
    // No key: the start of the listing (the cursor of an empty first page).
    if items.is_empty() {
        return Ok(None);
    }
    if items.len() != order.len() {
        return Err(invalid());
    }
    order
        .iter()
        .zip(&items)
        .map(|((k, _), j)| {
            let SortKey::Field(f) = k else {
                return Err(invalid());
            };
            if j.is_null() {
                return Ok(Scalar::Null);
            }
            let s = j.as_str();
            let v = match f.kind() {
                FieldKind::Str => s.map(|s| Scalar::Str(s.into())),
                FieldKind::EventType => s.and_then(EventType::parse).map(Scalar::EventType),
                FieldKind::Int => j.as_u64().map(Scalar::Int),
                FieldKind::Bool => j.as_bool().map(Scalar::Bool),
                FieldKind::Timestamp => s
                    .and_then(|s| parse_rfc3339_ms(s).ok())
                    .map(Scalar::Timestamp),
                FieldKind::Date => s.and_then(Day::parse).map(Scalar::Date),
            };
            v.ok_or_else(invalid)
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}
