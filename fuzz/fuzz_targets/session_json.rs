#![no_main]
//! See mxkeys::fuzz_targets::session_json.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::session_json(data));
