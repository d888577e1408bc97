#![no_main]
//! See mxkeys::fuzz_targets::merge.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::merge(data));
