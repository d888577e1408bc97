//! The guided flow: `mxkeys` with no arguments, and `mxkeys recover` with nothing given, in a
//! terminal. It asks only for what is missing, in plain words, then runs the same commands a
//! script would (so both paths share every check).

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;

use clap::Parser;

use super::{run, Cli, CliError};

/// Both ends are a terminal: a person is there to answer.
pub fn interactive() -> bool {
    io::stdin().is_terminal() && io::stderr().is_terminal()
}

fn say(text: &str) {
    stderr!("{text}");
}

fn ask(question: &str) -> Result<String, CliError> {
    let mut err = io::stderr().lock();
    let _ = err
        .write_all(question.as_bytes())
        .and_then(|()| err.flush());
    drop(err);
    let mut line = String::new();
    let n = io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Usage(format!("cannot read the answer: {e}")))?;
    if n == 0 {
        return Err(CliError::Usage(
            "no answer (end of input); nothing was done".into(),
        ));
    }
    Ok(line.trim().to_owned())
}

/// A path as typed or dragged in: surrounding quotes removed, `~/` expanded; asked again until
/// the file exists (or, for outputs, until it does not).
fn ask_path(question: &str, must_exist: bool) -> Result<String, CliError> {
    for _ in 0..5 {
        let raw = ask(question)?;
        let mut p = raw.trim_matches(|c| c == '\'' || c == '"').to_owned();
        if let (Some(rest), Some(home)) = (p.strip_prefix("~/"), std::env::var_os("HOME")) {
            p = Path::new(&home).join(rest).display().to_string();
        }
        if p.is_empty() {
            say("Please type a path (or press Ctrl-C to stop).");
            continue;
        }
        let exists = Path::new(&p).exists();
        if must_exist && !exists {
            say(&format!(
                "There is no file at {p}. Check the name and try again."
            ));
            continue;
        }
        if !must_exist && exists {
            say(&format!(
                "{p} already exists; choose a new name so nothing is overwritten."
            ));
            continue;
        }
        return Ok(p);
    }
    Err(CliError::Usage(
        "no usable path given; nothing was done".into(),
    ))
}

fn optional_path(question: &str) -> Result<Option<String>, CliError> {
    loop {
        let raw = ask(question)?;
        let p = raw.trim_matches(|c| c == '\'' || c == '"').to_owned();
        if p.is_empty() {
            return Ok(None);
        }
        if Path::new(&p).exists() {
            return Ok(Some(p));
        }
        say(&format!(
            "There is no file at {p}. Try again, or press Enter to skip."
        ));
    }
}

fn run_args(args: &[&str]) -> Result<(), CliError> {
    let mut argv = vec!["mxkeys"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).map_err(|e| CliError::Usage(e.to_string()))?;
    run(cli)
}

const HOW_TO_FETCH: &str = "\
You need three files from your homeserver (ask your admin, or use curl with an access token from
your client's settings, Help & About > Access Token):
  account data:   the m.secret_storage.*, m.cross_signing.* and m.megolm_backup.v1 entries
                  (`mxkeys ssss inspect --help` shows the curl lines)
  the backup:     curl -H \"Authorization: Bearer $TOKEN\" \"$HS/_matrix/client/v3/room_keys/keys?version=$V\" > backup.json
  its version:    curl -H \"Authorization: Bearer $TOKEN\" \"$HS/_matrix/client/v3/room_keys/version\" > version.json";

/// `mxkeys` with no arguments.
pub fn start() -> Result<(), CliError> {
    say("mxkeys: get your Matrix message keys back, offline. Nothing you type is sent anywhere.\n");
    say("What do you have?");
    say("  1) An export file (a .txt starting with -----BEGIN MEGOLM SESSION DATA-----)");
    say("  2) My Security Key or Security Phrase, and my key backup");
    say("  3) The recovery key of a key backup, and the backup itself");
    say("  4) None of these: show me every command");
    let choice = ask("Choose 1-4: ")?;
    match choice.as_str() {
        "1" => export_flow(),
        "2" => recover_flow(None, None, None, None),
        "3" => backup_flow(),
        _ => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            Ok(())
        }
    }
}

fn export_flow() -> Result<(), CliError> {
    let file = ask_path("Path of the export file: ", true)?;
    say("\nThis is what the file says about itself (no passphrase needed yet):");
    run_args(&["export", "inspect", &file])?;
    say("\nWhat do you want to do?");
    say("  1) Decrypt it to a JSON file (to look inside, or to merge it)");
    say("  2) Give it a new passphrase (e.g. you half-remember the old one and found it)");
    say("  3) Check every session in it");
    match ask("Choose 1-3: ")?.as_str() {
        "1" => {
            let out = ask_path("Write the sessions to (e.g. keys.json): ", false)?;
            run_args(&["export", "decrypt", &file, "-o", &out])?;
            say(&format!("\nDone. {out} holds your keys in plain text: keep it safe and delete it when you are finished."));
            Ok(())
        }
        "2" => {
            let out = ask_path("Write the new export to (e.g. keys-new.txt): ", false)?;
            run_args(&["export", "reencrypt", &file, "-o", &out])?;
            say(&format!(
                "\nDone. Import {out} in your client with the new passphrase."
            ));
            Ok(())
        }
        _ => run_args(&["export", "validate", &file]),
    }
}

fn backup_flow() -> Result<(), CliError> {
    let backup = ask_path("Path of the backup (GET /room_keys/keys body): ", true)?;
    let version =
        optional_path("Path of the backup version (GET /room_keys/version body; Enter to skip): ")?;
    let out = ask_path("Write the export file to (e.g. keys.txt): ", false)?;
    let mut args = vec!["backup", "to-export", backup.as_str(), "-o", out.as_str()];
    if let Some(v) = &version {
        args.extend(["--backup-version", v.as_str()]);
    }
    run_args(&args)?;
    say(&format!(
        "\nDone. Import {out} in any client with the passphrase you just chose."
    ));
    Ok(())
}

/// The recover flow, asking for whatever was not given on the command line.
pub fn recover_flow(
    account_data: Option<String>,
    backup: Option<String>,
    version: Option<String>,
    output: Option<String>,
) -> Result<(), CliError> {
    say(HOW_TO_FETCH);
    say("");
    let ad = match account_data {
        Some(p) => p,
        None => ask_path("Path of the account data: ", true)?,
    };
    let backup = match backup {
        Some(p) => p,
        None => ask_path("Path of the backup: ", true)?,
    };
    let version = match version {
        Some(p) => Some(p),
        None => optional_path("Path of the backup version (Enter to skip): ")?,
    };
    let out = match output {
        Some(p) => p,
        None => ask_path("Write the export file to (e.g. keys.txt): ", false)?,
    };
    say("\nNext: your Security Key or Security Phrase (either works), then a new passphrase for the export file.");
    let mut args = vec![
        "recover",
        "--account-data",
        ad.as_str(),
        "--backup",
        backup.as_str(),
        "-o",
        out.as_str(),
    ];
    if let Some(v) = &version {
        args.extend(["--backup-version", v.as_str()]);
    }
    run_args(&args)
}
