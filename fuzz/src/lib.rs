//! The fuzz harness of mxkeys: the entry points of the cargo-fuzz targets in `fuzz_targets/`
//! (each target is a one-line call into [`harness`]). `tests/fuzz_corpus.rs` in mxkeys includes
//! the same `harness.rs` with `#[path]` to replay the committed inputs on stable, so the harness
//! is a file rather than a crate mxkeys could depend on (that would be a dependency cycle).

pub mod harness;
