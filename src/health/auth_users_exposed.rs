//! `auth-users-exposed`: a view in an exposed schema that reads `auth.users` hands users' e-mail
//! addresses and metadata to the API.

use super::{Check, Probe};

pub const CHECK: Check = Check {
    id: "auth-users-exposed",
    ok: "no exposed view reads auth.users",
    problem: "exposed view(s) reading auth.users",
    fix: "keep what the API may show in a table of your own (a `profiles` table filled by a trigger on auth.users), or move the view to a schema that is not exposed; at least `REVOKE SELECT … FROM anon, authenticated`",
    needs_api: true,
    probe: Probe::Catalog(SQL),
};

const SQL: &str = "
SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname IN ('anon', 'authenticated')
                          AND has_table_privilege(r.oid, c.oid, 'SELECT')) THEN 'fail' ELSE 'warn' END,
       format('%I.%I', n.nspname, c.relname),
       'reads auth.users: user e-mails and metadata are readable through the API'
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND n.nspname = ANY ({exposed})
  AND EXISTS (SELECT 1 FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
              WHERE r.ev_class = c.oid AND d.refobjid = to_regclass('auth.users'))
ORDER BY 2";

#[cfg(test)]
mod tests {
    #[test]
    fn fires_on_a_view_over_auth_users() {
        let found = crate::health::tests::run(
            &[
                "CREATE SCHEMA auth; CREATE TABLE auth.users (id uuid PRIMARY KEY, email text);
               CREATE VIEW public.emails AS SELECT id, email FROM auth.users;
               CREATE VIEW public.nothing AS SELECT 1 AS one;",
            ],
            "",
            "auth-users-exposed",
        );
        assert_eq!(found, ["warn public.emails"]);
    }
}
