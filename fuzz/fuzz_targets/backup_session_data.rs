#![no_main]
//! See mxkeys::fuzz_targets::backup_session_data.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::backup_session_data(data));
