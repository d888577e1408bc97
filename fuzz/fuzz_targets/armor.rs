#![no_main]
//! See mxkeys::fuzz_targets::armor.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::armor(data));
