//! `rls/table-without-rls`: a table in an exposed schema whose row level security is never
//! enabled anywhere in the migration set.

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
        if !ctx.exposed_schemas.contains(&t.schema)
            || ctx.facts.rls_enabled(&t)
            || ctx.facts.dropped(&t)
        {
            continue;
        }
        out.push(
            Violation::stmt(
                ctx,
                s,
                format!("table {t} is exposed but no migration enables row level security on it"),
            )
            .fix(format!("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run_set};

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
}
