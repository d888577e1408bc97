//! Benches of attachment encryption (AES-256-CTR + SHA-256 of the ciphertext, v2) and of
//! decryption with hash verification, on 64 MiB in memory, written in 1 MiB pieces into a
//! sink: the figure is the cipher and hash path alone, without disk I/O.

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

use std::io::{self, Write};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use mxkeys::attachment::{AttachmentDecryptor, AttachmentEncryptor, AttachmentKey};

use common::Xorshift;

const SIZE: usize = 64 << 20;
const PIECE: usize = 1 << 20;

fn write_all_pieces(w: &mut impl Write, data: &[u8]) {
    for piece in data.chunks(PIECE) {
        w.write_all(piece).unwrap();
    }
}

fn attachment(c: &mut Criterion) {
    let mut plain = vec![0u8; SIZE];
    Xorshift(0x2545_F491_4F6C_DD1D).fill(&mut plain);
    // One real encryption gives the ciphertext and its EncryptedFile.
    let mut enc = AttachmentEncryptor::new(Vec::with_capacity(SIZE), &mut [5; 32], [6; 8]);
    write_all_pieces(&mut enc, &plain);
    let (info, ciphertext) = enc.finish(None).unwrap();
    let key = AttachmentKey::from_info(&info).unwrap();
    let mut check = AttachmentDecryptor::new(Vec::with_capacity(SIZE), &key);
    write_all_pieces(&mut check, &ciphertext);
    assert!(check.finish().unwrap() == plain);

    let mut g = c.benchmark_group("attachment_64MiB");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.bench_function("encrypt", |b| {
        b.iter(|| {
            let mut w = AttachmentEncryptor::new(io::sink(), &mut [5; 32], [6; 8]);
            write_all_pieces(&mut w, &plain);
            w.finish(None).unwrap()
        })
    });
    g.bench_function("decrypt_verify", |b| {
        b.iter(|| {
            let mut w = AttachmentDecryptor::new(io::sink(), &key);
            write_all_pieces(&mut w, &ciphertext);
            w.finish().unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, attachment);
criterion_main!(benches);
