//! The batched PBKDF2-HMAC-SHA-512 of `kdf::pbkdf2_sha512_batch` (SHA-512 in SIMD lanes, a
//! hand-written primitive) against the `sha2` and `pbkdf2` crates and published vectors, for
//! every engine this CPU can run: the portable lane model always, AVX2 with 4 and 8 lanes and
//! AVX-512 with 8 and 16 when present. Issue "Multi-buffer SHA-512: candidate search beyond OpenSSL speed".
//! SHA-512 lane by lane against `sha2` (`kdf::compare_lanes_with_sha2`, private without the
//! `internals` feature) is tested in src/kdf/check.rs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mxkeys::kdf::{self, Engine, Rounds};
use proptest::prelude::*;
use sha2::Sha512;

fn rounds(n: u32) -> Rounds {
    Rounds::new(n, n).unwrap()
}

fn engines() -> Vec<Engine> {
    let e: Vec<Engine> = Engine::ALL.into_iter().filter(|e| e.available()).collect();
    assert!(e.contains(&Engine::Scalar) && e.contains(&Engine::Portable));
    e
}

fn reference<const N: usize>(password: &[u8], salt: &[u8], c: u32) -> [u8; N] {
    let mut k = [0u8; N];
    pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, c, &mut k);
    k
}

/// Check every engine against the `pbkdf2` crate for one batch.
fn check_batch<const N: usize>(passwords: &[&[u8]], salt: &[u8], c: u32) {
    let want: Vec<[u8; N]> = passwords
        .iter()
        .map(|p| reference::<N>(p, salt, c))
        .collect();
    for engine in engines() {
        let got = engine
            .pbkdf2_sha512::<N>(passwords, salt, rounds(c))
            .unwrap();
        assert_eq!(got.len(), passwords.len(), "{engine:?}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                hex::encode(g.expose()),
                hex::encode(w),
                "{engine:?}: password {i} of {}, {c} rounds, {N} bytes",
                passwords.len()
            );
        }
    }
}

/// RFC 6070's inputs with SHA-512 (the table published for PBKDF2-HMAC-SHA512, e.g. in
/// RFC 7914's errata discussion and many libraries' tests); values checked with Python's
/// `hashlib.pbkdf2_hmac('sha512', ...)`.
const VECTORS: &[(&[u8], &[u8], u32, &str)] = &[
    (
        b"password",
        b"salt",
        1,
        "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252\
         c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce",
    ),
    (
        b"password",
        b"salt",
        2,
        "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53c\
         f76cab2868a39b9f7840edce4fef5a82be67335c77a6068e04112754f27ccf4e",
    ),
    (
        b"password",
        b"salt",
        4096,
        "d197b1b33db0143e018b12f3d1d1479e6cdebdcc97c5c0f87f6902e072f457b5\
         143f30602641b3d55cd335988cb36b84376060ecd532e039b742a239434af2d5",
    ),
    (
        b"passwordPASSWORDpassword",
        b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
        4096,
        "8c0511f4c6e597c6ac6315d8f0362e225f3c501495ba23b868c005174dc4ee71\
         115b59f9e60cd9532fa33e0f75aefe30225c583a186cd82bd4daea9724a3d3b8",
    ),
];

#[test]
fn published_vectors_in_every_engine_and_lane() {
    for (pw, salt, c, hex_want) in VECTORS {
        for engine in engines() {
            // Every lane of a full group, and every group size with the vector in its last lane
            // (the other lanes hold different passwords): 2 x lanes batches, not lanes^2.
            let lanes = engine.lanes().max(1);
            let cases = (0..lanes)
                .map(|lane| (lanes, lane))
                .chain((1..=lanes).map(|size| (size, size - 1)));
            for (size, lane) in cases {
                let others: Vec<Vec<u8>> = (0..size)
                    .map(|i| format!("other {i}").into_bytes())
                    .collect();
                let mut batch: Vec<&[u8]> = others.iter().map(Vec::as_slice).collect();
                batch[lane] = pw;
                let got = engine
                    .pbkdf2_sha512::<64>(&batch, salt, rounds(*c))
                    .unwrap();
                assert_eq!(
                    hex::encode(got[lane].expose()),
                    *hex_want,
                    "{engine:?}, lane {lane} of {size}, {c} rounds"
                );
            }
        }
    }
}

#[test]
fn vector_with_nul_bytes_and_short_output() {
    // RFC 6070's embedded-NUL case with SHA-512, 16 bytes (hashlib).
    let got = kdf::pbkdf2_sha512_batch::<16>(&[&b"pass\0word"[..]; 3], b"sa\0lt", rounds(4096));
    for k in &got {
        assert_eq!(hex::encode(k.expose()), "9d9e9c4cd21fe4be24d5b8244c759665");
    }
}

#[test]
fn output_longer_than_one_block() {
    // Two output blocks, the second cut at 36 bytes (hashlib, dkLen 100).
    let want = "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252\
                c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce\
                7b532e206c2967d4c7d2ffa460539fc4d4e5eec70125d74c6c7cf86d25284f29\
                7907fcea";
    for engine in engines() {
        let got = engine
            .pbkdf2_sha512::<100>(&[&b"password"[..]; 5], b"salt", rounds(1))
            .unwrap();
        for k in &got {
            assert_eq!(hex::encode(k.expose()), want, "{engine:?}");
        }
    }
}

#[test]
fn long_password_is_hashed_first() {
    // A key longer than the 128-byte block is replaced by its SHA-512 (hashlib, 3 rounds).
    let long = vec![b'x'; 200];
    let got = kdf::pbkdf2_sha512_batch::<64>(&[&long, b"short", &long, &long], b"salt", rounds(3));
    let want = "7e06f7557aae6057f38260ec33f67b9675bebccb8b17931386629a07d32149d2\
                378b0cb294a152173818b94281c3db47d169e538b02deb3f2457884f1a3e04d9";
    for i in [0, 2, 3] {
        assert_eq!(hex::encode(got[i].expose()), want);
    }
    check_batch::<64>(&[&long[..128], &long[..129], &long, b""], b"salt", 7);
}

#[test]
fn odd_batch_sizes() {
    let words: Vec<Vec<u8>> = (0..35)
        .map(|i| format!("candidate-{i}").into_bytes())
        .collect();
    // Around every group width (4, 8, 16) and the part-filled groups after full ones.
    for size in [
        0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 18, 23, 24, 25, 31, 33, 35,
    ] {
        let batch: Vec<&[u8]> = words.iter().take(size).map(Vec::as_slice).collect();
        check_batch::<64>(&batch, b"0123456789abcdef", 5);
        check_batch::<32>(&batch, b"0123456789abcdef", 5);
    }
}

#[test]
fn every_lane_has_its_own_key() {
    // Nineteen different passwords (more than one group of every width): nineteen different
    // keys, each in its own place; the same password twice gives the same key wherever it sits.
    let words: Vec<Vec<u8>> = (0..19)
        .map(|i| vec![b'a' + i; 1 + usize::from(i)])
        .collect();
    let mut batch: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
    batch.push(&words[2]);
    for engine in engines() {
        let got = engine
            .pbkdf2_sha512::<64>(&batch, b"salt", rounds(20))
            .unwrap();
        for i in 0..19 {
            for j in 0..i {
                assert_ne!(got[i].expose(), got[j].expose(), "{engine:?}: {i} vs {j}");
            }
            assert_eq!(got[i].expose(), &reference::<64>(batch[i], b"salt", 20));
        }
        assert_eq!(got[19].expose(), got[2].expose(), "{engine:?}");
    }
}

#[test]
fn many_rounds_match_the_pbkdf2_crate() {
    // Enough rounds that a slip in the iterated part could not hide behind U_1.
    check_batch::<64>(
        &[
            b"a", b"bb", b"ccc", b"dddd", b"eeeee", b"", b"g", b"h", b"i", b"j", b"k", b"l", b"m",
            b"n", b"o", b"p", b"q",
        ],
        b"s",
        3001,
    );
}

#[test]
fn single_derivation_and_batch_agree() {
    let r = rounds(1000);
    let batch = kdf::pbkdf2_sha512_batch::<64>(&[b"hunter2", b"correct horse"], b"salt", r);
    assert_eq!(
        batch[1].expose(),
        kdf::pbkdf2_sha512::<64>(b"correct horse", b"salt", r).expose()
    );
    assert!(Engine::fastest().available());
    assert!(format!("{:?}", batch[0]) == "<redacted>");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batches_match_the_pbkdf2_crate(
        passwords in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20),
        salt in prop::collection::vec(any::<u8>(), 0..200),
        c in 1u32..6,
    ) {
        let batch: Vec<&[u8]> = passwords.iter().map(Vec::as_slice).collect();
        check_batch::<64>(&batch, &salt, c);
        check_batch::<130>(&batch, &salt, c);
    }
}

#[test]
fn simd_engines_run_where_the_cpu_has_them() {
    // Guard against the SIMD tests above passing by being skipped.
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        let avx512 = std::arch::is_x86_feature_detected!("avx512f");
        assert_eq!(Engine::Avx2x4.available(), avx2);
        assert_eq!(Engine::Avx2x8.available(), avx2);
        assert_eq!(Engine::Avx512x8.available(), avx512);
        assert_eq!(Engine::Avx512x16.available(), avx512);
        let want = if avx512 {
            Engine::Avx512x8
        } else if avx2 {
            Engine::Avx2x8
        } else {
            Engine::Scalar
        };
        assert_eq!(Engine::fastest(), want);
        return;
    }
    #[allow(unreachable_code)]
    {
        assert_eq!(Engine::fastest(), Engine::Scalar);
    }
}
