//! Replays test-vectors/attachment/: files encrypted by matrix-encrypt-attachment (Node and
//! WebCrypto paths), matrix-sdk-crypto-wasm, matrix-nio and mautrix, counter variants (v0, v1,
//! 64-bit wrap, random IVs) and damaged downloads or infos.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;

use mxkeys::attachment::{find_encrypted_file, AttachmentDecryptor, AttachmentKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use vectors::{VectorList, Vectors};

type Manifest = VectorList<Vector>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    ciphertext: String,
    info: String,
    info_shape: String,
    thumbnail: bool,
    expect: String,
    plaintext_sha256: Option<String>,
    plaintext_len: Option<u64>,
    made_by: String,
    comment: String,
}

#[path = "common/vectors.rs"]
mod vectors;

const V: Vectors = Vectors("attachment");

#[test]
fn every_file_is_listed() {
    let m: Manifest = V.manifest();
    let mut listed = BTreeSet::new();
    for v in &m.vectors {
        listed.insert(v.ciphertext.clone());
        listed.insert(v.info.clone());
    }
    V.assert_every_file_listed(&listed);
    assert!(m.vectors.len() >= 50);
}

#[test]
fn every_vector_has_its_expected_outcome() {
    let mut ok = 0;
    for v in V.manifest::<Manifest>().vectors {
        let ctx = format!("{} ({}): {}", v.ciphertext, v.made_by, v.comment);
        let doc: serde_json::Value = V.json(&v.info);
        let shape = if doc.get("content").is_some() {
            "event"
        } else if doc.get("file").is_some() || doc.get("msgtype").is_some() {
            "content"
        } else {
            "encrypted_file"
        };
        assert_eq!(shape, v.info_shape, "{ctx}");
        let ct = fs::read(V.dir().join(&v.ciphertext)).unwrap();
        let result = find_encrypted_file(&doc, v.thumbnail)
            .and_then(|f| AttachmentKey::from_info(&f))
            .and_then(|key| {
                let mut dec = AttachmentDecryptor::new(Vec::new(), &key);
                // Odd-sized writes, to cross block boundaries mid-write.
                for chunk in ct.chunks(1000) {
                    dec.write_all(chunk).unwrap();
                }
                dec.finish()
            });
        match (result, v.expect.as_str()) {
            (Ok(plain), "ok") => {
                assert_eq!(Some(plain.len() as u64), v.plaintext_len, "{ctx}");
                assert_eq!(
                    Some(hex::encode(Sha256::digest(&plain))),
                    v.plaintext_sha256,
                    "{ctx}"
                );
                ok += 1;
            }
            (Err(e), expect) => assert_eq!(e.kind().as_str(), expect, "{ctx}: {e}"),
            (Ok(_), expect) => panic!("{ctx}: decrypted, expected {expect}"),
        }
    }
    assert!(ok >= 40);
}
