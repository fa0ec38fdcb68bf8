//! `unindexed-foreign-keys`: a foreign key whose columns do not lead any index: every delete or
//! key update on the referenced table scans the referencing one.

use super::{Check, Probe};

pub const CHECK: Check = Check {
    id: "unindexed-foreign-keys",
    ok: "every foreign key has an index on its columns",
    problem: "foreign key(s) without an index",
    fix: "`CREATE INDEX CONCURRENTLY … ON table (columns);` in a migration of its own",
    needs_api: false,
    probe: Probe::Catalog(SQL),
};

const SQL: &str = "
SELECT 'warn',
       format('%I.%I (%s)', n.nspname, c.relname,
              (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.i)
               FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, i)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum)),
       format('foreign key %I to %s has no index starting with its columns: each delete on %s scans this table', con.conname, con.confrelid::regclass, con.confrelid::regclass)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE con.contype = 'f' AND n.nspname <> ALL ({internal})
  AND n.nspname || '.' || c.relname <> ALL ({skip})
  AND NOT EXISTS (
    SELECT 1 FROM pg_index i
    WHERE i.indrelid = con.conrelid AND i.indpred IS NULL
      AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(con.conkey)] @> con.conkey
      AND con.conkey @> (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(con.conkey)])
ORDER BY 2";

#[cfg(test)]
mod tests {
    #[test]
    fn fires_on_a_foreign_key_without_an_index() {
        let found = crate::health::tests::run(
            &["CREATE TABLE parent (id int PRIMARY KEY);
               CREATE TABLE slow (id int PRIMARY KEY, parent_id int REFERENCES parent);
               CREATE TABLE fast (id int PRIMARY KEY, parent_id int REFERENCES parent);
               CREATE INDEX ON fast (parent_id, id);"],
            "",
            "unindexed-foreign-keys",
        );
        assert_eq!(found, ["warn public.slow (parent_id)"]);
    }
}
