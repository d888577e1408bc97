#![no_main]
//! See mxkeys::fuzz_targets::attachment_info.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::attachment_info(data));
