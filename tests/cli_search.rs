//! `mxkeys passphrase search` on targets made by Element Web, matrix-nio, matrix-js-sdk (secret
//! storage and a legacy passphrase backup) and mautrix, with the passphrase hidden in a list
//! (test-vectors/search/).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::*;
use serde_json::Value;

#[test]
fn every_search_vector() {
    let dir = vector_dir("search");
    let m: Value = serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let mut found = 0;
    for v in m["vectors"].as_array().unwrap() {
        let d = tmpdir();
        let out = d.path().join("found");
        let target = dir.join(v["target"].as_str().unwrap());
        let list = dir.join(v["candidates"].as_str().unwrap());
        let mut args = vec![
            "passphrase",
            "search",
            s(&target),
            "--candidates",
            s(&list),
            "-o",
            s(&out),
            "--json",
        ];
        if v["mutate"] == true {
            args.push("--mutate");
        }
        let o = mxkeys(&args, &[]);
        let ctx = format!("{}: {}", v["target"], v["comment"]);
        if v["expect"] == "found" {
            assert!(o.status.success(), "{ctx}: {}", stderr(&o));
            let r: Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(r["line"], v["line"], "{ctx}");
            let text = fs::read_to_string(&out).unwrap();
            assert_eq!(
                text.trim_end_matches('\n'),
                v["passphrase"].as_str().unwrap(),
                "{ctx}"
            );
            assert_eq!(
                fs::metadata(&out).unwrap().permissions().mode() & 0o777,
                0o600
            );
            found += 1;
        } else {
            assert_eq!(o.status.code(), Some(1), "{ctx}: {}", stderr(&o));
            assert!(
                stderr(&o).contains("opened the target"),
                "{ctx}: {}",
                stderr(&o)
            );
            // Only an export's MAC covers a whole file that could have been damaged.
            let export = fs::read(&target).unwrap().starts_with(b"-----BEGIN");
            assert_eq!(stderr(&o).contains("a damaged file"), export, "{ctx}");
            assert_only(d.path(), &[]);
        }
    }
    assert!(found >= 6);
}

#[test]
fn skip_and_shard_select_lines() {
    let dir = vector_dir("search");
    let m: Value = serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let v = m["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["candidates"] == "element-r1000.list")
        .unwrap();
    let line = v["line"].as_u64().unwrap();
    let target = dir.join(v["target"].as_str().unwrap());
    let list = dir.join("element-r1000.list");
    // Skipping past the line misses it; a shard that does not contain the line misses it.
    let skip = line.to_string();
    let o = mxkeys(
        &[
            "passphrase",
            "search",
            s(&target),
            "--candidates",
            s(&list),
            "--skip",
            &skip,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let other = format!("{}/2", if line % 2 == 1 { 2 } else { 1 });
    let o = mxkeys(
        &[
            "passphrase",
            "search",
            s(&target),
            "--candidates",
            s(&list),
            "--shard",
            &other,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let mine = format!("{}/2", if line % 2 == 1 { 1 } else { 2 });
    let d = tmpdir();
    let out = d.path().join("p");
    let o = mxkeys(
        &[
            "passphrase",
            "search",
            s(&target),
            "--candidates",
            s(&list),
            "--shard",
            &mine,
            "-o",
            s(&out),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = mxkeys(
        &[
            "passphrase",
            "search",
            s(&target),
            "--candidates",
            s(&list),
            "--shard",
            "3/2",
        ],
        &[],
    );
    assert_fails(&o, 2, "--shard 3/2");
    // Without -o and without a terminal, the passphrase is never printed.
    let o = mxkeys(
        &["passphrase", "search", s(&target), "--candidates", s(&list)],
        &[],
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains(v["passphrase"].as_str().unwrap()));
}

#[test]
fn legacy_backup_key_from_passphrase() {
    let dir = vector_dir("search");
    let version = dir.join("legacy-backup-version.json");
    let o = mxkeys(
        &[
            "recovery-key",
            "from-passphrase",
            "--auth-data",
            s(&version),
            "--json",
        ],
        &[("MXKEYS_PASSPHRASE", "my old backup passphrase")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let doc: Value = serde_json::from_slice(&fs::read(&version).unwrap()).unwrap();
    assert_eq!(v["public_key"], doc["auth_data"]["public_key"]);
    let o = mxkeys(
        &[
            "recovery-key",
            "from-passphrase",
            "--auth-data",
            s(&version),
        ],
        &[("MXKEYS_PASSPHRASE", "wrong")],
    );
    assert_fails(&o, 1, "wrong backup passphrase");
}

/// `bench kdf` measures what a search runs (the batch engine of this CPU) and, with `--single`,
/// one derivation at a time; both report every thread count from 1.
#[test]
fn bench_kdf_reports_the_search_engine_and_single_derivations() {
    let run = |extra: &[&str]| -> Value {
        let mut args = vec![
            "bench",
            "kdf",
            "--rounds",
            "50",
            "--seconds",
            "0.1",
            "--json",
        ];
        args.extend_from_slice(extra);
        let o = mxkeys(&args, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let batch = run(&[]);
    let single = run(&["--single"]);
    assert_eq!(single["engine"], "Scalar");
    assert_eq!(single["single"], true);
    assert_eq!(batch["single"], false);
    assert_eq!(
        batch["engine"],
        format!("{:?}", mxkeys::kdf::Engine::fastest())
    );
    for r in [&batch, &single] {
        assert_eq!(r["rounds"], 50);
        let rows = r["results"].as_array().unwrap();
        assert_eq!(rows[0]["threads"], 1);
        assert!(rows
            .iter()
            .all(|x| x["derivations_per_s"].as_f64().unwrap() > 0.0));
    }
    let o = mxkeys(&["bench", "kdf", "--rounds", "0"], &[]);
    assert_fails(&o, 2, "--rounds");
}
