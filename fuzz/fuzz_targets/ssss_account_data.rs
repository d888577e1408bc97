#![no_main]
//! See mxkeys::fuzz_targets::ssss_account_data.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::ssss_account_data(data));
