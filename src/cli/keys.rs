//! `mxkeys recovery-key ...`: check, generate, and derive legacy passphrase keys.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::json;
use zeroize::Zeroizing;

use mxkeys::backup;
use mxkeys::encoding::encode_unpadded;
use mxkeys::recovery_key::{self, RecoveryKey};

use super::export::MaxRounds;
use super::io::{print_json, read_small_json, spinner};
use super::secrets::{self, SecretSpec};
use super::{output, CliError, ForceArg, PassphraseArgs};

const CHECK_AFTER: &str = "\
The key is read from --key-file (first line; - for standard input), else MXKEYS_RECOVERY_KEY, else a
prompt without echo. Spaces and line breaks in it are ignored. VERSION.json is the body of
GET /_matrix/client/v3/room_keys/version ({\"algorithm\": ..., \"auth_data\": {\"public_key\": ...},
\"version\": ...}), or just its auth_data:
  curl -H \"Authorization: Bearer $TOKEN\" \"$HS/_matrix/client/v3/room_keys/version\" > version.json

A key that does not decode is explained: a character outside base58 (and what it probably was),
how many characters are missing or extra, a wrong prefix, a failed check digit. --suggest lists the
keys one correction away that decode; with --auth-data only the one that matches the backup. A
corrected key is a secret like the key itself, so the list goes to -o OUT (mode 0600), or to the
terminal (standard output if it is one, else the controlling terminal), never into a pipe; --json
gives only how many there are and where they went.

Examples:
  mxkeys recovery-key check
  mxkeys recovery-key check --key-file key.txt --auth-data version.json
  mxkeys recovery-key check --key-file key.txt --suggest --auth-data version.json
  mxkeys recovery-key check --key-file key.txt --suggest -o corrected.txt

Exit codes:
  0  the key is valid (and, with --auth-data, belongs to that backup)
  1  the key does not decode (even when --suggest finds a correction: retry with it), or does not
     match the backup in --auth-data
  2  usage: bad arguments, no key (no --key-file, no MXKEYS_RECOVERY_KEY, no terminal), OUT
     exists (add --force)";

const GENERATE_AFTER: &str = "\
Needs no input. Prints a new Security Key (48 base58 characters in groups of 4) on standard output
and its backup public key on standard error; with --json both, as recovery_key and public_key. Use
it with `mxkeys backup encrypt --public-key` to start a backup, or keep it as a spare.

Examples:
  mxkeys recovery-key generate
  mxkeys recovery-key generate --json > new-key.json

Exit codes:
  0  generated
  1  the operating system gave no randomness
  2  usage: bad arguments";

const FROM_PASSPHRASE_AFTER: &str = "\
For old backups whose key was made from a passphrase, before secret storage existed.
VERSION.json is the body of GET /_matrix/client/v3/room_keys/version; its auth_data must hold
private_key_salt and private_key_iterations:
  {\"algorithm\": \"m.megolm_backup.v1.curve25519-aes-sha2\", \"version\": \"1\", \"auth_data\": {
    \"public_key\": \"...\", \"private_key_salt\": \"...\", \"private_key_iterations\": 500000}}
The passphrase comes from --passphrase-file, else MXKEYS_PASSPHRASE, else a prompt. Prints the key
as a Security Key, for `mxkeys backup decrypt` or any client.

Examples:
  mxkeys recovery-key from-passphrase --auth-data version.json
  mxkeys recovery-key from-passphrase --auth-data version.json --passphrase-file pass.txt > key.txt

Exit codes:
  0    the passphrase gives the backup's key (printed)
  1    wrong passphrase (the key does not match auth_data.public_key), no private_key_salt, rounds
       above --max-rounds, malformed JSON
  2    usage: bad arguments, no passphrase (no --passphrase-file, no MXKEYS_PASSPHRASE, no
       terminal)
  130  stopped with Ctrl-C";

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Decode a Security Key, explain typos, print its public key.
    #[command(after_help = CHECK_AFTER)]
    Check(CheckArgs),
    /// Make a new random Security Key (operating-system randomness).
    #[command(after_help = GENERATE_AFTER)]
    Generate,
    /// Derive the key of an old passphrase-protected backup.
    #[command(after_help = FROM_PASSPHRASE_AFTER)]
    FromPassphrase(FromPassphraseArgs),
}

/// Where a recovery key comes from.
#[derive(Debug, Clone, Args)]
pub struct KeyFileArg {
    /// Security Key file (first line; - for stdin).
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    key: KeyFileArg,
    /// Also print the private key (a secret: it opens your backup).
    #[arg(long)]
    show_private: bool,
    /// If the key does not decode, list one-character fixes that do.
    #[arg(long)]
    suggest: bool,
    /// Check the key against this backup version (or its auth_data).
    #[arg(long, value_name = "VERSION.json")]
    auth_data: Option<PathBuf>,
    /// With --suggest: write the corrected keys here (mode 0600).
    #[arg(short, long, value_name = "OUT", requires = "suggest")]
    output: Option<PathBuf>,
    #[command(flatten)]
    force: ForceArg,
}

#[derive(Debug, Args)]
pub struct FromPassphraseArgs {
    /// The backup version whose auth_data has private_key_salt.
    #[arg(long, value_name = "VERSION.json")]
    auth_data: PathBuf,
    #[command(flatten)]
    pass: PassphraseArgs,
    #[command(flatten)]
    max: MaxRounds,
}

pub fn run(cmd: KeyCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        KeyCmd::Check(a) => check(a, json),
        KeyCmd::Generate => generate(json),
        KeyCmd::FromPassphrase(a) => from_passphrase(a, json),
    }
}

/// The raw text of a recovery key, from --key-file / MXKEYS_RECOVERY_KEY / prompt.
pub fn key_text(file: Option<&Path>) -> Result<mxkeys::Passphrase, CliError> {
    secrets::read(&SecretSpec {
        file,
        file_flag: "--key-file",
        env: "MXKEYS_RECOVERY_KEY",
        prompt: "Security Key (recovery key): ".into(),
        confirm: false,
    })
}

/// Read and decode a recovery key.
pub fn read_key(file: Option<&Path>) -> Result<RecoveryKey, CliError> {
    let text = key_text(file)?;
    RecoveryKey::decode(text.expose()).map_err(|e| CliError::Lib(e.into()))
}

fn describe(key: &RecoveryKey, show_private: bool, json: bool) -> Result<(), CliError> {
    let public = encode_unpadded(&key.backup_public_key());
    if json {
        let mut v = serde_json::Map::new();
        v.insert("public_key".into(), json!(public));
        if show_private {
            v.insert("private_key".into(), json!(encode_unpadded(key.expose())));
        }
        return print_json(&serde_json::Value::Object(v));
    }
    outln!("The key is valid.")?;
    outln!("backup public key: {public}")?;
    if show_private {
        let private = Zeroizing::new(encode_unpadded(key.expose()));
        outln!("private key:       {}", &*private)?;
    }
    Ok(())
}

fn check(a: CheckArgs, json: bool) -> Result<(), CliError> {
    // OUT is checked before the key is even read; it is written only if corrections are found.
    let mut pending = match &a.output {
        Some(p) => Some(output::create(p, a.force.force, &[])?),
        None => None,
    };
    let text = key_text(a.key.key_file.as_deref())?;
    let key = match RecoveryKey::decode(text.expose()) {
        Ok(k) => k,
        Err(e) => {
            if a.suggest {
                let mut fixes = recovery_key::suggest(text.expose());
                if let Some(path) = &a.auth_data {
                    // The backup's public key singles out the right correction.
                    let version = read_small_json(path, "backup version")?;
                    fixes.retain(|f| {
                        RecoveryKey::decode(f)
                            .is_ok_and(|k| backup::check_auth_data(&k, &version).is_ok())
                    });
                }
                let shown = if fixes.is_empty() {
                    None
                } else {
                    show_corrections(&fixes, pending.take())?
                };
                if json {
                    let mut v = json!({"error": e.to_string(), "suggestions": fixes.len()});
                    if let (Some(where_), Some(obj)) = (&shown, v.as_object_mut()) {
                        obj.extend(where_.json());
                    }
                    print_json(&v)?;
                }
                if fixes.is_empty() {
                    stderr!("note: no one-character correction makes this a valid Security Key");
                } else if let Some(where_) = &shown {
                    if !json {
                        let what = if a.auth_data.is_some() {
                            "the corrected key that matches the backup is".to_owned()
                        } else {
                            format!(
                                "{} keys one correction away that are valid are",
                                fixes.len()
                            )
                        };
                        let hint = if a.auth_data.is_some() {
                            ""
                        } else {
                            " (add --auth-data VERSION.json to find the one of your backup)"
                        };
                        stderr!("note: {what} {}{hint}", where_.describe());
                    }
                } else {
                    stderr!(
                        "note: {} corrected keys found; they are secret like the key, so they are shown only on a terminal: rerun with -o FILE to have them written there",
                        fixes.len()
                    );
                }
            }
            // With --suggest given, its hint (`--suggest` lists ...) would only repeat it.
            let e = mxkeys::Error::from(e);
            return Err(if a.suggest {
                CliError::Input(e.to_string())
            } else {
                CliError::Lib(e)
            });
        }
    };
    if let Some(path) = &a.auth_data {
        backup::check_auth_data(&key, &read_small_json(path, "backup version")?)?;
        if !json {
            outln!("It matches the backup in {}.", path.display())?;
        }
    }
    describe(&key, a.show_private, json)
}

/// Where corrected keys were shown.
enum Shown {
    File(PathBuf),
    Stdout,
    Terminal,
}

impl Shown {
    fn describe(&self) -> String {
        match self {
            Shown::File(p) => format!("in {}", p.display()),
            Shown::Stdout => "on standard output".into(),
            Shown::Terminal => "shown on the terminal only (never into a pipe)".into(),
        }
    }
    fn json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        match self {
            Shown::File(p) => {
                m.insert("output".into(), json!(p.display().to_string()));
            }
            Shown::Stdout | Shown::Terminal => {
                m.insert("shown_on".into(), json!("terminal"));
            }
        }
        m
    }
}

/// Corrected keys are secrets: into OUT, or onto a terminal, never into a pipe or a file that
/// standard output was redirected to.
fn show_corrections(
    fixes: &[Zeroizing<String>],
    out: Option<output::PendingOutput>,
) -> Result<Option<Shown>, CliError> {
    if let Some(mut pending) = out {
        for f in fixes {
            pending.write_all(f.as_bytes())?;
            pending.write_all(b"\n")?;
        }
        return Ok(Some(Shown::File(pending.commit()?)));
    }
    if io::stdout().is_terminal() {
        for f in fixes {
            outln!("{}", f.as_str())?;
        }
        return Ok(Some(Shown::Stdout));
    }
    if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty") {
        let mut all = Zeroizing::new(String::new());
        for f in fixes {
            all.push_str(f);
            all.push('\n');
        }
        if tty.write_all(all.as_bytes()).is_ok() {
            return Ok(Some(Shown::Terminal));
        }
    }
    Ok(None)
}

fn generate(json: bool) -> Result<(), CliError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(&mut *bytes)
        .map_err(|e| CliError::Input(format!("the operating system gave no randomness: {e}")))?;
    let key = RecoveryKey::from_bytes(&mut bytes);
    let text = key.encode();
    let public = encode_unpadded(&key.backup_public_key());
    if json {
        return print_json(&json!({"recovery_key": text.as_str(), "public_key": public}));
    }
    outln!("{}", text.as_str())?;
    stderr!("backup public key: {public}");
    stderr!("Keep this key somewhere safe: it is the only way to read what it protects.");
    Ok(())
}

fn from_passphrase(a: FromPassphraseArgs, json: bool) -> Result<(), CliError> {
    let version = read_small_json(&a.auth_data, "backup version")?;
    let pass = secrets::read(&SecretSpec {
        file: a.pass.passphrase_file.as_deref(),
        file_flag: "--passphrase-file",
        env: "MXKEYS_PASSPHRASE",
        prompt: "Backup passphrase: ".into(),
        confirm: false,
    })?;
    let pb = spinner("deriving the backup key from the passphrase".into());
    let key = backup::key_from_passphrase(&pass, &version, &a.max.limits());
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let key = key?;
    backup::check_auth_data(&key, &version).map_err(|e| match e {
        mxkeys::Error::BackupKeyMismatch { .. } => CliError::Input(
            "wrong backup passphrase: the key it gives does not match the backup's public key"
                .into(),
        ),
        other => CliError::Lib(other),
    })?;
    let text = key.encode();
    if json {
        return print_json(&json!({
            "recovery_key": text.as_str(),
            "public_key": encode_unpadded(&key.backup_public_key()),
        }));
    }
    outln!("{}", text.as_str())?;
    stderr!("This is the backup's key as a Security Key; it matches the backup's public key.");
    Ok(())
}
