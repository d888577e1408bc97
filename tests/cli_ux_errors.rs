//! What a new user trips over (issue "What a new user trips over"): usage errors that name what
//! is missing and suggest what was meant, reports that exit 1 when they find a fatal problem, a
//! single backup entry decrypted without ids it does not need, and an unencrypted attachment
//! explained. Each test runs the real binary, without a terminal.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;

/// The one `error:` line of a usage error (exit 2).
fn usage_line(args: &[&str]) -> String {
    let o = mxkeys(args, &[]);
    assert_fails(&o, 2, "error: ");
    stderr(&o).trim_end().to_owned()
}

// --- 1. missing arguments are named, with the subcommand's help

#[test]
fn missing_arguments_are_named_with_the_subcommands_help() {
    for (args, want) in [
        (
            &["export", "decrypt"][..],
            "error: missing required argument <FILE> (see mxkeys export decrypt --help)",
        ),
        (
            &["backup", "encrypt", "keys.json"][..],
            "error: missing required arguments --public-key <KEY>, --output <OUT> (see mxkeys backup encrypt --help)",
        ),
        (
            &["attachment", "decrypt", "blob"][..],
            "error: missing required argument --info <INFO.json> (see mxkeys attachment decrypt --help)",
        ),
        (
            &["export", "reencrypt", "x.txt"][..],
            "error: missing required argument --output <OUT> (see mxkeys export reencrypt --help)",
        ),
        // A global flag before the subcommands does not hide them.
        (
            &["--json", "export", "decrypt"][..],
            "error: missing required argument <FILE> (see mxkeys export decrypt --help)",
        ),
    ] {
        assert_eq!(usage_line(args), want, "mxkeys {}", args.join(" "));
    }
}

// --- 2. "did you mean", on the same line

#[test]
fn a_mistyped_subcommand_or_option_gets_a_suggestion_on_one_line() {
    for (args, want) in [
        (
            &["export", "decrpyt"][..],
            "error: unrecognized subcommand 'decrpyt'; did you mean 'decrypt' (or 'encrypt', 'reencrypt')? (see mxkeys export --help)",
        ),
        (
            &["recovery-key", "chek"][..],
            "error: unrecognized subcommand 'chek'; did you mean 'check'? (see mxkeys recovery-key --help)",
        ),
        (
            &["exprt", "decrypt"][..],
            "error: unrecognized subcommand 'exprt'; did you mean 'export'? (see mxkeys --help)",
        ),
        (
            &["export", "decrypt", "keys.txt", "--prety"][..],
            "error: unexpected argument '--prety' found; did you mean '--pretty'? (see mxkeys export decrypt --help)",
        ),
        (
            &["completions", "bsh"][..],
            "error: invalid value 'bsh' for '<SHELL>' (possible values: bash, elvish, fish, powershell, zsh); did you mean 'bash'? (see mxkeys completions --help)",
        ),
        // Nothing close: no suggestion, still one line.
        (
            &["frobnicate"][..],
            "error: unrecognized subcommand 'frobnicate' (see mxkeys --help)",
        ),
    ] {
        assert_eq!(usage_line(args), want, "mxkeys {}", args.join(" "));
    }
}

// --- 3. a report that finds a fatal problem exits 1, after the whole report

fn malformed(name: &str) -> String {
    s(&vector_dir("malformed").join(name)).to_owned()
}

#[test]
fn inspect_exits_1_when_no_client_can_decrypt_the_file_and_still_prints_the_report() {
    for (file, fatal) in [
        (
            "export-version-2.txt",
            "export format version 2 is not supported",
        ),
        (
            "export-rounds-limit-plus-1.txt",
            "5000001 PBKDF2 rounds, above the limit 5000000",
        ),
        ("export-rounds-0.txt", "0 PBKDF2 rounds"),
    ] {
        let o = mxkeys(&["export", "inspect", &malformed(file)], &[]);
        assert_fails(&o, 1, "the file cannot be decrypted as it is: ");
        assert!(stderr(&o).contains(fatal), "{file}: {}", stderr(&o));
        // The report is the output: all of it, with the problem in it.
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(out.starts_with("file:"), "{file}: {out}");
        assert!(out.contains("likely writer:"), "{file}: {out}");
        assert!(out.contains(fatal), "{file}: {out}");

        let o = mxkeys(&["export", "inspect", &malformed(file), "--json"], &[]);
        assert_fails(&o, 1, fatal);
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["fatal"], true, "{file}");
        assert!(r["problems"][0].as_str().unwrap().contains(fatal), "{r}");
    }
}

#[test]
fn inspect_exits_0_for_notes() {
    // Rounds below the spec's minimum: a note, every client still opens the file.
    let o = mxkeys(
        &["export", "inspect", &malformed("export-good-r1000.txt")],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("below the spec's minimum"), "{out}");
    // Uneven line widths and CRLF: described, not fatal.
    for f in ["export-insert-crlf.txt", "export-crlf-lines.txt"] {
        let o = mxkeys(&["export", "inspect", &malformed(f)], &[]);
        assert_eq!(o.status.code(), Some(0), "{f}: {}", stderr(&o));
    }
    let o = mxkeys(
        &[
            "export",
            "inspect",
            &malformed("export-good-r1000.txt"),
            "--json",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["fatal"], false);
}

#[test]
fn normalize_check_exits_1_when_a_reader_refuses_the_file() {
    let f = vector_dir("export").join("armor-mixed.txt");
    let env = [("MXKEYS_PASSPHRASE", "correct horse battery staple")];
    let o = mxkeys(&["export", "normalize", s(&f), "--check"], &env);
    assert_fails(&o, 1, "matrix-nio, matrix-rust-sdk would refuse");
    assert!(stderr(&o).contains("-o OUT` writes a copy every known reader accepts"));
    // The list is still printed, whole.
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("matrix-nio: ") && out.contains("matrix-rust-sdk: "),
        "{out}"
    );
    let o = mxkeys(&["export", "normalize", s(&f), "--check", "--json"], &env);
    assert_fails(&o, 1, "would refuse");
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!r["refused_by"].as_array().unwrap().is_empty());

    // Only advice (rounds below the spec's minimum; every reader accepts the file): exit 0.
    let o = mxkeys(
        &[
            "export",
            "normalize",
            &malformed("export-good-r1000.txt"),
            "--check",
        ],
        &[("MXKEYS_PASSPHRASE", "mxkeys malformed cases")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8(o.stdout)
        .unwrap()
        .contains("accepted, but weak"));
}
