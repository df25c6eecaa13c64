//! `contains` and `starts_with` on a token-indexed column (`url`) through
//! its token index (`segment::tokens`; docs/format.md, "Token index").
//!
//! The pattern is cut into *parts*, one per run of token bytes in it, each
//! with the byte before and after it when the pattern has one (the start
//! of the string before the first run of a `starts_with`). A row matching
//! the pattern holds, for every part, a unit with those bytes around a run
//! that equals the part's run (both sides known), ends with it (the left
//! side open), starts with it (the right side open) or contains it (both
//! open). A part's rows are the union of the listed units that fit it,
//! when the index lists every unit that could fit: the unit is listed, or
//! its run holds a non-digit byte and the segment lists all such units.
//! Otherwise the part is not bounded and adds nothing. The parts' rows are
//! intersected; an empty result proves the segment holds no match.
//!
//! The rows are exactly the matches when the pattern is one part with at
//! most one byte on each side of its run (`/rfis/`, `rfis/`, `rfis`, a
//! `starts_with "https:"`): every unit that fits is then an occurrence of
//! the whole pattern. Otherwise they are a superset, checked row by row.

use croaring::Bitmap;

use crate::error::Result;
use crate::query::bind::{Arg, Pred};
use crate::query::model::Op;
use crate::query::scalar::Scalar;
use crate::segment::tokens::{START, Unit, all_digits, is_token_byte};
use crate::segment::{SegmentReader, TOKEN_FIELDS, TokenIndex};

/// Rows a token index gave for a predicate.
pub(super) struct TokenRows {
    pub rows: Bitmap,
    /// What answered, for `explain`.
    pub what: String,
    /// The rows are exactly the matches (no row check needed).
    pub exact: bool,
}

/// One run of the pattern with what the pattern says is around it
/// (`None`: the pattern ends there, anything may follow or precede).
#[derive(Debug)]
struct Part<'p> {
    left: Option<u16>,
    run: &'p [u8],
    right: Option<u16>,
}

impl Part<'_> {
    fn fits(&self, u: &Unit<'_>) -> bool {
        self.left.is_none_or(|l| l == u.left)
            && self.right.is_none_or(|r| r == u.right)
            && match (self.left, self.right) {
                (Some(_), Some(_)) => u.run == self.run,
                (None, Some(_)) => u.run.ends_with(self.run),
                (Some(_), None) => u.run.starts_with(self.run),
                (None, None) => memchr::memmem::find(u.run, self.run).is_some(),
            }
    }
}

/// The parts of `pattern`, and whether they are exactly the pattern (one
/// part, at most one byte of the pattern on each side of its run, and for
/// an anchored pattern none before it).
fn parts(pattern: &[u8], anchored: bool) -> (Vec<Part<'_>>, bool) {
    let mut out = Vec::new();
    let mut shape_exact = false;
    let mut i = 0;
    while i < pattern.len() {
        if !pattern.get(i).is_some_and(|&b| is_token_byte(b)) {
            i += 1;
            continue;
        }
        let a = i;
        while pattern.get(i).is_some_and(|&b| is_token_byte(b)) {
            i += 1;
        }
        let left = match a.checked_sub(1).and_then(|p| pattern.get(p)) {
            Some(&b) => Some(u16::from(b)),
            None if anchored => Some(START),
            None => None,
        };
        let before_ok = a == 0 || (a == 1 && !anchored);
        shape_exact = before_ok && i + 1 >= pattern.len();
        out.push(Part {
            left,
            run: pattern.get(a..i).unwrap_or_default(),
            right: pattern.get(i).map(|&b| u16::from(b)),
        });
    }
    let exact = out.len() == 1 && shape_exact;
    (out, exact)
}

/// The rows of the listed units that fit `part`, if no unlisted unit can
/// fit it (else `None`).
fn part_rows(ix: &TokenIndex<'_>, part: &Part<'_>) -> Result<Option<Bitmap>> {
    let mut fit = Vec::new();
    if part.left.is_some() {
        // The run equals or starts with the part's run: a range of the
        // sorted dictionary.
        let mut i = ix.lower_bound(part.run)?;
        while i < ix.len() {
            let u = ix.unit(i)?;
            if !u.run.starts_with(part.run) {
                break;
            }
            if part.fits(&u) {
                fit.push(i);
            }
            i += 1;
        }
    } else {
        for i in 0..ix.len() {
            if part.fits(&ix.unit(i)?) {
                fit.push(i);
            }
        }
    }
    let covered = ix.complete() && !all_digits(part.run);
    // Both sides known: one unit fits at most, and a listed unit has all
    // its rows.
    let listed_exact = part.left.is_some() && part.right.is_some() && !fit.is_empty();
    // A dense unit has no rows listed: the part is checked on rows.
    if (!covered && !listed_exact) || fit.iter().any(|&i| ix.dense(i)) {
        return Ok(None);
    }
    let views = fit
        .iter()
        .map(|&i| ix.rows(i))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&Bitmap> = views.iter().map(|v| &**v).collect();
    Ok(Some(Bitmap::fast_or(&refs)))
}

/// The rows of `seg` a token index gives for `pred`, if it answers it.
pub(super) fn rows(seg: &SegmentReader, pred: &Pred) -> Result<Option<TokenRows>> {
    let anchored = match pred.op {
        Op::Contains => false,
        Op::StartsWith => true,
        _ => return Ok(None),
    };
    let Arg::One(Scalar::Str(pattern)) = &pred.arg else {
        return Ok(None);
    };
    // A version 1 file has no token index (docs/format.md, "Versions").
    if !TOKEN_FIELDS.contains(&pred.field) || seg.version() < 2 {
        return Ok(None);
    }
    let Some(ix) = seg.token_index(pred.field)? else {
        return Ok(None);
    };
    let (parts, exact_shape) = parts(pattern.as_bytes(), anchored);
    let mut acc: Option<Bitmap> = None;
    let mut bounded = 0;
    for part in &parts {
        let Some(rows) = part_rows(&ix, part)? else {
            continue;
        };
        bounded += 1;
        acc = Some(match acc {
            None => rows,
            Some(mut a) => {
                a.and_inplace(&rows);
                a
            }
        });
        if acc.as_ref().is_some_and(Bitmap::is_empty) {
            break;
        }
    }
    Ok(acc.map(|rows| {
        let exact = exact_shape && bounded == 1;
        TokenRows {
            rows,
            what: format!(
                "token index, {bounded} of {} part(s){}",
                parts.len(),
                if exact { ", exact" } else { "" }
            ),
            exact,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Shape = (Vec<(Option<u16>, String, Option<u16>)>, bool);

    fn shape(p: &str, anchored: bool) -> Shape {
        let (parts, exact) = parts(p.as_bytes(), anchored);
        let parts = parts
            .iter()
            .map(|p| (p.left, String::from_utf8(p.run.to_vec()).unwrap(), p.right))
            .collect();
        (parts, exact)
    }

    #[test]
    fn a_pattern_is_cut_into_parts() {
        let s = |c: char| Some(c as u16);
        assert_eq!(
            shape("/rfis/", false),
            (vec![(s('/'), "rfis".into(), s('/'))], true)
        );
        assert_eq!(
            shape("rfis", false),
            (vec![(None, "rfis".into(), None)], true)
        );
        assert_eq!(
            shape("rfis", true),
            (vec![(Some(START), "rfis".into(), None)], true)
        );
        assert_eq!(
            shape("/rfis", true),
            (vec![(s('/'), "rfis".into(), None)], false)
        );
        assert_eq!(
            shape("//rfis", false),
            (vec![(s('/'), "rfis".into(), None)], false)
        );
        assert_eq!(
            shape("rfis//", false),
            (vec![(None, "rfis".into(), s('/'))], false)
        );
        assert_eq!(
            shape("s/1/", false),
            (
                vec![(None, "s".into(), s('/')), (s('/'), "1".into(), s('/'))],
                false
            )
        );
        assert_eq!(shape("", false), (vec![], false));
        assert_eq!(shape("/./", false), (vec![], false));
    }
}
