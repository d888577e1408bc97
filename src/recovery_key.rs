//! Recovery keys / Security Keys (spec "Recovery key"):
//! `base58(0x8B 0x01 | key 32 | parity)` in the bitcoin alphabet, parity = XOR of every byte
//! before it, shown in groups of four characters; readers ignore whitespace. The 32 bytes are a
//! backup private key (Curve25519) or a secret-storage key. The usual typos are 0/O and I/l,
//! which base58 leaves out.
//!
//! Decoding explains failures the way a person needs at 2 a.m.: which character is not base58 and
//! what it was probably meant to be, how many characters are missing, whether the prefix or only
//! the parity is wrong; [`suggest`] tries the one-character fixes.

use zeroize::Zeroizing;

use crate::secret::SecretBytes;

/// The two bytes every recovery key starts with.
pub(crate) const PREFIX: [u8; 2] = [0x8B, 0x01];
/// Decoded length: prefix, key, parity.
pub(crate) const DECODED_LEN: usize = 35;
/// Characters in a recovery key without spaces (35 bytes starting 0x8B always give 48).
pub const CHARS: usize = 48;
const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Why a recovery key did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryKeyError {
    /// A character outside the base58 alphabet.
    #[error("character {position} of the key ({}), {found:?}, is not used in Security Keys{hint}", place_in_groups(*.position))]
    BadChar {
        /// 1-based position among the key's characters (spaces not counted).
        position: usize,
        /// The character.
        found: char,
        /// Likely intended characters, as a sentence fragment (may be empty).
        hint: &'static str,
    },
    /// Wrong number of characters.
    #[error("the key has {chars} characters, {} than the {CHARS} of a Security Key: {}", if *.chars < CHARS { "fewer" } else { "more" }, if *.chars < CHARS { format!("{} missing", CHARS - *.chars) } else { format!("{} extra", *.chars - CHARS) })]
    Length {
        /// Characters found (spaces not counted).
        chars: usize,
    },
    /// Decodes, but not to the 35 bytes of a recovery key.
    #[error("the key decodes to {bytes} bytes instead of {DECODED_LEN}; a character is wrong or missing")]
    DecodedLength {
        /// Bytes decoded.
        bytes: usize,
    },
    /// The first two bytes are not 8B 01.
    #[error("the key does not start like a Security Key (bytes {:02x} {:02x} instead of 8b 01): a character near the start is mistyped, or it is a key from another program", found[0], found[1])]
    Prefix {
        /// The first two bytes.
        found: [u8; 2],
    },
    /// The parity byte does not match: a typo somewhere.
    #[error("the key's check digit does not match: a character is mistyped or two are swapped")]
    Parity,
    /// Nothing but whitespace.
    #[error("the key is empty")]
    Empty,
}

/// Where the `position`-th character (1-based, spaces not counted) sits in the key as Element
/// shows it, in groups of four: "group 3, 3rd character".
pub fn place_in_groups(position: usize) -> String {
    let n = position.max(1) - 1;
    let (group, at) = (n / 4 + 1, n % 4 + 1);
    let ordinal = match at {
        1 => "1st",
        2 => "2nd",
        3 => "3rd",
        _ => "4th",
    };
    format!("group {group}, {ordinal} character")
}

/// The key as Element shows it (groups of four), with the `position`-th character (1-based,
/// spaces not counted) between brackets: for the person's own terminal only, since the key is
/// secret.
pub fn mark_in_groups(text: &str, position: usize) -> zeroize::Zeroizing<String> {
    let mut out = zeroize::Zeroizing::new(String::with_capacity(text.len() * 2));
    for (i, c) in text.chars().filter(|c| !c.is_whitespace()).enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        if i + 1 == position {
            out.push('[');
            out.push(c);
            out.push(']');
        } else {
            out.push(c);
        }
    }
    out
}

/// The class of a [`RecoveryKeyError`] ([`RecoveryKeyError::kind`]), as test-vector manifests
/// name it. Serialized as [`RecoveryKeyKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecoveryKeyKind {
    /// `bad_char`: [`RecoveryKeyError::BadChar`].
    BadChar,
    /// `bad_length`: [`RecoveryKeyError::Length`], [`RecoveryKeyError::DecodedLength`],
    /// [`RecoveryKeyError::Empty`].
    BadLength,
    /// `bad_prefix`: [`RecoveryKeyError::Prefix`].
    BadPrefix,
    /// `bad_parity`: [`RecoveryKeyError::Parity`].
    BadParity,
}

impl RecoveryKeyKind {
    /// The short, stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryKeyKind::BadChar => "bad_char",
            RecoveryKeyKind::BadLength => "bad_length",
            RecoveryKeyKind::BadPrefix => "bad_prefix",
            RecoveryKeyKind::BadParity => "bad_parity",
        }
    }
}

impl std::fmt::Display for RecoveryKeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RecoveryKeyError {
    /// The class of the failure, as in test-vector manifests.
    pub fn kind(&self) -> RecoveryKeyKind {
        match self {
            RecoveryKeyError::BadChar { .. } => RecoveryKeyKind::BadChar,
            RecoveryKeyError::Length { .. }
            | RecoveryKeyError::DecodedLength { .. }
            | RecoveryKeyError::Empty => RecoveryKeyKind::BadLength,
            RecoveryKeyError::Prefix { .. } => RecoveryKeyKind::BadPrefix,
            RecoveryKeyError::Parity => RecoveryKeyKind::BadParity,
        }
    }
}

/// A decoded recovery key.
#[derive(Clone)]
pub struct RecoveryKey(SecretBytes<32>);

impl std::fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryKey(<redacted>)")
    }
}

fn parity(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |p, b| p ^ b)
}

fn hint_for(c: char) -> &'static str {
    match c {
        '0' => "; base58 has no zero: did you mean lowercase 'o'?",
        'O' => "; base58 has no capital O: did you mean lowercase 'o'?",
        'I' => "; base58 has no capital I: did you mean '1' or lowercase 'i'?",
        'l' => "; base58 has no lowercase L: did you mean '1' or capital 'L'?",
        '+' | '/' | '=' => {
            "; that is base64, not a Security Key (Security Keys look like 'EsTc LW2K ...')"
        }
        _ => "",
    }
}

impl RecoveryKey {
    /// Wrap 32 key bytes (wiping the caller's copy).
    pub fn from_bytes(bytes: &mut [u8; 32]) -> Self {
        RecoveryKey(SecretBytes::from_array(bytes))
    }

    /// Decode a key as a person typed it: whitespace (spaces, tabs, line breaks) is ignored.
    ///
    /// # Errors
    /// [`RecoveryKeyError`] with the first problem found.
    pub fn decode(text: &str) -> Result<Self, RecoveryKeyError> {
        let chars: Zeroizing<String> =
            Zeroizing::new(text.chars().filter(|c| !c.is_whitespace()).collect());
        if chars.is_empty() {
            return Err(RecoveryKeyError::Empty);
        }
        if let Some((i, c)) = chars
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii() || !ALPHABET.contains(&(*c as u8)))
        {
            return Err(RecoveryKeyError::BadChar {
                position: i + 1,
                found: c,
                hint: hint_for(c),
            });
        }
        let n = chars.chars().count();
        if n != CHARS {
            return Err(RecoveryKeyError::Length { chars: n });
        }
        let bytes = Zeroizing::new(
            bs58::decode(chars.as_bytes())
                .into_vec()
                .map_err(|_| RecoveryKeyError::DecodedLength { bytes: 0 })?,
        );
        Self::from_decoded(&bytes)
    }

    fn from_decoded(bytes: &[u8]) -> Result<Self, RecoveryKeyError> {
        if bytes.len() != DECODED_LEN {
            return Err(RecoveryKeyError::DecodedLength { bytes: bytes.len() });
        }
        let (body, check) = bytes.split_at(DECODED_LEN - 1);
        let (prefix, key) = body.split_at(2);
        if prefix != PREFIX {
            let mut found = [0u8; 2];
            found.copy_from_slice(prefix);
            return Err(RecoveryKeyError::Prefix { found });
        }
        if check != [parity(body)] {
            return Err(RecoveryKeyError::Parity);
        }
        let mut k = SecretBytes::<32>::zeroed();
        k.expose_mut().copy_from_slice(key);
        Ok(RecoveryKey(k))
    }

    /// The key in the form Element shows: base58 in groups of four characters.
    pub fn encode(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(DECODED_LEN));
        bytes.extend_from_slice(&PREFIX);
        bytes.extend_from_slice(self.0.expose());
        let p = parity(&bytes);
        bytes.push(p);
        let plain = Zeroizing::new(bs58::encode(&bytes[..]).into_string());
        let mut out = Zeroizing::new(String::with_capacity(plain.len() + plain.len() / 4));
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    }

    /// The 32 key bytes.
    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose()
    }

    /// The Curve25519 public key of the key taken as a backup private key (what a backup's
    /// `auth_data.public_key` holds).
    pub fn backup_public_key(&self) -> [u8; 32] {
        let secret = x25519_dalek::StaticSecret::from(*self.0.expose());
        x25519_dalek::PublicKey::from(&secret).to_bytes()
    }
}

/// One-character corrections of a mistyped key that decode with the right prefix and parity:
/// each bad character replaced, each character replaced (confusable ones first), each adjacent
/// pair swapped, one character inserted (key too short) or deleted (too long). The parity byte
/// catches most typos but lets about 1 in 256 wrong keys through, so several candidates can
/// appear; check them against the backup's public key.
pub fn suggest(text: &str) -> Vec<Zeroizing<String>> {
    let chars: Zeroizing<Vec<u8>> =
        Zeroizing::new(text.bytes().filter(|c| !c.is_ascii_whitespace()).collect());
    if RecoveryKey::decode(text).is_ok() || chars.len().abs_diff(CHARS) > 1 || !chars.is_ascii() {
        return Vec::new();
    }
    let mut out: Vec<Zeroizing<String>> = Vec::new();
    let mut try_candidate = |cand: &[u8]| {
        if cand.len() != CHARS || !cand.iter().all(|c| ALPHABET.contains(c)) {
            return;
        }
        let Ok(bytes) = bs58::decode(cand).into_vec() else {
            return;
        };
        let bytes = Zeroizing::new(bytes);
        if let Ok(k) = RecoveryKey::from_decoded(&bytes) {
            let enc = k.encode();
            if !out.iter().any(|o| **o == *enc) {
                out.push(enc);
            }
        }
    };
    let mut cand = Zeroizing::new(Vec::with_capacity(CHARS + 1));
    match chars.len().cmp(&CHARS) {
        std::cmp::Ordering::Equal => {
            // Likeliest first: confusable characters, then swapped neighbours, then any
            // single substitution.
            let confusable: &[(u8, &[u8])] = &[
                (b'0', b"o"),
                (b'O', b"o"),
                (b'I', b"1i"),
                (b'l', b"1iL"),
                (b'1', b"i"),
                (b'o', b"a"),
                (b'u', b"v"),
                (b'v', b"u"),
                (b'5', b"S"),
                (b'S', b"5"),
                (b'8', b"B"),
                (b'B', b"8"),
                (b'2', b"Z"),
                (b'Z', b"2"),
                (b'6', b"b"),
                (b'b', b"6"),
            ];
            fn substitute(
                chars: &[u8],
                pick: &dyn Fn(u8) -> &'static [u8],
                try_it: &mut dyn FnMut(&[u8]),
            ) {
                let mut cand = Zeroizing::new(chars.to_vec());
                for i in 0..chars.len() {
                    let Some(&orig) = chars.get(i) else { continue };
                    for &r in pick(orig) {
                        if let Some(slot) = cand.get_mut(i) {
                            *slot = r;
                        }
                        if r != orig {
                            try_it(&cand);
                        }
                    }
                    if let Some(slot) = cand.get_mut(i) {
                        *slot = orig;
                    }
                }
            }
            substitute(
                &chars,
                &|c| {
                    confusable
                        .iter()
                        .find(|(k, _)| *k == c)
                        .map_or(&[][..], |(_, o)| *o)
                },
                &mut try_candidate,
            );
            for i in 0..CHARS - 1 {
                cand.clear();
                cand.extend_from_slice(&chars);
                cand.swap(i, i + 1);
                try_candidate(&cand);
            }
            substitute(&chars, &|_| &ALPHABET[..], &mut try_candidate);
        }
        std::cmp::Ordering::Less => {
            for i in 0..=chars.len() {
                for &r in ALPHABET {
                    cand.clear();
                    cand.extend_from_slice(chars.get(..i).unwrap_or_default());
                    cand.push(r);
                    cand.extend_from_slice(chars.get(i..).unwrap_or_default());
                    try_candidate(&cand);
                }
            }
        }
        std::cmp::Ordering::Greater => {
            for i in 0..chars.len() {
                cand.clear();
                cand.extend_from_slice(chars.get(..i).unwrap_or_default());
                cand.extend_from_slice(chars.get(i + 1..).unwrap_or_default());
                try_candidate(&cand);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_is_placed_in_the_groups_element_shows() {
        assert_eq!(place_in_groups(1), "group 1, 1st character");
        assert_eq!(place_in_groups(11), "group 3, 3rd character");
        assert_eq!(place_in_groups(48), "group 12, 4th character");
        let marked = mark_in_groups("EsTa rV7P s0Vm", 10);
        assert_eq!(marked.as_str(), "EsTa rV7P s[0]Vm");
        let e = RecoveryKey::decode("EsTa rV7P s0Vm 1eUh kUVG zW2o H3rD Am5m Wgs6 PERx 7BLe UMXN")
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("character 10 of the key (group 3, 2nd character), '0'"),
            "{e}"
        );
    }

    #[test]
    fn kinds_serialize_as_their_names() {
        for (k, name) in [
            (RecoveryKeyKind::BadChar, "bad_char"),
            (RecoveryKeyKind::BadLength, "bad_length"),
            (RecoveryKeyKind::BadPrefix, "bad_prefix"),
            (RecoveryKeyKind::BadParity, "bad_parity"),
        ] {
            assert_eq!((k.as_str(), k.to_string().as_str()), (name, name));
            assert_eq!(serde_json::to_value(k).unwrap(), name);
        }
    }

    fn key(b: u8) -> RecoveryKey {
        RecoveryKey::from_bytes(&mut [b; 32])
    }

    #[test]
    fn encode_decode_round_trip_with_groups() {
        for b in [0u8, 1, 0x7f, 0xff] {
            let k = key(b);
            let text = k.encode();
            assert_eq!(text.len(), CHARS + CHARS / 4 - 1, "{}", &*text);
            assert!(text.split(' ').all(|g| g.len() == 4));
            let back = RecoveryKey::decode(&text.replace(' ', "\n  ")).unwrap();
            assert_eq!(back.expose(), k.expose());
        }
    }

    #[test]
    fn diagnoses_each_kind_of_typo() {
        let good = key(9).encode().replace(' ', "");
        let mut zero = good.clone().into_bytes();
        zero[5] = b'0';
        match RecoveryKey::decode(std::str::from_utf8(&zero).unwrap()) {
            Err(RecoveryKeyError::BadChar {
                position: 6,
                found: '0',
                hint,
            }) => {
                assert!(hint.contains("lowercase 'o'"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            RecoveryKey::decode(&good[1..]).unwrap_err(),
            RecoveryKeyError::Length { chars: 47 }
        );
        let msg = RecoveryKey::decode(&format!("{good}2"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("49 characters, more than the 48") && msg.contains("1 extra"),
            "{msg}"
        );
        let mut swapped = good.clone().into_bytes();
        swapped.swap(10, 11);
        if swapped != good.as_bytes() {
            let s = std::str::from_utf8(&swapped).unwrap();
            let e = RecoveryKey::decode(s).unwrap_err();
            assert!(
                matches!(
                    e,
                    RecoveryKeyError::Parity | RecoveryKeyError::Prefix { .. }
                ),
                "{e:?}"
            );
            let fixes = suggest(s);
            assert!(
                fixes.iter().any(|f| f.replace(' ', "") == good),
                "{}",
                fixes.len()
            );
        }
        // Another program's key: right length, wrong prefix.
        let mut other = vec![0x8Cu8, 0x02];
        other.extend_from_slice(&[1; 32]);
        other.push(parity(&other));
        let text = bs58::encode(&other).into_string();
        assert!(matches!(
            RecoveryKey::decode(&text),
            Err(RecoveryKeyError::Prefix {
                found: [0x8c, 0x02]
            })
        ));
    }

    #[test]
    fn suggestions_fix_deletions_and_insertions() {
        let good = key(3).encode().replace(' ', "");
        let short = format!("{}{}", &good[..20], &good[21..]);
        assert!(suggest(&short).iter().any(|f| f.replace(' ', "") == good));
        let long = format!("{}x{}", &good[..20], &good[20..]);
        assert!(suggest(&long).iter().any(|f| f.replace(' ', "") == good));
        assert!(suggest(&good).is_empty());
    }

    #[test]
    fn debug_is_redacted() {
        let k = key(0x41);
        assert_eq!(format!("{k:?}"), "RecoveryKey(<redacted>)");
    }
}
