//! `hygiene/own-transaction`: BEGIN/COMMIT/ROLLBACK inside a migration file.

use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_WARNING};
use crate::sql::TxNeed;

pub const RULE: Rule = Rule {
    id: "hygiene/own-transaction",
    family: Family::Hygiene,
    levels: ALWAYS_WARNING,
    summary: "The file manages its own transaction, so pgshift cannot apply it atomically with its tracking row.",
    help: "remove BEGIN/COMMIT: pgshift already runs each migration in one transaction together with its record",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        if let TxNeed::TransactionControl(what) = s.need {
            out.push(Violation::stmt(ctx, s, format!("{what} in a migration file: the file runs as written, outside pgshift's transaction")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_each_control_statement() {
        assert_eq!(
            run(&RULE, "BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;"),
            ["BEGIN", "COMMIT"]
        );
    }

    #[test]
    fn quiet_without() {
        assert!(!fires(&RULE, "CREATE TABLE t (a int);"));
    }
}
