//! `dangerous/drop-column`: ALTER TABLE … DROP COLUMN.

use pg_query::protobuf::AlterTableType;
use pg_query::NodeEnum;

use crate::lint::{alter_cmds, Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/drop-column",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "DROP COLUMN deletes a column's data, and breaks code that still reads it.",
    help: "deploy code that no longer uses the column first, then drop it in a later migration; if this is intended, add `-- @allow: dangerous/drop-column <reason>`",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let NodeEnum::AlterTableStmt(a) = &*s.node else {
            continue;
        };
        for c in alter_cmds(a) {
            if c.subtype == AlterTableType::AtDropColumn as i32 {
                let table = a
                    .relation
                    .as_ref()
                    .map_or(String::new(), |r| r.relname.clone());
                let at = ctx.find_in(s, "drop").unwrap_or(s.start);
                let len = ctx.sql()[at..s.end]
                    .find(&c.name)
                    .map_or(4, |i| i + c.name.len());
                out.push(Violation::at(
                    at,
                    len,
                    format!("DROP COLUMN deletes {table}.{} and its data", c.name),
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
            run(&RULE, "ALTER TABLE users DROP COLUMN legacy;"),
            ["DROP COLUMN legacy"]
        );
    }

    #[test]
    fn stays_quiet() {
        assert!(!fires(
            &RULE,
            "ALTER TABLE users ADD COLUMN x int; ALTER TABLE users DROP CONSTRAINT c;"
        ));
    }
}
