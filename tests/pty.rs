//! The prompts as a person meets them, through a pseudo-terminal: passphrases are not echoed, a
//! mistyped confirmation is asked again, and the guided flow reaches a written export file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs;
use std::process::Command;

use common::*;
use rexpect::session::spawn_command;

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("MXKEYS_PASSPHRASE")
        .env_remove("MXKEYS_NEW_PASSPHRASE")
        .env_remove("MXKEYS_RECOVERY_KEY")
        .env("NO_COLOR", "1");
    c
}

#[test]
fn new_passphrase_is_not_echoed_and_a_mismatch_is_asked_again() {
    let d = tmpdir();
    let out = d.path().join("out.txt");
    let input = vector_dir("export").join("sessions-basic.json");
    let mut p = spawn_command(
        cmd(&[
            "export",
            "encrypt",
            s(&input),
            "-o",
            s(&out),
            "--rounds",
            "1000",
        ]),
        Some(20_000),
    )
    .unwrap();
    p.exp_string("New passphrase for the export: ").unwrap();
    p.send_line("secret-one").unwrap();
    p.exp_string("Repeat it to confirm: ").unwrap();
    p.send_line("secret-two").unwrap();
    let between = p.exp_string("New passphrase for the export: ").unwrap();
    assert!(
        between.contains("The two entries differ; try again."),
        "{between:?}"
    );
    assert!(!between.contains("secret-"), "echoed: {between:?}");
    p.send_line("secret-one").unwrap();
    p.exp_string("Repeat it to confirm: ").unwrap();
    p.send_line("secret-one").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("wrote 7 sessions"), "{rest:?}");
    assert!(!rest.contains("secret-one"), "echoed: {rest:?}");
    // The file opens with what was typed.
    let o = mxkeys(
        &["export", "decrypt", s(&out)],
        &[("MXKEYS_PASSPHRASE", "secret-one")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn guided_flow_reencrypts_an_export() {
    let d = tmpdir();
    let src = vector_dir("export").join("element-web-r1000.txt");
    let out = d.path().join("new.txt");
    let mut p = spawn_command(cmd(&[]), Some(30_000)).unwrap();
    p.exp_string("Choose 1-4: ").unwrap();
    p.send_line("1").unwrap();
    p.exp_string("Path of the export file: ").unwrap();
    p.send_line(&format!("'{}'", src.display())).unwrap();
    p.exp_string("likely writer: Element Web").unwrap();
    p.exp_string("Choose 1-3: ").unwrap();
    p.send_line("2").unwrap();
    // Three tries: a wrong passphrase is asked again.
    p.exp_string("Passphrase of the export: ").unwrap();
    p.send_line("correct horse battery stapel").unwrap();
    let between = p.exp_string("Passphrase of the export: ").unwrap();
    assert!(between.contains("2 tries left"), "{between:?}");
    p.send_line("correct horse battery staple").unwrap();
    p.exp_string("Write the new export to").unwrap();
    p.send_line(s(&out)).unwrap();
    p.exp_string("New passphrase for the export: ").unwrap();
    p.send_line("brand new").unwrap();
    p.exp_string("Repeat it to confirm: ").unwrap();
    p.send_line("brand new").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("Done. Import"), "{rest:?}");
    assert!(
        !rest.contains("brand new") && !rest.contains("correct horse"),
        "echoed: {rest:?}"
    );
    assert!(fs::metadata(&out).is_ok());
    let o = mxkeys(
        &["export", "decrypt", s(&out)],
        &[("MXKEYS_PASSPHRASE", "brand new")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Security review, item 9: Ctrl-C at a no-echo prompt left the terminal without echo in 15 of
/// 32 runs, and sometimes exited 2. Each of these runs presses Ctrl-C at the prompt, then asks
/// the terminal whether it echoes.
#[test]
fn ctrl_c_at_a_prompt_gives_the_terminal_its_echo_back() {
    let src = vector_dir("export").join("element-web-r1000.txt");
    // rexpect starts the terminal without echo: turn it on first. bash goes on after a child that
    // handled SIGINT and exited (130); then stty reports.
    let script = format!(
        "stty echo; '{BIN}' export decrypt '{}'; echo \"rc=$?\"; \
         if stty -a | grep -Eq '(^| )-echo( |$)'; then echo ECHO=off; else echo ECHO=on; fi",
        src.display()
    );
    for run in 0..8 {
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(&script)
            .env_remove("MXKEYS_PASSPHRASE")
            .env("NO_COLOR", "1");
        let mut p = spawn_command(c, Some(20_000)).unwrap();
        p.exp_string("Passphrase for ").unwrap();
        // Vary the moment: before, while and after the prompt turns the echo off.
        std::thread::sleep(std::time::Duration::from_millis(run * 7));
        p.send_control('c').unwrap();
        let (before, rc) = p.exp_regex("rc=[0-9]+").unwrap();
        assert_eq!(rc, "rc=130", "run {run}: {before:?}");
        p.exp_string("ECHO=on").unwrap();
        p.exp_eof().unwrap();
    }
}

/// The expert report (salt, IV) only with `mxkeys --verbose`; a forgotten passphrase after three
/// tries leads to `passphrase search`, which finds it in a list of guesses.
#[test]
fn guided_flow_offers_a_search_after_three_wrong_passphrases() {
    let d = tmpdir();
    let src = vector_dir("export").join("element-web-r1000.txt");
    let guesses = d.path().join("guesses.txt");
    fs::write(&guesses, "hunter2\ncorrect horse battery staple\n").unwrap();
    let mut p = spawn_command(cmd(&[]), Some(30_000)).unwrap();
    p.exp_string("Choose 1-4: ").unwrap();
    p.send_line("1").unwrap();
    p.exp_string("Path of the export file: ").unwrap();
    p.send_line(s(&src)).unwrap();
    let summary = p.exp_string("Choose 1-3: ").unwrap();
    assert!(
        !summary.contains("salt"),
        "expert details without --verbose: {summary:?}"
    );
    p.send_line("1").unwrap();
    for _ in 0..3 {
        p.exp_string("Passphrase of the export: ").unwrap();
        p.send_line("not it").unwrap();
    }
    p.exp_string("File of guesses (Enter to stop here): ")
        .unwrap();
    p.send_line(s(&guesses)).unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("found"), "{rest:?}");

    let mut p = spawn_command(cmd(&["--verbose"]), Some(30_000)).unwrap();
    p.exp_string("Choose 1-4: ").unwrap();
    p.send_line("1").unwrap();
    p.exp_string("Path of the export file: ").unwrap();
    p.send_line(s(&src)).unwrap();
    let report = p.exp_string("Choose 1-3: ").unwrap();
    assert!(report.contains("salt"), "{report:?}");
}

fn account(state: &str, file: &str) -> String {
    s(&vector_dir("account").join(state).join(file)).to_owned()
}

/// Choice 2 with a Security Key one typo away: the correction that opens the account's secret
/// storage is offered, taken, and the export is written.
#[test]
fn guided_recover_corrects_a_typo_and_tells_the_key_kind() {
    let d = tmpdir();
    let st = "in-sync-security-key";
    let right = fs::read_to_string(account(st, "recovery_key.txt")).unwrap();
    let mut typo: Vec<char> = right.trim().chars().collect();
    let i = typo.len() - 4;
    typo[i] = if typo[i] == 'x' { 'y' } else { 'x' };
    let typo: String = typo.into_iter().collect();
    let out = d.path().join("keys.txt");
    let mut p = spawn_command(cmd(&[]), Some(30_000)).unwrap();
    p.exp_string("Choose 1-4: ").unwrap();
    p.send_line("2").unwrap();
    let fetch = p.exp_string("Path of the backup: ").unwrap();
    assert!(
        fetch.contains("room_keys/keys"),
        "curl line first: {fetch:?}"
    );
    p.send_line(&account(st, "backup.json")).unwrap();
    p.exp_string("(Enter to skip): ").unwrap();
    p.send_line(&account(st, "backup_version.json")).unwrap();
    p.exp_string("Path of the account data").unwrap();
    p.send_line(&account(st, "account_data.json")).unwrap();
    p.exp_string("Security Key or Security Phrase: ").unwrap();
    p.send_line(&typo).unwrap();
    p.exp_string("One key one character away fits").unwrap();
    p.exp_string("Use it? [Y/n] ").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("Write the export file to").unwrap();
    p.send_line(s(&out)).unwrap();
    let said = p.exp_string("New passphrase for the export: ").unwrap();
    assert!(
        said.contains("your Security Key: it opens secret storage"),
        "{said:?}"
    );
    p.send_line("new pass").unwrap();
    p.exp_string("Repeat it to confirm: ").unwrap();
    p.send_line("new pass").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("Done:"), "{rest:?}");
    assert!(fs::metadata(&out).is_ok());
}

/// Choice 2 with the backup's own key and no account data: recognised as such.
#[test]
fn guided_recover_recognises_the_backups_own_key() {
    let d = tmpdir();
    let st = "in-sync-security-key";
    let key = fs::read_to_string(account(st, "backup_key.txt")).unwrap();
    let out = d.path().join("keys.txt");
    let mut p = spawn_command(cmd(&["recover"]), Some(30_000)).unwrap();
    p.exp_string("Path of the backup: ").unwrap();
    p.send_line(&account(st, "backup.json")).unwrap();
    p.exp_string("(Enter to skip): ").unwrap();
    p.send_line("").unwrap();
    p.exp_string("Path of the account data").unwrap();
    p.send_line("").unwrap();
    p.exp_string("Security Key or Security Phrase: ").unwrap();
    p.send_line(key.trim()).unwrap();
    p.exp_string("Write the export file to").unwrap();
    p.send_line(s(&out)).unwrap();
    let said = p.exp_string("New passphrase for the export: ").unwrap();
    assert!(said.contains("the backup's own recovery key"), "{said:?}");
    p.send_line("new pass").unwrap();
    p.exp_string("Repeat it to confirm: ").unwrap();
    p.send_line("new pass").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("Done:"), "{rest:?}");
}

/// A Security Key that opens secret storage whose backup key is not the current backup's: the
/// flow says so and runs the doctor.
#[test]
fn guided_recover_routes_out_of_sync_storage_to_the_doctor() {
    let st = "backup-reset";
    let key = fs::read_to_string(account(st, "recovery_key.txt")).unwrap();
    let mut p = spawn_command(cmd(&[]), Some(30_000)).unwrap();
    p.exp_string("Choose 1-4: ").unwrap();
    p.send_line("2").unwrap();
    p.exp_string("Path of the backup: ").unwrap();
    p.send_line(&account(st, "backup.json")).unwrap();
    p.exp_string("(Enter to skip): ").unwrap();
    p.send_line(&account(st, "backup_version.json")).unwrap();
    p.exp_string("Path of the account data").unwrap();
    p.send_line(&account(st, "account_data.json")).unwrap();
    p.exp_string("Security Key or Security Phrase: ").unwrap();
    p.send_line(key.trim()).unwrap();
    let said = p.exp_string("Run the doctor now? [Y/n] ").unwrap();
    assert!(said.contains("out of sync"), "{said:?}");
    p.send_line("").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("backup_key_matches_backup"), "{rest:?}");
    assert!(!rest.contains(key.trim()), "the key was echoed");
}

/// The progress bar of a search says what it is doing before the first rate is known, then
/// counts candidates tried (issue #27 item 16: it read "0/20 lines, [eta 0s]").
#[test]
fn search_progress_names_the_start_then_counts_candidates() {
    let d = tmpdir();
    let list = d.path().join("guesses.txt");
    let mut guesses: String = (0..48).map(|i| format!("wrong guess {i}\n")).collect();
    guesses.push_str("correct horse battery staple\n");
    fs::write(&list, guesses).unwrap();
    let src = vector_dir("export").join("element-web-r500000.txt");
    let mut p = spawn_command(
        cmd(&[
            "passphrase",
            "search",
            s(&src),
            "--candidates",
            s(&list),
            "--threads",
            "2",
        ]),
        Some(60_000),
    )
    .unwrap();
    p.exp_string("trying the first candidates").unwrap();
    p.exp_string("candidates tried").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("found"), "{rest:?}");
}

/// A typo is placed where the person sees it (Element's groups of four) and, on their own
/// terminal only, shown marked (#27 item 15).
#[test]
fn a_typo_is_shown_in_its_group_on_the_terminal() {
    let mut p = spawn_command(cmd(&["recovery-key", "check"]), Some(20_000)).unwrap();
    p.exp_string("Security Key").unwrap();
    p.send_line("EsTa rV7P s0Vm 1eUh kUVG zW2o H3rD Am5m Wgs6 PERx 7BLe UMXN")
        .unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("(group 3, 2nd character)"), "{rest:?}");
    assert!(rest.contains("EsTa rV7P s[0]Vm 1eUh"), "{rest:?}");
    // Without a terminal the key is never printed.
    let o = mxkeys(
        &["recovery-key", "check"],
        &[(
            "MXKEYS_RECOVERY_KEY",
            "EsTa rV7P s0Vm 1eUh kUVG zW2o H3rD Am5m Wgs6 PERx 7BLe UMXN",
        )],
    );
    let err = stderr(&o);
    assert!(err.contains("(group 3, 2nd character)"), "{err}");
    assert!(!err.contains("s[0]Vm") && !err.contains("1eUh"), "{err}");
}

/// A short session of a person making, at a terminal, the mistakes of issue #27 one after the
/// other, and what each is told: the exit code and the words that matter.
#[test]
fn a_session_of_mistakes_gets_an_answer_for_each() {
    let d = tmpdir();
    let ex = vector_dir("export");
    let mal = vector_dir("malformed");
    let bad_key_file = d.path().join("key.txt");
    fs::write(&bad_key_file, b"\xff\xfe not text\n").unwrap();
    let sessions = ex.join("sessions-basic.json");
    let steps: Vec<(String, i32, Vec<&str>)> = vec![
        // 1: the missing argument is named.
        ("export decrypt".into(), 2, vec!["<FILE>"]),
        // 2: a mistyped subcommand gets "did you mean".
        (
            format!("export decrpyt '{}'", ex.join("element-web-r1000.txt").display()),
            2,
            vec!["did you mean 'decrypt'"],
        ),
        // 3: a file no client can open is a failure, after its report.
        (
            format!("export inspect '{}'", ex.join("fail-version-2.txt").display()),
            1,
            vec!["version 2"],
        ),
        // 4: a secret file that is not text is wrong input (1), not usage (2).
        (
            format!(
                "recovery-key check --key-file '{}'",
                bad_key_file.display()
            ),
            1,
            vec!["not UTF-8"],
        ),
        // 9: a Security Key given as a public key is not echoed.
        (
            format!(
                "backup encrypt '{}' --public-key 'EsTa rV7P s1Vm 1eUh kUVG zW2o H3rD Am5m Wgs6 PERx 7BLe UMXN' -o '{}'",
                sessions.display(),
                d.path().join("put.json").display()
            ),
            2,
            vec!["looks like your Security Key"],
        ),
        // 13: an unencrypted attachment says so and gives the download line.
        (
            format!(
                "attachment decrypt '{}' --info '{}'",
                sessions.display(),
                mal.join("att-info-url-only.json").display()
            ),
            1,
            vec!["not encrypted", "download"],
        ),
        // 15: a typo is placed in Element's groups.
        (
            "recovery-key check".into(),
            1,
            vec!["(group 3, 2nd character)"],
        ),
    ];
    let mut script = String::from("stty echo; ");
    // Each step's key, where it needs one, comes from MXKEYS_RECOVERY_KEY (set to K below).
    for (i, (args, _, _)) in steps.iter().enumerate() {
        script.push_str(&format!(
            "echo '<<step {i}>>'; MXKEYS_RECOVERY_KEY=\"$K\" '{BIN}' {args} </dev/null 2>&1; echo \"<<rc $?>>\"; "
        ));
    }
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(format!("{script}echo '<<end>>'"))
        .env_remove("MXKEYS_PASSPHRASE")
        .env_remove("MXKEYS_NEW_PASSPHRASE")
        .env(
            "K",
            "EsTa rV7P s0Vm 1eUh kUVG zW2o H3rD Am5m Wgs6 PERx 7BLe UMXN",
        )
        .env("NO_COLOR", "1");
    let mut p = spawn_command(c, Some(60_000)).unwrap();
    let all = p.exp_string("<<end>>").unwrap();
    for (i, (args, code, words)) in steps.iter().enumerate() {
        let start = all.find(&format!("<<step {i}>>")).unwrap();
        let seg = &all[start..];
        let end = seg.find("<<rc ").unwrap();
        let (said, rc) = (&seg[..end], &seg[end + 5..]);
        let rc: i32 = rc[..rc.find(">>").unwrap()].trim().parse().unwrap();
        assert_eq!(rc, *code, "step {i} ({args}): {said}");
        for w in words {
            assert!(said.contains(w), "step {i} ({args}): {w:?} not in {said:?}");
        }
        assert!(!said.contains("panicked"), "{said}");
        let errors = said.lines().filter(|l| l.starts_with("error:")).count();
        assert_eq!(errors, 1, "step {i} ({args}): {said}");
    }
}
