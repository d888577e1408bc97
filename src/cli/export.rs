//! `mxkeys export ...`: inspect, decrypt, encrypt and re-encrypt room-key export files.

use std::collections::HashSet;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand};
use serde_json::json;

use mxkeys::encoding::encode_unpadded;
use mxkeys::export::{self, CounterReading, Expect, Limits};
use mxkeys::kdf::Rounds;
use mxkeys::session::{self, SessionRecord, Summary};
use mxkeys::{Passphrase, SecretBuf};
use zeroize::Zeroizing;

use super::common::{
    export_writer, new_passphrase, open_verified, open_verified_for, output_arg, report_written,
    summary_json, write_rounds, written_json, MaxRounds, OptionalOutputArgs, OutputArgs,
    PassphraseArgs,
};
use super::inputs::in_file;
use super::io::{note, open_input, open_once, print_json, warn, Tee};
use super::secrets::{self, SecretSpec};
use super::{output, CliError};

const INSPECT_ABOUT: &str =
    "Show what an export file holds without its passphrase: version, PBKDF2 \
rounds, salt, IV, size, how the armor looks, which client most likely wrote it, and how long the \
key derivation will take here.";

const INSPECT_AFTER: &str = "\
FILE is a room-key export: the text between -----BEGIN MEGOLM SESSION DATA----- and -----END MEGOLM
SESSION DATA----- that Element (Settings > Security & Privacy > Export E2E room keys), matrix-nio
or matrix-rust-sdk write. - reads standard input. No passphrase is asked for.

Examples:
  mxkeys export inspect element-keys.txt
  mxkeys export inspect element-keys.txt --json | jq .rounds

Exit codes:
  0  the header was read and nothing in it stops a client; notes (rounds below the spec's
     minimum) are listed as problems
  1  no client can decrypt the file as it is: no armor, a character that is not base64, too short
     to hold a MAC, unreadable; or the report is printed and lists a fatal problem (an unknown
     version, 0 rounds, rounds above the limit 5000000), which the error line repeats
  2  usage: bad arguments";

const DECRYPT_AFTER: &str = "\
FILE is an export file (- for standard input). The passphrase comes from --passphrase-file (first
line), else MXKEYS_PASSPHRASE, else a prompt without echo.

The HMAC is checked over the whole file before anything is decrypted. Output is the JSON array of
sessions exactly as the exporting client wrote it (--pretty re-indents it):
  [{\"algorithm\": \"m.megolm.v1.aes-sha2\", \"room_id\": \"!room:example.org\", \"sender_key\": \"...\",
    \"session_id\": \"...\", \"session_key\": \"...\", \"sender_claimed_keys\": {\"ed25519\": \"...\"},
    \"forwarding_curve25519_key_chain\": []}, ...]
Without -o it goes to standard output. It is your message keys in plain text: keep it safe.
A plaintext that is not such an array is refused, and nothing is written. --raw writes the
plaintext as it is, unchecked (Element's own test files hold strings such as \"Hello, World\").

Counter: Element uses a 64-bit AES-CTR counter, Go and PyCryptodome a 128-bit one. They read a
file differently only when the low 64 bits of its IV overflow before its end (bit 63 of the IV
set: clients clear it, but Element's tests hold such a file). mxkeys then tries Element's reading
first, then the 128-bit one, keeps the one that is sessions (with --raw: UTF-8 text), and says
which in a note (with --json: \"counter\").

Examples:
  mxkeys export decrypt element-keys.txt -o keys.json
  mxkeys export decrypt element-keys.txt --passphrase-file pass.txt --pretty | less
  mxkeys export decrypt element-keys.txt | jq length      # asks for the passphrase
  mxkeys export decrypt test-vector.txt --raw -o plaintext.txt

Exit codes:
  0    decrypted
  1    wrong passphrase or changed file (MAC mismatch), malformed export, plaintext not a JSON
       array of sessions (without --raw), rounds above --max-rounds, unreadable file
  2    usage: bad arguments, no passphrase (no --passphrase-file, no MXKEYS_PASSPHRASE, no
       terminal), OUT exists (add --force)
  130  stopped with Ctrl-C; OUT is not created";

const ENCRYPT_AFTER: &str = "\
SESSIONS.json is a JSON array of session objects, what `export decrypt` and `backup decrypt` print:
  [{\"algorithm\": \"m.megolm.v1.aes-sha2\", \"room_id\": \"...\", \"session_id\": \"...\",
    \"session_key\": \"...\", \"sender_key\": \"...\", ...}, ...]
Its bytes are encrypted as they are: unknown fields keep their values and order. The passphrase of
the new file comes from --passphrase-file, else MXKEYS_PASSPHRASE, else a prompt (asked twice). A
fresh random salt and IV are used; the output uses Element Web's layout, which every client
imports.

Examples:
  mxkeys export encrypt keys.json -o element-keys.txt
  mxkeys export encrypt keys.json -o element-keys.txt --passphrase-file pass.txt --rounds 500000

Exit codes:
  0    written
  1    SESSIONS.json is not a JSON array of objects, or cannot be read
  2    usage: bad arguments, --rounds 0 or above --max-rounds, no passphrase or an empty one, OUT
       exists (add --force)
  130  stopped with Ctrl-C; OUT is not created";

const REENCRYPT_AFTER: &str = "\
FILE is an export file (- for standard input). Asks for the old passphrase (--passphrase-file /
MXKEYS_PASSPHRASE / prompt) and the new one (--new-passphrase-file / MXKEYS_NEW_PASSPHRASE /
prompt, asked twice). The plaintext never touches the disk. Use it to fix a file that only mxkeys
opens (matrix-nio's Latin-1 passphrase bug) or to change the rounds.

Examples:
  mxkeys export reencrypt old-keys.txt -o new-keys.txt
  mxkeys export reencrypt old-keys.txt -o new-keys.txt \\
      --passphrase-file old-pass.txt --new-passphrase-file new-pass.txt

Exit codes:
  0    written
  1    wrong old passphrase or changed file (MAC mismatch), malformed export, rounds above
       --max-rounds, unreadable file
  2    usage: bad arguments, a passphrase missing or the new one empty, OUT exists (add --force)
  130  stopped with Ctrl-C; OUT is not created";

#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// Show an export's header and layout; no passphrase needed.
    #[command(long_about = INSPECT_ABOUT, after_help = INSPECT_AFTER)]
    Inspect {
        /// The export file (- for standard input).
        file: PathBuf,
        /// Decrypt too, for a surer guess of the writer.
        #[arg(long, value_name = "PATH")]
        passphrase_file: Option<PathBuf>,
    },
    /// Decrypt an export to its JSON array of sessions.
    #[command(after_help = DECRYPT_AFTER)]
    Decrypt(DecryptArgs),
    /// Encrypt a JSON array of sessions into an export file.
    #[command(after_help = ENCRYPT_AFTER)]
    Encrypt(EncryptArgs),
    /// Change an export's passphrase or rounds (no plaintext on disk).
    #[command(after_help = REENCRYPT_AFTER)]
    Reencrypt(ReencryptArgs),
    /// Check every session: fields, key, signature, id, duplicates.
    #[command(after_help = super::sessions::VALIDATE_AFTER)]
    Validate(super::sessions::ValidateArgs),
    /// Merge exports and JSON files: the best copy of each session.
    #[command(after_help = super::sessions::MERGE_AFTER)]
    Merge(super::sessions::MergeArgs),
    /// Split an export into parts a client imports one after another.
    #[command(after_help = super::split::SPLIT_AFTER)]
    Split(super::split::SplitArgs),
    /// Rewrite an export so every known reader accepts it.
    #[command(after_help = super::sessions::NORMALIZE_AFTER)]
    Normalize(super::sessions::NormalizeArgs),
    /// Keep a subset of the sessions (by room, sender, algorithm).
    #[command(after_help = super::sessions::FILTER_AFTER)]
    Filter(super::sessions::FilterArgs),
    /// A table per room: sessions, lowest first index, senders.
    #[command(after_help = super::sessions::LIST_AFTER)]
    List(super::sessions::ListArgs),
}

#[derive(Debug, Args)]
#[command(mut_args(output_arg(|a| a.help("Write the sessions here (mode 0600)"))))]
pub struct DecryptArgs {
    /// The export file (- for standard input).
    file: PathBuf,
    #[command(flatten)]
    out: OptionalOutputArgs,
    /// Re-indent the JSON (values and key order kept).
    #[arg(long)]
    pretty: bool,
    /// Write the plaintext as it is, unchecked.
    ///
    /// Without it, a plaintext that is not a JSON array of sessions is refused.
    #[arg(long, conflicts_with = "pretty")]
    raw: bool,
    #[command(flatten)]
    pass: PassphraseArgs,
    #[command(flatten)]
    max: MaxRounds,
}

#[derive(Debug, Args)]
#[command(mut_args(output_arg(|a| a.help("The export file to write"))))]
pub struct EncryptArgs {
    /// JSON array of sessions (- for standard input).
    sessions: PathBuf,
    #[command(flatten)]
    out: OutputArgs,
    /// PBKDF2 rounds (spec: 100000+).
    #[arg(long, value_name = "N", default_value_t = export::DEFAULT_ROUNDS)]
    rounds: u32,
    /// The new file's passphrase file (first line; - for stdin).
    #[arg(long, value_name = "PATH", alias = "passphrase-file")]
    new_passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    max: MaxRounds,
}

#[derive(Debug, Args)]
#[command(mut_args(output_arg(|a| a.help("The new export file"))))]
pub struct ReencryptArgs {
    /// The export file (- for standard input).
    file: PathBuf,
    #[command(flatten)]
    out: OutputArgs,
    /// PBKDF2 rounds of the new file.
    #[arg(long, value_name = "N", default_value_t = export::DEFAULT_ROUNDS)]
    rounds: u32,
    #[command(flatten)]
    pass: PassphraseArgs,
    /// New passphrase file (first line; - for stdin).
    #[arg(long, value_name = "PATH")]
    new_passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    max: MaxRounds,
}

pub fn run(cmd: ExportCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        ExportCmd::Inspect {
            file,
            passphrase_file,
        } => inspect(&file, passphrase_file.as_deref(), json),
        ExportCmd::Decrypt(a) => decrypt(a, json),
        ExportCmd::Encrypt(a) => encrypt(a, json),
        ExportCmd::Reencrypt(a) => reencrypt(a, json),
        ExportCmd::Validate(a) => super::sessions::validate(a, json),
        ExportCmd::Merge(a) => super::sessions::merge_cmd(a, json),
        ExportCmd::Split(a) => super::split::split(a, json),
        ExportCmd::Normalize(a) => super::sessions::normalize(a, json),
        ExportCmd::Filter(a) => super::sessions::filter(a, json),
        ExportCmd::List(a) => super::sessions::list(a, json),
    }
}

pub(super) fn stdin_once(paths: &[Option<&Path>]) -> Result<(), CliError> {
    let dash = paths.iter().filter(|p| *p == &Some(Path::new("-"))).count();
    if dash > 1 {
        return Err(CliError::Usage(
            "standard input (-) can feed only one of the input file and the passphrase files"
                .into(),
        ));
    }
    Ok(())
}

pub(super) fn old_passphrase(pass: &PassphraseArgs, file: &Path) -> Result<Passphrase, CliError> {
    secrets::read(&SecretSpec {
        file: pass.passphrase_file.as_deref(),
        file_flag: "--passphrase-file",
        env: "MXKEYS_PASSPHRASE",
        prompt: format!("Passphrase for {}: ", file.display()),
        confirm: false,
    })
}

fn inspect(file: &Path, pass_file: Option<&Path>, json: bool) -> Result<(), CliError> {
    let src = open_input(file)?;
    let i = export::inspect(src)?;
    let mut guess = export::guess_writer(&i);
    // With a passphrase, the plaintext's layout adds its evidence. Only from a file: inspect
    // never asks, and never takes MXKEYS_PASSPHRASE unbidden.
    if let Some(pf) = pass_file {
        if file == Path::new("-") {
            return Err(CliError::Usage(
                "--passphrase-file needs the export as a file, not standard input".into(),
            ));
        }
        let pass = secrets::read(&SecretSpec {
            file: Some(pf),
            file_flag: "--passphrase-file",
            env: "MXKEYS_INSPECT_HAS_NO_VARIABLE",
            prompt: String::new(),
            confirm: false,
        })?;
        let text = Zeroizing::new(
            std::fs::read(file)
                .map_err(|e| CliError::Input(format!("cannot read {}: {e}", file.display())))?,
        );
        let d = export::decrypt_raw(&text, &pass, &Limits::default())?;
        guess = export::refine_with_plaintext(guess, &d.plaintext);
    }
    let h = &i.header;
    let mut problems = Vec::new();
    // Fatal: no client decrypts the file as it is. The report is still printed, then exit 1.
    let fatal = h.check(&Limits::default()).err().map(|e| e.to_string());
    problems.extend(fatal.clone());
    if h.version == 1 && h.rounds > 0 && h.rounds < export::SPEC_MIN_ROUNDS {
        problems.push(format!(
            "{} rounds is below the spec's minimum of {}: the passphrase is cheaper to guess",
            h.rounds,
            export::SPEC_MIN_ROUNDS
        ));
    }
    let estimate = estimate_seconds(h.rounds);
    if json {
        return print_json(&json!({
            "file": file.display().to_string(),
            "version": h.version,
            "rounds": h.rounds,
            "salt": encode_unpadded(&h.salt),
            "iv": encode_unpadded(&h.iv),
            "iv_bit63_clear": h.iv_bit63_clear(),
            "mac": encode_unpadded(&i.mac),
            "ciphertext_len": i.ciphertext_len,
            "armor": i.armor,
            "writer": guess,
            "estimated_derive_seconds": estimate,
            "problems": problems,
            "fatal": fatal.is_some(),
        }))
        .and_then(|()| fatal_report(fatal));
    }
    let a = &i.armor;
    let mut layout = Vec::new();
    if a.body_lines == 1 {
        layout.push("one line".to_string());
    } else {
        layout.push(format!(
            "{} lines of {} characters{}",
            a.body_lines,
            a.first_line_width,
            if a.uniform_width { "" } else { " (uneven)" }
        ));
    }
    layout.push(if a.crlf_lines > 0 {
        "CRLF".into()
    } else {
        "LF".into()
    });
    layout.push(if a.final_newline {
        "final newline".into()
    } else {
        "no final newline".into()
    });
    layout.push(if a.padded {
        "padded".into()
    } else {
        "unpadded".into()
    });
    for (cond, what) in [
        (a.inner_padding, "padding inside the body"),
        (a.blank_lines > 0, "blank lines"),
        (a.indented_lines > 0, "indented lines"),
        (a.text_before, "text before BEGIN"),
        (a.text_after, "text after END"),
    ] {
        if cond {
            layout.push(what.into());
        }
    }
    let mut out = super::stdout::out();
    writeln!(out, "file:          {}", file.display())?;
    writeln!(
        out,
        "format:        Matrix room-key export, version {}",
        h.version
    )?;
    writeln!(
        out,
        "kdf:           PBKDF2-HMAC-SHA512, {} rounds",
        h.rounds
    )?;
    writeln!(out, "salt:          {}", encode_unpadded(&h.salt))?;
    writeln!(
        out,
        "iv:            {} (bit 63 {})",
        encode_unpadded(&h.iv),
        if h.iv_bit63_clear() { "clear" } else { "set" }
    )?;
    writeln!(out, "ciphertext:    {} bytes of JSON", i.ciphertext_len)?;
    writeln!(out, "mac:           {}", encode_unpadded(&i.mac))?;
    writeln!(out, "armor:         {}", layout.join(", "))?;
    writeln!(out, "likely writer: {}", guess.writer)?;
    for e in &guess.evidence {
        writeln!(out, "               - {e}")?;
    }
    if let Some(s) = estimate {
        writeln!(out, "derive time:   about {s:.2} s on this machine")?;
    }
    for p in &problems {
        writeln!(out, "problem:       {p}")?;
    }
    fatal_report(fatal)
}

/// The exit of a report that is complete: 1 with what is fatal, if anything is.
fn fatal_report(fatal: Option<String>) -> Result<(), CliError> {
    fatal.map_or(Ok(()), |f| {
        Err(CliError::Reported(format!(
            "the file cannot be decrypted as it is: {f}"
        )))
    })
}

/// Time a short derivation and scale it to `rounds`. None when the rounds are out of bounds.
fn estimate_seconds(rounds: u32) -> Option<f64> {
    if rounds == 0 || rounds > export::DEFAULT_MAX_ROUNDS {
        return None;
    }
    let probe = rounds.min(20_000);
    let r = Rounds::new(probe, probe).ok()?;
    let start = Instant::now();
    let _ = mxkeys::kdf::pbkdf2_sha512::<64>(b"calibration", &[0u8; 16], r);
    let secs = start.elapsed().as_secs_f64() * f64::from(rounds) / f64::from(probe);
    Some((secs * 100.0).round() / 100.0)
}

/// Stream the plaintext into `out`, checking the JSON on the way. Verbatim by default; with
/// `pretty`, each session is re-serialized (values and key order kept).
fn copy_sessions<R: Read>(
    plain: R,
    out: &mut dyn Write,
    pretty: bool,
) -> Result<Summary, CliError> {
    if !pretty {
        let tee = Tee { inner: plain, out };
        // session::scan buffers (and wipes) its input itself.
        return Ok(session::scan(tee, "decrypted export", |_| Ok(()))?);
    }
    let mut rooms = HashSet::new();
    let mut first = true;
    let mut buf = SecretBuf::with_capacity(16 * 1024);
    out.write_all(b"[")?;
    let n = session::for_each(plain, "decrypted export", |s: SessionRecord| {
        if let Some(r) = &s.room_id {
            rooms.insert(r.clone());
        }
        buf.clear();
        session::to_writer_pretty(&mut buf, &s)?;
        out.write_all(if first { b"\n  " } else { b",\n  " })?;
        first = false;
        // JSON strings cannot hold raw line breaks, so indenting after each one is safe.
        for (i, line) in buf.expose().split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                out.write_all(b"\n  ")?;
            }
            out.write_all(line)?;
        }
        Ok(())
    })?;
    out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
    Ok(Summary {
        sessions: n,
        rooms: rooms.len() as u64,
    })
}

/// Copy the plaintext into `out` as it is; the number of bytes.
fn copy_raw<R: Read>(mut plain: R, out: &mut dyn Write) -> Result<u64, CliError> {
    let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
    let mut total = 0u64;
    loop {
        let n = match plain.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        out.write_all(buf.get(..n).unwrap_or_default())?;
        total += n as u64;
    }
}

/// What `export decrypt` wrote.
enum Copied {
    Sessions(Summary),
    Raw(u64),
}

impl Copied {
    fn describe(&self) -> String {
        match self {
            Copied::Sessions(sum) => format!("{} sessions in {} rooms", sum.sessions, sum.rooms),
            Copied::Raw(n) => format!("{n} bytes as they are (not checked as JSON)"),
        }
    }
}

/// A plaintext that is not sessions: say what --raw does.
fn raw_hint(e: CliError) -> CliError {
    match e {
        CliError::Lib(e @ mxkeys::Error::Json { .. }) => CliError::Input(format!(
            "{e}; nothing was written (add --raw to write the plaintext as it is)"
        )),
        other => other,
    }
}

/// Say which counter decrypted a file whose IV's low 64 bits overflow (nothing otherwise). When
/// neither reading is sessions, the JSON check that follows fails with its own `error:` line, so
/// only `--raw` warns.
fn note_counter(counter: CounterReading, raw: bool) {
    const FIX: &str = "`mxkeys export reencrypt` makes a copy that every client reads";
    match counter {
        CounterReading::Agreed => {}
        CounterReading::Wrap64 => note(&format!(
            "the low 64 bits of this file's IV overflow before its end; it was read with a 64-bit \
             AES-CTR counter that wraps within them, as Element writes; readers with a 128-bit \
             counter (matrix-nio, matrix-rust-sdk) get garbage after the overflow: {FIX}"
        )),
        CounterReading::Full128 => note(&format!(
            "the low 64 bits of this file's IV overflow before its end; it was read with a 128-bit \
             AES-CTR counter that carries into the high half (Go, PyCryptodome); Element gets \
             garbage after the overflow: {FIX}"
        )),
        CounterReading::Neither if raw => warn(
            "the low 64 bits of this file's IV overflow before its end, and neither a 64-bit \
             AES-CTR counter (Element) nor a 128-bit one gives UTF-8 text; Element's 64-bit \
             reading follows",
        ),
        CounterReading::Neither => {}
    }
}

fn decrypt(a: DecryptArgs, json: bool) -> Result<(), CliError> {
    stdin_once(&[Some(&a.file), a.pass.passphrase_file.as_deref()])?;
    let mut pending = a.out.create(&[&a.file])?;
    let src = open_input(&a.file)?;
    let pass = old_passphrase(&a.pass, &a.file)?;
    let limits = a.max.limits();
    let verified = open_verified(&a.file, src, &pass, &limits)?;
    let encoding = verified.passphrase_encoding();
    let rounds = verified.header().rounds;
    let plain = verified.into_plaintext_expecting(if a.raw {
        Expect::Utf8
    } else {
        Expect::Sessions
    })?;
    let counter = plain.counter();
    note_counter(counter, a.raw);
    let copy = |out: &mut dyn Write| -> Result<Copied, CliError> {
        if a.raw {
            copy_raw(plain, out).map(Copied::Raw)
        } else {
            copy_sessions(plain, out, a.pretty)
                .map(Copied::Sessions)
                .map_err(raw_hint)
        }
    };
    match pending.as_mut() {
        Some(p) => {
            let copied = copy(p)?;
            let path = pending.map(output::PendingOutput::commit).transpose()?;
            let path = path.unwrap_or_default();
            if json {
                let extra = json!({
                    "rounds": rounds,
                    "passphrase_encoding": encoding,
                    "counter": counter,
                });
                print_json(&match &copied {
                    Copied::Sessions(sum) => summary_json(&path, sum, extra),
                    Copied::Raw(n) => written_json(&path, json!({ "bytes": n }), extra),
                })?;
            } else {
                stderr!("decrypted {} to {}", copied.describe(), path.display());
            }
        }
        None => {
            let stdout = super::stdout::out();
            let mut w = BufWriter::with_capacity(64 * 1024, stdout);
            let copied = copy(&mut w)?;
            w.flush()?;
            // Held output goes out only after this same check (see `stdout::release`); making
            // it here too keeps the summary below from claiming a success that is not one.
            super::io::inputs_unchanged()?;
            if !json {
                stderr!("decrypted {}", copied.describe());
            }
        }
    }
    Ok(())
}

fn encrypt(a: EncryptArgs, json: bool) -> Result<(), CliError> {
    stdin_once(&[Some(&a.sessions), a.new_passphrase_file.as_deref()])?;
    let rounds = write_rounds(a.rounds, a.max.max_rounds)?;
    let mut pending = a.out.create(&[&a.sessions])?;
    let input = open_once(&a.sessions, "the input file")?.reader;
    // MXKEYS_NEW_PASSPHRASE names the passphrase of a file being written; MXKEYS_PASSPHRASE,
    // what this command read before, is still taken when it is the only one set.
    let env = if std::env::var_os("MXKEYS_NEW_PASSPHRASE").is_none()
        && std::env::var_os("MXKEYS_PASSPHRASE").is_some()
    {
        "MXKEYS_PASSPHRASE"
    } else {
        "MXKEYS_NEW_PASSPHRASE"
    };
    let pass = new_passphrase(
        a.new_passphrase_file.as_deref(),
        "--new-passphrase-file",
        env,
    )?;
    let mut writer = export_writer(&mut pending, &pass, rounds)?;
    let sum = session::scan(
        Tee {
            inner: input,
            out: &mut writer,
        },
        "input",
        |_| Ok(()),
    )
    .map_err(in_file(&a.sessions, false))?;
    writer.finish()?;
    let path = pending.commit()?;
    report_written(&path, &sum, rounds, json)
}

fn reencrypt(a: ReencryptArgs, json: bool) -> Result<(), CliError> {
    stdin_once(&[
        Some(&a.file),
        a.pass.passphrase_file.as_deref(),
        a.new_passphrase_file.as_deref(),
    ])?;
    let rounds = write_rounds(a.rounds, a.max.max_rounds)?;
    let mut pending = a.out.create(&[&a.file])?;
    let src = open_input(&a.file)?;
    let old = old_passphrase(&a.pass, &a.file)?;
    let limits = a.max.limits();
    let verified = open_verified_for(&a.file, src, &old, &limits, true)?;
    drop(old);
    let new = new_passphrase(
        a.new_passphrase_file.as_deref(),
        "--new-passphrase-file",
        "MXKEYS_NEW_PASSPHRASE",
    )?;
    let mut writer = export_writer(&mut pending, &new, rounds)?;
    let plain = verified.into_plaintext()?;
    note_counter(plain.counter(), false);
    let sum = session::scan(
        Tee {
            inner: plain,
            out: &mut writer,
        },
        "decrypted export",
        |_| Ok(()),
    )?;
    writer.finish()?;
    let path = pending.commit()?;
    report_written(&path, &sum, rounds, json)
}
