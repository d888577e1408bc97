//! Canonical JSON and signed JSON (spec "Signing JSON"): strict parsing that refuses duplicate
//! keys, the canonical form that signatures cover, and the Ed25519 check of one signature on a
//! signed object.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::encoding::decode_lenient;

/// Why a JSON value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalError {
    /// Not JSON.
    #[error("not JSON: {0}")]
    Syntax(String),
    /// A key appears twice in one object.
    #[error("duplicate key {0:?}: the signed form would be ambiguous")]
    DuplicateKey(String),
    /// A number that is not an integer in [-(2^53)+1, 2^53-1].
    #[error("{0} is not an integer in the range canonical JSON allows")]
    Number(String),
}

/// Finds duplicate keys anywhere in a document (serde_json keeps the last silently).
struct DupCheck;

impl<'de> Deserialize<'de> for DupCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DupCheck;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DupCheck, A::Error> {
                let mut seen = HashSet::new();
                while let Some(k) = map.next_key::<String>()? {
                    if !seen.insert(k.clone()) {
                        return Err(de::Error::custom(format!("\u{0}dup\u{0}{k}")));
                    }
                    map.next_value::<DupCheck>()?;
                }
                Ok(DupCheck)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DupCheck, A::Error> {
                while seq.next_element::<DupCheck>()?.is_some() {}
                Ok(DupCheck)
            }
            fn visit_bool<E>(self, _: bool) -> Result<DupCheck, E> {
                Ok(DupCheck)
            }
            fn visit_i64<E>(self, _: i64) -> Result<DupCheck, E> {
                Ok(DupCheck)
            }
            fn visit_u64<E>(self, _: u64) -> Result<DupCheck, E> {
                Ok(DupCheck)
            }
            fn visit_f64<E>(self, _: f64) -> Result<DupCheck, E> {
                Ok(DupCheck)
            }
            fn visit_str<E>(self, _: &str) -> Result<DupCheck, E> {
                Ok(DupCheck)
            }
            fn visit_unit<E>(self) -> Result<DupCheck, E> {
                Ok(DupCheck)
            }
        }
        d.deserialize_any(V)
    }
}

/// Parse JSON text strictly: duplicate keys are an error.
///
/// # Errors
/// [`CanonicalError::Syntax`] or [`CanonicalError::DuplicateKey`].
pub fn parse_strict(text: &str) -> Result<Value, CanonicalError> {
    if let Err(e) = serde_json::from_str::<DupCheck>(text) {
        let msg = e.to_string();
        if let Some(rest) = msg.strip_prefix("\u{0}dup\u{0}") {
            let key = rest.split(" at line ").next().unwrap_or(rest);
            return Err(CanonicalError::DuplicateKey(key.to_owned()));
        }
        return Err(CanonicalError::Syntax(format!(
            "line {}, column {}",
            e.line(),
            e.column()
        )));
    }
    serde_json::from_str(text)
        .map_err(|e| CanonicalError::Syntax(format!("line {}, column {}", e.line(), e.column())))
}

const MAX_SAFE: i64 = (1 << 53) - 1;

fn write_canonical(v: &Value, out: &mut String) -> Result<(), CanonicalError> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_i64() {
            Some(i) if (-MAX_SAFE..=MAX_SAFE).contains(&i) => out.push_str(&i.to_string()),
            _ => return Err(CanonicalError::Number(n.to_string())),
        },
        Value::String(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out)?;
            }
            out.push(']');
        }
        Value::Object(o) => {
            // UTF-8 byte order is code-point order.
            let sorted: BTreeMap<&str, &Value> = o.iter().map(|(k, v)| (k.as_str(), v)).collect();
            out.push('{');
            for (i, (k, x)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push(':');
                write_canonical(x, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Canonical JSON: keys sorted by code point, no insignificant whitespace, integers only.
///
/// # Errors
/// [`CanonicalError::Number`] for floats and out-of-range integers.
pub fn canonical_json(v: &Value) -> Result<String, CanonicalError> {
    let mut out = String::new();
    write_canonical(v, &mut out)?;
    Ok(out)
}

/// Verify `signatures[user][key_id]` on a signed object with the Ed25519 key `public_b64`.
/// `None` when there is no such signature.
pub fn verify_signed(obj: &Value, user: &str, key_id: &str, public_b64: &str) -> Option<bool> {
    let sig = obj.get("signatures")?.get(user)?.get(key_id)?.as_str()?;
    Some(verify_with(obj, sig, public_b64))
}

fn verify_with(obj: &Value, sig_b64: &str, public_b64: &str) -> bool {
    let Some(map) = obj.as_object() else {
        return false;
    };
    let mut unsigned = map.clone();
    unsigned.remove("signatures");
    unsigned.remove("unsigned");
    let Ok(text) = canonical_json(&Value::Object(unsigned)) else {
        return false;
    };
    let key = decode_lenient(public_b64)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok());
    let sig = decode_lenient(sig_b64)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok());
    match (key.and_then(|k| VerifyingKey::from_bytes(&k).ok()), sig) {
        (Some(vk), Some(s)) => vk
            .verify_strict(text.as_bytes(), &Signature::from_bytes(&s))
            .is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_examples_from_the_spec() {
        let v = parse_strict(r#"{"b": "2", "a": "1"}"#).unwrap();
        assert_eq!(canonical_json(&v).unwrap(), r#"{"a":"1","b":"2"}"#);
        let v = parse_strict(r#"{"a": 1.5}"#).unwrap();
        assert!(canonical_json(&v).is_err());
        assert_eq!(
            parse_strict(r#"{"a":1,"a":2}"#).unwrap_err(),
            CanonicalError::DuplicateKey("a".into())
        );
    }
}
