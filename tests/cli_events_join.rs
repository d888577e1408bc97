//! `mxkeys events decrypt|diagnose` with the keys joined on disk (the path a run takes when the
//! events use more sessions than the keys budget holds, issue #23) gives, byte for byte, what the
//! keys held in memory give. `MXKEYS_EVENTS_KEYS_BUDGET` (for tests) lowers the budget: 0 joins
//! from the first session, a small one switches after a few sessions; a huge one keeps the keys in
//! memory but takes the path of a large keys file (only the keys of the events' sessions).
//!
//! The events: every committed events vector (wasm, vodozemac, gen), shuffled so that sessions
//! interleave, and repeated past one batch (4096 events) so that ratchets are kept between
//! batches. The keys: every committed keys file, plus a copy of the vodozemac `!big` session from
//! index 300 before its index-0 copy (the lower index must win), a copy of a wasm session with the
//! same index but another room after its original (the first must win), a copy of the gen session
//! from index 3 after its original, and unusable keys: one of a session the events use, one of a
//! session they do not use, one that names no session.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use mxkeys::encoding::encode_unpadded;
use mxkeys::megolm::SessionKey;
use serde_json::{json, Value};

fn read(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

/// `key` (base64) advanced to `index`, in the 0x01 export format.
fn later_copy(key: &str, index: u32) -> String {
    let k = SessionKey::from_base64(key).unwrap();
    let mut r = k.to_ratchet();
    r.advance_to(index).unwrap();
    let mut b = vec![1u8];
    b.extend_from_slice(&index.to_be_bytes());
    b.extend_from_slice(r.parts().expose());
    b.extend_from_slice(k.signing_key());
    encode_unpadded(&b)
}

/// The events and keys described above, written to `dir`.
fn inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let v = vector_dir("events");
    let mut events = Vec::new();
    for f in [
        "wasm-events.json",
        "vodozemac-events.json",
        "gen-events.json",
    ] {
        events.extend(read(&v.join(f)).as_array().unwrap().iter().cloned());
    }
    // A fixed shuffle: sessions interleave, each session's indices out of order.
    let n = events.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|i| (i * 7919 + 13) % n);
    let shuffled: Vec<Value> = order.iter().map(|&i| events[i].clone()).collect();
    let mut all = Vec::new();
    while all.len() <= 4096 + n {
        all.extend(shuffled.iter().cloned());
    }
    let ev = dir.join("events.json");
    fs::write(&ev, serde_json::to_vec(&all).unwrap()).unwrap();

    let wasm = read(&v.join("wasm-keys.json"));
    let vodo = read(&v.join("vodozemac-keys.json"));
    let gen = read(&v.join("gen-keys.json"));
    let big = vodo
        .as_array()
        .unwrap()
        .iter()
        .find(|k| {
            let sid = k["session_id"].as_str().unwrap();
            events.iter().any(|e| {
                e["content"]["session_id"] == sid
                    && e["room_id"].as_str() == Some("!big:example.org")
            })
        })
        .expect("the !big session")
        .clone();
    let mut big_late = big.clone();
    big_late["session_key"] = json!(later_copy(big["session_key"].as_str().unwrap(), 300));
    let mut wasm_other_room = wasm[1].clone();
    wasm_other_room["room_id"] = json!("!elsewhere:example.org");
    let mut gen_late = gen[0].clone();
    gen_late["session_key"] = json!(later_copy(gen[0]["session_key"].as_str().unwrap(), 3));
    let used_sid = wasm[0]["session_id"].clone();
    let mut keys = vec![big_late];
    keys.extend(wasm.as_array().unwrap().iter().cloned());
    keys.push(json!({"algorithm": "m.megolm.v1.aes-sha2", "room_id": "!a:x", "session_id": used_sid, "session_key": "not a key"}));
    keys.push(wasm_other_room);
    keys.extend(vodo.as_array().unwrap().iter().cloned());
    keys.push(json!({"algorithm": "m.megolm.v1.aes-sha2", "room_id": "!a:x", "session_id": "no event uses this", "session_key": "AQ"}));
    keys.extend(gen.as_array().unwrap().iter().cloned());
    keys.push(gen_late);
    keys.push(json!({"algorithm": "m.megolm.v1.aes-sha2", "room_id": "!a:x", "session_key": "AQ"}));
    let k = dir.join("keys.json");
    fs::write(&k, serde_json::to_vec(&keys).unwrap()).unwrap();
    (ev, k)
}

/// Budgets: in memory with every key loaded (no variable), in memory with only the events'
/// keys (huge), joined from the start (0), joined after three sessions (3 × 1200 bytes).
const HUGE: &str = "1000000000000";
const JOINED: [&str; 2] = ["0", "3600"];

fn run(args: &[&str], budget: Option<&str>) -> Output {
    match budget {
        Some(b) => mxkeys(args, &[("MXKEYS_EVENTS_KEYS_BUDGET", b)]),
        None => mxkeys(args, &[]),
    }
}

/// The same stdout, stderr and exit code with the keys joined as held in memory.
fn same_as_in_memory(args: &[&str]) -> Output {
    let all = run(args, None);
    let filtered = run(args, Some(HUGE));
    assert_eq!(
        all.stdout, filtered.stdout,
        "{args:?}: all keys vs the events' keys"
    );
    assert_eq!(all.status.code(), filtered.status.code());
    for b in JOINED {
        let joined = run(args, Some(b));
        assert_eq!(
            joined.stdout, filtered.stdout,
            "{args:?}, budget {b}: stdout"
        );
        // The warnings too: those of the unusable keys of the events' sessions, in file order.
        assert_eq!(
            stderr(&joined),
            stderr(&filtered),
            "{args:?}, budget {b}: stderr"
        );
        assert_eq!(
            joined.status.code(),
            filtered.status.code(),
            "{args:?}, budget {b}"
        );
    }
    filtered
}

#[test]
fn diagnose_text_and_json_are_the_same_joined() {
    let d = tmpdir();
    let (ev, keys) = inputs(d.path());
    let o = same_as_in_memory(&["events", "diagnose", s(&ev), "--keys", s(&keys)]);
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(o.status.code(), Some(1), "{text}");
    // The inputs hold what the test means to cover.
    assert!(text.contains(" unknown_session\n"), "{text}");
    assert!(text.contains(" too_late\n"), "{text}");
    assert!(text.contains(" room_mismatch\n"), "{text}");
    let err = stderr(&o);
    assert!(err.contains("not base64"), "{err}");
    assert!(!err.contains("no event uses this"), "{err}");
    assert_eq!(err.matches("warning: key for session").count(), 2, "{err}");

    let o = same_as_in_memory(&["--json", "events", "diagnose", s(&ev), "--keys", s(&keys)]);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let total = r["events"].as_u64().unwrap();
    assert!(total > 4096, "{total} events: more than one batch");
    // The lower index wins: only !late's events (key from 10) are too late, none of !big's.
    let repeats = total / 93;
    assert_eq!(
        r["by_reason"]["too_late"].as_u64().unwrap(),
        2 * repeats,
        "{}",
        r["by_reason"]
    );
    assert_eq!(
        r["undecryptable"].as_array().unwrap().len() as u64,
        total - r["readable"].as_u64().unwrap()
    );
}

#[test]
fn decrypt_to_a_file_and_to_stdout_is_the_same_joined() {
    let d = tmpdir();
    let (ev, keys) = inputs(d.path());
    let o = same_as_in_memory(&["events", "decrypt", s(&ev), "--keys", s(&keys)]);
    assert_eq!(o.status.code(), Some(1));
    let got: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    // The equal-index copy in another room, after the original, is not used: had it been, the
    // events of that session would be room_mismatch against it.
    let wrong_copy = got
        .iter()
        .filter(|e| {
            e.to_string()
                .contains("belongs to room !elsewhere:example.org")
        })
        .count();
    assert_eq!(wrong_copy, 0);
    // Each copy of the 93 events: 45 wasm, 27 vodozemac and 4 gen events decrypt (manifest.json).
    let decrypted = got
        .iter()
        .filter(|e| e.get("mxkeys_error").is_none())
        .count();
    assert_eq!(decrypted, 76 * got.len() / 93);

    let mut files = Vec::new();
    for (i, b) in [None, Some("0")].into_iter().enumerate() {
        let out = d.path().join(format!("out{i}.json"));
        let args = [
            "events",
            "decrypt",
            s(&ev),
            "--keys",
            s(&keys),
            "-o",
            s(&out),
        ];
        let o = run(&args, b);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        files.push(fs::read(&out).unwrap());
    }
    assert_eq!(files[0], files[1]);
    // The file holds what standard output held.
    assert_eq!(files[0], o.stdout);
}
