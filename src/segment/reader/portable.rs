//! A strict check of one serialized roaring bitmap in the portable format
//! (RoaringFormatSpec; docs/format.md, "Bitmaps"), made before CRoaring
//! views the bytes in place.
//!
//! Why every rule here: CRoaring's view constructor
//! (`roaring_bitmap_portable_deserialize_frozen`) is given no length and
//! trusts what it reads. It places each container at the position its
//! offset header names, and later operations trust the containers: an
//! unsorted array gives wrong answers, a run past 65535 or a bitset whose
//! cardinality lies can write past a buffer when a view is combined with
//! another bitmap. CRoaring's own size walk
//! (`roaring_bitmap_portable_deserialize_size`) skips the offsets and the
//! container contents, so it is not enough (docs/notes/fuzzing.md, finding 1).
//! So the bytes must be exactly what a correct writer produces: the offset
//! header (when present) equal to the sequential layout, keys strictly
//! increasing, every container's cardinality equal to its header's, arrays
//! strictly increasing, runs sorted, disjoint and inside the container, and
//! nothing after the last container. roaring-rs's reader (`daybook verify`)
//! checks the same things except the offsets, which it skips.

/// Cookie of a bitmap without run containers: a u32 container count
/// follows, and an offset header is always present.
const COOKIE_NO_RUNS: u32 = 12346;
/// Low half of the cookie of a bitmap with run containers; the high half
/// is the container count minus one, and a run-flag bitset follows.
const COOKIE_RUNS: u32 = 12347;
/// With run containers, the offset header is present only from this many
/// containers on.
const NO_OFFSET_THRESHOLD: usize = 4;
/// Containers of at most this many values are sorted u16 arrays.
const ARRAY_MAX: usize = 4096;
/// A bitset container: 2^16 bits.
const BITSET_BYTES: usize = 8192;

fn u16_at(b: &[u8], at: usize) -> Result<u16, &'static str> {
    b.get(at..at.saturating_add(2))
        .and_then(|s| s.try_into().ok())
        .map(u16::from_le_bytes)
        .ok_or("bitmap ends inside a container")
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, &'static str> {
    b.get(at..at.saturating_add(4))
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or("bitmap ends inside its header")
}

/// Checks that `bytes` is exactly one well-formed portable roaring bitmap
/// whose values are all below `rows`. The reason names the first rule
/// broken.
pub(super) fn check(bytes: &[u8], rows: u32) -> Result<(), &'static str> {
    let cookie = u32_at(bytes, 0)?;
    let (n, run_flags, header_at) = if cookie == COOKIE_NO_RUNS {
        (u32_at(bytes, 4)? as usize, None, 8)
    } else if cookie & 0xFFFF == COOKIE_RUNS {
        let n = (cookie >> 16) as usize + 1;
        let flags = bytes
            .get(4..4 + n.div_ceil(8))
            .ok_or("bitmap ends inside its run flags")?;
        (n, Some(flags), 4 + n.div_ceil(8))
    } else {
        return Err("not a portable roaring bitmap (unknown cookie)");
    };
    if n > 1 << 16 {
        return Err("more containers than 16-bit keys");
    }
    let has_offsets = run_flags.is_none() || n >= NO_OFFSET_THRESHOLD;
    let offsets_at = header_at + 4 * n;
    let mut pos = offsets_at + if has_offsets { 4 * n } else { 0 };
    if pos > bytes.len() {
        return Err("bitmap ends inside its header");
    }
    let mut prev_key: Option<u16> = None;
    let mut max = 0u32;
    for i in 0..n {
        let key = u16_at(bytes, header_at + 4 * i)?;
        let card = usize::from(u16_at(bytes, header_at + 4 * i + 2)?) + 1;
        if prev_key.is_some_and(|p| key <= p) {
            return Err("container keys not strictly increasing");
        }
        prev_key = Some(key);
        if has_offsets && u32_at(bytes, offsets_at + 4 * i)? as usize != pos {
            return Err("offset header disagrees with the containers' layout");
        }
        let is_run = run_flags.is_some_and(|f| f.get(i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1));
        let (len, last) = if is_run {
            check_run_container(bytes, pos, card)?
        } else if card > ARRAY_MAX {
            check_bitset_container(bytes, pos, card)?
        } else {
            check_array_container(bytes, pos, card)?
        };
        pos += len;
        max = u32::from(key) << 16 | last;
    }
    if pos != bytes.len() {
        return Err("bytes after the last container");
    }
    if n > 0 && max >= rows {
        return Err("bitmap names a row past the end");
    }
    Ok(())
}

/// A run container at `pos` holding `card` values: its length in bytes and
/// its largest value. Runs are ordered, disjoint and inside the container.
fn check_run_container(
    bytes: &[u8],
    pos: usize,
    card: usize,
) -> Result<(usize, u32), &'static str> {
    let runs = usize::from(u16_at(bytes, pos)?);
    let body = bytes
        .get(pos + 2..pos + 2 + 4 * runs)
        .ok_or("bitmap ends inside a run container")?;
    let mut total = 0usize;
    let mut next_min = 0u32;
    let mut last = 0u32;
    for run in body.chunks_exact(4) {
        let start = u32::from(u16::from_le_bytes([run[0], run[1]]));
        let end = start + u32::from(u16::from_le_bytes([run[2], run[3]]));
        if start < next_min {
            return Err("runs overlap or are out of order");
        }
        if end > 0xFFFF {
            return Err("a run ends past its container");
        }
        total += (end - start) as usize + 1;
        next_min = end + 1;
        last = end;
    }
    if total != card {
        return Err("run container cardinality disagrees with the header");
    }
    Ok((2 + 4 * runs, last))
}

/// A bitset container at `pos` holding `card` values: its length in bytes
/// and its largest value.
fn check_bitset_container(
    bytes: &[u8],
    pos: usize,
    card: usize,
) -> Result<(usize, u32), &'static str> {
    let body = bytes
        .get(pos..pos + BITSET_BYTES)
        .ok_or("bitmap ends inside a bitset container")?;
    let mut total = 0usize;
    let mut last = None;
    for (w, word) in body.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
        total += word.count_ones() as usize;
        if word != 0 {
            last = Some(w as u32 * 64 + 63 - word.leading_zeros());
        }
    }
    if total != card {
        return Err("bitset container cardinality disagrees with the header");
    }
    Ok((BITSET_BYTES, last.unwrap_or(0)))
}

/// An array container at `pos` holding `card` strictly increasing values:
/// its length in bytes and its largest value.
fn check_array_container(
    bytes: &[u8],
    pos: usize,
    card: usize,
) -> Result<(usize, u32), &'static str> {
    let body = bytes
        .get(pos..pos + 2 * card)
        .ok_or("bitmap ends inside an array container")?;
    let mut prev: Option<u16> = None;
    for v in body.chunks_exact(2) {
        let v = u16::from_le_bytes([v[0], v[1]]);
        if prev.is_some_and(|p| v <= p) {
            return Err("array container not strictly increasing");
        }
        prev = Some(v);
    }
    Ok((2 * card, prev.map_or(0, u32::from)))
}

#[cfg(test)]
mod tests {
    use super::check;
    use roaring::RoaringBitmap;

    fn bytes(b: &RoaringBitmap) -> Vec<u8> {
        let mut out = Vec::new();
        b.serialize_into(&mut out).unwrap();
        out
    }

    /// Arrays, bitsets and runs, with and without offset headers, as
    /// roaring-rs writes them: all accepted, and every truncation refused.
    #[test]
    fn accepts_what_roaring_writes_and_refuses_every_truncation() {
        let mut cases = vec![RoaringBitmap::new()];
        cases.push((0..10).collect());
        cases.push((0..300_000).step_by(3).collect());
        let mut runs: RoaringBitmap = (0..200_000).collect();
        runs.remove(70_000);
        runs.optimize();
        cases.push(runs);
        let mut few_runs: RoaringBitmap = (5..9).chain(65_536..65_600).collect();
        few_runs.optimize();
        cases.push(few_runs);
        for b in &cases {
            let s = bytes(b);
            let rows = b.max().map_or(0, |m| m + 1);
            assert_eq!(check(&s, rows), Ok(()), "{b:?}");
            if rows > 0 {
                assert_eq!(check(&s, rows - 1), Err("bitmap names a row past the end"));
            }
            for cut in 0..s.len() {
                assert!(check(&s[..cut], rows).is_err(), "{b:?} cut at {cut}");
            }
            let mut long = s.clone();
            long.push(0);
            assert_eq!(check(&long, rows), Err("bytes after the last container"));
        }
    }

    #[test]
    fn refuses_a_forged_offset_header() {
        let b: RoaringBitmap = [2u32, 70_000].into_iter().collect();
        let mut s = bytes(&b);
        // Cookie 12346, count 2, two key/cardinality pairs, then offsets.
        assert_eq!(&s[..4], &12346u32.to_le_bytes());
        assert_eq!(check(&s, 70_001), Ok(()));
        s[16..20].copy_from_slice(&8u32.to_le_bytes());
        assert_eq!(
            check(&s, 70_001),
            Err("offset header disagrees with the containers' layout")
        );
    }

    #[test]
    fn refuses_unsorted_arrays_and_bad_runs() {
        let b: RoaringBitmap = [1u32, 2, 3].into_iter().collect();
        let mut s = bytes(&b);
        // Header 8 bytes, key/card 4, offset 4: the array starts at 16.
        s[16..18].copy_from_slice(&3u16.to_le_bytes());
        assert_eq!(
            check(&s, 10),
            Err("array container not strictly increasing")
        );
        let mut r: RoaringBitmap = (100..200).collect();
        r.optimize();
        let mut s = bytes(&r);
        // Cookie with runs (4), run flags (1), key/card (4): nruns at 9,
        // then start, length-1.
        assert_eq!(u16::from_le_bytes([s[9], s[10]]), 1);
        s[13..15].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert_eq!(check(&s, 1 << 20), Err("a run ends past its container"));
    }
}
