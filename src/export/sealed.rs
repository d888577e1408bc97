//! An export held in memory and read only as far as testing a key needs: the header, the
//! ciphertext and the tag, nothing decrypted. A passphrase search tests each candidate's key on
//! it with [`Sealed::opens`].
//!
//! Every client exports a JSON array of objects, so the first ciphertext block decrypts to `[`
//! and `{` (or `]`) between whitespace under the right key and to noise under a wrong one. That
//! block is checked first and costs one AES block; only a key that passes it pays for the HMAC
//! over the whole file, which alone decides.

use aes::cipher::StreamCipher;
use hmac::Mac;
use zeroize::Zeroizing;

use super::{scan, ExportKeys, Header, Limits, HEADER_LEN, MAC_LEN};
use crate::error::Error;
use crate::kdf::Rounds;

/// An export's header, ciphertext and tag, checked as far as can be without a key.
pub struct Sealed {
    header: Header,
    rounds: Rounds,
    /// Header and ciphertext: what the HMAC covers.
    authenticated: Vec<u8>,
    tag: [u8; MAC_LEN],
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("header", &self.header)
            .field("ciphertext_len", &self.ciphertext_len())
            .finish_non_exhaustive()
    }
}

impl Sealed {
    /// Read an armored export whole, with the reader [`super::open`] uses.
    ///
    /// The version and rounds are checked once the whole file has been read, so a file damaged in
    /// two places reports its armor or length first.
    ///
    /// # Errors
    /// Armor errors, [`Error::ExportTooShort`], then [`Error::ExportVersion`] and rounds errors.
    pub fn read(text: &[u8], limits: &Limits) -> Result<Sealed, Error> {
        let (authenticated, header, _, tag, _) = scan(
            text,
            |_, head| Ok(head.to_vec()),
            |authenticated, ct| authenticated.extend_from_slice(ct),
        )?;
        let rounds = header.check(limits)?;
        Ok(Sealed {
            header,
            rounds,
            authenticated,
            tag,
        })
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Its rounds, checked against the limits it was read with.
    pub fn rounds(&self) -> Rounds {
        self.rounds
    }

    /// The first `n` bytes of ciphertext (fewer when the file is shorter).
    pub(crate) fn ciphertext_head(&self, n: usize) -> &[u8] {
        let ct = self.authenticated.get(HEADER_LEN..).unwrap_or_default();
        ct.get(..n.min(ct.len())).unwrap_or_default()
    }

    /// Bytes of ciphertext (the JSON is this long).
    pub fn ciphertext_len(&self) -> usize {
        self.authenticated.len().saturating_sub(HEADER_LEN)
    }

    /// Do these keys open the file? The first block must decrypt to the start of a JSON array,
    /// then the HMAC over the whole file must match (in constant time). Nothing decrypted leaves.
    pub(crate) fn opens(&self, keys: &ExportKeys) -> bool {
        let ct = self.authenticated.get(HEADER_LEN..).unwrap_or_default();
        let mut head = Zeroizing::new([0u8; 16]);
        let n = ct.len().min(16);
        if let (Some(dst), Some(src)) = (head.get_mut(..n), ct.get(..n)) {
            dst.copy_from_slice(src);
            keys.cipher(&self.header.iv).apply_keystream(dst);
        }
        if !plausible_json_start(head.get(..n).unwrap_or_default()) {
            return false;
        }
        let mut mac = keys.hmac();
        mac.update(&self.authenticated);
        mac.verify_slice(&self.tag).is_ok()
    }
}

/// The first bytes of a JSON array as any writer produces it: optional whitespace, `[`, then
/// whitespace, `{` or `]`; all printable.
fn plausible_json_start(bytes: &[u8]) -> bool {
    let mut it = bytes.iter().copied().skip_while(u8::is_ascii_whitespace);
    match it.next() {
        Some(b'[') => {}
        None => return bytes.is_empty(),
        Some(_) => return false,
    }
    match it.find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b']') | None => {}
        Some(_) => return false,
    }
    bytes.iter().all(|b| *b >= 0x20 || b.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::{encrypt, Nonces};
    use crate::secret::Passphrase;

    fn file(pass: &str, plain: &[u8]) -> String {
        let nonces = Nonces {
            salt: [1; 16],
            iv: [2; 16],
        };
        let pass = Passphrase::new(pass.into());
        encrypt(plain, &pass, Rounds::new(3, 3).unwrap(), nonces).unwrap()
    }

    #[test]
    fn only_the_right_keys_open_it() {
        let text = file("hunter2", b"[{\"a\":1}]");
        let s = Sealed::read(text.as_bytes(), &Limits::default()).unwrap();
        assert_eq!((s.rounds().get(), s.ciphertext_len()), (3, 9));
        assert_eq!(s.header().salt, [1; 16]);
        let keys = |p: &[u8]| ExportKeys::derive(p, &s.header().salt, s.rounds());
        assert!(s.opens(&keys(b"hunter2")));
        assert!(!s.opens(&keys(b"hunter3")));
    }

    #[test]
    fn a_changed_byte_fails_the_mac_after_the_first_block_passed() {
        // Room for two blocks: the change is past the first, which still looks like JSON.
        let text = file(
            "p",
            b"[{\"a\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}]",
        );
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut super::super::ArmorReader::new(text.as_bytes()),
            &mut bytes,
        )
        .unwrap();
        bytes[HEADER_LEN + 40] ^= 1;
        let mut w = super::super::ArmorWriter::new(Vec::new()).unwrap();
        std::io::Write::write_all(&mut w, &bytes).unwrap();
        let damaged = w.finish().unwrap();
        let s = Sealed::read(&damaged, &Limits::default()).unwrap();
        let keys = ExportKeys::derive(b"p", &s.header().salt, s.rounds());
        assert!(!s.opens(&keys));
    }

    #[test]
    fn errors_in_file_order_then_header() {
        let limits = Limits { max_rounds: 2 };
        // Rounds above the limit: refused, after the whole file was read.
        let text = file("p", b"[]");
        assert!(matches!(
            Sealed::read(text.as_bytes(), &limits),
            Err(Error::RoundsTooHigh {
                rounds: 3,
                limit: 2
            })
        ));
        // The same file with a bad character in its last line: the armor error comes first.
        let bad = text.replacen("\n-----END", "*\n-----END", 1);
        assert!(matches!(
            Sealed::read(bad.as_bytes(), &limits),
            Err(Error::Armor(_))
        ));
        let short =
            "-----BEGIN MEGOLM SESSION DATA-----\nAQID\n-----END MEGOLM SESSION DATA-----\n";
        assert!(matches!(
            Sealed::read(short.as_bytes(), &limits),
            Err(Error::ExportTooShort { len: 3, min: 69 })
        ));
    }

    #[test]
    fn json_start_filter() {
        assert!(plausible_json_start(b"[{\"algorithm\":"));
        assert!(plausible_json_start(b"[\n  {\n    \"al"));
        assert!(plausible_json_start(b"[]"));
        assert!(!plausible_json_start(b"{\"a\": 1}"));
        assert!(!plausible_json_start(b"[\x01{"));
    }
}
