//! `mxkeys cross-signing check`, `mxkeys qr decode`, `mxkeys sas compute`: identity and
//! verification data, offline.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use mxkeys::encoding::decode_lenient;
use mxkeys::identity::{
    self, DeviceStatus, QrImageError, Sas, SasTranscript, SasTranscriptError, StoredKeyStatus,
    SAS_EMOJI,
};
use mxkeys::ssss::{self, AccountData};

use super::io::{open_once, print_json, read_small_json};
use super::ssss::{unlock, KeyArgs};
use super::CliError;

const CHECK_AFTER: &str = "\
Verifies, offline, every signature chain in a /keys/query response: master key signed by the
user's devices, self-signing and user-signing keys signed by the master key, each device signed
by itself and by the self-signing key, and whether you (the viewer) signed other users' master keys.

KEYS_QUERY.json is the response body of POST /_matrix/client/v3/keys/query:
  {\"device_keys\": {USER: {DEVICE: {...}}}, \"master_keys\": {USER: {\"user_id\", \"usage\", \"keys\",
   \"signatures\"}}, \"self_signing_keys\": {...}, \"user_signing_keys\": {...}, \"failures\": {}}
  curl -H \"Authorization: Bearer $TOKEN\" -d '{\"device_keys\": {\"@you:example.org\": []}}' \\
       \"$HS/_matrix/client/v3/keys/query\" > keys.json
With --account-data (account data as {type: content}, or a list of account-data events) and your
Security Key (--key-file, MXKEYS_RECOVERY_KEY) or Phrase (--passphrase-file, MXKEYS_PASSPHRASE), the
private keys in secret storage (m.cross_signing.master, .self_signing, .user_signing) are compared
with the keys the viewer publishes: match, mismatch, missing, unreadable. Get the account data with
  for t in m.secret_storage.default_key m.cross_signing.master m.cross_signing.self_signing \\
           m.cross_signing.user_signing; do curl -H \"Authorization: Bearer $TOKEN\" \\
       \"$HS/_matrix/client/v3/user/$MXID/account_data/$t\"; done
plus m.secret_storage.key.KEYID for the default key's id (jq them into one object by type).

Examples (in the source tree):
  mxkeys cross-signing check --keys test-vectors/identity/keys-query/wasm-alice-verified.json
  mxkeys cross-signing check --keys test-vectors/identity/keys-query/wasm-bob-verified.json --json
  mxkeys cross-signing check --keys test-vectors/identity/stored-keys/alice.keys-query.json \\
      --account-data test-vectors/identity/stored-keys/match.account-data.json \\
      --key-file test-vectors/identity/stored-keys/match.security-key.txt

Exit codes: 0 every chain verifies, every device is cross-signed and (with --account-data) every
stored key matches; 1 otherwise, or a wrong Security Key/Phrase, a malformed file, a response
without users, or a --user / --viewer the response does not have; 2 usage (bad arguments, no
secret available without a terminal).";

#[derive(Debug, Subcommand)]
pub enum CrossSigningCmd {
    /// Check the master, self-signing, user-signing and device keys.
    #[command(after_help = CHECK_AFTER)]
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The /keys/query response.
    #[arg(long, value_name = "KEYS_QUERY.json")]
    keys: PathBuf,
    /// Only this user (default: every user).
    #[arg(long, value_name = "ID")]
    user: Option<String>,
    /// Whose user-signing key counts.
    ///
    /// Whose view this is; default: the only user with a user-signing key in the response.
    #[arg(long, value_name = "ID")]
    viewer: Option<String>,
    /// Also check the private keys in secret storage.
    ///
    /// Compare the private keys in secret storage (account data) with the published keys.
    #[arg(long, value_name = "AD.json")]
    account_data: Option<PathBuf>,
    #[command(flatten)]
    key: KeyArgs,
}

const QR_AFTER: &str = "\
PAYLOAD is one of:
  - a PNG or JPEG picture of the code (screenshot or photo; told apart by its first bytes), read
    with the rqrr QR decoder; exactly one QR code may be in it, at most --max-pixels pixels;
  - the raw bytes in the code: \"MATRIX\", version 0x02, mode, 2-byte transaction id length, the
    transaction id, two 32-byte Ed25519 keys, the shared secret (spec \"QR code format\");
  - those bytes as base64 text (what QR scanner apps show for a binary code).
A picture is searched within bounds, so that a hostile one cannot keep the CPU busy: above 2
megapixels it is searched scaled down (a code filling a tenth of its width still has 3 pixels per
module); one with more than 16 shapes like the corner squares of a QR code, or with so much fine
detail that finding them would take long, is refused unsearched; and the search gives up after
--time-limit seconds. Each refusal says to crop the picture to the QR code.
Key 1 and key 2 are explained by mode: 0 verifying another user, 1 and 2 self-verification.
Nothing is fetched: compare the keys with `mxkeys cross-signing check` on a /keys/query response.

Examples (in the source tree):
  mxkeys qr decode test-vectors/identity/qr-images/photo-rotated-10deg.jpg
  mxkeys qr decode test-vectors/identity/qr/wasm-mode0-alice.bin --json
  base64 -w0 test-vectors/identity/qr/wasm-mode2-alice2.bin | mxkeys qr decode -

Exit codes: 0 a valid verification payload was decoded; 1 it was not (no QR code, several codes,
an unreadable or non-Matrix code, a malformed payload, a broken, too large or too busy picture, the
time limit); 2 usage.";

/// Seconds `qr decode` spends on a picture by default, decoding included, so that any picture is
/// decided within 2 s. On an AMD EPYC a 40-megapixel JPEG photo takes 0.45 s, a 40-megapixel RGB
/// PNG of noise 1.2 s, most of it decoding and converting the pixels.
const DEFAULT_TIME_LIMIT: f64 = 1.5;

#[derive(Debug, Subcommand)]
pub enum QrCmd {
    /// Decode a verification QR code (a picture, its bytes or base64).
    #[command(after_help = QR_AFTER)]
    Decode {
        /// The picture or payload file (- for standard input).
        payload: PathBuf,
        /// Most pixels a picture may have.
        #[arg(long, value_name = "N", default_value_t = identity::DEFAULT_MAX_PIXELS)]
        max_pixels: u64,
        /// Give up on a picture after SECONDS.
        ///
        /// Decoding the picture and searching it for the code both count.
        #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TIME_LIMIT)]
        time_limit: f64,
    },
}

const SAS_AFTER: &str = "\
Recomputes what both devices of an SAS (emoji) verification should show, and checks the
acceptor's commitment. T.json holds the m.key.verification.* messages' data (see
test-vectors/identity/README.md \"sas\"):
  {\"transaction_id\", \"start\": {\"user_id\", \"device_id\", \"ephemeral_public_key\"},
   \"accept\": {...same...}, \"commitment\", \"start_content\": {the m.key.verification.start content},
   \"shared_secret\" (unpadded base64) or \"ephemeral_private_keys\": {\"start\" or \"accept\": ...}}
The keys come from each side's m.key.verification.key event, the commitment from
m.key.verification.accept; to-device events are in GET /_matrix/client/v3/sync (\"to_device\"), room
verifications in GET /_matrix/client/v3/rooms/{roomId}/messages. Without the shared secret or an
ephemeral private key the emoji cannot be derived (that is the point of the protocol).

Examples (in the source tree):
  mxkeys sas compute --transcript test-vectors/identity/sas/wasm-alice-carol-carol-starts.json
  mxkeys sas compute --transcript test-vectors/identity/sas/libolm-fixed-keys.json --json

Exit codes: 0 the emoji and numbers were derived and the commitment (if given) matches; 1 the
commitment does not match, the transcript lacks a secret, or it is malformed; 2 usage.";

#[derive(Debug, Subcommand)]
pub enum SasCmd {
    /// Derive the 7 emoji and 3 numbers two devices should show.
    #[command(after_help = SAS_AFTER)]
    Compute {
        /// The verification transcript (JSON).
        ///
        /// Keys, user and device ids, transaction id, and the shared secret or one side's ephemeral
        /// private key (see test-vectors/identity/README.md).
        #[arg(long, value_name = "T.json")]
        transcript: PathBuf,
    },
}

pub fn run_cross_signing(cmd: CrossSigningCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        CrossSigningCmd::Check(a) => check(a, json),
    }
}

fn check(a: CheckArgs, json: bool) -> Result<(), CliError> {
    let resp = read_small_json(&a.keys, "/keys/query response")?;
    let all = identity::users(&resp);
    let file = a.keys.display();
    if !resp.is_object() {
        return Err(CliError::Input(format!(
            "{file} is not a /keys/query response: expected a JSON object with \"device_keys\" and \"master_keys\""
        )));
    }
    if all.is_empty() {
        return Err(CliError::Input(format!(
            "{file} names no users: its \"device_keys\" and \"master_keys\" are missing or empty; query with -d '{{\"device_keys\": {{\"@you:example.org\": []}}}}'"
        )));
    }
    let listed = || {
        let mut l = all.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        if all.len() > 5 {
            l.push_str(&format!(" and {} more", all.len() - 5));
        }
        l
    };
    for (flag, id) in [("--user", &a.user), ("--viewer", &a.viewer)] {
        if let Some(id) = id.as_ref().filter(|id| !all.contains(id)) {
            return Err(CliError::Input(format!(
                "{flag} {id} is not in {file}, which has {}; add them to the query",
                listed()
            )));
        }
    }
    let viewer = match &a.viewer {
        Some(v) => v.clone(),
        None => {
            let with_usk: Vec<&String> = resp
                .get("user_signing_keys")
                .and_then(Value::as_object)
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            match (with_usk.as_slice(), a.user.as_ref()) {
                ([one], _) => (*one).clone(),
                (_, Some(u)) => u.clone(),
                _ => all.first().cloned().unwrap_or_default(),
            }
        }
    };
    let targets: Vec<String> = match &a.user {
        Some(u) => vec![u.clone()],
        None => all,
    };
    // Unlock first: a wrong Security Key fails before anything is printed.
    let secret_store = match &a.account_data {
        Some(ad_path) => {
            let ad = AccountData::parse(&read_small_json(ad_path, "account data")?)?;
            let desc = ad.resolve_key(a.key.key_id())?;
            let unlocked = unlock(&a.key, &desc)?;
            Some((ad, desc, unlocked))
        }
        None => None,
    };
    let mut ok = true;
    let mut reports = Map::new();
    let mut out = super::stdout::out();
    for u in &targets {
        let r = identity::check_user(&resp, u, &viewer);
        ok &= r.problems.is_empty() && r.devices.values().all(|d| *d == DeviceStatus::CrossSigned);
        if !json {
            writeln!(out, "{u}{}", if *u == viewer { " (you)" } else { "" })?;
            writeln!(
                out,
                "  master key:       {}",
                r.master_key.as_deref().unwrap_or("(none)")
            )?;
            writeln!(
                out,
                "  signed by devices: {}",
                if r.master_signed_by_own_device.is_empty() {
                    "(none)".into()
                } else {
                    r.master_signed_by_own_device.join(", ")
                }
            )?;
            writeln!(
                out,
                "  self-signing key: {}",
                if r.self_signing_valid {
                    "valid (signed by the master key)"
                } else {
                    "NOT valid"
                }
            )?;
            if let Some(v) = r.user_signing_valid {
                writeln!(
                    out,
                    "  user-signing key: {}",
                    if v {
                        "valid (signed by the master key)"
                    } else {
                        "NOT valid"
                    }
                )?;
            }
            if let Some(v) = r.signed_by_viewer_user_signing {
                writeln!(
                    out,
                    "  verified by you:  {}",
                    if v {
                        "yes (your user-signing key signed their master key)"
                    } else {
                        "no"
                    }
                )?;
            }
            for (d, st) in &r.devices {
                let s = match st {
                    DeviceStatus::CrossSigned => "cross-signed",
                    DeviceStatus::NotCrossSigned => "not cross-signed (unverified)",
                    DeviceStatus::BadSignature => "BAD SIGNATURE",
                };
                writeln!(out, "  device {d}: {s}")?;
            }
            for p in &r.problems {
                writeln!(out, "  problem: {p}")?;
            }
        }
        reports.insert(
            u.clone(),
            serde_json::to_value(&r).map_err(io::Error::from)?,
        );
    }
    let mut stored = Map::new();
    if let Some((ad, desc, unlocked)) = &secret_store {
        let names: Vec<String> = ["master", "self_signing", "user_signing"]
            .iter()
            .map(|n| format!("m.cross_signing.{n}"))
            .collect();
        let results = match ssss::decrypt_secrets(ad, unlocked, &names) {
            Ok(r) => r,
            // None of the three has a copy under this key: each one is missing.
            Err(mxkeys::Error::SsssNoKey { secret, key_id }) => names
                .iter()
                .map(|n| {
                    let e = mxkeys::Error::SsssNoKey {
                        secret: secret.clone(),
                        key_id: key_id.clone(),
                    };
                    (n.clone(), Err(e))
                })
                .collect(),
            Err(e) => return Err(e.into()),
        };
        for (name, result) in results {
            let r = match &result {
                Ok(plain) => identity::compare_stored_key(&resp, &viewer, &name, Ok(plain)),
                Err(e) => {
                    let missing =
                        matches!(e, mxkeys::Error::SsssNoKey { .. } | mxkeys::Error::Ssss(_))
                            && ad.encrypted(&name, &desc.id).is_err();
                    identity::compare_stored_key(
                        &resp,
                        &viewer,
                        &name,
                        Err((missing, e.to_string())),
                    )
                }
            };
            ok &= r.status == StoredKeyStatus::Match;
            if !json {
                let published = r.published_public_key.as_deref().unwrap_or("(none)");
                let line = match r.status {
                    StoredKeyStatus::Match => format!(
                        "matches the published key {published}"
                    ),
                    StoredKeyStatus::Mismatch => format!(
                        "DOES NOT MATCH: the stored key gives {}, the published key is {published} (cross-signing was reset elsewhere, or this is an old secret)",
                        r.stored_public_key.as_deref().unwrap_or_default()
                    ),
                    StoredKeyStatus::Missing => format!(
                        "MISSING: not in secret storage under key {} ({})",
                        desc.id,
                        r.detail.as_deref().unwrap_or_default()
                    ),
                    StoredKeyStatus::Unreadable => format!(
                        "NOT READABLE: {}",
                        r.detail.as_deref().unwrap_or_default()
                    ),
                    StoredKeyStatus::NotAKey => {
                        "NOT A KEY: the stored value is not 32 bytes of base64".to_owned()
                    }
                    StoredKeyStatus::NotPublished => format!(
                        "stored (public key {}), but {viewer} publishes no such key",
                        r.stored_public_key.as_deref().unwrap_or_default()
                    ),
                };
                writeln!(out, "secret storage {name}: {line}")?;
            }
            stored.insert(name, serde_json::to_value(&r).map_err(io::Error::from)?);
        }
    }
    if json {
        print_json(&json!({"viewer": viewer, "users": reports, "secret_storage": stored}))?;
    }
    if !ok {
        return Err(CliError::Input(if a.account_data.is_some() {
            "some keys or devices are not cross-signed or do not verify, or the stored private keys do not all match the published ones (see above)".into()
        } else {
            "some keys or devices are not cross-signed or do not verify (see above)".into()
        }));
    }
    Ok(())
}

pub fn run_qr(cmd: QrCmd, json: bool) -> Result<(), CliError> {
    let QrCmd::Decode {
        payload,
        max_pixels,
        time_limit,
    } = cmd;
    let limit = Duration::try_from_secs_f64(time_limit)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--time-limit {time_limit}: give a positive number of seconds"
            ))
        })?;
    let mut raw = Vec::new();
    open_once(&payload, "the picture or payload")?
        .reader
        .read_to_end(&mut raw)?;
    let q = if identity::image_format(&raw).is_some() {
        decode_picture(raw, max_pixels, limit)
            .map_err(|e| CliError::Input(format!("{}: {e}", payload.display())))?
            .map_err(|e| {
                let more = match e {
                    QrImageError::TooLarge { .. } => " (or raise --max-pixels)",
                    _ => "",
                };
                CliError::Input(format!("{}: {e}{more}", payload.display()))
            })?
    } else {
        decode_payload(raw)?
    };
    if json {
        return print_json(&serde_json::to_value(&q).map_err(io::Error::from)?);
    }
    let (m1, m2) = q.key_meanings();
    // writeln! rather than println!: a closed pipe (`| head -1`) is an error to return, not a panic.
    let mut out = super::stdout::out();
    writeln!(out, "version:        {}", q.version)?;
    writeln!(out, "mode:           {} ({})", q.mode, q.mode_meaning())?;
    writeln!(out, "transaction id: {}", q.transaction_id)?;
    writeln!(out, "key 1:          {} ({m1})", q.key1)?;
    writeln!(out, "key 2:          {} ({m2})", q.key2)?;
    writeln!(out, "shared secret:  {} bytes", q.secret_len)?;
    Ok(())
}

/// Decode a picture on a thread of its own, waiting at most `limit` for it. The library bounds the
/// search by picture size and by the number of candidate corner squares, but one step of rqrr (the
/// search for the alignment pattern of each candidate grid) can still run long on a crafted
/// picture and cannot be stopped from outside; after a time-out the command fails and the process
/// exits with the thread still running.
fn decode_picture(
    raw: Vec<u8>,
    max_pixels: u64,
    limit: Duration,
) -> Result<Result<identity::QrPayload, QrImageError>, String> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("qr-search".into())
        .spawn(move || {
            // Sending fails only when nobody waits any more (after the time-out).
            let _ = tx.send(identity::decode_qr_image(&raw, max_pixels));
        })
        .map_err(|e| format!("cannot start the QR search: {e}"))?;
    rx.recv_timeout(limit).map_err(|e| match e {
        RecvTimeoutError::Timeout => format!(
            "gave up searching the picture for a QR code after {} s; crop it to the QR code (or \
             raise --time-limit)",
            limit.as_secs_f64()
        ),
        RecvTimeoutError::Disconnected => "the QR search stopped without an answer".into(),
    })
}

/// The raw payload bytes, or base64 text of them.
fn decode_payload(raw: Vec<u8>) -> Result<identity::QrPayload, CliError> {
    // Accept base64 text too (what a QR scanner app shows for binary codes).
    let bytes = if raw.starts_with(b"MATRIX") {
        raw
    } else {
        match std::str::from_utf8(&raw)
            .ok()
            .map(str::trim)
            .and_then(|t| decode_lenient(t).ok())
        {
            Some(b) => b,
            None => raw,
        }
    };
    identity::decode_qr(&bytes)
        .map_err(|e| CliError::Input(format!("not a valid verification QR payload: {e}")))
}

pub fn run_sas(cmd: SasCmd, json: bool) -> Result<(), CliError> {
    let SasCmd::Compute { transcript } = cmd;
    let t = read_small_json(&transcript, "SAS transcript")?;
    let t = SasTranscript::parse(&t).map_err(sas_error)?;
    let info = t.info();
    let commitment = t.commitment_matches;
    let Sas {
        emoji, decimals, ..
    } = t.sas().map_err(sas_error)?;
    let names: Vec<&str> = emoji
        .iter()
        .filter_map(|e| SAS_EMOJI.get(usize::from(*e)).map(|x| x.1))
        .collect();
    if json {
        print_json(
            &json!({"info": info, "commitment_matches": commitment, "emoji": emoji, "emoji_names": names, "decimals": decimals}),
        )?;
    } else {
        let shown: Vec<String> = emoji
            .iter()
            .filter_map(|e| {
                SAS_EMOJI
                    .get(usize::from(*e))
                    .map(|(c, n)| format!("{c} {n}"))
            })
            .collect();
        let mut out = super::stdout::out();
        writeln!(out, "emoji:    {}", shown.join("  "))?;
        writeln!(
            out,
            "numbers:  {} {} {}",
            decimals[0], decimals[1], decimals[2]
        )?;
        if let Some(c) = commitment {
            writeln!(
                out,
                "commitment: {}",
                if c {
                    "matches the start content"
                } else {
                    "DOES NOT MATCH: the verification was tampered with"
                }
            )?;
        }
    }
    if commitment == Some(false) {
        return Err(CliError::Input("the acceptor's commitment does not match its key and the start content (mismatched_commitment)".into()));
    }
    Ok(())
}

/// A transcript the library refused, with what to do about it where there is something to do.
fn sas_error(e: SasTranscriptError) -> CliError {
    let hint = match e {
        SasTranscriptError::PublicKey { .. } => "; copy it from the m.key.verification.key event",
        SasTranscriptError::SecretMismatch { .. } => "; give one of them",
        _ => "",
    };
    CliError::Input(format!("{e}{hint}"))
}
