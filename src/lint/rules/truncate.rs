//! `dangerous/truncate`: TRUNCATE empties tables.

use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/truncate",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "TRUNCATE deletes every row of a table at once.",
    help: "delete only the rows you mean (DELETE … WHERE), or add `-- @allow: dangerous/truncate <reason>` when emptying the table is intended",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        if let NodeEnum::TruncateStmt(_) = &*s.node {
            out.push(Violation::stmt(ctx, s, "TRUNCATE deletes every row"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_it() {
        assert_eq!(
            run(&RULE, "TRUNCATE sessions, tokens;"),
            ["TRUNCATE sessions, tokens"]
        );
    }

    #[test]
    fn stays_quiet() {
        assert!(!fires(&RULE, "DELETE FROM sessions WHERE expired;"));
    }
}
