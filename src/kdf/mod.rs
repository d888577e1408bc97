//! PBKDF2-HMAC-SHA-512, the key derivation behind every passphrase in Matrix key material
//! (key exports, Security Phrases, legacy backup passphrases).

use std::num::NonZeroU32;

use sha2::Sha512;

use crate::error::Error;
use crate::secret::SecretBytes;

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

#[cfg(test)]
mod tests {
    use super::*;

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
