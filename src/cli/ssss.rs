//! `mxkeys ssss ...`: secret storage in account data — inspect, decrypt with a Security Key or
//! Security Phrase, encrypt a secret.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use mxkeys::kdf::Limits;
use mxkeys::recovery_key::RecoveryKey;
use mxkeys::ssss::{self, AccountData, KeyCheck, KeyDescription, Unlock};
use mxkeys::Passphrase;

use super::common::{output_arg, MaxRounds, OptionalOutputArgs, OutputArgs};
use super::io::{note, print_json, read_small_json, spinner, warn};
use super::secrets::{self, SecretSpec};
use super::CliError;

/// How to get the account data, shared by the ssss commands and `recover`.
pub(super) const ACCOUNT_DATA_INPUT: &str = "\
ACCOUNT_DATA.json is the user's account data: a JSON object {type: content}, or a list of events
[{\"type\": ..., \"content\": ...}] as /sync returns in account_data.events. It needs
m.secret_storage.default_key, m.secret_storage.key.KEYID and the secrets (m.cross_signing.master,
.self_signing, .user_signing, m.megolm_backup.v1). With an access token ($TOKEN, from your client's
Help & About), your homeserver's URL ($HS) and your user id ($MXID, @you:example.org), either
  curl -s -G -H \"Authorization: Bearer $TOKEN\" --data-urlencode 'filter={\"room\":{\"rooms\":[]}}' \\
       \"$HS/_matrix/client/v3/sync\" | jq .account_data.events > account_data.json
or, one type at a time (GET /_matrix/client/v3/user/{userId}/account_data/{type}):
  get() { curl -s -H \"Authorization: Bearer $TOKEN\" \\
          \"$HS/_matrix/client/v3/user/$MXID/account_data/$1\"; }
  KEY=$(get m.secret_storage.default_key | jq -r .key)
  for t in m.secret_storage.default_key m.secret_storage.key.$KEY m.cross_signing.master \\
           m.cross_signing.self_signing m.cross_signing.user_signing m.megolm_backup.v1; do
    get $t | jq --arg t $t '{($t): .}'; done | jq -s add > account_data.json";

const INSPECT_AFTER: &str = "\
Examples:
  mxkeys ssss inspect account_data.json
  mxkeys ssss inspect account_data.json --json

Exit codes:
  0  listed
  1  not account data (neither an object nor a list of events), malformed JSON, unreadable file
  2  usage: bad arguments";

const DECRYPT_AFTER: &str = "\
The key is a Security Key (--key-file or MXKEYS_RECOVERY_KEY) or a Security Phrase
(--passphrase-file or MXKEYS_PASSPHRASE); at the prompt, either is accepted. It is checked against
the key description first, so a wrong key says so instead of printing garbage.

Output per secret: the backup key as a Security Key with its public key; each cross-signing private
key with its Ed25519 public key, to compare with what your client shows. With --json or -o, one
JSON object keyed by secret name (m.megolm_backup.v1, m.cross_signing.master, ...).

Examples:
  mxkeys ssss decrypt account_data.json
  mxkeys ssss decrypt account_data.json --key-file security-key.txt --secret m.megolm_backup.v1
  mxkeys ssss decrypt account_data.json --passphrase-file phrase.txt -o secrets.json

Exit codes:
  0    every secret asked for was decrypted
  1    wrong Security Key or Phrase (it fails the key's check), a secret that fails its MAC (the
       others are still shown), no such key or secret, a Security Key that does not decode,
       not account data
  2    usage: bad arguments, no key or phrase (no --key-file/--passphrase-file, no
       MXKEYS_RECOVERY_KEY/MXKEYS_PASSPHRASE, no terminal), OUT exists (add --force)
  130  stopped with Ctrl-C; OUT is not created";

const ENCRYPT_AFTER: &str = "\
ACCOUNT_DATA.json is as for `mxkeys ssss inspect` (see its --help for how to fetch it). The secret's
value is the first line of --value-file, as the secret is stored (usually unpadded base64, e.g. the
\"secret\" that `ssss decrypt --json` prints). The key (default, or --key-id) is unlocked with a
Security Key or Phrase as for `ssss decrypt`. OUT is the whole account data as a JSON object
{type: content}, with the secret {\"encrypted\": {KEYID: {\"iv\", \"ciphertext\", \"mac\"}}} added or
replaced. To upload only that secret:
  jq '.\"m.megolm_backup.v1\"' new.json | curl -X PUT -H \"Authorization: Bearer $TOKEN\" \\
       --data @- \"$HS/_matrix/client/v3/user/$MXID/account_data/m.megolm_backup.v1\"

The key is confirmed before anything is written, since a secret encrypted under a wrong key is
lost once uploaded: by the key description's check (iv/mac), or, for keys made by old clients
(matrix-js-sdk 6) whose description has none, by the MAC of a secret already stored under the key.
When neither exists (no check, and ACCOUNT_DATA.json holds no secret under the key), the key cannot
be verified and encrypt refuses; include the account's existing secrets in ACCOUNT_DATA.json, or
add --unverified-key if you are sure of the key. The value of m.megolm_backup.v1 and of the
m.cross_signing.* keys must be 32 bytes of base64 (padded or not); it is checked first.

Examples:
  mxkeys ssss encrypt account_data.json -o new.json \\
      --secret m.megolm_backup.v1 --value-file backup-key.txt
  mxkeys ssss encrypt account_data.json -o new.json --key-file security-key.txt \\
      --secret m.megolm_backup.v1 --value-file backup-key.txt

Exit codes:
  0    written
  1    wrong Security Key or Phrase (it fails the key's check, or, without one, the MAC of every
       secret stored under the key), a key that cannot be verified (without --unverified-key), a
       value that is not 32 bytes of base64 for a well-known secret, no such key, not account data
  2    usage: bad arguments, --value-file unreadable, no key or phrase available, OUT exists
       (add --force)
  130  stopped with Ctrl-C; OUT is not created";

#[derive(Debug, Subcommand)]
pub enum SsssCmd {
    /// List keys and secrets in account data; no secret needed.
    #[command(after_help = format!("{ACCOUNT_DATA_INPUT}\n\n{INSPECT_AFTER}"))]
    Inspect {
        /// Account data (- for standard input).
        #[arg(value_name = "ACCOUNT_DATA.json")]
        file: PathBuf,
    },
    /// Decrypt the secrets with a Security Key or Security Phrase.
    #[command(after_help = format!("{ACCOUNT_DATA_INPUT}\n\n{DECRYPT_AFTER}"))]
    Decrypt(DecryptArgs),
    /// Encrypt (add or replace) a secret; writes the new account data.
    #[command(after_help = ENCRYPT_AFTER)]
    Encrypt(EncryptArgs),
}

/// Where a recovery key comes from.
#[derive(Debug, Clone, Args)]
pub struct KeyFileArg {
    /// Security Key file (first line; - for stdin).
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Use this secret-storage key, not the default.
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
    #[command(flatten)]
    key: KeyFileArg,
    /// Security Phrase file (first line; - for stdin).
    #[arg(long, value_name = "PATH")]
    passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    max: MaxRounds,
}

#[derive(Debug, Args)]
#[command(mut_args(output_arg(|a| a.help("Write the secrets as JSON here (mode 0600)"))))]
pub struct DecryptArgs {
    /// Account data (- for standard input).
    #[arg(value_name = "ACCOUNT_DATA.json")]
    file: PathBuf,
    /// Only this secret (repeatable).
    #[arg(long, value_name = "NAME")]
    secret: Vec<String>,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    out: OptionalOutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_args(output_arg(|a| a.help("Updated account data to write"))))]
pub struct EncryptArgs {
    /// Account data (- for standard input).
    #[arg(value_name = "ACCOUNT_DATA.json")]
    file: PathBuf,
    /// The secret's name, e.g. m.megolm_backup.v1.
    #[arg(long, value_name = "NAME")]
    secret: String,
    /// The secret's value: this file's first line.
    ///
    /// Its stored text, usually unpadded base64.
    #[arg(long, value_name = "PATH")]
    value_file: PathBuf,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// Write even when nothing can verify the key.
    ///
    /// Its description has no check and no secret is stored under it. RISK: a wrong Security Key or Phrase is then not noticed, the secret is
    /// encrypted under a key nobody has, and uploading OUT destroys that secret (for
    /// m.megolm_backup.v1, the way to your key backup).
    #[arg(long)]
    unverified_key: bool,
}

pub fn run(cmd: SsssCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        SsssCmd::Inspect { file } => inspect(&file, json),
        SsssCmd::Decrypt(a) => decrypt(a, json),
        SsssCmd::Encrypt(a) => encrypt(a, json),
    }
}

impl KeyArgs {
    /// The --key-id, if given.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The limits of --max-rounds.
    pub fn limits(&self) -> Limits {
        self.max.limits()
    }
}

fn load(file: &Path) -> Result<AccountData, CliError> {
    Ok(AccountData::parse(&read_small_json(file, "account data")?)?)
}

/// Get the key from a Security Key or Security Phrase and check it against `desc`; warn when
/// the description has no check.
pub fn unlock(args: &KeyArgs, desc: &KeyDescription) -> Result<ssss::Unlocked, CliError> {
    let unlocked = unlock_quiet(args, desc)?;
    if unlocked.check == KeyCheck::Unchecked {
        warn(&format!(
            "key {} has no check (iv/mac) in its description, so a wrong key shows only as MAC failures below",
            desc.id
        ));
    }
    Ok(unlocked)
}

/// [`unlock`] without the warning, for callers that confirm an unchecked key themselves.
fn unlock_quiet(args: &KeyArgs, desc: &KeyDescription) -> Result<ssss::Unlocked, CliError> {
    enum Input {
        Key(Passphrase),
        Phrase(Passphrase),
        Either(Passphrase),
    }
    let env = |name: &str| std::env::var(name).ok().map(Passphrase::new);
    let input = if let Some(f) = &args.key.key_file {
        Input::Key(secrets::read(&spec(
            Some(f),
            "--key-file",
            "MXKEYS_RECOVERY_KEY",
            "",
        ))?)
    } else if let Some(f) = &args.passphrase_file {
        Input::Phrase(secrets::read(&spec(
            Some(f),
            "--passphrase-file",
            "MXKEYS_PASSPHRASE",
            "",
        ))?)
    } else if let Some(k) = env("MXKEYS_RECOVERY_KEY") {
        Input::Key(k)
    } else if let Some(p) = env("MXKEYS_PASSPHRASE") {
        Input::Phrase(p)
    } else {
        let prompt = if desc.passphrase.is_some() {
            "Security Key or Security Phrase: "
        } else {
            "Security Key: "
        };
        Input::Either(secrets::read(&spec(
            None,
            "--key-file",
            "MXKEYS_RECOVERY_KEY",
            prompt,
        ))?)
    };
    let decoded;
    let with = match &input {
        Input::Key(t) => {
            decoded = RecoveryKey::decode(t.expose()).map_err(|e| CliError::Lib(e.into()))?;
            Unlock::SecurityKey(&decoded)
        }
        Input::Phrase(p) => Unlock::Phrase(p),
        // At the prompt: a valid Security Key is one; anything else is a phrase if the key has one.
        Input::Either(t) => match RecoveryKey::decode(t.expose()) {
            Ok(k) => {
                decoded = k;
                Unlock::SecurityKey(&decoded)
            }
            Err(e) if desc.passphrase.is_none() => return Err(CliError::Lib(e.into())),
            Err(_) => Unlock::Phrase(t),
        },
    };
    let pb = match (&with, &desc.passphrase) {
        (Unlock::Phrase(_), Some(info)) => spinner(format!(
            "deriving the key from the Security Phrase ({} rounds)",
            info.iterations
        )),
        _ => None,
    };
    let unlocked = ssss::unlock(desc, with, &args.limits());
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    Ok(unlocked?)
}

fn spec<'a>(
    file: Option<&'a Path>,
    flag: &'static str,
    env: &'static str,
    prompt: &str,
) -> SecretSpec<'a> {
    SecretSpec {
        file,
        file_flag: flag,
        env,
        prompt: prompt.into(),
        confirm: false,
    }
}

fn inspect(file: &Path, json: bool) -> Result<(), CliError> {
    let ad = load(file)?;
    let default = ad.default_key_id().map(str::to_owned);
    let mut keys = Vec::new();
    for id in ad.key_ids() {
        match ad.key(&id) {
            Ok(d) => keys.push(json!({
                "key_id": id,
                "default": default.as_deref() == Some(id.as_str()),
                "name": d.name,
                "has_key_check": d.check.is_some(),
                "passphrase": d.passphrase,
            })),
            Err(e) => keys.push(json!({"key_id": id, "error": e.to_string()})),
        }
    }
    let secrets: Map<String, Value> = ad
        .secrets()
        .into_iter()
        .map(|(n, ids)| (n, json!(ids)))
        .collect();
    if json {
        return print_json(&json!({"default_key": default, "keys": keys, "secrets": secrets}));
    }
    outln!("default key: {}", default.as_deref().unwrap_or("(none)"))?;
    for k in &keys {
        let id = k["key_id"].as_str().unwrap_or_default();
        if let Some(e) = k.get("error").and_then(Value::as_str) {
            outln!("key {id}: {e}")?;
            continue;
        }
        let unlock = match k.get("passphrase") {
            Some(Value::Object(p)) => format!(
                "Security Key or Security Phrase (PBKDF2, {} iterations)",
                p.get("iterations").and_then(Value::as_u64).unwrap_or(0)
            ),
            _ => "Security Key only".into(),
        };
        outln!(
            "key {id}{}: {unlock}{}",
            k.get("name")
                .and_then(Value::as_str)
                .map(|n| format!(" ({n:?})"))
                .unwrap_or_default(),
            if k["has_key_check"] == json!(true) {
                ""
            } else {
                "; no key check stored"
            }
        )?;
    }
    for (name, ids) in &secrets {
        outln!(
            "secret {name}: encrypted under {}",
            ids.as_array()
                .map(|a| a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

fn decrypt(a: DecryptArgs, json: bool) -> Result<(), CliError> {
    let mut pending = a.out.create(&[&a.file])?;
    let ad = load(&a.file)?;
    let desc = ad.resolve_key(a.key.key_id.as_deref())?;
    let unlocked = unlock(&a.key, &desc)?;
    let results = ssss::decrypt_secrets(&ad, &unlocked, &a.secret)?;
    let total = results.len();
    let mut out = Map::new();
    let mut failed = 0;
    for (name, result) in results {
        match result {
            Ok(plain) => {
                let info = ssss::describe_secret(&name, &plain);
                let mut v = Map::new();
                v.insert("secret".into(), Value::String(plain.to_string()));
                if let Some(p) = info.public_key {
                    v.insert("public_key".into(), Value::String(p));
                }
                if let Some(r) = info.recovery_key {
                    v.insert("recovery_key".into(), Value::String(r));
                }
                out.insert(name, Value::Object(v));
            }
            Err(e) => {
                failed += 1;
                warn(&e.to_string());
            }
        }
    }
    let check = unlocked.check;
    if failed > 0 && out.is_empty() {
        return Err(CliError::Input(format!(
            "none of the {total} secrets could be decrypted{}",
            if check == KeyCheck::Unchecked {
                "; the key is probably wrong (this key has no check to tell)"
            } else {
                ""
            }
        )));
    }
    let doc = Value::Object(out);
    if let Some(mut p) = pending.take() {
        serde_json::to_writer_pretty(&mut p, &doc).map_err(std::io::Error::from)?;
        std::io::Write::write_all(&mut p, b"\n")?;
        let path = p.commit()?;
        let names: Vec<&String> = doc
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        if json {
            print_json(
                &json!({"output": path.display().to_string(), "key_id": desc.id, "secrets": names}),
            )?;
        } else {
            stderr!("wrote {} secrets to {}", names.len(), path.display());
        }
    } else if json {
        print_json(&doc)?;
    } else {
        if check == KeyCheck::Verified {
            note(&format!("key {} verified", desc.id));
        }
        for (name, v) in doc.as_object().into_iter().flatten() {
            outln!("{name}")?;
            if let Some(r) = v.get("recovery_key").and_then(Value::as_str) {
                outln!("  backup key (Security Key form): {r}")?;
            } else {
                outln!(
                    "  private key: {}",
                    v["secret"].as_str().unwrap_or_default()
                )?;
            }
            if let Some(p) = v.get("public_key").and_then(Value::as_str) {
                outln!("  public key:  {p}")?;
            }
        }
    }
    if failed > 0 {
        return Err(CliError::Input(format!(
            "{failed} of {total} secrets could not be decrypted (see above)"
        )));
    }
    Ok(())
}

fn encrypt(a: EncryptArgs, json: bool) -> Result<(), CliError> {
    let mut pending = a.out.create(&[&a.file])?;
    let mut ad = load(&a.file)?;
    let desc = ad.resolve_key(a.key.key_id.as_deref())?;
    let value = secrets::read(&spec(
        Some(&a.value_file),
        "--value-file",
        "MXKEYS_SECRET_VALUE",
        "",
    ))?;
    ssss::check_secret_value(&a.secret, value.expose())?;
    let probes = ad.probes(&desc.id);
    // Refuse before asking for the key when nothing could tell a wrong one.
    if desc.check.is_none() && probes.is_empty() && !a.unverified_key {
        return Err(CliError::Input(format!(
            "key {} cannot be verified: its description has no key check (iv/mac) and no secret is stored under it to test the key against, so a wrong Security Key or Phrase would go unnoticed; include the account's existing secrets in {}, or add --unverified-key if you are sure of the key",
            desc.id,
            a.file.display()
        )));
    }
    let unlocked = unlock_quiet(&a.key, &desc)?;
    match ssss::confirm_key(unlocked.key.expose(), &desc, &probes)? {
        ssss::Confirmation::KeyCheck => {}
        ssss::Confirmation::SecretMac(name) => note(&format!(
            "key {} has no key check; the key was confirmed by the MAC of secret {name}",
            desc.id
        )),
        ssss::Confirmation::Unconfirmed => warn(&format!(
            "key {} could not be verified (no key check, no secret stored under it); encrypting anyway because of --unverified-key: if the key is wrong, {} becomes unreadable",
            desc.id, a.secret
        )),
    }
    let mut iv = [0u8; 16];
    getrandom::getrandom(&mut iv).map_err(|e| CliError::Input(format!("no randomness: {e}")))?;
    let payload = ssss::encrypt_secret(unlocked.key.expose(), &a.secret, value.expose(), iv);
    ad.set_encrypted(&a.secret, &desc.id, payload);
    serde_json::to_writer_pretty(&mut pending, &Value::Object(ad.into_map()))
        .map_err(std::io::Error::from)?;
    std::io::Write::write_all(&mut pending, b"\n")?;
    let path = pending.commit()?;
    if json {
        return print_json(
            &json!({"output": path.display().to_string(), "secret": a.secret, "key_id": desc.id}),
        );
    }
    stderr!(
        "wrote the account data with {} encrypted under key {} to {}",
        a.secret,
        desc.id,
        path.display()
    );
    Ok(())
}
