//! A valid segment (built from events derived from the input, or a prebuilt
//! 2,100-row one with mapped columns), damaged by input-driven byte flips,
//! overwrites, copies and truncations, aimed at the whole file, any section
//! or the bitmap and token postings sections in particular, with the checksums re-forged or
//! not. Then the checks of `segment_bytes`, and: damage that verify lets
//! through must not have changed a single decoded event. See
//! `daybook_fuzz::harness::segment`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| daybook_fuzz::harness::segment::segment_mutated(data));
