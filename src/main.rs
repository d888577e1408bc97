//! The `mxkeys` command-line tool. All logic lives in the library; `cli` reads files, secrets and
//! the terminal around it.

/// Like `eprintln!`, but a closed or full standard error loses the message instead of
/// panicking.
macro_rules! stderr {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Like `println!` through [`cli::stdout::out`], but returning the write's `io::Result` instead
/// of panicking on a closed pipe or a full disk: `outln!(...)?`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!($crate::cli::stdout::out(), $($arg)*)
    }};
}

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // First, before anything secret is in memory: no core dumps.
    cli::hardening::harden();
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                // --help and --version into a closed pipe: fine; onto a full disk: say so.
                let printed = e.print().and_then(|()| {
                    use std::io::Write as _;
                    std::io::stdout().flush()
                });
                if let Err(err) = printed {
                    if err.kind() != std::io::ErrorKind::BrokenPipe {
                        stderr!("error: cannot write to standard output: {err}");
                        return ExitCode::from(1);
                    }
                }
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            // The contract: one line, built from clap's error context (clap's own rendering puts
            // the missing arguments and its suggestions on the lines after the first).
            stderr!("error: {}", usage_error(&e, std::env::args_os()));
            return ExitCode::from(2);
        }
    };
    let result = cli::run(args);
    let notes = cli::explanations();
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            if cli::interrupt::stopping() {
                // A signal cut the command short; its handler cleans up and sets the exit code.
                cli::interrupt::wait_for_stop();
            }
            if matches!(e, cli::CliError::Interrupted(_)) {
                // Not an error: the person asked for it (as the signal handler says it).
                stderr!("{e}");
            } else {
                stderr!("error: {e}");
            }
            ExitCode::from(e.code())
        }
    };
    // What explains the error comes under it (and, after a success, at the end).
    for n in notes {
        stderr!("note: {n}");
    }
    code
}

/// clap's usage error on one line: what is wrong (the missing arguments by name), clap's "did you
/// mean", and the help of the (sub)command the words named, e.g.
/// `unrecognized subcommand 'decrpyt'; did you mean 'decrypt'? (see mxkeys export --help)`.
fn usage_error(e: &clap::Error, args: impl Iterator<Item = std::ffi::OsString>) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let get = |k| e.get(k).map(ToString::to_string).filter(|s| !s.is_empty());
    let mut msg = match (e.kind(), e.get(ContextKind::InvalidArg)) {
        (ErrorKind::MissingRequiredArgument, Some(ContextValue::Strings(missing))) => {
            let s = if missing.len() == 1 { "" } else { "s" };
            format!("missing required argument{s} {}", missing.join(", "))
        }
        _ => {
            // Every other kind says it all on clap's first line, except the lists clap puts on the
            // lines below it: the conflicting arguments and the possible values.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let mut m = first.trim_end_matches(':').to_owned();
            if let (ErrorKind::ArgumentConflict, Some(ContextValue::Strings(others))) =
                (e.kind(), e.get(ContextKind::PriorArg))
            {
                m.push(' ');
                m.push_str(&others.join(", "));
            }
            if let Some(values) = get(ContextKind::ValidValue) {
                m.push_str(&format!(" (possible values: {values})"));
            }
            m
        }
    };
    for kind in [
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedArg,
        ContextKind::SuggestedValue,
    ] {
        // clap lists the candidates from the least to the most similar.
        let mut names: Vec<String> = match e.get(kind) {
            Some(ContextValue::String(s)) => vec![s.clone()],
            Some(ContextValue::Strings(v)) => v.iter().rev().cloned().collect(),
            _ => continue,
        };
        let Some(best) = names.first().cloned() else {
            continue;
        };
        msg.push_str(&format!("; did you mean '{best}'"));
        if names.len() > 1 {
            names.remove(0);
            msg.push_str(&format!(" (or '{}')", names.join("', '")));
        }
        msg.push('?');
    }
    if let Some(tips) = get(ContextKind::Suggested) {
        msg.push_str(&format!("; {tips}"));
    }
    format!("{msg} (see {} --help)", command_path(args))
}

/// The (sub)command that the words of the command line name, e.g. `mxkeys export decrypt`: the
/// subcommand names as clap knows them (aliases resolved), up to the first word that is none.
fn command_path(args: impl Iterator<Item = std::ffi::OsString>) -> String {
    use clap::CommandFactory;
    let root = cli::Cli::command();
    let mut cmd = &root;
    let mut path = vec![root.get_name().to_owned()];
    for arg in args.skip(1) {
        let Some(word) = arg.to_str() else { break };
        if word == "--" {
            break;
        }
        // Options before a subcommand are flags (--json, --help): no value to skip.
        if word.starts_with('-') {
            continue;
        }
        match cmd.find_subcommand(word) {
            Some(sub) => {
                path.push(sub.get_name().to_owned());
                cmd = sub;
            }
            None => break,
        }
    }
    path.join(" ")
}
