//! The recovery-key, backup, secret-storage and attachment commands through the real binary, on
//! files made by other implementations: results, exit codes, one-line errors, nothing left behind.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs;

use common::*;
use serde_json::Value;

fn manifest(area: &str) -> Value {
    serde_json::from_slice(&fs::read(vector_dir(area).join("manifest.json")).unwrap()).unwrap()
}

/// The first backup vector of `file` with `expect`.
fn backup_vector(file: &str, expect: &str) -> Value {
    manifest("backup")["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["file"] == file && b["expect"] == expect)
        .unwrap()
        .clone()
}

#[test]
fn recovery_key_check_prints_the_backup_public_key_and_diagnoses_typos() {
    let m = manifest("backup");
    let keys = m["recovery_keys"].as_array().unwrap();
    let good = keys.iter().find(|k| k["expect"] == "ok").unwrap();
    let o = mxkeys(
        &["recovery-key", "check", "--json"],
        &[(
            "MXKEYS_RECOVERY_KEY",
            good["recovery_key"].as_str().unwrap(),
        )],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["public_key"], good["public_key"]);
    assert!(
        v.get("private_key").is_none(),
        "private key only with --show-private"
    );

    let zero = keys.iter().find(|k| k["expect"] == "bad_char").unwrap();
    let o = mxkeys(
        &["recovery-key", "check"],
        &[(
            "MXKEYS_RECOVERY_KEY",
            zero["recovery_key"].as_str().unwrap(),
        )],
    );
    assert_fails(&o, 1, "is not used in Security Keys");

    let swapped = keys
        .iter()
        .find(|k| {
            k["expect"] == "bad_parity" && k["comment"].as_str().unwrap().contains("transposed")
        })
        .unwrap();
    let env = [(
        "MXKEYS_RECOVERY_KEY",
        swapped["recovery_key"].as_str().unwrap(),
    )];
    let correct = swapped["correct"].as_str().unwrap();
    // The corrections are secrets: never into a pipe (no terminal here either), so -o is needed.
    let o = mxkeys(&["recovery-key", "check", "--suggest"], &env);
    assert_fails(&o, 1, "check");
    assert!(stderr(&o).contains("rerun with -o FILE"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(!stderr(&o).contains(correct));
    let o = mxkeys(&["recovery-key", "check", "--suggest", "--json"], &env);
    assert_fails(&o, 1, "check");
    assert!(!String::from_utf8_lossy(&o.stdout).contains(correct));
    let d = tmpdir();
    let fix = d.path().join("fix.txt");
    let o = mxkeys(
        &[
            "recovery-key",
            "check",
            "--suggest",
            "-o",
            s(&fix),
            "--json",
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["output"], s(&fix));
    assert!(!String::from_utf8_lossy(&o.stdout).contains(correct));
    let out = std::fs::read_to_string(&fix).unwrap();
    assert_eq!(v["suggestions"], out.lines().count());
    assert!(out.lines().any(|l| l == correct), "{out}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&fix).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn recovery_key_generate_gives_a_key_that_checks() {
    let o = mxkeys(&["recovery-key", "generate", "--json"], &[]);
    assert!(o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let key = v["recovery_key"].as_str().unwrap();
    assert_eq!(key.len(), 59);
    let o = mxkeys(
        &["recovery-key", "check", "--json"],
        &[("MXKEYS_RECOVERY_KEY", key)],
    );
    let w: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(w["public_key"], v["public_key"]);
}

#[test]
fn backup_decrypt_checks_the_version_and_writes_export_sessions() {
    let d = tmpdir();
    let dir = vector_dir("backup");
    let v = backup_vector("wasm-machine-keys.json", "ok");
    let key = v["recovery_key"].as_str().unwrap();
    let out = d.path().join("sessions.json");
    let o = mxkeys(
        &[
            "backup",
            "decrypt",
            s(&dir.join("wasm-machine-keys.json")),
            "--auth-data",
            s(&dir.join("wasm-machine-version.json")),
            "-o",
            s(&out),
        ],
        &[("MXKEYS_RECOVERY_KEY", key)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Every MAC is the usual empty-message one: no expert note (#27 item 14).
    assert!(!stderr(&o).contains("MAC over the"), "{}", stderr(&o));
    let sessions: Vec<Value> = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    assert_eq!(sessions.len(), 6);
    assert!(sessions
        .iter()
        .all(|s| s["room_id"].is_string() && s["session_key"].is_string()));

    // The decrypted sessions encrypt into an export file that decrypts again.
    let exp = d.path().join("keys.txt");
    let o = mxkeys(
        &[
            "export",
            "encrypt",
            s(&out),
            "-o",
            s(&exp),
            "--rounds",
            "1000",
        ],
        &[("MXKEYS_PASSPHRASE", "p")],
    );
    assert!(o.status.success(), "{}", stderr(&o));

    // Another backup's key: refused before anything is decrypted, nothing written.
    let other = backup_vector("olm-keys.json", "ok");
    let out2 = d.path().join("other.json");
    let o = mxkeys(
        &[
            "backup",
            "decrypt",
            s(&dir.join("olm-keys.json")),
            "--auth-data",
            s(&dir.join("wasm-machine-version.json")),
            "-o",
            s(&out2),
        ],
        &[(
            "MXKEYS_RECOVERY_KEY",
            other["recovery_key"].as_str().unwrap(),
        )],
    );
    assert_fails(&o, 1, "is not the key of backup version");
    assert!(!out2.exists());
}

#[test]
fn backup_damage_is_listed_and_partial_output_needs_a_flag() {
    let d = tmpdir();
    let dir = vector_dir("backup");
    let v = backup_vector("fail-damaged-keys.json", "partial");
    let key = v["recovery_key"].as_str().unwrap();
    let out = d.path().join("s.json");
    let file = dir.join("fail-damaged-keys.json");
    let args = ["backup", "decrypt", s(&file), "-o", s(&out)];
    let o = mxkeys(&args, &[("MXKEYS_RECOVERY_KEY", key)]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let failures = v["failures"].as_array().unwrap();
    assert_eq!(
        err.lines().filter(|l| l.starts_with("warning: ")).count(),
        failures.len(),
        "{err}"
    );
    assert!(
        err.lines()
            .last()
            .unwrap()
            .starts_with("error: 7 of 9 sessions could not be decrypted"),
        "{err}"
    );
    assert_only(d.path(), &[]);
    let mut partial = args.to_vec();
    partial.push("--allow-partial");
    let o = mxkeys(&partial, &[("MXKEYS_RECOVERY_KEY", key)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sessions: Vec<Value> = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    assert_eq!(sessions.len(), 2);
}

#[test]
fn backup_encrypt_then_decrypt_keeps_every_session() {
    let d = tmpdir();
    let o = mxkeys(&["recovery-key", "generate", "--json"], &[]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let body = d.path().join("put.json");
    let input = vector_dir("export").join("sessions-extra.json");
    let o = mxkeys(
        &[
            "backup",
            "encrypt",
            s(&input),
            "--public-key",
            v["public_key"].as_str().unwrap(),
            "-o",
            s(&body),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("curl -X PUT"), "{}", stderr(&o));
    let o = mxkeys(
        &["backup", "decrypt", s(&body)],
        &[("MXKEYS_RECOVERY_KEY", v["recovery_key"].as_str().unwrap())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut got: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let mut want: Vec<Value> = serde_json::from_slice(&fs::read(&input).unwrap()).unwrap();
    let by_id = |a: &Value, b: &Value| a["session_id"].as_str().cmp(&b["session_id"].as_str());
    got.sort_by(by_id);
    want.sort_by(by_id);
    assert_eq!(got, want);
}

#[test]
fn ssss_decrypt_with_security_key_or_phrase() {
    let m = manifest("ssss");
    let vs = m["vectors"].as_array().unwrap();
    let dir = vector_dir("ssss");
    let with_key = vs
        .iter()
        .find(|v| v["expect"] == "ok" && v["security_key"].is_string())
        .unwrap();
    let o = mxkeys(
        &[
            "ssss",
            "decrypt",
            s(&dir.join(with_key["file"].as_str().unwrap())),
            "--json",
        ],
        &[(
            "MXKEYS_RECOVERY_KEY",
            with_key["security_key"].as_str().unwrap(),
        )],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Value = serde_json::from_slice(&o.stdout).unwrap();
    for (name, secret) in with_key["secrets"].as_object().unwrap() {
        assert_eq!(&got[name]["secret"], secret);
        assert_eq!(got[name]["public_key"], with_key["public_keys"][name]);
    }
    assert!(got["m.megolm_backup.v1"]["recovery_key"]
        .as_str()
        .unwrap()
        .starts_with("Es"));

    let phrase = vs
        .iter()
        .find(|v| {
            v["expect"] == "ok"
                && v["passphrase"].is_string()
                && v["file"].as_str().unwrap().contains("i1000")
        })
        .unwrap();
    let pf = tmpdir();
    let pfile = pf.path().join("phrase");
    fs::write(
        &pfile,
        format!("{}\n", phrase["passphrase"].as_str().unwrap()),
    )
    .unwrap();
    let o = mxkeys(
        &[
            "ssss",
            "decrypt",
            s(&dir.join(phrase["file"].as_str().unwrap())),
            "--passphrase-file",
            s(&pfile),
            "--secret",
            "m.megolm_backup.v1",
            "--json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        got["m.megolm_backup.v1"]["secret"],
        phrase["secrets"]["m.megolm_backup.v1"]
    );

    let wrong = vs
        .iter()
        .find(|v| v["expect"] == "wrong_key" && v["passphrase"].is_string())
        .unwrap();
    let o = mxkeys(
        &[
            "ssss",
            "decrypt",
            s(&dir.join(wrong["file"].as_str().unwrap())),
        ],
        &[("MXKEYS_PASSPHRASE", wrong["passphrase"].as_str().unwrap())],
    );
    assert_fails(
        &o,
        1,
        "this is not the Security Key (or Phrase) of secret-storage key",
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn attachment_decrypt_verifies_before_releasing() {
    let d = tmpdir();
    let dir = vector_dir("attachment");
    let m = manifest("attachment");
    let vs = m["vectors"].as_array().unwrap();
    let ok = vs
        .iter()
        .find(|v| v["expect"] == "ok" && v["info_shape"] == "event")
        .unwrap();
    let out = d.path().join("plain");
    let o = mxkeys(
        &[
            "attachment",
            "decrypt",
            s(&dir.join(ok["ciphertext"].as_str().unwrap())),
            "--info",
            s(&dir.join(ok["info"].as_str().unwrap())),
            "-o",
            s(&out),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        sha(&fs::read(&out).unwrap()),
        ok["plaintext_sha256"].as_str().unwrap()
    );
    for v in vs.iter().filter(|v| v["expect"] != "ok") {
        let bad = d.path().join("bad");
        let o = mxkeys(
            &[
                "attachment",
                "decrypt",
                s(&dir.join(v["ciphertext"].as_str().unwrap())),
                "--info",
                s(&dir.join(v["info"].as_str().unwrap())),
                "-o",
                s(&bad),
            ],
            &[],
        );
        let needle = if v["expect"] == "hash" {
            "SHA-256 does not match"
        } else {
            "unusable attachment info"
        };
        assert_fails(&o, 1, needle);
        // And to standard output: nothing at all is printed.
        let o = mxkeys(
            &[
                "attachment",
                "decrypt",
                s(&dir.join(v["ciphertext"].as_str().unwrap())),
                "--info",
                s(&dir.join(v["info"].as_str().unwrap())),
            ],
            &[],
        );
        assert_fails(&o, 1, needle);
        assert!(o.stdout.is_empty(), "{}", v["ciphertext"]);
    }
    assert_only(d.path(), &["plain"]);
}

#[test]
fn attachment_encrypt_then_decrypt() {
    let d = tmpdir();
    let p = |n: &str| d.path().join(n);
    let data: Vec<u8> = (0..300_001u32).map(|i| (i % 251) as u8).collect();
    fs::write(p("in"), &data).unwrap();
    let o = mxkeys(
        &[
            "attachment",
            "encrypt",
            s(&p("in")),
            "-o",
            s(&p("ct")),
            "--info-out",
            s(&p("info.json")),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let info: Value = serde_json::from_slice(&fs::read(p("info.json")).unwrap()).unwrap();
    assert_eq!(info["v"], "v2");
    assert_eq!(info["key"]["alg"], "A256CTR");
    assert!(!info["key"]["k"].as_str().unwrap().contains(['+', '/', '=']));
    let o = mxkeys(
        &[
            "attachment",
            "decrypt",
            s(&p("ct")),
            "--info",
            s(&p("info.json")),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, data);
}
