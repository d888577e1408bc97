//! The release binary under attack (security review, issue "Hostile input and secrets"): closed
//! and full standard output, signals, core dumps, files that change while read, pipes as inputs,
//! standard input asked for twice, secret files with a byte-order mark, outputs that are the same
//! file, and attachments whose plaintext does not match their MIME type.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::*;

fn malformed() -> PathBuf {
    vector_dir("malformed")
}

fn manifest() -> Value {
    serde_json::from_slice(&fs::read(malformed().join("manifest.json")).unwrap()).unwrap()
}

/// A command line and its environment; `{tmp}` in an argument is a fresh temp dir.
struct Case {
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
}

fn case(args: &[&str], env: &[(&'static str, &str)]) -> Case {
    Case {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
    }
}

/// Every command that prints on standard output, run on committed vectors.
fn printing_commands() -> Vec<Case> {
    let m = manifest();
    let pass = m["passphrase"].as_str().unwrap().to_owned();
    let rk = m["recovery_key"].as_str().unwrap().to_owned();
    let ssss_key = m["ssss_security_key"].as_str().unwrap().to_owned();
    let mal = |f: &str| malformed().join(f).to_str().unwrap().to_owned();
    let v = |area: &str, f: &str| vector_dir(area).join(f).to_str().unwrap().to_owned();
    let export = mal("export-good-r1000.txt");
    let id = |f: &str| v("identity", f);
    let mut cases = vec![
        case(&["export", "inspect", &export], &[]),
        case(
            &["export", "decrypt", &export],
            &[("MXKEYS_PASSPHRASE", &pass)],
        ),
        case(
            &["export", "decrypt", &export, "--pretty"],
            &[("MXKEYS_PASSPHRASE", &pass)],
        ),
        case(
            &["export", "list", &export],
            &[("MXKEYS_PASSPHRASE", &pass)],
        ),
        case(
            &["export", "validate", &export],
            &[("MXKEYS_PASSPHRASE", &pass)],
        ),
        case(&["recovery-key", "check"], &[("MXKEYS_RECOVERY_KEY", &rk)]),
        case(
            &["recovery-key", "check", "--json"],
            &[("MXKEYS_RECOVERY_KEY", &rk)],
        ),
        case(&["recovery-key", "generate"], &[]),
        case(&["ssss", "inspect", &mal("ssss-good.json")], &[]),
        case(
            &["ssss", "decrypt", &mal("ssss-good.json")],
            &[("MXKEYS_RECOVERY_KEY", &ssss_key)],
        ),
        case(
            &["backup", "decrypt", &mal("backup-good.json")],
            &[("MXKEYS_RECOVERY_KEY", &rk)],
        ),
        case(
            &[
                "attachment",
                "decrypt",
                &mal("att-v2.bin"),
                "--info",
                &mal("att-v2.json"),
            ],
            &[],
        ),
        case(
            &["bench", "kdf", "--rounds", "1000", "--seconds", "0.05"],
            &[],
        ),
        case(
            &[
                "events",
                "diagnose",
                &v("events", "vodozemac-events.json"),
                "--keys",
                &v("events", "vodozemac-keys.json"),
            ],
            &[],
        ),
        case(
            &[
                "cross-signing",
                "check",
                "--keys",
                &id("keys-query/wasm-alice-verified.json"),
            ],
            &[],
        ),
        case(&["qr", "decode", &id("qr/wasm-mode2-alice2.bin")], &[]),
        case(
            &[
                "sas",
                "compute",
                "--transcript",
                &id("sas/wasm-alice-carol-carol-starts.json"),
            ],
            &[],
        ),
        case(&["completions", "bash"], &[]),
        case(&["manpage"], &[]),
        case(&["--help"], &[]),
        case(&["export", "decrypt", "--help"], &[]),
    ];
    // --json on the ones that print text otherwise.
    for c in [
        case(&["export", "inspect", &export, "--json"], &[]),
        case(&["ssss", "inspect", &mal("ssss-good.json"), "--json"], &[]),
    ] {
        cases.push(c);
    }
    cases
}

fn command(c: &Case) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(&c.args)
        .env_remove("MXKEYS_PASSPHRASE")
        .env_remove("MXKEYS_NEW_PASSPHRASE")
        .env_remove("MXKEYS_RECOVERY_KEY")
        .stdin(Stdio::null());
    for (k, v) in &c.env {
        cmd.env(k, v);
    }
    cmd
}

/// Item 7: `println!` panicked (exit 101) on a closed pipe and on a full disk. Now a closed pipe
/// is exit 0 and a full disk one `error:` line and exit 1, for every command that prints.
#[test]
fn every_printing_command_survives_a_closed_pipe_and_a_full_disk() {
    let mut failures = Vec::new();
    for c in printing_commands() {
        let what = c.args.join(" ");
        // It does print, normally (so the cases below test something).
        let normal = command(&c).output().unwrap();
        if normal.stdout.is_empty() {
            failures.push(format!(
                "{what}: prints nothing normally: {}",
                stderr(&normal)
            ));
            continue;
        }
        // A pipe whose reader is gone before the first byte.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = command(&c).stdout(writer).output().unwrap();
        let err = stderr(&o);
        if o.status.code() != Some(0) || err.contains("panicked") {
            failures.push(format!(
                "{what} | (closed): exit {:?}, stderr {err:?}",
                o.status.code()
            ));
        }
        // /dev/full: every write fails with ENOSPC.
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = command(&c).stdout(full).output().unwrap();
        let err = stderr(&o);
        let last = err.lines().last().unwrap_or("");
        if o.status.code() != Some(1)
            || err.contains("panicked")
            || !last.starts_with("error: cannot write to standard output")
            || err.lines().filter(|l| l.starts_with("error:")).count() != 1
        {
            failures.push(format!(
                "{what} > /dev/full: exit {:?}, stderr {err:?}",
                o.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Item 3: no core dump can hold a key. RLIMIT_CORE is 0 (soft and hard) in the running process,
/// though it was started with core dumps allowed (the soft limit raised to the hard one).
#[test]
fn core_dumps_are_off_in_the_running_process() {
    // `export decrypt -` copies standard input before anything else: it waits there.
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -S -c \"$(ulimit -H -c)\" && exec '{BIN}' export decrypt -"
        ))
        .env("MXKEYS_PASSPHRASE", "x")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let core_limit = || {
        let l = fs::read_to_string(format!("/proc/{}/limits", child.id())).ok()?;
        let line = l.lines().find(|l| l.starts_with("Max core file size"))?;
        let f: Vec<&str> = line.split_whitespace().collect();
        Some((f.get(4)?.to_string(), f.get(5)?.to_string()))
    };
    // The limits are set first thing in main; give it the time to exec and get there.
    let zero = wait_for(|| core_limit().filter(|(soft, hard)| soft == "0" && hard == "0"));
    let last = core_limit();
    drop(child.stdin.take());
    let _ = child.wait();
    assert!(
        zero.is_some(),
        "the core limit (soft, hard) stayed {last:?}"
    );
}

fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Does process `pid` hold a file descriptor into `dir` (its unnamed output)?
fn holds_file_in(pid: u32, dir: &Path) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok)
        .any(|fd| fs::read_link(fd.path()).is_ok_and(|t| t.starts_with(dir) && t != dir))
}

/// A run of `export encrypt - -o OUT` stopped while it waits for the rest of its input: OUT's
/// bytes so far are in a file with no name.
fn encrypt_waiting_on_stdin(dir: &Path) -> Child {
    let mut child = Command::new(BIN)
        .args([
            "export",
            "encrypt",
            "-",
            "-o",
            s(&dir.join("out.txt")),
            "--rounds",
            "1000",
        ])
        .env("MXKEYS_PASSPHRASE", "pass")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Half a sessions file: it waits for more.
    let sessions = fs::read(vector_dir("export").join("sessions-basic.json")).unwrap();
    let stdin = child.stdin.as_mut().unwrap();
    stdin.write_all(&sessions[..sessions.len() / 2]).unwrap();
    stdin.flush().unwrap();
    assert!(
        wait_for(|| holds_file_in(child.id(), dir).then_some(())).is_some(),
        "the output was never created"
    );
    child
}

fn kill(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

/// Item 2: SIGTERM, SIGHUP and SIGQUIT (and SIGINT) leave nothing behind, and exit 128 + the
/// signal; SIGKILL too, because the output has no name until it is complete.
#[test]
fn signals_leave_no_file_behind() {
    for (sig, code) in [
        ("TERM", Some(143)),
        ("HUP", Some(129)),
        ("QUIT", Some(131)),
        ("INT", Some(130)),
        ("KILL", None),
    ] {
        let d = tmpdir();
        let mut child = encrypt_waiting_on_stdin(d.path());
        // While it works, nothing in OUT's directory has a name (O_TMPFILE).
        assert_only(d.path(), &[]);
        kill(child.id(), sig);
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), code, "SIG{sig}: {err}");
        if code.is_some() {
            assert!(err.contains("no output was written"), "SIG{sig}: {err}");
        }
        assert_only(d.path(), &[]);
    }
}

/// Item 5: a file that changes while it is read prints nothing: the decrypted output is held
/// until the command has succeeded and the input is checked again.
#[test]
fn an_export_changed_while_read_prints_nothing() {
    let d = tmpdir();
    let file = d.path().join("keys.txt");
    let first = vector_dir("export").join("element-web-r1000.txt");
    fs::copy(&first, &file).unwrap();
    // The passphrase comes from a pipe after the file is open: change the file meanwhile, to
    // another valid export with the same passphrase (so every MAC holds).
    let mut child = Command::new(BIN)
        .args(["export", "decrypt", s(&file), "--passphrase-file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for(|| holds_file_in(child.id(), d.path()).then_some(())).is_some(),
        "the input was never opened"
    );
    let pass = "correct horse battery staple";
    let other = Command::new(BIN)
        .args([
            "export",
            "reencrypt",
            s(&first),
            "-o",
            s(&d.path().join("other.txt")),
            "--rounds",
            "1000",
        ])
        .env("MXKEYS_PASSPHRASE", pass)
        .env("MXKEYS_NEW_PASSPHRASE", pass)
        .output()
        .unwrap();
    assert!(other.status.success(), "{}", stderr(&other));
    let replacement = fs::read(d.path().join("other.txt")).unwrap();
    // Same inode, new bytes (and a new length: reencrypt writes Element's layout).
    fs::write(&file, &replacement).unwrap();
    writeln!(child.stdin.take().unwrap(), "{pass}").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_fails(&o, 1, "changed while mxkeys was reading it");
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// Item 5 and low 5: inputs that are pipes work (they are copied first); devices are refused.
#[test]
fn a_pipe_is_an_input_and_a_device_is_not() {
    let file = vector_dir("export").join("element-web-r1000.txt");
    let pass = vector_dir("export").join("element-web-r500000.passphrase");
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{BIN}' export decrypt <(cat '{}') --passphrase-file '{}'",
            file.display(),
            pass.display()
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 7);
    let o = mxkeys(
        &["export", "decrypt", "/dev/zero"],
        &[("MXKEYS_PASSPHRASE", "x")],
    );
    assert_fails(&o, 1, "is a device, not a file");
}

/// Low 4: standard input feeds one input only.
#[test]
fn standard_input_is_not_read_twice() {
    let m = manifest();
    let backup = malformed().join("backup-good.json");
    let d = tmpdir();
    let out = d.path().join("out.txt");
    let mut child = Command::new(BIN)
        .args([
            "backup",
            "to-export",
            s(&backup),
            "--key-file",
            "-",
            "--passphrase-file",
            "-",
            "-o",
            s(&out),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(
        child.stdin.take().unwrap(),
        "{}\nsome passphrase",
        m["recovery_key"].as_str().unwrap()
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_fails(&o, 2, "standard input (-) can feed only one input");
    assert_only(d.path(), &[]);
}

/// Low 3: a byte-order mark and a lone CR at the end of a secret file are not part of it.
#[test]
fn a_secret_file_with_a_bom_and_a_carriage_return_works() {
    let d = tmpdir();
    let pass = d.path().join("pass.txt");
    fs::write(&pass, "\u{feff}correct horse battery staple\r").unwrap();
    let file = vector_dir("export").join("element-web-r1000.txt");
    let o = mxkeys(
        &["export", "decrypt", s(&file), "--passphrase-file", s(&pass)],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Not UTF-8: wrong input (exit 1), not a usage error.
    fs::write(&pass, b"caf\xe9\n").unwrap();
    let o = mxkeys(
        &["export", "decrypt", s(&file), "--passphrase-file", s(&pass)],
        &[],
    );
    assert_fails(&o, 1, "is not UTF-8 text");
}

/// Medium 1: outputs are compared by device and inode: `-o X --info-out ./X --force` is two
/// names for one file, and a hard link to the input is the input.
#[test]
fn outputs_are_compared_by_inode() {
    let d = tmpdir();
    let input = d.path().join("photo.png");
    fs::write(&input, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let x = d.path().join("X");
    fs::write(&x, b"precious").unwrap();
    let dot_x = d.path().join(".").join("X");
    let o = mxkeys(
        &[
            "attachment",
            "encrypt",
            s(&input),
            "-o",
            s(&x),
            "--info-out",
            s(&dot_x),
            "--force",
        ],
        &[],
    );
    assert_fails(&o, 2, "named as two outputs");
    assert_eq!(fs::read(&x).unwrap(), b"precious");
    // A hard link to the input is the input, whatever its name.
    let link = d.path().join("link.png");
    fs::hard_link(&input, &link).unwrap();
    let o = mxkeys(
        &[
            "attachment",
            "encrypt",
            s(&input),
            "-o",
            s(&link),
            "--info-out",
            s(&d.path().join("info.json")),
            "--force",
        ],
        &[],
    );
    assert_fails(&o, 2, "is also an input");
    assert_only(d.path(), &["photo.png", "X", "link.png"]);
}

/// Low 9: a wrong key whose ciphertext hash still matches gives garbage with exit 0 (a protocol
/// limit); a declared MIME type the output does not look like earns a warning.
#[test]
fn attachment_plaintext_that_does_not_match_its_mimetype_is_flagged() {
    let d = tmpdir();
    let input = d.path().join("photo.png");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(std::iter::repeat_n(7u8, 5000));
    fs::write(&input, &png).unwrap();
    let blob = d.path().join("blob");
    let info = d.path().join("info.json");
    let o = mxkeys(
        &[
            "attachment",
            "encrypt",
            s(&input),
            "-o",
            s(&blob),
            "--info-out",
            s(&info),
            "--mimetype",
            "image/png",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let dec = |info: &Path| mxkeys(&["attachment", "decrypt", s(&blob), "--info", s(info)], &[]);
    let o = dec(&info);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, png);
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    // Another key (one base64 character changed), same hashes: decrypts to garbage.
    let mut v: Value = serde_json::from_slice(&fs::read(&info).unwrap()).unwrap();
    let k = v["key"]["k"].as_str().unwrap().to_owned();
    let swapped = if k.starts_with('A') { "B" } else { "A" };
    v["key"]["k"] = Value::String(format!("{swapped}{}", &k[1..]));
    let wrong = d.path().join("wrong.json");
    fs::write(&wrong, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = dec(&wrong);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_ne!(o.stdout, png);
    let err = stderr(&o);
    assert!(
        err.contains("does not look like the declared image/png")
            && err.contains("cannot be told from a right one"),
        "{err}"
    );
}
