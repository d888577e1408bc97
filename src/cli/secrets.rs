//! Reading secrets: a `--*-file` (path, or `-` for stdin), else an environment variable, else a
//! prompt without echo on the terminal. Never from argv.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use zeroize::Zeroizing;

use mxkeys::Passphrase;

use super::CliError;

/// Longest first line accepted from a secret file.
const MAX_SECRET_LINE: usize = 64 * 1024;

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
///
/// The line is read into a buffer sized once for the longest line accepted, so that it never
/// moves (a growing `Vec` would leave unwiped copies of the secret behind). A UTF-8 byte-order
/// mark (Windows Notepad) and a carriage return before the line break or at the end of the file
/// are dropped; they are never part of a passphrase or a key.
fn read_first_line(path: &Path, flag: &str) -> Result<Passphrase, CliError> {
    super::io::note_read(path);
    let reader: Box<dyn Read> = if path == Path::new("-") {
        super::io::claim_stdin(flag)?;
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path).map_err(|e| {
            CliError::Usage(format!("{flag}: cannot open {}: {}", path.display(), e))
        })?)
    };
    let line = read_line_wiped(reader)
        .map_err(|e| CliError::Usage(format!("{flag}: cannot read {}: {}", path.display(), e)))?;
    if line.len() > MAX_SECRET_LINE {
        return Err(CliError::Input(format!(
            "{flag}: the first line of {} is longer than {MAX_SECRET_LINE} bytes; is this the right file?",
            path.display()
        )));
    }
    let text = trim_line(&line);
    let text = std::str::from_utf8(text).map_err(|e| {
        CliError::Input(format!(
            "{flag}: the first line of {} is not UTF-8 text (byte {} is not); save it as UTF-8",
            path.display(),
            e.valid_up_to() + 1
        ))
    })?;
    Ok(Passphrase::new(text.to_owned()))
}

/// Up to the first line break (kept) or [`MAX_SECRET_LINE`] + 1 bytes, one byte per read: no
/// buffer on the way holds a copy (a `BufReader`'s would be freed unwiped), and the line's own
/// buffer is allocated once, so it never moves.
fn read_line_wiped(mut reader: impl Read) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut line = Zeroizing::new(Vec::with_capacity(MAX_SECRET_LINE + 1));
    let mut byte = Zeroizing::new([0u8; 1]);
    while line.len() <= MAX_SECRET_LINE {
        match reader.read(&mut *byte) {
            Ok(0) => break,
            Ok(_) => {
                let [b] = *byte;
                line.push(b);
                if b == b'\n' {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(line)
}

/// The first line without its line break, a carriage return before it (or at the end of a file
/// with no final line break), and a UTF-8 byte-order mark.
fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line)
}

fn terminal_available() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_ok()
}

/// Ask on the terminal (`/dev/tty`, whatever stdin and stdout are) with the echo off.
fn prompt_once(prompt: &str) -> Result<Passphrase, CliError> {
    let failed = |e: io::Error| {
        CliError::Usage(format!("cannot read the passphrase from the terminal: {e}"))
    };
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(failed)?;
    tty.write_all(prompt.as_bytes())
        .and_then(|()| tty.flush())
        .map_err(failed)?;
    let echo_off = super::interrupt::EchoOff::new(&tty).map_err(failed)?;
    let line = read_line_wiped(&tty).map_err(failed)?;
    drop(echo_off);
    if line.last() != Some(&b'\n') {
        return Err(CliError::Usage(if line.is_empty() {
            "the terminal closed before a passphrase was typed".into()
        } else {
            format!("the typed passphrase is longer than {MAX_SECRET_LINE} bytes")
        }));
    }
    let text = std::str::from_utf8(trim_line(&line)).map_err(|_| {
        CliError::Input(
            "the typed passphrase is not UTF-8 text; check the terminal's encoding".into(),
        )
    })?;
    Ok(Passphrase::new(text.to_owned()))
}

/// Secrets the guided flow has already asked for and checked, by the variable they stand for
/// (`MXKEYS_RECOVERY_KEY`, `MXKEYS_PASSPHRASE`): the commands it then runs read them from here
/// instead of asking again. Never in the environment, so never visible to other processes.
static PRESET: std::sync::Mutex<Vec<(&'static str, Passphrase)>> =
    std::sync::Mutex::new(Vec::new());

/// Hand a checked secret to the commands the guided flow runs next.
pub fn preset(env: &'static str, value: Passphrase) {
    if let Ok(mut p) = PRESET.lock() {
        p.retain(|(e, _)| *e != env);
        p.push((env, value));
    }
}

/// Forget every preset secret (they are wiped as they drop).
pub fn clear_presets() {
    if let Ok(mut p) = PRESET.lock() {
        p.clear();
    }
}

/// The preset secret standing for `env`, if any.
pub fn preset_for(env: &str) -> Option<Passphrase> {
    let p = PRESET.lock().ok()?;
    p.iter().find(|(e, _)| *e == env).map(|(_, v)| v.clone())
}

/// The secret a variable stands for: the guided flow's preset, else the environment.
pub fn from_env(name: &str) -> Result<Option<Passphrase>, CliError> {
    if let Some(v) = preset_for(name) {
        return Ok(Some(v));
    }
    match std::env::var(name) {
        Ok(v) => Ok(Some(Passphrase::new(v))),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(CliError::Usage(format!("{name} is not valid UTF-8")))
        }
        Err(std::env::VarError::NotPresent) => Ok(None),
    }
}

/// Find a secret as the CLI contract says.
pub fn read(spec: &SecretSpec<'_>) -> Result<Passphrase, CliError> {
    if let Some(path) = spec.file {
        return read_first_line(path, spec.file_flag);
    }
    if let Some(v) = from_env(spec.env)? {
        return Ok(v);
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
        stderr!("The two entries differ; try again.");
    }
    Err(CliError::Usage(
        "the passphrase and its confirmation differed three times; nothing was written".into(),
    ))
}

/// Like [`read`], for a secret the command can do without: with no file, no variable and no
/// terminal there is none (`None`), and an empty answer at the prompt skips it.
pub fn read_optional(spec: &SecretSpec<'_>) -> Result<Option<Passphrase>, CliError> {
    if spec.file.is_some() || preset_for(spec.env).is_some() || std::env::var_os(spec.env).is_some()
    {
        return read(spec).map(Some);
    }
    if !terminal_available() {
        return Ok(None);
    }
    let answer = prompt_once(&spec.prompt)?;
    Ok((!answer.expose().is_empty()).then_some(answer))
}

#[cfg(test)]
mod tests {
    use super::trim_line;

    #[test]
    fn trim_line_drops_line_break_carriage_return_and_bom() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"pass\n", b"pass"),
            (b"pass\r\n", b"pass"),
            (b"pass\r", b"pass"),
            (b"\xef\xbb\xbfpass\r\n", b"pass"),
            (b"pa\rss\n", b"pa\rss"),
            (b"pass \n", b"pass "),
            (b"", b""),
        ];
        for (input, want) in cases {
            assert_eq!(trim_line(input), want, "{input:?}");
        }
    }
}
