#![no_main]
//! See `harness::attachment_stream` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::attachment_stream(data));
