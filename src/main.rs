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
            // The contract: one line. clap's first line is the error; the usage and the "try
            // --help" tip that follow it are left out.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            stderr!("error: {first} (see mxkeys --help)");
            return ExitCode::from(2);
        }
    };
    match cli::run(args) {
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
    }
}
