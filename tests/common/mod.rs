//! Helpers shared by the CLI tests: run the real binary without a terminal, check the one-line
//! error contract, and check that failed commands leave nothing behind.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

pub mod vectors;

pub use vectors::vector_dir;

pub const BIN: &str = env!("CARGO_BIN_EXE_mxkeys");

/// test-vectors/export.
pub fn vectors() -> PathBuf {
    vector_dir("export")
}

pub fn mxkeys(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("MXKEYS_PASSPHRASE")
        .env_remove("MXKEYS_NEW_PASSPHRASE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    // No terminal: prompting must be impossible, so a missing secret is a usage error.
    cmd.stdin(Stdio::null());
    if Path::new("/usr/bin/setsid").exists() {
        let mut s = Command::new("/usr/bin/setsid");
        s.arg("-w").arg(cmd.get_program()).args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => s.env(k, v),
                None => s.env_remove(k),
            };
        }
        cmd = s;
        cmd.stdin(Stdio::null());
    }
    cmd.output().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 1 (or `code`), exactly one line on stderr starting with `error:`, no panic.
pub fn assert_fails(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("warning:") && !l.starts_with("note:"))
        .collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

pub fn tmpdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("mxkeys-cli-")
        .tempdir()
        .unwrap()
}

/// Nothing but `keep` in the directory: no OUT, no temporary file.
pub fn assert_only(dir: &Path, keep: &[&str]) {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut want: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(names, want);
}

pub fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A path as &str for arguments.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
