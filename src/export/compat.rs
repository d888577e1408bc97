//! Which clients refuse an export file for its armor or header (the rules about the sessions
//! inside are [`crate::session::refusals`]).

use super::Inspection;
use crate::session::{Refusal, EVERY_READER};

/// Which clients would refuse the file `i` describes, for its armor or its header, and why (a
/// [`EVERY_READER`] line is advice: every reader takes the file).
pub fn refusals(i: &Inspection) -> Vec<Refusal> {
    let a = &i.armor;
    let mut out = Vec::new();
    if a.text_before || a.text_after {
        out.push(Refusal::new("matrix-nio", "the file must start with the BEGIN line and end with the END line; there is text around the armor"));
        out.push(Refusal::new(
            "matrix-rust-sdk",
            "text outside BEGIN/END is refused",
        ));
    }
    if a.indented_lines > 0 {
        out.push(Refusal::new(
            "matrix-rust-sdk",
            format!("{} indented body lines", a.indented_lines),
        ));
        out.push(Refusal::new(
            "matrix-nio",
            format!(
                "{} indented body lines (it strips only line breaks)",
                a.indented_lines
            ),
        ));
    }
    if a.blank_lines > 0 {
        out.push(Refusal::new(
            "matrix-rust-sdk",
            format!(
                "{} blank lines inside the body (whitespace-only lines are refused)",
                a.blank_lines
            ),
        ));
    }
    if !a.final_newline {
        out.push(Refusal::new("mautrix-go", "no newline after the END line"));
    }
    if i.header.rounds < super::SPEC_MIN_ROUNDS {
        out.push(Refusal::new(
            EVERY_READER,
            format!(
                "{} rounds is below the spec's 100000: accepted, but weak",
                i.header.rounds
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(file: &str) -> Vec<(&'static str, String)> {
        let path = format!("{}/test-vectors/export/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read(path).unwrap();
        let i = super::super::inspect(&text[..]).unwrap();
        refusals(&i)
            .into_iter()
            .map(|r| (r.client, r.why))
            .collect()
    }

    #[test]
    fn elements_own_layout_is_refused_by_nobody() {
        assert_eq!(refused("element-web-r500000.txt"), []);
    }

    #[test]
    fn armor_and_rounds_rules() {
        let around = refused("armor-text-around.txt");
        let clients: Vec<&str> = around.iter().map(|(c, _)| *c).collect();
        assert_eq!(clients, ["matrix-nio", "matrix-rust-sdk", EVERY_READER]);
        assert_eq!(
            refused("armor-no-final-newline.txt")
                .first()
                .map(|(c, _)| *c),
            Some("mautrix-go")
        );
        assert!(refused("armor-indented.txt")
            .iter()
            .any(|(c, why)| *c == "matrix-nio" && why.contains("indented body lines")));
        assert!(refused("armor-blank-lines.txt")
            .iter()
            .any(|(c, why)| *c == "matrix-rust-sdk" && why.contains("blank lines")));
        let weak = refused("element-web-r1000.txt");
        assert_eq!(
            weak,
            [(
                EVERY_READER,
                "1000 rounds is below the spec's 100000: accepted, but weak".to_owned()
            )]
        );
    }
}
