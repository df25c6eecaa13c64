//! The token index of the `url` column (docs/format.md, "Token index"):
//! which rows hold which *unit*, a unit being one maximal run of token
//! bytes (ASCII letters and digits, and every byte of a non-ASCII
//! character) with the byte just before it and the byte just after it
//! (or the start / end of the string). `contains "/rfis/"` holds on a row
//! exactly when the row has the unit (`/`, `rfis`, `/`), so a pattern made
//! of one run and at most one separator byte on each side is answered by
//! the index alone; longer patterns intersect their units' rows and check
//! each candidate row.
//!
//! Listed units each have a roaring bitmap of their rows. A unit is listed
//! when it is *frequent* (on at least [`frequent_rows`] rows), or when it
//! holds a non-digit byte and the segment is *complete*: it lists every
//! unit with a non-digit byte (at most [`max_rare`] rare ones, else none of
//! them). Other all-digit units (object ids, nearly one per row; project
//! numbers) are not listed: on a generated day, postings for every digit
//! unit on 64 rows or more cost 1.9 bytes/event, for those on 1/64 of the
//! rows 0.17, and for every one 11.7; a pattern whose only units are such
//! numbers is checked on rows.
//!
//! This module splits strings into units (shared by the writer, `verify`
//! and the query side) and encodes the two sections.

use std::collections::HashMap;

use foldhash::fast::FixedState;
use roaring::RoaringBitmap;

use crate::error::{Error, Result};

/// `left` of a unit at the start of its string.
pub const START: u16 = 256;
/// `right` of a unit at the end of its string.
pub const END: u16 = 256;
/// Units on at least this many rows of a segment of `rows` rows are
/// listed, digits or not: 1/64 of the rows, at least 64.
pub fn frequent_rows(rows: usize) -> usize {
    (rows / 64).max(64)
}
/// Version 3: a unit on more than 7/8 of a segment's rows is *dense*: it
/// is listed (so a complete segment stays complete) with an empty posting,
/// and a pattern part it fits is checked on rows, as an unlisted unit's is.
/// On a generated day five units (`https`, `app`, `example`, `com`,
/// `projects`) are on 92-95% of the rows and the next on 15%; their
/// postings were about 1 byte/event and filtered nothing.
pub fn is_dense(unit_rows: usize, rows: usize, version: u32) -> bool {
    version >= 3 && unit_rows.saturating_mul(8) > rows.saturating_mul(7)
}
/// Flag bit of the dictionary: every unit holding a non-digit byte is
/// listed.
pub const COMPLETE: u32 = 1;
/// Bytes of a dictionary's fixed header: unit count and flags.
pub const DICT_HEADER: usize = 8;

/// The most rare units with a non-digit byte a complete segment lists: one
/// per 64 rows (at most about half a byte per event), at least 64.
pub fn max_rare(rows: usize) -> usize {
    (rows / 64).max(64)
}

/// Whether `b` belongs to a run: ASCII letters and digits, and the bytes
/// of non-ASCII characters (so a run never splits a character).
#[inline]
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// Whether a run could be an unlisted rare unit: only digits.
#[inline]
pub fn all_digits(run: &[u8]) -> bool {
    run.iter().all(u8::is_ascii_digit)
}

/// One unit of a string: its run and the bytes around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit<'a> {
    pub left: u16,
    pub run: &'a [u8],
    pub right: u16,
}

/// The units of `s`, left to right (a unit twice in `s` comes twice).
pub fn units(s: &[u8]) -> impl Iterator<Item = Unit<'_>> {
    let mut i = 0;
    std::iter::from_fn(move || {
        while s.get(i).is_some_and(|&b| !is_token_byte(b)) {
            i += 1;
        }
        let start = i;
        while s.get(i).is_some_and(|&b| is_token_byte(b)) {
            i += 1;
        }
        if start == i {
            return None;
        }
        let left = match start.checked_sub(1).and_then(|p| s.get(p)) {
            Some(&b) => u16::from(b),
            None => START,
        };
        let right = s.get(i).map_or(END, |&b| u16::from(b));
        Some(Unit {
            left,
            run: s.get(start..i).unwrap_or_default(),
            right,
        })
    })
}

/// The key of a unit while building: left and right (2 bytes each, LE),
/// then the run. Sorting keys by (run, left, right) is the file's order.
fn key(u: Unit<'_>, buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&u.left.to_le_bytes());
    buf.extend_from_slice(&u.right.to_le_bytes());
    buf.extend_from_slice(u.run);
}

/// The token dictionary and token postings sections for a column whose
/// values, in row order, are `values` (`None`: null), by the rules of
/// format `version`.
pub fn encode<'v>(
    values: impl Iterator<Item = Option<&'v [u8]>>,
    version: u32,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut index: HashMap<Box<[u8]>, u32, FixedState> = HashMap::default();
    let mut rows_of: Vec<Vec<u32>> = Vec::new();
    let mut keys: Vec<Box<[u8]>> = Vec::new();
    let mut buf = Vec::new();
    let mut n_rows = 0usize;
    for (row, v) in values.enumerate() {
        n_rows = row + 1;
        let row = u32::try_from(row).map_err(|_| Error::Internal("too many rows".into()))?;
        for u in units(v.unwrap_or_default()) {
            key(u, &mut buf);
            let k = match index.get(buf.as_slice()) {
                Some(&k) => k,
                None => {
                    let k = keys.len() as u32;
                    index.insert(buf.clone().into_boxed_slice(), k);
                    keys.push(buf.clone().into_boxed_slice());
                    rows_of.push(Vec::new());
                    k
                }
            };
            let rows = &mut rows_of[k as usize];
            // A unit twice in one value: one row.
            if rows.last() != Some(&row) {
                rows.push(row);
            }
        }
    }
    drop(index);
    let frequent = frequent_rows(n_rows);
    let rare_text = (0..keys.len())
        .filter(|&k| rows_of[k].len() < frequent && !all_digits(&keys[k][4..]))
        .count();
    let complete = rare_text <= max_rare(n_rows);
    let mut listed: Vec<usize> = (0..keys.len())
        .filter(|&k| rows_of[k].len() >= frequent || (complete && !all_digits(&keys[k][4..])))
        .collect();
    listed.sort_unstable_by(|&a, &b| {
        (&keys[a][4..], &keys[a][..4]).cmp(&(&keys[b][4..], &keys[b][..4]))
    });
    let mut dict = Vec::new();
    dict.extend_from_slice(&(listed.len() as u32).to_le_bytes());
    dict.extend_from_slice(&(if complete { COMPLETE } else { 0 }).to_le_bytes());
    let mut end = 0u32;
    dict.extend_from_slice(&end.to_le_bytes());
    for &k in &listed {
        end += (keys[k].len() - 4) as u32;
        dict.extend_from_slice(&end.to_le_bytes());
    }
    for &k in &listed {
        dict.extend_from_slice(&keys[k][..4]);
    }
    for &k in &listed {
        dict.extend_from_slice(&keys[k][4..]);
    }
    let dense = |k: usize| is_dense(rows_of[k].len(), n_rows, version);
    Ok((dict, postings(&listed, &rows_of, dense)?))
}

/// The postings section: the count, end offsets, then each listed unit's
/// rows as a portable roaring bitmap (the Bitmaps section's layout), none
/// for a `dense` unit.
fn postings(
    listed: &[usize],
    rows_of: &[Vec<u32>],
    dense: impl Fn(usize) -> bool,
) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut ends = Vec::with_capacity(listed.len() + 1);
    ends.push(0u32);
    for &k in listed {
        if dense(k) {
            ends.push(ends.last().copied().unwrap_or(0));
            continue;
        }
        let mut b = RoaringBitmap::from_sorted_iter(rows_of[k].iter().copied())
            .map_err(|e| Error::Internal(format!("token rows not sorted: {e}")))?;
        b.optimize();
        b.serialize_into(&mut body)
            .map_err(|e| Error::Internal(format!("bitmap serialization: {e}")))?;
        let end = u32::try_from(body.len())
            .map_err(|_| Error::Internal("token postings larger than 4 GiB".into()))?;
        ends.push(end);
    }
    let mut out = Vec::with_capacity(4 + 4 * ends.len() + body.len());
    out.extend_from_slice(&(listed.len() as u32).to_le_bytes());
    for e in ends {
        out.extend_from_slice(&e.to_le_bytes());
    }
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> Vec<(u16, String, u16)> {
        units(s.as_bytes())
            .map(|u| (u.left, String::from_utf8(u.run.to_vec()).unwrap(), u.right))
            .collect()
    }

    #[test]
    fn units_are_runs_with_the_bytes_around_them() {
        assert_eq!(
            all("https://a.b/rfis/12"),
            [
                (START, "https".into(), u16::from(b':')),
                (u16::from(b'/'), "a".into(), u16::from(b'.')),
                (u16::from(b'.'), "b".into(), u16::from(b'/')),
                (u16::from(b'/'), "rfis".into(), u16::from(b'/')),
                (u16::from(b'/'), "12".into(), END),
            ]
        );
        assert_eq!(all(""), []);
        assert_eq!(all("//"), []);
        assert_eq!(all("/é/"), [(47, "é".into(), 47)]);
    }

    #[test]
    fn rare_digit_runs_are_not_listed_and_rare_text_is() {
        let head = |b: &[u8], i: usize| u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap());
        let vals: Vec<String> = (0..64).map(|i| format!("/x{i}/{i}")).collect();
        let (dict, post) = encode(vals.iter().map(|v| Some(v.as_bytes())), 3).unwrap();
        // 64 rare text units ("x0".."x63"), none of the digit runs.
        assert_eq!(
            (head(&dict, 0), head(&dict, 1), head(&post, 0)),
            (64, COMPLETE, 64)
        );
        // One more rare text unit than 64: none is listed.
        let vals: Vec<String> = (0..65).map(|i| format!("/x{i}/{i}")).collect();
        let (dict, post) = encode(vals.iter().map(|v| Some(v.as_bytes())), 3).unwrap();
        assert_eq!((head(&dict, 0), head(&dict, 1), head(&post, 0)), (0, 0, 0));
    }
}
