//! Month-wide ids for dictionary values, shared by every query: per field,
//! one table of distinct values (a global id each) and, per segment, the
//! map from the segment's dictionary codes to global ids.
//!
//! The merge of a group-by then turns a segment's group keys into global
//! keys with one array read per key, instead of hashing a string per
//! distinct value of every segment on every query. A segment's map is built
//! the first time a group-by meets the segment (one look-up per dictionary
//! value) and kept while the segment lives: segments are immutable, and a
//! map is found by the segment's identity (its allocation, held by a weak
//! reference so that it cannot be reused while the map exists). A segment
//! dropped by compaction or retention is never looked up again; its map is
//! pruned at the next build for the field, and once the table holds more
//! than twice the values of the live segments' dictionaries (values only
//! dead segments had), the field starts over.
//!
//! Memory: per field, the values (a [`Scalar`] each, plus the string) and a
//! 4-byte table slot per value; per segment and field, 4 bytes per
//! dictionary code (twice for a column stored as a code map of another).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Weak};

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use parking_lot::{RwLock, RwLockReadGuard};

use crate::error::Result;
use crate::event::{Field, Value};
use crate::segment::SegmentReader;

use super::keys::K;
use super::scalar::Scalar;

/// A field's month-wide values and the segments' maps into them.
#[derive(Default)]
pub(crate) struct FieldDict {
    values: Vec<Scalar>,
    table: HashTable<u32>,
    hasher: FixedState,
    /// By (segment address, keyed by parent codes): the segment and its map.
    maps: HashMap<(usize, bool), SegMap>,
}

/// A segment (held weakly: its address is not reused while the map lives)
/// and its map of codes to global ids.
type SegMap = (Weak<SegmentReader>, Arc<[u32]>);

/// How a segment keys a group field: by the field's own codes, or by the
/// codes of the column it is a code map of (`user_email` by `user_id`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Keyed {
    Own,
    Parent,
}

static DICTS: LazyLock<Vec<RwLock<FieldDict>>> =
    LazyLock::new(|| Field::ALL.iter().map(|_| RwLock::default()).collect());

/// Fields whose dictionaries are at most this big are never started over
/// (the check is not worth it).
const KEEP_BELOW: usize = 1024;

impl FieldDict {
    /// How many global ids there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn value(&self, id: u32) -> Option<&Scalar> {
        self.values.get(id as usize)
    }

    /// The global id of `k`, if some live or past segment had it.
    #[inline]
    pub fn find(&self, k: K<'_>) -> Option<u32> {
        let h = k.hash(&self.hasher);
        let values = &self.values;
        self.table
            .find(h, |id| {
                values
                    .get(*id as usize)
                    .is_some_and(|s| k.same(K::Val(s.as_value())))
            })
            .copied()
    }

    fn intern(&mut self, v: Value<'_>) -> u32 {
        if let Some(id) = self.find(K::Val(v)) {
            return id;
        }
        let id = self.values.len() as u32;
        self.values.push(Scalar::from(v));
        let (values, hasher) = (&self.values, &self.hasher);
        let h = K::Val(v).hash(hasher);
        self.table.insert_unique(h, id, |id| {
            values
                .get(*id as usize)
                .map_or(0, |s| K::Val(s.as_value()).hash(hasher))
        });
        id
    }

    /// Drops the maps of segments that are gone; starts the field over when
    /// most of its values belong to no live segment.
    fn prune(&mut self) {
        self.maps.retain(|_, (seg, _)| seg.strong_count() > 0);
        let live: usize = self
            .maps
            .iter()
            .filter(|((_, by_parent), _)| !by_parent)
            .map(|(_, (_, m))| m.len())
            .sum();
        if self.values.len() > KEEP_BELOW.max(live.saturating_mul(2)) {
            *self = FieldDict::default();
        }
    }

    fn map(&self, seg: &Arc<SegmentReader>, keyed: Keyed) -> Option<Arc<[u32]>> {
        let key = (Arc::as_ptr(seg) as usize, keyed == Keyed::Parent);
        self.maps.get(&key).map(|(_, m)| Arc::clone(m))
    }

    /// The map of `seg`'s codes (or its parent's codes) for `field` to
    /// global ids, built if missing.
    fn ensure(&mut self, seg: &Arc<SegmentReader>, field: Field, keyed: Keyed) -> Result<()> {
        if self.map(seg, keyed).is_some() {
            return Ok(());
        }
        let addr = Arc::as_ptr(seg) as usize;
        let col = seg.dict(field)?;
        let own: Arc<[u32]> = match self.map(seg, Keyed::Own) {
            Some(m) => m,
            None => {
                let mut m = Vec::with_capacity(col.count() as usize + 1);
                for code in 0..=col.count() {
                    m.push(self.intern(col.value(code)?));
                }
                let m: Arc<[u32]> = m.into();
                self.maps
                    .insert((addr, false), (Arc::downgrade(seg), Arc::clone(&m)));
                m
            }
        };
        if keyed == Keyed::Parent {
            let parents = match col.parent() {
                Some(p) => seg.dict(p)?.count(),
                None => col.count(),
            };
            let by_parent: Arc<[u32]> = (0..=parents)
                .map(|p| {
                    own.get(col.code_of_parent(p) as usize)
                        .copied()
                        .unwrap_or(0)
                })
                .collect();
            self.maps
                .insert((addr, true), (Arc::downgrade(seg), by_parent));
        }
        Ok(())
    }
}

/// What the merge of one query needs of a field's dictionary: the table,
/// read-locked while the merge runs, and the maps of its segments.
pub(crate) struct Held {
    pub dict: RwLockReadGuard<'static, FieldDict>,
    /// Per source: the map of its codes, if it is a segment keyed by codes.
    pub maps: Vec<Option<Arc<[u32]>>>,
}

/// Builds the missing maps of `field` for the segments in `wanted` (per
/// source: the segment and how it keys the field, if it does by codes),
/// then holds the field's table for reading. Callers lock fields in field
/// order, so two queries never wait on each other in a cycle.
pub(crate) fn hold(
    field: Field,
    wanted: &[Option<(&Arc<SegmentReader>, Keyed)>],
) -> Result<Option<Held>> {
    let Some(lock) = DICTS.get(field as usize) else {
        return Ok(None);
    };
    let mut dict = lock.write();
    dict.prune();
    for (seg, keyed) in wanted.iter().flatten() {
        dict.ensure(seg, field, *keyed)?;
    }
    let dict = parking_lot::RwLockWriteGuard::downgrade(dict);
    let maps = wanted
        .iter()
        .map(|w| w.and_then(|(seg, keyed)| dict.map(seg, keyed)))
        .collect();
    Ok(Some(Held { dict, maps }))
}
