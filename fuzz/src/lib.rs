//! The checks behind the fuzz targets in `fuzz_targets/`, one function per
//! target in [`harness`]. They live in a library (not in the targets) so that
//! `tests/fuzz_regressions.rs` in the main crate can include the same code
//! with `#[path]` and replay saved inputs under `cargo test`.

pub mod harness;
