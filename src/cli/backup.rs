//! `mxkeys backup ...`: decrypt a server-side key backup, encrypt sessions into one, convert a
//! backup into an export file.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use rayon::prelude::*;
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use mxkeys::backup::{self, EntryOutcome, MacKind, Shape};
use mxkeys::encoding::decode_lenient;
use mxkeys::export;
use mxkeys::megolm::SessionKey;
use mxkeys::recovery_key::RecoveryKey;
use mxkeys::session::{self, SessionRecord, Summary};
use mxkeys::ssss::AccountData;

use super::common::{
    new_passphrase, output_arg, report_written, write_export, write_rounds, MaxRounds,
    OptionalOutputArgs, OutputArgs, PassphraseArgs,
};
use super::held::{self, HeldArgs, HeldSecret};
use super::inputs::read_sessions;
use super::io::{note, print_json, read_json, read_small_json, spinner, warn};
use super::CliError;

const DECRYPT_AFTER: &str = "\
BACKUP.json is what the server returns for GET /_matrix/client/v3/room_keys/keys?version=V:
  {\"rooms\": {\"!room:example.org\": {\"sessions\": {\"SESSION_ID\": {\"first_message_index\": 0,
    \"forwarded_count\": 0, \"is_verified\": false,
    \"session_data\": {\"ephemeral\": \"...\", \"ciphertext\": \"...\", \"mac\": \"...\"}}}}}}
or one room's body ({\"sessions\": ...}, with --room-id), one KeyBackupData (GET
/room_keys/keys/ROOM_ID/SESSION_ID), or a bare session_data. These last two name no room: without
--room-id the session comes out without room_id (`backup to-export` needs it), and its session_id
is that of its session key. VERSION.json is the body of GET /_matrix/client/v3/room_keys/version
({\"algorithm\": ..., \"auth_data\": {\"public_key\": ...}, \"version\": \"V\"}). Fetch both with an
access token ($TOKEN, from your client's Help & About) and your homeserver's URL ($HS):
  curl -H \"Authorization: Bearer $TOKEN\" \"$HS/_matrix/client/v3/room_keys/version\" > version.json
  V=$(jq -r .version version.json)
  curl -H \"Authorization: Bearer $TOKEN\" \"$HS/_matrix/client/v3/room_keys/keys?version=$V\" \\
       > backup.json

The key is the Security Key / recovery key (--key-file, MXKEYS_RECOVERY_KEY, or prompt); for a
Security Phrase use `mxkeys recover`. Output: a JSON array of sessions in export format, ready for
`mxkeys export encrypt`.

Every session is decrypted on its own: the ones that fail are listed with the reason, and nothing is
written unless --allow-partial (then the others are). A matching backup MAC proves the key is right
but not that the data is intact (every client computes it over an empty message); padding, JSON and
session-key checks catch damage.

Examples:
  mxkeys backup decrypt backup.json --backup-version version.json -o keys.json
  mxkeys backup decrypt backup.json --key-file key.txt --pretty | jq length
  mxkeys backup decrypt key_backup_data.json --room-id '!abc:example.org'

Exit codes:
  0  every session decrypted (with --allow-partial: at least one)
  1  the key is not this backup's (--backup-version) or every session fails its MAC, some sessions
     failed (without --allow-partial; nothing written), the Security Key does not decode
     (`mxkeys recovery-key check` says why), malformed JSON, unreadable file
  2  usage: bad arguments, no key (no --key-file, no MXKEYS_RECOVERY_KEY, no terminal), OUT exists
     (add --force)";

const ENCRYPT_AFTER: &str = "\
SESSIONS is a JSON array of sessions in export format (what `export decrypt` prints) or an export
file (its passphrase from --passphrase-file, else MXKEYS_PASSPHRASE, else a prompt). --public-key
is the backup's auth_data.public_key (unpadded base64), or a VERSION.json file holding it (GET
/_matrix/client/v3/room_keys/version). No secret key is needed to write a backup.

OUT is a PUT /room_keys/keys body, {\"rooms\": {ROOM_ID: {\"sessions\": {SESSION_ID: KeyBackupData}}}},
with the MAC every client expects. Upload it (for clients that cannot import files, e.g. Element X):
  curl -X PUT -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\
       --data @put.json \"$HS/_matrix/client/v3/room_keys/keys?version=$V\"

Examples:
  mxkeys backup encrypt keys.json --public-key version.json -o put.json
  mxkeys backup encrypt element-keys.txt -o put.json \\
      --public-key 7CzPt5f1IJExcBo7vLJ2DS40ODAy94/Cf/76Iw41ExY

Exit codes:
  0    written
  1    a session is invalid (each is listed; nothing written), wrong passphrase of an export,
       neither an export nor a JSON array, a VERSION.json without auth_data.public_key
  2    usage: bad arguments, --public-key is neither 32 bytes of base64 nor a file, no passphrase
       for an export, OUT exists (add --force)
  130  stopped with Ctrl-C; OUT is not created";

const TO_EXPORT_AFTER: &str = "\
BACKUP.json and VERSION.json are as for `mxkeys backup decrypt` (see its --help for their shapes and
the curl lines): the GET /_matrix/client/v3/room_keys/keys?version=V body, and the GET
/_matrix/client/v3/room_keys/version body (a smaller piece that names no room needs --room-id).
The key is the backup's Security Key / recovery key
(--key-file, MXKEYS_RECOVERY_KEY, or prompt); the export's new passphrase comes from
--passphrase-file, else MXKEYS_PASSPHRASE, else a prompt (asked twice). The plaintext keys never
touch the disk. Import OUT in any client (Element: Settings > Security & Privacy > Import E2E room
keys).

Examples:
  mxkeys backup to-export backup.json --backup-version version.json -o keys.txt
  mxkeys backup to-export backup.json --key-file key.txt --passphrase-file pass.txt -o keys.txt

Exit codes:
  0    written
  1    the key is not this backup's or every session fails its MAC, some sessions failed (without
       --allow-partial; nothing written), the Security Key does not decode, malformed JSON, a
       piece of a backup without --room-id
  2    usage: bad arguments, no key or no new passphrase available, OUT exists (add --force)
  130  stopped with Ctrl-C; OUT is not created";

#[derive(Debug, Subcommand)]
pub enum BackupCmd {
    /// Decrypt a key backup to export-format sessions.
    #[command(after_help = DECRYPT_AFTER)]
    Decrypt(DecryptArgs),
    /// Encrypt sessions into a PUT /room_keys/keys body.
    #[command(after_help = ENCRYPT_AFTER)]
    Encrypt(EncryptArgs),
    /// Decrypt a key backup straight into an export file.
    #[command(after_help = TO_EXPORT_AFTER)]
    ToExport(ToExportArgs),
}

#[derive(Debug, Args)]
pub struct Source {
    /// The GET /room_keys/keys body, or a piece of it (- for stdin).
    #[arg(value_name = "BACKUP.json")]
    backup: PathBuf,
    /// Check the key against this backup version first.
    #[arg(long, value_name = "VERSION.json", alias = "auth-data")]
    backup_version: Option<PathBuf>,
    /// Account data: lets a Security Key or Phrase work.
    #[arg(long, value_name = "AD.json")]
    account_data: Option<PathBuf>,
    /// Room of a backup piece that does not name it.
    #[arg(long, value_name = "ID")]
    room_id: Option<String>,
    /// Session of a KeyBackupData or session_data.
    #[arg(long, value_name = "ID")]
    session_id: Option<String>,
    /// Write the sessions that decrypt even if others fail.
    #[arg(long)]
    allow_partial: bool,
    #[command(flatten)]
    key: HeldArgs,
    /// Use this secret-storage key, not the default.
    #[arg(long, value_name = "ID", requires = "account_data")]
    key_id: Option<String>,
    #[command(flatten)]
    max: MaxRounds,
}

#[derive(Debug, Args)]
pub struct DecryptArgs {
    #[command(flatten)]
    src: Source,
    #[command(flatten)]
    out: OptionalOutputArgs,
    /// Indent the JSON.
    #[arg(long)]
    pretty: bool,
}

#[derive(Debug, Args)]
#[command(mut_args(output_arg(|a| a.help("The PUT body to write"))))]
pub struct EncryptArgs {
    /// A JSON array of sessions or an export file.
    sessions: PathBuf,
    /// The backup's public key (base64) or VERSION.json.
    #[arg(long, value_name = "KEY")]
    public_key: String,
    #[command(flatten)]
    out: OutputArgs,
    /// Mark the sessions verified (is_verified: true).
    #[arg(long)]
    verified: bool,
    #[command(flatten)]
    pass: PassphraseArgs,
    #[command(flatten)]
    max: MaxRounds,
}

#[derive(Debug, Args)]
#[command(mut_args(output_arg(|a| a.help("The export file to write"))))]
pub struct ToExportArgs {
    #[command(flatten)]
    src: Source,
    #[command(flatten)]
    out: OutputArgs,
    /// PBKDF2 rounds of the export.
    #[arg(long, value_name = "N", default_value_t = export::DEFAULT_ROUNDS)]
    rounds: u32,
    /// The export's new passphrase file (first line).
    #[arg(long, value_name = "PATH")]
    new_passphrase_file: Option<PathBuf>,
}

pub fn run(cmd: BackupCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        BackupCmd::Decrypt(a) => decrypt(a, json),
        BackupCmd::Encrypt(a) => encrypt(a, json),
        BackupCmd::ToExport(a) => to_export(a, json),
    }
}

/// What decrypting a backup gave.
pub(super) struct Decrypted {
    pub sessions: Vec<SessionRecord>,
    pub failures: Vec<EntryOutcome>,
    pub total: usize,
    pub mac: BTreeMap<&'static str, u64>,
}

/// What a command does with the sessions: an export needs each session's room.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// `backup decrypt`: a lone session without ids is decrypted all the same.
    Sessions,
    /// `backup to-export`: every session needs its room id.
    RoomIds,
}

fn decrypt_source(src: &Source, json: bool, needs: Needs) -> Result<Decrypted, CliError> {
    let doc = read_json(&src.backup)?;
    let version = src.backup_version.as_deref().map(read_json).transpose()?;
    let (room, sid) = (src.room_id.as_deref(), src.session_id.as_deref());
    let shape = backup::shape(&doc)?;
    let piece = match shape {
        Shape::Room => "one room's body",
        Shape::KeyBackupData => "a KeyBackupData",
        Shape::Keys | Shape::SessionData => "a session_data",
    };
    // A lone session without its ids: decryption does not need them (the session id is that of
    // the decrypted session key); only an export needs the room.
    if let (Some(sd), true) = (
        backup::lone_session_data(&doc),
        room.is_none() || sid.is_none(),
    ) {
        if needs == Needs::RoomIds && room.is_none() {
            return Err(CliError::Input(format!(
                "{piece} does not name its room, and an export needs it: give --room-id ID (`mxkeys backup decrypt` decrypts it without)"
            )));
        }
        let key = resolve_key(src, version.as_ref(), &[], json)?;
        return decrypt_lone(&key, sd, room, sid, version.as_ref(), piece, needs);
    }
    if shape == Shape::Room && room.is_none() {
        return Err(CliError::Input(format!(
            "{piece} does not name its room: give --room-id ID"
        )));
    }
    let (_, entries) = backup::entries(&doc, room, sid)?;
    let key = resolve_key(src, version.as_ref(), &entries, json)?;
    decrypt_with(&key, &entries, version.as_ref(), src.allow_partial, json)
}

/// The backup key from what was given: the backup's own key as before, or (with
/// --account-data) a Security Key or Phrase that opens it in secret storage.
fn resolve_key(
    src: &Source,
    version: Option<&Value>,
    entries: &[backup::Entry],
    json: bool,
) -> Result<RecoveryKey, CliError> {
    let ad = src
        .account_data
        .as_deref()
        .map(|p| read_small_json(p, "account data").and_then(|v| Ok(AccountData::parse(&v)?)))
        .transpose()?;
    let held = held::read(&src.key, false)?.ok_or_else(|| {
        CliError::Usage("no Security Key given (--key-file or MXKEYS_RECOVERY_KEY)".into())
    })?;
    // Without account data or a version, a key is taken as the backup's own, as before: its
    // sessions' MACs tell a wrong key.
    if ad.is_none() && version.is_none() {
        return match held {
            HeldSecret::Key(k) => Ok(k),
            HeldSecret::Phrase(_) => Err(CliError::Usage(
                "a Security Phrase opens secret storage: give --account-data AD.json (or --backup-version VERSION.json for an old passphrase backup)".into(),
            )),
        };
    }
    let found = held::backup_key(
        &held,
        ad.as_ref(),
        version,
        entries,
        src.key_id.as_deref(),
        &src.max.limits(),
    )?;
    if !json && ad.is_some() {
        note(&found.how);
    }
    Ok(found.key)
}

/// Decrypt one `session_data` whose room or session id is not given. The session id comes from
/// the decrypted session key (its signature is checked); the room is left out when unknown.
fn decrypt_lone(
    key: &RecoveryKey,
    session_data: &Value,
    room: Option<&str>,
    sid: Option<&str>,
    version: Option<&Value>,
    piece: &str,
    needs: Needs,
) -> Result<Decrypted, CliError> {
    if let Some(v) = version {
        backup::check_auth_data(key, v)?;
    }
    let d = backup::decrypt_session_data(key, session_data, sid).map_err(|e| {
        let hint = if e.kind() == backup::FailureKind::Mac {
            "; is this the Security Key of this backup? Give --backup-version VERSION.json to check"
        } else {
            ""
        };
        CliError::Input(format!("the session could not be decrypted: {e}{hint}"))
    })?;
    let session_id = match sid {
        Some(id) => id.to_owned(),
        None => d
            .plaintext
            .session_key
            .as_ref()
            .and_then(|k| SessionKey::from_base64(k.expose()).ok())
            .map(|k| k.session_id())
            .ok_or_else(|| CliError::Input("the decrypted session has no session key".into()))?,
    };
    let mut s = d.plaintext;
    s.file_under(room.map(str::to_owned), session_id);
    if needs == Needs::Sessions {
        note(&match (room, sid) {
            (None, None) => format!(
                "{piece} names neither its room nor its session: the session is printed without room_id, and its session_id is that of its session key; `mxkeys backup to-export` needs the room: give --room-id ID"
            ),
            (None, Some(_)) => format!(
                "{piece} does not name its room: the session is printed without room_id; `mxkeys backup to-export` needs it: give --room-id ID"
            ),
            _ => format!(
                "{piece} does not name its session: its session_id is that of its session key"
            ),
        });
    }
    let name = match d.mac {
        MacKind::Empty => "empty",
        MacKind::Ciphertext => "ciphertext",
    };
    Ok(Decrypted {
        sessions: vec![s],
        failures: Vec::new(),
        total: 1,
        mac: BTreeMap::from([(name, 1)]),
    })
}

/// Check the key against the version (if given), decrypt every entry, list failures; an error
/// when nothing or (without `allow_partial`) not everything decrypted.
pub(super) fn decrypt_with(
    key: &RecoveryKey,
    entries: &[backup::Entry],
    version: Option<&Value>,
    allow_partial: bool,
    json: bool,
) -> Result<Decrypted, CliError> {
    if let Some(v) = version {
        backup::check_auth_data(key, v)?;
    }
    let pb = spinner(format!("decrypting {} sessions", entries.len()));
    let outcomes = backup::decrypt_entries(key, entries);
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let total = outcomes.len();
    let mut sessions = Vec::with_capacity(total);
    let mut failures = Vec::new();
    let mut mac = BTreeMap::new();
    for o in outcomes {
        match o.result {
            Ok((s, kind)) => {
                let name = match kind {
                    MacKind::Empty => "empty",
                    MacKind::Ciphertext => "ciphertext",
                };
                *mac.entry(name).or_insert(0) += 1;
                sessions.push(s);
            }
            Err(_) => failures.push(o),
        }
    }
    let kind_of = |f: &EntryOutcome| f.result.as_ref().err().map(|e| e.kind());
    let one_kind = failures
        .first()
        .map(kind_of)
        .filter(|k| failures.iter().all(|f| kind_of(f) == *k));
    let all_failed = total > 0 && failures.len() == total;
    // When every session fails the same way, the one error line below says it all (a wrong key
    // would otherwise print one warning per session first). Otherwise the first few, then counts.
    let folded = all_failed && one_kind.is_some();
    if !json && !folded {
        for f in failures.iter().take(SHOWN_FAILURES) {
            if let Err(e) = &f.result {
                warn(&format!("{} {}: {e}", f.room_id, f.session_id));
            }
        }
        if failures.len() > SHOWN_FAILURES {
            let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
            for f in &failures {
                if let Err(e) = &f.result {
                    *by_kind.entry(e.kind().as_str()).or_insert(0) += 1;
                }
            }
            let counts: Vec<String> = by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
            warn(&format!(
                "and {} more sessions that failed (all {} failures by kind: {}); --json lists every one",
                failures.len() - SHOWN_FAILURES,
                failures.len(),
                counts.join(", ")
            ));
        }
    }
    if all_failed {
        const KEY_HINT: &str =
            "is this the Security Key of this backup? Give --backup-version VERSION.json to check";
        let msg = match (one_kind, failures.first().map(|f| &f.result)) {
            (Some(Some(backup::FailureKind::Mac)), _) => format!(
                "none of the {total} sessions could be decrypted (MAC mismatch); {KEY_HINT}"
            ),
            // The same damage everywhere: the key is not the question.
            (Some(_), Some(Err(e))) => format!(
                "none of the {total} sessions could be decrypted, each for the same reason as the first: {e}"
            ),
            _ => format!("none of the {total} sessions could be decrypted; {KEY_HINT}"),
        };
        return Err(CliError::Input(msg));
    }
    if !failures.is_empty() && !allow_partial {
        return Err(CliError::Input(format!(
            "{} of {total} sessions could not be decrypted (listed above); nothing was written, add --allow-partial to keep the {} that could",
            failures.len(),
            sessions.len()
        )));
    }
    Ok(Decrypted {
        sessions,
        failures,
        total,
        mac,
    })
}

pub(super) fn rooms(sessions: &[SessionRecord]) -> u64 {
    sessions
        .iter()
        .filter_map(|s| s.room_id.as_deref())
        .collect::<HashSet<_>>()
        .len() as u64
}

fn failure_json(failures: &[EntryOutcome]) -> Value {
    Value::Array(
        failures
            .iter()
            .filter_map(|f| {
                f.result.as_ref().err().map(|e| {
                    json!({"room_id": f.room_id, "session_id": f.session_id, "kind": e.kind(), "why": e.to_string()})
                })
            })
            .collect(),
    )
}

/// The MAC note, only when it tells something: some sessions carried a MAC over the ciphertext
/// (MSC4048) rather than the empty-message MAC every client writes. For the usual backup it is
/// expert detail, and `backup decrypt --help` explains it.
pub(super) fn explain_mac(d: &Decrypted, json: bool) {
    let empty = d.mac.get("empty").copied().unwrap_or(0);
    let ct = d.mac.get("ciphertext").copied().unwrap_or(0);
    if json || ct == 0 {
        return;
    }
    note(&format!(
        "MAC over the empty message (what every client writes): {empty}; over the ciphertext (MSC4048): {ct}. \
         A matching MAC proves the key; the data's integrity was checked by padding, JSON and session-key checks"
    ));
}

fn decrypt(a: DecryptArgs, json: bool) -> Result<(), CliError> {
    let mut pending = a.out.create(&[&a.src.backup])?;
    let d = decrypt_source(&a.src, json, Needs::Sessions)?;
    let write = |w: &mut dyn Write| -> io::Result<()> {
        if a.pretty {
            session::to_writer_pretty(&mut *w, &d.sessions)?;
        } else {
            serde_json::to_writer(&mut *w, &d.sessions)?;
        }
        w.write_all(b"\n")
    };
    let summary = Summary {
        sessions: d.sessions.len() as u64,
        rooms: rooms(&d.sessions),
    };
    match pending.take() {
        Some(mut p) => {
            write(&mut p)?;
            let path = p.commit()?;
            if json {
                print_json(&json!({
                    "output": path.display().to_string(),
                    "sessions": summary.sessions,
                    "rooms": summary.rooms,
                    "total": d.total,
                    "failed": failure_json(&d.failures),
                    "mac": d.mac,
                }))?;
            } else {
                stderr!(
                    "decrypted {} of {} sessions in {} rooms to {}",
                    summary.sessions,
                    d.total,
                    summary.rooms,
                    path.display()
                );
            }
        }
        None => {
            let mut out = io::BufWriter::new(super::stdout::out());
            write(&mut out)?;
            out.flush()?;
            if !json {
                stderr!(
                    "decrypted {} of {} sessions in {} rooms",
                    summary.sessions,
                    d.total,
                    summary.rooms
                );
            }
        }
    }
    explain_mac(&d, json);
    Ok(())
}

fn to_export(a: ToExportArgs, json: bool) -> Result<(), CliError> {
    let rounds = write_rounds(a.rounds, a.src.max.max_rounds)?;
    let pending = a.out.create(&[&a.src.backup])?;
    let d = decrypt_source(&a.src, json, Needs::RoomIds)?;
    let plain = Zeroizing::new(serde_json::to_vec(&d.sessions).map_err(io::Error::from)?);
    // Before --new-passphrase-file / MXKEYS_NEW_PASSPHRASE, to-export read the export's new
    // passphrase from --passphrase-file / MXKEYS_PASSPHRASE. Given beside a Security Key (so
    // they cannot be its phrase), they still mean that, with a warning.
    let key_given =
        a.src.key.key_file.is_some() || std::env::var_os("MXKEYS_RECOVERY_KEY").is_some();
    let (file, flag) = match (&a.new_passphrase_file, &a.src.key.passphrase_file) {
        (Some(f), _) => (Some(f.as_path()), "--new-passphrase-file"),
        (None, Some(f)) if key_given => {
            warn("--passphrase-file beside a Security Key is read as the export's new passphrase; name it --new-passphrase-file");
            (Some(f.as_path()), "--passphrase-file")
        }
        (None, _) => (None, "--new-passphrase-file"),
    };
    let env = if std::env::var_os("MXKEYS_NEW_PASSPHRASE").is_none()
        && std::env::var_os("MXKEYS_PASSPHRASE").is_some()
        && key_given
        && file.is_none()
    {
        warn("MXKEYS_PASSPHRASE beside a Security Key is read as the export's new passphrase; name it MXKEYS_NEW_PASSPHRASE");
        "MXKEYS_PASSPHRASE"
    } else {
        "MXKEYS_NEW_PASSPHRASE"
    };
    let pass = new_passphrase(file, flag, env)?;
    let path = write_export(pending, &pass, rounds, &plain)?;
    explain_mac(&d, json);
    let summary = Summary {
        sessions: d.sessions.len() as u64,
        rooms: rooms(&d.sessions),
    };
    report_written(&path, &summary, rounds, json)
}

/// How many failed sessions are listed one by one before the rest are only counted.
const SHOWN_FAILURES: usize = 20;

/// The backup public key from `--public-key`: base64, or a VERSION.json file holding it.
fn public_key(arg: &str) -> Result<[u8; 32], CliError> {
    let from_file = Path::new(arg).is_file();
    let text = if from_file {
        let v = read_small_json(Path::new(arg), "backup version")?;
        let pk = v
            .get("auth_data")
            .unwrap_or(&v)
            .get("public_key")
            .and_then(Value::as_str)
            .ok_or_else(|| CliError::Input(format!("{arg} has no auth_data.public_key")))?;
        pk.to_owned()
    } else {
        arg.to_owned()
    };
    decode_lenient(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            if held::looks_like_recovery_key(&text) {
                // Never echo it: it is the secret itself, not the public key.
                let history = if from_file {
                    ""
                } else {
                    " (typed here, it is now in your shell history: clear it)"
                };
                CliError::Usage(format!(
                    "--public-key: this looks like your Security Key, which is secret{history}; the public key is auth_data.public_key in the backup version: give that file, --public-key VERSION.json"
                ))
            } else {
                CliError::Usage(format!(
                    "--public-key {arg}: expected 32 bytes of base64 (auth_data.public_key) or a VERSION.json file"
                ))
            }
        })
}

fn encrypt(a: EncryptArgs, json: bool) -> Result<(), CliError> {
    let public = public_key(&a.public_key)?;
    backup::check_public_key(&public)?;
    let mut pending = a.out.create(&[&a.sessions])?;
    let sessions = read_sessions(&a.sessions, &a.pass, &a.max)?;
    let verified = a.verified;
    let results: Vec<Result<(String, String, Value), String>> = sessions
        .into_par_iter()
        .enumerate()
        .map(|(i, mut s)| {
            let (Some(room), Some(sid), Some(key)) = (
                s.room_id.clone(),
                s.session_id.clone(),
                s.session_key.as_ref(),
            ) else {
                return Err(format!(
                    "session {}: room_id, session_id and session_key must be strings",
                    i + 1
                ));
            };
            let sk = SessionKey::from_base64(key.expose())
                .map_err(|e| format!("session {} ({sid}): {e}", i + 1))?;
            if sk.session_id() != sid {
                return Err(format!(
                    "session {} ({sid}): its session_key belongs to session {}",
                    i + 1,
                    sk.session_id()
                ));
            }
            // A chain with elements that are not strings is not typed; its elements still count.
            let forwarded = s
                .forwarding_curve25519_key_chain
                .as_ref()
                .map(Vec::len)
                .or_else(|| {
                    let raw = s.extra.get("forwarding_curve25519_key_chain")?;
                    serde_json::from_str::<Vec<serde::de::IgnoredAny>>(raw.get())
                        .ok()
                        .map(|a| a.len())
                })
                .unwrap_or(0);
            // The backup files the session under its room and id; the plaintext names neither.
            s.remove("room_id");
            s.remove("session_id");
            let plain = Zeroizing::new(serde_json::to_vec(&s).map_err(|e| e.to_string())?);
            let mut eph = Zeroizing::new([0u8; 32]);
            getrandom::getrandom(&mut *eph).map_err(|e| format!("no randomness: {e}"))?;
            let sd = backup::encrypt_session_data(&public, &plain, &mut eph);
            Ok((
                room,
                sid,
                json!({
                    "first_message_index": sk.first_index(),
                    "forwarded_count": forwarded,
                    "is_verified": verified,
                    "session_data": sd,
                }),
            ))
        })
        .collect();
    let mut rooms: Map<String, Value> = Map::new();
    let mut errors = Vec::new();
    let mut count = 0u64;
    for r in results {
        match r {
            Ok((room, sid, kbd)) => {
                let entry = rooms.entry(room).or_insert_with(|| json!({"sessions": {}}));
                if let Some(s) = entry.get_mut("sessions").and_then(Value::as_object_mut) {
                    s.insert(sid, kbd);
                }
                count += 1;
            }
            Err(e) => errors.push(e),
        }
    }
    for e in &errors {
        warn(e);
    }
    if !errors.is_empty() {
        return Err(CliError::Input(format!(
            "{} sessions are invalid (listed above); nothing was written",
            errors.len()
        )));
    }
    let body = json!({ "rooms": rooms });
    serde_json::to_writer(&mut pending, &body).map_err(io::Error::from)?;
    pending.write_all(b"\n")?;
    let path = pending.commit()?;
    if json {
        return print_json(
            &json!({"output": path.display().to_string(), "sessions": count, "rooms": rooms.len()}),
        );
    }
    stderr!(
        "wrote {count} sessions in {} rooms to {}; upload with:\n  curl -X PUT -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' --data @{} \"$HS/_matrix/client/v3/room_keys/keys?version=$V\"",
        rooms.len(),
        path.display(),
        path.display()
    );
    Ok(())
}
