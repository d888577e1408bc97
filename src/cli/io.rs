//! Inputs, stdout and small stream adapters.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, IsTerminal, Read, Seek, Write};
use std::path::Path;

use super::CliError;

/// An input that can be read twice (exports are: once for the MAC, once to decrypt).
pub trait Source: BufRead + Seek {}
impl<T: BufRead + Seek> Source for T {}

/// Every file this run read (inputs and secret files): an output may replace none of them.
static READ: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Remember that `path` was read.
pub fn note_read(path: &Path) {
    if path != Path::new("-") {
        if let Ok(mut r) = READ.lock() {
            r.push(path.to_path_buf());
        }
    }
}

/// The files read so far.
pub fn files_read() -> Vec<std::path::PathBuf> {
    READ.lock().map(|r| r.clone()).unwrap_or_default()
}

/// Open FILE, or read standard input into memory for `-` (it cannot be rewound).
pub fn open_input(path: &Path) -> Result<Box<dyn Source>, CliError> {
    note_read(path);
    if path == Path::new("-") {
        let mut buf = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|e| CliError::Input(format!("cannot read standard input: {e}")))?;
        return Ok(Box::new(Cursor::new(buf)));
    }
    let file = File::open(path)
        .map_err(|e| CliError::Input(format!("cannot open {}: {}", path.display(), e)))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(CliError::Input(format!(
            "{} is a directory; give the path of a file",
            path.display()
        )));
    }
    Ok(Box::new(BufReader::with_capacity(256 * 1024, file)))
}

/// Copies everything read through it into `out`: the JSON checker reads the plaintext while the
/// bytes flow on to their destination unchanged.
pub struct Tee<R, W> {
    pub inner: R,
    pub out: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(got) = buf.get(..n) {
            self.out.write_all(got)?;
        }
        Ok(n)
    }
}

/// A spinner on stderr while something slow runs, only when stderr is a terminal.
pub fn spinner(message: String) -> Option<indicatif::ProgressBar> {
    if !io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(message);
    pb.enable_steady_tick(std::time::Duration::from_millis(100));
    Some(pb)
}

/// Print a warning to stderr.
pub fn warn(msg: &str) {
    eprintln!("warning: {msg}");
}

/// Print a note to stderr.
pub fn note(msg: &str) {
    eprintln!("note: {msg}");
}

/// Print one JSON document on stdout.
pub fn print_json(v: &serde_json::Value) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v).map_err(io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// Read a whole JSON document from a file (or `-`), naming the file in errors. Unbounded: for
/// documents that grow with an account's history (backups, event lists); see [`read_small_json`].
pub fn read_json(path: &Path) -> Result<serde_json::Value, CliError> {
    let mut src = open_input(path)?;
    let mut buf = Vec::new();
    src.read_to_end(&mut buf)
        .map_err(|e| CliError::Input(format!("cannot read {}: {}", path.display(), e)))?;
    parse_json(path, &buf)
}

/// The largest document [`read_small_json`] reads. Real account data, an event's EncryptedFile, a
/// /keys/query response, a SAS transcript or a backup version are kilobytes (a keys-query of a
/// thousand users is a few MB); parsing a gigabyte line took 2 GB of memory.
pub const SMALL_JSON_MAX: u64 = 64 * 1024 * 1024;

/// Read a JSON document that is small by nature (`what` it is, for the error), refusing it while
/// reading once it passes [`SMALL_JSON_MAX`]: at most that many bytes (and one more) are held.
pub fn read_small_json(path: &Path, what: &str) -> Result<serde_json::Value, CliError> {
    let cannot = |e: io::Error| CliError::Input(format!("cannot read {}: {}", path.display(), e));
    let mut buf = Vec::new();
    if path == Path::new("-") {
        // Not `open_input`: it holds all of standard input, however long.
        io::stdin()
            .lock()
            .take(SMALL_JSON_MAX + 1)
            .read_to_end(&mut buf)
            .map_err(cannot)?;
    } else {
        let src = open_input(path)?;
        // The size as a hint only (the file can change), so the buffer is not grown by doubling.
        let hint = std::fs::metadata(path).map_or(0, |m| m.len().min(SMALL_JSON_MAX + 1));
        buf.reserve(usize::try_from(hint).unwrap_or(0));
        src.take(SMALL_JSON_MAX + 1)
            .read_to_end(&mut buf)
            .map_err(cannot)?;
    }
    if buf.len() as u64 > SMALL_JSON_MAX {
        return Err(CliError::Input(format!(
            "{} is larger than {} MiB, far above any real {what}; is this the right file?",
            path.display(),
            SMALL_JSON_MAX / (1024 * 1024)
        )));
    }
    parse_json(path, &buf)
}

fn parse_json(path: &Path, buf: &[u8]) -> Result<serde_json::Value, CliError> {
    serde_json::from_slice(buf).map_err(|e| {
        CliError::Input(format!(
            "{} is not valid JSON: {} at line {}, column {}; give the file as the server sent it",
            path.display(),
            mxkeys::session::json_detail(&e),
            e.line(),
            e.column()
        ))
    })
}
