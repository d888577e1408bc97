//! Command-line definitions and dispatch. The only code that touches files, the environment and
//! the terminal.

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod attachment;
mod backup;
mod common;
mod dehydrated;
mod doctor;
mod events;
mod export;
mod guide;
pub mod hardening;
mod held;
mod identity;
mod inputs;
pub mod interrupt;
mod io;
pub use io::explanations;
mod output;
mod recover;
mod recovery_key;
mod search;
mod secrets;
mod sessions;
mod sink;
mod spill;
mod split;
mod ssss;
pub mod stdout;

use std::fmt;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

const AFTER_HELP: &str = "\
Secrets are never read from the command line. Each is read from its --*-file option (a path, or
- for standard input; the first line, without its line break), else from the environment
(MXKEYS_PASSPHRASE, MXKEYS_NEW_PASSPHRASE, MXKEYS_RECOVERY_KEY), else from a prompt without echo.
Prefer the files or the prompt: a variable set on the command line stays in the shell's history,
and other programs of the same user can read a process's environment (/proc/PID/environ).
Files written with -o are mode 0600, appear only when complete, and never replace a file unless
--force is given (nor ever a FIFO, device or directory); with -o, --json prints a summary of
what was written. Decrypted output to standard output is held back until its MAC or hash has
been checked. `mxkeys COMMAND --help` shows each command's inputs, examples and exit codes.

Run mxkeys with no arguments in a terminal and it asks what you have and walks you through.

Examples:
  mxkeys export inspect element-keys.txt
  mxkeys recover --account-data account_data.json --backup backup.json -o keys.txt

Exit codes:
  0    done (also when the output is cut short by a closed pipe, as with `| head`)
  1    the input or secret was wrong (bad MAC, wrong passphrase, malformed file)
  2    usage error (bad arguments, no command, no secret available, output exists)
  130  stopped with Ctrl-C; no output file is left behind (SIGTERM 143, SIGHUP 129, SIGQUIT 131
       alike)";

/// The end of a command group's --help.
macro_rules! group_help {
    ($name:literal, $ex1:literal, $ex2:literal) => {
        concat!(
            "`mxkeys ",
            $name,
            " COMMAND --help` shows the inputs, examples and exit codes of one command.\n\n",
            "Examples:\n  ",
            $ex1,
            "\n  ",
            $ex2,
            "\n\n",
            "Exit codes:\n",
            "  0  done\n",
            "  1  the input or secret was wrong (each command's --help says how)\n",
            "  2  usage error; also when no COMMAND is given (this help is printed)"
        )
    };
}

/// Offline tools for Matrix end-to-end-encryption keys: export files, Security Keys, key backups,
/// secret storage, attachments and room history. Run with no arguments in a terminal for a
/// guided start.
#[derive(Debug, Parser)]
#[command(name = "mxkeys", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Print one JSON document on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// Guided start: also show expert details (salt, IV, MAC notes).
    #[arg(long)]
    pub verbose: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Room-key export files (BEGIN MEGOLM SESSION DATA).
    #[command(subcommand, after_help = group_help!("export", "mxkeys export inspect element-keys.txt", "mxkeys export decrypt element-keys.txt -o keys.json"))]
    Export(export::ExportCmd),
    /// Security Keys: check, explain typos, generate.
    #[command(subcommand, after_help = group_help!("recovery-key", "mxkeys recovery-key check --backup-version version.json", "mxkeys recovery-key generate"))]
    RecoveryKey(recovery_key::KeyCmd),
    /// Key backups: decrypt, encrypt, turn into exports.
    #[command(subcommand, after_help = group_help!("backup", "mxkeys backup decrypt backup.json --backup-version version.json -o keys.json", "mxkeys backup to-export backup.json --backup-version version.json -o keys.txt"))]
    Backup(backup::BackupCmd),
    /// Secret storage: the secrets in account data.
    #[command(subcommand, after_help = group_help!("ssss", "mxkeys ssss inspect account_data.json", "mxkeys ssss decrypt account_data.json"))]
    Ssss(ssss::SsssCmd),
    /// Encrypted attachments: files and images of encrypted rooms.
    #[command(subcommand, after_help = group_help!("attachment", "mxkeys attachment decrypt blob --info event.json -o photo.jpg", "mxkeys attachment encrypt photo.jpg -o photo.enc --info-out photo.json"))]
    Attachment(attachment::AttachmentCmd),
    /// Dehydrated devices: the keys in their queued events.
    #[command(subcommand, after_help = group_help!("dehydrated-device", "mxkeys dehydrated-device decrypt --device d.json --events e*.json -o keys.txt", "mxkeys dehydrated-device decrypt --help"))]
    DehydratedDevice(dehydrated::DehydratedCmd),
    /// Room-key bundles (MSC4268): shared room history.
    #[command(subcommand, after_help = group_help!("bundle", "mxkeys bundle decrypt bundle.bin --info room_key_bundle.json -o keys.txt", "mxkeys bundle decrypt bundle.bin --info file.json -o keys.json --plaintext"))]
    Bundle(dehydrated::BundleCmd),
    /// Security Key or Phrase + key backup -> an export to import.
    Recover(recover::RecoverArgs),
    /// Explain key storage that is out of sync; write repairs.
    Doctor(doctor::DoctorArgs),
    /// Forgotten passphrases: search a candidate list on all cores.
    #[command(subcommand, after_help = group_help!("passphrase", "mxkeys passphrase search element-keys.txt --candidates guesses.txt --mutate", "mxkeys passphrase search account_data.json --candidates guesses.txt -o found.txt"))]
    Passphrase(search::PassphraseCmd),
    /// Measure this machine.
    #[command(subcommand, after_help = group_help!("bench", "mxkeys bench kdf", "mxkeys bench kdf --rounds 1000 --seconds 1 --json"))]
    Bench(search::BenchCmd),
    /// Room history: decrypt events offline, explain failures.
    #[command(subcommand, after_help = group_help!("events", "mxkeys events decrypt events.json --keys element-keys.txt -o decrypted.json", "mxkeys events diagnose events.json --keys element-keys.txt"))]
    Events(events::EventsCmd),
    /// Cross-signing: check a /keys/query response.
    #[command(subcommand, after_help = group_help!("cross-signing", "mxkeys cross-signing check --keys keys_query.json", "mxkeys cross-signing check --keys keys_query.json --json"))]
    CrossSigning(identity::CrossSigningCmd),
    /// Verification QR codes.
    #[command(subcommand, after_help = group_help!("qr", "mxkeys qr decode payload.bin", "mxkeys qr decode payload.bin --json"))]
    Qr(identity::QrCmd),
    /// SAS (emoji) verification.
    #[command(subcommand, after_help = group_help!("sas", "mxkeys sas compute --transcript transcript.json", "mxkeys sas compute --transcript transcript.json --json"))]
    Sas(identity::SasCmd),
    /// Print a shell completion script (bash, zsh, fish, ...).
    #[command(after_help = COMPLETIONS_AFTER)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page, or write one per command into a folder.
    #[command(after_help = MANPAGE_AFTER)]
    Manpage {
        /// Write one page per command (mxkeys.1, ...) into this folder.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

const COMPLETIONS_AFTER: &str = "\
Prints the script on standard output; install it where your shell looks for completions (for
zsh, a folder in $fpath, e.g. ~/.zfunc with fpath+=~/.zfunc before compinit in ~/.zshrc).

Examples:
  mxkeys completions bash > ~/.local/share/bash-completion/completions/mxkeys
  mxkeys completions zsh > ~/.zfunc/_mxkeys
  mxkeys completions fish > ~/.config/fish/completions/mxkeys.fish

Exit codes:
  0  printed (also when the output is cut short by a closed pipe)
  2  usage: no shell, or one not in the list";

const MANPAGE_AFTER: &str = "\
Without --dir, the page of mxkeys itself goes to standard output; with --dir, one page per command
(mxkeys.1, mxkeys-export.1, mxkeys-export-decrypt.1, ...) is written into DIR, which must exist.

Examples:
  mxkeys manpage > mxkeys.1 && man ./mxkeys.1
  mxkeys manpage --dir /usr/local/share/man/man1

Exit codes:
  0  written
  1  a page cannot be written into DIR
  2  usage: bad arguments";

/// Run one parsed command line; what it printed reaches standard output only if it succeeds
/// (see [`stdout::release`]).
pub fn run(cli: Cli) -> Result<(), CliError> {
    interrupt::install();
    match dispatch(cli) {
        Ok(()) => stdout::release(),
        // A report that found problems is still the whole, verified report.
        Err(e @ CliError::Reported(_)) => {
            stdout::release()?;
            Err(e)
        }
        // Anything else: what was held is dropped unread.
        Err(e) => Err(e),
    }
}

fn dispatch(cli: Cli) -> Result<(), CliError> {
    guide::set_verbose(cli.verbose);
    let Some(command) = cli.command else {
        if guide::interactive() {
            return guide::start();
        }
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        return Err(CliError::Usage(
            "no command given (run mxkeys in a terminal for a guided start)".into(),
        ));
    };
    match command {
        Command::Export(cmd) => export::run(cmd, cli.json),
        Command::RecoveryKey(cmd) => recovery_key::run(cmd, cli.json),
        Command::Backup(cmd) => backup::run(cmd, cli.json),
        Command::Ssss(cmd) => ssss::run(cmd, cli.json),
        Command::Attachment(cmd) => attachment::run(cmd, cli.json),
        Command::DehydratedDevice(c) => dehydrated::run(c, cli.json),
        Command::Bundle(c) => dehydrated::run_bundle(c, cli.json),
        Command::Recover(a) => recover::run(a, cli.json),
        Command::Doctor(a) => doctor::run(a, cli.json),
        Command::Passphrase(cmd) => search::run_passphrase(cmd, cli.json),
        Command::Bench(cmd) => search::run_bench(cmd, cli.json),
        Command::Events(cmd) => events::run(cmd, cli.json),
        Command::CrossSigning(cmd) => identity::run_cross_signing(cmd, cli.json),
        Command::Qr(cmd) => identity::run_qr(cmd, cli.json),
        Command::Sas(cmd) => identity::run_sas(cmd, cli.json),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            use std::io::Write;
            // Generate into memory: clap_complete panics on a failed write (e.g. a closed pipe).
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "mxkeys", &mut buf);
            stdout::out().write_all(&buf)?;
            Ok(())
        }
        Command::Manpage { dir } => manpage(dir.as_deref()),
    }
}

/// The man page of mxkeys on stdout, or with `dir` one page per command there (mxkeys.1,
/// mxkeys-export.1, mxkeys-export-decrypt.1, ...), as packagers install them.
fn manpage(dir: Option<&std::path::Path>) -> Result<(), CliError> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let Some(dir) = dir else {
        clap_mangen::Man::new(cmd).render(&mut stdout::out())?;
        return Ok(());
    };
    fn walk(
        cmd: &clap::Command,
        name: &str,
        dir: &std::path::Path,
        n: &mut usize,
    ) -> Result<(), CliError> {
        let page = cmd
            .clone()
            .display_name(name.to_owned())
            .bin_name(name.replace('-', " "));
        let mut buf = Vec::new();
        clap_mangen::Man::new(page).render(&mut buf)?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, buf)
            .map_err(|e| CliError::Input(format!("cannot write {}: {e}", path.display())))?;
        *n += 1;
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{name}-{}", sub.get_name()), dir, n)?;
        }
        Ok(())
    }
    let mut n = 0;
    walk(&cmd, "mxkeys", dir, &mut n)?;
    stderr!("wrote {n} man pages to {}", dir.display());
    Ok(())
}

/// A failure, with the exit code it deserves.
#[derive(Debug)]
pub enum CliError {
    /// Exit 2: the command line cannot work as given.
    Usage(String),
    /// Exit 1: the input or the secret was wrong.
    Input(String),
    /// Exit 1: the command printed its whole report, and the report lists problems (invalid
    /// sessions, events that cannot be decrypted). Unlike the others, this one lets held output
    /// through.
    Reported(String),
    /// Exit 130: stopped by Ctrl-C at a point the command reports itself (a passphrase search
    /// says where to resume).
    Interrupted(String),
    /// Exit 1: a library error.
    Lib(mxkeys::Error),
}

impl CliError {
    /// The process exit code.
    pub fn code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Input(_) | CliError::Reported(_) | CliError::Lib(_) => 1,
            CliError::Interrupted(_) => 130,
        }
    }

    /// Writing to a closed pipe (`mxkeys ... | head`) is not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Lib(mxkeys::Error::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m)
            | CliError::Input(m)
            | CliError::Reported(m)
            | CliError::Interrupted(m) => f.write_str(m),
            CliError::Lib(e) => match hint(e) {
                Some(h) => write!(f, "{e}; {h}"),
                None => write!(f, "{e}"),
            },
        }
    }
}

/// What to try next, in the CLI's words (flags and commands), for a library error that says
/// only what was wrong. One place, as rage's binary does it.
pub fn hint(e: &mxkeys::Error) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    hint_given(e, &args)
}

/// [`hint`] for a command line `args`: a hint never suggests a flag that was given.
fn hint_given(e: &mxkeys::Error, args: &[String]) -> Option<String> {
    use mxkeys::recovery_key::RecoveryKeyError;
    use mxkeys::Error as E;
    let given = |flag: &str| {
        args.iter()
            .any(|a| a == flag || a.strip_prefix(flag).is_some_and(|r| r.starts_with('=')))
    };
    Some(match e {
        E::RoundsTooHigh { rounds, .. } if !given("--max-rounds") => {
            format!("add --max-rounds {rounds} if you trust it")
        }
        E::RoundsTooHigh { rounds, .. } => {
            format!("raise --max-rounds to {rounds} if you trust it")
        }
        E::SsssWrongKey { .. } => {
            let other = if given("--key-id") {
                "try your other Security Key, or another --key-id (`mxkeys ssss inspect` lists them)"
            } else {
                "try your other Security Key, or --key-id to pick another key"
            };
            format!("{other}; a backup's own recovery key opens the backup (mxkeys backup decrypt), not secret storage")
        }
        E::SsssSeveralKeys { .. } => "choose one with --key-id".into(),
        E::SsssNoKey { .. } => "see `mxkeys ssss inspect` for which keys hold it".into(),
        E::BackupKeyMismatch { .. } if given("--account-data") => {
            "mxkeys doctor explains keys out of sync".into()
        }
        E::BackupKeyMismatch { .. } => "if it is the Security Key your client shows, it opens secret storage, where the backup key is kept: add --account-data AD.json (or run mxkeys recover; mxkeys doctor explains keys out of sync)".into(),
        E::RecoveryKey(RecoveryKeyError::Prefix { .. } | RecoveryKeyError::Parity)
            if !given("--suggest") =>
        {
            // --suggest is recovery-key check's: elsewhere, name the command that has it.
            let in_check = args
                .windows(2)
                .any(|w| matches!(w, [a, b] if a == "recovery-key" && b == "check"));
            if in_check {
                "`--suggest` lists the likely corrections".into()
            } else {
                "`mxkeys recovery-key check --suggest --account-data AD.json` lists the likely corrections".into()
            }
        }
        _ => return None,
    })
}

impl From<mxkeys::Error> for CliError {
    fn from(e: mxkeys::Error) -> Self {
        CliError::Lib(e)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Lib(mxkeys::Error::from_io(e))
    }
}

#[cfg(test)]
mod tests {
    use super::hint_given;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    /// A hint never suggests what the command line already has (#27 item 7).
    #[test]
    fn hints_fit_the_arguments_given() {
        let rounds = mxkeys::Error::RoundsTooHigh {
            rounds: 9_000_000,
            limit: 5_000_000,
        };
        let h = hint_given(&rounds, &args(&["mxkeys", "export", "decrypt", "f"])).unwrap();
        assert!(h.starts_with("add --max-rounds 9000000"), "{h}");
        let h = hint_given(
            &rounds,
            &args(&["mxkeys", "export", "decrypt", "--max-rounds=6000000"]),
        )
        .unwrap();
        assert!(h.starts_with("raise --max-rounds to 9000000"), "{h}");

        let parity = mxkeys::Error::RecoveryKey(mxkeys::recovery_key::RecoveryKeyError::Parity);
        let h = hint_given(&parity, &args(&["mxkeys", "doctor", "--key-file", "k"])).unwrap();
        assert!(h.contains("mxkeys recovery-key check --suggest"), "{h}");
        assert!(hint_given(&parity, &args(&["mxkeys", "recovery-key", "check"])).is_some());
        assert!(hint_given(
            &parity,
            &args(&["mxkeys", "recovery-key", "check", "--suggest"])
        )
        .is_none());

        let wrong = mxkeys::Error::SsssWrongKey { key_id: "K".into() };
        let h = hint_given(
            &wrong,
            &args(&["mxkeys", "ssss", "decrypt", "--key-id", "K"]),
        )
        .unwrap();
        assert!(h.contains("another --key-id"), "{h}");
    }
}
