#![no_main]
//! See `harness::dehydrated_events` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::dehydrated_events(data));
