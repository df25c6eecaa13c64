//! Binary encoding of events in log records, and little-endian helpers.
//! The byte layout is specified in docs/format.md ("Event record").

use crate::event::{Event, EventType, Field, FieldKind, Value};
use crate::time::Day;

/// Appends `n` as an unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A bounds-checked reader over a byte slice. Every read returns `None`
/// past the end instead of panicking.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).and_then(|s| s.first().copied())
    }

    pub fn u16(&mut self) -> Option<u16> {
        self.take(2)?.try_into().ok().map(u16::from_le_bytes)
    }

    pub fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_le_bytes)
    }

    pub fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_le_bytes)
    }

    pub fn i64(&mut self) -> Option<i64> {
        self.take(8)?.try_into().ok().map(i64::from_le_bytes)
    }

    pub fn varint(&mut self) -> Option<u64> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            n |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }
}

/// Reads the little-endian `u32` at `index` of a packed array.
#[inline]
pub fn le_u32_at(bytes: &[u8], index: usize) -> Option<u32> {
    let start = index.checked_mul(4)?;
    bytes
        .get(start..start + 4)?
        .try_into()
        .ok()
        .map(u32::from_le_bytes)
}

/// Reads the little-endian `u64` at `index` of a packed array.
#[inline]
pub fn le_u64_at(bytes: &[u8], index: usize) -> Option<u64> {
    let start = index.checked_mul(8)?;
    bytes
        .get(start..start + 8)?
        .try_into()
        .ok()
        .map(u64::from_le_bytes)
}

/// Appends the encoding of one field value (docs/format.md, "Value encoding").
/// Only optional fields can be null; their encodings reserve 0 for it.
pub fn encode_value(out: &mut Vec<u8>, field: Field, value: Value<'_>) {
    let required = field.required();
    match value {
        Value::Str(s) => {
            put_varint(out, s.len() as u64 + u64::from(!required));
            out.extend_from_slice(s.as_bytes());
        }
        Value::Int(n) => put_varint(out, if required { n } else { n + 1 }),
        Value::Bool(b) => out.push(u8::from(b) + u8::from(!required)),
        Value::Timestamp(ms) => out.extend_from_slice(&ms.to_le_bytes()),
        Value::Date(d) => put_varint(out, u64::from(d.0 as u32) + 1),
        Value::EventType(t) => out.push(t.ordinal()),
        Value::Null => out.push(0),
    }
}

/// Decodes one field value written by [`encode_value`].
pub fn decode_value<'a>(r: &mut Reader<'a>, field: Field) -> Result<Value<'a>, String> {
    let required = field.required();
    let short = || format!("record ends inside field {field}");
    Ok(match field.kind() {
        FieldKind::Str => {
            let n = r.varint().ok_or_else(short)?;
            if !required && n == 0 {
                Value::Null
            } else {
                let len = usize::try_from(n - u64::from(!required))
                    .map_err(|_| format!("field {field}: length {n} too large"))?;
                let bytes = r.take(len).ok_or_else(short)?;
                Value::Str(
                    std::str::from_utf8(bytes)
                        .map_err(|_| format!("field {field}: invalid UTF-8"))?,
                )
            }
        }
        FieldKind::Int => {
            let n = r.varint().ok_or_else(short)?;
            match (required, n) {
                (true, n) => Value::Int(n),
                (false, 0) => Value::Null,
                (false, n) => Value::Int(n - 1),
            }
        }
        FieldKind::Bool => match (required, r.u8().ok_or_else(short)?) {
            (true, b @ 0..=1) => Value::Bool(b == 1),
            (false, 0) => Value::Null,
            (false, b @ 1..=2) => Value::Bool(b == 2),
            (_, b) => return Err(format!("field {field}: bad boolean byte {b}")),
        },
        FieldKind::Timestamp => Value::Timestamp(r.i64().ok_or_else(short)?),
        FieldKind::Date => match r.varint().ok_or_else(short)? {
            0 => Value::Null,
            n => Value::Date(Day(
                i32::try_from(n - 1).map_err(|_| format!("field {field}: bad date {n}"))?
            )),
        },
        FieldKind::EventType => {
            let n = r.u8().ok_or_else(short)?;
            Value::EventType(
                EventType::from_ordinal(u64::from(n))
                    .ok_or_else(|| format!("field {field}: bad event type {n}"))?,
            )
        }
    })
}

/// Appends the record encoding of one event: its stored fields in contract
/// order, each as [`encode_value`] would write it. Spelled out field by field
/// because it is on the append path (a test checks it against the generic
/// form).
pub fn encode_event(out: &mut Vec<u8>, e: &Event) {
    fn req(out: &mut Vec<u8>, s: &str) {
        put_varint(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
    fn opt(out: &mut Vec<u8>, s: &Option<String>) {
        match s {
            Some(s) => {
                put_varint(out, s.len() as u64 + 1);
                out.extend_from_slice(s.as_bytes());
            }
            None => out.push(0),
        }
    }
    fn opt_bool(out: &mut Vec<u8>, b: Option<bool>) {
        out.push(b.map_or(0, |b| u8::from(b) + 1));
    }
    req(out, &e.event_id);
    out.extend_from_slice(&e.event_timestamp_ms.to_le_bytes());
    out.push(e.event_type.ordinal());
    req(out, &e.event_name);
    opt(out, &e.event_subtype);
    req(out, &e.tool_name);
    req(out, &e.company_name);
    opt(out, &e.project_name);
    opt(out, &e.project_number);
    opt_bool(out, e.project_is_demo);
    put_varint(out, e.object_id.map_or(0, |n| n + 1));
    opt(out, &e.url);
    req(out, &e.device_type);
    out.push(u8::from(e.is_api));
    put_varint(out, e.user_id);
    req(out, &e.user_email);
    opt(out, &e.user_login_email);
    req(out, &e.user_name);
    opt(out, &e.user_job_title);
    opt(out, &e.user_role);
    opt(out, &e.user_type);
    opt(out, &e.user_default_permission_template);
    opt_bool(out, e.user_is_active);
    opt_bool(out, e.user_is_authorized_bidder);
    put_varint(
        out,
        e.user_last_login_date
            .map_or(0, |d| u64::from(d.0 as u32) + 1),
    );
}

/// Decodes one event written by [`encode_event`]. Returns a description of
/// the first problem on bad bytes.
pub fn decode_event(r: &mut Reader<'_>) -> Result<Event, String> {
    let mut e = Event::blank();
    for field in Field::stored() {
        let value = decode_value(r, field)?;
        e.set(field, value).map_err(|err| err.to_string())?;
    }
    e.validate().map_err(|err| err.to_string())?;
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for n in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut v = Vec::new();
            put_varint(&mut v, n);
            assert_eq!(Reader::new(&v).varint(), Some(n));
        }
        assert_eq!(Reader::new(&[0x80]).varint(), None);
        assert_eq!(Reader::new(&[0xff; 11]).varint(), None);
    }

    #[test]
    fn the_spelled_out_encoding_is_the_generic_one() {
        let cfg = crate::generate::GenConfig {
            events_per_day: 2_000,
            ..Default::default()
        };
        for e in crate::generate::Generator::new(cfg).take(5_000) {
            let mut fast = Vec::new();
            encode_event(&mut fast, &e);
            let mut generic = Vec::new();
            for field in Field::stored() {
                encode_value(&mut generic, field, e.get(field));
            }
            assert_eq!(fast, generic);
            assert_eq!(decode_event(&mut Reader::new(&fast)).unwrap(), e);
        }
        // Every optional field missing, and present.
        let mut e = Event::blank();
        for s in [
            &mut e.event_id,
            &mut e.event_name,
            &mut e.tool_name,
            &mut e.company_name,
        ] {
            *s = "x".into();
        }
        let mut fast = Vec::new();
        encode_event(&mut fast, &e);
        let mut generic = Vec::new();
        for field in Field::stored() {
            encode_value(&mut generic, field, e.get(field));
        }
        assert_eq!(fast, generic);
    }

    #[test]
    fn truncated_records_are_errors_not_panics() {
        let mut e = Event::blank();
        e.event_id = "abc".into();
        e.event_name = "n".into();
        e.tool_name = "t".into();
        e.company_name = "c".into();
        e.device_type = "Web".into();
        e.user_email = "e".into();
        e.user_name = "u".into();
        e.url = Some("https://x".into());
        e.object_id = Some(0);
        e.user_is_active = Some(false);
        let mut v = Vec::new();
        encode_event(&mut v, &e);
        assert_eq!(decode_event(&mut Reader::new(&v)).unwrap(), e);
        for cut in 0..v.len() {
            assert!(decode_event(&mut Reader::new(&v[..cut])).is_err());
        }
    }
}
