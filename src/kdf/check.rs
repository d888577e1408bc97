//! Differential checks of the lane code against the `sha2` and `pbkdf2` crates, shared by the
//! unit tests and the kdf_lanes fuzz target. Compiled for unit tests and with the `internals`
//! feature only (which the fuzz crate enables): the checks panic, so they stay out of the
//! library's normal build and API.

use sha2::{Digest, Sha512};

use super::lanes::{self, IV};
use super::{Engine, Rounds};

/// SHA-512 of each message (at most `L`), computed in lanes by `compress`, which absorbs one
/// lane-transposed block into a lane-transposed state. Messages of different lengths take
/// different numbers of blocks; a lane that has finished keeps its state.
pub(crate) fn sha512_lanes<const L: usize>(
    compress: impl Fn(&mut [[u64; L]; 8], &[[u64; L]; 16]),
    messages: &[&[u8]],
) -> Vec<[u8; 64]> {
    let padded: Vec<Vec<u8>> = messages.iter().take(L).map(|m| pad(m)).collect();
    let blocks = padded.iter().map(|p| p.len() / 128).max().unwrap_or(0);
    let mut state = IV.map(|w| [w; L]);
    for b in 0..blocks {
        let mut block = [[0u64; L]; 16];
        for (lane, p) in padded.iter().enumerate() {
            let bytes = p.chunks(128).nth(b).unwrap_or_default();
            for (row, chunk) in block.iter_mut().zip(bytes.chunks(8)) {
                if let Some(slot) = row.get_mut(lane) {
                    *slot = chunk.iter().fold(0u64, |w, x| (w << 8) | u64::from(*x));
                }
            }
        }
        let before = state;
        compress(&mut state, &block);
        for (lane, p) in padded.iter().enumerate() {
            if b >= p.len() / 128 {
                for (row, old) in state.iter_mut().zip(before.iter()) {
                    if let (Some(s), Some(o)) = (row.get_mut(lane), old.get(lane)) {
                        *s = *o;
                    }
                }
            }
        }
    }
    (0..padded.len())
        .map(|lane| {
            let mut d = [0u8; 64];
            for (bytes, row) in d.chunks_mut(8).zip(state.iter()) {
                let w = row.get(lane).copied().unwrap_or(0).to_be_bytes();
                bytes.copy_from_slice(&w);
            }
            d
        })
        .collect()
}

/// FIPS 180-4, 5.1.2: the message, `0x80`, zeros, and the 128-bit big-endian bit length, to a
/// multiple of 128 bytes.
fn pad(m: &[u8]) -> Vec<u8> {
    let mut p = m.to_vec();
    p.push(0x80);
    while p.len() % 128 != 112 {
        p.push(0);
    }
    p.extend_from_slice(&((m.len() as u128) * 8).to_be_bytes());
    p
}

/// A lane compression on `L` lanes, with its name.
pub(crate) type Compress<const L: usize> = (&'static str, fn(&mut [[u64; L]; 8], &[[u64; L]; 16]));

/// Every lane compression this CPU can run, by lane count: the portable model always, the
/// AVX2 and AVX-512 ones where the CPU has them.
pub(crate) struct Compressions {
    pub(crate) four: Vec<Compress<4>>,
    pub(crate) eight: Vec<Compress<8>>,
    pub(crate) sixteen: Vec<Compress<16>>,
}

pub(crate) fn compressions() -> Compressions {
    let mut c = Compressions {
        four: vec![("portable x4", lanes::compress)],
        eight: vec![("portable x8", lanes::compress)],
        sixteen: vec![("portable x16", lanes::compress)],
    };
    #[cfg(target_arch = "x86_64")]
    if super::avx2::Avx2::detect().is_some() {
        c.four.push(("avx2 x4", |s, b| {
            if let Some(tok) = super::avx2::Avx2::detect() {
                super::avx2::compress4(tok, s, b);
            }
        }));
        c.eight.push(("avx2 x8", |s, b| {
            if let Some(tok) = super::avx2::Avx2::detect() {
                super::avx2::compress8(tok, s, b);
            }
        }));
    }
    #[cfg(target_arch = "x86_64")]
    if super::avx512::Avx512::detect().is_some() {
        c.eight.push(("avx512 x8", |s, b| {
            if let Some(tok) = super::avx512::Avx512::detect() {
                super::avx512::compress8(tok, s, b);
            }
        }));
        c.sixteen.push(("avx512 x16", |s, b| {
            if let Some(tok) = super::avx512::Avx512::detect() {
                super::avx512::compress16(tok, s, b);
            }
        }));
    }
    c
}

/// Cut fuzz input into a round count (1-4), 1-33 messages (enough to fill a 16-lane group twice
/// and part of a third) and a salt: byte 0 gives rounds and count, the next `count` bytes the
/// message lengths (0-191, or longer in steps of 16), then the messages, and the rest is salt.
fn split(data: &[u8]) -> (u32, Vec<&[u8]>, &[u8]) {
    let (cfg, rest) = data.split_first().map_or((0, &[][..]), |(c, r)| (*c, r));
    let rounds = 1 + u32::from(cfg % 4);
    let count = 1 + usize::from(cfg >> 2) % 33;
    let (lens, mut body) = rest.split_at(rest.len().min(count));
    let mut msgs = Vec::with_capacity(count);
    for i in 0..count {
        let b = usize::from(lens.get(i).copied().unwrap_or(0));
        let len = if b < 192 { b } else { 192 + (b - 192) * 16 };
        let (m, rest) = body.split_at(len.min(body.len()));
        msgs.push(m);
        body = rest;
    }
    (rounds, msgs, body)
}

/// Every compression of `list` gives `want` (the `sha2` digests of `msgs`), `L` messages at a time.
fn assert_sha512_lanes<const L: usize>(list: Vec<Compress<L>>, msgs: &[&[u8]], want: &[[u8; 64]]) {
    for (name, c) in list {
        for (group, want) in msgs.chunks(L).zip(want.chunks(L)) {
            assert!(
                sha512_lanes(c, group) == want,
                "{name}: SHA-512 differs from sha2"
            );
        }
    }
}

/// Fuzz entry point: SHA-512 in every available lane engine (portable; AVX2 with 4 and 8 lanes;
/// AVX-512 with 8 and 16) against `sha2`, and [`super::pbkdf2_sha512_batch`] with every
/// [`Engine`] against the `pbkdf2` crate, on messages, passwords, salt and (small) round count
/// cut from `data`. Panics on the first difference. Not part of the stable API.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // public with `internals` only
pub fn compare_lanes_with_sha2(data: &[u8]) {
    let (rounds, msgs, salt) = split(data);
    let want: Vec<[u8; 64]> = msgs.iter().map(|m| Sha512::digest(m).into()).collect();
    let Compressions {
        four,
        eight,
        sixteen,
    } = compressions();
    assert_sha512_lanes(four, &msgs, &want);
    assert_sha512_lanes(eight, &msgs, &want);
    assert_sha512_lanes(sixteen, &msgs, &want);
    let Ok(r) = Rounds::new(rounds, rounds) else {
        return;
    };
    // 80 bytes: two output blocks, the second cut short.
    let want: Vec<[u8; 80]> = msgs
        .iter()
        .map(|p| {
            let mut k = [0u8; 80];
            pbkdf2::pbkdf2_hmac::<Sha512>(p, salt, rounds, &mut k);
            k
        })
        .collect();
    for engine in Engine::ALL {
        if let Some(got) = engine.pbkdf2_sha512::<80>(&msgs, salt, r) {
            assert!(
                got.iter().map(|k| k.expose()).eq(want.iter()),
                "{engine:?}: PBKDF2 differs from the pbkdf2 crate"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;

    use super::*;

    /// The fuzz entry point on fixed inputs. (Here rather than in `tests/kdf_lanes.rs`: without
    /// the `internals` feature an integration test cannot reach it.)
    #[test]
    fn fuzz_entry_point_on_fixed_inputs() {
        compare_lanes_with_sha2(b"");
        compare_lanes_with_sha2(&[0xff; 10]);
        // Message lengths around the padding boundaries (111, 112, 127, 128, 129 bytes).
        let mut data = vec![0x23, 111, 112, 127, 128, 129, 0, 1, 191, 255];
        data.extend((0..3000u32).map(|i| (i * 7 + 3) as u8));
        compare_lanes_with_sha2(&data);
        // Lengths around the SHA-512 padding boundaries in every lane, and more messages than
        // the widest engine has lanes.
        let mut data = vec![0x3f, 0, 1, 111, 112, 127, 128, 129, 200, 255];
        data.extend((0..6000u32).map(|i| (i * 13 + 5) as u8));
        compare_lanes_with_sha2(&data);
    }

    /// Every kdf_lanes input kept in the repository (`fuzz/corpus/kdf_lanes`, and
    /// `fuzz/regressions/kdf_lanes` but its `known-bug-*` files), as `tests/fuzz_corpus.rs`
    /// replays the other targets' inputs.
    #[test]
    fn fuzz_inputs_in_the_repository() {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        for dir in ["corpus/kdf_lanes", "regressions/kdf_lanes"] {
            let Ok(rd) = std::fs::read_dir(fuzz.join(dir)) else {
                continue;
            };
            let mut paths: Vec<_> = rd
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file())
                .filter(|p| {
                    !p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("known-bug-"))
                })
                .collect();
            paths.sort();
            for p in paths {
                let data = std::fs::read(&p).unwrap();
                let r = std::panic::catch_unwind(|| compare_lanes_with_sha2(&data));
                assert!(r.is_ok(), "kdf_lanes panics on {}", p.display());
            }
        }
    }

    /// FIPS 180-4 example "abc" (and the empty message) in every lane of every engine.
    #[test]
    fn known_answers_in_every_lane() {
        let abc = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                   2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
        let Compressions {
            four,
            eight,
            sixteen,
        } = compressions();
        for (name, c) in four {
            let got = sha512_lanes(c, &[b"abc", b"", b"abc", b"abc"]);
            assert_eq!(hex::encode(got[0]), abc, "{name}");
            assert_eq!(got[0], got[2], "{name}");
            assert_eq!(got[0], got[3], "{name}");
            assert_eq!(got[1], <[u8; 64]>::from(Sha512::digest(b"")), "{name}");
        }
        for (name, c) in eight {
            let got = sha512_lanes(c, &[&b"abc"[..]; 8]);
            assert!(got.iter().all(|d| hex::encode(d) == abc), "{name}");
        }
        for (name, c) in sixteen {
            let got = sha512_lanes(c, &[&b"abc"[..]; 16]);
            assert!(got.iter().all(|d| hex::encode(d) == abc), "{name}");
        }
    }

    /// The portable lane model against `sha2` on every length up to three blocks, a different
    /// length in each lane: runs on every CPU, with or without AVX2.
    #[test]
    fn portable_lanes_match_sha2_on_every_length() {
        let data: Vec<u8> = (0..400u32).map(|i| (i * 131 + 7) as u8).collect();
        for len in 0..=384usize {
            let msgs: Vec<&[u8]> = (0..4)
                .map(|lane| &data[lane * 3..(lane * 3 + len.saturating_sub(lane * 5))])
                .collect();
            let got = sha512_lanes::<4>(lanes::compress, &msgs);
            for (g, m) in got.iter().zip(&msgs) {
                assert_eq!(
                    *g,
                    <[u8; 64]>::from(Sha512::digest(m)),
                    "length {}",
                    m.len()
                );
            }
        }
    }

    fn rows<const L: usize, const R: usize>(words: &[u64]) -> [[u64; L]; R] {
        let mut out = [[0u64; L]; R];
        for (i, w) in words.iter().enumerate() {
            out[i / L % R][i % L] = *w;
        }
        out
    }

    /// Each compression of `list`, from the state in `state` with the block in `block` (words
    /// laid out lane-transposed), gives what the portable model gives.
    fn compress_like_portable<const L: usize>(
        list: Vec<Compress<L>>,
        state: &[u64],
        block: &[u64],
    ) -> Result<(), TestCaseError> {
        let s: [[u64; L]; 8] = rows(state);
        let b: [[u64; L]; 16] = rows(block);
        let mut want = s;
        lanes::compress(&mut want, &b);
        for (name, c) in list {
            let mut got = s;
            c(&mut got, &b);
            prop_assert_eq!(got, want, "{}", name);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn lanes_match_sha2_on_random_data(data in prop::collection::vec(any::<u8>(), 0..4000)) {
            compare_lanes_with_sha2(&data);
        }
    }

    proptest! {
        /// One compression from an arbitrary state (not only the IV) with an arbitrary block:
        /// AVX2 (4 and 8 lanes), AVX-512 (8 and 16 lanes) and the portable model agree bit for
        /// bit, lane by lane.
        #[test]
        fn simd_compress_matches_portable(
            state in prop::collection::vec(any::<u64>(), 64),
            block in prop::collection::vec(any::<u64>(), 128),
            state_wide in prop::collection::vec(any::<u64>(), 128),
            block_wide in prop::collection::vec(any::<u64>(), 256),
        ) {
            let Compressions { four, eight, sixteen } = compressions();
            compress_like_portable(four, &state[..32], &block[..64])?;
            compress_like_portable(eight, &state, &block)?;
            compress_like_portable(sixteen, &state_wide, &block_wide)?;
        }

        /// Lane independence: changing one lane's input changes only that lane's output.
        #[test]
        fn lanes_do_not_mix(
            block in prop::collection::vec(any::<u64>(), 64),
            lane in 0usize..4,
            word in 0usize..16,
            flip in 0u32..64,
        ) {
            let b: [[u64; 4]; 16] = rows(&block);
            let mut b2 = b;
            b2[word][lane] ^= 1 << flip;
            for (name, c) in compressions().four {
                let (mut s, mut s2) = (IV.map(|w| [w; 4]), IV.map(|w| [w; 4]));
                c(&mut s, &b);
                c(&mut s2, &b2);
                for other in 0..4 {
                    let same = (0..8).all(|i| s[i][other] == s2[i][other]);
                    prop_assert_eq!(same, other != lane, "{} lane {}", name, other);
                }
            }
        }
    }
}
