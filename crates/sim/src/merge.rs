//! `extends`: a scenario may start from another (`builtin:NAME` or a path
//! relative to the extending file) and change only some keys. Tables merge
//! key by key; anything else — arrays included — is replaced whole, so
//! `fleet.mix` or `uptime.buckets` are never half-inherited.
//!
//! `name` is not inherited (a derived scenario is named after its own file
//! unless it says otherwise), and chains are at most [`MAX_EXTENDS_DEPTH`] deep.

use std::path::Path;

use crate::error::SimError;
use crate::scenario::{read_text, ROOT};

/// Longest chain of `extends`.
pub const MAX_EXTENDS_DEPTH: usize = 4;

/// Deep-merges `over` onto `base`.
pub fn merge_tables(mut base: toml::Table, over: toml::Table) -> toml::Table {
    for (key, value) in over {
        match (base.remove(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => {
                base.insert(key, toml::Value::Table(merge_tables(b, o)));
            }
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
    base
}

/// Replaces `extends` by the merged base, recursively.
pub fn resolve_extends(
    mut table: toml::Table,
    source: &str,
    depth: usize,
) -> Result<toml::Table, SimError> {
    let Some(value) = table.remove("extends") else {
        return Ok(table);
    };
    let path = format!("{ROOT}.extends");
    let toml::Value::String(spec) = value else {
        return Err(SimError::bad(
            source,
            path,
            "must be a string: `builtin:NAME` or a path",
        ));
    };
    if depth >= MAX_EXTENDS_DEPTH {
        return Err(SimError::bad(
            source,
            path,
            format!("more than {MAX_EXTENDS_DEPTH} levels of extends (a cycle?)"),
        ));
    }
    let base_spec = if spec.starts_with("builtin:") || Path::new(&spec).is_absolute() {
        spec.clone()
    } else {
        match Path::new(source).parent() {
            Some(dir) if !source.starts_with("builtin:") => {
                dir.join(&spec).to_string_lossy().into_owned()
            }
            _ => spec.clone(),
        }
    };
    let text = read_text(&base_spec, source).map_err(|e| match e {
        SimError::BadInput { origin, problems } => SimError::BadInput {
            origin,
            problems: problems
                .into_iter()
                .map(|p| floorline_core::Invalid::new(path.clone(), p.message))
                .collect(),
        },
        other => other,
    })?;
    let base: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        SimError::bad(
            &base_spec,
            ROOT,
            format!("invalid TOML: {}", crate::scenario::one_line(e.message())),
        )
    })?;
    let mut base = resolve_extends(base, &base_spec, depth.saturating_add(1))?;
    base.remove("name");
    Ok(merge_tables(base, table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_merge_and_arrays_replace() {
        let base: toml::Table = "a = 1\n[t]\nx = 1\ny = [1, 2]\n".parse().unwrap();
        let over: toml::Table = "[t]\ny = [3]\nz = 2\n".parse().unwrap();
        let m = merge_tables(base, over);
        assert_eq!(
            m.to_string(),
            "a = 1\n\n[t]\nx = 1\ny = [3]\nz = 2\n".to_string()
        );
    }
}
