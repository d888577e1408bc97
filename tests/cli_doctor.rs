//! `mxkeys doctor` from the command line, on account data made by matrix-js-sdk 43 and backups
//! made by matrix-sdk-crypto-wasm 18.9 (test-vectors/recover, ssss, backup).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{assert_fails, mxkeys, s, tmpdir, vector_dir};
use serde_json::Value;

/// js-sdk secret storage holding the key of the wasm backup (in sync).
const IN_SYNC_KEY: &str = "EsTE n8C1 4Adv nnKq W6zc 2d8w UdSW xBis 6QLz VgJ5 4eST jau7";
/// The wasm backup's own key.
const WASM_BACKUP_KEY: &str = "EsUA 5Bnp SfYP cA9t R5f4 kvkb B6Wa Fpw9 4xfa wTJ4 uYsg ePr9";
/// js-sdk secret storage whose backup key is another one.
const OTHER_KEY: &str = "EsTh tAH2 fnc4 jQq8 egj4 MoiR DaRF QgZP dp1V y2WN zbwu keYY";

fn path(area: &str, file: &str) -> String {
    s(&vector_dir(area).join(file)).to_owned()
}

fn doctor(args: &[&str], env: &[(&str, &str)]) -> (i32, Value, String) {
    let mut full = vec!["--json", "doctor"];
    full.extend_from_slice(args);
    let o = mxkeys(&full, env);
    let err = common::stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code().unwrap(), v, err)
}

fn statuses(v: &Value) -> Vec<(String, String)> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn status(v: &Value, id: &str) -> String {
    statuses(v)
        .into_iter()
        .find(|(i, _)| i == id)
        .map(|(_, s)| s)
        .unwrap()
}

const IDS: [&str; 10] = [
    "default_key",
    "key_check",
    "secrets",
    "backup_key_in_storage",
    "backup_key_matches_backup",
    "cross_signing_in_storage",
    "cross_signing_matches_published",
    "backup_trusted",
    "dehydration_key",
    "backup_sessions",
];

#[test]
fn in_sync_with_the_phrase_exits_0_and_lists_every_check_in_order() {
    let (code, v, err) = doctor(
        &[
            "--account-data",
            &path("recover", "jssdk-account.json"),
            "--backup-version",
            &path("backup", "wasm-machine-version.json"),
            "--backup",
            &path("backup", "wasm-machine-keys.json"),
        ],
        &[("MXKEYS_PASSPHRASE", "recover me at 2 a.m.")],
    );
    assert_eq!(code, 0, "{err}");
    let ids: Vec<String> = statuses(&v).into_iter().map(|(i, _)| i).collect();
    assert_eq!(ids, IDS);
    assert_eq!(v["key"]["kind"], "secret_storage_key");
    assert_eq!(v["key"]["opens"].as_array().unwrap().len(), 4);
    assert_eq!(status(&v, "key_check"), "ok");
    assert_eq!(status(&v, "backup_key_matches_backup"), "ok");
    assert_eq!(status(&v, "backup_sessions"), "ok");
}

#[test]
fn out_of_sync_fails_and_the_repair_makes_it_whole() {
    // test-vectors/account/backup-reset: js-sdk secret storage still holds the key of backup
    // version 1; a wasm device made version 2.
    let state = |f: &str| path("account", &format!("backup-reset/{f}"));
    let dir = tmpdir();
    let repairs = dir.path().join("repairs");
    let ad = state("account_data.json");
    let kq = state("keys_query.json");
    let key = state("recovery_key.txt");
    let (code, v, err) = doctor(
        &[
            "--account-data",
            &ad,
            "--backup-version",
            &state("backup_version.json"),
            "--keys-query",
            &kq,
            "--key-file",
            &key,
            "-o",
            s(&repairs),
        ],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(status(&v, "key_check"), "ok");
    assert_eq!(status(&v, "backup_key_matches_backup"), "fail");
    assert!(err.contains("checks failed"), "{err}");
    let file = repairs.join("new-backup-version.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let upload = v["repairs"][0]["upload"].as_str().unwrap();
    assert!(
        upload.contains("/_matrix/client/v3/room_keys/version"),
        "{upload}"
    );
    let body: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    // The stored backup key's public key, as the generator recorded it.
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(vector_dir("account").join("manifest.json")).unwrap(),
    )
    .unwrap();
    let st = manifest["states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["name"] == "backup-reset")
        .unwrap();
    assert_eq!(
        body["auth_data"]["public_key"],
        st["expected"]["stored_backup_public_key"]
    );
    // Treat the repair as the server's new current version: in sync, and trusted through the
    // signature by the published master key.
    let mut version = body.clone();
    version["version"] = "3".into();
    let version_file = dir.path().join("version3.json");
    std::fs::write(&version_file, serde_json::to_vec(&version).unwrap()).unwrap();
    let (code, v, err) = doctor(
        &[
            "--account-data",
            &ad,
            "--backup-version",
            s(&version_file),
            "--keys-query",
            &kq,
            "--key-file",
            &key,
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(status(&v, "backup_key_matches_backup"), "ok");
    assert_eq!(status(&v, "backup_trusted"), "ok");

    // Written once: a second run refuses to replace the repair without --force.
    let o = mxkeys(
        &[
            "doctor",
            "--account-data",
            &ad,
            "--backup-version",
            &state("backup_version.json"),
            "--key-file",
            &key,
            "-o",
            s(&repairs),
        ],
        &[],
    );
    assert_fails(&o, 2, "--force");
}

#[test]
fn without_a_key_it_reports_what_is_visible() {
    let (code, v, err) = doctor(
        &[
            "--account-data",
            &path("recover", "jssdk-account.json"),
            "--backup-version",
            &path("backup", "wasm-machine-version.json"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["key"], Value::Null);
    assert_eq!(status(&v, "default_key"), "ok");
    assert_eq!(status(&v, "key_check"), "skipped");
    assert_eq!(status(&v, "backup_key_in_storage"), "skipped");
}

#[test]
fn the_backups_own_key_is_recognised() {
    let (code, v, err) = doctor(
        &[
            "--account-data",
            &path("recover", "jssdk-account.json"),
            "--backup-version",
            &path("backup", "wasm-machine-version.json"),
            "--backup",
            &path("backup", "wasm-machine-keys.json"),
        ],
        &[("MXKEYS_RECOVERY_KEY", WASM_BACKUP_KEY)],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["key"]["kind"], "backup_key");
    assert_eq!(status(&v, "key_check"), "skipped");
    assert_eq!(status(&v, "backup_sessions"), "ok");
}

#[test]
fn a_key_that_opens_nothing_fails_key_check() {
    let (code, v, _) = doctor(
        &["--account-data", &path("recover", "jssdk-account.json")],
        &[("MXKEYS_RECOVERY_KEY", OTHER_KEY)],
    );
    assert_eq!(code, 1);
    assert_eq!(v["key"]["kind"], "unknown");
    assert_eq!(status(&v, "key_check"), "fail");
    // The in-sync key opens it.
    let (code, _, err) = doctor(
        &["--account-data", &path("recover", "jssdk-account.json")],
        &[("MXKEYS_RECOVERY_KEY", IN_SYNC_KEY)],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn bad_inputs_get_one_line() {
    let dir = tmpdir();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"\"not account data\"").unwrap();
    let o = mxkeys(&["doctor", "--account-data", s(&bad)], &[]);
    assert_fails(&o, 1, "account data");
    let o = mxkeys(
        &[
            "doctor",
            "--account-data",
            &path("recover", "jssdk-account.json"),
        ],
        &[(
            "MXKEYS_RECOVERY_KEY",
            "EsTE n8C1 4Adv nnKq W6zc 2d8w UdSW xBis 6QLz VgJ5 4eST jau8",
        )],
    );
    assert_fails(&o, 1, "");
}

/// backup-reset with the current backup's key as well: the gentler repair stores that key in
/// secret storage; applied to the account data, the doctor finds storage and backup in sync and
/// every session of the backup opens.
#[test]
fn storing_the_current_backup_key_puts_storage_back_in_sync() {
    let state = |f: &str| path("account", &format!("backup-reset/{f}"));
    let dir = tmpdir();
    let repairs = dir.path().join("repairs");
    let base = [
        "--backup-version".to_owned(),
        state("backup_version.json"),
        "--keys-query".to_owned(),
        state("keys_query.json"),
        "--backup".to_owned(),
        state("backup.json"),
        "--key-file".to_owned(),
        state("recovery_key.txt"),
    ];
    let mut args = vec!["--account-data".to_owned(), state("account_data.json")];
    args.extend(base.iter().cloned());
    args.extend([
        "--backup-key-file".to_owned(),
        state("backup_key.txt"),
        "-o".to_owned(),
        s(&repairs).to_owned(),
    ]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, v, err) = doctor(&argv, &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(status(&v, "backup_sessions"), "fail");
    let files: Vec<&str> = v["repairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files[0].ends_with("m.megolm_backup.v1.json"), "{files:?}");
    assert!(v["repairs"][0]["upload"]
        .as_str()
        .unwrap()
        .contains("/account_data/m.megolm_backup.v1"));
    // Upload it (here: put it into the account data) and ask again.
    let body: Value =
        serde_json::from_slice(&std::fs::read(repairs.join("m.megolm_backup.v1.json")).unwrap())
            .unwrap();
    let mut ad: Value =
        serde_json::from_slice(&std::fs::read(state("account_data.json")).unwrap()).unwrap();
    ad["m.megolm_backup.v1"] = body;
    let fixed = dir.path().join("fixed.json");
    std::fs::write(&fixed, serde_json::to_vec(&ad).unwrap()).unwrap();
    let mut args = vec!["--account-data".to_owned(), s(&fixed).to_owned()];
    args.extend(base.iter().cloned());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, v, err) = doctor(&argv, &[]);
    assert_eq!(code, 0, "{err}\n{v}");
    assert_eq!(status(&v, "backup_key_matches_backup"), "ok");
    assert_eq!(status(&v, "backup_sessions"), "ok");
}
