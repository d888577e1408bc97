#![no_main]
//! See mxkeys::fuzz_targets::backup_entries.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxkeys::fuzz_targets::backup_entries(data));
