//! `missing-tables`: every table the applied migrations created, and did not drop, rename or
//! move later, exists (found by parsing the applied files, see `expected.rs`).

use super::{Check, Probe};

pub const CHECK: Check = Check {
    id: "missing-tables",
    ok: "every table the applied migrations created exists",
    problem: "table(s) created by applied migrations are missing",
    fix: "the table was dropped or renamed outside the migrations: restore it from a backup (`pgshift backup list`), or write a migration that drops it on purpose so the files say what the database has",
    needs_api: false,
    probe: Probe::Catalog(SQL),
};

/// A null schema: the file named the table without one (and set no search_path), so any schema
/// will do.
const SQL: &str = "
SELECT 'fail',
       CASE WHEN e->>0 IS NULL THEN quote_ident(e->>1) ELSE format('%I.%I', e->>0, e->>1) END,
       format('created by %s and not dropped by a later migration, but it does not exist', e->>2)
FROM jsonb_array_elements({expected}) AS e
WHERE NOT EXISTS (
  SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relname = e->>1 AND (e->>0 IS NULL OR n.nspname = e->>0)
    AND c.relkind IN ('r', 'p', 'f'))
ORDER BY 2";

#[cfg(test)]
mod tests {
    #[test]
    fn fires_on_a_dropped_table_and_is_quiet_on_the_rest() {
        let found = crate::health::tests::run(
            &["CREATE TABLE kept (id int PRIMARY KEY); CREATE TABLE lost (id int PRIMARY KEY);"],
            "DROP TABLE lost;",
            "missing-tables",
        );
        assert_eq!(found, ["fail lost"]);
    }
}
