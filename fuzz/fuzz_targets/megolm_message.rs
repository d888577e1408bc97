#![no_main]
//! See mxkeys::fuzz_targets::megolm_message.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::megolm_message(data));
