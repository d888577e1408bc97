//! `mxkeys attachment ...`: encrypt and decrypt attachments of any size, streaming.

use std::io::{self, BufReader, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use mxkeys::attachment::{
    find_encrypted_file, message_content, AttachmentDecryptor, AttachmentEncryptor, AttachmentKey,
};

use super::common::{output_arg, OptionalOutputArgs, OutputArgs};
use super::io::{open_once, print_json, read_small_json, warn};
use super::{output, CliError};

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

The SHA-256 of the ciphertext is checked before any plaintext is let out: with -o the plaintext goes
to a temporary file that becomes OUT only on a match; without -o, to an unnamed temporary file that
is copied to standard output only on a match. Memory use does not depend on the file size.

The hash covers the ciphertext only (a protocol limit): a wrong key in INFO for the right blob
still \"decrypts\", to garbage, with exit 0. When INFO declares a MIME type whose first bytes are
known (PNG, JPEG, GIF, WebP, PDF, ZIP, Ogg, MP4, text), a plaintext that does not start like one
earns a warning.

Examples:
  mxkeys attachment decrypt blob --info event.json -o photo.jpg
  mxkeys attachment decrypt thumb-blob --info content.json --thumbnail -o thumbnail.png
  mxkeys attachment decrypt blob --info file.json > document.pdf

Exit codes:
  0    decrypted, and the hash matched
  1    hash mismatch (a changed or cut-off download, or the wrong blob for this INFO; no
       plaintext is kept), INFO holds no EncryptedFile (an unencrypted attachment: the error
       gives its download line) or a bad key, IV or version, unreadable file
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
#[command(mut_args(output_arg(|a| a.help("Write the plaintext here (mode 0600), not to stdout"))))]
pub struct DecryptArgs {
    /// The downloaded ciphertext (- for standard input).
    input: PathBuf,
    /// EncryptedFile, message content or whole event (JSON).
    #[arg(long, value_name = "INFO.json")]
    info: PathBuf,
    /// Use the content's info.thumbnail_file.
    #[arg(long)]
    thumbnail: bool,
    #[command(flatten)]
    out: OptionalOutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_args(output_arg(|a| a.help("Where to write the ciphertext"))))]
pub struct EncryptArgs {
    /// The file to encrypt (- for standard input).
    input: PathBuf,
    #[command(flatten)]
    out: OutputArgs,
    /// The EncryptedFile to write; it holds the key.
    #[arg(long, value_name = "INFO.json")]
    info_out: PathBuf,
    /// The mxc:// URL for the EncryptedFile, if known.
    #[arg(long, value_name = "MXC")]
    url: Option<String>,
    /// Also record the plaintext's MIME type.
    #[arg(long, value_name = "TYPE")]
    mimetype: Option<String>,
}

pub fn run(cmd: AttachmentCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        AttachmentCmd::Decrypt(a) => decrypt(a, json),
        AttachmentCmd::Encrypt(a) => encrypt(a, json),
    }
}

const BUF: usize = 256 * 1024;

fn decrypt(a: DecryptArgs, json: bool) -> Result<(), CliError> {
    let mut pending = a.out.create(&[&a.input, &a.info])?;
    let doc = read_small_json(&a.info, "event")?;
    if let Some(why) = not_encrypted(&doc, a.thumbnail) {
        return Err(CliError::Input(why));
    }
    let file =
        find_encrypted_file(&doc, a.thumbnail).map_err(|e| CliError::Input(e.to_string()))?;
    let key = AttachmentKey::from_info(&file).map_err(|e| CliError::Input(e.to_string()))?;
    let mut input = open_once(&a.input, "the input file")?.reader;
    // One pass, into a place nobody reads until the hash has matched: OUT's temporary file, or
    // the held standard output (an unnamed temporary file, see `stdout`).
    let mut head = Head::default();
    let n = match pending.as_mut() {
        Some(p) => decrypt_into(&mut input, p, &key, &mut head)?,
        None => {
            super::stdout::hold()?;
            decrypt_into(&mut input, &mut super::stdout::out(), &key, &mut head)?
        }
    };
    if let Some(why) = mimetype(&doc, a.thumbnail).and_then(|m| head.mismatch(m)) {
        warn(&format!(
            "{why}: if the output is garbage, the key in INFO is not this file's (the hash covers \
             only the ciphertext, so a wrong key cannot be told from a right one)"
        ));
    }
    let Some(p) = pending else {
        return Ok(());
    };
    let path = p.commit()?;
    if json {
        print_json(&json!({"output": path.display().to_string(), "bytes": n, "hash": "ok"}))?;
    } else {
        stderr!(
            "decrypted {n} bytes to {} (SHA-256 verified)",
            path.display()
        );
    }
    Ok(())
}

/// When INFO is a message whose attachment is not encrypted (`url` and no `file`; for the
/// thumbnail, `info.thumbnail_url` and no `info.thumbnail_file`): the error saying so, with the
/// download line for its mxc:// URL.
fn not_encrypted(doc: &Value, thumbnail: bool) -> Option<String> {
    let content = message_content(doc);
    let (holder, file, url) = if thumbnail {
        (content.get("info")?, "thumbnail_file", "thumbnail_url")
    } else {
        (content, "file", "url")
    };
    // An EncryptedFile itself (or a damaged one) carries url too, beside key/iv/hashes.
    let encrypted_fields = ["key", "iv", "hashes"];
    if holder.get(file).is_some()
        || (!thumbnail && encrypted_fields.iter().any(|k| content.get(k).is_some()))
    {
        return None;
    }
    let mxc = holder.get(url)?.as_str()?;
    let what = if thumbnail { "thumbnail" } else { "attachment" };
    let head = format!(
        "this {what} is not encrypted (\"{url}\" and no \"{file}\"), so there is nothing to decrypt"
    );
    Some(match media_path(mxc) {
        Some(path) => format!(
            "{head}: download it as it is with curl -H \"Authorization: Bearer $TOKEN\" \"$HS/_matrix/client/v1/media/download/{path}\" -o FILE"
        ),
        None => format!("{head}, and its {url} {mxc:?} is not an mxc:// URL"),
    })
}

/// `SERVER/MEDIA_ID` of an `mxc://SERVER/MEDIA_ID` URL, when both parts hold only the characters
/// the spec allows (so the download line is safe to paste into a shell).
fn media_path(mxc: &str) -> Option<&str> {
    let path = mxc.strip_prefix("mxc://")?;
    let (server, media) = path.split_once('/')?;
    let server_ok = server
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'));
    let media_ok = media
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    (!server.is_empty() && !media.is_empty() && server_ok && media_ok).then_some(path)
}

/// Decrypt `input` into `out`, keeping the first bytes in `head`; the hash verdict comes last.
fn decrypt_into(
    input: &mut impl io::Read,
    out: &mut dyn Write,
    key: &AttachmentKey,
    head: &mut Head,
) -> Result<u64, CliError> {
    let sink = Sniff {
        inner: io::BufWriter::with_capacity(BUF, out),
        head,
    };
    let mut dec = AttachmentDecryptor::new(sink, key);
    let n = io::copy(&mut BufReader::with_capacity(BUF, input), &mut dec)?;
    dec.finish()
        .map_err(|e| CliError::Input(e.to_string()))?
        .inner
        .flush()?;
    Ok(n)
}

/// The declared MIME type: the EncryptedFile's own `mimetype`, else the content's
/// `info.mimetype` (or `info.thumbnail_info.mimetype` for the thumbnail).
fn mimetype(doc: &Value, thumbnail: bool) -> Option<&str> {
    let content = message_content(doc);
    let info = content.get("info");
    let places = if thumbnail {
        [
            info.and_then(|i| i.get("thumbnail_file")),
            info.and_then(|i| i.get("thumbnail_info")),
        ]
    } else {
        [content.get("file").or(Some(content)), info]
    };
    places
        .into_iter()
        .flatten()
        .find_map(|v| v.get("mimetype")?.as_str())
}

/// The first bytes of the plaintext.
#[derive(Default)]
struct Head {
    bytes: Zeroizing<Vec<u8>>,
}

const HEAD_LEN: usize = 4096;

impl Head {
    /// Why the bytes do not look like `mime`, for the types whose start is known.
    fn mismatch(&self, mime: &str) -> Option<String> {
        let b = self.bytes.as_slice();
        let mime = mime
            .split(';')
            .next()
            .unwrap_or(mime)
            .trim()
            .to_ascii_lowercase();
        let starts = |sig: &[u8]| b.starts_with(sig);
        let looks = match mime.as_str() {
            "image/png" => starts(b"\x89PNG\r\n\x1a\n"),
            "image/jpeg" | "image/jpg" => starts(b"\xff\xd8\xff"),
            "image/gif" => starts(b"GIF87a") || starts(b"GIF89a"),
            "image/webp" => starts(b"RIFF") && b.get(8..12) == Some(b"WEBP".as_slice()),
            "application/pdf" => starts(b"%PDF-"),
            "application/zip" => starts(b"PK\x03\x04") || starts(b"PK\x05\x06"),
            "audio/ogg" | "video/ogg" | "audio/opus" => starts(b"OggS"),
            "video/mp4" | "audio/mp4" | "video/quicktime" => {
                b.get(4..8) == Some(b"ftyp".as_slice())
            }
            m if m.starts_with("text/") || m == "application/json" => {
                // A cut after HEAD_LEN bytes may split a character: allow an incomplete last one.
                match std::str::from_utf8(b) {
                    Ok(_) => true,
                    Err(e) => e.error_len().is_none(),
                }
            }
            _ => return None,
        };
        (!looks).then(|| format!("the decrypted file does not look like the declared {mime}"))
    }
}

/// Passes bytes on, keeping the first [`HEAD_LEN`] of them.
struct Sniff<'a, W> {
    inner: W,
    head: &'a mut Head,
}

impl<W: Write> Write for Sniff<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let room = HEAD_LEN.saturating_sub(self.head.bytes.len());
        if let Some(more) = buf.get(..n.min(room)) {
            self.head.bytes.extend_from_slice(more);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn encrypt(a: EncryptArgs, json: bool) -> Result<(), CliError> {
    let mut out = a.out.create(&[&a.input])?;
    let mut info_out = output::create(&a.info_out, a.out.force, &[&a.input])?;
    // Read once, as it comes: no need to copy a pipe first.
    let mut input = open_once(&a.input, "the input file")?.reader;
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
    stderr!(
        "encrypted {n} bytes to {}; the key and hash are in {} (keep it secret)",
        out_path.display(),
        info_path.display()
    );
    Ok(())
}
