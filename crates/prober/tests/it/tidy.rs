//! Checks that run as tests: module headers and protocol docs stay true.

use std::path::{Path, PathBuf};

use floorline_prober::protocol::{PROBE_MAX_TOKENS, SIGNED_MESSAGE_TAG};
use floorline_prober::Failure;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        rust_files(&crate_dir().join(dir), &mut files);
    }
    assert!(files.len() >= 10, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} lacks a //! header",
            file.display()
        );
    }
}

#[test]
fn protocol_doc_names_every_failure_code_and_the_message_format() {
    let doc = std::fs::read_to_string(crate_dir().join("PROTOCOL.md")).unwrap();
    for failure in Failure::ALL {
        assert!(
            doc.contains(&format!("`{}`", failure.code())),
            "PROTOCOL.md lacks {failure}"
        );
    }
    assert!(doc.contains(SIGNED_MESSAGE_TAG));
    assert!(doc.contains(&format!("\"max_tokens\": {PROBE_MAX_TOKENS}")));
}
