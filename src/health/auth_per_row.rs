//! `auth-per-row`: a policy that calls `auth.uid()`, `auth.jwt()`, `auth.role()` or
//! `current_setting()` bare runs it once per row; wrapped in `(select …)` PostgreSQL runs it
//! once per statement (an initplan). On big tables the difference is orders of magnitude.

use super::{Check, Probe};

pub const CHECK: Check = Check {
    id: "auth-per-row",
    ok: "no policy calls auth.uid(), auth.jwt() or current_setting() once per row",
    problem: "policy(ies) calling auth functions once per row",
    fix: "write `(select auth.uid())` instead of `auth.uid()` in the policy (`ALTER POLICY … USING (…)`): the value is computed once per statement",
    needs_api: false,
    probe: Probe::Catalog(SQL),
};

/// PostgreSQL prints `(select auth.uid())` back as `( SELECT auth.uid() AS uid)`: a call counts
/// as wrapped when `SELECT ` comes right before it.
const SQL: &str = "
WITH e AS (
  SELECT p.polname, n.nspname, c.relname,
         coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '') AS expr
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname <> ALL ({internal}) OR n.nspname = 'storage'
), calls AS (
  SELECT *,
    (SELECT count(*) FROM regexp_matches(expr, '(auth\\.(uid|jwt|role|email)|current_setting)\\(', 'g')) AS bare,
    (SELECT count(*) FROM regexp_matches(expr, 'SELECT (auth\\.(uid|jwt|role|email)|current_setting)\\(', 'g')) AS wrapped,
    (SELECT string_agg(DISTINCT m[1], ', ') FROM regexp_matches(expr, '(auth\\.(?:uid|jwt|role|email)|current_setting)\\(', 'g') AS m) AS names
  FROM e
)
SELECT 'warn', format('%I on %I.%I', polname, nspname, relname),
       format('calls %s once per row', names)
FROM calls WHERE bare > wrapped
ORDER BY 2";

#[cfg(test)]
mod tests {
    #[test]
    fn fires_on_a_bare_call_and_not_on_a_wrapped_one() {
        let found = crate::health::tests::run(
            &["CREATE SCHEMA auth; CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS 'SELECT NULL::uuid';
               CREATE TABLE t (id int PRIMARY KEY, owner uuid); ALTER TABLE t ENABLE ROW LEVEL SECURITY;
               CREATE POLICY slow ON t USING (owner = auth.uid());
               CREATE POLICY fast ON t USING (owner = (select auth.uid()));"],
            "",
            "auth-per-row",
        );
        assert_eq!(found, ["warn slow on public.t"]);
    }
}
