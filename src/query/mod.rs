//! Report queries: the query model ([`Query`], docs/queries.md), its
//! checking against the contract (`bind`), the per-segment planner and
//! executor (`segscan`: dictionaries, bitmaps cheapest first, residual
//! checks), the merge of partial results (`exec`) and `explain`.

pub(crate) mod bind;
mod budget;
mod cancel;
mod cursor;
mod exec;
mod explain;
mod global;
mod groups;
mod keys;
mod model;
mod partial;
mod result;
mod scalar;
pub(crate) mod segscan;
pub mod values;
mod wide;

pub use bind::window_bound;
pub use budget::{DEFAULT_QUERY_MEMORY_BYTES, MemoryPool};
pub use cancel::{CancelToken, QueryOptions};
pub use explain::{Explain, SourceTrace, Step};
pub use model::{Direction, Op, Operand, Predicate, Query, Select, TimeWindow};
pub use result::{QueryResult, Row};
pub use scalar::Scalar;

use crate::error::Result;
use crate::state::Snapshot;

impl Snapshot {
    /// Answers `q` over this snapshot's data (sealed and buffered).
    pub fn query(&self, q: &Query) -> Result<QueryResult> {
        self.query_with(q, &QueryOptions::default())
    }

    /// Answers `q` as [`query`](Self::query) does, with `opts`: a
    /// cancelled [`QueryOptions::cancel`] token stops it with
    /// [`Error::Cancelled`](crate::Error::Cancelled), and
    /// [`QueryOptions::max_threads`] caps the threads it uses.
    pub fn query_with(&self, q: &Query, opts: &QueryOptions) -> Result<QueryResult> {
        let b = bind::bind(q, self.horizon, self.today)?;
        exec::run(self, &b, false, opts).map(|(r, _)| r)
    }

    /// Answers `q` and says how: the plan and the time of each step.
    pub fn explain(&self, q: &Query) -> Result<(QueryResult, Explain)> {
        self.explain_with(q, &QueryOptions::default())
    }

    /// [`explain`](Self::explain) with `opts`, as [`query_with`](Self::query_with).
    pub fn explain_with(&self, q: &Query, opts: &QueryOptions) -> Result<(QueryResult, Explain)> {
        let b = bind::bind(q, self.horizon, self.today)?;
        let (r, ex) = exec::run(self, &b, true, opts)?;
        Ok((r, ex.unwrap_or_default()))
    }
}
