//! `security-definer-view`: a view in an exposed schema that runs with its owner's rights
//! (PostgreSQL 15+ views can be `security_invoker`): it reads past the row level security of
//! the tables under it.

use super::{Check, Probe};

pub const CHECK: Check = Check {
    id: "security-definer-view",
    ok: "no exposed view runs with its owner's rights",
    problem: "exposed view(s) running with their owner's rights",
    fix: "`ALTER VIEW … SET (security_invoker = on);` so the caller's row level security applies, or move the view out of the exposed schemas",
    needs_api: true,
    probe: Probe::Catalog(SQL),
};

const SQL: &str = "
SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname IN ('anon', 'authenticated')
                          AND has_table_privilege(r.oid, c.oid, 'SELECT')) THEN 'fail' ELSE 'warn' END,
       format('%I.%I', n.nspname, c.relname),
       'runs with the rights of its owner: it bypasses the row level security of the tables it reads'
       || CASE WHEN EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname IN ('anon', 'authenticated')
                             AND has_table_privilege(r.oid, c.oid, 'SELECT'))
               THEN ', and anon or authenticated may select from it' ELSE '' END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v' AND n.nspname = ANY ({exposed})
  AND current_setting('server_version_num')::int >= 150000
  AND NOT EXISTS (SELECT 1 FROM unnest(c.reloptions) o
                  WHERE lower(o) IN ('security_invoker=true', 'security_invoker=on', 'security_invoker=1', 'security_invoker=yes'))
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 2";

#[cfg(test)]
mod tests {
    #[test]
    fn fires_on_a_definer_view_and_not_on_an_invoker_one() {
        let found = crate::health::tests::run(
            &["CREATE TABLE t (id int PRIMARY KEY);
               CREATE VIEW owner_rights AS SELECT id FROM t;
               CREATE VIEW caller_rights WITH (security_invoker = on) AS SELECT id FROM t;"],
            "",
            "security-definer-view",
        );
        assert_eq!(found, ["warn public.owner_rights"]);
    }
}
