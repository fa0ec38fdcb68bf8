//! `hygiene/duplicate-index`: an index on the same columns, in the same order, as another index
//! or key of the table in the set: every write maintains both. The health check
//! `duplicate-indexes` looks for the same in the database.

use crate::lint::keys::index_columns;
use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_WARNING};

pub const RULE: Rule = Rule {
    id: "hygiene/duplicate-index",
    family: Family::Hygiene,
    levels: ALWAYS_WARNING,
    summary: "An index on the same columns as another index, primary key or unique constraint of the table.",
    help: "drop this index: the other one serves the same reads, and each write would maintain both",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let Some((t, cols)) = index_columns(&s.node) else {
            continue;
        };
        // A unique index enforces something: it is never the one to drop.
        if matches!(&*s.node, pg_query::NodeEnum::IndexStmt(i) if i.unique) {
            continue;
        }
        if ctx.facts.created_by(&t).is_some() && ctx.facts.identical_indexes(&t, &cols) > 1 {
            out.push(Violation::stmt(
                ctx,
                s,
                format!(
                    "{t} ({}) is indexed by another index or key already",
                    cols.join(", ")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_an_index_a_key_already_gives() {
        assert!(fires(
            &RULE,
            "CREATE TABLE t (id int PRIMARY KEY); CREATE INDEX t_id ON t (id);"
        ));
        assert!(fires(
            &RULE,
            "CREATE TABLE t (a int, b int, UNIQUE (a, b)); CREATE INDEX t_ab ON t (a, b);"
        ));
    }

    /// The plain index is the one to drop, whichever came first: the unique one enforces.
    #[test]
    fn names_the_plain_index_beside_a_unique_one() {
        assert_eq!(
            run(
                &RULE,
                "CREATE TABLE t (name text); CREATE INDEX t_name ON t (name); CREATE UNIQUE INDEX t_name_key ON t (name);"
            ),
            ["CREATE INDEX t_name ON t (name)"]
        );
    }

    #[test]
    fn stays_quiet_on_other_columns_orders_or_predicates() {
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (a int, b int, UNIQUE (a, b)); CREATE INDEX t_ba ON t (b, a);"
        ));
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (id int PRIMARY KEY); CREATE INDEX t_live ON t (id) WHERE id > 0;"
        ));
        for other in [
            "CREATE INDEX t_trgm ON t USING gin (name gin_trgm_ops);",
            "CREATE INDEX t_pattern ON t (name text_pattern_ops);",
            "CREATE INDEX t_c ON t (name COLLATE \"C\");",
            "CREATE INDEX t_cover ON t (name) INCLUDE (id);",
            "CREATE INDEX t_hash ON t USING hash (name);",
        ] {
            let sql = format!(
                "CREATE TABLE t (id int, name text); CREATE INDEX t_name ON t (name); {other}"
            );
            assert!(!fires(&RULE, &sql), "{other}");
        }
    }
}
