#![no_main]
//! See mxkeys::fuzz_targets::export_decrypt.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::export_decrypt(data));
