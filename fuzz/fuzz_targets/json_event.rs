//! Bytes as one JSON Lines event through `daybook::json::parse_event`; an
//! accepted event round-trips through JSON, the binary record and CSV. See
//! `daybook_fuzz::harness::json`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| daybook_fuzz::harness::json::json_event(data));
