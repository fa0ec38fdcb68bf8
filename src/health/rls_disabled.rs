//! `rls-disabled`: a table in an exposed schema with row level security off: the API serves
//! every row to every role it lets in.

use super::{Check, Probe};

pub const CHECK: Check = Check {
    id: "rls-disabled",
    ok: "row level security is on for every table in the exposed schemas",
    problem: "exposed table(s) without row level security",
    fix: "`ALTER TABLE … ENABLE ROW LEVEL SECURITY;` and write its policies in a migration; a table the API must never see belongs in a schema that is not exposed ([deploy] exposed_schemas)",
    needs_api: true,
    probe: Probe::Catalog(SQL),
};

const SQL: &str = "
SELECT 'fail', format('%I.%I', n.nspname, c.relname),
       'row level security is off: the API serves every row to every role it lets in'
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
  AND n.nspname = ANY ({exposed})
  AND n.nspname || '.' || c.relname <> ALL ({skip})
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 2";

#[cfg(test)]
mod tests {
    #[test]
    fn fires_when_rls_is_disabled_by_hand() {
        let found = crate::health::tests::run(
            &["CREATE TABLE a (id int PRIMARY KEY); ALTER TABLE a ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON a USING (true);
               CREATE TABLE b (id int PRIMARY KEY); ALTER TABLE b ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON b USING (true);"],
            "ALTER TABLE b DISABLE ROW LEVEL SECURITY;",
            "rls-disabled",
        );
        assert_eq!(found, ["fail public.b"]);
    }
}
