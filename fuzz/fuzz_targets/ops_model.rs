//! An operation sequence (appends, flush, compact, retention, clock,
//! queries, reopen, I/O faults, power loss) against an engine on an
//! in-memory file system and a naive model: acknowledged ⊆ recovered ⊆
//! attempted, no event twice, exact counts. See
//! `daybook_fuzz::harness::ops`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| daybook_fuzz::harness::ops::ops_model(data));
