//! Replays test-vectors/backup/: recovery keys made by matrix-js-sdk, mautrix and the wasm crypto
//! package (with typo'd variants), and key backups made by a real matrix-sdk-crypto-wasm
//! OlmMachine, python-olm (libolm) and vodozemac, with their expected outcomes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};

use mxkeys::backup::{self, MacKind};
use mxkeys::encoding::encode_unpadded;
use mxkeys::recovery_key::{self, RecoveryKey};
use serde::Deserialize;
use serde_json::Value;
use vectors::Vectors;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    recovery_keys: Vec<KeyVector>,
    backups: Vec<BackupVector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyVector {
    recovery_key: String,
    expect: String,
    private_key: Option<String>,
    public_key: Option<String>,
    correct: Option<String>,
    made_by: String,
    comment: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupVector {
    file: String,
    shape: String,
    room_id: Option<String>,
    session_id: Option<String>,
    recovery_key: String,
    auth_data: Option<String>,
    expect: String,
    sessions: Option<String>,
    failures: Vec<Failure>,
    mac_kind: String,
    made_by: String,
    comment: String,
}

#[derive(Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct Failure {
    room_id: String,
    session_id: String,
    kind: String,
}

#[path = "common/vectors.rs"]
mod vectors;

const V: Vectors = Vectors("backup");

fn json(name: &str) -> Value {
    V.json(name)
}

#[test]
fn every_file_is_listed() {
    let m: Manifest = V.manifest();
    let mut listed = BTreeSet::new();
    for b in &m.backups {
        listed.insert(b.file.clone());
        listed.extend(b.auth_data.clone());
        listed.extend(b.sessions.clone());
    }
    // MSC4048 (unstable) backup MACs: a folder with its own manifest, replayed by
    // tests/backup_msc4048.rs.
    listed.insert("msc4048".to_owned());
    V.assert_every_file_listed(&listed);
    assert!(m.recovery_keys.len() >= 20 && m.backups.len() >= 10);
}

#[test]
fn recovery_keys_decode_or_are_diagnosed() {
    let mut suggested = 0;
    for v in V.manifest::<Manifest>().recovery_keys {
        let ctx = format!("{:?} ({}): {}", v.recovery_key, v.made_by, v.comment);
        match (RecoveryKey::decode(&v.recovery_key), v.expect.as_str()) {
            (Ok(k), "ok") => {
                assert_eq!(Some(encode_unpadded(k.expose())), v.private_key, "{ctx}");
                assert_eq!(
                    Some(encode_unpadded(&k.backup_public_key())),
                    v.public_key,
                    "{ctx}"
                );
                // Re-encoding gives the canonical spaced form the peers write.
                let canon: String = v.recovery_key.split_whitespace().collect();
                assert_eq!(k.encode().replace(' ', ""), canon, "{ctx}");
            }
            (Err(e), expect) => {
                assert_eq!(e.kind().as_str(), expect, "{ctx}: {e}");
                // The one-character fix finds the original key among its candidates.
                if let Some(correct) = &v.correct {
                    let fixes = recovery_key::suggest(&v.recovery_key);
                    if one_edit(&v.recovery_key, correct) {
                        assert!(
                            fixes.iter().any(|f| f.as_str() == correct),
                            "{ctx}: {} suggestions, none is the original",
                            fixes.len()
                        );
                        suggested += 1;
                    }
                }
            }
            (Ok(_), expect) => panic!("{ctx}: decoded, expected {expect}"),
        }
    }
    assert!(
        suggested >= 8,
        "only {suggested} typos checked against --suggest"
    );
}

/// Whether `typo` is one substitution, insertion, deletion or adjacent swap away from `correct`.
fn one_edit(typo: &str, correct: &str) -> bool {
    let a: Vec<char> = typo.chars().filter(|c| !c.is_whitespace()).collect();
    let b: Vec<char> = correct.chars().filter(|c| !c.is_whitespace()).collect();
    let removed = |long: &[char], short: &[char]| {
        (0..long.len())
            .any(|i| long[..i] == short[..i.min(short.len())] && long[i + 1..] == short[i..])
    };
    match a.len() as isize - b.len() as isize {
        0 => {
            let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
            diff.len() == 1
                || (diff.len() == 2
                    && diff[1] == diff[0] + 1
                    && a[diff[0]] == b[diff[1]]
                    && a[diff[1]] == b[diff[0]])
        }
        1 => removed(&a, &b),
        -1 => removed(&b, &a),
        _ => false,
    }
}

#[test]
fn backups_decrypt_to_what_the_peers_encrypted() {
    let mut ok = 0;
    for v in V.manifest::<Manifest>().backups {
        let ctx = format!("{} ({}): {}", v.file, v.made_by, v.comment);
        let key = RecoveryKey::decode(&v.recovery_key).unwrap();
        if let Some(a) = &v.auth_data {
            let checked = backup::check_auth_data(&key, &json(a));
            if v.expect == "wrong_key" {
                assert_eq!(
                    checked.unwrap_err().kind(),
                    mxkeys::ErrorKind::WrongKey,
                    "{ctx}"
                );
                continue;
            }
            checked.unwrap();
        }
        assert_ne!(v.expect, "wrong_key", "{ctx}: wrong_key needs auth_data");
        let (shape, entries) = backup::entries(
            &json(&v.file),
            v.room_id.as_deref(),
            v.session_id.as_deref(),
        )
        .unwrap();
        assert_eq!(serde_json::to_value(shape).unwrap(), v.shape, "{ctx}");
        let outcomes = backup::decrypt_entries(&key, &entries);
        let want: BTreeMap<String, BTreeMap<String, Value>> =
            serde_json::from_value(json(v.sessions.as_ref().unwrap())).unwrap();
        let mut failures = Vec::new();
        let mut decrypted = 0;
        for o in outcomes {
            match o.result {
                Ok((session, mac)) => {
                    let mut plain = session.clone();
                    assert_eq!(plain.room_id.as_ref(), Some(&o.room_id));
                    assert_eq!(plain.session_id.as_ref(), Some(&o.session_id));
                    plain.remove("room_id");
                    plain.remove("session_id");
                    let expected = &want[&o.room_id][&o.session_id];
                    assert_eq!(
                        &serde_json::to_value(&plain).unwrap(),
                        expected,
                        "{ctx}: {}",
                        o.session_id
                    );
                    let mac = match mac {
                        MacKind::Empty => "empty",
                        MacKind::Ciphertext => "ciphertext",
                    };
                    assert_eq!(mac, v.mac_kind, "{ctx}");
                    decrypted += 1;
                }
                Err(e) => failures.push(Failure {
                    room_id: o.room_id,
                    session_id: o.session_id,
                    kind: e.kind().to_string(),
                }),
            }
        }
        let mut expected_failures = v.failures;
        failures.sort();
        expected_failures.sort();
        assert_eq!(failures, expected_failures, "{ctx}");
        assert_eq!(
            decrypted,
            want.values().map(BTreeMap::len).sum::<usize>(),
            "{ctx}"
        );
        assert_eq!(v.expect == "ok", failures.is_empty(), "{ctx}");
        ok += 1;
    }
    assert!(ok >= 8);
}
