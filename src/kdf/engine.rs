//! [`Engine`]: which code runs a batch of derivations. Public only with the `internals` feature
//! (which `cli` turns on: `mxkeys bench kdf` names the engines, `benches/kdf.rs` times each, the
//! kdf_lanes fuzz target checks each); otherwise `pub(crate)`, through the re-export in
//! `kdf/mod.rs`. How a step runs (`step`, `derive`) stays in `kdf/mod.rs` beside the kernels.
// Without `internals` the items below are reachable only inside the crate.
#![cfg_attr(not(feature = "internals"), allow(unreachable_pub))]

#[cfg(any(test, feature = "internals"))]
use super::Rounds;
#[cfg(any(test, feature = "internals"))]
use crate::secret::SecretBytes;

use super::{has_avx2, has_avx512};

/// The ways to run a batch, for tests and benchmarks; [`super::pbkdf2_sha512_batch`] picks
/// [`Engine::fastest`]. Not part of the stable API: public with the `internals` feature only.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Avx2x4 and Avx512x16 are only ever picked from `Engine::ALL` (tests, benchmarks, fuzzing).
#[cfg_attr(not(any(test, feature = "internals")), allow(dead_code))]
pub enum Engine {
    /// One derivation after another through the `pbkdf2` crate.
    Scalar,
    /// The lane algorithm on plain `[u64; 4]` arrays: the portable model of the SIMD code, slow.
    Portable,
    /// AVX2, four lanes in one register.
    Avx2x4,
    /// AVX2, eight lanes in two interleaved registers (groups of eight, then of four).
    Avx2x8,
    /// AVX-512F, eight lanes in one register.
    Avx512x8,
    /// AVX-512F, sixteen lanes in two interleaved registers (groups of sixteen, then of eight).
    Avx512x16,
}

impl Engine {
    /// Every engine, in the order of the enum.
    #[cfg(any(test, feature = "internals"))]
    pub const ALL: [Engine; 6] = [
        Engine::Scalar,
        Engine::Portable,
        Engine::Avx2x4,
        Engine::Avx2x8,
        Engine::Avx512x8,
        Engine::Avx512x16,
    ];

    /// Can this engine run on this CPU?
    pub fn available(self) -> bool {
        match self {
            Engine::Scalar | Engine::Portable => true,
            Engine::Avx2x4 | Engine::Avx2x8 => has_avx2(),
            Engine::Avx512x8 | Engine::Avx512x16 => has_avx512(),
        }
    }

    /// The engine [`super::pbkdf2_sha512_batch`] uses here: AVX-512 with eight lanes in one register
    /// where the CPU has it, else AVX2 with eight in two, else the `pbkdf2` crate. On the 2-core
    /// Xeon of `benches/kdf.rs` (500000 rounds, per core): `pbkdf2` crate 5.3 derivations/s,
    /// AVX2 x4 11.8, AVX2 x8 12.3, AVX-512 x8 31.3, AVX-512 x16 29.6.
    pub fn fastest() -> Engine {
        [Engine::Avx512x8, Engine::Avx2x8]
            .into_iter()
            .find(|e| e.available())
            .unwrap_or(Engine::Scalar)
    }

    /// Passwords per group: the number a caller should hand over at once to fill the lanes.
    pub fn lanes(self) -> usize {
        match self {
            Engine::Scalar => 1,
            Engine::Portable | Engine::Avx2x4 => 4,
            Engine::Avx2x8 | Engine::Avx512x8 => 8,
            Engine::Avx512x16 => 16,
        }
    }

    /// As [`super::pbkdf2_sha512_batch`] with this engine; `None` when it cannot run on this CPU.
    #[cfg(any(test, feature = "internals"))]
    pub fn pbkdf2_sha512<const N: usize>(
        self,
        passwords: &[&[u8]],
        salt: &[u8],
        rounds: Rounds,
    ) -> Option<Vec<SecretBytes<N>>> {
        if !self.available() {
            return None;
        }
        let mut out: Vec<SecretBytes<N>> =
            passwords.iter().map(|_| SecretBytes::zeroed()).collect();
        self.derive(passwords, salt, rounds, &mut out);
        Some(out)
    }
}
