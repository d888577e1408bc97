#![no_main]
//! See `harness::export_plaintext` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::export_plaintext(data));
