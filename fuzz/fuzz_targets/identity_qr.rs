#![no_main]
//! See `harness::identity_qr` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::identity_qr(data));
