//! `mxkeys passphrase search` and `mxkeys bench kdf`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use zeroize::Zeroizing;

use mxkeys::export;
use mxkeys::hashline::Hashline;
use mxkeys::kdf::{self, Engine, Limits, Rounds};
use mxkeys::search::{self, Candidates, CandidatesError, Progress, Target};
use mxkeys::ssss::AccountData;

use super::common::{output_arg, MaxRounds, OptionalOutputArgs};
use super::io::{note, print_json, read_small_json};
use super::{interrupt, output, CliError};

const SEARCH_AFTER: &str = "\
TARGET is an export file, an account-data file (the Security Phrase of a secret-storage key;
--key-id for another than the default; see `mxkeys ssss inspect --help` for how to fetch it) or a
backup version (GET /_matrix/client/v3/room_keys/version body of an old passphrase-protected
backup, with auth_data.private_key_salt; at most 64 MiB). LIST holds one candidate per line, any
UTF-8, at most 1024 bytes a line (- for standard input). For exports, the Latin-1 bytes matrix-nio
used are tried too.

--mutate also tries, for each line: as typed, lower case, UPPER CASE, Capitalised and leetspeak
(a->4 e->3 i->1 o->0 s->5), each bare and with a suffix 1, 12, 123, !, ?, ., a digit 0-9 or a year
1990-2030: up to 290 candidates per line. Each candidate costs one key derivation (see
`mxkeys bench kdf` for the rate here).

The passphrase found is shown only on the terminal or written to -o (mode 0600), never to a pipe
or a log; if OUT cannot be written after all (it appeared during the search), the error names the
line it is on instead. Ctrl-C stops and prints the --skip value that resumes. --shard I/N takes
every N-th line starting at line I, to split a list across machines. --threads is at most 4 per
core.

Examples:
  mxkeys passphrase search element-keys.txt --candidates guesses.txt --mutate
  mxkeys passphrase search account_data.json --candidates guesses.txt -o found.txt
  mxkeys passphrase search element-keys.txt --candidates big.txt -o found.txt \\
      --shard 2/4 --skip 120000

Exit codes:
  0    found (shown on the terminal, or written to -o)
  1    nothing matched (the count tried is printed); an empty candidate list, --skip past its end
       or a line longer than 1024 bytes; TARGET unreadable, above 64 MiB (JSON), or not an
       export, account data or backup version
  2    usage: bad arguments, bad --shard, --threads 0, found but no terminal to show it on and no
       -o (rerun with -o and the --skip printed), OUT exists before the search (add --force) or
       appeared during it (the line of the passphrase is printed)
  130  stopped with Ctrl-C (the --skip that resumes is printed)";

const BENCH_AFTER: &str = "\
Needs no input. Runs PBKDF2-HMAC-SHA-512 (what exports, Security Phrases and old backup passphrases
use) for --seconds with 1, 2, ... up to all cores, and prints candidates per second at --rounds, in
the batches `mxkeys passphrase search` runs (several candidates at once per thread in SIMD lanes
where the CPU has AVX2 or AVX-512). Divide a candidate list's length (times up to 290 with
--mutate) by the best rate for the time a search will take; `mxkeys export inspect` shows a
file's rounds. --single times one derivation at a time instead: what opening one file costs.

Examples:
  mxkeys bench kdf
  mxkeys bench kdf --single --rounds 500000 --seconds 2
  mxkeys bench kdf --rounds 1000 --seconds 1 --json

Exit codes:
  0  measured (also when the output is cut short by a closed pipe)
  1  standard output cannot be written (a full disk)
  2  usage: bad arguments, --rounds 0, --seconds not above 0 and at most 3600";

#[derive(Debug, Subcommand)]
pub enum PassphraseCmd {
    /// Try candidate passphrases on an export, Security Phrase or backup.
    #[command(after_help = SEARCH_AFTER)]
    Search(SearchArgs),
    /// Print the target as a hash line for hashcat or John the Ripper.
    #[command(after_help = HASHLINE_AFTER)]
    Hashline(HashlineArgs),
    /// Check hashcat's or John's hits against the whole target.
    #[command(after_help = CONFIRM_AFTER)]
    #[command(mut_args(output_arg(|a| a.help("Write the confirmed passphrase here (mode 0600)"))))]
    Confirm(ConfirmArgs),
}

const HASHLINE_AFTER: &str = "\
TARGET is an export file or account data (a Security Phrase; --key-id for a key other than the
default). One line is printed, nothing secret in it: $mxkeys$1$e$... for an export (rounds, salt,
IV and its first 48 bytes of ciphertext: a hit is confirmed with `mxkeys passphrase confirm`),
$mxkeys$1$s$... for a Security Phrase (the key check: exact). hashcat/README.md documents the
layouts and the modules that read them. A legacy backup passphrase has no line (its check needs
X25519): search it with `mxkeys passphrase search`. --format john prefixes the file name, as John
the Ripper's *2john tools do.

Examples:
  mxkeys passphrase hashline element-keys.txt > target.hash
  mxkeys passphrase hashline account_data.json --format john > target.john

Exit codes:
  0  printed
  1  not a target that has a line (damaged export, no Security Phrase, legacy backup)
  2  usage: bad arguments";

const CONFIRM_AFTER: &str = "\
POT is hashcat's potfile (~/.local/share/hashcat/hashcat.potfile, or --potfile-path) or its
--outfile, or John's pot: lines HASH:PASSPHRASE ($HEX[...] decoded). Any --outfile-format that
starts with the hash is read (1,2 the default; 1,3; 1,2,3; with positions or timestamps after).
Each line for TARGET's hash line is checked against the whole target: for an export, the HMAC over the file, which the
known-plaintext check of the hash line only approximates. A hit that fails is a false positive,
reported as such. The confirmed passphrase is shown only on the terminal or written to -o (mode
0600), never to a pipe.

Examples:
  mxkeys passphrase confirm element-keys.txt --potfile ~/.local/share/hashcat/hashcat.potfile
  mxkeys passphrase confirm element-keys.txt --potfile found.txt -o passphrase.txt

Exit codes:
  0  a hit is confirmed
  1  no hit for this target in POT, or only false positives
  2  usage: bad arguments, confirmed but no terminal to show it on and no -o";

/// `--format` of `passphrase hashline`.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
enum LineFormat {
    /// The line alone.
    #[default]
    Hashcat,
    /// NAME:line.
    John,
}

#[derive(Debug, Args)]
pub struct HashlineArgs {
    /// Export file or account data.
    target: PathBuf,
    /// hashcat (the line) or john (FILE:line).
    #[arg(
        long,
        value_enum,
        default_value_t,
        hide_possible_values = true,
        hide_default_value = true
    )]
    format: LineFormat,
    /// TARGET's type if not detected: export, ssss.
    #[arg(long, value_enum, hide_possible_values = true)]
    kind: Option<Kind>,
    /// The secret-storage key (else the default).
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
    #[command(flatten)]
    max: MaxRounds,
}

#[derive(Debug, Args)]
pub struct ConfirmArgs {
    /// Export file or account data: the hash line's target.
    target: PathBuf,
    /// hashcat's potfile or --outfile, or John's pot.
    #[arg(long, value_name = "POT")]
    potfile: PathBuf,
    /// TARGET's type if not detected: export, ssss.
    #[arg(long, value_enum, hide_possible_values = true)]
    kind: Option<Kind>,
    /// The secret-storage key (else the default).
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
    #[command(flatten)]
    out: OptionalOutputArgs,
    #[command(flatten)]
    max: MaxRounds,
}

#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// PBKDF2-HMAC-SHA-512 derivations per second here, for 1..N threads.
    #[command(after_help = BENCH_AFTER)]
    Kdf(BenchKdfArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Export,
    Ssss,
    Backup,
}

#[derive(Debug, Args)]
#[command(mut_args(output_arg(|a| a.help("Write the passphrase found here (mode 0600)"))))]
pub struct SearchArgs {
    /// Export file, account data, or backup version JSON.
    target: PathBuf,
    /// Candidate list, one per line (- for standard input).
    #[arg(long, value_name = "LIST")]
    candidates: PathBuf,
    /// TARGET's type if not detected: export, ssss, backup.
    #[arg(long, value_enum, hide_possible_values = true)]
    kind: Option<Kind>,
    /// The secret-storage key to search (else the default).
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
    /// Try common variations of each line (see below).
    #[arg(long)]
    mutate: bool,
    /// Threads (default: all cores; at most 4 per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Skip the first N lines (to resume).
    #[arg(long, value_name = "N", default_value_t = 0)]
    skip: u64,
    /// Take lines I, I+N, I+2N, ... only (1-based).
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    #[command(flatten)]
    out: OptionalOutputArgs,
    #[command(flatten)]
    max: MaxRounds,
}

#[derive(Debug, Args)]
pub struct BenchKdfArgs {
    /// Rounds per derivation.
    #[arg(long, default_value_t = export::DEFAULT_ROUNDS)]
    rounds: u32,
    /// Seconds per thread count, at most 3600.
    #[arg(long, default_value_t = 3.0, value_parser = parse_seconds)]
    seconds: f64,
    /// Time one derivation at a time, as decrypting does.
    ///
    /// What decrypting one file costs, instead of the batches a passphrase search runs in SIMD
    /// lanes.
    #[arg(long)]
    single: bool,
}

pub fn run_passphrase(cmd: PassphraseCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        PassphraseCmd::Search(a) => match search(a, json)? {
            Ended::Done => Ok(()),
            Ended::Interrupted => Err(CliError::Interrupted(
                "the search was stopped with Ctrl-C; nothing was written".into(),
            )),
        },
        PassphraseCmd::Hashline(a) => hashline(a, json),
        PassphraseCmd::Confirm(a) => confirm(a, json),
    }
}

fn line_of(
    target: &Path,
    kind: Option<Kind>,
    key_id: Option<&str>,
    max: &MaxRounds,
) -> Result<(Target, Hashline), CliError> {
    let spec = TargetSpec {
        target,
        kind,
        key_id,
    };
    let t = load_target(&spec, &max.limits())?;
    let line = Hashline::of(&t).map_err(|e| {
        CliError::Input(format!(
            "{}: {e} (mxkeys passphrase search {} --candidates LIST)",
            target.display(),
            target.display()
        ))
    })?;
    Ok((t, line))
}

fn hashline(a: HashlineArgs, json: bool) -> Result<(), CliError> {
    let (_, line) = line_of(&a.target, a.kind, a.key_id.as_deref(), &a.max)?;
    let text = match a.format {
        LineFormat::Hashcat => line.to_string(),
        LineFormat::John => format!(
            "{}:{line}",
            a.target.file_name().map_or_else(
                || "target".into(),
                |n| n.to_string_lossy().replace(':', "_")
            )
        ),
    };
    if json {
        return print_json(&json!({"line": text, "version": mxkeys::hashline::VERSION}));
    }
    outln!("{text}")?;
    Ok(())
}

/// A potfile's passphrase: as written, or hashcat's `$HEX[...]` for bytes it would not print.
fn pot_plain(text: &str) -> Option<Zeroizing<String>> {
    match text.strip_prefix("$HEX[").and_then(|t| t.strip_suffix(']')) {
        Some(hex) => hex_plain(hex),
        None => Some(Zeroizing::new(text.to_owned())),
    }
}

/// Hex digits as a passphrase (hashcat's `$HEX[...]` and `--outfile-format 3`). Non-UTF-8 bytes
/// (a Latin-1 passphrase) become Latin-1 characters, which the export check also tries as
/// Latin-1 bytes.
fn hex_plain(hex: &str) -> Option<Zeroizing<String>> {
    if hex.is_empty() {
        return None;
    }
    let bytes = Zeroizing::new(mxkeys::encoding::hex_decode(hex)?);
    Some(Zeroizing::new(match std::str::from_utf8(&bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }))
}

/// What a line may hold after `HASH:`, most likely first. The potfile and hashcat's default
/// `--outfile-format 1,2` give the passphrase (or `$HEX[...]`); other formats add `:HEX` (3),
/// `:CRACK_POS` (4) and timestamps (5, 6), or give only the hex (`1,3`). Each reading is tried
/// against the target, whose check decides: a wrong reading costs one derivation and opens
/// nothing. A passphrase holding `:` is the first reading, whole.
fn pot_readings(rest: &str) -> Vec<Zeroizing<String>> {
    fn add(out: &mut Vec<Zeroizing<String>>, c: Option<Zeroizing<String>>) {
        if let Some(c) = c {
            if !out.iter().any(|o| **o == *c) {
                out.push(c);
            }
        }
    }
    let mut out = Vec::new();
    add(&mut out, pot_plain(rest));
    let mut fields: Vec<&str> = rest.split(':').collect();
    // Trailing numbers (crack position, timestamps): at most three.
    for _ in 0..3 {
        let numeric = fields
            .last()
            .is_some_and(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
        if fields.len() < 2 || !numeric {
            break;
        }
        fields.pop();
        add(&mut out, pot_plain(&fields.join(":")));
    }
    if let Some((last, before)) = fields.split_last() {
        add(&mut out, hex_plain(last));
        if !before.is_empty() {
            add(&mut out, pot_plain(&before.join(":")));
        }
    }
    out
}

fn confirm(a: ConfirmArgs, json: bool) -> Result<(), CliError> {
    // OUT is checked before any work, as the search does.
    drop(a.out.create(&[&a.target, &a.potfile])?);
    let (target, line) = line_of(&a.target, a.kind, a.key_id.as_deref(), &a.max)?;
    let ours = format!("{line}:");
    let file = File::open(&a.potfile)
        .map_err(|e| CliError::Input(format!("cannot read {}: {e}", a.potfile.display())))?;
    let mut reader = BufReader::new(file);
    let (mut hits, mut false_positives, mut n, mut other_versions) = (0u64, 0u64, 0u64, 0u64);
    let mut buf = Zeroizing::new(Vec::with_capacity(1024));
    loop {
        buf.clear();
        // A potfile line is a hash and a passphrase: 1 MiB is far past both.
        let read = (&mut reader)
            .take(1 << 20)
            .read_until(b'\n', &mut buf)
            .map_err(|e| CliError::Input(format!("cannot read {}: {e}", a.potfile.display())))?;
        if read == 0 {
            break;
        }
        n += 1;
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end_matches(['\n', '\r']);
        // John writes NAME:HASH:PLAIN in some outputs; hashcat HASH:PLAIN.
        let Some(at) = text.find(&ours) else {
            // A line of another layout version is named, not silently skipped.
            if let Some(start) = text.find(mxkeys::hashline::PREFIX) {
                let hash = text.get(start..).unwrap_or_default();
                let hash = hash.split(':').next().unwrap_or_default();
                if let Err(e @ mxkeys::hashline::HashlineError::Version(_)) = Hashline::parse(hash)
                {
                    other_versions += 1;
                    note(&format!("line {n} of {}: {e}", a.potfile.display()));
                }
            }
            continue;
        };
        let readings = pot_readings(text.get(at + ours.len()..).unwrap_or_default());
        if readings.is_empty() {
            continue;
        }
        hits += 1;
        if let Some(plain) = readings.into_iter().find(|p| target.check(p)) {
            let r = Reveal {
                out: &a.out,
                inputs: [&a.target, &a.potfile],
                at: format!("{} line {n}", a.potfile.display()),
                again: "rerun with -o FILE".into(),
                line: n,
            };
            if !json {
                note(&format!(
                    "line {n} of {} opens {}: confirmed",
                    a.potfile.display(),
                    a.target.display()
                ));
            }
            return reveal(&plain, &r, json);
        }
        false_positives += 1;
        note(&format!(
            "line {n} of {}: a false positive (its passphrase passes the hash line's check but does not open {})",
            a.potfile.display(),
            a.target.display()
        ));
    }
    if json {
        print_json(&json!({"found": false, "hits": hits, "false_positives": false_positives}))?;
    }
    Err(CliError::Reported(if hits == 0 && other_versions > 0 {
        format!(
            "no line of {} is for this target; {other_versions} are hash lines of another version (above): make the line with this mxkeys and search again",
            a.potfile.display()
        )
    } else if hits == 0 {
        format!(
            "no line of {} is for this target ({n} lines read; its hash line is {line}); keep searching",
            a.potfile.display()
        )
    } else {
        format!(
            "{false_positives} hits in {} are false positives, none opens {}; keep searching (hashcat --keep-guessing goes past a false positive)",
            a.potfile.display(),
            a.target.display()
        )
    }))
}

pub fn run_bench(cmd: BenchCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        BenchCmd::Kdf(a) => bench_kdf(a, json),
    }
}

/// `--threads` above this many per core only adds threads that wait: a search of 5000 threads
/// made no progress in 50 s (each chunk waits for all of them).
const THREADS_PER_CORE: usize = 4;

/// Longest a `bench kdf` measurement of one thread count may take (`--seconds`).
const BENCH_MAX_SECONDS: f64 = 3600.0;

/// `--seconds`: a finite number above 0 and at most an hour (`Duration::from_secs_f64` panics on
/// infinity, NaN, negatives and values past u64 seconds).
fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= BENCH_MAX_SECONDS => Ok(x),
        _ => Err(format!(
            "expected a number of seconds above 0 and at most {BENCH_MAX_SECONDS}, e.g. 3"
        )),
    }
}

/// What a target file is: its path, `--kind` and `--key-id`.
struct TargetSpec<'a> {
    target: &'a Path,
    kind: Option<Kind>,
    key_id: Option<&'a str>,
}

fn load_target(a: &TargetSpec<'_>, limits: &Limits) -> Result<Target, CliError> {
    let cannot =
        |e: io::Error| CliError::Input(format!("cannot read {}: {}", a.target.display(), e));
    // An export is known by its BEGIN line near the start; it is read whole (the MAC covers all
    // of it). Anything else is JSON that is small by nature, read under a size cap.
    let mut head = Vec::new();
    File::open(a.target)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(cannot)?;
    let export = match a.kind {
        Some(k) => matches!(k, Kind::Export),
        None => String::from_utf8_lossy(&head).contains(export::armor::BEGIN),
    };
    if export {
        let mut bytes = Vec::new();
        File::open(a.target)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(cannot)?;
        return Ok(Target::export(&bytes, limits)?);
    }
    let v = read_small_json(a.target, "account data or backup version")?;
    let kind = a.kind.unwrap_or_else(|| {
        let auth = v.get("auth_data").unwrap_or(&v);
        if auth.get("private_key_salt").is_some()
            || v.get("algorithm").and_then(|x| x.as_str()) == Some(mxkeys::backup::ALGORITHM)
        {
            Kind::Backup
        } else {
            Kind::Ssss
        }
    });
    Ok(match kind {
        Kind::Backup => Target::backup(&v, limits)?,
        Kind::Export | Kind::Ssss => Target::ssss(&AccountData::parse(&v)?, a.key_id, limits)?,
    })
}

fn parse_shard(s: &str) -> Result<(u64, u64), CliError> {
    let bad = || {
        CliError::Usage(format!(
            "--shard {s}: expected I/N with 1 <= I <= N, e.g. 2/4"
        ))
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// `--threads`, checked: 0 is refused, more than [`THREADS_PER_CORE`] per core is lowered.
fn thread_count(asked: Option<usize>) -> Result<usize, CliError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max = cores.saturating_mul(THREADS_PER_CORE);
    match asked {
        None => Ok(cores),
        Some(0) => Err(CliError::Usage("--threads must be at least 1".into())),
        Some(n) if n > max => {
            note(&format!(
                "--threads {n} is more than {THREADS_PER_CORE} per core ({cores} cores here) and would only wait; using {max}"
            ));
            Ok(max)
        }
        Some(n) => Ok(n),
    }
}

/// Which lines of the list this run tries: after `--skip`, in `--shard`.
struct Selection<'a> {
    list: &'a Path,
    skip: u64,
    shard: Option<(u64, u64)>,
}

impl Selection<'_> {
    fn name(&self) -> String {
        if self.list == Path::new("-") {
            "standard input".into()
        } else {
            self.list.display().to_string()
        }
    }

    fn tries(&self, n: u64) -> bool {
        n > self.skip && self.shard.is_none_or(|(i, k)| (n - 1) % k == i - 1)
    }

    /// The next line to try and its number; `resume` is the --skip that repeats no work done so
    /// far, for the error of a line too long. A long line that is not tried is passed over.
    fn next<R: BufRead>(
        &self,
        lines: &mut Candidates<R>,
        resume: u64,
    ) -> Result<Option<(u64, Zeroizing<String>)>, CliError> {
        loop {
            match lines.next_line() {
                Ok(Some(line)) if self.tries(lines.lines) => return Ok(Some((lines.lines, line))),
                Ok(Some(_)) => {}
                Ok(None) => return Ok(None),
                Err(CandidatesError::LineTooLong { line, .. }) if !self.tries(line) => {}
                Err(e @ CandidatesError::LineTooLong { .. }) => {
                    let next = if resume > self.skip {
                        format!("remove it, then resume with --skip {resume}")
                    } else {
                        "remove it and run again".into()
                    };
                    return Err(CliError::Input(format!(
                        "{}: {e}; is this the right list? {next}",
                        self.name()
                    )));
                }
                Err(e) => return Err(CliError::Input(format!("cannot read {}: {e}", self.name()))),
            }
        }
    }
}

/// Where the passphrase found is: its line in the list and, with --mutate, which of that line's
/// variations (1-based, of how many). Shown instead of the passphrase wherever that cannot be.
#[derive(Debug, Clone, Copy)]
struct Hit {
    line: u64,
    variation: Option<(usize, usize)>,
}

impl Hit {
    fn describe(&self) -> String {
        match self.variation {
            Some((i, n)) => format!(
                "candidate line {}, variation {i} of its {n} by --mutate",
                self.line
            ),
            None => format!("candidate line {}", self.line),
        }
    }
}

/// Where a passphrase that was found goes, and what reading it again needs.
struct Reveal<'a> {
    out: &'a OptionalOutputArgs,
    /// Files OUT must not be.
    inputs: [&'a Path; 2],
    /// Where it was found, for messages that cannot show it ("candidate line 34").
    at: String,
    /// What to run again to get it, when it cannot be shown or written.
    again: String,
    /// The line number, for --json.
    line: u64,
}

/// Write the passphrase to OUT. If that fails at the last moment (OUT appeared during the search,
/// the disk is full), the error says where the passphrase is, never the passphrase, so that no
/// search has to be run again from the start.
fn write_found(out: &Path, found: &str, r: &Reveal<'_>) -> Result<PathBuf, CliError> {
    let more = format!("; the passphrase was found at {}: {}", r.at, r.again);
    // OUT was checked before the search; this is someone else's file, made meanwhile.
    if !r.out.force && out.symlink_metadata().is_ok() {
        return Err(CliError::Usage(format!(
            "{} appeared during the search and was left alone{more}",
            out.display()
        )));
    }
    let written = (|| {
        let mut p = output::create(out, r.out.force, &r.inputs)?;
        p.write_all(found.as_bytes())?;
        p.write_all(b"\n")?;
        p.commit()
    })();
    written.map_err(|e| match e {
        CliError::Usage(m) => CliError::Usage(m + &more),
        CliError::Input(m) => CliError::Input(m + &more),
        CliError::Reported(m) => CliError::Reported(m + &more),
        CliError::Interrupted(m) => CliError::Interrupted(m + &more),
        CliError::Lib(e) => CliError::Input(format!("{e}{more}")),
    })
}

/// Show the passphrase found: -o, else stdout if a terminal, else the controlling terminal.
fn reveal(found: &str, r: &Reveal<'_>, json: bool) -> Result<(), CliError> {
    let (at, line) = (&r.at, r.line);
    if let Some(out) = &r.out.output {
        let path = write_found(out, found, r)?;
        if json {
            return print_json(
                &json!({"found": true, "line": line, "output": path.display().to_string()}),
            );
        }
        note(&format!("found it ({at}); written to {}", path.display()));
        return Ok(());
    }
    if io::stdout().is_terminal() && !json {
        outln!("{found}")?;
        note(&format!("found it ({at})"));
        return Ok(());
    }
    if let Ok(mut tty) = OpenOptions::new().write(true).open("/dev/tty") {
        if writeln!(tty, "passphrase: {found}").is_ok() {
            if json {
                return print_json(&json!({"found": true, "line": line, "shown_on": "terminal"}));
            }
            note(&format!("found it ({at}); shown on the terminal only"));
            return Ok(());
        }
    }
    Err(CliError::Usage(format!(
        "the passphrase was found at {at}, but there is no terminal to show it on and it is never printed to a pipe; {}",
        r.again
    )))
}

/// How a search that did not fail ended.
enum Ended {
    /// Found and shown, or nothing matched (reported).
    Done,
    /// Stopped with Ctrl-C; the --skip that resumes was printed.
    Interrupted,
}

fn search(a: SearchArgs, json: bool) -> Result<Ended, CliError> {
    if a.target == Path::new("-") {
        return Err(CliError::Usage(
            "TARGET must be a file; - is for --candidates".into(),
        ));
    }
    // Refuse an existing -o now, not after hours of searching.
    drop(a.out.create(&[&a.target, &a.candidates])?);
    let shard = a.shard.as_deref().map(parse_shard).transpose()?;
    let threads = thread_count(a.threads)?;
    let sel = Selection {
        list: &a.candidates,
        skip: a.skip,
        shard,
    };
    let limits = a.max.limits();
    let target = load_target(
        &TargetSpec {
            target: &a.target,
            kind: a.kind,
            key_id: a.key_id.as_deref(),
        },
        &limits,
    )?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| CliError::Input(format!("cannot start {threads} threads: {e}")))?;
    let regular = std::fs::metadata(&a.candidates).is_ok_and(|m| m.is_file());
    let total_lines = if a.candidates == Path::new("-") || !regular {
        // A pipe can be read only once: no line count, no ETA.
        None
    } else {
        let f = File::open(&a.candidates).map_err(|e| {
            CliError::Usage(format!(
                "--candidates: cannot open {}: {}",
                a.candidates.display(),
                e
            ))
        })?;
        // Counting also finds a line too long before any derivation is paid for.
        let mut count = Candidates::new(BufReader::new(f));
        while sel.next(&mut count, a.skip)?.is_some() {}
        Some(count.lines)
    };
    let reader: Box<dyn BufRead> = if a.candidates == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        Box::new(BufReader::new(File::open(&a.candidates)?))
    };
    let mut lines = Candidates::new(reader);
    let progress = Arc::new(Progress::default());
    interrupt::set_search(progress.clone());
    if !json {
        note(&format!(
            "searching {}; {threads} threads",
            target.describe()
        ));
    }
    // Until the first chunk is done there is no rate and no ETA: a spinner says what is under
    // way; then the bar shows lines, candidates tried, the rate and (with a known length) the
    // ETA.
    let style = |template: &str| {
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    };
    let running = match total_lines {
        Some(_) => style("{bar:30} {pos}/{len} lines, {msg} [{elapsed_precise}, eta {eta}]"),
        None => style("{spinner} {pos} lines, {msg} [{elapsed_precise}]"),
    };
    let bar = (io::stderr().is_terminal()).then(|| {
        let pb = match total_lines {
            Some(n) => indicatif::ProgressBar::new(n.saturating_sub(a.skip)),
            None => indicatif::ProgressBar::new_spinner(),
        };
        pb.set_style(style("{spinner} {msg} [{elapsed_precise}]"));
        pb.set_message("trying the first candidates (no rate yet)");
        pb.enable_steady_tick(std::time::Duration::from_millis(250));
        pb
    });
    let mut first_chunk = true;
    let start = Instant::now();
    // One full group of SIMD lanes per thread per chunk: a part-filled group costs as much as a
    // full one (4 candidates in the 8 AVX-512 lanes ran at half speed), and a chunk is also how
    // often Ctrl-C and the progress bar are seen (a group at 500000 rounds takes about 0.3 s).
    let chunk_target = threads * Engine::fastest().lanes();
    let mut lines_done = a.skip;
    let mut chunk: Vec<Zeroizing<String>> = Vec::with_capacity(chunk_target * 2);
    let mut origin: Vec<Hit> = Vec::with_capacity(chunk_target * 2);
    let mut found = None;
    let mut eof = false;
    while found.is_none() && !eof {
        chunk.clear();
        origin.clear();
        while chunk.len() < chunk_target {
            let Some((n, line)) = sel.next(&mut lines, lines_done)? else {
                eof = true;
                break;
            };
            if a.mutate {
                let variations = search::mutations(&line);
                let of = variations.len();
                for (i, m) in variations.into_iter().enumerate() {
                    chunk.push(m);
                    origin.push(Hit {
                        line: n,
                        variation: Some((i + 1, of)),
                    });
                }
            } else {
                chunk.push(line);
                origin.push(Hit {
                    line: n,
                    variation: None,
                });
            }
        }
        let last_line = lines.lines;
        if let Some(pos) = pool.install(|| search::search_chunk(&target, &chunk, &progress)) {
            found = chunk.get(pos).cloned().zip(origin.get(pos).copied());
            break;
        }
        if progress.cancel.load(Ordering::SeqCst) {
            if let Some(pb) = &bar {
                pb.abandon();
            }
            let resume = origin
                .first()
                .map_or(lines_done, |first| first.line.saturating_sub(1));
            stderr!(
                "stopped after {} candidates; resume with --skip {resume}",
                progress.tried.load(Ordering::Relaxed)
            );
            return Ok(Ended::Interrupted);
        }
        lines_done = last_line;
        if let Some(pb) = &bar {
            if first_chunk {
                pb.set_style(running.clone());
                first_chunk = false;
            }
            pb.set_position(lines_done.saturating_sub(a.skip));
            let tried = progress.tried.load(Ordering::Relaxed);
            pb.set_message(format!(
                "{tried} candidates tried, {:.1}/s",
                tried as f64 / start.elapsed().as_secs_f64().max(1e-9)
            ));
        }
    }
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    let tried = progress.tried.load(Ordering::Relaxed);
    if lines.skipped_non_utf8 > 0 {
        stderr!(
            "warning: {} lines were not UTF-8 and were skipped",
            lines.skipped_non_utf8
        );
    }
    if found.is_none() && tried == 0 {
        let list = a.candidates.display();
        return Err(CliError::Input(if a.skip > 0 && lines.lines <= a.skip {
            format!(
                "--skip {} is past the end of {list} ({} lines); nothing was tried",
                a.skip, lines.lines
            )
        } else {
            format!("{list} holds no candidates to try (it is empty, or no line is UTF-8 text)")
        }));
    }
    match found {
        Some((pass, hit)) => {
            let r = Reveal {
                out: &a.out,
                inputs: [&a.target, &a.candidates],
                at: hit.describe(),
                again: format!("rerun with -o FILE --skip {}", hit.line.saturating_sub(1)),
                line: hit.line,
            };
            reveal(&pass, &r, json).map(|()| Ended::Done)
        }
        None => {
            if json {
                print_json(&json!({"found": false, "tried": tried, "lines": lines_done}))?;
            }
            // The MAC covers the whole file: one changed byte looks like a wrong passphrase.
            let damaged = match target {
                Target::Export { .. } => {
                    "; a damaged file fails the same way, so compare it with the sender's copy"
                }
                _ => "",
            };
            // The hint fits what was given: --mutate is suggested only when it was not used.
            let next = if a.mutate {
                "try a longer list"
            } else {
                "add --mutate, or a longer list"
            };
            Err(CliError::Input(format!(
                "none of the {tried} candidates ({} lines) opened the target; {next}{damaged}",
                lines_done.saturating_sub(a.skip)
            )))
        }
    }
}

fn bench_kdf(a: BenchKdfArgs, json: bool) -> Result<(), CliError> {
    let rounds = Rounds::new(a.rounds, u32::MAX)
        .map_err(|_| CliError::Usage("--rounds must be at least 1".into()))?;
    // What a search runs: groups of `lanes` candidates on the fastest engine of this CPU.
    let engine = if a.single {
        Engine::Scalar
    } else {
        Engine::fastest()
    };
    let how = match engine {
        Engine::Avx512x16 => "AVX-512, 16 candidates at once per thread",
        Engine::Avx512x8 => "AVX-512, 8 candidates at once per thread",
        Engine::Avx2x8 => "AVX2, 8 candidates at once per thread",
        Engine::Avx2x4 => "AVX2, 4 candidates at once per thread",
        Engine::Scalar if a.single => "one derivation at a time, as when decrypting a file",
        Engine::Scalar | Engine::Portable => {
            "one derivation at a time (no SIMD engine on this CPU)"
        }
    };
    let max = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rows = Vec::new();
    if !json {
        outln!("PBKDF2-HMAC-SHA-512 at {} rounds: {how}", rounds.get())?;
    }
    for threads in 1..=max {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| CliError::Input(format!("cannot start threads: {e}")))?;
        let budget = Duration::from_secs_f64(a.seconds.max(0.1));
        let start = Instant::now();
        let done: u64 = pool.install(|| {
            use rayon::prelude::*;
            (0..threads)
                .into_par_iter()
                .map(|t| {
                    let words: Vec<Vec<u8>> = (0..engine.lanes())
                        .map(|i| format!("benchmark {t} {i}").into_bytes())
                        .collect();
                    let batch: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
                    let mut n = 0u64;
                    while start.elapsed() < budget {
                        let keys = if a.single {
                            vec![kdf::pbkdf2_sha512::<64>(
                                b"benchmark",
                                &[t as u8; 16],
                                rounds,
                            )]
                        } else {
                            kdf::pbkdf2_sha512_batch::<64>(&batch, &[t as u8; 16], rounds)
                        };
                        n += keys.len() as u64;
                    }
                    n
                })
                .sum()
        });
        let secs = start.elapsed().as_secs_f64();
        let per_s = done as f64 / secs;
        rows.push(json!({"threads": threads, "derivations_per_s": per_s, "rounds_per_s": per_s * f64::from(rounds.get())}));
        if !json {
            outln!(
                "{threads} thread{}: {per_s:.2} candidates/s ({:.2} M rounds/s)",
                if threads == 1 { "" } else { "s" },
                per_s * f64::from(rounds.get()) / 1e6
            )?;
        }
    }
    if json {
        return print_json(
            &json!({"rounds": rounds.get(), "engine": format!("{engine:?}"), "single": a.single, "results": rows}),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn readings(rest: &str) -> Vec<String> {
        pot_readings(rest)
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect()
    }

    #[test]
    fn a_pot_line_is_read_whole_first_then_as_each_outfile_format() {
        // A passphrase holding ':' and digits is the first reading, whole.
        assert_eq!(readings("a:b:17")[0], "a:b:17");
        assert!(readings("a:b:17").contains(&"a:b".to_owned()));
        // 1,2,3: the plain before the hex, and the hex decoded.
        let r = readings("pass:70617373");
        assert_eq!(r[0], "pass:70617373");
        assert!(r.contains(&"pass".to_owned()));
        // 1,3,4: the hex before a crack position.
        assert!(readings("70617373:17").contains(&"pass".to_owned()));
        // $HEX[...] decoded; no duplicates.
        assert_eq!(readings("$HEX[70617373]"), ["pass"]);
        // An invalid $HEX[...] gives no reading.
        assert!(readings("$HEX[zz]").is_empty());
    }
}
