//! Base64 as Matrix uses it: standard alphabet, written unpadded, read padded or not; and
//! lowercase hex, for hash lines and temporary names.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// Standard alphabet, accepts padded and unpadded input and non-zero trailing bits (some
/// writers produce them; being strict here would only lose a user's file).
pub(crate) const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Standard alphabet, padded, as key-export bodies are written.
pub(crate) const STANDARD_PADDED: GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Unpadded standard base64, the form Matrix uses for keys, salts and IVs in JSON.
pub fn encode_unpadded(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// Lowercase hex, two digits a byte.
pub fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Hex digits to bytes (either case); `None` for an odd count or a pair that is not hex.
pub fn hex_decode(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len() / 2)
        .map(|i| {
            hex.get(2 * i..2 * i + 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        })
        .collect()
}

/// Decode standard base64 with or without padding.
///
/// # Errors
/// The `base64` crate's description of the first bad character or length.
pub fn decode_lenient(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD_LENIENT.decode(text)
}

/// Which bytes are in the standard base64 alphabet.
// Indexing a [_; 256] with i < 256 or a u8 cannot go out of bounds.
#[allow(clippy::indexing_slicing)]
const BASE64_CHARS: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
        i += 1;
    }
    t
};

/// True for the 64 characters of the standard base64 alphabet.
#[inline]
#[allow(clippy::indexing_slicing, reason = "a u8 always indexes a [_; 256]")]
pub(crate) fn is_base64_char(b: u8) -> bool {
    BASE64_CHARS[usize::from(b)]
}

/// [`is_base64_char`] as comparisons, which the compiler can run on many bytes at once.
#[inline]
fn in_base64_alphabet(c: u8) -> bool {
    (c.wrapping_sub(b'A') < 26)
        | (c.wrapping_sub(b'a') < 26)
        | (c.wrapping_sub(b'0') < 10)
        | (c == b'+')
        | (c == b'/')
}

/// Length of the run of base64 characters (no padding) that `s` starts with.
///
/// Whole 32-byte blocks are checked without a branch per byte (the block check compiles to
/// vector compares); the block where the run ends is then searched byte by byte. An armored
/// export is almost all such runs (128-character lines), so this is its decoder's inner loop.
pub(crate) fn base64_run_len(s: &[u8]) -> usize {
    const BLOCK: usize = 32;
    let mut n = 0;
    for block in s.chunks_exact(BLOCK) {
        if !block
            .iter()
            .fold(true, |all, &c| all & in_base64_alphabet(c))
        {
            break;
        }
        n += BLOCK;
    }
    let rest = s.get(n..).unwrap_or_default();
    n + rest
        .iter()
        .position(|&c| !is_base64_char(c))
        .unwrap_or(rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_two_lowercase_digits_a_byte() {
        assert_eq!(hex_lower(&[0x00, 0x0a, 0xab, 0xff]), "000aabff");
        assert_eq!(hex_lower(&[]), "");
        assert_eq!(hex_decode("000aABff"), Some(vec![0x00, 0x0a, 0xab, 0xff]));
        assert_eq!(
            hex_decode(&hex_lower(b"round trip")).unwrap(),
            b"round trip"
        );
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
    }

    #[test]
    fn alphabet_comparisons_match_the_table() {
        for c in 0..=255u8 {
            assert_eq!(in_base64_alphabet(c), is_base64_char(c), "byte {c}");
        }
    }

    #[test]
    fn run_length_ends_at_the_first_other_byte() {
        let line = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".repeat(3);
        assert_eq!(base64_run_len(&line), line.len());
        assert_eq!(base64_run_len(b""), 0);
        // Every non-alphabet byte at every position, across and inside the 32-byte blocks.
        for stop in (0..=255u8).filter(|&c| !is_base64_char(c)) {
            for at in 0..line.len() {
                let mut s = line.clone();
                s[at] = stop;
                assert_eq!(base64_run_len(&s), at, "byte {stop} at {at}");
                assert_eq!(base64_run_len(&s[..at + 1]), at);
            }
        }
    }

    #[test]
    fn lenient_reads_both_paddings() {
        assert_eq!(decode_lenient("YWI=").unwrap(), b"ab");
        assert_eq!(decode_lenient("YWI").unwrap(), b"ab");
        assert!(decode_lenient("Y").is_err());
        assert_eq!(encode_unpadded(b"ab"), "YWI");
    }
}
