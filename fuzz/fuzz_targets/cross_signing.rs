#![no_main]
//! See mxkeys::fuzz_targets::cross_signing.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::cross_signing(data));
