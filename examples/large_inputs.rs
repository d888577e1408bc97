//! Large, valid inputs for `benches/large.sh`, made with the library on every core:
//!
//! ```text
//! cargo run --release --example large_inputs -- sessions N SEED OUT.json
//! cargo run --release --example large_inputs -- backup N SEED OUT.json KEY.txt
//! ```
//!
//! `sessions` writes a JSON array of N sessions in export format; `backup` writes a GET
//! `/room_keys/keys` body of the same N sessions (the same SEED gives the same sessions) and the
//! recovery key that opens it. Every session has a real megolm v1 key: index 0, a random
//! ratchet, and the Ed25519 public key of a key made from its number, which is also its session
//! id. Rooms: `!roomR:example.org`, R = i mod 5000. Deterministic: the same arguments give the
//! same bytes (the backup's ephemeral keys included).

use std::fs::File;
use std::io::{BufWriter, Write};

use ed25519_dalek::SigningKey;
use rayon::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use mxkeys::backup;
use mxkeys::encoding::encode_unpadded;
use mxkeys::recovery_key::RecoveryKey;

const ROOMS: u64 = 5000;
/// Sessions made in parallel before they are written.
const CHUNK: u64 = 8192;

/// 32 bytes that depend only on (seed, what, i).
fn bytes(seed: u64, what: &str, i: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(what.as_bytes());
    h.update(i.to_le_bytes());
    h.finalize().into()
}

fn room(i: u64) -> String {
    format!("!room{}:example.org", i % ROOMS)
}

/// Session number `i`, in export format, without room_id and session_id; and its id.
fn session(seed: u64, i: u64) -> (String, Value) {
    let public = SigningKey::from_bytes(&bytes(seed, "signing", i)).verifying_key();
    let mut key = vec![1u8, 0, 0, 0, 0];
    for part in 0..4 {
        key.extend_from_slice(&bytes(seed, "ratchet", i * 4 + part));
    }
    key.extend_from_slice(public.as_bytes());
    let id = encode_unpadded(public.as_bytes());
    let s = json!({
        "algorithm": "m.megolm.v1.aes-sha2",
        "sender_key": encode_unpadded(&bytes(seed, "sender", i)),
        "sender_claimed_keys": {"ed25519": encode_unpadded(&bytes(seed, "claimed", i))},
        "session_key": encode_unpadded(&key),
        "forwarding_curve25519_key_chain": [],
    });
    (id, s)
}

fn sessions(n: u64, seed: u64, out: &str) -> std::io::Result<()> {
    let mut w = BufWriter::new(File::create(out)?);
    w.write_all(b"[")?;
    for start in (0..n).step_by(CHUNK as usize) {
        let texts: Vec<String> = (start..n.min(start + CHUNK))
            .into_par_iter()
            .map(|i| {
                let (id, s) = session(seed, i);
                let mut full = serde_json::Map::new();
                full.insert("room_id".into(), Value::String(room(i)));
                full.insert("session_id".into(), Value::String(id));
                if let Value::Object(rest) = s {
                    full.extend(rest);
                }
                Value::Object(full).to_string()
            })
            .collect();
        for (k, t) in texts.iter().enumerate() {
            if start + k as u64 > 0 {
                w.write_all(b",")?;
            }
            w.write_all(t.as_bytes())?;
        }
    }
    w.write_all(b"]\n")?;
    w.flush()
}

fn backup_body(n: u64, seed: u64, out: &str, key_out: &str) -> std::io::Result<()> {
    let key = RecoveryKey::from_bytes(&mut bytes(seed, "backup key", 0));
    std::fs::write(key_out, format!("{}\n", &*key.encode()))?;
    let public = key.backup_public_key();
    let mut w = BufWriter::new(File::create(out)?);
    w.write_all(b"{\"rooms\":{")?;
    // Room by room: session i is in room i mod ROOMS.
    let per_room = n.div_ceil(ROOMS);
    for r in 0..ROOMS.min(n) {
        if r > 0 {
            w.write_all(b",")?;
        }
        write!(w, "{}:{{\"sessions\":{{", Value::String(room(r)))?;
        let texts: Vec<String> = (0..per_room)
            .map(|k| r + k * ROOMS)
            .filter(|&i| i < n)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|i| {
                let (id, s) = session(seed, i);
                let plain = s.to_string();
                let mut eph = bytes(seed, "ephemeral", i);
                let sd = backup::encrypt_session_data(&public, plain.as_bytes(), &mut eph);
                let kbd = json!({"first_message_index": 0, "forwarded_count": 0,
                                 "is_verified": false, "session_data": sd});
                format!("{}:{}", Value::String(id), kbd)
            })
            .collect();
        w.write_all(texts.join(",").as_bytes())?;
        w.write_all(b"}}")?;
    }
    w.write_all(b"}}\n")?;
    w.flush()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| args.get(i).and_then(|a| a.parse::<u64>().ok());
    let arg = |i: usize| args.get(i).map(String::as_str);
    let result = match (arg(0), num(1), num(2), arg(3), arg(4), arg(5)) {
        (Some("sessions"), Some(n), Some(seed), Some(out), None, None) => sessions(n, seed, out),
        (Some("backup"), Some(n), Some(seed), Some(out), Some(key), None) => {
            backup_body(n, seed, out, key)
        }
        _ => {
            eprintln!(
                "usage: large_inputs sessions N SEED OUT.json | backup N SEED OUT.json KEY.txt"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
