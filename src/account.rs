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
use crate::kdf::Limits;
use crate::recovery_key::RecoveryKey;
use crate::secret::{Passphrase, SecretBytes};
use crate::ssss::{self, AccountData, Confirmation, KeyDescription};

/// The secret holding the backup key.
pub(crate) const BACKUP_SECRET: &str = "m.megolm_backup.v1";
/// The cross-signing secrets, master first.
pub(crate) const CROSS_SIGNING_SECRETS: [&str; 3] = [
    "m.cross_signing.master",
    "m.cross_signing.self_signing",
    "m.cross_signing.user_signing",
];
/// The dehydrated-device key: unstable (MSC3814) and stable names.
pub(crate) const DEHYDRATION_SECRETS: [&str; 2] = ["org.matrix.msc3814", "m.dehydrated_device"];

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
    /// Every secret-storage key it opens, the default first (a Security Key of an old setup can
    /// open an old description as well as, or instead of, the default).
    pub opened: Vec<OpenedStorage>,
    /// The secrets it decrypts (their MAC verifies) under any key it opens, in
    /// [`AccountData::secrets`] order.
    pub opens: Vec<String>,
    /// The backup key it leads to: itself, or the `m.megolm_backup.v1` stored under it (when
    /// that decrypts to 32 bytes).
    pub backup_key: Option<RecoveryKey>,
    /// Whether [`Identified::backup_key`] is the given backup version's key (`None` without a
    /// version, or without a backup key).
    pub matches_backup: Option<bool>,
}

impl Identified {
    /// The first key it opens (the default, when it opens that).
    pub fn storage(&self) -> Option<&OpenedStorage> {
        self.opened.first()
    }

    /// The ids of the keys it opens.
    pub fn key_ids(&self) -> Vec<String> {
        self.opened.iter().map(|o| o.desc.id.clone()).collect()
    }
}

/// Work out what `held` is: a key of the secret storage in `account` (tried default key first),
/// the key of `version`, or neither.
///
/// A phrase is tried against every description that has passphrase parameters (one PBKDF2 each),
/// then as a legacy backup passphrase (`auth_data.private_key_salt`).
///
/// # Errors
/// A backup version that is malformed or of another algorithm; rounds above `limits` in a
/// description or in `auth_data`. A key that opens nothing is [`KeyKind::Unknown`], not an
/// error.
pub fn identify(
    held: Held<'_>,
    account: Option<&AccountData>,
    version: Option<&Value>,
    limits: &Limits,
) -> Result<Identified, Error> {
    // A version that cannot be read is an error of its own, not "the key does not fit".
    if let Some(v) = version {
        let probe = RecoveryKey::from_bytes(&mut [0u8; 32]);
        match backup::check_auth_data(&probe, v) {
            Ok(()) | Err(Error::BackupKeyMismatch { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let opened = match account {
        Some(ad) => open_storage(held, ad, limits)?,
        None => Vec::new(),
    };
    let mut opens = Vec::new();
    let mut backup_key = None;
    if let Some(ad) = account {
        for (name, result) in decrypt_under(ad, &opened) {
            if let Ok(plain) = result {
                if name == BACKUP_SECRET {
                    backup_key = key_from_secret(&plain);
                }
                opens.push(name);
            }
        }
    }
    let kind = if !opened.is_empty() {
        KeyKind::SecretStorageKey
    } else {
        match (held, version) {
            (Held::Key(k), Some(v)) if backup::check_auth_data(k, v).is_ok() => {
                backup_key = Some(copy_key(k));
                KeyKind::BackupKey
            }
            (Held::Phrase(p), Some(v)) => match backup::key_from_passphrase(p, v, limits) {
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
        opened,
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

/// Each stored secret that has a copy under one of `opened` (tried in order, the first that
/// decrypts wins; else the first failure), in [`AccountData::secrets`] order.
fn decrypt_under(
    ad: &AccountData,
    opened: &[OpenedStorage],
) -> Vec<(String, Result<Zeroizing<String>, Error>)> {
    let mut out = Vec::new();
    for (name, ids) in ad.secrets() {
        let mut first_err = None;
        let mut found = None;
        for st in opened.iter().filter(|o| ids.contains(&o.desc.id)) {
            let r = ad
                .encrypted(&name, &st.desc.id)
                .and_then(|p| ssss::decrypt_secret(st.key.expose(), &name, p));
            match r {
                Ok(plain) => {
                    found = Some(plain);
                    break;
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match (found, first_err) {
            (Some(plain), _) => out.push((name, Ok(plain))),
            (None, Some(e)) => out.push((name, Err(e))),
            (None, None) => {}
        }
    }
    out
}

fn open_storage(
    held: Held<'_>,
    ad: &AccountData,
    limits: &Limits,
) -> Result<Vec<OpenedStorage>, Error> {
    let mut opened = Vec::new();
    for id in key_order(ad) {
        let Ok(desc) = ad.key(&id) else { continue };
        let key = match held {
            Held::Key(k) => SecretBytes::from_array(&mut k.expose().to_owned()),
            Held::Phrase(p) => {
                let Some(info) = &desc.passphrase else {
                    continue;
                };
                match ssss::key_from_passphrase(p, info, limits) {
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
            Ok(confirmation) => opened.push(OpenedStorage {
                is_default: ad.default_key_id() == Some(id.as_str()),
                desc,
                key,
                confirmation,
            }),
        }
    }
    Ok(opened)
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
    /// The input that would let a skipped check run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs: Option<Needs>,
}

/// An input a check could not run without.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Needs {
    /// The Security Key or Phrase.
    Key,
    /// The backup version (GET /room_keys/version).
    BackupVersion,
    /// A /keys/query response for the user.
    KeysQuery,
    /// The user id.
    UserId,
    /// The backup (GET /room_keys/keys).
    Backup,
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
    /// Store the current backup version's key (given as [`Inputs::backup_key`]) in secret
    /// storage under the default key, which the held key opens: the gentler repair, since the
    /// server's backup stays as it is.
    StoreBackupKey,
}

/// The sessions of a backup as [`doctor`] asks about them: how many there are, and how many a
/// key opens. Entries held in memory answer directly; [`StreamedBackup`] reads a body of any
/// size one entry at a time (a million sessions are 800 MB of JSON).
pub trait BackupSessions: std::fmt::Debug {
    /// `(sessions, opened)`: the number of sessions, and how many of them `key` decrypts (0
    /// without a key).
    ///
    /// # Errors
    /// The body cannot be read (I/O, JSON).
    fn count(&self, key: Option<&RecoveryKey>) -> Result<(u64, u64), Error>;
}

impl BackupSessions for Vec<backup::Entry> {
    fn count(&self, key: Option<&RecoveryKey>) -> Result<(u64, u64), Error> {
        let opened = key.map_or(0, |k| {
            backup::decrypt_entries(k, self)
                .iter()
                .filter(|o| o.result.is_ok())
                .count()
        });
        Ok((self.len() as u64, opened as u64))
    }
}

/// A backup body read from the start each time it is asked about, through `open` (which the
/// caller makes: this crate opens no files). Memory stays bounded whatever the body's size.
pub struct StreamedBackup<F>(pub F);

impl<F> std::fmt::Debug for StreamedBackup<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamedBackup")
    }
}

impl<F, R> BackupSessions for StreamedBackup<F>
where
    F: Fn() -> std::io::Result<R>,
    R: std::io::Read + Send,
{
    fn count(&self, key: Option<&RecoveryKey>) -> Result<(u64, u64), Error> {
        let input = (self.0)()?;
        let (mut total, mut opened) = (0u64, 0u64);
        let streamed = match key {
            None => backup::for_each_entry(input, None, |_| {
                total += 1;
                Ok(std::ops::ControlFlow::Continue(()))
            })?,
            Some(k) => backup::decrypt_stream(k, input, None, |o| {
                total += 1;
                opened += u64::from(o.result.is_ok());
                Ok(())
            })?,
        };
        // A lone KeyBackupData (no rooms): read in memory, it is one session.
        if let backup::Streamed::Lone(doc) = streamed {
            let (_, entries) = backup::entries(&doc, None, None)?;
            return entries.count(key);
        }
        Ok((total, opened))
    }
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
    /// The backup's sessions (GET /room_keys/keys): entries in memory, or a
    /// [`StreamedBackup`] that reads a body of any size again for each question.
    pub backup: Option<&'a dyn BackupSessions>,
    /// The Security Key or Phrase, or a backup key; `None` checks what can be seen without.
    pub held: Option<Held<'a>>,
    /// The current backup's own key, when the person has it as well (for the repair that
    /// stores it in secret storage).
    pub backup_key: Option<&'a RecoveryKey>,
    /// Bounds on the PBKDF2 work a Security Phrase may ask for.
    pub limits: Limits,
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
        needs: None,
    }
}

/// A check skipped for want of `needs`.
fn skipped(id: CheckId, detail: impl Into<String>, needs: Needs) -> Check {
    Check {
        needs: Some(needs),
        ..check(id, Status::Skipped, detail, None)
    }
}

/// Check an account's key storage (see the module docs for what each check means).
///
/// # Errors
/// Only for PBKDF2 rounds above `limits`; everything wrong in the inputs is a failed check.
pub fn doctor(inp: &Inputs<'_>) -> Result<Diagnosis, Error> {
    let ad = inp.account;
    let default_desc = usable_default(ad);
    let identified = inp
        .held
        .map(|h| {
            // A version that cannot be read fails its own checks below; the key is still
            // identified against the account data.
            let version = inp.backup_version.filter(|v| backup_public_key(v).is_ok());
            identify(h, Some(ad), version, &inp.limits)
        })
        .transpose()?;
    let opened = identified
        .as_ref()
        .map(|i| {
            decrypt_under(ad, &i.opened)
                .into_iter()
                .map(|(n, r)| (n, r.map_err(|e| e.to_string())))
                .collect()
        })
        .unwrap_or_default();
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
        backup_key_in_storage(&cx, &mut repairs),
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
        self.identified.as_ref().and_then(Identified::storage)
    }

    /// A key for secret storage was given (one that is not the backup's own key), whether or
    /// not it opened anything: what it fails to open then fails.
    fn storage_key_given(&self) -> bool {
        self.identified
            .as_ref()
            .is_some_and(|i| i.kind != KeyKind::BackupKey)
    }

    /// The backup key the held key leads to ([`Identified::backup_key`]: the one stored under
    /// it, or itself when it is the backup's), and whether it came out of secret storage.
    fn backup_key(&self) -> Option<(&RecoveryKey, bool)> {
        let i = self.identified.as_ref()?;
        Some((i.backup_key.as_ref()?, i.kind == KeyKind::SecretStorageKey))
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
                    "your key opens key {k}: make it the default again (a repair that can be written offline)"
                ),
                (None, true) => "set up secure backup in your client (Element: Settings > Encryption)".to_owned(),
                (None, false) => "give the Security Key or Phrase so that doctor can tell which key it opens and write the repair".to_owned(),
            };
            check(id, Status::Fail, detail, Some(&fix))
        }
    }
}

/// The default key's description, refused unless it is the algorithm mxkeys reads and carries
/// both halves of its check or neither.
fn usable_default(ad: &AccountData) -> Result<KeyDescription, String> {
    let id = ad
        .default_key_id()
        .ok_or("m.secret_storage.default_key is not set (or names no key)")?;
    let desc = ad.key(id).map_err(|e| e.to_string())?;
    let content = ad.content(&format!("{}{id}", ssss::KEY_PREFIX));
    let has = |f: &str| content.and_then(|c| c.get(f)).is_some_and(Value::is_string);
    if has("iv") != has("mac") {
        return Err(format!(
            "key {id}: its description has only one of iv and mac, so no client can check a key against it"
        ));
    }
    Ok(desc)
}

fn key_check(cx: &Ctx<'_>) -> Check {
    let id = CheckId::KeyCheck;
    let Some(ident) = &cx.identified else {
        return skipped(id, "no key given", Needs::Key);
    };
    if ident.kind == KeyKind::BackupKey {
        return check(
            id,
            Status::Skipped,
            "the key given is the backup's decryption key, not a secret-storage key: it opens the backup, not secret storage",
            None,
        );
    }
    let ids = ident.key_ids();
    match (cx.default_id(), ids.first()) {
        (Some(def), _) if ids.iter().any(|i| i == def) => {
            let how = match ident.opened.iter().find(|o| o.desc.id == def) {
                Some(OpenedStorage {
                    confirmation: Confirmation::SecretMac(s),
                    ..
                }) => format!(" (its description has no check; the MAC of {s} confirms it)"),
                _ => String::new(),
            };
            check(
                id,
                Status::Ok,
                format!("your key opens the default key {def}{how}"),
                None,
            )
        }
        (Some(def), Some(other)) => check(
            id,
            Status::Fail,
            format!(
                "your key opens key {other}, which is not the default key {def}: clients use the default, so this is an old key"
            ),
            Some("use the Security Key of the latest setup (it opens the default key)"),
        ),
        (None, Some(other)) => check(
            id,
            Status::Warn,
            format!("your key opens key {other}, but no usable default key is set"),
            None,
        ),
        (_, None) => check(
            id,
            Status::Fail,
            "your key opens no secret-storage key in this account data, nor is it the backup's key",
            Some("check it for a typo, or use the key of the latest setup"),
        ),
    }
}

fn secrets(cx: &Ctx<'_>) -> Check {
    let id = CheckId::Secrets;
    let all = cx.inp.account.secrets();
    if all.is_empty() {
        return check(
            id,
            Status::Warn,
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
            Status::Fail,
            format!("{listing}; with no usable default key no client reads them"),
            Some("fix default_key first"),
        );
    };
    let opens_default = cx
        .identified
        .as_ref()
        .is_some_and(|i| i.opened.iter().any(|o| o.desc.id == def));
    if opens_default {
        let broken: Vec<String> = all
            .iter()
            .filter(|(_, ids)| ids.iter().any(|i| i == def))
            .filter_map(|(n, _)| match cx.secret(n) {
                Some(Err(e)) => Some(format!("{n} ({e})")),
                _ => None,
            })
            .collect();
        if !broken.is_empty() {
            return check(
                id,
                Status::Fail,
                format!("{listing}; these do not decrypt with the default key: {}", broken.join(", ")),
                Some("a client that has them stores them again when you reset the recovery key (Element: Settings > Encryption)"),
            );
        }
    }
    let not_default: Vec<&str> = all
        .iter()
        .filter(|(_, ids)| !ids.iter().any(|i| i == def))
        .map(|(n, _)| n.as_str())
        .collect();
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
            format!("{listing}; the default key {def} cannot open {}", not_default.join(", ")),
            Some("a client that has these secrets stores them under the default key when you reset the recovery key"),
        )
    }
}

/// Whether account data has `name` with a non-empty `encrypted` object.
fn stored(ad: &AccountData, name: &str) -> bool {
    ad.content(name)
        .and_then(|c| c.get("encrypted"))
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
}

/// Whether the current backup's key was given and the held key opens the default key: then the
/// backup key can be stored again.
fn can_store_backup_key(cx: &Ctx<'_>) -> bool {
    let opens_default = cx
        .identified
        .as_ref()
        .is_some_and(|i| i.opened.iter().any(|o| o.is_default));
    let fits = match (cx.inp.backup_key, cx.inp.backup_version) {
        (Some(k), Some(v)) => backup::check_auth_data(k, v).is_ok(),
        _ => false,
    };
    opens_default && fits
}

fn backup_key_in_storage(cx: &Ctx<'_>, repairs: &mut Vec<Repair>) -> Check {
    let id = CheckId::BackupKeyInStorage;
    let ad = cx.inp.account;
    if !stored(ad, BACKUP_SECRET) {
        if can_store_backup_key(cx) {
            repairs.push(Repair::StoreBackupKey);
        }
        return check(
            id,
            Status::Fail,
            "m.megolm_backup.v1 is not stored: new devices cannot restore the key backup",
            Some("turn key storage on again in a client that has the backup key (Element: Settings > Encryption)"),
        );
    }
    if !cx.storage_key_given() {
        return check(
            id,
            Status::Skipped,
            format!(
                "stored under {}; not opened (no key for secret storage given)",
                cx.stored_under(BACKUP_SECRET).join(", ")
            ),
            None,
        );
    }
    let reset = Some("reset the recovery key in a client that has the backup key (Element: Settings > Encryption)");
    match cx.secret(BACKUP_SECRET) {
        None => check(
            id,
            Status::Fail,
            "m.megolm_backup.v1 is not stored under any key yours opens",
            reset,
        ),
        Some(Err(e)) => check(
            id,
            Status::Fail,
            format!("m.megolm_backup.v1 does not decrypt: {e}"),
            reset,
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
                reset,
            ),
            Err(_) => check(
                id,
                Status::Fail,
                "m.megolm_backup.v1 decrypts to text that is not base64",
                reset,
            ),
        },
    }
}

fn backup_key_matches_backup(cx: &Ctx<'_>, repairs: &mut Vec<Repair>) -> Check {
    let id = CheckId::BackupKeyMatchesBackup;
    let Some(version) = cx.inp.backup_version else {
        return skipped(id, "no backup version given", Needs::BackupVersion);
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
    let Some((key, from_storage)) = cx.backup_key() else {
        return check(
            id,
            Status::Skipped,
            "no backup key to compare (the stored one was not opened)",
            None,
        );
    };
    let whose = if from_storage {
        "the stored backup key"
    } else {
        "the key you gave"
    };
    let have = encode_unpadded(&key.backup_public_key());
    if have == public {
        return check(
            id,
            Status::Ok,
            format!(
                "{whose} is the key of backup version {}",
                version_name(version)
            ),
            None,
        );
    }
    if from_storage {
        if can_store_backup_key(cx) {
            repairs.push(Repair::StoreBackupKey);
        }
        repairs.push(Repair::NewBackupVersion);
    }
    check(
        id,
        Status::Fail,
        format!(
            "out of sync: {whose} has public key {have}, backup version {} has {public}; keys backed up to it cannot be restored with {}",
            version_name(version),
            if from_storage { "your Security Key" } else { "this key" }
        ),
        Some("make a new backup version for the stored key (a repair that can be written offline; then upload your keys to it), or reset key storage in a client that has the current backup key"),
    )
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

/// The three cross-signing seeds, when all decrypted to 32 bytes.
fn cross_signing_seeds<'c>(cx: &'c Ctx<'_>) -> Option<Vec<&'c str>> {
    CROSS_SIGNING_SECRETS
        .iter()
        .map(|n| match cx.secret(n) {
            Some(Ok(p)) if ssss::describe_secret(n, p).public_key.is_some() => Some(p.as_str()),
            _ => None,
        })
        .collect()
}

fn cross_signing_in_storage(cx: &Ctx<'_>) -> Check {
    let id = CheckId::CrossSigningInStorage;
    let identity_fix =
        Some("reset your digital identity in a verified client (Element: Settings > Encryption)");
    let missing: Vec<&str> = CROSS_SIGNING_SECRETS
        .iter()
        .copied()
        .filter(|n| !stored(cx.inp.account, n))
        .collect();
    if !missing.is_empty() {
        return check(
            id,
            Status::Fail,
            format!(
                "not stored: {}; new devices cannot verify themselves with the Security Key",
                missing.join(", ")
            ),
            identity_fix,
        );
    }
    if !cx.storage_key_given() {
        return skipped(
            id,
            "all three are stored; not opened (no key for secret storage given)",
            Needs::Key,
        );
    }
    let bad: Vec<String> = CROSS_SIGNING_SECRETS
        .iter()
        .filter_map(|n| match cx.secret(n) {
            None => Some(format!("{n} (not under a key yours opens)")),
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
            identity_fix,
        )
    }
}

fn cross_signing_matches_published(cx: &Ctx<'_>) -> Check {
    let id = CheckId::CrossSigningMatchesPublished;
    let Some(resp) = cx.inp.keys_query else {
        return skipped(id, "no keys-query response given", Needs::KeysQuery);
    };
    let Some(user) = cx.inp.user_id else {
        return skipped(id, "no user id given", Needs::UserId);
    };
    if identity::published_cross_signing_key(resp, user, "master").is_none() {
        return no_master(id, resp, user);
    }
    let Some(seeds) = cross_signing_seeds(cx) else {
        return check(
            id,
            Status::Skipped,
            "the three stored keys were not all opened, so they cannot be compared",
            None,
        );
    };
    let differ: Vec<String> = CROSS_SIGNING_SECRETS
        .iter()
        .zip(seeds)
        .filter_map(|(name, seed)| {
            let r = identity::compare_stored_key(resp, user, name, Ok(seed));
            (r.status != identity::StoredKeyStatus::Match).then(|| {
                format!(
                    "{name} ({})",
                    serde_json::to_value(r.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                )
            })
        })
        .collect();
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

fn no_master(id: CheckId, resp: &Value, user: &str) -> Check {
    let users = identity::users(resp);
    check(
        id,
        Status::Fail,
        format!(
            "the keys-query response publishes no master key for {user} (it has keys of: {})",
            if users.is_empty() {
                "nobody".to_owned()
            } else {
                users.join(", ")
            }
        ),
        Some("query the keys of your own user id"),
    )
}

fn backup_trusted(cx: &Ctx<'_>) -> Check {
    let id = CheckId::BackupTrusted;
    let Some(version) = cx.inp.backup_version else {
        return skipped(id, "no backup version given", Needs::BackupVersion);
    };
    let (Some(resp), Some(user)) = (cx.inp.keys_query, cx.inp.user_id) else {
        return skipped(
            id,
            "no keys-query response given: the signatures cannot be checked",
            Needs::KeysQuery,
        );
    };
    if let Err(e) = backup_public_key(version) {
        return check(
            id,
            Status::Fail,
            format!("the backup version cannot be used: {e}"),
            None,
        );
    }
    let Some(master) = identity::published_cross_signing_key(resp, user, "master") else {
        return no_master(id, resp, user);
    };
    let Some(auth) = version.get("auth_data").filter(|a| a.is_object()) else {
        return check(
            id,
            Status::Fail,
            "the backup version has no auth_data object",
            None,
        );
    };
    let untrusted_fix = Some("make a new backup version from a verified client (Element: Settings > Encryption > reset), or one signed with your master key (a repair that can be written offline)");
    if identity::verify_signed(auth, user, &format!("ed25519:{master}"), &master) == Some(true) {
        return check(id, Status::Ok, "signed by your master key", None);
    }
    let sigs: Vec<String> = auth
        .get("signatures")
        .and_then(|s| s.get(user))
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
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
    let detail = if sigs.is_empty() {
        format!(
            "backup version {} is signed by nothing of {user}: clients will not trust it",
            version_name(version)
        )
    } else {
        format!(
            "backup version {} carries signatures ({}) but no valid one by your master key or a cross-signed device",
            version_name(version),
            sigs.join(", ")
        )
    };
    check(id, Status::Fail, detail, untrusted_fix)
}

fn dehydration_key(cx: &Ctx<'_>) -> Check {
    let id = CheckId::DehydrationKey;
    let Some(name) = DEHYDRATION_SECRETS
        .iter()
        .find(|n| stored(cx.inp.account, n))
    else {
        return check(
            id,
            Status::Skipped,
            "no dehydrated-device key is stored (not required)",
            None,
        );
    };
    if !cx.storage_key_given() {
        return check(
            id,
            Status::Skipped,
            format!("{name} is stored; not opened (no key for secret storage given)"),
            None,
        );
    }
    let fix = Some(
        "a client with dehydration turned on stores a new one when you reset the recovery key",
    );
    match cx.secret(name) {
        Some(Ok(p))
            if decode_lenient(p)
                .map(Zeroizing::new)
                .is_ok_and(|b| b.len() == 32) =>
        {
            check(id, Status::Ok, format!("{name} is stored and opens"), None)
        }
        Some(Ok(_)) => check(
            id,
            Status::Warn,
            format!("{name} opens but is not a 32-byte key"),
            fix,
        ),
        Some(Err(e)) => check(
            id,
            Status::Warn,
            format!("{name} does not decrypt: {e}"),
            fix,
        ),
        None => check(
            id,
            Status::Warn,
            format!("{name} is stored, but not under a key yours opens"),
            fix,
        ),
    }
}

fn backup_sessions(cx: &Ctx<'_>) -> Check {
    let id = CheckId::BackupSessions;
    let Some(backup) = cx.inp.backup else {
        return skipped(id, "no backup given", Needs::Backup);
    };
    let key = cx.backup_key().map(|(key, _)| key);
    let (total, ok) = match backup.count(key) {
        Ok(counts) => counts,
        Err(e) => {
            return check(
                id,
                Status::Fail,
                format!("the backup cannot be read: {e}"),
                Some("give the GET /room_keys/keys body as the server sent it"),
            )
        }
    };
    if key.is_none() {
        return check(
            id,
            Status::Skipped,
            format!("{total} sessions in the backup; no backup key to open them with"),
            None,
        );
    }
    let failed = total - ok;
    let fix = Some("sessions the key cannot open were backed up under another key: restore them from a device that has them, or find the key of that backup version");
    if failed == 0 {
        check(
            id,
            Status::Ok,
            format!("the backup key opens all {ok} sessions"),
            None,
        )
    } else if ok == 0 {
        check(
            id,
            Status::Fail,
            format!("the backup key opens none of the {total} sessions"),
            fix,
        )
    } else {
        check(
            id,
            Status::Warn,
            format!("the backup key opens {ok} of {total} sessions; {failed} fail"),
            fix,
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
            .map_err(backup::BackupError::AuthDataNotCanonical)?;
        let sig = encode_unpadded(&sk.sign(text.as_bytes()).to_bytes());
        auth.insert(
            "signatures".into(),
            json!({ user: { format!("ed25519:{master}"): sig } }),
        );
    }
    Ok(json!({ "algorithm": backup::ALGORITHM, "auth_data": auth }))
}

/// The `m.megolm_backup.v1` account-data body that stores `backup_key` under the default key
/// the held key opened. `iv` must be fresh randomness.
pub fn store_backup_key_body(
    d: &Diagnosis,
    backup_key: &RecoveryKey,
    iv: [u8; 16],
) -> Option<Value> {
    let st = d
        .identified
        .as_ref()?
        .opened
        .iter()
        .find(|o| o.is_default)?;
    let plain = Zeroizing::new(encode_unpadded(backup_key.expose()));
    let payload = ssss::encrypt_secret(st.key.expose(), BACKUP_SECRET, &plain, iv);
    Some(json!({ "encrypted": { st.desc.id.clone(): payload } }))
}

/// The stored master key's seed, when it opened.
pub fn stored_master_seed(d: &Diagnosis, account: &AccountData) -> Option<Zeroizing<[u8; 32]>> {
    let opened = &d.identified.as_ref()?.opened;
    let (_, plain) = decrypt_under(account, opened)
        .into_iter()
        .find(|(n, _)| n == CROSS_SIGNING_SECRETS[0])?;
    let plain = plain.ok()?;
    let bytes = Zeroizing::new(decode_lenient(&plain).ok()?);
    Some(Zeroizing::new(<[u8; 32]>::try_from(bytes.as_slice()).ok()?))
}

/// The backup key stored in secret storage, when the held key opened it (already decrypted by
/// [`identify`]).
pub fn stored_backup_key(d: &Diagnosis) -> Option<RecoveryKey> {
    let i = d.identified.as_ref()?;
    (i.kind == KeyKind::SecretStorageKey)
        .then_some(i.backup_key.as_ref())
        .flatten()
        .map(copy_key)
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
            backup_key: None,
            limits: Limits::default(),
        }
    }

    fn status(d: &Diagnosis, id: CheckId) -> Status {
        d.check(id).unwrap().status
    }

    #[test]
    fn a_security_key_is_told_from_a_backup_key() {
        let (ad, v) = in_sync();
        let ssss_key = RecoveryKey::decode(IN_SYNC_KEY).unwrap();
        let i = identify(
            Held::Key(&ssss_key),
            Some(&ad),
            Some(&v),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(i.kind, KeyKind::SecretStorageKey);
        assert_eq!(i.matches_backup, Some(true));
        assert!(i.opens.iter().any(|s| s == BACKUP_SECRET), "{:?}", i.opens);
        assert_eq!(i.opens.len(), 4);

        let backup_key = RecoveryKey::decode(WASM_BACKUP_KEY).unwrap();
        let i = identify(
            Held::Key(&backup_key),
            Some(&ad),
            Some(&v),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(i.kind, KeyKind::BackupKey);
        assert!(i.opened.is_empty() && i.opens.is_empty());
        assert_eq!(i.matches_backup, Some(true));

        // Without the version the backup key fits nothing given.
        let i = identify(Held::Key(&backup_key), Some(&ad), None, &Limits::default()).unwrap();
        assert_eq!(i.kind, KeyKind::Unknown);
    }

    #[test]
    fn the_phrase_opens_secret_storage_and_leads_to_the_backup_key() {
        let (ad, v) = in_sync();
        let p = Passphrase::new("recover me at 2 a.m.".into());
        let i = identify(Held::Phrase(&p), Some(&ad), Some(&v), &Limits::default()).unwrap();
        assert_eq!(i.kind, KeyKind::SecretStorageKey);
        let want = RecoveryKey::decode(WASM_BACKUP_KEY).unwrap();
        assert_eq!(i.backup_key.unwrap().expose(), want.expose());
        let wrong = Passphrase::new("recover me at 3 a.m.".into());
        let i = identify(
            Held::Phrase(&wrong),
            Some(&ad),
            Some(&v),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(i.kind, KeyKind::Unknown);
        // The rounds cap holds for every description tried.
        assert!(matches!(
            identify(
                Held::Phrase(&p),
                Some(&ad),
                None,
                &Limits { max_rounds: 10 }
            ),
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
        let stored = stored_backup_key(&d).unwrap();
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
        // ... which the doctor then trusts (the master key published as a keys-query
        // response would) and finds in sync.
        let kq = serde_json::json!({"master_keys": {"@u:example.org": {
            "user_id": "@u:example.org", "usage": ["master"],
            "keys": {format!("ed25519:{master}"): master}}}});
        let d2 = doctor(&Inputs {
            user_id: Some("@u:example.org"),
            keys_query: Some(&kq),
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
