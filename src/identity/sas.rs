//! SAS short authentication strings (spec "Short Authentication String (SAS) verification"):
//! the info string, the HKDF bytes, the emoji and decimals, the acceptor's commitment and the
//! X25519 shared secret; and [`SasTranscript`], the data of one verification read from JSON and
//! checked, from which the emoji and numbers follow.

use hkdf::Hkdf;
use serde_json::Value;
use sha2::{Digest, Sha256};

use zeroize::Zeroize;

use super::signed_json::{canonical_json, CanonicalError};
use crate::encoding::{decode_lenient, encode_unpadded};
use crate::secret::SecretBytes;

/// The 64 SAS emoji (spec `sas-emoji.json`): the emoji and its English name.
pub const SAS_EMOJI: [(&str, &str); 64] = [
    ("🐶", "Dog"),
    ("🐱", "Cat"),
    ("🦁", "Lion"),
    ("🐎", "Horse"),
    ("🦄", "Unicorn"),
    ("🐷", "Pig"),
    ("🐘", "Elephant"),
    ("🐰", "Rabbit"),
    ("🐼", "Panda"),
    ("🐓", "Rooster"),
    ("🐧", "Penguin"),
    ("🐢", "Turtle"),
    ("🐟", "Fish"),
    ("🐙", "Octopus"),
    ("🦋", "Butterfly"),
    ("🌷", "Flower"),
    ("🌳", "Tree"),
    ("🌵", "Cactus"),
    ("🍄", "Mushroom"),
    ("🌏", "Globe"),
    ("🌙", "Moon"),
    ("☁️", "Cloud"),
    ("🔥", "Fire"),
    ("🍌", "Banana"),
    ("🍎", "Apple"),
    ("🍓", "Strawberry"),
    ("🌽", "Corn"),
    ("🍕", "Pizza"),
    ("🎂", "Cake"),
    ("❤️", "Heart"),
    ("😀", "Smiley"),
    ("🤖", "Robot"),
    ("🎩", "Hat"),
    ("👓", "Glasses"),
    ("🔧", "Spanner"),
    ("🎅", "Santa"),
    ("👍", "Thumbs Up"),
    ("☂️", "Umbrella"),
    ("⌛", "Hourglass"),
    ("⏰", "Clock"),
    ("🎁", "Gift"),
    ("💡", "Light Bulb"),
    ("📕", "Book"),
    ("✏️", "Pencil"),
    ("📎", "Paperclip"),
    ("✂️", "Scissors"),
    ("🔒", "Lock"),
    ("🔑", "Key"),
    ("🔨", "Hammer"),
    ("☎️", "Telephone"),
    ("🏁", "Flag"),
    ("🚂", "Train"),
    ("🚲", "Bicycle"),
    ("✈️", "Aeroplane"),
    ("🚀", "Rocket"),
    ("🏆", "Trophy"),
    ("⚽", "Ball"),
    ("🎸", "Guitar"),
    ("🎺", "Trumpet"),
    ("🔔", "Bell"),
    ("⚓", "Anchor"),
    ("🎧", "Headphones"),
    ("📁", "Folder"),
    ("📌", "Pin"),
];

/// The SAS info string.
pub fn sas_info(
    start: (&str, &str, &str),
    accept: (&str, &str, &str),
    transaction_id: &str,
) -> String {
    format!(
        "MATRIX_KEY_VERIFICATION_SAS|{}|{}|{}|{}|{}|{}|{}",
        start.0, start.1, start.2, accept.0, accept.1, accept.2, transaction_id
    )
}

/// HKDF-SHA-256(shared secret, no salt, info) -> 6 bytes.
pub fn sas_bytes(shared: &[u8; 32], info: &str) -> [u8; 6] {
    let mut out = [0u8; 6];
    let _ = Hkdf::<Sha256>::new(None, shared).expand(info.as_bytes(), &mut out);
    out
}

/// The 7 emoji indexes: the first 42 bits in groups of 6.
pub fn sas_emoji(bytes: &[u8; 6]) -> [u8; 7] {
    let n = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut out = [0u8; 7];
    for (i, e) in out.iter_mut().enumerate() {
        *e = ((n >> (42 - 6 * i)) & 0x3f) as u8;
    }
    out
}

/// The three 4-digit numbers: the first 39 bits in groups of 13, plus 1000.
pub fn sas_decimals(bytes: &[u8; 6]) -> [u16; 3] {
    let n = bytes
        .iter()
        .take(5)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    [
        ((n >> 27) & 0x1fff) as u16 + 1000,
        ((n >> 14) & 0x1fff) as u16 + 1000,
        ((n >> 1) & 0x1fff) as u16 + 1000,
    ]
}

/// The commitment the acceptor sends: unpadded base64 of SHA-256 over its public key (the
/// base64 text) followed by the canonical JSON of the start content.
///
/// # Errors
/// When the start content has no canonical form.
pub fn sas_commitment(
    accept_public_b64: &str,
    start_content: &Value,
) -> Result<String, CanonicalError> {
    let mut h = Sha256::new();
    h.update(accept_public_b64.as_bytes());
    h.update(canonical_json(start_content)?.as_bytes());
    Ok(encode_unpadded(&h.finalize()))
}

/// The X25519 shared secret from one side's private key and the other's public key; `None` when
/// it is all zeros (the public key is a low-order point, which every client refuses: the secret
/// would be known to anyone).
pub fn sas_shared_secret(private: &[u8; 32], public: &[u8; 32]) -> Option<[u8; 32]> {
    let s = x25519_dalek::StaticSecret::from(*private);
    let shared = s.diffie_hellman(&x25519_dalek::PublicKey::from(*public));
    shared.was_contributory().then(|| shared.to_bytes())
}

/// One side of an SAS verification as the transcript names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SasSide {
    /// Its user id.
    pub user_id: String,
    /// Its device id.
    pub device_id: String,
    /// Its ephemeral Curve25519 public key, unpadded base64 as `m.key.verification.key` sends it
    /// (the text goes into the info string and the commitment as written).
    pub ephemeral_public_key: String,
}

impl SasSide {
    /// User id, device id and key, as [`sas_info`] takes them.
    fn parts(&self) -> (&str, &str, &str) {
        (&self.user_id, &self.device_id, &self.ephemeral_public_key)
    }
}

/// Why an SAS transcript cannot be used; the first failure in the order the fields are read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SasTranscriptError {
    /// A user id, device id, ephemeral public key or the transaction id is missing, empty or not
    /// a string.
    #[error("the transcript needs start and accept {{user_id, device_id, ephemeral_public_key}} and transaction_id")]
    Incomplete,
    /// `key_agreement_protocol` or `hash` names another method than the one supported.
    #[error("{field} {value} is not supported (only {only}, the one current clients use)")]
    Unsupported {
        /// The field.
        field: &'static str,
        /// Its value, as JSON.
        value: String,
        /// The one value supported.
        only: &'static str,
    },
    /// An ephemeral public key is not 32 bytes of base64.
    #[error("{side}.ephemeral_public_key is not 32 bytes of base64")]
    PublicKey {
        /// `start` or `accept`.
        side: &'static str,
    },
    /// `shared_secret` or an ephemeral private key is given but is not 32 bytes of unpadded
    /// base64.
    #[error("{name} is not 32 bytes of unpadded base64")]
    Secret {
        /// `shared_secret`, `ephemeral_private_keys.start` or `ephemeral_private_keys.accept`.
        name: String,
    },
    /// The other side's public key is a low-order point, so the X25519 secret is all zeros.
    #[error("{side}.ephemeral_public_key is a low-order point: the shared secret is all zeros, which no client accepts (an attack or a broken client)")]
    LowOrder {
        /// The side whose public key it is: `start` or `accept`.
        side: &'static str,
    },
    /// `shared_secret` and the secret an ephemeral private key gives differ.
    #[error("shared_secret does not match the one {name} gives")]
    SecretMismatch {
        /// `ephemeral_private_keys.start` or `ephemeral_private_keys.accept`.
        name: String,
    },
    /// Neither the shared secret nor an ephemeral private key is in the transcript.
    #[error("the transcript has neither the shared secret nor an ephemeral private key: the SAS cannot be derived from public data alone")]
    NoSecret,
}

/// What both devices of an SAS verification show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sas {
    /// The 6 bytes HKDF gives ([`sas_bytes`]).
    pub bytes: [u8; 6],
    /// The 7 emoji, as indexes into [`SAS_EMOJI`] ([`sas_emoji`]).
    pub emoji: [u8; 7],
    /// The 3 four-digit numbers ([`sas_decimals`]).
    pub decimals: [u16; 3],
}

/// The data of one SAS verification, checked: both sides, the transaction id, whether the
/// acceptor's commitment matches, and the shared secret if the transcript gives it.
///
/// A transcript is a JSON object (the data of the `m.key.verification.*` messages; see
/// test-vectors/identity/README.md):
///
/// ```json
/// {"transaction_id": "...",
///  "start": {"user_id": "...", "device_id": "...", "ephemeral_public_key": "..."},
///  "accept": {"user_id": "...", "device_id": "...", "ephemeral_public_key": "..."},
///  "commitment": "...", "start_content": {"...": "the m.key.verification.start content"},
///  "shared_secret": "unpadded base64",
///  "ephemeral_private_keys": {"start": "...", "accept": "..."}}
/// ```
///
/// `commitment` and `start_content` are optional, and so are the secrets: the shared secret, the
/// ephemeral private key of either side, or several of them (which must agree).
/// `key_agreement_protocol` and `hash`, when present, must be `curve25519-hkdf-sha256` and
/// `sha256`. Other fields are ignored.
#[derive(Debug, Clone)]
pub struct SasTranscript {
    /// The side that sent `m.key.verification.start`.
    pub start: SasSide,
    /// The side that sent `m.key.verification.accept`.
    pub accept: SasSide,
    /// The verification's transaction id (or the event id of a verification in a room).
    pub transaction_id: String,
    /// Whether the acceptor's commitment matches its public key and the start content; `None`
    /// when the transcript lacks the commitment or the start content. A start content with no
    /// canonical form matches no commitment.
    pub commitment_matches: Option<bool>,
    shared_secret: Option<SecretBytes<32>>,
}

impl SasTranscript {
    /// Read and check a transcript: every field there, supported methods, 32-byte public keys,
    /// readable secrets, none of them from a low-order point, all of them the same.
    ///
    /// # Errors
    /// [`SasTranscriptError`], the first failure in that order.
    pub fn parse(t: &Value) -> Result<Self, SasTranscriptError> {
        let field = |a: &str, b: &str| {
            t.get(a)
                .and_then(|x| x.get(b))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (su, sd, sk) = (
            field("start", "user_id"),
            field("start", "device_id"),
            field("start", "ephemeral_public_key"),
        );
        let (au, ad, ak) = (
            field("accept", "user_id"),
            field("accept", "device_id"),
            field("accept", "ephemeral_public_key"),
        );
        let txid = t
            .get("transaction_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if su.is_empty()
            || sd.is_empty()
            || sk.is_empty()
            || au.is_empty()
            || ad.is_empty()
            || ak.is_empty()
            || txid.is_empty()
        {
            return Err(SasTranscriptError::Incomplete);
        }
        for (field, only) in [
            ("key_agreement_protocol", "curve25519-hkdf-sha256"),
            ("hash", "sha256"),
        ] {
            match t.get(field) {
                None | Some(Value::Null) => {}
                Some(Value::String(v)) if v == only => {}
                Some(other) => {
                    return Err(SasTranscriptError::Unsupported {
                        field,
                        value: other.to_string(),
                        only,
                    })
                }
            }
        }
        let commitment = match (
            t.get("commitment").and_then(Value::as_str),
            t.get("start_content"),
        ) {
            (Some(c), Some(start)) if !start.is_null() => {
                Some(sas_commitment(&ak, start).map(|x| x == c).unwrap_or(false))
            }
            _ => None,
        };
        let key32 = |s: &str| {
            decode_lenient(s)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
        };
        let public = |side: &'static str, key: &str| {
            key32(key).ok_or(SasTranscriptError::PublicKey { side })
        };
        let keys = [
            ("start", public("start", &sk)?),
            ("accept", public("accept", &ak)?),
        ];
        // A secret given but unreadable is an error, not a reason to look for another one.
        let given = |name: &str, v: Option<&Value>| match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => {
                v.as_str()
                    .and_then(key32)
                    .map(Some)
                    .ok_or_else(|| SasTranscriptError::Secret {
                        name: name.to_owned(),
                    })
            }
        };
        let mut secret = given("shared_secret", t.get("shared_secret"))?;
        let privs = t.get("ephemeral_private_keys");
        for (i, (me, _)) in keys.iter().enumerate() {
            let name = format!("ephemeral_private_keys.{me}");
            let Some(mut p) = given(&name, privs.and_then(|x| x.get(*me)))? else {
                continue;
            };
            let Some((their_side, theirs)) = keys.get(1 - i) else {
                continue;
            };
            let derived = sas_shared_secret(&p, theirs);
            p.zeroize();
            let derived = derived.ok_or(SasTranscriptError::LowOrder { side: their_side })?;
            if secret.is_some_and(|s| s != derived) {
                return Err(SasTranscriptError::SecretMismatch { name });
            }
            secret = Some(derived);
        }
        Ok(SasTranscript {
            start: SasSide {
                user_id: su,
                device_id: sd,
                ephemeral_public_key: sk,
            },
            accept: SasSide {
                user_id: au,
                device_id: ad,
                ephemeral_public_key: ak,
            },
            transaction_id: txid.to_owned(),
            commitment_matches: commitment,
            shared_secret: secret.as_mut().map(SecretBytes::from_array),
        })
    }

    /// The SAS info string of this verification ([`sas_info`]).
    pub fn info(&self) -> String {
        sas_info(
            self.start.parts(),
            self.accept.parts(),
            &self.transaction_id,
        )
    }

    /// The emoji and numbers both devices show.
    ///
    /// # Errors
    /// [`SasTranscriptError::NoSecret`] when the transcript has neither the shared secret nor an
    /// ephemeral private key.
    pub fn sas(&self) -> Result<Sas, SasTranscriptError> {
        let Some(secret) = &self.shared_secret else {
            return Err(SasTranscriptError::NoSecret);
        };
        let bytes = sas_bytes(secret.expose(), &self.info());
        Ok(Sas {
            bytes,
            emoji: sas_emoji(&bytes),
            decimals: sas_decimals(&bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_low_order_sas_key_gives_no_secret() {
        // 0 and 1 are low-order points of Curve25519 (RFC 7748 section 6.1 asks to refuse them).
        for point in [[0u8; 32], {
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        }] {
            assert_eq!(sas_shared_secret(&[7; 32], &point), None);
        }
        assert!(sas_shared_secret(&[7; 32], &[9; 32]).is_some());
    }

    #[test]
    fn sas_bit_layout() {
        let b = [0xffu8; 6];
        assert_eq!(sas_emoji(&b), [63; 7]);
        assert_eq!(sas_decimals(&b), [9191; 3]);
        assert_eq!(sas_decimals(&[0; 6]), [1000; 3]);
    }

    /// libolm's transcript with fixed keys: both private keys, the shared secret, the commitment.
    fn libolm() -> Value {
        serde_json::from_str(include_str!(
            "../../test-vectors/identity/sas/libolm-fixed-keys.json"
        ))
        .unwrap()
    }

    #[test]
    fn a_transcript_gives_its_info_commitment_and_sas() {
        let v = libolm();
        let t = SasTranscript::parse(&v).unwrap();
        assert_eq!(t.info(), v["sas_info"].as_str().unwrap());
        assert_eq!(t.start.device_id, "ALICEDEV1");
        assert_eq!(t.accept.user_id, "@bob:example.org");
        assert_eq!(t.commitment_matches, Some(true));
        let sas = t.sas().unwrap();
        assert_eq!(hex::encode(sas.bytes), v["sas_bytes"].as_str().unwrap());
        assert_eq!(sas.emoji, [63, 62, 4, 49, 58, 61, 48]);
        assert_eq!(sas.decimals, [9188, 2223, 6614]);
        // The shared secret stays out of Debug.
        let secret = decode_lenient(v["shared_secret"].as_str().unwrap()).unwrap();
        let shown = format!("{t:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains(&format!("{secret:?}")), "{shown}");
    }

    #[test]
    fn any_one_secret_is_enough() {
        let v = libolm();
        let want = SasTranscript::parse(&v).unwrap().sas().unwrap();
        for keep in ["shared_secret", "start", "accept"] {
            let mut t = v.clone();
            if keep != "shared_secret" {
                t["shared_secret"] = Value::Null;
            }
            for side in ["start", "accept"] {
                if side != keep {
                    t["ephemeral_private_keys"][side] = Value::Null;
                }
            }
            let got = SasTranscript::parse(&t).unwrap().sas();
            assert_eq!(got, Ok(want), "{keep}");
        }
    }

    #[test]
    fn without_a_secret_only_the_sas_is_refused() {
        let mut v = libolm();
        let obj = v.as_object_mut().unwrap();
        obj.remove("shared_secret");
        obj.remove("ephemeral_private_keys");
        let t = SasTranscript::parse(&v).unwrap();
        assert_eq!(t.info(), v["sas_info"].as_str().unwrap());
        assert_eq!(t.commitment_matches, Some(true));
        assert_eq!(t.sas(), Err(SasTranscriptError::NoSecret));
    }

    #[test]
    fn a_commitment_is_checked_only_when_it_can_be() {
        let with = |k: &str, x: Value| {
            let mut v = libolm();
            v[k] = x;
            SasTranscript::parse(&v).unwrap().commitment_matches
        };
        assert_eq!(with("commitment", Value::from("A".repeat(43))), Some(false));
        assert_eq!(with("commitment", Value::from(5)), None);
        assert_eq!(with("start_content", Value::Null), None);
        // No canonical form: it matches nothing.
        assert_eq!(
            with("start_content", serde_json::json!({"a": 1.5})),
            Some(false)
        );
    }

    #[test]
    fn each_refusal_says_what_is_wrong() {
        use SasTranscriptError as E;
        let zero_key = "A".repeat(43);
        let other_secret = format!("{}B", "A".repeat(42));
        type Change = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Change, E)> = vec![
            (
                "no transaction id",
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("transaction_id");
                }),
                E::Incomplete,
            ),
            (
                "empty device id",
                Box::new(|v| v["start"]["device_id"] = "".into()),
                E::Incomplete,
            ),
            (
                "numeric user id",
                Box::new(|v| v["accept"]["user_id"] = 5.into()),
                E::Incomplete,
            ),
            (
                "another hash",
                Box::new(|v| v["hash"] = "sha512".into()),
                E::Unsupported {
                    field: "hash",
                    value: "\"sha512\"".into(),
                    only: "sha256",
                },
            ),
            (
                "another key agreement",
                Box::new(|v| v["key_agreement_protocol"] = 1.into()),
                E::Unsupported {
                    field: "key_agreement_protocol",
                    value: "1".into(),
                    only: "curve25519-hkdf-sha256",
                },
            ),
            (
                "short public key",
                Box::new(|v| v["accept"]["ephemeral_public_key"] = "AAAA".into()),
                E::PublicKey { side: "accept" },
            ),
            (
                "numeric shared secret",
                Box::new(|v| v["shared_secret"] = 5.into()),
                E::Secret {
                    name: "shared_secret".into(),
                },
            ),
            (
                "bad private key",
                Box::new(|v| v["ephemeral_private_keys"]["accept"] = "!!".into()),
                E::Secret {
                    name: "ephemeral_private_keys.accept".into(),
                },
            ),
            (
                "low-order public key",
                Box::new(move |v| {
                    v["start"]["ephemeral_public_key"] = zero_key.clone().into();
                    v["shared_secret"] = Value::Null;
                    v["ephemeral_private_keys"]["start"] = Value::Null;
                }),
                E::LowOrder { side: "start" },
            ),
            (
                "another shared secret",
                Box::new(move |v| v["shared_secret"] = other_secret.clone().into()),
                E::SecretMismatch {
                    name: "ephemeral_private_keys.start".into(),
                },
            ),
            (
                // Incomplete comes first, then the methods, then the keys, then the secrets.
                "several faults",
                Box::new(|v| {
                    v["hash"] = "sha512".into();
                    v["start"]["ephemeral_public_key"] = "AAAA".into();
                    v["shared_secret"] = 5.into();
                }),
                E::Unsupported {
                    field: "hash",
                    value: "\"sha512\"".into(),
                    only: "sha256",
                },
            ),
        ];
        for (what, change, want) in cases {
            let mut v = libolm();
            change(&mut v);
            assert_eq!(SasTranscript::parse(&v).err(), Some(want), "{what}");
        }
        assert_eq!(
            SasTranscript::parse(&Value::Null).err(),
            Some(E::Incomplete)
        );
    }

    #[test]
    fn refusals_read_as_before() {
        // The CLI prints these lines unchanged (tests/cli_identity.rs, test-vectors/malformed).
        let e = SasTranscriptError::Unsupported {
            field: "hash",
            value: "\"sha512\"".into(),
            only: "sha256",
        };
        assert_eq!(
            e.to_string(),
            r#"hash "sha512" is not supported (only sha256, the one current clients use)"#
        );
        let e = SasTranscriptError::LowOrder { side: "start" };
        assert!(e
            .to_string()
            .starts_with("start.ephemeral_public_key is a low-order point"));
        let e = SasTranscriptError::SecretMismatch {
            name: "ephemeral_private_keys.accept".into(),
        };
        assert_eq!(
            e.to_string(),
            "shared_secret does not match the one ephemeral_private_keys.accept gives"
        );
    }
}
