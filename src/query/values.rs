//! The values a field takes, and the names closest to a misspelt one: what
//! the command line's "no event has ...; closest: ..." notes and "did you
//! mean" hints use, and what an autocompleting client asks for.

use crate::error::Result;
use crate::event::{Field, FieldKind};
use crate::state::Snapshot;

use super::model::{Direction, Op, Predicate, Query, Select};
use super::scalar::Scalar;

impl Snapshot {
    /// The distinct values of `field` among the events `scope` selects (its
    /// `time` and `where`; the rest of `scope` is ignored) that start with
    /// `prefix` (as written in results: case-sensitive, bytewise), with
    /// their numbers of events, most frequent first (ties by value), at
    /// most `limit` of them. Missing values are left out.
    ///
    /// A multi-tenant caller puts the tenant's `company_name eq` predicate
    /// in `scope`, so that only that tenant's values are listed.
    ///
    /// It runs as a count grouped by `field`: through the dictionaries and
    /// bitmaps of the window's segments and the buffered events, with the
    /// semantics and errors of [`Snapshot::query`].
    pub fn field_values(
        &self,
        scope: &Query,
        field: Field,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<(String, u64)>> {
        let text = matches!(field.kind(), FieldKind::Str | FieldKind::EventType);
        let mut filters = scope.filters.clone();
        filters.push(Predicate {
            field: field.name().into(),
            op: Op::NotNull,
            value: None,
        });
        if text && !prefix.is_empty() {
            filters.push(Predicate {
                field: field.name().into(),
                op: Op::StartsWith,
                value: Some(prefix.into()),
            });
        }
        let q = Query {
            time: scope.time.clone(),
            filters,
            select: Select::Count,
            group_by: vec![field.name().into()],
            order_by: vec![("count".into(), Direction::Desc)],
            // Other kinds are matched on their text after counting.
            limit: (text || prefix.is_empty()).then_some(limit as u64),
            ..Query::default()
        };
        let rows = self.query(&q)?.rows;
        Ok(rows
            .into_iter()
            .filter_map(|row| match row.as_slice() {
                [value, Scalar::Int(n)] => Some((value.to_string(), *n)),
                _ => None,
            })
            .filter(|(v, _)| v.starts_with(prefix))
            .take(limit)
            .collect())
    }
}

/// Up to `n` of `candidates` that look like what `target` meant, best
/// first: equal ignoring case; then starting with it or being its start;
/// then containing it or contained in it; then at a small edit distance
/// (Levenshtein over characters, ignoring case; at most a quarter of the
/// target's length, and at least 1). Within each class, nearer first, then
/// in the candidates' order (give them most frequent first).
pub fn closest<'a>(
    target: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    n: usize,
) -> Vec<&'a str> {
    let t = target.to_lowercase();
    let max = (t.chars().count() / 4).max(1);
    let mut ranked: Vec<((u8, usize), &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            let l = c.to_lowercase();
            let d = edit_distance(&t, &l);
            let class = if l == t {
                0
            } else if l.starts_with(&t) || t.starts_with(&l) {
                1
            } else if l.contains(&t) || t.contains(&l) {
                2
            } else if d <= max {
                3
            } else {
                return None;
            };
            Some(((class, d), c))
        })
        .collect();
    // Stable: equal ranks keep the candidates' order.
    ranked.sort_by_key(|(rank, _)| *rank);
    ranked.into_iter().take(n).map(|(_, c)| c).collect()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // prev[j]: the distance between the part of `a` done so far and b[..j].
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(prev.len());
        cur.push(i + 1);
        for ((cb, diag), up) in b.iter().zip(&prev).zip(prev.iter().skip(1)) {
            let left = cur.last().copied().unwrap_or(0);
            cur.push((diag + usize::from(ca != *cb)).min(up + 1).min(left + 1));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("submitals", "submittals"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("bâtiment", "batiment"), 1);
    }

    #[test]
    fn closest_ranks_case_then_prefix_then_substring_then_distance() {
        let tools = [
            "Drawings",
            "RFIs",
            "Submittals",
            "RFQs",
            "Punch List",
            "Daily Log",
        ];
        assert_eq!(closest("RFI", tools, 3), ["RFIs"]);
        assert_eq!(closest("rfis", tools, 3), ["RFIs", "RFQs"]);
        assert_eq!(closest("Submitals", tools, 3), ["Submittals"]);
        assert_eq!(closest("log", tools, 3), ["Daily Log"]);
        assert_eq!(closest("RFQ", tools, 3), ["RFQs"]);
        assert_eq!(closest("Daily Logs", tools, 3), ["Daily Log"]);
        assert_eq!(closest("xyz", tools, 3), Vec::<&str>::new());
        let fields = Field::ALL.map(Field::name);
        assert_eq!(closest("toolname", fields, 1), ["tool_name"]);
        assert_eq!(closest("tool", fields, 3), ["tool_name"]);
        assert_eq!(closest("company", fields, 3), ["company_name"]);
        assert_eq!(closest("user_emial", fields, 1), ["user_email"]);
    }
}
