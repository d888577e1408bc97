//! Secret newtypes: wiped on drop, `<redacted>` in `Debug`, no `Display`.
//!
//! Bytes come out only through `expose()`, so every place that touches secret material is
//! greppable.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A fixed-size secret (a derived key, a private key).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes<const N: usize>(Box<[u8; N]>);

impl<const N: usize> SecretBytes<N> {
    /// All-zero secret, to be filled in place (keeps the bytes off the stack).
    pub fn zeroed() -> Self {
        SecretBytes(Box::new([0u8; N]))
    }

    /// Take ownership of `bytes` and wipe the caller's copy.
    pub fn from_array(bytes: &mut [u8; N]) -> Self {
        let s = SecretBytes(Box::new(*bytes));
        bytes.zeroize();
        s
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }

    /// The secret bytes, to fill in place.
    pub fn expose_mut(&mut self) -> &mut [u8; N] {
        &mut self.0
    }
}

impl<const N: usize> fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A passphrase as the person typed it.
///
/// Matrix clients feed the UTF-8 bytes to PBKDF2; [`Passphrase::latin1_bytes`] gives the bytes
/// matrix-nio used instead (see FORMATS.md, "Key export file").
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Passphrase(String);

impl Passphrase {
    /// Wrap a passphrase. The string is moved, not copied.
    pub fn new(s: String) -> Self {
        Passphrase(s)
    }

    /// The passphrase text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True for the empty passphrase.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The Latin-1 encoding of the passphrase, when it differs from UTF-8 and exists: every
    /// character is at most U+00FF and at least one is above U+007F.
    pub fn latin1_bytes(&self) -> Option<Zeroizing<Vec<u8>>> {
        if self.0.is_ascii() {
            return None;
        }
        let mut out = Zeroizing::new(Vec::with_capacity(self.0.len()));
        for c in self.0.chars() {
            out.push(u8::try_from(u32::from(c)).ok()?);
        }
        Some(out)
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

impl PartialEq for Passphrase {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secret_bytes() {
        let p = Passphrase::new("hunter2-correct-horse".into());
        assert!(!format!("{p:?}").contains("hunter2"));
        let mut raw = [0x41u8; 32];
        let k = SecretBytes::from_array(&mut raw);
        assert_eq!(raw, [0u8; 32], "caller's copy is wiped");
        let dbg = format!("{k:?}");
        assert!(!dbg.contains("65") && !dbg.contains('A'), "{dbg}");
    }

    #[test]
    fn latin1_only_when_it_differs_and_exists() {
        assert!(Passphrase::new("plain".into()).latin1_bytes().is_none());
        assert_eq!(
            Passphrase::new("café".into()).latin1_bytes().as_deref(),
            Some(&b"caf\xe9".to_vec())
        );
        assert!(Passphrase::new("日本".into()).latin1_bytes().is_none());
    }
}
