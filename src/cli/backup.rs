//! `mxkeys backup ...`: decrypt a server-side key backup, encrypt sessions into one, convert a
//! backup into an export file.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, BufRead, Seek, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use rayon::prelude::*;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use mxkeys::backup::{self, BackupError, MacKind, Msc4048Policy, Msc4048Status, Shape};
use mxkeys::encoding::decode_lenient;
use mxkeys::export;
use mxkeys::kdf::Rounds;
use mxkeys::megolm::SessionKey;
use mxkeys::recovery_key::RecoveryKey;
use mxkeys::session::{SessionRecord, Summary};
use mxkeys::ssss::AccountData;
use mxkeys::Passphrase;

use super::common::{
    export_writer, new_passphrase, output_arg, report_written, write_rounds, MaxRounds,
    OptionalOutputArgs, OutputArgs, PassphraseArgs,
};
use super::held::{self, HeldArgs, HeldSecret};
use super::inputs::{open_sessions, Keyring};
use super::io::{note, open_input_file, print_json, read_small_json, spinner, warn, InputFile};
use super::sink::ArrayWriter;
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

Every session is decrypted on its own: the first 20 that fail are listed with the reason, then a
count per reason (--json lists every one), and nothing is written unless --allow-partial (then the
others are). A matching backup MAC proves the key is right but not that the data is intact (every
client computes it over an empty message); padding, JSON and session-key checks catch damage.

MSC4048 (unstable, not in the spec; no released client writes it): a session whose session_data
carries unsigned.\"org.matrix.msc4048.backup_mac\" (HMAC-SHA-256, keyed by HKDF of the backup's
private key, over the canonical JSON of the encrypted session_data) is checked before it is
decrypted: valid = authenticated (written by someone holding the backup key); wrong or malformed =
the session fails (kind backup_mac), like a bad MAC; absent = unauthenticated (anyone who knows the
public key could have written it). --require-authenticated refuses unauthenticated sessions too
(kind unauthenticated; with --allow-partial the others are written). The counts are printed when
any session carried such a MAC, and always under \"msc4048\" in --json.

The backup is read as a stream, in the order the server wrote it, and decrypted on every core: a
body of a million sessions (about 800 MB) needs a few MB of memory, and the output keeps the
body's order. One session's entry larger than 16 MiB is refused (a real one is under 1 KB).

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
/_matrix/client/v3/room_keys/version). No secret key is needed to write a backup (except with
--msc4048).

OUT is a PUT /room_keys/keys body, {\"rooms\": {ROOM_ID: {\"sessions\": {SESSION_ID: KeyBackupData}}}},
with the MAC every client expects.

--msc4048 (unstable: MSC4048 is a proposal, not the spec; no released client reads it) also writes
each session_data's unsigned.\"org.matrix.msc4048.backup_mac\": HMAC-SHA-256 of the canonical JSON
of the encrypted session_data, keyed by HKDF(backup private key, info \"MATRIX_BACKUP_MAC_KEY\"). It
proves the session was written by someone holding the backup's private key, so it needs that key:
the Security Key / backup key, read as `backup decrypt` reads it (--key-file, else
MXKEYS_RECOVERY_KEY, else a prompt; --key-file's first line, - for stdin), and --public-key must
be that key's public key (so the MACs are never made with the key of another backup). Clients that
do not know MSC4048 ignore the field. Upload it (for clients that cannot import files, e.g. Element X):
  curl -X PUT -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\
       --data @put.json \"$HS/_matrix/client/v3/room_keys/keys?version=$V\"

Examples:
  mxkeys backup encrypt keys.json --public-key version.json -o put.json
  mxkeys backup encrypt element-keys.txt -o put.json \\
      --public-key 7CzPt5f1IJExcBo7vLJ2DS40ODAy94/Cf/76Iw41ExY
  mxkeys backup encrypt keys.json --public-key version.json --msc4048 --key-file key.txt \\
      -o put.json

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
    /// Refuse sessions without a valid MSC4048 backup MAC (unstable).
    #[arg(long)]
    require_authenticated: bool,
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
    /// Write MSC4048 MACs too (unstable).
    #[arg(long)]
    msc4048: bool,
    /// The backup key, for --msc4048.
    #[arg(long, value_name = "PATH", requires = "msc4048")]
    key_file: Option<PathBuf>,
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

/// What decrypting a backup gave: counts, the first failures and (for --json) every failure.
pub(super) struct Tally {
    /// Sessions decrypted (and handed to the sink).
    pub sessions: u64,
    /// Sessions in the backup.
    pub total: u64,
    /// Rooms of the decrypted sessions.
    rooms: HashSet<String>,
    /// Decrypted sessions by the MAC they carried.
    pub mac: BTreeMap<&'static str, u64>,
    /// Sessions by MSC4048 (unstable) status, among those whose check was reached.
    pub msc4048: Msc4048Counts,
    /// Whether --require-authenticated was given.
    required: bool,
    failures: Failures,
}

/// Sessions by MSC4048 (unstable) status; `--json` writes it as `"msc4048"`.
#[derive(Default, serde::Serialize)]
pub(super) struct Msc4048Counts {
    authenticated: u64,
    unauthenticated: u64,
    mismatch: u64,
}

impl Msc4048Counts {
    fn add(&mut self, status: Option<Msc4048Status>) {
        match status {
            Some(Msc4048Status::Authenticated) => self.authenticated += 1,
            Some(Msc4048Status::Unauthenticated) => self.unauthenticated += 1,
            Some(Msc4048Status::Mismatch) => self.mismatch += 1,
            None => {}
        }
    }
}

impl Tally {
    fn new(json: bool) -> Result<Self, CliError> {
        Ok(Tally {
            sessions: 0,
            total: 0,
            rooms: HashSet::new(),
            mac: BTreeMap::new(),
            msc4048: Msc4048Counts::default(),
            required: false,
            failures: Failures::new(json)?,
        })
    }

    /// Count one decrypted session.
    fn decrypted(&mut self, s: &SessionRecord, kind: MacKind, status: Option<Msc4048Status>) {
        self.total += 1;
        self.sessions += 1;
        self.msc4048.add(status);
        let name = match kind {
            MacKind::Empty => "empty",
            MacKind::Ciphertext => "ciphertext",
        };
        *self.mac.entry(name).or_insert(0) += 1;
        if let Some(r) = &s.room_id {
            if !self.rooms.contains(r.as_str()) {
                self.rooms.insert(r.clone());
            }
        }
    }

    /// What `report_written` and friends print.
    pub fn summary(&self) -> Summary {
        Summary {
            sessions: self.sessions,
            rooms: self.rooms.len() as u64,
        }
    }

    /// Sessions that failed.
    pub fn failed(&self) -> u64 {
        self.failures.count
    }
}

/// The sessions that failed: the first [`SHOWN_FAILURES`] in full, counts by kind, and (for
/// --json, which lists every one) the rest spooled to an unnamed temporary file as JSON lines,
/// so a million failures take no memory.
struct Failures {
    first: Vec<(String, String, backup::SessionFailure)>,
    by_kind: BTreeMap<&'static str, u64>,
    count: u64,
    /// The kind of the first failure, while every failure so far had it.
    one_kind: Option<Option<backup::FailureKind>>,
    spool: Option<io::BufWriter<std::fs::File>>,
}

impl Failures {
    fn new(json: bool) -> Result<Self, CliError> {
        let spool = if json {
            let f = tempfile::tempfile().map_err(|e| {
                CliError::Input(format!(
                    "cannot create a temporary file for the list of failures: {e}"
                ))
            })?;
            Some(io::BufWriter::new(f))
        } else {
            None
        };
        Ok(Failures {
            first: Vec::new(),
            by_kind: BTreeMap::new(),
            count: 0,
            one_kind: None,
            spool,
        })
    }

    fn add(
        &mut self,
        room: String,
        session: String,
        e: backup::SessionFailure,
        msc4048: Option<Msc4048Status>,
    ) -> io::Result<()> {
        let kind = e.kind();
        self.count += 1;
        *self.by_kind.entry(kind.as_str()).or_insert(0) += 1;
        self.one_kind = match self.one_kind {
            None => Some(Some(kind)),
            Some(Some(k)) if k == kind => Some(Some(k)),
            Some(_) => Some(None),
        };
        if let Some(spool) = &mut self.spool {
            serde_json::to_writer(
                &mut *spool,
                &json!({"room_id": room, "session_id": session, "kind": kind, "why": e.to_string(), "msc4048": msc4048}),
            )?;
            spool.write_all(b"\n")?;
        }
        if self.first.len() < SHOWN_FAILURES {
            self.first.push((room, session, e));
        }
        Ok(())
    }

    /// Every failure, in backup order, for --json: the spool read back.
    fn list(&mut self) -> io::Result<SpooledList> {
        let Some(spool) = self.spool.take() else {
            return Ok(SpooledList(std::cell::RefCell::new(None)));
        };
        let mut f = spool.into_inner().map_err(io::IntoInnerError::into_error)?;
        f.seek(io::SeekFrom::Start(0))?;
        Ok(SpooledList(std::cell::RefCell::new(Some(
            io::BufReader::new(f),
        ))))
    }
}

/// The spooled failures, serialized as a JSON array by reading them back one line at a time.
struct SpooledList(std::cell::RefCell<Option<io::BufReader<std::fs::File>>>);

impl serde::Serialize for SpooledList {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeSeq};
        let mut seq = ser.serialize_seq(None)?;
        if let Some(r) = self.0.borrow_mut().as_mut() {
            for line in r.lines() {
                let line = line.map_err(S::Error::custom)?;
                let v: Value = serde_json::from_str(&line).map_err(S::Error::custom)?;
                seq.serialize_element(&v)?;
            }
        }
        seq.end()
    }
}

/// What a command does with the sessions: an export needs each session's room.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Needs {
    /// `backup decrypt`: a lone session without ids is decrypted all the same.
    Sessions,
    /// `backup to-export`, `recover`: every session needs its room id.
    RoomIds,
}

/// A backup whose key has been found, ready to be decrypted.
pub(super) struct Opened {
    key: RecoveryKey,
    body: Body,
    /// What is asked of MSC4048 (unstable) backup MACs.
    policy: Msc4048Policy,
}

enum Body {
    /// A keys body or one room's body, to be read again from its start.
    Stream {
        input: InputFile,
        room: Option<String>,
    },
    /// A piece holding one session, already decrypted.
    Lone(SessionRecord, MacKind, Msc4048Status),
}

/// The first sessions of a backup, which tell a backup key that fits from one that does not.
const PROBE: usize = 3;

/// Open a backup: find its shape from the first sessions (read as a stream, so a body of any
/// size costs no memory), get the key with `resolve` (given those sessions), check it against
/// the version if one is given, and keep the input to stream it from its start. `policy` says
/// what to do with sessions without an MSC4048 (unstable) backup MAC.
pub(super) fn open_backup_with(
    path: &Path,
    version: Option<&Value>,
    room: Option<&str>,
    session: Option<&str>,
    needs: Needs,
    policy: Msc4048Policy,
    resolve: impl FnOnce(&[backup::Entry]) -> Result<RecoveryKey, CliError>,
) -> Result<Opened, CliError> {
    let mut input = open_input_file(path)?;
    let (streamed, probe) = probe_entries(path, &mut input, room)?;
    let doc = match streamed {
        backup::Streamed::Entries { .. } => {
            let key = resolve(&probe)?;
            if let Some(v) = version {
                backup::check_auth_data(&key, v)?;
            }
            input.seek(io::SeekFrom::Start(0))?;
            return Ok(Opened {
                key,
                body: Body::Stream {
                    input,
                    room: room.map(str::to_owned),
                },
                policy,
            });
        }
        backup::Streamed::Lone(doc) => doc,
    };
    let shape = backup::shape(&doc)?;
    let piece = match shape {
        Shape::Room => "one room's body",
        Shape::KeyBackupData => "a KeyBackupData",
        Shape::Keys | Shape::SessionData => "a session_data",
    };
    let Some(sd) = backup::lone_session_data(&doc) else {
        return Err(mxkeys::Error::from(BackupError::UnknownShape).into());
    };
    if needs == Needs::RoomIds && room.is_none() {
        return Err(CliError::Input(format!(
            "{piece} does not name its room, and an export needs it: give --room-id ID (`mxkeys backup decrypt` decrypts it without)"
        )));
    }
    let key = resolve(&[])?;
    if let Some(v) = version {
        backup::check_auth_data(&key, v)?;
    }
    let (s, mac, status) = decrypt_lone(&key, sd, room, session, piece, needs, policy)?;
    Ok(Opened {
        key,
        body: Body::Lone(s, mac, status),
        policy,
    })
}

/// The first sessions of a backup body, read as a stream:
/// what tells a backup key that fits. A one-session document gives none.
pub(super) fn first_entries(path: &Path) -> Result<Vec<backup::Entry>, CliError> {
    Ok(probe_entries(path, open_input_file(path)?, None)?.1)
}

/// Read a backup (from `path`) up to its first [`PROBE`] sessions: what it is, and those.
fn probe_entries(
    path: &Path,
    input: impl io::Read,
    room: Option<&str>,
) -> Result<(backup::Streamed, Vec<backup::Entry>), CliError> {
    let mut probe = Vec::with_capacity(PROBE);
    let streamed = backup::for_each_entry(input, room, |e| {
        probe.push(e);
        Ok(if probe.len() == PROBE {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })
    .map_err(|e| read_error(path, e))?;
    Ok((streamed, probe))
}

/// A backup that could not be read, worded as before: the file, what is wrong, where.
fn read_error(path: &Path, e: mxkeys::Error) -> CliError {
    match e {
        mxkeys::Error::Backup(BackupError::Json {
            detail,
            line,
            column,
        }) => CliError::Input(format!(
            "{} is not valid JSON: {detail} at line {line}, column {column}; give the file as the server sent it",
            path.display()
        )),
        mxkeys::Error::Backup(BackupError::IdNotGiven {
            shape: Shape::Room, ..
        }) => CliError::Input("one room's body does not name its room: give --room-id ID".into()),
        mxkeys::Error::Backup(BackupError::EntryTooLarge { .. }) => {
            CliError::Input(format!("{}: {e}", path.display()))
        }
        mxkeys::Error::Io(io) => {
            CliError::Input(format!("cannot read {}: {io}", path.display()))
        }
        other => other.into(),
    }
}

/// Decrypt an opened backup, handing each session that decrypts to `sink` in the backup's
/// order, and tell what happened: the first failures (unless one error line says it all), then
/// an error when nothing or (without `allow_partial`) not everything decrypted. The sink's
/// output must be discarded on error (it is, for a pending output file or held standard output).
pub(super) fn decrypt_opened(
    path: &Path,
    opened: Opened,
    allow_partial: bool,
    json: bool,
    mut sink: impl FnMut(&SessionRecord) -> io::Result<()>,
) -> Result<Tally, CliError> {
    let mut tally = Tally::new(json)?;
    tally.required = opened.policy.require_authenticated;
    let (mut input, room) = match opened.body {
        Body::Lone(s, mac, status) => {
            sink(&s)?;
            tally.decrypted(&s, mac, Some(status));
            return Ok(tally);
        }
        Body::Stream { input, room } => (input, room),
    };
    let pb = spinner("decrypting sessions".to_owned());
    let mut sink_error = None;
    let policy = opened.policy;
    let streamed =
        backup::decrypt_stream_with(&opened.key, policy, &mut input, room.as_deref(), |o| {
            let r = match o.result {
                Ok((s, kind)) => sink(&s).map(|()| tally.decrypted(&s, kind, o.msc4048)),
                Err(e) => {
                    tally.total += 1;
                    tally.msc4048.add(o.msc4048);
                    tally.failures.add(o.room_id, o.session_id, e, o.msc4048)
                }
            };
            r.map_err(|e| {
                sink_error = Some(e);
                mxkeys::Error::Io(io::Error::other("stopped"))
            })
        });
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    if let Some(e) = sink_error {
        return Err(e.into());
    }
    streamed.map_err(|e| read_error(path, e))?;
    judge(&mut tally, allow_partial, json)?;
    Ok(tally)
}

/// The failures listed, and the error when nothing or not everything decrypted.
fn judge(tally: &mut Tally, allow_partial: bool, json: bool) -> Result<(), CliError> {
    let total = tally.total;
    let f = &tally.failures;
    let one_kind = f.one_kind.flatten();
    let all_failed = total > 0 && f.count == total;
    // When every session fails the same way, the one error line below says it all (a wrong key
    // would otherwise print one warning per session first). Otherwise the first few, then counts.
    let folded = all_failed && one_kind.is_some();
    if !json && !folded {
        for (room, session, e) in &f.first {
            warn(&format!("{room} {session}: {e}"));
        }
        if f.count > SHOWN_FAILURES as u64 {
            let counts: Vec<String> = f.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
            warn(&format!(
                "and {} more sessions that failed (all {} failures by kind: {}); --json lists every one",
                f.count - SHOWN_FAILURES as u64,
                f.count,
                counts.join(", ")
            ));
        }
    }
    if all_failed {
        const KEY_HINT: &str =
            "is this the Security Key of this backup? Give --backup-version VERSION.json to check";
        let msg = match (one_kind, f.first.first()) {
            (Some(backup::FailureKind::Mac), _) => format!(
                "none of the {total} sessions could be decrypted (MAC mismatch); {KEY_HINT}"
            ),
            (Some(backup::FailureKind::Unauthenticated), _) => format!(
                "none of the {total} sessions carries an MSC4048 (unstable) backup MAC, and --require-authenticated refuses them; leave it out to decrypt them as unauthenticated"
            ),
            // The same damage everywhere: the key is not the question.
            (Some(_), Some((_, _, e))) => format!(
                "none of the {total} sessions could be decrypted, each for the same reason as the first: {e}"
            ),
            _ => format!("none of the {total} sessions could be decrypted; {KEY_HINT}"),
        };
        return Err(CliError::Input(msg));
    }
    if f.count > 0 && !allow_partial {
        return Err(CliError::Input(format!(
            "{} of {total} sessions could not be decrypted (listed above); nothing was written, add --allow-partial to keep the {} that could",
            f.count, tally.sessions
        )));
    }
    Ok(())
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

/// Open the backup of `backup decrypt` / `to-export` with the key they were given.
fn open_source(
    src: &Source,
    json: bool,
    needs: Needs,
) -> Result<(Opened, Option<Value>), CliError> {
    let version = src
        .backup_version
        .as_deref()
        .map(|p| read_small_json(p, "backup version"))
        .transpose()?;
    let opened = open_backup_with(
        &src.backup,
        version.as_ref(),
        src.room_id.as_deref(),
        src.session_id.as_deref(),
        needs,
        Msc4048Policy {
            require_authenticated: src.require_authenticated,
        },
        |probe| resolve_key(src, version.as_ref(), probe, json),
    )?;
    Ok((opened, version))
}

/// Decrypt one `session_data` whose room or session id is not given. The session id comes from
/// the decrypted session key (its signature is checked); the room is left out when unknown.
fn decrypt_lone(
    key: &RecoveryKey,
    session_data: &Value,
    room: Option<&str>,
    sid: Option<&str>,
    piece: &str,
    needs: Needs,
    policy: Msc4048Policy,
) -> Result<(SessionRecord, MacKind, Msc4048Status), CliError> {
    let mac_key = backup::BackupMacKey::derive(key);
    let d = backup::decrypt_session_data_with(key, &mac_key, policy, session_data, sid).map_err(|e| {
        let hint = match e.kind() {
            backup::FailureKind::Mac => "; is this the Security Key of this backup? Give --backup-version VERSION.json to check",
            backup::FailureKind::Unauthenticated => "; leave out --require-authenticated to decrypt it as unauthenticated",
            _ => "",
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
    Ok((s, d.mac, d.msc4048))
}

/// The MAC note, only when it tells something: some sessions carried a MAC over the ciphertext
/// (MSC4048) rather than the empty-message MAC every client writes. For the usual backup it is
/// expert detail, and `backup decrypt --help` explains it.
pub(super) fn explain_mac(t: &Tally, json: bool) {
    let m = &t.msc4048;
    if !json && (m.authenticated > 0 || m.mismatch > 0 || t.required) {
        note(&format!(
            "MSC4048 (unstable) backup MACs: {} authenticated, {} unauthenticated (no MAC), {} mismatch",
            m.authenticated, m.unauthenticated, m.mismatch
        ));
    }
    let empty = t.mac.get("empty").copied().unwrap_or(0);
    let ct = t.mac.get("ciphertext").copied().unwrap_or(0);
    if json || ct == 0 {
        return;
    }
    note(&format!(
        "MAC over the empty message (what every client writes): {empty}; over the ciphertext (MSC4048): {ct}. \
         A matching MAC proves the key; the data's integrity was checked by padding, JSON and session-key checks"
    ));
}

fn decrypt(a: DecryptArgs, json: bool) -> Result<(), CliError> {
    let pending = a.out.create(&[&a.src.backup])?;
    let (opened, _) = open_source(&a.src, json, Needs::Sessions)?;
    // Held until the command succeeded: a failure later in the backup prints nothing.
    super::stdout::hold()?;
    let (mut tally, path) = match pending {
        Some(mut p) => {
            let tally = write_decrypted(&a.src.backup, opened, &a, json, &mut p)?;
            (tally, Some(p.commit()?))
        }
        None => {
            let mut out = io::BufWriter::new(super::stdout::out());
            let tally = write_decrypted(&a.src.backup, opened, &a, json, &mut out)?;
            out.flush()?;
            (tally, None)
        }
    };
    let summary = tally.summary();
    match (&path, json) {
        (Some(path), true) => {
            // Written as it is serialized: the list of failures is read back from its spool.
            let list = tally.failures.list()?;
            let report = DecryptReport {
                output: path.display().to_string(),
                sessions: summary.sessions,
                rooms: summary.rooms,
                total: tally.total,
                failed: &list,
                mac: &tally.mac,
                msc4048: &tally.msc4048,
            };
            let mut out = io::BufWriter::new(super::stdout::out());
            serde_json::to_writer_pretty(&mut out, &report).map_err(io::Error::from)?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
        (Some(path), false) => stderr!(
            "decrypted {} of {} sessions in {} rooms to {}",
            summary.sessions,
            tally.total,
            summary.rooms,
            path.display()
        ),
        (None, false) => stderr!(
            "decrypted {} of {} sessions in {} rooms",
            summary.sessions,
            tally.total,
            summary.rooms
        ),
        (None, true) => {}
    }
    explain_mac(&tally, json);
    Ok(())
}

/// `backup decrypt --json` with -o.
#[derive(serde::Serialize)]
struct DecryptReport<'a> {
    output: String,
    sessions: u64,
    rooms: u64,
    total: u64,
    failed: &'a SpooledList,
    mac: &'a BTreeMap<&'static str, u64>,
    /// Sessions by MSC4048 (unstable) status.
    msc4048: &'a Msc4048Counts,
}

/// Stream the decrypted sessions of `opened` into `out` as a JSON array (and a newline).
fn write_decrypted(
    path: &Path,
    opened: Opened,
    a: &DecryptArgs,
    json: bool,
    out: &mut dyn Write,
) -> Result<Tally, CliError> {
    let mut array = ArrayWriter::new(io::BufWriter::new(out), a.pretty);
    let tally = decrypt_opened(path, opened, a.src.allow_partial, json, |s| array.push(s))?;
    let mut w = array.finish()?;
    w.write_all(b"\n")?;
    w.flush()?;
    Ok(tally)
}

fn to_export(a: ToExportArgs, json: bool) -> Result<(), CliError> {
    let rounds = write_rounds(a.rounds, a.src.max.max_rounds)?;
    let mut pending = a.out.create(&[&a.src.backup])?;
    let (opened, _) = open_source(&a.src, json, Needs::RoomIds)?;
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
    let tally = write_export_of(
        &a.src.backup,
        opened,
        &mut pending,
        &pass,
        rounds,
        a.src.allow_partial,
        json,
    )?;
    let path = pending.commit()?;
    explain_mac(&tally, json);
    report_written(&path, &tally.summary(), rounds, json)
}

/// Stream the decrypted sessions of `opened` into an export written to `out`.
pub(super) fn write_export_of(
    path: &Path,
    opened: Opened,
    out: &mut dyn Write,
    pass: &Passphrase,
    rounds: Rounds,
    allow_partial: bool,
    json: bool,
) -> Result<Tally, CliError> {
    let writer = export_writer(io::BufWriter::new(out), pass, rounds)?;
    let mut array = ArrayWriter::new(writer, false);
    let tally = decrypt_opened(path, opened, allow_partial, json, |s| array.push(s))?;
    array.finish()?.finish()?.flush()?;
    Ok(tally)
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

/// One session of `backup encrypt`: its room, id and KeyBackupData, or why it is invalid.
fn encrypt_one(
    public: &[u8; 32],
    mac_key: Option<&backup::BackupMacKey>,
    verified: bool,
    i: u64,
    mut s: SessionRecord,
) -> Result<(String, String, Value), String> {
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
    let mut sd = backup::encrypt_session_data(public, &plain, &mut eph);
    if let Some(k) = mac_key {
        backup::add_backup_mac(k, &mut sd)
            .map_err(|e| format!("session {} ({sid}): {e}", i + 1))?;
    }
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
}

/// Where one KeyBackupData of `backup encrypt` waits in the spool until its room is written.
#[derive(Clone, Copy)]
struct Spooled {
    /// Index into the rooms, in order of first appearance.
    room: u32,
    /// Position of the session in the input.
    seq: u32,
    /// Hash of the session id, to find a session given twice.
    hash: u64,
    /// `"SESSION_ID":{KeyBackupData}` at this offset of the spool, `key_len` bytes of id.
    offset: u64,
    key_len: u32,
    len: u32,
}

/// The body of a PUT /room_keys/keys, built in bounded memory: the sessions arrive in any room
/// order, and the body groups them by room. Each encrypted KeyBackupData (which holds nothing
/// secret: it is what the server receives) goes to an unnamed temporary file as it is made;
/// memory keeps 32 bytes per session to find it again, and the rooms' names.
struct BodySpool {
    file: io::BufWriter<std::fs::File>,
    written: u64,
    rooms: Vec<String>,
    room_index: std::collections::HashMap<String, u32>,
    index: Vec<Spooled>,
}

impl BodySpool {
    fn new() -> Result<Self, CliError> {
        let file = tempfile::tempfile().map_err(|e| {
            CliError::Input(format!("cannot create a temporary file for the body: {e}"))
        })?;
        Ok(BodySpool {
            file: io::BufWriter::new(file),
            written: 0,
            rooms: Vec::new(),
            room_index: std::collections::HashMap::new(),
            index: Vec::new(),
        })
    }

    fn add(&mut self, room: String, sid: &str, kbd: &Value) -> io::Result<()> {
        let next = u32::try_from(self.rooms.len()).map_err(io::Error::other)?;
        let room = match self.room_index.get(&room) {
            Some(&r) => r,
            None => {
                self.room_index.insert(room.clone(), next);
                self.rooms.push(room);
                next
            }
        };
        let key = serde_json::to_vec(&Value::String(sid.to_owned()))?;
        let mut text = key.clone();
        text.push(b':');
        serde_json::to_writer(&mut text, kbd)?;
        self.file.write_all(&text)?;
        let too_big = |_| io::Error::other("more than 4 GiB in one session or 2^32 sessions");
        self.index.push(Spooled {
            room,
            seq: u32::try_from(self.index.len()).map_err(too_big)?,
            hash: {
                use std::hash::{BuildHasher, Hasher};
                let mut h = std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default()
                    .build_hasher();
                h.write(&key);
                h.finish()
            },
            offset: self.written,
            key_len: u32::try_from(key.len()).map_err(too_big)?,
            len: u32::try_from(text.len()).map_err(too_big)?,
        });
        self.written += text.len() as u64;
        Ok(())
    }

    /// Write the body into `out`: rooms in order of first appearance, each room's sessions in
    /// input order; a session given twice in one room is written once, at its first place,
    /// with its last copy (as a JSON object keeps a repeated key). Returns (sessions, rooms).
    fn write_into(self, out: &mut dyn Write) -> io::Result<(u64, u64)> {
        use std::os::unix::fs::FileExt;
        let file = self
            .file
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        let read = |e: &Spooled, key_only: bool| -> io::Result<Vec<u8>> {
            let len = if key_only { e.key_len } else { e.len };
            let mut buf = vec![0u8; len as usize];
            file.read_exact_at(&mut buf, e.offset)?;
            Ok(buf)
        };
        let mut kept = self.index;
        kept.sort_unstable_by_key(|e| (e.room, e.hash, e.seq));
        // Collapse repeats in place (no second index: memory stays at 32 bytes a session):
        // same room and same id (hash first, then the id's bytes).
        let mut w = 0usize;
        for i in 0..kept.len() {
            let Some(&e) = kept.get(i) else { break };
            if let Some(last) = w.checked_sub(1).and_then(|l| kept.get(l).copied()) {
                if last.room == e.room
                    && last.hash == e.hash
                    && read(&last, true)? == read(&e, true)?
                {
                    if let Some(slot) = kept.get_mut(w - 1) {
                        *slot = Spooled { seq: last.seq, ..e };
                    }
                    continue;
                }
            }
            if let Some(slot) = kept.get_mut(w) {
                *slot = e;
            }
            w += 1;
        }
        kept.truncate(w);
        kept.sort_unstable_by_key(|e| (e.room, e.seq));
        let mut out = io::BufWriter::new(out);
        out.write_all(b"{\"rooms\":{")?;
        let mut room = None;
        for e in &kept {
            if room != Some(e.room) {
                if room.is_some() {
                    out.write_all(b"}},")?;
                }
                let name = self.rooms.get(e.room as usize).map_or("", String::as_str);
                serde_json::to_writer(&mut out, name)?;
                out.write_all(b":{\"sessions\":{")?;
                room = Some(e.room);
            } else {
                out.write_all(b",")?;
            }
            out.write_all(&read(e, false)?)?;
        }
        if room.is_some() {
            out.write_all(b"}}")?;
        }
        out.write_all(b"}}\n")?;
        out.flush()?;
        Ok((kept.len() as u64, self.rooms.len() as u64))
    }
}

/// The backup key for `backup encrypt --msc4048`: --key-file, MXKEYS_RECOVERY_KEY, or a prompt.
fn msc4048_key(file: Option<&Path>) -> Result<RecoveryKey, CliError> {
    let text = super::secrets::read(&super::secrets::SecretSpec {
        file,
        file_flag: "--key-file",
        env: "MXKEYS_RECOVERY_KEY",
        prompt: "Security Key (the backup key, for the MSC4048 MACs): ".into(),
        confirm: false,
    })?;
    RecoveryKey::decode(text.expose()).map_err(|e| CliError::Lib(e.into()))
}

fn encrypt(a: EncryptArgs, json: bool) -> Result<(), CliError> {
    let public = public_key(&a.public_key)?;
    let mac_key = if a.msc4048 {
        let k = msc4048_key(a.key_file.as_deref())?;
        if k.backup_public_key() != public {
            return Err(CliError::Input(format!(
                "--public-key is {}, but the key given for --msc4048 is the key of backup public key {}: give the Security Key of this backup",
                mxkeys::encoding::encode_unpadded(&public),
                mxkeys::encoding::encode_unpadded(&k.backup_public_key())
            )));
        }
        Some(backup::BackupMacKey::derive(&k))
    } else {
        None
    };
    backup::check_public_key(&public)?;
    let mut pending = a.out.create(&[&a.sessions])?;
    let files: Vec<PathBuf> = a.pass.passphrase_file.iter().cloned().collect();
    let mut keys = Keyring::new(&files, a.max.max_rounds);
    let opened = open_sessions(&a.sessions, &mut keys)?;
    let mut spool = BodySpool::new()?;
    let (mut shown, mut invalid) = (Vec::new(), 0u64);
    let mut batch = Vec::with_capacity(ENCRYPT_BATCH);
    let mut read = 0u64;
    let mut flush = |batch: &mut Vec<SessionRecord>, spool: &mut BodySpool| -> io::Result<()> {
        let first = read;
        read += batch.len() as u64;
        let made: Vec<_> = std::mem::take(batch)
            .into_par_iter()
            .enumerate()
            .map(|(k, s)| encrypt_one(&public, mac_key.as_ref(), a.verified, first + k as u64, s))
            .collect();
        for r in made {
            match r {
                Ok((room, sid, kbd)) if invalid == 0 => spool.add(room, &sid, &kbd)?,
                Ok(_) => {}
                Err(e) => {
                    invalid += 1;
                    if shown.len() < SHOWN_FAILURES {
                        shown.push(e);
                    }
                }
            }
        }
        Ok(())
    };
    opened.for_each_session(&a.sessions, |s| {
        batch.push(s);
        if batch.len() == ENCRYPT_BATCH {
            flush(&mut batch, &mut spool)?;
        }
        Ok(())
    })?;
    flush(&mut batch, &mut spool)?;
    for e in &shown {
        warn(e);
    }
    if invalid > 0 {
        let listed = if invalid > SHOWN_FAILURES as u64 {
            format!("the first {SHOWN_FAILURES} listed above")
        } else {
            "listed above".to_owned()
        };
        return Err(CliError::Input(format!(
            "{invalid} sessions are invalid ({listed}); nothing was written"
        )));
    }
    let (count, rooms) = spool.write_into(&mut pending)?;
    let path = pending.commit()?;
    if json {
        return print_json(
            &json!({"output": path.display().to_string(), "sessions": count, "rooms": rooms}),
        );
    }
    stderr!(
        "wrote {count} sessions in {rooms} rooms to {}; upload with:\n  curl -X PUT -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' --data @{} \"$HS/_matrix/client/v3/room_keys/keys?version=$V\"",
        path.display(),
        path.display()
    );
    Ok(())
}

/// Sessions encrypted together on all cores by `backup encrypt`.
const ENCRYPT_BATCH: usize = 1024;
