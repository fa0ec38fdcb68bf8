//! `rls/table-without-rls`: a table in an exposed schema whose row level security is never
//! enabled anywhere in the migration set. A schema is exposed when the config says so, or when
//! the set shows an API (grants to `anon`, policies for `authenticated`, `auth.uid()`); the
//! finding says which.

use crate::lint::facts::created_table;
use crate::lint::{Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "rls/table-without-rls",
    family: Family::Rls,
    levels: DANGEROUS,
    summary: "A table in an exposed schema (an API such as PostgREST serves it) without row level security.",
    help: "add `ALTER TABLE … ENABLE ROW LEVEL SECURITY;` and policies; tables the API must not see belong in a schema that is not exposed ([deploy] exposed_schemas)",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let Some(t) = created_table(&s.node) else {
            continue;
        };
        if ctx.facts.rls_enabled(&t) || ctx.facts.dropped(&t) {
            continue;
        }
        let Some(why) = ctx.exposure(&t.schema) else {
            continue;
        };
        out.push(
            Violation::stmt(
                ctx,
                s,
                format!(
                    "table {t} is exposed ({why}) but no migration enables row level security on it"
                ),
            )
            .fix(format!("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run_set, run_set_without_config};

    #[test]
    fn fires_when_no_migration_enables_it() {
        assert!(fires(&RULE, "CREATE TABLE notes (id int);"));
        assert!(fires(&RULE, "CREATE TABLE public.notes (id int);"));
    }

    #[test]
    fn quiet_when_enabled_later_in_the_set_or_not_exposed() {
        let found = run_set(
            &RULE,
            &[
                ("2026-01-01_a", "CREATE TABLE notes (id int); CREATE TABLE private.keys (id int); CREATE TEMP TABLE x (id int);"),
                ("2026-01-02_b", "ALTER TABLE notes ENABLE ROW LEVEL SECURITY;"),
            ],
        );
        assert!(found.is_empty(), "{found:?}");
        assert!(!fires(&RULE, "CREATE TABLE t (id int); DROP TABLE t;"));
    }

    #[test]
    fn tables_made_under_another_search_path_are_in_that_schema() {
        assert!(!fires(
            &RULE,
            "SET search_path TO app, public;\nCREATE TABLE notes (id int);"
        ));
        assert_eq!(
            crate::lint::rules::testing::messages(
                &RULE,
                &[(
                    "2026-01-01_a",
                    "SET search_path TO app, public;\nRESET search_path;\nCREATE TABLE notes (id int);"
                )],
                true
            )
            .len(),
            1
        );
    }

    #[test]
    fn without_config_quiet_unless_the_set_shows_an_api() {
        // A Prisma or dbmate application: it connects as the owner; no API serves `public`.
        let found = run_set_without_config(
            &RULE,
            &[
                ("2026-01-01_init", "CREATE TABLE \"User\" (id serial PRIMARY KEY, email text);"),
                ("2026-01-02_posts", "CREATE TABLE posts (id serial PRIMARY KEY); GRANT SELECT ON posts TO reporting;"),
            ],
        );
        assert!(found.is_empty(), "{found:?}");
        // A Supabase project: grants to the API roles, or auth.uid() in a policy, show the API.
        for evidence in [
            "GRANT SELECT ON profiles TO anon;",
            "CREATE POLICY own ON profiles USING (auth.uid() = id);",
            "CREATE POLICY p ON profiles FOR SELECT TO authenticated USING (true);",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO anon;",
        ] {
            let found = run_set_without_config(
                &RULE,
                &[
                    (
                        "2026-01-01_init",
                        "CREATE TABLE profiles (id uuid PRIMARY KEY); CREATE TABLE notes (id int);",
                    ),
                    ("2026-01-02_api", evidence),
                ],
            );
            assert_eq!(found.len(), 2, "{evidence}: {found:?}");
        }
    }

    #[test]
    fn the_finding_says_why_the_schema_counts_as_exposed() {
        let msg = |configured: bool| {
            let files = [
                ("2026-01-01_init", "CREATE TABLE notes (id int);"),
                ("2026-01-02_api", "GRANT SELECT ON notes TO authenticated;"),
            ];
            let set = crate::lint::rules::testing::messages(&RULE, &files, configured);
            set.into_iter().next().unwrap_or_default()
        };
        assert!(
            msg(false).contains("2026-01-02_api grants to `authenticated`"),
            "{}",
            msg(false)
        );
        assert!(
            msg(true).contains("[deploy] exposed_schemas lists public"),
            "{}",
            msg(true)
        );
    }
}
