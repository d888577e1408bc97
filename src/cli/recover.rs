//! `mxkeys recover`: Security Key or Phrase -> backup key from secret storage -> checked against
//! the backup version -> every session decrypted -> an export file any client can import.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use mxkeys::backup::Msc4048Policy;
use mxkeys::export;
use mxkeys::ssss::AccountData;

use super::backup::{explain_mac, open_backup_with, write_export_of, Needs};
use super::common::{
    new_passphrase, output_arg, report_written, write_rounds, MaxRounds, OptionalOutputArgs,
};
use super::held::{self, HeldArgs};
use super::io::{note, print_json, read_small_json};
use super::{output, CliError};

const AFTER: &str = "\
For the person who has a Security Key or Security Phrase and wants their message keys back. The
backup's own key works too (it is recognised; the account data is then not needed). Gather,
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
  2    usage: --backup or -o missing and no terminal to ask on, no key, phrase or
       new passphrase available, OUT exists (add --force)
  130  stopped with Ctrl-C; OUT is not created";

#[derive(Debug, Args)]
#[command(after_help = format!("{AFTER}\n\n{}\n\n{AFTER_END}", super::ssss::ACCOUNT_DATA_INPUT))]
#[command(mut_args(output_arg(|a| a.help("The export file to write"))))]
pub struct RecoverArgs {
    /// The account data holding secret storage.
    #[arg(long, value_name = "AD.json")]
    account_data: Option<PathBuf>,
    /// The backup: GET /room_keys/keys body.
    #[arg(long, value_name = "BACKUP.json")]
    backup: Option<PathBuf>,
    /// Check the key against this backup version.
    #[arg(long, value_name = "VERSION.json", alias = "auth-data")]
    backup_version: Option<PathBuf>,
    #[command(flatten)]
    out: OptionalOutputArgs,
    /// PBKDF2 rounds of the export.
    #[arg(long, value_name = "N", default_value_t = export::DEFAULT_ROUNDS)]
    rounds: u32,
    /// The export's new passphrase file (first line).
    #[arg(long, value_name = "PATH")]
    new_passphrase_file: Option<PathBuf>,
    /// Write the sessions that decrypt even if others fail.
    #[arg(long)]
    allow_partial: bool,
    /// Refuse sessions without a valid MSC4048 backup MAC (unstable).
    #[arg(long)]
    require_authenticated: bool,
    #[command(flatten)]
    key: HeldArgs,
    /// Use this secret-storage key, not the default.
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
    #[command(flatten)]
    max: MaxRounds,
}

pub fn run(a: RecoverArgs, json: bool) -> Result<(), CliError> {
    let (Some(backup_path), Some(output)) = (&a.backup, &a.out.output) else {
        if super::guide::interactive() {
            let s = |p: &Option<PathBuf>| p.as_ref().map(|x| x.display().to_string());
            return super::guide::recover_flow(
                s(&a.account_data),
                s(&a.backup),
                s(&a.backup_version),
                s(&a.out.output),
            );
        }
        return Err(CliError::Usage(
            "recover needs --backup and -o, and --account-data unless you hold the backup key itself (or run it in a terminal to be asked for them)".into(),
        ));
    };
    let rounds = write_rounds(a.rounds, a.max.max_rounds)?;
    let mut inputs: Vec<&std::path::Path> = vec![backup_path];
    inputs.extend(a.account_data.as_deref());
    let pending = output::create(output, a.out.force, &inputs)?;
    let ad = a
        .account_data
        .as_deref()
        .map(|p| read_small_json(p, "account data").and_then(|v| Ok(AccountData::parse(&v)?)))
        .transpose()?;
    let version = a
        .backup_version
        .as_deref()
        .map(|p| read_small_json(p, "backup version"))
        .transpose()?;

    // 1. The backup key: from secret storage, or the key given is the backup's own. The first
    //    sessions of the backup tell a bare backup key that fits.
    let held = held::read(&a.key, false)?.ok_or_else(|| {
        CliError::Usage("no Security Key or Phrase given (--key-file, --passphrase-file)".into())
    })?;
    let opened = open_backup_with(
        backup_path,
        version.as_ref(),
        None,
        None,
        Needs::RoomIds,
        Msc4048Policy {
            require_authenticated: a.require_authenticated,
        },
        |probe| {
            let found = held::backup_key(
                &held,
                ad.as_ref(),
                version.as_ref(),
                probe,
                a.key_id.as_deref(),
                &a.max.limits(),
            )?;
            if !json {
                note(&found.how);
            }
            Ok(found.key)
        },
    )?;

    // 2. The export's passphrase, then the backup, checked against its version, decrypted
    //    straight into the export.
    let pass = new_passphrase(
        a.new_passphrase_file.as_deref(),
        "--new-passphrase-file",
        "MXKEYS_NEW_PASSPHRASE",
    )?;
    let mut pending = pending;
    let d = write_export_of(
        backup_path,
        opened,
        &mut pending,
        &pass,
        rounds,
        a.allow_partial,
        json,
    )?;
    let path = pending.commit()?;
    explain_mac(&d, json);
    let summary = d.summary();
    if json {
        return print_json(&json!({
            "output": path.display().to_string(),
            "sessions": summary.sessions,
            "rooms": summary.rooms,
            "total": d.total,
            "failed": d.failed(),
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
