//! Helpers shared by the tests that replay a folder of test-vectors/: the folder, its files, its
//! manifest, and the check that no file in it goes unlisted (a file nobody replays is a scenario
//! nobody tests).
//!
//! The vector tests include this file alone (`#[path = "common/vectors.rs"] mod vectors;`), so
//! they do not need the `mxkeys` binary that the CLI helpers in `common/mod.rs` run; the CLI
//! tests reach it as `common::vectors`.

// Not every test crate uses every helper. (unwrap and panic are allowed by each test crate's
// root, as for the code of the tests themselves.)
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize;

/// A test-vector folder by name.
pub fn vector_dir(area: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-vectors")
        .join(area)
}

/// A manifest that is one list of vectors and nothing else: `{"vectors": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorList<T> {
    /// One entry per scenario.
    pub vectors: Vec<T>,
}

/// One folder of test-vectors/, named for its area (`export`, `backup`, …).
#[derive(Debug, Clone, Copy)]
pub struct Vectors(pub &'static str);

impl Vectors {
    /// The folder.
    pub fn dir(self) -> PathBuf {
        vector_dir(self.0)
    }

    /// A JSON file in the folder, parsed.
    pub fn json<T: DeserializeOwned>(self, name: &str) -> T {
        serde_json::from_slice(&fs::read(self.dir().join(name)).unwrap()).unwrap()
    }

    /// The folder's manifest.json, parsed.
    pub fn manifest<T: DeserializeOwned>(self) -> T {
        self.json("manifest.json")
    }

    /// Every file in the folder is its manifest.json, its README.md or one of `listed`.
    pub fn assert_every_file_listed(self, listed: &BTreeSet<String>) {
        for e in fs::read_dir(self.dir()).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(
                listed.contains(&name) || name == "manifest.json" || name == "README.md",
                "{name} is in test-vectors/{} but not in the manifest",
                self.0
            );
        }
    }
}
