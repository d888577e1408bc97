//! What each client accepts: the rules behind `export normalize --check`, and the portable form
//! of a session that every known reader takes ([`SessionRecord::normalized`]).
//!
//! The readers: Element Web (matrix-js-sdk's legacy crypto, and matrix-rust-sdk through
//! matrix-sdk-crypto-wasm), matrix-rust-sdk itself (Element X), matrix-nio and mautrix-go. The
//! rules about the file's armor and header are [`crate::export::refusals`]; the rules here are
//! about the sessions inside.

use serde_json::value::RawValue;

use super::{validate, ReportStatus, SessionRecord};
use crate::megolm::{SessionKey, SessionKeyFormat};

/// Spellings of the shared-history flag (MSC3061), and who reads them.
pub const SHARED_HISTORY: [(&str, &str); 3] = [
    ("m.shared_history", "matrix-rust-sdk (Element X, Element Web/Desktop with Rust crypto) reads and writes this"),
    ("org.matrix.msc3061.shared_history", "matrix-js-sdk's legacy crypto wrote this; matrix-rust-sdk reads it as an alias but refuses a session with both"),
    ("shared_history", "seen in some exports; no known client reads it"),
];

/// The [`Refusal::client`] of a line that is advice, not a refusal: every reader accepts the
/// file.
pub const EVERY_READER: &str = "(all)";

/// A client that would refuse a file as it is, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The client (`matrix-rust-sdk`, `matrix-nio`, `mautrix-go`), or [`EVERY_READER`].
    pub client: &'static str,
    /// What in the file it refuses, for a person.
    pub why: String,
}

impl Refusal {
    pub(crate) fn new(client: &'static str, why: impl Into<String>) -> Self {
        Refusal {
            client,
            why: why.into(),
        }
    }
}

/// Which spellings of the shared-history flag a session uses, in the order of
/// [`SHARED_HISTORY`].
pub fn shared_history_spellings(s: &SessionRecord) -> Vec<&'static str> {
    SHARED_HISTORY
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| s.contains_key(k))
        .collect()
}

/// Which clients would refuse these sessions (the decrypted content of one file), and why:
/// matrix-rust-sdk imports all or nothing, so one invalid session fails the file; it takes only
/// 0x01 keys; it refuses a session that spells the shared-history flag both ways.
pub fn refusals(sessions: &[SessionRecord]) -> Vec<Refusal> {
    let mut t = RefusalTally::default();
    for s in sessions {
        t.add(s);
    }
    t.refusals()
}

/// [`refusals`] of sessions seen one at a time, as a file of any size streams by: counts only.
#[derive(Debug, Default, Clone, Copy)]
pub struct RefusalTally {
    invalid: u64,
    signed: u64,
    both: u64,
}

impl RefusalTally {
    /// Count one session.
    pub fn add(&mut self, s: &SessionRecord) {
        if validate(0, s).status() == ReportStatus::Invalid {
            self.invalid += 1;
        }
        if key_of(s).is_some_and(|k| k.format() == SessionKeyFormat::Signed) {
            self.signed += 1;
        }
        if s.contains_key("m.shared_history") && s.contains_key("org.matrix.msc3061.shared_history")
        {
            self.both += 1;
        }
    }

    /// Add another tally's counts (of sessions counted elsewhere, e.g. on another thread).
    pub fn merge(&mut self, other: RefusalTally) {
        self.invalid += other.invalid;
        self.signed += other.signed;
        self.both += other.both;
    }

    /// What each client refuses of the sessions counted.
    pub fn refusals(&self) -> Vec<Refusal> {
        let mut out = Vec::new();
        let (invalid, signed, both) = (self.invalid, self.signed, self.both);
        if invalid > 0 {
            out.push(Refusal::new("matrix-rust-sdk", format!("{invalid} invalid sessions: its import is all-or-nothing, one bad session fails the whole file")));
        }
        if signed > 0 {
            out.push(Refusal::new(
                "matrix-rust-sdk",
                format!(
                    "{signed} sessions carry signed 0x02 keys; it imports only the 0x01 export format"
                ),
            ));
        }
        if both > 0 {
            out.push(Refusal::new(
                "matrix-rust-sdk",
                format!(
                    "{both} sessions spell the shared-history flag both ways (\"duplicate field\")"
                ),
            ));
        }
        out
    }
}

fn key_of(s: &SessionRecord) -> Option<SessionKey> {
    s.session_key
        .as_ref()
        .and_then(|k| SessionKey::from_base64(k.expose()).ok())
}

impl SessionRecord {
    /// The shared-history flag: the value of the first spelling in [`SHARED_HISTORY`] that is
    /// `true` or `false`.
    pub fn shared_history(&self) -> Option<bool> {
        SHARED_HISTORY
            .iter()
            .find_map(|(k, _)| self.extra.get_bool(k))
    }

    /// The portable form of this session: a signed 0x02 key becomes the 0x01 export format, and
    /// the shared-history flag is spelled `m.shared_history` only (matrix-rust-sdk refuses both
    /// spellings at once; it reads `m.shared_history`, as does every current client), with the
    /// value of [`SessionRecord::shared_history`], as the last field. Everything else stays as it
    /// is, in its place.
    #[must_use]
    pub fn normalized(mut self) -> Self {
        if let Some(k) = key_of(&self) {
            if k.format() == SessionKeyFormat::Signed {
                // Moved out of its Zeroizing wrapper, not copied.
                let mut text = k.to_export_base64();
                self.session_key = Some(crate::SecretString::new(std::mem::take(&mut *text)));
            }
        }
        let flag = self.shared_history();
        for (k, _) in SHARED_HISTORY {
            self.remove(k);
        }
        if let Some(f) = flag {
            let text = if f { "true" } else { "false" };
            if let Ok(v) = RawValue::from_string(text.to_owned()) {
                self.extra.insert("m.shared_history".into(), v);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(file: &str) -> Vec<SessionRecord> {
        serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
    }

    fn vector(name: &str) -> String {
        format!("{}/test-vectors/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn valid_0x01_sessions_are_refused_by_nobody() {
        assert_eq!(
            refusals(&sessions(&vector("export/sessions-basic.json"))),
            []
        );
        assert_eq!(refusals(&[]), []);
    }

    #[test]
    fn invalid_signed_and_doubly_flagged_sessions() {
        let mut all = sessions(&vector("megolm/invalid-mixed.json"));
        all.extend(sessions(&vector("megolm/valid-signed.json")));
        let mut both = sessions(&vector("export/sessions-basic.json"));
        for s in &mut both {
            for k in ["m.shared_history", "org.matrix.msc3061.shared_history"] {
                s.extra
                    .insert(k.into(), RawValue::from_string("true".into()).unwrap());
            }
        }
        all.extend(both.iter().take(2).cloned());
        let r = refusals(&all);
        let clients: Vec<&str> = r.iter().map(|r| r.client).collect();
        assert_eq!(clients, ["matrix-rust-sdk"; 3], "{r:?}");
        assert!(
            r[0].why
                .contains("invalid sessions: its import is all-or-nothing"),
            "{r:?}"
        );
        assert!(
            r[1].why.contains("sessions carry signed 0x02 keys"),
            "{r:?}"
        );
        assert!(
            r[2].why
                .starts_with("2 sessions spell the shared-history flag both ways"),
            "{r:?}"
        );
        assert_eq!(both[0].clone().normalized().shared_history(), Some(true));
    }

    #[test]
    fn normalized_keeps_one_spelling_last_and_the_order_of_the_rest() {
        let s: SessionRecord = serde_json::from_str(
            r#"{"a":1,"m.shared_history":false,"b":2,"shared_history":true,"org.matrix.msc3061.shared_history":true,"c":3}"#,
        )
        .unwrap();
        assert_eq!(shared_history_spellings(&s).len(), 3);
        assert_eq!(
            s.shared_history(),
            Some(false),
            "m.shared_history is read first"
        );
        assert_eq!(
            serde_json::to_string(&s.normalized()).unwrap(),
            r#"{"a":1,"b":2,"c":3,"m.shared_history":false}"#
        );
        let s: SessionRecord =
            serde_json::from_str(r#"{"org.matrix.msc3061.shared_history":"yes","a":1}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&s.normalized()).unwrap(),
            r#"{"a":1}"#
        );
    }

    #[test]
    fn normalized_turns_signed_keys_into_the_export_format() {
        for s in sessions(&vector("megolm/valid-signed.json")) {
            let before = key_of(&s).unwrap();
            assert_eq!(before.format(), SessionKeyFormat::Signed);
            let n = s.clone().normalized();
            let after = key_of(&n).unwrap();
            assert_eq!(after.format(), SessionKeyFormat::Export);
            assert_eq!(after.session_id(), before.session_id());
            assert_eq!(after.first_index(), before.first_index());
            assert_eq!(validate(0, &n).status(), ReportStatus::Ok);
        }
    }
}
