//! `mxkeys events ...`: decrypt room history offline and explain every event that cannot be.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use mxkeys::events::{decrypt_events, decrypted_event, parse_events, KeyStore, Outcome};

use super::common::{output_arg, MaxRounds, OptionalOutputArgs, PassphraseArgs};
use super::inputs::read_sessions;
use super::io::{open_once, print_json};
use super::{output, CliError};

const INPUTS: &str = "\
EVENTS is a JSON array of events, a /messages response ({\"chunk\": [...]}), or one event per
line (JSON Lines); - reads standard input. Each m.room.encrypted event looks like
  {\"type\": \"m.room.encrypted\", \"event_id\": \"$...\", \"room_id\": \"!room:example.org\",
   \"sender\": \"@a:example.org\", \"origin_server_ts\": 1700000000000,
   \"content\": {\"algorithm\": \"m.megolm.v1.aes-sha2\", \"session_id\": \"...\", \"ciphertext\": \"...\", ...}}
Fetch a room's history with an access token ($TOKEN) and your homeserver's URL ($HS):
  curl -H \"Authorization: Bearer $TOKEN\" \\
       \"$HS/_matrix/client/v3/rooms/$ROOM/messages?dir=b&limit=1000\" > events.json
KEYS is an export file (its passphrase from --passphrase-file, else MXKEYS_PASSPHRASE, else a
prompt), or a JSON array of sessions (what `mxkeys export decrypt` or `mxkeys backup decrypt`
writes).";

const DECRYPT_AFTER: &str = "\
Output: the events as a JSON array, each decrypted one with its plaintext type and content and the
event_id, sender, room_id and origin_server_ts of the envelope; the others unchanged, with
\"mxkeys_error\": {\"reason\": ..., \"why\": ...}.

The room is checked: the room_id inside the decrypted event must be the session's room (from KEYS)
and the envelope's (when it has one; /sync events have none), else the event is kept encrypted as
room_mismatch (replayed or forwarded from another room). The sender is NOT verified: \"sender\" is
what the server claims. Each decrypted event carries
  \"mxkeys_sender\": {\"verified\": false, \"sender_key\": \"<curve25519 key>\", \"why\": ...}
where sender_key is the device that created the session (from KEYS). Only the sender's signed
device list can show that this device belongs to the sender (a /keys/query response lists it as
curve25519:DEVICEID under device_keys.SENDER), and mxkeys works offline.

Examples:
  mxkeys events decrypt events.json --keys element-keys.txt -o decrypted.json
  mxkeys events decrypt events.json --keys keys.json | jq -r '.[].content.body'

Exit codes:
  0    every event decrypted
  1    some events could not be decrypted (the output is still written; `events diagnose` explains
       each), wrong passphrase for KEYS, EVENTS or KEYS malformed
  2    usage: bad arguments, no passphrase for an export, OUT exists (add --force)
  130  stopped with Ctrl-C; OUT is not created";

const DIAGNOSE_AFTER: &str = "\
Output: one line per event that cannot be decrypted, and why (no key for the session; key only
from a later index; wrong room; sender key mismatch; MAC or signature failure; not megolm;
malformed), then counts per reason and the sessions to look for in other exports or backups, from
which message index. Nothing is decrypted to disk.

Examples:
  mxkeys events diagnose events.json --keys element-keys.txt
  mxkeys events diagnose events.json --keys keys.json --json | jq .sessions_to_look_for

Exit codes:
  0  every event can be decrypted
  1  some cannot (each is explained), wrong passphrase for KEYS, EVENTS or KEYS malformed
  2  usage: bad arguments (-o is for `events decrypt`), no passphrase for an export";

#[derive(Debug, Subcommand)]
pub enum EventsCmd {
    /// Decrypt m.room.encrypted events, keeping failures with a reason.
    #[command(after_help = format!("{INPUTS}\n\n{DECRYPT_AFTER}"))]
    Decrypt(EventArgs),
    /// Say why events cannot be decrypted and which sessions are missing.
    #[command(after_help = format!("{INPUTS}\n\n{DIAGNOSE_AFTER}"))]
    Diagnose(EventArgs),
}

#[derive(Debug, Args)]
#[command(mut_args(output_arg(|a| a.help("Write the events here, mode 0600 (decrypt only)"))))]
pub struct EventArgs {
    /// The events (- for standard input).
    events: PathBuf,
    /// Keys: an export or a JSON array of sessions.
    #[arg(long, value_name = "KEYS")]
    keys: PathBuf,
    #[command(flatten)]
    out: OptionalOutputArgs,
    #[command(flatten)]
    pass: PassphraseArgs,
    #[command(flatten)]
    max: MaxRounds,
}

pub fn run(cmd: EventsCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        EventsCmd::Decrypt(a) => go(a, json, false),
        EventsCmd::Diagnose(a) => go(a, json, true),
    }
}

fn go(a: EventArgs, json: bool, diagnose: bool) -> Result<(), CliError> {
    let mut pending = match (&a.out.output, diagnose) {
        (Some(out), false) => Some(output::create(out, a.out.force, &[&a.events, &a.keys])?),
        (Some(_), true) => return Err(CliError::Usage("-o is for `events decrypt`".into())),
        _ => None,
    };
    let mut raw = Vec::new();
    io::Read::read_to_end(
        &mut open_once(&a.events, "the events file")?.reader,
        &mut raw,
    )?;
    let events =
        parse_events(&raw).map_err(|e| CliError::Input(format!("{}: {e}", a.events.display())))?;
    let sessions = read_sessions(&a.keys, &a.pass, &a.max)?;
    let store = KeyStore::from_sessions(&sessions);
    for (id, why) in &store.rejected {
        stderr!("warning: key for session {id} not used: {why}");
    }
    let outcomes = decrypt_events(&store, &events);
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut wanted: BTreeMap<String, (Option<String>, u32)> = BTreeMap::new();
    for (ev, o) in events.iter().zip(&outcomes) {
        *counts.entry(o.kind().as_str()).or_insert(0) += 1;
        match o {
            Outcome::UnknownSession {
                session_id,
                message_index,
            }
            | Outcome::TooLate {
                session_id,
                message_index,
                ..
            } => {
                let room = ev.get("room_id").and_then(Value::as_str).map(str::to_owned);
                let e = wanted
                    .entry(session_id.clone())
                    .or_insert((room, *message_index));
                e.1 = e.1.min(*message_index);
            }
            _ => {}
        }
    }
    let readable = counts.get("ok").copied().unwrap_or(0);
    let total = events.len() as u64;
    if diagnose {
        let per_event: Vec<Value> = events
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| o.kind() != mxkeys::events::OutcomeKind::Ok)
            .map(|(ev, o)| {
                let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
                if let Some(obj) = v.as_object_mut() {
                    obj.insert(
                        "event_id".into(),
                        ev.get("event_id").cloned().unwrap_or(Value::Null),
                    );
                    obj.insert("why".into(), Value::String(o.explain()));
                }
                v
            })
            .collect();
        let look_for: Vec<Value> = wanted
            .iter()
            .map(|(sid, (room, idx))| json!({"session_id": sid, "room_id": room, "needed_from_index": idx}))
            .collect();
        if json {
            print_json(
                &json!({"events": total, "readable": readable, "by_reason": counts, "undecryptable": per_event, "sessions_to_look_for": look_for}),
            )?;
        } else {
            let mut out = super::stdout::out();
            for (ev, o) in events
                .iter()
                .zip(&outcomes)
                .filter(|(_, o)| o.kind() != mxkeys::events::OutcomeKind::Ok)
            {
                writeln!(
                    out,
                    "{}: {}",
                    ev.get("event_id")
                        .and_then(Value::as_str)
                        .unwrap_or("(no event_id)"),
                    o.explain()
                )?;
            }
            writeln!(out, "{readable} of {total} events readable")?;
            for (k, n) in counts.iter().filter(|(k, _)| **k != "ok") {
                writeln!(out, "  {n} {k}")?;
            }
            if !look_for.is_empty() {
                writeln!(out, "sessions to look for in other exports or backups:")?;
                for (sid, (room, idx)) in &wanted {
                    writeln!(
                        out,
                        "  {sid} (room {}) from message index {idx}",
                        room.as_deref().unwrap_or("?")
                    )?;
                }
            }
        }
    } else {
        let out_events: Vec<Value> = events
            .iter()
            .zip(&outcomes)
            .map(|(ev, o)| match o {
                Outcome::Ok { plaintext, .. } => decrypted_event(&store, ev, plaintext),
                other => {
                    let mut kept = ev.clone();
                    if let Some(obj) = kept.as_object_mut() {
                        obj.insert(
                            "mxkeys_error".into(),
                            json!({"reason": other.kind(), "why": other.explain()}),
                        );
                    }
                    kept
                }
            })
            .collect();
        match pending.take() {
            Some(mut p) => {
                serde_json::to_writer_pretty(&mut p, &out_events).map_err(io::Error::from)?;
                p.write_all(b"\n")?;
                let path = p.commit()?;
                if json {
                    print_json(
                        &json!({"output": path.display().to_string(), "events": total, "readable": readable, "by_reason": counts}),
                    )?;
                }
            }
            None => {
                let mut out = io::BufWriter::new(super::stdout::out());
                serde_json::to_writer_pretty(&mut out, &out_events).map_err(io::Error::from)?;
                out.write_all(b"\n")?;
                out.flush()?;
            }
        }
        if !json && readable == total {
            stderr!("decrypted all {total} events");
        }
    }
    if readable < total {
        return Err(CliError::Reported(format!(
            "{} of {total} events could not be decrypted{}",
            total - readable,
            if diagnose {
                " (explained above)"
            } else {
                " (kept encrypted, with mxkeys_error; `mxkeys events diagnose` explains each)"
            }
        )));
    }
    Ok(())
}
