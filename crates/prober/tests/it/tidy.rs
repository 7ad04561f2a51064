//! Checks that run as tests: the protocol docs stay true (module headers are
//! the workspace tidy test's, `crates/core/tests/it/tidy.rs`).

use std::path::PathBuf;

use floorline_prober::protocol::{PROBE_MAX_TOKENS, SIGNED_MESSAGE_TAG};
use floorline_prober::Failure;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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
