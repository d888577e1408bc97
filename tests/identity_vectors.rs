//! Replays test-vectors/identity/: canonical JSON (checked against canonicaljson, nio and
//! another-json), /keys/query responses from real matrix-sdk-crypto-wasm OlmMachines and tampered
//! variants, QR payloads from wasm verifications and the spec's layout, and SAS transcripts from
//! wasm and libolm.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;

use mxkeys::encoding::decode_lenient;
use mxkeys::identity::{self, SAS_EMOJI};
use serde_json::Value;
use vectors::Vectors;

#[path = "common/vectors.rs"]
mod vectors;

const V: Vectors = Vectors("identity");

#[test]
fn canonical_json() {
    let m: Value = V.manifest();
    let cases = m["canonical_json"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for c in cases {
        let got = identity::parse_strict(c["input"].as_str().unwrap())
            .and_then(|v| identity::canonical_json(&v));
        match c["canonical"].as_str() {
            Some(want) => assert_eq!(got.as_deref(), Ok(want), "{}", c["comment"]),
            None => assert!(
                got.is_err(),
                "{}: should be refused, got {got:?}",
                c["comment"]
            ),
        }
    }
}

#[test]
fn keys_query_signature_chains() {
    let m: Value = V.manifest();
    let cases = m["keys_query"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for c in cases {
        let resp: Value = V.json(c["file"].as_str().unwrap());
        let r = identity::check_user(
            &resp,
            c["user"].as_str().unwrap(),
            c["viewer"].as_str().unwrap(),
        );
        let got = serde_json::to_value(&r).unwrap();
        let ctx = format!("{} {}: {}", c["file"], c["user"], c["comment"]);
        for k in [
            "master_key",
            "master_signed_by_own_device",
            "self_signing_valid",
            "user_signing_valid",
            "signed_by_viewer_user_signing",
            "devices",
            "problems",
        ] {
            assert_eq!(got[k], c["expect"][k], "{ctx}: {k}");
        }
    }
}

/// Found by the `cross_signing` fuzz target: bob's master key filed under another user id (its
/// own `user_id` still says bob) kept alice's valid user-signing signature, and that user was
/// reported as verified by alice although no master key of theirs exists.
#[test]
fn a_master_key_filed_under_another_user_is_not_verified() {
    let mut resp: Value = V.json("keys-query/wasm-alice-verified.json");
    let (alice, bob, mallory) = (
        "@alice:example.org",
        "@bob:example.org",
        "@mallory:example.org",
    );
    let bob_master = resp["master_keys"][bob].clone();
    resp["master_keys"][mallory] = bob_master;
    // Bob himself stays verified: the control.
    let r = identity::check_user(&resp, bob, alice);
    assert_eq!(r.signed_by_viewer_user_signing, Some(true));
    let r = identity::check_user(&resp, mallory, alice);
    assert_eq!(r.master_key, None);
    assert_eq!(r.signed_by_viewer_user_signing, Some(false));
    assert!(
        r.problems.contains(&"master_key_malformed".to_owned()),
        "{:?}",
        r.problems
    );
}

#[test]
fn qr_payloads() {
    let m: Value = V.manifest();
    for c in m["qr"].as_array().unwrap() {
        let bytes = fs::read(V.dir().join(c["file"].as_str().unwrap())).unwrap();
        let ctx = format!("{}: {}", c["file"], c["comment"]);
        match identity::decode_qr(&bytes) {
            Ok(q) => {
                assert_eq!(c["expect"], "ok", "{ctx}");
                assert_eq!(c["version"], q.version, "{ctx}");
                assert_eq!(c["mode"], q.mode, "{ctx}");
                assert_eq!(c["transaction_id"], q.transaction_id.as_str(), "{ctx}");
                assert_eq!(c["key1"], q.key1.as_str(), "{ctx}");
                assert_eq!(c["key2"], q.key2.as_str(), "{ctx}");
                assert_eq!(c["secret_len"], q.secret_len, "{ctx}");
            }
            Err(e) => assert_eq!(c["expect"], e.kind().as_str(), "{ctx}: {e}"),
        }
    }
}

#[test]
fn sas_transcripts() {
    let m: Value = V.manifest();
    let mut computed = 0;
    for c in m["sas"].as_array().unwrap() {
        let t: Value = V.json(c["transcript"].as_str().unwrap());
        let ctx = format!("{}: {}", c["transcript"], c["comment"]);
        let side = |k: &str| {
            (
                t[k]["user_id"].as_str().unwrap(),
                t[k]["device_id"].as_str().unwrap(),
                t[k]["ephemeral_public_key"].as_str().unwrap_or(""),
            )
        };
        let info = identity::sas_info(
            side("start"),
            side("accept"),
            t["transaction_id"].as_str().unwrap(),
        );
        assert_eq!(info, t["sas_info"].as_str().unwrap(), "{ctx}");
        if !t["start_content"].is_null() && !t["commitment"].is_null() {
            let ok = identity::sas_commitment(side("accept").2, &t["start_content"]).unwrap()
                == t["commitment"].as_str().unwrap();
            assert_eq!(ok, c["expect"] == "ok", "{ctx}: commitment");
        }
        let secret: Option<[u8; 32]> = t["shared_secret"]
            .as_str()
            .map(|s| decode_lenient(s).unwrap().try_into().unwrap());
        let from_keys = || -> Option<[u8; 32]> {
            for (me, other) in [("start", "accept"), ("accept", "start")] {
                if let (Some(p), Some(q)) = (
                    t["ephemeral_private_keys"][me].as_str(),
                    t[other]["ephemeral_public_key"].as_str(),
                ) {
                    let p: [u8; 32] = decode_lenient(p).unwrap().try_into().unwrap();
                    let q: [u8; 32] = decode_lenient(q).unwrap().try_into().unwrap();
                    return identity::sas_shared_secret(&p, &q);
                }
            }
            None
        };
        if let Some(s) = from_keys() {
            if let Some(known) = secret {
                assert_eq!(s, known, "{ctx}: X25519");
            }
        }
        if let Some(s) = secret.or_else(from_keys) {
            if c["expect"] == "ok" {
                let b = identity::sas_bytes(&s, &info);
                if let Some(hex) = t["sas_bytes"].as_str() {
                    assert_eq!(hex::encode(b), hex, "{ctx}");
                }
                let emoji: Vec<u64> = identity::sas_emoji(&b)
                    .iter()
                    .map(|e| u64::from(*e))
                    .collect();
                assert_eq!(serde_json::to_value(&emoji).unwrap(), c["emoji"], "{ctx}");
                let names: Vec<&str> = emoji.iter().map(|e| SAS_EMOJI[*e as usize].1).collect();
                assert_eq!(
                    serde_json::to_value(&names).unwrap(),
                    c["emoji_names"],
                    "{ctx}"
                );
                assert_eq!(
                    serde_json::to_value(identity::sas_decimals(&b)).unwrap(),
                    c["decimals"],
                    "{ctx}"
                );
                computed += 1;
            }
        }
    }
    assert!(computed >= 4, "{computed}");
}

/// The same transcripts read by `SasTranscript`, as `mxkeys sas compute` reads them: the info
/// string, the commitment verdict, and the emoji and numbers wherever a secret is given.
#[test]
fn sas_transcripts_read_whole() {
    let m: Value = V.manifest();
    let (mut computed, mut secretless) = (0, 0);
    for c in m["sas"].as_array().unwrap() {
        let v: Value = V.json(c["transcript"].as_str().unwrap());
        let ctx = format!("{}: {}", c["transcript"], c["comment"]);
        let t = identity::SasTranscript::parse(&v).unwrap();
        assert_eq!(t.info(), v["sas_info"].as_str().unwrap(), "{ctx}");
        if !v["start_content"].is_null() && !v["commitment"].is_null() {
            assert_eq!(t.commitment_matches, Some(c["expect"] == "ok"), "{ctx}");
        }
        match t.sas() {
            Ok(sas) if c["expect"] == "ok" => {
                assert_eq!(
                    serde_json::to_value(sas.emoji).unwrap(),
                    c["emoji"],
                    "{ctx}"
                );
                assert_eq!(
                    serde_json::to_value(sas.decimals).unwrap(),
                    c["decimals"],
                    "{ctx}"
                );
                computed += 1;
            }
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e, identity::SasTranscriptError::NoSecret, "{ctx}");
                secretless += 1;
            }
        }
    }
    assert!(computed >= 4 && secretless >= 2, "{computed} {secretless}");
}

/// test-vectors/identity/qr-images/: pictures of QR codes drawn by Element Web's encoder (npm
/// `qrcode`) and matrix-sdk-crypto-wasm, plain, photo-like and broken.
#[test]
fn qr_images() {
    let m: Value = V.json("qr-images/manifest.json");
    let cases = m["images"].as_array().unwrap();
    assert!(cases.len() >= 14);
    let mut modes = std::collections::BTreeSet::new();
    for c in cases {
        let file = c["file"].as_str().unwrap();
        let ctx = format!("{file}: {}", c["comment"]);
        let bytes = fs::read(V.dir().join(file)).unwrap();
        assert!(identity::image_format(&bytes).is_some(), "{ctx}");
        let start = std::time::Instant::now();
        let raw = identity::qr_bytes_from_image(&bytes, identity::DEFAULT_MAX_PIXELS);
        let got = identity::decode_qr_image(&bytes, identity::DEFAULT_MAX_PIXELS);
        eprintln!("{file}: {:?}", start.elapsed() / 2);
        if let Some(sha) = c["payload_sha256"].as_str() {
            let raw = raw.as_ref().unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert_eq!(
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw)),
                sha,
                "{ctx}"
            );
        }
        if let Some(pf) = c["payload_file"].as_str() {
            let payload = fs::read(V.dir().join(pf)).unwrap();
            assert_eq!(
                raw.as_ref().unwrap(),
                &payload,
                "{ctx}: bytes differ from {pf}"
            );
        }
        match got {
            Ok(q) => {
                assert_eq!(c["expect"], "ok", "{ctx}");
                let want = identity::decode_qr(
                    &fs::read(V.dir().join(c["payload_file"].as_str().unwrap())).unwrap(),
                )
                .unwrap();
                assert_eq!(q, want, "{ctx}");
                modes.insert(q.mode);
            }
            Err(e) => {
                assert_eq!(c["expect"], e.kind().as_str(), "{ctx}: {e}");
                let msg = e.to_string();
                assert!(!msg.contains('\n'), "{ctx}: {msg}");
                if let Some(want) = c["error_contains"].as_str() {
                    assert!(msg.contains(want), "{ctx}: {msg:?} lacks {want:?}");
                }
            }
        }
    }
    assert_eq!(modes.len(), 3, "every mode decoded from a picture");
}

/// test-vectors/identity/stored-keys/: cross-signing private keys stored by matrix-js-sdk's
/// secret storage, next to the keys matrix-sdk-crypto-wasm published.
#[test]
fn stored_keys_against_published() {
    use mxkeys::recovery_key::RecoveryKey;
    use mxkeys::ssss::{self, AccountData, Unlock};
    use mxkeys::Passphrase;
    let m: Value = V.json("stored-keys/manifest.json");
    let user = m["user"].as_str().unwrap();
    let cases = m["cases"].as_array().unwrap();
    assert!(cases.len() >= 6);
    let (mut statuses, mut wrong) = (std::collections::BTreeSet::new(), 0);
    for c in cases {
        let ctx = format!("{}: {}", c["name"], c["comment"]);
        let read = |k: &str| fs::read_to_string(V.dir().join(c[k].as_str().unwrap())).unwrap();
        let resp: Value = serde_json::from_str(&read("keys")).unwrap();
        let ad = AccountData::parse(&serde_json::from_str(&read("account_data")).unwrap()).unwrap();
        let desc = ad.resolve_key(None).unwrap();
        let limits = mxkeys::kdf::Limits {
            max_rounds: 1_000_000,
        };
        let unlocked = if c["key_file"].is_string() {
            let rk = RecoveryKey::decode(read("key_file").trim_end()).unwrap();
            ssss::unlock(&desc, Unlock::SecurityKey(&rk), &limits)
        } else {
            let p = Passphrase::new(read("passphrase_file").trim_end().to_owned());
            ssss::unlock(&desc, Unlock::Phrase(&p), &limits)
        };
        let Some(expect) = c["expect"].as_object() else {
            let e = unlocked.unwrap_err();
            assert!(e.to_string().contains("not the Security Key"), "{ctx}: {e}");
            wrong += 1;
            continue;
        };
        let unlocked = unlocked.unwrap();
        let names: Vec<String> = expect.keys().cloned().collect();
        for (name, r) in ssss::decrypt_secrets(&ad, &unlocked, &names).unwrap() {
            let report = match &r {
                Ok(p) => identity::compare_stored_key(&resp, user, &name, Ok(p)),
                Err(e) => {
                    identity::compare_stored_key(&resp, user, &name, Err((true, e.to_string())))
                }
            };
            let got = serde_json::to_value(report.status).unwrap();
            assert_eq!(got, expect[&name], "{ctx}: {name}");
            statuses.insert(got.as_str().unwrap().to_owned());
        }
    }
    assert_eq!(wrong, 1);
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        ["match", "mismatch", "missing"]
    );
}
