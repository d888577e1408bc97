//! `mxkeys recover`: Security Key or Phrase -> backup key from secret storage -> checked against
//! the backup version -> every session decrypted -> an export file any client can import.

use std::io;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zeroize::Zeroizing;

use mxkeys::backup;
use mxkeys::encoding::decode_lenient;
use mxkeys::export;
use mxkeys::recovery_key::RecoveryKey;
use mxkeys::session::Summary;
use mxkeys::ssss::{self, AccountData};

use super::backup::{decrypt_with, explain_mac, rooms};
use super::export::{new_passphrase, report_written, write_export, write_rounds};
use super::io::{note, print_json, read_json, read_small_json};
use super::ssss::{unlock, KeyArgs};
use super::{output, CliError, ForceArg};

const AFTER: &str = "\
For the person who has a Security Key or Security Phrase and wants their message keys back. Gather,
with an access token ($TOKEN, from your client's Help & About; or ask your admin) and your
homeserver's URL ($HS):
  the account data (m.secret_storage.*, m.megolm_backup.v1): see below
  the backup version, then the backup (`mxkeys backup decrypt --help` shows both shapes):
    curl -H \"Authorization: Bearer $TOKEN\" \"$HS/_matrix/client/v3/room_keys/version\" > version.json
    V=$(jq -r .version version.json)
    curl -H \"Authorization: Bearer $TOKEN\" \"$HS/_matrix/client/v3/room_keys/keys?version=$V\" \\
         > backup.json

The Security Key/Phrase is read from --key-file / --passphrase-file / MXKEYS_RECOVERY_KEY /
MXKEYS_PASSPHRASE or asked for; the new export passphrase from --new-passphrase-file /
MXKEYS_NEW_PASSPHRASE or asked for twice. Import keys.txt in any client (Element: Settings >
Security & Privacy > Import E2E room keys). The plaintext keys never touch the disk. Run in a
terminal with nothing given, it asks for each file.";

const AFTER_END: &str = "\
Examples:
  mxkeys recover --account-data account_data.json --backup backup.json \\
      --backup-version version.json -o keys.txt
  mxkeys recover --account-data account_data.json --backup backup.json -o keys.txt \\
      --passphrase-file phrase.txt --new-passphrase-file new-pass.txt
  mxkeys recover

Exit codes:
  0    written
  1    wrong Security Key or Phrase, no backup key in secret storage, the backup key is not that
       backup's (--backup-version), sessions that fail (without --allow-partial; nothing written),
       malformed JSON
  2    usage: --account-data, --backup or -o missing and no terminal to ask on, no key, phrase or
       new passphrase available, OUT exists (add --force)
  130  stopped with Ctrl-C; OUT is not created";

#[derive(Debug, Args)]
#[command(after_help = format!("{AFTER}\n\n{}\n\n{AFTER_END}", super::ssss::ACCOUNT_DATA_INPUT))]
pub struct RecoverArgs {
    /// The account data holding secret storage.
    #[arg(long, value_name = "AD.json")]
    account_data: Option<PathBuf>,
    /// The backup: GET /room_keys/keys body.
    #[arg(long, value_name = "BACKUP.json")]
    backup: Option<PathBuf>,
    /// Check the key against this backup version.
    #[arg(long, value_name = "VERSION.json")]
    backup_version: Option<PathBuf>,
    /// The export file to write.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// PBKDF2 rounds of the export.
    #[arg(long, value_name = "N", default_value_t = export::DEFAULT_ROUNDS)]
    rounds: u32,
    /// The export's new passphrase file (first line).
    #[arg(long, value_name = "PATH")]
    new_passphrase_file: Option<PathBuf>,
    /// Write the sessions that decrypt even if others fail.
    #[arg(long)]
    allow_partial: bool,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    force: ForceArg,
}

pub fn run(a: RecoverArgs, json: bool) -> Result<(), CliError> {
    let (Some(account_data), Some(backup_path), Some(output)) =
        (&a.account_data, &a.backup, &a.output)
    else {
        if super::guide::interactive() {
            let s = |p: &Option<PathBuf>| p.as_ref().map(|x| x.display().to_string());
            return super::guide::recover_flow(
                s(&a.account_data),
                s(&a.backup),
                s(&a.backup_version),
                s(&a.output),
            );
        }
        return Err(CliError::Usage(
            "recover needs --account-data, --backup and -o (or run it in a terminal to be asked for them)".into(),
        ));
    };
    let rounds = write_rounds(a.rounds, a.key.max_rounds())?;
    let pending = output::create(output, a.force.force, &[account_data, backup_path])?;
    let ad = AccountData::parse(&read_small_json(account_data, "account data")?)?;
    let doc = read_json(backup_path)?;
    let version = a.backup_version.as_deref().map(read_json).transpose()?;
    let (_, entries) = backup::entries(&doc, None, None)?;

    // 1. Secret storage: the backup key.
    let desc = ad.resolve_key(a.key.key_id())?;
    let unlocked = unlock(&a.key, &desc)?;
    let results = ssss::decrypt_secrets(&ad, &unlocked, &["m.megolm_backup.v1".to_owned()])?;
    let plain = match results.into_iter().next() {
        Some((_, r)) => r?,
        None => {
            return Err(CliError::Input(
                "the account data has no m.megolm_backup.v1 secret".into(),
            ))
        }
    };
    let bytes = Zeroizing::new(decode_lenient(&plain).map_err(|_| {
        CliError::Input("the stored backup key (m.megolm_backup.v1) is not base64".into())
    })?);
    let mut raw = Zeroizing::new(<[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        CliError::Input(format!(
            "the stored backup key is {} bytes, expected 32",
            bytes.len()
        ))
    })?);
    let key = RecoveryKey::from_bytes(&mut raw);
    if !json {
        note(&format!(
            "secret storage opened with key {}; backup key found",
            desc.id
        ));
    }

    // 2. The backup, checked against its version.
    let d = decrypt_with(&key, &entries, version.as_ref(), a.allow_partial, json)?;

    // 3. The export.
    let pass = new_passphrase(
        a.new_passphrase_file.as_deref(),
        "--new-passphrase-file",
        "MXKEYS_NEW_PASSPHRASE",
    )?;
    let data = Zeroizing::new(serde_json::to_vec(&d.sessions).map_err(io::Error::from)?);
    let path = write_export(pending, &pass, rounds, &data)?;
    explain_mac(&d, json);
    let summary = Summary {
        sessions: d.sessions.len() as u64,
        rooms: rooms(&d.sessions),
    };
    if json {
        return print_json(&json!({
            "output": path.display().to_string(),
            "sessions": summary.sessions,
            "rooms": summary.rooms,
            "total": d.total,
            "failed": d.failures.len(),
            "rounds": rounds.get(),
        }));
    }
    report_written(&path, &summary, rounds, false)?;
    stderr!(
        "Done: {} of {} sessions in {} rooms. Import {} in your client with the passphrase you just chose.",
        summary.sessions,
        d.total,
        summary.rooms,
        path.display()
    );
    Ok(())
}
