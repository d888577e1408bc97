//! Reading secrets: a `--*-file` (path, or `-` for stdin), else an environment variable, else a
//! prompt without echo on the terminal. Never from argv.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use zeroize::Zeroizing;

use mxkeys::Passphrase;

use super::CliError;

/// Longest first line accepted from a secret file.
const MAX_SECRET_LINE: u64 = 64 * 1024;

/// How to find one secret.
pub struct SecretSpec<'a> {
    /// `--passphrase-file` and the like.
    pub file: Option<&'a Path>,
    /// The option's name, for messages.
    pub file_flag: &'static str,
    /// Environment variable consulted next.
    pub env: &'static str,
    /// Prompt text when asking on the terminal.
    pub prompt: String,
    /// Ask twice on the terminal (new passphrases).
    pub confirm: bool,
}

/// Read the first line of a file (or stdin), without its line break.
fn read_first_line(path: &Path, flag: &str) -> Result<Passphrase, CliError> {
    super::io::note_read(path);
    let reader: Box<dyn Read> = if path == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path).map_err(|e| {
            CliError::Usage(format!("{flag}: cannot open {}: {}", path.display(), e))
        })?)
    };
    let mut line = Zeroizing::new(Vec::new());
    BufReader::new(reader.take(MAX_SECRET_LINE + 1))
        .read_until(b'\n', &mut line)
        .map_err(|e| CliError::Usage(format!("{flag}: cannot read {}: {}", path.display(), e)))?;
    if line.len() as u64 > MAX_SECRET_LINE {
        return Err(CliError::Usage(format!(
            "{flag}: the first line of {} is longer than {MAX_SECRET_LINE} bytes; is this the right file?",
            path.display()
        )));
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    let text = std::str::from_utf8(&line).map_err(|_| {
        CliError::Usage(format!(
            "{flag}: the first line of {} is not UTF-8 text; save it as UTF-8",
            path.display()
        ))
    })?;
    Ok(Passphrase::new(text.to_owned()))
}

fn terminal_available() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_ok()
}

fn prompt_once(prompt: &str) -> Result<Passphrase, CliError> {
    rpassword::prompt_password(prompt)
        .map(Passphrase::new)
        .map_err(|e| CliError::Usage(format!("cannot read the passphrase from the terminal: {e}")))
}

/// Find a secret as the CLI contract says.
pub fn read(spec: &SecretSpec<'_>) -> Result<Passphrase, CliError> {
    if let Some(path) = spec.file {
        return read_first_line(path, spec.file_flag);
    }
    match std::env::var(spec.env) {
        Ok(v) => return Ok(Passphrase::new(v)),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(CliError::Usage(format!("{} is not valid UTF-8", spec.env)))
        }
        Err(std::env::VarError::NotPresent) => {}
    }
    if !terminal_available() {
        return Err(CliError::Usage(format!(
            "no passphrase given and no terminal to ask on; use {} PATH or set {}",
            spec.file_flag, spec.env
        )));
    }
    if !spec.confirm {
        return prompt_once(&spec.prompt);
    }
    for _ in 0..3 {
        let first = prompt_once(&spec.prompt)?;
        let again = prompt_once("Repeat it to confirm: ")?;
        if first == again {
            return Ok(first);
        }
        eprintln!("The two entries differ; try again.");
    }
    Err(CliError::Usage(
        "the passphrase and its confirmation differed three times; nothing was written".into(),
    ))
}
