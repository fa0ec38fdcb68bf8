//! `dangerous/drop-database`: DROP DATABASE from a migration.

use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/drop-database",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "DROP DATABASE deletes a whole database.",
    help: "databases are not a migration's business: drop them by hand, after a backup; if this is intended, add `-- @allow: dangerous/drop-database <reason>`",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        if let NodeEnum::DropdbStmt(d) = &*s.node {
            out.push(Violation::stmt(
                ctx,
                s,
                format!("DROP DATABASE deletes the database {}", d.dbname),
            ));
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
            run(&RULE, "DROP DATABASE IF EXISTS old;"),
            ["DROP DATABASE IF EXISTS old"]
        );
    }

    #[test]
    fn stays_quiet() {
        assert!(!fires(&RULE, "DROP TABLE t; CREATE DATABASE x;"));
    }
}
