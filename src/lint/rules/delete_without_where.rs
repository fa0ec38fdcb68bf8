//! `dangerous/delete-without-where`: DELETE with no WHERE clause.

use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/delete-without-where",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "DELETE without WHERE deletes every row.",
    help: "add a WHERE clause; to empty the table on purpose, say so with `-- @allow: dangerous/delete-without-where <reason>`",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        if let NodeEnum::DeleteStmt(d) = &*s.node {
            if d.where_clause.is_none() {
                let table = d
                    .relation
                    .as_ref()
                    .map_or(String::new(), |r| r.relname.clone());
                out.push(Violation::stmt(
                    ctx,
                    s,
                    format!("DELETE without WHERE deletes every row of {table}"),
                ));
            }
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
            run(&RULE, "DELETE FROM sessions;"),
            ["DELETE FROM sessions"]
        );
    }

    #[test]
    fn stays_quiet() {
        assert!(!fires(
            &RULE,
            "DELETE FROM sessions WHERE expires_at < now();"
        ));
    }
}
