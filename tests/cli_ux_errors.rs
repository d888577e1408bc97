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
