//! Inputs, stdout and small stream adapters.

use std::fs::File;
use std::io::{self, BufRead, IsTerminal, Read, Seek, Write};
use std::sync::Mutex;

use mxkeys::WipingBufReader;
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

/// Which input standard input (`-`) has fed, if any.
static STDIN_USED_BY: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Standard input is about to be read for `what` (an input file or a `--*-file` option). It can
/// feed only one of them: a second reader would get nothing, or the rest of the first one's data.
///
/// # Errors
/// It already fed another.
pub fn claim_stdin(what: &str) -> Result<(), CliError> {
    let Ok(mut used) = STDIN_USED_BY.lock() else {
        return Ok(());
    };
    if let Some(first) = used.as_deref() {
        return Err(CliError::Usage(format!(
            "standard input (-) can feed only one input, and it is already read for {first}; give {what} as a file"
        )));
    }
    *used = Some(what.to_owned());
    Ok(())
}

/// What an input file looked like when it was opened: compared again before any output is
/// released, so that a file changed while mxkeys read it (between the MAC pass and the decrypt
/// pass of an export, say) is refused instead of half-used.
struct Watched {
    path: std::path::PathBuf,
    file: File,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

static WATCHED: std::sync::Mutex<Vec<Watched>> = std::sync::Mutex::new(Vec::new());

fn watch(path: &Path, file: &File, meta: &std::fs::Metadata) {
    // A second descriptor on the same open file: fstat through it sees what this run reads,
    // even if the name is later replaced.
    if let (Ok(dup), Ok(mut w)) = (file.try_clone(), WATCHED.lock()) {
        w.push(Watched {
            path: path.to_path_buf(),
            file: dup,
            len: meta.len(),
            modified: meta.modified().ok(),
        });
    }
}

/// Check every input opened so far against its size and modification time at opening.
///
/// # Errors
/// One changed: the message names it.
pub fn inputs_unchanged() -> Result<(), CliError> {
    let Ok(w) = WATCHED.lock() else {
        return Ok(());
    };
    for f in w.iter() {
        let now = f.file.metadata().map_err(|e| {
            CliError::Input(format!("cannot check {} again: {e}", f.path.display()))
        })?;
        if now.len() != f.len || now.modified().ok() != f.modified {
            return Err(CliError::Input(format!(
                "{} changed while mxkeys was reading it; nothing was written or printed: run again once nothing writes to it",
                f.path.display()
            )));
        }
    }
    Ok(())
}

/// An opened input that is read more than once: a regular file, read through one descriptor for
/// every pass (the buffer holds plaintext JSON at times, so it is wiped when dropped).
pub type InputFile = WipingBufReader<File>;

/// Another reader on the same open file as `input` (the same descriptor's file, not the path
/// again), positioned at its start.
pub fn duplicate(input: &InputFile) -> io::Result<InputFile> {
    let mut file = input.get_ref().try_clone()?;
    file.seek(io::SeekFrom::Start(0))?;
    Ok(WipingBufReader::with_capacity(256 * 1024, file))
}

/// Open FILE and refuse what is not a file to read: a directory, a device. A regular file is
/// watched for changes ([`inputs_unchanged`]); the metadata says which it is.
fn open_checked(path: &Path) -> Result<(File, std::fs::Metadata), CliError> {
    let cannot = |e: io::Error| CliError::Input(format!("cannot open {}: {}", path.display(), e));
    let file = File::open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err(CliError::Input(format!(
            "{} is a directory; give the path of a file",
            path.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() || kind.is_block_device() {
            return Err(CliError::Input(format!(
                "{} is a device, not a file; give the path of a file",
                path.display()
            )));
        }
    }
    if kind.is_file() {
        watch(path, &file, &meta);
    }
    Ok((file, meta))
}

fn display_name(path: &Path) -> String {
    if path == Path::new("-") {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    }
}

/// Open FILE to read it more than once (`-` is standard input).
///
/// A regular file is read in place and watched for changes ([`inputs_unchanged`]). Standard
/// input, a pipe (`<(cat f)`) or a FIFO cannot be rewound, so it is first copied into an
/// unnamed temporary file (mode 0600, gone when mxkeys ends): memory stays bounded and every
/// pass sees the same bytes. Directories and devices are refused. An input read once goes
/// through [`open_once`] instead, which copies nothing.
pub fn open_input_file(path: &Path) -> Result<InputFile, CliError> {
    note_read(path);
    let spool = |mut from: Box<dyn Read>| -> Result<InputFile, CliError> {
        let mut tmp = tempfile::tempfile().map_err(|e| {
            CliError::Input(format!(
                "cannot copy {} to a temporary file to read it twice: {e}; save it to a file first",
                display_name(path)
            ))
        })?;
        io::copy(&mut from, &mut tmp)
            .map_err(|e| CliError::Input(format!("cannot read {}: {e}", display_name(path))))?;
        tmp.seek(io::SeekFrom::Start(0))?;
        Ok(WipingBufReader::with_capacity(256 * 1024, tmp))
    };
    if path == Path::new("-") {
        claim_stdin("the input file")?;
        return spool(Box::new(io::stdin().lock()));
    }
    let (file, meta) = open_checked(path)?;
    if meta.is_file() {
        return Ok(WipingBufReader::with_capacity(256 * 1024, file));
    }
    spool(Box::new(file))
}

/// [`open_input_file`], boxed.
pub fn open_input(path: &Path) -> Result<Box<dyn Source>, CliError> {
    Ok(Box::new(open_input_file(path)?))
}

/// An input read once, front to back: standard input (claimed for `what`), a pipe or a file as
/// it comes, and its length when it is a regular file.
pub struct OnceInput {
    /// The bytes.
    pub reader: Box<dyn Read>,
    /// The size of a regular file (a hint: it can change).
    pub len: Option<u64>,
}

/// Open FILE to read it once (`-` is standard input, fed to `what`): nothing is copied first, so
/// a size cap applied while reading bounds a pipe too. Directories and devices are refused.
pub fn open_once(path: &Path, what: &str) -> Result<OnceInput, CliError> {
    note_read(path);
    if path == Path::new("-") {
        claim_stdin(what)?;
        return Ok(OnceInput {
            reader: Box::new(io::stdin().lock()),
            len: None,
        });
    }
    let (file, meta) = open_checked(path)?;
    Ok(OnceInput {
        len: meta.is_file().then_some(meta.len()),
        // Unbuffered: every reader of a once-read input reads big chunks or buffers it itself.
        reader: Box::new(file),
    })
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
    stderr!("warning: {msg}");
}

/// Print a note to stderr.
pub fn note(msg: &str) {
    stderr!("note: {msg}");
}

/// Notes that explain the error a command is about to return: printed after its `error:` line
/// (see [`explanations`]), so the cause comes first and its explanation under it.
static EXPLAIN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Keep a note for after the error line. A command that then succeeds prints it at the end.
pub fn explain(msg: &str) {
    if let Ok(mut e) = EXPLAIN.lock() {
        e.push(msg.to_owned());
    }
}

/// The notes kept by [`explain`], taken.
pub fn explanations() -> Vec<String> {
    EXPLAIN
        .lock()
        .map(|mut e| std::mem::take(&mut *e))
        .unwrap_or_default()
}

/// Print one JSON document on stdout.
pub fn print_json(v: &serde_json::Value) -> Result<(), CliError> {
    let mut text = serde_json::to_vec_pretty(v).map_err(io::Error::from)?;
    text.push(b'\n');
    super::stdout::out().write_all(&text)?;
    Ok(())
}

/// The largest document [`read_small_json`] reads. Real account data, an event's EncryptedFile, a
/// /keys/query response, a SAS transcript or a backup version are kilobytes (a keys-query of a
/// thousand users is a few MB); parsing a gigabyte line took 2 GB of memory.
pub const SMALL_JSON_MAX: u64 = 64 * 1024 * 1024;

/// Read a JSON document that is small by nature (`what` it is, for the error), refusing it while
/// reading once it passes [`SMALL_JSON_MAX`]: at most that many bytes (and one more) are held,
/// whether it comes from a file, a pipe or standard input.
pub fn read_small_json(path: &Path, what: &str) -> Result<serde_json::Value, CliError> {
    let src = open_once(path, what)?;
    let mut buf = Vec::new();
    // The size as a hint only (the file can change), so the buffer is not grown by doubling.
    let hint = src.len.map_or(0, |n| n.min(SMALL_JSON_MAX + 1));
    buf.reserve(usize::try_from(hint).unwrap_or(0));
    src.reader
        .take(SMALL_JSON_MAX + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CliError::Input(format!("cannot read {}: {}", path.display(), e)))?;
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
