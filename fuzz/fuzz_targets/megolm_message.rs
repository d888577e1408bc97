#![no_main]
//! See `harness::megolm_message` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::megolm_message(data));
