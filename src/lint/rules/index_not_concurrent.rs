//! `locking/index-not-concurrent`: CREATE INDEX without CONCURRENTLY on a table that existed
//! before this migration: writes to the table wait until the index is built.

use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_WARNING};

pub const RULE: Rule = Rule {
    id: "locking/index-not-concurrent",
    family: Family::Locking,
    levels: ALWAYS_WARNING,
    summary: "CREATE INDEX without CONCURRENTLY blocks writes to an existing table while it builds.",
    help: "use CREATE INDEX CONCURRENTLY (pgshift then runs the file outside a transaction); put it in its own migration",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let NodeEnum::IndexStmt(i) = &*s.node else {
            continue;
        };
        if !i.concurrent && ctx.existed_before(&i.relation) {
            let table = i
                .relation
                .as_ref()
                .map_or(String::new(), |r| r.relname.clone());
            out.push(
                Violation::stmt(
                    ctx,
                    s,
                    format!("CREATE INDEX blocks writes to {table} while it builds"),
                )
                .fix("CREATE INDEX CONCURRENTLY …".to_string()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_existing_tables() {
        assert_eq!(
            run(&RULE, "CREATE INDEX users_email ON users (email);"),
            ["CREATE INDEX users_email ON users (email)"]
        );
    }

    #[test]
    fn quiet_when_concurrent_or_on_a_new_table() {
        assert!(!fires(
            &RULE,
            "CREATE INDEX CONCURRENTLY users_email ON users (email);"
        ));
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (a int); CREATE INDEX t_a ON t (a);"
        ));
    }
}
