//! `mxkeys events ...`: decrypt room history offline and explain every event that cannot be.

use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher;
use std::io::{self, Seek, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use rayon::prelude::*;
use serde_json::{json, Value};

use mxkeys::events::{
    decrypted_event, for_each_event, Decryptor, EventsError, KeyStore, Outcome, OutcomeKind,
    SessionOf, MAX_EVENT_BYTES,
};

use super::common::{output_arg, MaxRounds, OptionalOutputArgs, PassphraseArgs};
use super::inputs::{open_sessions, Keyring};
use super::io::{duplicate, open_input_file, print_json, read_small_json};
use super::spill::{Combine, Spill};
use super::{output, CliError};
use mxkeys::explain::{Context, Reason};

mod join;
use join::Joined;

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
writes).

Memory: EVENTS is read a few thousand events at a time, whatever its size (standard input or a
pipe is first copied to an unnamed temporary file); an event of more than 1 MiB is refused.
When KEYS is larger than 16 MiB, a first pass over EVENTS finds the sessions they use and only
their keys are kept, about 1.2 KB each. Past 32 MB of them (about 27,000 sessions), the keys are
instead sorted with the events on disk (sealed under a key drawn for the run) and read back a
batch of events at a time: memory stays bounded whatever the number of sessions.";

const DECRYPT_AFTER: &str = "\
Output: the events as a JSON array, each decrypted one with its plaintext type and content and the
event_id, sender, room_id and origin_server_ts of the envelope; events never encrypted (state
events, plain messages) unchanged; the others unchanged too, with
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
  0    every event decrypted (or never encrypted)
  1    some events could not be decrypted (the output is still written; `events diagnose` explains
       each), wrong passphrase for KEYS, EVENTS or KEYS malformed
  2    usage: bad arguments, no passphrase for an export, OUT exists (add --force)
  130  stopped with Ctrl-C; OUT is not created";

const DIAGNOSE_AFTER: &str = "\
Output: one line per event that cannot be decrypted, and why (no key for the session; key only
from a later index; wrong room; sender key mismatch; MAC or signature failure; not megolm;
malformed), for the first 20 of them (--json lists every one), then counts per reason and the
sessions to look for in other exports or backups, from which message index (the first 20 by
session id; --json lists every one). Events never encrypted (state events, plain messages) count
as readable (reason not_encrypted). Nothing is decrypted to disk.

Why a session is unknown, when other data says: --to-device DUMP (to-device events as a client
shows them, or a /sync response) gives the withheld notices (m.unverified, m.blacklisted,
m.unauthorised, m.unavailable, m.no_olm) and the history bundles received; --keys-query KQ.json (a
POST /keys/query response) names sending devices not cross-signed by their user (MSC4153; readable
events from them are counted too); --user @you:server with the room's state events among EVENTS
finds history from before your join in rooms that share it, with no bundle received (MSC4268).

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
    /// diagnose: to-device events (withheld keys).
    #[arg(long, value_name = "DUMP", num_args = 1..)]
    to_device: Vec<PathBuf>,
    /// diagnose: a /keys/query response.
    #[arg(long, value_name = "KQ.json")]
    keys_query: Option<PathBuf>,
    /// diagnose: your user id (for your joins).
    #[arg(long, value_name = "USER")]
    user: Option<String>,
}

/// The context `events diagnose` explains unknown sessions with, from --to-device,
/// --keys-query and --user (and the state events among the events).
fn context(a: &EventArgs, diagnose: bool) -> Result<Option<Context>, CliError> {
    if a.to_device.is_empty() && a.keys_query.is_none() && a.user.is_none() {
        return Ok(None);
    }
    if !diagnose {
        return Err(CliError::Usage(
            "--to-device, --keys-query and --user are for `events diagnose`".into(),
        ));
    }
    let mut ctx = Context::new();
    if let Some(u) = &a.user {
        ctx.set_user(u);
    }
    for p in &a.to_device {
        let doc = read_small_json(p, "to-device dump")?;
        ctx.add_to_device(&doc)
            .map_err(|e| CliError::Input(format!("{}: {e}", p.display())))?;
    }
    if let Some(p) = &a.keys_query {
        let doc = read_small_json(p, "keys query")?;
        ctx.add_keys_query(&doc, a.user.as_deref().unwrap_or(""));
    }
    Ok(Some(ctx))
}

pub fn run(cmd: EventsCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        EventsCmd::Decrypt(a) => go(a, json, false),
        EventsCmd::Diagnose(a) => go(a, json, true),
    }
}

/// Events decrypted in one parallel batch, at most, and the JSON text of one batch, at most.
const BATCH_EVENTS: usize = 4096;
const BATCH_BYTES: usize = 4 << 20;
/// Undecryptable events listed by `diagnose` without --json; the rest are counted.
const LISTED: u64 = 20;
/// Keys files up to this size are loaded whole (about 25k sessions, 8 MB in memory); past it
/// only the keys of the sessions the events use.
const KEYS_ALL: u64 = 16 << 20;
/// Memory the keys of the events' sessions may take (about [`KEY_COST`] bytes each held) before
/// they are joined with the events on disk instead ([`join`]): about 27,000 sessions.
const KEYS_BUDGET: usize = 32 << 20;
/// What one session held in a [`KeyStore`] takes, about (measured: 1.26 GB for a million).
const KEY_COST: usize = 1200;
/// For tests: `MXKEYS_EVENTS_KEYS_BUDGET=BYTES` replaces [`KEYS_BUDGET`] (0: the keys are always
/// joined on disk) and has a keys file of any size read as a large one, so that a small input
/// takes the path a large one does.
const BUDGET_VAR: &str = "MXKEYS_EVENTS_KEYS_BUDGET";
/// Rejected keys warned about one by one; the rest are counted.
const WARNED: usize = 20;

/// Writes a pretty-printed JSON array one element at a time, byte for byte as
/// `serde_json::to_writer_pretty` writes the whole array at `depth` (0: the document itself).
struct ListWriter {
    indent: String,
    first: bool,
}

impl ListWriter {
    fn new(depth: usize) -> Self {
        ListWriter {
            indent: "  ".repeat(depth + 1),
            first: true,
        }
    }

    /// One element, rendered (it holds no newline that is not serde_json's own: JSON strings
    /// escape theirs).
    fn render(&self, v: &Value) -> Vec<u8> {
        let text = serde_json::to_string_pretty(v).unwrap_or_default();
        let mut out = Vec::with_capacity(text.len() + text.len() / 8 + 8);
        out.extend_from_slice(self.indent.as_bytes());
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                out.push(b'\n');
                out.extend_from_slice(self.indent.as_bytes());
            }
            out.extend_from_slice(line.as_bytes());
        }
        out
    }

    fn write(&mut self, out: &mut impl Write, rendered: &[u8]) -> io::Result<()> {
        out.write_all(if self.first { b"[\n" } else { b",\n" })?;
        self.first = false;
        out.write_all(rendered)
    }

    fn finish(self, out: &mut impl Write) -> io::Result<()> {
        if self.first {
            return out.write_all(b"[]");
        }
        out.write_all(b"\n")?;
        out.write_all(self.indent.get(2..).unwrap_or_default().as_bytes())?;
        out.write_all(b"]")
    }
}

/// A session to look for: the room of the first event that needs it, and the lowest message
/// index any event needs.
struct Wanted {
    room: Option<String>,
    index: u32,
}

impl Combine for Wanted {
    fn combine(&mut self, later: Self) {
        self.index = self.index.min(later.index);
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.index.to_le_bytes());
        if let Some(r) = &self.room {
            out.push(1);
            out.extend_from_slice(r.as_bytes());
        }
    }
    fn decode(b: &[u8]) -> Option<Self> {
        Some(Wanted {
            index: u32::from_le_bytes(b.get(..4)?.try_into().ok()?),
            room: match b.get(4..)?.split_first() {
                None => None,
                Some((1, r)) => Some(String::from_utf8(r.to_vec()).ok()?),
                Some(_) => return None,
            },
        })
    }
    fn heap_size(&self) -> usize {
        self.room.as_ref().map_or(0, String::len)
    }
}

/// Memory the list of sessions to look for keeps before it goes to a temporary file.
const WANTED_BUDGET: usize = 16 << 20;

/// What a run counted, for the summaries.
struct Tally {
    total: u64,
    readable: u64,
    by_reason: BTreeMap<&'static str, u64>,
    /// Sessions to look for, by session id (a million unknown sessions fit in bounded memory).
    wanted: Spill<Wanted>,
    /// Undecryptable events listed on the terminal so far.
    listed: u64,
    /// Unknown sessions the context explains, by reason.
    context: BTreeMap<&'static str, u64>,
    /// Readable events whose sending device is not cross-signed (MSC4153).
    unsigned_readable: u64,
    /// Whether a context was given (its counts are then part of the summary).
    with_context: bool,
}

impl Tally {
    fn new() -> Self {
        Tally {
            total: 0,
            readable: 0,
            by_reason: BTreeMap::new(),
            wanted: Spill::new(WANTED_BUDGET),
            listed: 0,
            context: BTreeMap::new(),
            unsigned_readable: 0,
            with_context: false,
        }
    }

    fn add(&mut self, ev: &Value, o: &Outcome) -> Result<(), CliError> {
        self.total += 1;
        *self.by_reason.entry(o.kind().as_str()).or_insert(0) += 1;
        if o.is_readable() {
            self.readable += 1;
        }
        if let Outcome::UnknownSession {
            session_id,
            message_index,
        }
        | Outcome::TooLate {
            session_id,
            message_index,
            ..
        } = o
        {
            let room = ev.get("room_id").and_then(Value::as_str).map(str::to_owned);
            self.wanted
                .push(
                    session_id.as_bytes().to_vec(),
                    Wanted {
                        room,
                        index: *message_index,
                    },
                )
                .map_err(wanted_error)?;
        }
        Ok(())
    }
}

fn wanted_error(e: io::Error) -> CliError {
    CliError::Input(format!(
        "cannot use a temporary file for the list of sessions to look for: {e}; free space in the temporary directory (TMPDIR)"
    ))
}

/// Where the results of each batch go.
enum Output {
    /// `events decrypt`: the events, to -o or standard output.
    Events {
        list: ListWriter,
        out: io::BufWriter<Dest>,
    },
    /// `events diagnose`: a line per undecryptable event (the first [`LISTED`]).
    Lines,
    /// `events diagnose --json`: the undecryptable events, spilled to an unnamed temporary file
    /// until the counts that come before them in the document are known.
    Json {
        list: ListWriter,
        spill: io::BufWriter<std::fs::File>,
    },
}

/// Where the decrypted events go: the -o file (committed at the end) or standard output.
enum Dest {
    File(output::PendingOutput),
    Stdout(super::stdout::Out),
}

impl Write for Dest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Dest::File(f) => f.write(buf),
            Dest::Stdout(o) => o.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Dest::File(f) => f.write_all(buf),
            Dest::Stdout(o) => o.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Dest::File(f) => f.flush(),
            Dest::Stdout(o) => o.flush(),
        }
    }
}

fn go(a: EventArgs, json: bool, diagnose: bool) -> Result<(), CliError> {
    let pending = match (&a.out.output, diagnose) {
        (Some(out), false) => Some(output::create(out, a.out.force, &[&a.events, &a.keys])?),
        (Some(_), true) => return Err(CliError::Usage("-o is for `events decrypt`".into())),
        _ => None,
    };
    let bad_events = |e: EventsError| CliError::Input(format!("{}: {e}", a.events.display()));
    let budget = std::env::var(BUDGET_VAR)
        .ok()
        .and_then(|v| v.parse::<usize>().ok());
    // A keys file of more than KEYS_ALL bytes: a first pass over the events finds the sessions
    // they use, and only their keys are kept. The events are then read twice (a pipe or
    // standard input is copied to an unnamed temporary file first).
    let small_keys = budget.is_none()
        && a.keys != std::path::Path::new("-")
        && std::fs::metadata(&a.keys).is_ok_and(|m| m.is_file() && m.len() <= KEYS_ALL);
    let max_sessions = budget.unwrap_or(KEYS_BUDGET) / KEY_COST;
    let mut ctx = context(&a, diagnose)?;
    let mut events_file = open_input_file(&a.events)?;
    // Joins and history visibility come from the state events among the events: one more pass.
    if let (Some(c), Some(_)) = (ctx.as_mut(), &a.user) {
        for_each_event(duplicate(&events_file)?, MAX_EVENT_BYTES, |ev: Value| {
            c.add_timeline_event(&ev);
            ControlFlow::Continue(())
        })
        .map_err(bad_events)?;
    }
    let ctx = ctx;
    // The sessions the events use, as 64-bit fingerprints (8 bytes each, not the ids): two ids
    // with the same fingerprint only make an unneeded key stay in memory. Past max_sessions
    // their keys would take more memory than the budget: they are joined on disk instead.
    let fingerprint = std::collections::hash_map::RandomState::new();
    let mut too_many = false;
    let used: Option<HashSet<u64>> = if small_keys {
        None
    } else {
        let mut used = HashSet::new();
        for_each_event(&mut events_file, MAX_EVENT_BYTES, |SessionOf(sid)| {
            if let Some(sid) = sid {
                used.insert(fingerprint.hash_one(&sid));
                if used.len() > max_sessions {
                    too_many = true;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })
        .map_err(bad_events)?;
        Some(used)
    };

    let files: Vec<PathBuf> = a.pass.passphrase_file.iter().cloned().collect();
    let mut ring = Keyring::new(&files, a.max.max_rounds);
    // Either every key the events use, in memory, or (too many of them) the join on disk, read
    // a batch at a time; `all` is then empty.
    let mut all = KeyStore::default();
    let mut joined = None;
    if too_many {
        drop(used);
        joined = Some(Joined::build(
            duplicate(&events_file)?,
            &a.keys,
            &mut ring,
            &bad_events,
        )?);
    } else {
        open_sessions(&a.keys, &mut ring)?.for_each_session(&a.keys, |s| {
            let wanted = match (&used, &s.session_id) {
                (Some(used), Some(sid)) => used.contains(&fingerprint.hash_one(sid)),
                _ => true,
            };
            if wanted {
                all.insert(&s);
            }
            Ok(())
        })?;
        drop(used);
    }
    // The same open file again, from its start.
    let second = duplicate(&events_file)?;
    drop(events_file);
    let rejected = joined.as_ref().map_or(&all, |j| &j.rejected);
    for (id, why) in rejected.rejected.iter().take(WARNED) {
        stderr!("warning: key for session {id} not used: {why}");
    }
    if let Some(more) = rejected
        .rejected_count()
        .checked_sub(WARNED as u64)
        .filter(|n| *n > 0)
    {
        stderr!("warning: {more} more keys of the sessions in the events not used");
    }

    // Output that depends on the second pass over the events reaches standard output only when
    // that pass is complete.
    super::stdout::hold()?;
    let mut sink = match (diagnose, json) {
        (false, _) => Output::Events {
            list: ListWriter::new(0),
            out: io::BufWriter::with_capacity(
                256 * 1024,
                match pending {
                    Some(p) => Dest::File(p),
                    None => Dest::Stdout(super::stdout::out()),
                },
            ),
        },
        (true, false) => Output::Lines,
        (true, true) => Output::Json {
            list: ListWriter::new(1),
            spill: io::BufWriter::new(tempfile::tempfile().map_err(|e| {
                CliError::Input(format!(
                    "cannot make a temporary file for the list of undecryptable events: {e}; free space in the temporary directory (TMPDIR)"
                ))
            })?),
        },
    };
    let mut tally = Tally::new();
    tally.with_context = ctx.is_some();
    // With the join, each batch has its own store; the ratchets kept between batches stay with
    // the decryptor, parked on the empty `all` in between.
    let mut decryptor = Decryptor::new(&all);
    let mut batch: Vec<Value> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut failed: Option<CliError> = None;
    let mut step = |batch: &mut Vec<Value>, tally: &mut Tally| -> Result<(), CliError> {
        match &mut joined {
            None => {
                let outcomes = decryptor.decrypt(batch);
                write_batch(&mut sink, &all, batch, &outcomes, tally, ctx.as_ref())?;
            }
            Some(j) => {
                let store = j.batch(batch.len())?;
                let mut d = std::mem::replace(&mut decryptor, Decryptor::new(&all)).rebind(&store);
                let outcomes = d.decrypt(batch);
                decryptor = d.rebind(&all);
                write_batch(&mut sink, &store, batch, &outcomes, tally, ctx.as_ref())?;
            }
        }
        batch.clear();
        Ok(())
    };
    let read = for_each_event(second, MAX_EVENT_BYTES, |ev: Value| {
        batch_bytes += approx_size(&ev);
        batch.push(ev);
        if batch.len() >= BATCH_EVENTS || batch_bytes >= BATCH_BYTES {
            batch_bytes = 0;
            if let Err(e) = step(&mut batch, &mut tally) {
                failed = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    if let Some(e) = failed {
        return Err(e);
    }
    read.map_err(bad_events)?;
    step(&mut batch, &mut tally)?;
    let (readable, total) = (tally.readable, tally.total);
    finish(sink, tally, json)?;
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

/// About how many bytes `v` takes in memory (its strings, and a few words per value), to bound a
/// batch of large events. Values are nested at most 128 deep (the reader's limit).
fn approx_size(v: &Value) -> usize {
    32 + match v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(approx_size).sum(),
        Value::Object(o) => o.iter().map(|(k, v)| k.len() + approx_size(v)).sum(),
        Value::Number(n) => n.as_str().len(),
        _ => 0,
    }
}

fn write_batch(
    sink: &mut Output,
    store: &KeyStore,
    events: &[Value],
    outcomes: &[Outcome],
    tally: &mut Tally,
    ctx: Option<&Context>,
) -> Result<(), CliError> {
    // What the context adds: a reason for an unknown session, or a warning on a readable event.
    let reason = |tally: &mut Tally, ev: &Value, o: &Outcome| -> Option<Reason> {
        let c = ctx?;
        if c.warn(ev, o).is_some() {
            tally.unsigned_readable += 1;
            return None;
        }
        let r = c.explain(ev, o)?;
        *tally.context.entry(r.code()).or_insert(0) += 1;
        Some(r)
    };
    match sink {
        Output::Events { list, out } => {
            let rendered: Vec<Vec<u8>> = events
                .par_iter()
                .zip(outcomes)
                .map(|(ev, o)| list.render(&decrypted_or_kept(store, ev, o)))
                .collect();
            for ((ev, o), r) in events.iter().zip(outcomes).zip(rendered) {
                tally.add(ev, o)?;
                list.write(out, &r)?;
            }
        }
        Output::Lines => {
            let mut out = super::stdout::out();
            for (ev, o) in events.iter().zip(outcomes) {
                let why = reason(tally, ev, o);
                tally.add(ev, o)?;
                if !o.is_readable() {
                    tally.listed += 1;
                    if tally.listed <= LISTED {
                        writeln!(
                            out,
                            "{}: {}",
                            ev.get("event_id")
                                .and_then(Value::as_str)
                                .unwrap_or("(no event_id)"),
                            why.map_or_else(|| o.explain(), |r| r.explain())
                        )?;
                    }
                }
            }
        }
        Output::Json { list, spill } => {
            for (ev, o) in events.iter().zip(outcomes) {
                let why = reason(tally, ev, o);
                tally.add(ev, o)?;
                if !o.is_readable() {
                    let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
                    if let Some(obj) = v.as_object_mut() {
                        obj.insert(
                            "event_id".into(),
                            ev.get("event_id").cloned().unwrap_or(Value::Null),
                        );
                        obj.insert("why".into(), Value::String(o.explain()));
                        if let Some(r) = why {
                            let mut c = serde_json::to_value(&r).unwrap_or(Value::Null);
                            if let Some(m) = c.as_object_mut() {
                                m.insert("why".into(), Value::String(r.explain()));
                            }
                            obj.insert("context".into(), c);
                        }
                    }
                    let r = list.render(&v);
                    list.write(spill, &r).map_err(spill_error)?;
                }
            }
        }
    }
    Ok(())
}

fn spill_error(e: io::Error) -> CliError {
    CliError::Input(format!(
        "cannot write the list of undecryptable events to a temporary file: {e}; free space in the temporary directory (TMPDIR)"
    ))
}

/// The decrypted event, or the event as it was with `mxkeys_error`.
fn decrypted_or_kept(store: &KeyStore, ev: &Value, o: &Outcome) -> Value {
    match o {
        Outcome::Ok { plaintext, .. } => decrypted_event(store, ev, plaintext),
        Outcome::NotEncrypted { .. } => ev.clone(),
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
    }
}

fn look_for(sid: &str, room: &Option<String>, idx: u32) -> Value {
    json!({"session_id": sid, "room_id": room, "needed_from_index": idx})
}

/// The end of the output: the array closed and -o committed, or the summaries.
fn finish(sink: Output, tally: Tally, json: bool) -> Result<(), CliError> {
    let (readable, total) = (tally.readable, tally.total);
    match sink {
        Output::Events { list, mut out } => {
            list.finish(&mut out)?;
            out.write_all(b"\n")?;
            let dest = out.into_inner().map_err(|e| e.into_error())?;
            if let Dest::File(p) = dest {
                let path = p.commit()?;
                if json {
                    print_json(
                        &json!({"output": path.display().to_string(), "events": total, "readable": readable, "by_reason": tally.by_reason}),
                    )?;
                }
            }
            if !json && readable == total {
                stderr!("decrypted all {total} events");
            }
        }
        Output::Lines => {
            let mut out = super::stdout::out();
            if tally.listed > LISTED {
                writeln!(
                    out,
                    "... and {} more undecryptable events (--json lists every one)",
                    tally.listed - LISTED
                )?;
            }
            match tally.by_reason.get(OutcomeKind::NotEncrypted.as_str()) {
                Some(plain) => writeln!(
                    out,
                    "{readable} of {total} events readable ({plain} of them never encrypted)"
                )?,
                None => writeln!(out, "{readable} of {total} events readable")?,
            }
            let readable_kinds = [OutcomeKind::Ok.as_str(), OutcomeKind::NotEncrypted.as_str()];
            for (k, n) in tally
                .by_reason
                .iter()
                .filter(|(k, _)| !readable_kinds.contains(k))
            {
                writeln!(out, "  {n} {k}")?;
            }
            for (k, n) in &tally.context {
                writeln!(out, "    of which {n} {k}")?;
            }
            if tally.unsigned_readable > 0 {
                writeln!(
                    out,
                    "{} readable events come from devices not cross-signed by their user: clients that exclude insecure devices (MSC4153) would not show them",
                    tally.unsigned_readable
                )?;
            }
            if !tally.wanted.is_empty() {
                writeln!(out, "sessions to look for in other exports or backups:")?;
                let mut shown = 0u64;
                for entry in tally.wanted.into_sorted().map_err(wanted_error)? {
                    let (sid, w) = entry.map_err(wanted_error)?;
                    shown += 1;
                    if shown <= LISTED {
                        writeln!(
                            out,
                            "  {} (room {}) from message index {}",
                            String::from_utf8_lossy(&sid),
                            w.room.as_deref().unwrap_or("?"),
                            w.index
                        )?;
                    }
                }
                if shown > LISTED {
                    writeln!(
                        out,
                        "  ... and {} more sessions (--json lists every one)",
                        shown - LISTED
                    )?;
                }
            }
        }
        Output::Json { list, mut spill } => {
            list.finish(&mut spill).map_err(spill_error)?;
            let mut file = spill
                .into_inner()
                .map_err(|e| spill_error(e.into_error()))?;
            file.seek(io::SeekFrom::Start(0)).map_err(spill_error)?;
            let head = serde_json::to_string_pretty(
                &if tally.with_context {
                    json!({"events": total, "readable": readable, "by_reason": tally.by_reason, "context": tally.context, "readable_from_devices_not_cross_signed": tally.unsigned_readable})
                } else {
                    json!({"events": total, "readable": readable, "by_reason": tally.by_reason})
                },
            )
            .map_err(io::Error::from)?;
            let mut out = io::BufWriter::new(super::stdout::out());
            // The head without its closing brace, then the two lists.
            out.write_all(head.trim_end_matches('}').trim_end().as_bytes())?;
            out.write_all(b",\n  \"undecryptable\": ")?;
            io::copy(&mut file, &mut out).map_err(spill_error)?;
            out.write_all(b",\n  \"sessions_to_look_for\": ")?;
            let mut looks = ListWriter::new(1);
            for entry in tally.wanted.into_sorted().map_err(wanted_error)? {
                let (sid, w) = entry.map_err(wanted_error)?;
                let r = looks.render(&look_for(&String::from_utf8_lossy(&sid), &w.room, w.index));
                looks.write(&mut out, &r)?;
            }
            looks.finish(&mut out)?;
            out.write_all(b"\n}\n")?;
            out.flush()?;
        }
    }
    Ok(())
}
