//! Base64 as Matrix uses it: standard alphabet, written unpadded, read padded or not.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_reads_both_paddings() {
        assert_eq!(decode_lenient("YWI=").unwrap(), b"ab");
        assert_eq!(decode_lenient("YWI").unwrap(), b"ab");
        assert!(decode_lenient("Y").is_err());
        assert_eq!(encode_unpadded(b"ab"), "YWI");
    }
}
