#![no_main]
//! See `harness::cross_signing` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::cross_signing(data));
