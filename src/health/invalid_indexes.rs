//! `invalid-indexes`: indexes left INVALID by a `CREATE INDEX CONCURRENTLY` that failed.

use super::{Check, Probe};

pub const CHECK: Check = Check {
    id: "invalid-indexes",
    ok: "no invalid index",
    problem: "invalid index(es)",
    fix: "`DROP INDEX CONCURRENTLY` it and create it again (pgshift drops it itself when it resumes the partial migration that made it)",
    needs_api: false,
    probe: Probe::Catalog(SQL),
};

const SQL: &str = "
SELECT 'fail', format('%I.%I', n.nspname, ic.relname),
       format('on %I.%I: INVALID, left by a CREATE INDEX CONCURRENTLY that failed; it slows every write and serves no read', n.nspname, c.relname)
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid AND n.nspname NOT LIKE 'pg\\_temp%'
ORDER BY 2";

#[cfg(test)]
mod tests {
    #[test]
    fn fires_on_an_invalid_index() {
        // A unique index built concurrently over duplicates fails and stays INVALID.
        let found = crate::health::tests::run_with(
            &["CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 1), (2, 1);"],
            &["CREATE UNIQUE INDEX CONCURRENTLY t_v ON t (v)"],
            "invalid-indexes",
        );
        assert_eq!(found, ["fail public.t_v"]);
    }
}
