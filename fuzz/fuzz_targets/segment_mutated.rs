//! A valid segment (built from events derived from the input, a prebuilt
//! 2,100-row one with mapped columns, or a prebuilt 33,000-row one with
//! framed url and object_id columns), damaged by input-driven byte flips,
//! overwrites, copies and truncations, aimed at the whole file, any section
//! or the bitmap, token postings, frames and frame dictionary sections in
//! particular, with the checksums re-forged or
//! not. Then the checks of `segment_bytes`, and: damage that verify lets
//! through must not have changed a single decoded event. See
//! `daybook_fuzz::harness::segment`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| daybook_fuzz::harness::segment::segment_mutated(data));
