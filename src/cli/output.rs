//! Output files (`-o`, `--info-out`): nothing appears at OUT until it is complete, fsynced and
//! every check has passed; then it appears at once.
//!
//! - **Where the bytes wait.** On Linux, in a file with no name at all (`O_TMPFILE` in OUT's
//!   directory, mode 0600): if mxkeys dies in any way, SIGKILL and the out-of-memory killer
//!   included, the kernel frees it and nothing readable is left. At commit it gets its name with
//!   `linkat` through `/proc/self/fd`. Elsewhere (or on a file system without `O_TMPFILE`), a
//!   named `.mxkeys-*.tmp` file beside OUT, mode 0600, removed on error and on every catchable
//!   signal (see `interrupt`), but not after SIGKILL.
//! - **What may be replaced.** An existing OUT only with `--force`, and only a regular file or a
//!   symlink to one (the symlink itself is replaced). FIFOs, sockets, devices and directories
//!   are refused even with `--force`: replacing `/dev/null` or a FIFO someone reads from with a
//!   file of session keys is never what was meant.
//! - **Which file is which.** Outputs are compared with the inputs and with each other by device
//!   and inode (or, for a file not there yet, by its directory's device and inode and its name),
//!   not by the text of their paths: `-o X --info-out ./X` is refused.

use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mxkeys::encoding::hex_lower as hex;
use tempfile::NamedTempFile;

use super::CliError;

/// An output being written.
pub struct PendingOutput {
    /// Taken by `commit`; `None` only after it.
    tmp: Option<BufWriter<Staged>>,
    path: PathBuf,
    dir: PathBuf,
    name: OsString,
    force: bool,
    /// This output's entry in [`OUTPUTS`], removed when it is committed or dropped.
    identity: Identity,
}

/// Where the bytes wait for `commit`.
enum Staged {
    /// `O_TMPFILE`: no name yet; `dir` is OUT's directory, opened.
    #[cfg(target_os = "linux")]
    Unnamed { file: File, dir: File },
    /// A named temporary file beside OUT.
    Named(NamedTempFile),
}

impl Staged {
    fn file(&self) -> &File {
        match self {
            #[cfg(target_os = "linux")]
            Staged::Unnamed { file, .. } => file,
            Staged::Named(t) => t.as_file(),
        }
    }
}

impl Write for Staged {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            #[cfg(target_os = "linux")]
            Staged::Unnamed { file, .. } => file.write(buf),
            Staged::Named(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            #[cfg(target_os = "linux")]
            Staged::Unnamed { file, .. } => file.flush(),
            Staged::Named(t) => t.flush(),
        }
    }
}

/// Which file an output is: what was there at `create`, or where it will be.
#[derive(Clone, PartialEq, Eq)]
enum Identity {
    /// OUT exists (after following a symlink): its device and inode.
    Existing(u64, u64),
    /// OUT is not there yet: its directory's device and inode, and its name.
    New(u64, u64, OsString),
}

/// The outputs of this run so far.
static OUTPUTS: Mutex<Vec<Identity>> = Mutex::new(Vec::new());

fn usage(msg: String) -> CliError {
    CliError::Usage(msg)
}

/// What is at OUT.
enum Existing {
    /// Nothing (or a path through a non-directory, which creating the file will report).
    Nothing,
    /// A symlink to nothing: it may be replaced with `--force`.
    Dangling,
    /// A file, directory, FIFO, ... (after following a symlink).
    Some(Metadata),
}

fn existing(path: &Path) -> Result<Existing, CliError> {
    match path.symlink_metadata() {
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory =>
        {
            Ok(Existing::Nothing)
        }
        Err(e) => Err(CliError::Input(format!(
            "cannot look at {}: {e}",
            path.display()
        ))),
        Ok(m) if m.file_type().is_symlink() => {
            Ok(path.metadata().map_or(Existing::Dangling, Existing::Some))
        }
        Ok(m) => Ok(Existing::Some(m)),
    }
}

fn exists_already(path: &Path) -> CliError {
    usage(format!(
        "{} already exists; choose another name, or add --force to replace it",
        path.display()
    ))
}

/// Refuse what may never be replaced: directories, FIFOs, sockets, devices.
fn replaceable(path: &Path, meta: &Metadata) -> Result<(), CliError> {
    if meta.is_dir() {
        return Err(usage(format!(
            "{} is a directory; give a file name for the output",
            path.display()
        )));
    }
    if !meta.is_file() {
        return Err(usage(format!(
            "{} exists and is not a regular file (a FIFO, socket or device); mxkeys replaces only regular files, even with --force: choose another name",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(unix)]
fn dev_ino(m: &Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn dev_ino(_: &Metadata) -> (u64, u64) {
    (0, 0)
}

/// Check OUT before any work is done, then create the place its bytes wait in.
pub fn create(path: &Path, force: bool, inputs: &[&Path]) -> Result<PendingOutput, CliError> {
    if path == Path::new("-") {
        return Err(usage(
            "-o - is not supported; leave out -o to write to standard output".into(),
        ));
    }
    let Some(name) = path.file_name().map(OsString::from) else {
        return Err(usage(format!(
            "{} does not name a file; give a file name for the output",
            path.display()
        )));
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let new_here = || -> Result<Identity, CliError> {
        let d = dir.metadata().map_err(|e| {
            CliError::Input(format!("cannot create a file in {}: {e}", dir.display()))
        })?;
        let (dev, ino) = dev_ino(&d);
        Ok(Identity::New(dev, ino, name.clone()))
    };
    let identity = match existing(path)? {
        Existing::Nothing => new_here()?,
        Existing::Dangling if force => new_here()?,
        Existing::Dangling => return Err(exists_already(path)),
        Existing::Some(meta) => {
            replaceable(path, &meta)?;
            if !force {
                return Err(exists_already(path));
            }
            if let Some(input) = inputs.iter().find(|i| same_file(&meta, i)) {
                return Err(usage(format!(
                    "{} is also an input ({}); write to another file and rename it afterwards",
                    path.display(),
                    input.display()
                )));
            }
            let (dev, ino) = dev_ino(&meta);
            Identity::Existing(dev, ino)
        }
    };
    if let Ok(mut outputs) = OUTPUTS.lock() {
        if outputs.contains(&identity) {
            return Err(usage(format!(
                "{} is named as two outputs of this command; the outputs must be different files",
                path.display()
            )));
        }
        outputs.push(identity.clone());
    }
    let staged = stage(&dir)
        .map_err(|e| CliError::Input(format!("cannot create a file in {}: {e}", dir.display())))?;
    Ok(PendingOutput {
        tmp: Some(BufWriter::with_capacity(256 * 1024, staged)),
        path: path.to_path_buf(),
        dir,
        name,
        force,
        identity,
    })
}

/// An input of this command is `meta`'s file.
fn same_file(meta: &Metadata, input: &Path) -> bool {
    input != Path::new("-") && input.metadata().is_ok_and(|i| dev_ino(&i) == dev_ino(meta))
}

fn stage(dir: &Path) -> io::Result<Staged> {
    #[cfg(target_os = "linux")]
    if let Ok(s) = unnamed(dir) {
        return Ok(s);
    }
    let tmp = tempfile::Builder::new()
        .prefix(".mxkeys-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    super::interrupt::register(tmp.path());
    Ok(Staged::Named(tmp))
}

/// A file with no name in `dir`, when the kernel, the file system and /proc allow one.
#[cfg(target_os = "linux")]
fn unnamed(dir: &Path) -> io::Result<Staged> {
    use rustix::fs::{openat, Mode, OFlags, CWD};
    // linkat() gives the file its name through /proc/self/fd at commit; without /proc it could
    // not, so do not start.
    if !Path::new("/proc/self/fd").is_dir() {
        return Err(io::ErrorKind::Unsupported.into());
    }
    let dir_fd = openat(
        CWD,
        dir,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let fd = openat(
        &dir_fd,
        ".",
        OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::RUSR | Mode::WUSR,
    )?;
    Ok(Staged::Unnamed {
        file: File::from(fd),
        dir: File::from(dir_fd),
    })
}

impl PendingOutput {
    /// Flush, fsync and move into place. Only now does OUT appear.
    pub fn commit(mut self) -> Result<PathBuf, CliError> {
        let path = self.path.clone();
        // An input that changed while it was read makes the output suspect.
        super::io::inputs_unchanged()?;
        // What is at OUT now (it may have appeared or changed since `create`).
        match existing(&path)? {
            Existing::Nothing => {}
            Existing::Dangling if self.force => {}
            Existing::Dangling => return Err(appeared(&path)),
            Existing::Some(meta) => {
                replaceable(&path, &meta)?;
                // Secret files and inputs read after `create` count too: never replace one.
                if let Some(input) = super::io::files_read().iter().find(|i| same_file(&meta, i)) {
                    return Err(usage(format!(
                        "{} is also an input (read as {}); write to another file, nothing was replaced",
                        path.display(),
                        input.display()
                    )));
                }
                if !self.force {
                    return Err(appeared(&path));
                }
            }
        }
        let Some(tmp) = self.tmp.take() else {
            return Err(write_error(
                &path,
                &io::Error::other("output already committed"),
            ));
        };
        let staged = tmp
            .into_inner()
            .map_err(|e| write_error(&path, e.error()))?;
        staged
            .file()
            .sync_all()
            .map_err(|e| write_error(&path, &e))?;
        match staged {
            #[cfg(target_os = "linux")]
            Staged::Unnamed { file, dir } => {
                self.name_unnamed(&file, &dir)?;
                let _ = dir.sync_all();
            }
            Staged::Named(tmp) => {
                let tmp_path = tmp.path().to_path_buf();
                let persisted = if self.force {
                    tmp.persist(&path)
                } else {
                    tmp.persist_noclobber(&path)
                };
                super::interrupt::unregister(&tmp_path);
                persisted.map_err(|e| {
                    if e.error.kind() == io::ErrorKind::AlreadyExists {
                        appeared(&path)
                    } else {
                        write_error(&path, &e.error)
                    }
                })?;
                // Make the rename itself durable.
                if let Ok(d) = File::open(&self.dir) {
                    let _ = d.sync_all();
                }
            }
        }
        Ok(path)
    }

    /// Give the unnamed file its name: directly when nothing may be replaced (linkat fails if
    /// OUT exists, atomically), else under a fresh temporary name renamed over OUT.
    #[cfg(target_os = "linux")]
    fn name_unnamed(&self, file: &File, dir: &File) -> Result<(), CliError> {
        use rustix::fs::{linkat, renameat, AtFlags, CWD};
        use std::os::fd::AsRawFd;
        let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
        let link = |name: &std::ffi::OsStr| {
            linkat(CWD, proc_path.as_str(), dir, name, AtFlags::SYMLINK_FOLLOW)
        };
        if !self.force {
            return link(&self.name).map_err(|e| {
                if e == rustix::io::Errno::EXIST {
                    appeared(&self.path)
                } else {
                    write_error(&self.path, &e.into())
                }
            });
        }
        for _ in 0..16 {
            let mut salt = [0u8; 6];
            getrandom::getrandom(&mut salt)
                .map_err(|e| write_error(&self.path, &io::Error::other(e.to_string())))?;
            let tmp_name = format!(".mxkeys-{}.tmp", hex(&salt));
            match link(tmp_name.as_ref()) {
                Err(e) if e == rustix::io::Errno::EXIST => continue,
                Err(e) => return Err(write_error(&self.path, &e.into())),
                Ok(()) => {}
            }
            let tmp_path = self.dir.join(&tmp_name);
            super::interrupt::register(&tmp_path);
            let renamed = renameat(dir, tmp_name.as_str(), dir, &self.name);
            if renamed.is_err() {
                let _ = std::fs::remove_file(&tmp_path);
            }
            super::interrupt::unregister(&tmp_path);
            return renamed.map_err(|e| write_error(&self.path, &e.into()));
        }
        Err(write_error(
            &self.path,
            &io::Error::other("no free temporary name in the directory"),
        ))
    }
}

#[cfg(target_os = "linux")]
fn appeared(path: &Path) -> CliError {
    usage(format!(
        "{} appeared while mxkeys was working; nothing was written, add --force to replace it",
        path.display()
    ))
}

impl Drop for PendingOutput {
    fn drop(&mut self) {
        if let Ok(mut outputs) = OUTPUTS.lock() {
            if let Some(i) = outputs.iter().position(|o| *o == self.identity) {
                outputs.swap_remove(i);
            }
        }
        // Dropped without commit (an error): an unnamed file vanishes with its descriptor, a
        // NamedTempFile removes itself.
        if let Some(Staged::Named(tmp)) = self.tmp.as_ref().map(BufWriter::get_ref) {
            super::interrupt::unregister(tmp.path());
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
