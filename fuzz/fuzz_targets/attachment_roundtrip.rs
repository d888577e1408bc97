#![no_main]
//! See `harness::attachment_roundtrip` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::attachment_roundtrip(data));
