//! `mxkeys attachment ...`: encrypt and decrypt attachments of any size, streaming.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use mxkeys::attachment::{
    find_encrypted_file, AttachmentDecryptor, AttachmentEncryptor, AttachmentKey, HashCheck,
};

use super::io::{print_json, read_small_json};
use super::{output, CliError, ForceArg};

const DECRYPT_AFTER: &str = "\
INFO is the EncryptedFile object, the message content holding it in \"file\" (use --thumbnail for
info.thumbnail_file), or the whole decrypted event (Element: the message's Options > View source;
or `mxkeys events decrypt`). An EncryptedFile looks like
  {\"url\": \"mxc://example.org/abc\", \"v\": \"v2\", \"iv\": \"...\", \"hashes\": {\"sha256\": \"...\"},
   \"key\": {\"kty\": \"oct\", \"alg\": \"A256CTR\", \"k\": \"...\", \"key_ops\": [\"encrypt\", \"decrypt\"],
           \"ext\": true}}
IN is the downloaded mxc:// blob (- for standard input), e.g. for mxc://SERVER/MEDIA_ID
  curl -H \"Authorization: Bearer $TOKEN\" \\
       \"$HS/_matrix/client/v1/media/download/SERVER/MEDIA_ID\" > blob

The SHA-256 of the ciphertext is checked before any plaintext is kept: with -o the plaintext goes to
a temporary file that becomes OUT only on a match; to standard output, the file is hashed first and
decrypted on a second pass. Memory use does not depend on the file size.

Examples:
  mxkeys attachment decrypt blob --info event.json -o photo.jpg
  mxkeys attachment decrypt thumb-blob --info content.json --thumbnail -o thumbnail.png
  mxkeys attachment decrypt blob --info file.json > document.pdf

Exit codes:
  0    decrypted, and the hash matched
  1    hash mismatch (a changed or cut-off download, or the wrong blob for this INFO; no
       plaintext is kept), INFO holds no EncryptedFile or a bad key, IV or version, unreadable file
  2    usage: bad arguments, OUT exists (add --force) or is an input
  130  stopped with Ctrl-C; OUT is not created";

const ENCRYPT_AFTER: &str = "\
IN is any file (- for standard input). Writes the ciphertext to OUT and the EncryptedFile JSON
(holding the key: keep it secret) to --info-out. Upload OUT, then put the EncryptedFile, with its
url set to the mxc:// URI, in the event's \"file\":
  curl -X POST -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/octet-stream' \\
       --data-binary @photo.enc \"$HS/_matrix/media/v3/upload\"      # -> {\"content_uri\": \"mxc://...\"}

Examples:
  mxkeys attachment encrypt photo.jpg -o photo.enc --info-out photo.json
  mxkeys attachment encrypt video.mp4 -o video.enc --info-out video.json --url mxc://example.org/abc

Exit codes:
  0    written
  1    IN cannot be read, OUT cannot be written
  2    usage: bad arguments, -o and --info-out the same file, either exists (add --force)
  130  stopped with Ctrl-C; neither file is created";

#[derive(Debug, Subcommand)]
pub enum AttachmentCmd {
    /// Decrypt a downloaded attachment and check its hash.
    #[command(after_help = DECRYPT_AFTER)]
    Decrypt(DecryptArgs),
    /// Encrypt a file for upload (v2, fresh key and IV).
    #[command(after_help = ENCRYPT_AFTER)]
    Encrypt(EncryptArgs),
}

#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// The downloaded ciphertext (- for standard input).
    input: PathBuf,
    /// EncryptedFile, message content or whole event (JSON).
    #[arg(long, value_name = "INFO.json")]
    info: PathBuf,
    /// Use the content's info.thumbnail_file.
    #[arg(long)]
    thumbnail: bool,
    /// Write the plaintext here (mode 0600) instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    #[command(flatten)]
    force: ForceArg,
}

#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// The file to encrypt (- for standard input).
    input: PathBuf,
    /// Where to write the ciphertext.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Where to write the EncryptedFile JSON (secret: it holds the key).
    #[arg(long, value_name = "INFO.json")]
    info_out: PathBuf,
    /// The mxc:// URL to put in the EncryptedFile, if already known.
    #[arg(long, value_name = "MXC")]
    url: Option<String>,
    /// Also record the plaintext's MIME type in the EncryptedFile.
    #[arg(long, value_name = "TYPE")]
    mimetype: Option<String>,
    #[command(flatten)]
    force: ForceArg,
}

pub fn run(cmd: AttachmentCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        AttachmentCmd::Decrypt(a) => decrypt(a, json),
        AttachmentCmd::Encrypt(a) => encrypt(a, json),
    }
}

const BUF: usize = 256 * 1024;

/// A readable, rewindable copy of the input: the file itself, or standard input spooled to an
/// anonymous temporary file (ciphertext only, never plaintext).
fn open_rewindable(path: &Path) -> Result<File, CliError> {
    super::io::note_read(path);
    if path == Path::new("-") {
        let mut tmp = tempfile::tempfile()
            .map_err(|e| CliError::Input(format!("cannot create a temporary file: {e}")))?;
        io::copy(&mut io::stdin().lock(), &mut tmp)
            .map_err(|e| CliError::Input(format!("cannot read standard input: {e}")))?;
        tmp.seek(SeekFrom::Start(0))?;
        return Ok(tmp);
    }
    let f = File::open(path)
        .map_err(|e| CliError::Input(format!("cannot open {}: {}", path.display(), e)))?;
    if f.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(CliError::Input(format!(
            "{} is a directory",
            path.display()
        )));
    }
    Ok(f)
}

fn decrypt(a: DecryptArgs, json: bool) -> Result<(), CliError> {
    let mut pending = match &a.output {
        Some(out) => Some(output::create(out, a.force.force, &[&a.input, &a.info])?),
        None => None,
    };
    let file = find_encrypted_file(&read_small_json(&a.info, "event")?, a.thumbnail)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let key = AttachmentKey::from_info(&file).map_err(|e| CliError::Input(e.to_string()))?;
    let mut input = open_rewindable(&a.input)?;
    let written = match pending.take() {
        Some(mut p) => {
            // One pass into the temporary file; it becomes OUT only if the hash matches.
            let mut dec = AttachmentDecryptor::new(&mut p, &key);
            let n = io::copy(&mut BufReader::with_capacity(BUF, &mut input), &mut dec)?;
            dec.finish().map_err(|e| CliError::Input(e.to_string()))?;
            let path = p.commit()?;
            (n, Some(path))
        }
        None => {
            // Hash first, then decrypt to stdout; the second pass re-checks the hash, so a file
            // changed in between is reported (its tail may already be on stdout).
            let mut check = HashCheck::new(&key);
            io::copy(&mut BufReader::with_capacity(BUF, &mut input), &mut check)?;
            check.finish().map_err(|e| CliError::Input(e.to_string()))?;
            input.seek(SeekFrom::Start(0))?;
            let stdout = io::stdout().lock();
            let mut dec = AttachmentDecryptor::new(io::BufWriter::with_capacity(BUF, stdout), &key);
            let n = io::copy(&mut BufReader::with_capacity(BUF, &mut input), &mut dec)?;
            dec.finish()
                .map_err(|_| {
                    CliError::Input("the input changed while it was being decrypted".into())
                })?
                .flush()?;
            (n, None)
        }
    };
    if let (n, Some(path)) = written {
        if json {
            print_json(&json!({"output": path.display().to_string(), "bytes": n, "hash": "ok"}))?;
        } else {
            eprintln!(
                "decrypted {n} bytes to {} (SHA-256 verified)",
                path.display()
            );
        }
    }
    Ok(())
}

fn encrypt(a: EncryptArgs, json: bool) -> Result<(), CliError> {
    if a.output == a.info_out {
        return Err(CliError::Usage(
            "-o and --info-out must be different files".into(),
        ));
    }
    let mut out = output::create(&a.output, a.force.force, &[&a.input])?;
    let mut info_out = output::create(&a.info_out, a.force.force, &[&a.input])?;
    let mut input: Box<dyn Read> = if a.input == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        Box::new(open_rewindable(&a.input)?)
    };
    let mut key = Zeroizing::new([0u8; 32]);
    let mut iv = [0u8; 8];
    getrandom::getrandom(&mut *key)
        .and_then(|()| getrandom::getrandom(&mut iv))
        .map_err(|e| CliError::Input(format!("the operating system gave no randomness: {e}")))?;
    let mut enc = AttachmentEncryptor::new(&mut out, &mut key, iv);
    let n = io::copy(&mut input, &mut enc)
        .map_err(|e| CliError::Input(format!("cannot read {}: {}", a.input.display(), e)))?;
    let (mut file, _) = enc.finish(a.url.clone())?;
    if let Some(m) = &a.mimetype {
        file.extra
            .insert("mimetype".into(), Value::String(m.clone()));
    }
    serde_json::to_writer_pretty(&mut info_out, &file).map_err(io::Error::from)?;
    info_out.write_all(b"\n")?;
    let out_path = out.commit()?;
    let info_path = match info_out.commit() {
        Ok(p) => p,
        Err(e) => {
            // Without its key the ciphertext is useless: do not leave it behind.
            let _ = std::fs::remove_file(&out_path);
            return Err(e);
        }
    };
    if json {
        return print_json(&json!({
            "output": out_path.display().to_string(),
            "info": info_path.display().to_string(),
            "bytes": n,
        }));
    }
    eprintln!(
        "encrypted {n} bytes to {}; the key and hash are in {} (keep it secret)",
        out_path.display(),
        info_path.display()
    );
    Ok(())
}
