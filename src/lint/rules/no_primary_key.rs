//! `hygiene/no-primary-key`: a table the set creates and never gives a primary key: logical
//! replication (and Supabase Realtime) cannot send its updates and deletes. Informational: a
//! log table may do without. The health check `no-primary-key` looks for the same in the
//! database.

use crate::lint::facts::created_table;
use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_INFO};

pub const RULE: Rule = Rule {
    id: "hygiene/no-primary-key",
    family: Family::Hygiene,
    levels: ALWAYS_INFO,
    summary: "A table without a primary key: logical replication cannot send its updates and deletes, and its rows cannot be told apart.",
    help: "add a primary key (`id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY`, or the natural key)",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let Some(t) = created_table(&s.node) else {
            continue;
        };
        if matches!(*s.node, pg_query::NodeEnum::CreateStmt(_))
            && !ctx.facts.has_primary_key(&t)
            && !ctx.facts.dropped(&t)
        {
            out.push(Violation::stmt(
                ctx,
                s,
                format!("table {t} has no primary key"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run_set};

    #[test]
    fn fires_without_a_primary_key() {
        assert!(fires(
            &RULE,
            "CREATE TABLE events (at timestamptz, what text);"
        ));
    }

    #[test]
    fn stays_quiet_with_one_inline_at_the_end_or_added_later() {
        assert!(!fires(&RULE, "CREATE TABLE t (id int PRIMARY KEY);"));
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (a int, b int, PRIMARY KEY (a, b));"
        ));
        assert!(run_set(
            &RULE,
            &[
                ("2026-01-01_a", "CREATE TABLE t (id int NOT NULL);"),
                (
                    "2026-01-02_b",
                    "ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY (id);"
                ),
            ]
        )
        .is_empty());
    }
}
