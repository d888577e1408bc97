//! `mxkeys export split` through the binary, on exports written by Element Web, matrix-nio and
//! matrix-sdk-crypto-wasm (test-vectors/export, see its manifest): every part decrypts on its
//! own, keeps its limit, and the parts together hold exactly the input's sessions.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

const PASS: &str = "correct horse battery staple";

/// The sessions of an export (or a JSON file), each as its JSON text.
fn sessions_of(file: &Path, pass: &str) -> Vec<Value> {
    let o = mxkeys(
        &["export", "decrypt", s(file)],
        &[("MXKEYS_PASSPHRASE", pass)],
    );
    assert!(o.status.success(), "{}: {}", file.display(), stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Each distinct session with how often it occurs.
fn multiset(sessions: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for v in sessions {
        *m.entry(serde_json::to_string(v).unwrap()).or_insert(0) += 1;
    }
    m
}

fn parts_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn parts_of_peer_exports_decrypt_alone_and_add_up_to_the_input() {
    for name in [
        "element-web-r1000-extra.txt",
        "nio-r10000-extra.txt",
        "wasm-r1000-extra.txt",
    ] {
        let input = vectors().join(name);
        let whole = sessions_of(&input, PASS);
        assert!(whole.len() >= 5, "{name}");
        let d = tmpdir();
        let dir = d.path().join("parts");
        let o = mxkeys(
            &[
                "export",
                "split",
                s(&input),
                "-o",
                s(&dir),
                "--max-sessions",
                "2",
                "--json",
            ],
            &[("MXKEYS_PASSPHRASE", PASS)],
        );
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        let files = parts_in(&dir);
        assert_eq!(files.len(), whole.len().div_ceil(2), "{name}");
        assert_eq!(r["parts"].as_array().unwrap().len(), files.len());
        assert_eq!(r["sessions"], whole.len());
        let mut union = Vec::new();
        for (i, f) in files.iter().enumerate() {
            assert_eq!(
                f.file_name().unwrap().to_str().unwrap(),
                format!("part-{:04}.txt", i + 1)
            );
            assert_eq!(r["parts"][i]["path"], s(f));
            assert_eq!(r["parts"][i]["bytes"], fs::metadata(f).unwrap().len());
            // Each part opens with the input's passphrase, alone.
            let part = sessions_of(f, PASS);
            assert!(!part.is_empty() && part.len() <= 2, "{name} {f:?}");
            assert_eq!(r["parts"][i]["sessions"], part.len());
            union.extend(part);
        }
        // In order, and the same sessions: the union is the input.
        assert_eq!(union, whole, "{name}");
        assert_eq!(multiset(&union), multiset(&whole), "{name}");
    }
}

#[test]
fn by_room_and_max_bytes_keep_rooms_together_within_the_size() {
    let input = vectors().join("element-web-r1000-extra.txt");
    let whole = sessions_of(&input, PASS);
    let d = tmpdir();
    let dir = d.path().join("parts");
    let o = mxkeys(
        &[
            "export",
            "split",
            s(&input),
            "-o",
            s(&dir),
            "--max-bytes",
            "3K",
            "--by-room",
            "--prefix",
            "keys",
        ],
        &[("MXKEYS_PASSPHRASE", PASS)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut union = Vec::new();
    let mut room_part: BTreeMap<String, usize> = BTreeMap::new();
    let files = parts_in(&dir);
    assert!(files.len() >= 2, "{files:?}");
    for (i, f) in files.iter().enumerate() {
        assert!(f
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("keys-"));
        assert!(fs::metadata(f).unwrap().len() <= 3 * 1024, "{f:?}");
        for s in sessions_of(f, PASS) {
            let room = s["room_id"].as_str().unwrap().to_owned();
            let first = *room_part.entry(room.clone()).or_insert(i);
            assert_eq!(first, i, "room {room} is in two parts");
            union.push(s);
        }
    }
    assert_eq!(multiset(&union), multiset(&whole));
}

#[test]
fn json_gives_json_parts_unless_a_new_passphrase_is_given() {
    let input = vectors().join("sessions-extra.json");
    let whole: Vec<Value> = serde_json::from_slice(&fs::read(&input).unwrap()).unwrap();
    let d = tmpdir();
    let plain = d.path().join("plain");
    let o = mxkeys(
        &[
            "export",
            "split",
            s(&input),
            "-o",
            s(&plain),
            "--max-sessions",
            "3",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut union = Vec::new();
    for f in parts_in(&plain) {
        assert_eq!(f.extension().unwrap(), "json");
        let part: Vec<Value> = serde_json::from_slice(&fs::read(&f).unwrap()).unwrap();
        union.extend(part);
    }
    assert_eq!(union, whole);

    let enc = d.path().join("enc");
    let o = mxkeys(
        &[
            "export",
            "split",
            s(&input),
            "-o",
            s(&enc),
            "--max-sessions",
            "4",
        ],
        &[("MXKEYS_NEW_PASSPHRASE", "a new passphrase")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut union = Vec::new();
    for f in parts_in(&enc) {
        assert_eq!(f.extension().unwrap(), "txt");
        union.extend(sessions_of(&f, "a new passphrase"));
    }
    assert_eq!(union, whole);
}

#[test]
fn refusals_leave_no_part_behind() {
    let input = vectors().join("element-web-r1000.txt");
    let env = [("MXKEYS_PASSPHRASE", PASS)];
    let d = tmpdir();
    // A non-empty DIR without --force: usage, nothing added.
    let full = d.path().join("full");
    fs::create_dir(&full).unwrap();
    fs::write(full.join("mine.txt"), "keep").unwrap();
    let o = mxkeys(
        &[
            "export",
            "split",
            s(&input),
            "-o",
            s(&full),
            "--max-sessions",
            "2",
        ],
        &env,
    );
    assert_fails(&o, 2, "add --force");
    assert_only(&full, &["mine.txt"]);
    // A limit smaller than one session: exit 1, and the parts written before it are gone.
    let small = d.path().join("small");
    let o = mxkeys(
        &[
            "export",
            "split",
            s(&input),
            "-o",
            s(&small),
            "--max-bytes",
            "900",
        ],
        &env,
    );
    assert_fails(&o, 1, "give a larger --max-bytes");
    assert!(!small.exists(), "DIR made for the parts is removed again");
    // A session too large after parts were written: those parts are removed again.
    let mixed = d.path().join("mixed.json");
    let big = "x".repeat(2000);
    fs::write(
        &mixed,
        format!(r#"[{{"room_id":"!a"}},{{"room_id":"!b"}},{{"room_id":"!c","pad":"{big}"}}]"#),
    )
    .unwrap();
    let later = d.path().join("later");
    let o = mxkeys(
        &[
            "export",
            "split",
            s(&mixed),
            "-o",
            s(&later),
            "--max-bytes",
            "1000",
            "--max-sessions",
            "1",
        ],
        &[],
    );
    assert_fails(&o, 2, "cannot be used with");
    let o = mxkeys(
        &[
            "export",
            "split",
            s(&mixed),
            "-o",
            s(&later),
            "--max-bytes",
            "30",
        ],
        &[],
    );
    assert_fails(&o, 1, "session #2 of");
    assert!(
        !later.exists(),
        "the part written before the error is removed, and DIR"
    );
    // Wrong passphrase: nothing at all.
    let wrong = d.path().join("wrong");
    let o = mxkeys(
        &[
            "export",
            "split",
            s(&input),
            "-o",
            s(&wrong),
            "--max-sessions",
            "2",
        ],
        &[("MXKEYS_PASSPHRASE", "not it")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!wrong.exists() || parts_in(&wrong).is_empty());
}
