#![no_main]
//! See mxkeys::fuzz_targets::kdf_lanes.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::kdf_lanes(data));
