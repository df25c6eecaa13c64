//! Predicates other than `eq` / `in` against a segment's sorted dictionary,
//! without testing every value: `contains` by one substring search over
//! the values' text, `starts_with` and the comparisons by binary search
//! (the values are sorted: docs/format.md). Before this, each of the
//! month's 31 segments tested each of its ~5,000 emails one by one for
//! `user_email contains "green"`.

use crate::error::Result;
use crate::event::FieldKind;
use crate::query::Op;
use crate::query::bind::{Arg, Pred};
use crate::query::scalar::Scalar;
use crate::segment::DictColumn;

/// Marks in `bits` (one per code, 0 = null, left alone) the codes of `col`
/// whose value `pred` accepts, when a faster way than testing each value
/// applies; `false` (nothing marked) when it does not.
pub(super) fn mark_fast(col: &DictColumn<'_>, pred: &Pred, bits: &mut [bool]) -> Result<bool> {
    let kind = col.field().kind();
    match (&pred.op, &pred.arg) {
        (Op::Contains, Arg::One(Scalar::Str(needle))) => match col.str_values()? {
            Some((text, bounds)) => {
                mark_containing(text, &bounds, needle, bits);
                Ok(true)
            }
            None => Ok(false),
        },
        (Op::StartsWith | Op::Lt | Op::Le | Op::Gt | Op::Ge, Arg::One(_))
            if matches!(kind, FieldKind::Str | FieldKind::Int) =>
        {
            mark_sorted(col, pred, bits)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// `contains`: one search over the text of every value; a hit inside a
/// value marks its code and the search goes on after that value.
fn mark_containing(text: &str, bounds: &[usize], needle: &str, bits: &mut [bool]) {
    let (Some(first), Some(last)) = (bounds.first(), bounds.last()) else {
        return;
    };
    let hay = text.as_bytes();
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let mut from = *first;
    while from < *last {
        let Some(p) = hay.get(from..*last).and_then(|h| finder.find(h)) else {
            return;
        };
        let at = from + p;
        // The code whose value holds byte `at`.
        let code = bounds.partition_point(|b| *b <= at);
        let end = bounds.get(code).copied().unwrap_or(*last);
        if at + needle.len() <= end {
            if let Some(b) = bits.get_mut(code) {
                *b = true;
            }
            from = end;
        } else {
            // The hit runs into the next value: look again one byte on.
            from = at + 1;
        }
    }
}

/// `starts_with` and the comparisons: the accepted values are one run of
/// the sorted codes (a prefix for `lt` / `le`, a suffix for `gt` / `ge`, a
/// run from the first value not below the prefix for `starts_with`), found
/// by binary search with the predicate itself.
fn mark_sorted(col: &DictColumn<'_>, pred: &Pred, bits: &mut [bool]) -> Result<()> {
    let n = col.count();
    // First code in 1..=n for which `below(code)` is false (`below` true
    // on a prefix of the codes).
    let first_not = |below: &dyn Fn(u32) -> Result<bool>| -> Result<u32> {
        let (mut lo, mut hi) = (1u32, n + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if below(mid)? {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    };
    let accepts = |c: u32| -> Result<bool> { Ok(pred.matches(col.value(c)?)) };
    let (from, to) = match pred.op {
        Op::Lt | Op::Le => (1, first_not(&accepts)?),
        Op::Gt | Op::Ge => (first_not(&|c| Ok(!accepts(c)?))?, n + 1),
        _ => {
            // starts_with: values below the prefix, then those starting with
            // it, then the rest.
            let Arg::One(Scalar::Str(prefix)) = &pred.arg else {
                return Ok(());
            };
            let below = |c: u32| -> Result<bool> {
                Ok(match col.value(c)? {
                    crate::event::Value::Str(s) => s < prefix.as_str(),
                    _ => false,
                })
            };
            let from = first_not(&below)?;
            (from, first_not(&|c| Ok(below(c)? || accepts(c)?))?)
        }
    };
    for b in bits.iter_mut().take(to as usize).skip(from as usize) {
        *b = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values back to back as a dictionary stores them, and their bounds.
    fn dict(values: &[&str]) -> (String, Vec<usize>) {
        let mut text = String::new();
        let mut bounds = vec![0];
        for v in values {
            text.push_str(v);
            bounds.push(text.len());
        }
        (text, bounds)
    }

    fn containing(values: &[&str], needle: &str) -> Vec<usize> {
        let (text, bounds) = dict(values);
        let mut bits = vec![false; values.len() + 1];
        mark_containing(&text, &bounds, needle, &mut bits);
        let got: Vec<usize> = (0..bits.len()).filter(|c| bits[*c]).collect();
        // The naive answer, value by value.
        let want: Vec<usize> = (1..=values.len())
            .filter(|c| values[c - 1].contains(needle))
            .collect();
        assert_eq!(got, want, "{values:?} contains {needle:?}");
        got
    }

    #[test]
    fn a_hit_across_two_values_marks_neither() {
        // "ab" + "cd": "bc" is in the text but in no value.
        assert_eq!(containing(&["ab", "cd", "xbcx"], "bc"), vec![3]);
        assert_eq!(containing(&["ab", "cd"], "abcd"), Vec::<usize>::new());
    }

    #[test]
    fn every_value_holding_the_needle_is_marked_once() {
        assert_eq!(containing(&["aa", "aaa", "b", "baab"], "aa"), vec![1, 2, 4]);
        assert_eq!(containing(&["a", "b"], ""), vec![1, 2]);
        assert_eq!(
            containing(&["Jörg", "Ødegård", "李伟", "ö"], "ö"),
            vec![1, 4]
        );
        assert_eq!(
            containing(&["x@green.example", "green", "gree"], "green"),
            vec![1, 2]
        );
        assert_eq!(containing(&[], "a"), Vec::<usize>::new());
    }
}
