//! Bytes as CSV (header row, then records) through `daybook::csv_event`:
//! the whole-stream reader, a reader fed a few bytes at a time and the
//! parallel splitter path must agree record for record; accepted events
//! round-trip. See `daybook_fuzz::harness::csv`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| daybook_fuzz::harness::csv::csv_event(data));
