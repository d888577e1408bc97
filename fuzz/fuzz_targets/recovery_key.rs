#![no_main]
//! See `harness::recovery_key` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::recovery_key(data));
