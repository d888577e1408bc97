#![no_main]
//! See mxkeys::fuzz_targets::identity_qr_image.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::identity_qr_image(data));
