//! Schema dumps to compare (the rollback test): `pg_dump --schema-only`, pgshift's own tables
//! left out, and the lines that differ from one dump to the next for no reason in the schema
//! (pg_dump 15.14+'s `\restrict <random key>`) removed.

use std::path::Path;
use std::process::Stdio;

use super::{client, tools, BackupError};
use crate::db::connect::ConnectionSpec;
use crate::db::tracking::Tracking;

/// The schema of `spec`'s database as pg_dump prints it, without pgshift's own objects (those
/// of `tracking`: its tables, and the entries named after them in its schema).
pub fn schema(
    spec: &ConnectionSpec,
    server_major: u32,
    pg_dump: Option<&Path>,
    tracking: &Tracking,
) -> Result<String, BackupError> {
    let tool = tools::find("pg_dump", pg_dump, server_major)?;
    let (mut cmd, _pass) = client(&tool, spec, "pgshift test")?;
    cmd.args(["--schema-only", "--no-password"]);
    for suffix in ["", "_events", "_meta"] {
        cmd.arg(format!(
            "--exclude-table={}.{}{suffix}",
            tracking.schema, tracking.table
        ));
    }
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BackupError::Failed {
            message: format!("cannot run {}: {e}", tool.path.display()),
            help: "check the [backup] pg_dump setting".into(),
        })?;
    if !output.status.success() {
        return Err(BackupError::Failed {
            message: format!(
                "pg_dump --schema-only failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            help: "fix what pg_dump says; a pg_dump older than the server cannot dump it".into(),
        });
    }
    Ok(comparable(
        &String::from_utf8_lossy(&output.stdout),
        &tracking.schema,
        &tracking.table,
    ))
}

/// Whether an entry header (`-- Name: …; Type: …; Schema: …; Owner: …`) is one of pgshift's
/// objects: in its schema, named after its table (`schema_migrations_events_append_only()`).
fn is_own(header: &str, schema: &str, table: &str) -> bool {
    let fields: Vec<&str> = header.trim_start_matches("-- ").split("; ").collect();
    let field = |key: &str| {
        fields
            .iter()
            .find_map(|f| f.strip_prefix(key))
            .unwrap_or("")
    };
    field("Schema: ") == schema
        && field("Name: ")
            .split([' ', '.', '('])
            .any(|token| token.starts_with(table))
}

/// The dump without pgshift's own entries and the lines that change on every run. An entry
/// runs from its `--` / `-- Name: …` header to the next `--` line that starts a block.
fn comparable(dump: &str, schema: &str, table: &str) -> String {
    let lines: Vec<&str> = dump.lines().collect();
    let mut out = String::with_capacity(dump.len());
    let mut skip = false;
    for (i, l) in lines.iter().enumerate() {
        if *l == "--" && i + 1 < lines.len() && lines[i + 1].starts_with("-- ") {
            skip = lines[i + 1].starts_with("-- Name: ") && is_own(lines[i + 1], schema, table);
        }
        if skip || l.starts_with("\\restrict ") || l.starts_with("\\unrestrict ") {
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// A unified diff of two dumps, `None` when they are equal.
pub fn diff(before: &str, after: &str, before_name: &str, after_name: &str) -> Option<String> {
    if before == after {
        return None;
    }
    Some(
        similar::TextDiff::from_lines(before, after)
            .unified_diff()
            .context_radius(2)
            .header(before_name, after_name)
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn restrict_keys_do_not_make_a_difference_and_a_real_one_is_shown() {
        let c = |d: &str| super::comparable(d, "public", "schema_migrations");
        let a = c("\\restrict abc\nCREATE TABLE t ();\n\\unrestrict abc\n");
        let b = c("\\restrict xyz\nCREATE TABLE t ();\n\\unrestrict xyz\n");
        assert_eq!(super::diff(&a, &b, "before", "after"), None);
        let c = c("CREATE TABLE t ();\nCREATE INDEX i ON t (x);\n");
        let d = super::diff(&a, &c, "before up", "after down").expect("a difference");
        assert!(d.contains("+CREATE INDEX i ON t (x);"), "{d}");
        assert!(d.contains("--- before up"), "{d}");
    }

    #[test]
    fn pgshifts_own_entries_are_left_out_and_the_users_are_kept() {
        let dump = "--\n-- Name: app; Type: SCHEMA; Schema: -; Owner: me\n--\n\nCREATE SCHEMA app;\n\n\
--\n-- Name: schema_migrations_events_append_only(); Type: FUNCTION; Schema: public; Owner: me\n--\n\nCREATE FUNCTION public.schema_migrations_events_append_only() RETURNS trigger AS $$ x $$;\n\n\
--\n-- Name: FUNCTION schema_migrations_events_append_only(); Type: ACL; Schema: public; Owner: me\n--\n\nREVOKE ALL ON FUNCTION public.schema_migrations_events_append_only() FROM PUBLIC;\n\n\
--\n-- Name: users; Type: TABLE; Schema: public; Owner: me\n--\n\nCREATE TABLE public.users ();\n\n\
--\n-- PostgreSQL database dump complete\n--\n";
        let kept = super::comparable(dump, "public", "schema_migrations");
        assert!(!kept.contains("append_only"), "{kept}");
        assert!(kept.contains("CREATE SCHEMA app;"), "{kept}");
        assert!(kept.contains("CREATE TABLE public.users ();"), "{kept}");
        assert!(kept.contains("dump complete"), "{kept}");
    }
}
