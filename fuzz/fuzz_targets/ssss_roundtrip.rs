#![no_main]
//! See `harness::ssss_roundtrip` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::ssss_roundtrip(data));
