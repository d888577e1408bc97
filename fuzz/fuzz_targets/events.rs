#![no_main]
//! See mxkeys::fuzz_targets::events.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::events(data));
