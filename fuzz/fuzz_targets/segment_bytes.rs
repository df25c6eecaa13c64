//! Raw bytes as a segment file: open; if it opens, verify, read every
//! column, dictionary value, bitmap and block through the public API, and
//! query it through an engine. Never a panic; a segment that verifies must
//! read and answer in full. See `daybook_fuzz::harness::segment`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| daybook_fuzz::harness::segment::segment_bytes(data));
