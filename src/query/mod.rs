//! Report queries: the query model ([`Query`], docs/queries.md), its
//! checking against the contract ([`bind`]), the per-segment planner and
//! executor ([`segscan`]: dictionaries, bitmaps cheapest first, residual
//! checks), the merge of partial results ([`exec`]) and `explain`.

pub mod bind;
mod cancel;
mod cursor;
mod exec;
pub mod explain;
pub mod model;
mod partial;
pub mod scalar;
mod segscan;
pub mod values;

pub use cancel::{CancelToken, QueryOptions};
pub use explain::Explain;
pub use model::{Direction, Op, Operand, Predicate, Query, Select, TimeWindow};
pub use scalar::Scalar;

use crate::error::Result;
use crate::state::Snapshot;

/// A query's answer: a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryResult {
    /// Column names: the group fields then `count`, or the listed fields.
    pub columns: Vec<String>,
    /// Rows, in the query's order, after `offset` and `limit`.
    pub rows: Vec<Vec<Scalar>>,
    /// Events that matched the window and every predicate (before paging).
    /// `None` for a listing that stops at its page without checking every
    /// row (a limited listing by time with a predicate on `event_id`, `url`
    /// or `object_id`; see `Bound::stops_early`).
    pub matched_events: Option<u64>,
    /// For listings cut by `limit`: pass as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

impl QueryResult {
    /// As a JSON document: `{"columns": [...], "rows": [[...]],
    /// "matched_events": n, "next_cursor": "..."}`.
    pub fn to_json(&self) -> serde_json::Value {
        let rows = self
            .rows
            .iter()
            .map(|r| serde_json::Value::Array(r.iter().map(Scalar::to_json).collect()))
            .collect();
        serde_json::json!({
            "columns": self.columns,
            "rows": serde_json::Value::Array(rows),
            "matched_events": self.matched_events,
            "next_cursor": self.next_cursor,
        })
    }
}

impl Snapshot {
    /// Answers `q` over this snapshot's data (sealed and buffered).
    pub fn query(&self, q: &Query) -> Result<QueryResult> {
        self.query_with(q, &QueryOptions::default())
    }

    /// Answers `q` as [`query`](Self::query) does, with `opts`: a
    /// cancelled [`QueryOptions::cancel`] token stops it with
    /// [`Error::Cancelled`](crate::Error::Cancelled).
    pub fn query_with(&self, q: &Query, opts: &QueryOptions) -> Result<QueryResult> {
        let b = bind::bind(q, self.horizon, self.today)?;
        exec::run(self, &b, false, opts.stop()).map(|(r, _)| r)
    }

    /// Answers `q` and says how: the plan and the time of each step.
    pub fn explain(&self, q: &Query) -> Result<(QueryResult, Explain)> {
        self.explain_with(q, &QueryOptions::default())
    }

    /// [`explain`](Self::explain) with `opts`, as [`query_with`](Self::query_with).
    pub fn explain_with(&self, q: &Query, opts: &QueryOptions) -> Result<(QueryResult, Explain)> {
        let b = bind::bind(q, self.horizon, self.today)?;
        let (r, ex) = exec::run(self, &b, true, opts.stop())?;
        Ok((r, ex.unwrap_or_default()))
    }
}
