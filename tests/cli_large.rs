//! A large attachment generated at test time (256 MiB): encrypted and decrypted through the CLI,
//! streaming, with the hash checked; then one flipped byte refused with nothing written.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use common::*;
use sha2::{Digest, Sha256};

const SIZE: usize = 256 << 20;

fn sha_file(path: &std::path::Path) -> String {
    let mut f = File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex::encode(h.finalize())
}

#[test]
fn a_256_mib_attachment_round_trips_and_damage_is_refused() {
    let d = tmpdir();
    let p = |n: &str| d.path().join(n);
    {
        let mut w = BufWriter::new(File::create(p("in")).unwrap());
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut chunk = vec![0u8; 1 << 20];
        for _ in 0..SIZE / chunk.len() {
            for b in chunk.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.copy_from_slice(&x.to_le_bytes());
            }
            w.write_all(&chunk).unwrap();
        }
    }
    let o = mxkeys(
        &[
            "attachment",
            "encrypt",
            s(&p("in")),
            "-o",
            s(&p("ct")),
            "--info-out",
            s(&p("info.json")),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::metadata(p("ct")).unwrap().len(), SIZE as u64);
    // Decrypt "ct" with "info.json" into `out`.
    let decrypt = |out: &str| {
        mxkeys(
            &[
                "attachment",
                "decrypt",
                s(&p("ct")),
                "--info",
                s(&p("info.json")),
                "-o",
                s(&p(out)),
            ],
            &[],
        )
    };
    let o = decrypt("out");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(sha_file(&p("in")), sha_file(&p("out")));
    // One byte near the end changed: the whole file is refused and no plaintext is kept.
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p("ct"))
        .unwrap();
    f.seek(SeekFrom::Start(SIZE as u64 - 100)).unwrap();
    let mut b = [0u8; 1];
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(SIZE as u64 - 100)).unwrap();
    f.write_all(&[b[0] ^ 1]).unwrap();
    drop(f);
    let o = decrypt("out2");
    assert_fails(&o, 1, "SHA-256 does not match");
    assert_only(d.path(), &["in", "ct", "info.json", "out"]);
}
