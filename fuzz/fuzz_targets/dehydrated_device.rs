#![no_main]
//! See `harness::dehydrated_device` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::dehydrated_device(data));
