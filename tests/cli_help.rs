//! Every command's `--help` serves the person at the terminal (issue #14): a one-line purpose, an
//! "Examples" section with at least two `mxkeys ...` lines, and an "Exit codes" section. The
//! command tree is discovered from the binary itself (the "Commands:" list of each `--help`), so a
//! new command without help fails here. Each example line must also parse: the test runs it with
//! `--help` appended, which makes clap check the subcommand names and every flag before it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_mxkeys");

/// Commands whose help is not finished yet, each with the reason. The test also fails when a
/// command listed here has become complete, so that the list is emptied as the help is written.
const SKIP: &[(&str, &str)] = &[];

/// `mxkeys ARGS... --help`: its standard output, after checking it exits 0.
fn help(path: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(path)
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "mxkeys {} --help: {}",
        path.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands named in a help text's "Commands:" list (clap's own `help` left out).
fn subcommands(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // A command's line is indented two spaces; a wrapped description, more.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every command path, the root (empty path) first.
fn all_commands() -> Vec<(Vec<String>, String)> {
    let mut found = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let text = help(&args);
        for sub in subcommands(&text) {
            let mut p = path.clone();
            p.push(sub);
            todo.push(p);
        }
        found.push((path, text));
    }
    found
}

/// The lines of the section whose heading line starts with `heading`, up to the next blank line.
fn section<'a>(text: &'a str, heading: &str) -> Option<Vec<&'a str>> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with(heading));
    let first = lines.next()?;
    let mut out = vec![first];
    out.extend(lines.take_while(|l| !l.trim().is_empty()));
    Some(out)
}

/// The example command lines of a section, each with its `\`-continued lines joined on.
fn examples(lines: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut continued = false;
    for l in lines.iter().skip(1) {
        if continued {
            if let Some(last) = out.last_mut() {
                last.push(' ');
                last.push_str(l.trim());
            }
        } else if l.starts_with("  mxkeys ") {
            out.push((*l).to_owned());
        }
        continued = l.ends_with('\\');
        if let (true, Some(last)) = (continued, out.last_mut()) {
            last.pop();
        }
    }
    out
}

/// What is missing from one command's help; empty when it is complete.
fn problems(text: &str) -> Vec<String> {
    let mut p = Vec::new();
    if text.lines().next().is_none_or(|l| l.trim().is_empty()) {
        p.push("no one-line purpose on the first line".to_owned());
    }
    match section(text, "Example") {
        None => p.push("no \"Examples:\" section".to_owned()),
        Some(lines) => {
            // A line clap had to wrap (over 100 columns) would break copy and paste.
            if let Some(l) = lines.iter().skip(1).find(|l| !l.starts_with("  ")) {
                p.push(format!(
                    "{l:?} in the examples is not indented: a wrapped line?"
                ));
            }
            let n = lines.iter().filter(|l| l.starts_with("  mxkeys ")).count();
            if n < 2 {
                p.push(format!(
                    "{n} example lines starting with \"  mxkeys \", want at least 2"
                ));
            }
        }
    }
    match section(text, "Exit codes") {
        None => p.push("no \"Exit codes\" section".to_owned()),
        Some(lines) => {
            let all = lines.join("\n");
            for want in ["0", "2", "usage"] {
                if !all.contains(want) {
                    p.push(format!(
                        "the \"Exit codes\" section does not mention {want:?}"
                    ));
                }
            }
        }
    }
    p
}

/// The words of an example line as the shell would pass them to mxkeys: quotes removed, cut at
/// the first pipe, redirection or `&&`.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        _ => word.push(q),
                    }
                }
            }
            '|' | '>' | '<' | ';' | '&' => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[test]
fn every_command_has_a_purpose_examples_and_exit_codes() {
    let commands = all_commands();
    // The tree really was walked: the root, the groups and their leaves.
    assert!(
        commands.len() > 30,
        "only {} commands found",
        commands.len()
    );
    let mut failures = Vec::new();
    for (path, text) in &commands {
        let name = path.join(" ");
        let p = problems(text);
        let skipped = SKIP.iter().find(|(n, _)| *n == name);
        match (p.is_empty(), skipped) {
            (false, None) => failures.push(format!("mxkeys {name} --help: {}", p.join("; "))),
            (true, Some((_, why))) => failures.push(format!(
                "mxkeys {name} --help is complete now: remove it from SKIP ({why})"
            )),
            _ => {}
        }
    }
    for (name, _) in SKIP {
        assert!(
            commands.iter().any(|(p, _)| p.join(" ") == *name),
            "SKIP names {name:?}, which is not a command"
        );
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_example_names_real_commands_and_options() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, text) in all_commands() {
        let Some(lines) = section(&text, "Example") else {
            continue;
        };
        for line in examples(&lines) {
            let words = shell_words(&line);
            let args: Vec<&str> = words.iter().skip(1).map(String::as_str).collect();
            let out = Command::new(BIN)
                .args(&args)
                .arg("--help")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            checked += 1;
            if out.status.code() != Some(0) {
                failures.push(format!(
                    "in mxkeys {} --help: {}\n  -> {}",
                    path.join(" "),
                    line.trim(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
    }
    assert!(checked > 60, "only {checked} example lines found");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// `mxkeys ARGS... -h` (the short help: each option's and command's one-line summary) at a
/// terminal width of `columns`, or at clap's default (100, as no terminal is attached).
fn short_help(path: &[String], columns: Option<&str>) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(path).arg("-h").stdin(Stdio::null());
    match columns {
        Some(c) => cmd.env("COLUMNS", c),
        None => cmd.env_remove("COLUMNS"),
    };
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "mxkeys {} -h", path.join(" "));
    String::from_utf8(out.stdout).unwrap()
}

/// The entries of the "Commands:", "Arguments:" and "Options:" lists of a help text: each entry's
/// first line (its name) and the lines of its summary. clap puts the summary after the name, or
/// (when the names are long) on the lines below it, indented further.
fn list_entries(text: &str) -> Vec<(String, Vec<String>)> {
    let mut entries: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_list = false;
    for line in text.lines() {
        if matches!(line, "Commands:" | "Arguments:" | "Options:") {
            in_list = true;
            continue;
        }
        if line.trim().is_empty() {
            in_list = false;
            continue;
        }
        if !in_list {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        // A name: "  export", "  <FILE>", "  -o, --output <OUT>", "      --json".
        if indent <= 6 {
            let body = line.trim();
            let (name, summary) = match body.split_once("  ") {
                Some((n, s)) => (n.to_owned(), vec![s.trim().to_owned()]),
                None => (body.to_owned(), Vec::new()),
            };
            entries.push((name, summary));
        } else if let Some((_, summary)) = entries.last_mut() {
            summary.push(line.trim().to_owned());
        }
    }
    entries
}

/// Words a complete summary does not end with.
const DANGLING: &[&str] = &[
    "a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or", "than",
    "that", "the", "to", "which", "whose", "with", "would",
];

/// Why a list entry's summary is not one complete line, if it is not.
fn summary_problem(summary: &[String]) -> Option<String> {
    if summary.len() > 1 {
        return Some(format!("wraps onto {} lines", summary.len()));
    }
    let line = summary.first()?;
    // clap appends "[default: ...]" and "[possible values: ...]"; the sentence is before them.
    let sentence = line.split(" [").next().unwrap_or(line);
    let last = sentence
        .trim_end_matches(['.', ',', ';', ':'])
        .rsplit(' ')
        .next()
        .unwrap_or("");
    if DANGLING.contains(&last.to_lowercase().as_str()) || sentence.ends_with([',', ';', ':']) {
        return Some(format!("ends mid-sentence ({last:?})"));
    }
    None
}

/// Every summary clap lists (a command's about in its parent's "Commands:", an argument's or
/// option's help) is one complete line: at 80 columns and at clap's default width, none wraps
/// (clap cut "Room history: decrypt megolm events offline, explain the ones that cannot be" after
/// "ones"), and none ends on a word that needs more after it ("corrections that would").
#[test]
fn every_summary_is_one_complete_line() {
    let commands = all_commands();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, _) in &commands {
        for columns in [Some("80"), None] {
            let text = short_help(path, columns);
            for (name, summary) in list_entries(&text) {
                checked += 1;
                if let Some(why) = summary_problem(&summary) {
                    failures.push(format!(
                        "mxkeys {} -h (COLUMNS={}): {name}: {why}: {:?}",
                        path.join(" "),
                        columns.unwrap_or("unset"),
                        summary.join(" ")
                    ));
                }
            }
        }
    }
    assert!(checked > 500, "only {checked} list entries found");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn list_entries_reads_both_layouts() {
    let same_line = "Commands:\n  export  Room-key export files\n  events  Room history: decrypt\n          megolm events\n\nOptions:\n      --json  Print JSON\n  -h, --help  Print help\n";
    let e = list_entries(same_line);
    assert_eq!(e.len(), 4);
    assert_eq!(e[1].0, "events");
    assert_eq!(e[1].1, ["Room history: decrypt", "megolm events"]);
    assert_eq!(summary_problem(&e[0].1), None);
    assert!(summary_problem(&e[1].1).unwrap().contains("wraps"));
    let next_line = "Options:\n      --json\n          Print one JSON document\n  -o, --output <OUT>\n          The subset\n";
    let e = list_entries(next_line);
    assert_eq!(e.len(), 2);
    assert_eq!(e[1].0, "-o, --output <OUT>");
    assert_eq!(e[1].1, ["The subset"]);
    assert_eq!(
        summary_problem(&["list the one-character corrections that would".into()]),
        Some("ends mid-sentence (\"would\")".into())
    );
    assert_eq!(
        summary_problem(&["Most PBKDF2 rounds to accept [default: 5000000]".into()]),
        None
    );
}

#[test]
fn examples_join_continued_lines() {
    let lines = [
        "Examples:",
        "  mxkeys a b \\",
        "      --c d",
        "  mxkeys e",
        "  base64 x | mxkeys f",
    ];
    assert_eq!(examples(&lines), ["  mxkeys a b  --c d", "  mxkeys e"]);
}

#[test]
fn shell_words_splits_like_the_shell() {
    assert_eq!(
        shell_words("  mxkeys export filter a.txt --room '!abc:example.org' -o \"b c\" | jq ."),
        [
            "mxkeys",
            "export",
            "filter",
            "a.txt",
            "--room",
            "!abc:example.org",
            "-o",
            "b c"
        ]
    );
    assert_eq!(
        shell_words("mxkeys manpage > mxkeys.1 && man ./mxkeys.1"),
        ["mxkeys", "manpage"]
    );
}
