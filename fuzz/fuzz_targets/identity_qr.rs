#![no_main]
//! See mxkeys::fuzz_targets::identity_qr.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::identity_qr(data));
