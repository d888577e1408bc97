//! The CLI contract, run through the real binary: exit codes, one `error:` line, secrets from
//! files and the environment, atomic 0600 outputs that never replace a file without --force and
//! never appear on failure.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::Deserialize;

use common::*;

const PASS: &str = "correct horse battery staple";

#[derive(Deserialize)]
struct Manifest {
    vectors: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[test]
fn decrypt_writes_the_peer_plaintext_atomically_with_mode_0600() {
    let d = tmpdir();
    let out = d.path().join("keys.json");
    let o = mxkeys(
        &[
            "export",
            "decrypt",
            vectors().join("element-web-r1000.txt").to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        &[("MXKEYS_PASSPHRASE", PASS)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("decrypted 7 sessions in 3 rooms"),
        "{}",
        stderr(&o)
    );
    let got = fs::read(&out).unwrap();
    let want = fs::read(vectors().join("sessions-basic.json")).unwrap();
    assert_eq!(sha(&got), sha(&want));
    assert_eq!(
        fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_only(d.path(), &["keys.json"]);

    // Same again without --force: refused, file untouched; with --force: replaced.
    fs::write(&out, b"precious").unwrap();
    let wasm = vectors().join("wasm-r1.txt");
    let args = vec![
        "export",
        "decrypt",
        wasm.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    let o = mxkeys(&args, &[("MXKEYS_PASSPHRASE", PASS)]);
    assert_fails(&o, 2, "already exists; choose another name, or add --force");
    assert_eq!(fs::read(&out).unwrap(), b"precious");
    let mut forced = args.clone();
    forced.push("--force");
    let o = mxkeys(&forced, &[("MXKEYS_PASSPHRASE", PASS)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(fs::read(&out).unwrap(), b"precious");
    assert_only(d.path(), &["keys.json"]);
}

#[test]
fn decrypt_to_stdout_and_pretty_keep_every_value() {
    let f = vectors().join("nio-r10000-extra.txt");
    let o = mxkeys(
        &["export", "decrypt", f.to_str().unwrap()],
        &[("MXKEYS_PASSPHRASE", PASS)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let plain = fs::read(vectors().join("sessions-extra.json")).unwrap();
    assert_eq!(o.stdout, plain, "verbatim by default");
    let o = mxkeys(
        &["export", "decrypt", f.to_str().unwrap(), "--pretty"],
        &[("MXKEYS_PASSPHRASE", PASS)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("[\n  {\n    \""), "{}", &text[..40]);
    let a: serde_json::Value = serde_json::from_str(&text).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(a, b);
    // Key order inside each session is kept too (serde_json's map is ordered here).
    let keys = |v: &serde_json::Value| -> Vec<Vec<String>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_object().unwrap().keys().cloned().collect())
            .collect()
    };
    assert_eq!(keys(&a), keys(&b));
}

#[test]
fn every_failing_vector_exits_1_with_one_line_and_no_output() {
    let m: Manifest =
        serde_json::from_slice(&fs::read(vectors().join("manifest.json")).unwrap()).unwrap();
    let d = tmpdir();
    let out = d.path().join("out.json");
    let mut n = 0;
    for v in m.vectors.iter().filter(|v| v["expect"] != "ok") {
        let file = vectors().join(v["file"].as_str().unwrap());
        let pass = v["passphrase"].as_str().unwrap();
        let o = mxkeys(
            &[
                "export",
                "decrypt",
                file.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
            &[("MXKEYS_PASSPHRASE", pass)],
        );
        let needle = match v["expect"].as_str().unwrap() {
            "mac" => "wrong passphrase, or the file was changed",
            "armor" => "",
            "too_short" => "truncated",
            "version" => "version",
            "rounds" => "rounds",
            "json" => "is not a JSON array of session objects",
            other => panic!("{other}"),
        };
        assert_fails(&o, 1, needle);
        assert_only(d.path(), &[]);
        n += 1;
    }
    assert!(n >= 20);
}

#[test]
fn a_missing_secret_without_a_terminal_is_a_usage_error() {
    let f = vectors().join("wasm-r1.txt");
    let o = mxkeys(&["export", "decrypt", f.to_str().unwrap()], &[]);
    if Path::new("/usr/bin/setsid").exists() {
        assert_fails(&o, 2, "use --passphrase-file PATH or set MXKEYS_PASSPHRASE");
    }
    let o = mxkeys(&["export", "decrypt", "-", "--passphrase-file", "-"], &[]);
    assert_fails(&o, 2, "standard input (-) can feed only one");
    let o = mxkeys(&["export", "decrypt"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let o = mxkeys(
        &["export", "decrypt", "/nonexistent/file"],
        &[("MXKEYS_PASSPHRASE", "x")],
    );
    assert_fails(&o, 1, "cannot open /nonexistent/file");
}

#[test]
fn encrypt_then_reencrypt_then_decrypt() {
    let d = tmpdir();
    let p = |n: &str| d.path().join(n).to_str().unwrap().to_owned();
    let plain = fs::read(vectors().join("sessions-extra.json")).unwrap();
    fs::write(p("in.json"), &plain).unwrap();
    fs::write(p("pass1"), "first passphrase\r\n").unwrap();
    fs::write(p("pass2"), "zweites Passwort ü\n").unwrap();

    let o = mxkeys(
        &[
            "export",
            "encrypt",
            &p("in.json"),
            "-o",
            &p("a.txt"),
            "--rounds",
            "2000",
            "--passphrase-file",
            &p("pass1"),
            "--json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: 2000 rounds is below the spec's minimum"),
        "{}",
        stderr(&o)
    );
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["rounds"], 2000);
    assert_eq!(summary["sessions"], 7);

    // Layout and header as promised: Element's 128-character lines, bit 63 clear.
    let o = mxkeys(&["export", "inspect", &p("a.txt"), "--json"], &[]);
    let i: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(i["rounds"], 2000);
    assert_eq!(i["iv_bit63_clear"], true);
    assert_eq!(i["armor"]["first_line_width"], 128);
    assert_eq!(i["armor"]["final_newline"], true);
    assert_eq!(i["writer"]["writer"], "Element Web");

    let o = mxkeys(
        &[
            "export",
            "reencrypt",
            &p("a.txt"),
            "-o",
            &p("b.txt"),
            "--rounds",
            "100000",
            "--new-passphrase-file",
            &p("pass2"),
        ],
        &[("MXKEYS_PASSPHRASE", "first passphrase")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // The new passphrase is not ASCII (on purpose): that warning only, no rounds warning.
    let warnings: Vec<String> = stderr(&o)
        .lines()
        .filter(|l| l.starts_with("warning"))
        .map(str::to_owned)
        .collect();
    assert!(
        warnings.len() == 1 && warnings[0].contains("not ASCII"),
        "{warnings:?}"
    );

    let o = mxkeys(
        &["export", "decrypt", &p("b.txt")],
        &[("MXKEYS_PASSPHRASE", "zweites Passwort ü")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, plain);
    let o = mxkeys(
        &["export", "decrypt", &p("b.txt")],
        &[("MXKEYS_PASSPHRASE", "first passphrase")],
    );
    assert_fails(&o, 1, "wrong passphrase");
    assert_only(d.path(), &["in.json", "pass1", "pass2", "a.txt", "b.txt"]);
}

#[test]
fn encrypt_refuses_bad_input_and_bad_rounds_leaving_nothing() {
    let d = tmpdir();
    let p = |n: &str| d.path().join(n).to_str().unwrap().to_owned();
    fs::write(p("bad.json"), br#"[{"room_id": "x"}, 5]"#).unwrap();
    let env = [("MXKEYS_PASSPHRASE", "pw")];
    let o = mxkeys(
        &[
            "export",
            "encrypt",
            &p("bad.json"),
            "-o",
            &p("o.txt"),
            "--rounds",
            "1000",
        ],
        &env,
    );
    assert_fails(&o, 1, "bad.json is not a JSON array of session objects");
    assert_only(d.path(), &["bad.json"]);
    let o = mxkeys(
        &[
            "export",
            "encrypt",
            &p("bad.json"),
            "-o",
            &p("o.txt"),
            "--rounds",
            "0",
        ],
        &env,
    );
    assert_fails(&o, 2, "--rounds must be at least 1");
    let o = mxkeys(
        &[
            "export",
            "encrypt",
            &p("bad.json"),
            "-o",
            &p("o.txt"),
            "--rounds",
            "4294967295",
        ],
        &env,
    );
    assert_fails(&o, 2, "add --max-rounds 4294967295");
    let o = mxkeys(
        &["export", "encrypt", &p("bad.json"), "-o", &p("o.txt")],
        &[("MXKEYS_PASSPHRASE", "")],
    );
    assert_fails(&o, 2, "the new passphrase is empty");
    assert_only(d.path(), &["bad.json"]);
}

#[test]
fn huge_rounds_are_refused_and_can_be_allowed() {
    let f = vectors().join("fail-rounds-max.txt");
    let o = mxkeys(
        &["export", "decrypt", f.to_str().unwrap()],
        &[("MXKEYS_PASSPHRASE", "x")],
    );
    assert_fails(&o, 1, "add --max-rounds 4294967295 if you trust it");
    // inspect prints the whole report, then exits 1: no client decrypts the file as it is.
    let o = mxkeys(&["export", "inspect", f.to_str().unwrap()], &[]);
    assert_fails(&o, 1, "cannot be decrypted as it is");
    assert!(String::from_utf8_lossy(&o.stdout).contains("problem:"));
    let f = vectors().join("element-web-r1000.txt");
    let o = mxkeys(
        &[
            "export",
            "decrypt",
            f.to_str().unwrap(),
            "--max-rounds",
            "999",
        ],
        &[("MXKEYS_PASSPHRASE", PASS)],
    );
    assert_fails(
        &o,
        1,
        "the file asks for 1000 PBKDF2 rounds, above the limit 999",
    );
}

#[test]
fn nio_latin1_files_open_with_a_note() {
    let f = vectors().join("nio-r10000-cafe-latin1.txt");
    let o = mxkeys(
        &["export", "decrypt", f.to_str().unwrap()],
        &[("MXKEYS_PASSPHRASE", "café")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("Latin-1 bytes of the passphrase, a matrix-nio bug"));
}

#[test]
fn secrets_never_reach_stderr_or_stdout_summaries() {
    let d = tmpdir();
    let out = d.path().join("o.json");
    let secret = "s3cr3t-passphrase-never-printed";
    for f in ["element-web-r1000.txt", "fail-json-object.txt"] {
        let o = mxkeys(
            &[
                "export",
                "decrypt",
                vectors().join(f).to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--json",
                "--force",
            ],
            &[("MXKEYS_PASSPHRASE", secret)],
        );
        assert!(
            !stderr(&o).contains(secret) && !String::from_utf8_lossy(&o.stdout).contains(secret)
        );
    }
}
