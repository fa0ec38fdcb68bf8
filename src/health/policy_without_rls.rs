//! `policy-without-rls`: policies on a table whose row level security is off do nothing; the
//! author believes rows are guarded and they are not.

use super::{Check, Probe};

pub const CHECK: Check = Check {
    id: "policy-without-rls",
    ok: "every table with policies has row level security on",
    problem: "table(s) with policies but row level security off",
    fix: "`ALTER TABLE … ENABLE ROW LEVEL SECURITY;` (the policies take effect then), or drop the policies",
    needs_api: false,
    probe: Probe::Catalog(SQL),
};

const SQL: &str = "
SELECT 'fail', format('%I.%I', n.nspname, c.relname),
       format('%s: row level security is off, so the policies do nothing', string_agg(quote_ident(p.polname), ', ' ORDER BY p.polname))
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT c.relrowsecurity AND n.nspname <> ALL ({internal})
GROUP BY n.nspname, c.relname
ORDER BY 2";

#[cfg(test)]
mod tests {
    #[test]
    fn fires_on_policies_of_a_table_without_rls() {
        let found = crate::health::tests::run(
            &["CREATE TABLE a (id int PRIMARY KEY); CREATE POLICY mine ON a USING (true);
               CREATE TABLE b (id int PRIMARY KEY); ALTER TABLE b ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON b USING (true);"],
            "",
            "policy-without-rls",
        );
        assert_eq!(found, ["fail public.a"]);
    }
}
