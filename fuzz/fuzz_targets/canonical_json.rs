#![no_main]
//! See mxkeys::fuzz_targets::canonical_json.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::canonical_json(data));
