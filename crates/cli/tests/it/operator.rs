//! Operator mistakes get messages that name their cause (issue 20): a
//! database that does not answer, a bad or unrelated environment variable, a
//! mistyped config key, a new empty database created by accident.

use std::process::{Command, Output};

fn run(args: &[&str], env: &[(&str, &str)], dir: &std::path::Path) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_floorline"));
    c.args(args).current_dir(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run floorline")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_new_empty_default_database_is_announced_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["migrate"], &[], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("created a new, empty database floorline.db"),
        "{err}"
    );
    assert!(dir.path().join("floorline.db").exists());
    // The second time it exists: nothing to say.
    let out = run(&["migrate"], &[], dir.path());
    assert!(out.status.success());
    assert!(
        !text(&out.stderr).contains("created"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_postgres_that_refuses_is_named_with_host_port_and_cause() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://postgres@127.0.0.1:{port}/floorline");
    let out = run(&["migrate", "--database-url", &url], &[], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("PostgreSQL at 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("refused"), "{err}");
}

#[test]
fn a_bad_environment_value_is_blamed_on_its_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &["migrate"],
        &[("FLOORLINE_POOL_MICRO_USD", "abc")],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("FLOORLINE_POOL_MICRO_USD: `abc`: "), "{err}");
    assert!(!err.contains("floorline.toml"), "{err}");
}

#[test]
fn a_variable_that_is_no_setting_warns_and_the_command_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &["migrate"],
        &[("FLOORLINE_BIN", "/opt/floorline/bin/floorline")],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("floorline: warning: FLOORLINE_BIN is not a floorline setting; ignored"),
        "{err}"
    );
}

#[test]
fn a_mistyped_config_key_gives_line_closest_key_and_sections() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("floorline.toml");
    std::fs::write(&config, "pool_micro_usd = 5\n\n[prober]\ntimeout = 100\n").unwrap();
    let out = run(
        &["migrate", "--config", config.to_str().unwrap()],
        &[],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("prober.timeout: line 4: not a key of [prober];"),
        "{err}"
    );
    assert!(err.contains("did you mean `timeout_ms`?"), "{err}");
}
