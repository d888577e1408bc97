//! Which client most likely wrote an export, from what can be seen without the passphrase.
//!
//! Writers differ in line layout and in how they clear IV bit 63; the round count adds a hint.
//! Line layout: Element Web base64-encodes 96-byte chunks (128-character lines, padding only on
//! the last) and ends with a newline; mautrix-go wraps at 76; matrix-rust-sdk and matrix-nio
//! write one unwrapped line with no final newline. Bit 63: most clients clear the top bit of
//! IV byte 8, old Element Android a bit of byte 9, mautrix-go's export the low bit of byte 7.
//! Rounds: Element Web 500,000, mautrix-go 100,000, matrix-nio's client API 10,000. None of
//! this is proof: it is evidence, and is reported as such.

use serde::Serialize;

use super::Inspection;

/// The best guess and the observations behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriterGuess {
    /// The likely writer, e.g. `"Element Web"`, `"matrix-rust-sdk or matrix-nio"` when the
    /// signals cannot separate them, or `"unknown"`.
    pub writer: &'static str,
    /// What was seen, one sentence each.
    pub evidence: Vec<String>,
}

/// Guess the writer of an inspected export.
pub fn guess_writer(i: &Inspection) -> WriterGuess {
    let a = &i.armor;
    let mut evidence = Vec::new();
    let iv = i.header.iv;
    let byte8_top_clear = iv.get(8).is_some_and(|b| b & 0x80 == 0);
    let byte7_low_clear = iv.get(7).is_some_and(|b| b & 0x01 == 0);
    let edited = a.text_before
        || a.text_after
        || a.indented_lines > 0
        || a.blank_lines > 0
        || a.crlf_lines > 0
        || !a.uniform_width;
    if edited {
        evidence.push(
            "the armor has text around it, blank or indented lines, CRLF or uneven line widths: \
             no known client writes that, so the file was edited, re-wrapped or pasted"
                .to_string(),
        );
    }
    let mut writer = "unknown";
    if a.body_lines == 1 && !a.final_newline {
        // The two write the same armor and clear the same IV bit; only the round count tells
        // them apart, and only at nio's default. Anything else could be either.
        writer = if i.header.rounds == 10_000 {
            evidence.push(
                "10000 rounds is matrix-nio's default (Element and matrix-rust-sdk use more)"
                    .to_string(),
            );
            "matrix-nio"
        } else {
            evidence.push(format!(
                "{} rounds is not matrix-nio's default (10000), but its callers may choose any, so                  nothing in the file separates matrix-rust-sdk from matrix-nio",
                i.header.rounds
            ));
            "matrix-rust-sdk or matrix-nio"
        };
        evidence.push(
            "one unwrapped base64 line and no final newline: the layout of matrix-rust-sdk \
             (Element X, Element Web with Rust crypto) and matrix-nio"
                .to_string(),
        );
    } else if a.first_line_width == 128 && a.final_newline {
        writer = "Element Web";
        evidence.push(
            "128-character lines (96-byte chunks) and a final newline: Element Web's \
             MegolmExportEncryption (mxkeys writes the same layout)"
                .to_string(),
        );
    } else if a.first_line_width == 76 {
        writer = "mautrix-go";
        evidence.push("76-character lines: mautrix-go wraps its exports at 76".to_string());
    } else if a.body_lines > 1 {
        evidence.push(format!(
            "{}-character lines: no known client wraps at that width",
            a.first_line_width
        ));
    }
    if !byte8_top_clear {
        evidence.push(
            "IV bit 63 (top bit of byte 8) is set, against the spec: Element Web, \
             matrix-rust-sdk and matrix-nio clear it; mautrix-go and old Element Android \
             clear a different bit"
                .to_string(),
        );
        if writer != "unknown" && writer != "mautrix-go" {
            evidence.push(format!(
                "that contradicts the layout, which suggests {writer}"
            ));
            writer = "unknown";
        }
    } else if writer == "mautrix-go" && !byte7_low_clear {
        evidence.push(
            "the low bit of IV byte 7 is set, but mautrix-go clears it: the layout may have been \
             re-wrapped"
                .to_string(),
        );
        writer = "unknown";
    }
    WriterGuess { writer, evidence }
}

/// Refine a guess with the decrypted plaintext, when the passphrase is known: the JSON layout
/// tells matrix-nio (Python's `json.dumps`: `", "` and `": "` between items) from
/// matrix-rust-sdk (serde_json, compact), which write the same armor and IV.
pub fn refine_with_plaintext(mut guess: WriterGuess, plaintext: &[u8]) -> WriterGuess {
    let head = plaintext
        .get(..plaintext.len().min(256))
        .unwrap_or_default();
    // `[{"key"` then what follows the key's closing quote.
    let Some(rest) = head.strip_prefix(b"[{\"") else {
        return guess;
    };
    let Some(close) = rest.iter().position(|&b| b == b'"') else {
        return guess;
    };
    let after = rest.get(close + 1..).unwrap_or_default();
    let python = after.starts_with(b": ");
    let compact = after.starts_with(b":\"") || after.starts_with(b":{") || after.starts_with(b":[");
    if !(python || compact) {
        return guess;
    }
    let one_line = matches!(
        guess.writer,
        "matrix-rust-sdk or matrix-nio" | "matrix-rust-sdk" | "matrix-nio"
    );
    if python {
        guess.evidence.push(
            "the plaintext JSON has \", \" and \": \" between items: Python's json.dumps, as \
             matrix-nio writes it"
                .to_string(),
        );
        if one_line {
            guess.writer = "matrix-nio";
        }
    } else {
        guess.evidence.push(
            "the plaintext JSON is compact (no spaces between items): serde_json or \
             JSON.stringify, as matrix-rust-sdk and Element Web write it"
                .to_string(),
        );
        if one_line {
            guess.writer = "matrix-rust-sdk";
        }
    }
    guess
}

#[cfg(test)]
mod tests {
    use super::*;

    fn either() -> WriterGuess {
        WriterGuess {
            writer: "matrix-rust-sdk or matrix-nio",
            evidence: Vec::new(),
        }
    }

    #[test]
    fn the_json_layout_tells_nio_from_the_rust_sdk() {
        let nio = br#"[{"algorithm": "m.megolm.v1.aes-sha2", "room_id": "!a:b"}]"#;
        let rust = br#"[{"algorithm":"m.megolm.v1.aes-sha2","room_id":"!a:b"}]"#;
        assert_eq!(refine_with_plaintext(either(), nio).writer, "matrix-nio");
        assert_eq!(
            refine_with_plaintext(either(), rust).writer,
            "matrix-rust-sdk"
        );
        // Another writer's guess is not overturned, only given the evidence.
        let element = WriterGuess {
            writer: "Element Web",
            evidence: Vec::new(),
        };
        let g = refine_with_plaintext(element, rust);
        assert_eq!(g.writer, "Element Web");
        assert_eq!(g.evidence.len(), 1);
        // Not a sessions array: nothing to say.
        assert_eq!(
            refine_with_plaintext(either(), b"plain").writer,
            either().writer
        );
    }
}
