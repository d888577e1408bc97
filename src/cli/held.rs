//! The key a person holds, read once for commands that accept either kind: a Security Key (of
//! secret storage, or a backup's key in the same encoding) or a Security Phrase. What it opens is
//! the library's question ([`mxkeys::account::identify`]); this file only reads it.

use std::path::PathBuf;

use clap::Args;

use mxkeys::account::Held;
use mxkeys::recovery_key::RecoveryKey;
use mxkeys::Passphrase;

use super::secrets::{self, SecretSpec};
use super::CliError;

/// `--key-file` / `--passphrase-file`: the Security Key or the Security Phrase.
#[derive(Debug, Clone, Args)]
pub struct HeldArgs {
    /// Security Key or backup key file (first line; - for stdin).
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// Security Phrase file (first line; - for stdin).
    #[arg(long, value_name = "PATH")]
    pub passphrase_file: Option<PathBuf>,
}

/// A key or phrase, as read.
pub enum HeldSecret {
    /// A Security Key (decoded).
    Key(RecoveryKey),
    /// A Security Phrase.
    Phrase(Passphrase),
}

impl HeldSecret {
    /// The library's view.
    pub fn as_held(&self) -> Held<'_> {
        match self {
            HeldSecret::Key(k) => Held::Key(k),
            HeldSecret::Phrase(p) => Held::Phrase(p),
        }
    }
}

/// A Security Key, or something a typo away from one: `Es` and about 48 base58 characters.
pub fn looks_like_recovery_key(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    RecoveryKey::decode(text).is_ok()
        || (compact.starts_with("Es")
            && (44..=52).contains(&compact.len())
            && compact.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Read the key or phrase: `--key-file`, `--passphrase-file`, `MXKEYS_RECOVERY_KEY`,
/// `MXKEYS_PASSPHRASE`, else the prompt (which accepts either). With `optional`, no secret at
/// all (no file, variable or terminal, or an empty answer) is `None`; without, it is a usage
/// error.
pub fn read(args: &HeldArgs, optional: bool) -> Result<Option<HeldSecret>, CliError> {
    let spec = |file: Option<&'static str>, env, prompt: &str| SecretSpec {
        file: None,
        file_flag: file.unwrap_or("--key-file"),
        env,
        prompt: prompt.into(),
        confirm: false,
    };
    if let Some(f) = &args.key_file {
        let text = secrets::read(&SecretSpec {
            file: Some(f),
            ..spec(Some("--key-file"), "MXKEYS_RECOVERY_KEY", "")
        })?;
        return decode(&text).map(Some);
    }
    if let Some(f) = &args.passphrase_file {
        let text = secrets::read(&SecretSpec {
            file: Some(f),
            ..spec(Some("--passphrase-file"), "MXKEYS_PASSPHRASE", "")
        })?;
        return Ok(Some(HeldSecret::Phrase(text)));
    }
    if let Some(k) = secrets::from_env("MXKEYS_RECOVERY_KEY")? {
        return decode(&k).map(Some);
    }
    if let Some(p) = secrets::from_env("MXKEYS_PASSPHRASE")? {
        return Ok(Some(HeldSecret::Phrase(p)));
    }
    let prompt = if optional {
        "Security Key or Security Phrase (Enter to go on without): "
    } else {
        "Security Key or Security Phrase: "
    };
    let s = spec(None, "MXKEYS_RECOVERY_KEY", prompt);
    let answer = if optional {
        secrets::read_optional(&s)?
    } else {
        Some(secrets::read(&s)?)
    };
    let Some(text) = answer else { return Ok(None) };
    // At the prompt either is accepted: a valid Security Key is one, something a typo away
    // from one gets the key's diagnosis, anything else is a phrase.
    if looks_like_recovery_key(text.expose()) {
        return decode(&text).map(Some);
    }
    Ok(Some(HeldSecret::Phrase(text)))
}

fn decode(text: &Passphrase) -> Result<HeldSecret, CliError> {
    RecoveryKey::decode(text.expose())
        .map(HeldSecret::Key)
        .map_err(|e| CliError::Lib(e.into()))
}

/// The backup key a held key or phrase leads to, and how it was found.
pub struct BackupKey {
    /// The key.
    pub key: RecoveryKey,
    /// One line for the user: where the key came from.
    pub how: String,
    /// Whether it came out of secret storage (else the key given was the backup's own).
    pub from_storage: bool,
}

/// Resolve the backup key from what the person holds: a Security Key or Phrase of secret storage
/// (with `account`), the backup's own key, or a legacy backup passphrase (with `version`).
/// Without a version to check against, a key that opens no secret storage is tried on the first
/// sessions of `probe` (a wrong key opens none).
pub fn backup_key(
    held: &HeldSecret,
    account: Option<&mxkeys::ssss::AccountData>,
    version: Option<&serde_json::Value>,
    probe: &[mxkeys::backup::Entry],
    key_id: Option<&str>,
    limits: &mxkeys::kdf::Limits,
) -> Result<BackupKey, CliError> {
    use mxkeys::account::{self, KeyKind};
    let pb = match held {
        HeldSecret::Phrase(_) => super::io::spinner("deriving the key from the phrase".into()),
        HeldSecret::Key(_) => None,
    };
    let found = account::identify(held.as_held(), account, version, limits);
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let mut found = found?;
    let version_name = || {
        version
            .and_then(|v| v.get("version"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("given")
            .to_owned()
    };
    match found.kind {
        KeyKind::SecretStorageKey => {
            let id = found.key_ids().join(", ");
            if let Some(want) = key_id {
                if !found.key_ids().iter().any(|i| i == want) {
                    return Err(CliError::Input(format!(
                        "your key does not open secret-storage key {want} (--key-id); it opens {id}"
                    )));
                }
            }
            let Some(key) = found.backup_key.take() else {
                return Err(CliError::Input(format!(
                    "your key opens secret storage (key {id}), but no backup key is stored under it (m.megolm_backup.v1 missing or not 32 bytes); mxkeys doctor --account-data AD.json explains"
                )));
            };
            if found.matches_backup == Some(false) {
                return Err(CliError::Input(format!(
                    "key storage is out of sync: the backup key in secret storage (key {id}) is not the key of backup version {}; mxkeys doctor --account-data AD.json --backup-version VERSION.json explains and writes a repair",
                    version_name()
                )));
            }
            Ok(BackupKey {
                key,
                how: format!("secret storage opened with key {id}; backup key found"),
                from_storage: true,
            })
        }
        KeyKind::BackupKey => {
            let key = found.backup_key.take().ok_or_else(|| {
                CliError::Input("the backup key could not be derived".into())
            })?;
            Ok(BackupKey {
                key,
                how: format!("the key given is the key of backup version {}", version_name()),
                from_storage: false,
            })
        }
        KeyKind::Unknown => match (held, version) {
            (HeldSecret::Key(_), Some(_)) => Err(CliError::Input(format!(
                "this is not the Security Key (or Phrase) of this account: the key opens {}and is not the key of backup version {}; check it for a typo (mxkeys recovery-key check --suggest), or use the Security Key of the latest setup",
                if account.is_some() { "no secret-storage key in the account data " } else { "nothing given " },
                version_name()
            ))),
            (HeldSecret::Key(k), None) => {
                let tried = probe.get(..probe.len().min(3)).unwrap_or_default();
                let opens = mxkeys::backup::decrypt_entries(k, tried)
                    .iter()
                    .any(|o| o.result.is_ok());
                if opens || (probe.is_empty() && account.is_none()) {
                    let mut bytes = *k.expose();
                    Ok(BackupKey {
                        key: RecoveryKey::from_bytes(&mut bytes),
                        how: "the key given opens the backup's sessions: it is the backup key".into(),
                        from_storage: false,
                    })
                } else {
                    Err(CliError::Input(format!(
                        "this is not the Security Key (or Phrase) of this account: the key opens {}none of the backup's first sessions; check it for a typo (mxkeys recovery-key check --suggest --account-data AD.json)",
                        if account.is_some() { "no secret-storage key in the account data and " } else { "" }
                    )))
                }
            }
            (HeldSecret::Phrase(_), _) => Err(CliError::Input(format!(
                "this is not the Security Key (or Phrase) of this account: the phrase opens no secret-storage key in the account data{}; check it for a typo, or try `mxkeys passphrase search` with the variants you might have typed",
                if version.is_some() { " and is not the passphrase of this backup" } else { "" }
            ))),
        },
    }
}
