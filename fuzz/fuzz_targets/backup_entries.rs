#![no_main]
//! See `harness::backup_entries` in fuzz/src/harness.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys_fuzz::harness::backup_entries(data));
