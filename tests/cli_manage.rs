//! `mxkeys export validate|merge|normalize|filter|list` through the binary, on sessions made by
//! vodozemac, python-olm and matrix-sdk-crypto-wasm (test-vectors/megolm) and on peer exports.

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

fn megolm(name: &str) -> String {
    s(&vector_dir("megolm").join(name)).to_owned()
}

#[test]
fn validate_reports_each_problem_and_exits_1() {
    let o = mxkeys(
        &[
            "export",
            "validate",
            &megolm("invalid-mixed.json"),
            "--json",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["sessions"], 19);
    assert_eq!(r["invalid"], 13);
    let whats: Vec<&str> = r["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["what"].as_str().unwrap())
        .collect();
    for code in [
        "session_id_mismatch",
        "bad_signature",
        "bad_key",
        "bad_base64",
        "missing_field",
        "wrong_type",
        "unknown_algorithm",
        "bad_sender_key",
        "duplicate",
        "empty_sender_claimed_keys",
    ] {
        assert!(whats.contains(&code), "{code} missing from {whats:?}");
    }
    let o = mxkeys(
        &[
            "export",
            "validate",
            &megolm("warn-empty-claimed-keys.json"),
        ],
        &[],
    );
    assert!(
        o.status.success(),
        "warnings alone do not fail: {}",
        stderr(&o)
    );
    // An encrypted export validates too.
    let f = vector_dir("export").join("wasm-r1000-extra.txt");
    let o = mxkeys(
        &["export", "validate", s(&f)],
        &[("MXKEYS_PASSPHRASE", "correct horse battery staple")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn merge_keeps_the_best_copy_and_refuses_conflicts() {
    let d = tmpdir();
    let out = d.path().join("merged.json");
    let o = mxkeys(
        &[
            "export",
            "merge",
            &megolm("valid-old-backup.json"),
            &megolm("valid-phone.json"),
            &megolm("valid-laptop.json"),
            "-o",
            s(&out),
            "--plaintext",
            "--json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["unique"], 12);
    assert!(r["replaced_by_better_copy"].as_u64().unwrap() > 0);
    let merged: Vec<Value> = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    assert_eq!(merged.len(), 12);

    let out2 = d.path().join("conflict.json");
    let o = mxkeys(
        &[
            "export",
            "merge",
            &megolm("valid-laptop.json"),
            &megolm("merge-fake-ratchet.json"),
            "-o",
            s(&out2),
            "--plaintext",
        ],
        &[],
    );
    assert_fails(&o, 1, "2 sessions have conflicting copies");
    assert!(!out2.exists());
    let o = mxkeys(
        &[
            "export",
            "merge",
            &megolm("valid-laptop.json"),
            &megolm("merge-fake-ratchet.json"),
            "-o",
            s(&out2),
            "--plaintext",
            "--keep-conflicts",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn merge_reads_exports_with_their_own_passphrases_and_writes_an_export() {
    let d = tmpdir();
    let p = |n: &str| d.path().join(n);
    fs::write(p("p1"), "first\n").unwrap();
    fs::write(p("p2"), "second\n").unwrap();
    for (name, pass) in [("a.txt", "first"), ("b.txt", "second")] {
        let src = if name == "a.txt" {
            megolm("valid-laptop.json")
        } else {
            megolm("valid-phone.json")
        };
        let o = mxkeys(
            &[
                "export",
                "encrypt",
                &src,
                "-o",
                s(&p(name)),
                "--rounds",
                "1000",
            ],
            &[("MXKEYS_PASSPHRASE", pass)],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = mxkeys(
        &[
            "export",
            "merge",
            s(&p("a.txt")),
            s(&p("b.txt")),
            &megolm("valid-old-backup.json"),
            "--passphrase-file",
            s(&p("p1")),
            "--passphrase-file",
            s(&p("p2")),
            "-o",
            s(&p("m.txt")),
            "--rounds",
            "1000",
        ],
        &[("MXKEYS_NEW_PASSPHRASE", "merged")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = mxkeys(
        &["export", "list", s(&p("m.txt")), "--json"],
        &[("MXKEYS_PASSPHRASE", "merged")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let total: u64 = r["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["sessions"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 12);
}

#[test]
fn normalize_makes_a_file_every_reader_accepts() {
    let d = tmpdir();
    let f = vector_dir("export").join("armor-mixed.txt");
    let env = [("MXKEYS_PASSPHRASE", "correct horse battery staple")];
    // Readers refuse it: the list, then exit 1.
    let o = mxkeys(&["export", "normalize", s(&f), "--check"], &env);
    assert_fails(&o, 1, "would refuse");
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("matrix-nio:") && text.contains("matrix-rust-sdk:"),
        "{text}"
    );
    let out = d.path().join("n.txt");
    let o = mxkeys(
        &[
            "export",
            "normalize",
            s(&f),
            "-o",
            s(&out),
            "--rounds",
            "100000",
        ],
        &env,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = mxkeys(&["export", "normalize", s(&out), "--check"], &env);
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .starts_with("every known reader"),
        "same passphrase kept"
    );
    // Signed 0x02 keys become 0x01, and the flag gets one spelling.
    let signed = megolm("valid-signed.json");
    let enc = d.path().join("signed.txt");
    assert!(mxkeys(
        &[
            "export",
            "encrypt",
            &signed,
            "-o",
            s(&enc),
            "--rounds",
            "1000"
        ],
        &env
    )
    .status
    .success());
    let o = mxkeys(&["export", "normalize", s(&enc), "--check"], &env);
    assert!(String::from_utf8(o.stdout).unwrap().contains("0x02"));
    let out2 = d.path().join("n2.txt");
    assert!(
        mxkeys(&["export", "normalize", s(&enc), "-o", s(&out2)], &env)
            .status
            .success()
    );
    let o = mxkeys(&["export", "decrypt", s(&out2)], &env);
    let sessions: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        sessions
            .iter()
            .all(|s| s["session_key"].as_str().unwrap().starts_with("AQ")),
        "0x01 keys start AQ in base64"
    );
}

#[test]
fn filter_and_list() {
    let d = tmpdir();
    let out = d.path().join("f.json");
    let o = mxkeys(
        &[
            "export",
            "filter",
            &megolm("valid-laptop.json"),
            "-o",
            s(&out),
            "--room",
            "!alpha:example.org",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let kept: Vec<Value> = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    assert!(!kept.is_empty());
    assert!(kept.iter().all(|s| s["room_id"] == "!alpha:example.org"));
    let o = mxkeys(&["export", "list", &megolm("valid-laptop.json")], &[]);
    assert!(String::from_utf8(o.stdout)
        .unwrap()
        .contains("!alpha:example.org"));
}
