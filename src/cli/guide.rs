//! The guided flow: `mxkeys` with no arguments, and `mxkeys recover` with nothing given, in a
//! terminal. It asks only for what is missing, in plain words, then runs the same commands a
//! script would (so both paths share every check).
//!
//! It forgives: a key or passphrase gets three tries; a Security Key one typo away is offered
//! corrected (those that open the account's secret storage or the backup); a forgotten export
//! passphrase leads to `passphrase search`; a Security Key is told from a backup's own key; a key
//! that opens secret storage but not the backup leads to `doctor`. What it asked for and checked
//! is handed to the commands it runs through [`secrets::preset`], never the environment. Expert
//! details (salt, IV, MAC notes) only with `mxkeys --verbose`.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use zeroize::Zeroizing;

use mxkeys::recovery_key::{self, RecoveryKey};
use mxkeys::ssss::AccountData;
use mxkeys::Passphrase;

use super::held::{self, HeldSecret};
use super::io::read_small_json;
use super::secrets::{self, SecretSpec};
use super::{run, Cli, CliError};

/// Tries for a key or a passphrase.
const TRIES: usize = 3;

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Show expert details (`mxkeys --verbose`).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

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

fn yes(question: &str) -> Result<bool, CliError> {
    let a = ask(question)?;
    Ok(a.is_empty() || a.eq_ignore_ascii_case("y") || a.eq_ignore_ascii_case("yes"))
}

/// A path as typed or dragged in: surrounding quotes removed, `~/` expanded.
fn clean_path(raw: &str) -> String {
    let p = raw.trim_matches(|c| c == '\'' || c == '"').to_owned();
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest).display().to_string(),
        _ => p,
    }
}

/// Asked again until the file exists (or, for outputs, until it does not).
fn ask_path(question: &str, must_exist: bool) -> Result<String, CliError> {
    for _ in 0..5 {
        let p = clean_path(&ask(question)?);
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
        let p = clean_path(&ask(question)?);
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

/// Where each file from the server comes from, said just before it is asked for. `$TOKEN` is
/// an access token (Element: Settings > Help & About > Access Token), `$HS` the homeserver's
/// URL, `$MXID` your user id.
const FETCH_ACCOUNT_DATA: &str = "\
Your account data holds secret storage. Fetch it with an access token ($TOKEN: Element, Settings >
Help & About > Access Token) and your homeserver's URL ($HS):
  curl -s -G -H \"Authorization: Bearer $TOKEN\" --data-urlencode 'filter={\"room\":{\"rooms\":[]}}' \\
       \"$HS/_matrix/client/v3/sync\" | jq .account_data.events > account_data.json";
const FETCH_VERSION: &str = "\
The backup version says which key the backup needs:
  curl -H \"Authorization: Bearer $TOKEN\" \"$HS/_matrix/client/v3/room_keys/version\" > version.json";
const FETCH_BACKUP: &str = "\
The backup itself (V is the \"version\" in version.json):
  curl -H \"Authorization: Bearer $TOKEN\" \"$HS/_matrix/client/v3/room_keys/keys?version=$V\" > backup.json";
const FETCH_KEYS_QUERY: &str = "\
Your published cross-signing keys ($MXID is your user id, @you:example.org):
  curl -H \"Authorization: Bearer $TOKEN\" -d \"{\\\"device_keys\\\": {\\\"$MXID\\\": []}}\" \\
       \"$HS/_matrix/client/v3/keys/query\" > keys_query.json";

/// `mxkeys` with no arguments.
pub fn start() -> Result<(), CliError> {
    say("mxkeys: get your Matrix message keys back, offline. Nothing you type is sent anywhere.\n");
    say("What do you have?");
    say("  1) An export file (a .txt starting with -----BEGIN MEGOLM SESSION DATA-----)");
    say("  2) My Security Key or Security Phrase (or a backup's recovery key), and my key backup");
    say("  3) Element says \"Your key storage is out of sync\": find out why");
    say("  4) None of these: show me every command");
    let choice = ask("Choose 1-4: ")?;
    let r = match choice.as_str() {
        "1" => export_flow(),
        "2" => recover_flow(None, None, None, None),
        "3" => doctor_flow(),
        _ => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            Ok(())
        }
    };
    secrets::clear_presets();
    r
}

fn export_flow() -> Result<(), CliError> {
    let file = ask_path("Path of the export file: ", true)?;
    if verbose() {
        say("\nThis is what the file says about itself (no passphrase needed yet):");
        run_args(&["export", "inspect", &file])?;
    } else {
        summarize_export(&file)?;
    }
    say("\nWhat do you want to do?");
    say("  1) Decrypt it to a JSON file (to look inside, or to merge it)");
    say("  2) Give it a new passphrase (e.g. you half-remember the old one and found it)");
    say("  3) Check every session in it");
    let choice = ask("Choose 1-3: ")?;
    if !export_passphrase(&file)? {
        return Ok(());
    }
    match choice.as_str() {
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

/// One plain line about an export, instead of the expert report.
fn summarize_export(file: &str) -> Result<(), CliError> {
    let f = std::fs::File::open(file)
        .map_err(|e| CliError::Input(format!("cannot open {file}: {e}")))?;
    let i = mxkeys::export::inspect(io::BufReader::new(f))?;
    let guess = mxkeys::export::guess_writer(&i);
    say(&format!(
        "\nThis is a key export (likely writer: {}), protected by a passphrase ({} rounds). Run `mxkeys --verbose` for the details.",
        guess.writer,
        i.header.rounds
    ));
    Ok(())
}

/// Ask for the export's passphrase until it opens the file (three tries); then the commands
/// that follow read it from the preset. `false` when the person gave up.
fn export_passphrase(file: &str) -> Result<bool, CliError> {
    let text =
        std::fs::read(file).map_err(|e| CliError::Input(format!("cannot read {file}: {e}")))?;
    let text = Zeroizing::new(text);
    for attempt in 1..=TRIES {
        let pass = prompt("Passphrase of the export: ")?;
        let pb = super::io::spinner("checking the passphrase".into());
        let ok = mxkeys::export::decrypt(&text, &pass, &mxkeys::kdf::Limits::default());
        if let Some(pb) = pb {
            pb.finish_and_clear();
        }
        match ok {
            Ok(_) => {
                secrets::preset("MXKEYS_PASSPHRASE", pass);
                return Ok(true);
            }
            Err(e) if attempt < TRIES => {
                say(&format!(
                    "That did not open it ({e}). {} tries left.",
                    TRIES - attempt
                ));
            }
            Err(e) => {
                say(&format!("That did not open it either ({e})."));
            }
        }
    }
    say("\nIf you half-remember the passphrase, mxkeys can try many variants for you, on every core:");
    say("write what you might have typed into a file, one guess per line; mxkeys also tries");
    say("capitals, spaces and trailing digits around each (--mutate).");
    let Some(list) = optional_path("File of guesses (Enter to stop here): ")? else {
        say(&format!(
            "Later: mxkeys passphrase search {file} --candidates guesses.txt --mutate"
        ));
        return Ok(false);
    };
    run_args(&[
        "passphrase",
        "search",
        file,
        "--candidates",
        &list,
        "--mutate",
    ])?;
    Ok(false)
}

fn prompt(question: &str) -> Result<Passphrase, CliError> {
    secrets::read(&SecretSpec {
        file: None,
        file_flag: "--passphrase-file",
        env: "MXKEYS_GUIDE_UNUSED",
        prompt: question.into(),
        confirm: false,
    })
}

/// The recover flow, asking for whatever was not given on the command line.
pub fn recover_flow(
    account_data: Option<String>,
    backup: Option<String>,
    version: Option<String>,
    output: Option<String>,
) -> Result<(), CliError> {
    let backup = match backup {
        Some(p) => p,
        None => {
            say(FETCH_BACKUP);
            ask_path("Path of the backup: ", true)?
        }
    };
    let version = match version {
        Some(p) => Some(p),
        None => {
            say(FETCH_VERSION);
            optional_path("Path of the backup version (Enter to skip): ")?
        }
    };
    let ad = match account_data {
        Some(p) => Some(p),
        None => {
            say(FETCH_ACCOUNT_DATA);
            optional_path(
                "Path of the account data (Enter to skip if you hold the backup's own recovery key): ",
            )?
        }
    };
    let Some(kind) = ask_key(ad.as_deref(), version.as_deref(), Some(&backup))? else {
        return Ok(());
    };
    let out = match output {
        Some(p) => p,
        None => ask_path("Write the export file to (e.g. keys.txt): ", false)?,
    };
    say(&format!(
        "\nYour key is {kind}. Next: a new passphrase for the export file."
    ));
    let mut args = vec!["recover", "--backup", backup.as_str(), "-o", out.as_str()];
    if let Some(a) = &ad {
        args.extend(["--account-data", a.as_str()]);
    }
    if let Some(v) = &version {
        args.extend(["--backup-version", v.as_str()]);
    }
    let r = run_args(&args);
    secrets::clear_presets();
    r
}

fn doctor_flow() -> Result<(), CliError> {
    say("The doctor checks each piece of your key storage and says what is out of sync.\n");
    say(FETCH_ACCOUNT_DATA);
    let ad = ask_path("Path of the account data: ", true)?;
    say(FETCH_VERSION);
    let version = optional_path("Path of the backup version (Enter to skip): ")?;
    say(FETCH_KEYS_QUERY);
    let kq = optional_path("Path of the keys-query response (Enter to skip): ")?;
    say("\nYour Security Key or Phrase lets the doctor open secret storage; without it, it checks what it can.");
    let have_key = yes("Do you have it at hand? [Y/n] ")?;
    if have_key && ask_key(Some(&ad), version.as_deref(), None)?.is_none() {
        return Ok(());
    }
    let mut args = vec!["doctor", "--account-data", ad.as_str()];
    if let Some(v) = &version {
        args.extend(["--backup-version", v.as_str()]);
    }
    if let Some(k) = &kq {
        args.extend(["--keys-query", k.as_str()]);
    }
    let r = run_args(&args);
    secrets::clear_presets();
    r
}

/// Ask for the key until it opens what was given (three tries), offering typo corrections and,
/// when it opens secret storage but not the backup, the doctor. On success the key is preset
/// for the commands that follow and its kind is returned for the person to read; `None` when
/// the flow ended here (the doctor ran, or the person stopped).
fn ask_key(
    ad: Option<&str>,
    version: Option<&str>,
    backup: Option<&str>,
) -> Result<Option<&'static str>, CliError> {
    let account = ad
        .map(|p| {
            read_small_json(Path::new(p), "account data").and_then(|v| Ok(AccountData::parse(&v)?))
        })
        .transpose()?;
    let version_doc = version
        .map(|p| read_small_json(Path::new(p), "backup version"))
        .transpose()?;
    // The first sessions are all a key is tried on: the backup is not read whole.
    let entries = match backup {
        Some(b) => super::backup::first_entries(Path::new(b))?,
        None => Vec::new(),
    };
    let limits = mxkeys::kdf::Limits::default();
    say("\nYour Security Key (48 characters in groups of 4) or Security Phrase; a backup's own recovery key works too.");
    for attempt in 1..=TRIES {
        let text = prompt("Security Key or Security Phrase: ")?;
        let held = if held::looks_like_recovery_key(text.expose()) {
            match RecoveryKey::decode(text.expose()) {
                Ok(k) => HeldSecret::Key(k),
                Err(e) => {
                    say(&format!("That key has a typo: {e}."));
                    match pick_correction(&text, account.as_ref(), version_doc.as_ref())? {
                        Some(k) => HeldSecret::Key(k),
                        None => {
                            left(attempt);
                            continue;
                        }
                    }
                }
            }
        } else {
            HeldSecret::Phrase(text)
        };
        // Without a backup (the doctor), only secret storage can confirm the key.
        let result = if backup.is_some() {
            held::backup_key(
                &held,
                account.as_ref(),
                version_doc.as_ref(),
                &entries,
                None,
                &limits,
            )
            .map(|b| b.from_storage)
        } else {
            mxkeys::account::identify(
                held.as_held(),
                account.as_ref(),
                version_doc.as_ref(),
                &limits,
            )
            .map_err(CliError::Lib)
            .and_then(|i| {
                if i.kind == mxkeys::account::KeyKind::Unknown {
                    Err(CliError::Input(
                        "the key opens no secret-storage key in the account data".into(),
                    ))
                } else {
                    Ok(i.kind == mxkeys::account::KeyKind::SecretStorageKey)
                }
            })
        };
        match result {
            Ok(from_storage) => {
                let kind = match (&held, from_storage) {
                    (HeldSecret::Phrase(_), _) => "your Security Phrase: it opens secret storage",
                    (HeldSecret::Key(_), true) => "your Security Key: it opens secret storage",
                    (HeldSecret::Key(_), false) => "the backup's own recovery key",
                };
                preset_held(&held);
                return Ok(Some(kind));
            }
            Err(e) if e.to_string().contains("out of sync") => {
                say("\nYour key opens secret storage, but the backup key stored there is not your current backup's:");
                say("key storage is out of sync (Element says so too). The doctor explains it and writes a repair.");
                preset_held(&held);
                if yes("Run the doctor now? [Y/n] ")? {
                    let ad = ad.unwrap_or_default();
                    let mut args = vec!["doctor", "--account-data", ad];
                    if let Some(v) = version {
                        args.extend(["--backup-version", v]);
                    }
                    if let Some(b) = backup {
                        args.extend(["--backup", b]);
                    }
                    let r = run_args(&args);
                    secrets::clear_presets();
                    r?;
                }
                return Ok(None);
            }
            Err(e) => {
                say(&format!(
                    "That did not work: {}",
                    first_sentence(&e.to_string())
                ));
                left(attempt);
            }
        }
    }
    Err(CliError::Input(format!(
        "no key opened it in {TRIES} tries; `mxkeys recovery-key check --suggest --account-data AD.json` explains a Security Key, `mxkeys doctor` what each key opens"
    )))
}

/// Hand the checked key or phrase to the commands that follow.
fn preset_held(held: &HeldSecret) {
    match held {
        HeldSecret::Key(k) => {
            secrets::preset(
                "MXKEYS_RECOVERY_KEY",
                Passphrase::new(k.encode().to_string()),
            );
        }
        HeldSecret::Phrase(p) => secrets::preset("MXKEYS_PASSPHRASE", p.clone()),
    }
}

fn left(attempt: usize) {
    if attempt < TRIES {
        say(&format!("{} tries left.", TRIES - attempt));
    }
}

fn first_sentence(s: &str) -> &str {
    s.split("; ").next().unwrap_or(s)
}

/// Keys one correction away that open what was given (all of them when nothing was given to
/// test against); the person picks one, or none.
fn pick_correction(
    text: &Passphrase,
    account: Option<&AccountData>,
    version: Option<&serde_json::Value>,
) -> Result<Option<RecoveryKey>, CliError> {
    let all = recovery_key::suggest(text.expose());
    let limits = mxkeys::kdf::Limits::default();
    let fits: Vec<Zeroizing<String>> = all
        .iter()
        .filter(|f| {
            let Ok(k) = RecoveryKey::decode(f) else {
                return false;
            };
            mxkeys::account::identify(mxkeys::account::Held::Key(&k), account, version, &limits)
                .is_ok_and(|i| i.kind != mxkeys::account::KeyKind::Unknown)
        })
        .cloned()
        .collect();
    let list = if fits.is_empty() && account.is_none() && version.is_none() {
        all
    } else {
        fits
    };
    match list.as_slice() {
        [] => {
            say("No key one character away opens your secret storage or backup.");
            Ok(None)
        }
        [one] => {
            say(&format!(
                "One key one character away fits: {}",
                one.as_str()
            ));
            if yes("Use it? [Y/n] ")? {
                Ok(RecoveryKey::decode(one).ok())
            } else {
                Ok(None)
            }
        }
        many => {
            say("Keys one character away that are valid:");
            for (i, k) in many.iter().enumerate() {
                say(&format!("  {}) {}", i + 1, k.as_str()));
            }
            let a = ask(&format!(
                "Choose 1-{} (Enter to type it again): ",
                many.len()
            ))?;
            Ok(a.parse::<usize>()
                .ok()
                .and_then(|n| many.get(n.wrapping_sub(1)))
                .and_then(|k| RecoveryKey::decode(k).ok()))
        }
    }
}
