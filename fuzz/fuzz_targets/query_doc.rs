//! Bytes as a query JSON document, answered (and explained) by three
//! engines holding the same events sealed, buffered and mixed: no panic,
//! identical answers. See `daybook_fuzz::harness::query`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| daybook_fuzz::harness::query::query_doc(data));
