//! Standard output. Every command prints through [`out`], so that:
//!
//! - a closed pipe (`mxkeys ... | head`) is an `io::Error` of kind `BrokenPipe` that `main` turns
//!   into exit 0, and a full disk (`> /dev/full`) is one `error:` line and exit 1, never a panic
//!   (`println!` panics on both);
//! - output that comes from decrypting a file in two passes (exports: the HMAC first, then the
//!   plaintext) can be *held*: it goes to an unnamed temporary file and reaches standard output
//!   only when the command has finished without error and its inputs did not change meanwhile
//!   ([`release`]). A file changed between the two passes makes the second pass fail at its
//!   end; without holding, the plaintext read before that point would already be out.
//!
//! The held copy is a file with no name (`tempfile::tempfile`, O_TMPFILE on Linux) in the
//! temporary directory, mode 0600: it disappears with the process however it ends, and memory
//! stays bounded whatever the size of the output.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::Mutex;

use super::CliError;

/// Where printed bytes go.
enum Sink {
    /// Straight to standard output.
    Direct,
    /// Held; the temporary file is made at the first byte (a command that holds but prints
    /// nothing, such as one writing to -o, needs none).
    Held(Option<File>),
}

static SINK: Mutex<Sink> = Mutex::new(Sink::Direct);

fn lock() -> io::Result<std::sync::MutexGuard<'static, Sink>> {
    SINK.lock()
        .map_err(|_| io::Error::other("output lock poisoned"))
}

/// The held file, made on first use.
fn held_file(slot: &mut Option<File>) -> io::Result<&mut File> {
    if slot.is_none() {
        *slot = Some(tempfile::tempfile().map_err(held_error)?);
    }
    slot.as_mut()
        .ok_or_else(|| io::Error::other("held output file missing"))
}

/// A handle on standard output (or on the held copy). Cheap; take one where needed.
pub struct Out;

/// Standard output, as every command should write it.
pub fn out() -> Out {
    Out
}

fn stdout_error(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot write to standard output: {e}"))
}

fn held_error(e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "cannot hold the output in a temporary file until it is verified ({e}); \
             use -o FILE, or free space in the temporary directory (TMPDIR)"
        ),
    )
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut *lock()? {
            Sink::Held(slot) => held_file(slot)?.write(buf).map_err(held_error),
            Sink::Direct => io::stdout().write(buf).map_err(stdout_error),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut *lock()? {
            Sink::Held(slot) => held_file(slot)?.write_all(buf).map_err(held_error),
            Sink::Direct => io::stdout().lock().write_all(buf).map_err(stdout_error),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut *lock()? {
            Sink::Held(_) => Ok(()),
            Sink::Direct => io::stdout().flush().map_err(stdout_error),
        }
    }
}

/// From now on, keep what is printed until [`release`]. Call it before the first byte of
/// output that depends on a second pass over an input.
///
/// # Errors
/// Standard output cannot be flushed.
pub fn hold() -> Result<(), CliError> {
    let mut sink = lock()?;
    if matches!(*sink, Sink::Direct) {
        io::stdout().flush().map_err(stdout_error)?;
        *sink = Sink::Held(None);
    }
    Ok(())
}

/// The command succeeded: check that no input changed while it was read, then hand the held
/// output (if any) to standard output, and flush.
///
/// # Errors
/// An input changed ([`super::io::inputs_unchanged`]): the held output is discarded. Writing to
/// standard output failed.
pub fn release() -> Result<(), CliError> {
    let taken = std::mem::replace(&mut *lock()?, Sink::Direct);
    if matches!(taken, Sink::Held(_)) {
        super::io::inputs_unchanged()?;
    }
    if let Sink::Held(Some(mut f)) = taken {
        super::io::inputs_unchanged()?;
        f.seek(SeekFrom::Start(0)).map_err(held_error)?;
        let mut stdout = io::stdout().lock();
        io::copy(&mut f, &mut stdout).map_err(|e| {
            // io::copy reports read and write errors alike; the held file is local, so a
            // failure here is almost always the write side.
            stdout_error(e)
        })?;
    }
    io::stdout().flush().map_err(stdout_error)?;
    Ok(())
}
