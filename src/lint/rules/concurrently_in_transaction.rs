//! `locking/concurrently-in-transaction`: a statement that cannot run in a transaction block
//! (CREATE INDEX CONCURRENTLY, VACUUM, …) placed between the file's own BEGIN and COMMIT.

use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_ERROR};
use crate::sql::TxNeed;

pub const RULE: Rule = Rule {
    id: "locking/concurrently-in-transaction",
    family: Family::Locking,
    levels: ALWAYS_ERROR,
    summary: "CONCURRENTLY (or VACUUM, ALTER SYSTEM…) inside an explicit transaction fails at run time.",
    help: "remove the BEGIN/COMMIT around it; pgshift runs such statements outside a transaction by itself",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    let mut open = false;
    for s in ctx.statements() {
        match &s.need {
            TxNeed::TransactionControl("BEGIN" | "START TRANSACTION") => open = true,
            TxNeed::TransactionControl("COMMIT" | "ROLLBACK" | "PREPARE TRANSACTION") => {
                open = false
            }
            TxNeed::Autocommit(what) if open => {
                out.push(Violation::stmt(
                    ctx,
                    s,
                    format!("{what} cannot run inside the transaction this file opened"),
                ));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_inside_begin_commit() {
        assert_eq!(
            run(
                &RULE,
                "BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;"
            ),
            ["CREATE INDEX CONCURRENTLY i ON t (a)"]
        );
    }

    #[test]
    fn quiet_outside() {
        assert!(!fires(&RULE, "CREATE INDEX CONCURRENTLY i ON t (a);"));
        assert!(!fires(
            &RULE,
            "BEGIN; CREATE INDEX i ON t (a); COMMIT; VACUUM t;"
        ));
    }
}
