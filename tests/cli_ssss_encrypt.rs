//! `mxkeys ssss encrypt` confirms the key before it writes, and checks the value: a secret
//! encrypted under a wrong key (or a malformed backup key) destroys the secret once uploaded.
//! The key descriptions of matrix-js-sdk 6 have no key check (`jssdk6-no-keycheck-*.json`): there
//! the key must be confirmed by the MAC of a secret already stored under it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// The Security Key of `jssdk6-no-keycheck-key.json` (test-vectors/ssss/manifest.json).
const NO_CHECK_KEY: &str = "EsTf AWho nYK4 dPR8 spqW hcj1 fuTu xRhT 4e9U Tofe xfB2 QrE6";
/// The Security Phrase of `jssdk6-no-keycheck-phrase.json`.
const NO_CHECK_PHRASE: &str = "old element phrase";
/// Another account's Security Key (`jssdk-security-key.json`, which has a key check).
const OTHER_KEY: &str = "EsTh tAH2 fnc4 jQq8 egj4 MoiR DaRF QgZP dp1V y2WN zbwu keYY";
/// A new backup key: 32 bytes, unpadded base64, unlike every value in the vectors.
const NEW_VALUE: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new() -> Self {
        Dir { tmp: tmpdir() }
    }

    /// Write a file (a secret, a value, account data) and return its path.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.tmp.path().join(name);
        fs::write(&p, text).unwrap();
        p
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn root(&self) -> &Path {
        self.tmp.path()
    }
}

fn ssss_vector(name: &str) -> PathBuf {
    vector_dir("ssss").join(name)
}

/// `ssss encrypt ACCOUNT --secret NAME --value-file VALUE -o OUT` plus `extra`.
fn encrypt(
    account: &Path,
    secret: &str,
    value: &Path,
    out: &Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "ssss",
        "encrypt",
        s(account),
        "--secret",
        secret,
        "--value-file",
        s(value),
        "-o",
        s(out),
    ];
    args.extend_from_slice(extra);
    mxkeys(&args, &[])
}

/// The plaintext of `secret` in `account`, decrypted by `ssss decrypt` with `key_args`.
fn decrypted(account: &Path, secret: &str, key_args: &[&str]) -> String {
    let mut args = vec!["ssss", "decrypt", s(account), "--secret", secret, "--json"];
    args.extend_from_slice(key_args);
    let o = mxkeys(&args, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v[secret]["secret"].as_str().unwrap().to_owned()
}

#[test]
fn wrong_security_key_on_a_key_without_check_writes_nothing() {
    let d = Dir::new();
    let key = d.file("key.txt", &format!("{OTHER_KEY}\n"));
    let value = d.file("value.txt", NEW_VALUE);
    let o = encrypt(
        &ssss_vector("jssdk6-no-keycheck-key.json"),
        "m.megolm_backup.v1",
        &value,
        &d.path("out.json"),
        &["--key-file", s(&key)],
    );
    assert_fails(
        &o,
        1,
        "is not the Security Key (or Phrase) of secret-storage key",
    );
    assert!(
        stderr(&o).contains("fails the MAC of every secret"),
        "{}",
        stderr(&o)
    );
    assert_only(d.root(), &["key.txt", "value.txt"]);
}

#[test]
fn wrong_phrase_on_a_key_without_check_writes_nothing() {
    let d = Dir::new();
    let phrase = d.file("phrase.txt", "not the old element phrase\n");
    let value = d.file("value.txt", NEW_VALUE);
    let o = encrypt(
        &ssss_vector("jssdk6-no-keycheck-phrase.json"),
        "m.cross_signing.master",
        &value,
        &d.path("out.json"),
        &["--passphrase-file", s(&phrase)],
    );
    assert_fails(
        &o,
        1,
        "is not the Security Key (or Phrase) of secret-storage key",
    );
    assert_only(d.root(), &["phrase.txt", "value.txt"]);
}

#[test]
fn right_key_or_phrase_on_a_key_without_check_is_confirmed_and_written() {
    let d = Dir::new();
    let key = d.file("key.txt", &format!("{NO_CHECK_KEY}\n"));
    let value = d.file("value.txt", &format!("{NEW_VALUE}\n"));
    let out = d.path("out.json");
    let o = encrypt(
        &ssss_vector("jssdk6-no-keycheck-key.json"),
        "m.megolm_backup.v1",
        &value,
        &out,
        &["--key-file", s(&key)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("confirmed by the MAC of secret m.cross_signing.master"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        decrypted(&out, "m.megolm_backup.v1", &["--key-file", s(&key)]),
        NEW_VALUE
    );
    // The other secrets are untouched.
    assert_eq!(
        decrypted(&out, "m.cross_signing.master", &["--key-file", s(&key)]),
        "yH0LlqwGDv+FLTNI6SBWSfsSxQgKpebSAW0L89cU+nM"
    );

    let phrase = d.file("phrase.txt", &format!("{NO_CHECK_PHRASE}\n"));
    let out2 = d.path("out2.json");
    let o = encrypt(
        &ssss_vector("jssdk6-no-keycheck-phrase.json"),
        "m.cross_signing.user_signing",
        &value,
        &out2,
        &["--passphrase-file", s(&phrase)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        decrypted(
            &out2,
            "m.cross_signing.user_signing",
            &["--passphrase-file", s(&phrase)]
        ),
        NEW_VALUE
    );
}

/// jssdk6-no-keycheck-key.json without its secrets: nothing can tell a wrong key.
fn no_check_no_secrets(d: &Dir) -> PathBuf {
    let mut ad: Value =
        serde_json::from_slice(&fs::read(ssss_vector("jssdk6-no-keycheck-key.json")).unwrap())
            .unwrap();
    let obj = ad.as_object_mut().unwrap();
    obj.retain(|k, _| k.starts_with("m.secret_storage."));
    assert_eq!(obj.len(), 2);
    d.file("account.json", &serde_json::to_string_pretty(&ad).unwrap())
}

#[test]
fn a_key_nothing_can_verify_is_refused_unless_unverified_key() {
    let d = Dir::new();
    let account = no_check_no_secrets(&d);
    let key = d.file("key.txt", NO_CHECK_KEY);
    let wrong = d.file("wrong.txt", OTHER_KEY);
    let value = d.file("value.txt", NEW_VALUE);
    let out = d.path("out.json");
    for k in [&key, &wrong] {
        let o = encrypt(
            &account,
            "m.megolm_backup.v1",
            &value,
            &out,
            &["--key-file", s(k)],
        );
        assert_fails(&o, 1, "cannot be verified");
        assert!(stderr(&o).contains("--unverified-key"), "{}", stderr(&o));
        assert_only(
            d.root(),
            &["account.json", "key.txt", "wrong.txt", "value.txt"],
        );
    }

    let o = encrypt(
        &account,
        "m.megolm_backup.v1",
        &value,
        &out,
        &["--key-file", s(&key), "--unverified-key"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains("could not be verified")),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        decrypted(&out, "m.megolm_backup.v1", &["--key-file", s(&key)]),
        NEW_VALUE
    );
}

#[test]
fn the_flag_is_documented_with_its_risk() {
    let o = mxkeys(&["ssss", "encrypt", "--help"], &[]);
    assert!(o.status.success());
    let help = String::from_utf8(o.stdout).unwrap();
    assert!(help.contains("--unverified-key"), "{help}");
    assert!(help.contains("RISK"), "{help}");
}

#[test]
fn values_that_are_not_32_bytes_of_base64_are_refused_without_echo() {
    let d = Dir::new();
    // A key with a check, and its right Security Key: only the value is wrong.
    let account = ssss_vector("jssdk-security-key.json");
    let key = d.file("key.txt", OTHER_KEY);
    let out = d.path("out.json");
    let b64 = |n: usize| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(vec![0x5au8; n])
    };
    let padded33 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode([7u8; 33])
    };
    let bad: [(&str, String, &str); 5] = [
        (
            "m.megolm_backup.v1",
            b64(31),
            "is 31 bytes after base64 decoding",
        ),
        (
            "m.megolm_backup.v1",
            "not-base64-at-all!".into(),
            "is not base64 (18 characters)",
        ),
        ("m.megolm_backup.v1", String::new(), "is 0 bytes"),
        (
            "m.cross_signing.master",
            b64(33),
            "is 33 bytes after base64 decoding",
        ),
        ("m.cross_signing.self_signing", padded33, "is 33 bytes"),
    ];
    for (secret, v, needle) in &bad {
        let value = d.file("value.txt", v);
        let o = encrypt(&account, secret, &value, &out, &["--key-file", s(&key)]);
        assert_fails(&o, 1, needle);
        assert!(stderr(&o).contains(secret), "{}", stderr(&o));
        if !v.is_empty() {
            assert!(
                !stderr(&o).contains(v.as_str()),
                "value echoed: {}",
                stderr(&o)
            );
        }
        assert_only(d.root(), &["key.txt", "value.txt"]);
    }
    // 32 bytes, padded or not, is a valid Ed25519 seed and a valid backup key.
    for (i, (secret, v)) in [
        ("m.cross_signing.master", b64(32)),
        ("m.cross_signing.user_signing", {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode([9u8; 32])
        }),
        ("m.megolm_backup.v1", NEW_VALUE.to_owned()),
        // Other secrets are the application's business.
        ("org.example.anything", "free text, not base64".to_owned()),
    ]
    .into_iter()
    .enumerate()
    {
        let value = d.file("value.txt", &v);
        let out = d.path(&format!("ok{i}.json"));
        let o = encrypt(&account, secret, &value, &out, &["--key-file", s(&key)]);
        assert!(o.status.success(), "{secret}: {}", stderr(&o));
        assert_eq!(decrypted(&out, secret, &["--key-file", s(&key)]), v);
    }
}

/// `passphrase search` confirms a phrase for a key without check with the same library code
/// (`ssss::confirm_key` over the secrets stored under the key).
#[test]
fn passphrase_search_uses_the_same_confirmation() {
    let d = Dir::new();
    let cands = d.file(
        "cands.txt",
        "a\nnot the old element phrase\nold element phrase\nz\n",
    );
    let found = d.path("found.txt");
    let o = mxkeys(
        &[
            "passphrase",
            "search",
            s(&ssss_vector("jssdk6-no-keycheck-phrase.json")),
            "--candidates",
            s(&cands),
            "-o",
            s(&found),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(&found).unwrap().trim_end(),
        NO_CHECK_PHRASE
    );
    // Without any secret under the key there is nothing to test a phrase against.
    let mut ad: Value =
        serde_json::from_slice(&fs::read(ssss_vector("jssdk6-no-keycheck-phrase.json")).unwrap())
            .unwrap();
    ad.as_object_mut()
        .unwrap()
        .retain(|k, _| k.starts_with("m.secret_storage."));
    let bare = d.file("bare.json", &ad.to_string());
    let o = mxkeys(
        &[
            "passphrase",
            "search",
            s(&bare),
            "--candidates",
            s(&cands),
            "-o",
            s(&d.path("found2.txt")),
        ],
        &[],
    );
    assert_fails(
        &o,
        1,
        "has no key check and no secret to test a phrase against",
    );
}
