//! Replays test-vectors/backup/msc4048/: MSC4048 (unstable) backup MACs made by an independent
//! Python implementation of the MSC (test-vectors/gen/backup/gen_msc4048.py) and the one peer
//! vector found (matrix-rust-sdk PR #2659's test). The library reports each session's status;
//! `backup decrypt` counts them, fails mismatches, refuses unauthenticated sessions with
//! --require-authenticated; `backup encrypt --msc4048` writes MACs that the Python-derived MAC
//! key verifies.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;

use common::{assert_fails, assert_only, mxkeys, s, stderr, tmpdir, vector_dir, vectors};
use hmac::{Hmac, Mac};
use mxkeys::backup::{self, BackupMacKey, Msc4048Policy, Msc4048Status};
use mxkeys::recovery_key::RecoveryKey;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Sha256;

const FIELD: &str = "org.matrix.msc4048.backup_mac";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[allow(dead_code)]
    comment: String,
    #[allow(dead_code)]
    made_by: String,
    #[allow(dead_code)]
    msc: String,
    #[allow(dead_code)]
    construction: String,
    field: String,
    backups: Vec<Backup>,
    check_values: CheckValues,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Backup {
    file: String,
    private_key: String,
    recovery_key: String,
    public_key: String,
    mac_key_hex: String,
    sessions: BTreeMap<String, BTreeMap<String, Expected>>,
    made_by: String,
    comment: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    status: String,
    kind: Option<String>,
    plaintext: Option<Value>,
    comment: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckValues {
    private_key: String,
    recovery_key: String,
    mac_key_hex: String,
    other_private_key: String,
    other_mac_key_hex: String,
    macs: Vec<CheckMac>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckMac {
    session_data: Value,
    canonical: String,
    backup_mac: String,
}

fn dir() -> std::path::PathBuf {
    vector_dir("backup").join("msc4048")
}

fn manifest() -> Manifest {
    serde_json::from_slice(&std::fs::read(dir().join("manifest.json")).unwrap()).unwrap()
}

fn key_of(b64: &str) -> RecoveryKey {
    let mut bytes: [u8; 32] = mxkeys::encoding::decode_lenient(b64)
        .unwrap()
        .try_into()
        .unwrap();
    RecoveryKey::from_bytes(&mut bytes)
}

/// HMAC-SHA-256 with the MAC key the Python generator derived, over the canonical JSON of
/// `sd` without `unsigned` and `signatures`, as unpadded base64: the MSC's construction without
/// the library's `BackupMacKey`.
fn python_keyed_mac(mac_key_hex: &str, sd: &Map<String, Value>) -> String {
    let mut body = sd.clone();
    body.remove("unsigned");
    body.remove("signatures");
    let canonical = mxkeys::identity::canonical_json(&Value::Object(body)).unwrap();
    let mut h = Hmac::<Sha256>::new_from_slice(&hex::decode(mac_key_hex).unwrap()).unwrap();
    h.update(canonical.as_bytes());
    mxkeys::encoding::encode_unpadded(&h.finalize().into_bytes())
}

#[test]
fn every_file_is_listed_and_the_field_is_the_unstable_name() {
    let m = manifest();
    assert_eq!(m.field, FIELD);
    assert_eq!(backup::MSC4048_BACKUP_MAC, FIELD);
    for e in std::fs::read_dir(dir()).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(
            name == "manifest.json"
                || name == "README.md"
                || m.backups.iter().any(|b| b.file == name),
            "{name} is not in the manifest"
        );
    }
}

#[test]
fn each_session_has_the_status_the_python_reference_gave() {
    let m = manifest();
    let mut counts = BTreeMap::new();
    for b in &m.backups {
        let ctx = format!("{} ({}): {}", b.file, b.made_by, b.comment);
        let key = RecoveryKey::decode(&b.recovery_key).unwrap();
        assert_eq!(key.expose(), key_of(&b.private_key).expose(), "{ctx}");
        assert_eq!(
            mxkeys::encoding::encode_unpadded(&key.backup_public_key()),
            b.public_key
        );
        let doc: Value =
            serde_json::from_slice(&std::fs::read(dir().join(&b.file)).unwrap()).unwrap();
        let (_, entries) = backup::entries(&doc, None, None).unwrap();
        let mac_key = BackupMacKey::derive(&key);
        for require in [false, true] {
            let policy = Msc4048Policy {
                require_authenticated: require,
            };
            let out = backup::decrypt_entries_with(&key, &mac_key, policy, &entries);
            assert_eq!(
                out.len(),
                b.sessions.values().map(BTreeMap::len).sum::<usize>()
            );
            for (o, e) in out.iter().zip(&entries) {
                let want = &b.sessions[&o.room_id][&o.session_id];
                let ctx = format!("{ctx}: {} ({})", o.session_id, want.comment);
                let status = o.msc4048.map(Msc4048Status::as_str);
                assert_eq!(status, Some(want.status.as_str()), "{ctx}");
                // The MAC is also checked when it alone is asked about.
                let sd = e.session_data.as_object().unwrap();
                match mac_key.check(sd) {
                    Ok(st) => assert_eq!(st.as_str(), want.status, "{ctx}"),
                    Err(p) => {
                        assert_eq!(want.status, "mismatch", "{ctx}");
                        assert_eq!(p, backup::BackupMacProblem::Mismatch, "{ctx}");
                    }
                }
                // An authenticated session's tag is the one the Python-derived key gives.
                if want.status == "authenticated" {
                    let tag = sd["unsigned"][FIELD].as_str().unwrap();
                    assert_eq!(
                        mxkeys::encoding::decode_lenient(tag).unwrap(),
                        mxkeys::encoding::decode_lenient(&python_keyed_mac(&b.mac_key_hex, sd))
                            .unwrap(),
                        "{ctx}"
                    );
                }
                let refused = require && want.status == "unauthenticated";
                match &o.result {
                    Ok((session, _)) => {
                        assert!(want.kind.is_none() && !refused, "{ctx}");
                        let mut plain = session.clone();
                        plain.remove("room_id");
                        plain.remove("session_id");
                        assert_eq!(
                            Some(&serde_json::to_value(&plain).unwrap()),
                            want.plaintext.as_ref(),
                            "{ctx}"
                        );
                        if !require {
                            *counts.entry(want.status.clone()).or_insert(0) += 1;
                        }
                    }
                    Err(f) if refused => {
                        assert_eq!(f.kind(), backup::FailureKind::Unauthenticated, "{ctx}")
                    }
                    Err(f) => {
                        assert_eq!(Some(f.kind().as_str()), want.kind.as_deref(), "{ctx}");
                        assert!(f.to_string().contains("MSC4048 (unstable)"), "{ctx}: {f}");
                        if !require {
                            *counts.entry("failed".to_owned()).or_insert(0) += 1;
                        }
                    }
                }
            }
        }
    }
    // 4 + 1 authenticated, 1 unauthenticated, 2 + 1 mismatches (which fail).
    let want: BTreeMap<String, i32> = [("authenticated", 5), ("unauthenticated", 1), ("failed", 3)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    assert_eq!(counts, want);
}

#[test]
fn the_mac_key_and_macs_are_what_the_python_reference_computed() {
    let c = manifest().check_values;
    let key = key_of(&c.private_key);
    assert_eq!(
        key.expose(),
        RecoveryKey::decode(&c.recovery_key).unwrap().expose()
    );
    let mac_key = BackupMacKey::derive(&key);
    let other = BackupMacKey::derive(&key_of(&c.other_private_key));
    assert_ne!(c.mac_key_hex, c.other_mac_key_hex);
    assert!(c.macs.len() >= 3);
    for v in &c.macs {
        let sd = v.session_data.as_object().unwrap();
        assert_eq!(mac_key.mac_of(sd).unwrap(), v.backup_mac, "{}", v.canonical);
        assert_ne!(other.mac_of(sd).unwrap(), v.backup_mac, "{}", v.canonical);
        // The Python canonical form is the crate's, minus unsigned and signatures.
        let mut body = sd.clone();
        body.remove("unsigned");
        body.remove("signatures");
        assert_eq!(
            mxkeys::identity::canonical_json(&Value::Object(body)).unwrap(),
            v.canonical
        );
        assert_eq!(python_keyed_mac(&c.mac_key_hex, sd), v.backup_mac);
        // add_backup_mac writes that MAC under the unstable name, and it then checks.
        let mut with = v.session_data.clone();
        backup::add_backup_mac(&mac_key, &mut with).unwrap();
        assert_eq!(with["unsigned"][FIELD], v.backup_mac.as_str());
        assert_eq!(
            mac_key.check(with.as_object().unwrap()),
            Ok(Msc4048Status::Authenticated)
        );
        assert_eq!(
            other.check(with.as_object().unwrap()),
            Err(backup::BackupMacProblem::Mismatch)
        );
    }
}

#[test]
fn malformed_macs_get_a_reason_each() {
    let c = manifest().check_values;
    let mac_key = BackupMacKey::derive(&key_of(&c.private_key));
    let base = c.macs[0].session_data.as_object().unwrap().clone();
    let with = |unsigned: Value| {
        let mut sd = base.clone();
        sd.insert("unsigned".into(), unsigned);
        sd
    };
    let cases: Vec<(Map<String, Value>, &str)> = vec![
        (
            with(serde_json::json!({FIELD: "not base64!"})),
            "is not base64",
        ),
        (
            with(serde_json::json!({FIELD: "AAAA"})),
            "is 3 bytes, expected 32",
        ),
        (with(serde_json::json!({FIELD: 5})), "is not a string"),
        (
            with(serde_json::json!([1])),
            "session_data.unsigned is not an object",
        ),
        (
            {
                let mut sd = with(serde_json::json!({FIELD: c.macs[0].backup_mac}));
                sd.insert("extra".into(), serde_json::json!(1.5));
                sd
            },
            "no canonical JSON form",
        ),
    ];
    for (sd, needle) in cases {
        let e = mac_key.check(&sd).unwrap_err();
        let text = backup::SessionFailure::BackupMac(e.clone()).to_string();
        assert!(text.contains(needle), "{text}");
        assert!(
            text.starts_with("malformed MSC4048 (unstable) backup MAC"),
            "{text}"
        );
    }
    // unsigned without the field: unauthenticated, not malformed.
    assert_eq!(
        mac_key.check(&with(serde_json::json!({"age": 1}))),
        Ok(Msc4048Status::Unauthenticated)
    );
}

fn vector_key() -> String {
    manifest().backups[0].recovery_key.clone()
}

#[test]
fn decrypt_counts_each_status_and_fails_the_mismatches() {
    let d = tmpdir();
    let file = dir().join("msc4048-keys.json");
    let out = d.path().join("out.json");
    let env = [("MXKEYS_RECOVERY_KEY", vector_key())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Without --allow-partial: the two mismatches fail the command, nothing is written.
    let o = mxkeys(&["backup", "decrypt", s(&file), "-o", s(&out)], &env);
    assert_fails(&o, 1, "2 of 7 sessions could not be decrypted");
    assert!(
        stderr(&o).contains("MSC4048 (unstable) backup MAC mismatch"),
        "{}",
        stderr(&o)
    );
    assert_only(d.path(), &[]);
    // With it: 5 written, the counts in the summary.
    let o = mxkeys(
        &[
            "backup",
            "decrypt",
            s(&file),
            "--allow-partial",
            "-o",
            s(&out),
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "MSC4048 (unstable) backup MACs: 4 authenticated, 1 unauthenticated (no MAC), 2 mismatch"
        ),
        "{}",
        stderr(&o)
    );
    let written: Vec<Value> = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(written.len(), 5);
    // --json: the counts, and the status of each failure.
    std::fs::remove_file(&out).unwrap();
    let o = mxkeys(
        &[
            "--json",
            "backup",
            "decrypt",
            s(&file),
            "--allow-partial",
            "-o",
            s(&out),
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        r["msc4048"],
        serde_json::json!({"authenticated": 4, "unauthenticated": 1, "mismatch": 2})
    );
    assert_eq!(r["sessions"], 5);
    let failed = r["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2);
    for f in failed {
        assert_eq!(f["kind"], "backup_mac");
        assert_eq!(f["msc4048"], "mismatch");
    }
}

#[test]
fn require_authenticated_refuses_sessions_without_a_mac() {
    let d = tmpdir();
    let file = dir().join("msc4048-keys.json");
    let out = d.path().join("out.json");
    let key = vector_key();
    let env = [("MXKEYS_RECOVERY_KEY", key.as_str())];
    let args = [
        "--json",
        "backup",
        "decrypt",
        s(&file),
        "--require-authenticated",
        "--allow-partial",
        "-o",
        s(&out),
    ];
    let o = mxkeys(&args, &env);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["sessions"], 4);
    assert_eq!(
        r["msc4048"],
        serde_json::json!({"authenticated": 4, "unauthenticated": 1, "mismatch": 2})
    );
    let kinds: Vec<(&str, &str)> = r["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["msc4048"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds.len(), 3);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == ("unauthenticated", "unauthenticated"))
            .count(),
        1
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == ("backup_mac", "mismatch"))
            .count(),
        2
    );
    // A backup no released client wrote MACs for: every session refused, one error line.
    let wasm = vector_dir("backup").join("olm-keys.json");
    let olm_key = {
        let m: Value = serde_json::from_slice(
            &std::fs::read(vector_dir("backup").join("manifest.json")).unwrap(),
        )
        .unwrap();
        m["backups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["file"] == "olm-keys.json")
            .unwrap()["recovery_key"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let out2 = d.path().join("none.json");
    let o = mxkeys(
        &[
            "backup",
            "decrypt",
            s(&wasm),
            "--require-authenticated",
            "-o",
            s(&out2),
        ],
        &[("MXKEYS_RECOVERY_KEY", &olm_key)],
    );
    assert_fails(
        &o,
        1,
        "carries an MSC4048 (unstable) backup MAC, and --require-authenticated refuses them",
    );
    assert!(!out2.exists());
    // Without the flag the same backup decrypts, and no MSC4048 note is printed.
    let o = mxkeys(
        &["backup", "decrypt", s(&wasm), "-o", s(&out2)],
        &[("MXKEYS_RECOVERY_KEY", &olm_key)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("MSC4048"), "{}", stderr(&o));
}

#[test]
fn the_peer_vector_decrypts_and_its_swapped_mac_is_refused() {
    let b = &manifest().backups[1];
    let file = dir().join(&b.file);
    let d = tmpdir();
    let out = d.path().join("o.json");
    let o = mxkeys(
        &[
            "--json",
            "backup",
            "decrypt",
            s(&file),
            "--allow-partial",
            "-o",
            s(&out),
        ],
        &[("MXKEYS_RECOVERY_KEY", &b.recovery_key)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        r["msc4048"],
        serde_json::json!({"authenticated": 1, "unauthenticated": 0, "mismatch": 1})
    );
    assert_eq!(r["failed"][0]["room_id"], "!bad:example.org");
    // One KeyBackupData on its own (the lone path), as the peer's test gives it.
    let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let sid = b.sessions["!good:example.org"]
        .keys()
        .next()
        .unwrap()
        .clone();
    for (room, want_ok) in [("!good:example.org", true), ("!bad:example.org", false)] {
        let kbd = d.path().join("kbd.json");
        std::fs::write(
            &kbd,
            serde_json::to_vec(&doc["rooms"][room]["sessions"][&sid]).unwrap(),
        )
        .unwrap();
        let o = mxkeys(
            &["backup", "decrypt", s(&kbd), "--require-authenticated"],
            &[("MXKEYS_RECOVERY_KEY", &b.recovery_key)],
        );
        if want_ok {
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            assert!(stderr(&o).contains("1 authenticated"), "{}", stderr(&o));
        } else {
            assert_fails(&o, 1, "MSC4048 (unstable) backup MAC mismatch");
        }
    }
}

#[test]
fn encrypt_msc4048_writes_macs_the_python_derived_key_verifies() {
    let c = manifest().check_values;
    let d = tmpdir();
    let keyfile = d.path().join("key.txt");
    std::fs::write(&keyfile, format!("{}\n", c.recovery_key)).unwrap();
    let put = d.path().join("put.json");
    let input = vectors().join("sessions-basic.json");
    let o = mxkeys(
        &[
            "backup",
            "encrypt",
            s(&input),
            "--public-key",
            &mxkeys::encoding::encode_unpadded(&key_of(&c.private_key).backup_public_key()),
            "--msc4048",
            "--key-file",
            s(&keyfile),
            "-o",
            s(&put),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let body: Value = serde_json::from_slice(&std::fs::read(&put).unwrap()).unwrap();
    let mut n = 0;
    for (_, room) in body["rooms"].as_object().unwrap() {
        for (_, kbd) in room["sessions"].as_object().unwrap() {
            let sd = kbd["session_data"].as_object().unwrap();
            let tag = sd["unsigned"][FIELD].as_str().unwrap();
            assert_eq!(tag, python_keyed_mac(&c.mac_key_hex, sd));
            assert_ne!(tag, python_keyed_mac(&c.other_mac_key_hex, sd));
            assert!(!tag.ends_with('='));
            n += 1;
        }
    }
    assert_eq!(n, 7);
    // And back: every session authenticated, none refused.
    let o = mxkeys(
        &[
            "--json",
            "backup",
            "decrypt",
            s(&put),
            "--require-authenticated",
            "-o",
            s(&d.path().join("back.json")),
        ],
        &[("MXKEYS_RECOVERY_KEY", &c.recovery_key)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        r["msc4048"],
        serde_json::json!({"authenticated": 7, "unauthenticated": 0, "mismatch": 0})
    );
    // --public-key of another backup beside the key: refused, nothing written.
    let put2 = d.path().join("put2.json");
    let other_public =
        mxkeys::encoding::encode_unpadded(&key_of(&c.other_private_key).backup_public_key());
    let o = mxkeys(
        &[
            "backup",
            "encrypt",
            s(&input),
            "--msc4048",
            "--key-file",
            s(&keyfile),
            "--public-key",
            &other_public,
            "-o",
            s(&put2),
        ],
        &[],
    );
    assert_fails(&o, 1, "is the key of backup public key");
    assert!(!stderr(&o).contains(&c.recovery_key));
    assert!(!put2.exists());
    // --msc4048 without a key anywhere (no file, variable or terminal): usage, nothing written.
    let o = mxkeys(
        &[
            "backup",
            "encrypt",
            s(&input),
            "--public-key",
            &other_public,
            "--msc4048",
            "-o",
            s(&put2),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!put2.exists());
}

#[test]
fn recover_takes_require_authenticated_as_backup_decrypt_does() {
    let d = tmpdir();
    let file = dir().join("msc4048-keys.json");
    let key = vector_key();
    let env = [
        ("MXKEYS_RECOVERY_KEY", key.as_str()),
        ("MXKEYS_NEW_PASSPHRASE", "correct horse battery staple"),
    ];
    let run = |out: &std::path::Path, strict: bool| {
        let mut args = vec![
            "--json",
            "recover",
            "--backup",
            s(&file),
            "--allow-partial",
            "--rounds",
            "1000",
            "-o",
            s(out),
        ];
        if strict {
            args.push("--require-authenticated");
        }
        let o = mxkeys(&args, &env);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        serde_json::from_slice::<Value>(&o.stdout).unwrap()
    };
    // 7 sessions: 4 authenticated, 1 without a MAC, 2 whose MAC fails (refused either way).
    let lenient = run(&d.path().join("all.txt"), false);
    assert_eq!(
        (&lenient["sessions"], &lenient["failed"]),
        (&Value::from(5), &Value::from(2))
    );
    let strict = run(&d.path().join("strict.txt"), true);
    assert_eq!(
        (&strict["sessions"], &strict["failed"]),
        (&Value::from(4), &Value::from(3))
    );
    // Without --allow-partial the unauthenticated session stops it, and nothing is written.
    let out = d.path().join("none.txt");
    let o = mxkeys(
        &[
            "recover",
            "--backup",
            s(&file),
            "--require-authenticated",
            "-o",
            s(&out),
        ],
        &env,
    );
    assert_fails(&o, 1, "3 of 7 sessions could not be decrypted");
    assert!(!out.exists());
}
