//! Bench of key-backup decryption: `backup::decrypt_entries` on 10k sessions (per session:
//! X25519, HKDF-SHA-256, the empty-message HMAC, AES-256-CBC, the JSON, and the session key's
//! structure and id), in a rayon pool of 1 thread and of every core. The backup is made with
//! `backup::encrypt_session_data` from sessions with real megolm keys, and checked to decrypt.

// Benches may stop on the first failure; the no-panic rule is for the library.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// criterion_group! generates undocumented items.
#![allow(missing_docs)]

mod common;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use ed25519_dalek::SigningKey;
use mxkeys::backup::{decrypt_entries, encrypt_session_data, Entry};
use mxkeys::encoding::encode_unpadded;
use mxkeys::recovery_key::RecoveryKey;
use serde_json::json;

use common::{bench_threads, filler};

const SESSIONS: u64 = 10_000;

/// A backup entry: the plaintext a client backs up (export format minus room and session id).
fn entry(i: u64, public: &[u8; 32]) -> Entry {
    let mut seed = [0u8; 32];
    filler(i, &mut seed);
    let signing = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
    let mut key = vec![1u8, 0, 0, 0, 0];
    let mut ratchet = [0u8; 128];
    filler(i + 1_000_000_007, &mut ratchet);
    key.extend_from_slice(&ratchet);
    key.extend_from_slice(&signing);
    let mut sender = [0u8; 32];
    filler(i % 50 + 7, &mut sender);
    let plaintext = json!({
        "algorithm": "m.megolm.v1.aes-sha2",
        "sender_key": encode_unpadded(&sender),
        "sender_claimed_keys": {"ed25519": encode_unpadded(&signing)},
        "session_key": encode_unpadded(&key),
        "forwarding_curve25519_key_chain": [],
    });
    let mut eph = [0u8; 32];
    filler(i + 2_000_000_011, &mut eph);
    let sd = encrypt_session_data(public, &serde_json::to_vec(&plaintext).unwrap(), &mut eph);
    Entry {
        room_id: format!("!room{}:example.org", i % 200),
        session_id: encode_unpadded(&signing),
        session_data: sd,
    }
}

fn backup(c: &mut Criterion) {
    let mut raw = [9u8; 32];
    let key = RecoveryKey::from_bytes(&mut raw);
    let public = key.backup_public_key();
    let entries: Vec<Entry> = (0..SESSIONS).map(|i| entry(i, &public)).collect();
    assert!(decrypt_entries(&key, &entries)
        .iter()
        .all(|o| o.result.is_ok()));
    let mut g = c.benchmark_group("backup_decrypt_10k");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(6));
    g.throughput(Throughput::Elements(SESSIONS));
    bench_threads(&mut g, &entries, |entries| decrypt_entries(&key, entries));
    g.finish();
}

criterion_group!(benches, backup);
criterion_main!(benches);
