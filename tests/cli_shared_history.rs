//! The shared-history flag (MSC3061) survives every path that carries sessions (#26): backup
//! encrypt -> decrypt / to-export / recover, export merge / filter / normalize, bundle decrypt;
//! `export list` counts it per room and `export validate` names each spelling's readers.
//!
//! The input, test-vectors/megolm/valid-shared-history.json, holds the flag in each of its three
//! spellings (`m.shared_history`, `org.matrix.msc3061.shared_history`, `shared_history`) and one
//! session without it. Every path must give each session the flag it had, in the same spelling
//! (normalize: in the portable spelling, `m.shared_history`, with the same value).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

const SPELLINGS: [&str; 3] = [
    "m.shared_history",
    "org.matrix.msc3061.shared_history",
    "shared_history",
];

/// session_id -> the flag's (spelling, value) pairs.
fn flags(sessions: &Value) -> BTreeMap<String, Vec<(String, Value)>> {
    sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let f: Vec<(String, Value)> = SPELLINGS
                .iter()
                .filter_map(|k| s.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                .collect();
            (s["session_id"].as_str().unwrap().to_owned(), f)
        })
        .collect()
}

fn input() -> PathBuf {
    vector_dir("megolm").join("valid-shared-history.json")
}

fn read(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// A JSON array of sessions out of an export file.
fn decrypted(export: &Path, pass: &str) -> Value {
    let out = export.with_extension("plain.json");
    let o = mxkeys(
        &["export", "decrypt", s(export), "-o", s(&out), "--force"],
        &[("MXKEYS_PASSPHRASE", pass)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    read(&out)
}

fn ok(o: std::process::Output) {
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn the_input_has_every_spelling() {
    let f = flags(&read(&input()));
    for k in SPELLINGS {
        assert!(f.values().any(|v| v.iter().any(|(s, _)| s == k)), "{k}");
    }
    assert!(f.values().any(Vec::is_empty));
}

#[test]
fn backup_paths_keep_the_flag() {
    let want = flags(&read(&input()));
    let d = tmpdir();
    let p = |n: &str| d.path().join(n);
    // A backup key of test-vectors/backup (js-sdk made it): its public and recovery forms.
    let manifest = read(&vector_dir("backup").join("manifest.json"));
    let key = &manifest["recovery_keys"][0];
    let (rk, public) = (
        key["recovery_key"].as_str().unwrap(),
        key["public_key"].as_str().unwrap(),
    );
    ok(mxkeys(
        &[
            "backup",
            "encrypt",
            s(&input()),
            "--public-key",
            public,
            "-o",
            s(&p("body.json")),
        ],
        &[],
    ));
    let env = [("MXKEYS_RECOVERY_KEY", rk), ("MXKEYS_NEW_PASSPHRASE", "p")];
    ok(mxkeys(
        &[
            "backup",
            "decrypt",
            s(&p("body.json")),
            "-o",
            s(&p("dec.json")),
        ],
        &env,
    ));
    assert_eq!(flags(&read(&p("dec.json"))), want, "backup decrypt");
    ok(mxkeys(
        &[
            "backup",
            "to-export",
            s(&p("body.json")),
            "-o",
            s(&p("exp.txt")),
            "--rounds",
            "1000",
        ],
        &env,
    ));
    assert_eq!(
        flags(&decrypted(&p("exp.txt"), "p")),
        want,
        "backup to-export"
    );
    ok(mxkeys(
        &[
            "recover",
            "--backup",
            s(&p("body.json")),
            "-o",
            s(&p("rec.txt")),
            "--rounds",
            "1000",
        ],
        &env,
    ));
    assert_eq!(flags(&decrypted(&p("rec.txt"), "p")), want, "recover");
}

#[test]
fn export_paths_keep_the_flag() {
    let want = flags(&read(&input()));
    let d = tmpdir();
    let p = |n: &str| d.path().join(n);
    let other = vector_dir("megolm").join("valid-laptop.json");
    ok(mxkeys(
        &[
            "export",
            "merge",
            s(&input()),
            s(&other),
            "-o",
            s(&p("m.json")),
            "--plaintext",
        ],
        &[],
    ));
    let merged = flags(&read(&p("m.json")));
    for (id, f) in &want {
        assert_eq!(merged.get(id), Some(f), "merge: {id}");
    }
    ok(mxkeys(
        &[
            "export",
            "filter",
            s(&input()),
            "--exclude-room",
            "!none:example.org",
            "-o",
            s(&p("f.json")),
        ],
        &[],
    ));
    assert_eq!(flags(&read(&p("f.json"))), want, "filter");

    // normalize works on exports: the flag keeps its value, in the portable spelling.
    ok(mxkeys(
        &[
            "export",
            "encrypt",
            s(&input()),
            "-o",
            s(&p("in.txt")),
            "--rounds",
            "1000",
        ],
        &[("MXKEYS_NEW_PASSPHRASE", "p")],
    ));
    ok(mxkeys(
        &["export", "normalize", s(&p("in.txt")), "-o", s(&p("n.txt"))],
        &[("MXKEYS_PASSPHRASE", "p")],
    ));
    let normalized = flags(&decrypted(&p("n.txt"), "p"));
    for (id, f) in &want {
        let value = f.first().map(|(_, v)| v.clone());
        let got = &normalized[id];
        match value {
            Some(v) => assert_eq!(got, &vec![("m.shared_history".to_owned(), v)], "{id}"),
            None => assert!(got.is_empty(), "{id}"),
        }
    }
}

#[test]
fn bundles_keep_the_flag_as_the_inviter_wrote_it() {
    // The wasm bundle's plaintext holds no flag; its sessions come out without one. (The
    // bundle's purpose is shared history; the receiver marks them, mxkeys does not invent it.)
    let d = tmpdir();
    let out = d.path().join("b.json");
    let b = vector_dir("bundle");
    ok(mxkeys(
        &[
            "bundle",
            "decrypt",
            s(&b.join("bundle.bin")),
            "--info",
            s(&b.join("info.json")),
            "--plaintext",
            "-o",
            s(&out),
        ],
        &[],
    ));
    let plain = read(&b.join("plaintext.json"));
    assert_eq!(flags(&read(&out)), flags(&plain["room_keys"]));
}

#[test]
fn list_counts_the_flag_per_room_and_validate_names_its_readers() {
    let o = mxkeys(&["export", "list", s(&input()), "--json"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let sessions = read(&input());
    for room in r["rooms"].as_array().unwrap() {
        let id = room["room_id"].as_str().unwrap();
        let want = sessions
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["room_id"] == id)
            .filter(|s| SPELLINGS.iter().find_map(|k| s.get(*k)) == Some(&Value::Bool(true)))
            .count();
        assert_eq!(room["shared_history"], want as u64, "{id}");
    }
    let o = mxkeys(&["export", "validate", s(&input())], &[]);
    let text = String::from_utf8(o.stdout.clone()).unwrap() + &stderr(&o);
    for k in SPELLINGS {
        assert!(
            text.contains(&format!("spelled {k} in 1 sessions")),
            "{k}: {text}"
        );
    }
    assert!(text.contains("matrix-rust-sdk"), "{text}");
}
