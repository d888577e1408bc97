//! `mxkeys export validate|merge|normalize|filter|list`: look inside, clean up and combine exports.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use rayon::prelude::*;
use serde_json::{json, Value};

use mxkeys::export;
use mxkeys::kdf::Rounds;
use mxkeys::merge::{self, Duplicates};
use mxkeys::session::{self, RawBatch, Report, SessionRecord, EVERY_READER, SHARED_HISTORY};
use mxkeys::Passphrase;

use super::common::{
    export_writer, new_passphrase, output_arg, MaxRounds, OptionalOutputArgs, OutputArgs,
};
use super::inputs::{open_reusable, open_sessions, Keyring};
use super::io::{open_input, print_json, warn};
use super::output::PendingOutput;
use super::spill::{self, Combine, Spill};
use super::{output, CliError};

/// `export validate --help`, after the options.
pub const VALIDATE_AFTER: &str = "\
FILE is an export file (its passphrase from --passphrase-file, else MXKEYS_PASSPHRASE, else a
prompt) or a JSON array of sessions as `export decrypt` or `backup decrypt` write it; - reads
standard input. Each session is checked: required fields and their types, the algorithm, base64,
the session key's version, length and (0x02 keys) Ed25519 signature, that session_id is the key's,
sender keys; duplicates and empty sender_claimed_keys are warnings. One line per problem, e.g.
  invalid #2 !room:example.org SESSION_ID: bad_key: session_key is 162 bytes, expected 165 ...

Examples:
  mxkeys export validate element-keys.txt
  mxkeys export validate keys.json --json | jq .invalid

Exit codes:
  0  no session is invalid (warnings allowed)
  1  at least one session is invalid (each is listed), or FILE cannot be opened: wrong
     passphrase, neither an export nor a JSON array of sessions
  2  usage: bad arguments, an export and no passphrase available";

/// `export merge --help`, after the options.
pub const MERGE_AFTER: &str = "\
INPUT... are export files and/or JSON arrays of sessions (what `export decrypt` and `backup
decrypt` write), in any mix. Each export tries the passphrases already given, then the next
--passphrase-file (give one per export, in input order), then MXKEYS_PASSPHRASE, then a prompt.
The merged export gets a new passphrase: --new-passphrase-file, else MXKEYS_NEW_PASSPHRASE, else a
prompt (asked twice); with --plaintext OUT is a JSON array instead.

Per session the copy that decrypts the most history is kept (lowest first index), then the shortest
forwarding chain, then a trusted one; fields are never mixed across copies. Copies whose ratchets
do not match are a conflict: listed, and nothing is written unless --keep-conflicts (then every
valid copy of them is written). Invalid sessions are dropped: the first 20 are listed, then a count
per reason.

OUT holds the kept copies as their inputs wrote them (in compact JSON), in input order (INPUT
1's, then INPUT 2's, ...). Memory does not grow with the inputs but for about 100 bytes per session: each
input is read two or three times (an export's key is derived once), the winners copied as read.

Examples:
  mxkeys export merge laptop-keys.txt phone-keys.txt -o all-keys.txt
  mxkeys export merge laptop-keys.txt backup-keys.json -o all.json --plaintext \\
      --passphrase-file pass.txt

Exit codes:
  0    written
  1    conflicting copies (without --keep-conflicts), no valid session in the inputs (nothing is
       written), an input that no passphrase opens, an input that is neither an export nor a JSON
       array of sessions (the error names it)
  2    usage: bad arguments, no passphrase available, OUT exists (add --force) or is an input
  130  stopped with Ctrl-C; OUT is not created";

/// `export normalize --help`, after the options.
pub const NORMALIZE_AFTER: &str = "\
FILE is an export file (its passphrase from --passphrase-file, else MXKEYS_PASSPHRASE, else a
prompt). OUT is the same sessions in the form every known reader takes: LF line ends, a final
newline, 128-character lines, 0x01 session keys, the shared-history flag spelled m.shared_history;
invalid sessions are dropped (and listed). OUT keeps FILE's passphrase and rounds unless
--new-passphrase-file / MXKEYS_NEW_PASSPHRASE or --rounds say otherwise. --check writes nothing
and lists which clients would refuse FILE as it is, and why.

Examples:
  mxkeys export normalize element-keys.txt --check
  mxkeys export normalize element-keys.txt -o portable-keys.txt

Exit codes:
  0    written; with --check, every known reader accepts FILE as it is
  1    with --check, a known reader refuses FILE (the list is printed); wrong passphrase or changed
       file (MAC mismatch), malformed export or JSON
  2    usage: bad arguments, FILE is not an export, no passphrase available, OUT exists (add
       --force)
  130  stopped with Ctrl-C; OUT is not created";

/// `export filter --help`, after the options.
pub const FILTER_AFTER: &str = "\
FILE is an export file (its passphrase from --passphrase-file, else MXKEYS_PASSPHRASE, else a
prompt) or a JSON array of sessions. A session is kept when its room_id is one of --room (if
given) and none of --exclude-room, its sender_key one of --sender-key (if given), its algorithm
--algorithm (if given). An export gives an export, with the same passphrase and rounds unless
--new-passphrase-file / MXKEYS_NEW_PASSPHRASE or --rounds say otherwise (--plaintext: JSON); a JSON
array gives a JSON array. `mxkeys export list FILE` shows the room ids.

Examples:
  mxkeys export filter element-keys.txt -o work-keys.txt --room '!abc:example.org'
  mxkeys export filter keys.json -o fewer.json --exclude-room '!big:example.org'

Exit codes:
  0    written
  1    no session matched (nothing is written), wrong passphrase or changed file (MAC mismatch),
       neither an export nor a JSON array
  2    usage: bad arguments, no passphrase available, OUT exists (add --force)
  130  stopped with Ctrl-C; OUT is not created";

/// `export list --help`, after the options.
pub const LIST_AFTER: &str = "\
FILE is an export file (its passphrase from --passphrase-file, else MXKEYS_PASSPHRASE, else a
prompt) or a JSON array of sessions; - reads standard input. One row per room: the number of
sessions, the lowest first message index (history before it cannot be read with these keys), the
number of distinct sender keys, and how many sessions are marked as shared history (MSC3061:
their keys may be given to people invited later; any spelling of the flag counts, see
`mxkeys export validate`).

Examples:
  mxkeys export list element-keys.txt
  mxkeys export list keys.json --json | jq '.rooms[].room_id'

Exit codes:
  0  listed
  1  wrong passphrase or changed file (MAC mismatch), neither an export nor a JSON array
  2  usage: bad arguments, an export and no passphrase available";

/// Secrets for reading one or more inputs.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// A passphrase file per encrypted input, in order.
    #[arg(long, value_name = "PATH")]
    passphrase_file: Vec<PathBuf>,
    #[command(flatten)]
    pub(super) max: MaxRounds,
}

impl ReadArgs {
    pub(super) fn keyring(&self) -> Keyring {
        Keyring::new(&self.passphrase_file, self.max.max_rounds)
    }
}

/// How to write a sessions output.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Write a plaintext JSON array instead of an export file.
    #[arg(long)]
    pub(super) plaintext: bool,
    /// PBKDF2 rounds of the output (default: the input's, or 500000).
    #[arg(long, value_name = "N")]
    pub(super) rounds: Option<u32>,
    /// The output's passphrase file (first line).
    #[arg(long, value_name = "PATH")]
    pub(super) new_passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// An export file or a JSON array of sessions (- for standard input).
    file: PathBuf,
    #[command(flatten)]
    read: ReadArgs,
}

#[derive(Debug, Args)]
#[command(mut_args(output_arg(|a| a.help("The merged file"))))]
pub struct MergeArgs {
    /// Export files and/or JSON arrays of sessions.
    #[arg(required = true, num_args = 1..)]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
    /// Also write conflicting sessions (both copies) instead of failing.
    #[arg(long)]
    keep_conflicts: bool,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    write: WriteArgs,
}

#[derive(Debug, Args)]
#[command(mut_args(output_arg(|a| {
    a.help("The rewritten export (not needed with --check)")
        .required_unless_present("check")
})))]
pub struct NormalizeArgs {
    /// The export file.
    file: PathBuf,
    #[command(flatten)]
    out: OptionalOutputArgs,
    /// Only list which known readers refuse the file, and why.
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    write: WriteArgs,
}

#[derive(Debug, Args)]
#[command(mut_args(output_arg(|a| a.help("The subset"))))]
pub struct FilterArgs {
    /// An export file or a JSON array of sessions.
    file: PathBuf,
    #[command(flatten)]
    out: OutputArgs,
    /// Keep only these rooms (repeatable).
    #[arg(long, value_name = "ROOM_ID")]
    room: Vec<String>,
    /// Leave out these rooms (repeatable).
    #[arg(long, value_name = "ROOM_ID")]
    exclude_room: Vec<String>,
    /// Keep only sessions from these sender keys (repeatable).
    #[arg(long, value_name = "KEY")]
    sender_key: Vec<String>,
    /// Keep only this algorithm.
    #[arg(long, value_name = "ALG")]
    algorithm: Option<String>,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// An export file or a JSON array of sessions.
    file: PathBuf,
    #[command(flatten)]
    read: ReadArgs,
}

fn report_json(r: &Report) -> Vec<Value> {
    r.problems
        .iter()
        .map(|p| {
            json!({
                "index": r.index, "room_id": r.room_id, "session_id": r.session_id,
                "what": p.code, "why": p.why, "warning": p.warning,
            })
        })
        .collect()
}

/// Validate streaming: sessions are checked in parallel batches and dropped once checked; only
/// a hash of each (session_id, session_key) is kept, to find duplicates ([`Duplicates`]).
pub fn validate(a: ValidateArgs, json: bool) -> Result<(), CliError> {
    let mut keys = a.read.keyring();
    let opened = open_sessions(&a.file, &mut keys)?;
    let mut reports: Vec<Report> = Vec::new();
    let mut seen = Duplicates::new();
    let mut spellings: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut batch: Vec<SessionRecord> = Vec::with_capacity(4096);
    let mut next_index = 0usize;
    let mut flush = |batch: &mut Vec<SessionRecord>, reports: &mut Vec<Report>| {
        let base = next_index;
        let mut checked: Vec<Report> = batch
            .par_iter()
            .enumerate()
            .map(|(i, s)| session::validate(base + i, s))
            .collect();
        for (s, r) in batch.iter().zip(checked.iter_mut()) {
            for k in session::shared_history_spellings(s) {
                *spellings.entry(k).or_insert(0) += 1;
            }
            r.problems.extend(seen.check(s));
            *counts.entry(r.status().as_str()).or_insert(0) += 1;
        }
        next_index += batch.len();
        reports.extend(checked.into_iter().filter(|r| !r.problems.is_empty()));
        batch.clear();
    };
    opened.for_each_session(&a.file, |s| {
        batch.push(s);
        if batch.len() == batch.capacity() {
            flush(&mut batch, &mut reports);
        }
        Ok(())
    })?;
    flush(&mut batch, &mut reports);
    let total: u64 = counts.values().sum();
    let invalid = counts.get("invalid").copied().unwrap_or(0);
    if json {
        let problems: Vec<Value> = reports.iter().flat_map(report_json).collect();
        print_json(&json!({
            "sessions": total,
            "ok": counts.get("ok").copied().unwrap_or(0),
            "warnings": counts.get("warning").copied().unwrap_or(0),
            "invalid": invalid,
            "shared_history_spellings": spellings,
            "problems": problems,
        }))?;
    } else {
        let mut out = super::stdout::out();
        for r in &reports {
            for p in &r.problems {
                writeln!(
                    out,
                    "{} #{} {} {}: {}: {}",
                    if p.warning { "warning" } else { "invalid" },
                    r.index,
                    r.room_id.as_deref().unwrap_or("(no room_id)"),
                    r.session_id.as_deref().unwrap_or("(no session_id)"),
                    p.code,
                    p.why
                )?;
            }
        }
        writeln!(
            out,
            "{total} sessions: {} ok, {} with warnings, {invalid} invalid",
            counts.get("ok").copied().unwrap_or(0),
            counts.get("warning").copied().unwrap_or(0)
        )?;
        for (k, n) in &spellings {
            let who = SHARED_HISTORY
                .iter()
                .find(|(s, _)| s == k)
                .map_or("", |(_, w)| w);
            writeln!(
                out,
                "shared-history flag spelled {k} in {n} sessions: {who}"
            )?;
        }
    }
    if invalid > 0 {
        return Err(CliError::Reported(format!(
            "{invalid} of {total} sessions are invalid (listed above)"
        )));
    }
    Ok(())
}

/// Invalid sessions listed one by one before the rest are only counted.
const SHOWN_INVALID: usize = 20;

/// Merge in bounded memory: each input is read two or three times (exports are decrypted again,
/// their keys derived once), see [`merge::Index`]; the winners are copied into OUT as they come.
pub fn merge_cmd(a: MergeArgs, json: bool) -> Result<(), CliError> {
    let inputs: Vec<&std::path::Path> = a.inputs.iter().map(PathBuf::as_path).collect();
    let pending = a.out.create(&inputs)?;
    let mut keys = a.read.keyring();
    let mut opened = Vec::with_capacity(a.inputs.len());
    for p in &a.inputs {
        opened.push(open_reusable(p, &mut keys)?);
    }
    let name = |i: usize| {
        a.inputs
            .get(i)
            .map_or_else(String::new, |p| p.display().to_string())
    };
    // Pass 1: the index.
    let mut index = merge::Index::new(a.inputs.len());
    let mut batch = RawBatch::new();
    let mut invalid = 0usize;
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (path, src)) in a.inputs.iter().zip(opened.iter_mut()).enumerate() {
        src.each_batch(path, &mut batch, |b, named| {
            for d in index.add_batch(i, b, "input").map_err(named)? {
                invalid += 1;
                if invalid <= SHOWN_INVALID {
                    warn(&format!(
                        "{} #{} {}: dropped: {}",
                        name(d.input),
                        d.index,
                        d.session_id.as_deref().unwrap_or("?"),
                        d.why
                    ));
                } else {
                    *reasons.entry(d.why).or_insert(0) += 1;
                }
            }
            Ok(())
        })?;
    }
    if invalid > SHOWN_INVALID {
        let mut by_count: Vec<(String, usize)> = reasons.into_iter().collect();
        by_count.sort_by_key(|y| std::cmp::Reverse(y.1));
        warn(&format!(
            "and {} more invalid sessions dropped: {}",
            invalid - SHOWN_INVALID,
            by_count
                .iter()
                .map(|(why, n)| format!("{n} {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    let mut plan = index.finish();
    // Pass 2, when copies above their session's lowest index wait for its key.
    if plan.needs_verify() {
        for (i, (path, src)) in a.inputs.iter().zip(opened.iter_mut()).enumerate() {
            src.each_batch(path, &mut batch, |b, named| {
                plan.verify_batch(i, b, "input").map_err(named)
            })?;
        }
    }
    plan.decide();
    let conflicts = plan.conflict_count();
    let report_conflicts = |r: &merge::MergeReport| {
        for c in &r.conflicts {
            warn(&format!(
                "session {} conflicts: its copies in {} are not the same session key",
                c.session_id,
                c.inputs
                    .iter()
                    .map(|i| name(*i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    };
    if conflicts > 0 && !a.keep_conflicts {
        // One more pass, writing nothing, lists them with their inputs.
        for (i, (path, src)) in a.inputs.iter().zip(opened.iter_mut()).enumerate() {
            src.each_batch(path, &mut batch, |b, named| {
                plan.select_batch(i, b, "input", false).map_err(named)?;
                Ok(())
            })?;
        }
        report_conflicts(&plan.report());
        return Err(CliError::Input(format!(
            "{conflicts} sessions have conflicting copies (listed above); nothing was written. Add --keep-conflicts to write every copy of them"
        )));
    }
    let read = plan.report().read;
    if plan.unique() == 0 && conflicts == 0 {
        return Err(CliError::Input(if read == 0 {
            "the inputs hold no sessions; nothing was written".to_owned()
        } else {
            format!("none of the {read} sessions read is valid (listed above); nothing was written")
        }));
    }
    // The last pass writes.
    let mut out = SessionsOut::start(
        pending,
        &a.write,
        None,
        a.write.rounds,
        a.read.max.max_rounds,
    )?;
    let mut written = 0u64;
    for (i, (path, src)) in a.inputs.iter().zip(opened.iter_mut()).enumerate() {
        src.each_batch(path, &mut batch, |b, named| {
            for j in plan
                .select_batch(i, b, "input", a.keep_conflicts)
                .map_err(named)?
            {
                // Compact, as the parsed session would be written.
                match b.compact(j, "input").map_err(named)? {
                    Some(text) => out.session(text.as_bytes())?,
                    None => out.session(b.get(j).unwrap_or_default())?,
                }
                written += 1;
            }
            Ok(())
        })?;
    }
    let report = plan.report();
    report_conflicts(&report);
    let path = out.finish()?;
    if json {
        return print_json(&json!({
            "output": path.display().to_string(),
            "inputs": report.inputs,
            "sessions_read": report.read,
            "unique": report.unique,
            "replaced_by_better_copy": report.replaced,
            "conflicts": report.conflicts,
            "invalid_dropped": invalid,
            "written": written,
        }));
    }
    stderr!(
        "{} inputs, {} sessions read, {} unique, {} replaced by a better copy, {} conflicts, {} invalid dropped; wrote {} to {}",
        report.inputs,
        report.read,
        report.unique,
        report.replaced,
        report.conflicts.len(),
        invalid,
        written,
        path.display()
    );
    Ok(())
}

/// A JSON array of sessions being written, as plaintext or inside an export, session by session
/// (each exactly as the input held it).
pub(super) struct SessionsOut {
    sink: Sink,
    first: bool,
    plaintext_len: u64,
}

enum Sink {
    Plain(PendingOutput),
    Export(Box<export::ExportWriter<PendingOutput>>),
}

impl SessionsOut {
    /// Start writing OUT as `w` says: `--plaintext` JSON, else an export with `pass` (None, or
    /// --new-passphrase-file / MXKEYS_NEW_PASSPHRASE given: a new one) and `rounds` (default
    /// Element's).
    pub(super) fn start(
        pending: PendingOutput,
        w: &WriteArgs,
        pass: Option<Passphrase>,
        rounds: Option<u32>,
        max_rounds: u32,
    ) -> Result<Self, CliError> {
        let sink = if w.plaintext {
            Sink::Plain(pending)
        } else {
            let pass = match pass {
                Some(p)
                    if w.new_passphrase_file.is_none()
                        && std::env::var_os("MXKEYS_NEW_PASSPHRASE").is_none() =>
                {
                    p
                }
                _ => new_passphrase(
                    w.new_passphrase_file.as_deref(),
                    "--new-passphrase-file",
                    "MXKEYS_NEW_PASSPHRASE",
                )?,
            };
            let rounds = rounds.unwrap_or(export::DEFAULT_ROUNDS);
            let rounds = Rounds::new(rounds, max_rounds.max(rounds))
                .map_err(|_| CliError::Usage("--rounds must be at least 1".into()))?;
            Sink::Export(Box::new(export_writer(pending, &pass, rounds)?))
        };
        let mut out = SessionsOut {
            sink,
            first: true,
            plaintext_len: 0,
        };
        out.write(b"[")?;
        Ok(out)
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.plaintext_len += bytes.len() as u64;
        match &mut self.sink {
            Sink::Plain(p) => p.write_all(bytes),
            Sink::Export(w) => w.write_all(bytes),
        }
    }

    /// Add one session's JSON text.
    fn session(&mut self, text: &[u8]) -> io::Result<()> {
        if !self.first {
            self.write(b",")?;
        }
        self.first = false;
        self.write(text)
    }

    /// Add one session, serialized compact (through a wiped buffer: it holds the key).
    pub(super) fn record(&mut self, s: &SessionRecord) -> io::Result<()> {
        let mut text = mxkeys::SecretBuf::with_capacity(1024);
        serde_json::to_writer(&mut text, s)?;
        self.session(text.expose())
    }

    /// Close the array, the export, and commit OUT.
    pub(super) fn finish(mut self) -> Result<PathBuf, CliError> {
        self.write(b"]")?;
        match self.sink {
            Sink::Plain(mut p) => {
                p.write_all(b"\n")?;
                p.commit()
            }
            Sink::Export(w) => w.finish()?.commit(),
        }
    }
}

pub fn normalize(a: NormalizeArgs, json: bool) -> Result<(), CliError> {
    let inspection = export::inspect(open_input(&a.file)?)?;
    let pending = match (&a.out.output, a.check) {
        (Some(out), false) => Some(output::create(out, a.out.force, &[&a.file])?),
        _ => None,
    };
    let mut keys = a.read.keyring();
    let opened = open_sessions(&a.file, &mut keys)?;
    let Some((header, which)) = opened.export else {
        return Err(CliError::Usage(format!(
            "{} is not an export file",
            a.file.display()
        )));
    };
    if a.check {
        // Which clients would refuse the file as it is: its armor and header, then its sessions
        // (counted a batch at a time, on every core).
        let mut tally = session::RefusalTally::default();
        let mut batch: Vec<SessionRecord> = Vec::with_capacity(NORMALIZE_BATCH);
        let mut count = |batch: &mut Vec<SessionRecord>| {
            let t = batch
                .par_iter()
                .fold(session::RefusalTally::default, |mut t, s| {
                    t.add(s);
                    t
                })
                .reduce(session::RefusalTally::default, |mut a, b| {
                    a.merge(b);
                    a
                });
            tally.merge(t);
            batch.clear();
        };
        opened.for_each_session(&a.file, |s| {
            batch.push(s);
            if batch.len() == NORMALIZE_BATCH {
                count(&mut batch);
            }
            Ok(())
        })?;
        count(&mut batch);
        let mut r = export::refusals(&inspection);
        r.extend(tally.refusals());
        let r: Vec<(&str, String)> = r.into_iter().map(|r| (r.client, r.why)).collect();
        if json {
            let list: Vec<Value> = r
                .iter()
                .map(|(c, why)| json!({"client": c, "why": why}))
                .collect();
            print_json(&json!({"refused_by": list}))?;
        } else if r.is_empty() {
            outln!("every known reader (Element Web, matrix-rust-sdk, matrix-nio, mautrix-go) accepts this file as it is")?;
        } else {
            for (c, why) in &r {
                outln!("{c}: {why}")?;
            }
        }
        // The list is the whole answer; exit 1 says that some client refuses the file.
        let mut clients: Vec<&str> = r
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| *c != EVERY_READER)
            .collect();
        clients.sort_unstable();
        clients.dedup();
        if clients.is_empty() {
            return Ok(());
        }
        return Err(CliError::Reported(format!(
            "{} would refuse {} as it is; `mxkeys export normalize {} -o OUT` writes a copy every known reader accepts",
            clients.join(", "),
            a.file.display(),
            a.file.display()
        )));
    }
    let Some(pending) = pending else {
        return Ok(());
    };
    let pass = keys.get(which).cloned();
    let rounds = a.write.rounds.unwrap_or(header.rounds);
    // Streamed: each batch is validated on every core, its invalid sessions dropped (the first
    // few named) and the others written in the portable form as they come.
    let (mut read, mut written) = (0u64, 0u64);
    let mut out = SessionsOut::start(pending, &a.write, pass, Some(rounds), a.read.max.max_rounds)?;
    let mut batch: Vec<SessionRecord> = Vec::with_capacity(NORMALIZE_BATCH);
    let mut dropped_shown = 0usize;
    let mut write = |batch: &mut Vec<SessionRecord>| -> io::Result<()> {
        let base = read as usize;
        let reports: Vec<Report> = batch
            .par_iter()
            .enumerate()
            .map(|(i, s)| session::validate(base + i, s))
            .collect();
        read += batch.len() as u64;
        for (s, r) in batch.drain(..).zip(&reports) {
            if r.status() == session::ReportStatus::Invalid {
                if dropped_shown < SHOWN_DROPPED {
                    dropped_shown += 1;
                    warn(&format!(
                        "#{} {}: dropped: {}",
                        r.index,
                        r.session_id.as_deref().unwrap_or("?"),
                        r.problems
                            .iter()
                            .map(|p| p.why.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ));
                }
            } else {
                out.record(&s.normalized())?;
                written += 1;
            }
        }
        Ok(())
    };
    opened.for_each_session(&a.file, |s| {
        batch.push(s);
        if batch.len() == NORMALIZE_BATCH {
            write(&mut batch)?;
        }
        Ok(())
    })?;
    write(&mut batch)?;
    let path = out.finish()?;
    let dropped = read - written;
    if dropped > SHOWN_DROPPED as u64 {
        warn(&format!(
            "and {} more invalid sessions dropped ({dropped} in all)",
            dropped - SHOWN_DROPPED as u64
        ));
    }
    if json {
        return print_json(
            &json!({"output": path.display().to_string(), "sessions": written, "dropped": dropped}),
        );
    }
    stderr!(
        "wrote {} sessions ({} invalid dropped) to {} in the portable form: 128-character lines, LF, final newline, 0x01 keys, m.shared_history",
        written,
        dropped,
        path.display()
    );
    Ok(())
}

/// Sessions `normalize` checks together on all cores.
const NORMALIZE_BATCH: usize = 4096;
/// Invalid sessions `normalize` names before it only counts them.
const SHOWN_DROPPED: usize = 20;

pub fn filter(a: FilterArgs, json: bool) -> Result<(), CliError> {
    let pending = a.out.create(&[&a.file])?;
    let mut keys = a.read.keyring();
    let opened = open_sessions(&a.file, &mut keys)?;
    let export = opened.export;
    let mut w = a.write;
    if export.is_none() {
        w.plaintext = true;
    }
    let (pass, rounds) = match export {
        Some((h, i)) => (keys.get(i).cloned(), w.rounds.unwrap_or(h.rounds)),
        None => (None, export::DEFAULT_ROUNDS),
    };
    // Streamed: each kept session is written as it is read; with none kept, the output is
    // dropped uncommitted.
    let mut kept = 0u64;
    let file = &a.file;
    let (room, exclude, senders, alg) = (&a.room, &a.exclude_room, &a.sender_key, &a.algorithm);
    let mut out = SessionsOut::start(pending, &w, pass, Some(rounds), a.read.max.max_rounds)?;
    let total = opened.for_each_session(file, |s| {
        let r = s.room_id.as_deref().unwrap_or_default();
        let keep = (room.is_empty() || room.iter().any(|x| x == r))
            && !exclude.iter().any(|x| x == r)
            && (senders.is_empty() || s.sender_key.as_ref().is_some_and(|k| senders.contains(k)))
            && alg
                .as_ref()
                .is_none_or(|alg| s.algorithm.as_ref() == Some(alg));
        if keep {
            out.record(&s)?;
            kept += 1;
        }
        Ok(())
    })?;
    if kept == 0 {
        // `out` is dropped uncommitted: nothing is written.
        return Err(CliError::Input(format!(
            "none of the {total} sessions matched; nothing was written. `mxkeys export list {}` shows the rooms and how many sessions each has",
            file.display()
        )));
    }
    let path = out.finish()?;
    if json {
        return print_json(
            &json!({"output": path.display().to_string(), "sessions": kept, "read": total}),
        );
    }
    stderr!("kept {} of {total} sessions in {}", kept, path.display());
    Ok(())
}

/// What `export list` counts under a room (its key: the room id, then 0) and under each of its
/// senders (the room id, then 1 and the sender key).
struct Seen {
    sessions: u64,
    /// Sessions whose shared-history flag (any spelling) is true.
    shared: u64,
    lowest: Option<u32>,
}

impl Combine for Seen {
    fn combine(&mut self, later: Self) {
        self.sessions += later.sessions;
        self.shared += later.shared;
        self.lowest = match (self.lowest, later.lowest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.sessions.to_le_bytes());
        out.extend_from_slice(&self.shared.to_le_bytes());
        if let Some(i) = self.lowest {
            out.extend_from_slice(&i.to_le_bytes());
        }
    }
    fn decode(b: &[u8]) -> Option<Self> {
        Some(Seen {
            sessions: u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
            shared: u64::from_le_bytes(b.get(8..16)?.try_into().ok()?),
            lowest: match b.get(16..) {
                Some([]) => None,
                rest => Some(u32::from_le_bytes(rest?.try_into().ok()?)),
            },
        })
    }
}

/// Memory `export list` keeps before its rooms and senders go to a temporary file.
const LIST_BUDGET: usize = 16 << 20;

fn spill_failed(e: io::Error) -> CliError {
    CliError::Input(format!(
        "cannot use a temporary file for the list of rooms and senders: {e}; free space in the temporary directory (TMPDIR)"
    ))
}

/// One room of `export list`, from the sorted spill: its counts, then its senders in order.
struct ListedRoom {
    id: String,
    seen: Seen,
    senders: u64,
}

pub fn list(a: ListArgs, json: bool) -> Result<(), CliError> {
    let mut keys = a.read.keyring();
    let opened = open_sessions(&a.file, &mut keys)?;
    // Rooms and (room, sender) pairs, sorted by room id then sender key, in bounded memory:
    // a million sessions may come from a million senders.
    let mut spill: Spill<Seen> = Spill::new(LIST_BUDGET);
    let mut failed: Option<io::Error> = None;
    let read = opened.for_each_session(&a.file, |s| {
        let room = s.room_id.as_deref().unwrap_or("(no room_id)");
        let lowest = s.first_index();
        let mut key = Vec::with_capacity(room.len() + 48);
        spill::push_ordered(&mut key, room.as_bytes());
        let mut sender_key = None;
        if let Some(sender) = &s.sender_key {
            let mut k = key.clone();
            k.push(1);
            k.extend_from_slice(sender.as_bytes());
            sender_key = Some(k);
        }
        key.push(0);
        let shared = u64::from(s.shared_history() == Some(true));
        let seen = || Seen {
            sessions: 1,
            shared,
            lowest,
        };
        let pushed = spill.push(key, seen()).and_then(|()| match sender_key {
            Some(k) => spill.push(k, seen()),
            None => Ok(()),
        });
        pushed.map_err(|e| {
            failed = Some(e);
            mxkeys::Error::Io(io::Error::other("stopped: no temporary file"))
        })
    });
    if let Some(e) = failed {
        return Err(spill_failed(e));
    }
    read?;
    let mut out = io::BufWriter::new(super::stdout::out());
    let (mut rooms, mut sessions) = (0u64, 0u64);
    if json {
        out.write_all(b"{\n  \"rooms\": [")?;
    } else {
        writeln!(
            out,
            "{:<44} {:>8} {:>12} {:>7} {:>6}",
            "room", "sessions", "lowest index", "senders", "shared"
        )?;
    }
    let mut current: Option<ListedRoom> = None;
    // Ends the room being listed: its sender count (text) or the end of its object (JSON).
    let close = |out: &mut io::BufWriter<_>, r: ListedRoom| -> io::Result<()> {
        if json {
            let senders_end: &[u8] = if r.senders == 0 { b"]" } else { b"\n      ]" };
            out.write_all(senders_end)?;
            out.write_all(b"\n    }")
        } else {
            let lowest = r
                .seen
                .lowest
                .map_or_else(|| "-".to_owned(), |i| i.to_string());
            writeln!(
                out,
                "{:<44} {:>8} {:>12} {:>7} {:>6}",
                r.id, r.seen.sessions, lowest, r.senders, r.seen.shared
            )
        }
    };
    for entry in spill.into_sorted().map_err(spill_failed)? {
        let (key, seen) = entry.map_err(spill_failed)?;
        let (room, rest) = spill::split_ordered(&key)
            .ok_or_else(|| spill_failed(io::Error::other("a damaged entry")))?;
        match rest.split_first() {
            Some((0, _)) => {
                if let Some(r) = current.take() {
                    close(&mut out, r)?;
                }
                let id = String::from_utf8_lossy(&room).into_owned();
                if json {
                    out.write_all(if rooms == 0 { b"\n    {" } else { b",\n    {" })?;
                    write!(
                        out,
                        "\n      \"room_id\": {},\n      \"sessions\": {},\n      \"shared_history\": {},\n      \"lowest_first_index\": {},\n      \"senders\": [",
                        Value::String(id.clone()),
                        seen.sessions,
                        seen.shared,
                        seen.lowest.map_or_else(|| "null".to_owned(), |i| i.to_string())
                    )?;
                }
                rooms += 1;
                sessions += seen.sessions;
                current = Some(ListedRoom {
                    id,
                    seen,
                    senders: 0,
                });
            }
            Some((1, sender)) => {
                if let Some(r) = current.as_mut() {
                    if json {
                        out.write_all(if r.senders == 0 {
                            b"\n        "
                        } else {
                            b",\n        "
                        })?;
                        serde_json::to_writer(&mut out, &String::from_utf8_lossy(sender))
                            .map_err(io::Error::from)?;
                    }
                    r.senders += 1;
                }
            }
            _ => return Err(spill_failed(io::Error::other("a damaged entry"))),
        }
    }
    if let Some(r) = current.take() {
        close(&mut out, r)?;
    }
    if json {
        out.write_all(if rooms == 0 { b"]\n}\n" } else { b"\n  ]\n}\n" })?;
    } else {
        writeln!(out, "{rooms} rooms, {sessions} sessions")?;
    }
    out.flush()?;
    Ok(())
}
