//! One check per fuzz target. Each takes the fuzzer's bytes and panics when
//! an invariant breaks (a panic inside daybook is a finding too). Inputs are
//! decoded with [`Input`], which never fails: an exhausted input reads as
//! zeros, so every byte string is a valid test case.
//!
//! This module uses only `std`, `daybook` and daybook's own dependencies
//! (`serde_json`, `crc32fast`, `xxhash-rust`), so that the main crate's
//! `tests/fuzz_regressions.rs` can include it with `#[path]`.

pub mod csv;
pub mod events;
pub mod json;
pub mod log;
pub mod ops;
pub mod query;
pub mod seeds;
pub mod segment;

/// 2026-11-27T12:00:00Z, the clock of every fixed-time target.
pub const NOW_MS: i64 = 1_795_780_800_000;

/// Prints `what` when `DAYBOOK_FUZZ_TRACE` is set (for `replay`).
pub fn trace(what: impl FnOnce() -> String) {
    if std::env::var_os("DAYBOOK_FUZZ_TRACE").is_some() {
        eprintln!("{}", what());
    }
}

/// Reads a fuzz input as a stream of small decisions.
pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let x = if n <= 256 {
            u64::from(self.u8())
        } else if n <= 65_536 {
            u64::from(self.u16())
        } else {
            self.u64()
        };
        x % n
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// True with probability about `k`/256.
    pub fn chance(&mut self, k: u8) -> bool {
        self.u8() < k
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.pos = start.saturating_add(n);
        &self.data[start..end]
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        self.pos = self.data.len();
        &self.data[start..]
    }
}

/// The rows of a one-field group-by count as a map from the group's value
/// to its count (a row without an integer count counts 0).
pub fn counts_by_group(
    r: &daybook::query::QueryResult,
) -> std::collections::BTreeMap<daybook::query::Scalar, u64> {
    r.rows
        .iter()
        .map(|row| {
            let n = match row.last() {
                Some(daybook::query::Scalar::Int(n)) => *n,
                _ => 0,
            };
            (
                row.first().cloned().unwrap_or(daybook::query::Scalar::Null),
                n,
            )
        })
        .collect()
}
