//! `dangerous/update-without-where`: UPDATE with no WHERE clause.

use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/update-without-where",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "UPDATE without WHERE changes every row.",
    help: "add a WHERE clause; to change every row on purpose, say so with `-- @allow: dangerous/update-without-where <reason>`",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        if let NodeEnum::UpdateStmt(u) = &*s.node {
            if u.where_clause.is_none() {
                let table = u
                    .relation
                    .as_ref()
                    .map_or(String::new(), |r| r.relname.clone());
                out.push(Violation::stmt(
                    ctx,
                    s,
                    format!("UPDATE without WHERE changes every row of {table}"),
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
            run(&RULE, "UPDATE users SET active = true;"),
            ["UPDATE users SET active = true"]
        );
    }

    #[test]
    fn stays_quiet() {
        assert!(!fires(
            &RULE,
            "UPDATE users SET active = true WHERE id = 1;"
        ));
    }
}
