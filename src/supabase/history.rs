//! The Supabase CLI's migration history, `supabase_migrations.schema_migrations (version,
//! statements, name)`: where it exists (or `[supabase] history = true`), each migration pgshift
//! applies is also recorded there, in the migration's own transaction, so `supabase migration
//! list` and the dashboard agree with pgshift; a rollback removes the row the same way.
//!
//! The CLI's versions are 14 digits (`YYYYMMDDHHMMSS`). A pgshift version has a date and no
//! time, so its row takes the date and the migration's place among that date's files
//! (`20260121000002` for the second file of 2026-01-21); `name` holds the pgshift version, which
//! is how rows are matched.

use crate::migration::{MigrationSet, Version};
use crate::sql::variables::quote_literal;

/// The Supabase CLI, as an imported file's header names it (`-- Imported from supabase: …`).
pub const CLI: &str = "supabase";

/// The Supabase CLI's version of a migration imported from it (its header says so).
pub fn source_version(text: &str) -> Option<&str> {
    crate::migration::header::imported_from(CLI, text)
}

pub const TABLE: &str = "supabase_migrations.schema_migrations";

/// Whether the table is there (one boolean).
pub const EXISTS_SQL: &str =
    "SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL";

/// The table as the Supabase CLI creates it.
pub const CREATE_SQL: &str = "CREATE SCHEMA IF NOT EXISTS supabase_migrations;
CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text PRIMARY KEY, statements text[], name text);";

/// The version a migration has in the Supabase CLI's history: its original one when it was
/// imported from the Supabase CLI (`true`), else made from its date and place ([`made_version`]).
pub fn version_for(set: &MigrationSet, m: &crate::migration::Migration) -> (String, bool) {
    match source_version(&m.source) {
        Some(original) => (original.to_string(), true),
        None => (made_version(set, &m.version), false),
    }
}

/// The 14-digit version of `v` in the Supabase CLI's history.
pub fn made_version(set: &MigrationSet, v: &Version) -> String {
    let date = v.date_str();
    let place = set
        .migrations
        .iter()
        .filter(|m| m.version.date_str() == date && m.version <= *v)
        .count();
    format!("{}{place:06}", date.replace('-', ""))
}

/// Records `name` (a pgshift version) as applied, unless a row already names it. A made version
/// taken by a row of the CLI's own is left to that row: the next free number after the newest is
/// used. An `original` version (the migration came from the Supabase CLI) already in the table is
/// that migration: nothing is added.
pub fn record_sql(version: &str, name: &str, statements: &[&str], original: bool) -> String {
    let statements: Vec<String> = statements.iter().map(|s| quote_literal(s)).collect();
    let (v, n) = (quote_literal(version), quote_literal(name));
    let known = if original {
        format!("name = {n} OR version = {v}")
    } else {
        format!("name = {n}")
    };
    format!(
        "INSERT INTO {TABLE} (version, statements, name) \
         SELECT CASE WHEN EXISTS (SELECT 1 FROM {TABLE} WHERE version = {v}) \
                     THEN (SELECT (max(version::numeric) + 1)::text FROM {TABLE} WHERE version ~ '^[0-9]+$') \
                     ELSE {v} END, \
                ARRAY[{}]::text[], {n} \
         WHERE NOT EXISTS (SELECT 1 FROM {TABLE} WHERE {known});",
        statements.join(", ")
    )
}

/// Removes the row of `name` (a rollback), and the row of its original version when it came
/// from the Supabase CLI.
pub fn delete_sql(name: &str, original: Option<&str>) -> String {
    match original {
        Some(v) => format!(
            "DELETE FROM {TABLE} WHERE name = {} OR version = {};",
            quote_literal(name),
            quote_literal(v)
        ),
        None => format!("DELETE FROM {TABLE} WHERE name = {};", quote_literal(name)),
    }
}

/// How the Supabase CLI's history and pgshift's records disagree.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Disagreement {
    /// Rows of the CLI's history that pgshift has not applied (`version name`).
    pub only_supabase: Vec<String>,
    /// Migrations pgshift applied that the CLI's history lacks.
    pub only_pgshift: Vec<String>,
}

/// Whether the history table exists ([`EXISTS_SQL`]; `query_typed`: no prepare, one round
/// trip, which can go out beside others).
pub async fn exists(client: &tokio_postgres::Client) -> Result<bool, tokio_postgres::Error> {
    let rows = client.query_typed(EXISTS_SQL, &[]).await?;
    Ok(rows.first().is_some_and(|r| r.get::<_, bool>(0)))
}

/// `None` where the history table does not exist (`exists`, as [`exists`] answered).
/// `original` gives a pgshift version's original Supabase CLI version, for migrations imported
/// from it (their rows may be the CLI's own, under the CLI's name).
pub async fn disagreement(
    client: &tokio_postgres::Client,
    exists: bool,
    rows: &[crate::db::tracking::AppliedRow],
    original: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Disagreement>, tokio_postgres::Error> {
    if !exists {
        return Ok(None);
    }
    let history = client
        .query(
            "SELECT coalesce(name, ''), coalesce(version, '') FROM supabase_migrations.schema_migrations ORDER BY version",
            &[],
        )
        .await?;
    // Every key a pgshift record answers to: its version, and its original CLI version.
    let mut applied: std::collections::HashSet<String> = std::collections::HashSet::new();
    for r in rows.iter().filter(|r| r.success) {
        applied.insert(r.version.clone());
        applied.extend(original(&r.version));
    }
    let keys: std::collections::HashSet<String> = history
        .iter()
        .flat_map(|r| [r.get::<_, String>(0), r.get::<_, String>(1)])
        .collect();
    Ok(Some(Disagreement {
        only_supabase: history
            .iter()
            .filter(|r| {
                !applied.contains(r.get::<_, &str>(0)) && !applied.contains(r.get::<_, &str>(1))
            })
            .map(|r| format!("{} {}", r.get::<_, &str>(1), r.get::<_, &str>(0)))
            .collect(),
        only_pgshift: rows
            .iter()
            .filter(|r| {
                r.success
                    && !keys.contains(&r.version)
                    && !original(&r.version).is_some_and(|o| keys.contains(&o))
            })
            .map(|r| r.version.clone())
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_number_the_files_of_a_day_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["2026-01-21_b.sql", "2026-01-21_a.sql", "2026-01-22_c.sql"] {
            std::fs::write(dir.path().join(f), "SELECT 1;\n").unwrap();
        }
        let set = crate::migration::load_dir(dir.path(), crate::config::Environment::Development)
            .unwrap();
        let v = |s: &str| crate::migration::Version::parse_reference(s).unwrap();
        assert_eq!(
            super::made_version(&set, &v("2026-01-21_a")),
            "20260121000001"
        );
        assert_eq!(
            super::made_version(&set, &v("2026-01-21_b")),
            "20260121000002"
        );
        assert_eq!(
            super::made_version(&set, &v("2026-01-22_c")),
            "20260122000001"
        );
    }

    #[test]
    fn the_record_quotes_what_it_stores() {
        let sql = super::record_sql("20260121000001", "2026-01-21_a", &["SELECT 'it''s'"], false);
        assert!(sql.contains("ARRAY['SELECT ''it''''s''']::text[]"), "{sql}");
        assert!(sql.contains("WHERE name = '2026-01-21_a'"), "{sql}");
    }
}
