//! `mxkeys dehydrated-device decrypt` and `mxkeys bundle decrypt` on devices, events and bundles
//! made by matrix-sdk-crypto-wasm 18.9.0 (test-vectors/dehydrated, test-vectors/bundle; the
//! v1 device by libolm). Expected sessions come from the peer: wasm rehydrated the same device,
//! received the same pages and exported what it got (expected-sessions*.json), and its
//! manifest names the events. Every session key mxkeys writes must equal wasm's export.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn dir() -> PathBuf {
    vector_dir("dehydrated")
}

fn v(name: &str) -> String {
    dir().join(name).to_str().unwrap().to_owned()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// session_id -> (room_id, sender_key, session_key) of an export-format JSON array.
fn by_id(sessions: &Value) -> BTreeMap<String, (String, String, String)> {
    sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let f = |n: &str| s[n].as_str().unwrap().to_owned();
            (
                f("session_id"),
                (f("room_id"), f("sender_key"), f("session_key")),
            )
        })
        .collect()
}

fn decrypt(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut all = vec!["dehydrated-device", "decrypt"];
    all.extend_from_slice(args);
    mxkeys(&all, env)
}

#[test]
fn every_room_key_of_the_v2_device_as_wasm_got_them_pages_in_any_order() {
    let d = tmpdir();
    let out = d.path().join("keys.json");
    // Pages out of order (page 2 first): the duplicate on page 2 counts once either way.
    let o = decrypt(
        &[
            "--device",
            &v("device.json"),
            "--events",
            &v("events-page2.json"),
            &v("events-page3.json"),
            &v("events-page1.json"),
            "--pickle-key-file",
            &v("pickle-key.txt"),
            "--bundle-dir",
            &v("bundles"),
            "--allow-partial",
            "--plaintext",
            "-o",
            s(&out),
            "--json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got = by_id(&read_json(&out));
    let want = by_id(&read_json(&dir().join("expected-sessions.json")));
    assert_eq!(got, want);

    let manifest = read_json(&dir().join("manifest.json"));
    let ids: Vec<&str> = manifest["expected_sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), got.len());
    assert!(ids.iter().all(|i| got.contains_key(*i)));

    // The report: one entry per distinct event, the duplicate counted, the event for another
    // device named as such, the bundle read from --bundle-dir.
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let events = manifest["events"].as_array().unwrap();
    let duplicates = events.iter().filter(|e| e["what"] == "duplicate").count() as u64;
    assert_eq!(r["duplicates"], duplicates);
    assert_eq!(r["events"], events.len() as u64 - duplicates);
    assert_eq!(r["by_outcome"]["not_for_this_device"], 1);
    assert_eq!(r["bundles"], 1);
    let bundle = r["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "m.room_key_bundle")
        .unwrap();
    assert!(
        bundle["keys"].as_str().unwrap().contains("2 sessions"),
        "{bundle}"
    );
    assert!(bundle["sender_device_keys"].as_bool().unwrap());
}

#[test]
fn an_event_for_another_device_stops_the_write_unless_allow_partial() {
    let d = tmpdir();
    let out = d.path().join("keys.json");
    let o = decrypt(
        &[
            "--device",
            &v("device.json"),
            "--events",
            &v("events-page1.json"),
            "--pickle-key-file",
            &v("pickle-key.txt"),
            "--plaintext",
            "-o",
            s(&out),
        ],
        &[],
    );
    assert_fails(&o, 1, "1 of the 3 events could not be decrypted");
    assert!(stderr(&o).contains("--allow-partial"));
    let lines = String::from_utf8(o.stdout).unwrap();
    assert!(lines.contains("not for this device"), "{lines}");
    assert_only(d.path(), &[]);
}

#[test]
fn the_security_key_opens_the_pickle_key_under_either_secret_name() {
    let key = std::fs::read_to_string(dir().join("security-key.txt")).unwrap();
    let want = by_id(&read_json(&dir().join("expected-sessions.json")));
    for ad in ["account-data.json", "account-data-stable-name.json"] {
        let d = tmpdir();
        let out = d.path().join("keys.json");
        let o = decrypt(
            &[
                "--device",
                &v("device.json"),
                "--events",
                &v("events-page1.json"),
                &v("events-page2.json"),
                "--account-data",
                &v(ad),
                "--allow-partial",
                "--plaintext",
                "-o",
                s(&out),
            ],
            &[("MXKEYS_RECOVERY_KEY", key.trim())],
        );
        assert!(o.status.success(), "{ad}: {}", stderr(&o));
        assert_eq!(by_id(&read_json(&out)), want, "{ad}");
    }
}

#[test]
fn an_export_file_with_a_new_passphrase_holds_the_same_sessions() {
    let d = tmpdir();
    let out = d.path().join("keys.txt");
    let o = decrypt(
        &[
            "--device",
            &v("device.json"),
            "--events",
            &v("events-page1.json"),
            &v("events-page2.json"),
            "--pickle-key-file",
            &v("pickle-key.txt"),
            "--allow-partial",
            "--rounds",
            "1000",
            "-o",
            s(&out),
        ],
        &[("MXKEYS_NEW_PASSPHRASE", "rehydrated")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let plain = d.path().join("keys.json");
    let o = mxkeys(
        &["export", "decrypt", s(&out), "-o", s(&plain)],
        &[("MXKEYS_PASSPHRASE", "rehydrated")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        by_id(&read_json(&plain)),
        by_id(&read_json(&dir().join("expected-sessions.json")))
    );
}

#[test]
fn the_legacy_v1_libolm_pickle_gives_what_wasm_got() {
    let d = tmpdir();
    let out = d.path().join("keys.json");
    let o = decrypt(
        &[
            "--device",
            &v("device-v1.json"),
            "--events",
            &v("events-v1.json"),
            "--pickle-key-file",
            &v("pickle-key-v1.txt"),
            "--allow-partial",
            "--plaintext",
            "-o",
            s(&out),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        by_id(&read_json(&out)),
        by_id(&read_json(&dir().join("expected-sessions-v1.json")))
    );
    // Its type 1 message belongs to a session the uploaded device never had: a failure line.
    let lines = String::from_utf8(o.stdout).unwrap();
    assert!(
        lines.contains("#1: from @bob:example.org: Olm failure"),
        "{lines}"
    );
}

#[test]
fn a_replayed_one_time_key_is_refused_and_only_the_first_session_counts() {
    let d = tmpdir();
    let out = d.path().join("keys.json");
    let args = |partial: bool| {
        let mut a = vec![
            "--device".to_owned(),
            v("device.json"),
            "--events".to_owned(),
            v("events-otk-replay.json"),
            "--pickle-key-file".to_owned(),
            v("pickle-key.txt"),
            "--plaintext".to_owned(),
            "-o".to_owned(),
            s(&out).to_owned(),
        ];
        if partial {
            a.push("--allow-partial".into());
        }
        a
    };
    let a = args(false);
    let o = decrypt(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert_fails(&o, 1, "1 of the 2 events could not be decrypted");
    assert!(String::from_utf8(o.stdout)
        .unwrap()
        .contains("already used by another message"));
    assert_only(d.path(), &[]);

    let a = args(true);
    let o = decrypt(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = read_json(&dir().join("manifest.json"));
    let names = &manifest["session_names"];
    let got = by_id(&read_json(&out));
    assert!(got.contains_key(names["A1"].as_str().unwrap()));
    assert!(!got.contains_key(names["C1"].as_str().unwrap()));
    assert_eq!(got.len(), 1);
}

#[test]
fn bad_devices_and_keys_get_one_line_and_nothing_written() {
    let cases: [(&str, &str, &str); 4] = [
        (
            "device.json",
            "device-wrong-key.txt",
            "this key does not open the dehydrated device",
        ),
        (
            "device-truncated.json",
            "pickle-key.txt",
            "changed or cut short",
        ),
        (
            "device-unknown-version.json",
            "pickle-key.txt",
            "device_data.algorithm is \"org.matrix.msc3814.v9\"",
        ),
        // The v1 secret on the v2 device.
        (
            "device.json",
            "pickle-key-v1.txt",
            "this key does not open the dehydrated device",
        ),
    ];
    for (device, key, needle) in cases {
        let d = tmpdir();
        let o = decrypt(
            &[
                "--device",
                &v(device),
                "--events",
                &v("events-page1.json"),
                "--pickle-key-file",
                &v(key),
                "-o",
                s(&d.path().join("keys.json")),
            ],
            &[("MXKEYS_NEW_PASSPHRASE", "x")],
        );
        assert_fails(&o, 1, needle);
        assert_only(d.path(), &[]);
    }
    // Not a page of events; not a device; no key at all.
    let d = tmpdir();
    let out = d.path().join("keys.json");
    let o = decrypt(
        &[
            "--device",
            &v("device.json"),
            "--events",
            &v("device.json"),
            "--pickle-key-file",
            &v("pickle-key.txt"),
            "-o",
            s(&out),
        ],
        &[],
    );
    assert_fails(&o, 1, "not a page of dehydrated-device events");
    let o = decrypt(
        &[
            "--device",
            &v("events-page1.json"),
            "--events",
            &v("events-page1.json"),
            "--pickle-key-file",
            &v("pickle-key.txt"),
            "-o",
            s(&out),
        ],
        &[],
    );
    assert_fails(&o, 1, "not a dehydrated device");
    let o = decrypt(
        &[
            "--device",
            &v("device.json"),
            "--events",
            &v("events-page1.json"),
            "-o",
            s(&out),
        ],
        &[],
    );
    assert_fails(&o, 2, "--pickle-key-file");
    assert_only(d.path(), &[]);
}

fn bundle(name: &str) -> String {
    vector_dir("bundle").join(name).to_str().unwrap().to_owned()
}

#[test]
fn a_wasm_bundle_gives_its_room_keys_and_names_the_withheld() {
    let d = tmpdir();
    let out = d.path().join("keys.json");
    let o = mxkeys(
        &[
            "bundle",
            "decrypt",
            &bundle("bundle.bin"),
            "--info",
            &bundle("info.json"),
            "--plaintext",
            "-o",
            s(&out),
            "--json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got = by_id(&read_json(&out));
    let want = by_id(&read_json(
        &vector_dir("bundle").join("expected-sessions.json"),
    ));
    assert_eq!(got, want);
    let manifest = read_json(&vector_dir("bundle").join("manifest.json"));
    let expect = &manifest["expect"]["bundle.bin + info.json"];
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["sessions"], expect["room_keys"].as_array().unwrap().len());
    let withheld = r["withheld"].as_array().unwrap();
    assert_eq!(withheld.len(), 1);
    assert_eq!(
        withheld[0]["session_id"],
        expect["withheld"][0]["session_id"]
    );
    assert_eq!(withheld[0]["code"], expect["withheld"][0]["code"]);

    // One byte changed: the hash fails before anything is decrypted; nothing is written.
    let d = tmpdir();
    let o = mxkeys(
        &[
            "bundle",
            "decrypt",
            &bundle("bundle-tampered.bin"),
            "--info",
            &bundle("info.json"),
            "--plaintext",
            "-o",
            s(&d.path().join("keys.json")),
        ],
        &[],
    );
    assert_fails(&o, 1, "its SHA-256 is not the one the bundle's key names");
    assert_only(d.path(), &[]);
}
