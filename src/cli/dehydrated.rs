//! `mxkeys dehydrated-device decrypt` and `mxkeys bundle decrypt`: the room keys that exist
//! only in a dehydrated device's queued to-device events (MSC3814), and in room-key bundles
//! (MSC4268), as an export file.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use mxkeys::attachment::find_encrypted_file;
use mxkeys::bundle::{self, Bundle};
use mxkeys::dehydrated::{
    self, event_identity, DehydratedDevice, DehydratedError, Outcome, PickleKey, RoomKeys,
};
use mxkeys::merge;
use mxkeys::session::SessionRecord;
use mxkeys::ssss::AccountData;

use super::common::{output_arg, MaxRounds, OutputArgs};
use super::held::{self, HeldArgs, HeldSecret};
use super::io::{print_json, read_small_json};
use super::secrets::{self, SecretSpec};
use super::sessions::{SessionsOut, WriteArgs};
use super::CliError;

const DECRYPT_AFTER: &str = "\
For the messages sent after your last device was gone: they were encrypted to your dehydrated
device (Element creates one when key storage is set up), and their keys are in the to-device
events the server keeps for it. Nothing else holds them. With an access token ($TOKEN, from your
client's Help & About) and your homeserver's URL ($HS), fetch the device and its events, page
by page until a page has no events:
  U=$HS/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device
  curl -H \"Authorization: Bearer $TOKEN\" \"$U\" > device.json
  D=$(jq -r .device_id device.json)
  curl -X POST -H \"Authorization: Bearer $TOKEN\" -d '{}' \"$U/$D/events\" > events-1.json
  curl -X POST -H \"Authorization: Bearer $TOKEN\" \\
       -d \"{\\\"next_batch\\\": \\\"$(jq -r .next_batch events-1.json)\\\"}\" \"$U/$D/events\" > events-2.json
  ... (until a page's \"events\" is empty)

Fetching does not consume the events on Synapse: its handler reads them from the device's inbox
without deleting, so a client that rehydrates afterwards still sees them. They are deleted with
the device itself: when a client replaces the dehydrated device (Element does so right after it
rehydrates one, on a new login) or deletes it. Fetch them before logging in to a new client.

The pickle key is a secret in secret storage (m.dehydrated_device, or org.matrix.msc3814): give
the account data (--account-data, as `mxkeys recover` reads it) and your Security Key or Phrase
(--key-file / --passphrase-file / MXKEYS_RECOVERY_KEY / MXKEYS_PASSPHRASE, or asked for), or the
key itself (--pickle-key-file: first line, unpadded base64 of 32 bytes). Pages may be given in
any order; an event on two pages counts once. Bundles of room history (m.room_key_bundle)
among the events are decrypted too when their downloaded files are in --bundle-dir, each named
by its media id (the last part of its mxc:// URL).

Output: one line per event on standard output (decrypted, not for this device, Olm failure and
why, withheld), then a summary; --json gives the counts and the list. The keys go to OUT as an
export file with a new passphrase (--new-passphrase-file / MXKEYS_NEW_PASSPHRASE, or asked for
twice), or as a JSON array with --plaintext. Import OUT in any client. A session that several
events give is written once, chosen as `export merge` chooses; copies that are different keys
are left out with a warning.

Examples:
  mxkeys dehydrated-device decrypt --device device.json --events events-*.json \\
      --account-data account_data.json -o keys.txt
  mxkeys dehydrated-device decrypt --device device.json --events events-1.json \\
      --pickle-key-file pickle-key.txt --bundle-dir bundles -o keys.json --plaintext

Exit codes:
  0    written
  1    the key does not open the device (wrong key, or the pickle was changed or cut), unknown
       device format, no room keys in the events, events that failed or were for another device
       (without --allow-partial); nothing is written then. Malformed JSON
  2    usage: no key available, OUT exists (add --force)
  130  stopped with Ctrl-C; OUT is not created";

const BUNDLE_AFTER: &str = "\
A room-key bundle (MSC4268) is the history an inviter shares with you when you join a room that
shares its history: a file encrypted like an attachment, whose key arrives in an m.room_key_bundle
to-device event. BLOB is the downloaded file; FILE_INFO.json is its EncryptedFile (the event's
\"file\" object, the event content, or the whole event). The hash is checked before anything is
decrypted. The keys go to OUT as an export file with a new passphrase, or JSON with --plaintext;
the sessions the inviter withheld are listed with the reason.

Examples:
  mxkeys bundle decrypt bundle.bin --info room_key_bundle.json -o keys.txt
  mxkeys bundle decrypt bundle.bin --info file.json -o keys.json --plaintext --json

Exit codes:
  0    written
  1    the hash does not match (a changed or wrong file), not a bundle, no sessions in it
  2    usage: OUT exists (add --force)
  130  stopped with Ctrl-C; OUT is not created";

#[derive(Debug, Subcommand)]
pub enum DehydratedCmd {
    /// A dehydrated device's queued events -> their room keys.
    #[command(after_help = DECRYPT_AFTER)]
    #[command(mut_args(output_arg(|a| a.help("The export file to write"))))]
    Decrypt(DecryptArgs),
}

#[derive(Debug, Subcommand)]
pub enum BundleCmd {
    /// An encrypted room-key bundle -> its sessions.
    #[command(after_help = BUNDLE_AFTER)]
    #[command(mut_args(output_arg(|a| a.help("The export file to write"))))]
    Decrypt(BundleArgs),
}

#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// The dehydrated device: GET .../dehydrated_device body.
    #[arg(long, value_name = "DEVICE.json")]
    device: PathBuf,
    /// Pages of its events (POST .../events bodies).
    #[arg(long, value_name = "EVENTS.json", num_args = 1.., required = true)]
    events: Vec<PathBuf>,
    /// Account data with secret storage (for your Security Key).
    #[arg(long, value_name = "AD.json", conflicts_with = "pickle_key_file")]
    account_data: Option<PathBuf>,
    /// The pickle key itself (first line, base64; - for stdin).
    #[arg(long, value_name = "PATH")]
    pickle_key_file: Option<PathBuf>,
    /// Folder of downloaded room-key bundles, named by media id.
    #[arg(long, value_name = "DIR")]
    bundle_dir: Option<PathBuf>,
    /// Write the keys found even if some events failed.
    #[arg(long)]
    allow_partial: bool,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    write: WriteArgs,
    #[command(flatten)]
    key: HeldArgs,
    /// Use this secret-storage key, not the default.
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
    #[command(flatten)]
    max: MaxRounds,
}

#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The downloaded bundle file.
    blob: PathBuf,
    /// Its EncryptedFile: the event, its content, or the file object.
    #[arg(long, value_name = "FILE_INFO.json")]
    info: PathBuf,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    write: WriteArgs,
    #[command(flatten)]
    max: MaxRounds,
}

pub fn run(cmd: DehydratedCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        DehydratedCmd::Decrypt(a) => decrypt(a, json),
    }
}

pub fn run_bundle(cmd: BundleCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        BundleCmd::Decrypt(a) => bundle_decrypt(a, json),
    }
}

/// Bundles are one room's keys; a file past this is not one.
const MAX_BUNDLE_BYTES: u64 = 1 << 30;

fn read_bundle(path: &Path, file: &mxkeys::attachment::EncryptedFile) -> Result<Bundle, CliError> {
    let len = std::fs::metadata(path)
        .map_err(|e| CliError::Input(format!("cannot read {}: {e}", path.display())))?
        .len();
    if len > MAX_BUNDLE_BYTES {
        return Err(CliError::Input(format!(
            "{} is {len} bytes, more than a room-key bundle can be (1 GiB)",
            path.display()
        )));
    }
    let blob = std::fs::read(path)
        .map_err(|e| CliError::Input(format!("cannot read {}: {e}", path.display())))?;
    bundle::decrypt(&blob, file).map_err(|e| match e {
        bundle::BundleError::Attachment(mxkeys::attachment::AttachmentError::Hash) => {
            CliError::Input(format!(
                "{}: its SHA-256 is not the one the bundle's key names: the file is not this bundle, or it was changed or cut short; download it again",
                path.display()
            ))
        }
        other => CliError::Input(format!("{}: {other}", path.display())),
    })
}

fn bundle_decrypt(a: BundleArgs, json: bool) -> Result<(), CliError> {
    let pending = a.out.create(&[&a.blob, &a.info])?;
    let info = read_small_json(&a.info, "bundle info")?;
    let file = find_encrypted_file(&info, false)
        .map_err(|e| CliError::Input(format!("{}: {e}", a.info.display())))?;
    let b = read_bundle(&a.blob, &file)?;
    for (i, why) in &b.unreadable {
        stderr!("warning: room_keys[{i}] skipped: {why}");
    }
    if b.sessions.is_empty() {
        return Err(CliError::Input(format!(
            "{}: the bundle holds no sessions ({} withheld); nothing was written",
            a.blob.display(),
            b.withheld.len()
        )));
    }
    let mut out = SessionsOut::start(pending, &a.write, None, a.write.rounds, a.max.max_rounds)?;
    for s in &b.sessions {
        out.record(s)?;
    }
    let path = out.finish()?;
    if json {
        return print_json(&json!({
            "output": path.display().to_string(),
            "sessions": b.sessions.len(),
            "withheld": b.withheld,
        }));
    }
    for w in &b.withheld {
        report_withheld(w);
    }
    stderr!(
        "wrote {} sessions to {} ({} withheld by the inviter)",
        b.sessions.len(),
        path.display(),
        b.withheld.len()
    );
    Ok(())
}

fn report_withheld(w: &Value) {
    let f = |n: &str| w.get(n).and_then(Value::as_str).unwrap_or("?");
    stderr!(
        "withheld: session {} of room {}: {}{}",
        f("session_id"),
        f("room_id"),
        f("code"),
        w.get("reason")
            .and_then(Value::as_str)
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
}

/// The pickle key: the file given, or the secret in secret storage that the held key opens.
fn pickle_key(a: &DecryptArgs) -> Result<PickleKey, CliError> {
    if let Some(path) = &a.pickle_key_file {
        let text = secrets::read(&SecretSpec {
            file: Some(path),
            file_flag: "--pickle-key-file",
            env: "MXKEYS_PICKLE_KEY",
            prompt: "Dehydrated-device pickle key: ".into(),
            confirm: false,
        })?;
        return PickleKey::from_base64(text.expose())
            .map_err(|e| CliError::Input(format!("{}: {e}", path.display())));
    }
    let Some(ad_path) = &a.account_data else {
        return Err(CliError::Usage(
            "give --account-data AD.json (opened with your Security Key or Phrase) or --pickle-key-file".into(),
        ));
    };
    let ad = AccountData::parse(&read_small_json(ad_path, "account data")?)?;
    let held = held::read(&a.key, false)?.ok_or_else(|| {
        CliError::Usage("no Security Key or Phrase given (--key-file, --passphrase-file)".into())
    })?;
    let pb = match held {
        HeldSecret::Phrase(_) => super::io::spinner("deriving the key from the phrase".into()),
        HeldSecret::Key(_) => None,
    };
    let found = mxkeys::account::identify(held.as_held(), Some(&ad), None, &a.max.limits());
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let found = found?;
    if found.opened.is_empty() {
        return Err(CliError::Input(
            "this is not the Security Key (or Phrase) of this account: it opens no secret-storage key in the account data; check it for a typo (mxkeys recovery-key check --suggest --account-data AD.json)".into(),
        ));
    }
    let ids = found.key_ids().join(", ");
    for storage in &found.opened {
        if a.key_id.as_deref().is_some_and(|k| k != storage.desc.id) {
            continue;
        }
        for name in dehydrated::SECRET_NAMES {
            if let Ok(payload) = ad.encrypted(name, &storage.desc.id) {
                let secret = mxkeys::ssss::decrypt_secret(storage.key.expose(), name, payload)?;
                return PickleKey::from_base64(&secret).map_err(|e| {
                    CliError::Input(format!("the {name} secret in secret storage: {e}"))
                });
            }
        }
    }
    Err(CliError::Input(format!(
        "your key opens secret storage (key {ids}), but no dehydrated-device key is stored under it ({} or {}): this account has no dehydrated device set up by a client that stores its key there; give the key with --pickle-key-file if you have it",
        dehydrated::SECRET_NAMES[0], dehydrated::SECRET_NAMES[1]
    )))
}

/// One event, where it came from, and what happened to it.
struct Seen {
    page: usize,
    index: usize,
    sender: String,
    outcome: Outcome,
    /// What the payload gave: sessions, a bundle, or why not.
    note: String,
}

fn decrypt(a: DecryptArgs, json: bool) -> Result<(), CliError> {
    let mut inputs: Vec<&Path> = vec![&a.device];
    inputs.extend(a.events.iter().map(PathBuf::as_path));
    inputs.extend(a.account_data.as_deref());
    inputs.extend(a.pickle_key_file.as_deref());
    let pending = a.out.create(&inputs)?;

    let device = DehydratedDevice::parse(&read_small_json(&a.device, "dehydrated device")?)
        .map_err(|e| CliError::Input(format!("{}: {e}", a.device.display())))?;
    // Every page is read before the key is asked for: a bad page fails fast.
    let mut pages = Vec::new();
    for p in &a.events {
        let doc = read_small_json(p, "events page")?;
        let (events, _next) =
            dehydrated::page(doc).map_err(|e| CliError::Input(format!("{}: {e}", p.display())))?;
        pages.push(events);
    }
    let key = pickle_key(&a)?;
    let mut dev = device.rehydrate(&key).map_err(|e| {
        CliError::Input(match e {
            DehydratedError::WrongKey => format!(
                "{}: {e}; the key must be the one stored when this device was made (a client that makes a new dehydrated device may store a new key)",
                a.device.display()
            ),
            other => format!("{}: {other}", a.device.display()),
        })
    })?;
    drop(key);

    // Events in page order, each once. An Olm message that needs a session whose pre-key
    // message comes later (pages out of order) is tried again after the others.
    let mut seen_ids = HashSet::new();
    let mut queue: Vec<(usize, usize, Value)> = Vec::new();
    let mut duplicates = 0u64;
    for (pi, events) in pages.into_iter().enumerate() {
        for (ei, ev) in events.into_iter().enumerate() {
            if seen_ids.insert(event_identity(&ev)) {
                queue.push((pi, ei, ev));
            } else {
                duplicates += 1;
            }
        }
    }
    let mut results: Vec<Option<Seen>> = (0..queue.len()).map(|_| None).collect();
    let mut pending_idx: Vec<usize> = (0..queue.len()).collect();
    loop {
        let mut retry = Vec::new();
        let before = pending_idx.len();
        for i in pending_idx {
            let Some((pi, ei, ev)) = queue.get(i) else {
                continue;
            };
            let outcome = dev.decrypt(ev);
            let waits = matches!(&outcome, Outcome::Failed { reason } if reason.starts_with("no Olm session with this sender"));
            if waits {
                retry.push(i);
            }
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(Seen {
                    page: *pi,
                    index: *ei,
                    sender: ev
                        .get("sender")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned(),
                    outcome,
                    note: String::new(),
                });
            }
        }
        if retry.is_empty() || retry.len() == before {
            break;
        }
        pending_idx = retry;
    }

    // Room keys out of what decrypted, in event order; the merge below keeps one copy of each.
    let mut found: Vec<SessionRecord> = Vec::new();
    let mut bundles = 0u64;
    let mut bundle_withheld: Vec<Value> = Vec::new();
    for seen in results.iter_mut().flatten() {
        let Outcome::Decrypted(d) = &seen.outcome else {
            continue;
        };
        seen.note = match dehydrated::room_keys(d) {
            RoomKeys::Sessions(list) => {
                let n = list.len();
                let what = list
                    .first()
                    .map(|s| {
                        format!(
                            "room {}, session {}",
                            s.room_id.as_deref().unwrap_or("?"),
                            s.session_id.as_deref().unwrap_or("?")
                        )
                    })
                    .unwrap_or_default();
                found.extend(list);
                if n == 1 {
                    what
                } else {
                    format!("{n} sessions")
                }
            }
            RoomKeys::Bundle { room_id, file } => {
                bundles += 1;
                let url = file.get("url").and_then(Value::as_str).unwrap_or("");
                let media = url.rsplit('/').next().unwrap_or("");
                match (&a.bundle_dir, media.is_empty()) {
                    (Some(dir), false) => {
                        let path = dir.join(media);
                        let parsed = serde_json::from_value(file.clone())
                            .map_err(|_| CliError::Input("not an EncryptedFile".into()));
                        match parsed.and_then(|f| read_bundle(&path, &f)) {
                            Ok(b) => {
                                let n = b.sessions.len();
                                found.extend(b.sessions);
                                let w = b.withheld.len();
                                bundle_withheld.extend(b.withheld);
                                format!("history bundle of room {room_id}: {n} sessions, {w} withheld")
                            }
                            Err(e) => format!("history bundle of room {room_id} not read: {e}"),
                        }
                    }
                    _ => format!(
                        "history bundle of room {room_id} at {url}: download it into a folder and give --bundle-dir"
                    ),
                }
            }
            RoomKeys::None(Some(why)) => format!("{}: not used: {why}", d.event_type),
            RoomKeys::None(None) => d.event_type.clone(),
        };
    }

    // A session given twice (a room key and a forwarded copy, a bundle, pages that overlap)
    // is written once, as `export merge` chooses: the copy that reaches furthest back. Copies
    // that are not the same ratchet, and invalid sessions, are left out and named.
    let inputs = [found];
    let (sessions, merged) = merge::merge(&inputs);
    for c in &merged.conflicts {
        stderr!(
            "warning: session {}: its copies in these events are different keys; left out",
            c.session_id
        );
    }
    for d in &merged.invalid {
        stderr!(
            "warning: session {} not written: {}",
            d.session_id.as_deref().unwrap_or("?"),
            d.why
        );
    }

    // The per-event report.
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    for s in results.iter().flatten() {
        *counts.entry(s.outcome.kind()).or_insert(0) += 1;
    }
    let total = results.len() as u64;
    let tally = counts
        .iter()
        .map(|(k, n)| format!("{n} {}", k.replace('_', " ")))
        .collect::<Vec<_>>()
        .join(", ");
    // Events that should have given keys and did not: Olm failures, and events encrypted for
    // other keys (the server queues only the device's own: a page of another device's?).
    let unread = counts.get("failed").copied().unwrap_or(0)
        + counts.get("not_for_this_device").copied().unwrap_or(0);
    let refuse = if sessions.is_empty() {
        Some(format!(
            "no room keys in the {total} events ({tally}); nothing was written"
        ))
    } else if unread > 0 && !a.allow_partial {
        Some(format!(
            "{unread} of the {total} events could not be decrypted (listed above); nothing was written. Add --allow-partial to write the {} sessions of the others",
            sessions.len()
        ))
    } else {
        None
    };
    if let Some(why) = refuse {
        report(&results, &a.events, json)?;
        if json {
            print_json(&json!({
                "device_id": dev.device_id,
                "algorithm": device.algorithm,
                "events": total,
                "duplicates": duplicates,
                "by_outcome": counts,
                "sessions": sessions.len(),
                "list": listing(&results, &a.events),
            }))?;
        }
        return Err(CliError::Reported(why));
    }
    let mut out = SessionsOut::start(pending, &a.write, None, a.write.rounds, a.max.max_rounds)?;
    for s in &sessions {
        out.record(s)?;
    }
    let path = out.finish()?;
    report(&results, &a.events, json)?;
    if json {
        let list = listing(&results, &a.events);
        return print_json(&json!({
            "output": path.display().to_string(),
            "device_id": dev.device_id,
            "algorithm": device.algorithm,
            "events": total,
            "duplicates": duplicates,
            "by_outcome": counts,
            "sessions": sessions.len(),
            "bundles": bundles,
            "bundle_withheld": bundle_withheld,
            "list": list,
        }));
    }
    for w in &bundle_withheld {
        report_withheld(w);
    }
    stderr!(
        "{} sessions from {total} events ({}{}) written to {}",
        sessions.len(),
        tally,
        if duplicates > 0 {
            format!("; {duplicates} duplicates skipped")
        } else {
            String::new()
        },
        path.display()
    );
    Ok(())
}

/// The per-event list of `--json`.
fn listing(results: &[Option<Seen>], pages: &[PathBuf]) -> Vec<Value> {
    results
        .iter()
        .flatten()
        .map(|s| {
            let mut v = serde_json::to_value(&s.outcome).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "page".into(),
                    json!(pages.get(s.page).map(|p| p.display().to_string())),
                );
                o.insert("index".into(), json!(s.index));
                o.insert("sender".into(), json!(s.sender));
                if !s.note.is_empty() {
                    o.insert("keys".into(), json!(s.note));
                }
            }
            v
        })
        .collect()
}

/// One line per event on standard output (text mode).
fn report(results: &[Option<Seen>], pages: &[PathBuf], json: bool) -> Result<(), CliError> {
    if json {
        return Ok(());
    }
    use std::io::Write;
    let mut out = super::stdout::out();
    for s in results.iter().flatten() {
        let page = pages
            .get(s.page)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let what = match &s.outcome {
            Outcome::Decrypted(d) => format!(
                "decrypted {}{}",
                if s.note.is_empty() {
                    d.event_type.clone()
                } else {
                    s.note.clone()
                },
                if d.sender_device_keys {
                    " (sender device keys checked)"
                } else {
                    ""
                }
            ),
            Outcome::NotForThisDevice { .. } => {
                "not for this device (encrypted to other keys)".into()
            }
            Outcome::Failed { reason } => format!("Olm failure: {reason}"),
            Outcome::Withheld {
                code,
                reason,
                room_id,
                session_id,
            } => format!(
                "withheld: {code}{} (room {}, session {})",
                reason
                    .as_deref()
                    .map(|r| format!(", {r}"))
                    .unwrap_or_default(),
                room_id.as_deref().unwrap_or("?"),
                session_id.as_deref().unwrap_or("?")
            ),
            Outcome::Other { event_type } => format!("not encrypted ({event_type}): skipped"),
        };
        writeln!(out, "{page} #{}: from {}: {what}", s.index, s.sender)?;
    }
    Ok(())
}
