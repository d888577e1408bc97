//! `mxkeys export split`: one export (or JSON array of sessions) into parts that a client with
//! little memory imports one after another.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{ArgGroup, Args};
use rayon::prelude::*;
use serde_json::json;

use mxkeys::export::{self, DerivedKeys, ExportWriter};
use mxkeys::kdf::Rounds;
use mxkeys::session::{RawBatch, SessionPeek};

use super::common::new_passphrase;
use super::inputs::{open_reusable, Reusable};
use super::io::{note, print_json, spinner};
use super::output::{self, PendingOutput};
use super::sessions::ReadArgs;
use super::CliError;

/// `export split --help`, after the options.
pub const SPLIT_AFTER: &str = "\
FILE is an export file (its passphrase from --passphrase-file, else MXKEYS_PASSPHRASE, else a
prompt) or a JSON array of sessions; - reads standard input. The parts are written to DIR
(created if missing) as PREFIX-0001.txt, PREFIX-0002.txt, ... (export parts) or PREFIX-0001.json,
... (JSON parts); import them one after another. Each part is a valid file on its own, every
session of FILE is in exactly one part, exactly as FILE held it, and the parts follow FILE's
order (with --by-room, room by room).

An export gives export parts with FILE's passphrase and rounds (the key is derived once: the
parts share a salt, each has its own IV), or with a new passphrase from --new-passphrase-file or
MXKEYS_NEW_PASSPHRASE. A JSON array gives JSON parts, or export parts (500000 rounds) when one of
those gives a passphrase.

--max-sessions N puts at most N sessions in a part; --max-bytes SIZE keeps each part file at most
SIZE bytes (500M, 1G, 64K or plain bytes; K, M, G are powers of 1024). --by-room keeps all the
sessions of a room in one part where the limit allows; a room larger than the limit gets parts of
its own (a note says which).

Examples:
  mxkeys export split element-keys.txt -o parts --max-sessions 50000
  mxkeys export split element-keys.txt -o parts --max-bytes 100M --by-room
  mxkeys export split keys.json -o parts --max-sessions 10000 --json | jq '.parts[].path'

Exit codes:
  0    written
  1    wrong passphrase or changed file (MAC mismatch), neither an export nor a JSON array, no
       session in FILE, one session larger than --max-bytes (no part is left behind)
  2    usage: bad arguments, no limit or both, no passphrase available, DIR holds files (add
       --force)
  130  stopped with Ctrl-C";

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("limit").required(true).args(["max_sessions", "max_bytes"])))]
pub struct SplitArgs {
    /// An export file or a JSON array of sessions (- for standard input).
    file: PathBuf,
    /// The folder for the parts (created if missing).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    dir: PathBuf,
    /// Write into DIR even if it holds files.
    ///
    /// Parts of the same names are replaced; other files stay.
    #[arg(long)]
    force: bool,
    /// At most N sessions per part.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_sessions: Option<u64>,
    /// At most SIZE bytes per part file: 500M, 1G, 64K, or plain bytes.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_bytes: Option<u64>,
    /// Keep each room's sessions in one part where the limit allows.
    #[arg(long)]
    by_room: bool,
    /// Part names: DIR/PREFIX-0001.txt (or .json), ...
    #[arg(long, value_name = "PREFIX", default_value = "part", value_parser = parse_prefix)]
    prefix: String,
    /// The parts' passphrase file (first line), instead of FILE's.
    #[arg(long, value_name = "PATH")]
    new_passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    read: ReadArgs,
}

/// `500M`, `1G`, `64K`, `1000`: bytes (K, M, G, T are powers of 1024; a trailing B or iB is
/// allowed).
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let digits = upper.trim_end_matches("IB").trim_end_matches('B');
    let (num, shift) = [('K', 10), ('M', 20), ('G', 30), ('T', 40)]
        .into_iter()
        .find_map(|(unit, shift)| digits.strip_suffix(unit).map(|n| (n, shift)))
        .unwrap_or((digits, 0));
    let bad = || {
        format!(
            "{text:?} is not a size: give bytes (1000000) or a number with K, M or G (500M, 1G)"
        )
    };
    let n: u64 = num.trim().parse().map_err(|_| bad())?;
    let bytes = n
        .checked_shl(shift)
        .filter(|b| b >> shift == n)
        .ok_or_else(bad)?;
    if bytes == 0 {
        return Err("the size must be more than 0 bytes".into());
    }
    Ok(bytes)
}

fn parse_prefix(text: &str) -> Result<String, String> {
    if text.is_empty() || text.contains(['/', '\\']) || text.starts_with('.') {
        return Err(format!(
            "{text:?} cannot start a file name: give letters, digits, - or _ (no / and no leading .)"
        ));
    }
    Ok(text.to_owned())
}

/// What the parts are.
enum Format {
    Json,
    Export(DerivedKeys),
}

/// The limits of one part.
#[derive(Clone, Copy)]
struct Limits {
    sessions: u64,
    bytes: u64,
    export: bool,
}

impl Limits {
    /// The file size of a part whose JSON text (from `[` to before `]`) is `plain` bytes.
    fn file_len(&self, plain: u64) -> u64 {
        if self.export {
            export::armored_len(plain + 1)
        } else {
            plain + 2
        }
    }

    /// Whether a part of `sessions` sessions and `plain` bytes takes one more of `len` bytes.
    fn fits(&self, sessions: u64, plain: u64, len: u64) -> bool {
        let comma = u64::from(sessions > 0);
        sessions < self.sessions && self.file_len(plain + comma + len) <= self.bytes
    }
}

/// A part being written.
struct Part {
    number: usize,
    sink: PartSink,
    sessions: u64,
    /// JSON text written so far, from `[`.
    plain: u64,
}

enum PartSink {
    Json(PendingOutput),
    Export(Box<ExportWriter<PendingOutput>>),
}

impl Part {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.plain += bytes.len() as u64;
        match &mut self.sink {
            PartSink::Json(p) => p.write_all(bytes),
            PartSink::Export(w) => w.write_all(bytes),
        }
    }

    fn session(&mut self, text: &[u8]) -> std::io::Result<()> {
        if self.sessions > 0 {
            self.write(b",")?;
        }
        self.sessions += 1;
        self.write(text)
    }
}

/// Parts written so far; those committed are removed again if the command fails.
struct Parts<'a> {
    dir: &'a Path,
    prefix: &'a str,
    input: &'a Path,
    force: bool,
    format: Format,
    limits: Limits,
    next: usize,
    done: Vec<(PathBuf, u64, u64)>,
    /// DIR did not exist: it is made with the first part, and removed again on an error.
    created_dir: bool,
}

impl Parts<'_> {
    fn path(&self, number: usize) -> PathBuf {
        let ext = match self.format {
            Format::Json => "json",
            Format::Export(_) => "txt",
        };
        self.dir.join(format!("{}-{number:04}.{ext}", self.prefix))
    }

    /// Open part `number` (the next one when None).
    fn open(&mut self, number: Option<usize>) -> Result<Part, CliError> {
        let number = number.unwrap_or_else(|| {
            self.next += 1;
            self.next
        });
        if !self.created_dir && !self.dir.exists() {
            std::fs::create_dir_all(self.dir).map_err(|e| {
                CliError::Input(format!("cannot create {}: {e}", self.dir.display()))
            })?;
            self.created_dir = true;
        }
        let pending = output::create(&self.path(number), self.force, &[self.input])?;
        let sink = match &self.format {
            Format::Json => PartSink::Json(pending),
            Format::Export(keys) => {
                let mut iv = [0u8; 16];
                getrandom::getrandom(&mut iv).map_err(|e| {
                    CliError::Input(format!("the operating system gave no randomness: {e}"))
                })?;
                PartSink::Export(Box::new(ExportWriter::with_derived(pending, keys, iv)?))
            }
        };
        let mut part = Part {
            number,
            sink,
            sessions: 0,
            plain: 0,
        };
        part.write(b"[")?;
        Ok(part)
    }

    fn close(&mut self, mut part: Part) -> Result<(), CliError> {
        part.write(b"]")?;
        let size = self.limits.file_len(part.plain - 1);
        let path = match part.sink {
            PartSink::Json(mut p) => {
                p.write_all(b"\n")?;
                p.commit()?
            }
            PartSink::Export(w) => w.finish()?.commit()?,
        };
        // Until every part is written, a stop signal removes the parts already in place, as an
        // error does: no partial set is left behind.
        super::interrupt::register(&path);
        self.done.push((path, part.sessions, size));
        let _ = part.number;
        Ok(())
    }

    /// Add one session to `part` (opened when None), closing it first if it is full.
    fn add(
        &mut self,
        part: &mut Option<Part>,
        text: &[u8],
        number: Option<usize>,
        at: u64,
    ) -> Result<(), CliError> {
        let len = text.len() as u64;
        if let Some(p) = part.as_ref() {
            if !self.limits.fits(p.sessions, p.plain, len) {
                if let Some(p) = part.take() {
                    self.close(p)?;
                }
            }
        }
        if part.is_none() {
            if !self.limits.fits(0, 1, len) {
                return Err(CliError::Input(format!(
                    "session #{at} of {} alone makes a part of {} bytes, more than --max-bytes {}; give a larger --max-bytes",
                    self.input.display(),
                    self.limits.file_len(1 + len),
                    self.limits.bytes
                )));
            }
            *part = Some(self.open(number)?);
        }
        if let Some(p) = part.as_mut() {
            p.session(text)?;
        }
        Ok(())
    }
}

pub fn split(a: SplitArgs, json: bool) -> Result<(), CliError> {
    if a.dir == Path::new("-") {
        return Err(CliError::Usage(
            "-o names the folder for the parts; - is not one".into(),
        ));
    }
    let mut keys = a.read.keyring();
    let mut src = open_reusable(&a.file, &mut keys)?;
    // DIR: created, or empty, or --force.
    match std::fs::read_dir(&a.dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !a.force {
                return Err(CliError::Usage(format!(
                    "{} holds files; give an empty or new folder, or add --force to write the parts among them",
                    a.dir.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(CliError::Input(format!(
                "cannot use {} for the parts: {e}",
                a.dir.display()
            )))
        }
    }
    let new_given =
        a.new_passphrase_file.is_some() || std::env::var_os("MXKEYS_NEW_PASSPHRASE").is_some();
    let (pass, rounds) = match (src.export, new_given) {
        (_, true) => (
            Some(new_passphrase(
                a.new_passphrase_file.as_deref(),
                "--new-passphrase-file",
                "MXKEYS_NEW_PASSPHRASE",
            )?),
            src.export.map_or(export::DEFAULT_ROUNDS, |(h, _)| h.rounds),
        ),
        (Some((h, which)), false) => (keys.get(which).cloned(), h.rounds),
        (None, false) => (None, export::DEFAULT_ROUNDS),
    };
    let format = match pass {
        None => Format::Json,
        Some(pass) => {
            let rounds = Rounds::new(rounds, rounds)
                .map_err(|_| CliError::Usage("the rounds must be at least 1".into()))?;
            let mut salt = [0u8; 16];
            getrandom::getrandom(&mut salt).map_err(|e| {
                CliError::Input(format!("the operating system gave no randomness: {e}"))
            })?;
            let pb = spinner(format!(
                "deriving the parts' key ({} PBKDF2 rounds)",
                rounds.get()
            ));
            let keys = DerivedKeys::derive(&pass, rounds, salt);
            if let Some(pb) = pb {
                pb.finish_and_clear();
            }
            Format::Export(keys?)
        }
    };
    let limits = Limits {
        sessions: a.max_sessions.unwrap_or(u64::MAX),
        bytes: a.max_bytes.unwrap_or(u64::MAX),
        export: matches!(format, Format::Export(_)),
    };
    let mut parts = Parts {
        dir: &a.dir,
        prefix: &a.prefix,
        input: &a.file,
        force: a.force,
        format,
        limits,
        next: 0,
        done: Vec::new(),
        created_dir: false,
    };
    let written = if a.by_room {
        by_room(&a.file, &mut src, &mut parts)
    } else {
        in_order(&a.file, &mut src, &mut parts)
    };
    let total = match written {
        Ok(n) => {
            for (p, ..) in &parts.done {
                super::interrupt::unregister(p);
            }
            n
        }
        Err(e) => {
            // No partial set of parts: those already committed go again.
            for (p, ..) in &parts.done {
                let _ = std::fs::remove_file(p);
                super::interrupt::unregister(p);
            }
            if parts.created_dir {
                let _ = std::fs::remove_dir(&a.dir);
            }
            return Err(e);
        }
    };
    if json {
        let list: Vec<serde_json::Value> = parts
            .done
            .iter()
            .map(|(p, n, size)| json!({"path": p.display().to_string(), "sessions": n, "bytes": size}))
            .collect();
        return print_json(&json!({
            "input": a.file.display().to_string(),
            "sessions": total,
            "parts": list,
        }));
    }
    stderr!(
        "wrote {total} sessions in {} parts to {} ({})",
        parts.done.len(),
        a.dir.display(),
        match (parts.done.first(), parts.done.last()) {
            (Some(f), Some(l)) if parts.done.len() > 1 =>
                format!("{} to {}", file_name(&f.0), file_name(&l.0)),
            (Some(f), _) => file_name(&f.0),
            _ => String::new(),
        }
    );
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn no_sessions(path: &Path) -> CliError {
    CliError::Input(format!(
        "{} holds no sessions; no part was written",
        path.display()
    ))
}

/// The parts in FILE's order: a new part when the current one is full.
fn in_order(path: &Path, src: &mut Reusable, parts: &mut Parts<'_>) -> Result<u64, CliError> {
    let mut batch = RawBatch::new();
    let mut part: Option<Part> = None;
    let total = src.each_batch(path, &mut batch, |b, _| {
        for i in 0..b.len() {
            parts.add(
                &mut part,
                b.get(i).unwrap_or_default(),
                None,
                b.first() + i as u64,
            )?;
        }
        Ok(())
    })?;
    match part {
        Some(p) => parts.close(p)?,
        None => return Err(no_sessions(path)),
    }
    Ok(total)
}

/// How many sessions, and bytes of JSON with their commas, a room has.
#[derive(Clone, Copy, Default)]
struct Room {
    sessions: u64,
    bytes: u64,
    /// The planned part, or None for a room larger than a part (it gets parts of its own).
    part: Option<usize>,
}

/// The room of each session of a batch (sessions without a room_id share the room "").
fn rooms_of(b: &RawBatch) -> Vec<String> {
    (0..b.len())
        .into_par_iter()
        .map(|i| {
            b.get(i)
                .and_then(|t| serde_json::from_slice::<SessionPeek>(t).ok())
                .and_then(|p| p.room_id)
                .unwrap_or_default()
        })
        .collect()
}

/// At most this many parts are open at once; more parts take more passes over FILE.
const OPEN_PARTS: usize = 200;

/// Rooms packed into parts (first fit over the last parts opened), then written in passes of at
/// most [`OPEN_PARTS`] parts; a room larger than a part fills parts of its own, in order.
fn by_room(path: &Path, src: &mut Reusable, parts: &mut Parts<'_>) -> Result<u64, CliError> {
    let mut batch = RawBatch::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut rooms: Vec<Room> = Vec::new();
    let total = src.each_batch(path, &mut batch, |b, named| {
        let names = rooms_of(b);
        for (i, room) in names.into_iter().enumerate() {
            let len = b.get(i).map_or(0, <[u8]>::len) as u64;
            let n = rooms.len();
            let at = *index.entry(room).or_insert(n);
            if at == n {
                rooms.push(Room::default());
            }
            if let Some(r) = rooms.get_mut(at) {
                r.sessions += 1;
                r.bytes += len + 1;
            }
        }
        let _ = named;
        Ok(())
    })?;
    if total == 0 {
        return Err(no_sessions(path));
    }
    // Plan: parts as (sessions, JSON bytes so far).
    let limits = parts.limits;
    let mut planned: Vec<(u64, u64)> = Vec::new();
    let mut big = Vec::new();
    for (at, r) in rooms.iter_mut().enumerate() {
        if r.sessions > limits.sessions || limits.file_len(1 + r.bytes) > limits.bytes {
            big.push(at);
            continue;
        }
        let from = planned.len().saturating_sub(16);
        let found = planned
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, (n, plain))| {
                n + r.sessions <= limits.sessions
                    && limits.file_len(plain + r.bytes) <= limits.bytes
            })
            .map(|(i, _)| i);
        let i = found.unwrap_or_else(|| {
            planned.push((0, 1));
            planned.len() - 1
        });
        if let Some(p) = planned.get_mut(i) {
            p.0 += r.sessions;
            p.1 += r.bytes;
        }
        r.part = Some(i + 1);
    }
    if !big.is_empty() {
        let names: HashMap<usize, &str> = index.iter().map(|(k, v)| (*v, k.as_str())).collect();
        for at in &big {
            note(&format!(
                "room {} has {} sessions, more than one part holds: it is split over parts of its own",
                names.get(at).copied().filter(|n| !n.is_empty()).unwrap_or("(no room_id)"),
                rooms.get(*at).map_or(0, |r| r.sessions)
            ));
        }
    }
    parts.next = planned.len();
    // Write: units are the planned parts, then the big rooms, OPEN_PARTS per pass.
    let units: Vec<Option<usize>> = (1..=planned.len())
        .map(Some)
        .chain(big.iter().map(|_| None))
        .collect();
    let big_unit: HashMap<usize, usize> = big
        .iter()
        .enumerate()
        .map(|(k, room)| (*room, planned.len() + k))
        .collect();
    for window in (0..units.len()).collect::<Vec<_>>().chunks(OPEN_PARTS) {
        let (lo, hi) = match (window.first(), window.last()) {
            (Some(l), Some(h)) => (*l, *h),
            _ => continue,
        };
        let mut open: HashMap<usize, Option<Part>> = HashMap::new();
        src.each_batch(path, &mut batch, |b, _| {
            let names = rooms_of(b);
            for (i, room) in names.iter().enumerate() {
                let Some(&at) = index.get(room) else { continue };
                let unit = match rooms.get(at).and_then(|r| r.part) {
                    Some(p) => p - 1,
                    None => big_unit.get(&at).copied().unwrap_or(usize::MAX),
                };
                if unit < lo || unit > hi {
                    continue;
                }
                let slot = open.entry(unit).or_insert(None);
                let number = units.get(unit).copied().flatten();
                let text = b.get(i).unwrap_or_default();
                parts.add(slot, text, number, b.first() + i as u64)?;
            }
            Ok(())
        })?;
        let mut left: Vec<(usize, Part)> = open
            .into_iter()
            .filter_map(|(u, p)| p.map(|p| (u, p)))
            .collect();
        left.sort_by_key(|(_, p)| p.number);
        for (_, p) in left {
            parts.close(p)?;
        }
    }
    parts.done.sort_by(|x, y| x.0.cmp(&y.0));
    Ok(total)
}
