//! `rls-without-policy`: row level security on and no policy: every API role is denied every
//! row. Deliberate for a platform's private tables, a mistake when the API should serve it.

use super::{Check, Probe};

pub const CHECK: Check = Check {
    id: "rls-without-policy",
    ok: "every exposed table with row level security has a policy",
    problem: "exposed table(s) with row level security and no policy (deny-all)",
    fix: "write the policies the API roles need (`CREATE POLICY … TO authenticated USING (…)`); if nobody but the owner may read it, move it out of the exposed schemas",
    needs_api: true,
    probe: Probe::Catalog(SQL),
};

const SQL: &str = "
SELECT 'warn', format('%I.%I', n.nspname, c.relname),
       'row level security is on with no policy: every API role is denied every row'
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity
  AND n.nspname = ANY ({exposed})
  AND n.nspname || '.' || c.relname <> ALL ({skip})
  AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 2";

#[cfg(test)]
mod tests {
    #[test]
    fn fires_on_a_table_without_policies_and_spares_pgshifts_own() {
        let found = crate::health::tests::run(
            &["CREATE TABLE locked (id int PRIMARY KEY); ALTER TABLE locked ENABLE ROW LEVEL SECURITY;"],
            "",
            "rls-without-policy",
        );
        assert_eq!(found, ["warn public.locked"]);
    }
}
