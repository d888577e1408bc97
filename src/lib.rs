//! mxkeys: offline tools for the key material of Matrix end-to-end encryption.
//!
//! A library of pure functions over bytes and streams (no files, network or terminal); the
//! `mxkeys` binary is a thin CLI on top. Each format has its module; the examples below run on
//! files that other implementations made, committed in `test-vectors/`.
//!
//! | format or concern | module | Matrix spec section |
//! |---|---|---|
//! | room-key export files | [`export`] (armor, container, writer guess) | "Key exports" |
//! | the sessions inside them | [`session`] (typed, validate, client rules), [`merge`] (dedupe, merge) | "Key export format" |
//! | megolm session keys and messages | [`megolm`] | "Megolm" |
//! | room history | [`events`], [`explain`] (withheld, MSC4153, missing history bundles) | "`m.megolm.v1.aes-sha2`", "`m.room_key.withheld`" |
//! | dehydrated devices and their queued room keys | [`dehydrated`] (vodozemac for Olm) | "Olm", MSC3814, MSC4147 |
//! | room-key bundles (shared history) | [`bundle`] | MSC4268 |
//! | Security Keys | [`recovery_key`] | "Recovery key" |
//! | server-side key backups | [`backup`] | "Server-side key backups" |
//! | secret storage | [`ssss`] | "Secret storage" |
//! | encrypted attachments | [`attachment`] | "Sending encrypted attachments" |
//! | cross-signing, QR codes, SAS | [`identity`] (signed JSON, cross-signing, QR, SAS) | "Signing JSON", "Cross-signing", "Key verification" |
//! | one key, one account: what a key opens, key storage out of sync | [`account`] (identify, doctor) | "Secret storage", "Server-side key backups", "Cross-signing" |
//! | PBKDF2-HMAC-SHA-512, passphrase search, hash lines for hashcat | [`kdf`], [`search`], [`hashline`] (`hashcat/` holds the modules) | — |
//! | secrets, encodings, errors | [`secret`], [`encoding`], [`error`] | — |
//!
//! # Room-key export files
//!
//! [`export::decrypt`] checks the HMAC over the whole file before it decrypts a byte, and gives
//! the JSON array of sessions exactly as the exporting client wrote it. For large files,
//! [`export::open`] and [`export::ExportWriter`] stream.
//!
//! ```
//! use mxkeys::{export, Passphrase};
//!
//! // Written by Element Web's MegolmExportEncryption (1000 rounds, to keep this test fast).
//! let file = include_str!("../test-vectors/export/element-web-r1000.txt");
//! let pass = Passphrase::new("correct horse battery staple".into());
//! let d = export::decrypt(file.as_bytes(), &pass, &export::Limits::default())?;
//! assert_eq!(d.header.rounds, 1000);
//! let sessions = d.sessions()?; // typed: mxkeys::session::SessionRecord
//! assert_eq!(sessions.len(), 7);
//! assert_eq!(sessions[0].algorithm.as_deref(), Some("m.megolm.v1.aes-sha2"));
//!
//! // A wrong passphrase is refused before anything is decrypted.
//! let wrong = Passphrase::new("battery staple".into());
//! let err = export::decrypt(file.as_bytes(), &wrong, &export::Limits::default());
//! assert!(matches!(err, Err(mxkeys::Error::ExportMac)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Recovery keys (Security Keys) and key backups
//!
//! [`recovery_key::RecoveryKey::decode`] checks the prefix, length and parity of a Security Key
//! (spaces ignored) and explains a bad one; [`recovery_key::suggest`] finds one-character fixes.
//! The key's backup public key is what a backup version's `auth_data.public_key` holds.
//!
//! ```
//! use mxkeys::encoding::encode_unpadded;
//! use mxkeys::recovery_key::RecoveryKey;
//!
//! let key = RecoveryKey::decode("EsTn iEYx SoG7 cV5J KNdU n1qT P6wU ro7d 5eod zkXm 9CsP MJK8")?;
//! let public = encode_unpadded(&key.backup_public_key());
//! assert_eq!(public, "7CzPt5f1IJExcBo7vLJ2DS40ODAy94/Cf/76Iw41ExY");
//!
//! // One character mistyped: the error says what is wrong, `suggest` finds the fix.
//! let typo = "EsTn iEYx SoG7 cV5J KNdU n1qT P6wU ro7d 5eod zkXm 9CsP MJK9";
//! assert!(RecoveryKey::decode(typo).is_err());
//! let fixes = mxkeys::recovery_key::suggest(typo);
//! assert!(fixes.iter().any(|f| f.as_str() == key.encode().as_str()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A backup's `session_data` is decrypted with that key (`m.megolm_backup.v1.curve25519-aes-sha2`):
//!
//! ```
//! use mxkeys::recovery_key::RecoveryKey;
//!
//! let key = RecoveryKey::decode("EsTn iEYx SoG7 cV5J KNdU n1qT P6wU ro7d 5eod zkXm 9CsP MJK8")?;
//! // Made by python-olm's PkEncryption: one `session_data` of a backup under that key.
//! let doc: serde_json::Value =
//!     serde_json::from_str(include_str!("../test-vectors/backup/olm-session-data.json"))?;
//! let session_id = "PXKPepQFPeMnbcsZeqrIsmxJoIeJZWS9B6je333zUZ8";
//! let s = mxkeys::backup::decrypt_session_data(&key, &doc, Some(session_id))?;
//! assert_eq!(s.plaintext.algorithm.as_deref(), Some("m.megolm.v1.aes-sha2"));
//! assert_eq!(s.first_index, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A whole `GET /room_keys/keys` body goes through [`backup::entries`] and
//! [`backup::decrypt_entries`] (each session fails on its own); [`backup::check_auth_data`] tells
//! a key of another backup version apart before anything is decrypted.
//!
//! # Secret storage
//!
//! [`ssss::AccountData`] reads account data (an object `{type: content}` or a list of events);
//! [`ssss::unlock`] checks a Security Key or Security Phrase against the key's description, then
//! [`ssss::decrypt_secrets`] checks each secret's MAC and decrypts it.
//!
//! ```
//! use mxkeys::kdf::Limits;
//! use mxkeys::recovery_key::RecoveryKey;
//! use mxkeys::ssss::{self, AccountData, Unlock};
//!
//! // Set up by matrix-js-sdk 43 with a Security Key, as Element Web does.
//! let doc: serde_json::Value =
//!     serde_json::from_str(include_str!("../test-vectors/ssss/jssdk-security-key.json"))?;
//! let ad = AccountData::parse(&doc)?;
//! let desc = ad.resolve_key(None)?; // the default key
//! let key = RecoveryKey::decode("EsTh tAH2 fnc4 jQq8 egj4 MoiR DaRF QgZP dp1V y2WN zbwu keYY")?;
//! let unlocked = ssss::unlock(&desc, Unlock::SecurityKey(&key), &Limits::default())?;
//! let secrets = ssss::decrypt_secrets(&ad, &unlocked, &["m.megolm_backup.v1".to_owned()])?;
//! let (name, value) = secrets.into_iter().next().ok_or("no secret")?;
//! assert_eq!(name, "m.megolm_backup.v1");
//! // The backup key, unpadded base64 of its 32 bytes (each secret has its own MAC check).
//! assert_eq!(value?.as_str(), "43UqEUeA4YuhgHmmDc8CSFPUE9qzvWM2cUm2fSKlGn8");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Encrypted attachments
//!
//! [`attachment::AttachmentDecryptor`] is a [`std::io::Write`] adapter: plaintext streams through
//! in constant memory, and [`finish`](attachment::AttachmentDecryptor::finish) compares the
//! SHA-256 of the ciphertext with the `EncryptedFile`'s; until then the output is unverified.
//!
//! ```
//! use mxkeys::attachment::{find_encrypted_file, AttachmentDecryptor, AttachmentKey};
//!
//! // Made by matrix-encrypt-attachment (Node): the downloaded blob and its EncryptedFile.
//! let mut blob: &[u8] = include_bytes!("../test-vectors/attachment/mea-node-15.bin");
//! let info: serde_json::Value =
//!     serde_json::from_str(include_str!("../test-vectors/attachment/mea-node-15.json"))?;
//! // An EncryptedFile, a message content holding one in "file", or a whole event.
//! let key = AttachmentKey::from_info(&find_encrypted_file(&info, false)?)?;
//! let mut dec = AttachmentDecryptor::new(Vec::new(), &key);
//! std::io::copy(&mut blob, &mut dec)?;
//! let plain = dec.finish()?; // Err on a hash mismatch: then throw the output away
//! assert_eq!(plain, (0..15u8).map(|i| i * 7 + 3).collect::<Vec<u8>>());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Megolm room events
//!
//! [`events::KeyStore`] holds the sessions of an export or a backup ([`session::SessionRecord`]s);
//! [`events::decrypt_events`] decrypts `m.room.encrypted` events with them and says, for each one
//! it cannot decrypt, why ([`events::Outcome`]).
//!
//! ```
//! use mxkeys::events::{decrypt_events, parse_events, KeyStore, Outcome, OutcomeKind};
//!
//! // Events encrypted and keys exported by a matrix-sdk-crypto-wasm OlmMachine.
//! let keys: Vec<mxkeys::session::SessionRecord> =
//!     serde_json::from_str(include_str!("../test-vectors/events/wasm-keys.json"))?;
//! let events = parse_events(include_bytes!("../test-vectors/events/wasm-events.json"))?;
//! let store = KeyStore::from_sessions(&keys);
//! let outcomes = decrypt_events(&store, &events);
//! let Outcome::Ok { plaintext, message_index } = &outcomes[0] else {
//!     return Err(outcomes[0].explain().into());
//! };
//! assert_eq!(*message_index, 0);
//! assert_eq!(plaintext["content"]["body"], "alpha message 0 \u{2713}");
//! // The key of one session was left out of this export: its events say so.
//! assert!(outcomes.iter().any(|o| o.kind() == OutcomeKind::UnknownSession));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Every `pub` item is part of the API: an item for the crate alone is `pub(crate)`.
#![deny(unreachable_pub)]

pub mod account;
pub mod attachment;
pub mod backup;
pub mod bundle;
mod capped;
pub mod dehydrated;
pub mod encoding;
pub mod error;
pub mod events;
pub mod explain;
pub mod export;
pub mod hashline;
pub mod identity;
pub mod kdf;
pub mod megolm;
pub mod merge;
pub mod recovery_key;
pub mod search;
pub mod secret;
pub mod session;
pub mod ssss;

pub use error::{ArmorError, Error, ErrorKind};
pub use secret::{Passphrase, SecretBuf, SecretBytes, SecretString, WipingBufReader};
