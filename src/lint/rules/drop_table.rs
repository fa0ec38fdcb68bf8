//! `dangerous/drop-table`: DROP TABLE deletes a table and every row in it.

use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/drop-table",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "DROP TABLE deletes a table and every row in it.",
    help: "keep the data until you are sure: rename the table (ALTER TABLE t RENAME TO t_deprecated) and drop it in a later release; if this is intended, add `-- @allow: dangerous/drop-table <reason>`",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        if let NodeEnum::DropStmt(d) = &*s.node {
            if d.remove_type == ObjectType::ObjectTable as i32 {
                out.push(Violation::stmt(
                    ctx,
                    s,
                    "DROP TABLE deletes the table and all of its data",
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
            run(&RULE, "DROP TABLE IF EXISTS public.users CASCADE;"),
            ["DROP TABLE IF EXISTS public.users CASCADE"]
        );
    }

    #[test]
    fn stays_quiet() {
        assert!(!fires(
            &RULE,
            "DROP INDEX i; DROP VIEW v; CREATE TABLE t (id int);"
        ));
    }
}
