//! Hostile sizes and values given to the CLI, all generated at test time: a 10 MB candidate line,
//! 65 MiB "small" JSON documents, `--threads 5000`, `bench kdf --seconds inf`, an -o that appears
//! during a search, Ctrl-C (SIGINT) during a search, and stdout closed or full. Each must end
//! quickly with its exit code and one `error:` line (or a note), never a panic or gigabytes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const MIB: u64 = 1024 * 1024;

fn element_export() -> PathBuf {
    vectors().join("element-web-r1000.txt")
}

/// An export of no sessions under `pass`, at `rounds`.
fn make_export(dir: &Path, pass: &str, rounds: u32) -> PathBuf {
    let sessions = dir.join("sessions.json");
    let pass_file = dir.join("pass.txt");
    let out = dir.join("target.txt");
    fs::write(&sessions, "[]").unwrap();
    fs::write(&pass_file, format!("{pass}\n")).unwrap();
    let o = mxkeys(
        &[
            "export",
            "encrypt",
            s(&sessions),
            "-o",
            s(&out),
            "--passphrase-file",
            s(&pass_file),
            "--rounds",
            &rounds.to_string(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

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

/// Read stderr up to and including the line starting with `prefix`; the lines read.
fn read_until_line(err: &mut impl BufRead, prefix: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "stderr ended before {prefix:?}: {seen}"
        );
        seen.push_str(&line);
        if line.starts_with(prefix) {
            return seen;
        }
    }
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

/// A 10 MB line reached 4 GB of memory and ~30 s under --mutate; it is refused, naming its line
/// and the cap, before any key derivation, from a file and from standard input.
#[test]
fn a_10_mb_candidate_line_is_refused_at_once() {
    let d = tmpdir();
    let list = d.path().join("list");
    {
        let mut f = File::create(&list).unwrap();
        f.write_all(b"first guess\n").unwrap();
        f.write_all(&vec![b'a'; 10 << 20]).unwrap();
        f.write_all(b"\nlast guess\n").unwrap();
    }
    let target = element_export();
    let o = mxkeys(
        &[
            "passphrase",
            "search",
            s(&target),
            "--candidates",
            s(&list),
            "--mutate",
        ],
        &[],
    );
    assert_fails(&o, 1, "line 2 is longer than 1024 bytes");
    assert!(
        stderr(&o).contains("remove it and run again"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("note: searching"), "{}", stderr(&o));

    // Standard input cannot be counted first: refused when reached, with the same message.
    let mut child = spawn(
        &[
            "passphrase",
            "search",
            s(&target),
            "--candidates",
            "-",
            "--mutate",
            "--threads",
            "1",
        ],
        Stdio::from(File::open(&list).unwrap()),
    );
    let e = child.stderr.take().unwrap();
    let (code, err) = finish(child, e, Duration::from_secs(20));
    assert_eq!(code, Some(1), "{err}");
    // Line 1's variations fill the first chunk (one thread): they were tried, line 2 was not.
    assert_one_error(
        &err,
        "standard input: line 2 is longer than 1024 bytes, far longer than any passphrase; is this the right list? remove it, then resume with --skip 1",
    );

    // A long line that --skip passes over is not this run's business.
    let o = mxkeys(
        &[
            "passphrase",
            "search",
            s(&target),
            "--candidates",
            s(&list),
            "--skip",
            "2",
        ],
        &[],
    );
    assert_fails(&o, 1, "none of the 1 candidates");

    // 1024 bytes (and its \r\n) is still a candidate.
    fs::write(&list, format!("{}\r\n", "b".repeat(1024))).unwrap();
    let o = mxkeys(
        &["passphrase", "search", s(&target), "--candidates", s(&list)],
        &[],
    );
    assert_fails(&o, 1, "none of the 1 candidates");
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
    let list = d.path().join("list");
    fs::write(&list, "guess\n").unwrap();
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
        (
            vec!["passphrase", "search", b, "--candidates", s(&list)],
            "account data or backup version",
        ),
    ];
    for (args, what) in cases {
        let o = mxkeys(&args, &[]);
        let want = format!(
            "{b} is larger than 64 MiB, far above any real {what}; is this the right file?"
        );
        assert_fails(&o, 1, &want);
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

/// An existing -o is refused before the target is even read.
#[test]
fn search_output_that_exists_is_refused_before_any_work() {
    let d = tmpdir();
    let out = d.path().join("found.txt");
    fs::write(&out, "keep me").unwrap();
    let list = vector_dir("search").join("element-r1000.list");
    let o = mxkeys(
        &[
            "passphrase",
            "search",
            s(&element_export()),
            "--candidates",
            s(&list),
            "-o",
            s(&out),
        ],
        &[],
    );
    assert_fails(&o, 2, "already exists");
    assert!(!stderr(&o).contains("note: searching"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&out).unwrap(), "keep me");
}

/// -o appears while the search runs (the list comes from a pipe this test holds, so the search
/// cannot finish before OUT exists): OUT is kept, and the error says which line and which
/// --mutate variation the passphrase is, never the passphrase.
#[test]
fn search_output_that_appears_during_the_search_names_the_line() {
    let d = tmpdir();
    let target = make_export(d.path(), "hunter2", 1000);
    let out = d.path().join("found.txt");
    let mut child = spawn(
        &[
            "passphrase",
            "search",
            s(&target),
            "--candidates",
            "-",
            "--mutate",
            "-o",
            s(&out),
        ],
        Stdio::piped(),
    );
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let head = read_until_line(&mut err, "note: searching");
    fs::write(&out, "someone else's").unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"wrong\nhunter\nafter\n").unwrap();
    drop(stdin);
    let (code, rest) = finish(child, err, Duration::from_secs(60));
    let all = head + &rest;
    let variation = mxkeys::search::mutations("hunter")
        .iter()
        .position(|m| m.as_str() == "hunter2")
        .unwrap()
        + 1;
    let of = mxkeys::search::mutations("hunter").len();
    assert_eq!(code, Some(2), "{all}");
    assert_one_error(
        &all,
        &format!("the passphrase was found at candidate line 2, variation {variation} of its {of} by --mutate"),
    );
    assert!(
        all.contains("found.txt appeared during the search and was left alone; "),
        "{all}"
    );
    assert!(all.contains("--skip 1"), "{all}");
    assert!(!all.contains("hunter2"), "{all}");
    assert_eq!(fs::read_to_string(&out).unwrap(), "someone else's");
    assert_only(
        d.path(),
        &["found.txt", "pass.txt", "sessions.json", "target.txt"],
    );
}

/// 5000 threads made no progress in 50 s; the count is lowered to 4 per core, with a note.
#[test]
fn threads_are_capped_with_a_note() {
    let d = tmpdir();
    let out = d.path().join("found.txt");
    let list = vector_dir("search").join("element-r1000.list");
    let o = mxkeys(
        &[
            "passphrase",
            "search",
            s(&element_export()),
            "--candidates",
            s(&list),
            "--threads",
            "5000",
            "-o",
            s(&out),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "note: --threads 5000 is more than 4 per core ({cores} cores here) and would only wait; using {}",
            4 * cores
        )),
        "{err}"
    );
    assert!(err.contains(&format!("; {} threads", 4 * cores)), "{err}");
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        "correct horse battery staple\n"
    );
    let o = mxkeys(
        &[
            "passphrase",
            "search",
            s(&element_export()),
            "--candidates",
            s(&list),
            "--threads",
            "0",
        ],
        &[],
    );
    assert_fails(&o, 2, "--threads must be at least 1");
}

/// `Duration::from_secs_f64` panicked on these; now a usage error.
#[test]
fn bench_seconds_must_be_a_sane_number() {
    for bad in ["inf", "1e30", "nan", "-1", "0", "3601", "-inf", "soon"] {
        let arg = format!("--seconds={bad}");
        let o = mxkeys(&["bench", "kdf", "--rounds", "10", &arg], &[]);
        assert_fails(&o, 2, "--seconds");
        assert!(stderr(&o).contains("at most 3600"), "{bad}: {}", stderr(&o));
    }
}

/// Ctrl-C during a search: the --skip that resumes, and exit 130 as the top-level help says.
#[test]
fn sigint_during_a_search_exits_130_with_the_resume_hint() {
    let d = tmpdir();
    // Slow on purpose: 500000 rounds, one thread, 200 wrong candidates (about 10 s here).
    let target = make_export(d.path(), "not in the list", 500_000);
    let list = d.path().join("list");
    let lines: String = (0..200).map(|i| format!("wrong {i}\n")).collect();
    fs::write(&list, lines).unwrap();
    let mut child = spawn(
        &[
            "passphrase",
            "search",
            s(&target),
            "--candidates",
            s(&list),
            "--threads",
            "1",
        ],
        Stdio::null(),
    );
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let head = read_until_line(&mut err, "note: searching");
    std::thread::sleep(Duration::from_millis(200));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let (code, rest) = finish(child, err, Duration::from_secs(30));
    let all = head + &rest;
    assert_eq!(code, Some(130), "{all}");
    assert!(all.contains("; resume with --skip "), "{all}");
    assert!(
        !all.contains("panicked") && !all.contains("error: "),
        "{all}"
    );
    assert_only(
        d.path(),
        &["list", "pass.txt", "sessions.json", "target.txt"],
    );
}

/// `bench kdf | true`: the reader is gone; exit 0, no panic.
#[test]
fn bench_kdf_into_a_closed_pipe_exits_0() {
    let mut child = Command::new(BIN)
        .args(["bench", "kdf", "--rounds", "10", "--seconds", "0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let e = child.stderr.take().unwrap();
    let (code, err) = finish(child, e, Duration::from_secs(60));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

/// `bench kdf > /dev/full`: exit 1 with one `error:` line, no panic.
#[test]
fn bench_kdf_into_a_full_disk_is_one_error() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut child = Command::new(BIN)
        .args(["bench", "kdf", "--rounds", "10", "--seconds", "0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let e = child.stderr.take().unwrap();
    let (code, err) = finish(child, e, Duration::from_secs(60));
    assert_eq!(code, Some(1), "{err}");
    assert_one_error(&err, "No space left on device");
}
