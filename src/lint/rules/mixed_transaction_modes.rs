//! `hygiene/mixed-transaction-modes`: a statement that must run outside a transaction mixed
//! with other statements: the whole file then runs statement by statement and loses its
//! all-or-nothing guarantee.

use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_WARNING};
use crate::sql::TxNeed;

pub const RULE: Rule = Rule {
    id: "hygiene/mixed-transaction-modes",
    family: Family::Hygiene,
    levels: ALWAYS_WARNING,
    summary: "A no-transaction statement (CONCURRENTLY, VACUUM…) mixed with other statements in one file.",
    help: "move the no-transaction statement into a migration of its own; or mark the file `-- @no-transaction` to accept statement-by-statement execution",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    if !ctx.in_one_transaction() {
        return;
    }
    let Some(first) = ctx
        .statements()
        .iter()
        .find(|s| matches!(s.need, TxNeed::Autocommit(_)))
    else {
        return;
    };
    let others = ctx.statements().iter().filter(|s| {
        s.need == TxNeed::Transaction && !matches!(*s.node, pg_query::NodeEnum::VariableSetStmt(_))
    });
    if let Some(other) = others.into_iter().next() {
        let TxNeed::Autocommit(what) = first.need else {
            return;
        };
        out.push(Violation::stmt(
            ctx,
            other,
            format!("{what} makes this file run without a transaction, so this statement is not undone if a later one fails"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_when_mixed() {
        assert_eq!(
            run(
                &RULE,
                "CREATE INDEX CONCURRENTLY i ON t (a);\nALTER TABLE t ADD COLUMN b int;"
            ),
            ["ALTER TABLE t ADD COLUMN b int"]
        );
    }

    #[test]
    fn quiet_alone_with_settings_or_with_the_directive() {
        assert!(!fires(
            &RULE,
            "SET lock_timeout = '5s'; CREATE INDEX CONCURRENTLY i ON t (a);"
        ));
        assert!(!fires(
            &RULE,
            "-- @no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a); ANALYZE t;"
        ));
    }
}
