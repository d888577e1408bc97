//! `mxkeys recover` end to end on peer-made files: matrix-js-sdk secret storage holding the backup
//! key of a real matrix-sdk-crypto-wasm OlmMachine backup (test-vectors/recover/).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::fs;

use common::*;
use serde_json::Value;

#[test]
fn security_phrase_or_key_to_an_importable_export() {
    let dir = vector_dir("recover");
    let m: Value = serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    for v in m["vectors"].as_array().unwrap() {
        let d = tmpdir();
        let out = d.path().join("keys.txt");
        let file = |k: &str| dir.join(v[k].as_str().unwrap());
        let mut env = vec![("MXKEYS_NEW_PASSPHRASE", "new export passphrase")];
        if let Some(k) = v["security_key"].as_str() {
            env.push(("MXKEYS_RECOVERY_KEY", k));
        }
        if let Some(p) = v["passphrase"].as_str() {
            env.push(("MXKEYS_PASSPHRASE", p));
        }
        let (ad, backup, version) = (file("account_data"), file("backup"), file("backup_version"));
        let o = mxkeys(
            &[
                "recover",
                "--account-data",
                s(&ad),
                "--backup",
                s(&backup),
                "--backup-version",
                s(&version),
                "-o",
                s(&out),
                "--rounds",
                "1000",
            ],
            &env,
        );
        assert!(o.status.success(), "{}: {}", v["comment"], stderr(&o));
        assert!(
            stderr(&o).contains("Done: 6 of 6 sessions in 3 rooms"),
            "{}",
            stderr(&o)
        );
        // The export opens with the new passphrase and holds exactly the backed-up sessions.
        let o = mxkeys(
            &["export", "decrypt", s(&out)],
            &[("MXKEYS_PASSPHRASE", "new export passphrase")],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let got: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
        let want: BTreeMap<String, BTreeMap<String, Value>> =
            serde_json::from_slice(&fs::read(file("sessions")).unwrap()).unwrap();
        assert_eq!(got.len(), 6);
        for s in got {
            let mut plain = s.as_object().unwrap().clone();
            let room = plain.remove("room_id").unwrap();
            let sid = plain.remove("session_id").unwrap();
            assert_eq!(
                Value::Object(plain),
                want[room.as_str().unwrap()][sid.as_str().unwrap()]
            );
        }
    }
}

#[test]
fn a_wrong_phrase_stops_before_anything_is_written() {
    let dir = vector_dir("recover");
    let d = tmpdir();
    let out = d.path().join("keys.txt");
    let (ad, backup) = (
        dir.join("jssdk-account.json"),
        vector_dir("backup").join("wasm-machine-keys.json"),
    );
    let o = mxkeys(
        &[
            "recover",
            "--account-data",
            s(&ad),
            "--backup",
            s(&backup),
            "-o",
            s(&out),
        ],
        &[
            ("MXKEYS_PASSPHRASE", "not the phrase"),
            ("MXKEYS_NEW_PASSPHRASE", "x"),
        ],
    );
    assert_fails(&o, 1, "this is not the Security Key (or Phrase)");
    assert_only(d.path(), &[]);
}
