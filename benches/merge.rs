//! Benches of the session-file hot paths, on generated sessions with real megolm keys (a fresh
//! Ed25519 key per session, so `session_id` is the key's and validation passes):
//!
//! * `export_sessions`: streaming decrypt (MAC pass, decrypt pass, JSON scan) and encrypt of an
//!   export holding 1k and 100k sessions, at 1 PBKDF2 round, so the figure excludes the
//!   derivation (one derivation at 500000 rounds is `pbkdf2_sha512` in benches/export.rs).
//! * `validate_100k`: `merge::validate_all` (every check incl. the key's Ed25519 point, then
//!   duplicates) on 100k parsed sessions.
//! * `merge_100k`: `merge::merge` of two 50k-session inputs that share 25k sessions (the second
//!   holds those at index 1, so each shared pair is checked to be the same ratchet): 100k read,
//!   75k out. `streaming` is the same merge as `export merge` runs it: the inputs as JSON text
//!   read by `session::RawSessions`, `merge::Index` (pass 1), `Plan::verify_batch` (pass 2: the
//!   index-1 copies wait for their index-0 key) and `Plan::select_batch` (pass 3), no writing.

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

use std::io::{BufReader, Cursor, Read, Write};
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac};
use mxkeys::encoding::encode_unpadded;
use mxkeys::export::{self, ExportWriter, Limits, Nonces};
use mxkeys::kdf::Rounds;
use mxkeys::session::SessionRecord;
use mxkeys::Passphrase;
use serde_json::json;
use sha2::Sha256;

use common::filler;

/// Session `i` at `index` (0 or 1): export-format key 0x01 | index | ratchet | Ed25519 key.
fn session(i: u64, index: u32) -> SessionRecord {
    let mut seed = [0u8; 32];
    filler(i, &mut seed);
    let signing = SigningKey::from_bytes(&seed);
    let public = signing.verifying_key().to_bytes();
    let mut ratchet = [0u8; 128];
    filler(i + 1_000_000_007, &mut ratchet);
    if index == 1 {
        // The megolm ratchet from index 0 to 1: R3 = HMAC-SHA-256(R3, [3]).
        let mut h = <Hmac<Sha256> as Mac>::new_from_slice(&ratchet[96..]).unwrap();
        h.update(&[3]);
        ratchet[96..].copy_from_slice(&h.finalize().into_bytes());
    }
    let mut key = vec![1u8];
    key.extend_from_slice(&index.to_be_bytes());
    key.extend_from_slice(&ratchet);
    key.extend_from_slice(&public);
    let mut sender = [0u8; 32];
    filler(i % 50 + 7, &mut sender);
    let device = SigningKey::from_bytes(&sender).verifying_key().to_bytes();
    let s = json!({
        "algorithm": "m.megolm.v1.aes-sha2",
        "room_id": format!("!room{}:example.org", i % 200),
        "sender_key": encode_unpadded(&sender),
        "sender_claimed_keys": {"ed25519": encode_unpadded(&device)},
        "session_id": encode_unpadded(&public),
        "session_key": encode_unpadded(&key),
        "forwarding_curve25519_key_chain": [],
    });
    serde_json::from_value(s).unwrap()
}

fn sessions(range: std::ops::Range<u64>, index: u32) -> Vec<SessionRecord> {
    range.map(|i| session(i, index)).collect()
}

fn export_sessions(c: &mut Criterion) {
    let pass = Passphrase::new("bench".into());
    let one = Rounds::new(1, 1).unwrap();
    let nonces = Nonces {
        salt: [1; 16],
        iv: [2; 16],
    };
    let mut g = c.benchmark_group("export_sessions");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(4));
    for n in [1_000u64, 100_000] {
        let json = serde_json::to_vec(&sessions(0..n, 0)).unwrap();
        let file = export::encrypt(&json, &pass, one, nonces).unwrap();
        g.throughput(Throughput::Elements(n));
        let label = if n == 1_000 { "1k" } else { "100k" };
        g.bench_with_input(BenchmarkId::new("decrypt", label), &file, |b, file| {
            b.iter(|| {
                let v =
                    export::open(Cursor::new(file.as_bytes()), &pass, &Limits::default()).unwrap();
                let mut plain = v.into_plaintext().unwrap();
                let sum = mxkeys::session::scan(BufReader::new(&mut plain), "x", |_| Ok(()));
                let mut rest = Vec::new();
                plain.read_to_end(&mut rest).unwrap();
                sum.unwrap()
            })
        });
        g.bench_with_input(BenchmarkId::new("encrypt", label), &json, |b, json| {
            b.iter(|| {
                let mut w =
                    ExportWriter::new(Vec::with_capacity(json.len() * 3 / 2), &pass, one, nonces)
                        .unwrap();
                w.write_all(json).unwrap();
                w.finish().unwrap()
            })
        });
    }
    g.finish();
}

fn validate(c: &mut Criterion) {
    let all = sessions(0..100_000, 0);
    let reports = mxkeys::merge::validate_all(&all);
    assert!(
        reports
            .iter()
            .all(|r| r.status() == mxkeys::session::ReportStatus::Ok),
        "{:?}",
        reports[0]
    );
    let mut g = c.benchmark_group("validate_100k");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(all.len() as u64));
    g.bench_function("validate_all", |b| {
        b.iter(|| mxkeys::merge::validate_all(&all))
    });
    g.finish();
}

fn merge(c: &mut Criterion) {
    let a = sessions(0..50_000, 0);
    let mut b = sessions(25_000..50_000, 1);
    b.extend(sessions(50_000..75_000, 0));
    let inputs = vec![a, b];
    let (out, report) = mxkeys::merge::merge(&inputs);
    assert_eq!(out.len(), 75_000);
    assert_eq!(report.replaced, 0);
    assert_eq!(report.chosen.len(), 25_000);
    assert!(report.conflicts.is_empty() && report.invalid.is_empty());
    let mut g = c.benchmark_group("merge_100k");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("2x50k_25k_shared", |bch| {
        bch.iter(|| mxkeys::merge::merge(&inputs))
    });
    let texts: Vec<Vec<u8>> = inputs
        .iter()
        .map(|i| serde_json::to_vec(i).unwrap())
        .collect();
    assert_eq!(streaming(&texts), 75_000);
    g.bench_function("2x50k_25k_shared/streaming", |bch| {
        bch.iter(|| streaming(&texts))
    });
    g.finish();
}

/// The three passes of `export merge` over JSON texts: the number of sessions selected.
fn streaming(texts: &[Vec<u8>]) -> usize {
    use mxkeys::session::{RawBatch, RawSessions};
    let each = |text: &[u8], f: &mut dyn FnMut(&RawBatch)| {
        let mut raw = RawSessions::new(text, "input");
        let mut b = RawBatch::new();
        loop {
            raw.next_batch(&mut b, 4096, 4 << 20).unwrap();
            if b.is_empty() {
                break;
            }
            f(&b);
        }
    };
    let mut index = mxkeys::merge::Index::new(texts.len());
    for (i, t) in texts.iter().enumerate() {
        each(t, &mut |b| {
            assert!(index.add_batch(i, b, "input").unwrap().is_empty())
        });
    }
    let mut plan = index.finish();
    if plan.needs_verify() {
        for (i, t) in texts.iter().enumerate() {
            each(t, &mut |b| plan.verify_batch(i, b, "input").unwrap());
        }
    }
    let mut n = 0;
    for (i, t) in texts.iter().enumerate() {
        each(t, &mut |b| {
            n += plan.select_batch(i, b, "input", false).unwrap().len()
        });
    }
    n
}

criterion_group!(benches, export_sessions, validate, merge);
criterion_main!(benches);
