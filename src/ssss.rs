//! Secret storage, `m.secret_storage.v1.aes-hmac-sha2` (spec "Storage"/"Secret storage" of the
//! client-server API): the account data where clients keep the cross-signing private keys and the
//! backup key, encrypted under a key the user holds as a Security Key or derives from a Security
//! Phrase.
//!
//! Layout: the default key id is account data `m.secret_storage.default_key` `{"key": KEYID}`;
//! its description is `m.secret_storage.key.KEYID` `{algorithm, name?, iv, mac, passphrase?:
//! {algorithm: "m.pbkdf2", salt, iterations, bits? = 256}}`; each secret is account data under
//! its own name (`m.cross_signing.master`, `.self_signing`, `.user_signing`,
//! `m.megolm_backup.v1`) `{"encrypted": {KEYID: {iv, ciphertext, mac}}}`, and its plaintext is
//! the unpadded base64 of the secret's bytes. A Security Phrase gives the key by
//! PBKDF2-HMAC-SHA-512(phrase, salt as UTF-8 bytes, iterations, bits); a Security Key is the
//! recovery-key encoding of the 32 key bytes. IVs are 16 random bytes with bit 63 cleared.
//! Clients write base64 padded or not: both are read.
//!
//! Per secret: HKDF-SHA-256(key, salt = 32 zero bytes, info = secret name) -> AES-256-CTR key |
//! HMAC-SHA-256 key; the MAC covers the ciphertext and is checked before decrypting. The key
//! itself is checked first against its description's `iv`/`mac` (the encryption of 32 zero bytes
//! under the name ""), so a wrong key is reported as such, not as a damaged secret.
//!
//! Old descriptions (matrix-js-sdk 6) have no `iv`/`mac`. Such a key can still be confirmed by
//! the MAC of a secret already stored under it ([`AccountData::probes`], [`confirm_key`]): only
//! the right key matches. Whoever writes with a key should confirm it first, since a secret
//! encrypted under a wrong key is lost once uploaded; [`check_secret_value`] checks the value of
//! a well-known secret before it is encrypted.

use aes::cipher::{KeyIvInit, StreamCipher};
use hkdf::Hkdf;
use hmac::Mac;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::encoding::{decode_lenient, encode_unpadded};
use crate::error::Error;
use crate::export::container::{hmac_sha256, Aes256Ctr};
use crate::kdf::{self, IterationsError, Limits, Rounds};
use crate::recovery_key::RecoveryKey;
use crate::secret::{Passphrase, SecretBytes};

/// The secret-storage algorithm this module implements.
pub const ALGORITHM: &str = "m.secret_storage.v1.aes-hmac-sha2";
/// Account-data type naming the default key.
pub const DEFAULT_KEY: &str = "m.secret_storage.default_key";
/// Prefix of key descriptions' account-data types.
pub const KEY_PREFIX: &str = "m.secret_storage.key.";

/// The well-known secrets, in the order they are shown.
pub const KNOWN_SECRETS: [&str; 4] = [
    "m.cross_signing.master",
    "m.cross_signing.self_signing",
    "m.cross_signing.user_signing",
    "m.megolm_backup.v1",
];

/// A user's account data, as `{type: content}`.
#[derive(Debug, Clone)]
pub struct AccountData(Map<String, Value>);

/// `m.pbkdf2` parameters of a key made from a Security Phrase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PassphraseInfo {
    /// Salt, used as its UTF-8 bytes.
    pub salt: String,
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// Key length in bits (256).
    pub bits: u32,
}

/// A key description, `m.secret_storage.key.ID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyDescription {
    /// The key id.
    pub id: String,
    /// Its human name, if any.
    pub name: Option<String>,
    /// Key-check IV and MAC; old descriptions may lack them.
    #[serde(skip)]
    pub check: Option<([u8; 16], Vec<u8>)>,
    /// Present when the key can be derived from a Security Phrase.
    pub passphrase: Option<PassphraseInfo>,
    /// Why the passphrase information cannot be used (unknown algorithm, missing fields); the
    /// Security Key still works. Serialized as its message.
    #[serde(serialize_with = "problem_text")]
    pub passphrase_problem: Option<PhraseProblem>,
}

fn problem_text<S: serde::Serializer>(p: &Option<PhraseProblem>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.collect_str(p),
        None => s.serialize_none(),
    }
}

/// Why the `passphrase` of a key description cannot be used
/// ([`KeyDescription::passphrase_problem`], [`SsssError::PhraseUnusable`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhraseProblem {
    /// An algorithm other than `m.pbkdf2` (`(none)` when it has none).
    #[error("Security Phrase algorithm {algorithm} is not supported (only m.pbkdf2)")]
    Algorithm {
        /// The algorithm found.
        algorithm: String,
    },
    /// No `salt` string.
    #[error("the Security Phrase has no salt")]
    NoSalt,
    /// `iterations` is missing or not a round count.
    #[error("{0}")]
    Iterations(#[from] IterationsError),
}

/// What exactly is wrong with secret-storage account data, a key description or a secret's
/// payload, or why a Security Phrase cannot be used ([`Error::Ssss`]). A wrong key, a secret
/// that fails its MAC or is not stored under the key are [`Error`] variants of their own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SsssError {
    /// An event of a list of account-data events has no `type`.
    #[error("account-data event {index} has no \"type\"")]
    EventNoType {
        /// 1-based position in the list.
        index: usize,
    },
    /// The document is neither an object `{type: content}` nor a list of events.
    #[error("account data must be a JSON object {{type: content}} or a list of events")]
    NotAccountData,
    /// No key description `m.secret_storage.key.ID` (or it is not an object).
    #[error("no key description {KEY_PREFIX}{key_id} in the account data")]
    NoKeyDescription {
        /// The key id asked for.
        key_id: String,
    },
    /// The key description names another algorithm (`(none)` when it has none).
    #[error("key {key_id} uses algorithm {algorithm}; only {ALGORITHM} is supported")]
    KeyAlgorithm {
        /// The key id.
        key_id: String,
        /// The algorithm found.
        algorithm: String,
    },
    /// The key check `iv` is not 16 bytes of base64.
    #[error("key {key_id}: iv is not 16 bytes of base64")]
    KeyIv {
        /// The key id.
        key_id: String,
    },
    /// The key check `mac` is not base64.
    #[error("key {key_id}: mac is not base64")]
    KeyMac {
        /// The key id.
        key_id: String,
    },
    /// No key description at all, and no key id given.
    #[error("the account data has no secret-storage key (m.secret_storage.key.*); include it in the file")]
    NoKey,
    /// The secret asked for is not in the account data (or has no `encrypted`).
    #[error("the account data has no secret {secret}")]
    NoSecret {
        /// The secret's name.
        secret: String,
    },
    /// A Security Phrase was given for a key made without one.
    #[error("key {key_id} has no Security Phrase; use its Security Key")]
    NoPhrase {
        /// The key id.
        key_id: String,
    },
    /// The key's Security Phrase parameters cannot be used: the description's
    /// [`KeyDescription::passphrase_problem`].
    #[error("key {key_id}: {problem}")]
    PhraseUnusable {
        /// The key id.
        key_id: String,
        /// What is wrong with its `passphrase`.
        problem: PhraseProblem,
    },
    /// The Security Phrase asks for a key length other than 256 bits.
    #[error("the passphrase asks for a {bits}-bit key; only 256 is defined")]
    PhraseBits {
        /// The `bits` found.
        bits: u32,
    },
    /// A field of a secret's payload `{iv, ciphertext, mac}` is missing or not a string.
    #[error("secret {secret}: no \"{field}\" string")]
    PayloadField {
        /// The secret's name.
        secret: String,
        /// `iv`, `ciphertext` or `mac`.
        field: &'static str,
    },
    /// A field of a secret's payload is not base64.
    #[error("secret {secret}: {field} is not base64")]
    PayloadBase64 {
        /// The secret's name.
        secret: String,
        /// `iv`, `ciphertext` or `mac`.
        field: &'static str,
    },
    /// A secret's payload `iv` is not 16 bytes.
    #[error("secret {secret}: iv is not 16 bytes")]
    PayloadIv {
        /// The secret's name.
        secret: String,
    },
    /// A secret passed its MAC check but its plaintext is not UTF-8.
    #[error("secret {secret} is not UTF-8 text after decryption")]
    NotUtf8 {
        /// The secret's name.
        secret: String,
    },
    /// The value of a well-known secret to encrypt is not base64 (its length in characters is
    /// given, never the value).
    #[error("the value for {secret} is not base64 ({chars} characters); {what} is 32 bytes in base64 (43 characters, or 44 with padding)")]
    ValueNotBase64 {
        /// The secret's name.
        secret: String,
        /// Characters in the value.
        chars: usize,
        /// What the secret is, e.g. "an Ed25519 seed".
        what: &'static str,
    },
    /// The value of a well-known secret to encrypt is not 32 bytes.
    #[error("the value for {secret} is {len} bytes after base64 decoding; {what} is 32 bytes in base64 (43 characters, or 44 with padding)")]
    ValueLength {
        /// The secret's name.
        secret: String,
        /// Bytes after decoding.
        len: usize,
        /// What the secret is, e.g. "an Ed25519 seed".
        what: &'static str,
    },
}

impl PassphraseInfo {
    /// Check the parameters before anything is derived: a 256-bit key, and rounds within
    /// `limits`.
    ///
    /// # Errors
    /// [`SsssError::PhraseBits`] (as [`Error::Ssss`]) for bits other than 256; rounds errors.
    pub fn rounds(&self, limits: &Limits) -> Result<Rounds, Error> {
        if self.bits != 256 {
            return Err(SsssError::PhraseBits { bits: self.bits }.into());
        }
        limits.rounds(self.iterations)
    }
}

impl KeyDescription {
    /// The Security Phrase this key was made from, its parameters checked
    /// ([`PassphraseInfo::rounds`]): what turns a phrase into this key, for unlocking or for
    /// testing candidates.
    ///
    /// # Errors
    /// [`SsssError::PhraseUnusable`] when the description's phrase parameters cannot be read
    /// ([`KeyDescription::passphrase_problem`]), [`SsssError::NoPhrase`] when it has none,
    /// [`SsssError::PhraseBits`] (all as [`Error::Ssss`]); rounds errors.
    pub fn passphrase_info(&self, limits: &Limits) -> Result<(&PassphraseInfo, Rounds), Error> {
        let info = self
            .passphrase
            .as_ref()
            .ok_or_else(|| match &self.passphrase_problem {
                Some(problem) => SsssError::PhraseUnusable {
                    key_id: self.id.clone(),
                    problem: problem.clone(),
                },
                None => SsssError::NoPhrase {
                    key_id: self.id.clone(),
                },
            })?;
        Ok((info, info.rounds(limits)?))
    }
}

impl AccountData {
    /// Accept `{type: content}` or a list of events `[{"type", "content"}]` (the shape of /sync's
    /// `account_data.events`), or `{"events": [...]}`.
    ///
    /// # Errors
    /// [`SsssError::EventNoType`], [`SsssError::NotAccountData`] (as [`Error::Ssss`]).
    pub fn parse(doc: &Value) -> Result<Self, Error> {
        let events = match doc {
            Value::Array(a) => Some(a),
            Value::Object(o) => match o.get("events") {
                Some(Value::Array(a)) => Some(a),
                _ => None,
            },
            _ => None,
        };
        if let Some(events) = events {
            let mut map = Map::new();
            for (i, e) in events.iter().enumerate() {
                let t = e
                    .get("type")
                    .and_then(Value::as_str)
                    .ok_or(SsssError::EventNoType { index: i + 1 })?;
                let c = e.get("content").cloned().unwrap_or(Value::Null);
                map.insert(t.to_owned(), c);
            }
            return Ok(AccountData(map));
        }
        match doc {
            Value::Object(o) => Ok(AccountData(o.clone())),
            _ => Err(SsssError::NotAccountData.into()),
        }
    }

    /// The default key id, if set.
    pub fn default_key_id(&self) -> Option<&str> {
        self.0.get(DEFAULT_KEY)?.get("key")?.as_str()
    }

    /// Ids of every key description present.
    pub fn key_ids(&self) -> Vec<String> {
        self.0
            .keys()
            .filter_map(|k| k.strip_prefix(KEY_PREFIX).map(str::to_owned))
            .collect()
    }

    /// Secrets present (any account data with an `encrypted` object), with the key ids each is
    /// encrypted under. Known secrets first.
    pub fn secrets(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = self
            .0
            .iter()
            .filter_map(|(name, c)| {
                let enc = c.get("encrypted")?.as_object()?;
                Some((name.clone(), enc.keys().cloned().collect()))
            })
            .collect();
        out.sort_by_key(|(n, _)| {
            (
                KNOWN_SECRETS.iter().position(|k| k == n).unwrap_or(99),
                n.clone(),
            )
        });
        out
    }

    /// Parse a key description.
    ///
    /// # Errors
    /// [`Error::Ssss`] when it is missing or malformed ([`SsssError::NoKeyDescription`],
    /// [`SsssError::KeyAlgorithm`], [`SsssError::KeyIv`], [`SsssError::KeyMac`]).
    pub fn key(&self, id: &str) -> Result<KeyDescription, Error> {
        let c = self
            .0
            .get(&format!("{KEY_PREFIX}{id}"))
            .and_then(Value::as_object)
            .ok_or_else(|| SsssError::NoKeyDescription {
                key_id: id.to_owned(),
            })?;
        let alg = c
            .get("algorithm")
            .and_then(Value::as_str)
            .unwrap_or("(none)");
        if alg != ALGORITHM {
            return Err(SsssError::KeyAlgorithm {
                key_id: id.to_owned(),
                algorithm: alg.to_owned(),
            }
            .into());
        }
        let check = match (
            c.get("iv").and_then(Value::as_str),
            c.get("mac").and_then(Value::as_str),
        ) {
            (Some(iv), Some(mac)) => {
                let iv = decode_lenient(iv)
                    .ok()
                    .and_then(|b| <[u8; 16]>::try_from(b).ok())
                    .ok_or_else(|| SsssError::KeyIv {
                        key_id: id.to_owned(),
                    })?;
                let mac = decode_lenient(mac).map_err(|_| SsssError::KeyMac {
                    key_id: id.to_owned(),
                })?;
                Some((iv, mac))
            }
            _ => None,
        };
        let (passphrase, passphrase_problem) = match c.get("passphrase") {
            None | Some(Value::Null) => (None, None),
            Some(p) => match parse_passphrase(p) {
                Ok(info) => (Some(info), None),
                Err(why) => (None, Some(why)),
            },
        };
        Ok(KeyDescription {
            id: id.to_owned(),
            name: c.get("name").and_then(Value::as_str).map(str::to_owned),
            check,
            passphrase,
            passphrase_problem,
        })
    }

    /// The key to use: `explicit`, else the default key, else the only key.
    ///
    /// # Errors
    /// [`SsssError::NoKey`] (as [`Error::Ssss`]) when there is no key,
    /// [`Error::SsssSeveralKeys`] when there are several and no default; as [`AccountData::key`].
    pub fn resolve_key(&self, explicit: Option<&str>) -> Result<KeyDescription, Error> {
        let id = match (explicit, self.default_key_id()) {
            (Some(id), _) | (None, Some(id)) => id.to_owned(),
            (None, None) => match self.key_ids().as_slice() {
                [only] => only.clone(),
                [] => return Err(SsssError::NoKey.into()),
                many => {
                    return Err(Error::SsssSeveralKeys {
                        keys: many.join(", "),
                    })
                }
            },
        };
        self.key(&id)
    }

    /// The encrypted payload of `secret` under `key_id`.
    ///
    /// # Errors
    /// [`SsssError::NoSecret`] (as [`Error::Ssss`]) when the secret is missing,
    /// [`Error::SsssNoKey`] when that key's copy is.
    pub fn encrypted(&self, secret: &str, key_id: &str) -> Result<&Value, Error> {
        let enc = self
            .0
            .get(secret)
            .and_then(|c| c.get("encrypted"))
            .ok_or_else(|| SsssError::NoSecret {
                secret: secret.to_owned(),
            })?;
        enc.get(key_id).ok_or_else(|| Error::SsssNoKey {
            secret: secret.to_owned(),
            key_id: key_id.to_owned(),
        })
    }

    /// The secrets stored under `key_id` whose copy is well formed, known secrets first: what
    /// can confirm a key whose description has no check (see [`confirm_key`]).
    pub fn probes(&self, key_id: &str) -> Vec<Probe> {
        self.secrets()
            .into_iter()
            .filter(|(_, ids)| ids.iter().any(|i| i == key_id))
            .filter_map(|(name, _)| {
                let sealed = Sealed::parse(&name, self.encrypted(&name, key_id).ok()?).ok()?;
                Some(Probe { name, sealed })
            })
            .collect()
    }

    /// Set `secret`'s copy under `key_id`, keeping other keys' copies.
    pub fn set_encrypted(&mut self, secret: &str, key_id: &str, payload: Value) {
        let entry = self
            .0
            .entry(secret.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        if let Some(obj) = entry.as_object_mut() {
            let enc = obj
                .entry("encrypted")
                .or_insert_with(|| Value::Object(Map::new()));
            if !enc.is_object() {
                *enc = Value::Object(Map::new());
            }
            if let Some(e) = enc.as_object_mut() {
                e.insert(key_id.to_owned(), payload);
            }
        }
    }

    /// The content of one account-data type, as given.
    pub fn content(&self, event_type: &str) -> Option<&Value> {
        self.0.get(event_type)
    }

    /// The account data as `{type: content}`.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

fn parse_passphrase(p: &Value) -> Result<PassphraseInfo, PhraseProblem> {
    let alg = p
        .get("algorithm")
        .and_then(Value::as_str)
        .unwrap_or("(none)");
    if alg != "m.pbkdf2" {
        return Err(PhraseProblem::Algorithm {
            algorithm: alg.to_owned(),
        });
    }
    let salt = p
        .get("salt")
        .and_then(Value::as_str)
        .ok_or(PhraseProblem::NoSalt)?;
    let iterations = crate::kdf::json_rounds(p.get("iterations"), "passphrase.iterations")?;
    let bits = p.get("bits").and_then(Value::as_u64).unwrap_or(256);
    Ok(PassphraseInfo {
        salt: salt.to_owned(),
        iterations,
        bits: u32::try_from(bits).unwrap_or(u32::MAX),
    })
}

/// What unlocks secret storage.
#[derive(Debug, Clone, Copy)]
pub enum Unlock<'a> {
    /// A Security Key (recovery-key encoding of the 32-byte key).
    SecurityKey(&'a RecoveryKey),
    /// A Security Phrase (PBKDF2 with the key description's parameters).
    Phrase(&'a Passphrase),
}

/// A secret-storage key that passed its check.
#[derive(Debug)]
pub struct Unlocked {
    /// The key bytes.
    pub key: SecretBytes<32>,
    /// Its description.
    pub desc: KeyDescription,
    /// Whether the description could confirm it.
    pub check: KeyCheck,
}

/// Turn a Security Key or Phrase into the key of `desc` and check it.
///
/// # Errors
/// [`SsssError::NoPhrase`] or [`SsssError::PhraseUnusable`] (as [`Error::Ssss`]) when a phrase is
/// given but the key has none (or an unusable one), [`SsssError::PhraseBits`];
/// [`Error::SsssWrongKey`]; rounds errors.
pub fn unlock(desc: &KeyDescription, with: Unlock<'_>, limits: &Limits) -> Result<Unlocked, Error> {
    let key = match with {
        Unlock::SecurityKey(k) => SecretBytes::from_array(&mut k.expose().to_owned()),
        Unlock::Phrase(p) => {
            let (info, rounds) = desc.passphrase_info(limits)?;
            phrase_key(p, info, rounds)
        }
    };
    let check = check_key(key.expose(), desc)?;
    Ok(Unlocked {
        key,
        desc: desc.clone(),
        check,
    })
}

/// One secret's name and its plaintext (unpadded base64 of its bytes), or why it failed.
pub type SecretResult = (String, Result<Zeroizing<String>, Error>);

/// Decrypt the secrets stored under the unlocked key: `only` those names, or every secret that
/// has a copy under it. Each secret succeeds or fails on its own.
///
/// # Errors
/// [`Error::SsssNoKey`] when no wanted secret has a copy under the key.
pub fn decrypt_secrets(
    ad: &AccountData,
    unlocked: &Unlocked,
    only: &[String],
) -> Result<Vec<SecretResult>, Error> {
    let id = &unlocked.desc.id;
    let names: Vec<String> = if only.is_empty() {
        let all = ad.secrets();
        let under: Vec<String> = all
            .iter()
            .filter(|(_, ids)| ids.contains(id))
            .map(|(n, _)| n.clone())
            .collect();
        if under.is_empty() {
            return Err(Error::SsssNoKey {
                secret: all
                    .first()
                    .map_or_else(|| "(any)".to_owned(), |(n, _)| n.clone()),
                key_id: id.clone(),
            });
        }
        under
    } else {
        only.to_vec()
    };
    Ok(names
        .into_iter()
        .map(|n| {
            let r = ad
                .encrypted(&n, id)
                .and_then(|payload| decrypt_secret(unlocked.key.expose(), &n, payload));
            (n, r)
        })
        .collect())
}

/// Derive a secret-storage key from a Security Phrase.
///
/// # Errors
/// [`SsssError::PhraseBits`] (as [`Error::Ssss`]) for bits other than 256; rounds errors for
/// absurd iteration counts.
pub fn key_from_passphrase(
    pass: &Passphrase,
    info: &PassphraseInfo,
    limits: &Limits,
) -> Result<SecretBytes<32>, Error> {
    let rounds = info.rounds(limits)?;
    Ok(phrase_key(pass, info, rounds))
}

/// PBKDF2-HMAC-SHA-512 of the phrase with checked parameters: the 32 key bytes.
fn phrase_key(pass: &Passphrase, info: &PassphraseInfo, rounds: Rounds) -> SecretBytes<32> {
    kdf::pbkdf2_sha512::<32>(pass.expose().as_bytes(), info.salt.as_bytes(), rounds)
}

struct Keys {
    aes: SecretBytes<32>,
    mac: SecretBytes<32>,
}

fn derive(key: &[u8; 32], name: &str) -> Keys {
    let hk = Hkdf::<Sha256>::new(Some(&[0u8; 32]), key);
    let mut okm = SecretBytes::<64>::zeroed();
    // 64 bytes is far below HKDF-SHA-256's limit: expand cannot fail.
    let _ = hk.expand(name.as_bytes(), okm.expose_mut());
    let mut keys = Keys {
        aes: SecretBytes::zeroed(),
        mac: SecretBytes::zeroed(),
    };
    let (a, m) = okm.expose().split_at(32);
    keys.aes.expose_mut().copy_from_slice(a);
    keys.mac.expose_mut().copy_from_slice(m);
    keys
}

fn encrypt_raw(key: &[u8; 32], name: &str, plaintext: &[u8], iv: &[u8; 16]) -> (Vec<u8>, [u8; 32]) {
    let keys = derive(key, name);
    let mut ct = plaintext.to_vec();
    Aes256Ctr::new(keys.aes.expose().into(), iv.into()).apply_keystream(&mut ct);
    let mut h = hmac_sha256(keys.mac.expose());
    h.update(&ct);
    (ct, h.finalize().into_bytes().into())
}

/// Whether a key passed its description's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyCheck {
    /// The description's iv/mac confirm the key.
    Verified,
    /// The description has no iv/mac (old clients): the key could not be checked in advance.
    Unchecked,
}

/// Check a key against its description, in constant time.
///
/// # Errors
/// [`Error::SsssWrongKey`] when the check fails.
pub fn check_key(key: &[u8; 32], desc: &KeyDescription) -> Result<KeyCheck, Error> {
    let Some((iv, mac)) = &desc.check else {
        return Ok(KeyCheck::Unchecked);
    };
    let keys = derive(key, "");
    let mut ct = [0u8; 32];
    Aes256Ctr::new(keys.aes.expose().into(), iv.into()).apply_keystream(&mut ct);
    let mut h = hmac_sha256(keys.mac.expose());
    h.update(&ct);
    h.verify_slice(mac).map_err(|_| Error::SsssWrongKey {
        key_id: desc.id.clone(),
    })?;
    Ok(KeyCheck::Verified)
}

/// A secret's encrypted copy `{iv, ciphertext, mac}`, decoded.
#[derive(Debug, Clone)]
struct Sealed {
    iv: [u8; 16],
    ct: Vec<u8>,
    mac: Vec<u8>,
}

impl Sealed {
    fn parse(name: &str, payload: &Value) -> Result<Self, SsssError> {
        let get = |field: &'static str| {
            payload
                .get(field)
                .and_then(Value::as_str)
                .ok_or_else(|| SsssError::PayloadField {
                    secret: name.to_owned(),
                    field,
                })
                .and_then(|s| {
                    decode_lenient(s).map_err(|_| SsssError::PayloadBase64 {
                        secret: name.to_owned(),
                        field,
                    })
                })
        };
        let iv: [u8; 16] = get("iv")?.try_into().map_err(|_| SsssError::PayloadIv {
            secret: name.to_owned(),
        })?;
        Ok(Sealed {
            iv,
            ct: get("ciphertext")?,
            mac: get("mac")?,
        })
    }

    /// Check the MAC, in constant time.
    fn mac_matches(&self, keys: &Keys) -> bool {
        let mut h = hmac_sha256(keys.mac.expose());
        h.update(&self.ct);
        h.verify_slice(&self.mac).is_ok()
    }
}

/// A secret stored under a key, kept to test that key when its description has no check: only
/// the right key matches the secret's MAC.
#[derive(Debug, Clone)]
pub struct Probe {
    name: String,
    sealed: Sealed,
}

impl Probe {
    /// The secret's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Does `key` match this secret's MAC? Nothing is decrypted.
    pub fn matches(&self, key: &[u8; 32]) -> bool {
        self.sealed.mac_matches(&derive(key, &self.name))
    }
}

/// How a key was confirmed by [`confirm_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// By its description's check (`iv`/`mac`).
    KeyCheck,
    /// By the MAC of this secret, stored under the key (the description has no check).
    SecretMac(String),
    /// Not at all: the description has no check and no secret is stored under the key, so a
    /// wrong key cannot be told from the right one.
    Unconfirmed,
}

/// Confirm that `key` is the key of `desc` before writing with it: by the description's check,
/// else by the MAC of the secrets stored under it (`probes`, from [`AccountData::probes`]); one
/// matching MAC is enough, since a wrong key matches none.
///
/// # Errors
/// [`Error::SsssWrongKey`] when the check fails; [`Error::SsssWrongKeyNoCheck`] when there is no
/// check and the key matches none of the probes.
pub fn confirm_key(
    key: &[u8; 32],
    desc: &KeyDescription,
    probes: &[Probe],
) -> Result<Confirmation, Error> {
    if desc.check.is_some() {
        check_key(key, desc)?;
        return Ok(Confirmation::KeyCheck);
    }
    if probes.is_empty() {
        return Ok(Confirmation::Unconfirmed);
    }
    match probes.iter().find(|p| p.matches(key)) {
        Some(p) => Ok(Confirmation::SecretMac(p.name.clone())),
        None => Err(Error::SsssWrongKeyNoCheck {
            key_id: desc.id.clone(),
            secrets: probes
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Decrypt one secret's payload `{iv, ciphertext, mac}`. The MAC is checked first.
///
/// # Errors
/// [`Error::Ssss`] for a malformed payload ([`SsssError::PayloadField`],
/// [`SsssError::PayloadBase64`], [`SsssError::PayloadIv`]) or a plaintext that is not UTF-8
/// ([`SsssError::NotUtf8`]), [`Error::SsssMac`] when the MAC fails.
pub fn decrypt_secret(
    key: &[u8; 32],
    name: &str,
    payload: &Value,
) -> Result<Zeroizing<String>, Error> {
    let sealed = Sealed::parse(name, payload)?;
    let keys = derive(key, name);
    if !sealed.mac_matches(&keys) {
        return Err(Error::SsssMac {
            secret: name.to_owned(),
        });
    }
    let mut plain = Zeroizing::new(sealed.ct);
    Aes256Ctr::new(keys.aes.expose().into(), (&sealed.iv).into()).apply_keystream(&mut plain);
    let text = String::from_utf8(std::mem::take(&mut *plain)).map_err(|_| SsssError::NotUtf8 {
        secret: name.to_owned(),
    })?;
    Ok(Zeroizing::new(text))
}

/// Check the value of a well-known secret before it is encrypted: the backup key
/// (`m.megolm_backup.v1`) and the cross-signing keys (`m.cross_signing.*`, Ed25519 seeds) are 32
/// bytes in standard base64, padded or not. Other names are not checked. The message gives the
/// length found, never the value.
///
/// # Errors
/// [`SsssError::ValueNotBase64`], [`SsssError::ValueLength`] (as [`Error::Ssss`]) when a
/// well-known secret's value is not base64 or not 32 bytes.
pub fn check_secret_value(name: &str, value: &str) -> Result<(), Error> {
    let what = match name {
        "m.megolm_backup.v1" => "a backup key (Curve25519 private key)",
        "m.cross_signing.master"
        | "m.cross_signing.self_signing"
        | "m.cross_signing.user_signing" => "an Ed25519 seed",
        _ => return Ok(()),
    };
    let bytes =
        decode_lenient(value)
            .map(Zeroizing::new)
            .map_err(|_| SsssError::ValueNotBase64 {
                secret: name.to_owned(),
                chars: value.chars().count(),
                what,
            })?;
    if bytes.len() != 32 {
        return Err(SsssError::ValueLength {
            secret: name.to_owned(),
            len: bytes.len(),
            what,
        }
        .into());
    }
    Ok(())
}

/// Encrypt a secret's plaintext under `key`. `iv` must be fresh randomness; bit 63 is cleared.
pub fn encrypt_secret(key: &[u8; 32], name: &str, plaintext: &str, iv: [u8; 16]) -> Value {
    let iv = crate::export::clear_bit63(iv);
    let (ct, mac) = encrypt_raw(key, name, plaintext.as_bytes(), &iv);
    serde_json::json!({
        "iv": encode_unpadded(&iv),
        "ciphertext": encode_unpadded(&ct),
        "mac": encode_unpadded(&mac),
    })
}

/// A key description for a new key: its check `iv`/`mac` computed from `iv`.
pub fn describe_key(key: &[u8; 32], iv: [u8; 16], name: Option<&str>) -> Value {
    let iv = crate::export::clear_bit63(iv);
    let (_, mac) = encrypt_raw(key, "", &[0u8; 32], &iv);
    let mut v = serde_json::json!({
        "algorithm": ALGORITHM,
        "iv": encode_unpadded(&iv),
        "mac": encode_unpadded(&mac),
    });
    if let (Some(n), Some(o)) = (name, v.as_object_mut()) {
        o.insert("name".into(), Value::String(n.to_owned()));
    }
    v
}

/// What a decrypted secret is, for display: its public key when it is a known key type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretInfo {
    /// Public key (unpadded base64): Ed25519 for cross-signing seeds, Curve25519 for the backup key.
    pub public_key: Option<String>,
    /// The backup key in Security Key form.
    pub recovery_key: Option<String>,
}

/// Public keys of the well-known secrets (their plaintext is unpadded base64 of 32 bytes).
pub fn describe_secret(name: &str, plaintext: &str) -> SecretInfo {
    let bytes = decode_lenient(plaintext).ok().map(Zeroizing::new);
    let key: Option<Zeroizing<[u8; 32]>> = bytes
        .as_ref()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .map(Zeroizing::new);
    let mut info = SecretInfo {
        public_key: None,
        recovery_key: None,
    };
    let Some(key) = key else { return info };
    if name.starts_with("m.cross_signing.") {
        let sk = ed25519_dalek::SigningKey::from_bytes(&key);
        info.public_key = Some(encode_unpadded(sk.verifying_key().as_bytes()));
    } else if name == "m.megolm_backup.v1" {
        let mut k = *key;
        let rk = crate::recovery_key::RecoveryKey::from_bytes(&mut k);
        info.public_key = Some(encode_unpadded(&rk.backup_public_key()));
        info.recovery_key = Some(rk.encode().to_string());
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_check_and_secret_round_trip() {
        let key = [7u8; 32];
        let desc_json = describe_key(&key, [3; 16], Some("k"));
        let mut ad = serde_json::json!({
            DEFAULT_KEY: {"key": "K1"},
            "m.secret_storage.key.K1": desc_json,
        });
        let payload = encrypt_secret(&key, "m.megolm_backup.v1", "c2VjcmV0", [4; 16]);
        ad["m.megolm_backup.v1"] = serde_json::json!({"encrypted": {"K1": payload}});
        let ad = AccountData::parse(&ad).unwrap();
        assert_eq!(ad.default_key_id(), Some("K1"));
        let desc = ad.key("K1").unwrap();
        assert_eq!(check_key(&key, &desc).unwrap(), KeyCheck::Verified);
        assert!(matches!(
            check_key(&[8; 32], &desc),
            Err(Error::SsssWrongKey { .. })
        ));
        let enc = ad.encrypted("m.megolm_backup.v1", "K1").unwrap();
        assert_eq!(
            &*decrypt_secret(&key, "m.megolm_backup.v1", enc).unwrap(),
            "c2VjcmV0"
        );
        // The name is part of the key derivation: another name fails the MAC.
        assert!(matches!(
            decrypt_secret(&key, "m.cross_signing.master", enc),
            Err(Error::SsssMac { .. })
        ));
        assert!(matches!(
            ad.encrypted("m.megolm_backup.v1", "K2"),
            Err(Error::SsssNoKey { .. })
        ));
    }

    /// Account data whose key description has no check (as matrix-js-sdk 6 wrote them), with
    /// `secrets` encrypted under `key`.
    fn unchecked_account(key: &[u8; 32], secrets: &[&str]) -> AccountData {
        let mut ad = serde_json::json!({
            DEFAULT_KEY: {"key": "OLD"},
            "m.secret_storage.key.OLD": {"algorithm": ALGORITHM},
        });
        for name in secrets {
            ad[*name] = serde_json::json!({"encrypted": {"OLD": encrypt_secret(key, name, "dmFsdWU", [5; 16])}});
        }
        AccountData::parse(&ad).unwrap()
    }

    #[test]
    fn a_key_without_check_is_confirmed_by_a_stored_secret() {
        let key = [7u8; 32];
        let ad = unchecked_account(&key, &["m.megolm_backup.v1", "m.cross_signing.master"]);
        let desc = ad.key("OLD").unwrap();
        assert_eq!(desc.check, None);
        let probes = ad.probes("OLD");
        // Known secrets in their display order.
        let names: Vec<&str> = probes.iter().map(Probe::name).collect();
        assert_eq!(names, ["m.cross_signing.master", "m.megolm_backup.v1"]);
        assert_eq!(
            confirm_key(&key, &desc, &probes).unwrap(),
            Confirmation::SecretMac("m.cross_signing.master".into())
        );
        let wrong = confirm_key(&[8; 32], &desc, &probes).unwrap_err();
        assert!(
            matches!(wrong, Error::SsssWrongKeyNoCheck { .. }),
            "{wrong}"
        );
        assert_eq!(wrong.kind(), crate::ErrorKind::WrongKey);
        assert!(wrong
            .to_string()
            .contains("m.cross_signing.master, m.megolm_backup.v1"));
        // Nothing under the key: nothing to confirm with, for the right and the wrong key alike.
        let empty = unchecked_account(&key, &[]);
        assert!(empty.probes("OLD").is_empty());
        assert_eq!(
            confirm_key(&[8; 32], &desc, &[]).unwrap(),
            Confirmation::Unconfirmed
        );
        // One damaged secret does not hide the key: another one confirms it.
        let mut damaged = serde_json::Value::Object(ad.clone().into_map());
        damaged["m.cross_signing.master"]["encrypted"]["OLD"]["mac"] =
            serde_json::json!(encode_unpadded(&[0; 32]));
        let damaged = AccountData::parse(&damaged).unwrap();
        assert_eq!(
            confirm_key(&key, &desc, &damaged.probes("OLD")).unwrap(),
            Confirmation::SecretMac("m.megolm_backup.v1".into())
        );
        // A malformed copy is no probe.
        let mut malformed = serde_json::Value::Object(ad.into_map());
        malformed["m.megolm_backup.v1"]["encrypted"]["OLD"] = serde_json::json!({"iv": 1});
        let malformed = AccountData::parse(&malformed).unwrap();
        assert_eq!(malformed.probes("OLD").len(), 1);
    }

    #[test]
    fn a_key_with_check_is_confirmed_by_it_alone() {
        let key = [7u8; 32];
        let mut ad = serde_json::json!({
            "m.secret_storage.key.K": describe_key(&key, [1; 16], None),
        });
        ad["m.megolm_backup.v1"] = serde_json::json!({"encrypted": {"K": encrypt_secret(&key, "m.megolm_backup.v1", "x", [2; 16])}});
        let ad = AccountData::parse(&ad).unwrap();
        let desc = ad.key("K").unwrap();
        let probes = ad.probes("K");
        assert_eq!(
            confirm_key(&key, &desc, &probes).unwrap(),
            Confirmation::KeyCheck
        );
        assert!(matches!(
            confirm_key(&[8; 32], &desc, &probes),
            Err(Error::SsssWrongKey { .. })
        ));
    }

    #[test]
    fn well_known_secret_values_are_32_bytes_of_base64() {
        let b64 = |n: usize| encode_unpadded(&vec![0xa5; n]);
        for name in KNOWN_SECRETS {
            check_secret_value(name, &b64(32)).unwrap();
            let padded =
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [1u8; 32]);
            check_secret_value(name, &padded).unwrap();
            for n in [0, 31, 33, 64] {
                let e = check_secret_value(name, &b64(n)).unwrap_err().to_string();
                assert!(e.contains(&format!("{name} is {n} bytes")), "{e}");
            }
            let secretish = "Zm9v!secret-ish";
            let e = check_secret_value(name, secretish).unwrap_err().to_string();
            assert!(e.contains("is not base64 (15 characters)"), "{e}");
            assert!(!e.contains(secretish), "{e}");
        }
        check_secret_value("org.example.other", "anything at all").unwrap();
    }

    /// Each detail's text is the message the library gave before the details were typed (the
    /// CLI prints it after `error: `), word for word.
    #[test]
    fn detail_messages_are_unchanged() {
        let id = || "K".to_owned();
        let secret = || "m.megolm_backup.v1".to_owned();
        let seed = "an Ed25519 seed";
        let cases: Vec<(SsssError, &str)> = vec![
            (SsssError::EventNoType { index: 2 }, "account-data event 2 has no \"type\""),
            (
                SsssError::NotAccountData,
                "account data must be a JSON object {type: content} or a list of events",
            ),
            (
                SsssError::NoKeyDescription { key_id: id() },
                "no key description m.secret_storage.key.K in the account data",
            ),
            (
                SsssError::KeyAlgorithm {
                    key_id: id(),
                    algorithm: "(none)".into(),
                },
                "key K uses algorithm (none); only m.secret_storage.v1.aes-hmac-sha2 is supported",
            ),
            (
                SsssError::KeyIv { key_id: id() },
                "key K: iv is not 16 bytes of base64",
            ),
            (SsssError::KeyMac { key_id: id() }, "key K: mac is not base64"),
            (
                SsssError::NoKey,
                "the account data has no secret-storage key (m.secret_storage.key.*); include it in the file",
            ),
            (
                SsssError::NoSecret { secret: secret() },
                "the account data has no secret m.megolm_backup.v1",
            ),
            (
                SsssError::NoPhrase { key_id: id() },
                "key K has no Security Phrase; use its Security Key",
            ),
            (
                SsssError::PhraseUnusable {
                    key_id: id(),
                    problem: PhraseProblem::NoSalt,
                },
                "key K: the Security Phrase has no salt",
            ),
            (
                SsssError::PhraseBits { bits: 128 },
                "the passphrase asks for a 128-bit key; only 256 is defined",
            ),
            (
                SsssError::PayloadField {
                    secret: secret(),
                    field: "iv",
                },
                "secret m.megolm_backup.v1: no \"iv\" string",
            ),
            (
                SsssError::PayloadBase64 {
                    secret: secret(),
                    field: "mac",
                },
                "secret m.megolm_backup.v1: mac is not base64",
            ),
            (
                SsssError::PayloadIv { secret: secret() },
                "secret m.megolm_backup.v1: iv is not 16 bytes",
            ),
            (
                SsssError::NotUtf8 { secret: secret() },
                "secret m.megolm_backup.v1 is not UTF-8 text after decryption",
            ),
            (
                SsssError::ValueNotBase64 {
                    secret: secret(),
                    chars: 15,
                    what: seed,
                },
                "the value for m.megolm_backup.v1 is not base64 (15 characters); an Ed25519 seed is 32 bytes in base64 (43 characters, or 44 with padding)",
            ),
            (
                SsssError::ValueLength {
                    secret: secret(),
                    len: 31,
                    what: seed,
                },
                "the value for m.megolm_backup.v1 is 31 bytes after base64 decoding; an Ed25519 seed is 32 bytes in base64 (43 characters, or 44 with padding)",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
            let e = Error::from(e);
            assert_eq!(
                (e.to_string().as_str(), e.kind()),
                (want, crate::ErrorKind::Format)
            );
        }
        let problems: Vec<(PhraseProblem, &str)> = vec![
            (
                PhraseProblem::Algorithm {
                    algorithm: "(none)".into(),
                },
                "Security Phrase algorithm (none) is not supported (only m.pbkdf2)",
            ),
            (PhraseProblem::NoSalt, "the Security Phrase has no salt"),
            (
                PhraseProblem::Iterations(IterationsError::NotWhole {
                    field: "passphrase.iterations",
                }),
                "passphrase.iterations is not a whole number from 1 to 4294967295",
            ),
        ];
        for (p, want) in problems {
            assert_eq!(p.to_string(), want);
            let e = SsssError::PhraseUnusable {
                key_id: id(),
                problem: p,
            };
            assert_eq!(e.to_string(), format!("key K: {want}"));
        }
    }

    #[test]
    fn an_unusable_phrase_is_kept_and_named() {
        let ad = AccountData::parse(&serde_json::json!({
            "m.secret_storage.key.K": {"algorithm": ALGORITHM,
                "passphrase": {"algorithm": "m.pbkdf2", "iterations": "many"}},
        }))
        .unwrap();
        let desc = ad.key("K").unwrap();
        assert_eq!(desc.passphrase_problem, Some(PhraseProblem::NoSalt));
        let e = desc.passphrase_info(&Limits::default()).unwrap_err();
        assert_eq!(e.to_string(), "key K: the Security Phrase has no salt");
        // Serialized as its message.
        let v = serde_json::to_value(&desc).unwrap();
        assert_eq!(v["passphrase_problem"], "the Security Phrase has no salt");
    }

    #[test]
    fn events_list_shape_is_read() {
        let ad = AccountData::parse(&serde_json::json!([
            {"type": DEFAULT_KEY, "content": {"key": "A"}},
            {"type": "m.cross_signing.master", "content": {"encrypted": {"A": {}}}},
        ]))
        .unwrap();
        assert_eq!(ad.default_key_id(), Some("A"));
        assert_eq!(
            ad.secrets(),
            vec![("m.cross_signing.master".into(), vec!["A".into()])]
        );
    }
}
