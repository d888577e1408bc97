//! `passphrase hashline` and `passphrase confirm` (#24) on targets other implementations made
//! (test-vectors/search: Element Web and matrix-nio exports, js-sdk and mautrix Security
//! Phrases). The hash line's check — what a hashcat module computes — must pass for the
//! passphrase the peer used and fail for others; `confirm` must accept a pot line with the right
//! passphrase (plain or $HEX[...]) and call a wrong one a false positive.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use mxkeys::hashline::Hashline;
use mxkeys::kdf::Limits;
use serde_json::Value;

/// (target path, passphrase) of every search vector with a known passphrase and a hash line.
fn targets() -> Vec<(std::path::PathBuf, String)> {
    let dir = vector_dir("search");
    let m: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let mut out: Vec<_> = m["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["expect"] == "found" && v["mutate"] == false && v["key_id"].is_null())
        .filter(|v| !v["target"].as_str().unwrap().contains("legacy-backup"))
        .map(|v| {
            (
                dir.join(v["target"].as_str().unwrap()),
                v["passphrase"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn line(target: &std::path::Path) -> String {
    let o = mxkeys(&["passphrase", "hashline", s(target)], &[]);
    assert!(o.status.success(), "{}: {}", target.display(), stderr(&o));
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

/// `mxkeys passphrase confirm TARGET --potfile POT [-o OUT]`.
fn confirm(
    target: &std::path::Path,
    pot: &std::path::Path,
    out: Option<&std::path::Path>,
) -> std::process::Output {
    let mut args = vec!["passphrase", "confirm", s(target), "--potfile", s(pot)];
    if let Some(out) = out {
        args.extend(["-o", s(out)]);
    }
    mxkeys(&args, &[])
}

#[test]
fn the_line_check_passes_for_the_peers_passphrase_only() {
    let limits = Limits::default();
    let t = targets();
    assert!(t.len() >= 4, "{t:?}");
    for (target, pass) in t {
        let text = line(&target);
        let l = Hashline::parse(&text).unwrap();
        assert_eq!(l.to_string(), text);
        // matrix-nio keyed one file with the passphrase's Latin-1 bytes.
        let latin1: Vec<u8> = pass.chars().map(|c| c as u32 as u8).collect();
        let passes =
            l.check(pass.as_bytes(), &limits).unwrap() || l.check(&latin1, &limits).unwrap();
        assert!(passes, "{}", target.display());
        for wrong in [
            "correct horse battery stapler",
            "",
            "Correct horse battery staple",
        ] {
            assert!(
                !l.check(wrong.as_bytes(), &limits).unwrap(),
                "{} {wrong}",
                target.display()
            );
        }
    }
}

#[test]
fn confirm_accepts_the_hit_and_names_false_positives() {
    let (target, pass) = targets()
        .into_iter()
        .find(|(t, _)| t.to_str().unwrap().contains("element-web"))
        .unwrap();
    let text = line(&target);
    let d = tmpdir();
    let pot = d.path().join("hashcat.potfile");

    // A wrong passphrase under our line: a false positive, exit 1, nothing written.
    let other = line(&vector_dir("ssss").join("jssdk-phrase-i1000.json"));
    std::fs::write(&pot, format!("{other}:whatever\n{text}:not it\n")).unwrap();
    let out = d.path().join("found.txt");
    let o = confirm(&target, &pot, Some(&out));
    assert_fails(&o, 1, "1 hits in");
    assert!(
        stderr(&o).contains("line 2 of") && stderr(&o).contains("false positive"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());

    // No line for this target; a line of another version is named.
    std::fs::write(&pot, format!("{other}:x\n$mxkeys$9$e$1$00$00$00:y\n")).unwrap();
    let o = confirm(&target, &pot, None);
    assert_fails(&o, 1, "hash lines of another version");
    assert!(
        stderr(&o).contains("version 9 is not supported"),
        "{}",
        stderr(&o)
    );

    // The right one, as hashcat writes a passphrase it would not print plainly ($HEX[...]).
    let hex: String = pass.bytes().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&pot, format!("{text}:not it\n{text}:$HEX[{hex}]\n")).unwrap();
    let o = confirm(&target, &pot, Some(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), format!("{pass}\n"));
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Never to a pipe without -o.
    let o = confirm(&target, &pot, None);
    assert!(!String::from_utf8_lossy(&o.stdout).contains(&pass));
}

/// hashcat's --outfile in the formats that start with the hash: the passphrase is read out of
/// each (a wrong reading would only fail the target's check). That a passphrase holding ':' is
/// read whole first is a unit test of `pot_readings` (src/cli/search.rs).
#[test]
fn confirm_reads_every_outfile_format_that_starts_with_the_hash() {
    let d = tmpdir();
    let (target, pass) = targets()
        .into_iter()
        .find(|(t, _)| t.to_str().unwrap().contains("jssdk-phrase"))
        .unwrap();
    let text = line(&target);
    let hex: String = pass.bytes().map(|b| format!("{b:02x}")).collect();
    for (format, rest) in [
        ("1,2", pass.clone()),
        ("1,3", hex.clone()),
        ("1,2,3", format!("{pass}:{hex}")),
        ("1,2,4", format!("{pass}:17")),
        ("1,2,3,4,5", format!("{pass}:{hex}:17:1765100000")),
        ("1,3,4", format!("{hex}:17")),
    ] {
        let pot = d.path().join(format!("out-{format}.txt"));
        let out = d.path().join(format!("found-{format}.txt"));
        std::fs::write(&pot, format!("{text}:{rest}\n")).unwrap();
        let o = confirm(&target, &pot, Some(&out));
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            format!("{pass}\n"),
            "{format}"
        );
    }
    // Wrong in every reading: a false positive, still.
    let pot = d.path().join("wrong.txt");
    std::fs::write(&pot, format!("{text}:wrong:77726f6e67:3\n")).unwrap();
    let o = confirm(&target, &pot, None);
    assert_fails(&o, 1, "1 hits in");
}

#[test]
fn targets_without_a_line_say_why() {
    let o = mxkeys(
        &[
            "passphrase",
            "hashline",
            s(&vector_dir("search").join("legacy-backup-version.json")),
        ],
        &[],
    );
    assert_fails(&o, 1, "no hash line: its check is an X25519 public key");
    // A damaged export gets the same error as export inspect.
    let bad = vector_dir("malformed").join("export-version-0.txt");
    let o = mxkeys(
        &["passphrase", "hashline", s(&bad), "--kind", "export"],
        &[],
    );
    let i = mxkeys(&["export", "inspect", s(&bad)], &[]);
    assert_eq!(o.status.code(), Some(1));
    let first = |o: &std::process::Output| stderr(o).lines().next().unwrap_or_default().to_owned();
    assert!(
        first(&o).contains("version 0 is not supported"),
        "{}",
        first(&o)
    );
    assert!(
        first(&i).contains("version 0 is not supported"),
        "{}",
        first(&i)
    );
}
