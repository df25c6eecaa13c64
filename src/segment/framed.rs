//! Framed block columns (`Encoding::Framed`, docs/format.md, "Frames
//! section"): a block column cut into frames of `frame_rows` rows, so that
//! reading one row decodes 128 values instead of a 1,024-row block
//! (listings and needle lookups read rows one at a time; scans read every
//! frame either way). A frame is a zstd frame compressed against one
//! raw-content dictionary per segment and column (sampled values of the
//! column itself, no training), or, for integers, the values bit-packed
//! and read in place.

use crate::codec::{Reader, decode_value, le_u32_at, put_varint};
use crate::error::{Error, Result};
use crate::event::{Field, FieldKind, Value};
use crate::segment::format::{bits_for, pack, packed_get, packed_len};

/// Rows per frame. Measured on a generated day of 133,595 events (URLs,
/// level 1): 64-row frames cost 1.0 byte/row more than 1,024-row blocks,
/// 128-row frames 0.47; one frame decompresses in a quarter of the time
/// of a block.
pub(crate) const FRAME_ROWS: u32 = 128;
/// Largest `frame_rows` a reader accepts (bounds the memory one frame may
/// claim).
pub(crate) const MAX_FRAME_ROWS: u32 = 4096;
/// Segments with fewer rows keep `url` in 1,024-row blocks: its
/// dictionary (1/64 of the column's bytes, 0.8 bytes a row below the cap)
/// and frame headers would cost 1.5 bytes/row more at 10,000-15,000 rows.
pub(crate) const MIN_FRAMED_ROWS: u32 = 32_768;
/// Dictionary bytes at most; and at most 1/`DICT_SHARE` of the column's
/// encoded bytes.
const MAX_DICT_BYTES: usize = 16 * 1024;
const DICT_SHARE: usize = 64;
/// The first four bytes of a formatted zstd dictionary (little-endian
/// 0xEC30A437). A frame dictionary is raw content and never starts with
/// them, so zstd never parses its bytes as entropy tables.
pub(crate) const ZSTD_DICT_MAGIC: [u8; 4] = [0x37, 0xA4, 0x30, 0xEC];
/// zstd level of frames: the level of block columns.
const LEVEL: i32 = 1;

/// Whether `field` is stored framed in a segment of `rows` rows: block
/// columns read row by row (event ids are UUID blocks, read in place
/// already). URLs compress against their dictionary, in segments of at
/// least `MIN_FRAMED_ROWS` rows; object ids are numbers that zstd barely
/// compresses, bit-packed in every segment (smaller than zstd blocks).
pub(crate) fn is_framed(field: Field, rows: u32) -> bool {
    match field {
        Field::Url => rows >= MIN_FRAMED_ROWS,
        Field::ObjectId => true,
        _ => false,
    }
}

/// Format byte (first byte of a frame): a zstd frame compressed with the
/// column's dictionary follows.
pub(crate) const FRAME_ZSTD: u8 = 0;
/// Format byte: an integer column's values bit-packed follow: `width` (1
/// to 32), `base` (varint), then one `width`-bit code per row: 0 for null, else the value
/// minus `base` plus 1.
pub(crate) const FRAME_PACKED: u8 = 1;

/// The dictionary of a column whose encoded values are `value(i)` for `i`
/// in `order`: values spread evenly over the rows, in row order, up to its
/// size limit.
pub(crate) fn build_dict<'v>(
    field: Field,
    order: &[u32],
    value: impl Fn(u32) -> &'v [u8],
) -> Vec<u8> {
    if field.kind() != FieldKind::Str {
        return Vec::new();
    }
    let total: usize = order.iter().map(|&i| value(i).len()).sum();
    let limit = (total / DICT_SHARE).min(MAX_DICT_BYTES);
    let mut dict = Vec::with_capacity(limit + 16);
    let avg = total.div_ceil(order.len().max(1)).max(1);
    let picks = (limit / avg).max(1);
    let step = (order.len() / picks).max(1);
    for &i in order.iter().step_by(step) {
        let v = value(i);
        if dict.len() + v.len() > limit {
            break;
        }
        dict.extend_from_slice(v);
    }
    if dict.starts_with(&ZSTD_DICT_MAGIC) {
        dict.insert(0, 0);
    }
    dict
}

/// The frames section of a column (layout: docs/format.md): `frame_rows`,
/// the frame count, `count + 1` u32 offsets into the frame area, the frames.
pub(crate) fn encode_frames<'v>(
    field: Field,
    order: &[u32],
    value: impl Fn(u32) -> &'v [u8],
    dict: &[u8],
) -> Result<Vec<u8>> {
    let zerr = |e: usize| Error::Internal(format!("zstd: {}", zstd::zstd_safe::get_error_name(e)));
    let cdict = zstd::zstd_safe::CDict::try_create(dict, LEVEL)
        .ok_or_else(|| Error::Internal("zstd: cannot prepare a frame dictionary".into()))?;
    let mut cctx = zstd::zstd_safe::CCtx::try_create()
        .ok_or_else(|| Error::Internal("zstd: cannot create a context".into()))?;
    let n_frames = order.len().div_ceil(FRAME_ROWS as usize);
    let mut frames = Vec::new();
    let mut offsets = Vec::with_capacity(n_frames + 1);
    offsets.push(0u32);
    let mut raw = Vec::new();
    for chunk in order.chunks(FRAME_ROWS as usize) {
        if field.kind() == FieldKind::Int && pack_ints(field, chunk, &value, &mut frames) {
            offsets.push(frame_end(&frames)?);
            continue;
        }
        raw.clear();
        for &i in chunk {
            raw.extend_from_slice(value(i));
        }
        frames.push(FRAME_ZSTD);
        let at = frames.len();
        frames.resize(at + zstd::zstd_safe::compress_bound(raw.len()), 0);
        let n = cctx
            .compress_using_cdict(&mut frames[at..], &raw, &cdict)
            .map_err(zerr)?;
        frames.truncate(at + n);
        offsets.push(frame_end(&frames)?);
    }
    let mut out = Vec::with_capacity(8 + offsets.len() * 4 + frames.len());
    out.extend_from_slice(&FRAME_ROWS.to_le_bytes());
    out.extend_from_slice(&(n_frames as u32).to_le_bytes());
    for o in offsets {
        out.extend_from_slice(&o.to_le_bytes());
    }
    out.extend_from_slice(&frames);
    Ok(out)
}

/// The offset of the end of the frames written so far.
fn frame_end(frames: &[u8]) -> Result<u32> {
    u32::try_from(frames.len())
        .map_err(|_| Error::Internal("frames section larger than 4 GiB".into()))
}

/// Appends a `FRAME_PACKED` frame of the integer values of `chunk`, unless
/// their codes need more than 32 bits (then nothing is written).
fn pack_ints<'v>(
    field: Field,
    chunk: &[u32],
    value: &impl Fn(u32) -> &'v [u8],
    out: &mut Vec<u8>,
) -> bool {
    let mut ints = Vec::with_capacity(chunk.len());
    for &i in chunk {
        match decode_value(&mut Reader::new(value(i)), field) {
            Ok(Value::Int(n)) => ints.push(Some(n)),
            Ok(Value::Null) => ints.push(None),
            _ => return false,
        }
    }
    let base = ints.iter().flatten().copied().min().unwrap_or(0);
    let max = ints.iter().flatten().copied().max().unwrap_or(0);
    if max - base >= u64::from(u32::MAX) {
        return false;
    }
    let width = bits_for(max - base + 1);
    out.push(FRAME_PACKED);
    out.push(width);
    put_varint(out, base);
    out.extend_from_slice(&pack(
        ints.iter().map(|v| v.map_or(0, |n| (n - base + 1) as u32)),
        width,
    ));
    true
}

/// A `FRAME_PACKED` frame's body (after its format byte) for `rows` rows:
/// its width, its base, and its packed codes, or why it is malformed.
pub(crate) fn packed_frame(
    body: &[u8],
    rows: u32,
) -> std::result::Result<Packed<'_>, &'static str> {
    let mut r = Reader::new(body);
    let width = r.u8().ok_or("packed frame cut short")?;
    let base = r.varint().ok_or("packed frame cut short")?;
    let codes = body.get(r.pos()..).unwrap_or_default();
    if !(1..=32).contains(&width) || codes.len() != packed_len(rows as usize, width) {
        return Err("packed frame has the wrong width or length");
    }
    Ok(Packed { codes, width, base })
}

/// A bit-packed integer frame, in place in the map.
#[derive(Clone, Copy)]
pub(crate) struct Packed<'a> {
    codes: &'a [u8],
    width: u8,
    base: u64,
}

impl Packed<'_> {
    /// The value of the frame's `i`-th row: `Some(None)` for null, `None`
    /// if the code is past the frame or the value overflows.
    pub(crate) fn get(&self, i: usize) -> Option<Option<u64>> {
        match packed_get(self.codes, self.width, i)? {
            0 => Some(None),
            c => self.base.checked_add(u64::from(c) - 1).map(Some),
        }
    }
}

/// Why a frames section's table does not fit a column of `rows` rows with
/// `frame_rows` rows per frame (the meta's count), if it does not: its
/// header, its length, and its last offset (which must end the section, so
/// every byte belongs to a frame).
pub(crate) fn table_error(bytes: &[u8], rows: u32, frame_rows: u32) -> Option<&'static str> {
    let (Some(per), Some(n)) = (le_u32_at(bytes, 0), le_u32_at(bytes, 1)) else {
        return Some("frame header cut short");
    };
    if per != frame_rows || per == 0 || per > MAX_FRAME_ROWS || n != rows.div_ceil(per) {
        return Some("frame table does not match the row count");
    }
    let area = 8 + 4 * (n as usize + 1);
    match le_u32_at(bytes, 2 + n as usize) {
        Some(last) if bytes.len().checked_sub(area) == Some(last as usize) => None,
        _ => Some("frame table does not end at the section's end"),
    }
}

/// The bytes of frame `i` of a section whose table `table_error` passed.
pub(crate) fn frame(bytes: &[u8], n_frames: u32, i: u32) -> Option<&[u8]> {
    let area = 8 + 4 * (n_frames as usize + 1);
    let start = le_u32_at(bytes, 2 + i as usize)? as usize;
    let end = le_u32_at(bytes, 3 + i as usize)? as usize;
    if start >= end {
        return None;
    }
    bytes.get(area.checked_add(start)?..area.checked_add(end)?)
}
