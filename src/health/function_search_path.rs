//! `function-search-path`: a function without a fixed `search_path`. SECURITY DEFINER ones fail
//! (a caller's objects can stand in for the ones it names, run with the owner's rights); others
//! in exposed schemas warn where an API serves them.

use super::{Check, Probe};

pub const CHECK: Check = Check {
    id: "function-search-path",
    ok: "every SECURITY DEFINER function (and every function in the exposed schemas) has a fixed search_path",
    problem: "function(s) without a fixed search_path",
    fix: "`ALTER FUNCTION … SET search_path = '';` (and qualify the names it uses), or `SET search_path = pg_catalog, public`",
    needs_api: false,
    probe: Probe::Catalog(SQL),
};

const SQL: &str = "
SELECT CASE WHEN p.prosecdef THEN 'fail' ELSE 'warn' END,
       format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
       CASE WHEN p.prosecdef
            THEN 'SECURITY DEFINER with no fixed search_path: objects in a schema the caller controls can stand in for the ones it names, and run with the owner''s rights'
            ELSE 'no fixed search_path: what it names depends on the caller''s search_path' END
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE n.nspname <> ALL ({internal}) AND n.nspname NOT LIKE 'pg\\_%'
  AND l.lanname NOT IN ('c', 'internal')
  AND (p.prosecdef OR ({api} AND n.nspname = ANY ({exposed})))
  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) s WHERE s LIKE 'search\\_path=%')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY 2";

#[cfg(test)]
mod tests {
    #[test]
    fn fails_a_definer_without_search_path_and_spares_a_fixed_one() {
        let found = crate::health::tests::run(
            &["CREATE FUNCTION open_door() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
               CREATE FUNCTION closed_door() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = '' AS 'SELECT 1';"],
            "",
            "function-search-path",
        );
        assert_eq!(found, ["fail public.open_door()"]);
    }
}
