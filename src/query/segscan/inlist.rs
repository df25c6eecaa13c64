//! An `in` / `not_in` list (or one `eq` value) against a segment's sorted
//! dictionary: the two sorted sequences are merged, the smaller walked and
//! the larger searched by galloping from where the last match left off.
//! A list of 200,000 user ids against a day's few thousand users costs a
//! few thousand short searches in the list, not 200,000 binary searches in
//! the dictionary; a short list against a big dictionary costs a few
//! searches in it.

use crate::error::Result;
use crate::segment::DictColumn;

use super::super::scalar::Scalar;

/// Sets `bits[code]` for every code of `col` whose value is in `list`
/// (sorted and deduplicated, as bind leaves it; the dictionary is sorted
/// by value, docs/format.md). Code 0 (null) is left alone.
pub(super) fn mark_listed(col: &DictColumn<'_>, list: &[Scalar], bits: &mut [bool]) -> Result<()> {
    let n = col.count() as usize;
    if list.len() <= n {
        // Each list value searched in the dictionary, from the last found.
        let mut at = 1usize;
        for s in list {
            let target = s.as_value();
            at = gallop(at, n + 1, |c| Ok(col.value(c as u32)? < target))?;
            if at > n {
                break;
            }
            if col.value(at as u32)? == target
                && let Some(b) = bits.get_mut(at)
            {
                *b = true;
            }
        }
    } else {
        // Each dictionary value searched in the list, from the last found.
        let mut at = 0usize;
        for code in 1..=n {
            let v = col.value(code as u32)?;
            at = gallop(at, list.len(), |i| {
                Ok(list.get(i).is_some_and(|s| s.as_value() < v))
            })?;
            let Some(s) = list.get(at) else { break };
            if s.as_value() == v
                && let Some(b) = bits.get_mut(code)
            {
                *b = true;
            }
        }
    }
    Ok(())
}

/// The first index in `[lo, hi)` where `before` is false (`hi` if none),
/// `before` being true on a prefix of the range: steps of 1, 2, 4, ...
/// from `lo`, then a binary search in the last step. Costs about twice the
/// logarithm of the distance to the answer.
fn gallop(lo: usize, hi: usize, mut before: impl FnMut(usize) -> Result<bool>) -> Result<usize> {
    let (mut base, mut step) = (lo, 1usize);
    let mut end;
    loop {
        end = base.saturating_add(step);
        if end > hi {
            end = hi;
            break;
        }
        if !before(end - 1)? {
            break;
        }
        base = end;
        step = step.saturating_mul(2);
    }
    let (mut l, mut h) = (base, end);
    while l < h {
        let m = l + (h - l) / 2;
        if before(m)? {
            l = m + 1;
        } else {
            h = m;
        }
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::gallop;

    /// `gallop` finds the first value not below the target from any
    /// start, as `partition_point` does.
    #[test]
    fn gallop_agrees_with_partition_point() {
        let xs: Vec<u32> = (0..300).map(|i| i * 3).collect();
        for target in 0..905 {
            let want = xs.partition_point(|x| *x < target);
            for lo in [0usize, 1, 7, want.saturating_sub(1), want] {
                let lo = lo.min(want);
                let got = gallop(lo, xs.len(), |i| Ok(xs[i] < target)).unwrap();
                assert_eq!(got, want, "target {target} from {lo}");
            }
        }
        assert_eq!(gallop(5, 5, |_| Ok(true)).unwrap(), 5);
    }
}
