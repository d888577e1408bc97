//! PBKDF2-HMAC-SHA-512, the key derivation behind every passphrase in Matrix key material
//! (key exports, Security Phrases, legacy backup passphrases).
//!
//! One derivation goes through the `pbkdf2` crate ([`pbkdf2_sha512`]). A passphrase search
//! derives many keys with the same salt and rounds, so [`pbkdf2_sha512_batch`] runs them side by
//! side: four SHA-512 streams per instruction with AVX2, eight with AVX-512 (`lanes`, `avx2`,
//! `avx512`).

use std::num::NonZeroU32;

use sha2::Sha512;

use crate::error::Error;
use crate::secret::SecretBytes;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod batch;
#[cfg(any(test, feature = "internals"))]
mod check;
mod engine;
mod lanes;

/// With the `internals` feature only, for the fuzz crate in `fuzz/`; not part of the stable API.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub use check::compare_lanes_with_sha2;
/// With the `internals` feature only (which `cli` turns on); not part of the stable API.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub use engine::Engine;
#[cfg(not(feature = "internals"))]
pub(crate) use engine::Engine;

/// A PBKDF2 round count that has been checked against a limit.
///
/// The only way in is [`Rounds::new`], so a hostile file can never make mxkeys start a
/// derivation of 2^32-1 rounds by accident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rounds(NonZeroU32);

impl Rounds {
    /// Check `n` against `limit`.
    ///
    /// # Errors
    /// [`Error::RoundsZero`] for 0, [`Error::RoundsTooHigh`] above `limit`.
    pub fn new(n: u32, limit: u32) -> Result<Self, Error> {
        let nz = NonZeroU32::new(n).ok_or(Error::RoundsZero)?;
        if n > limit {
            return Err(Error::RoundsTooHigh { rounds: n, limit });
        }
        Ok(Rounds(nz))
    }

    /// The round count.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

/// Rounds accepted by default when reading: ten times Element Web's, a few seconds of work. A
/// hostile file can ask for 2^32-1 (hours); above this the user has to opt in.
pub const DEFAULT_MAX_ROUNDS: u32 = 5_000_000;

/// Bounds on the work a file may ask for: every format that derives a key from a passphrase
/// (exports, Security Phrases, legacy backup passphrases) and the passphrase search take one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Highest PBKDF2 round count accepted.
    pub max_rounds: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_rounds: DEFAULT_MAX_ROUNDS,
        }
    }
}

impl Limits {
    /// Check a round count a file asks for: [`Rounds::new`] with [`Limits::max_rounds`].
    ///
    /// # Errors
    /// [`Error::RoundsZero`] for 0, [`Error::RoundsTooHigh`] above the limit.
    pub fn rounds(&self, n: u32) -> Result<Rounds, Error> {
        Rounds::new(n, self.max_rounds)
    }
}

/// Why a round count in a key description or backup version
/// (`passphrase.iterations`, `auth_data.private_key_iterations`) cannot be read. Each variant
/// names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IterationsError {
    /// The field is absent or `null`.
    #[error("{field} is missing")]
    Missing {
        /// The field, e.g. `passphrase.iterations`.
        field: &'static str,
    },
    /// A whole number above 2^32-1.
    #[error(
        "{field} is {value}, more than any client writes (at most {}); the file is damaged",
        u32::MAX
    )]
    TooLarge {
        /// The field, e.g. `passphrase.iterations`.
        field: &'static str,
        /// The number found.
        value: u64,
    },
    /// Not a whole number (a string, a negative or fractional number, ...).
    #[error("{field} is not a whole number from 1 to {}", u32::MAX)]
    NotWhole {
        /// The field, e.g. `passphrase.iterations`.
        field: &'static str,
    },
}

/// A round count as key descriptions carry it (`passphrase.iterations`,
/// `auth_data.private_key_iterations`): a whole number up to 2^32-1. `field` names it in the
/// error. Zero and the caller's limit are [`Rounds::new`]'s business.
pub(crate) fn json_rounds(
    v: Option<&serde_json::Value>,
    field: &'static str,
) -> Result<u32, IterationsError> {
    match v {
        None | Some(serde_json::Value::Null) => Err(IterationsError::Missing { field }),
        Some(x) => match x.as_u64() {
            Some(n) => u32::try_from(n).map_err(|_| IterationsError::TooLarge { field, value: n }),
            None => Err(IterationsError::NotWhole { field }),
        },
    }
}

/// One PBKDF2-HMAC-SHA-512 derivation of `N` bytes.
pub fn pbkdf2_sha512<const N: usize>(
    password: &[u8],
    salt: &[u8],
    rounds: Rounds,
) -> SecretBytes<N> {
    let mut out = SecretBytes::<N>::zeroed();
    pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, rounds.get(), out.expose_mut());
    out
}

/// Many PBKDF2-HMAC-SHA-512 derivations of `N` bytes with one salt and round count: the key of
/// `passwords[i]` is element `i` of the result, the same bytes [`pbkdf2_sha512`] gives.
///
/// With AVX-512 the derivations run in groups of eight SIMD lanes, with AVX2 in groups of eight
/// (then four); elsewhere, and for a single password left over, one at a time
/// through the `pbkdf2` crate. `benches/kdf.rs` measures each engine against the `pbkdf2` crate. The lane state lives in registers and on the stack
/// and is not wiped; the per-password buffers this function owns are.
pub fn pbkdf2_sha512_batch<const N: usize>(
    passwords: &[&[u8]],
    salt: &[u8],
    rounds: Rounds,
) -> Vec<SecretBytes<N>> {
    let engine = Engine::fastest();
    let mut out: Vec<SecretBytes<N>> = passwords.iter().map(|_| SecretBytes::zeroed()).collect();
    engine.derive(passwords, salt, rounds, &mut out);
    out
}

/// A part-filled group costs as much as a full one; below this many passwords the scalar path
/// is cheaper (see `benches/kdf.rs`).
const MIN_LANES_USED: usize = 2;

/// What one step of [`Engine::derive`] runs.
#[derive(Clone, Copy)]
enum Kernel {
    /// The `pbkdf2` crate, one password.
    One,
    /// The portable model, up to four passwords.
    Portable4,
    #[cfg(target_arch = "x86_64")]
    Avx2x4(avx2::Avx2),
    #[cfg(target_arch = "x86_64")]
    Avx2x8(avx2::Avx2),
    #[cfg(target_arch = "x86_64")]
    Avx512x8(avx512::Avx512),
    #[cfg(target_arch = "x86_64")]
    Avx512x16(avx512::Avx512),
}

impl Engine {
    /// How many of `n` remaining passwords the next step takes, and with what. Full groups of
    /// the engine's width first, then one part-filled group of the narrower kernel of its kind;
    /// a single password goes through the `pbkdf2` crate (the portable model always uses its
    /// lanes, so tests exercise part-filled groups).
    fn step(self, n: usize) -> (usize, Kernel) {
        let one = (1, Kernel::One);
        if self == Engine::Portable {
            return (n.min(4), Kernel::Portable4);
        }
        if n < MIN_LANES_USED {
            return one;
        }
        #[cfg(target_arch = "x86_64")]
        match (self, avx2::Avx2::detect(), avx512::Avx512::detect()) {
            (Engine::Avx512x16, _, Some(t)) if n >= 16 => return (16, Kernel::Avx512x16(t)),
            (Engine::Avx512x16 | Engine::Avx512x8, _, Some(t)) => {
                return (n.min(8), Kernel::Avx512x8(t))
            }
            (Engine::Avx2x8, Some(t), _) if n >= 8 => return (8, Kernel::Avx2x8(t)),
            (Engine::Avx2x8 | Engine::Avx2x4, Some(t), _) => return (n.min(4), Kernel::Avx2x4(t)),
            // `derive` is only reached when `available()`, so SIMD engines have a token.
            _ => {}
        }
        one
    }

    /// Fill `out` (as long as `passwords`) group by group.
    fn derive<const N: usize>(
        self,
        mut passwords: &[&[u8]],
        salt: &[u8],
        rounds: Rounds,
        mut out: &mut [SecretBytes<N>],
    ) {
        let r = rounds.get();
        while !passwords.is_empty() {
            let (take, kernel) = self.step(passwords.len());
            let (pw, pw_rest) = passwords.split_at(take.min(passwords.len()));
            let (keys, out_rest) = std::mem::take(&mut out).split_at_mut(pw.len());
            match kernel {
                Kernel::One => {
                    for (p, k) in pw.iter().zip(keys.iter_mut()) {
                        pbkdf2::pbkdf2_hmac::<Sha512>(p, salt, r, k.expose_mut());
                    }
                }
                Kernel::Portable4 => batch::derive_group::<4, N>(
                    |g, r, t| *t = lanes::pbkdf2_f(&g.ipad, &g.opad, &g.u1, r),
                    pw,
                    salt,
                    r,
                    keys,
                ),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2x4(tok) => {
                    batch::derive_group::<4, N>(|g, r, t| avx2::f4(tok, g, r, t), pw, salt, r, keys)
                }
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2x8(tok) => {
                    batch::derive_group::<8, N>(|g, r, t| avx2::f8(tok, g, r, t), pw, salt, r, keys)
                }
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx512x8(tok) => batch::derive_group::<8, N>(
                    |g, r, t| avx512::f8(tok, g, r, t),
                    pw,
                    salt,
                    r,
                    keys,
                ),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx512x16(tok) => batch::derive_group::<16, N>(
                    |g, r, t| avx512::f16(tok, g, r, t),
                    pw,
                    salt,
                    r,
                    keys,
                ),
            }
            passwords = pw_rest;
            out = out_rest;
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    avx2::Avx2::detect().is_some()
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    avx512::Avx512::detect().is_some()
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx2() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx512() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_rounds_messages_are_unchanged() {
        use serde_json::json;
        let f = "passphrase.iterations";
        let got = |v: Option<serde_json::Value>| json_rounds(v.as_ref(), f);
        assert_eq!(got(Some(json!(7))), Ok(7));
        let cases = [
            (None, "passphrase.iterations is missing"),
            (Some(json!(null)), "passphrase.iterations is missing"),
            (
                Some(json!(4294967296u64)),
                "passphrase.iterations is 4294967296, more than any client writes (at most 4294967295); the file is damaged",
            ),
            (
                Some(json!("1000")),
                "passphrase.iterations is not a whole number from 1 to 4294967295",
            ),
            (
                Some(json!(-1)),
                "passphrase.iterations is not a whole number from 1 to 4294967295",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(got(v).unwrap_err().to_string(), want);
        }
    }

    #[test]
    fn rounds_are_bounded() {
        assert!(matches!(Rounds::new(0, 10), Err(Error::RoundsZero)));
        assert!(matches!(
            Rounds::new(u32::MAX, 10),
            Err(Error::RoundsTooHigh {
                rounds: u32::MAX,
                limit: 10
            })
        ));
        assert_eq!(Rounds::new(10, 10).unwrap().get(), 10);
        let limits = Limits { max_rounds: 10 };
        assert_eq!(limits.rounds(10).unwrap().get(), 10);
        assert!(matches!(
            limits.rounds(11),
            Err(Error::RoundsTooHigh {
                rounds: 11,
                limit: 10
            })
        ));
        assert!(matches!(limits.rounds(0), Err(Error::RoundsZero)));
        assert_eq!(Limits::default().max_rounds, DEFAULT_MAX_ROUNDS);
    }

    /// RFC 6070-style vector for PBKDF2-HMAC-SHA512 (from the widely published test set,
    /// password "password", salt "salt", 1 and 2 iterations).
    #[test]
    fn pbkdf2_sha512_known_answers() {
        let one = pbkdf2_sha512::<64>(b"password", b"salt", Rounds::new(1, 10).unwrap());
        assert_eq!(
            hex::encode(one.expose()),
            "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252\
             c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce"
        );
        let two = pbkdf2_sha512::<64>(b"password", b"salt", Rounds::new(2, 10).unwrap());
        assert_eq!(
            hex::encode(two.expose()),
            "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53c\
             f76cab2868a39b9f7840edce4fef5a82be67335c77a6068e04112754f27ccf4e"
        );
    }
}
