#![no_main]
//! See `harness::canonical_json` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::canonical_json(data));
