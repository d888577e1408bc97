#![no_main]
//! See mxkeys::fuzz_targets::attachment_stream.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::attachment_stream(data));
