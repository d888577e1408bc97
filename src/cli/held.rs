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
    if let Some(k) = env("MXKEYS_RECOVERY_KEY")? {
        return decode(&k).map(Some);
    }
    if let Some(p) = env("MXKEYS_PASSPHRASE")? {
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

fn env(name: &str) -> Result<Option<Passphrase>, CliError> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(Passphrase::new(v))),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(CliError::Usage(format!("{name} is not valid UTF-8")))
        }
        Err(std::env::VarError::NotPresent) => Ok(None),
    }
}

fn decode(text: &Passphrase) -> Result<HeldSecret, CliError> {
    RecoveryKey::decode(text.expose())
        .map(HeldSecret::Key)
        .map_err(|e| CliError::Lib(e.into()))
}
