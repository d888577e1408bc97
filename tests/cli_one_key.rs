//! One key, one account (#22): `recovery-key check` tells a Security Key of secret storage from a
//! backup key, on account states made by matrix-js-sdk 43 and matrix-sdk-crypto-wasm 18.9
//! (test-vectors/account).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{assert_fails, mxkeys, s, stderr, tmpdir, vector_dir};
use serde_json::Value;

fn state(name: &str, file: &str) -> String {
    s(&vector_dir("account").join(name).join(file)).to_owned()
}

fn key_text(name: &str, file: &str) -> String {
    std::fs::read_to_string(state(name, file))
        .unwrap()
        .trim()
        .to_owned()
}

/// The key with one character replaced by another base58 character (the check byte then fails).
fn with_typo(key: &str) -> String {
    let mut chars: Vec<char> = key.chars().collect();
    let i = chars
        .iter()
        .rposition(|c| c.is_ascii_alphanumeric())
        .unwrap()
        - 3;
    chars[i] = if chars[i] == 'x' { 'y' } else { 'x' };
    chars.into_iter().collect()
}

#[test]
fn a_security_key_with_only_the_backup_version_is_named_and_routed() {
    let o = mxkeys(
        &[
            "recovery-key",
            "check",
            "--key-file",
            &state("in-sync-security-key", "recovery_key.txt"),
            "--backup-version",
            &state("in-sync-security-key", "backup_version.json"),
        ],
        &[],
    );
    assert_fails(&o, 1, "Security Key of secret storage");
    let err = stderr(&o);
    assert!(err.contains("--account-data"), "{err}");
    assert!(err.contains("mxkeys recover"), "{err}");
}

#[test]
fn with_account_data_the_check_says_what_the_key_is() {
    let st = "in-sync-security-key";
    let run = |key: &str| {
        mxkeys(
            &[
                "--json",
                "recovery-key",
                "check",
                "--key-file",
                &state(st, key),
                "--account-data",
                &state(st, "account_data.json"),
                "--backup-version",
                &state(st, "backup_version.json"),
            ],
            &[],
        )
    };
    let o = run("recovery_key.txt");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["kind"], "secret_storage_key");
    assert_eq!(v["matches_backup"], true);
    assert!(v["opens"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "m.megolm_backup.v1"));
    let o = run("backup_key.txt");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["kind"], "backup_key");
    assert_eq!(v["opens"], serde_json::json!([]));
}

#[test]
fn a_phrase_is_accepted_too() {
    let st = "in-sync-passphrase";
    let o = mxkeys(
        &[
            "--json",
            "recovery-key",
            "check",
            "--passphrase-file",
            &state(st, "passphrase.txt"),
            "--account-data",
            &state(st, "account_data.json"),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["kind"], "secret_storage_key");
}

#[test]
fn an_old_key_that_opens_only_an_old_description_fails() {
    let st = "two-keys-split";
    let o = mxkeys(
        &[
            "recovery-key",
            "check",
            "--key-file",
            &state(st, "old_recovery_key.txt"),
            "--account-data",
            &state(st, "account_data.json"),
        ],
        &[],
    );
    assert_fails(&o, 1, "not the default key");
}

#[test]
fn suggest_against_account_data_finds_the_one_correction_that_opens_it() {
    let st = "in-sync-security-key";
    let right = key_text(st, "recovery_key.txt");
    let typo = with_typo(&right);
    let dir = tmpdir();
    let key_file = dir.path().join("typo.txt");
    std::fs::write(&key_file, &typo).unwrap();

    // Only the backup version: the candidates stay, with the reason none fits.
    let out = dir.path().join("all.txt");
    let o = mxkeys(
        &[
            "recovery-key",
            "check",
            "--suggest",
            "--key-file",
            s(&key_file),
            "--backup-version",
            &state(st, "backup_version.json"),
            "-o",
            s(&out),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("none fits"), "{err}");
    assert!(err.contains("--account-data"), "{err}");
    let all = std::fs::read_to_string(&out).unwrap();
    let compact = |k: &str| k.split_whitespace().collect::<String>();
    assert!(
        all.lines().any(|l| compact(l) == compact(&right)),
        "the right key is among {} candidates",
        all.lines().count()
    );

    // With the account data: exactly the right key, by the key description's MAC.
    let out = dir.path().join("fit.txt");
    let o = mxkeys(
        &[
            "recovery-key",
            "check",
            "--suggest",
            "--key-file",
            s(&key_file),
            "--account-data",
            &state(st, "account_data.json"),
            "-o",
            s(&out),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let fit = std::fs::read_to_string(&out).unwrap();
    assert_eq!(fit.lines().count(), 1, "{fit}");
    assert_eq!(compact(fit.trim()), compact(&right));
}

/// backup decrypt, backup to-export and recover with each kind of key the person may hold.
#[test]
fn every_backup_command_takes_either_key() {
    let st = "in-sync-security-key";
    let dir = tmpdir();
    let new_pass = dir.path().join("new-pass.txt");
    std::fs::write(&new_pass, "a new export passphrase\n").unwrap();
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(vector_dir("account").join("manifest.json")).unwrap(),
    )
    .unwrap();
    let sessions = manifest["states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == st)
        .unwrap()["expected"]["backup_session_count"]
        .as_u64()
        .unwrap();
    for (key, with_account) in [
        ("recovery_key.txt", true),
        ("backup_key.txt", true),
        ("backup_key.txt", false),
    ] {
        let mut common_args = vec![
            "--key-file".to_owned(),
            state(st, key),
            "--backup-version".to_owned(),
            state(st, "backup_version.json"),
        ];
        if with_account {
            common_args.extend(["--account-data".to_owned(), state(st, "account_data.json")]);
        }
        let args = |head: &[&str], tail: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = head.iter().map(|x| x.to_string()).collect();
            v.extend(common_args.iter().cloned());
            v.extend(tail.iter().map(|x| x.to_string()));
            v
        };
        let run = |v: Vec<String>| {
            let a: Vec<&str> = v.iter().map(String::as_str).collect();
            mxkeys(&a, &[])
        };
        let what = format!("{key}, account data: {with_account}");

        let o = run(args(
            &["--json", "backup", "decrypt", &state(st, "backup.json")],
            &[],
        ));
        assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v.as_array().unwrap().len() as u64, sessions, "{what}");

        let out = dir
            .path()
            .join(format!("to-export-{key}-{with_account}.txt"));
        let o = run(args(
            &["backup", "to-export", &state(st, "backup.json")],
            &[
                "--new-passphrase-file",
                s(&new_pass),
                "--rounds",
                "1000",
                "-o",
                s(&out),
            ],
        ));
        assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(&o));
        assert!(out.exists(), "{what}");

        let out = dir.path().join(format!("recover-{key}-{with_account}.txt"));
        let o = run(args(
            &["recover", "--backup", &state(st, "backup.json")],
            &[
                "--new-passphrase-file",
                s(&new_pass),
                "--rounds",
                "1000",
                "-o",
                s(&out),
            ],
        ));
        assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(&o));
        // The export holds every session: decrypt it back.
        let o = mxkeys(
            &[
                "--json",
                "export",
                "decrypt",
                s(&out),
                "--passphrase-file",
                s(&new_pass),
            ],
            &[],
        );
        assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v.as_array().unwrap().len() as u64, sessions, "{what}");
    }
}

#[test]
fn a_backup_out_of_sync_with_secret_storage_is_named() {
    let st = "backup-reset";
    for cmd in [
        vec!["backup", "decrypt"],
        vec!["backup", "to-export"],
        vec!["recover", "--backup"],
    ] {
        let mut a: Vec<String> = cmd.iter().map(|x| x.to_string()).collect();
        a.push(state(st, "backup.json"));
        a.extend(
            [
                "--key-file",
                &state(st, "recovery_key.txt"),
                "--account-data",
                &state(st, "account_data.json"),
                "--backup-version",
                &state(st, "backup_version.json"),
                "-o",
                "OUT",
            ]
            .iter()
            .map(|x| x.to_string()),
        );
        if cmd[0] != "backup" || cmd[1] == "to-export" {
            a.extend(["--new-passphrase-file".to_owned(), "/dev/null".to_owned()]);
        }
        let tmp = tmpdir();
        let out = tmp.path().join("out");
        let pos = a.iter().position(|x| x == "OUT").unwrap();
        a[pos] = s(&out).to_owned();
        let argv: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = mxkeys(&argv, &[]);
        assert_fails(&o, 1, "out of sync");
        assert!(stderr(&o).contains("mxkeys doctor"), "{}", stderr(&o));
        assert!(!out.exists());
    }
}

/// ssss and cross-signing check read secret storage: the backup's own key cannot open it, and
/// the error says which key opens what.
#[test]
fn secret_storage_commands_name_a_backup_key() {
    let st = "in-sync-security-key";
    let o = mxkeys(
        &[
            "ssss",
            "decrypt",
            &state(st, "account_data.json"),
            "--key-file",
            &state(st, "backup_key.txt"),
        ],
        &[],
    );
    assert_fails(&o, 1, "a backup's own recovery key opens the backup");
    let o = mxkeys(
        &[
            "cross-signing",
            "check",
            "--keys",
            &state(st, "keys_query.json"),
            "--account-data",
            &state(st, "account_data.json"),
            "--key-file",
            &state(st, "backup_key.txt"),
        ],
        &[],
    );
    assert_fails(&o, 1, "a backup's own recovery key opens the backup");
    // The Security Key opens both.
    for args in [
        vec!["ssss", "decrypt", &state(st, "account_data.json")],
        vec![
            "cross-signing",
            "check",
            "--keys",
            &state(st, "keys_query.json"),
            "--account-data",
            &state(st, "account_data.json"),
        ],
    ] {
        let mut a: Vec<String> = args.iter().map(|x| x.to_string()).collect();
        a.extend(["--key-file".to_owned(), state(st, "recovery_key.txt")]);
        let argv: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = mxkeys(&argv, &[]);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    }
}

/// Without account data, a Security Key that is not the backup's gets the curl line that fetches
/// the account data, on one note line before the one error line.
#[test]
fn a_key_that_fits_nothing_gives_the_next_command_and_the_curl_line() {
    let st = "in-sync-security-key";
    let o = mxkeys(
        &[
            "recovery-key",
            "check",
            "--key-file",
            &state(st, "recovery_key.txt"),
            "--backup-version",
            &state(st, "backup_version.json"),
        ],
        &[],
    );
    assert_fails(&o, 1, "recovery-key check --account-data");
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    let note = lines.iter().position(|l| l.starts_with("note:")).unwrap();
    let error = lines.iter().position(|l| l.starts_with("error:")).unwrap();
    assert!(
        lines[note].contains("curl") && lines[note].contains("account_data"),
        "{err}"
    );
    // The explanation comes under the error it explains (#27 item 8).
    assert!(note > error, "{err}");
}
