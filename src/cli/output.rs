//! Output files: written to a temporary file beside OUT, fsynced, then renamed into place.
//!
//! Mode 0600 (tempfile creates it so), never replacing an existing OUT without `--force`, never
//! OUT == IN, and on any failure OUT does not exist afterwards (the temporary file is removed when
//! dropped).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::CliError;

/// An output being written.
pub struct PendingOutput {
    /// Taken by `commit`; `None` only after it.
    tmp: Option<BufWriter<NamedTempFile>>,
    path: PathBuf,
    force: bool,
}

/// Check OUT before any work is done, then create its temporary file.
pub fn create(path: &Path, force: bool, inputs: &[&Path]) -> Result<PendingOutput, CliError> {
    if path == Path::new("-") {
        return Err(CliError::Usage(
            "-o - is not supported; leave out -o to write to standard output".into(),
        ));
    }
    if let Ok(meta) = path.symlink_metadata() {
        if meta.is_dir() {
            return Err(CliError::Usage(format!(
                "{} is a directory; give a file name for the output",
                path.display()
            )));
        }
        if !force {
            return Err(CliError::Usage(format!(
                "{} already exists; choose another name, or add --force to replace it",
                path.display()
            )));
        }
        for input in inputs {
            if same_file(path, input) {
                return Err(CliError::Usage(format!(
                    "{} is also an input; write to another file and rename it afterwards",
                    path.display()
                )));
            }
        }
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".mxkeys-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| {
            CliError::Input(format!("cannot create a file in {}: {}", dir.display(), e))
        })?;
    super::interrupt::register(tmp.path());
    Ok(PendingOutput {
        tmp: Some(BufWriter::with_capacity(256 * 1024, tmp)),
        path: path.to_path_buf(),
        force,
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (a.metadata(), b.metadata()) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

impl PendingOutput {
    /// Flush, fsync and move into place. Only now does OUT appear.
    pub fn commit(mut self) -> Result<PathBuf, CliError> {
        let path = self.path.clone();
        let force = self.force;
        // Secret files and inputs read after `create` count too: never replace one of them.
        if path.exists() {
            if let Some(input) = super::io::files_read().iter().find(|i| same_file(&path, i)) {
                return Err(CliError::Usage(format!(
                    "{} is also an input (read as {}); write to another file, nothing was replaced",
                    path.display(),
                    input.display()
                )));
            }
        }
        let Some(tmp) = self.tmp.take() else {
            return Err(write_error(
                &path,
                &io::Error::other("output already committed"),
            ));
        };
        let tmp = tmp
            .into_inner()
            .map_err(|e| write_error(&path, e.error()))?;
        let tmp_path = tmp.path().to_path_buf();
        tmp.as_file()
            .sync_all()
            .map_err(|e| write_error(&path, &e))?;
        let persisted = if force {
            tmp.persist(&path)
        } else {
            tmp.persist_noclobber(&path)
        };
        super::interrupt::unregister(&tmp_path);
        persisted.map_err(|e| {
            if e.error.kind() == io::ErrorKind::AlreadyExists {
                CliError::Usage(format!(
                    "{} appeared while mxkeys was working; nothing was written, add --force to replace it",
                    path.display()
                ))
            } else {
                write_error(&path, &e.error)
            }
        })?;
        // Make the rename itself durable.
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(path)
    }
}

impl Drop for PendingOutput {
    fn drop(&mut self) {
        // Dropped without commit (an error): the NamedTempFile removes itself.
        if let Some(tmp) = &self.tmp {
            super::interrupt::unregister(tmp.get_ref().path());
        }
    }
}

fn write_error(path: &Path, e: &io::Error) -> CliError {
    CliError::Input(format!("cannot write {}: {}", path.display(), e))
}

impl Write for PendingOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.tmp {
            Some(t) => t.write(buf),
            None => Err(io::Error::other("output already committed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.tmp {
            Some(t) => t.flush(),
            None => Ok(()),
        }
    }
}
