#![no_main]
//! See mxkeys::fuzz_targets::recovery_key.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::recovery_key(data));
