#![no_main]
//! See mxkeys::fuzz_targets::attachment_roundtrip.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::attachment_roundtrip(data));
