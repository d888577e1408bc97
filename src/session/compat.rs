//! What each client accepts.

use super::SessionRecord;

/// Spellings of the shared-history flag (MSC3061), and who reads them.
pub const SHARED_HISTORY: [(&str, &str); 3] = [
    ("m.shared_history", "matrix-rust-sdk (Element X, Element Web/Desktop with Rust crypto) reads and writes this"),
    ("org.matrix.msc3061.shared_history", "matrix-js-sdk's legacy crypto wrote this; matrix-rust-sdk reads it as an alias but refuses a session with both"),
    ("shared_history", "seen in some exports; no known client reads it"),
];

/// Which spellings of the shared-history flag a session uses, in the order of
/// [`SHARED_HISTORY`].
pub fn shared_history_spellings(s: &SessionRecord) -> Vec<&'static str> {
    SHARED_HISTORY
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| s.contains_key(k))
        .collect()
}
