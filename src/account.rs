//! One key, one account: what the key a person holds opens, and whether the account's key
//! storage is in sync (spec "Secret storage", "Server-side key backups", "Cross-signing").
//!
//! In today's clients the Security Key (or the Security Phrase it is derived from) opens *secret
//! storage*, and the backup key is one secret stored there (`m.megolm_backup.v1`, the unpadded
//! base64 of the 32-byte Curve25519 private key). Older setups, and people who wrote it down,
//! hold the backup key itself, in the same 48-character Security Key encoding. Both look alike,
//! so [`identify`] works out which one it was given: a key that passes a key description's
//! check (or, for descriptions without `iv`/`mac`, the MAC of a secret stored under it) is a
//! secret-storage key; a key whose Curve25519 public key is the backup version's
//! `auth_data.public_key` is that backup's key.
//!
//! "Your key storage is out of sync" is the state where the pieces disagree. [`doctor`] checks
//! each piece ([`CheckId`], in a fixed order) and says what it means and what repairs it:
//! - the default key (`m.secret_storage.default_key` `{"key": ID}`) must name a description
//!   `m.secret_storage.key.ID` of algorithm `m.secret_storage.v1.aes-hmac-sha2`;
//! - the backup key stored there must be 32 bytes, and its public key must equal the current
//!   backup version's `auth_data.public_key`: when a client resets the backup without updating
//!   secret storage (or the other way round), they differ;
//! - the three cross-signing private keys (`m.cross_signing.master`, `.self_signing`,
//!   `.user_signing`, Ed25519 seeds) must give the public keys the account publishes
//!   (`/keys/query`);
//! - a backup is trusted when `auth_data.signatures` holds a valid signature by the user's master
//!   key, or by one of the user's devices that is itself cross-signed (the rule clients apply
//!   before they upload keys to a backup);
//! - the dehydrated-device key (MSC3814: `org.matrix.msc3814`, stable `m.dehydrated_device`) is
//!   reported when present, not required.
//!
//! Like the rest of the library this module reads values and returns values: it never contacts a
//! server. Repairs ([`Repair`]) are bodies for the user to upload.

use serde::Serialize;
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use crate::backup;
use crate::encoding::{decode_lenient, encode_unpadded};
use crate::error::Error;
use crate::identity;
use crate::recovery_key::RecoveryKey;
use crate::secret::{Passphrase, SecretBytes};
use crate::ssss::{self, AccountData, Confirmation, KeyDescription};

/// The secret holding the backup key.
pub const BACKUP_SECRET: &str = "m.megolm_backup.v1";
/// The cross-signing secrets, master first.
pub const CROSS_SIGNING_SECRETS: [&str; 3] = [
    "m.cross_signing.master",
    "m.cross_signing.self_signing",
    "m.cross_signing.user_signing",
];
/// The dehydrated-device key: unstable (MSC3814) and stable names.
pub const DEHYDRATION_SECRETS: [&str; 2] = ["org.matrix.msc3814", "m.dehydrated_device"];

/// The key a person holds, as given.
#[derive(Debug, Clone, Copy)]
pub enum Held<'a> {
    /// 32 bytes in Security Key encoding: a secret-storage key or a backup key.
    Key(&'a RecoveryKey),
    /// A Security Phrase (secret storage), or the passphrase of a legacy backup.
    Phrase(&'a Passphrase),
}

/// What a held key turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// It opens a secret-storage key (the Security Key of today's clients).
    SecretStorageKey,
    /// It is a backup's decryption key.
    BackupKey,
    /// Nothing given matches it.
    Unknown,
}

/// The secret-storage key a held key opened.
#[derive(Debug)]
pub struct OpenedStorage {
    /// Its description.
    pub desc: KeyDescription,
    /// The key bytes.
    pub key: SecretBytes<32>,
    /// How it was confirmed.
    pub confirmation: Confirmation,
    /// Whether it is the default key.
    pub is_default: bool,
}

/// What a held key is and what it opens.
#[derive(Debug)]
pub struct Identified {
    /// Its kind.
    pub kind: KeyKind,
    /// The secret-storage key it opened, when it is one.
    pub storage: Option<OpenedStorage>,
    /// The secrets it decrypts (their MAC verifies), in [`AccountData::secrets`] order.
    pub opens: Vec<String>,
    /// The backup key it leads to: itself, or the `m.megolm_backup.v1` stored under it (when
    /// that decrypts to 32 bytes).
    pub backup_key: Option<RecoveryKey>,
    /// Whether [`Identified::backup_key`] is the given backup version's key (`None` without a
    /// version, or without a backup key).
    pub matches_backup: Option<bool>,
}

/// Work out what `held` is: a key of the secret storage in `account` (tried default key first),
/// the key of `version`, or neither.
///
/// A phrase is tried against every description that has passphrase parameters (one PBKDF2 each),
/// then as a legacy backup passphrase (`auth_data.private_key_salt`).
///
/// # Errors
/// Only for rounds above `max_rounds` in a description or in `auth_data`; a key that opens
/// nothing is [`KeyKind::Unknown`], not an error.
pub fn identify(
    held: Held<'_>,
    account: Option<&AccountData>,
    version: Option<&Value>,
    max_rounds: u32,
) -> Result<Identified, Error> {
    let mut storage = None;
    if let Some(ad) = account {
        storage = open_storage(held, ad, max_rounds)?;
    }
    let mut opens = Vec::new();
    let mut backup_key = None;
    if let (Some(ad), Some(st)) = (account, &storage) {
        for (name, ids) in ad.secrets() {
            if !ids.contains(&st.desc.id) {
                continue;
            }
            let Ok(payload) = ad.encrypted(&name, &st.desc.id) else {
                continue;
            };
            if let Ok(plain) = ssss::decrypt_secret(st.key.expose(), &name, payload) {
                if name == BACKUP_SECRET {
                    backup_key = key_from_secret(&plain);
                }
                opens.push(name);
            }
        }
    }
    let kind = if storage.is_some() {
        KeyKind::SecretStorageKey
    } else {
        match (held, version) {
            (Held::Key(k), Some(v)) if backup::check_auth_data(k, v).is_ok() => {
                backup_key = Some(copy_key(k));
                KeyKind::BackupKey
            }
            (Held::Phrase(p), Some(v)) => match backup::key_from_passphrase(p, v, max_rounds) {
                Ok(k) if backup::check_auth_data(&k, v).is_ok() => {
                    backup_key = Some(k);
                    KeyKind::BackupKey
                }
                Err(e @ Error::RoundsTooHigh { .. }) => return Err(e),
                _ => KeyKind::Unknown,
            },
            _ => KeyKind::Unknown,
        }
    };
    let matches_backup = match (&backup_key, version) {
        (Some(k), Some(v)) => Some(backup::check_auth_data(k, v).is_ok()),
        _ => None,
    };
    Ok(Identified {
        kind,
        storage,
        opens,
        backup_key,
        matches_backup,
    })
}

fn copy_key(k: &RecoveryKey) -> RecoveryKey {
    let mut bytes = *k.expose();
    RecoveryKey::from_bytes(&mut bytes)
}

/// The backup key in a decrypted `m.megolm_backup.v1` (unpadded base64 of 32 bytes).
fn key_from_secret(plain: &str) -> Option<RecoveryKey> {
    let bytes = Zeroizing::new(decode_lenient(plain).ok()?);
    let mut raw = Zeroizing::new(<[u8; 32]>::try_from(bytes.as_slice()).ok()?);
    Some(RecoveryKey::from_bytes(&mut raw))
}

/// The key ids in the order they are tried: the default first, then the rest as listed.
fn key_order(ad: &AccountData) -> Vec<String> {
    let mut ids = ad.key_ids();
    if let Some(d) = ad.default_key_id() {
        if let Some(pos) = ids.iter().position(|i| i == d) {
            let id = ids.remove(pos);
            ids.insert(0, id);
        }
    }
    ids
}

fn open_storage(
    held: Held<'_>,
    ad: &AccountData,
    max_rounds: u32,
) -> Result<Option<OpenedStorage>, Error> {
    for id in key_order(ad) {
        let Ok(desc) = ad.key(&id) else { continue };
        let key = match held {
            Held::Key(k) => SecretBytes::from_array(&mut k.expose().to_owned()),
            Held::Phrase(p) => {
                let Some(info) = &desc.passphrase else {
                    continue;
                };
                match ssss::key_from_passphrase(p, info, max_rounds) {
                    Ok(k) => k,
                    Err(e @ Error::RoundsTooHigh { .. }) => return Err(e),
                    Err(_) => continue,
                }
            }
        };
        let probes = ad.probes(&id);
        match ssss::confirm_key(key.expose(), &desc, &probes) {
            // An unconfirmable key (no check, nothing stored under it) cannot be told from a
            // wrong one, so it does not count as opened.
            Ok(Confirmation::Unconfirmed) | Err(_) => continue,
            Ok(confirmation) => {
                return Ok(Some(OpenedStorage {
                    is_default: ad.default_key_id() == Some(id.as_str()),
                    desc,
                    key,
                    confirmation,
                }))
            }
        }
    }
    Ok(None)
}

/// The checks of [`doctor`], in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    /// `m.secret_storage.default_key` names a well-formed key description.
    DefaultKey,
    /// The given key opens the default key.
    KeyCheck,
    /// Which secrets are stored under which key; which the default key cannot open.
    Secrets,
    /// `m.megolm_backup.v1` is stored and decrypts to 32 bytes.
    BackupKeyInStorage,
    /// Its public key is the backup version's `auth_data.public_key`.
    BackupKeyMatchesBackup,
    /// The three cross-signing private keys are stored and open.
    CrossSigningInStorage,
    /// They give the published public keys.
    CrossSigningMatchesPublished,
    /// The backup version is signed by the master key or a cross-signed device.
    BackupTrusted,
    /// The dehydrated-device key (MSC3814) is stored and opens.
    DehydrationKey,
    /// How many of the backup's sessions the backup key opens.
    BackupSessions,
}

impl CheckId {
    /// Every check, in report order.
    pub const ALL: [CheckId; 10] = [
        CheckId::DefaultKey,
        CheckId::KeyCheck,
        CheckId::Secrets,
        CheckId::BackupKeyInStorage,
        CheckId::BackupKeyMatchesBackup,
        CheckId::CrossSigningInStorage,
        CheckId::CrossSigningMatchesPublished,
        CheckId::BackupTrusted,
        CheckId::DehydrationKey,
        CheckId::BackupSessions,
    ];
}

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Fine.
    Ok,
    /// Broken: something the user will notice.
    Fail,
    /// Worth knowing, not broken.
    Warn,
    /// Could not be checked with what was given.
    Skipped,
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Which check.
    pub id: CheckId,
    /// Its verdict.
    pub status: Status,
    /// One sentence: what was found and what it means.
    pub detail: String,
    /// What repairs it, when it is not ok.
    pub fix: Option<String>,
}

/// A repair that can be made offline: a body to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// Set `m.secret_storage.default_key` to the key the held key opens.
    DefaultKey {
        /// The key id.
        key_id: String,
    },
    /// Create a new backup version whose key is the backup key in secret storage, signed with
    /// the master key from secret storage when that matches the published one.
    NewBackupVersion,
}

/// What [`doctor`] is given.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The account data.
    pub account: &'a AccountData,
    /// The body of GET /room_keys/version.
    pub backup_version: Option<&'a Value>,
    /// A POST /keys/query response.
    pub keys_query: Option<&'a Value>,
    /// The account's user id (needed with `keys_query`, and to read signatures).
    pub user_id: Option<&'a str>,
    /// The backup's entries (GET /room_keys/keys).
    pub backup: Option<&'a [backup::Entry]>,
    /// The Security Key or Phrase, or a backup key; `None` checks what can be seen without.
    pub held: Option<Held<'a>>,
    /// Most PBKDF2 rounds to accept.
    pub max_rounds: u32,
}

/// The checklist and the repairs it found.
#[derive(Debug)]
pub struct Diagnosis {
    /// One per [`CheckId::ALL`], in that order.
    pub checks: Vec<Check>,
    /// What the held key turned out to be.
    pub identified: Option<Identified>,
    /// Repairs that can be written offline.
    pub repairs: Vec<Repair>,
}

impl Diagnosis {
    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// The check with this id.
    pub fn check(&self, id: CheckId) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

struct Ctx<'a> {
    inp: &'a Inputs<'a>,
    default_desc: Result<KeyDescription, String>,
    identified: Option<Identified>,
    /// Decrypted secrets under the opened key: name -> plaintext or why not.
    opened: Vec<(String, Result<Zeroizing<String>, String>)>,
}

fn check(id: CheckId, status: Status, detail: impl Into<String>, fix: Option<&str>) -> Check {
    Check {
        id,
        status,
        detail: detail.into(),
        fix: fix.map(str::to_owned),
    }
}

/// Check an account's key storage (see the module docs for what each check means).
///
/// # Errors
/// Only for PBKDF2 rounds above `max_rounds`; everything wrong in the inputs is a failed check.
pub fn doctor(inp: &Inputs<'_>) -> Result<Diagnosis, Error> {
    let ad = inp.account;
    let default_desc = match ad.default_key_id() {
        None => Err("m.secret_storage.default_key is not set".to_owned()),
        Some(id) => ad.key(id).map_err(|e| e.to_string()),
    };
    let identified = inp
        .held
        .map(|h| identify(h, Some(ad), inp.backup_version, inp.max_rounds))
        .transpose()?;
    let mut opened = Vec::new();
    if let Some(st) = identified.as_ref().and_then(|i| i.storage.as_ref()) {
        for (name, ids) in ad.secrets() {
            if !ids.contains(&st.desc.id) {
                continue;
            }
            let r = ad
                .encrypted(&name, &st.desc.id)
                .and_then(|p| ssss::decrypt_secret(st.key.expose(), &name, p))
                .map_err(|e| e.to_string());
            opened.push((name, r));
        }
    }
    let cx = Ctx {
        inp,
        default_desc,
        identified,
        opened,
    };
    let mut repairs = Vec::new();
    let checks = vec![
        default_key(&cx, &mut repairs),
        key_check(&cx),
        secrets(&cx),
        backup_key_in_storage(&cx),
        backup_key_matches_backup(&cx, &mut repairs),
        cross_signing_in_storage(&cx),
        cross_signing_matches_published(&cx),
        backup_trusted(&cx),
        dehydration_key(&cx),
        backup_sessions(&cx),
    ];
    Ok(Diagnosis {
        checks,
        identified: cx.identified,
        repairs,
    })
}

impl Ctx<'_> {
    fn storage(&self) -> Option<&OpenedStorage> {
        self.identified.as_ref().and_then(|i| i.storage.as_ref())
    }

    fn secret(&self, name: &str) -> Option<&Result<Zeroizing<String>, String>> {
        self.opened.iter().find(|(n, _)| n == name).map(|(_, r)| r)
    }

    /// The key ids a secret is stored under.
    fn stored_under(&self, name: &str) -> Vec<String> {
        self.inp
            .account
            .secrets()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, ids)| ids)
            .unwrap_or_default()
    }

    fn default_id(&self) -> Option<&str> {
        self.default_desc.as_ref().ok().map(|d| d.id.as_str())
    }
}

fn default_key(cx: &Ctx<'_>, repairs: &mut Vec<Repair>) -> Check {
    let id = CheckId::DefaultKey;
    match &cx.default_desc {
        Ok(d) => check(
            id,
            Status::Ok,
            format!(
                "the default key is {} and its description is well formed",
                d.id
            ),
            None,
        ),
        Err(why) => {
            let opened = cx.storage().map(|s| s.desc.id.clone());
            if let Some(key_id) = &opened {
                repairs.push(Repair::DefaultKey {
                    key_id: key_id.clone(),
                });
            }
            let none = cx.inp.account.key_ids().is_empty();
            let detail = if none {
                format!("{why}, and there is no key description: secret storage is not set up")
            } else {
                format!("{why}: clients cannot find the key that secret storage uses")
            };
            let fix = match (&opened, none) {
                (Some(k), _) => format!(
                    "your key opens key {k}: upload the repair that makes it the default (doctor -o DIR writes it)"
                ),
                (None, true) => "set up secure backup in your client (Element: Settings > Encryption)".to_owned(),
                (None, false) => "give the Security Key or Phrase so that doctor can tell which key it opens and write the repair".to_owned(),
            };
            check(id, Status::Fail, detail, Some(&fix))
        }
    }
}

fn key_check(cx: &Ctx<'_>) -> Check {
    let id = CheckId::KeyCheck;
    let Some(ident) = &cx.identified else {
        return check(id, Status::Skipped, "no key given", None);
    };
    match (&ident.storage, cx.default_id()) {
        (Some(st), Some(def)) if st.desc.id == def => {
            let how = match &st.confirmation {
                Confirmation::SecretMac(s) => {
                    format!(" (its description has no check; the MAC of {s} confirms it)")
                }
                _ => String::new(),
            };
            check(
                id,
                Status::Ok,
                format!("your key opens the default key {def}{how}"),
                None,
            )
        }
        (Some(st), Some(def)) => check(
            id,
            Status::Fail,
            format!(
                "your key opens key {}, which is not the default key {def}: clients use the default",
                st.desc.id
            ),
            Some("use the Security Key of the default key, or make this key the default again"),
        ),
        (Some(st), None) => check(
            id,
            Status::Warn,
            format!("your key opens key {}, but no usable default key is set", st.desc.id),
            None,
        ),
        (None, _) => match ident.kind {
            KeyKind::BackupKey => check(
                id,
                Status::Warn,
                "the key given is the backup's decryption key, not a secret-storage key: it opens the backup but not secret storage",
                Some("to check secret storage give the Security Key or Phrase that Element asks for when you verify"),
            ),
            _ => check(
                id,
                Status::Fail,
                "your key opens no secret-storage key in this account data (nor is it the backup's key)",
                Some("check for a typo (mxkeys recovery-key check --suggest), or use the key of the latest reset"),
            ),
        },
    }
}

fn secrets(cx: &Ctx<'_>) -> Check {
    let id = CheckId::Secrets;
    let all = cx.inp.account.secrets();
    if all.is_empty() {
        return check(
            id,
            Status::Fail,
            "no secret is stored",
            Some("set up secure backup in your client (Element: Settings > Encryption)"),
        );
    }
    // Grouped by the keys they are stored under: "A, B under K1; C under K1 and K2".
    let mut groups: Vec<(&Vec<String>, Vec<&str>)> = Vec::new();
    for (n, ids) in &all {
        match groups.iter_mut().find(|(k, _)| *k == ids) {
            Some((_, names)) => names.push(n),
            None => groups.push((ids, vec![n])),
        }
    }
    let listing = groups
        .iter()
        .map(|(ids, names)| format!("{} under {}", names.join(", "), ids.join(" and ")))
        .collect::<Vec<_>>()
        .join("; ");
    let Some(def) = cx.default_id() else {
        return check(
            id,
            Status::Warn,
            format!("{listing}; with no usable default key no client reads them"),
            None,
        );
    };
    let not_default: Vec<&str> = all
        .iter()
        .filter(|(_, ids)| !ids.iter().any(|i| i == def))
        .map(|(n, _)| n.as_str())
        .collect();
    let broken: Vec<String> = cx
        .opened
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| format!("{n} ({e})")))
        .collect();
    if !broken.is_empty() {
        return check(
            id,
            Status::Fail,
            format!("{listing}; these do not decrypt with your key: {}", broken.join(", ")),
            Some("re-store them from a client that has them (Element: Settings > Encryption > reset the recovery key)"),
        );
    }
    if not_default.is_empty() {
        check(
            id,
            Status::Ok,
            format!("{listing}: the default key holds every secret"),
            None,
        )
    } else {
        check(
            id,
            Status::Warn,
            format!(
                "{listing}; the default key {def} cannot open {}",
                not_default.join(", ")
            ),
            Some("a client that has these secrets re-stores them under the default key when you reset the recovery key"),
        )
    }
}

fn backup_key_in_storage(cx: &Ctx<'_>) -> Check {
    let id = CheckId::BackupKeyInStorage;
    let under = cx.stored_under(BACKUP_SECRET);
    if under.is_empty() {
        return check(
            id,
            Status::Fail,
            "m.megolm_backup.v1 is not stored: new devices cannot restore the key backup",
            Some("turn key storage on again in your client (Element: Settings > Encryption)"),
        );
    }
    match cx.secret(BACKUP_SECRET) {
        None if cx.storage().is_none() => check(
            id,
            Status::Skipped,
            format!(
                "stored under {}; not opened (no key for secret storage given)",
                under.join(", ")
            ),
            None,
        ),
        None => check(
            id,
            Status::Fail,
            "m.megolm_backup.v1 is not stored under the key you gave",
            Some("a client that has the backup key re-stores it when you reset the recovery key"),
        ),
        Some(Err(e)) => check(
            id,
            Status::Fail,
            format!("m.megolm_backup.v1 does not decrypt: {e}"),
            Some("reset the recovery key in a client that has the backup key"),
        ),
        Some(Ok(plain)) => match decode_lenient(plain).map(Zeroizing::new) {
            Ok(b) if b.len() == 32 => check(
                id,
                Status::Ok,
                "m.megolm_backup.v1 is stored and decrypts to a 32-byte key",
                None,
            ),
            Ok(b) => check(
                id,
                Status::Fail,
                format!(
                    "m.megolm_backup.v1 decrypts to {} bytes; a backup key is 32",
                    b.len()
                ),
                Some("reset the recovery key in a client that has the backup key"),
            ),
            Err(_) => check(
                id,
                Status::Fail,
                "m.megolm_backup.v1 decrypts to text that is not base64",
                Some("reset the recovery key in a client that has the backup key"),
            ),
        },
    }
}

fn backup_key_matches_backup(cx: &Ctx<'_>, repairs: &mut Vec<Repair>) -> Check {
    let id = CheckId::BackupKeyMatchesBackup;
    let Some(version) = cx.inp.backup_version else {
        return check(
            id,
            Status::Skipped,
            "no backup version given (--backup-version)",
            None,
        );
    };
    let public = match backup_public_key(version) {
        Ok(p) => p,
        Err(e) => {
            return check(
                id,
                Status::Fail,
                format!("the backup version cannot be used: {e}"),
                Some("check that the file is the body of GET /room_keys/version"),
            )
        }
    };
    let stored = cx
        .secret(BACKUP_SECRET)
        .and_then(|r| r.as_ref().ok())
        .and_then(|p| key_from_secret(p));
    let Some(stored) = stored else {
        return match cx.identified.as_ref().map(|i| i.kind) {
            Some(KeyKind::BackupKey) => check(
                id,
                Status::Ok,
                format!(
                    "the key you gave is the key of backup version {}",
                    version_name(version)
                ),
                None,
            ),
            _ if cx.storage().is_none() => check(
                id,
                Status::Skipped,
                "the stored backup key was not opened (no key for secret storage given), so it cannot be compared",
                None,
            ),
            _ => check(
                id,
                Status::Skipped,
                "the stored backup key could not be read (see backup_key_in_storage), so it cannot be compared",
                None,
            ),
        };
    };
    let have = encode_unpadded(&stored.backup_public_key());
    if have == public {
        check(
            id,
            Status::Ok,
            format!(
                "the stored backup key is the key of backup version {}",
                version_name(version)
            ),
            None,
        )
    } else {
        repairs.push(Repair::NewBackupVersion);
        check(
            id,
            Status::Fail,
            format!(
                "out of sync: the stored backup key has public key {have}, backup version {} has {public}; keys backed up since it was made cannot be restored with your key",
                version_name(version)
            ),
            Some("doctor -o DIR writes a new backup version for the stored key (then upload your keys to it with mxkeys backup encrypt), or reset key storage in a client that has the current backup key"),
        )
    }
}

fn version_name(version: &Value) -> String {
    version
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)")
        .to_owned()
}

/// `auth_data.public_key` of a backup version, checked to be the algorithm mxkeys reads.
fn backup_public_key(version: &Value) -> Result<String, String> {
    let obj = version
        .as_object()
        .ok_or("the backup version is not a JSON object")?;
    match obj.get("algorithm").and_then(Value::as_str) {
        Some(backup::ALGORITHM) => {}
        Some(other) => {
            return Err(format!(
                "its algorithm {other} is not {}",
                backup::ALGORITHM
            ))
        }
        None => return Err("it has no algorithm".into()),
    }
    obj.get("auth_data")
        .and_then(|a| a.get("public_key"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "its auth_data has no public_key".into())
}

fn cross_signing_in_storage(cx: &Ctx<'_>) -> Check {
    let id = CheckId::CrossSigningInStorage;
    let missing: Vec<&str> = CROSS_SIGNING_SECRETS
        .iter()
        .copied()
        .filter(|n| cx.stored_under(n).is_empty())
        .collect();
    if !missing.is_empty() {
        return check(
            id,
            Status::Fail,
            format!(
                "not stored: {}; new devices cannot verify themselves with the Security Key",
                missing.join(", ")
            ),
            Some(
                "reset your digital identity in a verified client (Element: Settings > Encryption)",
            ),
        );
    }
    if cx.storage().is_none() {
        return check(
            id,
            Status::Skipped,
            "all three are stored; not opened (no key for secret storage given)",
            None,
        );
    }
    let bad: Vec<String> = CROSS_SIGNING_SECRETS
        .iter()
        .filter_map(|n| match cx.secret(n) {
            None => Some(format!("{n} (not under your key)")),
            Some(Err(e)) => Some(format!("{n} ({e})")),
            Some(Ok(p)) => ssss::describe_secret(n, p)
                .public_key
                .is_none()
                .then(|| format!("{n} (not a 32-byte key)")),
        })
        .collect();
    if bad.is_empty() {
        check(id, Status::Ok, "all three are stored and open", None)
    } else {
        check(
            id,
            Status::Fail,
            format!("cannot be used: {}", bad.join(", ")),
            Some(
                "reset your digital identity in a verified client (Element: Settings > Encryption)",
            ),
        )
    }
}

fn cross_signing_matches_published(cx: &Ctx<'_>) -> Check {
    let id = CheckId::CrossSigningMatchesPublished;
    let (Some(resp), Some(user)) = (cx.inp.keys_query, cx.inp.user_id) else {
        return check(
            id,
            Status::Skipped,
            "no keys-query response given (--keys-query)",
            None,
        );
    };
    if identity::published_cross_signing_key(resp, user, "master").is_none() {
        let users = identity::users(resp);
        return check(
            id,
            Status::Fail,
            format!(
                "the keys-query response publishes no master key for {user} (it has: {})",
                if users.is_empty() {
                    "nobody".to_owned()
                } else {
                    users.join(", ")
                }
            ),
            Some("query the keys of your own user id"),
        );
    }
    if cx.storage().is_none() {
        return check(
            id,
            Status::Skipped,
            "the stored keys were not opened (no key for secret storage given)",
            None,
        );
    }
    let mut differ = Vec::new();
    for name in CROSS_SIGNING_SECRETS {
        let stored: Result<&str, (bool, String)> = match cx.secret(name) {
            None => Err((true, "not stored under your key".into())),
            Some(Err(e)) => Err((false, e.clone())),
            Some(Ok(p)) => Ok(p.as_str()),
        };
        let r = identity::compare_stored_key(resp, user, name, stored);
        if r.status != identity::StoredKeyStatus::Match {
            differ.push(format!(
                "{name} ({})",
                serde_json::to_value(r.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ));
        }
    }
    if differ.is_empty() {
        check(
            id,
            Status::Ok,
            "the stored private keys give the published public keys",
            None,
        )
    } else {
        check(
            id,
            Status::Fail,
            format!(
                "stored and published keys differ: {}; cross-signing was reset elsewhere without updating secret storage",
                differ.join(", ")
            ),
            Some("reset your digital identity in a verified client (Element: Settings > Encryption), which stores the new keys"),
        )
    }
}

/// The master key's public key: published, else derived from the stored private key.
fn master_public(cx: &Ctx<'_>) -> Option<String> {
    if let (Some(resp), Some(user)) = (cx.inp.keys_query, cx.inp.user_id) {
        if let Some(k) = identity::published_cross_signing_key(resp, user, "master") {
            return Some(k);
        }
    }
    let plain = cx.secret(CROSS_SIGNING_SECRETS[0])?.as_ref().ok()?;
    ssss::describe_secret(CROSS_SIGNING_SECRETS[0], plain).public_key
}

fn backup_trusted(cx: &Ctx<'_>) -> Check {
    let id = CheckId::BackupTrusted;
    let Some(version) = cx.inp.backup_version else {
        return check(
            id,
            Status::Skipped,
            "no backup version given (--backup-version)",
            None,
        );
    };
    let Some(auth) = version.get("auth_data").filter(|a| a.is_object()) else {
        return check(
            id,
            Status::Fail,
            "the backup version has no auth_data object",
            None,
        );
    };
    let Some(user) = cx.inp.user_id else {
        return check(id, Status::Skipped, "no user id given (--user-id)", None);
    };
    let sigs: Vec<String> = auth
        .get("signatures")
        .and_then(|s| s.get(user))
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let untrusted_fix = Some("make a new backup version from a verified client (Element: Settings > Encryption > reset), or doctor -o DIR writes one signed with your master key");
    if sigs.is_empty() {
        return check(
            id,
            Status::Fail,
            format!("backup version {} is signed by nothing of {user}: clients will not upload keys to it", version_name(version)),
            untrusted_fix,
        );
    }
    if let Some(master) = master_public(cx) {
        let key_id = format!("ed25519:{master}");
        match identity::verify_signed(auth, user, &key_id, &master) {
            Some(true) => {
                return check(id, Status::Ok, "signed by your master key", None);
            }
            Some(false) => {
                return check(
                    id,
                    Status::Fail,
                    "the master key's signature on the backup does not verify",
                    untrusted_fix,
                )
            }
            None => {}
        }
    }
    // Signatures by devices: trusted when the device is cross-signed.
    if let Some(resp) = cx.inp.keys_query {
        let report = identity::check_user(resp, user, user);
        for sig in &sigs {
            let Some(device) = sig.strip_prefix("ed25519:") else {
                continue;
            };
            let Some(public) = resp
                .get("device_keys")
                .and_then(|d| d.get(user))
                .and_then(|d| d.get(device))
                .and_then(|d| d.get("keys"))
                .and_then(|k| k.get(sig))
                .and_then(Value::as_str)
            else {
                continue;
            };
            if identity::verify_signed(auth, user, sig, public) == Some(true)
                && report.devices.get(device) == Some(&identity::DeviceStatus::CrossSigned)
            {
                return check(
                    id,
                    Status::Ok,
                    format!("signed by your device {device}, which your cross-signing keys sign"),
                    None,
                );
            }
        }
        return check(
            id,
            Status::Fail,
            format!(
                "backup version {} carries signatures ({}) but none by your master key or a cross-signed device",
                version_name(version),
                sigs.join(", ")
            ),
            untrusted_fix,
        );
    }
    check(
        id,
        Status::Skipped,
        format!(
            "signed by {}; give --keys-query (or your key, for the stored master key) to verify",
            sigs.join(", ")
        ),
        None,
    )
}

fn dehydration_key(cx: &Ctx<'_>) -> Check {
    let id = CheckId::DehydrationKey;
    let Some(name) = DEHYDRATION_SECRETS
        .iter()
        .find(|n| !cx.stored_under(n).is_empty())
    else {
        return check(
            id,
            Status::Skipped,
            "no dehydrated-device key is stored (not required)",
            None,
        );
    };
    match cx.secret(name) {
        Some(Ok(_)) => check(id, Status::Ok, format!("{name} is stored and opens"), None),
        Some(Err(e)) => check(
            id,
            Status::Warn,
            format!("{name} does not decrypt: {e}"),
            Some("a client with dehydration turned on stores a new one when you reset the recovery key"),
        ),
        None => check(
            id,
            Status::Skipped,
            format!("{name} is stored; not opened with the key given"),
            None,
        ),
    }
}

fn backup_sessions(cx: &Ctx<'_>) -> Check {
    let id = CheckId::BackupSessions;
    let Some(entries) = cx.inp.backup else {
        return check(id, Status::Skipped, "no backup given (--backup)", None);
    };
    let key = cx.identified.as_ref().and_then(|i| i.backup_key.as_ref());
    let Some(key) = key else {
        return check(
            id,
            Status::Skipped,
            format!(
                "{} sessions in the backup; no backup key to open them with",
                entries.len()
            ),
            None,
        );
    };
    let outcomes = backup::decrypt_entries(key, entries);
    let ok = outcomes.iter().filter(|o| o.result.is_ok()).count();
    let failed = outcomes.len() - ok;
    if failed == 0 {
        check(
            id,
            Status::Ok,
            format!("the backup key opens all {ok} sessions"),
            None,
        )
    } else {
        check(
            id,
            Status::Fail,
            format!("the backup key opens {ok} of {} sessions; {failed} fail", outcomes.len()),
            Some("the failing sessions were written by a client with another key: mxkeys backup decrypt --allow-partial keeps the rest"),
        )
    }
}

/// The body of `m.secret_storage.default_key` naming `key_id`.
pub fn default_key_body(key_id: &str) -> Value {
    json!({ "key": key_id })
}

/// A new backup version body (POST /room_keys/version) for `key`, signed by `master_seed` (the
/// Ed25519 seed of the master key, 32 bytes) as `user` when given.
///
/// # Errors
/// None today; kept fallible for signing of future algorithms.
pub fn new_backup_version_body(
    key: &RecoveryKey,
    user: Option<&str>,
    master_seed: Option<&[u8; 32]>,
) -> Result<Value, Error> {
    let public = encode_unpadded(&key.backup_public_key());
    let mut auth = Map::new();
    auth.insert("public_key".into(), Value::String(public));
    if let (Some(user), Some(seed)) = (user, master_seed) {
        use ed25519_dalek::Signer;
        let sk = ed25519_dalek::SigningKey::from_bytes(seed);
        let master = encode_unpadded(sk.verifying_key().as_bytes());
        let text = identity::canonical_json(&Value::Object(auth.clone()))
            .map_err(|e| Error::Backup(e.to_string()))?;
        let sig = encode_unpadded(&sk.sign(text.as_bytes()).to_bytes());
        auth.insert(
            "signatures".into(),
            json!({ user: { format!("ed25519:{master}"): sig } }),
        );
    }
    Ok(json!({ "algorithm": backup::ALGORITHM, "auth_data": auth }))
}

/// The stored master key's seed, when it opened.
pub fn stored_master_seed(d: &Diagnosis, account: &AccountData) -> Option<Zeroizing<[u8; 32]>> {
    let st = d.identified.as_ref()?.storage.as_ref()?;
    let payload = account
        .encrypted(CROSS_SIGNING_SECRETS[0], &st.desc.id)
        .ok()?;
    let plain = ssss::decrypt_secret(st.key.expose(), CROSS_SIGNING_SECRETS[0], payload).ok()?;
    let bytes = Zeroizing::new(decode_lenient(&plain).ok()?);
    Some(Zeroizing::new(<[u8; 32]>::try_from(bytes.as_slice()).ok()?))
}

/// The backup key stored in secret storage, when it opened.
pub fn stored_backup_key(d: &Diagnosis, account: &AccountData) -> Option<RecoveryKey> {
    let st = d.identified.as_ref()?.storage.as_ref()?;
    let payload = account.encrypted(BACKUP_SECRET, &st.desc.id).ok()?;
    let plain = ssss::decrypt_secret(st.key.expose(), BACKUP_SECRET, payload).ok()?;
    key_from_secret(&plain)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    /// js-sdk 43 secret storage holding the backup key of a matrix-sdk-crypto-wasm backup.
    fn in_sync() -> (AccountData, Value) {
        let ad = json(include_str!("../test-vectors/recover/jssdk-account.json"));
        let v = json(include_str!(
            "../test-vectors/backup/wasm-machine-version.json"
        ));
        (AccountData::parse(&ad).unwrap(), v)
    }

    const IN_SYNC_KEY: &str = "EsTE n8C1 4Adv nnKq W6zc 2d8w UdSW xBis 6QLz VgJ5 4eST jau7";
    const WASM_BACKUP_KEY: &str = "EsUA 5Bnp SfYP cA9t R5f4 kvkb B6Wa Fpw9 4xfa wTJ4 uYsg ePr9";

    fn inputs<'a>(ad: &'a AccountData, v: Option<&'a Value>, held: Option<Held<'a>>) -> Inputs<'a> {
        Inputs {
            account: ad,
            backup_version: v,
            keys_query: None,
            user_id: None,
            backup: None,
            held,
            max_rounds: 5_000_000,
        }
    }

    fn status(d: &Diagnosis, id: CheckId) -> Status {
        d.check(id).unwrap().status
    }

    #[test]
    fn a_security_key_is_told_from_a_backup_key() {
        let (ad, v) = in_sync();
        let ssss_key = RecoveryKey::decode(IN_SYNC_KEY).unwrap();
        let i = identify(Held::Key(&ssss_key), Some(&ad), Some(&v), 5_000_000).unwrap();
        assert_eq!(i.kind, KeyKind::SecretStorageKey);
        assert_eq!(i.matches_backup, Some(true));
        assert!(i.opens.iter().any(|s| s == BACKUP_SECRET), "{:?}", i.opens);
        assert_eq!(i.opens.len(), 4);

        let backup_key = RecoveryKey::decode(WASM_BACKUP_KEY).unwrap();
        let i = identify(Held::Key(&backup_key), Some(&ad), Some(&v), 5_000_000).unwrap();
        assert_eq!(i.kind, KeyKind::BackupKey);
        assert!(i.storage.is_none() && i.opens.is_empty());
        assert_eq!(i.matches_backup, Some(true));

        // Without the version the backup key fits nothing given.
        let i = identify(Held::Key(&backup_key), Some(&ad), None, 5_000_000).unwrap();
        assert_eq!(i.kind, KeyKind::Unknown);
    }

    #[test]
    fn the_phrase_opens_secret_storage_and_leads_to_the_backup_key() {
        let (ad, v) = in_sync();
        let p = Passphrase::new("recover me at 2 a.m.".into());
        let i = identify(Held::Phrase(&p), Some(&ad), Some(&v), 5_000_000).unwrap();
        assert_eq!(i.kind, KeyKind::SecretStorageKey);
        let want = RecoveryKey::decode(WASM_BACKUP_KEY).unwrap();
        assert_eq!(i.backup_key.unwrap().expose(), want.expose());
        let wrong = Passphrase::new("recover me at 3 a.m.".into());
        let i = identify(Held::Phrase(&wrong), Some(&ad), Some(&v), 5_000_000).unwrap();
        assert_eq!(i.kind, KeyKind::Unknown);
        // The rounds cap holds for every description tried.
        assert!(matches!(
            identify(Held::Phrase(&p), Some(&ad), None, 10),
            Err(Error::RoundsTooHigh { .. })
        ));
    }

    #[test]
    fn in_sync_account_passes_every_check_it_can_run() {
        let (ad, v) = in_sync();
        let key = RecoveryKey::decode(IN_SYNC_KEY).unwrap();
        let d = doctor(&inputs(&ad, Some(&v), Some(Held::Key(&key)))).unwrap();
        let ids: Vec<CheckId> = d.checks.iter().map(|c| c.id).collect();
        assert_eq!(ids, CheckId::ALL);
        for c in &d.checks {
            assert_ne!(c.status, Status::Fail, "{c:?}");
        }
        assert_eq!(status(&d, CheckId::KeyCheck), Status::Ok);
        assert_eq!(status(&d, CheckId::BackupKeyMatchesBackup), Status::Ok);
        assert_eq!(status(&d, CheckId::CrossSigningInStorage), Status::Ok);
        assert!(d.repairs.is_empty());
        assert!(!d.failed());
    }

    #[test]
    fn a_stored_backup_key_of_another_version_is_out_of_sync() {
        // js-sdk secret storage whose backup key is not the wasm backup's.
        let ad = json(include_str!("../test-vectors/ssss/jssdk-security-key.json"));
        let ad = AccountData::parse(&ad).unwrap();
        let v = json(include_str!(
            "../test-vectors/backup/wasm-machine-version.json"
        ));
        let key =
            RecoveryKey::decode("EsTh tAH2 fnc4 jQq8 egj4 MoiR DaRF QgZP dp1V y2WN zbwu keYY")
                .unwrap();
        let d = doctor(&inputs(&ad, Some(&v), Some(Held::Key(&key)))).unwrap();
        assert_eq!(status(&d, CheckId::KeyCheck), Status::Ok);
        assert_eq!(status(&d, CheckId::BackupKeyInStorage), Status::Ok);
        let c = d.check(CheckId::BackupKeyMatchesBackup).unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("out of sync"), "{}", c.detail);
        assert_eq!(d.repairs, [Repair::NewBackupVersion]);
        assert!(d.failed());

        // The repair: a version for the stored key, signed by the stored master key.
        let stored = stored_backup_key(&d, &ad).unwrap();
        let seed = stored_master_seed(&d, &ad).unwrap();
        let body = new_backup_version_body(&stored, Some("@u:example.org"), Some(&seed)).unwrap();
        assert_eq!(
            body["auth_data"]["public_key"],
            "NHHdioRTkEEMeVENf6NWjyMdPzKd2RyqFj2y6WhHC0U"
        );
        let master = "S63MwNRowwil9fV5NUQQBBYn8NqJdLRsEoRasm8+xEU";
        assert_eq!(
            identity::verify_signed(
                &body["auth_data"],
                "@u:example.org",
                &format!("ed25519:{master}"),
                master
            ),
            Some(true)
        );
        // ... which the doctor then trusts and finds in sync.
        let d2 = doctor(&Inputs {
            user_id: Some("@u:example.org"),
            ..inputs(&ad, Some(&body), Some(Held::Key(&key)))
        })
        .unwrap();
        assert_eq!(status(&d2, CheckId::BackupKeyMatchesBackup), Status::Ok);
        assert_eq!(status(&d2, CheckId::BackupTrusted), Status::Ok);
    }

    #[test]
    fn without_a_key_only_what_is_visible_is_reported() {
        let (ad, v) = in_sync();
        let d = doctor(&inputs(&ad, Some(&v), None)).unwrap();
        assert_eq!(status(&d, CheckId::DefaultKey), Status::Ok);
        assert_eq!(status(&d, CheckId::KeyCheck), Status::Skipped);
        assert_eq!(status(&d, CheckId::BackupKeyInStorage), Status::Skipped);
        assert_eq!(status(&d, CheckId::BackupKeyMatchesBackup), Status::Skipped);
        assert!(!d.failed());
    }

    #[test]
    fn a_default_key_pointing_nowhere_fails_and_the_opened_key_repairs_it() {
        let (ad, v) = in_sync();
        let mut map = ad.into_map();
        map.insert(ssss::DEFAULT_KEY.into(), json(r#"{"key": "gone"}"#));
        let ad = AccountData::parse(&Value::Object(map)).unwrap();
        let key = RecoveryKey::decode(IN_SYNC_KEY).unwrap();
        let d = doctor(&inputs(&ad, Some(&v), Some(Held::Key(&key)))).unwrap();
        assert_eq!(status(&d, CheckId::DefaultKey), Status::Fail);
        assert_eq!(
            d.repairs,
            [Repair::DefaultKey {
                key_id: "DxXQuAgVFWWzCDdWo7EsLhyTApG3bYZ6".into()
            }]
        );
    }

    #[test]
    fn a_description_without_a_check_is_confirmed_by_a_secret_mac() {
        let ad = json(include_str!(
            "../test-vectors/ssss/jssdk6-no-keycheck-key.json"
        ));
        let ad = AccountData::parse(&ad).unwrap();
        let key =
            RecoveryKey::decode("EsTf AWho nYK4 dPR8 spqW hcj1 fuTu xRhT 4e9U Tofe xfB2 QrE6")
                .unwrap();
        let d = doctor(&inputs(&ad, None, Some(Held::Key(&key)))).unwrap();
        let c = d.check(CheckId::KeyCheck).unwrap();
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(c.detail.contains("MAC of"), "{}", c.detail);
        let wrong = RecoveryKey::decode(IN_SYNC_KEY).unwrap();
        let d = doctor(&inputs(&ad, None, Some(Held::Key(&wrong)))).unwrap();
        assert_eq!(status(&d, CheckId::KeyCheck), Status::Fail);
    }

    #[test]
    fn a_backup_version_of_another_algorithm_is_a_failed_check_not_an_error() {
        let (ad, _) = in_sync();
        let v = json(r#"{"algorithm": "m.megolm_backup.v2", "auth_data": {}, "version": "3"}"#);
        let key = RecoveryKey::decode(IN_SYNC_KEY).unwrap();
        let d = doctor(&inputs(&ad, Some(&v), Some(Held::Key(&key)))).unwrap();
        let c = d.check(CheckId::BackupKeyMatchesBackup).unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("m.megolm_backup.v2"), "{}", c.detail);
    }
}
