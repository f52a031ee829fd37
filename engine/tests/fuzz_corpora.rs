//! The fuzz corpora replayed as an ordinary test: every file of every
//! `fuzz/corpus/<target>/` fed to the function its cargo-fuzz target calls
//! (`fuzz/src/`, included here so that the stable toolchain runs the same code the
//! fuzzers ran). A corpus holds the seeds from the tests, what fuzzing found worth
//! keeping, and every input that once made a target panic; none may panic now.

#[path = "../../fuzz/src/lib.rs"]
mod fuzz_targets;

use std::path::Path;

#[test]
fn every_fuzz_corpus_file_runs_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut failed = Vec::new();
    for (target, run) in fuzz_targets::TARGETS {
        let dir = root.join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("corpus entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} is empty", dir.display());
        for file in &files {
            let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failed.push(format!("{target}: {}", file.display()));
            }
        }
        println!("{target}: {} inputs", files.len());
    }
    assert!(failed.is_empty(), "inputs that panic:\n{}", failed.join("\n"));
}
