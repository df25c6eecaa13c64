//! The timestamps column, whichever way the file stores it: u32 offsets
//! from the segment's base (section kind 2, versions 1 and 2) or frames of
//! reference of 128 rows (kind 17, version 3; docs/format.md, "Packed
//! timestamps section"). Every reader of timestamps goes through
//! [`Timestamps`], so the two layouts answer alike.

use crate::codec::le_u32_at;
use crate::segment::format::{TS_FRAME_ROWS, packed_get, ts_frame_padded, ts_frames, unpack_range};

/// A segment's timestamps, rows in timestamp order.
#[derive(Clone, Copy, Debug)]
pub struct Timestamps<'a> {
    base: i64,
    rows: u32,
    layout: Layout<'a>,
}

#[derive(Clone, Copy, Debug)]
enum Layout<'a> {
    /// One little-endian u32 offset per row.
    Plain(&'a [u8]),
    /// Per frame its first offset and where its deltas start in `data`.
    Packed {
        firsts: &'a [u8],
        starts: &'a [u8],
        data: &'a [u8],
    },
}

/// One frame: its first offset, delta width and packed deltas.
struct Frame<'a> {
    first: u32,
    width: u8,
    data: &'a [u8],
}

impl<'a> Timestamps<'a> {
    /// A kind 2 section: `bytes` holds `rows` u32 offsets.
    pub(crate) fn plain(base: i64, rows: u32, bytes: &'a [u8]) -> Timestamps<'a> {
        Timestamps {
            base,
            rows,
            layout: Layout::Plain(bytes),
        }
    }

    /// A kind 17 section of `rows` rows (its length was checked at open by
    /// [`packed_len_error`]; a shorter one reads as missing rows).
    pub(crate) fn packed(base: i64, rows: u32, bytes: &'a [u8]) -> Timestamps<'a> {
        let f = ts_frames(rows);
        let (firsts, rest) = bytes.split_at(bytes.len().min(f * 4));
        let (starts, data) = rest.split_at(rest.len().min((f + 1) * 4));
        Timestamps {
            base,
            rows,
            layout: Layout::Packed {
                firsts,
                starts,
                data,
            },
        }
    }

    /// No rows: for a query that reads no timestamp.
    pub(crate) fn empty(base: i64) -> Timestamps<'a> {
        Timestamps::plain(base, 0, &[])
    }

    fn frame(&self, k: usize) -> Option<Frame<'a>> {
        let Layout::Packed {
            firsts,
            starts,
            data,
        } = self.layout
        else {
            return None;
        };
        let (s, e) = (
            le_u32_at(starts, k)? as usize,
            le_u32_at(starts, k + 1)? as usize,
        );
        let len = e.checked_sub(s)?;
        let per_bit = ts_frame_padded(self.rows, k) / 8;
        let width = len.checked_div(per_bit)?;
        if len % per_bit != 0 || width > 32 {
            return None;
        }
        Some(Frame {
            first: le_u32_at(firsts, k)?,
            width: width as u8,
            data: data.get(s..e)?,
        })
    }

    /// Row `row`'s offset from the base; `None` past the end (or in a frame
    /// whose structure is damaged, which `check` reports).
    #[inline]
    pub fn offset(&self, row: u32) -> Option<u32> {
        if row >= self.rows {
            return None;
        }
        match self.layout {
            Layout::Plain(bytes) => le_u32_at(bytes, row as usize),
            Layout::Packed { .. } => {
                let f = self.frame(row as usize / TS_FRAME_ROWS)?;
                if f.width == 0 {
                    return Some(f.first);
                }
                let d = packed_get(f.data, f.width, row as usize % TS_FRAME_ROWS)?;
                f.first.checked_add(d)
            }
        }
    }

    /// Row `row`'s timestamp; `i64::MAX` past the end, so that a search
    /// treats missing rows as later than every bound.
    #[inline]
    pub fn at(&self, row: u32) -> i64 {
        self.get(row).unwrap_or(i64::MAX)
    }

    /// Row `row`'s timestamp, `None` past the end.
    #[inline]
    pub fn get(&self, row: u32) -> Option<i64> {
        self.offset(row).map(|d| self.base + i64::from(d))
    }

    /// The first row in `0..n` whose timestamp is >= `t` (`n` if none). A
    /// packed column searches its frames' firsts, then one frame.
    pub fn first_at_or_after(&self, n: u32, t: i64) -> u32 {
        let n = n.min(self.rows);
        let (mut lo, mut hi) = (0u32, n);
        if let Layout::Packed { firsts, .. } = self.layout {
            // The first frame whose first row is at or after `t`: the answer
            // is in the frame before it, or is its first row.
            let frames = ts_frames(n);
            let (mut flo, mut fhi) = (0usize, frames);
            while flo < fhi {
                let mid = flo + (fhi - flo) / 2;
                let first = le_u32_at(firsts, mid).map_or(i64::MAX, |d| self.base + i64::from(d));
                if first < t {
                    flo = mid + 1;
                } else {
                    fhi = mid;
                }
            }
            lo = (flo.saturating_sub(1) * TS_FRAME_ROWS) as u32;
            hi = ((flo * TS_FRAME_ROWS) as u32).min(n);
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.at(mid) < t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The offsets of rows `start..start + out.len()` into `out`, a frame
    /// at a time; rows past the end (or in a damaged frame) read as
    /// `u32::MAX`.
    pub fn offsets(&self, start: u32, out: &mut [u32]) {
        let mut row = start as usize;
        let mut rest = &mut out[..];
        while !rest.is_empty() {
            let k = row / TS_FRAME_ROWS;
            let in_frame = (TS_FRAME_ROWS - row % TS_FRAME_ROWS).min(rest.len());
            let (chunk, tail) = rest.split_at_mut(in_frame);
            match (self.layout, self.frame(k)) {
                _ if row >= self.rows as usize => chunk.fill(u32::MAX),
                (Layout::Plain(_), _) => {
                    for (i, o) in chunk.iter_mut().enumerate() {
                        *o = self.offset((row + i) as u32).unwrap_or(u32::MAX);
                    }
                }
                (_, Some(f)) => {
                    if f.width == 0 {
                        chunk.fill(0);
                    } else {
                        unpack_range(f.data, f.width, row % TS_FRAME_ROWS, chunk);
                    }
                    for o in chunk.iter_mut() {
                        *o = f.first.saturating_add(*o);
                    }
                }
                (_, None) => chunk.fill(u32::MAX),
            }
            let live = (self.rows as usize).saturating_sub(row).min(in_frame);
            chunk.get_mut(live..).unwrap_or_default().fill(u32::MAX);
            row += in_frame;
            rest = tail;
        }
    }

    /// Every row's timestamp, a frame at a time; `None` if a row does not
    /// decode (a damaged frame).
    pub fn all(&self) -> Option<Vec<i64>> {
        let mut offsets = vec![0u32; self.rows as usize];
        self.offsets(0, &mut offsets);
        let ok = offsets.iter().all(|&o| o != u32::MAX);
        ok.then(|| offsets.iter().map(|&o| self.base + i64::from(o)).collect())
    }

    /// What `verify` checks in a packed column beyond its open-time
    /// length: every frame's width and place, no nonzero padding, and
    /// every row in timestamp order (binary searches rely on it); `Err`
    /// says what is wrong. A plain column is checked as versions 1 and 2
    /// always were: by its length alone.
    pub(crate) fn check(&self) -> Result<(), String> {
        if matches!(self.layout, Layout::Plain(_)) {
            return Ok(());
        }
        let mut prev = 0u32;
        for k in 0..ts_frames(self.rows) {
            let f = self
                .frame(k)
                .ok_or_else(|| format!("frame {k} is malformed"))?;
            let mut deltas = [0u32; TS_FRAME_ROWS];
            if f.width > 0 {
                unpack_range(f.data, f.width, 0, &mut deltas);
            }
            let used = (self.rows as usize - k * TS_FRAME_ROWS).min(TS_FRAME_ROWS);
            let padded = ts_frame_padded(self.rows, k);
            let deltas = deltas.get(..padded).unwrap_or_default();
            if deltas.first().is_some_and(|&d| d != 0) {
                return Err(format!("frame {k} does not start at its first offset"));
            }
            if deltas
                .get(used..)
                .is_some_and(|pad| pad.iter().any(|&d| d != 0))
            {
                return Err(format!("frame {k} has nonzero padding"));
            }
            for (i, &d) in deltas.iter().take(used).enumerate() {
                let o = f.first.checked_add(d).filter(|&o| o >= prev);
                prev = o.ok_or_else(|| {
                    format!("row {} is out of timestamp order", k * TS_FRAME_ROWS + i)
                })?;
            }
        }
        Ok(())
    }
}

/// Why a kind 17 section of `len` bytes (whose bytes, unchecked, are
/// `raw`) cannot hold `rows` rows, if it cannot: its firsts and starts, then
/// exactly the data its last start says.
pub(crate) fn packed_len_error(raw: &[u8], rows: u32) -> Option<&'static str> {
    let f = ts_frames(rows);
    let fixed = (2 * f + 1) * 4;
    let data = le_u32_at(raw, 2 * f).map(|d| d as usize);
    match data {
        Some(d) if raw.len() >= fixed && raw.len() - fixed == d => {
            (d > f * 32 * TS_FRAME_ROWS / 8).then_some("data longer than its frames can hold")
        }
        _ => Some("length does not match the row count"),
    }
}
