//! Replays every fuzz input kept in the repository through the same entry points the cargo-fuzz
//! targets use, on the stable toolchain: the test vectors, fuzz/corpus/TARGET (committed,
//! minimized corpora) and fuzz/regressions/TARGET (inputs that once crashed).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::{Path, PathBuf};

use mxkeys::fuzz_targets;

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn replay(target: &str, f: fn(&[u8]), seeds: &[&str]) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = Vec::new();
    for ext in seeds {
        inputs.extend(
            files(&root.join("test-vectors/export"))
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == *ext)),
        );
    }
    inputs.extend(files(&root.join("fuzz/corpus").join(target)));
    inputs.extend(files(&root.join("fuzz/regressions").join(target)));
    for p in &inputs {
        let data = fs::read(p).unwrap();
        let r = std::panic::catch_unwind(|| f(&data));
        assert!(r.is_ok(), "{target} panics on {}", p.display());
    }
    inputs.len()
}

#[test]
fn armor_inputs() {
    assert!(replay("armor", fuzz_targets::armor, &["txt"]) >= 30);
}

#[test]
fn export_decrypt_inputs() {
    assert!(replay("export_decrypt", fuzz_targets::export_decrypt, &["txt"]) >= 30);
}

#[test]
fn export_plaintext_inputs() {
    assert!(
        replay(
            "export_plaintext",
            fuzz_targets::export_plaintext,
            &["json", "txt"]
        ) >= 30
    );
}

#[test]
fn session_json_inputs() {
    assert!(replay("session_json", fuzz_targets::session_json, &["json", "txt"]) >= 30);
}
