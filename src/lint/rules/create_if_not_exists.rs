//! `hygiene/create-if-not-exists`: CREATE without IF NOT EXISTS, so a rerun after a partial
//! manual fix fails.

use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_INFO};

pub const RULE: Rule = Rule {
    id: "hygiene/create-if-not-exists",
    family: Family::Hygiene,
    levels: ALWAYS_INFO,
    summary: "CREATE TABLE/INDEX/SCHEMA/SEQUENCE/EXTENSION without IF NOT EXISTS.",
    help: "add IF NOT EXISTS so the migration can be rerun after a partial manual repair",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let (missing, what) = match &*s.node {
            NodeEnum::CreateStmt(c) => (!c.if_not_exists, "TABLE"),
            NodeEnum::IndexStmt(i) => (!i.if_not_exists && !i.idxname.is_empty(), "INDEX"),
            NodeEnum::CreateSchemaStmt(c) => (!c.if_not_exists, "SCHEMA"),
            NodeEnum::CreateSeqStmt(c) => (!c.if_not_exists, "SEQUENCE"),
            NodeEnum::CreateExtensionStmt(c) => (!c.if_not_exists, "EXTENSION"),
            _ => continue,
        };
        if missing {
            let at = ctx.find_in(s, what).unwrap_or(s.start);
            out.push(
                Violation::at(
                    at,
                    what.len(),
                    format!("CREATE {what} without IF NOT EXISTS"),
                )
                .fix(format!("{what} IF NOT EXISTS")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_without_it() {
        assert_eq!(
            run(
                &RULE,
                "CREATE TABLE t (a int); CREATE UNIQUE INDEX i ON t (a);"
            ),
            ["TABLE", "INDEX"]
        );
    }

    #[test]
    fn quiet_with_it() {
        assert!(!fires(&RULE, "CREATE TABLE IF NOT EXISTS t (a int); CREATE INDEX IF NOT EXISTS i ON t (a); CREATE SCHEMA IF NOT EXISTS s;"));
    }
}
