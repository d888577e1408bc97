//! Replays test-vectors/ssss/: secret-storage account data written by matrix-js-sdk (43 and
//! 6.0.0) and mautrix-python, with Security Keys and Security Phrases, and damaged variants.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};

use mxkeys::kdf::Limits;
use mxkeys::recovery_key::RecoveryKey;
use mxkeys::ssss::{self, AccountData, Unlock};
use mxkeys::Passphrase;
use serde::Deserialize;
use vectors::{VectorList, Vectors};

type Manifest = VectorList<Vector>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    file: String,
    shape: String,
    security_key: Option<String>,
    passphrase: Option<String>,
    key_id: Option<String>,
    expect: String,
    secrets: BTreeMap<String, String>,
    public_keys: BTreeMap<String, String>,
    made_by: String,
    comment: String,
}

#[path = "common/vectors.rs"]
mod vectors;

const V: Vectors = Vectors("ssss");

#[test]
fn every_file_is_listed() {
    let m: Manifest = V.manifest();
    let listed: BTreeSet<String> = m.vectors.iter().map(|v| v.file.clone()).collect();
    V.assert_every_file_listed(&listed);
    assert!(m.vectors.len() >= 25);
}

/// Decrypt as `mxkeys ssss decrypt` does; the outcome kind, the secrets that opened, their
/// public keys.
fn run(v: &Vector) -> (String, BTreeMap<String, String>, BTreeMap<String, String>) {
    let doc: serde_json::Value = V.json(&v.file);
    assert_eq!(doc.is_array(), v.shape == "events", "{}", v.file);
    let ad = AccountData::parse(&doc).unwrap();
    let key;
    let phrase;
    let with = match (&v.security_key, &v.passphrase) {
        (Some(k), None) => {
            key = RecoveryKey::decode(k).unwrap();
            Unlock::SecurityKey(&key)
        }
        (None, Some(p)) => {
            phrase = Passphrase::new(p.clone());
            Unlock::Phrase(&phrase)
        }
        _ => panic!("{}: exactly one of security_key / passphrase", v.file),
    };
    let unlocked = match ad.resolve_key(v.key_id.as_deref()).and_then(|desc| {
        ssss::unlock(
            &desc,
            with,
            &Limits {
                max_rounds: 1_000_000,
            },
        )
    }) {
        Ok(u) => u,
        Err(e) => return (e.kind().to_string(), BTreeMap::new(), BTreeMap::new()),
    };
    let results = match ssss::decrypt_secrets(&ad, &unlocked, &[]) {
        Ok(r) => r,
        Err(e) => return (e.kind().to_string(), BTreeMap::new(), BTreeMap::new()),
    };
    let mut kind = "ok".to_string();
    let mut secrets = BTreeMap::new();
    let mut publics = BTreeMap::new();
    for (name, r) in results {
        match r {
            Ok(plain) => {
                if let Some(p) = ssss::describe_secret(&name, &plain).public_key {
                    publics.insert(name.clone(), p);
                }
                secrets.insert(name, plain.to_string());
            }
            Err(e) => kind = e.kind().to_string(),
        }
    }
    if kind != "ok" {
        publics.clear();
    }
    (kind, secrets, publics)
}

#[test]
fn every_vector_has_its_expected_outcome() {
    let mut ok = 0;
    for v in V.manifest::<Manifest>().vectors {
        let ctx = format!(
            "{} key_id={:?} ({}): {}",
            v.file, v.key_id, v.made_by, v.comment
        );
        let (kind, secrets, publics) = run(&v);
        assert_eq!(kind, v.expect, "{ctx}");
        assert_eq!(secrets, v.secrets, "{ctx}");
        assert_eq!(publics, v.public_keys, "{ctx}");
        if kind == "ok" {
            assert_eq!(secrets.len(), 4, "{ctx}");
            ok += 1;
        }
    }
    assert!(ok >= 15);
}
