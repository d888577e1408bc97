#![no_main]
//! See `harness::account_doctor` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::account_doctor(data));
