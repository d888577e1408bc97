//! Hostile sizes and values given to the CLI, all generated at test time: 65 MiB "small" JSON
//! documents. Each must end quickly with its exit code and one `error:` line, never a panic or
//! gigabytes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs::{self, File};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const MIB: u64 = 1024 * 1024;

/// The binary itself (no setsid in between, so its pid is the one to signal), stderr piped.
fn spawn(args: &[&str], stdin: Stdio) -> Child {
    Command::new(BIN)
        .args(args)
        .env_remove("MXKEYS_PASSPHRASE")
        .env_remove("MXKEYS_NEW_PASSPHRASE")
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait for the child, at most `limit`; its exit code and the rest of its stderr.
fn finish(mut child: Child, mut err: impl Read, limit: Duration) -> (Option<i32>, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut rest = String::new();
            err.read_to_string(&mut rest).unwrap();
            return (status.code(), rest);
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One `error:` line, containing `needle`; other lines only notes or warnings; no panic.
fn assert_one_error(err: &str, needle: &str) {
    assert!(!err.contains("panicked"), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(needle), "{needle:?} not in {err}");
    assert!(
        err.lines().all(|l| l.starts_with("error: ")
            || l.starts_with("note: ")
            || l.starts_with("warning: ")),
        "{err}"
    );
}

/// A 65 MiB file where a small document belongs: refused while reading (at most 64 MiB + 1 byte
/// held), for every command that reads one. Before, a 1 GB line took 2.1 GB of memory.
#[test]
fn small_json_documents_above_64_mib_are_refused() {
    let d = tmpdir();
    let big = d.path().join("big.json");
    // Sparse: one byte at 65 MiB, zeros (no disk) before it.
    {
        let mut f = File::create(&big).unwrap();
        f.set_len(65 * MIB).unwrap();
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(65 * MIB)).unwrap();
        f.write_all(b"}").unwrap();
    }
    let blob = d.path().join("blob");
    fs::write(&blob, b"ciphertext").unwrap();
    let b = s(&big);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["ssss", "inspect", b], "account data"),
        (
            vec!["attachment", "decrypt", s(&blob), "--info", b],
            "event",
        ),
        (
            vec!["cross-signing", "check", "--keys", b],
            "/keys/query response",
        ),
        (vec!["sas", "compute", "--transcript", b], "SAS transcript"),
    ];
    for (args, what) in cases {
        let start = Instant::now();
        let o = mxkeys(&args, &[]);
        let want = format!(
            "{b} is larger than 64 MiB, far above any real {what}; is this the right file?"
        );
        assert_fails(&o, 1, &want);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{args:?}: {:?}",
            start.elapsed()
        );
    }

    // Standard input too: not held whole first.
    let mut child = spawn(
        &["sas", "compute", "--transcript", "-"],
        Stdio::from(File::open(&big).unwrap()),
    );
    let e = child.stderr.take().unwrap();
    let (code, err) = finish(child, e, Duration::from_secs(20));
    assert_eq!(code, Some(1), "{err}");
    assert_one_error(&err, "- is larger than 64 MiB");

    // Exactly 64 MiB is still read and parsed (here: JSON that is not a transcript).
    {
        let mut f = File::create(&big).unwrap();
        f.write_all(b"{}").unwrap();
        f.write_all(&vec![b' '; (64 * MIB - 2) as usize]).unwrap();
    }
    let o = mxkeys(&["sas", "compute", "--transcript", b], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("larger than"), "{}", stderr(&o));
}
