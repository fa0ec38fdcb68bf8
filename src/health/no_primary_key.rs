//! `no-primary-key`: a table without a primary key: logical replication (and Supabase's
//! realtime) cannot send its updates and deletes, and its rows cannot be told apart.

use super::{Check, Probe};

pub const CHECK: Check = Check {
    id: "no-primary-key",
    ok: "every table has a primary key",
    problem: "table(s) without a primary key",
    fix: "`ALTER TABLE … ADD PRIMARY KEY (…)` (build the unique index CONCURRENTLY first and add it `USING INDEX` on a big table)",
    needs_api: false,
    probe: Probe::Catalog(SQL),
};

const SQL: &str = "
SELECT 'warn', format('%I.%I', n.nspname, c.relname),
       'no primary key: logical replication cannot send its updates and deletes'
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname <> ALL ({internal}) AND n.nspname NOT LIKE 'pg\\_%'
  AND n.nspname || '.' || c.relname <> ALL ({skip})
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 2";

#[cfg(test)]
mod tests {
    #[test]
    fn fires_on_a_table_without_a_primary_key() {
        let found = crate::health::tests::run(
            &["CREATE TABLE keyed (id int PRIMARY KEY); CREATE TABLE heap (v int);"],
            "",
            "no-primary-key",
        );
        assert_eq!(found, ["warn public.heap"]);
    }
}
