//! Encrypted attachments (spec "Sending encrypted attachments"):
//! AES-256-CTR over the file, SHA-256 over the ciphertext, and the `EncryptedFile` JSON that
//! carries the key (a JWK), the IV and the hash.
//!
//! Both directions are `Write` adapters, so a 4 GB video needs a few KB of memory. Decrypted
//! bytes are unverified until [`AttachmentDecryptor::finish`] has compared the hash: callers write
//! into something they can throw away (a temporary file) and keep it only then.
//!
//! Counters: `v1`/`v2` use the low 64 bits of the IV as a big-endian counter that wraps within
//! them (WebCrypto `length: 64`), starting from whatever IV[8..16] holds (FluffyChat wrote fully
//! random IVs); `v0` (no `v`) used a full 128-bit counter.

use std::io::{self, Write};

use aes::cipher::{KeyIvInit, StreamCipher};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::encoding::{decode_lenient, encode_unpadded};
use crate::secret::SecretBytes;

type Ctr64 = ctr::Ctr64BE<aes::Aes256>;
type Ctr128 = ctr::Ctr128BE<aes::Aes256>;

/// Why an `EncryptedFile` cannot be used, or the download does not match it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttachmentError {
    /// The info is unusable.
    #[error("unusable attachment info: {0}")]
    Info(InfoError),
    /// The SHA-256 of the ciphertext is not the one in the info.
    #[error("the file's SHA-256 does not match the event's hashes.sha256: the download is damaged, truncated or not this attachment; nothing was written")]
    Hash,
}

/// What makes an `EncryptedFile` (or the document around it) unusable
/// ([`AttachmentError::Info`]), the first problem in reading order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InfoError {
    /// `v` is not `v2`, `v1` or absent.
    #[error("version {version:?} is unknown (known: v2, v1, none)")]
    Version {
        /// The version found.
        version: String,
    },
    /// `key.kty` is not `oct`.
    #[error("key.kty is {kty:?}, expected \"oct\"")]
    Kty {
        /// The key type found.
        kty: String,
    },
    /// `key.alg` is not `A256CTR`.
    #[error("key.alg is {alg:?}, expected \"A256CTR\"")]
    Alg {
        /// The algorithm found.
        alg: String,
    },
    /// `key.key_ops` lacks `decrypt`.
    #[error("key.key_ops does not allow \"decrypt\"")]
    NoDecrypt,
    /// `key.k` is not urlsafe base64.
    #[error("key.k is not urlsafe base64")]
    KeyNotBase64,
    /// `key.k` is not 32 bytes.
    #[error("key.k is {len} bytes, expected 32 (AES-256)")]
    KeyLength {
        /// Its length in bytes.
        len: usize,
    },
    /// `iv` is not base64.
    #[error("iv is not base64")]
    IvNotBase64,
    /// `iv` is not 16 bytes.
    #[error("iv is {len} bytes, expected 16")]
    IvLength {
        /// Its length in bytes.
        len: usize,
    },
    /// `hashes` has no `sha256`.
    #[error("hashes has no sha256: nothing to check the download against")]
    NoSha256,
    /// `hashes.sha256` is not a string.
    #[error("hashes.sha256 is not a string")]
    Sha256NotString,
    /// `hashes.sha256` is not 32 bytes of base64.
    #[error("hashes.sha256 is not 32 bytes of base64")]
    Sha256Length,
    /// A thumbnail was asked for and the content has no `info.thumbnail_file`.
    #[error("no info.thumbnail_file in this content")]
    NoThumbnail,
    /// Neither an `EncryptedFile`, a message content with `file`, nor an event around one.
    #[error("no EncryptedFile here: expected an object with key/iv/hashes, a message content with \"file\", or a whole event")]
    NoEncryptedFile,
    /// The `EncryptedFile` does not parse: a field is missing or of the wrong type.
    #[error("EncryptedFile is malformed ({} missing or of the wrong type)", field.as_deref().map_or_else(|| "a field".to_owned(), |f| format!("field {f}")))]
    Malformed {
        /// The field, when the parser named it.
        field: Option<String>,
    },
}

/// The class of an [`AttachmentError`] ([`AttachmentError::kind`]), as test-vector manifests
/// name it. Serialized as [`AttachmentErrorKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttachmentErrorKind {
    /// `info`: [`AttachmentError::Info`].
    Info,
    /// `hash`: [`AttachmentError::Hash`].
    Hash,
}

impl AttachmentErrorKind {
    /// The short, stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentErrorKind::Info => "info",
            AttachmentErrorKind::Hash => "hash",
        }
    }
}

impl std::fmt::Display for AttachmentErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AttachmentError {
    /// The class of the failure, as in test-vector manifests.
    pub fn kind(&self) -> AttachmentErrorKind {
        match self {
            AttachmentError::Info(_) => AttachmentErrorKind::Info,
            AttachmentError::Hash => AttachmentErrorKind::Hash,
        }
    }
}

/// The JWK of an attachment key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type, `oct`.
    pub kty: String,
    /// Allowed operations; must include `decrypt` to decrypt.
    pub key_ops: Vec<String>,
    /// Algorithm, `A256CTR`.
    pub alg: String,
    /// The key, urlsafe unpadded base64.
    pub k: String,
    /// Extractable, `true`.
    pub ext: bool,
    /// Fields mxkeys does not use, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `EncryptedFile` object of a message event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncryptedFile {
    /// The `mxc://` URL of the ciphertext (absent until uploaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The key.
    pub key: Jwk,
    /// Initial counter block, standard unpadded base64.
    pub iv: String,
    /// Hashes of the ciphertext by algorithm; `sha256` is required.
    pub hashes: Map<String, Value>,
    /// Protocol version: `v2`, `v1`, or absent for the oldest clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<String>,
    /// Fields mxkeys does not use, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How the counter advances. Key exports use the same two conventions when the low 64 bits of
/// their IV overflow (see `export::CounterReading`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// `v1`/`v2`: the low 64 bits, wrapping within them.
    Wrap64,
    /// `v0`: the full 128-bit block.
    Full128,
}

/// A checked `EncryptedFile`: everything needed to decrypt and verify.
pub struct AttachmentKey {
    key: SecretBytes<32>,
    iv: [u8; 16],
    sha256: [u8; 32],
    counter: Counter,
}

impl std::fmt::Debug for AttachmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentKey")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

fn info(e: InfoError) -> AttachmentError {
    AttachmentError::Info(e)
}

impl AttachmentKey {
    /// Check an `EncryptedFile`: JWK `kty`/`alg`/`key_ops`, key and IV lengths, the SHA-256, the
    /// version.
    ///
    /// # Errors
    /// [`AttachmentError::Info`] naming the first problem.
    pub fn from_info(file: &EncryptedFile) -> Result<Self, AttachmentError> {
        let counter = match file.v.as_deref() {
            Some("v2") | Some("v1") => Counter::Wrap64,
            None => Counter::Full128,
            Some(v) => {
                return Err(info(InfoError::Version {
                    version: v.to_owned(),
                }))
            }
        };
        let jwk = &file.key;
        if jwk.kty != "oct" {
            return Err(info(InfoError::Kty {
                kty: jwk.kty.clone(),
            }));
        }
        if jwk.alg != "A256CTR" {
            return Err(info(InfoError::Alg {
                alg: jwk.alg.clone(),
            }));
        }
        if !jwk.key_ops.iter().any(|o| o == "decrypt") {
            return Err(info(InfoError::NoDecrypt));
        }
        let raw =
            Zeroizing::new(decode_urlsafe(&jwk.k).ok_or_else(|| info(InfoError::KeyNotBase64))?);
        let mut key = SecretBytes::<32>::zeroed();
        if raw.len() != 32 {
            return Err(info(InfoError::KeyLength { len: raw.len() }));
        }
        key.expose_mut().copy_from_slice(&raw);
        let iv = decode_lenient(&file.iv).map_err(|_| info(InfoError::IvNotBase64))?;
        let iv: [u8; 16] = iv
            .try_into()
            .map_err(|v: Vec<u8>| info(InfoError::IvLength { len: v.len() }))?;
        let sha = file
            .hashes
            .get("sha256")
            .ok_or_else(|| info(InfoError::NoSha256))?
            .as_str()
            .ok_or_else(|| info(InfoError::Sha256NotString))?;
        let sha: [u8; 32] = decode_lenient(sha)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| info(InfoError::Sha256Length))?;
        Ok(AttachmentKey {
            key,
            iv,
            sha256: sha,
            counter,
        })
    }

    /// The counter convention in force.
    pub fn counter(&self) -> Counter {
        self.counter
    }
}

fn decode_urlsafe(s: &str) -> Option<Vec<u8>> {
    // k is urlsafe; some writers pad it. Map to the standard alphabet and decode leniently.
    let std: String = s
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    decode_lenient(&std).ok()
}

/// The message content of an info document: a whole event's `content`, or the document itself.
pub fn message_content(doc: &Value) -> &Value {
    doc.get("content").filter(|c| c.is_object()).unwrap_or(doc)
}

/// Find the `EncryptedFile` in an info document: the object itself, a message content (`file`,
/// or `info.thumbnail_file` when `thumbnail`), or a whole event around such a content.
///
/// # Errors
/// [`AttachmentError::Info`] when none is there or it does not parse.
pub fn find_encrypted_file(doc: &Value, thumbnail: bool) -> Result<EncryptedFile, AttachmentError> {
    let content = message_content(doc);
    let file = if thumbnail {
        content
            .get("info")
            .and_then(|i| i.get("thumbnail_file"))
            .ok_or_else(|| info(InfoError::NoThumbnail))?
    } else if let Some(f) = content.get("file") {
        f
    } else if content.get("key").is_some() && content.get("iv").is_some() {
        content
    } else {
        return Err(info(InfoError::NoEncryptedFile));
    };
    serde_json::from_value(file.clone()).map_err(|e| {
        // serde's message names the field; strip any quoted input.
        let msg = e.to_string();
        let field = msg.split('`').nth(1).map(str::to_owned);
        info(InfoError::Malformed { field })
    })
}

/// AES-256-CTR with either counter convention (shared with `export`).
pub(crate) enum Cipher {
    Wrap64(Ctr64),
    Full128(Ctr128),
}

impl Cipher {
    pub(crate) fn new(key: &[u8; 32], iv: &[u8; 16], counter: Counter) -> Self {
        match counter {
            Counter::Wrap64 => Cipher::Wrap64(Ctr64::new(key.into(), iv.into())),
            Counter::Full128 => Cipher::Full128(Ctr128::new(key.into(), iv.into())),
        }
    }
    pub(crate) fn apply(&mut self, buf: &mut [u8]) {
        match self {
            Cipher::Wrap64(c) => c.apply_keystream(buf),
            Cipher::Full128(c) => c.apply_keystream(buf),
        }
    }
}

const CHUNK: usize = 64 * 1024;

/// Decrypts ciphertext written into it, passing plaintext on to `out` and hashing the ciphertext.
pub struct AttachmentDecryptor<W> {
    out: W,
    cipher: Cipher,
    hash: Sha256,
    expected: [u8; 32],
    buf: Zeroizing<Vec<u8>>,
}

impl<W: Write> AttachmentDecryptor<W> {
    /// Start decrypting into `out`.
    pub fn new(out: W, key: &AttachmentKey) -> Self {
        AttachmentDecryptor {
            out,
            cipher: Cipher::new(key.key.expose(), &key.iv, key.counter),
            hash: Sha256::new(),
            expected: key.sha256,
            buf: Zeroizing::new(Vec::with_capacity(CHUNK)),
        }
    }

    /// Compare the hash of everything written (constant time) and give back `out`. Until this
    /// returns `Ok`, what reached `out` is unverified.
    ///
    /// # Errors
    /// [`AttachmentError::Hash`] on a mismatch.
    pub fn finish(mut self) -> Result<W, AttachmentError> {
        let got = self.hash.finalize();
        if bool::from(got.as_slice().ct_eq(&self.expected)) {
            let _ = self.out.flush();
            Ok(self.out)
        } else {
            Err(AttachmentError::Hash)
        }
    }
}

impl<W: Write> Write for AttachmentDecryptor<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK);
        let chunk = data.get(..n).unwrap_or_default();
        self.hash.update(chunk);
        self.buf.clear();
        self.buf.extend_from_slice(chunk);
        self.cipher.apply(&mut self.buf);
        self.out.write_all(&self.buf)?;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Only hashes ciphertext: the first pass when plaintext must not be released before the hash
/// is known to match (e.g. to standard output).
pub struct HashCheck {
    hash: Sha256,
    expected: [u8; 32],
}

impl HashCheck {
    /// Start hashing for `key`'s expected SHA-256.
    pub fn new(key: &AttachmentKey) -> Self {
        HashCheck {
            hash: Sha256::new(),
            expected: key.sha256,
        }
    }

    /// Compare.
    ///
    /// # Errors
    /// [`AttachmentError::Hash`].
    pub fn finish(self) -> Result<(), AttachmentError> {
        if bool::from(self.hash.finalize().as_slice().ct_eq(&self.expected)) {
            Ok(())
        } else {
            Err(AttachmentError::Hash)
        }
    }
}

impl Write for HashCheck {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.hash.update(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Encrypts plaintext written into it (v2), passing ciphertext on to `out`.
pub struct AttachmentEncryptor<W> {
    out: W,
    cipher: Cipher,
    hash: Sha256,
    key: SecretBytes<32>,
    iv: [u8; 16],
    buf: Vec<u8>,
}

impl<W: Write> AttachmentEncryptor<W> {
    /// Start with a fresh key and 8 fresh IV bytes (the other 8, the counter, start at zero).
    pub fn new(out: W, key: &mut [u8; 32], iv_random: [u8; 8]) -> Self {
        let key = SecretBytes::from_array(key);
        let mut iv = [0u8; 16];
        if let Some(head) = iv.get_mut(..8) {
            head.copy_from_slice(&iv_random);
        }
        AttachmentEncryptor {
            out,
            cipher: Cipher::new(key.expose(), &iv, Counter::Wrap64),
            hash: Sha256::new(),
            key,
            iv,
            buf: Vec::with_capacity(CHUNK),
        }
    }

    /// The `EncryptedFile` for what was written (no `url` yet), and `out`.
    ///
    /// # Errors
    /// Flushing `out`.
    pub fn finish(mut self, url: Option<String>) -> io::Result<(EncryptedFile, W)> {
        self.out.flush()?;
        let sha = self.hash.finalize();
        let mut hashes = Map::new();
        hashes.insert("sha256".into(), Value::String(encode_unpadded(&sha)));
        let k = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            self.key.expose(),
        );
        let file = EncryptedFile {
            url,
            key: Jwk {
                kty: "oct".into(),
                key_ops: vec!["encrypt".into(), "decrypt".into()],
                alg: "A256CTR".into(),
                k,
                ext: true,
                extra: Map::new(),
            },
            iv: encode_unpadded(&self.iv),
            hashes,
            v: Some("v2".into()),
            extra: Map::new(),
        };
        Ok((file, self.out))
    }
}

impl<W: Write> Write for AttachmentEncryptor<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK);
        self.buf.clear();
        self.buf
            .extend_from_slice(data.get(..n).unwrap_or_default());
        self.cipher.apply(&mut self.buf);
        self.hash.update(&self.buf);
        self.out.write_all(&self.buf)?;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_as_their_names() {
        for (k, name) in [
            (AttachmentErrorKind::Info, "info"),
            (AttachmentErrorKind::Hash, "hash"),
        ] {
            assert_eq!((k.as_str(), k.to_string().as_str()), (name, name));
            assert_eq!(serde_json::to_value(k).unwrap(), name);
        }
    }

    #[test]
    fn info_messages_are_unchanged() {
        let s = String::from;
        let cases: Vec<(InfoError, &str)> = vec![
            (
                InfoError::Version { version: s("v3") },
                "version \"v3\" is unknown (known: v2, v1, none)",
            ),
            (InfoError::Kty { kty: s("RSA") }, "key.kty is \"RSA\", expected \"oct\""),
            (
                InfoError::Alg { alg: s("A128CTR") },
                "key.alg is \"A128CTR\", expected \"A256CTR\"",
            ),
            (InfoError::NoDecrypt, "key.key_ops does not allow \"decrypt\""),
            (InfoError::KeyNotBase64, "key.k is not urlsafe base64"),
            (
                InfoError::KeyLength { len: 16 },
                "key.k is 16 bytes, expected 32 (AES-256)",
            ),
            (InfoError::IvNotBase64, "iv is not base64"),
            (InfoError::IvLength { len: 8 }, "iv is 8 bytes, expected 16"),
            (
                InfoError::NoSha256,
                "hashes has no sha256: nothing to check the download against",
            ),
            (InfoError::Sha256NotString, "hashes.sha256 is not a string"),
            (InfoError::Sha256Length, "hashes.sha256 is not 32 bytes of base64"),
            (InfoError::NoThumbnail, "no info.thumbnail_file in this content"),
            (
                InfoError::NoEncryptedFile,
                "no EncryptedFile here: expected an object with key/iv/hashes, a message content with \"file\", or a whole event",
            ),
            (
                InfoError::Malformed {
                    field: Some(s("iv")),
                },
                "EncryptedFile is malformed (field iv missing or of the wrong type)",
            ),
            (
                InfoError::Malformed { field: None },
                "EncryptedFile is malformed (a field missing or of the wrong type)",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
            assert_eq!(
                AttachmentError::Info(e).to_string(),
                format!("unusable attachment info: {want}")
            );
        }
    }

    #[test]
    fn encrypt_then_decrypt_and_tamper() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut enc = AttachmentEncryptor::new(Vec::new(), &mut [4; 32], [9; 8]);
        enc.write_all(&data).unwrap();
        let (file, ct) = enc.finish(None).unwrap();
        assert_eq!(file.v.as_deref(), Some("v2"));
        assert!(file.iv.ends_with("AAAAAAAAAAA"), "{}", file.iv);
        let key = AttachmentKey::from_info(&file).unwrap();
        let mut dec = AttachmentDecryptor::new(Vec::new(), &key);
        dec.write_all(&ct).unwrap();
        assert_eq!(dec.finish().unwrap(), data);
        let mut bad = ct.clone();
        bad[1000] ^= 1;
        let mut dec = AttachmentDecryptor::new(Vec::new(), &key);
        dec.write_all(&bad).unwrap();
        assert_eq!(dec.finish().unwrap_err(), AttachmentError::Hash);
    }

    #[test]
    fn info_is_checked() {
        let mut enc = AttachmentEncryptor::new(Vec::new(), &mut [4; 32], [9; 8]);
        enc.write_all(b"x").unwrap();
        let (file, _) = enc.finish(None).unwrap();
        let mut f = file.clone();
        f.key.alg = "A128CTR".into();
        assert!(AttachmentKey::from_info(&f).is_err());
        let mut f = file.clone();
        f.v = Some("v3".into());
        assert!(AttachmentKey::from_info(&f)
            .unwrap_err()
            .to_string()
            .contains("v3"));
        let mut f = file;
        f.v = None;
        assert_eq!(
            AttachmentKey::from_info(&f).unwrap().counter(),
            Counter::Full128
        );
    }
}
