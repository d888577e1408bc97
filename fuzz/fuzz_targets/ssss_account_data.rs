#![no_main]
//! See `harness::ssss_account_data` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::ssss_account_data(data));
