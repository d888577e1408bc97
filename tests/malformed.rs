//! Every hostile input in test-vectors/malformed/ (made by its gen.py, listed in manifest.json)
//! through the real binary, without a terminal: the expected exit code, exactly one stderr line
//! starting `error:` (only `warning:`/`note:` lines before it), no panic, and nothing left behind
//! in the case's temp dir (no OUT, no `.mxkeys-*.tmp`, files the case set up unchanged).
//!
//! Cases marked `ignore` in the manifest are known bugs: `known_bugs` (ignored) runs only them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{sha, BIN};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors/malformed")
}

fn manifest() -> &'static Value {
    static M: OnceLock<Value> = OnceLock::new();
    M.get_or_init(|| {
        serde_json::from_slice(&fs::read(dir().join("manifest.json")).unwrap()).unwrap()
    })
}

/// Inputs made at test time, shared by every case: the deeply nested JSON files of
/// manifest.generated, and the 100 MB single-line files.
struct Generated {
    dir: tempfile::TempDir,
    big: Mutex<BTreeMap<&'static str, PathBuf>>,
}

fn generated() -> &'static Generated {
    static G: OnceLock<Generated> = OnceLock::new();
    G.get_or_init(|| {
        let d = tempfile::Builder::new()
            .prefix("mxkeys-malformed-gen-")
            .tempdir()
            .unwrap();
        for (name, spec) in manifest()["generated"].as_object().unwrap() {
            let s = |k: &str| spec[k].as_str().unwrap();
            let n = usize::try_from(spec["n"].as_u64().unwrap()).unwrap();
            let mut text = String::new();
            text.push_str(s("head"));
            text.push_str(&s("open").repeat(n));
            text.push_str(s("inner"));
            text.push_str(&s("close").repeat(n));
            text.push_str(s("tail"));
            fs::write(d.path().join(name), text).unwrap();
        }
        Generated {
            dir: d,
            big: Mutex::new(BTreeMap::new()),
        }
    })
}

const BIG: usize = 100 * 1024 * 1024;

/// A 100 MB single-line input, written once per test run.
fn big_file(kind: &'static str) -> PathBuf {
    let g = generated();
    let mut big = g.big.lock().unwrap();
    if let Some(p) = big.get(kind) {
        return p.clone();
    }
    let path = g.dir.path().join(format!("{kind}.txt"));
    let mut f = std::io::BufWriter::new(fs::File::create(&path).unwrap());
    let chunk = vec![b'A'; 1 << 20];
    let line = |f: &mut std::io::BufWriter<fs::File>| {
        for _ in 0..BIG / chunk.len() {
            f.write_all(&chunk).unwrap();
        }
    };
    match kind {
        "big-line-no-armor" => line(&mut f),
        "big-line-export" | "big-line-no-end" => {
            f.write_all(b"-----BEGIN MEGOLM SESSION DATA-----\n")
                .unwrap();
            // Version 1, salt and IV of zeros, 1000 rounds (base64 of those 37 bytes and two
            // zeros): a header that passes, so the whole line is read and the MAC fails.
            f.write_all(b"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAD6AAA")
                .unwrap();
            line(&mut f);
            if kind == "big-line-export" {
                f.write_all(b"\n-----END MEGOLM SESSION DATA-----\n")
                    .unwrap();
            }
        }
        other => panic!("unknown big file {other}"),
    }
    f.flush().unwrap();
    big.insert(kind, path.clone());
    path
}

/// What was in the temp dir before the run: path -> file bytes, symlink target or directory.
#[derive(Debug, PartialEq)]
enum Entry {
    File(Vec<u8>),
    Link(PathBuf),
    Dir,
    Special,
}

fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = p.symlink_metadata().unwrap();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if meta.file_type().is_symlink() {
                out.insert(rel, Entry::Link(fs::read_link(&p).unwrap()));
            } else if meta.is_dir() {
                out.insert(rel, Entry::Dir);
                stack.push(p);
            } else if !meta.is_file() {
                // A FIFO (reading it would block): its kind is what must not change.
                out.insert(rel, Entry::Special);
            } else {
                out.insert(rel, Entry::File(fs::read(&p).unwrap()));
            }
        }
    }
    out
}

struct Prepared {
    tmp: tempfile::TempDir,
    file: Option<PathBuf>,
    out: PathBuf,
    /// Directory made read-only by the setup: made writable again before cleanup.
    readonly: Option<PathBuf>,
}

/// Lay out the case's temp dir. `Err` with a reason to skip (only when the environment cannot
/// express the case, e.g. no read-only place for a privileged user).
fn prepare(c: &Value) -> Result<Prepared, String> {
    let tmp = tempfile::Builder::new()
        .prefix("mxkeys-malformed-")
        .tempdir()
        .unwrap();
    let t = tmp.path().to_path_buf();
    let mut file = c["file"].as_str().map(|f| {
        if manifest()["generated"].get(f).is_some() {
            generated().dir.path().join(f)
        } else {
            dir().join(f)
        }
    });
    let mut out = t.join("out");
    let mut readonly = None;
    match c.get("setup").and_then(Value::as_str) {
        None => {}
        Some("out-exists") => fs::write(&out, b"precious").unwrap(),
        Some("out-symlink-file") => {
            fs::write(t.join("target"), b"precious").unwrap();
            std::os::unix::fs::symlink(t.join("target"), &out).unwrap();
        }
        Some("out-holds-recovery-key") => {
            let key = manifest()["recovery_key"].as_str().unwrap();
            fs::write(&out, format!("{key}\n")).unwrap();
        }
        Some("out-symlink-dangling") => {
            std::os::unix::fs::symlink(t.join("nowhere"), &out).unwrap();
        }
        Some("out-symlink-dangling-force") => {
            std::os::unix::fs::symlink(t.join("nowhere"), &out).unwrap();
        }
        Some("out-fifo" | "out-fifo-force") => mkfifo(&out),
        Some("out-symlink-fifo-force") => {
            mkfifo(&t.join("fifo"));
            std::os::unix::fs::symlink(t.join("fifo"), &out).unwrap();
        }
        Some("out-dev-null-force") => out = PathBuf::from("/dev/null"),
        Some("out-dir") => fs::create_dir(&out).unwrap(),
        Some("out-is-input") => {
            let src = file.as_ref().unwrap();
            let copy = t.join(format!(
                "input.{}",
                src.extension().and_then(|e| e.to_str()).unwrap_or("dat")
            ));
            fs::copy(src, &copy).unwrap();
            file = Some(copy.clone());
            out = copy;
        }
        Some("out-unwritable-dir") => {
            let ro = t.join("ro");
            fs::create_dir(&ro).unwrap();
            fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
            readonly = Some(ro.clone());
            out = ro.join("out");
            // A privileged user (root in a container) writes anywhere permissions allow none:
            // then use sysfs, where even root cannot create files.
            if fs::write(ro.join("probe"), b"").is_ok() {
                fs::remove_file(ro.join("probe")).unwrap();
                let sys = Path::new("/sys");
                if !sys.is_dir() || fs::write(sys.join("mxkeys-probe"), b"").is_ok() {
                    return Err("no unwritable directory available for this user".into());
                }
                out = sys.join("mxkeys-malformed-out");
            }
        }
        Some("out-parent-missing") => out = t.join("missing").join("out"),
        Some("out-parent-is-file") => {
            fs::write(t.join("afile"), b"precious").unwrap();
            out = t.join("afile").join("out");
        }
        Some("file-is-dir") => {
            let d = t.join("indir");
            fs::create_dir(&d).unwrap();
            file = Some(d);
        }
        Some(big @ ("big-line-no-armor" | "big-line-export" | "big-line-no-end")) => {
            let big: &'static str = match big {
                "big-line-no-armor" => "big-line-no-armor",
                "big-line-export" => "big-line-export",
                _ => "big-line-no-end",
            };
            file = Some(big_file(big));
        }
        Some(other) => panic!("unknown setup {other}"),
    }
    Ok(Prepared {
        tmp,
        file,
        out,
        readonly,
    })
}

/// A FIFO at `path` (mkfifo(1): the test crate has no syscall crate).
fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo {} failed", path.display());
}

fn substitute(arg: &str, p: &Prepared) -> String {
    let file = p
        .file
        .as_ref()
        .map(|f| f.to_str().unwrap().to_owned())
        .unwrap_or_default();
    arg.replace("{file}", &file)
        .replace("{out}", p.out.to_str().unwrap())
        .replace("{tmp}", p.tmp.path().to_str().unwrap())
        .replace("{gen}", generated().dir.path().to_str().unwrap())
        .replace("{dir}", dir().to_str().unwrap())
}

/// Run the binary with only the case's secrets in the environment, no terminal (setsid), stdin
/// from the case's file or /dev/null.
fn run(args: &[String], env: &BTreeMap<String, String>, stdin: Option<&Path>) -> Output {
    let mut cmd = if Path::new("/usr/bin/setsid").exists() {
        let mut c = Command::new("/usr/bin/setsid");
        c.arg("-w").arg(BIN);
        c
    } else {
        Command::new(BIN)
    };
    cmd.args(args);
    for k in [
        "MXKEYS_PASSPHRASE",
        "MXKEYS_NEW_PASSPHRASE",
        "MXKEYS_RECOVERY_KEY",
        "MXKEYS_SECRET_VALUE",
    ] {
        cmd.env_remove(k);
    }
    cmd.envs(env);
    match stdin {
        Some(p) => cmd.stdin(fs::File::open(p).unwrap()),
        None => cmd.stdin(Stdio::null()),
    };
    cmd.output().unwrap()
}

/// Run one case; `Err` lists what was wrong. `Ok(None)` when skipped.
fn check(c: &Value) -> Result<Option<String>, String> {
    let p = match prepare(c) {
        Ok(p) => p,
        Err(why) => return Ok(Some(why)),
    };
    let before = snapshot(p.tmp.path());
    let args: Vec<String> = c["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| substitute(a.as_str().unwrap(), &p))
        .collect();
    let env: BTreeMap<String, String> = c["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let stdin = c
        .get("stdin")
        .and_then(Value::as_str)
        .map(|s| PathBuf::from(substitute(s, &p)));
    let start = Instant::now();
    let o = run(&args, &env, stdin.as_deref());
    let took = start.elapsed();
    if let Some(ro) = &p.readonly {
        fs::set_permissions(ro, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let after = snapshot(p.tmp.path());

    let mut problems = Vec::new();
    if p.out == Path::new("/dev/null") {
        use std::os::unix::fs::FileTypeExt;
        if !fs::metadata("/dev/null").is_ok_and(|m| m.file_type().is_char_device()) {
            problems.push("/dev/null is no longer a device: it was replaced".into());
        }
    }
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let want = c["exit"].as_i64().unwrap();
    if o.status.code().map(i64::from) != Some(want) {
        problems.push(format!("exit {:?}, expected {want}", o.status.code()));
    }
    if err.contains("panicked") || o.status.code().is_none() {
        problems.push("panicked or killed by a signal".into());
    }
    if want != 0 {
        let lines: Vec<&str> = err.lines().collect();
        let errors = lines.iter().filter(|l| l.starts_with("error:")).count();
        let others: Vec<&&str> = lines
            .iter()
            .filter(|l| {
                !l.starts_with("error:") && !l.starts_with("warning:") && !l.starts_with("note:")
            })
            .collect();
        // The error line, then only the notes that explain it (issue #27 item 8: a note
        // explaining an error comes after it).
        let after_error = lines
            .iter()
            .skip_while(|l| !l.starts_with("error: "))
            .skip(1)
            .all(|l| l.starts_with("note: "));
        if errors != 1 || !after_error {
            problems.push(format!(
                "{errors} error: lines, or other than notes after it"
            ));
        }
        if !others.is_empty() {
            problems.push(format!(
                "stderr lines that are not error:/warning:/note: {others:?}"
            ));
        }
        let needle = c["stderr_contains"].as_str().unwrap();
        if !err.contains(needle) {
            problems.push(format!("stderr lacks {needle:?}"));
        }
        if before != after {
            let added: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
            problems.push(format!("the temp dir changed (added: {added:?})"));
        }
    } else {
        if err.lines().any(|l| l.starts_with("error:")) {
            problems.push("an error: line on success".into());
        }
        let leftovers: Vec<_> = after
            .keys()
            .filter(|k| k.to_string_lossy().contains(".mxkeys-"))
            .collect();
        if !leftovers.is_empty() {
            problems.push(format!("temporary files left: {leftovers:?}"));
        }
        if let Some(h) = c.get("output_sha256").and_then(Value::as_str) {
            match fs::read(&p.out) {
                Ok(b) if sha(&b) == h => {}
                _ => problems.push("output missing or not the expected bytes".into()),
            }
        }
    }
    if let Some(max) = c.get("max_seconds").and_then(Value::as_f64) {
        if took > Duration::from_secs_f64(max) {
            problems.push(format!("took {took:?}, bound {max} s"));
        }
    }
    if std::env::var_os("MXKEYS_MALFORMED_VERBOSE").is_some() {
        eprintln!(
            "[{:?} {:.3}s] {:?}\n    {}",
            o.status.code(),
            took.as_secs_f64(),
            &args,
            err.trim_end().replace('\n', "\n    ")
        );
    }
    if problems.is_empty() {
        Ok(None)
    } else {
        Err(format!(
            "{}\n    args: {:?}\n    stderr: {}",
            problems.join("; "),
            &args,
            err.trim_end().replace('\n', "\n            ")
        ))
    }
}

fn run_cases(known_bugs: bool) -> (usize, Vec<String>) {
    let cases: Vec<&Value> = manifest()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("ignore").is_some() == known_bugs)
        .collect();
    let failures = Mutex::new(Vec::new());
    let next = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(c) = cases.get(i) else { break };
                let label = format!(
                    "case {} ({}): {}",
                    i,
                    c["file"].as_str().unwrap_or("-"),
                    c["comment"].as_str().unwrap()
                );
                match check(c) {
                    Ok(None) => {}
                    Ok(Some(why)) => eprintln!("skipped {label}: {why}"),
                    Err(e) => failures.lock().unwrap().push(format!("{label}\n    {e}")),
                }
            });
        }
    });
    (cases.len(), failures.into_inner().unwrap())
}

/// Removes the generated inputs (about 300 MB) when the test ends, passed or failed: the
/// `OnceLock` that holds them is never dropped, so their `TempDir` would stay behind in /tmp.
/// (`known_bugs`, ignored, is run on its own.)
struct RemoveGenerated;

impl Drop for RemoveGenerated {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(generated().dir.path());
    }
}

#[test]
fn every_malformed_case_fails_cleanly() {
    let _cleanup = RemoveGenerated;
    let (n, failures) = run_cases(false);
    assert!(n >= 150, "only {n} cases");
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
#[ignore = "known bugs in mxkeys, one per manifest case with an `ignore` reason"]
fn known_bugs() {
    for c in manifest()["cases"].as_array().unwrap() {
        if let Some(why) = c.get("ignore").and_then(Value::as_str) {
            eprintln!("known bug: {why}");
        }
    }
    let (n, failures) = run_cases(true);
    assert!(
        failures.is_empty(),
        "{} of {n} known-bug cases still fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_manifest_lists_every_committed_file() {
    let m = manifest();
    let listed: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for e in fs::read_dir(dir()).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if ["manifest.json", "README.md", "gen.py"].contains(&name.as_str()) {
            continue;
        }
        assert!(
            listed.contains(&name.as_str()),
            "{name} is not in manifest.json"
        );
    }
    for f in &listed {
        assert!(dir().join(f).is_file(), "{f} is listed but missing");
    }
}
