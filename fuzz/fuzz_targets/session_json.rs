#![no_main]
//! See `harness::session_json` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::session_json(data));
