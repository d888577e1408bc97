//! Reading sessions from an export file or a plaintext JSON array, with the passphrases of
//! several inputs: each export tries the passphrases already given first, then the next
//! `--passphrase-file`, then MXKEYS_PASSPHRASE, then a prompt (three tries).

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use mxkeys::export::{self, Header, Limits};
use mxkeys::session::{RawBatch, RawSessions, SessionRecord};
use mxkeys::Passphrase;

use super::common::open_verified;
use super::io::{duplicate, open_input_file, Source};
use super::secrets::{self, SecretSpec};
use super::CliError;

/// Passphrases met so far, and where the next ones come from.
pub struct Keyring {
    known: Vec<Passphrase>,
    files: VecDeque<PathBuf>,
    env_tried: bool,
    limits: Limits,
}

impl Keyring {
    /// `files`: the `--passphrase-file` options, in input order.
    pub fn new(files: &[PathBuf], max_rounds: u32) -> Self {
        Keyring {
            known: Vec::new(),
            files: files.iter().cloned().collect(),
            env_tried: false,
            limits: Limits { max_rounds },
        }
    }

    /// The `i`-th passphrase that opened something.
    pub fn get(&self, i: usize) -> Option<&Passphrase> {
        self.known.get(i)
    }

    /// The next passphrase not tried yet: a file, the environment, or (up to `prompts` times)
    /// the terminal. None when nothing is left.
    fn next_new(&mut self, path: &Path, prompts: &mut u32) -> Result<Option<Passphrase>, CliError> {
        if let Some(f) = self.files.pop_front() {
            return secrets::read(&spec(Some(&f), String::new())).map(Some);
        }
        if !self.env_tried {
            self.env_tried = true;
            if let Ok(p) = std::env::var("MXKEYS_PASSPHRASE") {
                return Ok(Some(Passphrase::new(p)));
            }
        }
        if *prompts == 0 {
            return Ok(None);
        }
        *prompts -= 1;
        match secrets::read(&spec(None, format!("Passphrase for {}: ", path.display()))) {
            Ok(p) => Ok(Some(p)),
            Err(CliError::Usage(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn spec(file: Option<&Path>, prompt: String) -> SecretSpec<'_> {
    SecretSpec {
        file,
        file_flag: "--passphrase-file",
        // The environment is consulted once per run by the keyring itself.
        env: "MXKEYS_PASSPHRASE_UNUSED",
        prompt,
        confirm: false,
    }
}

/// A stream of session JSON, and what it came from.
pub struct Opened {
    /// The JSON text.
    pub reader: Box<dyn Read>,
    /// For an export: its header and which keyring passphrase opened it.
    pub export: Option<(Header, usize)>,
}

/// An input that is read more than once (`export merge`, `export split`): a JSON file, or an
/// export whose key was derived and MAC checked once.
pub struct Reusable {
    src: ReusableSource,
    /// For an export: its header and which keyring passphrase opened it.
    pub export: Option<(Header, usize)>,
}

enum ReusableSource {
    Json(super::io::InputFile),
    Export(Box<export::Verified<Box<dyn Source>>>),
}

impl Reusable {
    /// The JSON text from its start (an export decrypts again, checking its MAC at the end).
    pub fn pass(&mut self) -> Result<Box<dyn Read + '_>, CliError> {
        Ok(match &mut self.src {
            ReusableSource::Json(f) => Box::new(duplicate(f)?),
            ReusableSource::Export(v) => Box::new(v.plaintext()?),
        })
    }

    /// Hand the sessions of one pass to `f` as text, a batch at a time (at most 4096 sessions
    /// or 4 MiB); an error about the JSON names `path` ([`in_file`]). `f` gets the batch and a
    /// mapper for library errors about it.
    pub fn each_batch(
        &mut self,
        path: &Path,
        batch: &mut RawBatch,
        mut f: impl FnMut(&RawBatch, &dyn Fn(mxkeys::Error) -> CliError) -> Result<(), CliError>,
    ) -> Result<u64, CliError> {
        let export = self.export.is_some();
        let name = in_file(path, export);
        let mut raw = RawSessions::new(self.pass()?, "input");
        loop {
            raw.next_batch(batch, 4096, 4 << 20).map_err(&name)?;
            if batch.is_empty() {
                return Ok(raw.count());
            }
            f(batch, &name)?;
        }
    }
}

/// Open an export (trying the keyring, deriving its key once) or a JSON file, to read it more
/// than once.
pub fn open_reusable(path: &Path, keys: &mut Keyring) -> Result<Reusable, CliError> {
    let mut src = open_input_file(path)?;
    let mut head = Vec::new();
    (&mut src).take(64 * 1024).read_to_end(&mut head)?;
    src.seek(SeekFrom::Start(0))?;
    if !String::from_utf8_lossy(&head).contains(export::armor::BEGIN) {
        return Ok(Reusable {
            src: ReusableSource::Json(src),
            export: None,
        });
    }
    let (v, which) = open_export(path, &src, keys)?;
    let header = *v.header();
    Ok(Reusable {
        src: ReusableSource::Export(Box::new(v)),
        export: Some((header, which)),
    })
}

/// Open an export (trying the keyring) or a JSON file.
pub fn open_sessions(path: &Path, keys: &mut Keyring) -> Result<Opened, CliError> {
    let mut src = open_input_file(path)?;
    let mut head = Vec::new();
    (&mut src).take(64 * 1024).read_to_end(&mut head)?;
    src.seek(SeekFrom::Start(0))?;
    if !String::from_utf8_lossy(&head).contains(export::armor::BEGIN) {
        return Ok(Opened {
            reader: Box::new(src),
            export: None,
        });
    }
    let (v, which) = open_export(path, &src, keys)?;
    let header = *v.header();
    Ok(Opened {
        reader: Box::new(v.into_plaintext()?),
        export: Some((header, which)),
    })
}

/// Try the keyring's passphrases on the export open as `src`: the verified file and which
/// passphrase opened it.
fn open_export(
    path: &Path,
    src: &super::io::InputFile,
    keys: &mut Keyring,
) -> Result<(export::Verified<Box<dyn Source>>, usize), CliError> {
    let mut prompts = 3;
    let mut i = 0;
    loop {
        if i == keys.known.len() {
            match keys.next_new(path, &mut prompts)? {
                Some(p) => keys.known.push(p),
                None if i == 0 => {
                    return Err(CliError::Usage(format!(
                        "{} is an export file and no passphrase was given: use --passphrase-file PATH or MXKEYS_PASSPHRASE, or run in a terminal",
                        path.display()
                    )))
                }
                None => {
                    return Err(CliError::Input(format!(
                        "none of the {i} passphrases given opens {} (wrong passphrase, or the file was changed); give its passphrase with one more --passphrase-file, in input order",
                        path.display()
                    )))
                }
            }
        }
        let pass = keys
            .known
            .get(i)
            .cloned()
            .unwrap_or_else(|| Passphrase::new(String::new()));
        // Every try reads the same open file, not the path again.
        let attempt = duplicate(src)?;
        match open_verified(path, Box::new(attempt), &pass, &keys.limits) {
            Ok(v) => return Ok((v, i)),
            Err(CliError::Lib(mxkeys::Error::ExportMac)) => i += 1,
            Err(e) => return Err(e),
        }
    }
}

impl Opened {
    /// Hand every session of the input (opened from `path`) to `f`, in order; an error about its
    /// JSON names `path` (see [`in_file`]).
    pub fn for_each_session(
        self,
        path: &Path,
        f: impl FnMut(SessionRecord) -> Result<(), mxkeys::Error>,
    ) -> Result<u64, CliError> {
        let export = self.export.is_some();
        // for_each buffers its input itself.
        mxkeys::session::for_each(self.reader, "input", f).map_err(in_file(path, export))
    }
}

/// Names the file in an error about its JSON, so that a run over several inputs says which one
/// is bad (the library only knows "input"); other errors pass through.
pub fn in_file(path: &Path, export: bool) -> impl Fn(mxkeys::Error) -> CliError + '_ {
    move |e| match e {
        mxkeys::Error::Json {
            detail,
            line,
            column,
            ..
        } => {
            let name = if path == Path::new("-") {
                "standard input".to_owned()
            } else {
                path.display().to_string()
            };
            let what = if export {
                format!("{name} decrypts to something that")
            } else {
                name
            };
            CliError::Input(format!(
                "{what} is not a JSON array of session objects: {detail} at line {line}, column {column}"
            ))
        }
        e => CliError::Lib(e),
    }
}
