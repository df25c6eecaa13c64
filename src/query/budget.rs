//! The memory a query may hold: a budget per query
//! ([`QueryOptions::max_memory_bytes`](super::QueryOptions)) and, for a
//! server running many queries at once, a [`MemoryPool`] they all draw
//! from.
//!
//! A query is charged where its memory grows with the data rather than
//! with one segment: each source's partial answer (its groups, or the rows
//! a listing keeps), the merge's interned values, keys and totals, the rows
//! a listing sorts, and the values of `in` / `not_in` lists. Work inside
//! one source (a segment's candidate rows, its counting arrays) is bounded
//! by the segment's size and is not counted. Charges only grow: what a
//! query frees before it ends still counts, so the figure is an upper
//! bound of what it holds at once. Past the budget the query stops with
//! [`Error::ResourceExhausted`] at once, before it allocates more.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

use super::bind::{Arg, Bound};
use super::cancel::Stop;
use super::partial::{KeySrc, Out, Partial};
use super::scalar::Scalar;

/// The default memory budget of one query: 2 GiB. The heaviest shapes of
/// a month of a few million events (a count by `event_id`, by `url` x
/// `object_id` x `user_email`) stay well inside it; a year of such events
/// grouped by a unique key does not, and is refused before it can take the
/// machine's memory.
pub const DEFAULT_QUERY_MEMORY_BYTES: u64 = 2 << 30;

/// Memory shared by the queries that run at once (a server's): each
/// query's charges are also taken from the pool, and given back when the
/// query ends. A query that finds the pool spent stops with
/// [`Error::ResourceExhausted`] (`shared: true`): retry it later. Clones
/// share one pool.
#[derive(Clone, Debug)]
pub struct MemoryPool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    limit: u64,
    used: AtomicU64,
}

impl MemoryPool {
    /// A pool of `limit_bytes` for all the queries given it.
    pub fn new(limit_bytes: u64) -> MemoryPool {
        MemoryPool {
            inner: Arc::new(PoolInner {
                limit: limit_bytes,
                used: AtomicU64::new(0),
            }),
        }
    }

    /// The pool's size.
    pub fn limit_bytes(&self) -> u64 {
        self.inner.limit
    }

    /// Bytes the running queries hold now.
    pub fn used_bytes(&self) -> u64 {
        self.inner.used.load(Ordering::Relaxed)
    }

    /// Takes `bytes`, or nothing if the pool has not that much left.
    fn take(&self, bytes: u64) -> bool {
        let used = &self.inner.used;
        let mut now = used.load(Ordering::Relaxed);
        loop {
            let Some(next) = now.checked_add(bytes).filter(|n| *n <= self.inner.limit) else {
                return false;
            };
            match used.compare_exchange_weak(now, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(seen) => now = seen,
            }
        }
    }

    fn give_back(&self, bytes: u64) {
        self.inner.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// One running query's charges: against its own budget and its pool's.
/// What it took from the pool goes back when it is dropped (the query
/// ended, answered or not).
#[derive(Debug)]
pub(crate) struct Meter {
    limit: u64,
    used: AtomicU64,
    pool: Option<MemoryPool>,
    pooled: AtomicU64,
}

impl Meter {
    pub(crate) fn new(limit: u64, pool: Option<MemoryPool>) -> Meter {
        Meter {
            limit,
            used: AtomicU64::new(0),
            pool,
            pooled: AtomicU64::new(0),
        }
    }

    /// Counts `bytes` more for `what`; `Error::ResourceExhausted` when that
    /// passes the query's budget or its pool's.
    pub(crate) fn charge(&self, bytes: u64, what: &str) -> Result<()> {
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.limit {
            return Err(Error::ResourceExhausted {
                what: what.to_string(),
                limit_bytes: self.limit,
                shared: false,
            });
        }
        if let Some(pool) = &self.pool {
            if !pool.take(bytes) {
                return Err(Error::ResourceExhausted {
                    what: what.to_string(),
                    limit_bytes: pool.limit_bytes(),
                    shared: true,
                });
            }
            self.pooled.fetch_add(bytes, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Bytes charged so far.
    #[cfg(test)]
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if let Some(pool) = &self.pool {
            pool.give_back(*self.pooled.get_mut());
        }
    }
}

/// Bytes of one value held in a result, a key or a list: the value and
/// the text it owns.
pub(crate) fn scalar_bytes(s: &Scalar) -> u64 {
    let heap = match s {
        Scalar::Str(t) => t.len(),
        _ => 0,
    };
    (std::mem::size_of::<Scalar>() + heap) as u64
}

/// Charges the `in` / `not_in` lists of a bound query, each named by its
/// predicate.
pub(crate) fn charge_lists(q: &Bound, stop: Stop<'_>) -> Result<()> {
    for p in &q.preds {
        if let Arg::Many(list) = &p.arg {
            let bytes = list.iter().map(scalar_bytes).sum();
            let what = format!(
                "{} list on {} ({} values)",
                p.op.name(),
                p.field,
                list.len()
            );
            stop.charge(bytes, &what)?;
        }
    }
    Ok(())
}

/// Charges one source's partial answer ([`partial_bytes`]).
pub(crate) fn charge_partial(p: &Partial<'_>, stop: Stop<'_>) -> Result<()> {
    let what = match p.out {
        Out::Counts { .. } => "groups",
        Out::Rows(_) => "listed rows",
    };
    stop.charge(partial_bytes(p), what)
}

/// Charges what the merge of counts holds for one source's `groups`
/// (query/groups.rs): each key as a month-wide id (a 4-byte memo slot per
/// field), its entry in the id table (8-byte reference and 5-byte slot)
/// and its total (8 bytes), counting every group as new (an upper bound:
/// a key met in an earlier source costs less).
pub(crate) fn charge_merge(groups: usize, fields: usize, stop: Stop<'_>) -> Result<()> {
    let per_group = 4 * fields.max(1) as u64 + 13 + 8;
    stop.charge(groups as u64 * per_group, "merge of groups")
}

/// Bytes of one source's partial answer: its groups and the values it
/// interned, or the rows it keeps for a listing.
pub(crate) fn partial_bytes(p: &Partial<'_>) -> u64 {
    match &p.out {
        Out::Counts { srcs, counts } => {
            let groups = counts.bytes();
            let owned: u64 = srcs
                .iter()
                .map(|s| match s {
                    KeySrc::Owned(v) => {
                        v.iter().map(scalar_bytes).sum::<u64>() + 16 * v.len() as u64
                    }
                    KeySrc::Borrowed(v) => {
                        (v.len() * std::mem::size_of::<crate::event::Value<'_>>()) as u64
                    }
                    KeySrc::Bytes(b) => b.bytes(),
                    _ => 0,
                })
                .sum();
            groups + owned
        }
        Out::Rows(rows) => rows.iter().map(|(k, _)| row_bytes(k)).sum(),
    }
}

/// Bytes of one listed row's sort key as a source keeps it.
pub(crate) fn row_bytes(key: &[Scalar]) -> u64 {
    std::mem::size_of::<(Vec<Scalar>, usize, u32)>() as u64
        + key.iter().map(scalar_bytes).sum::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exhausted(r: Result<()>) -> (String, u64, bool) {
        match r {
            Err(Error::ResourceExhausted {
                what,
                limit_bytes,
                shared,
            }) => (what, limit_bytes, shared),
            other => panic!("expected ResourceExhausted, got {other:?}"),
        }
    }

    #[test]
    fn a_query_is_refused_past_its_own_budget() {
        let m = Meter::new(1000, None);
        m.charge(600, "a").unwrap();
        m.charge(400, "b").unwrap();
        assert_eq!(m.used(), 1000);
        assert_eq!(exhausted(m.charge(1, "c")), ("c".into(), 1000, false));
    }

    /// Queries running at once share the pool; what one held goes back
    /// when it ends, and the next fits again.
    #[test]
    fn queries_at_once_share_the_pool_and_give_it_back() {
        let pool = MemoryPool::new(1000);
        let a = Meter::new(u64::MAX, Some(pool.clone()));
        let b = Meter::new(u64::MAX, Some(pool.clone()));
        a.charge(700, "a").unwrap();
        assert_eq!(exhausted(b.charge(400, "b")), ("b".into(), 1000, true));
        // The refused charge took nothing from the pool.
        assert_eq!(pool.used_bytes(), 700);
        b.charge(300, "b").unwrap();
        assert_eq!(pool.used_bytes(), 1000);
        drop(a);
        assert_eq!(pool.used_bytes(), 300);
        let c = Meter::new(u64::MAX, Some(pool.clone()));
        c.charge(700, "c").unwrap();
        drop((b, c));
        assert_eq!(pool.used_bytes(), 0);
    }

    #[test]
    fn a_value_counts_its_text() {
        let base = std::mem::size_of::<Scalar>() as u64;
        assert_eq!(scalar_bytes(&Scalar::Int(7)), base);
        assert_eq!(scalar_bytes(&Scalar::Str("abcd".into())), base + 4);
    }
}
