//! The workspace's tidy checks: the invariants ARCHITECTURE.md states about
//! where things live, checked on the source tree so that the document stays
//! true. They live in core's test binary because it builds fastest; they read
//! every crate's files, not core's alone.
//!
//! "Product code" below is a crate's `src/` and `benches/` up to its first
//! `#[cfg(test)]` (unit tests sit at the end of a file); integration tests may
//! build JSON bodies and tamper with a database through raw SQL, which is how
//! they prove that tampering is caught.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn crates() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `.rs` file of a crate under the given folders, by path relative to
/// the workspace (`crates/store/src/db.rs`).
fn files_of(krate: &str, dirs: &[&str]) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for dir in dirs {
        rust_files(
            &workspace().join("crates").join(krate).join(dir),
            &mut files,
        );
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let rel = p
                .strip_prefix(workspace())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, text)
        })
        .collect()
}

/// A file's code up to its unit tests, with comment lines dropped.
fn product_code(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn product_files() -> Vec<(String, String)> {
    crates()
        .iter()
        .flat_map(|c| files_of(c, &["src", "benches"]))
        .map(|(path, text)| (path, product_code(&text)))
        .collect()
}

/// The crates named in a `[dependencies]` table of a crate's manifest (not
/// dev-dependencies).
fn dependencies(krate: &str) -> BTreeSet<String> {
    let text =
        std::fs::read_to_string(workspace().join("crates").join(krate).join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    manifest
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

const SQL_WORDS: [&str; 8] = [
    "SELECT ",
    "INSERT INTO",
    "DELETE FROM",
    "CREATE TABLE",
    "CREATE INDEX",
    "ALTER TABLE",
    "BEGIN IMMEDIATE",
    "sqlx::query",
];

/// SQL lives in the store, and in proving's bare-SQL oracle (the DST checker
/// and the scale bench compare the store against it).
fn may_hold_sql(path: &str) -> bool {
    path.starts_with("crates/store/")
        || path == "crates/proving/src/oracle.rs"
        || path.starts_with("crates/proving/src/oracle/")
}

#[test]
fn sql_lives_only_in_the_store_and_the_bare_sql_oracle() {
    let mut found = Vec::new();
    for (path, code) in product_files() {
        if may_hold_sql(&path) {
            continue;
        }
        for (n, line) in code.lines().enumerate() {
            let update = line.contains("UPDATE ") && line.contains(" SET ");
            if update || SQL_WORDS.iter().any(|w| line.contains(w)) {
                found.push(format!("{path}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "SQL outside the store:\n{}",
        found.join("\n")
    );
    for krate in crates() {
        if krate != "store" && krate != "proving" {
            assert!(
                !dependencies(&krate).contains("sqlx"),
                "crates/{krate} depends on sqlx"
            );
        }
    }
}

#[test]
fn json_values_are_built_only_by_the_server() {
    let found: Vec<String> = product_files()
        .into_iter()
        .filter(|(path, code)| !path.starts_with("crates/server/") && code.contains("json!"))
        .map(|(path, _)| path)
        .collect();
    assert!(found.is_empty(), "json! outside crates/server: {found:?}");
}

#[test]
fn anyhow_lives_only_in_the_cli_and_the_proving_binaries() {
    for krate in crates() {
        let allowed = krate == "cli" || krate == "proving";
        assert!(
            allowed || !dependencies(&krate).contains("anyhow"),
            "crates/{krate} depends on anyhow"
        );
    }
    let found: Vec<String> = files_of("proving", &["src"])
        .into_iter()
        .filter(|(path, text)| {
            !path.starts_with("crates/proving/src/bin/") && text.contains("anyhow")
        })
        .map(|(path, _)| path)
        .collect();
    assert!(found.is_empty(), "anyhow in proving's library: {found:?}");
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let mut bare = Vec::new();
    let mut count = 0;
    for krate in crates() {
        for (path, text) in files_of(&krate, &["src", "tests", "benches", "examples"]) {
            count += 1;
            if !text.starts_with("//!") {
                bare.push(path);
            }
        }
    }
    assert!(count > 100, "only {count} files found");
    assert!(bare.is_empty(), "no //! header: {bare:?}");
}

/// The code map's entry of a crate: the bullet that starts with its folder.
fn code_map_entry(map: &str, krate: &str) -> Option<String> {
    let head = format!("- `crates/{krate}`");
    let start = map.find(&head)?;
    let rest = &map[start + head.len()..];
    let end = rest.find("\n- `crates/").unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

/// Whether `name` appears in backticks as a whole name (`` `db` ``,
/// `` `ingest/kinds` ``, `` `db::Backend` ``), not as a prefix of another.
fn names(entry: &str, name: &str) -> bool {
    let tick = format!("`{name}");
    entry.match_indices(&tick).any(|(i, _)| {
        let after = entry[i + tick.len()..].chars().next();
        !after.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
    })
}

#[test]
fn the_code_map_names_every_crate_and_module() {
    let doc = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap();
    let start = doc
        .find("## Code map")
        .expect("ARCHITECTURE.md has a code map");
    let map = &doc[start..];
    let map = &map[..map[3..].find("\n## ").map_or(map.len(), |i| i + 3)];
    let mut missing = Vec::new();
    for krate in crates() {
        let Some(entry) = code_map_entry(map, &krate) else {
            missing.push(format!("crates/{krate}"));
            continue;
        };
        let src = workspace().join("crates").join(&krate).join("src");
        for e in std::fs::read_dir(&src).unwrap() {
            let e = e.unwrap();
            let file = e.file_name().to_string_lossy().into_owned();
            let module = file.trim_end_matches(".rs").to_string();
            if ["lib", "main"].contains(&module.as_str()) {
                continue;
            }
            if module == "bin" {
                for b in std::fs::read_dir(e.path()).unwrap() {
                    let bin = b.unwrap().file_name().to_string_lossy().into_owned();
                    let bin = bin.trim_end_matches(".rs").to_string();
                    if !names(&entry, &bin) {
                        missing.push(format!("crates/{krate}: binary {bin}"));
                    }
                }
            } else if !names(&entry, &module) {
                missing.push(format!("crates/{krate}: module {module}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map lacks:\n{}",
        missing.join("\n")
    );
}

#[test]
fn core_does_no_io_and_reads_no_clock() {
    let deps = dependencies("core");
    for banned in ["tokio", "sqlx", "axum", "reqwest", "rand"] {
        assert!(!deps.contains(banned), "core depends on {banned}");
    }
    for (path, text) in files_of("core", &["src"]) {
        let code = product_code(&text);
        for banned in [
            "std::fs",
            "std::net",
            "std::env",
            "SystemTime",
            "Instant::now",
            "Utc::now",
            "Local::now",
        ] {
            assert!(!code.contains(banned), "{path} uses {banned}");
        }
    }
}

#[test]
fn the_checks_see_what_they_look_for() {
    // Each check above must be able to fail: its matcher finds the thing.
    assert!(product_code("let q = \"SELECT 1\";").contains("SELECT "));
    assert!(product_code("// SELECT 1\nfn f() {}")
        .lines()
        .all(|l| !l.contains("SELECT")));
    assert!(!product_code("fn f() {}\n#[cfg(test)]\nmod tests { json!({}) }").contains("json!"));
    assert!(names("(`db`, `ingest/kinds`)", "db"));
    assert!(names("(`db`, `ingest/kinds`)", "ingest"));
    assert!(!names("(`dbx`)", "db"));
    assert!(
        code_map_entry("- `crates/a` — x `m`.\n- `crates/b` — y", "a")
            .is_some_and(|e| names(&e, "m"))
    );
}
