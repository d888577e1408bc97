//! test-vectors/account: account states made by matrix-js-sdk 43 and matrix-sdk-crypto-wasm 18.9
//! (generator: test-vectors/gen/account), each verdict confirmed by a second implementation
//! (mautrix, python-olm, vodozemac, js-sdk's own checks; the manifest names which). Every run of
//! every state goes through `mxkeys doctor` and must give the manifest's status for every check,
//! in order, and the keys and secrets the held key opens.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;

use common::{assert_fails, mxkeys, s, vector_dir};
use serde_json::Value;

#[test]
fn doctor_gives_every_verdict_of_every_state() {
    let dir = vector_dir("account");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let ids: Vec<&str> = manifest["check_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let states = manifest["states"].as_array().unwrap();
    assert!(states.len() >= 16);
    let mut runs = 0;
    let mut listed = BTreeSet::from(["README.md".to_owned(), "manifest.json".to_owned()]);
    for state in states {
        let name = state["name"].as_str().unwrap();
        let sdir = dir.join(state["dir"].as_str().unwrap());
        listed.insert(state["dir"].as_str().unwrap().to_owned());
        let file = |role: &str| {
            state["files"][role]
                .as_str()
                .map(|f| s(&sdir.join(f)).to_owned())
        };
        let user = state["user_id"].as_str().unwrap();
        let mut base = vec![
            "--json".to_owned(),
            "doctor".to_owned(),
            "--account-data".to_owned(),
            file("account_data").unwrap(),
            "--user-id".to_owned(),
            user.to_owned(),
        ];
        for (role, flag) in [
            ("backup_version", "--backup-version"),
            ("keys_query", "--keys-query"),
            ("backup", "--backup"),
        ] {
            if let Some(f) = file(role) {
                base.extend([flag.to_owned(), f]);
            }
        }
        // Every file of the state is used by some run.
        for f in std::fs::read_dir(&sdir).unwrap() {
            let f = f.unwrap().file_name().into_string().unwrap();
            let used = state["files"]
                .as_object()
                .unwrap()
                .values()
                .any(|v| v.as_str() == Some(f.as_str()))
                || state["keys"].get(&f).is_some();
            assert!(used, "{name}: {f} is in no role and no key");
        }
        for run in state["runs"].as_array().unwrap() {
            runs += 1;
            let mut args = base.clone();
            let key = run["key"].as_str();
            if let Some(k) = key {
                let form = state["keys"][k]["form"].as_str().unwrap();
                let flag = if form == "passphrase" {
                    "--passphrase-file"
                } else {
                    "--key-file"
                };
                args.extend([flag.to_owned(), s(&sdir.join(k)).to_owned()]);
            }
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = mxkeys(&argv, &[]);
            let what = format!("{name} with {}", key.unwrap_or("no key"));
            if let Some(why) = run["error"].as_str() {
                assert_fails(&o, 1, "account data");
                assert!(o.stdout.is_empty(), "{what}: {why}");
                continue;
            }
            let err = common::stderr(&o);
            let v: Value = serde_json::from_slice(&o.stdout)
                .unwrap_or_else(|e| panic!("{what}: {e}; stderr: {err}"));
            let got: Vec<(&str, &str)> = v["checks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c["id"].as_str().unwrap(), c["status"].as_str().unwrap()))
                .collect();
            let want: Vec<(&str, &str)> = run["checks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c["id"].as_str().unwrap(), c["status"].as_str().unwrap()))
                .collect();
            assert_eq!(
                got.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
                ids,
                "{what}"
            );
            assert_eq!(
                got,
                want,
                "{what}\n{}",
                serde_json::to_string_pretty(&v).unwrap()
            );
            let failed = want.iter().any(|(_, st)| *st == "fail");
            assert_eq!(o.status.code(), Some(i32::from(failed)), "{what}: {err}");
            if let Some(opens) = run["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == "key_check")
                .and_then(|c| c.get("opens"))
            {
                if key.is_some() && state["keys"][key.unwrap()]["kind"] == "secret_storage_key" {
                    assert_eq!(v["key"]["key_ids"], opens["key_ids"], "{what}");
                    assert_eq!(v["key"]["opens"], opens["secrets"], "{what}");
                }
            }
            if let Some(k) = key {
                let kind = state["keys"][k]["kind"].as_str().unwrap();
                let got_kind = v["key"]["kind"].as_str().unwrap();
                if got_kind != "unknown" {
                    assert_eq!(got_kind, kind, "{what}");
                }
            }
        }
    }
    assert!(runs >= 22, "{runs}");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(on_disk, listed);
}
