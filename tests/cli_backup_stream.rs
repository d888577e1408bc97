//! Backups read and written as streams (#23): `backup encrypt` groups sessions that arrive in
//! any room order, a session given twice is written once; `backup decrypt` bounds what it
//! prints for many failures and refuses an entry larger than the cap, writing nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{assert_fails, mxkeys, s, stderr, tmpdir, vector_dir, vectors};
use serde_json::{json, Value};

/// A backup key and its public key, made by matrix-js-sdk and matrix-sdk-crypto-wasm (the first
/// key of test-vectors/backup/manifest.json).
fn key() -> (String, String) {
    let m: Value =
        serde_json::from_slice(&std::fs::read(vector_dir("backup").join("manifest.json")).unwrap())
            .unwrap();
    let k = &m["recovery_keys"][0];
    (
        k["recovery_key"].as_str().unwrap().to_owned(),
        k["public_key"].as_str().unwrap().to_owned(),
    )
}

fn sessions() -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(vectors().join("sessions-basic.json")).unwrap()).unwrap()
}

#[test]
fn encrypt_groups_rooms_in_first_appearance_order_and_keeps_the_last_copy_once() {
    let (k, public) = key();
    let all = sessions();
    // Interleaved rooms: gamma, alpha, beta, alpha, gamma, ...; then session 0 again, changed.
    let order = [5usize, 0, 3, 1, 6, 2, 4];
    let mut input: Vec<Value> = order.iter().map(|&i| all[i].clone()).collect();
    let mut again = all[0].clone();
    again["forwarding_curve25519_key_chain"] =
        json!(["hPQNcabIABgGnx3/ACWHYkEh9ZwPmJgvlMuZnVLHbXo"]);
    input.push(again.clone());
    let dir = tmpdir();
    let inp = dir.path().join("in.json");
    std::fs::write(&inp, serde_json::to_vec(&input).unwrap()).unwrap();
    let put = dir.path().join("put.json");
    let o = mxkeys(
        &[
            "--json",
            "backup",
            "encrypt",
            s(&inp),
            "--public-key",
            &public,
            "-o",
            s(&put),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (report["sessions"].as_u64(), report["rooms"].as_u64()),
        (Some(7), Some(3))
    );

    let body: Value = serde_json::from_slice(&std::fs::read(&put).unwrap()).unwrap();
    let rooms: Vec<&String> = body["rooms"].as_object().unwrap().keys().collect();
    assert_eq!(
        rooms,
        [
            "!gamma:example.org",
            "!alpha:example.org",
            "!beta:example.org"
        ]
    );
    let ids = |room: &str| -> Vec<String> {
        body["rooms"][room]["sessions"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let id = |i: usize| all[i]["session_id"].as_str().unwrap().to_owned();
    assert_eq!(ids("!alpha:example.org"), [id(0), id(1), id(2)]);
    assert_eq!(ids("!gamma:example.org"), [id(5), id(6)]);
    // The repeated session: at its first place, with its last copy (one forwarding hop).
    assert_eq!(
        body["rooms"]["!alpha:example.org"]["sessions"][id(0)]["forwarded_count"],
        1
    );

    // Decrypted again, the sessions are the input's (the last copy of the repeated one).
    let out = dir.path().join("out.json");
    let o = mxkeys(
        &["backup", "decrypt", s(&put), "-o", s(&out)],
        &[("MXKEYS_RECOVERY_KEY", &k)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Vec<Value> = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let mut want: Vec<Value> = input[..7].to_vec();
    want[1] = again;
    let key_of = |v: &Value| (v["room_id"].to_string(), v["session_id"].to_string());
    let mut got_sorted = got.clone();
    got_sorted.sort_by_key(key_of);
    want.sort_by_key(key_of);
    assert_eq!(got_sorted, want);
}

#[test]
fn many_failures_print_twenty_then_counts_and_json_lists_every_one() {
    let (k, public) = key();
    let all = sessions();
    let dir = tmpdir();
    // 7 good sessions, then 40 copies filed under ids that are not theirs.
    let inp = dir.path().join("in.json");
    std::fs::write(&inp, serde_json::to_vec(&all).unwrap()).unwrap();
    let put = dir.path().join("put.json");
    let o = mxkeys(
        &[
            "backup",
            "encrypt",
            s(&inp),
            "--public-key",
            &public,
            "-o",
            s(&put),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut body: Value = serde_json::from_slice(&std::fs::read(&put).unwrap()).unwrap();
    let first = body["rooms"]["!alpha:example.org"]["sessions"]
        [all[0]["session_id"].as_str().unwrap()]
    .clone();
    for n in 0..40 {
        body["rooms"]["!delta:example.org"]["sessions"][format!("wrong{n}")] = first.clone();
    }
    std::fs::write(&put, serde_json::to_vec(&body).unwrap()).unwrap();

    let out = dir.path().join("out.json");
    let env = [("MXKEYS_RECOVERY_KEY", k.as_str())];
    let o = mxkeys(&["backup", "decrypt", s(&put), "-o", s(&out)], &env);
    assert_fails(&o, 1, "40 of 47 sessions could not be decrypted");
    assert!(!out.exists(), "nothing written");
    let err = stderr(&o);
    assert_eq!(
        err.matches("warning: !delta:example.org wrong").count(),
        20,
        "{err}"
    );
    assert!(
        err.contains("and 20 more sessions that failed (all 40 failures by kind: session_key 40)"),
        "{err}"
    );

    let o = mxkeys(
        &[
            "--json",
            "backup",
            "decrypt",
            s(&put),
            "-o",
            s(&out),
            "--allow-partial",
        ],
        &env,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["sessions"].as_u64(), v["total"].as_u64()),
        (Some(7), Some(47))
    );
    let failed = v["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 40);
    let names: Vec<&str> = failed
        .iter()
        .map(|f| f["session_id"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (0..40).map(|n| format!("wrong{n}")).collect();
    assert_eq!(names, want);
    assert!(failed.iter().all(|f| f["kind"] == "session_key"));
}

#[test]
fn an_entry_past_the_cap_is_refused_and_nothing_is_written() {
    let (k, _) = key();
    let dir = tmpdir();
    let put = dir.path().join("big.json");
    // One KeyBackupData with a 17 MiB ciphertext.
    let big = "A".repeat(17 << 20);
    std::fs::write(
        &put,
        format!(r#"{{"rooms":{{"!a:x":{{"sessions":{{"s":{{"session_data":{{"ciphertext":"{big}","ephemeral":"x","mac":"y"}}}}}}}}}}}}"#),
    )
    .unwrap();
    let out = dir.path().join("out.json");
    let o = mxkeys(
        &["backup", "decrypt", s(&put), "-o", s(&out)],
        &[("MXKEYS_RECOVERY_KEY", &k)],
    );
    assert_fails(
        &o,
        1,
        "one session's entry in the backup is larger than 16 MiB",
    );
    assert!(!out.exists());
}
