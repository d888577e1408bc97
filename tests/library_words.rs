//! The library speaks about data, the CLI about flags: no string in the library (outside
//! `src/cli/` and the binary's `src/main.rs`) names a command-line flag or an `mxkeys` command.
//! A library caller has neither; the CLI adds its hint in one place (`cli::hint`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if !p.ends_with("cli") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("main.rs") {
            out.push(p);
        }
    }
}

/// The string literals of one line of Rust (good enough for this source: no raw strings hold
/// flags, and a literal that continues over lines is checked line by line).
fn literals(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (&mut cur, c) {
            (None, '/') if line.trim_start().starts_with("//") => break,
            (None, '"') => cur = Some(String::new()),
            (Some(s), '\\') => {
                if let Some(n) = chars.next() {
                    s.push(n);
                }
            }
            (Some(s), '"') => {
                out.push(std::mem::take(s));
                cur = None;
            }
            (Some(s), c) => s.push(c),
            (None, _) => {}
        }
    }
    // A literal still open at the end of the line (a multi-line string) counts too.
    out.extend(cur);
    out
}

/// `--word`: a flag. `mxkeys word`: a command.
fn names_the_cli(s: &str) -> bool {
    let bytes = s.as_bytes();
    let flag = bytes
        .windows(3)
        .any(|w| w[0] == b'-' && w[1] == b'-' && w[2].is_ascii_lowercase());
    flag || s.contains("mxkeys ") && !s.contains("mxkeys writes")
}

#[test]
fn no_library_string_names_a_flag_or_a_command() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 20, "{} files", files.len());
    let mut found = Vec::new();
    for f in &files {
        let text = fs::read_to_string(f).unwrap();
        let mut in_tests = false;
        for (i, line) in text.lines().enumerate() {
            // Unit tests may say anything.
            if line.trim_start().starts_with("#[cfg(test)]") {
                in_tests = true;
            }
            if in_tests || line.trim_start().starts_with("//") {
                continue;
            }
            for lit in literals(line) {
                if names_the_cli(&lit) {
                    found.push(format!("{}:{}: {lit}", f.display(), i + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "library strings that name the CLI:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_finds_what_it_looks_for() {
    assert_eq!(
        literals(r#"x("add --max-rounds {n}", y)"#),
        ["add --max-rounds {n}"]
    );
    assert!(names_the_cli("add --max-rounds 7"));
    assert!(names_the_cli("see `mxkeys ssss inspect`"));
    assert!(!names_the_cli("the file asks for 7 rounds"));
    assert!(!names_the_cli("-----BEGIN MEGOLM SESSION DATA-----"));
    assert!(literals("// \"--flag\" in a comment").is_empty());
}
