//! Cross-signing chains in a `/keys/query` response (spec "Cross-signing"): master,
//! self-signing, user-signing and device keys and the signatures between them, as one user (the
//! viewer) sees them; and the cross-signing private keys in secret storage compared with the
//! published public keys.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::signed_json::verify_signed;
use crate::encoding::decode_lenient;

/// How a device stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Signed by a valid self-signing key.
    CrossSigned,
    /// Not (validly) signed by a valid self-signing key.
    NotCrossSigned,
    /// Its own signature, or its cross-signature, fails.
    BadSignature,
}

/// The cross-signing state of one user as a viewer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserReport {
    /// The master key (unpadded base64).
    pub master_key: Option<String>,
    /// Devices whose signature on the master key verifies.
    pub master_signed_by_own_device: Vec<String>,
    /// The self-signing key is well-formed and signed by the master key.
    pub self_signing_valid: bool,
    /// Same for the user-signing key; `None` when the response has none for this user.
    pub user_signing_valid: Option<bool>,
    /// Whether the viewer's user-signing key signed this user's master key (`None` for the viewer).
    pub signed_by_viewer_user_signing: Option<bool>,
    /// Each device's status.
    pub devices: BTreeMap<String, DeviceStatus>,
    /// Everything wrong, sorted.
    pub problems: Vec<String>,
}

/// A cross-signing key object's single Ed25519 key, if it is well-formed for `user`/`usage`.
fn cross_key(obj: &Value, user: &str, usage: &str) -> Option<(String, String)> {
    if obj.get("user_id").and_then(Value::as_str) != Some(user) {
        return None;
    }
    let usages = obj.get("usage")?.as_array()?;
    if !usages.iter().any(|u| u.as_str() == Some(usage)) {
        return None;
    }
    let keys = obj.get("keys")?.as_object()?;
    if keys.len() != 1 {
        return None;
    }
    let (id, key) = keys.iter().next()?;
    let key = key.as_str()?;
    if id.strip_prefix("ed25519:")? != key || !decode_lenient(key).is_ok_and(|b| b.len() == 32) {
        return None;
    }
    Some((id.clone(), key.to_owned()))
}

/// Whether `kind` (self_signing_keys / user_signing_keys) of `user` is well-formed and signed by
/// `master`; pushes problems named with `name`.
fn subkey(
    resp: &Value,
    kind: &str,
    usage: &str,
    user: &str,
    master: Option<&(String, String)>,
    name: &str,
    problems: &mut Vec<String>,
) -> (Option<bool>, Option<(String, String)>) {
    let Some(obj) = resp.get(kind).and_then(|m| m.get(user)) else {
        return (None, None);
    };
    let Some(key) = cross_key(obj, user, usage) else {
        problems.push(format!("{name}_key_malformed"));
        return (Some(false), None);
    };
    let valid = match master {
        None => false,
        Some((mid, mkey)) => match verify_signed(obj, user, mid, mkey) {
            None => {
                problems.push(format!("{name}_not_signed_by_master"));
                false
            }
            Some(false) => {
                problems.push(format!("{name}_signature_invalid"));
                false
            }
            Some(true) => true,
        },
    };
    (Some(valid), Some(key))
}

/// Check every signature chain of `user` in a `/keys/query` response, as `viewer` sees it.
pub fn check_user(resp: &Value, user: &str, viewer: &str) -> UserReport {
    let mut problems = Vec::new();
    let devices_value = resp.get("device_keys").and_then(|d| d.get(user));
    let devices_obj = devices_value.and_then(Value::as_object);
    if devices_value.is_some() && devices_obj.is_none() {
        problems.push("device_keys_malformed".into());
    }
    let device_key = |dev: &str| -> Option<String> {
        let d = devices_obj?.get(dev)?;
        if d.get("user_id").and_then(Value::as_str) != Some(user)
            || d.get("device_id").and_then(Value::as_str) != Some(dev)
        {
            return None;
        }
        d.get("keys")?
            .get(format!("ed25519:{dev}"))?
            .as_str()
            .map(str::to_owned)
    };
    let master_obj = resp.get("master_keys").and_then(|m| m.get(user));
    let master = match master_obj {
        None => {
            problems.push("no_master_key".into());
            None
        }
        Some(m) => {
            let k = cross_key(m, user, "master");
            if k.is_none() {
                problems.push("master_key_malformed".into());
            }
            k
        }
    };
    let mut signed_by_devices = Vec::new();
    if let (Some(m), Some((mid, mkey))) = (master_obj, &master) {
        if let Some(sigs) = m
            .get("signatures")
            .and_then(|s| s.get(user))
            .and_then(Value::as_object)
        {
            for (kid, _) in sigs {
                let Some(dev) = kid.strip_prefix("ed25519:") else {
                    continue;
                };
                if kid == mid {
                    if verify_signed(m, user, kid, mkey) != Some(true) {
                        problems.push("master_self_signature_invalid".into());
                    }
                } else if let Some(dk) = device_key(dev) {
                    if verify_signed(m, user, kid, &dk) == Some(true) {
                        signed_by_devices.push(dev.to_owned());
                    } else {
                        problems.push(format!("master_device_signature_invalid:{dev}"));
                    }
                }
            }
        }
    }
    signed_by_devices.sort();
    let (ssk_valid, ssk) = subkey(
        resp,
        "self_signing_keys",
        "self_signing",
        user,
        master.as_ref(),
        "self_signing",
        &mut problems,
    );
    if ssk_valid.is_none() {
        problems.push("no_self_signing_key".into());
    }
    let self_signing_valid = ssk_valid.unwrap_or(false);
    let (usk_valid, _) = subkey(
        resp,
        "user_signing_keys",
        "user_signing",
        user,
        master.as_ref(),
        "user_signing",
        &mut problems,
    );

    let signed_by_viewer = if user == viewer {
        None
    } else {
        let mut viewer_problems = Vec::new();
        let vmaster = resp
            .get("master_keys")
            .and_then(|m| m.get(viewer))
            .and_then(|m| cross_key(m, viewer, "master"));
        let (vusk_valid, vusk) = subkey(
            resp,
            "user_signing_keys",
            "user_signing",
            viewer,
            vmaster.as_ref(),
            "viewer_user_signing",
            &mut viewer_problems,
        );
        // Only a master key that is well formed and names this user can be verified: a valid
        // signature over one that names another user must not make this user "verified".
        match (master.as_ref().and(master_obj), vusk) {
            (Some(m), Some((vid, vkey))) => match verify_signed(m, viewer, &vid, &vkey) {
                None => Some(false),
                Some(false) => {
                    problems.push("master_viewer_user_signing_signature_invalid".into());
                    Some(false)
                }
                Some(true) if vusk_valid == Some(true) => Some(true),
                Some(true) => {
                    problems.push("viewer_user_signing_key_untrusted".into());
                    Some(false)
                }
            },
            _ => Some(false),
        }
    };

    let mut devices = BTreeMap::new();
    for (dev, obj) in devices_obj.into_iter().flatten() {
        let Some(dk) = device_key(dev) else {
            problems.push(format!("device_malformed:{dev}"));
            devices.insert(dev.clone(), DeviceStatus::BadSignature);
            continue;
        };
        let own = format!("ed25519:{dev}");
        if verify_signed(obj, user, &own, &dk) != Some(true) {
            problems.push(format!("device_self_signature_invalid:{dev}"));
            devices.insert(dev.clone(), DeviceStatus::BadSignature);
            continue;
        }
        let status = match &ssk {
            None => {
                problems.push(format!("device_not_cross_signed:{dev}"));
                DeviceStatus::NotCrossSigned
            }
            Some((sid, skey)) => match verify_signed(obj, user, sid, skey) {
                None => {
                    problems.push(format!("device_not_cross_signed:{dev}"));
                    DeviceStatus::NotCrossSigned
                }
                Some(false) => {
                    problems.push(format!("device_cross_signature_invalid:{dev}"));
                    DeviceStatus::BadSignature
                }
                Some(true) if self_signing_valid => DeviceStatus::CrossSigned,
                Some(true) => {
                    problems.push(format!("device_self_signing_key_untrusted:{dev}"));
                    DeviceStatus::NotCrossSigned
                }
            },
        };
        if let Some(sigs) = obj
            .get("signatures")
            .and_then(|s| s.get(user))
            .and_then(Value::as_object)
        {
            for kid in sigs.keys() {
                if *kid != own && ssk.as_ref().is_none_or(|(sid, _)| sid != kid) {
                    problems.push(format!("device_signed_by_other_key:{dev}:{kid}"));
                }
            }
        }
        devices.insert(dev.clone(), status);
    }
    problems.sort();
    UserReport {
        master_key: master.map(|(_, k)| k),
        master_signed_by_own_device: signed_by_devices,
        self_signing_valid,
        user_signing_valid: usk_valid,
        signed_by_viewer_user_signing: signed_by_viewer,
        devices,
        problems,
    }
}

/// How a cross-signing private key in secret storage stands against the published public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredKeyStatus {
    /// The stored private key gives the published public key.
    Match,
    /// It gives another key: cross-signing was reset elsewhere, or this is an old secret.
    Mismatch,
    /// Secret storage has no copy of it under the key used.
    Missing,
    /// A copy is there but does not decrypt (wrong MAC, malformed).
    Unreadable,
    /// It decrypts but is not 32 bytes of unpadded base64.
    NotAKey,
    /// A key is stored but the response publishes none of this kind for the user.
    NotPublished,
}

/// One cross-signing secret compared with the published key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredKeyReport {
    /// The verdict.
    pub status: StoredKeyStatus,
    /// The public key the stored private key gives (unpadded base64).
    pub stored_public_key: Option<String>,
    /// The public key in the `/keys/query` response.
    pub published_public_key: Option<String>,
    /// Why a secret is missing or unreadable.
    pub detail: Option<String>,
}

/// Every user a `/keys/query` response has master keys or devices for, sorted, once each.
pub fn users(resp: &Value) -> Vec<String> {
    let mut u: Vec<String> = ["master_keys", "device_keys"]
        .iter()
        .filter_map(|k| resp.get(*k).and_then(Value::as_object))
        .flat_map(|m| m.keys().cloned())
        .collect();
    u.sort();
    u.dedup();
    u
}

/// The published public key of `user`'s `master`, `self_signing` or `user_signing` key in a
/// `/keys/query` response (its only `keys` entry).
pub fn published_cross_signing_key(resp: &Value, user: &str, kind: &str) -> Option<String> {
    resp.get(format!("{kind}_keys"))?
        .get(user)?
        .get("keys")?
        .as_object()?
        .values()
        .next()?
        .as_str()
        .map(str::to_owned)
}

/// Compare a stored cross-signing secret (`m.cross_signing.master`, `.self_signing`,
/// `.user_signing`: the private key as unpadded base64, or why it could not be read) with the key
/// `user` publishes. `missing` tells a secret with no copy under the key apart from one that does
/// not decrypt.
pub fn compare_stored_key(
    resp: &Value,
    user: &str,
    name: &str,
    stored: Result<&str, (bool, String)>,
) -> StoredKeyReport {
    let kind = name.strip_prefix("m.cross_signing.").unwrap_or(name);
    let published = published_cross_signing_key(resp, user, kind);
    let report = |status, stored_public_key, detail| StoredKeyReport {
        status,
        stored_public_key,
        published_public_key: published.clone(),
        detail,
    };
    let plain = match stored {
        Err((true, why)) => return report(StoredKeyStatus::Missing, None, Some(why)),
        Err((false, why)) => return report(StoredKeyStatus::Unreadable, None, Some(why)),
        Ok(p) => p,
    };
    let Some(derived) = crate::ssss::describe_secret(name, plain).public_key else {
        return report(StoredKeyStatus::NotAKey, None, None);
    };
    let status = match &published {
        None => StoredKeyStatus::NotPublished,
        Some(p) if *p == derived => StoredKeyStatus::Match,
        Some(_) => StoredKeyStatus::Mismatch,
    };
    report(status, Some(derived), None)
}
