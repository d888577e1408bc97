#![no_main]
//! The multi-buffer SHA-512 of the passphrase search against `sha2` and the `pbkdf2` crate: see
//! `mxkeys::kdf::compare_lanes_with_sha2` (it reaches private SIMD code, so it lives in mxkeys,
//! behind the `internals` feature, rather than in fuzz/src/harness.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::kdf::compare_lanes_with_sha2(data));
