//! The CLI's shape (ARCHITECTURE.md, "The CLI"): infrastructure never imports a command file. The
//! files under `src/cli/` that read, prompt, write and print for every command (listed in
//! [`INFRASTRUCTURE`]) may use each other, and command files may use them, but no infrastructure
//! file names a command file: not in a `use super::...` nor in a `super::command::item` path.
//! Every other file but `mod.rs` (which declares and dispatches the commands) is a command file,
//! so a new command is covered as soon as it exists.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::Path;

/// The shared infrastructure of the CLI. A new file that is infrastructure goes here; until then
/// it counts as a command file, which infrastructure may not use.
const INFRASTRUCTURE: &[&str] = &[
    "common",
    "hardening",
    "held",
    "inputs",
    "interrupt",
    "io",
    "output",
    "secrets",
    "sink",
    "spill",
    "stdout",
];

/// `src` with comments, string literals and char literals blanked out (newlines kept, so offsets
/// still give line numbers).
fn code_only(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && matches!(next, Some('"' | '#'))
            && !chars
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"...", r#"..."#, ...
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            let mut k = j + 1;
            while k < chars.len() {
                if chars[k] == '"' && (1..=hashes).all(|h| chars.get(k + h) == Some(&'#')) {
                    k += 1 + hashes;
                    break;
                }
                k += 1;
            }
            out.extend(chars[i..k.min(chars.len())].iter().map(|c| blank(*c)));
            i = k;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if let Some(&c) = chars.get(i) {
                    out.push(blank(c));
                }
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\'', '\u{..}'), else a lifetime ('a).
            let end = if next == Some('\\') {
                (i + 3..chars.len()).find(|&k| chars[k] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    out.push_str(&" ".repeat(end + 1 - i));
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The first path segment of each item of a `{...}` group (`{io, export::open, CliError}` gives
/// io, export and CliError), with its offset; `text` starts just after the `{`.
fn group_heads(text: &str) -> Vec<(String, usize)> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (k, ch) in text.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            ',' | '}' if depth == 0 => {
                let item = &text[start..k];
                let lead = item.len() - item.trim_start().len();
                let ident = ident_at(item.trim_start());
                if !ident.is_empty() {
                    heads.push((ident, start + lead));
                }
                if ch == '}' {
                    break;
                }
                start = k + 1;
            }
            _ => {}
        }
    }
    heads
}

/// The identifier `text` starts with (empty if none).
fn ident_at(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The sibling modules that `code` (from [`code_only`]) names through `super::` or
/// `crate::cli::`, each with its line.
fn sibling_refs(code: &str) -> Vec<(String, usize)> {
    let line_of = |pos: usize| code[..pos].matches('\n').count() + 1;
    let mut refs = Vec::new();
    for prefix in ["super::", "crate::cli::"] {
        for (pos, _) in code.match_indices(prefix) {
            // `xsuper::` is not `super::`.
            if code[..pos]
                .chars()
                .next_back()
                .is_some_and(|p| p.is_alphanumeric() || p == '_')
            {
                continue;
            }
            let rest = &code[pos + prefix.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let base = pos + prefix.len() + 1;
                for (ident, at) in group_heads(group) {
                    refs.push((ident, line_of(base + at)));
                }
            } else {
                refs.push((ident_at(rest), line_of(pos)));
            }
        }
    }
    // Modules only: `self`, and items of `cli` itself (`CliError`), are not files.
    refs.retain(|(ident, _)| {
        ident != "self" && ident.starts_with(|c: char| c.is_ascii_lowercase())
    });
    refs.sort_by_key(|(_, line)| *line);
    refs
}

#[test]
fn infrastructure_never_imports_a_command_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
    let mut files: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_owned())
        .collect();
    files.sort();
    for infra in INFRASTRUCTURE {
        assert!(
            files.iter().any(|f| f == infra),
            "src/cli/{infra}.rs is listed as infrastructure but does not exist: update INFRASTRUCTURE"
        );
    }
    let commands: Vec<&String> = files
        .iter()
        .filter(|f| *f != "mod" && !INFRASTRUCTURE.contains(&f.as_str()))
        .collect();
    assert!(
        commands.iter().any(|c| *c == "export"),
        "no command files found in {}",
        dir.display()
    );
    let mut offenders = Vec::new();
    for infra in INFRASTRUCTURE {
        let src = fs::read_to_string(dir.join(format!("{infra}.rs"))).unwrap();
        for (module, line) in sibling_refs(&code_only(&src)) {
            if commands.iter().any(|c| **c == module) {
                offenders.push(format!(
                    "  src/cli/{infra}.rs:{line} uses the command file {module}.rs"
                ));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "infrastructure never imports a command file (ARCHITECTURE.md, \"The CLI\"); move what \
         both need into infrastructure (common.rs, say):\n{}",
        offenders.join("\n")
    );
}

/// The scanner sees each way a file can name another, and nothing in comments or strings.
#[test]
fn sibling_refs_sees_every_form() {
    let src = r#"
use super::{output, export::open_verified, CliError};
use super::{
    self,
    io::{note, warn},
    sessions,
};
/// Calls [`super::recover::run`] (a comment, not code).
fn f<'a>(x: &'a str) -> char {
    super::backup::read(x); // super::events in a comment
    crate::cli::ssss::unlock();
    let _ = "super::search in a string";
    let _ = r"super::guide in a raw string";
    let c = '"';
    super::doctor::run();
    c
}
"#;
    let got: Vec<(String, usize)> = sibling_refs(&code_only(src));
    let want: Vec<(String, usize)> = [
        ("output", 2),
        ("export", 2),
        ("io", 5),
        ("sessions", 6),
        ("backup", 10),
        ("ssss", 11),
        ("doctor", 15),
    ]
    .iter()
    .map(|(m, l)| (m.to_string(), *l))
    .collect();
    assert_eq!(got, want);
}
