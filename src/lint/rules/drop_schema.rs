//! `dangerous/drop-schema`: DROP SCHEMA deletes a schema and, with CASCADE, everything in it.

use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/drop-schema",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "DROP SCHEMA deletes a schema and, with CASCADE, everything in it.",
    help: "move the objects out first, or drop them one by one so each deletion is visible in review; if this is intended, add `-- @allow: dangerous/drop-schema <reason>`",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        if let NodeEnum::DropStmt(d) = &*s.node {
            if d.remove_type == ObjectType::ObjectSchema as i32 {
                out.push(Violation::stmt(
                    ctx,
                    s,
                    "DROP SCHEMA deletes the schema and everything in it",
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
            run(&RULE, "DROP SCHEMA legacy CASCADE;"),
            ["DROP SCHEMA legacy CASCADE"]
        );
    }

    #[test]
    fn stays_quiet() {
        assert!(!fires(&RULE, "DROP TABLE t; CREATE SCHEMA s;"));
    }
}
