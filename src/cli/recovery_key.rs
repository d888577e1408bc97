//! `mxkeys recovery-key ...`: check, generate, and derive legacy passphrase keys.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::json;
use zeroize::Zeroizing;

use mxkeys::account::{self, Held, KeyKind};
use mxkeys::backup;
use mxkeys::encoding::encode_unpadded;
use mxkeys::recovery_key::{self, RecoveryKey};
use mxkeys::ssss::AccountData;

use super::common::{output_arg, MaxRounds, OptionalOutputArgs, PassphraseArgs};
use super::held::{HeldArgs, HeldSecret};
use super::io::{explain, print_json, read_small_json, spinner};
use super::secrets::{self, SecretSpec};
use super::{output, CliError};

const CHECK_AFTER: &str = "\
The key is read from --key-file (first line; - for standard input), else MXKEYS_RECOVERY_KEY, else a
prompt without echo; a Security Phrase from --passphrase-file or MXKEYS_PASSPHRASE. Spaces and line
breaks in a key are ignored. VERSION.json is the body of GET /_matrix/client/v3/room_keys/version
({\"algorithm\": ..., \"auth_data\": {\"public_key\": ...}, \"version\": ...}), or just its auth_data:
  curl -H \"Authorization: Bearer $TOKEN\" \"$HS/_matrix/client/v3/room_keys/version\" > version.json
AD.json is your account data (`mxkeys ssss inspect --help` shows how to fetch it).

Two keys look alike: today's Element gives you a Security Key that opens secret storage, where the
backup key is kept; older setups gave the backup key itself. With --account-data the check says
which one you have (--json: \"kind\": \"secret_storage_key\" or \"backup_key\", and \"opens\": the
secrets it decrypts) and exits 0 when it opens the default secret-storage key (or is the key of
--backup-version).

A key that does not decode is explained: a character outside base58 (and what it probably was),
how many characters are missing or extra, a wrong prefix, a failed check digit. --suggest lists the
keys one correction away that decode; with --backup-version or --account-data only the ones that
match the backup or open secret storage (by the MAC of the key description). A
corrected key is a secret like the key itself, so the list goes to -o OUT (mode 0600), or to the
terminal (standard output if it is one, else the controlling terminal), never into a pipe; --json
gives only how many there are and where they went.

Examples:
  mxkeys recovery-key check
  mxkeys recovery-key check --key-file key.txt --account-data account_data.json
  mxkeys recovery-key check --key-file key.txt --backup-version version.json
  mxkeys recovery-key check --key-file key.txt --suggest --account-data account_data.json
  mxkeys recovery-key check --key-file key.txt --suggest -o corrected.txt

Exit codes:
  0  the key is valid (and, with --account-data, opens the default secret-storage key; with
     --backup-version, is that backup's key or opens secret storage holding it)
  1  the key does not decode (even when --suggest finds a correction: retry with it), or opens
     neither the account data's default key nor the backup given
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
  mxkeys recovery-key from-passphrase --backup-version version.json
  mxkeys recovery-key from-passphrase --backup-version version.json --passphrase-file pass.txt > key.txt

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

#[derive(Debug, Args)]
#[command(mut_args(output_arg(|a| {
    a.help("With --suggest: write the corrected keys here (mode 0600)")
        .requires("suggest")
})))]
pub struct CheckArgs {
    #[command(flatten)]
    key: HeldArgs,
    /// Also print the private key (a secret: it opens your backup).
    #[arg(long)]
    show_private: bool,
    /// If the key does not decode, list one-character fixes that do.
    #[arg(long)]
    suggest: bool,
    /// Check the key against this backup version (or its auth_data).
    #[arg(long, value_name = "VERSION.json", alias = "auth-data")]
    backup_version: Option<PathBuf>,
    /// Say what the key opens in this account data (secret storage).
    #[arg(long, value_name = "AD.json")]
    account_data: Option<PathBuf>,
    #[command(flatten)]
    out: OptionalOutputArgs,
    #[command(flatten)]
    max: MaxRounds,
}

#[derive(Debug, Args)]
pub struct FromPassphraseArgs {
    /// The backup version whose auth_data has private_key_salt.
    #[arg(long, value_name = "VERSION.json", alias = "auth-data")]
    backup_version: PathBuf,
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

fn describe(
    key: &RecoveryKey,
    show_private: bool,
    json: bool,
    extra: Option<serde_json::Map<String, serde_json::Value>>,
) -> Result<(), CliError> {
    let public = encode_unpadded(&key.backup_public_key());
    if json {
        let mut v = serde_json::Map::new();
        v.insert("public_key".into(), json!(public));
        v.extend(extra.unwrap_or_default());
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
    let mut pending = a.out.create(&[])?;
    let account = a
        .account_data
        .as_deref()
        .map(|p| read_small_json(p, "account data").and_then(|v| Ok(AccountData::parse(&v)?)))
        .transpose()?;
    let version = a
        .backup_version
        .as_deref()
        .map(|p| read_small_json(p, "backup version"))
        .transpose()?;
    if let Some(f) = &a.key.passphrase_file {
        let phrase = secrets::read(&SecretSpec {
            file: Some(f),
            file_flag: "--passphrase-file",
            env: "MXKEYS_PASSPHRASE",
            prompt: String::new(),
            confirm: false,
        })?;
        return check_held(
            &HeldSecret::Phrase(phrase),
            account.as_ref(),
            version.as_ref(),
            &a,
            json,
        );
    }
    let text = key_text(a.key.key_file.as_deref())?;
    let key = match RecoveryKey::decode(text.expose()) {
        Ok(k) => k,
        Err(e) => {
            // The key is secret: shown marked only on the person's own terminal.
            if let recovery_key::RecoveryKeyError::BadChar { position, .. } = &e {
                if io::stderr().is_terminal() {
                    explain(&format!(
                        "your key as Element shows it, that character in brackets: {}",
                        recovery_key::mark_in_groups(text.expose(), *position).as_str()
                    ));
                }
            }
            if a.suggest {
                suggest(
                    &text,
                    &e,
                    account.as_ref(),
                    version.as_ref(),
                    &mut pending,
                    json,
                )?;
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
    check_held(
        &HeldSecret::Key(key),
        account.as_ref(),
        version.as_ref(),
        &a,
        json,
    )
}

/// List the keys one correction away, keeping those that fit the backup or open secret
/// storage when either was given (all of them, with the reason, when none fits).
fn suggest(
    text: &mxkeys::Passphrase,
    e: &recovery_key::RecoveryKeyError,
    account: Option<&AccountData>,
    version: Option<&serde_json::Value>,
    pending: &mut Option<output::PendingOutput>,
    json: bool,
) -> Result<(), CliError> {
    let all = recovery_key::suggest(text.expose());
    let fits = |f: &Zeroizing<String>| {
        let Ok(k) = RecoveryKey::decode(f) else {
            return false;
        };
        let backup = version.is_some_and(|v| backup::check_auth_data(&k, v).is_ok());
        // A cheap check per candidate: only Security Keys, so no PBKDF2 runs here.
        let storage = account.is_some_and(|ad| {
            account::identify(
                Held::Key(&k),
                Some(ad),
                None,
                &mxkeys::kdf::Limits::default(),
            )
            .is_ok_and(|i| i.kind == KeyKind::SecretStorageKey)
        });
        backup || storage
    };
    let filtered = account.is_some() || version.is_some();
    let matching: Vec<Zeroizing<String>> = all.iter().filter(|f| fits(f)).cloned().collect();
    // With only a backup version, a Security Key of secret storage matches nothing: keep every
    // candidate and say why, rather than claim no correction exists.
    let (fixes, none_fit) = if filtered && matching.is_empty() && !all.is_empty() {
        (all, true)
    } else if filtered {
        (matching, false)
    } else {
        (all, false)
    };
    let shown = if fixes.is_empty() {
        None
    } else {
        show_corrections(&fixes, pending.take())?
    };
    if json {
        let mut v = json!({"error": e.to_string(), "suggestions": fixes.len(), "matching": !none_fit && filtered});
        if let (Some(where_), Some(obj)) = (&shown, v.as_object_mut()) {
            obj.extend(where_.json());
        }
        print_json(&v)?;
    }
    if fixes.is_empty() {
        explain("no one-character correction makes this a valid Security Key");
        return Ok(());
    }
    if none_fit {
        let why = if account.is_none() {
            "; if this is the Security Key that Element asks for, it opens secret storage, not the backup: check the candidates with --account-data AD.json"
        } else {
            ""
        };
        explain(&format!(
            "{} keys one correction away are valid, but none fits what was given{why}",
            fixes.len()
        ));
    }
    match &shown {
        Some(where_) if !json => {
            let what = if filtered && !none_fit {
                "the corrected key that fits is".to_owned()
            } else {
                format!("{} keys one correction away that are valid are", fixes.len())
            };
            let hint = if filtered {
                ""
            } else {
                " (add --account-data AD.json or --backup-version VERSION.json to find yours)"
            };
            explain(&format!("{what} {}{hint}", where_.describe()));
        }
        Some(_) => {}
        None => explain(&format!(
            "{} corrected keys found; they are secret like the key, so they are shown only on a terminal: rerun with -o FILE to have them written there",
            fixes.len()
        )),
    }
    Ok(())
}

/// What a valid key (or a phrase) is, against what was given.
fn check_held(
    held: &HeldSecret,
    account: Option<&AccountData>,
    version: Option<&serde_json::Value>,
    a: &CheckArgs,
    json: bool,
) -> Result<(), CliError> {
    let key = match held {
        HeldSecret::Key(k) => Some(k),
        HeldSecret::Phrase(_) => None,
    };
    if account.is_none() && version.is_none() {
        let Some(key) = key else {
            return Err(CliError::Usage(
                "a Security Phrase can only be checked against account data (--account-data AD.json) or a passphrase backup (--backup-version VERSION.json)".into(),
            ));
        };
        describe(key, a.show_private, json, None)?;
        if !json {
            stderr!("note: to learn what it opens, add --account-data AD.json (your secret storage) or --backup-version VERSION.json (your backup)");
        }
        return Ok(());
    }
    let pb = match (held, account) {
        (HeldSecret::Phrase(_), Some(_)) => {
            spinner("deriving the key from the Security Phrase".into())
        }
        _ => None,
    };
    let found = account::identify(held.as_held(), account, version, &a.max.limits());
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let found = found?;
    // `identify` calls a key `BackupKey` only when it is the given version's key.
    let ok = found.opened.iter().any(|o| o.is_default) || found.kind == KeyKind::BackupKey;
    if json {
        let mut extra = serde_json::Map::new();
        extra.insert("kind".into(), json!(found.kind));
        if account.is_some() {
            extra.insert("key_ids".into(), json!(found.key_ids()));
            extra.insert("opens".into(), json!(found.opens));
        }
        if version.is_some() {
            extra.insert("matches_backup".into(), json!(found.matches_backup));
        }
        match key {
            Some(k) => describe(k, a.show_private, true, Some(extra))?,
            None => print_json(&serde_json::Value::Object(extra))?,
        }
    } else {
        match (found.kind, found.storage()) {
            (KeyKind::SecretStorageKey, Some(st)) => {
                outln!(
                    "It is a Security Key of secret storage: it opens key {}{}.",
                    st.desc.id,
                    if st.is_default {
                        " (the default)"
                    } else {
                        ", NOT the default key"
                    }
                )?;
                outln!(
                    "It decrypts: {}",
                    if found.opens.is_empty() {
                        "no secret".to_owned()
                    } else {
                        found.opens.join(", ")
                    }
                )?;
                match found.matches_backup {
                    Some(true) => outln!("The backup key stored there is the key of the backup version given.")?,
                    Some(false) => outln!("The backup key stored there is NOT the key of the backup version given: key storage is out of sync (mxkeys doctor explains)")?,
                    None => {}
                }
            }
            (KeyKind::BackupKey, _) => {
                if let Some(p) = &a.backup_version {
                    outln!("It matches the backup in {}.", p.display())?;
                }
                outln!("It is the backup's own decryption key (not a secret-storage key).")?;
            }
            _ => {}
        }
        if let Some(k) = key {
            if found.kind != KeyKind::Unknown {
                describe(k, a.show_private, false, None)?;
            }
        }
    }
    if ok {
        return Ok(());
    }
    if account.is_none() {
        explain("fetch your account data with an access token ($TOKEN) and your homeserver's URL ($HS): curl -s -G -H \"Authorization: Bearer $TOKEN\" --data-urlencode 'filter={\"room\":{\"rooms\":[]}}' \"$HS/_matrix/client/v3/sync\" | jq .account_data.events > account_data.json");
    }
    Err(CliError::Input(not_fitting(
        &found,
        account,
        version,
        key.is_some(),
    )))
}

/// Why a valid key or phrase fits nothing given, and what to run next.
fn not_fitting(
    found: &account::Identified,
    account: Option<&AccountData>,
    version: Option<&serde_json::Value>,
    is_key: bool,
) -> String {
    let what = if is_key {
        "the key is valid but"
    } else {
        "the Security Phrase"
    };
    match (found.kind, account, version) {
        (KeyKind::SecretStorageKey, Some(ad), _) => format!(
            "{what} opens key {}, not the default key {}: it is from an earlier setup; use the latest Security Key (or mxkeys doctor to see what each opens)",
            found.key_ids().join(", "),
            ad.default_key_id().unwrap_or("(none)")
        ),
        (_, Some(_), Some(_)) => format!(
            "{what} opens no secret-storage key in the account data and is not the key of the backup version given; check for a typo (--suggest) or find the key of the latest setup"
        ),
        (_, Some(_), None) => format!(
            "{what} opens no secret-storage key in the account data; if it is a backup key, check it with --backup-version VERSION.json"
        ),
        (_, None, _) => format!(
            "{what} is not the key of backup version {}. Most likely it is the Security Key of secret storage (today's Element keeps the backup key there): fetch your account data (the curl line above) and run mxkeys recovery-key check --account-data account_data.json --backup-version VERSION.json, or mxkeys recover",
            version
                .and_then(|v| v.get("version"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or("(unnamed)")
        ),
    }
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
    let version = read_small_json(&a.backup_version, "backup version")?;
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
