//! `mxkeys doctor`: a checklist of the account's key storage ("Your key storage is out of sync"),
//! and with `-o DIR` the bodies that repair what can be repaired offline. The checks are the
//! library's ([`mxkeys::account::doctor`]); this file reads the inputs, prints, and writes.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{json, Value};

use mxkeys::account::{
    self, BackupSessions, CheckId, Inputs, KeyKind, Needs, Repair, Status, StreamedBackup,
};
use mxkeys::recovery_key::RecoveryKey;
use mxkeys::ssss::AccountData;

use super::common::{output_arg, MaxRounds, OptionalOutputArgs};
use super::held::{self, HeldArgs};
use super::io::{duplicate, note, open_input_file, print_json, read_small_json};
use super::{output, CliError};

const AFTER: &str = "\
Checks, in this order (--json gives them as {\"checks\": [{\"id\", \"status\", \"detail\", \"fix\"}]}):
  default_key                     m.secret_storage.default_key names a well-formed key description
  key_check                       your key opens the default key
  secrets                         which secrets are stored under which key
  backup_key_in_storage           m.megolm_backup.v1 is stored and decrypts to 32 bytes
  backup_key_matches_backup       ... and is the key of the current backup version (else: out of sync)
  cross_signing_in_storage        the three cross-signing private keys are stored and open
  cross_signing_matches_published they give the public keys in --keys-query
  backup_trusted                  the backup version is signed by your master key or a verified device
  dehydration_key                 the dehydrated-device key (MSC3814), if any, opens
  backup_sessions                 how many sessions of --backup the backup key opens
Each is ok (✔), fail (✖), warn (!) or skipped (–: not checkable with what was given).

The key is a Security Key (--key-file, MXKEYS_RECOVERY_KEY) or a Security Phrase
(--passphrase-file, MXKEYS_PASSPHRASE); at the prompt either is accepted, and Enter goes on
without one: doctor then reports what can be seen without a key. A backup's own key (the same
48-character form) is recognised as such.

Gather the files with an access token ($TOKEN, from your client's Help & About), your
homeserver's URL ($HS) and your user id ($MXID):
  account data:    see `mxkeys ssss inspect --help`
  backup version:  curl -H \"Authorization: Bearer $TOKEN\" \"$HS/_matrix/client/v3/room_keys/version\" > version.json
  keys query:      curl -H \"Authorization: Bearer $TOKEN\" -d \"{\\\"device_keys\\\": {\\\"$MXID\\\": []}}\" \\
                        \"$HS/_matrix/client/v3/keys/query\" > keys_query.json

With -o DIR, each failure that can be repaired offline gets a file in DIR and the curl line that
uploads it; doctor itself never contacts a server. Repairs: a default key that points nowhere
(when your key opens one key); a backup out of sync: the current backup's key stored again in
secret storage (when you also hold that key: --backup-key-file), or a new backup version for the
key in secret storage, signed with your master key when --user-id is known (then upload your keys
to it). Upload one of the two, not both.

Examples:
  mxkeys doctor --account-data account_data.json --backup-version version.json
  mxkeys doctor --account-data account_data.json --backup-version version.json \\
      --keys-query keys_query.json --user-id @you:example.org --key-file key.txt -o repairs

Exit codes:
  0  no check failed
  1  a check failed (each says why and what fixes it); malformed input
  2  usage: bad arguments, DIR's files exist (add --force)";

#[derive(Debug, Args)]
#[command(after_help = AFTER)]
#[command(mut_args(output_arg(|a| {
    a.help("Write repairs into this folder (created if missing)").value_name("DIR")
})))]
pub struct DoctorArgs {
    /// The account data holding secret storage.
    #[arg(long, value_name = "AD.json")]
    account_data: PathBuf,
    /// The backup version: GET /room_keys/version body.
    #[arg(long, value_name = "VERSION.json", alias = "auth-data")]
    backup_version: Option<PathBuf>,
    /// The POST /keys/query response for your user.
    #[arg(long, value_name = "KQ.json")]
    keys_query: Option<PathBuf>,
    /// Your user id (default: the one in --keys-query).
    #[arg(long, value_name = "MXID")]
    user_id: Option<String>,
    /// The backup: GET /room_keys/keys body.
    #[arg(long, value_name = "BACKUP.json")]
    backup: Option<PathBuf>,
    #[command(flatten)]
    out: OptionalOutputArgs,
    /// The current backup's own key, to store it again.
    #[arg(long, value_name = "PATH")]
    backup_key_file: Option<PathBuf>,
    #[command(flatten)]
    key: HeldArgs,
    #[command(flatten)]
    max: MaxRounds,
}

fn mark(s: Status) -> &'static str {
    match s {
        Status::Ok => "✔",
        Status::Fail => "✖",
        Status::Warn => "!",
        Status::Skipped => "–",
    }
}

fn id_str(id: CheckId) -> String {
    serde_json::to_value(id)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn run(a: DoctorArgs, json: bool) -> Result<(), CliError> {
    let ad = AccountData::parse(&read_small_json(&a.account_data, "account data")?)?;
    let version = a
        .backup_version
        .as_deref()
        .map(|p| read_small_json(p, "backup version"))
        .transpose()?;
    let keys_query = a
        .keys_query
        .as_deref()
        .map(|p| read_small_json(p, "keys-query response"))
        .transpose()?;
    let user_id = match (&a.user_id, &keys_query) {
        (Some(u), _) => Some(u.clone()),
        (None, Some(kq)) => match mxkeys::identity::users(kq).as_slice() {
            [one] => Some(one.clone()),
            [] => None,
            many => {
                return Err(CliError::Usage(format!(
                    "--keys-query has keys of {} users ({}); say which is yours with --user-id",
                    many.len(),
                    many.join(", ")
                )))
            }
        },
        (None, None) => None,
    };
    // The backup is read as a stream, once now (a damaged body is an error before any check
    // runs) and again for each question the checks ask: never held whole.
    let backup_file = a.backup.as_deref().map(open_input_file).transpose()?;
    // Each reading starts from the beginning of the same open file.
    let streamed = backup_file
        .as_ref()
        .map(|f| StreamedBackup(move || duplicate(f)));
    if let (Some(s), Some(path)) = (&streamed, &a.backup) {
        s.count(None)
            .map_err(|e| CliError::Input(format!("{}: {e}", path.display())))?;
    }
    let held = held::read(&a.key, true)?;
    let backup_key = match &a.backup_key_file {
        Some(f) => {
            let text = super::secrets::read(&super::secrets::SecretSpec {
                file: Some(f),
                file_flag: "--backup-key-file",
                env: "MXKEYS_BACKUP_KEY_UNUSED",
                prompt: String::new(),
                confirm: false,
            })?;
            Some(RecoveryKey::decode(text.expose()).map_err(|e| CliError::Lib(e.into()))?)
        }
        None => None,
    };
    if held.is_none() && !json {
        note("no key given: checking what can be seen without one");
    }
    let d = account::doctor(&Inputs {
        account: &ad,
        backup_version: version.as_ref(),
        keys_query: keys_query.as_ref(),
        user_id: user_id.as_deref(),
        backup: streamed.as_ref().map(|s| s as &dyn BackupSessions),
        held: held.as_ref().map(held::HeldSecret::as_held),
        backup_key: backup_key.as_ref(),
        limits: a.max.limits(),
    })?;

    let written = match &a.out.output {
        Some(dir) => write_repairs(
            dir,
            a.out.force,
            &d,
            &ad,
            user_id.as_deref(),
            backup_key.as_ref(),
            &a,
        )?,
        None => Vec::new(),
    };

    if json {
        let kind = d.identified.as_ref().map(|i| i.kind);
        let opens = d.identified.as_ref().map(|i| i.opens.clone());
        let key_ids = d.identified.as_ref().map(account::Identified::key_ids);
        print_json(&json!({
            "key": kind.map(|k| json!({"kind": k, "key_ids": key_ids, "opens": opens})),
            "checks": d.checks,
            "repairs": written,
        }))?;
    } else {
        if let Some(i) = &d.identified {
            let what = match (i.kind, i.storage()) {
                (KeyKind::SecretStorageKey, Some(st)) => format!(
                    "your key is a secret-storage key (key {}{}); it opens {}",
                    st.desc.id,
                    if st.is_default { ", the default" } else { "" },
                    if i.opens.is_empty() {
                        "no secret".to_owned()
                    } else {
                        i.opens.join(", ")
                    }
                ),
                (KeyKind::BackupKey, _) => {
                    "your key is the backup's decryption key (not a secret-storage key)".to_owned()
                }
                _ => "your key opens nothing given here".to_owned(),
            };
            outln!("{what}")?;
        }
        let width = d
            .checks
            .iter()
            .map(|c| id_str(c.id).len())
            .max()
            .unwrap_or(0);
        for c in &d.checks {
            let add = match c.needs {
                Some(Needs::Key) => " (give --key-file or --passphrase-file)",
                Some(Needs::BackupVersion) => " (add --backup-version VERSION.json)",
                Some(Needs::KeysQuery) => " (add --keys-query KQ.json)",
                Some(Needs::UserId) => " (add --user-id)",
                Some(Needs::Backup) => " (add --backup BACKUP.json)",
                None => "",
            };
            outln!(
                "{} {:width$}  {}{add}",
                mark(c.status),
                id_str(c.id),
                c.detail
            )?;
            if let (Some(fix), Status::Fail | Status::Warn) = (&c.fix, c.status) {
                let writes = if a.out.output.is_none() && repairable(c.id, &d.repairs) {
                    " (mxkeys doctor -o DIR writes it)"
                } else {
                    ""
                };
                outln!("  {:width$}  fix: {fix}{writes}", "")?;
            }
        }
        for w in &written {
            outln!(
                "repair written: {}\n  upload: {}",
                w["file"].as_str().unwrap_or_default(),
                w["upload"].as_str().unwrap_or_default()
            )?;
        }
    }
    let failed = d.checks.iter().filter(|c| c.status == Status::Fail).count();
    if failed > 0 {
        return Err(CliError::Reported(format!(
            "{failed} of {} checks failed (each says why and what fixes it{})",
            d.checks.len(),
            if a.out.output.is_none() && !d.repairs.is_empty() {
                "; -o DIR writes the repairs"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

/// Whether one of `repairs` mends check `id`.
fn repairable(id: CheckId, repairs: &[Repair]) -> bool {
    repairs.iter().any(|r| match r {
        Repair::DefaultKey { .. } => id == CheckId::DefaultKey,
        Repair::NewBackupVersion => {
            matches!(id, CheckId::BackupKeyMatchesBackup | CheckId::BackupTrusted)
        }
        Repair::StoreBackupKey => {
            matches!(
                id,
                CheckId::BackupKeyMatchesBackup | CheckId::BackupKeyInStorage
            )
        }
    })
}

fn write_repairs(
    dir: &Path,
    force: bool,
    d: &account::Diagnosis,
    ad: &AccountData,
    user_id: Option<&str>,
    backup_key: Option<&RecoveryKey>,
    a: &DoctorArgs,
) -> Result<Vec<Value>, CliError> {
    let mut bodies: Vec<(String, Value, String)> = Vec::new();
    let mxid = user_id.unwrap_or("$MXID");
    for r in &d.repairs {
        match r {
            Repair::DefaultKey { key_id } => bodies.push((
                "m.secret_storage.default_key.json".into(),
                account::default_key_body(key_id),
                format!(
                    "curl -X PUT -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' --data @{{FILE}} \"$HS/_matrix/client/v3/user/{mxid}/account_data/m.secret_storage.default_key\""
                ),
            )),
            Repair::StoreBackupKey => {
                let Some(key) = backup_key else { continue };
                let mut iv = [0u8; 16];
                getrandom::getrandom(&mut iv).map_err(|e| {
                    CliError::Input(format!("the operating system gave no randomness: {e}"))
                })?;
                let Some(body) = account::store_backup_key_body(d, key, iv) else {
                    continue;
                };
                bodies.push((
                    "m.megolm_backup.v1.json".into(),
                    body,
                    format!(
                        "curl -X PUT -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' --data @{{FILE}} \"$HS/_matrix/client/v3/user/{mxid}/account_data/m.megolm_backup.v1\""
                    ),
                ));
            }
            Repair::NewBackupVersion => {
                let Some(key) = account::stored_backup_key(d) else {
                    continue;
                };
                // Sign with the stored master key only when it is the published one (or nothing
                // was published to compare): a signature by a stale master key earns no trust.
                let stale = d
                    .check(CheckId::CrossSigningMatchesPublished)
                    .is_some_and(|c| c.status == Status::Fail);
                let seed = if stale {
                    None
                } else {
                    account::stored_master_seed(d, ad)
                };
                if user_id.is_none() {
                    note("the new backup version is unsigned: give --user-id (or --keys-query) to sign it with your master key, so that clients trust it");
                }
                let body = account::new_backup_version_body(&key, user_id, seed.as_deref())?;
                bodies.push((
                    "new-backup-version.json".into(),
                    body,
                    "curl -X POST -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' --data @{FILE} \"$HS/_matrix/client/v3/room_keys/version\"  # then upload your keys: mxkeys backup encrypt KEYS --public-key {FILE} -o upload.json".into(),
                ));
            }
        }
    }
    if bodies.is_empty() {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        CliError::Usage(format!(
            "-o {}: cannot create the folder: {e}",
            dir.display()
        ))
    })?;
    let mut inputs: Vec<&Path> = vec![&a.account_data];
    inputs.extend(a.backup_version.as_deref());
    inputs.extend(a.keys_query.as_deref());
    let mut pending = Vec::new();
    // Check every target before writing any, so a refusal leaves the folder as it was.
    for (name, body, upload) in bodies {
        let path = dir.join(&name);
        let out = output::create(&path, force, &inputs)?;
        pending.push((out, path, body, upload));
    }
    let mut written = Vec::new();
    for (mut out, path, body, upload) in pending {
        let mut text = serde_json::to_vec_pretty(&body).map_err(std::io::Error::from)?;
        text.push(b'\n');
        out.write_all(&text)?;
        let path = out.commit().map(|_| path)?;
        let shown = path.display().to_string();
        written.push(json!({
            "file": shown,
            "upload": upload.replace("{FILE}", &shown),
        }));
    }
    Ok(written)
}
