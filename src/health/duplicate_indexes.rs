//! `duplicate-indexes`: two indexes of a table on the same columns, expressions and predicate:
//! every write maintains both, no read needs the second.

use super::{Check, Probe};

pub const CHECK: Check = Check {
    id: "duplicate-indexes",
    ok: "no duplicate index",
    problem: "table(s) with duplicate indexes",
    fix: "`DROP INDEX CONCURRENTLY` all but one (keep the one behind a constraint)",
    needs_api: false,
    probe: Probe::Catalog(SQL),
};

const SQL: &str = "
SELECT 'warn', format('%I.%I', n.nspname, c.relname),
       format('indexes %s are identical', string_agg(quote_ident(ic.relname), ', ' ORDER BY ic.relname))
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname <> ALL ({internal}) AND n.nspname NOT LIKE 'pg\\_%'
GROUP BY n.nspname, c.relname, i.indrelid, i.indkey::text, i.indclass::text, i.indcollation::text,
         coalesce(pg_get_expr(i.indexprs, i.indrelid), ''), coalesce(pg_get_expr(i.indpred, i.indrelid), '')
HAVING count(*) > 1
ORDER BY 2";

#[cfg(test)]
mod tests {
    #[test]
    fn fires_on_two_identical_indexes() {
        let found = crate::health::tests::run(
            &["CREATE TABLE t (id int PRIMARY KEY, v int, w int);
               CREATE INDEX t_v1 ON t (v); CREATE INDEX t_v2 ON t (v);
               CREATE INDEX t_w ON t (w); CREATE INDEX t_w_partial ON t (w) WHERE w > 0;"],
            "",
            "duplicate-indexes",
        );
        assert_eq!(found, ["warn public.t"]);
    }
}
