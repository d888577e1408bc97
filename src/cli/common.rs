//! What several commands share: their common options (a passphrase file, the rounds limit, an
//! output file), the steps of writing an export (a new passphrase, its rounds, fresh nonces, the
//! writer) and of opening one (the HMAC check), and the report of what was written. Command
//! files import from here; nothing here imports a command file.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Arg, Args};
use serde_json::{json, Value};

use mxkeys::export::{self, ExportWriter, Limits, Nonces, PassphraseEncoding};
use mxkeys::kdf::Rounds;
use mxkeys::session::Summary;
use mxkeys::Passphrase;

use super::io::{note, print_json, spinner, warn, Source};
use super::secrets::{self, SecretSpec};
use super::{output, CliError};

/// Where a command's secret comes from, besides the environment and the prompt.
#[derive(Debug, Clone, Args)]
pub struct PassphraseArgs {
    /// Passphrase file (first line; - for stdin).
    #[arg(long, value_name = "PATH")]
    pub passphrase_file: Option<PathBuf>,
}

/// `--max-rounds`: how much PBKDF2 work a file that is read may ask for.
#[derive(Debug, Args)]
pub struct MaxRounds {
    /// Most PBKDF2 rounds to accept.
    #[arg(long, value_name = "N", default_value_t = export::DEFAULT_MAX_ROUNDS)]
    pub max_rounds: u32,
}

impl MaxRounds {
    /// The limits every reading command hands the library.
    pub fn limits(&self) -> Limits {
        Limits {
            max_rounds: self.max_rounds,
        }
    }
}

/// `-o OUT` and `--force`, for a command that must write a file. The command says what its OUT
/// is with [`output_arg`].
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// The file to write (mode 0600).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Replace an existing OUT (regular files only).
    #[arg(long)]
    pub force: bool,
}

impl OutputArgs {
    /// Check OUT (see [`output::create`]) before any work is done; `inputs` are the files OUT
    /// must not be.
    pub fn create(&self, inputs: &[&Path]) -> Result<output::PendingOutput, CliError> {
        output::create(&self.output, self.force, inputs)
    }
}

/// `-o OUT` and `--force`, for a command that can do without OUT (it prints instead, or OUT is
/// needed only with some options). Its help is said the same way as [`OutputArgs`]'s.
#[derive(Debug, Args)]
pub struct OptionalOutputArgs {
    /// Write here (mode 0600) instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Replace an existing OUT (regular files only).
    #[arg(long)]
    pub force: bool,
}

impl OptionalOutputArgs {
    /// [`OutputArgs::create`] when `-o` is given.
    pub fn create(&self, inputs: &[&Path]) -> Result<Option<output::PendingOutput>, CliError> {
        self.output
            .as_deref()
            .map(|out| output::create(out, self.force, inputs))
            .transpose()
    }
}

/// Changes the `-o` of [`OutputArgs`] or [`OptionalOutputArgs`] for one command, which says what
/// its OUT is: `#[command(mut_args(output_arg(|a| a.help("The merged file"))))]` on the command's
/// arguments. (`mut_args` changes the argument in place; clap's `mut_arg` would move it last, and
/// with it `-o` in the usage line.)
pub fn output_arg(f: impl Fn(Arg) -> Arg) -> impl FnMut(Arg) -> Arg {
    move |a| if a.get_id() == "output" { f(a) } else { a }
}

/// The passphrase of a file being written: `flag`'s file, else `env`, else the prompt (asked
/// twice). Empty is refused; short or non-ASCII earns a warning.
pub(super) fn new_passphrase(
    file: Option<&Path>,
    flag: &'static str,
    env: &'static str,
) -> Result<Passphrase, CliError> {
    let pass = secrets::read(&SecretSpec {
        file,
        file_flag: flag,
        env,
        prompt: "New passphrase for the export: ".into(),
        confirm: true,
    })?;
    if pass.is_empty() {
        return Err(CliError::Usage(format!(
            "the new passphrase is empty; give one with {flag}, {env} or at the prompt"
        )));
    }
    for w in new_passphrase_warnings(pass.expose()) {
        warn(&w);
    }
    Ok(pass)
}

/// Shorter than this many characters, a new passphrase earns a warning (it is still used).
const WEAK_BELOW: usize = 10;

/// What to tell someone about the passphrase a new file gets: too short to resist a search, or
/// not ASCII (matrix-nio hashes the Latin-1 bytes, so it will not open the file).
fn new_passphrase_warnings(pass: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars = pass.chars().count();
    if chars < WEAK_BELOW {
        out.push(format!(
            "the new passphrase has {chars} characters: a list of guesses finds one that short \
             quickly (`mxkeys passphrase search` tries thousands a second); a few random words \
             are safer"
        ));
    }
    if !pass.is_ascii() {
        out.push(
            if pass.chars().all(|c| u32::from(c) < 0x100) {
                "the new passphrase is not ASCII: matrix-nio hashes the Latin-1 bytes of a \
                 passphrase, so nio-based clients will not open this file (Element, \
                 matrix-rust-sdk and mautrix will)"
            } else {
                "the new passphrase is not ASCII, and has characters outside Latin-1: \
                 matrix-nio-based clients cannot open this file at all (Element, \
                 matrix-rust-sdk and mautrix will)"
            }
            .to_owned(),
        );
    }
    out
}

/// `--rounds N` of a file being written, checked against `--max-rounds`; below the spec's
/// minimum earns a warning.
pub(super) fn write_rounds(n: u32, max: u32) -> Result<Rounds, CliError> {
    let rounds = Rounds::new(n, max).map_err(|e| match e {
        mxkeys::Error::RoundsTooHigh { rounds, limit } => CliError::Usage(format!(
            "--rounds {rounds} is above the limit {limit} that readers like mxkeys accept by default; add --max-rounds {rounds} to write it anyway"
        )),
        _ => CliError::Usage("--rounds must be at least 1".into()),
    })?;
    if n < export::SPEC_MIN_ROUNDS {
        warn(&format!(
            "{n} rounds is below the spec's minimum of {}: a guessed passphrase is found {}x faster than at Element's 500000",
            export::SPEC_MIN_ROUNDS,
            export::DEFAULT_ROUNDS / n.max(1)
        ));
    }
    Ok(rounds)
}

/// A random salt and IV for a new export.
fn fresh_nonces() -> Result<Nonces, CliError> {
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    getrandom::getrandom(&mut salt)
        .and_then(|()| getrandom::getrandom(&mut iv))
        .map_err(|e| CliError::Input(format!("the operating system gave no randomness: {e}")))?;
    Ok(Nonces { salt, iv })
}

/// Start writing an export to `out`: fresh salt and IV, the key derived with a spinner on a
/// terminal.
pub(super) fn export_writer<W: Write>(
    out: W,
    pass: &Passphrase,
    rounds: Rounds,
) -> Result<ExportWriter<W>, CliError> {
    let nonces = fresh_nonces()?;
    let pb = spinner(format!(
        "deriving the export key ({} PBKDF2 rounds)",
        rounds.get()
    ));
    let writer = ExportWriter::new(out, pass, rounds, nonces);
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    Ok(writer?)
}

/// Open and check the HMAC, with a spinner while the key is derived.
///
/// The plaintext comes from a second pass over the file, whose own HMAC is known only at its
/// end; so from here on, standard output is held until the command has succeeded
/// ([`super::stdout::hold`]). A file changed between the passes then prints nothing.
pub(super) fn open_verified(
    file: &Path,
    src: Box<dyn Source>,
    pass: &Passphrase,
    limits: &Limits,
) -> Result<export::Verified<Box<dyn Source>>, CliError> {
    open_verified_for(file, src, pass, limits, false)
}

/// [`open_verified`]; `reencrypting` words the matrix-nio note for `export reencrypt`, which is
/// itself the fix.
pub(super) fn open_verified_for(
    file: &Path,
    src: Box<dyn Source>,
    pass: &Passphrase,
    limits: &Limits,
    reencrypting: bool,
) -> Result<export::Verified<Box<dyn Source>>, CliError> {
    super::stdout::hold()?;
    let pb = spinner(format!(
        "checking the passphrase against {}",
        file.display()
    ));
    let verified = export::open(src, pass, limits);
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let verified = verified?;
    if verified.passphrase_encoding() == PassphraseEncoding::Latin1 {
        note(if reencrypting {
            "this file was keyed with the Latin-1 bytes of the passphrase, a matrix-nio bug; \
             the new copy is keyed with UTF-8 bytes, as every other client reads it"
        } else {
            "this file was keyed with the Latin-1 bytes of the passphrase, a matrix-nio bug; \
             other clients will not open it with this passphrase: `mxkeys export reencrypt` \
             makes a copy they can open"
        });
    }
    Ok(verified)
}

/// What an export writer says it wrote: sessions, rooms, path and rounds (with --json, as JSON).
pub(super) fn report_written(
    path: &Path,
    sum: &Summary,
    rounds: Rounds,
    json: bool,
) -> Result<(), CliError> {
    if json {
        return print_json(&summary_json(path, sum, json!({"rounds": rounds.get()})));
    }
    stderr!(
        "wrote {} sessions in {} rooms to {} ({} PBKDF2 rounds)",
        sum.sessions,
        sum.rooms,
        path.display(),
        rounds.get()
    );
    Ok(())
}

/// `{"output": PATH, "sessions": N, "rooms": N}` and the fields of `extra`.
pub(super) fn summary_json(path: &Path, sum: &Summary, extra: Value) -> Value {
    written_json(
        path,
        json!({"sessions": sum.sessions, "rooms": sum.rooms}),
        extra,
    )
}

/// `{"output": PATH}` with the fields of `counts`, then of `extra` (both JSON objects).
pub(super) fn written_json(path: &Path, counts: Value, extra: Value) -> Value {
    let mut v = json!({ "output": path.display().to_string() });
    if let Some(obj) = v.as_object_mut() {
        for more in [counts, extra] {
            if let Value::Object(more) = more {
                obj.extend(more);
            }
        }
    }
    v
}
