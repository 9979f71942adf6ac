//! Helpers shared by the integration tests: where the corpora are, and temporary files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `../shared/data` beside the repository (or `$CONTINUO_DATA`). A test that needs it fails
/// with a clear message when it is missing, unless `CONTINUO_ALLOW_MISSING_DATA=1`, in which
/// case it says it is skipping (never a silent pass).
pub fn data_dir(corpus: &str) -> Option<PathBuf> {
    let base = std::env::var_os("CONTINUO_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    let dir = base.join(corpus);
    if dir.is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "corpus `{corpus}` not found at {} (set CONTINUO_DATA to the folder holding essen-kern, oneills-midi and bach-chorales-midi)",
        dir.display()
    );
    if std::env::var("CONTINUO_ALLOW_MISSING_DATA").as_deref() == Ok("1") {
        eprintln!("SKIPPED: {msg}");
        None
    } else {
        panic!("{msg}; set CONTINUO_ALLOW_MISSING_DATA=1 to skip tests that need it");
    }
}

/// Every file with one of `exts` below `dir`, sorted.
pub fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|x| x.to_str()).is_some_and(|x| exts.contains(&x)) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A fresh temporary folder for one test (one per call: tests run in parallel), removed
/// when the returned value is dropped.
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("continuo-test-{name}-")).tempdir().unwrap()
}
