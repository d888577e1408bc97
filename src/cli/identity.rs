//! `mxkeys cross-signing check`, `mxkeys qr decode`, `mxkeys sas compute`: identity and
//! verification data, offline.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use mxkeys::encoding::decode_lenient;
use mxkeys::identity::{self, DeviceStatus, SAS_EMOJI};
use mxkeys::ssss::{self, AccountData};

use super::io::{open_input, print_json, read_json};
use super::ssss::{unlock, KeyArgs};
use super::CliError;

const CHECK_AFTER: &str = "\
KEYS_QUERY.json is the body of POST /_matrix/client/v3/keys/query as your client receives it:
  curl -H \"Authorization: Bearer $TOKEN\" -d '{\"device_keys\": {\"@you:example.org\": []}}' \"$HS/_matrix/client/v3/keys/query\"
With --account-data and your Security Key or Phrase, the cross-signing private keys in secret
storage are compared with the published public keys (Element's \"cross-signing is ready\").

Exit codes: 0 every chain verifies and every device is cross-signed, 1 otherwise, 2 usage.";

#[derive(Debug, Subcommand)]
pub enum CrossSigningCmd {
    /// Check master, self-signing and user-signing keys and every device's signatures.
    #[command(after_help = CHECK_AFTER)]
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The /keys/query response.
    #[arg(long, value_name = "KEYS_QUERY.json")]
    keys: PathBuf,
    /// Only this user (default: every user in the response).
    #[arg(long, value_name = "ID")]
    user: Option<String>,
    /// Whose view this is (whose user-signing key counts); default: the only user with a
    /// user-signing key in the response.
    #[arg(long, value_name = "ID")]
    viewer: Option<String>,
    /// Also compare the private keys in secret storage (account data) with the published keys.
    #[arg(long, value_name = "AD.json")]
    account_data: Option<PathBuf>,
    #[command(flatten)]
    key: KeyArgs,
}

#[derive(Debug, Subcommand)]
pub enum QrCmd {
    /// Decode the bytes of a verification QR code (a file of raw bytes, or base64 text).
    Decode {
        /// The payload file (- for standard input).
        payload: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum SasCmd {
    /// Derive the 7 emoji and 3 numbers two devices should show.
    Compute {
        /// The verification transcript: keys, user and device ids, transaction id, and the shared
        /// secret or one side's ephemeral private key (see test-vectors/identity/README.md).
        #[arg(long, value_name = "T.json")]
        transcript: PathBuf,
    },
}

pub fn run_cross_signing(cmd: CrossSigningCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        CrossSigningCmd::Check(a) => check(a, json),
    }
}

fn users(resp: &Value) -> Vec<String> {
    let mut u: Vec<String> = ["master_keys", "device_keys"]
        .iter()
        .filter_map(|k| resp.get(*k).and_then(Value::as_object))
        .flat_map(|m| m.keys().cloned())
        .collect();
    u.sort();
    u.dedup();
    u
}

fn check(a: CheckArgs, json: bool) -> Result<(), CliError> {
    let resp = read_json(&a.keys)?;
    let all = users(&resp);
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
    let mut ok = true;
    let mut reports = Map::new();
    let mut out = io::stdout().lock();
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
    if let Some(ad_path) = &a.account_data {
        let ad = AccountData::parse(&read_json(ad_path)?)?;
        let desc = ad.resolve_key(a.key.key_id())?;
        let unlocked = unlock(&a.key, &desc)?;
        let names: Vec<String> = ["master", "self_signing", "user_signing"]
            .iter()
            .map(|n| format!("m.cross_signing.{n}"))
            .collect();
        let published = |kind: &str| -> Option<String> {
            let obj = resp.get(format!("{kind}_keys"))?.get(&viewer)?;
            obj.get("keys")?
                .as_object()?
                .values()
                .next()?
                .as_str()
                .map(str::to_owned)
        };
        for (name, result) in ssss::decrypt_secrets(&ad, &unlocked, &names)? {
            let kind = name.trim_start_matches("m.cross_signing.");
            let status = match result {
                Err(e) => format!("not readable: {e}"),
                Ok(plain) => {
                    let derived = ssss::describe_secret(&name, &plain).public_key;
                    match (derived, published(kind)) {
                        (Some(d), Some(p)) if d == p => "matches the published key".to_owned(),
                        (Some(d), Some(p)) => {
                            ok = false;
                            format!("DOES NOT MATCH: stored key gives {d}, published is {p} (reset cross-signing, or this is an old secret)")
                        }
                        (Some(_), None) => "stored, but nothing is published".to_owned(),
                        (None, _) => "stored value is not a 32-byte key".to_owned(),
                    }
                }
            };
            if !json {
                writeln!(out, "secret storage {name}: {status}")?;
            }
            stored.insert(name, Value::String(status));
        }
    }
    if json {
        print_json(&json!({"viewer": viewer, "users": reports, "secret_storage": stored}))?;
    }
    if !ok {
        return Err(CliError::Input(
            "some keys or devices are not cross-signed or do not verify (see above)".into(),
        ));
    }
    Ok(())
}

pub fn run_qr(cmd: QrCmd, json: bool) -> Result<(), CliError> {
    let QrCmd::Decode { payload } = cmd;
    let mut raw = Vec::new();
    open_input(&payload)?.read_to_end(&mut raw)?;
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
    let q = identity::decode_qr(&bytes)
        .map_err(|e| CliError::Input(format!("not a valid verification QR payload: {e}")))?;
    if json {
        return print_json(&serde_json::to_value(&q).map_err(io::Error::from)?);
    }
    let (m1, m2) = q.key_meanings();
    println!("version:        {}", q.version);
    println!("mode:           {} ({})", q.mode, q.mode_meaning());
    println!("transaction id: {}", q.transaction_id);
    println!("key 1:          {} ({m1})", q.key1);
    println!("key 2:          {} ({m2})", q.key2);
    println!("shared secret:  {} bytes", q.secret_len);
    Ok(())
}

pub fn run_sas(cmd: SasCmd, json: bool) -> Result<(), CliError> {
    let SasCmd::Compute { transcript } = cmd;
    let t = read_json(&transcript)?;
    let field = |a: &str, b: &str| {
        t.get(a)
            .and_then(|x| x.get(b))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (su, sd, sk) = (
        field("start", "user_id"),
        field("start", "device_id"),
        field("start", "ephemeral_public_key"),
    );
    let (au, ad, ak) = (
        field("accept", "user_id"),
        field("accept", "device_id"),
        field("accept", "ephemeral_public_key"),
    );
    let txid = t
        .get("transaction_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if su.is_empty()
        || sd.is_empty()
        || sk.is_empty()
        || au.is_empty()
        || ad.is_empty()
        || ak.is_empty()
        || txid.is_empty()
    {
        return Err(CliError::Input("the transcript needs start and accept {user_id, device_id, ephemeral_public_key} and transaction_id".into()));
    }
    let info = identity::sas_info((&su, &sd, &sk), (&au, &ad, &ak), txid);
    let commitment = match (
        t.get("commitment").and_then(Value::as_str),
        t.get("start_content"),
    ) {
        (Some(c), Some(start)) if !start.is_null() => Some(
            identity::sas_commitment(&ak, start)
                .map(|x| x == c)
                .unwrap_or(false),
        ),
        _ => None,
    };
    let key32 = |s: &str| {
        decode_lenient(s)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
    };
    let secret = t
        .get("shared_secret")
        .and_then(Value::as_str)
        .and_then(key32)
        .or_else(|| {
            [("start", &ak), ("accept", &sk)]
                .iter()
                .find_map(|(me, other)| {
                    let p = t
                        .get("ephemeral_private_keys")?
                        .get(*me)?
                        .as_str()
                        .and_then(key32)?;
                    Some(identity::sas_shared_secret(&p, &key32(other)?))
                })
        });
    let Some(secret) = secret else {
        return Err(CliError::Input(
            "the transcript has neither the shared secret nor an ephemeral private key: the SAS cannot be derived from public data alone".into(),
        ));
    };
    let bytes = identity::sas_bytes(&secret, &info);
    let emoji = identity::sas_emoji(&bytes);
    let decimals = identity::sas_decimals(&bytes);
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
        println!("emoji:    {}", shown.join("  "));
        println!("numbers:  {} {} {}", decimals[0], decimals[1], decimals[2]);
        if let Some(c) = commitment {
            println!(
                "commitment: {}",
                if c {
                    "matches the start content"
                } else {
                    "DOES NOT MATCH: the verification was tampered with"
                }
            );
        }
    }
    if commitment == Some(false) {
        return Err(CliError::Input("the acceptor's commitment does not match its key and the start content (mismatched_commitment)".into()));
    }
    Ok(())
}
