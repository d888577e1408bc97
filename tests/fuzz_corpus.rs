//! Replays every fuzz input kept in the repository through the same entry points the cargo-fuzz
//! targets use, on the stable toolchain: the seeds from test-vectors/, fuzz/corpus/TARGET
//! (committed, minimized corpora) and fuzz/regressions/TARGET (inputs that once crashed).
//! The entry points are fuzz/src/harness.rs, included here as a module (the fuzz crate depends
//! on mxkeys, so mxkeys cannot depend on it). `kdf_lanes` calls private code: its inputs are
//! replayed by the unit tests of src/kdf/check.rs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::{Path, PathBuf};

#[path = "../fuzz/src/harness.rs"]
mod harness;

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// Regressions named `known-bug-*` reproduce a bug in mxkeys that is not fixed yet: only
/// `known_bug_regressions` (ignored) replays them. Rename the file when the bug is fixed.
fn is_known_bug(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("known-bug-"))
}

/// Seeds: (folder under test-vectors/, file-name prefix, extension).
type Seeds<'a> = &'a [(&'a str, &'a str, &'a str)];

fn replay(target: &str, f: fn(&[u8]), seeds: Seeds<'_>) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = Vec::new();
    for (dir, prefix, ext) in seeds {
        inputs.extend(
            files(&root.join("test-vectors").join(dir))
                .into_iter()
                .filter(|p| {
                    p.extension().is_some_and(|e| e == *ext)
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with(prefix))
                }),
        );
    }
    inputs.extend(files(&root.join("fuzz/corpus").join(target)));
    inputs.extend(
        files(&root.join("fuzz/regressions").join(target))
            .into_iter()
            .filter(|p| !is_known_bug(p)),
    );
    for p in &inputs {
        let data = fs::read(p).unwrap();
        let r = std::panic::catch_unwind(|| f(&data));
        assert!(r.is_ok(), "{target} panics on {}", p.display());
    }
    inputs.len()
}

const EXPORT_TXT: Seeds<'static> = &[("export", "", "txt")];
const EXPORT_ALL: Seeds<'static> = &[("export", "", "json"), ("export", "", "txt")];

#[test]
fn armor_inputs() {
    assert!(replay("armor", harness::armor, EXPORT_TXT) >= 30);
}

#[test]
fn export_decrypt_inputs() {
    assert!(replay("export_decrypt", harness::export_decrypt, EXPORT_TXT) >= 30);
}

#[test]
fn export_plaintext_inputs() {
    assert!(replay("export_plaintext", harness::export_plaintext, EXPORT_ALL) >= 30);
}

#[test]
fn session_json_inputs() {
    assert!(replay("session_json", harness::session_json, EXPORT_ALL) >= 30);
}

#[test]
fn recovery_key_inputs() {
    let seeds = &[("malformed", "rk-", "txt")];
    assert!(replay("recovery_key", harness::recovery_key, seeds) >= 20);
}

#[test]
fn backup_entries_inputs() {
    let seeds = &[("backup", "", "json"), ("malformed", "backup-", "json")];
    assert!(replay("backup_entries", harness::backup_entries, seeds) >= 30);
}

#[test]
fn backup_session_data_inputs() {
    let seeds = &[("backup", "", "json"), ("malformed", "backup-", "json")];
    let n = replay("backup_session_data", harness::backup_session_data, seeds);
    assert!(n >= 30);
}

#[test]
fn account_doctor_inputs() {
    // The corpus holds each test-vectors/account state as one document; account data alone
    // comes from the ssss and recover vectors.
    let seeds = &[
        ("ssss", "", "json"),
        ("recover", "", "json"),
        ("malformed", "ssss-", "json"),
    ];
    assert!(replay("account_doctor", harness::account_doctor, seeds) >= 40);
}

#[test]
fn ssss_account_data_inputs() {
    let seeds = &[("ssss", "", "json"), ("malformed", "ssss-", "json")];
    assert!(replay("ssss_account_data", harness::ssss_account_data, seeds) >= 30);
}

#[test]
fn attachment_info_inputs() {
    let seeds = &[("attachment", "", "json"), ("malformed", "att-", "json")];
    assert!(replay("attachment_info", harness::attachment_info, seeds) >= 30);
}

#[test]
fn attachment_stream_inputs() {
    let seeds = &[("attachment", "wasm-", "bin"), ("malformed", "att-", "bin")];
    assert!(replay("attachment_stream", harness::attachment_stream, seeds) >= 10);
}

#[test]
fn megolm_session_key_inputs() {
    assert!(replay("megolm_session_key", harness::megolm_session_key, &[]) >= 5);
}

#[test]
fn export_roundtrip_inputs() {
    assert!(replay("export_roundtrip", harness::export_roundtrip, EXPORT_ALL) >= 30);
}

#[test]
fn attachment_roundtrip_inputs() {
    let seeds = &[("attachment", "", "json")];
    let n = replay("attachment_roundtrip", harness::attachment_roundtrip, seeds);
    assert!(n >= 30);
}

#[test]
fn backup_roundtrip_inputs() {
    let seeds = &[("backup", "", "json")];
    assert!(replay("backup_roundtrip", harness::backup_roundtrip, seeds) >= 10);
}

#[test]
fn ssss_roundtrip_inputs() {
    let seeds = &[("ssss", "", "json")];
    assert!(replay("ssss_roundtrip", harness::ssss_roundtrip, seeds) >= 10);
}

#[test]
fn megolm_message_inputs() {
    replay("megolm_message", harness::megolm_message, &[]);
}

#[test]
fn identity_qr_inputs() {
    let seeds = &[("identity/qr", "", "bin")];
    assert!(replay("identity_qr", harness::identity_qr, seeds) >= 10);
}

#[test]
fn identity_qr_image_inputs() {
    let seeds = &[
        ("identity/qr-images", "", "png"),
        ("identity/qr-images", "", "jpg"),
    ];
    assert!(replay("identity_qr_image", harness::identity_qr_image, seeds) >= 14);
}

#[test]
fn canonical_json_inputs() {
    let seeds = &[
        ("identity/keys-query", "", "json"),
        ("identity", "", "json"),
    ];
    assert!(replay("canonical_json", harness::canonical_json, seeds) >= 10);
}

/// Files of test-vectors/ joined with 0xFF bytes, as fuzz/run.sh seeds the `merge` and `events`
/// targets.
fn joined(files: &[&str]) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors");
    let parts: Vec<Vec<u8>> = files
        .iter()
        .map(|f| fs::read(root.join(f)).unwrap())
        .collect();
    parts.join(&0xffu8)
}

#[test]
fn merge_inputs() {
    assert!(replay("merge", harness::merge, &[("megolm", "", "json")]) >= 20);
    let m = |f: &str| format!("megolm/{f}.json");
    for combo in [
        ["valid-laptop", "valid-phone", "valid-old-backup"],
        [
            "merge-fake-ratchet",
            "valid-old-backup",
            "merge-ratchet-flip",
        ],
        [
            "merge-forwarded-long",
            "merge-forwarded-short",
            "merge-untrusted",
        ],
        ["valid-signed", "warn-duplicate", "invalid-mixed"],
        ["valid-shared-history", "valid-olm", "valid-laptop"],
    ] {
        let files: Vec<String> = combo.iter().map(|f| m(f)).collect();
        let refs: Vec<&str> = files.iter().map(String::as_str).collect();
        harness::merge(&joined(&refs));
    }
}

#[test]
fn events_inputs() {
    replay("events", harness::events, &[]);
    for (keys, events) in [
        ("wasm-keys.json", "wasm-events.json"),
        ("wasm-keys.json", "wasm-messages.json"),
        ("vodozemac-keys.json", "vodozemac-events.json"),
        ("vodozemac-keys.json", "vodozemac-events.jsonl"),
        ("gen-keys.json", "gen-events.json"),
    ] {
        harness::events(&joined(&[
            &format!("events/{keys}"),
            &format!("events/{events}"),
        ]));
    }
}

#[test]
fn cross_signing_inputs() {
    let seeds = &[("identity/keys-query", "", "json")];
    assert!(replay("cross_signing", harness::cross_signing, seeds) >= 14);
}

/// The open bugs, one input each (fails until they are fixed; see fuzz/README.md).
#[test]
#[ignore = "known bugs in mxkeys: fuzz/regressions/*/known-bug-*"]
fn known_bug_regressions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    type Target = fn(&[u8]);
    let targets: [(&str, Target); 1] = [("session_json", harness::session_json)];
    let mut failed = Vec::new();
    for (target, f) in targets {
        for p in files(&root.join(target))
            .into_iter()
            .filter(|p| is_known_bug(p))
        {
            let data = fs::read(&p).unwrap();
            if std::panic::catch_unwind(|| f(&data)).is_err() {
                failed.push(p.display().to_string());
            }
        }
    }
    assert!(failed.is_empty(), "still failing: {failed:#?}");
}

/// The seeds really reach the deep end: the fixed keys of the targets open the vectors they were
/// taken from (otherwise every seed would stop at the first MAC and the fuzzer would be blind).
#[test]
fn fixed_keys_open_their_vectors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-vectors");
    // attachment_stream with mode 0 and wasm-17.bin: the hash matches, so the target checks the
    // decrypt-then-encrypt property; flipping a byte must still be fine (rejected).
    let mut input = vec![0u8, 7];
    input.extend(fs::read(root.join("attachment/wasm-17.bin")).unwrap());
    harness::attachment_stream(&input);
    let last = input.len() - 1;
    input[last] ^= 1;
    harness::attachment_stream(&input);
    // backup_session_data and ssss_account_data run their Ok-path assertions on these.
    harness::backup_session_data(&fs::read(root.join("backup/olm-session-data.json")).unwrap());
    harness::backup_entries(&fs::read(root.join("backup/olm-keys.json")).unwrap());
    harness::ssss_account_data(&fs::read(root.join("ssss/jssdk-security-key.json")).unwrap());
}

#[test]
fn dehydrated_device_inputs() {
    let seeds = &[("dehydrated", "device", "json")];
    assert!(replay("dehydrated_device", harness::dehydrated_device, seeds) >= 4);
}

#[test]
fn dehydrated_events_inputs() {
    let seeds = &[("dehydrated", "events-", "json")];
    assert!(replay("dehydrated_events", harness::dehydrated_events, seeds) >= 5);
}
