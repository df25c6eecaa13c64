//! Bytes as the write-ahead log of a fresh data directory, then
//! `Engine::open`: `Ok` or an error, never a panic; framed logs must recover
//! exactly what docs/format.md's torn-tail rules say. See
//! `daybook_fuzz::harness::log`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| daybook_fuzz::harness::log::log_bytes(data));
