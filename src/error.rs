//! The one error type of the library.
//!
//! Each variant says what was wrong and what to try. Cryptographic failures (a MAC that does not
//! match) are opaque on purpose: mxkeys cannot tell a wrong secret from a changed file, so it does
//! not pretend to. Structural failures (armor, lengths, versions) say exactly where.

use std::fmt;
use std::io;

use serde::Serialize;

use crate::recovery_key::RecoveryKeyKind;

// The armor's detail enum lives beside its parser; `mxkeys::error::ArmorError` still names it.
pub use crate::export::armor::ArmorError;

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The ASCII armor around an export is damaged.
    #[error("{0}")]
    Armor(#[from] ArmorError),

    /// The decoded export is shorter than its fixed header plus MAC.
    #[error("export is {len} bytes after base64 decoding, shorter than the {min} bytes of header and MAC; the file is truncated")]
    ExportTooShort {
        /// Decoded length that was found.
        len: u64,
        /// Minimum decoded length of a valid export.
        min: u64,
    },

    /// The export's version byte is not one this tool (or the spec) knows.
    #[error("export format version {version} is not supported (only version 1 exists); the file is damaged or not a Matrix key export")]
    ExportVersion {
        /// The version byte found.
        version: u8,
    },

    /// The file (export, key description, backup version) asks for zero PBKDF2 rounds.
    #[error("the file asks for 0 PBKDF2 rounds, which no client writes; it is damaged")]
    RoundsZero,

    /// The file asks for more PBKDF2 rounds than [`crate::kdf::Limits::max_rounds`] allows. (A
    /// round count chosen for writing is the caller's to check.)
    #[error("the file asks for {rounds} PBKDF2 rounds, above the limit {limit}")]
    RoundsTooHigh {
        /// Rounds requested.
        rounds: u32,
        /// Limit in force.
        limit: u32,
    },

    /// The export's HMAC does not match: wrong passphrase, or a changed file.
    #[error("wrong passphrase, or the file was changed after export (MAC mismatch)")]
    ExportMac,

    /// The file changed between the MAC check and decryption (it is read twice to keep memory flat).
    #[error("the file changed while it was being read (MAC mismatch on the second pass); copy it somewhere stable and retry")]
    ExportChanged,

    /// The decrypted data (or a plaintext input) is not a JSON array of session objects.
    #[error(
        "{what} is not a JSON array of session objects: {detail} at line {line}, column {column}"
    )]
    Json {
        /// Which data: "decrypted export", "input".
        what: &'static str,
        /// Category of the problem; never contains secret bytes.
        detail: crate::session::JsonDetail,
        /// 1-based line in the JSON text.
        line: usize,
        /// 1-based column in the JSON text.
        column: usize,
    },

    /// A recovery key / Security Key did not decode.
    #[error("{0}")]
    RecoveryKey(#[from] crate::recovery_key::RecoveryKeyError),

    /// A backup document (keys body, backup version, `auth_data`) is not shaped as expected.
    #[error("{0}")]
    Backup(#[from] crate::backup::BackupError),

    /// The recovery key belongs to another backup.
    #[error("this key is not the key of backup version {version}: the backup's public key is {expected}, this key's is {actual}")]
    BackupKeyMismatch {
        /// The backup version checked against.
        version: String,
        /// Its public key.
        expected: String,
        /// The key's public key.
        actual: String,
    },

    /// Secret-storage account data is malformed or lacks something.
    #[error("{0}")]
    Ssss(#[from] crate::ssss::SsssError),

    /// A passphrase search cannot run on a well-formed target.
    #[error("{0}")]
    Search(#[from] crate::search::TargetError),

    /// No default secret-storage key, and more than one key to choose from.
    #[error("no default key (m.secret_storage.default_key) and several keys: {keys}")]
    SsssSeveralKeys {
        /// The key ids, comma-separated.
        keys: String,
    },

    /// The Security Key or Phrase is not the one of this secret-storage key.
    #[error("this is not the Security Key (or Phrase) of secret-storage key {key_id}: its key check fails")]
    SsssWrongKey {
        /// The key id checked.
        key_id: String,
    },

    /// A key whose description has no check matches the MAC of none of the secrets stored under
    /// it.
    #[error("this is not the Security Key (or Phrase) of secret-storage key {key_id}: the key has no key check, and it fails the MAC of every secret stored under it ({secrets}); the key is wrong, or all of those secrets were changed")]
    SsssWrongKeyNoCheck {
        /// The key id checked.
        key_id: String,
        /// The secrets tried, comma-separated.
        secrets: String,
    },

    /// A secret's MAC does not match although the key passed its check (or had none).
    #[error("secret {secret} fails its MAC check: the account data was changed or damaged (or the key is wrong and could not be checked in advance)")]
    SsssMac {
        /// The secret's name.
        secret: String,
    },

    /// A secret is not encrypted under the chosen key.
    #[error("secret {secret} is not encrypted under key {key_id}")]
    SsssNoKey {
        /// The secret's name.
        secret: String,
        /// The key id asked for.
        key_id: String,
    },

    /// An empty passphrase was given for writing a file.
    #[error("the passphrase is empty; choose a passphrase to protect the export")]
    EmptyPassphrase,

    /// Reading the input or writing the output failed.
    #[error("{0}")]
    Io(#[source] io::Error),
}

/// The failure class of an [`Error`] ([`Error::kind`]): what test-vector manifests and `--json`
/// name it. Serialized as [`ErrorKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// `armor`: [`Error::Armor`].
    Armor,
    /// `too_short`: [`Error::ExportTooShort`].
    TooShort,
    /// `version`: [`Error::ExportVersion`].
    Version,
    /// `rounds`: [`Error::RoundsZero`], [`Error::RoundsTooHigh`].
    Rounds,
    /// `mac`: [`Error::ExportMac`], [`Error::ExportChanged`], [`Error::SsssMac`].
    Mac,
    /// `json`: [`Error::Json`].
    Json,
    /// `passphrase`: [`Error::EmptyPassphrase`].
    Passphrase,
    /// `format`: [`Error::Backup`], [`Error::Ssss`], [`Error::Search`],
    /// [`Error::SsssSeveralKeys`].
    Format,
    /// `wrong_key`: [`Error::SsssWrongKey`], [`Error::SsssWrongKeyNoCheck`],
    /// [`Error::BackupKeyMismatch`].
    WrongKey,
    /// `no_key`: [`Error::SsssNoKey`].
    NoKey,
    /// `io`: [`Error::Io`].
    Io,
    /// [`Error::RecoveryKey`]: its own kind (`bad_char`, `bad_length`, ...). Last, as serde
    /// wants of an untagged variant.
    #[serde(untagged)]
    RecoveryKey(RecoveryKeyKind),
}

impl ErrorKind {
    /// The short, stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Armor => "armor",
            ErrorKind::TooShort => "too_short",
            ErrorKind::Version => "version",
            ErrorKind::Rounds => "rounds",
            ErrorKind::Mac => "mac",
            ErrorKind::Json => "json",
            ErrorKind::Passphrase => "passphrase",
            ErrorKind::RecoveryKey(k) => k.as_str(),
            ErrorKind::Format => "format",
            ErrorKind::WrongKey => "wrong_key",
            ErrorKind::NoKey => "no_key",
            ErrorKind::Io => "io",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// The failure class, used by test-vector manifests and `--json`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Armor(_) => ErrorKind::Armor,
            Error::ExportTooShort { .. } => ErrorKind::TooShort,
            Error::ExportVersion { .. } => ErrorKind::Version,
            Error::RoundsZero | Error::RoundsTooHigh { .. } => ErrorKind::Rounds,
            Error::ExportMac | Error::ExportChanged => ErrorKind::Mac,
            Error::Json { .. } => ErrorKind::Json,
            Error::EmptyPassphrase => ErrorKind::Passphrase,
            Error::RecoveryKey(e) => ErrorKind::RecoveryKey(e.kind()),
            Error::Backup(_)
            | Error::Ssss(_)
            | Error::Search(_)
            | Error::SsssSeveralKeys { .. } => ErrorKind::Format,
            Error::SsssWrongKey { .. } | Error::SsssWrongKeyNoCheck { .. } => ErrorKind::WrongKey,
            Error::SsssMac { .. } => ErrorKind::Mac,
            Error::SsssNoKey { .. } => ErrorKind::NoKey,
            Error::BackupKeyMismatch { .. } => ErrorKind::WrongKey,
            Error::Io(_) => ErrorKind::Io,
        }
    }

    /// Unwrap a library error that travelled through an [`io::Error`] (the streaming readers and
    /// writers implement `Read`/`Write`, whose errors are `io::Error`).
    pub fn from_io(e: io::Error) -> Error {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(err) = inner.downcast::<Error>() {
                    return *err;
                }
            }
            // Unreachable in practice: is::<Error>() was checked above.
            return Error::Io(io::Error::other(
                "internal error while unwrapping an I/O error",
            ));
        }
        Error::Io(e)
    }

    /// Wrap into an [`io::Error`] so it can cross a `Read`/`Write` boundary.
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            Error::Io(e) => e,
            other => io::Error::other(other),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::from_io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_survive_an_io_round_trip() {
        let e = Error::RoundsTooHigh {
            rounds: 7,
            limit: 3,
        };
        let back = Error::from_io(e.into_io());
        assert!(matches!(
            back,
            Error::RoundsTooHigh {
                rounds: 7,
                limit: 3
            }
        ));
        let plain = Error::from_io(io::Error::new(io::ErrorKind::NotFound, "x"));
        assert_eq!(plain.kind(), ErrorKind::Io);
    }

    #[test]
    fn kinds_serialize_as_their_names() {
        let all = [
            (ErrorKind::Armor, "armor"),
            (ErrorKind::TooShort, "too_short"),
            (ErrorKind::Version, "version"),
            (ErrorKind::Rounds, "rounds"),
            (ErrorKind::Mac, "mac"),
            (ErrorKind::Json, "json"),
            (ErrorKind::Passphrase, "passphrase"),
            (ErrorKind::RecoveryKey(RecoveryKeyKind::BadChar), "bad_char"),
            (
                ErrorKind::RecoveryKey(RecoveryKeyKind::BadLength),
                "bad_length",
            ),
            (
                ErrorKind::RecoveryKey(RecoveryKeyKind::BadPrefix),
                "bad_prefix",
            ),
            (
                ErrorKind::RecoveryKey(RecoveryKeyKind::BadParity),
                "bad_parity",
            ),
            (ErrorKind::Format, "format"),
            (ErrorKind::WrongKey, "wrong_key"),
            (ErrorKind::NoKey, "no_key"),
            (ErrorKind::Io, "io"),
        ];
        for (k, name) in all {
            assert_eq!((k.as_str(), k.to_string().as_str()), (name, name));
            assert_eq!(serde_json::to_value(k).unwrap(), name);
        }
    }
}
