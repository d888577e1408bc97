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

// --- 6. a single backup entry is decrypted without ids it does not use

const BACKUP_KEY: &str = "EsTn iEYx SoG7 cV5J KNdU n1qT P6wU ro7d 5eod zkXm 9CsP MJK8";

fn backup_vector(name: &str) -> String {
    s(&vector_dir("backup").join(name)).to_owned()
}

/// The expected plaintext of a session in test-vectors/backup/NAME.expected.json.
fn expected_session(name: &str, room: &str, sid: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(vector_dir("backup").join(name)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v[room][sid].clone()
}

#[test]
fn a_lone_key_backup_data_or_session_data_decrypts_without_ids() {
    let env = [("MXKEYS_RECOVERY_KEY", BACKUP_KEY)];
    for (file, room, sid) in [
        (
            "olm-key-backup-data.json",
            "!gamma:example.org",
            "8EZl5I1LqoFp2rrQecJdvQAcFYe6NBW237V2SLBR6aM",
        ),
        (
            "olm-session-data.json",
            "!alpha:example.org",
            "PXKPepQFPeMnbcsZeqrIsmxJoIeJZWS9B6je333zUZ8",
        ),
    ] {
        let o = mxkeys(&["backup", "decrypt", &backup_vector(file)], &env);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{file}: {err}");
        assert!(
            err.contains("names neither its room nor its session")
                && err.contains("without room_id")
                && err.contains("`mxkeys backup to-export` needs the room: give --room-id ID"),
            "{file}: {err}"
        );
        let sessions: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(sessions.len(), 1);
        let mut got = sessions[0].as_object().unwrap().clone();
        assert!(!got.contains_key("room_id"), "{file}: the room is unknown");
        // The session id is that of the decrypted session key.
        assert_eq!(got.remove("session_id").unwrap(), sid, "{file}");
        let want = expected_session(&file.replace(".json", ".expected.json"), room, sid);
        assert_eq!(serde_json::Value::Object(got), want, "{file}");

        // With --room-id: a whole export-format session, as with both ids given.
        let o = mxkeys(
            &["backup", "decrypt", &backup_vector(file), "--room-id", room],
            &env,
        );
        assert_eq!(o.status.code(), Some(0), "{file}: {}", stderr(&o));
        let with_room: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
        let o = mxkeys(
            &[
                "backup",
                "decrypt",
                &backup_vector(file),
                "--room-id",
                room,
                "--session-id",
                sid,
            ],
            &env,
        );
        assert_eq!(o.status.code(), Some(0), "{file}: {}", stderr(&o));
        let with_both: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(with_room, with_both, "{file}");
        assert_eq!(with_room[0]["room_id"], room);
    }
}

#[test]
fn to_export_of_a_lone_entry_asks_for_the_room_only() {
    let d = tmpdir();
    let out = d.path().join("keys.txt");
    let file = backup_vector("olm-key-backup-data.json");
    // Without --room-id: refused before any secret is asked for (none is available here).
    let o = mxkeys(&["backup", "to-export", &file, "-o", s(&out)], &[]);
    assert_fails(
        &o,
        1,
        "a KeyBackupData does not name its room, and an export needs it: give --room-id ID",
    );
    assert_only(d.path(), &[]);
    let o = mxkeys(
        &[
            "backup",
            "to-export",
            &file,
            "--room-id",
            "!gamma:example.org",
            "--rounds",
            "1000",
            "-o",
            s(&out),
        ],
        &[
            ("MXKEYS_RECOVERY_KEY", BACKUP_KEY),
            ("MXKEYS_PASSPHRASE", "pass"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = mxkeys(
        &["export", "decrypt", s(&out)],
        &[("MXKEYS_PASSPHRASE", "pass")],
    );
    let sessions: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(sessions[0]["room_id"], "!gamma:example.org");
    assert_eq!(
        sessions[0]["session_id"],
        "8EZl5I1LqoFp2rrQecJdvQAcFYe6NBW237V2SLBR6aM"
    );
}

#[test]
fn the_library_error_for_missing_ids_names_no_flag() {
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(backup_vector("olm-key-backup-data.json")).unwrap(),
    )
    .unwrap();
    let e = mxkeys::backup::entries(&doc, None, None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "a KeyBackupData does not name its room id; it has to be given"
    );
    assert!(!e.contains("--"), "{e}");
    assert!(mxkeys::backup::lone_session_data(&doc).is_some());
}

// --- 13. an unencrypted attachment is explained, with its download line

#[test]
fn an_unencrypted_attachment_says_so_and_gives_the_download_line() {
    let d = tmpdir();
    let info = d.path().join("event.json");
    std::fs::write(
        &info,
        r#"{"type": "m.room.message", "content": {"msgtype": "m.image", "body": "cat.png",
            "url": "mxc://example.org/AbC_12-x", "info": {"thumbnail_url": "mxc://example.org/th"}}}"#,
    )
    .unwrap();
    let blob = d.path().join("blob");
    std::fs::write(&blob, b"not a ciphertext").unwrap();
    let o = mxkeys(
        &["attachment", "decrypt", s(&blob), "--info", s(&info)],
        &[],
    );
    assert_fails(
        &o,
        1,
        "this attachment is not encrypted (\"url\" and no \"file\")",
    );
    assert!(
        stderr(&o).contains(
            r#"download it as it is with curl -H "Authorization: Bearer $TOKEN" "$HS/_matrix/client/v1/media/download/example.org/AbC_12-x" -o FILE"#
        ),
        "{}",
        stderr(&o)
    );
    let o = mxkeys(
        &[
            "attachment",
            "decrypt",
            s(&blob),
            "--info",
            s(&info),
            "--thumbnail",
        ],
        &[],
    );
    assert_fails(&o, 1, "this thumbnail is not encrypted");
    assert!(stderr(&o).contains("/media/download/example.org/th\" -o FILE"));

    // A URL that is not mxc://, or that a shell would interpret: no download line.
    std::fs::write(
        &info,
        r#"{"msgtype": "m.file", "body": "x", "url": "mxc://example.org/$(touch x)"}"#,
    )
    .unwrap();
    let o = mxkeys(
        &["attachment", "decrypt", s(&blob), "--info", s(&info)],
        &[],
    );
    assert_fails(&o, 1, "is not an mxc:// URL");
    assert!(!stderr(&o).contains("curl"), "{}", stderr(&o));

    // An EncryptedFile without its key also has a url: it is damaged, not unencrypted.
    let o = mxkeys(
        &[
            "attachment",
            "decrypt",
            s(&blob),
            "--info",
            &malformed("att-info-key-missing.json"),
        ],
        &[],
    );
    assert_fails(&o, 1, "no EncryptedFile here");

    // Neither url nor file: the old explanation stands.
    std::fs::write(&info, r#"{"content": {"body": "hi"}}"#).unwrap();
    let o = mxkeys(
        &["attachment", "decrypt", s(&blob), "--info", s(&info)],
        &[],
    );
    assert_fails(&o, 1, "no EncryptedFile here");
}

/// Item 9: a Security Key given where the public key belongs is never echoed.
#[test]
fn a_security_key_as_public_key_is_not_echoed() {
    let sessions = vector_dir("malformed").join("sessions-good.json");
    let key = "EsTR JNZD 3tCN MmQF aGNV hF4W rsD4 vDEy tprS 7swt w7ea rAGK";
    let d = tmpdir();
    let out = d.path().join("put.json");
    // As typed, and with one character mistyped (it does not decode, and is still secret).
    for given in [key.to_owned(), key.replace("rAGK", "rAGX")] {
        let o = mxkeys(
            &[
                "backup",
                "encrypt",
                s(&sessions),
                "--public-key",
                &given,
                "-o",
                s(&out),
            ],
            &[],
        );
        assert_fails(&o, 2, "looks like your Security Key, which is secret");
        let err = stderr(&o);
        let compact: String = given.split_whitespace().collect();
        assert!(!err.contains(&given) && !err.contains(&compact), "{err}");
        assert!(err.contains("--public-key VERSION.json"), "{err}");
    }
    assert_only(d.path(), &[]);
}

/// Item 12: a wrong key does not print one warning per session before its error; many failures
/// print the first 20, then one line of counts.
#[test]
fn backup_failures_are_bounded_on_stderr() {
    let backup = vector_dir("backup").join("vodozemac-keys.json");
    let right = "EsTC yeVH 7DZ2 RkQD 3WtJ xaG3 ndWc gdgx pJuN q7zP QCp5 37Pe";
    // Another valid key: every session fails its MAC.
    let wrong = "EsTR JNZD 3tCN MmQF aGNV hF4W rsD4 vDEy tprS 7swt w7ea rAGK";
    let o = mxkeys(
        &["backup", "decrypt", s(&backup)],
        &[("MXKEYS_RECOVERY_KEY", wrong)],
    );
    assert_fails(&o, 1, "none of the 8 sessions could be decrypted");
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));

    // 25 copies of one entry filed under session ids that are not its key's: they fail.
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&backup).unwrap()).unwrap();
    let rooms = v["rooms"].as_object_mut().unwrap();
    let room = rooms.values_mut().next().unwrap();
    let sessions = room["sessions"].as_object_mut().unwrap();
    let entry = sessions.values().next().unwrap().clone();
    for i in 0..25 {
        sessions.insert(format!("not-its-id-{i}"), entry.clone());
    }
    let d = tmpdir();
    let bad = d.path().join("backup.json");
    std::fs::write(&bad, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = mxkeys(
        &["backup", "decrypt", s(&bad), "--allow-partial"],
        &[("MXKEYS_RECOVERY_KEY", right)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 21, "{err}");
    assert!(
        warnings[20].contains("and 5 more sessions that failed (all 25 failures by kind:"),
        "{err}"
    );
}

/// Item 14: the MAC-convention note only when a session used the other convention (MSC4048).
#[test]
fn the_mac_note_only_when_it_matters() {
    let dir = vector_dir("backup");
    let run = |file: &str, key: &str| {
        mxkeys(
            &["backup", "decrypt", s(&dir.join(file))],
            &[("MXKEYS_RECOVERY_KEY", key)],
        )
    };
    let o = run(
        "vodozemac-keys.json",
        "EsTC yeVH 7DZ2 RkQD 3WtJ xaG3 ndWc gdgx pJuN q7zP QCp5 37Pe",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("MSC4048"), "{}", stderr(&o));
    let o = run(
        "ref-msc4048-keys.json",
        "EsUB wbCY 8XzX ohJF dMUa KRtV QJva 1xp3 GyTk 5fmJ ysws Sj6U",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("over the ciphertext (MSC4048)"),
        "{}",
        stderr(&o)
    );
}

/// Items 10 and 11: a short or non-ASCII new passphrase is used, with a warning that says why it
/// matters; reencrypting a matrix-nio file words the Latin-1 note for what it is doing.
#[test]
fn new_passphrases_that_will_hurt_get_a_warning() {
    let d = tmpdir();
    let sessions = vector_dir("export").join("sessions-basic.json");
    let out = d.path().join("out.txt");
    let enc = |pass: &str| {
        let _ = std::fs::remove_file(&out);
        mxkeys(
            &[
                "export",
                "encrypt",
                s(&sessions),
                "-o",
                s(&out),
                "--rounds",
                "100000",
            ],
            &[("MXKEYS_PASSPHRASE", pass)],
        )
    };
    let o = enc("abc");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("has 3 characters"), "{}", stderr(&o));
    let o = enc("correct horse battery staple");
    assert!(o.status.success());
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    let o = enc("café au lait et croissant");
    assert!(
        stderr(&o).contains("nio-based clients will not open this file"),
        "{}",
        stderr(&o)
    );
    let o = enc("ключ от всех дверей");
    assert!(stderr(&o).contains("outside Latin-1"), "{}", stderr(&o));
}

/// Item 7: a hint does not repeat a flag that was given.
#[test]
fn search_hint_fits_the_flags_given() {
    let d = tmpdir();
    let list = d.path().join("list.txt");
    std::fs::write(&list, "not it\nnor this\n").unwrap();
    let target = vector_dir("export").join("element-web-r1000.txt");
    let run = |extra: &[&str]| {
        let mut args = vec!["passphrase", "search", s(&target), "--candidates", s(&list)];
        args.extend_from_slice(extra);
        mxkeys(&args, &[])
    };
    let o = run(&[]);
    assert_fails(&o, 1, "add --mutate, or a longer list");
    let o = run(&["--mutate"]);
    assert_fails(&o, 1, "try a longer list");
    assert!(!stderr(&o).contains("add --mutate"), "{}", stderr(&o));
}
