#![no_main]
//! See mxkeys::fuzz_targets::ssss_roundtrip.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::ssss_roundtrip(data));
